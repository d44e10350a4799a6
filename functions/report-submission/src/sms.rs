//! POST /reports/sms
//!
//! The SMS gateway's webhook for the keywords `PA`, `TT` and `DG`, on the contract of
//! [`civic::sms`] (signed body, stored before it is answered, redeliveries get the same
//! reply). The message becomes a [`Command`] on the `sms` channel, answered by
//! [`crate::command::answer`], the code behind `POST /reports/command`; this module writes
//! its replies, one ASCII SMS each.
//!
//! - `PA <nội dung>` files a report from the sender's phone: its category is the one whose
//!   keywords the text contains (the longest keyword wins), else `other`; its place is the
//!   district the text names, if any. The gateway's message id makes it idempotent. The reply
//!   gives the report's code. A text longer than [`report::MAX_DESCRIPTION`] characters is
//!   refused with a reply that says so, never filed cut.
//! - `TT <mã phản ánh>` answers the report's status, and as much of its last note as fits.
//! - `DG <mã phản ánh> <1-5>` rates a resolved report, once, from the phone it was filed
//!   with (the rules are [`crate::command`]'s).
//!
//! A report filed now also writes its `report.created` event: the answer is marked for
//! delivery right after it ([`civic::outbox::soon`]). The reply is the citizen's
//! confirmation; each later status change reaches them by SMS ([`crate::notify`]).

use std::cell::Cell;

use bytes::Bytes;
use chrono::DateTime;
use civic::command::{Channel, Command};
use civic::text::sms;
use civic::{Error, Platform};
use http::{Request, Response};

use crate::command::Outcome;
use crate::report;
use crate::store::DB;

/// `POST /reports/sms`: `200 {"reply": "<one SMS>"}`; 401 for a bad signature, 400 for a
/// body that is not the gateway's message, 413 past [`civic::sms::MAX_BODY`].
pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let wrote = Cell::new(false);
    let mut resp = civic::sms::webhook(req, env, DB, async |msg| {
        let cmd = Command {
            phone: Some(msg.from.clone()).filter(|p| !p.is_empty()),
            id: Some(msg.id.clone()),
            ..Command::text(Channel::Sms, msg.from.as_str(), msg.text.as_str())
        };
        let answered = crate::command::answer(env, &cmd, &msg.to).await?;
        wrote.set(answered.wrote_events);
        Ok(answered.reply.reply)
    })
    .await?;
    if wrote.get() {
        civic::outbox::soon(&mut resp, DB);
    }
    Ok(resp)
}

/// A stored time as SMS replies write it: `09:00 06/11/2024` (Vietnam time).
fn when(t: &str) -> String {
    DateTime::parse_from_rfc3339(t).map(|t| civic::sms::date_time(&t)).unwrap_or_default()
}

/// The most characters of an unknown report code that a `TT` reply repeats (a real code,
/// `PA-YYMMDD-NNNN`, has 14); a longer one is shown cut, ending in `...`.
const MAX_ECHOED_CODE: usize = 30;

/// The fewest characters worth giving the last note in a `TT` reply; with less room left
/// after the head, the reply is the head alone.
const MIN_NOTE_ROOM: usize = 12;

/// The `TT` reply: `head` (status, agency, due time), then as much of the last note as fits
/// in one SMS, cut at a word and marked `...` when it does not fit whole.
fn status_reply(head: &str, note: &str) -> String {
    let head = sms(head);
    let room = civic::text::SMS_MAX.saturating_sub(head.len() + 1);
    if note.trim().is_empty() || room < MIN_NOTE_ROOM {
        return head;
    }
    format!("{head} {}", civic::text::sms_within(note, room))
}

