-- A withdrawal gives back the place reserved for its referral: found by referral, not by a scan of every placement.
CREATE INDEX placement_view_referral ON placement_view (referral_id);
