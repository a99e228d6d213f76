-- A place asked of another member of a pool (docs/pools.md). In the youth's region, the proposal
-- names the member whose provider was asked and the request's fresh reference; its places there
-- are never counted here (region NULL: this region's own provider).
ALTER TABLE proposal ADD COLUMN region text;
ALTER TABLE proposal ADD COLUMN pool_request_id uuid UNIQUE;

-- In the provider's region: a request of another member, held for that youth while open (it counts
-- as reserved, like an open proposal), answered by the provider through this region's API. Only
-- what the request carried: no client, referral or municipality.
CREATE TABLE pool_request (
    id             uuid PRIMARY KEY,          -- the requesting region's request_id
    pool           text NOT NULL,
    from_region    text NOT NULL,
    agb            text NOT NULL,
    setting        text NOT NULL,
    age            int NOT NULL,
    urgency        text NOT NULL,
    reserved_until timestamptz NOT NULL,
    received_at    timestamptz NOT NULL,
    outcome        text CHECK (outcome IN ('accepted', 'declined', 'timeout', 'withdrawn')),
    reason         text,
    note           text,
    decided_at     timestamptz
);
CREATE INDEX pool_request_open ON pool_request (agb, setting) WHERE outcome IS NULL;

-- This region's pool-wide shortage of a pooled setting: its own shortage is open and no other member
-- has a free place. A row while it lasts.
CREATE TABLE pool_wide_shortage (
    pool         text NOT NULL,
    setting      text NOT NULL,
    shortage_id  uuid NOT NULL,
    detected_at  timestamptz NOT NULL,
    PRIMARY KEY (pool, setting)
);
