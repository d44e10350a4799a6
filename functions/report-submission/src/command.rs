//! POST /reports/command
//!
//! The chat bot's (and [`crate::sms`]'s) way to file, follow and rate reports, on the contract of
//! [`civic::command`]: a signed [`Command`] in (`X-Signature`, HMAC-SHA256 of the body with
//! `internal_secret`), `200 {"reply", "choices"}` out. Errors are problem+json: 401 for a bad
//! signature, 400 for a body that is not a command, 413 past [`civic::command::MAX_BODY`],
//! 422 naming every bad field (also `media[i]` for one of our photo URLs that names no
//! uploaded photo), 500 when `internal_secret` is unset.
//!
//! On `sms` the replies are those of `POST /reports/sms`, word for word ([`crate::sms`]). On
//! `zalo` and `telegram` they are Vietnamese with diacritics, in whole sentences:
//!
//! - `PA <nội dung>` files one report ([`report::file`], channel `zalo`/`telegram`) at the
//!   command's `location` (inside the province) and/or `address`; the place decides the
//!   agency (a location by its district, an address by the district it names). Its photos
//!   are the command's `media`, which must be our own URLs
//!   (`{public_base_url}/reports/media/{id}`, see [`crate::media`]). The reply gives the
//!   code, the agency, the due time and how to follow it (`TT <code>`, also offered as a
//!   button). Nothing is filed, and the reply says why, when the place is missing or outside
//!   the province, a media URL is not ours, the text is not plain, or no category fits.
//!   With an `id`, the idempotency key is `<channel>:<id>`: a repeat answers the same code
//!   and files nothing. The sender's `user` id is kept with the report (`channel_user`), for
//!   messages back, and never shown publicly.
//!   A report filed now also writes its `report.created` event ([`crate::notify`]), and
//!   the answer is marked for delivery ([`civic::outbox::soon`]); the reply is the citizen's
//!   confirmation, no message follows it. Filings count against [`report::FILING`] per
//!   sender (the SMS number, the chat user): over it nothing is filed and the reply says when
//!   to file again; over SMS only the filing that crossed the limit is answered (an empty
//!   reply is no SMS).
//! - `TT <mã phản ánh>`: status, agency, due time (and whether it has passed), and the last
//!   note of the report's public history, in full.
//! - `DG <mã phản ánh> <1-5> [nhận xét]`: the reporter rates their resolved report, once
//!   (the rating route's rule, [`lifecycle::record_rating`]). The reporter is the sender of
//!   an SMS from the phone the report was filed with, or on chat the same channel and user
//!   (or the same phone, when the command carries one). The reply thanks them, or says
//!   why not: an unknown code, stars not from 1 to 5, not the reporter, not resolved yet,
//!   rated already.
//! - Anything else: what to send.

use std::cell::Cell;

use bytes::Bytes;
use civic::command::{Choice, Command, Reply};
use civic::limit::Caller;
use civic::text::{cut, sentence};
use civic::{Error, FieldError, Platform};
use http::{Request, Response};

use crate::report::{self, Filing, Stored};
use crate::status::Status;
use crate::{geo, lifecycle, media, sms, store};

/// `POST /reports/command` (see the module docs).
pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let wrote = Cell::new(false);
    let mut resp = civic::command::serve(req, env, async |cmd| {
        let answered = answer(env, cmd, civic::sms::SHORT_CODE).await?;
        wrote.set(answered.wrote_events);
        Ok(answered.reply)
    })
    .await?;
    if wrote.get() {
        civic::outbox::soon(&mut resp, store::DB);
    }
    Ok(resp)
}

/// A filed report, as its replies tell it.
#[derive(Clone, Debug, PartialEq)]
pub struct Filed {
    /// `PA-YYMMDD-NNNN`
    pub code: String,
    /// The agency's name.
    pub agency: String,
    /// Stored UTC RFC 3339.
    pub due_at: String,
    /// The category's Vietnamese name.
    pub category: Option<String>,
    /// The open report nearby that this one repeats.
    pub duplicate_of: Option<String>,
    /// Filed by this command (`false`: a repeat, answered with the first one's code).
    pub fresh: bool,
}

/// Where a report stands, as `TT` tells it.
#[derive(Clone, Debug, PartialEq)]
pub struct Standing {
    pub code: String,
    pub status: Status,
    pub category: Option<String>,
    /// The agency's name.
    pub agency: String,
    /// Stored UTC RFC 3339.
    pub due_at: String,
    /// Open and past its due time.
    pub overdue: bool,
    pub duplicate_of: Option<String>,
    /// The last note of its history: (stored time, note).
    pub last_note: Option<(String, String)>,
}

