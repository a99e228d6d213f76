-- Who may offer places: providers admitted to a lot covering a setting (from contracting's
-- ProviderAdmitted) or registered by an admin until contracting runs. origin is the contract id,
-- or 'admin'; an ended contract ends only the settings it brought.
CREATE TABLE provider (
    agb               text PRIMARY KEY,
    municipality_code text,
    registered_at     timestamptz NOT NULL
);

CREATE TABLE provider_admission (
    agb        text NOT NULL REFERENCES provider (agb),
    setting    text NOT NULL,
    origin     text NOT NULL,
    admitted_at timestamptz NOT NULL,
    ended_at   timestamptz,
    PRIMARY KEY (agb, setting, origin)
);

-- A youth needing a verblijf place, opened from ReferralReceived (43, 44, 46). Pseudonymous.
CREATE TABLE placement (
    id                 uuid PRIMARY KEY,
    referral_id        uuid NOT NULL UNIQUE,
    client_ref         text NOT NULL,
    age                int NOT NULL,
    municipality_code  text NOT NULL,
    product_category   text NOT NULL,
    settings           text[] NOT NULL,      -- in preference order
    demand_setting     text NOT NULL,        -- the setting it counts as demand for while unplaced
    urgency            text NOT NULL,
    referrer           text,                 -- TYPE:AGB of the referrer, who may escalate by hand
    status             text NOT NULL CHECK (status IN ('open', 'proposed', 'confirmed', 'withdrawn')),
    requested_at       timestamptz NOT NULL,
    escalation_level   text,
    escalated_at       timestamptz,
    escalation_due_at  timestamptz,
    confirmed_agb      text,
    confirmed_setting  text,
    confirmed_at       timestamptz
);
CREATE INDEX placement_unplaced ON placement (demand_setting, urgency) WHERE status IN ('open', 'proposed');
CREATE INDEX placement_escalation_due ON placement (escalation_due_at) WHERE status IN ('open', 'proposed');

-- Every proposal made; an open one (outcome NULL) reserves a place until reserved_until.
CREATE TABLE proposal (
    id             bigserial PRIMARY KEY,
    placement_id   uuid NOT NULL REFERENCES placement (id),
    agb            text NOT NULL,
    setting        text NOT NULL,
    proposed_at    timestamptz NOT NULL,
    reserved_until timestamptz NOT NULL,
    outcome        text CHECK (outcome IN ('accepted', 'declined', 'timeout', 'withdrawn')),
    reason         text,
    decided_at     timestamptz
);
CREATE UNIQUE INDEX proposal_one_open ON proposal (placement_id) WHERE outcome IS NULL;
CREATE INDEX proposal_reserved ON proposal (agb, setting) WHERE outcome IS NULL;
CREATE INDEX proposal_last ON proposal (agb, proposed_at DESC);

-- Which report a CapacityReportStale was raised for, so it is raised once per stale report.
ALTER TABLE capacity_current ADD COLUMN stale_alerted_report_id bigint;
