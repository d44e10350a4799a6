-- permits: administrative dossiers (hồ sơ thủ tục hành chính) and their status history.
-- Written by permit-status only; read by payment-callback (the fee of a dossier).
-- Times are UTC RFC 3339 with a trailing Z and whole seconds, so text order is time order.

CREATE TABLE dossiers (
    code            TEXT PRIMARY KEY,          -- national format, upper case: 000.00.19.H57-241105-0012
    procedure_code  TEXT NOT NULL,
    procedure_name  TEXT NOT NULL,
    field           TEXT NOT NULL,
    agency          TEXT NOT NULL,             -- the agency handling it now
    applicant_name  TEXT NOT NULL,
    applicant_phone TEXT NOT NULL,
    applicant_kind  TEXT NOT NULL CHECK (applicant_kind IN ('citizen', 'business')),
    received_at     TEXT NOT NULL,
    due_at          TEXT NOT NULL,             -- ngày hẹn trả
    status          INTEGER NOT NULL CHECK (status BETWEEN 1 AND 10),
    status_at       TEXT NOT NULL,             -- time of the newest update applied
    result_at       TEXT,
    fee_vnd         INTEGER NOT NULL CHECK (fee_vnd >= 0),
    updated_at      TEXT NOT NULL
) STRICT;

-- Every status change pushed, once: a repeated push hits the primary key and is ignored.
CREATE TABLE dossier_events (
    code   TEXT NOT NULL REFERENCES dossiers (code),
    at     TEXT NOT NULL,
    status INTEGER NOT NULL CHECK (status BETWEEN 1 AND 10),
    agency TEXT NOT NULL,
    note   TEXT,
    PRIMARY KEY (code, at, status)
) STRICT;

-- Failed `?phone=<last 4 digits>` checks per dossier and Vietnam day: past a few, the last-4
-- check is off for that dossier until the next day, so the 10,000 possible answers cannot be
-- tried through. (The applicant's JWT still works.)
CREATE TABLE phone_checks (
    code     TEXT NOT NULL,
    day      TEXT NOT NULL,                    -- YYYY-MM-DD in Asia/Ho_Chi_Minh
    failures INTEGER NOT NULL,
    PRIMARY KEY (code, day)
) STRICT;

-- Every message the SMS gateway delivered for `HS <mã hồ sơ>`, kept before it is answered;
-- a redelivery of the same message id gets the stored reply (civic::sms).
CREATE TABLE sms_messages (
    id          TEXT PRIMARY KEY,
    sender      TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    text        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    reply       TEXT
) STRICT;
