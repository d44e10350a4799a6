//! The `permits` database: applying pushes from the one-stop-shop system, reading dossiers.
//!
//! A push is one atomic batch of single statements, so it is safe to repeat and to receive
//! out of order: the dossier row takes a push only if it is at least as new as the newest
//! applied (`status_at`) and changes something; the status event is recorded once, keyed by
//! (code, time, status), whatever order pushes arrive in. A push that creates the dossier or
//! changes its status also writes its `dossier.status_changed` event in the same batch
//! ([`record_push`], [`crate::notify`]); a repeat, an older push or one that changes other
//! fields only writes none.

use chrono::{DateTime, Utc};
use civic::outbox::Guard;
use civic::platform::{DbError, Row, Rows, Statement, Value};
use civic::{Error, Platform};

use crate::dossier::{Code, Status};
use crate::push::{ApplicantKind, Update};

pub const DB: &str = "permits";

use civic::web::stamp;

/// The dossier row of a push: a new row, or the stored one updated where the push changes
/// it, as decided by one of the `WHERE` clauses below.
const UPSERT: &str = "INSERT INTO dossiers
    (code, procedure_code, procedure_name, field, agency, applicant_name, applicant_phone, applicant_kind,
     received_at, due_at, status, status_at, result_at, fee_vnd, updated_at)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
  ON CONFLICT (code) DO UPDATE SET
    procedure_code = excluded.procedure_code, procedure_name = excluded.procedure_name,
    field = excluded.field, agency = excluded.agency, applicant_name = excluded.applicant_name,
    applicant_phone = excluded.applicant_phone, applicant_kind = excluded.applicant_kind,
    received_at = excluded.received_at, due_at = excluded.due_at, status = excluded.status,
    status_at = excluded.status_at, result_at = excluded.result_at, fee_vnd = excluded.fee_vnd,
    updated_at = excluded.updated_at";

/// A push at least as new as the stored state that changes its status: a status change,
/// which writes an event (`changes()` is 1 after it, or after a new row).
const STATUS_CHANGE: &str = "
  WHERE excluded.status_at >= dossiers.status_at AND excluded.status <> dossiers.status
  RETURNING code";

/// A push at least as new as the stored state that changes something else.
const OTHER_CHANGE: &str = "
  WHERE excluded.status_at >= dossiers.status_at
    AND (procedure_code, procedure_name, field, agency, applicant_name, applicant_phone, applicant_kind,
         received_at, due_at, status, status_at, result_at, fee_vnd)
    IS NOT (excluded.procedure_code, excluded.procedure_name, excluded.field, excluded.agency,
         excluded.applicant_name, excluded.applicant_phone, excluded.applicant_kind, excluded.received_at,
         excluded.due_at, excluded.status, excluded.status_at, excluded.result_at, excluded.fee_vnd)
  RETURNING code";

const EVENT: &str = "INSERT INTO dossier_events (code, at, status, agency, note) VALUES (?1, ?2, ?3, ?4, ?5)
  ON CONFLICT (code, at, status) DO NOTHING";

/// What a push did to the stored dossier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new dossier.
    Created,
    /// The dossier took the push.
    Updated,
    /// The same as what is stored: nothing changed.
    Unchanged,
    /// Older than the newest push applied: its status event joined the history, the state
    /// stayed newer.
    Stale,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Stale => "stale",
        }
    }
}

/// What [`record_push`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub outcome: Outcome,
    /// The id of the `dossier.status_changed` event it wrote, when it created the dossier or
    /// changed its status.
    pub event: Option<String>,
}

/// Applies one push from the one-stop-shop system atomically, with its
/// `dossier.status_changed` event when it creates the dossier or changes its status.
///
/// # Errors
/// A database error; nothing is applied then.
pub async fn record_push(env: &impl Platform, code: &Code, u: &Update) -> Result<Applied, Error> {
    let event = crate::notify::status_changed(code, u, env.now());
    let (id, enqueue) = civic::outbox::enqueue(env, &event, Guard::IfChanged)?;
    let (outcome, notified) = apply_with(env, code, u, enqueue).await?;
    Ok(Applied { outcome, event: notified.then_some(id) })
}

/// Applies one push atomically without telling anyone (seeding demo data, imports).
///
/// # Errors
/// A database error; nothing is applied then.
pub async fn apply(env: &impl Platform, code: &Code, u: &Update) -> Result<Outcome, Error> {
    Ok(apply_with(env, code, u, Vec::new()).await?.0)
}

