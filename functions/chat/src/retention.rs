//! The kinds of personal data the chat database keeps, and for how long
//! ([`civic::retention`]): [`crate::tick()`] removes what is past each kind's period (setting
//! `retention_<kind>`, at least its minimum), and `GET /chat/retention` (role `admin`) shows
//! the oldest item of each kind still kept.
//!
//! | kind | rows | by | default | minimum |
//! |---|---|---|---|---|
//! | [`CHAT_EVENTS`] | `chat_events` | `received_at` | 30 days | 2 days |
//! | [`CONVERSATIONS`] | `conversations`, `last_choices` | `updated_at`, `at` | 1 day | 1 hour |
//! | [`NOTIFICATIONS`] | `outbox` (sent or dead), `sends` | `created_at`, `sent_at` | 30 days | 2 days |
//!
//! Each statement removes at most `?2` rows older than the cutoff `?1`, oldest first, through
//! the indexes of `migrations/chat/0004_limits_retention.sql` (and `chat_events_received`).
//! The rate-limit windows (`rate_limits`) are swept by [`civic::retention::run`] itself.

use civic::retention::Kind;

/// Every event a platform sent (the raw event: the user's id and what they wrote or shared),
/// by `received_at`. At least 2 days: `POST /chat/send` reads a Zalo user's last message
/// time from here for Zalo's 48-hour free-reply window, and an event id must be remembered
/// while its platform may still redeliver it (Zalo and Telegram retry for minutes to hours,
/// Telegram keeps an update at most 24 hours), so that nothing is answered twice.
pub const CHAT_EVENTS: Kind = Kind {
    name: "chat_events",
    purged: "chat_events_purged",
    default: "30d",
    minimum: "2d",
    holds: "chat webhook events received: Zalo or Telegram user id and the message, location or photo link sent",
    oldest: "SELECT min(received_at) AS oldest FROM chat_events",
    purge: &["DELETE FROM chat_events WHERE rowid IN
                  (SELECT rowid FROM chat_events WHERE received_at < ?1 ORDER BY received_at LIMIT ?2) RETURNING 1"],
};

/// Conversation state: open `PA` conversations (`conversations`: the report's text, place
/// and photo links, by `updated_at`) and the buttons last offered to each user
/// (`last_choices`, by `at`). Both are unused once idle for [`crate::store::IDLE_MINUTES`]
/// (a stale conversation is dropped when next read); the minimum of 1 hour keeps every one
/// still in use. A report already filed is report-submission's; its filing's idempotency id
/// is the conversation's, needed only while `GUI` may be pressed again.
pub const CONVERSATIONS: Kind = Kind {
    name: "conversations",
    purged: "conversations_purged",
    default: "1d",
    minimum: "1h",
    holds: "chat conversation state: open field reports (text, place, photo links) and the buttons last offered, by user",
    oldest: "SELECT min(x) AS oldest FROM
                 (SELECT min(updated_at) AS x FROM conversations UNION ALL SELECT min(at) FROM last_choices)",
    purge: &[
        "DELETE FROM conversations WHERE rowid IN
             (SELECT rowid FROM conversations WHERE updated_at < ?1 ORDER BY updated_at LIMIT ?2) RETURNING 1",
        "DELETE FROM last_choices WHERE rowid IN
             (SELECT rowid FROM last_choices WHERE at < ?1 ORDER BY at LIMIT ?2) RETURNING 1",
    ],
};

/// Chat's notification log: replies of its own outbox that are finished (`outbox`, status
/// `sent` or `dead`, by `created_at`: the user id and the reply; a `pending` one is never
/// touched, so nothing waiting is lost, and a finished one is never attempted again) and the
/// record of each message `POST /chat/send` delivered (`sends`, by `sent_at`). At least 2
/// days: `sends` is what makes `/chat/send` exactly once per delivery id while the caller's
/// outbox may retry it (report-submission's schedule ends about 31 hours after the first
/// attempt), and it counts the Zalo consulting messages sent in the 48-hour window. A dead
/// delivery of a caller's outbox can be retried by hand while that caller keeps it (its
/// own `retention_notifications`, the same setting and default): a period here no shorter
/// than the callers' keeps such a retry from sending a message twice.
pub const NOTIFICATIONS: Kind = Kind {
    name: "notifications",
    purged: "notifications_purged",
    default: "30d",
    minimum: "2d",
    holds: "chat notifications: finished outbox replies (user id, message) and the record of messages sent by /chat/send",
    oldest: "SELECT min(x) AS oldest FROM
                 (SELECT min(created_at) AS x FROM outbox WHERE status <> 'pending'
                  UNION ALL SELECT min(sent_at) FROM sends)",
    purge: &[
        "DELETE FROM outbox WHERE rowid IN
             (SELECT rowid FROM outbox WHERE status <> 'pending' AND created_at < ?1
              ORDER BY created_at LIMIT ?2) RETURNING 1",
        "DELETE FROM sends WHERE rowid IN
             (SELECT rowid FROM sends WHERE sent_at < ?1 ORDER BY sent_at LIMIT ?2) RETURNING 1",
    ],
};

/// The chat database's kinds, in the order the admin route shows them.
pub const KINDS: &[Kind] = &[CHAT_EVENTS, CONVERSATIONS, NOTIFICATIONS];

#[cfg(test)]
mod tests {
    use std::time::Duration as Wait;

    use civic::platform::Platform;
    use civic::platform::native::{NativePlatform, block_on};
    use http::StatusCode;
    use serde_json::json;

    use super::*;
    use crate::store::DB;
    use crate::testkit::{self, StandIn};

    fn count(env: &NativePlatform, table: &str) -> i64 {
        let rows = block_on(env.query(DB, &format!("SELECT count(*) AS n FROM {table}"), &[])).unwrap();
        rows.first().unwrap().i64("n").unwrap()
    }

    /// One row of each table at `old` and one at `new`; and a pending outbox reply at `old`.
    fn fill(env: &NativePlatform, old: &str, new: &str) {
        for (n, at) in [(1, old), (2, new)] {
            for (sql, params) in [
                (
                    "INSERT INTO chat_events (channel, event_id, user_id, body, received_at, answered_at)
                     VALUES ('zalo', ?1, 'u', '{}', ?2, ?2)",
                    vec![format!("e{n}"), at.to_owned()],
                ),
                (
                    "INSERT INTO conversations (channel, user_id, id, step, text, started_at, updated_at)
                     VALUES ('zalo', ?1, 'c', 'place', 'Đèn hỏng', ?2, ?2)",
                    vec![format!("u{n}"), at.to_owned()],
                ),
                (
                    "INSERT INTO last_choices (channel, user_id, choices, at) VALUES ('telegram', ?1, '[]', ?2)",
                    vec![format!("u{n}"), at.to_owned()],
                ),
                (
                    "INSERT INTO outbox (id, channel, user_id, body, status, created_at) VALUES (?1, 'zalo', 'u', '{}', ?3, ?2)",
                    vec![format!("o{n}"), at.to_owned(), if n == 1 { "sent" } else { "dead" }.to_owned()],
                ),
                (
                    "INSERT INTO sends (id, channel, user_id, via, sent_at) VALUES (?1, 'telegram', '1', 'telegram', ?2)",
                    vec![format!("s{n}"), at.to_owned()],
                ),
            ] {
                let params: Vec<civic::platform::Value> = params.into_iter().map(Into::into).collect();
                block_on(env.execute(DB, sql, &params)).unwrap();
            }
        }
        block_on(env.execute(
            DB,
            "INSERT INTO outbox (id, channel, user_id, body, status, created_at, next_at)
             VALUES ('waiting', 'telegram', '1', '{}', 'pending', ?1, '2099-01-01T00:00:00Z')",
            &[old.into()],
        ))
        .unwrap();
    }

    fn system_tick(env: &NativePlatform) -> serde_json::Value {
        let system = civic::testing::token(env, &json!({"roles": ["system"]}));
        let (status, body) =
            civic::testing::call(|r| crate::handle(r, env), "POST", "/chat/tick", &[("authorization", &system)], "");
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    fn kept(env: &NativePlatform) -> serde_json::Value {
        let admin = civic::testing::token(env, &json!({"roles": ["admin"]}));
        let (status, body) =
            civic::testing::call(|r| crate::handle(r, env), "GET", "/chat/retention", &[("authorization", &admin)], "");
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    #[test]
    fn the_tick_removes_what_is_past_each_period_and_keeps_the_rest() {
        let stand_in = StandIn::start(Wait::ZERO, |_, _| (200, json!({"ok": true, "result": {}})));
        let env = testkit::env(&stand_in);
        // now 2024-11-05T02:00:00Z: 40 days old, and 12 hours old
        fill(&env, "2024-09-26T02:00:00Z", "2024-11-04T14:00:00Z");
        let before = kept(&env);
        let kinds: Vec<&str> =
            before["kinds"].as_array().unwrap().iter().map(|k| k["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["chat_events", "conversations", "notifications"]);
        for kind in before["kinds"].as_array().unwrap() {
            assert_eq!(kind["oldest"], "2024-09-26T09:00:00+07:00", "{kind}");
            assert_eq!(kind["past_period"], true, "{kind}");
        }
        let done = system_tick(&env);
        assert_eq!(done["chat_events_purged"], 1, "{done}");
        assert_eq!(done["conversations_purged"], 2, "{done}");
        assert_eq!(done["notifications_purged"], 2, "{done}");
        for (table, left) in
            [("chat_events", 1), ("conversations", 1), ("last_choices", 1), ("sends", 1), ("outbox", 2)]
        {
            assert_eq!(count(&env, table), left, "{table}");
        }
        let pending = testkit::rows(&env, "SELECT id FROM outbox WHERE status = 'pending'");
        assert_eq!(pending.len(), 1, "a pending reply stays, however old");
        let after = kept(&env);
        for kind in after["kinds"].as_array().unwrap() {
            assert_eq!(kind["oldest"], "2024-11-04T21:00:00+07:00", "{kind}");
            assert_eq!(kind["past_period"], false, "{kind}");
        }
        // a day and a half later: the conversations (1 day) go, the rest (30 days) stay
        env.set_now(civic::testing::t("2024-11-06T14:00:00Z"));
        let done = system_tick(&env);
        assert_eq!(
            (&done["chat_events_purged"], &done["conversations_purged"], &done["notifications_purged"]),
            (&json!(0), &json!(2), &json!(0)),
            "{done}"
        );
        assert_eq!(kept(&env)["kinds"][1]["oldest"], serde_json::Value::Null);
    }

    #[test]
    fn a_setting_below_the_minimum_is_raised_to_it() {
        let stand_in = StandIn::start(Wait::ZERO, |_, _| (200, json!({})));
        let env = testkit::env(&stand_in)
            .with_config("retention_chat_events", "1h")
            .with_config("retention_notifications", "1h");
        // 36 hours old: within the 2-day minimum
        fill(&env, "2024-11-03T14:00:00Z", "2024-11-05T01:00:00Z");
        let done = system_tick(&env);
        assert_eq!((&done["chat_events_purged"], &done["notifications_purged"]), (&json!(0), &json!(0)), "{done}");
        let shown = kept(&env);
        assert_eq!(shown["kinds"][0]["period_seconds"], 2 * 86_400);
        assert_eq!(shown["kinds"][0]["setting"], "retention_chat_events");
    }

    #[test]
    fn the_route_is_for_admins_only() {
        let env = civic::testing::route_env(&[DB]);
        let call = |auth: &str| {
            civic::testing::call(|r| crate::handle(r, &env), "GET", "/chat/retention", &[("authorization", auth)], "")
        };
        assert_eq!(call("").0, StatusCode::UNAUTHORIZED);
        let system = civic::testing::token(&env, &json!({"roles": ["system"]}));
        assert_eq!(call(&system).0, StatusCode::FORBIDDEN);
        let (status, _) = civic::testing::call(
            |r| crate::handle(r, &env),
            "POST",
            "/chat/retention",
            &[("authorization", &system)],
            "",
        );
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }

    /// Every statement finds its rows through an index, never a scan of the table.
    #[test]
    fn purges_and_oldest_use_the_indexes() {
        let env = civic::testing::route_env(&[DB]);
        let expected = [
            (CHAT_EVENTS.oldest, vec!["chat_events_received"]),
            (CHAT_EVENTS.purge[0], vec!["chat_events_received"]),
            (CONVERSATIONS.oldest, vec!["conversations_updated", "last_choices_at"]),
            (CONVERSATIONS.purge[0], vec!["conversations_updated"]),
            (CONVERSATIONS.purge[1], vec!["last_choices_at"]),
            (NOTIFICATIONS.oldest, vec!["outbox_finished", "sends_sent"]),
            (NOTIFICATIONS.purge[0], vec!["outbox_finished"]),
            (NOTIFICATIONS.purge[1], vec!["sends_sent"]),
        ];
        for (sql, indexes) in expected {
            let params: Vec<civic::platform::Value> =
                if sql.contains("?1") { vec!["2024-01-01T00:00:00Z".into(), 500.into()] } else { vec![] };
            let plan = block_on(env.query(DB, &format!("EXPLAIN QUERY PLAN {sql}"), &params)).unwrap();
            let details: Vec<String> = plan.iter().map(|r| r.str("detail").unwrap_or_default().to_owned()).collect();
            for index in indexes {
                assert!(details.iter().any(|d| d.contains(&format!("INDEX {index}"))), "{sql}: {details:?}");
            }
            // a table is never scanned (the outer query over the UNION's one row may be)
            assert!(!details.iter().any(|d| d.starts_with("SCAN") && !d.contains("subquery")), "{sql}: {details:?}");
        }
    }
}
