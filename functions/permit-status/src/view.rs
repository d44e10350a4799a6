//! What `GET /permits/{code}` shows: the public view, and for the verified applicant the
//! masked name and the full history. The applicant's name and phone never appear otherwise.

use chrono::{DateTime, Utc};
use civic::Lang;
use serde_json::{Value, json};

use crate::dossier::{Code, Status, Timeliness, mask_name};
use crate::push::Update;
use crate::store::Dossier;

fn status(s: Status, lang: Lang) -> Value {
    json!({"code": s.code(), "label": s.label(lang)})
}

/// Times are shown in Vietnam time (UTC+7) with their offset.
fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&civic::web::vietnam()).to_rfc3339()
}

/// The public facts of dossier `code` in the state `u`, as of `now`: what anyone may see,
/// and what its `dossier.status_changed` event carries ([`crate::notify`]). `{"code",
/// "procedure_name", "agency", "received_at", "due_at", "status": {"code", "label"},
/// "overdue", "days_late", "days_left", "fee_vnd"}`; never the applicant.
pub fn public(code: &Code, u: &Update, now: DateTime<Utc>, lang: Lang) -> Value {
    let t = Timeliness::of(u.due_at, u.status, now);
    json!({
        "code": code,
        "procedure_name": u.procedure_name,
        "agency": u.agency,
        "received_at": local(u.received_at),
        "due_at": local(u.due_at),
        "status": status(u.status, lang),
        "overdue": t.overdue,
        "days_late": t.days_late,
        "days_left": t.days_left,
        "fee_vnd": u.fee_vnd,
    })
}

/// The answer for a dossier: [`public`], `fee_paid`, and for the `verified` applicant the
/// masked applicant and the history. `fee_paid` is [`crate::fee::paid`]: `null` in JSON when
/// the payments database cannot tell.
pub fn view(d: &Dossier, now: DateTime<Utc>, lang: Lang, fee_paid: Option<bool>, verified: bool) -> Value {
    let u = &d.update;
    let mut v = public(&d.code, u, now, lang);
    v["fee_paid"] = json!(fee_paid);
    if verified {
        v["applicant"] = json!({"name": mask_name(&u.applicant.name)});
        v["history"] = d
            .history
            .iter()
            .map(|e| json!({"at": local(e.at), "status": status(e.status, lang), "agency": e.agency, "note": e.note}))
            .collect();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Event;
    use serde_json::json;

    fn dossier() -> Dossier {
        let update = crate::push::parse(
            &json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
            "field": "Xây dựng", "agency": "UBND quận Hải Châu",
            "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
            "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
            "status": 4, "status_at": "2024-11-06T09:00:00+07:00", "note": null, "result_at": null, "fee_vnd": 150000}),
        )
        .unwrap();
        let history = vec![Event {
            at: update.status_at,
            status: Status::Processing,
            agency: update.agency.clone(),
            note: Some("Chuyển phòng".into()),
        }];
        Dossier { code: Code::parse("000.00.19.H57-241105-0012").unwrap(), update, history }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn public_view_never_shows_the_applicant() {
        let v = view(&dossier(), t("2024-11-18T10:00:00+07:00"), Lang::Vi, Some(false), false);
        assert_eq!(v["status"], json!({"code": 4, "label": "Đang xử lý"}));
        assert_eq!(
            (v["overdue"].clone(), v["days_late"].clone(), v["days_left"].clone()),
            (json!(true), json!(3), Value::Null)
        );
        assert_eq!(v["due_at"], "2024-11-15T17:00:00+07:00");
        assert_eq!(v["fee_paid"], false);
        let text = v.to_string();
        assert!(!text.contains("Nguyễn") && !text.contains("0905") && !text.contains("3456"), "{text}");
        assert!(v.get("history").is_none() && v.get("applicant").is_none());
    }

    #[test]
    fn verified_view_adds_masked_name_and_history() {
        let v = view(&dossier(), t("2024-11-13T10:00:00+07:00"), Lang::En, Some(true), true);
        assert_eq!(v["applicant"], json!({"name": "Nguyễn V. A."}));
        assert_eq!(v["history"][0]["status"]["label"], "Being processed");
        assert_eq!(v["history"][0]["note"], "Chuyển phòng");
        assert_eq!(v["days_left"], 2);
        assert_eq!(v["fee_paid"], true);
        assert!(!v.to_string().contains("0905"));
    }
}
