-- Replicas: a webhook is delivered by one capacity process at a time, the one holding its lease.
-- A lease row rather than an advisory lock: it holds no connection while a receiver is slow,
-- works behind a transaction-pooling proxy, and shows in the table who delivers what. A process
-- killed without releasing its lease is taken over once lease_until (PostgreSQL's clock) passes.
ALTER TABLE webhook ADD COLUMN leased_by text;
ALTER TABLE webhook ADD COLUMN lease_until timestamptz;
