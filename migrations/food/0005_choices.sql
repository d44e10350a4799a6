-- The last list of places a sender got, on any channel (SMS, Zalo, Telegram), so that
-- `ATTP 2` picks its second entry within 10 minutes. Keyed by channel and a keyed hash of the
-- sender (HMAC-SHA256 with the SMS webhook secret, or the internal secret without one; for
-- SMS, of the phone number's digits, as `sms_choices` was), so the table holds no phone
-- numbers or chat ids.
CREATE TABLE choices (
    channel   TEXT NOT NULL,                   -- sms, zalo, telegram
    user_hash TEXT NOT NULL,
    ids       TEXT NOT NULL,                   -- JSON array of establishment ids, in list order
    at        TEXT NOT NULL,                   -- UTC RFC 3339, when the list was sent
    PRIMARY KEY (channel, user_hash)
) STRICT, WITHOUT ROWID;

-- Lists sent in the last minutes before the upgrade stay pickable.
INSERT INTO choices (channel, user_hash, ids, at) SELECT 'sms', phone_hash, ids, at FROM sms_choices;

-- `sms_choices` is left in place for the code of the previous release, which may still be
-- serving while this migration runs; a later migration drops it.
