-- Read models of referrals, care, placements, escalations and declarations; built only from events.
ALTER TABLE shortage_view ADD COLUMN alert_id uuid;
ALTER TABLE shortage_view ADD COLUMN free_places int;
ALTER TABLE shortage_view ADD COLUMN waiting int;

CREATE TABLE referral_view (
    referral_id      uuid PRIMARY KEY,
    municipality     text NOT NULL,
    product_category text NOT NULL,
    -- COD327 code, or 'veilig_thuis' so Veilig Thuis is counted apart from the gemeente.
    referrer         text NOT NULL,
    urgency          text NOT NULL,
    received_at      timestamptz NOT NULL,
    withdrawn_at     timestamptz
);

CREATE TABLE care_view (
    allocation_id    uuid PRIMARY KEY,
    referral_id      uuid NOT NULL,
    municipality     text NOT NULL,
    product_category text NOT NULL,
    start_date       date,
    end_date         date,
    end_reason       text
);
CREATE INDEX care_view_referral ON care_view (referral_id);

-- The maximum waiting time a lot's contract allows, when contracting's events carry one.
CREATE TABLE waiting_norm (
    product_category text PRIMARY KEY,
    max_wait_days    int NOT NULL,
    set_at           timestamptz NOT NULL
);

CREATE TABLE placement_view (
    placement_id     uuid PRIMARY KEY,
    referral_id      uuid NOT NULL,
    age              int,
    municipality     text,
    product_category text,
    settings         text[] NOT NULL DEFAULT '{}',
    urgency          text,
    requested_at     timestamptz,
    proposals        int NOT NULL DEFAULT 0,
    declines         int NOT NULL DEFAULT 0,
    proposed_setting text,
    confirmed_setting text,
    confirmed_at     timestamptz
);

CREATE TABLE escalation_view (
    alert_id         uuid PRIMARY KEY,
    placement_id     uuid NOT NULL,
    municipality     text NOT NULL,
    level            text NOT NULL,
    urgency          text NOT NULL,
    settings         text[] NOT NULL,
    reason           text NOT NULL,
    waiting_since    timestamptz NOT NULL,
    escalated_at     timestamptz NOT NULL
);
CREATE INDEX escalation_view_placement ON escalation_view (placement_id);

CREATE TABLE acknowledgement_view (
    alert_id         uuid PRIMARY KEY,
    alert_type       text NOT NULL,
    by_role          text NOT NULL,
    by_handle        text NOT NULL,
    acknowledged_at  timestamptz NOT NULL
);

CREATE TABLE declaration_line_view (
    declaration_id   uuid NOT NULL,
    line_number      int NOT NULL,
    municipality     text NOT NULL,
    approved         boolean NOT NULL,
    return_codes     text[] NOT NULL,
    assessed_at      timestamptz NOT NULL,
    PRIMARY KEY (declaration_id, line_number)
);
