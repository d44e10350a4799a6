//! The scheduled work of report-submission ([`tick`]): warn each agency of its open reports
//! past their due time (`report.overdue`, [`crate::notify::overdue`]), then deliver what the
//! outbox holds ([`civic::outbox::deliver()`]).
//!
//! A report is warned once: the warning is claimed by one conditional statement
//! (`UPDATE reports SET overdue_at = ? WHERE code = ? AND overdue_at IS NULL AND <still as
//! read>`) followed in the same batch by the event's statements
//! ([`Guard::IfChanged`]), so ticks that overlap or repeat write one event per report. A
//! reassignment clears `overdue_at`: the new agency is warned in its turn. A tick warns at
//! most [`MAX_PER_TICK`] reports, oldest due first; the next takes the rest.

use civic::outbox::{Guard, Tick};
use civic::platform::Statement;
use civic::{Error, Platform};

use crate::status::Status;
use crate::store::{DB, stamp};

/// The most reports one tick warns.
pub const MAX_PER_TICK: i64 = 200;

/// The reports one batch warns (each is three statements).
pub const PER_BATCH: usize = 20;

/// Run by `POST /reports/tick` (role `system`, [`civic::outbox::tick_route`]) on Spin and by
/// the Workers cron trigger: warns the overdue reports, then delivers every due event.
/// Counts: the deliveries' outcomes, and `reports_overdue`, the reports warned now.
///
/// # Errors
/// A database error; a delivery setting that does not parse ([`Error::Config`]).
pub async fn tick(env: &impl Platform) -> Result<Tick, Error> {
    let warned = warn(env).await?;
    let mut tick = civic::outbox::deliver(env, DB).await?;
    tick.work.insert("reports_overdue", warned);
    tick.work.extend(civic::retention::run(env, DB, &crate::retention::KINDS).await?);
    Ok(tick)
}

/// An open report past its due time, not warned yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overdue {
    pub code: String,
    pub category: String,
    pub agency: String,
    pub status: Status,
    /// Stored UTC RFC 3339.
    pub due_at: String,
}

/// Warns the overdue reports ([`candidates`], [`claim`]); how many were warned now.
///
/// # Errors
/// A database error.
pub async fn warn(env: &impl Platform) -> Result<u64, Error> {
    let found = candidates(env).await?;
    claim(env, &found).await
}

/// Up to [`MAX_PER_TICK`] open reports whose due time has passed and that were not warned,
/// oldest due first. One indexed scan (`reports_overdue_due`, a partial index whose
/// `WHERE` these terms repeat).
///
/// # Errors
/// A database error, or a stored status that is not one.
pub async fn candidates(env: &impl Platform) -> Result<Vec<Overdue>, Error> {
    let rows = env
        .query(
            DB,
            "SELECT code, category, agency, status, due_at FROM reports
             WHERE overdue_at IS NULL AND status IN ('received', 'in_progress') AND due_at <= ?1
             ORDER BY due_at LIMIT ?2",
            &[stamp(env.now()).into(), MAX_PER_TICK.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Overdue {
                code: r.str("code")?.to_owned(),
                category: r.str("category")?.to_owned(),
                agency: r.str("agency")?.to_owned(),
                status: Status::stored(r.str("status")?)?,
                due_at: r.str("due_at")?.to_owned(),
            })
        })
        .collect()
}

/// Warns `found`, [`PER_BATCH`] reports a batch: per report, the conditional claim (still
/// not warned, still in the status and agency read) and right after it the event's
/// statements, kept only if the claim changed the report. Returns how many it claimed; a
/// report another tick claimed first, or that moved meanwhile, is not counted and gets no
/// event.
///
/// # Errors
/// A database error.
pub async fn claim(env: &impl Platform, found: &[Overdue]) -> Result<u64, Error> {
    let now = stamp(env.now());
    let mut warned = 0u64;
    for chunk in found.chunks(PER_BATCH) {
        let mut batch = Vec::new();
        let mut claims = Vec::with_capacity(chunk.len());
        for o in chunk {
            claims.push(batch.len());
            batch.push(Statement::new(
                "UPDATE reports SET overdue_at = ?1
                 WHERE code = ?2 AND overdue_at IS NULL AND status = ?3 AND agency = ?4 RETURNING code",
                vec![now.as_str().into(), o.code.as_str().into(), o.status.as_str().into(), o.agency.as_str().into()],
            ));
            let event = crate::notify::overdue(&o.code, &o.category, &o.agency, o.status, &o.due_at);
            batch.extend(civic::outbox::enqueue(env, &event, Guard::IfChanged)?.1);
        }
        let results = env.batch(DB, &batch).await?;
        warned += claims.iter().filter(|&&i| results.get(i).is_some_and(|rows| !rows.is_empty())).count() as u64;
    }
    Ok(warned)
}
