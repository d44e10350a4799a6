//! Personal data kept only as long as its purpose needs (Decree 13/2023/ND-CP on personal
//! data protection): each function names the [`Kind`]s of personal data its database holds,
//! each with a retention period (setting `retention_<kind>`, a [`humantime`] duration such as
//! `30d`; the README's retention table gives the defaults and their reasons), and its tick
//! ([`run`]) removes or pseudonymises what is past its period, at most [`BATCH`] rows of each
//! statement per run, in one batch (one round trip). `GET <prefix>/retention` ([`route`],
//! role `admin`) shows the oldest item of each kind still kept.
//!
//! A kind's statements only ever touch rows that nothing still needs: each kind's doc says
//! what keeps the counts, the reconciliation and the exactly-once guarantees correct.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, Response, StatusCode};
use serde::Serialize;

use crate::auth::Role;
use crate::error::Error;
use crate::platform::{Platform, Statement};

/// The most rows one statement of a kind removes or changes in one run; a backlog (the
/// first run on an old database) is worked off over the next ticks, a minute apart.
pub const BATCH: i64 = 500;

/// One kind of personal data in a database.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// `sms_messages`; the setting is `retention_<name>`.
    pub name: &'static str,
    /// The key of its count in the tick's answer (`sms_messages_purged`).
    pub purged: &'static str,
    /// The period when the setting is unset ([`humantime`]: `30d`).
    pub default: &'static str,
    /// The shortest period the kind allows (a setting below it is raised to it): what its
    /// guarantees need (`2d` for a chat platform's 48-hour window).
    pub minimum: &'static str,
    /// What it holds, for the admin route (English).
    pub holds: &'static str,
    /// One row, column `oldest`: the time (UTC RFC 3339) of the oldest item still kept
    /// (its period runs from then), `NULL` for none.
    pub oldest: &'static str,
    /// The statements that remove or pseudonymise what is past the period: `?1` is the
    /// cutoff (UTC RFC 3339, items older than it go), `?2` at most how many rows; each
    /// returns one row per row it touched (`RETURNING 1`).
    pub purge: &'static [&'static str],
}

impl Kind {
    /// The setting's name: `retention_<name>`.
    pub fn setting(&self) -> String {
        format!("retention_{}", self.name)
    }

    /// The period in force: the setting (else the default), raised to the minimum.
    /// [`Error::Config`] when the setting is not a duration.
    pub fn period(&self, env: &impl Platform) -> Result<Duration, Error> {
        let text = env.config(&self.setting()).unwrap_or_else(|| self.default.to_owned());
        let period = humantime::parse_duration(text.trim()).map_err(|e| {
            crate::log::error(&format!("{} = {text:?} is not a duration (30d, 12h): {e}", self.setting()));
            Error::Config("retention_*")
        })?;
        let minimum = humantime::parse_duration(self.minimum).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(period.max(minimum))
    }

    fn cutoff(&self, env: &impl Platform, now: DateTime<Utc>) -> Result<String, Error> {
        let period = chrono::Duration::from_std(self.period(env)?).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(crate::web::stamp(now.checked_sub_signed(period).unwrap_or(DateTime::<Utc>::MIN_UTC)))
    }
}