/// What a command came to, before it is written for its channel ([`crate::sms::text`],
/// [`chat_text`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Not `PA <text>` or `TT <code>`: what to send.
    Help,
    /// `PA` longer than [`report::MAX_DESCRIPTION`] characters: refused, not cut.
    TooLong,
    /// `PA` (chat) whose text or address holds control characters.
    NotPlainText,
    /// `PA` (chat) with neither a location nor an address.
    NeedPlace,
    /// `PA` (chat) at a location outside the province.
    OutsideProvince,
    /// `PA` (chat) whose media URL at this 1-based position is not one of ours.
    ForeignMedia(usize),
    /// `PA` whose text no category's keywords match, in a catalogue without `other`.
    NoCategory,
    /// `PA` filed now, or before under the same idempotency key.
    Filed(Filed),
    /// `PA` refused: the sender filed [`report::FILING`]'s number of reports in its window,
    /// which ends at `until` (stored UTC); `first` for the filing that crossed the limit
    /// (over SMS only that one is answered).
    TooMany { until: String, first: bool },
    /// `TT` of no report: the code as given (upper case).
    Unknown(String),
    /// `TT` of a report.
    Standing(Standing),
    /// `DG` without a report code: how to rate.
    RateHow,
    /// `DG <code>` of a report without stars from 1 to 5: the code.
    BadStars(String),
    /// `DG` of a report by someone who did not file it: the code.
    NotReporter(String),
    /// `DG` of a report not resolved (yet): the code and where it stands.
    NotResolved(String, Status),
    /// `DG` of a report rated before: the code and its stars.
    AlreadyRated(String, i64),
    /// `DG` recorded: the code and the stars.
    Rated(String, i64),
}

/// The reply to one command, and whether answering it wrote events to the outbox (a report
/// filed now), so that its answer is marked for delivery ([`civic::outbox::soon`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Answered {
    pub reply: Reply,
    pub wrote_events: bool,
}

/// The reply to one command; `short_code` is the SMS short code SMS replies quote (the one
/// the message was sent to). Errors: the database's, and a 422 (`media[i]`) for one of our
/// photo URLs that names no uploaded photo.
pub async fn answer(env: &impl Platform, cmd: &Command, short_code: &str) -> Result<Answered, Error> {
    let (keyword, rest) = civic::sms::keyword(&cmd.text);
    let outcome = match keyword.as_str() {
        "pa" if !rest.is_empty() => file(env, cmd, rest).await?,
        "tt" if !rest.is_empty() => follow(env, rest).await?,
        "dg" => rate(env, cmd, rest).await?,
        _ => Outcome::Help,
    };
    let wrote_events = matches!(&outcome, Outcome::Filed(f) if f.fresh);
    if !cmd.channel.is_chat() {
        return Ok(Answered { reply: Reply::text(sms::text(&outcome, short_code)), wrote_events });
    }
    let reply = Reply::for_channel(cmd.channel, &chat_text(&outcome));
    let reply = match &outcome {
        Outcome::Filed(f) => {
            reply.with_choices(vec![Choice::new(format!("Theo dõi {}", f.code), format!("TT {}", f.code))])
        }
        _ => reply,
    };
    Ok(Answered { reply, wrote_events })
}

