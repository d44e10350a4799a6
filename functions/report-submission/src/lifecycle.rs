//! What happens to a report after it is filed.
//!
//! `PATCH /reports/{code}` by an `officer` whose `agency` claim is the report's agency, body
//! one of:
//! - `{"status": "in_progress" | "resolved", "note"?, "media_url"?}`,
//! - `{"status": "rejected", "note": "<the reason>"}`,
//! - `{"agency": "<another agency's code>", "note"?}` (reassigned: the other agency answers it).
//!
//! `received -> in_progress -> resolved`, or `rejected` from either open status; `resolved`
//! and `rejected` are final (409). Every change is one atomic batch ([`Move`]): a conditional
//! update of the report (it must still be in the state the officer saw), its history event,
//! and its `report.status_changed` event with the message to its reporter
//! ([`crate::notify`]), written only if the update was; the answer is marked for delivery
//! right after it ([`civic::outbox::soon`]). Open311 `servicerequestupdates` moves reports
//! through the same [`move_to`].
//!
//! `POST /reports/{code}/rating` by the reporter (their JWT: the same `sub`, or the `phone`
//! they filed with), once the report is resolved, once: `{"stars": 1-5, "comment"?}`. The
//! same rating by message, `DG <mã phản ánh> <1-5>`, is [`crate::command`]'s; both write
//! it with [`record_rating`].

use bytes::Bytes;
use civic::auth::Role;
use civic::outbox::Guard;
use civic::platform::{Statement, Value as Sql};
use civic::validate::Fields;
use civic::{Error, FieldError, Lang, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde_json::Value;

use crate::notify::Moved;
use crate::report::{MAX_URL, https_url};
use crate::status::{Status, Step};
use crate::store::{self, DB, Report, stamp};

const MAX_BODY: usize = 8 * 1024;
/// The longest officer's note, in characters.
pub const MAX_NOTE: usize = 2_000;
/// The longest `status` text worth reading (the longest status, `in_progress`, has 11).
const MAX_STATUS: usize = 16;
/// The longest rating comment, in characters.
pub const MAX_COMMENT: usize = 1_000;
/// The stars of a rating, fewest to most.
pub const STARS: (i64, i64) = (1, 5);

/// One change an officer asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Status { to: Status, note: Option<String>, media_url: Option<String> },
    Reassign { agency: String, note: Option<String> },
}

/// Validates a change, naming every bad field.
pub fn parse(body: &Value) -> Result<Change, Error> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut f = Fields::new(String::new(), &mut errors);
    let Some(obj) = f.object("", body, &["status", "note", "media_url", "agency"]) else {
        return Err(Error::Validation(errors));
    };
    let note = f.opt_text(obj, "", "note", MAX_NOTE);
    let media_url = f.opt_text(obj, "", "media_url", MAX_URL);
    if media_url.as_deref().is_some_and(|u| !https_url(u)) {
        f.err("media_url", Msg::new("Phải là liên kết https://", "must be an https:// URL"));
    }
    let status = f.opt_text(obj, "", "status", MAX_STATUS);
    let agency = f.opt_text(obj, "", "agency", crate::category::MAX_CODE);
    let change = match (status, agency) {
        (Some(_), Some(_)) => {
            f.err(
                "agency",
                Msg::new("Chuyển cơ quan hoặc đổi trạng thái, không cả hai", "either a status or an agency"),
            );
            None
        }
        (None, None) => {
            f.err("status", Msg::required());
            None
        }
        (None, Some(agency)) => Some(Change::Reassign { agency, note }),
        (Some(to), None) => {
            let to = Status::parse(&to).filter(|s| *s != Status::Received);
            if to.is_none() {
                f.err("status", Msg::new("in_progress, resolved hoặc rejected", "in_progress, resolved or rejected"));
            }
            if to == Some(Status::Rejected) && note.is_none() {
                f.err("note", Msg::new("Cần nêu lý do từ chối", "a rejection needs its reason"));
            }
            to.map(|to| Change::Status { to, note, media_url })
        }
    };
    match change {
        Some(c) if errors.is_empty() => Ok(c),
        _ => Err(Error::Validation(errors)),
    }
}

