-- An event is claimed while it is answered and marked when answered, so that a platform's
-- retry of an event whose handling failed (a database error answered 503) is answered then,
-- while a retry that comes while the first handling still runs, or after it answered, is not.
ALTER TABLE chat_events ADD COLUMN claimed_at TEXT;   -- '' when released after a failure
ALTER TABLE chat_events ADD COLUMN answered_at TEXT;
