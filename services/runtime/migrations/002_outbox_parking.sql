-- A row that can never be published (e.g. larger than the broker accepts) is parked with its
-- reason instead of blocking every row behind it; operators see it counted and alerted.
ALTER TABLE outbox ADD COLUMN parked_at timestamptz, ADD COLUMN park_reason text;
DROP INDEX outbox_unsent;
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (seq) WHERE parked_at IS NOT NULL AND sent_at IS NULL;
