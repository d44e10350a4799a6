//! What the bot answers, the same on Zalo and Telegram: each command goes to the function
//! that owns its answer (`POST <prefix>/command`, [`civic::command`]), and a `PA` report is
//! gathered over several messages (text, then place, then photos) before it is filed.
//!
//! | the citizen sends | the bot |
//! |---|---|
//! | `ATTP <tên>` / `ATTP #<id>` | food-safety's answer (best match, or the top 5 as buttons) |
//! | a location, outside a `PA` | food-safety's nearest places, certified ones first |
//! | `HS <mã hồ sơ> [4 số cuối]` | permit-status's answer |
//! | `TT <mã phản ánh>` | report-submission's answer |
//! | `DG <mã phản ánh> <1-5>` | report-submission rates a resolved report of this user, once |
//! | `PA <nội dung>` | asks for the place; then a location or an address; then photos and `GUI` files it once through report-submission, `HUY` cancels |
//! | a number `n` | the `n`th button of the last reply, as if tapped |
//! | anything else, or following the OA | the menu, as buttons |
//!
//! A conversation left for [`store::IDLE_MINUTES`] is dropped. A command keyword in the
//! middle of a conversation is answered as that command (`PA` starts over).
//!
//! **Rate limit** ([`RULE`], setting `rate_limit_chat_messages`, default 30 messages in 10
//! minutes per chat user): each message the bot answers is counted when its event is stored
//! ([`store::claim`], the same batch; a platform's redelivery is not counted again). The
//! message that crosses the limit gets one short reply saying when to write again
//! ([`too_many`]); the ones after it, until the window ends, get none. Every event is still
//! stored, and the webhook still answers the platform `200`: a platform that gets anything
//! else only sends the event again.

use chrono::{DateTime, Utc};
use civic::command::{self, Choice, Command, Location, Reply};
use civic::limit::{Caller, Count, Rule};
use civic::text::fold;
use civic::{Error, Platform};

use crate::photo::{self, PhotoRef};
use crate::store::{self, Conversation, Sender, Step};

/// The most photos a report takes.
pub const MAX_PHOTOS: usize = command::MAX_MEDIA;

/// What a citizen sent, once the platform's event is read.
#[derive(Clone, Debug, PartialEq)]
pub enum Inbound {
    Text(String),
    Location(Location),
    Photo(PhotoRef),
    /// They followed the OA (Zalo) or started the bot (Telegram `/start`).
    Follow,
}

/// The owners of the answers: Spin component id (the Workers service binding's name is the
/// same, upper-cased with `_`) and command route.
const FOOD: (&str, &str) = ("food-safety", "/food-safety/command");
const PERMITS: (&str, &str) = ("permit-status", "/permits/command");
const REPORTS: (&str, &str) = ("report-submission", "/reports/command");

/// The value of the "file it" and "cancel" buttons (typed, they work too, with or without
/// diacritics: `gửi`, `hủy`).
pub const SEND: &str = "GUI";
pub const CANCEL: &str = "HUY";

const MENU: &str = "Xin chào! Đây là trợ lý dịch vụ công của tỉnh. Chọn một dịch vụ bên dưới, hoặc soạn:\n\
• ATTP <tên cơ sở>: tra cứu an toàn thực phẩm của quán ăn\n\
• HS <mã hồ sơ>: tình trạng hồ sơ thủ tục hành chính\n\
• PA <nội dung>: gửi phản ánh hiện trường\n\
• TT <mã phản ánh>: tình trạng phản ánh đã gửi\n\
• DG <mã phản ánh> <1-5>: đánh giá kết quả xử lý phản ánh của bạn";

/// The menu: the commands, as buttons.
pub fn menu() -> Reply {
    Reply::text(MENU).with_choices(vec![
        Choice::new("Tra cứu an toàn thực phẩm", "ATTP"),
        Choice::new("Tra cứu hồ sơ", "HS"),
        Choice::new("Gửi phản ánh", "PA"),
        Choice::new("Tình trạng phản ánh", "TT"),
    ])
}

