-- Who a youth is: only here, encrypted (Fernet) with the key from settings; everything else
-- in this database knows the youth by client_ref.
CREATE TABLE client (
    client_ref  text PRIMARY KEY,
    personal    bytea NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE referral (
    id                      uuid PRIMARY KEY,
    client_ref              text NOT NULL REFERENCES client (client_ref),
    age                     int NOT NULL,
    municipality_code       text NOT NULL,
    referrer_type           text NOT NULL,
    referrer_agb            text,
    veilig_thuis            boolean NOT NULL,
    provider_agb            text,
    contracted_provider     boolean,
    product_category        text NOT NULL,
    settings                text[] NOT NULL,
    urgency                 text NOT NULL,
    ambulant_tried          boolean NOT NULL,
    needs_gemeente_decision boolean NOT NULL,
    referral_date           date NOT NULL,
    received_at             timestamptz NOT NULL,
    submitted_by            text NOT NULL,
    status                  text NOT NULL,
    placed_at               timestamptz,
    placed_with             text,
    care_started_at         timestamptz,
    withdrawn_at            timestamptz,
    withdrawal_reason       text
);
CREATE INDEX referral_client ON referral (client_ref);

-- Every step of a referral, never overwritten: the status history users ask for.
CREATE TABLE referral_history (
    seq          bigserial PRIMARY KEY,
    referral_id  uuid NOT NULL REFERENCES referral (id),
    at           timestamptz NOT NULL,
    status       text NOT NULL,
    step         text NOT NULL,
    detail       text NOT NULL DEFAULT ''
);
CREATE INDEX referral_history_referral ON referral_history (referral_id, seq);

-- Toewijzingnummers run per municipality.
CREATE TABLE allocation_number (
    municipality_code  text PRIMARY KEY,
    last_number        int NOT NULL
);

CREATE TABLE allocation (
    id                 uuid PRIMARY KEY,
    number             int NOT NULL,
    municipality_code  text NOT NULL,
    referral_id        uuid NOT NULL REFERENCES referral (id),
    client_ref         text NOT NULL,
    provider_agb       text NOT NULL,
    product_category   text NOT NULL,
    product_code       text,
    start_date         date NOT NULL,
    end_date           date NOT NULL,
    volume             int,
    unit               text,
    frequency          text,
    budget             bigint,
    issued_at          timestamptz NOT NULL,
    request_id         uuid,
    withdrawn_at       timestamptz,
    withdrawal_reason  text,
    effective_date     date,
    care_start         date,
    care_started_at    timestamptz,
    care_end           date,
    care_end_reason    text,
    care_ended_at      timestamptz,
    UNIQUE (municipality_code, number),
    CHECK (end_date >= start_date)
);
CREATE INDEX allocation_client_product ON allocation (client_ref, product_category);
CREATE INDEX allocation_referral ON allocation (referral_id);

-- A provider's request for a toewijzing (JW315) and the gemeente's answer.
CREATE TABLE allocation_request (
    id                 uuid PRIMARY KEY,
    referral_id        uuid NOT NULL REFERENCES referral (id),
    municipality_code  text NOT NULL,
    provider_agb       text NOT NULL,
    product_category   text NOT NULL,
    product_code       text,
    start_date         date NOT NULL,
    end_date           date NOT NULL,
    volume             int,
    unit               text,
    frequency          text,
    budget             bigint,
    requested_at       timestamptz NOT NULL,
    answer_due         timestamptz NOT NULL,
    answered_at        timestamptz,
    answer             text,
    rejection_reason   text,
    allocation_id      uuid,
    overdue_at         timestamptz
);
CREATE INDEX allocation_request_open ON allocation_request (answer_due) WHERE answered_at IS NULL;

-- Contracts learned from contracting's events, to flag referrals to non-contracted providers.
CREATE TABLE provider_contract (
    contract_id   uuid PRIMARY KEY,
    provider_agb  text NOT NULL,
    valid_from    date NOT NULL,
    valid_to      date NOT NULL,
    ended_on      date
);
CREATE INDEX provider_contract_agb ON provider_contract (provider_agb);