/// `PA <text>`: files the report once (see the module docs), or says why not.
async fn file(env: &impl Platform, cmd: &Command, text: &str) -> Result<Outcome, Error> {
    let chat = cmd.channel.is_chat();
    let key = cmd.id.as_ref().map(|id| format!("{}:{id}", cmd.channel.as_str()));
    if let Some(key) = &key
        && let Some(code) = store::by_key(env, key).await?
    {
        return filed(env, &code, false).await;
    }
    if text.chars().count() > report::MAX_DESCRIPTION {
        return Ok(Outcome::TooLong);
    }
    let mut filing = Filing {
        category: String::new(),
        description: text.to_owned(),
        lat: None,
        lng: None,
        address: None,
        media_urls: Vec::new(),
        media_ids: Vec::new(),
        anonymous: false,
        name: None,
        phone: None,
        attributes: Vec::new(),
        channel_user: Some(cmd.user.clone()),
    };
    if chat {
        let address = cmd.address.as_deref().map(|a| a.split_whitespace().collect::<Vec<_>>().join(" "));
        if !civic::validate::plain_text(text) || address.as_deref().is_some_and(|a| a.chars().any(char::is_control)) {
            return Ok(Outcome::NotPlainText);
        }
        if let Some(l) = cmd.location {
            if !geo::in_province(l.lat, l.lng) {
                return Ok(Outcome::OutsideProvince);
            }
            (filing.lat, filing.lng) = (Some(l.lat), Some(l.lng));
        }
        filing.address = address.filter(|a| !a.is_empty());
        if filing.lat.is_none() && filing.address.is_none() {
            return Ok(Outcome::NeedPlace);
        }
        if let Some(i) = cmd.media.iter().position(|u| media::id_in(env, u).is_none()) {
            return Ok(Outcome::ForeignMedia(i + 1));
        }
        filing.media_urls = cmd.media.clone();
        filing.phone = cmd.phone.clone().filter(|p| civic::phone::is_valid(p));
    } else {
        // SMS: the place is the district the text names; the phone, the sender's.
        filing.address = Some(
            civic::district::named_in(text)
                .map_or_else(|| "Không rõ (gửi qua SMS)".to_owned(), |d| format!("Quận {}", d.name)),
        );
        filing.phone = cmd.phone.clone().or_else(|| Some(cmd.user.clone())).filter(|p| !p.is_empty());
    }
    let Some(category) = sms::category_for(env, text).await? else {
        return Ok(Outcome::NoCategory);
    };
    filing.category = category;
    let caller = if chat {
        Caller::Chat { channel: cmd.channel.as_str().to_owned(), user: cmd.user.clone() }
    } else {
        Caller::Phone(cmd.user.clone())
    };
    let counted = report::FILING.count(env, &caller)?;
    match report::file(env, &filing, None, cmd.channel.as_str(), key, &counted).await.map_err(media_fields)? {
        Stored::Now(code) => filed(env, &code, true).await,
        Stored::Before(code) => filed(env, &code, false).await,
        Stored::OverLimit { retry_after, first } => {
            let wait = chrono::Duration::seconds(i64::try_from(retry_after).unwrap_or(i64::MAX / 2));
            Ok(Outcome::TooMany { until: civic::web::stamp(env.now() + wait), first })
        }
    }
}

/// A 422 of [`report::file`] names our photo URLs as `media_urls[i]`: the command calls
/// them `media[i]`.
fn media_fields(e: Error) -> Error {
    match e {
        Error::Validation(list) => Error::Validation(
            list.into_iter()
                .map(|f| match f.field.strip_prefix("media_urls") {
                    Some(index) => FieldError { field: format!("media{index}"), ..f },
                    None => f,
                })
                .collect(),
        ),
        other => other,
    }
}

/// The [`Outcome::Filed`] of a stored report, filed by this command or before it.
async fn filed(env: &impl Platform, code: &str, fresh: bool) -> Result<Outcome, Error> {
    let (r, _, names) =
        store::get_named(env, code).await?.ok_or_else(|| Error::Internal(format!("report {code} vanished")))?;
    Ok(Outcome::Filed(Filed {
        code: r.code,
        agency: names.agency,
        due_at: r.due_at,
        category: names.category.map(|(vi, _)| vi),
        duplicate_of: r.duplicate_of,
        fresh,
    }))
}

/// `DG <code> <1-5> [nhận xét]`: the reporter's rating of their resolved report, once
/// ([`lifecycle::record_rating`], the rating route's own update); words after the stars are
/// its comment. Only the reporter rates: on SMS the phone they filed with
/// ([`civic::phone::same`]); on chat the same channel and user, or the same phone when the
/// command carries one.
async fn rate(env: &impl Platform, cmd: &Command, text: &str) -> Result<Outcome, Error> {
    let mut words = text.split_whitespace();
    let Some(code) = words.next().map(str::to_ascii_uppercase) else {
        return Ok(Outcome::RateHow);
    };
    let Some((r, _)) = store::get(env, &code).await? else {
        return Ok(Outcome::Unknown(code));
    };
    let (lo, hi) = lifecycle::STARS;
    let Some(stars) = words.next().and_then(|w| w.parse::<i64>().ok()).filter(|n| (lo..=hi).contains(n)) else {
        return Ok(Outcome::BadStars(r.code));
    };
    if !is_reporter(&r, cmd) {
        return Ok(Outcome::NotReporter(r.code));
    }
    if let Some(refused) = unratable(&r) {
        return Ok(refused);
    }
    let comment = words.collect::<Vec<_>>().join(" ");
    let comment =
        Some(cut(&comment, lifecycle::MAX_COMMENT)).filter(|c| !c.is_empty() && civic::validate::plain_text(c));
    if lifecycle::record_rating(env, &r.code, stars, comment).await? {
        return Ok(Outcome::Rated(r.code, stars));
    }
    // Rated or moved between the read and the update: say which, as it is now.
    let (now, _) = store::get(env, &r.code).await?.ok_or(Error::NotFound)?;
    Ok(unratable(&now).unwrap_or(Outcome::AlreadyRated(now.code, stars)))
}