/// The SMS reply for `outcome` (one SMS of printable ASCII); `short` is the short code the
/// message was sent to, quoted when the reply says what to send. The outcomes only chat
/// commands come to are written as their chat text, made an SMS.
pub fn text(outcome: &Outcome, short: &str) -> String {
    let short = civic::sms::short_code(short);
    match outcome {
        Outcome::Help => sms(&format!(
            "Phản ánh hiện trường: soạn PA <nội dung> gửi {short}. Tra cứu: TT <mã phản ánh>. Đánh giá: DG <mã phản ánh> <1-5>. VD: PA Ổ gà trước 12 Trần Phú"
        )),
        // Refused, not cut: a report filed from part of a message would say less than the
        // citizen wrote, without their knowing.
        Outcome::TooLong => sms(&format!(
            "Phản ánh dài quá {} ký tự; vui lòng gửi ngắn hơn hoặc dùng ứng dụng.",
            report::MAX_DESCRIPTION
        )),
        Outcome::NoCategory => {
            sms("Chưa xác định được lĩnh vực của phản ánh; vui lòng gọi đường dây nóng 1022 hoặc dùng ứng dụng.")
        }
        Outcome::Filed(f) => sms(&format!(
            "Đã nhận phản ánh {}, giao {} xử lý trước {}. Tra cứu: soạn TT {} gửi {short}",
            f.code,
            f.agency,
            when(&f.due_at),
            f.code
        )),
        Outcome::Unknown(given) => {
            let given = civic::text::sms_within(given, MAX_ECHOED_CODE);
            sms(&format!("Không tìm thấy phản ánh {given}. Mã có dạng PA-YYMMDD-NNNN."))
        }
        Outcome::Standing(s) => {
            let head = format!("Phản ánh {}: {} ({}), hạn {}.", s.code, s.status.label_vi(), s.agency, when(&s.due_at));
            status_reply(&head, s.last_note.as_ref().map_or("", |(_, note)| note.as_str()))
        }
        Outcome::RateHow => sms(&format!(
            "Đánh giá phản ánh đã xử lý xong: soạn DG <mã phản ánh> <1-5> gửi {short} (5 là hài lòng nhất). VD: DG PA-241105-0001 5"
        )),
        Outcome::BadStars(code) => sms(&format!(
            "Số sao đánh giá từ 1 đến 5 (5 là hài lòng nhất). VD: soạn DG {code} 5 gửi {short}. Chưa ghi nhận đánh giá."
        )),
        Outcome::NotReporter(code) => sms(&format!(
            "Chỉ người gửi phản ánh {code} mới đánh giá được, từ số điện thoại đã gửi. Chưa ghi nhận đánh giá."
        )),
        Outcome::NotResolved(code, status) => sms(&format!(
            "Phản ánh {code}: {}; chỉ đánh giá được khi đã xử lý xong. Chưa ghi nhận đánh giá.",
            status.label_vi()
        )),
        Outcome::AlreadyRated(code, stars) => {
            sms(&format!("Phản ánh {code} đã được đánh giá {stars}/5; mỗi phản ánh chỉ đánh giá một lần."))
        }
        Outcome::Rated(code, stars) => sms(&format!("Cảm ơn bạn đã đánh giá phản ánh {code}: {stars}/5.")),
        // One SMS for a flood of filings: the one that crossed the limit; the rest go
        // unanswered (an empty reply is no SMS).
        Outcome::TooMany { until, first: true } => {
            sms(&format!("Bạn đã gửi nhiều phản ánh trong thời gian ngắn; vui lòng gửi tiếp sau {}.", when(until)))
        }
        Outcome::TooMany { first: false, .. } => String::new(),
        Outcome::NotPlainText | Outcome::NeedPlace | Outcome::OutsideProvince | Outcome::ForeignMedia(_) => {
            sms(&crate::command::chat_text(outcome))
        }
    }
}

/// The category whose keywords the text contains (longest keyword first), else `other`.
pub async fn category_for(env: &impl Platform, text: &str) -> Result<Option<String>, Error> {
    let folded = format!(" {} ", civic::text::words(text).join(" "));
    let rows = env.query(DB, "SELECT code, keywords FROM categories", &[]).await?;
    let mut best: Option<(usize, String)> = None;
    let mut other = None;
    for r in rows.iter() {
        let code = r.str("code")?;
        if code == "other" {
            other = Some(code.to_owned());
        }
        for k in r.str("keywords")?.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            if folded.contains(&format!(" {k} ")) && best.as_ref().is_none_or(|(n, _)| k.len() > *n) {
                best = Some((k.len(), code.to_owned()));
            }
        }
    }
    Ok(best.map(|(_, c)| c).or(other))
}
