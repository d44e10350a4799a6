//! The events this function writes to its outbox ([`civic::outbox`]), each in the same
//! atomic batch as the change it reports, and the messages the citizen gets.
//!
//! | type | when | `data` (public facts only; times `+07:00`) | the citizen hears |
//! |---|---|---|---|
//! | `report.created` | a report is filed, on any channel ([`crate::store::insert`]) | `code`, `status`, `category`, `agency`, `district` (when known), `created_at`, `due_at` | nothing: the filing's own answer confirms it |
//! | `report.status_changed` | [`crate::lifecycle`] moves it | `code`, `status` (`in_progress`, `resolved`, `rejected`, `reassigned`), `category`, `agency` (the one answering it now), `previous_agency` (reassigned only), `note` (as in its public history), `at` | [`message`] |
//! | `report.overdue` | a tick finds it open past its due time ([`crate::overdue`]) | `code`, `category`, `agency`, `status`, `due_at` | nothing: it is for the agency |
//!
//! Never the reporter's name, phone or account. `data.agency` is what an endpoint registered
//! with an `agency` filters on.
//!
//! The citizen is told on the channel they used ([`recipient`]): a report filed over Zalo or
//! Telegram by that chat (Zalo with the phone, when known, and the `report_status` ZNS
//! template for when a free message is no longer allowed), any other (SMS, the app, Open311)
//! by SMS to the phone they filed with, when there is one.

use civic::command::Channel;
use civic::outbox::{Citizen, Event, EventType, Template};
use serde_json::json;

use crate::status::{Status, Step};
use crate::store::Report;

/// The event types this function emits, as `POST /reports/webhooks` offers them.
pub const EVENTS: &[EventType] = &[EventType::ReportCreated, EventType::ReportStatusChanged, EventType::ReportOverdue];

/// The most characters of an officer's note a citizen's message repeats (an SMS is cut
/// further, to one message, by the outbox).
pub const MAX_NOTE_IN_MESSAGE: usize = 500;

/// The ZNS template of a report's status message (its id: config
/// `zalo_zns_template_report_status`, read by the chat function).
pub const TEMPLATE: &str = "report_status";

/// `report.created` of a new report; no citizen message.
pub fn created(r: &Report) -> Event {
    let mut data = json!({
        "code": r.code, "status": r.status.as_str(), "category": r.category, "agency": r.agency,
        "created_at": civic::web::vn_time(&r.created_at), "due_at": civic::web::vn_time(&r.due_at),
    });
    if let Some(district) = &r.district {
        data["district"] = json!(district);
    }
    Event { kind: EventType::ReportCreated, subject: r.code.clone(), data, citizen: None }
}

/// One move of a report, as its event and message tell it.
#[derive(Clone, Debug, PartialEq)]
pub struct Moved<'a> {
    /// The report before the move.
    pub report: &'a Report,
    /// What happened: a new status, or [`Step::Reassigned`].
    pub step: Step,
    /// The agency answering it after the move (the new one when reassigned).
    pub agency: &'a str,
    /// That agency's name.
    pub agency_name: &'a str,
    /// The note of its history event (public), if any.
    pub note: Option<&'a str>,
    /// Stored UTC RFC 3339.
    pub at: &'a str,
}

/// `report.status_changed` of a move, with the message to its reporter when they can be
/// reached.
pub fn status_changed(m: &Moved<'_>) -> Event {
    let r = m.report;
    let mut data = json!({
        "code": r.code, "status": m.step.as_str(), "category": r.category, "agency": m.agency,
        "note": m.note, "at": civic::web::vn_time(m.at),
    });
    if m.step == Step::Reassigned {
        data["previous_agency"] = json!(r.agency);
    }
    let citizen = recipient(r).map(|(channel, address, phone)| {
        let template = (channel == Channel::Zalo).then(|| Template {
            name: TEMPLATE,
            data: json!({"code": r.code, "status": label(m.step), "time": time(m.at)}),
        });
        Citizen { channel, address, phone, text: message(m), template }
    });
    Event { kind: EventType::ReportStatusChanged, subject: r.code.clone(), data, citizen }
}

/// `report.overdue` of an open report past its due time (`due_at` stored UTC RFC 3339), for
/// its agency; no citizen message.
pub fn overdue(code: &str, category: &str, agency: &str, status: Status, due_at: &str) -> Event {
    Event {
        kind: EventType::ReportOverdue,
        subject: code.to_owned(),
        data: json!({"code": code, "category": category, "agency": agency, "status": status.as_str(),
            "due_at": civic::web::vn_time(due_at)}),
        citizen: None,
    }
}

