//! Chat's scheduled work: delivering the replies waiting in its own `outbox` (replies that
//! could not be sent while a webhook was answered, [`crate::store::to_outbox`]), then
//! removing what is past its retention period ([`crate::retention`]).
//!
//! Run by `POST /chat/tick` (bearer JWT with role `system`, [`civic::outbox::tick_route`])
//! and by the Workers cron trigger. Each run:
//!
//! 1. **Claims** up to [`BATCH`] due replies (`status = 'pending'` and `next_at` unset or
//!    past), oldest first, in ONE conditional statement that moves their `next_at` to a
//!    lease [`LEASE_SECONDS`] ahead and counts the attempt: a tick that overlaps or repeats
//!    finds them not due, so no reply is sent twice by two ticks. A tick that dies midway
//!    leaves its claims to lapse; the next tick after the lease tries them again.
//! 2. **Sends** each with the existing code: Zalo `message/cs` ([`crate::zalo::send_cs`]),
//!    Telegram `sendMessage` ([`crate::telegram::send_text`]). Replies still unsent when
//!    the lease is nearly over ([`LEASE_MARGIN_SECONDS`]) are given back, not sent.
//! 3. **Settles**: sent → `status = 'sent'` (`delivered`); a failure that retrying cannot
//!    mend (Telegram `403`, "chat not found", Zalo's out-of-window errors, a body that is
//!    not a reply) → `status = 'dead'` (`undeliverable`); any other failure waits
//!    [`BACKOFF_SECONDS`] (by the attempt that failed, plus up to 10 % jitter) and is
//!    retried (`retried`), and once the last wait is used up → `status = 'dead'` (`dead`).
//!    `last_error` keeps why.
//!
//! 4. **Retention**: one batch ([`civic::retention::run`]) removes, at most
//!    [`civic::retention::BATCH`] rows a statement, the events, conversation state and
//!    finished notifications past their periods, and the rate-limit windows that have
//!    ended; the counts join the answer's work (`chat_events_purged`,
//!    `conversations_purged`, `notifications_purged`).
//!
//! The webhook's own try is attempt 1 (the row is written with `attempts = 1` and due
//! [`BACKOFF_SECONDS`]`[0]` later); the tick makes attempts 2 to 7, about 31.5 hours in all.

use chrono::{DateTime, Duration, Utc};
use civic::command::Reply;
use civic::outbox::Tick;
use civic::web::stamp;
use civic::{Error, Platform};

use crate::send::{CS_OUT_OF_WINDOW, Failed};
use crate::store::DB;

/// The most replies one tick claims.
pub const BATCH: i64 = 50;

/// How long a claim holds (seconds): longer than a batch of sends takes.
pub const LEASE_SECONDS: i64 = 600;

/// A claimed reply is not started when less than this is left of the lease (seconds): a
/// send may take up to the platform's fetch timeout.
pub const LEASE_MARGIN_SECONDS: i64 = 60;

/// The wait after each failed attempt, by attempt (seconds): 30 s, 2 min, 10 min, 1 h, 6 h,
/// 24 h. The attempt after the last wait is the last one.
pub const BACKOFF_SECONDS: [i64; 6] = [30, 120, 600, 3_600, 21_600, 86_400];

/// A claimed outbox row.
#[derive(Clone, Debug, PartialEq)]
struct Claimed {
    id: String,
    channel: String,
    user: String,
    body: String,
    /// Attempts so far, this one included.
    attempts: i64,
    created_at: String,
}

/// Delivers the due replies of the outbox, then removes what is past its retention period;
/// what became of them, and how many rows of each kind were removed.
pub async fn tick(env: &impl Platform) -> Result<Tick, Error> {
    let now = env.now();
    let lease = now + Duration::seconds(LEASE_SECONDS);
    let claimed = claim(env, now, lease).await?;
    let mut out = Tick::default();
    for row in &claimed {
        if env.now() + Duration::seconds(LEASE_MARGIN_SECONDS) >= lease {
            give_back(env, row, lease).await?;
            continue;
        }
        let outcome = deliver(env, row).await;
        settle(env, row, lease, outcome, &mut out).await?;
    }
    out.work.extend(civic::retention::run(env, DB, crate::retention::KINDS).await?);
    Ok(out)
}

