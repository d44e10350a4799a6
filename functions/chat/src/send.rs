//! POST /chat/send
//!
//! The internal route through which the other functions' outboxes reach a citizen on Zalo
//! or Telegram: chat holds the bot token and the OA's token pair, so every
//! message to a chat user goes out from here.
//!
//! - **Guard** ([`civic::command::verify`]): at most [`MAX_SEND_BODY`] bytes (413), and
//!   `X-Signature: <lowercase hex HMAC-SHA256(internal_secret, raw body)>` (401), checked
//!   before the body is read.
//! - **Body**: `{"id": "<delivery id, at most 200 bytes>", "channel": "zalo" | "telegram",
//!   "user": "<Zalo user id | Telegram chat id>", "phone"?: "84905123456", "text": "<at most
//!   2,000 characters>", "template"?: {"name": "report_status" | "dossier_status", "data":
//!   {"<key>": <string | number>, ...}}}`. Not JSON, a value of the wrong JSON type or an
//!   unknown field: 400. Every other bad field at once: 422 ([`Error::Validation`]).
//! - **Once per id**: each message a platform accepted is recorded in `sends` right after
//!   it did; a repeat of a sent id answers the same `200` and sends nothing. (Two calls of
//!   the same id at the same moment may both send: delivery is at least once.)
//! - **telegram**: `sendMessage` to the chat ([`crate::telegram::send_text`]).
//! - **zalo**: a free consulting message (`message/cs`, [`crate::zalo::send_cs`]) while the
//!   user's last message ([`chat_events`](crate::store), newest `received_at`) is less than
//!   [`CS_WINDOW_HOURS`] old and fewer than [`CS_NOTICES`] messages went out through here
//!   since it. Otherwise, or when Zalo answers that the user is out of its interaction
//!   window ([`CS_OUT_OF_WINDOW`]), a ZNS template message by phone
//!   ([`crate::zalo::send_zns`]), with `phone`, the template id set as
//!   `zalo_zns_template_<name>`, `template.data` as `template_data` and `id` as
//!   `tracking_id`.
//! - **Answers**: `200 {"id", "via": "zalo" | "zns" | "telegram"}` once sent (or sent
//!   before). `422` when it can never be sent (record it undeliverable, do not retry), naming
//!   why by field: `user` (Telegram `403`, the user blocked the bot; `400` chat not found),
//!   `phone` or `template` (Zalo outside the window without them), `template.name` (no
//!   template id configured for it), `phone` (ZNS errors [`ZNS_FINAL`]: the phone cannot
//!   receive ZNS). `502` when the platform failed (unreachable, `5xx`, `429`, any error
//!   code not known to be final): retry later. `503` when the database failed.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::Duration;
use civic::command::{Channel, Reply};
use civic::web::stamp;
use civic::{Error, FieldError, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use crate::store::DB;

/// The largest body `POST /chat/send` takes (bytes).
pub const MAX_SEND_BODY: usize = 16 * 1024;

/// The longest delivery id (bytes).
pub const MAX_ID: usize = 200;

/// The longest message (characters).
pub const MAX_TEXT: usize = 2000;

/// The longest user id (bytes).
pub const MAX_USER: usize = 64;

/// How long after a user's last message Zalo lets the OA send free consulting messages.
pub const CS_WINDOW_HOURS: i64 = 48;

/// How many consulting messages Zalo allows since a user's last message.
pub const CS_PER_MESSAGE: i64 = 8;

/// How many of those notifications may use: the bot's own answer to that last message took
/// one of the [`CS_PER_MESSAGE`].
pub const CS_NOTICES: i64 = CS_PER_MESSAGE - 1;

/// The ZNS templates a notification may name; each one's id is the setting
/// `zalo_zns_template_<name>`.
pub const TEMPLATES: [&str; 2] = ["report_status", "dossier_status"];

/// Zalo OA API (`message/cs`) errors that mean the user is outside the window in which the
/// OA may message them freely: -213 the user does not follow the OA (any more), -230 the
/// user has not interacted with the OA recently, -232 the user's last interaction expired.
/// The notification then goes by ZNS.
pub const CS_OUT_OF_WINDOW: [i64; 3] = [-213, -230, -232];

/// ZNS errors that mean this phone cannot receive ZNS, so that retrying is useless (Zalo
/// Cloud, "ZNS: cách xử lý mã lỗi"): -108 phone number invalid, -110 the user's Zalo app
/// version is not supported, -114 the user is inactive or refuses ZNS, -118 no Zalo account
/// for the phone, -119 the account cannot receive ZNS. Every other non-zero code (quota,
/// template, token, unknown: -100...) is treated as passing, and retried.
pub const ZNS_FINAL: [i64; 5] = [-108, -110, -114, -118, -119];

/// Why a message did not go out.
#[derive(Debug)]
pub enum Failed {
    /// It can never be sent (the user blocked the bot, no way to reach them): `422`, named
    /// by the field that explains it.
    Final(FieldError),
    /// The platform failed or refused for now: try again later.
    Retry(Error),
}

impl From<Error> for Failed {
    fn from(e: Error) -> Failed {
        Failed::Retry(e)
    }
}

impl Failed {
    /// A final failure named by `field`, in both languages.
    pub fn cannot(field: &str, vi: impl Into<String>, en: impl Into<String>) -> Failed {
        let (vi, en): (String, String) = (vi.into(), en.into());
        Failed::Final(FieldError::new(field, Msg::new(vi, en)))
    }
}

/// How a message went out, as stored in `sends.via` and answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A Zalo consulting message (`message/cs`).
    Zalo,
    /// A Zalo ZNS template message by phone.
    Zns,
    /// A Telegram `sendMessage`.
    Telegram,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Zalo => "zalo",
            Via::Zns => "zns",
            Via::Telegram => "telegram",
        }
    }
    fn parse(s: &str) -> Option<Via> {
        [Via::Zalo, Via::Zns, Via::Telegram].into_iter().find(|v| v.as_str() == s)
    }
}

