"""What contracting does when asked: each command changes state through its unit of work's store and
collects the events it causes; the route or consumer that opened the unit of work commits them together."""
