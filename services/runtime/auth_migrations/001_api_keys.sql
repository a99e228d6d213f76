-- API keys, shared by every service. Only a SHA-256 of each key is stored.
CREATE TABLE api_key (
    key_hash   text PRIMARY KEY,
    role       text NOT NULL,
    subject    text NOT NULL,
    label      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_key_role_subject ON api_key (role, subject);
