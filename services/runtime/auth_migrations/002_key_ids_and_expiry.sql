-- Each key gets a short printable id, so one key of a subject can be listed and revoked without
-- touching the others, and an optional expiry. The id is derived from the stored hash (its first
-- 12 hex digits: 48 bits, no help in guessing a 256-bit key), so rows inserted by code that
-- predates this migration get one too.
ALTER TABLE api_key ADD COLUMN id text GENERATED ALWAYS AS (left(key_hash, 12)) STORED;
CREATE UNIQUE INDEX api_key_id ON api_key (id);
ALTER TABLE api_key ADD COLUMN expires_at timestamptz;
