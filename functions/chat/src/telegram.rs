//! POST /chat/telegram
//!
//! The Telegram Bot API webhook (`setWebhook` with `secret_token`).
//!
//! - `X-Telegram-Bot-Api-Secret-Token` must equal `telegram_secret_token` (constant time);
//!   otherwise 401 and nothing is read.
//! - Each `update_id` is stored before it is answered; a repeat gets `200 {}`, unless the
//!   first handling failed ([`store::claim`]: Telegram's retry of it is answered).
//! - `message` with `text`, `location` (`latitude`, `longitude`) or `photo` (the largest
//!   size is fetched with `getFile` and stored with the media store, [`crate::photo`]), and
//!   `callback_query` (a button tap: its `data` is the text it stands for; the tap is
//!   acknowledged with `answerCallbackQuery`) go to [`crate::bot`]. `/start` gets the menu.
//! - The reply goes back in the webhook's own response as a method call:
//!   `200 {"method": "sendMessage", "chat_id": <id>, "text": "...", "reply_markup":
//!   {"inline_keyboard": [[{"text", "callback_data"}], ...]}}` (the keyboard only with
//!   choices, one button a row). Other updates get `200 {}`.
//! - Calls that need a second request go to `{telegram_api_base}/bot<token>/<method>`. The
//!   token is never logged, and a file URL (which holds it) never leaves this function.
//! - **Rate limit** ([`crate::bot::RULE`], per chat, counted when the update is stored):
//!   the message that crosses it is answered with one notice saying when to write again
//!   ([`crate::bot::too_many`]); the ones after it, until the window ends, are stored and
//!   get `200 {}` (no reply, the button tap not acknowledged). Never a 429: Telegram would
//!   only retry.
//! - Messages sent later (`POST /chat/send`, the outbox of [`crate::tick()`]) go out with
//!   `sendMessage` ([`send_text`]).

use bytes::Bytes;
use civic::command::{Channel, Location, Reply};
use civic::{Error, Platform};
use http::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use crate::bot::{self, Inbound};
use crate::photo::PhotoRef;
use crate::send::Failed;
use crate::store::{self, Claim, Sender};

/// The largest webhook body (bytes).
pub const MAX_BODY: usize = 64 * 1024;

/// The longest `callback_data` Telegram takes (bytes); a longer choice is sent as its number.
pub const MAX_CALLBACK_DATA: usize = 64;

#[derive(Deserialize)]
struct Update {
    update_id: i64,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    callback_query: Option<CallbackQuery>,
}

#[derive(Deserialize)]
struct Chat {
    id: i64,
}

#[derive(Deserialize)]
struct TgLocation {
    latitude: f64,
    longitude: f64,
}

#[derive(Deserialize)]
struct PhotoSize {
    file_id: String,
    #[serde(default)]
    width: u64,
    #[serde(default)]
    height: u64,
}

#[derive(Deserialize)]
struct Message {
    chat: Chat,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    location: Option<TgLocation>,
    #[serde(default)]
    photo: Option<Vec<PhotoSize>>,
}

#[derive(Deserialize)]
struct CallbackQuery {
    id: String,
    #[serde(default)]
    message: Option<Message>,
    from: User,
    #[serde(default)]
    data: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: i64,
}

fn inbound_of(m: &Message) -> Option<Inbound> {
    if let Some(l) = &m.location {
        return Some(Inbound::Location(Location { lat: l.latitude, lng: l.longitude }));
    }
    if let Some(sizes) = &m.photo {
        let largest = sizes.iter().max_by_key(|p| p.width * p.height)?;
        return Some(Inbound::Photo(PhotoRef::TelegramFile(largest.file_id.clone())));
    }
    let text = m.text.as_deref()?;
    if text.trim() == "/start" {
        return Some(Inbound::Follow);
    }
    Some(Inbound::Text(text.to_owned()))
}

pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::web::check_size(req, MAX_BODY)?;
    let secret = env.config("telegram_secret_token").ok_or(Error::Config("telegram_secret_token"))?;
    let given = req.headers().get("x-telegram-bot-api-secret-token").map(|v| v.as_bytes()).unwrap_or(b"");
    if !civic::auth::constant_time_eq(secret.as_bytes(), given) {
        return Err(Error::BadSignature);
    }
    let update: Update = serde_json::from_slice(req.body()).map_err(|e| {
        Error::BadRequest(civic::Msg::new(format!("Update không hợp lệ: {e}"), format!("invalid update: {e}")))
    })?;
    let (chat_id, inbound, callback) = match (&update.message, &update.callback_query) {
        (Some(m), _) => (m.chat.id, inbound_of(m), None),
        (None, Some(q)) => {
            let chat = q.message.as_ref().map_or(q.from.id, |m| m.chat.id);
            (chat, q.data.clone().map(Inbound::Text), Some(q.id.as_str()))
        }
        (None, None) => return nothing(),
    };
    let user = chat_id.to_string();
    let from = Sender { channel: Channel::Telegram, user: &user };
    let raw = String::from_utf8_lossy(req.body());
    let event_id = update.update_id.to_string();
    // Only the updates the bot answers count.
    let count = inbound.as_ref().map(|_| bot::count(env, from)).transpose()?;
    let claim = store::claim(env, from, &event_id, &raw, count.as_ref()).await?;
    if matches!(claim, Claim::Duplicate | Claim::Silent) {
        // seen before; or over the rate limit after the notice, stored and marked answered
        return nothing();
    }
    if let Some(id) = callback
        && let Err(e) = answer_callback(env, id).await
    {
        civic::log::error(&format!("chat: answerCallbackQuery: {e}"));
    }
    let reply = match (claim, inbound) {
        (Claim::TooMany { retry_after }, _) => Some(bot::too_many(env.now(), retry_after)),
        (_, Some(inbound)) => match bot::answer(env, from, &event_id, inbound).await {
            Ok(reply) => Some(reply),
            Err(e) => {
                // Telegram sends it again on a non-2xx: let that retry answer it.
                store::release(env, from, &event_id).await;
                return Err(e);
            }
        },
        (_, None) => None,
    };
    store::answered(env, from, &event_id).await?;
    match reply {
        Some(reply) => civic::web::json(StatusCode::OK, &send_message(chat_id, &reply)),
        None => nothing(),
    }
}

fn nothing() -> Result<Response<Bytes>, Error> {
    civic::web::json(StatusCode::OK, &serde_json::json!({}))
}

/// The `sendMessage` call answered in the webhook's response.
pub fn send_message(chat_id: i64, reply: &Reply) -> Value {
    let mut call = serde_json::json!({"method": "sendMessage", "chat_id": chat_id, "text": reply.reply});
    if !reply.choices.is_empty() {
        let rows: Vec<Value> = reply
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // a bare number picks the same button ([`crate::bot`])
                let data = if c.value.len() <= MAX_CALLBACK_DATA { c.value.clone() } else { (i + 1).to_string() };
                serde_json::json!([{"text": c.label, "callback_data": data}])
            })
            .collect();
        call["reply_markup"] = serde_json::json!({"inline_keyboard": rows});
    }
    call
}

/// `telegram_api_base` (default `https://api.telegram.org`), without a trailing `/`.
fn api_base(env: &impl Platform) -> String {
    let base = env.config("telegram_api_base").unwrap_or_else(|| "https://api.telegram.org".to_owned());
    base.trim_end_matches('/').to_owned()
}

fn api_url(env: &impl Platform, token: &str, method: &str) -> String {
    format!("{}/bot{token}/{method}", api_base(env))
}

/// What the Bot API answered a call.
struct Answered {
    /// Telegram's HTTP status.
    status: StatusCode,
    /// Its `ok`.
    ok: bool,
    /// Its `description` (why it refused), without the token.
    description: String,
    /// Its `result`.
    result: Value,
}