fn conflict(vi: &str, en: &str) -> Error {
    Error::Conflict(Msg::new(vi.to_owned(), en.to_owned()))
}

/// The 409 of a conditional update that found the report no longer as it was read.
pub fn changed_meanwhile() -> Error {
    conflict("Phản ánh vừa được người khác cập nhật", "the report changed meanwhile")
}

/// The history event insert of a batch: numbered after the last, kept only if the update
/// before it changed the report.
const EVENT: &str = "INSERT INTO report_events (code, seq, at, status, agency, note, media_url, actor, open311_status)
    SELECT ?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM report_events WHERE code = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8
    WHERE changes() = 1";

/// Who makes a change, as its history event records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct By {
    /// `officer:<agency>` (the officer route) or `open311:<agency>` (an agency's own case
    /// system, through `servicerequestupdates`).
    pub actor: String,
    /// The status as an agency's system said it (`FIXED`, `DUPLICATE`, ...), if it came so.
    pub open311_status: Option<&'static str>,
}

impl By {
    /// An officer of `agency`, through `PATCH /reports/{code}`.
    pub fn officer(agency: &str) -> By {
        By { actor: format!("officer:{agency}"), open311_status: None }
    }
}

/// One history event of a change, for [`EVENT`].
struct NewEvent<'a> {
    at: &'a str,
    step: Step,
    agency: &'a str,
    note: Option<String>,
    media_url: Option<String>,
}

impl NewEvent<'_> {
    /// The insert of this event of `report`.
    fn statement(self, report: &Report, by: &By) -> Statement {
        let params: Vec<Sql> = vec![
            report.code.as_str().into(),
            self.at.into(),
            self.step.as_str().into(),
            self.agency.into(),
            self.note.into(),
            self.media_url.into(),
            by.actor.as_str().into(),
            by.open311_status.into(),
        ];
        Statement::new(EVENT, params)
    }
}

/// The statements of one move of a report: `change`, the conditional update of the report
/// (it must still be as it was read) and its history event, which is written only if the
/// update changed the report; then `outbox`, its `report.status_changed` event
/// ([`crate::notify::status_changed`]), written only if the statement just before it changed
/// a row ([`Guard::IfChanged`]). Put them in one batch, `change` first and `outbox` right
/// after the last statement that depends on the history event.
#[derive(Debug)]
pub struct Move {
    pub change: [Statement; 2],
    pub outbox: Vec<Statement>,
}

impl Move {
    /// `change` then `outbox`, as one batch.
    pub fn batch(self) -> Vec<Statement> {
        let mut all = self.change.to_vec();
        all.extend(self.outbox);
        all
    }
}

/// The outbox statements of a move ([`Move::outbox`]).
async fn announce(
    env: &impl Platform,
    report: &Report,
    step: Step,
    agency: &str,
    note: Option<&str>,
    now: &str,
) -> Result<Vec<Statement>, Error> {
    let agency_name = store::agency_name(env, agency).await?;
    let moved = Moved { report, step, agency, agency_name: &agency_name, note, at: now };
    let (_, statements) = civic::outbox::enqueue(env, &crate::notify::status_changed(&moved), Guard::IfChanged)?;
    Ok(statements)
}

/// The [`Move`] of `report` to `to`, or a conflict if it cannot move there.
pub async fn move_to(
    env: &impl Platform,
    report: &Report,
    to: Status,
    note: Option<String>,
    media_url: Option<String>,
    now: &str,
    by: &By,
) -> Result<Move, Error> {
    if !report.status.can_move_to(to) {
        return Err(conflict("Không chuyển được sang trạng thái này", "the report cannot move to that status"));
    }
    let resolved_at = (to == Status::Resolved).then(|| now.to_owned());
    // When it was closed (resolved or rejected): the reporter's contact details are kept for
    // `retention_reporter_contact` after it ([`crate::retention::REPORTER_CONTACT`]).
    let closed_at = matches!(to, Status::Resolved | Status::Rejected).then(|| now.to_owned());
    let update = Statement::new(
        "UPDATE reports SET status = ?1, resolved_at = COALESCE(?2, resolved_at), closed_at = COALESCE(?6, closed_at)
         WHERE code = ?3 AND status = ?4 AND agency = ?5 RETURNING code",
        vec![
            to.as_str().into(),
            resolved_at.into(),
            report.code.as_str().into(),
            report.status.as_str().into(),
            report.agency.as_str().into(),
            closed_at.into(),
        ],
    );
    let outbox = announce(env, report, Step::To(to), &report.agency, note.as_deref(), now).await?;
    let event = NewEvent { at: now, step: Step::To(to), agency: &report.agency, note, media_url };
    Ok(Move { change: [update, event.statement(report, by)], outbox })
}

