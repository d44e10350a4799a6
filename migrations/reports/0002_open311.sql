-- Open311 GeoReport v2 in full: the extra questions of a category (service definition
-- attributes) and their answers, and the updates an agency's own case system posts
-- (`servicerequestupdates`, the FixMyStreet extension). See report_submission::attribute
-- and report_submission::open311::updates.

-- JSON array of attribute definitions (report_submission::attribute::Attribute).
ALTER TABLE categories ADD COLUMN attributes TEXT NOT NULL DEFAULT '[]';

-- JSON object: attribute code -> the answer (text, number, or an array of value keys).
ALTER TABLE reports ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';

-- The status an agency's system posted for this event, as it said it (FIXED, DUPLICATE,
-- ACTION_SCHEDULED, ...); NULL for the events of the app's own routes.
ALTER TABLE report_events ADD COLUMN open311_status TEXT;

-- GET servicerequestupdates reads events by time.
CREATE INDEX report_events_at ON report_events (at);

-- Each update an agency's system posted, by its own id: a repeated update_id is answered
-- with the event the first one made, never applied twice.
CREATE TABLE open311_updates (
    agency     TEXT NOT NULL,              -- the agency its api_key is bound to
    update_id  TEXT NOT NULL,              -- the agency system's id of the update
    code       TEXT NOT NULL REFERENCES reports (code),
    seq        INTEGER NOT NULL,           -- the report_events row it made
    created_at TEXT NOT NULL,
    PRIMARY KEY (agency, update_id)
) STRICT;
