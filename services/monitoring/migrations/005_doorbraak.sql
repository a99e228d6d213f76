-- Read models of the doorbraak: the expert team's cases, their meetings and decisions; built only from
-- capacity's events. Pseudonymous like placement_view: no client_ref, no provider, no notes.
CREATE TABLE doorbraak_case_view (
    case_id            uuid PRIMARY KEY,
    placement_id       uuid NOT NULL,
    referral_id        uuid NOT NULL,
    age                int,
    municipality       text,
    settings           text[] NOT NULL DEFAULT '{}',
    urgency            text,
    team               text,
    first_escalated_at timestamptz,
    taken_up_at        timestamptz,
    closed_at          timestamptz,
    closed_reason      text
);
CREATE INDEX doorbraak_case_view_open ON doorbraak_case_view (taken_up_at) WHERE closed_at IS NULL;

CREATE TABLE doorbraak_meeting_view (
    meeting_id  uuid PRIMARY KEY,
    case_id     uuid NOT NULL,
    held_on     date NOT NULL
);
CREATE INDEX doorbraak_meeting_view_case ON doorbraak_meeting_view (case_id);

-- A decision may be heard of first through its DecisionOverdue alert (another topic, another consumer),
-- so everything but its ids may still be unknown.
CREATE TABLE doorbraak_decision_view (
    decision_id        uuid PRIMARY KEY,
    case_id            uuid NOT NULL,
    placement_id       uuid NOT NULL,
    referral_id        uuid NOT NULL,
    municipality       text,
    kind               text,
    executor           text,
    settings           text[] NOT NULL DEFAULT '{}',
    working_days       int,
    due_date           date,
    first_escalated_at timestamptz,
    decided_at         timestamptz,
    overdue_at         timestamptz,
    carried_out_at     timestamptz,
    withdrawn_at       timestamptz,
    withdrawal_reason  text
);
CREATE INDEX doorbraak_decision_view_case ON doorbraak_decision_view (case_id);
