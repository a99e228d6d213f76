-- Every report is kept: occupancy history and "when was this updated" are what users ask for.
CREATE TABLE capacity_report (
    id                  bigserial PRIMARY KEY,
    agb                 text NOT NULL,
    setting             text NOT NULL,
    total               int NOT NULL CHECK (total >= 0),
    occupied            int NOT NULL CHECK (occupied >= 0 AND occupied <= total),
    closed_to_admission boolean NOT NULL,
    age_min             int,
    age_max             int,
    reported_at         timestamptz NOT NULL,
    reported_by         text NOT NULL
);
CREATE INDEX capacity_report_history ON capacity_report (agb, setting, reported_at DESC);

-- The latest report per provider and setting.
CREATE TABLE capacity_current (
    agb       text NOT NULL,
    setting   text NOT NULL,
    report_id bigint NOT NULL REFERENCES capacity_report (id),
    PRIMARY KEY (agb, setting)
);
CREATE INDEX capacity_current_setting ON capacity_current (setting);

-- One row per setting, locked while its shortage state is evaluated, so concurrent reports
-- of one setting cannot both decide to open (or close) a shortage.
CREATE TABLE setting_state (
    setting         text PRIMARY KEY,
    shortage_id     uuid,
    shortage_since  timestamptz
);

CREATE TABLE shortage (
    id           uuid PRIMARY KEY,
    setting      text NOT NULL,
    severity     text NOT NULL,
    free_places  int NOT NULL,
    waiting      int NOT NULL,
    detected_at  timestamptz NOT NULL,
    resolved_at  timestamptz
);
CREATE UNIQUE INDEX shortage_one_open_per_setting ON shortage (setting) WHERE resolved_at IS NULL;

-- Every event of capacity.alerts.v1 in the order it happened (acknowledgements included);
-- seq is the Server-Sent Events id a reconnecting client resumes from.
CREATE TABLE alert (
    seq              bigserial PRIMARY KEY,
    id               uuid NOT NULL UNIQUE,
    type             text NOT NULL,
    setting          text,
    envelope         jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    acknowledged_role text
);
CREATE INDEX alert_open ON alert (created_at) WHERE acknowledged_at IS NULL;