/// One batch: the stored `status_at` before (read inside the batch, so it sees the state the
/// push is applied to), the status change followed by `enqueue` (written only if it changed
/// the row: [`Guard::IfChanged`]), any other change, the history event. Also whether the
/// status changed.
async fn apply_with(
    env: &impl Platform,
    code: &Code,
    u: &Update,
    enqueue: Vec<Statement>,
) -> Result<(Outcome, bool), Error> {
    let row: Vec<Value> = vec![
        code.as_str().into(),
        u.procedure_code.as_str().into(),
        u.procedure_name.as_str().into(),
        u.field.as_str().into(),
        u.agency.as_str().into(),
        u.applicant.name.as_str().into(),
        u.applicant.phone.as_str().into(),
        u.applicant.kind.as_str().into(),
        stamp(u.received_at).into(),
        stamp(u.due_at).into(),
        u.status.code().into(),
        stamp(u.status_at).into(),
        u.result_at.map(stamp).into(),
        u.fee_vnd.into(),
        stamp(env.now()).into(),
    ];
    let mut statements = vec![
        Statement::new("SELECT status_at FROM dossiers WHERE code = ?1", vec![code.as_str().into()]),
        Statement::new(format!("{UPSERT}{STATUS_CHANGE}"), row.clone()),
    ];
    let after_status = statements.len() + enqueue.len();
    statements.extend(enqueue);
    statements.push(Statement::new(format!("{UPSERT}{OTHER_CHANGE}"), row));
    statements.push(Statement::new(
        EVENT,
        vec![
            code.as_str().into(),
            stamp(u.status_at).into(),
            u.status.code().into(),
            u.agency.as_str().into(),
            u.note.clone().into(),
        ],
    ));
    let results = env.batch(DB, &statements).await?;
    let before = results.first().and_then(Rows::first).map(|r| r.str("status_at").map(str::to_owned)).transpose()?;
    let status_changed = results.get(1).is_some_and(|r| !r.is_empty());
    let took = status_changed || results.get(after_status).is_some_and(|r| !r.is_empty());
    let outcome = match before {
        None => Outcome::Created,
        Some(_) if took => Outcome::Updated,
        Some(newest) if newest > stamp(u.status_at) => Outcome::Stale,
        Some(_) => Outcome::Unchanged,
    };
    Ok((outcome, status_changed))
}

/// How many wrong `?phone=` checks a dossier may take per Vietnam day before the check is
/// off for it until the next day.
pub const PHONE_CHECKS_PER_DAY: i64 = 10;

/// The wrong last-4 counts of past days ([`phone_check_failed`]), as a retention kind
/// (setting `retention_phone_checks`, default `2d`): housekeeping rather than personal data
/// (a dossier code, a Vietnam date, a count; no phone number, no caller). A dossier's row of
/// an earlier day is deleted when it is next guessed at; this removes the rows of dossiers
/// that never are, in the tick's one retention batch ([`civic::retention::run`]) rather than
/// a statement of its own. A day's period runs from its start (00:00 Vietnam time); the
/// minimum, one day, keeps today's row, the only one [`phone_check_open`] reads, whatever the
/// setting.
pub const PHONE_CHECKS: civic::retention::Kind = civic::retention::Kind {
    name: "phone_checks",
    purged: "phone_checks_purged",
    default: "2d",
    minimum: "1d",
    holds: "wrong last-4 phone checks per dossier and Vietnam day: a count, no phone number",
    oldest: "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', min(day), '-7 hours') AS oldest FROM phone_checks",
    purge: &["DELETE FROM phone_checks WHERE (code, day) IN
                  (SELECT code, day FROM phone_checks WHERE strftime('%Y-%m-%dT%H:%M:%SZ', day, '-7 hours') < ?1
                   ORDER BY day LIMIT ?2) RETURNING 1"],
};

/// The read of this dossier's wrong last-4 count today (Vietnam time), to send in the batch
/// of its [`reads`] so that a lookup with a guess costs no round trip more; what it returns
/// is read by [`phone_check_open_in`].
pub fn phone_check_read(env: &impl Platform, code: &Code) -> Statement {
    let day = civic::web::vn_today(env.now()).to_string();
    Statement::new(
        "SELECT failures FROM phone_checks WHERE code = ?1 AND day = ?2",
        vec![code.as_str().into(), day.into()],
    )
}

/// Whether the last-4 check is still open, from the rows of [`phone_check_read`].
///
/// # Errors
/// A database error when the stored count is not an integer.
pub fn phone_check_open_in(rows: &Rows) -> Result<bool, Error> {
    Ok(rows.first().map(|r| r.i64("failures")).transpose()?.unwrap_or(0) < PHONE_CHECKS_PER_DAY)
}

/// Whether the last-4 check is still open for this dossier today: [`phone_check_read`] on
/// its own.
///
/// # Errors
/// A database error.
pub async fn phone_check_open(env: &impl Platform, code: &Code) -> Result<bool, Error> {
    let read = phone_check_read(env, code);
    phone_check_open_in(&env.query(DB, &read.sql, &read.params).await?)
}

/// Counts a wrong last-4 check (and forgets other days' counts of this dossier).
pub async fn phone_check_failed(env: &impl Platform, code: &Code) -> Result<(), Error> {
    let day = civic::web::vn_today(env.now()).to_string();
    env.batch(
        DB,
        &[
            Statement::new(
                "DELETE FROM phone_checks WHERE code = ?1 AND day <> ?2",
                vec![code.as_str().into(), day.clone().into()],
            ),
            Statement::new(
                "INSERT INTO phone_checks (code, day, failures) VALUES (?1, ?2, 1)
                 ON CONFLICT (code, day) DO UPDATE SET failures = failures + 1",
                vec![code.as_str().into(), day.into()],
            ),
        ],
    )
    .await?;
    Ok(())
}

/// One status event of a dossier's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub status: Status,
    pub agency: String,
    pub note: Option<String>,
}