/// The body as sent; [`check`] makes a [`Send`] of it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Body {
    id: Option<String>,
    channel: Option<String>,
    user: Option<String>,
    phone: Option<String>,
    text: Option<String>,
    template: Option<TemplateBody>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct TemplateBody {
    name: Option<String>,
    data: Option<serde_json::Map<String, Value>>,
}

/// A checked request.
#[derive(Clone, Debug, PartialEq)]
pub struct Send {
    pub id: String,
    pub channel: Channel,
    pub user: String,
    /// The phone in ZNS's form, `84` and the national number without its `0`.
    pub phone: Option<String>,
    pub text: String,
    pub template: Option<Template>,
}

/// A ZNS template to fall back on.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    /// One of [`TEMPLATES`].
    pub name: &'static str,
    /// Its `template_data`: strings and numbers by key.
    pub data: BTreeMap<String, Value>,
}

/// A phone as ZNS takes it: its digits, with `0084`/`0` turned into `84`
/// (`0905 123 456` → `84905123456`).
pub fn zns_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if let Some(rest) = digits.strip_prefix("0084") {
        format!("84{rest}")
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("84{rest}")
    } else {
        digits
    }
}

fn required(errors: &mut Vec<FieldError>, field: &str, value: Option<String>) -> Option<String> {
    match value {
        Some(v) if !v.trim().is_empty() => Some(v),
        Some(_) => {
            errors.push(FieldError::new(field, Msg::new("Không được để trống", "must not be empty")));
            None
        }
        None => {
            errors.push(FieldError::new(field, Msg::required()));
            None
        }
    }
}