/// The one conditional statement that claims due rows (see the module header).
async fn claim(env: &impl Platform, now: DateTime<Utc>, lease: DateTime<Utc>) -> Result<Vec<Claimed>, Error> {
    let rows = env
        .query(
            DB,
            "UPDATE outbox SET next_at = ?2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM outbox
                          WHERE status = 'pending' AND (next_at IS NULL OR next_at <= ?1)
                          ORDER BY created_at, id LIMIT ?3)
               AND status = 'pending' AND (next_at IS NULL OR next_at <= ?1)
             RETURNING id, channel, user_id, body, attempts, created_at",
            &[stamp(now).into(), stamp(lease).into(), BATCH.into()],
        )
        .await?;
    let mut claimed = rows
        .iter()
        .map(|r| {
            Ok(Claimed {
                id: r.str("id")?.to_owned(),
                channel: r.str("channel")?.to_owned(),
                user: r.str("user_id")?.to_owned(),
                body: r.str("body")?.to_owned(),
                attempts: r.i64("attempts")?,
                created_at: r.str("created_at")?.to_owned(),
            })
        })
        .collect::<Result<Vec<_>, civic::platform::DbError>>()?;
    claimed.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    Ok(claimed)
}

/// Gives an unstarted claim back: due now, the attempt not counted.
async fn give_back(env: &impl Platform, row: &Claimed, lease: DateTime<Utc>) -> Result<(), Error> {
    env.execute(
        DB,
        "UPDATE outbox SET next_at = ?3, attempts = attempts - 1 WHERE id = ?1 AND status = 'pending' AND next_at = ?2",
        &[row.id.as_str().into(), stamp(lease).into(), stamp(env.now()).into()],
    )
    .await?;
    Ok(())
}

/// Sends one reply.
async fn deliver(env: &impl Platform, row: &Claimed) -> Result<(), Failed> {
    let reply: Reply = serde_json::from_str(&row.body)
        .map_err(|e| Failed::cannot("body", format!("Không đọc được câu trả lời: {e}"), format!("not a reply: {e}")))?;
    match row.channel.as_str() {
        "telegram" => crate::telegram::send_text(env, &row.user, &reply).await.map(drop),
        "zalo" => match crate::zalo::send_cs(env, &row.user, &reply).await? {
            Ok(_) => Ok(()),
            Err(code) if CS_OUT_OF_WINDOW.contains(&code) => Err(Failed::cannot(
                "user",
                format!("Ngoài thời gian Zalo cho phép trả lời (lỗi {code})"),
                format!("out of Zalo's reply window (error {code})"),
            )),
            Err(code) => Err(Failed::Retry(Error::Upstream(format!("Zalo refused the message: error {code}")))),
        },
        other => Err(Failed::cannot("channel", format!("Kênh lạ: {other}"), format!("unknown channel: {other}"))),
    }
}

/// The wait after failed attempt `attempts` (1-based), with up to 10 % jitter; `None` after
/// the last.
fn backoff(env: &impl Platform, attempts: i64) -> Option<Duration> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let base = *BACKOFF_SECONDS.get(index)?;
    let mut raw = [0u8; 2];
    env.random_bytes(&mut raw);
    let jitter = base * i64::from(u16::from_le_bytes(raw)) / (10 * i64::from(u16::MAX));
    Some(Duration::seconds(base + jitter))
}

