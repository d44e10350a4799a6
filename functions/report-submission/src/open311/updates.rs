//! Service request updates: the Open311 extension that FixMyStreet and many UK councils use
//! (mySociety, "Open311 FMS – Proposed differences to Open311": GET and POST Service
//! Request Updates, additional states).
//!
//! - `GET servicerequestupdates.{fmt}?start_date=&end_date=`: every status change and
//!   public response of every report in the window (default: the last
//!   [`DEFAULT_DAYS`] days), oldest first, at most
//!   [`MAX_LIST`] (to read on, ask again from the last `updated_datetime`),
//!   the filing itself left out: `service_request_updates/request_update` with `update_id`
//!   (`{service_request_id}.{n}`, the n-th event of the report's history),
//!   `service_request_id`, `status`, `updated_datetime`, `description`, `media_url`.
//!   `status` is what an agency's system posted, as it said it, else the report's status
//!   after the event in the extension's terms: `OPEN`, `IN_PROGRESS`, `FIXED`, `CLOSED`,
//!   `INTERNAL_REFERRAL` (handed to another agency).
//! - `POST servicerequestupdates.{fmt}` (form-encoded), by an agency's own case system with
//!   an `api_key` bound to that agency (`key=agency_code` in `open311_api_keys`), for a
//!   report that agency answers: `service_request_id`, `update_id` (the system's own id of
//!   the update), `status`, `description` (the public response), `media_url` (`https://`),
//!   `updated_datetime` (checked, ISO 8601; the history records when the update arrived),
//!   and `first_name`, `last_name`, `email`, `service_code` (accepted, not kept). It moves
//!   the report under the officer route's rules ([`crate::lifecycle`]) into the same
//!   history, `actor` `open311:<agency>`, with the same `report.status_changed` event and
//!   message to the reporter ([`crate::notify`]):
//!   - `open`, `OPEN`, `IN_PROGRESS`, `ACTION_SCHEDULED`, `INVESTIGATING`,
//!     `INTERNAL_REFERRAL`, `FOR_TRIAGE`: in progress (an update to a report already in
//!     progress is a public response, its status unchanged);
//!   - `closed`, `CLOSED`, `FIXED`: resolved;
//!   - `DUPLICATE`, `NOT_COUNCILS_RESPONSIBILITY`, `NO_FURTHER_ACTION`: rejected, with
//!     `description` as the reason (a Vietnamese sentence naming the reason if none).
//!
//!   Answers `service_request_updates/request_update/update_id`. A repeated `update_id`
//!   from the same agency is answered with the first one's `update_id` and changes nothing.
//!   Errors: 400 (a field missing, malformed or given twice, an unknown `status`), 403 (the
//!   key is not an agency's, or the report is another agency's), 404 (no such report), 409
//!   (the report's status does not allow it).

use bytes::Bytes;
use chrono::Duration;
use civic::Platform;
use civic::platform::Statement;
use http::{Request, StatusCode};

use super::doc::{self, Node};
use super::{Answer, DEFAULT_DAYS, Doc, Form, MAX_LIST, caller, date, field, once, param, refuse};
use crate::lifecycle::{self, By};
use crate::report::{MAX_URL, https_url};
use crate::status::{Status, Step};
use crate::store::{self, DB, stamp};

/// The longest `description` of an update, in characters: the officer route's note.
pub const MAX_DESCRIPTION: usize = lifecycle::MAX_NOTE;
/// The longest `update_id`, in bytes.
pub const MAX_UPDATE_ID: usize = 100;

/// The statuses an update may post (upper case; the specification's `open` and `closed`
/// are read as `OPEN` and `CLOSED`), what each moves the report to, and for a rejection the
/// reason it records when the update gives no description.
const STATUSES: [(&str, Status, Option<&str>); 13] = [
    ("OPEN", Status::InProgress, None),
    ("IN_PROGRESS", Status::InProgress, None),
    ("ACTION_SCHEDULED", Status::InProgress, None),
    ("INVESTIGATING", Status::InProgress, None),
    ("INTERNAL_REFERRAL", Status::InProgress, None),
    ("FOR_TRIAGE", Status::InProgress, None),
    ("FIXED", Status::Resolved, None),
    ("CLOSED", Status::Resolved, None),
    ("DUPLICATE", Status::Rejected, Some("Trùng với một phản ánh khác")),
    ("NOT_COUNCILS_RESPONSIBILITY", Status::Rejected, Some("Không thuộc thẩm quyền của cơ quan")),
    ("NO_FURTHER_ACTION", Status::Rejected, Some("Không cần xử lý thêm")),
    // The specification's two, in lower case.
    ("open", Status::InProgress, None),
    ("closed", Status::Resolved, None),
];