/// Reads and checks a body: 400 when it is not the shape above, 422 with every bad field.
pub fn check(body: &[u8]) -> Result<Send, Error> {
    let body: Body = serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(Msg::new(format!("JSON không hợp lệ: {e}"), format!("invalid JSON: {e}"))))?;
    let mut errors = Vec::new();
    let id = required(&mut errors, "id", body.id);
    if let Some(id) = &id
        && (id.len() > MAX_ID || id.chars().any(char::is_control))
    {
        let msg = Msg::new(
            format!("Tối đa {MAX_ID} byte, không ký tự điều khiển"),
            format!("at most {MAX_ID} bytes, no control characters"),
        );
        errors.push(FieldError::new("id", msg));
    }
    let channel = match required(&mut errors, "channel", body.channel).as_deref() {
        Some("zalo") => Some(Channel::Zalo),
        Some("telegram") => Some(Channel::Telegram),
        Some(_) => {
            errors.push(FieldError::new("channel", Msg::new("Phải là zalo hoặc telegram", "must be zalo or telegram")));
            None
        }
        None => None,
    };
    let user = required(&mut errors, "user", body.user).map(|u| u.trim().to_owned());
    if let Some(u) = &user {
        let plain = u.len() <= MAX_USER && !u.chars().any(|c| c.is_control() || c.is_whitespace());
        if !plain || (channel == Some(Channel::Telegram) && u.parse::<i64>().is_err()) {
            let msg = Msg::new(
                "Không phải mã người dùng Zalo hay mã chat Telegram",
                "not a Zalo user id or Telegram chat id",
            );
            errors.push(FieldError::new("user", msg));
        }
    }
    let phone = body.phone.filter(|p| !p.trim().is_empty());
    if let Some(p) = &phone
        && !civic::phone::is_valid(p)
    {
        errors.push(FieldError::new("phone", Msg::new("Số điện thoại không hợp lệ", "not a phone number")));
    }
    let text = required(&mut errors, "text", body.text);
    if let Some(t) = &text
        && t.chars().count() > MAX_TEXT
    {
        errors.push(FieldError::new("text", Msg::too_long(MAX_TEXT)));
    }
    let template = body.template.and_then(|t| check_template(&mut errors, t));
    match (id, channel, user, text) {
        (Some(id), Some(channel), Some(user), Some(text)) if errors.is_empty() => {
            Ok(Send { id, channel, user, phone: phone.as_deref().map(zns_phone), text, template })
        }
        _ => Err(Error::Validation(errors)),
    }
}

fn check_template(errors: &mut Vec<FieldError>, t: TemplateBody) -> Option<Template> {
    let name = match required(errors, "template.name", t.name) {
        Some(n) => TEMPLATES.into_iter().find(|known| *known == n).or_else(|| {
            let msg = Msg::new(format!("Phải là một trong {TEMPLATES:?}"), format!("must be one of {TEMPLATES:?}"));
            errors.push(FieldError::new("template.name", msg));
            None
        }),
        None => None,
    };
    let Some(data) = t.data else {
        errors.push(FieldError::new("template.data", Msg::required()));
        return None;
    };
    let before = errors.len();
    for (key, value) in &data {
        if key.is_empty() || !(value.is_string() || value.is_number()) {
            let msg = Msg::new("Phải là chuỗi hoặc số", "must be a string or a number");
            errors.push(FieldError::new(format!("template.data.{key}"), msg));
        }
    }
    let data = data.into_iter().collect();
    name.filter(|_| errors.len() == before).map(|name| Template { name, data })
}

/// `POST /chat/send`.
pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::command::verify(req, env, MAX_SEND_BODY)?;
    let send = check(req.body())?;
    if let Some(via) = sent_before(env, &send.id).await? {
        return answer(&send.id, via);
    }
    let sent = match send.channel {
        Channel::Telegram => {
            crate::telegram::send_text(env, &send.user, &Reply::text(&send.text)).await.map(|id| (Via::Telegram, id))
        }
        _ => zalo(env, &send).await,
    };
    match sent {
        Ok((via, platform_id)) => {
            record(env, &send, via, platform_id.as_deref()).await?;
            answer(&send.id, via)
        }
        Err(Failed::Final(why)) => Err(Error::Validation(vec![why])),
        Err(Failed::Retry(e)) => Err(e),
    }
}

fn answer(id: &str, via: Via) -> Result<Response<Bytes>, Error> {
    civic::web::json(StatusCode::OK, &serde_json::json!({"id": id, "via": via.as_str()}))
}

/// How a delivery id went out before, if it did.
async fn sent_before(env: &impl Platform, id: &str) -> Result<Option<Via>, Error> {
    let rows = env.query(DB, "SELECT via FROM sends WHERE id = ?1", &[id.into()]).await?;
    match rows.first() {
        Some(r) => Ok(Some(Via::parse(r.str("via")?).ok_or_else(|| Error::Internal("unknown sends.via".into()))?)),
        None => Ok(None),
    }
}