/// A Bot API call with a JSON body. `Err` ([`Error::Upstream`]) when Telegram could not be
/// reached or answered no JSON; errors never hold the token.
async fn call_answered(env: &impl Platform, method: &str, body: &Value) -> Result<Answered, Error> {
    let token = env.config("telegram_bot_token").ok_or(Error::Config("telegram_bot_token"))?;
    let request = Request::post(api_url(env, &token, method))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body.to_string()))
        .map_err(|e| Error::Internal(format!("Telegram {method}: {e}")))?;
    let resp = env
        .fetch(request)
        .await
        .map_err(|e| Error::Upstream(format!("Telegram {method}: {}", e.to_string().replace(&token, "<token>"))))?;
    let answer: Value = serde_json::from_slice(resp.body())
        .map_err(|_| Error::Upstream(format!("Telegram {method} answered {} without JSON", resp.status())))?;
    let description = answer.get("description").and_then(Value::as_str).unwrap_or("");
    Ok(Answered {
        status: resp.status(),
        ok: answer.get("ok").and_then(Value::as_bool) == Some(true),
        description: description.replace(&token, "<token>"),
        result: answer.get("result").cloned().unwrap_or(Value::Null),
    })
}

/// A Bot API call with a JSON body; its `result`. Errors never hold the token.
async fn call(env: &impl Platform, method: &str, body: &Value) -> Result<Value, Error> {
    let answered = call_answered(env, method, body).await?;
    if !answered.ok {
        return Err(Error::Upstream(format!("Telegram {method} refused: {}", answered.description)));
    }
    Ok(answered.result)
}

/// Sends `reply` to the chat `chat_id` (`sendMessage`, with the buttons of
/// [`send_message`]); the `message_id` Telegram gave it. [`Failed::Final`] when the message
/// can never go there: `403` (the user blocked the bot, or the account is deactivated) or
/// `400` "chat not found"; [`Failed::Retry`] when Telegram could not be reached or answered
/// anything else (a `429`, a `5xx`, another `400`).
pub async fn send_text(env: &impl Platform, chat_id: &str, reply: &Reply) -> Result<Option<String>, Failed> {
    let mut body = send_message(0, reply);
    body["chat_id"] = chat_id.parse::<i64>().map_or_else(|_| Value::from(chat_id), Value::from);
    if let Some(call) = body.as_object_mut() {
        call.remove("method");
    }
    let answered = call_answered(env, "sendMessage", &body).await.map_err(Failed::Retry)?;
    if answered.ok && answered.status.is_success() {
        return Ok(answered.result.get("message_id").map(|id| id.to_string().trim_matches('"').to_owned()));
    }
    let why = format!("Telegram sendMessage answered {}: {}", answered.status, answered.description);
    let chat_not_found = answered.description.to_ascii_lowercase().contains("chat not found");
    match answered.status {
        StatusCode::FORBIDDEN => Err(Failed::cannot(
            "user",
            format!("Không gửi được: người dùng đã chặn bot ({why})"),
            format!("cannot be sent: the user blocked the bot ({why})"),
        )),
        StatusCode::BAD_REQUEST if chat_not_found => Err(Failed::cannot(
            "user",
            format!("Không gửi được: không có cuộc trò chuyện này ({why})"),
            format!("cannot be sent: no such chat ({why})"),
        )),
        _ => Err(Failed::Retry(Error::Upstream(why))),
    }
}

async fn answer_callback(env: &impl Platform, id: &str) -> Result<(), Error> {
    call(env, "answerCallbackQuery", &serde_json::json!({"callback_query_id": id})).await.map(drop)
}

