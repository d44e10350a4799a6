-- chat: the Zalo OA and Telegram bot's own state. Written by chat only.
-- Times are UTC RFC 3339 with a trailing Z and whole seconds, so text order is time order.

-- Every webhook event accepted, by its channel's id (Zalo message.msg_id, Telegram
-- update_id): a repeat of one is acknowledged and ignored. Kept with what it said, so that
-- nothing a platform sent is lost before it is answered.
CREATE TABLE chat_events (
    channel     TEXT NOT NULL CHECK (channel IN ('zalo', 'telegram')),
    event_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    body        TEXT NOT NULL,                -- the raw event as received
    received_at TEXT NOT NULL,
    PRIMARY KEY (channel, event_id)
) STRICT;

CREATE INDEX chat_events_received ON chat_events (received_at);

-- One open PA (field report) conversation per user: the text, then the place, then photos.
CREATE TABLE conversations (
    channel    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    id         TEXT NOT NULL,                 -- <channel>:<user>:<first event id>, the filing's idempotency id
    step       TEXT NOT NULL CHECK (step IN ('place', 'photos')),
    text       TEXT NOT NULL,                 -- the report's description
    lat        REAL,
    lng        REAL,
    address    TEXT,
    media      TEXT NOT NULL DEFAULT '[]',    -- JSON array of our media URLs
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (channel, user_id)
) STRICT;

-- The buttons of the last reply to each user, so that a bare number picks one.
CREATE TABLE last_choices (
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL,
    choices TEXT NOT NULL,                    -- JSON [{"label", "value"}]
    at      TEXT NOT NULL,
    PRIMARY KEY (channel, user_id)
) STRICT;

-- The Zalo OA's token pair. Refresh tokens are single use: a refresh stores its new pair
-- only over the version it started from (compare and swap), so the newest pair is kept.
CREATE TABLE zalo_tokens (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    access_token  TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    version       INTEGER NOT NULL
) STRICT;

-- Replies that could not be sent when they were made, for the notifications outbox to
-- deliver (issue 16): never lost.
CREATE TABLE outbox (
    id         TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    body       TEXT NOT NULL,                 -- JSON {"reply", "choices"}
    status     TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX outbox_pending ON outbox (status, created_at);