/// Where the reporter of `r` hears of it: (channel, address, phone for Zalo's ZNS). A
/// report filed over Zalo or Telegram goes back to that chat; any other (or a chat report
/// without its chat id) by SMS to the phone it was filed with; `None` without either.
pub fn recipient(r: &Report) -> Option<(Channel, String, Option<String>)> {
    let chat = match r.channel.as_str() {
        "zalo" => Some(Channel::Zalo),
        "telegram" => Some(Channel::Telegram),
        _ => None,
    };
    if let (Some(channel), Some(user)) = (chat, r.channel_user.as_ref().filter(|u| !u.is_empty())) {
        let phone = if channel == Channel::Zalo { r.reporter_phone.clone() } else { None };
        return Some((channel, user.clone(), phone));
    }
    let sms_sender = if r.channel == "sms" { r.channel_user.clone() } else { None };
    r.reporter_phone.clone().or(sms_sender).filter(|p| !p.is_empty()).map(|p| (Channel::Sms, p, None))
}

/// The short status of a move, for the ZNS template's `status`.
pub fn label(step: Step) -> &'static str {
    match step {
        Step::To(s) => s.label_vi(),
        Step::Reassigned => "Đã chuyển cơ quan",
    }
}

/// A stored time as messages write it: `09:00 06/11/2024` (Vietnam time).
fn time(stored: &str) -> String {
    civic::web::parse_stamp(stored).map(|t| civic::sms::date_time(&t)).unwrap_or_default()
}

