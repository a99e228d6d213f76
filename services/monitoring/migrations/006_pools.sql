-- The pools this region takes part in, as their members tell them on the pool topics (docs/pools.md):
-- the latest places of every member's provider in every pooled setting (this region's own included).
CREATE TABLE pool_capacity_view (
    pool         text NOT NULL,
    region       text NOT NULL,
    agb          text NOT NULL,
    setting      text NOT NULL,
    free         int NOT NULL CHECK (free >= 0),
    total        int NOT NULL CHECK (total >= 0),
    reserved     int NOT NULL CHECK (reserved >= 0),
    reported_at  timestamptz NOT NULL,
    PRIMARY KEY (pool, region, agb, setting)
);

-- The members' shortages of pooled settings; open while resolved_at is NULL. Kept after they end, like
-- shortage_view, so a resolution read before its detection (a replay) still closes it.
CREATE TABLE pool_shortage_view (
    pool         text NOT NULL,
    shortage_id  uuid NOT NULL,
    region       text NOT NULL,
    setting      text NOT NULL,
    free_places  int NOT NULL,
    waiting      int NOT NULL,
    detected_at  timestamptz NOT NULL,
    resolved_at  timestamptz,
    PRIMARY KEY (pool, shortage_id)
);
CREATE INDEX pool_shortage_open ON pool_shortage_view (pool, region, setting) WHERE resolved_at IS NULL;