fn photo_buttons() -> Vec<Choice> {
    vec![Choice::new("Gửi phản ánh", SEND), Choice::new("Hủy", CANCEL)]
}

const ASK_PLACE: &str = "Phản ánh xảy ra ở đâu? Hãy chia sẻ vị trí, hoặc nhập địa chỉ (số nhà, đường, phường, quận).";

fn ask_photos(c: &Conversation) -> Reply {
    let n = c.media.len();
    let text = if n == 0 {
        format!("Đã ghi nhận địa điểm. Bạn có thể gửi tối đa {MAX_PHOTOS} ảnh hiện trường, rồi bấm \"Gửi phản ánh\".")
    } else {
        format!("Đã nhận {n}/{MAX_PHOTOS} ảnh. Gửi thêm ảnh, hoặc bấm \"Gửi phản ánh\".")
    };
    Reply::text(text).with_choices(photo_buttons())
}

/// The messages one chat user may send in a window: setting `rate_limit_chat_messages`.
/// 30 in 10 minutes is five times what a citizen filing a whole report needs (`PA`, the
/// place, five photos, `GUI`: eight messages) and more than anyone reads answers at, while a
/// script is held to one command (one call to another function, one reply) every 20 s.
pub const RULE: Rule = Rule { name: "chat_messages", default: "30/10m" };

/// One message of `from` to count against [`RULE`]. [`Error::Config`] when the setting does
/// not parse.
pub fn count(env: &impl Platform, from: Sender<'_>) -> Result<Count, Error> {
    RULE.count(env, &Caller::Chat { channel: from.channel.as_str().to_owned(), user: from.user.to_owned() })
}

/// The one reply a user gets for crossing [`RULE`]: when they can write again (`now` plus
/// `retry_after` seconds, rounded up to the minute), in Vietnam time: `17:05`, with the date
/// (`17:05 ngày 06/11/2024`) when that is not today.
pub fn too_many(now: DateTime<Utc>, retry_after: u64) -> Reply {
    let wait = chrono::Duration::seconds(i64::try_from(retry_after).unwrap_or(i64::MAX / 2));
    let again = now.checked_add_signed(wait).unwrap_or(now).with_timezone(&civic::web::vietnam());
    // rounded up: "after 17:05" must not come before the window's end
    let again = match 60 - i64::from(chrono::Timelike::second(&again)) {
        60 => again,
        up => again + chrono::Duration::seconds(up),
    };
    let today = now.with_timezone(&civic::web::vietnam()).date_naive();
    let when = if again.date_naive() == today {
        again.format("%H:%M").to_string()
    } else {
        again.format("%H:%M ngày %d/%m/%Y").to_string()
    };
    Reply::text(format!("Bạn gửi tin nhắn quá nhanh. Vui lòng thử lại sau {when}."))
}

const BUSY: &str = "Xin lỗi, hệ thống đang bận nên chưa trả lời được. Vui lòng thử lại sau ít phút.";

/// The reply to one message from `from`; `event_id` is the platform's id of the message
/// (it names a `PA` conversation that starts with it). Every reply with buttons is
/// remembered, so that a bare number picks one.
pub async fn answer(env: &impl Platform, from: Sender<'_>, event_id: &str, inbound: Inbound) -> Result<Reply, Error> {
    let reply = match inbound {
        Inbound::Follow => menu(),
        Inbound::Text(text) => text_message(env, from, event_id, &text).await?,
        Inbound::Location(at) => location(env, from, at).await?,
        Inbound::Photo(p) => photo_message(env, from, &p).await?,
    };
    store::remember_choices(env, from, &reply.choices).await?;
    Ok(reply)
}

