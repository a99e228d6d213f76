"""``python -m services.sim.national``: a national year of events written straight onto the topics."""
