//! What happens to a report after it is filed.
//!
//! `PATCH /reports/{code}` by an `officer` whose `agency` claim is the report's agency, body
//! one of:
//! - `{"status": "in_progress" | "resolved", "note"?, "media_url"?}`,
//! - `{"status": "rejected", "note": "<the reason>"}`,
//! - `{"agency": "<another agency's code>", "note"?}` (reassigned: the other agency answers it).
//!
//! `received -> in_progress -> resolved`, or `rejected` from either open status; `resolved`
//! and `rejected` are final (409). Every change is one atomic batch: a conditional update of
//! the report (it must still be in the state the officer saw) and its history event.
//!
//! `POST /reports/{code}/rating` by the reporter (their JWT: the same `sub`, or the `phone`
//! they filed with), once the report is resolved, once: `{"stars": 1-5, "comment"?}`.

use bytes::Bytes;
use civic::auth::Role;
use civic::platform::Statement;
use civic::validate::Fields;
use civic::{Error, FieldError, Lang, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde_json::Value;

use crate::store::{self, DB, stamp};

const MAX_BODY: usize = 8 * 1024;

/// One change an officer asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Status { to: String, note: Option<String>, media_url: Option<String> },
    Reassign { agency: String, note: Option<String> },
}

pub fn parse(body: &Value) -> Result<Change, Error> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut f = Fields::new(String::new(), &mut errors);
    let Some(obj) = f.object("", body, &["status", "note", "media_url", "agency"]) else {
        return Err(Error::Validation(errors));
    };
    let note = f.opt_text(obj, "", "note", 2000);
    let media_url = f.opt_text(obj, "", "media_url", 500);
    if media_url.as_deref().is_some_and(|u| !crate::report::https_url(u)) {
        f.err("media_url", Msg::new("Phải là liên kết https://", "must be an https:// URL"));
    }
    let status = f.opt_text(obj, "", "status", 16);
    let agency = f.opt_text(obj, "", "agency", 64);
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
        (None, Some(agency)) => Some(Change::Reassign { agency, note: note.clone() }),
        (Some(to), None) => {
            if !["in_progress", "resolved", "rejected"].contains(&to.as_str()) {
                f.err("status", Msg::new("in_progress, resolved hoặc rejected", "in_progress, resolved or rejected"));
            }
            if to == "rejected" && note.is_none() {
                f.err("note", Msg::new("Cần nêu lý do từ chối", "a rejection needs its reason"));
            }
            Some(Change::Status { to, note: note.clone(), media_url: media_url.clone() })
        }
    };
    match change {
        Some(c) if errors.is_empty() => Ok(c),
        _ => Err(Error::Validation(errors)),
    }
}

fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("received", "in_progress" | "resolved" | "rejected") | ("in_progress", "resolved" | "rejected")
    )
}

fn conflict(vi: &str, en: &str) -> Error {
    Error::Conflict(Msg::new(vi.to_owned(), en.to_owned()))
}

/// The history event insert of a batch: numbered after the last, kept only if the update
/// before it changed the report.
const EVENT: &str = "INSERT INTO report_events (code, seq, at, status, agency, note, media_url, actor)
    SELECT ?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM report_events WHERE code = ?1), ?2, ?3, ?4, ?5, ?6, ?7
    WHERE changes() = 1";

/// PATCH /reports/{code}
pub async fn patch(req: &Request<Bytes>, env: &impl Platform, code: &str) -> Result<Response<Bytes>, Error> {
    let who = civic::auth::require_role(env, req.headers(), Role::Officer)?;
    let code = code.to_ascii_uppercase();
    let (report, _) = store::get(env, &code).await?.ok_or(Error::NotFound)?;
    if who.agency.as_deref() != Some(report.agency.as_str()) {
        return Err(Error::Forbidden);
    }
    let body: Value = civic::web::read_json(req, MAX_BODY)?;
    let change = parse(&body)?;
    let now = stamp(env.now());
    let actor = format!("officer:{}", report.agency);
    let (update, event) = match &change {
        Change::Status { to, note, media_url } => {
            if !allowed(&report.status, to) {
                return Err(conflict("Không chuyển được sang trạng thái này", "the report cannot move to that status"));
            }
            let resolved_at = (to == "resolved").then(|| now.clone());
            (
                Statement::new(
                    "UPDATE reports SET status = ?1, resolved_at = COALESCE(?2, resolved_at)
                     WHERE code = ?3 AND status = ?4 AND agency = ?5 RETURNING code",
                    vec![
                        to.as_str().into(),
                        resolved_at.into(),
                        code.as_str().into(),
                        report.status.as_str().into(),
                        report.agency.as_str().into(),
                    ],
                ),
                vec![
                    code.as_str().into(),
                    now.as_str().into(),
                    to.as_str().into(),
                    report.agency.as_str().into(),
                    note.clone().into(),
                    media_url.clone().into(),
                    actor.into(),
                ],
            )
        }
        Change::Reassign { agency, note } => {
            if !matches!(report.status.as_str(), "received" | "in_progress") {
                return Err(conflict("Phản ánh đã đóng", "the report is closed"));
            }
            if agency == &report.agency || store::agency_name(env, agency).await?.is_empty() {
                return Err(Error::Validation(vec![FieldError::new(
                    "agency",
                    Msg::new("Cơ quan khác, có trong danh sách", "another known agency"),
                )]));
            }
            let text = note.clone().unwrap_or_else(|| format!("Chuyển cho {agency}"));
            (
                Statement::new(
                    "UPDATE reports SET agency = ?1, status = 'received' WHERE code = ?2 AND status = ?3 AND agency = ?4
                     RETURNING code",
                    vec![
                        agency.as_str().into(),
                        code.as_str().into(),
                        report.status.as_str().into(),
                        report.agency.as_str().into(),
                    ],
                ),
                vec![
                    code.as_str().into(),
                    now.as_str().into(),
                    "reassigned".into(),
                    agency.as_str().into(),
                    text.into(),
                    civic::platform::Value::Null,
                    actor.into(),
                ],
            )
        }
    };
    let results = env.batch(DB, &[update, Statement::new(EVENT, event)]).await?;
    if results.first().is_none_or(civic::platform::Rows::is_empty) {
        return Err(conflict("Phản ánh vừa được người khác cập nhật", "the report changed meanwhile"));
    }
    let (after, history) = store::get(env, &code).await?.ok_or(Error::NotFound)?;
    let lang = Lang::from_headers(req.headers());
    civic::web::json(StatusCode::OK, &crate::report::view(env, &after, &history, lang).await?)
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
        let stars = f.integer(obj, "", "stars", 1, 5);
        let comment = f.opt_text(obj, "", "comment", 1000);
        (stars, comment)
    });
    let (Some((Some(stars), comment)), true) = (parsed, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let rated = env
        .query(
            DB,
            "UPDATE reports SET rating = ?1, rating_comment = ?2 WHERE code = ?3 AND status = 'resolved' AND rating IS NULL
             RETURNING code",
            &[stars.into(), comment.into(), code.as_str().into()],
        )
        .await?;
    if rated.is_empty() {
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
                to: "resolved".into(),
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
        assert!(allowed("received", "resolved") && allowed("in_progress", "rejected"));
        assert!(
            !allowed("resolved", "in_progress")
                && !allowed("rejected", "resolved")
                && !allowed("in_progress", "in_progress")
        );
    }
}