/// The messages the SMS gateway sent ([`crate::sms`]: sender's number, text, our reply), in
/// every database with an SMS keyword. Exactly once: the gateway redelivers a message within
/// minutes, never a month later, so a message id forgotten after the period is never seen again.
pub const SMS_MESSAGES: Kind = Kind {
    name: "sms_messages",
    purged: "sms_messages_purged",
    default: "30d",
    minimum: "1d",
    holds: "SMS received: sender's phone number, text and the reply sent",
    oldest: "SELECT min(received_at) AS oldest FROM sms_messages",
    purge: &["DELETE FROM sms_messages WHERE id IN
                  (SELECT id FROM sms_messages WHERE received_at < ?1 ORDER BY received_at LIMIT ?2) RETURNING 1"],
};

/// The notification log ([`crate::outbox`]): finished deliveries (delivered, dead,
/// undeliverable, cancelled: the citizen's number or chat id and the message) and then the
/// events no delivery refers to any more. A pending delivery is never touched, so nothing
/// waiting is lost; a finished one is never attempted again, so forgetting it sends nothing
/// twice (partners deduplicate by `webhook-id` on their side). A dead delivery can be
/// retried by hand until the period ends.
pub const NOTIFICATIONS: Kind = Kind {
    name: "notifications",
    purged: "notifications_purged",
    default: "30d",
    minimum: "1d",
    holds: "finished notification deliveries (recipient phone or chat id, message) and their events",
    oldest: "SELECT min(updated_at) AS oldest FROM outbox_deliveries WHERE state <> 'pending'",
    purge: &[
        "DELETE FROM outbox_deliveries WHERE seq IN
             (SELECT seq FROM outbox_deliveries WHERE state <> 'pending' AND updated_at < ?1
              ORDER BY updated_at LIMIT ?2) RETURNING 1",
        "DELETE FROM outbox_events WHERE id IN
             (SELECT e.id FROM outbox_events e WHERE e.created_at < ?1
                 AND NOT EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.event_id = e.id)
              LIMIT ?2) RETURNING 1",
    ],
};

/// One run over `kinds` at `env.now()`, and the rate-limit windows that have ended
/// ([`crate::limit::sweep`]), in one batch: what each kind removed or changed, by its
/// [`Kind::purged`] key.
pub async fn run(
    env: &impl Platform,
    db: &str,
    kinds: &[Kind],
) -> Result<std::collections::BTreeMap<&'static str, u64>, Error> {
    let now = env.now();
    let mut statements = vec![crate::limit::sweep(now, BATCH)];
    let mut owners = vec![None];
    for kind in kinds {
        let cutoff = kind.cutoff(env, now)?;
        for sql in kind.purge {
            statements.push(Statement::new(*sql, vec![cutoff.as_str().into(), BATCH.into()]));
            owners.push(Some(kind.purged));
        }
    }
    let results = env.batch(db, &statements).await?;
    let mut done: std::collections::BTreeMap<&'static str, u64> = kinds.iter().map(|k| (k.purged, 0)).collect();
    for (owner, rows) in owners.into_iter().zip(&results) {
        if let Some(key) = owner {
            *done.entry(key).or_default() += u64::try_from(rows.len()).unwrap_or(u64::MAX);
        }
    }
    Ok(done)
}

/// One kind as the admin route shows it.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Kept {
    /// The kind's name (`sms_messages`).
    pub kind: &'static str,
    pub holds: &'static str,
    /// The setting that changes the period (`retention_sms_messages`).
    pub setting: String,
    /// The period in force, in seconds.
    pub period_seconds: u64,
    /// The oldest item still kept, in Vietnam time (RFC 3339, `+07:00`); `null` for none.
    pub oldest: Option<String>,
    /// Whether that item is past the period (the next ticks remove it).
    pub past_period: bool,
}

/// What `db` keeps of each kind: one batch of the kinds' `oldest` queries.
pub async fn kept(env: &impl Platform, db: &str, kinds: &[Kind]) -> Result<Vec<Kept>, Error> {
    let statements: Vec<Statement> = kinds.iter().map(|k| Statement::new(k.oldest, vec![])).collect();
    let results = env.batch(db, &statements).await?;
    let now = env.now();
    let mut out = Vec::with_capacity(kinds.len());
    for (kind, rows) in kinds.iter().zip(&results) {
        let oldest = rows.first().map(|r| r.opt_str("oldest")).transpose()?.flatten();
        let cutoff = kind.cutoff(env, now)?;
        out.push(Kept {
            kind: kind.name,
            holds: kind.holds,
            setting: kind.setting(),
            period_seconds: kind.period(env)?.as_secs(),
            past_period: oldest.is_some_and(|t| t < cutoff.as_str()),
            oldest: oldest.map(crate::web::vn_time),
        });
    }
    Ok(out)
}

