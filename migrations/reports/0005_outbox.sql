-- The transactional outbox (civic::outbox): events written in the same atomic batch as the
-- change they report, and their deliveries to partner webhooks and to the citizen. The same
-- file in every database that has events; written by its own function only.
-- Times are UTC RFC 3339 with a trailing Z and whole seconds, so text order is time order.

-- Partner endpoints registered by an admin (POST <prefix>/webhooks). Standard Webhooks.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,          -- ep_<22 URL-safe base64 characters>
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,             -- JSON array of event types
    agency          TEXT,                      -- only events whose data.agency is this, when set
    secret          TEXT NOT NULL,             -- whsec_<base64>
    state           TEXT NOT NULL CHECK (state IN ('enabled', 'disabled')),
    disabled_reason TEXT,                      -- why it was disabled (410 Gone)
    created_at      TEXT NOT NULL
) STRICT;

-- Every event, once: its id is the webhook-id of every delivery of it.
CREATE TABLE outbox_events (
    id         TEXT PRIMARY KEY,               -- msg_<22 URL-safe base64 characters>
    type       TEXT NOT NULL,                  -- report.status_changed, payment.settled, ...
    subject    TEXT NOT NULL,                  -- the report code, dossier code or order id
    data       TEXT NOT NULL,                  -- JSON object: the public facts
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX outbox_events_subject ON outbox_events (subject, created_at);

-- One row per receiver of an event: each endpoint subscribed when it happened, and the
-- citizen it concerns. Claimed by one conditional UPDATE (claimed_until), so that
-- overlapping ticks never make the same attempt twice.
CREATE TABLE outbox_deliveries (
    seq           INTEGER PRIMARY KEY,         -- creation order: a citizen's messages go in it
    id            TEXT NOT NULL UNIQUE,        -- <event id>.<endpoint id> or <event id>.citizen
    event_id      TEXT NOT NULL REFERENCES outbox_events (id),
    target        TEXT NOT NULL CHECK (target IN ('webhook', 'sms', 'zalo', 'telegram')),
    endpoint_id   TEXT,                        -- webhook: webhook_endpoints.id
    recipient     TEXT,                        -- sms: the phone; zalo: user id; telegram: chat id
    phone         TEXT,                        -- zalo: the phone for a ZNS template, when known
    message       TEXT,                        -- citizen: the message, in Vietnamese
    template      TEXT,                        -- zalo: JSON {"name", "data"} of a ZNS template
    state         TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead', 'undeliverable', 'cancelled')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       TEXT NOT NULL,               -- when it is due (pending)
    claimed_until TEXT,                        -- a tick is attempting it until then
    last_status   INTEGER,                     -- the receiver's last HTTP status
    last_error    TEXT,
    updated_at    TEXT NOT NULL,
    delivered_at  TEXT
) STRICT;

CREATE INDEX outbox_deliveries_due ON outbox_deliveries (state, next_at);
CREATE INDEX outbox_deliveries_queue ON outbox_deliveries (target, recipient, state, seq);
CREATE INDEX outbox_deliveries_endpoint ON outbox_deliveries (endpoint_id, state);