/// The reporter's message of a move, in Vietnamese with diacritics; what matters comes
/// first (an SMS keeps its first 160 characters without diacritics):
///
/// - in progress: `Phản ánh PA-…: đang được xử lý (cơ quan …).`
/// - resolved: `Phản ánh PA-…: đã xử lý xong. Đánh giá: nhắn DG PA-… <1-5>.`
/// - rejected: `Phản ánh PA-…: không được xử lý. Lý do: ….`
/// - reassigned: `Phản ánh PA-…: đã chuyển cho … xử lý.`
///
/// then the officer's note, when there is one (and it is not the reason already given).
pub fn message(m: &Moved<'_>) -> String {
    let code = &m.report.code;
    let note = m.note.map(str::trim).filter(|n| !n.is_empty()).map(|n| civic::text::cut(n, MAX_NOTE_IN_MESSAGE));
    let with_note = |head: String| match &note {
        Some(n) => format!("{head} Ghi chú: {}", civic::text::sentence(n)),
        None => head,
    };
    match m.step {
        Step::To(Status::Resolved) => {
            with_note(format!("Phản ánh {code}: đã xử lý xong. Đánh giá: nhắn DG {code} <1-5>."))
        }
        Step::To(Status::Rejected) => {
            let reason = note.as_deref().map_or_else(|| "không nêu.".to_owned(), civic::text::sentence);
            format!("Phản ánh {code}: không được xử lý. Lý do: {reason}")
        }
        Step::Reassigned => with_note(format!("Phản ánh {code}: đã chuyển cho {} xử lý.", m.agency_name)),
        Step::To(Status::InProgress) => {
            with_note(format!("Phản ánh {code}: đang được xử lý (cơ quan {}).", m.agency_name))
        }
        Step::To(Status::Received) => with_note(format!("Phản ánh {code}: {}.", Status::Received.label_vi())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// No key of `data` names the reporter.
    fn is_public(data: &Value) -> bool {
        const PERSONAL: [&str; 6] =
            ["reporter", "reporter_name", "reporter_phone", "reporter_sub", "phone", "channel_user"];
        data.as_object().is_some_and(|o| o.keys().all(|k| !PERSONAL.contains(&k.as_str())))
    }

    fn report(channel: &str, user: Option<&str>, phone: Option<&str>) -> Report {
        Report {
            code: "PA-241105-0001".into(),
            category: "road-damage".into(),
            description: "Ổ gà".into(),
            lat: None,
            lng: None,
            address: Some("Quận Hải Châu".into()),
            district: Some("hai chau".into()),
            media_urls: Vec::new(),
            agency: "hai-chau".into(),
            status: Status::Received,
            reporter_sub: Some("sub-1".into()),
            reporter_name: Some("Nguyễn Văn An".into()),
            reporter_phone: phone.map(str::to_owned),
            anonymous: false,
            channel: channel.into(),
            channel_user: user.map(str::to_owned),
            duplicate_of: None,
            created_at: "2024-11-05T02:00:00Z".into(),
            due_at: "2024-11-08T02:00:00Z".into(),
            attributes: serde_json::Map::new(),
            rating: None,
        }
    }

    #[test]
    fn the_citizen_hears_on_the_channel_they_used() {
        let cases = [
            (report("sms", Some("84905123456"), Some("84905123456")), Some((Channel::Sms, "84905123456", None))),
            (report("sms", Some("84905123456"), None), Some((Channel::Sms, "84905123456", None))),
            (report("app", None, Some("0905123456")), Some((Channel::Sms, "0905123456", None))),
            (report("app", None, None), None),
            (report("open311", None, Some("0905123456")), Some((Channel::Sms, "0905123456", None))),
            (report("zalo", Some("z1"), Some("0905123456")), Some((Channel::Zalo, "z1", Some("0905123456")))),
            (report("zalo", Some("z1"), None), Some((Channel::Zalo, "z1", None))),
            (report("telegram", Some("42"), Some("0905123456")), Some((Channel::Telegram, "42", None))),
            (report("telegram", None, Some("0905123456")), Some((Channel::Sms, "0905123456", None))),
        ];
        for (r, want) in cases {
            let got = recipient(&r);
            let got = got.as_ref().map(|(c, a, p)| (*c, a.as_str(), p.as_deref()));
            assert_eq!(got, want, "{} {:?} {:?}", r.channel, r.channel_user, r.reporter_phone);
        }
    }

    #[test]
    fn messages_say_what_matters_first() {
        let r = report("sms", Some("84905123456"), Some("84905123456"));
        let moved = |step, agency_name, note| Moved {
            report: &r,
            step,
            agency: "hai-chau",
            agency_name,
            note,
            at: "2024-11-06T03:00:00Z",
        };
        let long = "Đội duy tu đã vá ổ gà, thảm lại mặt đường và cắm biển báo; ".repeat(20);
        let cases = [
            (
                moved(Step::To(Status::InProgress), "UBND quận Hải Châu", Some("Đã cử đội kiểm tra")),
                "Phản ánh PA-241105-0001: đang được xử lý (cơ quan UBND quận Hải Châu). Ghi chú: Đã cử đội kiểm tra.",
                "Phan anh PA-241105-0001: dang duoc xu ly (co quan UBND quan Hai Chau). Ghi chu: Da cu doi kiem tra.",
            ),
            (
                moved(Step::To(Status::Resolved), "UBND quận Hải Châu", Some(long.as_str())),
                "Phản ánh PA-241105-0001: đã xử lý xong. Đánh giá: nhắn DG PA-241105-0001 <1-5>. Ghi chú: Đội duy tu",
                "Phan anh PA-241105-0001: da xu ly xong. Danh gia: nhan DG PA-241105-0001 <1-5>. Ghi chu: Doi duy tu",
            ),
            (
                moved(Step::To(Status::Rejected), "UBND quận Hải Châu", Some("Không thuộc thẩm quyền")),
                "Phản ánh PA-241105-0001: không được xử lý. Lý do: Không thuộc thẩm quyền.",
                "Phan anh PA-241105-0001: khong duoc xu ly. Ly do: Khong thuoc tham quyen.",
            ),
            (
                moved(Step::Reassigned, "Sở Giao thông vận tải", None),
                "Phản ánh PA-241105-0001: đã chuyển cho Sở Giao thông vận tải xử lý.",
                "Phan anh PA-241105-0001: da chuyen cho So Giao thong van tai xu ly.",
            ),
        ];
        for (m, chat, sms) in cases {
            let text = message(&m);
            assert!(text.starts_with(chat), "{text}");
            assert!(text.chars().count() <= MAX_NOTE_IN_MESSAGE + 120, "{text}");
            let one = civic::text::sms(&text);
            assert!(one.starts_with(sms) && one.len() <= civic::text::SMS_MAX, "{one}");
        }
    }

    #[test]
    fn events_carry_public_facts_only() {
        let r = report("zalo", Some("z1"), Some("0905123456"));
        let created = created(&r);
        assert_eq!(
            created.data,
            json!({"code": "PA-241105-0001", "status": "received", "category": "road-damage", "agency": "hai-chau",
                "district": "hai chau", "created_at": "2024-11-05T09:00:00+07:00", "due_at": "2024-11-08T09:00:00+07:00"})
        );
        assert_eq!(created.citizen, None);
        let m = Moved {
            report: &r,
            step: Step::Reassigned,
            agency: "so-gtvt",
            agency_name: "Sở Giao thông vận tải",
            note: Some("Chuyển cho so-gtvt"),
            at: "2024-11-06T03:00:00Z",
        };
        let e = status_changed(&m);
        assert_eq!(
            e.data,
            json!({"code": "PA-241105-0001", "status": "reassigned", "category": "road-damage", "agency": "so-gtvt",
                "previous_agency": "hai-chau", "note": "Chuyển cho so-gtvt", "at": "2024-11-06T10:00:00+07:00"})
        );
        let c = e.citizen.unwrap_or_else(|| panic!("a citizen"));
        assert_eq!((c.channel, c.address.as_str(), c.phone.as_deref()), (Channel::Zalo, "z1", Some("0905123456")));
        assert_eq!(
            c.template.map(|t| (t.name, t.data)),
            Some((
                TEMPLATE,
                json!({"code": "PA-241105-0001", "status": "Đã chuyển cơ quan", "time": "10:00 06/11/2024"})
            ))
        );
        let o = overdue("PA-241105-0001", "road-damage", "hai-chau", Status::InProgress, "2024-11-08T02:00:00Z");
        for data in [&created.data, &e.data, &o.data] {
            assert!(is_public(data), "{data}");
        }
    }
}
