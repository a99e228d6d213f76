-- A lot's terms change (tariffs yearly, status open/waitlist); the current terms are what checks use.
CREATE TABLE lot (
    code       text PRIMARY KEY,
    terms      jsonb NOT NULL,
    status     text NOT NULL CHECK (status IN ('open', 'waitlist')),
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL
);

CREATE TABLE application (
    id           uuid PRIMARY KEY,
    provider_agb text NOT NULL,
    kvk          text NOT NULL,
    evidence     jsonb NOT NULL,
    received_at  timestamptz NOT NULL
);

-- One row per lot applied for: admitted, waitlisted or rejected, and why.
CREATE TABLE application_lot (
    application_id uuid NOT NULL REFERENCES application (id),
    lot            text NOT NULL REFERENCES lot (code),
    outcome        text NOT NULL CHECK (outcome IN ('admitted', 'waitlisted', 'rejected')),
    reasons        jsonb NOT NULL DEFAULT '[]',
    decided_at     timestamptz NOT NULL,
    PRIMARY KEY (application_id, lot)
);

-- Providers waiting for a lot "voldoende in voorzien", in order of arrival.
CREATE TABLE waitlist (
    seq            bigserial PRIMARY KEY,
    lot            text NOT NULL REFERENCES lot (code),
    application_id uuid NOT NULL REFERENCES application (id),
    provider_agb   text NOT NULL,
    waitlisted_at  timestamptz NOT NULL,
    left_at        timestamptz,
    outcome        text
);
CREATE UNIQUE INDEX waitlist_once_per_lot ON waitlist (lot, provider_agb) WHERE left_at IS NULL;

CREATE TABLE contract (
    id             uuid PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('open_house', 'maatwerk', 'uitloop', 'taakgericht')),
    provider_agb   text NOT NULL,
    lot            text NOT NULL REFERENCES lot (code),
    client_ref     text,
    valid_from     date NOT NULL,
    valid_to       date NOT NULL CHECK (valid_to >= valid_from),
    tariffs        jsonb NOT NULL DEFAULT '[]',
    application_id uuid REFERENCES application (id),
    created_at     timestamptz NOT NULL,
    ended_on       date,
    end_reason     text,
    ended_at       timestamptz,
    CHECK ((kind = 'maatwerk') = (client_ref IS NOT NULL))
);
CREATE INDEX contract_provider ON contract (provider_agb);
-- Open House contracts a provider once per lot while the contract runs.
CREATE UNIQUE INDEX contract_open_house_once ON contract (provider_agb, lot) WHERE kind = 'open_house' AND ended_on IS NULL;

-- Allocations (toewijzingen) as learned from intake.events.v1; a withdrawal may arrive first.
CREATE TABLE allocation (
    allocation_id     uuid PRIMARY KEY,
    allocation_number int NOT NULL,
    municipality_code text NOT NULL,
    client_ref        text NOT NULL,
    provider_agb      text NOT NULL,
    product_category  text NOT NULL,
    product_code      text,
    start_date        date NOT NULL,
    end_date          date NOT NULL,
    volume            int,
    unit              text,
    frequency         text,
    budget            bigint,
    issued_at         timestamptz NOT NULL
);
CREATE INDEX allocation_provider_number ON allocation (provider_agb, allocation_number);

CREATE TABLE allocation_withdrawal (
    allocation_id  uuid PRIMARY KEY,
    reason         text NOT NULL,
    effective_date date NOT NULL,
    withdrawn_at   timestamptz NOT NULL
);

-- Start and end of care, for information only: a missing start never blocks payment (iJw OP364).
CREATE TABLE allocation_care (
    allocation_id uuid PRIMARY KEY,
    started_on    date,
    ended_on      date,
    end_reason    text
);

-- Declarations are immutable once assessed; (provider, number) makes a re-post idempotent.
CREATE TABLE declaration (
    id                 uuid PRIMARY KEY,
    provider_agb       text NOT NULL,
    declaration_number text NOT NULL,
    body_hash          text NOT NULL,
    municipality_code  text NOT NULL,
    period_start       date NOT NULL,
    period_end         date NOT NULL,
    result             jsonb NOT NULL,
    submitted_at       timestamptz NOT NULL,
    UNIQUE (provider_agb, declaration_number)
);

-- Approved debit lines that still stand: what the cumulative volume, budget and stacking checks count.
CREATE TABLE booking (
    declaration_id uuid NOT NULL REFERENCES declaration (id),
    line_number    int NOT NULL,
    allocation_id  uuid NOT NULL,
    product_code   text NOT NULL,
    period_start   date NOT NULL,
    period_end     date NOT NULL,
    volume         int NOT NULL,
    amount         bigint NOT NULL,
    credited_by    uuid REFERENCES declaration (id),
    PRIMARY KEY (declaration_id, line_number)
);
CREATE INDEX booking_standing ON booking (allocation_id) WHERE credited_by IS NULL;
