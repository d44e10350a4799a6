-- reports: field reports (phản ánh hiện trường), the categories citizens choose from, and
-- which agency answers each category in each district. Written by report-submission only.
-- Times are UTC RFC 3339 with a trailing Z and whole seconds, so text order is time order.

-- Open311 "services".
CREATE TABLE categories (
    code           TEXT PRIMARY KEY,           -- e.g. "road-damage"; the Open311 service_code
    name_vi        TEXT NOT NULL,
    name_en        TEXT NOT NULL,
    description_vi TEXT NOT NULL,
    description_en TEXT NOT NULL,
    keywords       TEXT NOT NULL,              -- folded words that pick it from an SMS, space separated
    deadline_hours INTEGER NOT NULL CHECK (deadline_hours > 0)
) STRICT;

CREATE TABLE agencies (
    code TEXT PRIMARY KEY,                     -- e.g. "hai-chau-ubnd"
    name TEXT NOT NULL
) STRICT;

-- The routing table: category x district -> agency. District '*' is the default of a category.
CREATE TABLE routes (
    category TEXT NOT NULL REFERENCES categories (code),
    district TEXT NOT NULL,                    -- folded district name, or '*'
    agency   TEXT NOT NULL REFERENCES agencies (code),
    PRIMARY KEY (category, district)
) STRICT;

CREATE TABLE reports (
    code          TEXT PRIMARY KEY,            -- PA-YYMMDD-NNNN; the Open311 service_request_id
    category      TEXT NOT NULL REFERENCES categories (code),
    description   TEXT NOT NULL,
    lat           REAL,
    lng           REAL,
    address       TEXT,
    district      TEXT,                        -- folded district name, when known
    media_urls    TEXT NOT NULL,               -- JSON array of https URLs
    agency        TEXT NOT NULL REFERENCES agencies (code),
    status        TEXT NOT NULL CHECK (status IN ('received', 'in_progress', 'resolved', 'rejected')),
    reporter_sub  TEXT,                        -- the citizen's JWT `sub`, when signed in
    reporter_name TEXT,
    reporter_phone TEXT,
    anonymous     INTEGER NOT NULL CHECK (anonymous IN (0, 1)),
    channel       TEXT NOT NULL,               -- app, open311, sms
    duplicate_of  TEXT REFERENCES reports (code),
    created_at    TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    resolved_at   TEXT,
    rating        INTEGER CHECK (rating BETWEEN 1 AND 5),
    rating_comment TEXT
) STRICT;

CREATE INDEX reports_open_near ON reports (category, status, created_at, lat, lng);
CREATE INDEX reports_agency ON reports (agency, created_at);

-- What happened to each report, oldest first: received, status changes, reassignments.
CREATE TABLE report_events (
    code   TEXT NOT NULL REFERENCES reports (code),
    seq    INTEGER NOT NULL,
    at     TEXT NOT NULL,
    status TEXT NOT NULL,
    agency TEXT NOT NULL,
    note   TEXT,
    media_url TEXT,
    actor  TEXT NOT NULL,                      -- citizen, officer:<agency>, system
    PRIMARY KEY (code, seq)
) STRICT;

-- The day's report counter, for PA-YYMMDD-NNNN.
CREATE TABLE report_counters (
    day TEXT PRIMARY KEY,                      -- YYMMDD in Asia/Ho_Chi_Minh
    n   INTEGER NOT NULL
) STRICT;

-- Idempotency-Key (or an SMS message id) -> the report it created.
CREATE TABLE idempotency (
    key        TEXT PRIMARY KEY,               -- "<who>:<key>"
    code       TEXT NOT NULL REFERENCES reports (code),
    created_at TEXT NOT NULL
) STRICT;

-- Every message the SMS gateway delivered (civic::sms).
CREATE TABLE sms_messages (
    id          TEXT PRIMARY KEY,
    sender      TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    text        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    reply       TEXT
) STRICT;