/// Asks the owner; a failure is logged and answered with an apology (the citizen can retry).
async fn ask(env: &impl Platform, owner: (&str, &str), cmd: &Command) -> Reply {
    match command::call(env, owner.0, owner.1, cmd).await {
        Ok(reply) => reply,
        Err(e) => {
            civic::log::error(&format!("chat: asking {}: {e}", owner.0));
            Reply::text(BUSY)
        }
    }
}

fn command_of(from: Sender<'_>, text: &str) -> Command {
    Command::text(from.channel, from.user, text)
}

async fn text_message(env: &impl Platform, from: Sender<'_>, event_id: &str, text: &str) -> Result<Reply, Error> {
    let mut text = text.trim().to_owned();
    // a bare number picks a button of the last reply
    if let Ok(n) = text.parse::<usize>()
        && let Some(choice) = store::chosen(env, from, n).await?
    {
        text = choice.value;
    }
    let (keyword, rest) = civic::sms::keyword(&text);
    match keyword.as_str() {
        "attp" => return Ok(ask(env, FOOD, &command_of(from, &text)).await),
        "hs" => return Ok(ask(env, PERMITS, &command_of(from, &text)).await),
        "tt" | "dg" => return Ok(ask(env, REPORTS, &command_of(from, &text)).await),
        "pa" => return start_report(env, from, event_id, rest).await,
        // Telegram's start button
        "start" if text.starts_with('/') => return Ok(menu()),
        _ => {}
    }
    let conversation = store::conversation(env, from).await?;
    let word = fold(&text);
    match (conversation, word.as_str()) {
        // nothing readable: the step's question, or the menu
        (Some(c), "") if c.step == Step::Place => Ok(Reply::text(ASK_PLACE)),
        (Some(c), "") => Ok(ask_photos(&c)),
        (Some(_), "huy") => {
            store::end(env, from).await?;
            Ok(Reply::text("Đã hủy phản ánh. Soạn PA <nội dung> khi bạn muốn gửi lại."))
        }
        (Some(c), "gui") if c.step == Step::Photos => file(env, from, &c).await,
        (Some(c), "gui") => {
            let _ = c;
            Ok(Reply::text(ASK_PLACE))
        }
        (Some(mut c), _) if c.step == Step::Place => {
            if text.chars().count() > command::MAX_ADDRESS {
                return Ok(Reply::text(format!(
                    "Địa chỉ dài quá {} ký tự. Hãy nhập ngắn hơn, hoặc chia sẻ vị trí.",
                    command::MAX_ADDRESS
                )));
            }
            c.address = Some(text);
            c.step = Step::Photos;
            store::update(env, from, &c).await?;
            Ok(ask_photos(&c))
        }
        (Some(c), _) => Ok(ask_photos(&c)),
        (None, _) => Ok(menu()),
    }
}

async fn start_report(env: &impl Platform, from: Sender<'_>, event_id: &str, text: &str) -> Result<Reply, Error> {
    if text.is_empty() {
        return Ok(Reply::text(
            "Để gửi phản ánh, soạn PA <nội dung>, ví dụ: PA Đèn đường hỏng trước số 12 Trần Phú, Hải Châu.",
        ));
    }
    // `PA ` and the text must fit in one command
    let max = command::MAX_TEXT - 3;
    if text.chars().count() > max {
        return Ok(Reply::text(format!("Nội dung phản ánh dài quá {max} ký tự; vui lòng viết ngắn hơn.")));
    }
    let c = Conversation {
        id: format!("{}:{}:{event_id}", from.channel.as_str(), from.user),
        step: Step::Place,
        text: text.to_owned(),
        location: None,
        address: None,
        media: Vec::new(),
    };
    store::start(env, from, &c).await?;
    Ok(Reply::text(format!("Đã ghi nội dung phản ánh: \"{text}\". {ASK_PLACE}")))
}