/// The no-op update and event of a public response to an open `report` that leaves its
/// status as it is (an agency's system saying "still in progress, and here is why"), or a
/// conflict if the report is closed.
pub fn respond(
    report: &Report,
    note: Option<String>,
    media_url: Option<String>,
    now: &str,
    by: &By,
) -> Result<[Statement; 2], Error> {
    if !report.status.is_open() {
        return Err(conflict("Phản ánh đã đóng", "the report is closed"));
    }
    let update = Statement::new(
        "UPDATE reports SET status = status WHERE code = ?1 AND status = ?2 AND agency = ?3 RETURNING code",
        vec![report.code.as_str().into(), report.status.as_str().into(), report.agency.as_str().into()],
    );
    let event = NewEvent { at: now, step: Step::To(report.status), agency: &report.agency, note, media_url };
    Ok([update, event.statement(report, by)])
}

/// The [`Move`] that hands an open `report` to another known `agency`, where it is
/// `received` again and not yet warned overdue (the new agency is warned in its turn).
async fn reassign(
    env: &impl Platform,
    report: &Report,
    agency: &str,
    note: Option<String>,
    now: &str,
) -> Result<Move, Error> {
    if !report.status.is_open() {
        return Err(conflict("Phản ánh đã đóng", "the report is closed"));
    }
    if agency == report.agency || store::agency_name(env, agency).await?.is_empty() {
        return Err(Error::Validation(vec![FieldError::new(
            "agency",
            Msg::new("Cơ quan khác, có trong danh sách", "another known agency"),
        )]));
    }
    let update = Statement::new(
        "UPDATE reports SET agency = ?1, status = ?5, overdue_at = NULL
         WHERE code = ?2 AND status = ?3 AND agency = ?4 RETURNING code",
        vec![
            agency.into(),
            report.code.as_str().into(),
            report.status.as_str().into(),
            report.agency.as_str().into(),
            Status::Received.as_str().into(),
        ],
    );
    let note = Some(note.unwrap_or_else(|| format!("Chuyển cho {agency}")));
    let outbox = announce(env, report, Step::Reassigned, agency, note.as_deref(), now).await?;
    let event = NewEvent { at: now, step: Step::Reassigned, agency, note, media_url: None };
    Ok(Move { change: [update, event.statement(report, &By::officer(&report.agency))], outbox })
}

/// PATCH /reports/{code}
pub async fn patch(req: &Request<Bytes>, env: &impl Platform, code: &str) -> Result<Response<Bytes>, Error> {
    let who = civic::auth::require_role(env, req.headers(), Role::Officer)?;
    let code = code.to_ascii_uppercase();
    let (report, _) = store::get(env, &code).await?.ok_or(Error::NotFound)?;
    if who.agency.as_deref() != Some(report.agency.as_str()) {
        return Err(Error::Forbidden);
    }
    let body: Value = civic::web::read_json(req, MAX_BODY)?;
    let now = stamp(env.now());
    let change = match parse(&body)? {
        Change::Status { to, note, media_url } => {
            move_to(env, &report, to, note, media_url, &now, &By::officer(&report.agency)).await?
        }
        Change::Reassign { agency, note } => reassign(env, &report, &agency, note, &now).await?,
    };
    let results = env.batch(DB, &change.batch()).await?;
    if results.first().is_none_or(civic::platform::Rows::is_empty) {
        return Err(changed_meanwhile());
    }
    let (after, history, names) = store::get_named(env, &code).await?.ok_or(Error::NotFound)?;
    let lang = Lang::from_headers(req.headers());
    let mut resp = civic::web::json(StatusCode::OK, &crate::report::view(&after, &history, &names, lang))?;
    civic::outbox::soon(&mut resp, DB);
    Ok(resp)
}

