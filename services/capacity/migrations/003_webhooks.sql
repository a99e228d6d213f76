-- Alert webhooks: one row per registered URL, with its own delivery cursor into alert.seq
-- and its retry state, so a dead receiver only ever holds back itself.
CREATE TABLE webhook (
    id                 uuid PRIMARY KEY,
    role               text NOT NULL,
    url                text NOT NULL,
    description        text NOT NULL DEFAULT '',
    -- Kept as issued: the dispatcher needs it in clear to compute the HMAC. It authenticates
    -- Schakel to the receiver only; it grants nothing inside Schakel.
    secret             text NOT NULL,
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL,
    delivered_seq      bigint NOT NULL,
    attempts           int NOT NULL DEFAULT 0,
    last_error         text,
    next_attempt_at    timestamptz,
    last_delivered_at  timestamptz
);
CREATE INDEX webhook_role ON webhook (role);