async fn location(env: &impl Platform, from: Sender<'_>, at: Location) -> Result<Reply, Error> {
    match store::conversation(env, from).await? {
        Some(mut c) => {
            c.location = Some(at);
            c.step = Step::Photos;
            store::update(env, from, &c).await?;
            Ok(ask_photos(&c))
        }
        None => {
            let mut cmd = command_of(from, "ATTP");
            cmd.location = Some(at);
            Ok(ask(env, FOOD, &cmd).await)
        }
    }
}

async fn photo_message(env: &impl Platform, from: Sender<'_>, p: &PhotoRef) -> Result<Reply, Error> {
    let Some(mut c) = store::conversation(env, from).await? else {
        return Ok(Reply::text("Để gửi ảnh kèm phản ánh, hãy soạn PA <nội dung> trước, rồi gửi vị trí và ảnh."));
    };
    if c.media.len() >= MAX_PHOTOS {
        return Ok(Reply::text(format!("Mỗi phản ánh nhận tối đa {MAX_PHOTOS} ảnh. Bấm \"Gửi phản ánh\" để gửi."))
            .with_choices(photo_buttons()));
    }
    let url = match photo::store(env, from, p).await {
        Ok(url) => url,
        Err(e) => {
            civic::log::error(&format!("chat: storing a photo: {e}"));
            let reply = Reply::text(
                "Chưa lưu được ảnh này. Vui lòng gửi lại ảnh, hoặc bấm \"Gửi phản ánh\" để gửi không kèm ảnh.",
            );
            return Ok(if c.step == Step::Photos { reply.with_choices(photo_buttons()) } else { reply });
        }
    };
    c.media.push(url);
    store::update(env, from, &c).await?;
    if c.step == Step::Place {
        let n = c.media.len();
        return Ok(Reply::text(format!("Đã nhận {n} ảnh. {ASK_PLACE}")));
    }
    Ok(ask_photos(&c))
}

/// Files the conversation's report once (its id is the filing's idempotency id, so a retry
/// answers the same code), then ends the conversation.
async fn file(env: &impl Platform, from: Sender<'_>, c: &Conversation) -> Result<Reply, Error> {
    let cmd = Command {
        channel: from.channel,
        user: from.user.to_owned(),
        phone: None,
        text: format!("PA {}", c.text),
        location: c.location,
        address: c.address.clone(),
        media: c.media.clone(),
        id: Some(c.id.clone()),
    };
    match command::call(env, REPORTS.0, REPORTS.1, &cmd).await {
        Ok(reply) => {
            store::end(env, from).await?;
            Ok(reply)
        }
        Err(e) => {
            civic::log::error(&format!("chat: filing {}: {e}", c.id));
            Ok(Reply::text(
                "Chưa gửi được phản ánh do hệ thống đang bận. Vui lòng bấm \"Gửi phản ánh\" lại sau ít phút.",
            )
            .with_choices(photo_buttons()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_menu_offers_every_command() {
        let m = menu();
        let values: Vec<&str> = m.choices.iter().map(|c| c.value.as_str()).collect();
        assert_eq!(values, ["ATTP", "HS", "PA", "TT"]);
        for keyword in values {
            assert!(m.reply.contains(keyword), "{keyword}");
        }
    }

    #[test]
    fn the_notice_says_when_to_write_again_in_vietnam_time() {
        let now = civic::testing::t("2024-11-05T10:00:00Z");
        let notice = |wait| too_many(now, wait).reply;
        assert_eq!(notice(300), "Bạn gửi tin nhắn quá nhanh. Vui lòng thử lại sau 17:05.");
        assert_eq!(notice(301), "Bạn gửi tin nhắn quá nhanh. Vui lòng thử lại sau 17:06.", "rounded up");
        assert_eq!(notice(7 * 3600), "Bạn gửi tin nhắn quá nhanh. Vui lòng thử lại sau 00:00 ngày 06/11/2024.");
        assert!(too_many(now, 60).choices.is_empty());
    }
}