/// A posted status: its canonical (upper-case) text, the report status it moves to, and
/// the default reason of a rejection.
pub fn posted(status: &str) -> Option<(&'static str, Status, Option<&'static str>)> {
    let (text, to, reason) = STATUSES.iter().find(|(t, _, _)| *t == status)?;
    Some((if text.starts_with(char::is_lowercase) { canonical(text) } else { text }, *to, *reason))
}

fn canonical(lower: &str) -> &'static str {
    if lower == "open" { "OPEN" } else { "CLOSED" }
}

/// The status an event shows as, when no agency's system posted one.
fn shown(step: Step) -> &'static str {
    match step {
        Step::To(Status::Received) => "OPEN",
        Step::To(Status::InProgress) => "IN_PROGRESS",
        Step::To(Status::Resolved) => "FIXED",
        Step::To(Status::Rejected) => "CLOSED",
        Step::Reassigned => "INTERNAL_REFERRAL",
    }
}

fn update_doc(updates: Vec<Node>) -> Doc {
    Doc { root: "service_request_updates", node: doc::list("request_update", updates) }
}

/// An update's id: `{service_request_id}.{seq}`.
fn update_id(code: &str, seq: i64) -> String {
    format!("{code}.{seq}")
}

/// `GET servicerequestupdates`.
pub async fn list(req: &Request<Bytes>, env: &impl Platform) -> Answer {
    let start = match param(req, "start_date")? {
        Some(s) => {
            date(&s).ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "start_date must be ISO 8601 with an offset"))?
        }
        None => stamp(env.now() - Duration::days(DEFAULT_DAYS)),
    };
    let end = match param(req, "end_date")? {
        Some(e) => {
            date(&e).ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "end_date must be ISO 8601 with an offset"))?
        }
        None => "9999".to_owned(),
    };
    let rows = env
        .query(
            DB,
            &format!(
                "SELECT code, seq, at, status, note, media_url, open311_status FROM report_events
                 WHERE at >= ?1 AND at <= ?2 AND seq > 1 ORDER BY at, code, seq LIMIT {MAX_LIST}"
            ),
            &[start.into(), end.into()],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        let code = r.str("code")?;
        let status = match r.opt_str("open311_status")? {
            Some(s) => s.to_owned(),
            None => shown(Step::stored(r.str("status")?)?).to_owned(),
        };
        out.push(Node::Map(vec![
            ("update_id", Node::Text(update_id(code, r.i64("seq")?))),
            ("service_request_id", Node::Text(code.to_owned())),
            ("status", Node::Text(status)),
            ("updated_datetime", Node::Text(civic::web::vn_time(r.str("at")?))),
            ("description", Node::opt_text(r.opt_str("note")?)),
            ("media_url", Node::opt_text(r.opt_str("media_url")?)),
        ]));
    }
    Ok(update_doc(out))
}

/// The form fields `POST servicerequestupdates` reads; each may be given once.
const READ: [&str; 11] = [
    "api_key",
    "service_request_id",
    "update_id",
    "status",
    "description",
    "media_url",
    "updated_datetime",
    "first_name",
    "last_name",
    "email",
    "service_code",
];

/// One update, checked.
struct Posted {
    code: String,
    update_id: String,
    status: &'static str,
    to: Status,
    note: Option<String>,
    media_url: Option<String>,
}

fn required(form: &Form, name: &str) -> Result<String, super::Refusal> {
    field(form, name).ok_or_else(|| refuse(StatusCode::BAD_REQUEST, format!("{name} is required")))
}

fn parse(form: &Form) -> Result<Posted, super::Refusal> {
    once(form, &READ)?;
    let bad = |m: String| refuse(StatusCode::BAD_REQUEST, m);
    let code = required(form, "service_request_id")?.to_ascii_uppercase();
    let update_id = required(form, "update_id")?;
    if update_id.len() > MAX_UPDATE_ID || update_id.chars().any(char::is_control) {
        return Err(bad(format!("update_id must be 1 to {MAX_UPDATE_ID} bytes of text")));
    }
    let given = required(form, "status")?;
    let (status, to, reason) = posted(&given).ok_or_else(|| {
        bad(format!("status {given:?} is not open, closed or one of {}", STATUSES.map(|(t, _, _)| t)[..11].join(", ")))
    })?;
    let note = field(form, "description");
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_DESCRIPTION) {
        return Err(bad(format!("description is over {MAX_DESCRIPTION} characters")));
    }
    if note.as_deref().is_some_and(|n| !civic::validate::plain_text(n)) {
        return Err(bad("description must be plain text".to_owned()));
    }
    let media_url = field(form, "media_url");
    if media_url.as_deref().is_some_and(|u| u.len() > MAX_URL || !https_url(u)) {
        return Err(bad("media_url must be an https:// URL".to_owned()));
    }
    if field(form, "updated_datetime").is_some_and(|t| date(&t).is_none()) {
        return Err(bad("updated_datetime must be ISO 8601 with an offset".to_owned()));
    }
    let note = note.or_else(|| reason.map(str::to_owned));
    Ok(Posted { code, update_id, status, to, note, media_url })
}