/// A stored dossier with its history, oldest event first. Notes belong to events, so
/// `update.note` is always `None` here: read them from `history`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dossier {
    pub code: Code,
    pub update: Update,
    pub history: Vec<Event>,
}

fn time(row: &Row<'_>, col: &str) -> Result<Option<DateTime<Utc>>, DbError> {
    row.opt_str(col)?
        .map(|s| {
            DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|e| DbError(format!("{col}: {e}")))
        })
        .transpose()
}

fn required<T>(v: Option<T>, col: &str) -> Result<T, DbError> {
    v.ok_or_else(|| DbError(format!("{col}: unexpected NULL or value")))
}

/// The reads of one dossier by its (normalised) code, for one batch: its row, then its
/// history oldest first. Parse what they return with [`parse`]; a route that counts the
/// lookup sends them with its count ([`civic::limit::check`]).
pub fn reads(code: &Code) -> Vec<Statement> {
    vec![
        Statement::new("SELECT * FROM dossiers WHERE code = ?1", vec![code.as_str().into()]),
        Statement::new(
            "SELECT at, status, agency, note FROM dossier_events WHERE code = ?1 ORDER BY at, status",
            vec![code.as_str().into()],
        ),
    ]
}

/// The dossier in what [`reads`] returned (the rows of each of its statements, in order);
/// `None` when there is no such dossier.
///
/// # Errors
/// [`Error::Internal`] when fewer results than [`reads`] made come back; a database error
/// when a stored value is not what the schema says.
pub fn parse(code: &Code, results: &[Rows]) -> Result<Option<Dossier>, Error> {
    let [rows, events] = results else {
        return Err(Error::Internal(format!("a dossier's reads returned {} results, not 2", results.len())));
    };
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let kind = ApplicantKind::parse(r.str("applicant_kind")?).unwrap_or(ApplicantKind::Citizen);
    let update = Update {
        procedure_code: r.str("procedure_code")?.to_owned(),
        procedure_name: r.str("procedure_name")?.to_owned(),
        field: r.str("field")?.to_owned(),
        agency: r.str("agency")?.to_owned(),
        applicant: crate::push::Applicant {
            name: r.str("applicant_name")?.to_owned(),
            phone: r.str("applicant_phone")?.to_owned(),
            kind,
        },
        received_at: required(time(&r, "received_at")?, "received_at")?,
        due_at: required(time(&r, "due_at")?, "due_at")?,
        status: required(Status::from_code(r.i64("status")?), "status")?,
        status_at: required(time(&r, "status_at")?, "status_at")?,
        note: None,
        result_at: time(&r, "result_at")?,
        fee_vnd: r.i64("fee_vnd")?,
    };
    let mut history = Vec::with_capacity(events.len());
    for e in events.iter() {
        history.push(Event {
            at: required(time(&e, "at")?, "at")?,
            status: required(Status::from_code(e.i64("status")?), "status")?,
            agency: e.str("agency")?.to_owned(),
            note: e.opt_str("note")?.map(str::to_owned),
        });
    }
    Ok(Some(Dossier { code: code.clone(), update, history }))
}

/// The dossier in what [`reads`] returned, and whether the last-4 check is open today when
/// a [`phone_check_read`] followed them in the same batch (`None` when none did).
///
/// # Errors
/// As [`parse`]'s.
pub fn parse_with_phone_check(code: &Code, results: &[Rows]) -> Result<(Option<Dossier>, Option<bool>), Error> {
    let (reads, check) = results.split_at(results.len().min(2));
    let open = check.first().map(phone_check_open_in).transpose()?;
    Ok((parse(code, reads)?, open))
}

