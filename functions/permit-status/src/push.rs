//! `PUT /permits/{code}` (role `system`): the one-stop-shop system pushes a dossier and its
//! newest status change. Safe to repeat and to deliver out of order
//! ([`crate::store::record_push`]). Answers `201` for a new dossier, else `200`, with
//! `{"code", "outcome": "created" | "updated" | "unchanged" | "stale"}`. A new dossier or a
//! new status writes a `dossier.status_changed` event in the same batch ([`crate::notify`]:
//! the applicant's SMS, partner webhooks), delivered right after the answer and by the ticks.
//!
//! The body is the system's view of the dossier, in exactly this shape (every bad field is
//! named at once, 422):
//!
//! ```json
//! {"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
//!  "field": "Xây dựng", "agency": "UBND quận Hải Châu",
//!  "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
//!  "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
//!  "status": 4, "status_at": "2024-11-06T09:00:00+07:00", "note": "Chuyển phòng Quản lý đô thị",
//!  "result_at": null, "fee_vnd": 150000}
//! ```

use bytes::Bytes;
use chrono::{DateTime, Utc};
use civic::auth::Role;
use civic::validate::Fields;
use civic::{Error, FieldError, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde_json::Value;

use crate::dossier::Status;
use crate::lookup;
use crate::store::{self, Outcome};

/// The largest push body (bytes); the documented example is under 600.
pub const MAX_BODY: usize = 16 * 1024;

pub async fn put(req: &Request<Bytes>, env: &impl Platform, raw: &str) -> Result<Response<Bytes>, Error> {
    civic::auth::require_role(env, req.headers(), Role::System)?;
    let code = lookup::code(raw)?;
    let body: Value = civic::web::read_json(req, MAX_BODY)?;
    let update = parse(&body)?;
    let applied = store::record_push(env, &code, &update).await?;
    let status = if applied.outcome == Outcome::Created { StatusCode::CREATED } else { StatusCode::OK };
    let mut resp = civic::web::json(status, &serde_json::json!({"code": code, "outcome": applied.outcome.as_str()}))?;
    if applied.event.is_some() {
        civic::outbox::soon(&mut resp, store::DB);
    }
    Ok(resp)
}

/// Who applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplicantKind {
    Citizen,
    Business,
}

impl ApplicantKind {
    /// As pushed and as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicantKind::Citizen => "citizen",
            ApplicantKind::Business => "business",
        }
    }

    pub fn parse(s: &str) -> Option<ApplicantKind> {
        [ApplicantKind::Citizen, ApplicantKind::Business].into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applicant {
    pub name: String,
    /// As sent; only its digits are compared.
    pub phone: String,
    pub kind: ApplicantKind,
}

/// One validated push from the one-stop-shop system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    pub procedure_code: String,
    pub procedure_name: String,
    pub field: String,
    pub agency: String,
    pub applicant: Applicant,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub status: Status,
    pub status_at: DateTime<Utc>,
    pub note: Option<String>,
    pub result_at: Option<DateTime<Utc>>,
    pub fee_vnd: i64,
}

pub const KEYS: &[&str] = &[
    "procedure_code",
    "procedure_name",
    "field",
    "agency",
    "applicant",
    "received_at",
    "due_at",
    "status",
    "status_at",
    "note",
    "result_at",
    "fee_vnd",
];

fn applicant(f: &mut Fields<'_>, v: Option<&Value>) -> Option<Applicant> {
    let Some(v) = v else {
        f.err("applicant", Msg::required());
        return None;
    };
    let obj = f.object("applicant", v, &["name", "phone", "kind"])?;
    let name = f.text(obj, "applicant", "name", 200);
    let phone = f.text(obj, "applicant", "phone", 20);
    if phone.as_deref().is_some_and(|p| !civic::phone::is_valid(p)) {
        f.err("applicant.phone", Msg::new("Số điện thoại không hợp lệ", "not a phone number"));
    }
    let kind = f.text(obj, "applicant", "kind", 16).and_then(|k| {
        let kind = ApplicantKind::parse(&k);
        if kind.is_none() {
            f.err("applicant.kind", Msg::new("Phải là citizen hoặc business", "must be citizen or business"));
        }
        kind
    });
    Some(Applicant { name: name?, phone: phone?, kind: kind? })
}

