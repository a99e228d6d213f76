-- The doorbraak: the expert team's case file of a youth nobody could place (issue 16).

-- When the youth first escalated: later escalations move escalated_at, the case keeps the first.
ALTER TABLE placement ADD COLUMN first_escalated_at timestamptz;
UPDATE placement SET first_escalated_at = escalated_at WHERE escalated_at IS NOT NULL;

-- A youth who started care while still unplaced here (a PGB, a place outside the region) stops
-- waiting: 'elsewhere'. Only a doorbraak case makes capacity act on that (see doorbraak.md).
ALTER TABLE placement DROP CONSTRAINT placement_status_check;
ALTER TABLE placement ADD CONSTRAINT placement_status_check
    CHECK (status IN ('open', 'proposed', 'confirmed', 'withdrawn', 'elsewhere'));

CREATE TABLE doorbraak_case (
    id                 uuid PRIMARY KEY,
    placement_id       uuid NOT NULL REFERENCES placement (id),
    referral_id        uuid NOT NULL,
    team               text NOT NULL,
    status             text NOT NULL CHECK (status IN ('open', 'closed')),
    first_escalated_at timestamptz NOT NULL,
    taken_up_at        timestamptz NOT NULL,
    taken_up_by        text NOT NULL,
    closed_at          timestamptz,
    closed_reason      text
);
-- One open case per youth: taking it up again returns that case.
CREATE UNIQUE INDEX doorbraak_case_one_open ON doorbraak_case (placement_id) WHERE status = 'open';
CREATE INDEX doorbraak_case_referral ON doorbraak_case (referral_id);

-- Who met is a list of roles (it travels); what was said stays here, never on Kafka.
CREATE TABLE doorbraak_meeting (
    id          uuid PRIMARY KEY,
    case_id     uuid NOT NULL REFERENCES doorbraak_case (id),
    held_on     date NOT NULL,
    parties     text[] NOT NULL,
    notes       text,
    recorded_at timestamptz NOT NULL,
    recorded_by text NOT NULL
);
CREATE INDEX doorbraak_meeting_case ON doorbraak_meeting (case_id);

CREATE TABLE doorbraak_decision (
    id                 uuid PRIMARY KEY,
    case_id            uuid NOT NULL REFERENCES doorbraak_case (id),
    kind               text NOT NULL,
    executor           text NOT NULL,
    provider_agb       text,
    settings           text[] NOT NULL,
    working_days       int NOT NULL,
    due_date           date NOT NULL,
    -- The end of due_date in Europe/Amsterdam: from then on the decision is overdue.
    overdue_from       timestamptz NOT NULL,
    notes              text,
    decided_at         timestamptz NOT NULL,
    decided_by         text NOT NULL,
    status             text NOT NULL CHECK (status IN ('open', 'carried_out', 'withdrawn')),
    carried_out_at     timestamptz,
    contract_id        uuid,
    withdrawn_at       timestamptz,
    withdrawal_reason  text,
    withdrawal_notes   text,
    overdue_alerted_at timestamptz
);
-- One open decision per case at a time: a second is a conflict until the first is settled.
CREATE UNIQUE INDEX doorbraak_decision_one_open ON doorbraak_decision (case_id) WHERE status = 'open';
CREATE INDEX doorbraak_decision_overdue ON doorbraak_decision (overdue_from)
    WHERE status = 'open' AND overdue_alerted_at IS NULL;

-- A provider admitted for one youth's placement only, by a maatwerk contract that carried out a
-- decision: proposed to that youth before anyone else, never to another.
CREATE TABLE placement_admission (
    placement_id uuid NOT NULL REFERENCES placement (id),
    agb          text NOT NULL,
    setting      text NOT NULL,
    origin       text NOT NULL,          -- the contract id
    decision_id  uuid NOT NULL,
    admitted_at  timestamptz NOT NULL,
    ended_at     timestamptz,
    PRIMARY KEY (placement_id, agb, setting)
);
CREATE INDEX placement_admission_origin ON placement_admission (origin);
