-- The pools this region takes part in, as their members tell them (docs/pools.md): the latest places
-- of every member's provider in every pooled setting. This region's own rows are written with the
-- event that announces them, so they are also what it last told the pool.
CREATE TABLE pool_capacity (
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

-- The members' open shortages of pooled settings (this region's own included); a row goes when it ends.
CREATE TABLE pool_shortage (
    pool         text NOT NULL,
    region       text NOT NULL,
    setting      text NOT NULL,
    shortage_id  uuid NOT NULL,
    free_places  int NOT NULL,
    waiting      int NOT NULL,
    detected_at  timestamptz NOT NULL,
    PRIMARY KEY (pool, region, setting)
);
