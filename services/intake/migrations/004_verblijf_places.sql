-- The daily cap on open verblijf/crisis referrals as numbered places: each such referral holds one
-- place of its submitter's Dutch calendar day until it is placed or withdrawn. The primary key
-- lets at most SCHAKEL_VERBLIJF_REFERRALS_PER_DAY referrals hold places 1..limit, so concurrent
-- referrals of one submitter need no lock (counting under an advisory lock serialised them all:
-- issue 13's profile); the count of a day's rows is the count of its open referrals.
CREATE TABLE verblijf_place (
    submitted_by text NOT NULL,
    day          date NOT NULL,
    place        int NOT NULL,
    referral_id  uuid NOT NULL UNIQUE REFERENCES referral (id),
    PRIMARY KEY (submitted_by, day, place)
);

-- Today's open referrals (43, 44, 46: contracts.codes.PLACEMENT_CATEGORIES) take their places.
INSERT INTO verblijf_place (submitted_by, day, place, referral_id)
SELECT submitted_by, day, row_number() OVER (PARTITION BY submitted_by, day ORDER BY received_at, id), id
FROM (SELECT submitted_by, (received_at AT TIME ZONE 'Europe/Amsterdam')::date AS day, received_at, id
      FROM referral
      WHERE product_category IN ('43', '44', '46') AND placed_at IS NULL AND withdrawn_at IS NULL
        AND received_at >= now() - interval '2 days') AS open_referral;