/// The download URL of a file (`getFile`): `{telegram_api_base}/file/bot<token>/<file_path>`.
/// It holds the token: use it to download, never keep or show it.
pub async fn file_url(env: &impl Platform, token: &str, file_id: &str) -> Result<String, Error> {
    let result = call(env, "getFile", &serde_json::json!({"file_id": file_id})).await?;
    let path = result
        .get("file_path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty() && !p.contains(".."))
        .ok_or_else(|| Error::Upstream("Telegram getFile gave no file_path".into()))?;
    Ok(format!("{}/file/bot{token}/{path}", api_base(env)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use civic::command::Choice;

    #[test]
    fn replies_are_send_message_calls_with_a_keyboard_for_choices() {
        let plain = send_message(-100, &Reply::text("Xin chào"));
        assert_eq!(plain, serde_json::json!({"method": "sendMessage", "chat_id": -100, "text": "Xin chào"}));
        let long = "ATTP #".to_owned() + &"x".repeat(70);
        let reply = Reply::text("Chọn").with_choices(vec![Choice::new("A", "ATTP #DN-1"), Choice::new("B", long)]);
        let call = send_message(7, &reply);
        let rows = &call["reply_markup"]["inline_keyboard"];
        assert_eq!(rows[0][0]["callback_data"], "ATTP #DN-1");
        assert_eq!(rows[1][0]["callback_data"], "2");
    }

    #[test]
    fn a_burst_from_one_chat_is_cut_off_with_one_notice() {
        use crate::testkit::{self, StandIn};
        use serde_json::json;

        let stand_in = StandIn::start(std::time::Duration::ZERO, |_, _| (200, json!({"ok": true, "result": true})));
        let env = testkit::env(&stand_in).with_config("rate_limit_chat_messages", "2/10m");
        let send = |update: serde_json::Value| {
            let (status, body) = testkit::telegram(&env, &update);
            assert_eq!(status, StatusCode::OK, "{update}: {body}");
            body
        };
        let text = |id: i64, chat: i64| send(json!({"update_id": id, "message": {"chat": {"id": chat}, "text": "hi"}}));
        assert!(text(1, 7)["text"].as_str().unwrap().starts_with("Xin chào"));
        assert_eq!(text(1, 7), json!({}), "a redelivery is a duplicate, not counted");
        assert!(text(2, 7)["text"].as_str().unwrap().starts_with("Xin chào"));
        let notice = text(3, 7);
        assert_eq!(
            notice,
            json!({"method": "sendMessage", "chat_id": 7,
                   "text": "Bạn gửi tin nhắn quá nhanh. Vui lòng thử lại sau 09:10."})
        );
        assert_eq!(text(4, 7), json!({}), "silence after the one notice");
        let tap = json!({"update_id": 5, "callback_query": {"id": "q", "from": {"id": 7}, "data": "HS"}});
        assert_eq!(send(tap), json!({}));
        assert!(stand_in.calls_to("/answerCallbackQuery").is_empty(), "not even the tap is acknowledged");
        assert!(text(6, 8)["text"].as_str().unwrap().starts_with("Xin chào"), "another chat is served");
        let stored = testkit::rows(&env, "SELECT count(*), count(answered_at) FROM chat_events WHERE user_id = '7'");
        assert_eq!(stored[0], [5.into(), 5.into()], "every update stored, and answered");
        env.set_now(civic::testing::t("2024-11-05T02:10:00Z"));
        assert!(text(7, 7)["text"].as_str().unwrap().starts_with("Xin chào"), "a new window");
    }

    #[test]
    fn messages_table() {
        let m = |json: &str| -> Option<Inbound> { inbound_of(&serde_json::from_str::<Message>(json).unwrap()) };
        assert_eq!(m(r#"{"chat":{"id":1},"text":"HS 1"}"#), Some(Inbound::Text("HS 1".into())));
        assert_eq!(m(r#"{"chat":{"id":1},"text":"/start"}"#), Some(Inbound::Follow));
        assert_eq!(
            m(r#"{"chat":{"id":1},"location":{"latitude":16.0,"longitude":108.2}}"#),
            Some(Inbound::Location(Location { lat: 16.0, lng: 108.2 }))
        );
        let photo = r#"{"chat":{"id":1},"photo":[{"file_id":"small","width":90,"height":90},{"file_id":"big","width":800,"height":600}]}"#;
        assert_eq!(m(photo), Some(Inbound::Photo(PhotoRef::TelegramFile("big".into()))));
        assert_eq!(m(r#"{"chat":{"id":1},"sticker":{}}"#), None);
    }
}
