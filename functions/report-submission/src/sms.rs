//! POST /reports/sms
//!
//! The SMS gateway's webhook for the keywords `PA` and `TT`, on the contract of
//! [`civic::sms`] (signed body, stored before it is answered, redeliveries get the same
//! reply). Replies are one ASCII SMS.
//!
//! - `PA <nội dung>` files a report from the sender's phone: its category is the one whose
//!   keywords the text contains (the longest keyword wins), else `other`; its place is the
//!   district the text names, if any. The gateway's message id makes it idempotent. The reply
//!   gives the report's code. A text longer than [`report::MAX_DESCRIPTION`] characters is
//!   refused with a reply that says so, never filed cut.
//! - `TT <mã phản ánh>` answers the report's status, and as much of its last note as fits.

use bytes::Bytes;
use chrono::DateTime;
use civic::text::sms;
use civic::{Error, Platform};
use http::{Request, Response};

use crate::report::{self, Filing};
use crate::store::{self, DB};

pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::sms::webhook(req, env, DB, async |msg| answer(env, &msg.id, &msg.from, &msg.text, &msg.to).await).await
}

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

/// The reply to one message.
pub async fn answer(env: &impl Platform, id: &str, from: &str, text: &str, to: &str) -> Result<String, Error> {
    let (keyword, rest) = civic::sms::keyword(text);
    let short = civic::sms::short_code(to);
    match keyword.as_str() {
        "pa" if !rest.is_empty() => file(env, id, from, rest, short).await,
        "tt" if !rest.is_empty() => status(env, rest).await,
        _ => Ok(sms(&format!(
            "Phản ánh hiện trường: soạn PA <nội dung> gửi {short}. Tra cứu: soạn TT <mã phản ánh>. VD: PA Ổ gà trước 12 Trần Phú, Hải Châu"
        ))),
    }
}

/// `PA <text>` from `from`, gateway message `id`: files the report once; the reply gives its
/// code, agency and due time.
async fn file(env: &impl Platform, id: &str, from: &str, text: &str, short: &str) -> Result<String, Error> {
    if text.chars().count() > report::MAX_DESCRIPTION {
        // Refused, not cut: a report filed from part of a message would say less than the
        // citizen wrote, without their knowing.
        let max = report::MAX_DESCRIPTION;
        return Ok(sms(&format!("Phản ánh dài quá {max} ký tự; vui lòng gửi ngắn hơn hoặc dùng ứng dụng.")));
    }
    let Some(category) = category_for(env, text).await? else {
        return Ok(sms(
            "Chưa xác định được lĩnh vực của phản ánh; vui lòng gọi đường dây nóng 1022 hoặc dùng ứng dụng.",
        ));
    };
    let address = civic::district::named_in(text)
        .map_or_else(|| "Không rõ (gửi qua SMS)".to_owned(), |d| format!("Quận {}", d.name));
    let filing = Filing {
        category,
        description: text.to_owned(),
        lat: None,
        lng: None,
        address: Some(address),
        media_urls: Vec::new(),
        media_ids: Vec::new(),
        anonymous: false,
        name: None,
        phone: Some(from.to_owned()).filter(|p| !p.is_empty()),
        attributes: Vec::new(),
    };
    let (code, _) = report::file(env, &filing, None, "sms", Some(format!("sms:{id}"))).await?;
    let (r, _) = store::get(env, &code).await?.ok_or(Error::NotFound)?;
    let agency = store::agency_name(env, &r.agency).await?;
    Ok(sms(&format!(
        "Đã nhận phản ánh {code}, giao {agency} xử lý trước {}. Tra cứu: soạn TT {code} gửi {short}",
        when(&r.due_at)
    )))
}

/// `TT <code>`: the report's status, agency, due time and last note (words after the code
/// are ignored: people add thanks).
async fn status(env: &impl Platform, text: &str) -> Result<String, Error> {
    let code = text.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    let Some((r, history)) = store::get(env, &code).await? else {
        let given = civic::text::sms_within(&code, MAX_ECHOED_CODE);
        return Ok(sms(&format!("Không tìm thấy phản ánh {given}. Mã có dạng PA-YYMMDD-NNNN.")));
    };
    let agency = store::agency_name(env, &r.agency).await?;
    let last_note = history.iter().rev().find_map(|e| e.note.clone()).unwrap_or_default();
    let head = format!("Phản ánh {code}: {} ({agency}), hạn {}.", r.status.label_vi(), when(&r.due_at));
    Ok(status_reply(&head, &last_note))
}
