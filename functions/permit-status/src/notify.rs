//! What a dossier's status change tells, and to whom: the `dossier.status_changed` event
//! that [`crate::store::record_push`] writes in the same batch as the change
//! ([`civic::outbox`]).
//!
//! - **Partner systems** subscribed to `dossier.status_changed` (`POST /permits/webhooks`,
//!   optionally for one `agency`) get `data` = the dossier's public view as of the push
//!   ([`crate::view::public`], labels in Vietnamese): `{"code", "procedure_name", "agency",
//!   "received_at", "due_at", "status": {"code", "label"}, "overdue", "days_late",
//!   "days_left", "fee_vnd"}`. Never the applicant's name or phone.
//! - **The applicant**, the verified person it concerns, gets one SMS at the phone they
//!   applied with ([`message`]): `Ho so 000.00.19.H57-241105-0012: Dang xu ly. Hen tra
//!   15/11/2024.` once the outbox has rendered it to ASCII.

use chrono::{DateTime, Utc};
use civic::Lang;
use civic::command::Channel;
use civic::outbox::{Citizen, Event, EventType};

use crate::dossier::{Code, Status};
use crate::push::Update;

/// The event of dossier `code` taking the status of `u`, as of `now`.
pub fn status_changed(code: &Code, u: &Update, now: DateTime<Utc>) -> Event {
    Event {
        kind: EventType::DossierStatusChanged,
        subject: code.as_str().to_owned(),
        data: crate::view::public(code, u, now, Lang::Vi),
        citizen: Some(Citizen {
            channel: Channel::Sms,
            address: u.applicant.phone.clone(),
            phone: Some(u.applicant.phone.clone()),
            text: message(code, u),
            template: None,
        }),
    }
}

/// The applicant's message, in Vietnamese with diacritics (the outbox sends it as one ASCII
/// SMS, [`civic::text::sms`]): the code and the new status first, so that the first 80 or so
/// characters say what happened; then the due date while the dossier is open, what is asked
/// of the applicant, or where the result is.
///
/// `Hồ sơ 000.00.19.H57-241105-0012: Đang xử lý. Hẹn trả 15/11/2024.`
pub fn message(code: &Code, u: &Update) -> String {
    let head = format!("Hồ sơ {}: {}.", code.as_str(), u.status.label(Lang::Vi));
    let due = format!(" Hẹn trả {}.", dmy(u.due_at));
    let tail = match u.status {
        Status::Registered | Status::Accepted | Status::Processing => due,
        Status::DocumentsRequested => format!("{due} Vui lòng bổ sung giấy tờ tại {}.", u.agency),
        Status::PaymentRequested if u.fee_vnd > 0 => {
            format!("{due} Lệ phí {}, nộp tại {} hoặc trực tuyến.", crate::sms::vnd(u.fee_vnd), u.agency)
        }
        Status::PaymentRequested => due,
        Status::Processed => format!(" Mời nhận kết quả tại {}.", u.agency),
        Status::Returned => u.result_at.map(|r| format!(" Ngày trả {}.", dmy(r))).unwrap_or_default(),
        Status::NotAccepted | Status::Stopped => format!(" Liên hệ {} để biết lý do.", u.agency),
        Status::WithdrawnByCitizen => String::new(),
    };
    format!("{head}{tail}")
}

/// The day of `t` in Vietnam, day first.
fn dmy(t: DateTime<Utc>) -> String {
    civic::sms::date(civic::web::vn_today(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn update(status: i64) -> Update {
        crate::push::parse(&json!({"procedure_code": "1.001234",
            "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ", "field": "Xây dựng", "agency": "UBND quận Hải Châu",
            "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
            "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
            "status": status, "status_at": "2024-11-06T09:00:00+07:00", "result_at": "2024-11-14T10:00:00+07:00",
            "fee_vnd": 150000}))
        .unwrap()
    }

    #[test]
    fn every_status_says_what_happened_first_in_one_sms() {
        let code = Code::parse("000.00.19.H57-241105-0012").unwrap();
        let sms = |s: i64| civic::text::sms(&message(&code, &update(s)));
        assert_eq!(sms(4), "Ho so 000.00.19.H57-241105-0012: Dang xu ly. Hen tra 15/11/2024.");
        assert_eq!(sms(9), "Ho so 000.00.19.H57-241105-0012: Da xu ly xong. Moi nhan ket qua tai UBND quan Hai Chau.");
        assert_eq!(sms(10), "Ho so 000.00.19.H57-241105-0012: Da tra ket qua. Ngay tra 14/11/2024.");
        for s in 1..=10 {
            let text = message(&code, &update(s));
            let sent = civic::text::sms(&text);
            let label = civic::text::sms(Status::from_code(s).unwrap().label(Lang::Vi));
            assert!(sent.starts_with(&format!("Ho so {}: {label}.", code.as_str())), "{sent}");
            assert!(sent.len() <= civic::text::SMS_MAX && !sent.ends_with("..."), "{s}: {sent}");
        }
    }

    #[test]
    fn the_event_carries_the_public_view_and_tells_the_applicant_only() {
        let code = Code::parse("000.00.19.H57-241105-0012").unwrap();
        let now = civic::testing::t("2024-11-18T10:00:00+07:00");
        let e = status_changed(&code, &update(4), now);
        assert_eq!(e.kind, EventType::DossierStatusChanged);
        assert_eq!(e.subject, code.as_str());
        assert_eq!(e.data["status"], json!({"code": 4, "label": "Đang xử lý"}));
        assert_eq!((e.data["agency"].clone(), e.data["overdue"].clone()), (json!("UBND quận Hải Châu"), json!(true)));
        let data = e.data.to_string();
        assert!(!data.contains("Nguyễn") && !data.contains("0905"), "{data}");
        let citizen = e.citizen.unwrap();
        assert_eq!((citizen.channel, citizen.address.as_str()), (Channel::Sms, "0905123456"));
    }
}
