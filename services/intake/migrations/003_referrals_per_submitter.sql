-- The daily cap on open verblijf referrals counts a submitter's referrals of today.
CREATE INDEX IF NOT EXISTS referral_submitted ON referral (submitted_by, received_at);