/// The event an agency's earlier update with this id made, as `(code, seq)`.
async fn earlier(env: &impl Platform, agency: &str, update_id: &str) -> Result<Option<(String, i64)>, civic::Error> {
    let rows = env
        .query(
            DB,
            "SELECT code, seq FROM open311_updates WHERE agency = ?1 AND update_id = ?2",
            &[agency.into(), update_id.into()],
        )
        .await?;
    rows.first().map(|r| Ok((r.str("code")?.to_owned(), r.i64("seq")?))).transpose()
}

fn posted_doc(code: &str, seq: i64) -> Doc {
    update_doc(vec![Node::Map(vec![("update_id", Node::Text(update_id(code, seq)))])])
}

/// `POST servicerequestupdates`.
pub async fn post(form: &Form, env: &impl Platform) -> Answer {
    let key = caller(form, env)?;
    let Some(agency) = key.agency else {
        return Err(refuse(StatusCode::FORBIDDEN, "this api_key files requests; updates need an agency's key"));
    };
    let p = parse(form)?;
    if let Some((code, seq)) = earlier(env, &agency, &p.update_id).await? {
        return Ok(posted_doc(&code, seq));
    }
    let (report, _) =
        store::get(env, &p.code).await?.ok_or_else(|| refuse(StatusCode::NOT_FOUND, "no such service_request_id"))?;
    if report.agency != agency {
        return Err(refuse(StatusCode::FORBIDDEN, "this report is another agency's"));
    }
    let by = By { actor: format!("open311:{agency}"), open311_status: Some(p.status) };
    let now = stamp(env.now());
    let (change, outbox) = if p.to == report.status {
        (lifecycle::respond(&report, p.note, p.media_url, &now, &by)?, Vec::new())
    } else {
        let m = lifecycle::move_to(env, &report, p.to, p.note, p.media_url, &now, &by).await?;
        (m.change, m.outbox)
    };
    // The update's id is taken in the same batch, after the event it names: a concurrent
    // repeat breaks its primary key and the whole batch with it. The move's outbox event
    // follows it, written only if it was.
    let record = Statement::new(
        "INSERT INTO open311_updates (agency, update_id, code, seq, created_at)
         SELECT ?1, ?2, ?3, (SELECT MAX(seq) FROM report_events WHERE code = ?3), ?4 WHERE changes() = 1
         RETURNING seq",
        vec![agency.as_str().into(), p.update_id.as_str().into(), p.code.as_str().into(), now.as_str().into()],
    );
    let mut batch = change.to_vec();
    batch.push(record);
    batch.extend(outbox);
    match env.batch(DB, &batch).await {
        Ok(results) => match results.get(2).and_then(|rows| rows.first()) {
            Some(row) => Ok(posted_doc(&p.code, row.i64("seq")?)),
            None => Err(lifecycle::changed_meanwhile().into()),
        },
        Err(e) => match earlier(env, &agency, &p.update_id).await? {
            Some((code, seq)) => Ok(posted_doc(&code, seq)),
            None => Err(civic::Error::from(e).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_fixmystreet_means_them() {
        assert_eq!(posted("FIXED"), Some(("FIXED", Status::Resolved, None)));
        assert_eq!(posted("closed"), Some(("CLOSED", Status::Resolved, None)));
        assert_eq!(posted("open"), Some(("OPEN", Status::InProgress, None)));
        assert_eq!(posted("ACTION_SCHEDULED").map(|p| p.1), Some(Status::InProgress));
        assert!(posted("DUPLICATE").is_some_and(|(_, to, reason)| to == Status::Rejected && reason.is_some()));
        assert_eq!(posted("fixed"), None, "the extension's states are upper case");
        assert_eq!(posted("Open"), None);
        assert_eq!(shown(Step::Reassigned), "INTERNAL_REFERRAL");
    }
}