fn read(f: &mut Fields<'_>, body: &Value) -> Option<Update> {
    let obj = f.object("", body, KEYS)?;
    let procedure_code = f.text(obj, "", "procedure_code", 32);
    let procedure_name = f.text(obj, "", "procedure_name", 500);
    let field = f.text(obj, "", "field", 200);
    let agency = f.text(obj, "", "agency", 200);
    let applicant = applicant(f, obj.get("applicant"));
    let received_at = f.datetime(obj, "", "received_at");
    let due_at = f.datetime(obj, "", "due_at");
    let status = f.integer(obj, "", "status", 1, 10).and_then(Status::from_code);
    let status_at = f.datetime(obj, "", "status_at");
    let note = f.opt_text(obj, "", "note", 1000);
    let result_at = f.opt_datetime(obj, "", "result_at");
    let fee_vnd = f.integer(obj, "", "fee_vnd", 0, 1_000_000_000_000);
    if let (Some(r), Some(d)) = (received_at, due_at)
        && d < r
    {
        f.err("due_at", Msg::new("Ngày hẹn trả trước ngày tiếp nhận", "due before it was received"));
    }
    Some(Update {
        procedure_code: procedure_code?,
        procedure_name: procedure_name?,
        field: field?,
        agency: agency?,
        applicant: applicant?,
        received_at: received_at?,
        due_at: due_at?,
        status: status?,
        status_at: status_at?,
        note,
        result_at,
        fee_vnd: fee_vnd?,
    })
}

/// Validates a push, returning every field error at once.
pub fn parse(body: &Value) -> Result<Update, Error> {
    let mut errors: Vec<FieldError> = Vec::new();
    let update = read(&mut Fields::new(String::new(), &mut errors), body);
    match update {
        Some(update) if errors.is_empty() => Ok(update),
        _ => Err(Error::Validation(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
         "field": "Xây dựng", "agency": "UBND quận Hải Châu",
         "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
         "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
         "status": 4, "status_at": "2024-11-06T09:00:00+07:00", "note": "Chuyển phòng Quản lý đô thị",
         "result_at": null, "fee_vnd": 150000})
    }

    fn fields(body: &Value) -> Vec<String> {
        match parse(body) {
            Err(Error::Validation(list)) => list.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let u = parse(&sample()).unwrap();
        assert_eq!(u.status, Status::Processing);
        assert_eq!(u.due_at.to_rfc3339(), "2024-11-15T10:00:00+00:00");
        assert_eq!(u.applicant.kind, ApplicantKind::Citizen);
        assert_eq!(u.fee_vnd, 150_000);
        assert!(u.result_at.is_none());
        let mut no_note = sample();
        no_note.as_object_mut().unwrap().remove("note");
        assert_eq!(parse(&no_note).unwrap().note, None);
        no_note["note"] = json!("  ");
        assert_eq!(parse(&no_note).unwrap().note, None);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = sample();
        bad["status"] = json!(11);
        bad["due_at"] = json!("2024-11-01T17:00:00+07:00");
        bad["applicant"]["phone"] = json!("call me");
        bad["applicant"]["kind"] = json!("alien");
        bad["fee_vnd"] = json!(-1);
        bad["extra"] = json!(true);
        assert_eq!(fields(&bad), ["extra", "applicant.phone", "applicant.kind", "status", "fee_vnd", "due_at"]);
        assert_eq!(fields(&json!([1])), [""]);
        let mut missing = sample();
        missing.as_object_mut().unwrap().remove("applicant");
        assert_eq!(fields(&missing), ["applicant"]);
    }
}