/// `GET <prefix>/retention`: role `admin` (401/403 otherwise); `200 {"kinds": [`[`Kept`]`]}`.
pub async fn route(
    req: &Request<Bytes>,
    env: &impl Platform,
    db: &str,
    kinds: &[Kind],
) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::Admin)?;
    crate::web::json(StatusCode::OK, &serde_json::json!({"kinds": kept(env, db, kinds).await?}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::native::{NativePlatform, block_on};

    fn env() -> NativePlatform {
        let env = NativePlatform::in_memory(&["db"]);
        for sql in [
            "CREATE TABLE sms_messages (id TEXT PRIMARY KEY, sender TEXT NOT NULL, recipient TEXT NOT NULL,
                 text TEXT NOT NULL, received_at TEXT NOT NULL, reply TEXT) STRICT",
            crate::limit::SCHEMA.split(';').next().unwrap_or_default(),
        ] {
            block_on(env.execute("db", sql, &[])).unwrap();
        }
        for (id, at) in
            [("a", "2026-01-01T00:00:00.000Z"), ("b", "2026-01-20T00:00:00.000Z"), ("c", "2026-02-05T00:00:00.000Z")]
        {
            let sql = "INSERT INTO sms_messages VALUES (?1, '84905123456', '8188', 'HS 1', ?2, 'ok')";
            block_on(env.execute("db", sql, &[id.into(), at.into()])).unwrap();
        }
        env
    }

    #[test]
    fn periods_come_from_settings_and_respect_the_minimum() {
        let env = NativePlatform::in_memory(&[]);
        assert_eq!(SMS_MESSAGES.period(&env).unwrap(), Duration::from_secs(30 * 86_400));
        let env = env.with_config("retention_sms_messages", "1h");
        assert_eq!(SMS_MESSAGES.period(&env).unwrap(), Duration::from_secs(86_400), "raised to the minimum");
        let env = NativePlatform::in_memory(&[]).with_config("retention_sms_messages", "a while");
        assert!(matches!(SMS_MESSAGES.period(&env), Err(Error::Config(_))));
    }

    #[test]
    fn what_is_past_its_period_goes_in_bounded_runs() {
        let env = env();
        env.set_now("2026-02-10T00:00:00Z".parse().unwrap());
        let kept_before = block_on(kept(&env, "db", &[SMS_MESSAGES])).unwrap();
        assert_eq!(kept_before[0].oldest.as_deref(), Some("2026-01-01T07:00:00+07:00"));
        assert!(kept_before[0].past_period);
        let done = block_on(run(&env, "db", &[SMS_MESSAGES])).unwrap();
        assert_eq!(done["sms_messages_purged"], 1, "only a is older than 30 days");
        let after = block_on(kept(&env, "db", &[SMS_MESSAGES])).unwrap();
        assert_eq!(after[0].oldest.as_deref(), Some("2026-01-20T07:00:00+07:00"));
        assert!(!after[0].past_period);
        env.set_now("2026-04-01T00:00:00Z".parse().unwrap());
        assert_eq!(block_on(run(&env, "db", &[SMS_MESSAGES])).unwrap()["sms_messages_purged"], 2);
        assert_eq!(block_on(kept(&env, "db", &[SMS_MESSAGES])).unwrap()[0].oldest, None);
    }

    #[test]
    fn the_route_is_for_admins() {
        let env = env();
        let req = Request::get("/x/retention").body(Bytes::new()).unwrap();
        assert!(matches!(
            block_on(route(&req, &env, "db", &[SMS_MESSAGES])),
            Err(Error::Unauthorized | Error::Config(_))
        ));
    }
}
