-- The last list of matches an SMS sender got, so that `ATTP 2` picks its second entry within
-- 10 minutes. Keyed by a keyed hash of the phone number (HMAC with the SMS webhook secret), so
-- the table holds no phone numbers.
CREATE TABLE sms_choices (
    phone_hash TEXT PRIMARY KEY,
    ids        TEXT NOT NULL,                  -- JSON array of establishment ids, in list order
    at         TEXT NOT NULL                   -- UTC RFC 3339, when the list was sent
) STRICT;
