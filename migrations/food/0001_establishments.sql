-- food: establishments that handle food, their food-safety certificate (giấy chứng nhận cơ sở
-- đủ điều kiện an toàn thực phẩm) and inspection violations. Written by food-safety only.
-- Dates are ISO 8601 (YYYY-MM-DD), times UTC RFC 3339.

CREATE TABLE establishments (
    id              TEXT PRIMARY KEY,          -- the province's registry id, e.g. DN-000123
    name            TEXT NOT NULL,
    name_folded     TEXT NOT NULL,             -- civic::text::fold(name): search key
    address         TEXT NOT NULL,
    ward            TEXT NOT NULL,
    ward_folded     TEXT NOT NULL,
    district        TEXT NOT NULL,
    district_folded TEXT NOT NULL,
    province        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    cert_number     TEXT,                      -- all four NULL when there is no certificate
    cert_issued     TEXT,
    cert_expires    TEXT,
    cert_authority  TEXT,
    lat             REAL,
    lng             REAL,
    violation_count INTEGER NOT NULL DEFAULT 0,
    updated_at      TEXT NOT NULL
) STRICT;

CREATE INDEX establishments_district ON establishments (district_folded);

CREATE TABLE violations (
    establishment_id TEXT NOT NULL REFERENCES establishments (id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,         -- position in the imported list
    date             TEXT NOT NULL,
    description      TEXT NOT NULL,
    penalty_vnd      INTEGER NOT NULL,
    PRIMARY KEY (establishment_id, seq)
) STRICT;

-- Every message the SMS gateway delivered, kept before it is answered; a redelivery of the
-- same message id gets the stored reply.
CREATE TABLE sms_messages (
    id          TEXT PRIMARY KEY,
    sender      TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    text        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    reply       TEXT
) STRICT;