/// Records the reporter's rating of report `code` (upper case): `stars` (1-5) and an
/// optional comment, in one conditional `UPDATE`, the only one that writes a rating (the
/// rating route and `DG` by SMS or chat, [`crate::command`]). `Ok(false)`, nothing written,
/// when the report is not resolved or was rated already.
pub async fn record_rating(
    env: &impl Platform,
    code: &str,
    stars: i64,
    comment: Option<String>,
) -> Result<bool, Error> {
    let rated = env
        .query(
            DB,
            "UPDATE reports SET rating = ?1, rating_comment = ?2 WHERE code = ?3 AND status = ?4 AND rating IS NULL
             RETURNING code",
            &[stars.into(), comment.into(), code.into(), Status::Resolved.as_str().into()],
        )
        .await?;
    Ok(!rated.is_empty())
}

/// POST /reports/{code}/rating
pub async fn rate(req: &Request<Bytes>, env: &impl Platform, code: &str) -> Result<Response<Bytes>, Error> {
    let who = civic::auth::authenticate(env, req.headers())?;
    let code = code.to_ascii_uppercase();
    let (report, _) = store::get(env, &code).await?.ok_or(Error::NotFound)?;
    let reporter = report.reporter_sub.as_deref() == Some(who.subject.as_str())
        || matches!((&who.phone, &report.reporter_phone), (Some(a), Some(b)) if civic::phone::same(a, b));
    if !reporter {
        return Err(Error::Forbidden);
    }
    let body: Value = civic::web::read_json(req, MAX_BODY)?;
    let mut errors: Vec<FieldError> = Vec::new();
    let mut f = Fields::new(String::new(), &mut errors);
    let parsed = f.object("", &body, &["stars", "comment"]).map(|obj| {
        let stars = f.integer(obj, "", "stars", STARS.0, STARS.1);
        let comment = f.opt_text(obj, "", "comment", MAX_COMMENT);
        (stars, comment)
    });
    let (Some((Some(stars), comment)), true) = (parsed, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    if !record_rating(env, &code, stars, comment).await? {
        return Err(conflict("Chỉ đánh giá một lần, sau khi đã xử lý xong", "rate once, after the report is resolved"));
    }
    civic::web::json(StatusCode::OK, &serde_json::json!({"code": code, "stars": stars}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_table() {
        assert_eq!(
            parse(&json!({"status": "resolved", "note": "Đã vá", "media_url": "https://cdn.vn/fix.jpg"})).unwrap(),
            Change::Status {
                to: Status::Resolved,
                note: Some("Đã vá".into()),
                media_url: Some("https://cdn.vn/fix.jpg".into())
            }
        );
        assert_eq!(
            parse(&json!({"agency": "so-gtvt"})).unwrap(),
            Change::Reassign { agency: "so-gtvt".into(), note: None }
        );
        let fields = |v: Value| match parse(&v) {
            Err(Error::Validation(e)) => e.into_iter().map(|e| e.field).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(fields(json!({"status": "rejected"})), ["note"]);
        assert_eq!(fields(json!({"status": "done"})), ["status"]);
        assert_eq!(fields(json!({})), ["status"]);
        assert_eq!(fields(json!({"status": "resolved", "agency": "x"})), ["agency"]);
        assert_eq!(fields(json!({"status": "resolved", "media_url": "http://x"})), ["media_url"]);
        assert_eq!(fields(json!({"status": "received"})), ["status"], "not a move an officer asks for");
        let allowed = |from: &str, to: &str| Status::stored(from).unwrap().can_move_to(Status::stored(to).unwrap());
        assert!(allowed("received", "resolved") && allowed("in_progress", "rejected"));
        assert!(
            !allowed("resolved", "in_progress")
                && !allowed("rejected", "resolved")
                && !allowed("in_progress", "in_progress")
        );
    }
}