/// A dossier by its (normalised) code, with its history, and when `guess` whether the
/// last-4 check is open today: [`reads`] and [`phone_check_read`] in one batch.
///
/// # Errors
/// A database error.
pub async fn get_with_phone_check(
    env: &impl Platform,
    code: &Code,
    guess: bool,
) -> Result<(Option<Dossier>, Option<bool>), Error> {
    let mut statements = reads(code);
    if guess {
        statements.push(phone_check_read(env, code));
    }
    parse_with_phone_check(code, &env.batch(DB, &statements).await?)
}

/// A dossier by its (normalised) code, with its history: [`reads`] in one batch.
///
/// # Errors
/// A database error.
pub async fn get(env: &impl Platform, code: &Code) -> Result<Option<Dossier>, Error> {
    let results = env.batch(DB, &reads(code)).await?;
    parse(code, &results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use civic::platform::native::{NativePlatform, block_on};
    use serde_json::json;

    fn env() -> NativePlatform {
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        NativePlatform::in_memory_migrated(&[DB], &migrations).unwrap()
    }

    fn push(status: i64, at: &str, note: &str) -> Update {
        crate::push::parse(
            &json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
            "field": "Xây dựng", "agency": "UBND quận Hải Châu",
            "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
            "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
            "status": status, "status_at": at, "note": note, "result_at": null, "fee_vnd": 150000}),
        )
        .unwrap()
    }

    fn updated_at(env: &NativePlatform) -> String {
        let rows = block_on(env.query(DB, "SELECT updated_at FROM dossiers", &[])).unwrap();
        rows.first().unwrap().str("updated_at").unwrap().to_owned()
    }

    #[test]
    fn repeats_are_no_ops_and_older_pushes_do_not_win() {
        let env = env();
        let code = Code::parse("000.00.19.h57-241105-0012").unwrap();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        env.set_now(t("2024-11-06T03:00:00Z"));
        let received = push(2, "2024-11-05T08:30:00+07:00", "Tiếp nhận");
        let processing = push(4, "2024-11-06T09:00:00+07:00", "Chuyển phòng Quản lý đô thị");
        assert_eq!(block_on(apply(&env, &code, &processing)).unwrap(), Outcome::Created);
        let first_write = updated_at(&env);
        // the same push again, later: nothing changes
        env.set_now(t("2024-11-07T03:00:00Z"));
        assert_eq!(block_on(apply(&env, &code, &processing)).unwrap(), Outcome::Unchanged);
        assert_eq!(updated_at(&env), first_write);
        // an older push arrives late: recorded in the history, but the state stays newer
        assert_eq!(block_on(apply(&env, &code, &received)).unwrap(), Outcome::Stale);
        let d = block_on(get(&env, &code)).unwrap().unwrap();
        assert_eq!(d.update.status, Status::Processing);
        let statuses: Vec<Status> = d.history.iter().map(|e| e.status).collect();
        assert_eq!(statuses, [Status::Accepted, Status::Processing]);
        assert_eq!(d.history[1].note.as_deref(), Some("Chuyển phòng Quản lý đô thị"));
        // a newer push wins
        let done = push(9, "2024-11-14T10:00:00+07:00", "Đã ký");
        assert_eq!(block_on(apply(&env, &code, &done)).unwrap(), Outcome::Updated);
        assert_eq!(block_on(get(&env, &code)).unwrap().unwrap().update.status, Status::Processed);
        // codes compare case-insensitively
        let lower = Code::parse("000.00.19.h57-241105-0012").unwrap();
        assert!(block_on(get(&env, &lower)).unwrap().is_some());
        assert!(block_on(get(&env, &Code::parse("000.00.19.H57-241105-0013").unwrap())).unwrap().is_none());
    }

    #[test]
    fn phone_checks_close_for_the_day_after_the_limit() {
        let env = env();
        let code = Code::parse("000.00.19.H57-241105-0012").unwrap();
        let other = Code::parse("000.00.19.H57-241105-0013").unwrap();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        env.set_now(t("2024-11-06T16:00:00Z")); // 23:00 in Vietnam
        for _ in 0..PHONE_CHECKS_PER_DAY {
            assert!(block_on(phone_check_open(&env, &code)).unwrap());
            block_on(phone_check_failed(&env, &code)).unwrap();
        }
        assert!(!block_on(phone_check_open(&env, &code)).unwrap());
        assert!(block_on(phone_check_open(&env, &other)).unwrap(), "counted per dossier");
        env.set_now(t("2024-11-06T17:00:00Z")); // midnight in Vietnam: a new day
        assert!(block_on(phone_check_open(&env, &code)).unwrap());
        block_on(phone_check_failed(&env, &code)).unwrap();
        let rows = block_on(env.query(DB, "SELECT day, failures FROM phone_checks", &[])).unwrap();
        assert_eq!(rows.len(), 1, "yesterday's count is gone");
    }
}