/// Why `r` cannot be rated now, if it cannot: not resolved, or rated already.
fn unratable(r: &store::Report) -> Option<Outcome> {
    match (r.status, r.rating) {
        (Status::Resolved, None) => None,
        (Status::Resolved, Some(stars)) => Some(Outcome::AlreadyRated(r.code.clone(), stars)),
        (status, _) => Some(Outcome::NotResolved(r.code.clone(), status)),
    }
}

/// Whether the sender of `cmd` filed `r`: over SMS, from the phone it was filed with; over
/// chat, from the same channel and user, or with the same phone.
fn is_reporter(r: &store::Report, cmd: &Command) -> bool {
    let phone = if cmd.channel.is_chat() { cmd.phone.as_deref() } else { cmd.phone.as_deref().or(Some(&cmd.user)) };
    let same_phone = matches!((phone, r.reporter_phone.as_deref()), (Some(a), Some(b)) if civic::phone::same(a, b));
    let same_chat = cmd.channel.is_chat()
        && r.channel == cmd.channel.as_str()
        && r.channel_user.as_deref().is_some_and(|u| !u.is_empty() && u == cmd.user);
    same_phone || same_chat
}

/// `TT <code>`: where the report stands (words after the code are ignored: people add
/// thanks).
async fn follow(env: &impl Platform, text: &str) -> Result<Outcome, Error> {
    let code = text.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    let Some((r, history, names)) = store::get_named(env, &code).await? else {
        return Ok(Outcome::Unknown(code));
    };
    let overdue = r.status.is_open() && civic::web::parse_stamp(&r.due_at).is_some_and(|d| env.now() > d);
    Ok(Outcome::Standing(Standing {
        code: r.code,
        status: r.status,
        category: names.category.map(|(vi, _)| vi),
        agency: names.agency,
        due_at: r.due_at,
        overdue,
        duplicate_of: r.duplicate_of,
        last_note: history.iter().rev().find_map(|e| e.note.clone().map(|n| (e.at.clone(), n))),
    }))
}

/// A stored time as chat replies write it: `09:00 ngày 06/11/2024` (Vietnam time).
fn when(stored: &str) -> String {
    civic::web::parse_stamp(stored)
        .map(|t| t.with_timezone(&civic::web::vietnam()))
        .map(|t| format!("{} ngày {}", t.format("%H:%M"), t.format("%d/%m/%Y")))
        .unwrap_or_default()
}

