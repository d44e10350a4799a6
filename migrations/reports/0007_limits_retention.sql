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

-- Photo uploads are counted by the `media_upload` rule now.
DROP TABLE media_uploads;

-- Retention (issue 17): each kind of personal data is removed or pseudonymised by the tick
-- once past its period (civic::retention). These indexes let the tick and GET
-- <prefix>/retention find the oldest items without scanning the tables.
CREATE INDEX sms_messages_received ON sms_messages (received_at);
CREATE INDEX outbox_deliveries_finished ON outbox_deliveries (updated_at) WHERE state <> 'pending';
CREATE INDEX idempotency_created ON idempotency (created_at);

-- When a report was closed (resolved or rejected): its reporter's contact details are kept
-- for `retention_reporter_contact` after it, then cleared. `resolved_at` is only set on
-- resolution (the statistics measure it), so rejections get their time from their event.
ALTER TABLE reports ADD COLUMN closed_at TEXT;
UPDATE reports SET closed_at = COALESCE(resolved_at, (SELECT max(e.at) FROM report_events e WHERE e.code = reports.code))
    WHERE status IN ('resolved', 'rejected');
CREATE INDEX reports_contact_closed ON reports (closed_at)
    WHERE closed_at IS NOT NULL
      AND (reporter_sub IS NOT NULL OR reporter_name IS NOT NULL OR reporter_phone IS NOT NULL OR channel_user IS NOT NULL);
