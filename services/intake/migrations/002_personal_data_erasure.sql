-- Personal data is erased after its retention period or on request: the encrypted record goes,
-- the client row (its pseudonym) stays, so referrals, toewijzingen and every count built on them
-- remain. Code that predates this never reads `personal`, so allowing NULL there is safe.
ALTER TABLE client ALTER COLUMN personal DROP NOT NULL;
ALTER TABLE client ADD COLUMN erased_at timestamptz;
CREATE INDEX client_holding_personal_data ON client (updated_at) WHERE personal IS NOT NULL;

-- Every erasure: who, when, why and how many; never whose personal data it was.
CREATE TABLE personal_data_erasure (
    seq          bigserial PRIMARY KEY,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    reason       text NOT NULL CHECK (reason IN ('retention', 'request')),
    clients      int NOT NULL,
    -- A request names the (pseudonymous) referral it was made for; retention its cut-off.
    referral_id  uuid,
    cutoff       timestamptz
);