/// Records a message the platform accepted. A failure here is logged: the caller retries,
/// and the citizen may get the message twice (at least once).
async fn record(env: &impl Platform, send: &Send, via: Via, platform_id: Option<&str>) -> Result<(), Error> {
    let recorded = env
        .execute(
            DB,
            "INSERT INTO sends (id, channel, user_id, via, platform_msg_id, sent_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO NOTHING",
            &[
                send.id.as_str().into(),
                send.channel.as_str().into(),
                send.user.as_str().into(),
                via.as_str().into(),
                platform_id.into(),
                stamp(env.now()).into(),
            ],
        )
        .await;
    if let Err(e) = &recorded {
        civic::log::error(&format!("chat: send {} went out by {} but was not recorded: {e}", send.id, via.as_str()));
    }
    recorded.map(drop).map_err(Error::from)
}

/// Whether a free consulting message may go to the Zalo user now: their last message is
/// less than [`CS_WINDOW_HOURS`] old, and fewer than [`CS_NOTICES`] went out since it.
pub async fn cs_allowed(env: &impl Platform, user: &str) -> Result<bool, Error> {
    let rows = env
        .query(
            DB,
            "WITH last AS (SELECT MAX(received_at) AS at FROM chat_events WHERE channel = 'zalo' AND user_id = ?1)
             SELECT last.at AS last_at,
                    (SELECT COUNT(*) FROM sends
                      WHERE channel = 'zalo' AND user_id = ?1 AND via = 'zalo' AND sent_at >= last.at) AS used
             FROM last",
            &[user.into()],
        )
        .await?;
    let Some(r) = rows.first() else { return Ok(false) };
    let Some(last) = r.opt_str("last_at")? else { return Ok(false) };
    let since = stamp(env.now() - Duration::hours(CS_WINDOW_HOURS));
    Ok(last > since.as_str() && r.i64("used")? < CS_NOTICES)
}

/// A Zalo notification: consulting message within the window, else ZNS.
async fn zalo(env: &impl Platform, send: &Send) -> Result<(Via, Option<String>), Failed> {
    if cs_allowed(env, &send.user).await? {
        match crate::zalo::send_cs(env, &send.user, &Reply::text(&send.text)).await? {
            Ok(id) => return Ok((Via::Zalo, id)),
            Err(code) if CS_OUT_OF_WINDOW.contains(&code) => {} // ZNS, below
            Err(code) => return Err(Failed::Retry(Error::Upstream(format!("Zalo refused the message: error {code}")))),
        }
    }
    zns(env, send).await.map(|id| (Via::Zns, id))
}

