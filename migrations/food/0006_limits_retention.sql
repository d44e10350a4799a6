-- Rate limits (issue 17): one row per rule and caller, counted by one conditional upsert
-- (civic::limit). `caller` is a keyed hash of the phone, chat user, JWT subject, Open311 key
-- or address, never the identifier itself. The table is the same in every database (a test
-- of civic::limit keeps it so); the tick removes windows that have ended.
CREATE TABLE rate_limits (
    rule       TEXT NOT NULL,                  -- the rule's name: report_filing, sms, ...
    caller     TEXT NOT NULL,                  -- civic::auth::pseudonym of sub:/phone:/chat:/open311:/ip:
    count      INTEGER NOT NULL,               -- requests in the window, refused ones too
    window_end TEXT NOT NULL,                  -- UTC RFC 3339: the window opened at the first request
    PRIMARY KEY (rule, caller)
) STRICT, WITHOUT ROWID;

CREATE INDEX rate_limits_end ON rate_limits (window_end);

-- Retention (issue 17): each kind of personal data is removed or pseudonymised by the tick
-- once past its period (civic::retention). These indexes let the tick and GET
-- <prefix>/retention find the oldest items without scanning the tables.
CREATE INDEX sms_messages_received ON sms_messages (received_at);
CREATE INDEX choices_at ON choices (at);
CREATE INDEX sms_choices_at ON sms_choices (at);
