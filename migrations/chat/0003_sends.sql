-- Notifications (issue 16): what POST /chat/send delivered, and when chat's outbox is due.
-- Times are UTC RFC 3339 with a trailing Z and whole seconds, so text order is time order.

-- Each message POST /chat/send got a platform to accept, by the caller's delivery id (its
-- idempotency key): a repeat of a sent id is answered from here and not sent again. The
-- Zalo consulting (message/cs) sends since a user's last message are counted here too.
CREATE TABLE sends (
    id              TEXT PRIMARY KEY,             -- the caller's delivery id
    channel         TEXT NOT NULL CHECK (channel IN ('zalo', 'telegram')),
    user_id         TEXT NOT NULL,                -- Zalo user id or Telegram chat id
    via             TEXT NOT NULL CHECK (via IN ('zalo', 'zns', 'telegram')),
    platform_msg_id TEXT,                         -- the platform's message id, when it gave one
    sent_at         TEXT NOT NULL
) STRICT;

CREATE INDEX sends_user ON sends (channel, user_id, via, sent_at);

-- The zalo 48-hour window reads the user's newest event.
CREATE INDEX chat_events_user ON chat_events (channel, user_id, received_at);

-- When an outbox reply is next due: NULL or a past time is due now. A tick claims a due
-- reply by setting it into the future (its lease) in one conditional statement, and after
-- a failed attempt sets it to the attempt's backoff.
ALTER TABLE outbox ADD COLUMN next_at TEXT;

CREATE INDEX outbox_due ON outbox (status, next_at);