/// The ZNS fallback: needs `phone`, `template` and its configured template id.
async fn zns(env: &impl Platform, send: &Send) -> Result<Option<String>, Failed> {
    let outside = ("ngoài 48 giờ Zalo cho phép nhắn miễn phí", "outside Zalo's 48-hour free window");
    let Some(phone) = &send.phone else {
        return Err(Failed::cannot(
            "phone",
            format!("Không gửi được: {}, cần số điện thoại để gửi ZNS", outside.0),
            format!("cannot be sent: {}, a phone is needed for ZNS", outside.1),
        ));
    };
    let Some(template) = &send.template else {
        return Err(Failed::cannot(
            "template",
            format!("Không gửi được: {}, cần mẫu ZNS", outside.0),
            format!("cannot be sent: {}, a ZNS template is needed", outside.1),
        ));
    };
    let setting = format!("zalo_zns_template_{}", template.name);
    let Some(template_id) = env.config(&setting) else {
        return Err(Failed::cannot(
            "template.name",
            format!("Không gửi được: chưa cấu hình mẫu ZNS ({setting})"),
            format!("cannot be sent: no ZNS template id configured ({setting})"),
        ));
    };
    let body = serde_json::json!({
        "phone": phone,
        "template_id": template_id,
        "template_data": template.data,
        "tracking_id": send.id,
    });
    match crate::zalo::send_zns(env, &body).await? {
        Ok(id) => Ok(id),
        Err(code) if ZNS_FINAL.contains(&code) => Err(Failed::cannot(
            "phone",
            format!("Không gửi được: số điện thoại này không nhận được ZNS (lỗi Zalo {code})"),
            format!("cannot be sent: this phone cannot receive ZNS (Zalo error {code})"),
        )),
        Err(code) => Err(Failed::Retry(Error::Upstream(format!("ZNS refused the message: error {code}")))),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration as Wait;

    use civic::platform::Value as Db;
    use serde_json::json;

    use super::*;
    use crate::testkit::{self, StandIn};

    fn ok_telegram() -> StandIn {
        StandIn::start(Wait::ZERO, |_, _| (200, json!({"ok": true, "result": {"message_id": 7}})))
    }

    /// Zalo's consulting API takes every message; ZNS answers `zns` (its error code).
    fn zalo(zns: i64) -> StandIn {
        StandIn::start(Wait::ZERO, move |path, _| {
            if path.ends_with("/message/cs") {
                (200, json!({"error": 0, "message": "Success", "data": {"message_id": "cs-1", "user_id": "z1"}}))
            } else if zns == 0 {
                (
                    200,
                    json!({"error": 0, "message": "Success", "data": {"msg_id": "zns-1", "sent_time": "1730772000000"}}),
                )
            } else {
                (200, json!({"error": zns, "message": "refused"}))
            }
        })
    }

    /// The Zalo user `z1` wrote at `at` (event `event`).
    fn wrote(env: &civic::platform::native::NativePlatform, event: &str, at: &str) {
        testkit::exec(
            env,
            &format!(
                "INSERT INTO chat_events (channel, event_id, user_id, body, received_at) VALUES ('zalo', '{event}', 'z1', '{{}}', '{at}')"
            ),
        );
    }

    fn zalo_body(id: &str) -> serde_json::Value {
        json!({"id": id, "channel": "zalo", "user": "z1", "phone": "0905 123 456", "text": "Phản ánh PA-1 đã xử lý xong",
               "template": {"name": "report_status", "data": {"code": "PA-1", "status": "Đã xử lý xong", "n": 3}}})
    }

    #[test]
    fn telegram_sends_once_per_id() {
        let stand_in = ok_telegram();
        let env = testkit::env(&stand_in);
        let body =
            json!({"id": "reports:ev-1", "channel": "telegram", "user": "-1004242", "text": "Đã nhận phản ánh PA-1"});
        let first = testkit::send(&env, &body);
        assert_eq!(first, (StatusCode::OK, json!({"id": "reports:ev-1", "via": "telegram"})));
        assert_eq!(testkit::send(&env, &body), first);
        let calls = stand_in.calls_to("/sendMessage");
        assert_eq!(calls.len(), 1, "a repeat sends nothing");
        assert_eq!(calls[0].path, format!("/bot{}/sendMessage", testkit::BOT_TOKEN));
        assert_eq!(calls[0].body, json!({"chat_id": -1004242, "text": "Đã nhận phản ánh PA-1"}));
        let rows = testkit::rows(&env, "SELECT channel, user_id, via, platform_msg_id, sent_at FROM sends");
        let want = ["telegram", "-1004242", "telegram", "7", "2024-11-05T02:00:00Z"].map(|s| Db::Text(s.into()));
        assert_eq!(rows, vec![want.to_vec()]);
    }

    #[test]
    fn telegram_refusals_are_final_or_retried() {
        let answer = Arc::new(Mutex::new((200u16, String::new())));
        let current = answer.clone();
        let stand_in = StandIn::start(Wait::ZERO, move |_, _| {
            let (status, description) = current.lock().unwrap().clone();
            (status, json!({"ok": false, "error_code": status, "description": description}))
        });
        let env = testkit::env(&stand_in);
        for (status, description, want) in [
            (403, "Forbidden: bot was blocked by the user", StatusCode::UNPROCESSABLE_ENTITY),
            (400, "Bad Request: chat not found", StatusCode::UNPROCESSABLE_ENTITY),
            (429, "Too Many Requests: retry after 5", StatusCode::BAD_GATEWAY),
            (500, "Internal Server Error", StatusCode::BAD_GATEWAY),
            (400, "Bad Request: message is too long", StatusCode::BAD_GATEWAY),
        ] {
            *answer.lock().unwrap() = (status, description.to_owned());
            let (got, problem) =
                testkit::send(&env, &json!({"id": "d", "channel": "telegram", "user": "42", "text": "x"}));
            assert_eq!(got, want, "{status} {description}: {problem}");
            if want == StatusCode::UNPROCESSABLE_ENTITY {
                assert_eq!(problem["errors"][0]["field"], "user", "{problem}");
            }
            assert!(!problem.to_string().contains(testkit::BOT_TOKEN));
        }
        assert!(testkit::rows(&env, "SELECT id FROM sends").is_empty(), "nothing sent is recorded");
    }

    #[test]
    fn zalo_uses_the_48_hour_window_and_at_most_the_free_messages_left() {
        let stand_in = zalo(0);
        let env = testkit::env(&stand_in);
        // never wrote: ZNS
        assert_eq!(testkit::send(&env, &zalo_body("a")).1["via"], "zns");
        // wrote 47 hours ago: the bot's answer took one of 8 free messages, 7 are left
        wrote(&env, "m1", "2024-11-03T03:00:00Z");
        for n in 0..CS_NOTICES {
            assert_eq!(
                testkit::send(&env, &zalo_body(&format!("b{n}"))),
                (StatusCode::OK, json!({"id": format!("b{n}"), "via": "zalo"}))
            );
        }
        assert_eq!(testkit::send(&env, &zalo_body("c")).1["via"], "zns");
        // a new message opens a new window
        env.set_now(civic::testing::t("2024-11-05T02:10:00Z"));
        wrote(&env, "m2", "2024-11-05T02:05:00Z");
        assert_eq!(testkit::send(&env, &zalo_body("d")).1["via"], "zalo");
        // 48 hours after it: ZNS again
        env.set_now(civic::testing::t("2024-11-07T02:05:00Z"));
        assert_eq!(testkit::send(&env, &zalo_body("e")).1["via"], "zns");
        let cs = stand_in.calls_to("/v3.0/oa/message/cs");
        assert_eq!(cs.len(), 8);
        assert_eq!(
            cs[0].body,
            json!({"recipient": {"user_id": "z1"}, "message": {"text": "Phản ánh PA-1 đã xử lý xong"}})
        );
        assert_eq!(cs[0].access_token.as_deref(), Some(testkit::OA_TOKEN));
        assert_eq!(stand_in.calls_to("/message/template").len(), 3);
    }

    #[test]
    fn zns_request_is_the_template_by_phone() {
        let stand_in = zalo(0);
        let env = testkit::env(&stand_in);
        wrote(&env, "m1", "2024-11-03T01:59:59Z"); // 48 h and 1 s ago
        assert_eq!(
            testkit::send(&env, &zalo_body("reports:ev-9")),
            (StatusCode::OK, json!({"id": "reports:ev-9", "via": "zns"}))
        );
        let zns = stand_in.calls_to("/message/template");
        assert_eq!(zns.len(), 1);
        assert_eq!(zns[0].path, "/message/template");
        assert_eq!(zns[0].access_token.as_deref(), Some(testkit::OA_TOKEN));
        assert_eq!(
            zns[0].body,
            json!({"phone": "84905123456", "template_id": "tpl-report",
                   "template_data": {"code": "PA-1", "status": "Đã xử lý xong", "n": 3}, "tracking_id": "reports:ev-9"})
        );
        let rows = testkit::rows(&env, "SELECT via, platform_msg_id FROM sends WHERE id = 'reports:ev-9'");
        assert_eq!(rows, vec![vec![Db::Text("zns".into()), Db::Text("zns-1".into())]]);
        assert!(stand_in.calls_to("/message/cs").is_empty());
    }

    #[test]
    fn an_out_of_window_answer_from_zalo_falls_back_to_zns() {
        let stand_in = StandIn::start(Wait::ZERO, |path, _| {
            if path.ends_with("/message/cs") {
                (200, json!({"error": -230, "message": "User has not interacted with the OA"}))
            } else {
                (200, json!({"error": 0, "message": "Success", "data": {"msg_id": "zns-2"}}))
            }
        });
        let env = testkit::env(&stand_in);
        wrote(&env, "m1", "2024-11-05T01:00:00Z");
        assert_eq!(testkit::send(&env, &zalo_body("f")).1["via"], "zns");
        assert_eq!(stand_in.calls_to("/message/cs").len(), 1);
    }

    #[test]
    fn without_a_way_to_reach_the_user_it_is_422() {
        let stand_in = zalo(0);
        let env = testkit::env(&stand_in);
        let mut no_phone = zalo_body("g");
        no_phone.as_object_mut().unwrap().remove("phone");
        let mut no_template = zalo_body("h");
        no_template.as_object_mut().unwrap().remove("template");
        let mut unconfigured = zalo_body("i");
        unconfigured["template"]["name"] = json!("dossier_status");
        for (body, field) in [(no_phone, "phone"), (no_template, "template"), (unconfigured, "template.name")] {
            let (status, problem) = testkit::send(&env, &body);
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
        assert!(stand_in.calls.lock().unwrap().is_empty());
        assert!(testkit::rows(&env, "SELECT id FROM sends").is_empty());
    }

    #[test]
    fn zns_errors_are_final_only_when_the_phone_cannot_receive() {
        for (code, want) in [
            (-118, StatusCode::UNPROCESSABLE_ENTITY),
            (-108, StatusCode::UNPROCESSABLE_ENTITY),
            (-100, StatusCode::BAD_GATEWAY),
            (-115, StatusCode::BAD_GATEWAY),
            (-999, StatusCode::BAD_GATEWAY),
        ] {
            let stand_in = zalo(code);
            let env = testkit::env(&stand_in);
            let (status, problem) = testkit::send(&env, &zalo_body("j"));
            assert_eq!(status, want, "{code}: {problem}");
            assert!(testkit::rows(&env, "SELECT id FROM sends").is_empty());
        }
    }

    #[test]
    fn bodies_are_checked_after_the_signature() {
        let stand_in = ok_telegram();
        let env = testkit::env(&stand_in);
        let call = |body: &str, signature: &str| {
            civic::testing::call(
                |r| crate::handle(r, &env),
                "POST",
                "/chat/send",
                &[("x-signature", signature)],
                body.to_owned(),
            )
        };
        let sign = |body: &str| civic::command::sign(testkit::SECRET, body.as_bytes());
        let good = r#"{"id":"k","channel":"telegram","user":"1","text":"x"}"#;
        assert_eq!(call(good, "00").0, StatusCode::UNAUTHORIZED);
        assert_eq!(call("{", &sign("{")).0, StatusCode::BAD_REQUEST);
        let unknown = r#"{"id":"k","channel":"telegram","user":"1","text":"x","extra":1}"#;
        assert_eq!(call(unknown, &sign(unknown)).0, StatusCode::BAD_REQUEST);
        let big = format!(r#"{{"id":"k","channel":"telegram","user":"1","text":"{}"}}"#, "x".repeat(MAX_SEND_BODY));
        assert_eq!(call(&big, &sign(&big)).0, StatusCode::PAYLOAD_TOO_LARGE);
        let bad = json!({"id": "x".repeat(201), "channel": "sms", "user": "", "phone": "abc", "text": "y".repeat(2001),
                         "template": {"name": "other", "data": {"a": [1]}}})
        .to_string();
        let (status, problem) = call(&bad, &sign(&bad));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["id", "channel", "user", "phone", "text", "template.name", "template.data.a"]);
        let telegram_user = json!({"id": "k", "channel": "telegram", "user": "@name", "text": "x"}).to_string();
        let (status, problem) = call(&telegram_user, &sign(&telegram_user));
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("user")));
        assert!(stand_in.calls.lock().unwrap().is_empty());
    }

    #[test]
    fn zns_phones() {
        for (given, want) in [
            ("0905 123 456", "84905123456"),
            ("+84905123456", "84905123456"),
            ("0084905123456", "84905123456"),
            ("84905123456", "84905123456"),
        ] {
            assert_eq!(zns_phone(given), want);
        }
    }
}
