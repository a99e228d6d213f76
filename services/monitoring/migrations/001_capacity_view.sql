-- Read models built only from events; dropping them and replaying the topics rebuilds them.
CREATE TABLE provider_capacity (
    agb                 text NOT NULL,
    setting             text NOT NULL,
    total               int NOT NULL,
    occupied            int NOT NULL,
    free                int NOT NULL,
    closed_to_admission boolean NOT NULL,
    reported_at         timestamptz NOT NULL,
    PRIMARY KEY (agb, setting)
);

CREATE TABLE shortage_view (
    shortage_id  uuid PRIMARY KEY,
    setting      text NOT NULL,
    severity     text NOT NULL,
    detected_at  timestamptz NOT NULL,
    resolved_at  timestamptz
);
CREATE INDEX shortage_view_active ON shortage_view (setting) WHERE resolved_at IS NULL;