/// Records what became of an attempt and counts it.
async fn settle(
    env: &impl Platform,
    row: &Claimed,
    lease: DateTime<Utc>,
    outcome: Result<(), Failed>,
    out: &mut Tick,
) -> Result<(), Error> {
    let now = env.now();
    let (sql, params): (&str, Vec<civic::platform::Value>) = match outcome {
        Ok(()) => {
            out.delivered += 1;
            (
                "UPDATE outbox SET status = 'sent', next_at = NULL, last_error = NULL WHERE id = ?1 AND status = 'pending'",
                vec![row.id.as_str().into()],
            )
        }
        Err(failed) => {
            let (why, next) = match failed {
                Failed::Final(f) => {
                    out.undeliverable += 1;
                    (format!("{}: {}", f.field, f.message.en), None)
                }
                Failed::Retry(e) => {
                    let next = backoff(env, row.attempts);
                    if next.is_some() {
                        out.retried += 1
                    } else {
                        out.dead += 1
                    }
                    (e.to_string(), next)
                }
            };
            match next {
                Some(wait) => (
                    "UPDATE outbox SET next_at = ?3, last_error = ?4 WHERE id = ?1 AND status = 'pending' AND next_at = ?2",
                    vec![row.id.as_str().into(), stamp(lease).into(), stamp(now + wait).into(), why.into()],
                ),
                None => (
                    "UPDATE outbox SET status = 'dead', next_at = NULL, last_error = ?3
                     WHERE id = ?1 AND status = 'pending' AND next_at = ?2",
                    vec![row.id.as_str().into(), stamp(lease).into(), why.into()],
                ),
            }
        }
    };
    if let Err(e) = env.execute(DB, sql, &params).await {
        civic::log::error(&format!("chat: outbox {} attempt {} not recorded: {e}", row.id, row.attempts));
        return Err(e.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration as Wait;

    use civic::command::{Channel, Choice};
    use civic::platform::Value as Db;
    use civic::platform::native::{NativePlatform, block_on};
    use http::StatusCode;
    use serde_json::json;

    use super::*;
    use crate::store::{self, Sender};
    use crate::testkit::{self, StandIn};

    fn queue(env: &NativePlatform, channel: Channel, user: &str, reply: &Reply) -> String {
        block_on(store::to_outbox(env, Sender { channel, user }, reply, "webhook send failed")).unwrap()
    }

    fn state(env: &NativePlatform, id: &str) -> (String, i64, Option<String>) {
        let rows = block_on(env.query(DB, "SELECT status, attempts, next_at FROM outbox WHERE id = ?1", &[id.into()]));
        let rows = rows.unwrap();
        let r = rows.first().unwrap();
        (
            r.str("status").unwrap().to_owned(),
            r.i64("attempts").unwrap(),
            r.opt_str("next_at").unwrap().map(str::to_owned),
        )
    }

    /// A tick's answer without the retention counts that are zero.
    fn ticked(env: &NativePlatform) -> Tick {
        let mut done = block_on(tick(env)).unwrap();
        done.work.retain(|_, n| *n != 0);
        done
    }

    fn at(env: &NativePlatform, when: &str) {
        env.set_now(civic::web::parse_stamp(when).unwrap());
    }

    #[test]
    fn overlapping_ticks_send_each_reply_once() {
        let stand_in =
            StandIn::start(Wait::from_millis(50), |_, _| (200, json!({"ok": true, "result": {"message_id": 1}})));
        let env = testkit::env(&stand_in);
        let ids: Vec<String> = (1..=5)
            .map(|n| queue(&env, Channel::Telegram, &n.to_string(), &Reply::text(format!("Trả lời {n}"))))
            .collect();
        assert_eq!(ticked(&env), Tick::default(), "not due before 30 s");
        at(&env, "2024-11-05T02:00:30Z");
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| block_on(tick(&env)).unwrap());
            let b = s.spawn(|| block_on(tick(&env)).unwrap());
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!(a.delivered + b.delivered, 5, "{a:?} {b:?}");
        assert_eq!(ticked(&env), Tick::default(), "a tick after them finds nothing due");
        let calls = stand_in.calls_to("/sendMessage");
        let mut chats: Vec<i64> = calls.iter().map(|c| c.body["chat_id"].as_i64().unwrap()).collect();
        chats.sort_unstable();
        assert_eq!(chats, [1, 2, 3, 4, 5], "each reply exactly once");
        for id in &ids {
            assert_eq!(state(&env, id), ("sent".to_owned(), 2, None));
        }
    }

    #[test]
    fn failures_back_off_then_die() {
        let stand_in =
            StandIn::start(Wait::ZERO, |_, _| (500, json!({"ok": false, "description": "Internal Server Error"})));
        let env = testkit::env(&stand_in);
        let id = queue(&env, Channel::Telegram, "42", &Reply::text("x"));
        assert_eq!(state(&env, &id), ("pending".to_owned(), 1, Some("2024-11-05T02:00:30Z".to_owned())));
        for (attempt, wait) in (2..).zip(BACKOFF_SECONDS.iter().skip(1)) {
            let (_, _, next) = state(&env, &id);
            let due = next.unwrap();
            at(&env, &due);
            let done = ticked(&env);
            assert_eq!(done, Tick { retried: 1, ..Tick::default() }, "attempt {attempt}");
            let (status, attempts, next) = state(&env, &id);
            assert_eq!((status.as_str(), attempts), ("pending", attempt));
            let waited = civic::web::parse_stamp(&next.unwrap()).unwrap() - civic::web::parse_stamp(&due).unwrap();
            assert!((*wait..=wait + wait / 10).contains(&waited.num_seconds()), "attempt {attempt}: {waited}");
        }
        let (_, _, next) = state(&env, &id);
        at(&env, &next.unwrap());
        assert_eq!(ticked(&env), Tick { dead: 1, ..Tick::default() });
        assert_eq!(state(&env, &id), ("dead".to_owned(), 7, None));
        let why = testkit::rows(&env, "SELECT last_error FROM outbox");
        assert!(matches!(&why[0][0], Db::Text(t) if t.contains("500")), "{why:?}");
        at(&env, "2024-11-30T00:00:00Z");
        assert_eq!(ticked(&env), Tick::default());
        assert_eq!(stand_in.calls_to("/sendMessage").len(), 6, "attempts 2 to 7");
    }

    #[test]
    fn a_blocked_user_is_undeliverable_at_once() {
        let stand_in = StandIn::start(Wait::ZERO, |_, _| {
            (403, json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}))
        });
        let env = testkit::env(&stand_in);
        let id = queue(&env, Channel::Telegram, "42", &Reply::text("x"));
        at(&env, "2024-11-05T02:01:00Z");
        assert_eq!(ticked(&env), Tick { undeliverable: 1, ..Tick::default() });
        assert_eq!(state(&env, &id), ("dead".to_owned(), 2, None));
    }

    #[test]
    fn zalo_replies_go_as_consulting_messages_with_their_buttons() {
        let stand_in = StandIn::start(Wait::ZERO, |_, _| {
            (200, json!({"error": 0, "message": "Success", "data": {"message_id": "m"}}))
        });
        let env = testkit::env(&stand_in);
        let reply = Reply::text("Chọn").with_choices(vec![Choice::new("Phở", "ATTP #DN-1")]);
        let id = queue(&env, Channel::Zalo, "z9", &reply);
        at(&env, "2024-11-05T02:01:00Z");
        assert_eq!(ticked(&env), Tick { delivered: 1, ..Tick::default() });
        let cs = stand_in.calls_to("/v3.0/oa/message/cs");
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].body, crate::zalo::message("z9", &reply));
        assert_eq!(state(&env, &id).0, "sent");
    }

    #[test]
    fn an_unstarted_claim_is_given_back() {
        let stand_in = StandIn::start(Wait::ZERO, |_, _| (200, json!({})));
        let env = testkit::env(&stand_in);
        let id = queue(&env, Channel::Telegram, "42", &Reply::text("x"));
        let now = civic::testing::t("2024-11-05T02:01:00Z");
        env.set_now(now);
        let lease = now + Duration::seconds(LEASE_SECONDS);
        let claimed = block_on(claim(&env, now, lease)).unwrap();
        assert_eq!(claimed.len(), 1);
        assert!(block_on(claim(&env, now, lease)).unwrap().is_empty(), "claimed once");
        block_on(give_back(&env, &claimed[0], lease)).unwrap();
        assert_eq!(state(&env, &id), ("pending".to_owned(), 1, Some("2024-11-05T02:01:00Z".to_owned())));
    }

    #[test]
    fn the_tick_route_wants_the_system_role() {
        let stand_in = StandIn::start(Wait::ZERO, |_, _| (200, json!({"ok": true, "result": {}})));
        let env = testkit::env(&stand_in);
        let call = |auth: &str| {
            civic::testing::call(|r| crate::handle(r, &env), "POST", "/chat/tick", &[("authorization", auth)], "")
        };
        assert_eq!(call("").0, StatusCode::UNAUTHORIZED);
        let officer = civic::testing::token(&env, &json!({"roles": ["officer"]}));
        assert_eq!(call(&officer).0, StatusCode::FORBIDDEN);
        let system = civic::testing::token(&env, &json!({"roles": ["system"]}));
        let (status, body) = call(&system);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"delivered": 0, "retried": 0, "dead": 0, "undeliverable": 0,
                   "chat_events_purged": 0, "conversations_purged": 0, "notifications_purged": 0})
        );
    }
}