/// The chat reply for `outcome`: Vietnamese with diacritics, whole sentences.
pub fn chat_text(outcome: &Outcome) -> String {
    const NOT_FILED: &str = "Phản ánh chưa được ghi nhận.";
    match outcome {
        Outcome::Help => "Gửi phản ánh hiện trường: nhắn PA <nội dung>, kèm vị trí (chia sẻ vị trí hoặc ghi địa chỉ) \
            và ảnh nếu có, ví dụ PA Ổ gà lớn trước số 12 Trần Phú, Hải Châu. Tra cứu phản ánh: nhắn TT <mã phản ánh>, \
            ví dụ TT PA-241105-0001. Đánh giá phản ánh đã xử lý xong: nhắn DG <mã phản ánh> <1-5>, ví dụ \
            DG PA-241105-0001 5."
            .to_owned(),
        Outcome::TooLong => format!(
            "Nội dung phản ánh dài quá {} ký tự. Vui lòng gửi ngắn gọn hơn. {NOT_FILED}",
            report::MAX_DESCRIPTION
        ),
        Outcome::NotPlainText => {
            format!("Nội dung hoặc địa chỉ có ký tự không hợp lệ. Vui lòng gửi lại bằng chữ thường. {NOT_FILED}")
        }
        Outcome::NeedPlace => format!(
            "Vui lòng cho biết nơi cần xử lý: chia sẻ vị trí, hoặc ghi địa chỉ (số nhà, đường, phường, quận), rồi gửi \
             lại PA <nội dung>. {NOT_FILED}"
        ),
        Outcome::OutsideProvince => format!(
            "Vị trí bạn chia sẻ nằm ngoài địa bàn thành phố. Vui lòng kiểm tra lại vị trí, hoặc ghi địa chỉ nơi cần \
             xử lý. {NOT_FILED}"
        ),
        Outcome::ForeignMedia(n) => format!(
            "Ảnh thứ {n} không phải ảnh đã gửi qua hệ thống phản ánh của thành phố nên không nhận được. Vui lòng gửi \
             ảnh trực tiếp trong cuộc trò chuyện. {NOT_FILED}"
        ),
        Outcome::NoCategory => format!(
            "Chưa xác định được lĩnh vực của phản ánh. Vui lòng mô tả rõ hơn, gọi đường dây nóng 1022 hoặc dùng ứng \
             dụng. {NOT_FILED}"
        ),
        Outcome::Filed(f) => {
            let category = f.category.as_ref().map(|c| format!(" (lĩnh vực {c})")).unwrap_or_default();
            let duplicate = f
                .duplicate_of
                .as_ref()
                .map(|d| {
                    format!(
                        " Phản ánh {d} ở gần đó về cùng việc đang được xử lý; hai phản ánh được theo dõi cùng nhau."
                    )
                })
                .unwrap_or_default();
            format!(
                "Đã nhận phản ánh {code}{category}. Cơ quan xử lý: {}, hạn xử lý trước {}.{duplicate} Để theo dõi, \
                 nhắn TT {code}.",
                f.agency,
                when(&f.due_at),
                code = f.code,
            )
        }
        Outcome::Unknown(given) => format!(
            "Không tìm thấy phản ánh {}. Mã phản ánh có dạng PA-YYMMDD-NNNN, ví dụ TT PA-241105-0001.",
            cut(given, 30)
        ),
        Outcome::RateHow => "Đánh giá phản ánh đã xử lý xong: nhắn DG <mã phản ánh> <1-5> (5 là hài lòng nhất), ví \
            dụ DG PA-241105-0001 5."
            .to_owned(),
        Outcome::BadStars(code) => {
            format!("Số sao đánh giá phải từ 1 đến 5 (5 là hài lòng nhất), ví dụ DG {code} 5. Chưa ghi nhận đánh giá.")
        }
        Outcome::NotReporter(code) => format!(
            "Chỉ người đã gửi phản ánh {code} mới đánh giá được, từ tài khoản hoặc số điện thoại đã dùng khi gửi. \
             Chưa ghi nhận đánh giá."
        ),
        Outcome::NotResolved(code, status) => format!(
            "Phản ánh {code} đang ở trạng thái {}; chỉ đánh giá được khi đã xử lý xong. Chưa ghi nhận đánh giá.",
            status.label_vi().to_lowercase()
        ),
        Outcome::AlreadyRated(code, stars) => {
            format!("Phản ánh {code} đã được đánh giá {stars}/5; mỗi phản ánh chỉ đánh giá một lần.")
        }
        Outcome::Rated(code, stars) => format!("Cảm ơn bạn đã đánh giá phản ánh {code}: {stars}/5."),
        Outcome::TooMany { until, .. } => format!(
            "Bạn đã gửi nhiều phản ánh trong thời gian ngắn. Vui lòng gửi tiếp sau {}. {NOT_FILED}",
            when(until)
        ),
        Outcome::Standing(s) => {
            let category = s.category.as_ref().map(|c| format!(" ({c})")).unwrap_or_default();
            let overdue = if s.overdue { ", đã quá hạn" } else { "" };
            let duplicate =
                s.duplicate_of.as_ref().map(|d| format!(" Phản ánh này trùng với phản ánh {d}.")).unwrap_or_default();
            let note = s
                .last_note
                .as_ref()
                .map(|(at, note)| format!(" Ghi chú mới nhất ({}): {}", when(at), sentence(note.trim())))
                .unwrap_or_default();
            format!(
                "Phản ánh {}{category}: {}. Cơ quan xử lý: {}, hạn xử lý {}{overdue}.{duplicate}{note}",
                s.code,
                s.status.label_vi(),
                s.agency,
                when(&s.due_at)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_url_errors_are_named_as_the_command_names_them() {
        let e = Error::Validation(vec![
            FieldError::new("media_urls[1]", civic::Msg::required()),
            FieldError::new("attributes.depth", civic::Msg::required()),
        ]);
        match media_fields(e) {
            Error::Validation(list) => {
                let fields: Vec<&str> = list.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(fields, ["media[1]", "attributes.depth"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn texts_table() {
        let standing = Standing {
            code: "PA-241105-0001".into(),
            status: Status::InProgress,
            category: Some("Hư hỏng mặt đường".into()),
            agency: "Sở Giao thông vận tải".into(),
            due_at: "2024-11-08T02:00:00Z".into(),
            overdue: true,
            duplicate_of: None,
            last_note: Some(("2024-11-06T03:00:00Z".into(), "Đội duy tu sẽ vá ổ gà trong tuần này".into())),
        };
        let cases = [
            (
                Outcome::Standing(standing.clone()),
                "Phản ánh PA-241105-0001 (Hư hỏng mặt đường): Đang xử lý. Cơ quan xử lý: Sở Giao thông vận tải, hạn xử \
                 lý 09:00 ngày 08/11/2024, đã quá hạn. Ghi chú mới nhất (10:00 ngày 06/11/2024): Đội duy tu sẽ vá ổ gà \
                 trong tuần này.",
            ),
            (
                Outcome::Standing(Standing { overdue: false, last_note: None, category: None, ..standing }),
                "Phản ánh PA-241105-0001: Đang xử lý. Cơ quan xử lý: Sở Giao thông vận tải, hạn xử lý 09:00 ngày \
                 08/11/2024.",
            ),
            (
                Outcome::Filed(Filed {
                    code: "PA-241105-0002".into(),
                    agency: "UBND quận Hải Châu".into(),
                    due_at: "2024-11-08T02:00:00Z".into(),
                    category: Some("Hư hỏng mặt đường".into()),
                    duplicate_of: Some("PA-241105-0001".into()),
                    fresh: true,
                }),
                "Đã nhận phản ánh PA-241105-0002 (lĩnh vực Hư hỏng mặt đường). Cơ quan xử lý: UBND quận Hải Châu, hạn \
                 xử lý trước 09:00 ngày 08/11/2024. Phản ánh PA-241105-0001 ở gần đó về cùng việc đang được xử lý; hai \
                 phản ánh được theo dõi cùng nhau. Để theo dõi, nhắn TT PA-241105-0002.",
            ),
            (
                Outcome::Unknown("PA-1234567890123456789012345678901".into()),
                "Không tìm thấy phản ánh PA-12345678901234567890123456…. Mã phản ánh có dạng PA-YYMMDD-NNNN, ví dụ \
                 TT PA-241105-0001.",
            ),
            (Outcome::ForeignMedia(2), "Ảnh thứ 2 không phải ảnh đã gửi qua hệ thống phản ánh"),
            (Outcome::NeedPlace, "Vui lòng cho biết nơi cần xử lý"),
        ];
        for (outcome, want) in cases {
            let text = chat_text(&outcome);
            assert!(text.starts_with(want), "{outcome:?}:\n{text}\n{want}");
            assert!(text.ends_with(['.', '…']), "{text}");
        }
    }

    #[test]
    fn sms_texts_are_one_ascii_sms_for_every_outcome() {
        let outcomes = [
            Outcome::Help,
            Outcome::TooLong,
            Outcome::NotPlainText,
            Outcome::NeedPlace,
            Outcome::OutsideProvince,
            Outcome::ForeignMedia(1),
            Outcome::NoCategory,
            Outcome::Unknown("X".repeat(200)),
            Outcome::RateHow,
            Outcome::BadStars("PA-241105-0001".into()),
            Outcome::NotReporter("PA-241105-0001".into()),
            Outcome::NotResolved("PA-241105-0001".into(), Status::InProgress),
            Outcome::AlreadyRated("PA-241105-0001".into(), 4),
            Outcome::Rated("PA-241105-0001".into(), 5),
        ];
        for o in outcomes {
            let text = sms::text(&o, "8188");
            assert!(text.is_ascii() && text.len() <= civic::text::SMS_MAX && !text.is_empty(), "{o:?}: {text}");
        }
    }
}
