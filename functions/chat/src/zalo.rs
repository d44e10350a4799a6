//! POST /chat/zalo
//!
//! The Zalo Official Account webhook (Zalo OA API v3, "Webhook").
//!
//! 1. **Signature first**: `X-ZEvent-Signature: mac=<hex SHA-256 of app_id + raw body +
//!    timestamp + OA secret key>`, where `timestamp` is the event's own `timestamp` field as
//!    sent (Unix milliseconds, a string; a number is read as its digits), compared in constant
//!    time. Missing or wrong: 401. The event's `app_id` must be `zalo_app_id` (401).
//! 2. **Fresh**: an event more than [`MAX_AGE_SECONDS`] old (or that far ahead) is refused
//!    (401): a replay of a captured event gets nowhere.
//! 3. **Once**: the event is stored by `message.msg_id` (a `follow` by follower and time)
//!    before it is answered; a repeat gets `200 {"ok": true, "duplicate": true}` and nothing
//!    is done or sent again, unless the first handling failed ([`store::claim`]: Zalo's
//!    retry of an event answered with a 5xx is answered).
//! 4. **Answer**: `user_send_text`, `user_send_location` (coordinates in
//!    `message.attachments[].payload.coordinates`, `latitude`/`longitude` or `lat`/`long`,
//!    numbers or numeric strings), `user_send_image` (`payload.url`) and `follow` (a
//!    greeting with the menu) go to [`crate::bot`]; other events are acknowledged and ignored.
//!    The reply is sent during the handling through the OA API ([`send`]); one that cannot
//!    be sent is left in the outbox, which [`crate::tick()`] delivers. Anything signed and
//!    fresh gets `200 {"ok": true}`, as Zalo expects within about two seconds.
//! 5. **Rate limit** ([`crate::bot::RULE`], per Zalo user, counted with the event's storing
//!    in step 3; the OA's own messages and other unanswered events are not counted): the
//!    message that crosses it is answered with one notice saying when to write again
//!    ([`crate::bot::too_many`]), the ones after it are stored and not answered; all get
//!    `200 {"ok": true}`, never a 429 (Zalo would only retry).
//!
//! Ids are large numbers sent as strings and stay strings.

use bytes::Bytes;
use civic::command::{Channel, Location, Reply};
use civic::{Error, Platform};
use http::{Request, Response, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::bot::{self, Inbound};
use crate::photo::PhotoRef;
use crate::store::{self, Claim, Sender};

/// The largest webhook body (bytes).
pub const MAX_BODY: usize = 64 * 1024;

/// How far an event's time may be from ours.
pub const MAX_AGE_SECONDS: i64 = 5 * 60;

/// The expected `X-ZEvent-Signature` of `body`: `mac=` and the lowercase hex digest.
pub fn signature(app_id: &str, body: &[u8], timestamp: &str, oa_secret_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(app_id.as_bytes());
    h.update(body);
    h.update(timestamp.as_bytes());
    h.update(oa_secret_key.as_bytes());
    format!("mac={}", hex::encode(h.finalize()))
}

/// A string field, or a number's digits (ids and times are strings in Zalo's events; a
/// number is taken as written).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn degrees(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        other => other.as_f64(),
    }
    .filter(|d: &f64| d.is_finite())
}

/// What a Zalo event says, once verified.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The user it came from (`sender.id`, `follower.id`).
    pub user: String,
    /// Its id for deduplication.
    pub id: String,
    /// What it asks; `None` for events the bot does not answer.
    pub inbound: Option<Inbound>,
}

/// Reads a verified event. A message the bot cannot read (a location without coordinates,
/// an image without a URL) is an empty text, which gets the menu or the step's question: a
/// signed event is always acknowledged, since Zalo would only send it again.
pub fn parse(v: &Value, timestamp: &str) -> Event {
    let name = v.get("event_name").and_then(Value::as_str).unwrap_or("");
    if name == "follow"
        && let Some(user) = v.pointer("/follower/id").and_then(text_of)
    {
        let id = format!("follow:{user}:{timestamp}");
        return Event { user, id, inbound: Some(Inbound::Follow) };
    }
    let user = v.pointer("/sender/id").and_then(text_of).unwrap_or_default();
    let id = v.pointer("/message/msg_id").and_then(text_of).unwrap_or_default();
    if user.is_empty() || id.is_empty() {
        // an event the bot has nothing to say to (an OA's own message, a reaction, ...)
        return Event { user, id: format!("{name}:{timestamp}"), inbound: None };
    }
    let attachments = v.pointer("/message/attachments").and_then(Value::as_array).cloned().unwrap_or_default();
    let unreadable = || Some(Inbound::Text(String::new()));
    let inbound = match name {
        "user_send_text" => {
            let text = v.pointer("/message/text").and_then(Value::as_str).unwrap_or("");
            Some(Inbound::Text(text.to_owned()))
        }
        "user_send_location" => attachments
            .iter()
            .find_map(|a| {
                let c = a.pointer("/payload/coordinates")?;
                let lat = c.get("latitude").or_else(|| c.get("lat")).and_then(degrees)?;
                let lng = c.get("longitude").or_else(|| c.get("long")).or_else(|| c.get("lng")).and_then(degrees)?;
                let valid = (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng);
                valid.then_some(Inbound::Location(Location { lat, lng }))
            })
            .or_else(unreadable),
        "user_send_image" => attachments
            .iter()
            .find_map(|a| a.pointer("/payload/url").and_then(Value::as_str))
            .map(|url| Inbound::Photo(PhotoRef::Url(url.to_owned())))
            .or_else(unreadable),
        _ => None,
    };
    Event { user, id, inbound }
}

pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::web::check_size(req, MAX_BODY)?;
    let app_id = env.config("zalo_app_id").ok_or(Error::Config("zalo_app_id"))?;
    let oa_secret = env.config("zalo_oa_secret_key").ok_or(Error::Config("zalo_oa_secret_key"))?;
    let body = req.body();
    // The signature covers the event's own timestamp field, so the JSON is read first; a
    // body that is not JSON cannot be verified and is refused as unsigned.
    let value: Value = serde_json::from_slice(body).map_err(|_| Error::BadSignature)?;
    let timestamp = value.get("timestamp").and_then(text_of).ok_or(Error::BadSignature)?;
    let given = req.headers().get("x-zevent-signature").and_then(|v| v.to_str().ok()).unwrap_or("").trim();
    let want = signature(&app_id, body, &timestamp, &oa_secret);
    if !civic::auth::constant_time_eq(want.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
        return Err(Error::BadSignature);
    }
    if value.get("app_id").and_then(text_of).as_deref() != Some(app_id.as_str()) {
        return Err(Error::BadSignature);
    }
    let sent_ms: i64 = timestamp.trim().parse().map_err(|_| Error::BadSignature)?;
    let age_ms = env.now().timestamp_millis() - sent_ms;
    if age_ms.abs() > MAX_AGE_SECONDS * 1000 {
        return Err(Error::Unauthorized);
    }
    let event = parse(&value, &timestamp);
    let from = Sender { channel: Channel::Zalo, user: &event.user };
    let raw = String::from_utf8_lossy(body);
    // Only the messages the bot answers count: not the OA's own messages, nor reactions.
    let count = event.inbound.as_ref().map(|_| bot::count(env, from)).transpose()?;
    let claim = store::claim(env, from, &event.id, &raw, count.as_ref()).await?;
    match claim {
        Claim::Duplicate => {
            return civic::web::json(StatusCode::OK, &serde_json::json!({"ok": true, "duplicate": true}));
        }
        // stored and marked answered by the claim: silence until the window ends
        Claim::Silent => return civic::web::json(StatusCode::OK, &serde_json::json!({"ok": true})),
        Claim::Answer | Claim::TooMany { .. } => {}
    }
    let handled = async {
        let reply = match (claim, event.inbound) {
            (Claim::TooMany { retry_after }, _) => bot::too_many(env.now(), retry_after),
            (_, Some(inbound)) => bot::answer(env, from, &event.id, inbound).await?,
            (_, None) => return Ok(()),
        };
        if let Err(e) = send(env, &event.user, &reply).await {
            civic::log::error(&format!("chat: a Zalo reply to {} was not sent: {e}", event.user));
            store::to_outbox(env, from, &reply, &e.to_string()).await?;
        }
        Ok::<(), Error>(())
    };
    if let Err(e) = handled.await {
        // Zalo sends it again on a non-200: let that retry answer it.
        store::release(env, from, &event.id).await;
        return Err(e);
    }
    store::answered(env, from, &event.id).await?;
    civic::web::json(StatusCode::OK, &serde_json::json!({"ok": true}))
}

/// The OA API's body for a reply to `user_id`: the text, and the choices as buttons that
/// send their value back as the user's message (`oa.query.show`).
pub fn message(user_id: &str, reply: &Reply) -> Value {
    let mut message = serde_json::json!({"text": reply.reply});
    if !reply.choices.is_empty() {
        let buttons: Vec<Value> = reply
            .choices
            .iter()
            .map(|c| serde_json::json!({"title": c.label, "type": "oa.query.show", "payload": c.value}))
            .collect();
        message["attachment"] = serde_json::json!({"type": "template", "payload": {"buttons": buttons}});
    }
    serde_json::json!({"recipient": {"user_id": user_id}, "message": message})
}

/// Zalo's error code for an access token that is invalid or expired (OA API, `message/cs`).
const INVALID_TOKEN: i64 = -216;

/// ZNS's error code for an invalid access token (`message/template`).
const ZNS_INVALID_TOKEN: i64 = -124;

/// What Zalo answered a send: `Ok` with the message id when it took the message (`data.
/// message_id` of `message/cs`, `data.msg_id` of ZNS; `None` when it gave none), `Err` with
/// its non-zero `error` code when it refused it.
pub type Answer = Result<Option<String>, i64>;

/// Sends a reply through `POST {zalo_api_base}/v3.0/oa/message/cs` with the OA's access
/// token ([`send_cs`]); any refusal is [`Error::Upstream`].
pub async fn send(env: &impl Platform, user_id: &str, reply: &Reply) -> Result<(), Error> {
    match send_cs(env, user_id, reply).await? {
        Ok(_) => Ok(()),
        Err(code) => Err(Error::Upstream(format!("Zalo refused the message: error {code}"))),
    }
}

/// A consulting message (`POST {zalo_api_base}/v3.0/oa/message/cs`, [`message`]) to
/// `user_id`; a token Zalo calls invalid is refreshed once and the message sent again.
/// `Err` when Zalo could not be asked or gave no answer one can read (or the token could
/// not be had).
pub async fn send_cs(env: &impl Platform, user_id: &str, reply: &Reply) -> Result<Answer, Error> {
    let body = serde_json::to_vec(&message(user_id, reply)).map_err(|e| Error::Internal(e.to_string()))?;
    let base = env.config("zalo_api_base").unwrap_or_else(|| "https://openapi.zalo.me".to_owned());
    let url = format!("{}/v3.0/oa/message/cs", base.trim_end_matches('/'));
    with_token(env, INVALID_TOKEN, async |token: &str| post_api(env, &url, token, &body).await).await
}

/// A ZNS template message by phone (Zalo Notification Service, "Gửi ZNS"):
/// `POST {zalo_business_base}/message/template` (default `https://business.openapi.zalo.me`)
/// with header `access_token` (the OA's, [`crate::token`]) and JSON `{"phone": "84...",
/// "template_id", "template_data": {...}, "tracking_id"}`. Zalo answers `{"error": 0,
/// "message": "Success", "data": {"msg_id", "sent_time"}}`, or a non-zero `error` (ZNS's
/// codes, e.g. -108 phone number invalid). An invalid token (-124) is refreshed once.
pub async fn send_zns(env: &impl Platform, template: &Value) -> Result<Answer, Error> {
    let body = serde_json::to_vec(template).map_err(|e| Error::Internal(e.to_string()))?;
    let base = env.config("zalo_business_base").unwrap_or_else(|| "https://business.openapi.zalo.me".to_owned());
    let url = format!("{}/message/template", base.trim_end_matches('/'));
    with_token(env, ZNS_INVALID_TOKEN, async |token: &str| post_api(env, &url, token, &body).await).await
}

/// Calls `send` with the OA's access token; when Zalo answers `invalid` (the token was
/// revoked or expired early), refreshes it once (or takes the one a concurrent refresh
/// stored) and calls again.
async fn with_token(
    env: &impl Platform,
    invalid: i64,
    send: impl AsyncFn(&str) -> Result<Answer, Error>,
) -> Result<Answer, Error> {
    let token = crate::token::access(env).await?;
    match send(&token).await? {
        Err(code) if code == invalid => {
            let token = match crate::token::stored(env).await? {
                // someone already replaced the token we used
                Some(p) if p.access_token != token => p.access_token,
                other => crate::token::refresh(env, other.as_ref()).await?,
            };
            send(&token).await
        }
        answer => Ok(answer),
    }
}

/// One call of Zalo's JSON API with the `access_token` header ([`Answer`]).
async fn post_api(env: &impl Platform, url: &str, token: &str, body: &[u8]) -> Result<Answer, Error> {
    let request = Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("access_token", token)
        .body(Bytes::copy_from_slice(body))
        .map_err(|e| Error::Internal(format!("Zalo request: {e}")))?;
    let resp = env.fetch(request).await.map_err(|e| Error::Upstream(format!("Zalo API: {e}")))?;
    let answer: Value = serde_json::from_slice(resp.body())
        .map_err(|_| Error::Upstream(format!("Zalo API answered {} without JSON", resp.status())))?;
    match answer.get("error").and_then(Value::as_i64) {
        Some(0) if resp.status().is_success() => {
            let data = answer.get("data");
            let id = data.and_then(|d| d.get("message_id").or_else(|| d.get("msg_id"))).and_then(text_of);
            Ok(Ok(id))
        }
        Some(code) if code != 0 => Ok(Err(code)),
        _ => Err(Error::Upstream(format!("Zalo API answered {}", resp.status()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_sha256_of_app_body_time_and_secret() {
        // sha256("1" + "{}" + "2" + "k"), computed independently: printf '1{}2k' | sha256sum
        let sig = signature("1", b"{}", "2", "k");
        assert_eq!(sig, "mac=de8e4e4cd3996baf4a4549475ad3ebf35118b2bcef3fbe9dc44903244f01e17e");
    }

    fn event(json: &str) -> Event {
        let v: Value = serde_json::from_str(json).unwrap();
        parse(&v, "1700000000000")
    }

    #[test]
    fn events_table() {
        let text = event(
            r#"{"event_name":"user_send_text","sender":{"id":"2468458835296117922"},"message":{"text":"ATTP phở","msg_id":"m1"}}"#,
        );
        assert_eq!(text.user, "2468458835296117922");
        assert_eq!(text.inbound, Some(Inbound::Text("ATTP phở".into())));
        let loc = |coords: &str| {
            event(&format!(
                r#"{{"event_name":"user_send_location","sender":{{"id":"1"}},"message":{{"msg_id":"m","attachments":[{{"type":"location","payload":{{"coordinates":{coords}}}}}]}}}}"#
            ))
            .inbound
        };
        let at = Some(Inbound::Location(Location { lat: 16.06, lng: 108.22 }));
        assert_eq!(loc(r#"{"latitude":"16.06","longitude":"108.22"}"#), at);
        assert_eq!(loc(r#"{"lat":16.06,"long":108.22}"#), at);
        let image = event(
            r#"{"event_name":"user_send_image","sender":{"id":"1"},"message":{"msg_id":"m","attachments":[{"type":"image","payload":{"url":"https://photo.zdn.vn/a.jpg"}}]}}"#,
        );
        assert_eq!(image.inbound, Some(Inbound::Photo(PhotoRef::Url("https://photo.zdn.vn/a.jpg".into()))));
        let follow = event(r#"{"event_name":"follow","follower":{"id":"77"}}"#);
        assert_eq!((follow.user.as_str(), follow.id.as_str()), ("77", "follow:77:1700000000000"));
        // a big id sent as a number keeps every digit
        let big = event(
            r#"{"event_name":"user_send_text","sender":{"id":12345678901234567890},"message":{"text":"x","msg_id":"m"}}"#,
        );
        assert_eq!(big.user, "12345678901234567890");
        assert_eq!(
            event(r#"{"event_name":"user_reacted_message","sender":{"id":"1"},"message":{"msg_id":"m"}}"#).inbound,
            None
        );
    }

    #[test]
    fn a_burst_from_one_user_is_cut_off_with_one_notice() {
        use crate::testkit::{self, StandIn};
        use http::StatusCode;
        use serde_json::json;

        let stand_in = StandIn::start(std::time::Duration::ZERO, |_, _| {
            (200, json!({"error": 0, "message": "Success", "data": {"message_id": "z"}}))
        });
        let env = testkit::env(&stand_in).with_config("rate_limit_chat_messages", "3/10m");
        let text = |user: &str, id: &str| {
            let event = json!({"event_name": "user_send_text", "sender": {"id": user},
                               "message": {"msg_id": id, "text": "xin chào"}});
            let (status, body) = testkit::zalo(&env, &event);
            assert_eq!(status, StatusCode::OK, "{id}: {body}");
            body
        };
        let replies_to = |user: &str| -> Vec<String> {
            let calls = stand_in.calls_to("/v3.0/oa/message/cs");
            let to_user = calls.iter().filter(|c| c.body["recipient"]["user_id"] == user);
            to_user.map(|c| c.body["message"]["text"].as_str().unwrap_or_default().to_owned()).collect()
        };
        assert_eq!(text("a", "m1"), json!({"ok": true}));
        text("a", "m2");
        for _ in 0..3 {
            assert_eq!(text("a", "m1"), json!({"ok": true, "duplicate": true}), "a redelivery is not counted");
        }
        text("a", "m3");
        assert_eq!(replies_to("a").len(), 3, "within the limit: answered as always");
        assert!(replies_to("a")[2].starts_with("Xin chào"));
        // the message that crosses the limit: one notice, in Vietnam time (the window opened
        // at 09:00 with m1)
        assert_eq!(text("a", "m4"), json!({"ok": true}));
        assert_eq!(replies_to("a")[3], "Bạn gửi tin nhắn quá nhanh. Vui lòng thử lại sau 09:10.");
        for id in ["m5", "m6"] {
            assert_eq!(text("a", id), json!({"ok": true}), "Zalo always gets its 200");
        }
        assert_eq!(replies_to("a").len(), 4, "silence after the one notice");
        text("b", "n1");
        assert_eq!(replies_to("b").len(), 1, "another user is served meanwhile");
        // a silenced message is answered: its redelivery, after any claim would lapse, is a
        // duplicate, and the tick has nothing of it to send
        env.set_now(civic::testing::t("2024-11-05T02:01:00Z"));
        assert_eq!(text("a", "m5"), json!({"ok": true, "duplicate": true}));
        assert_eq!(replies_to("a").len(), 4);
        let stored = testkit::rows(&env, "SELECT count(*), count(answered_at) FROM chat_events WHERE user_id = 'a'");
        assert_eq!(stored[0], [6.into(), 6.into()], "every event stored, and answered");
        assert!(testkit::rows(&env, "SELECT id FROM outbox").is_empty());
        // the window ends at 02:10Z: served again
        env.set_now(civic::testing::t("2024-11-05T02:10:00Z"));
        text("a", "m7");
        assert_eq!(replies_to("a").len(), 5);
        assert!(replies_to("a")[4].starts_with("Xin chào"));
    }

    #[test]
    fn choices_become_query_buttons() {
        let reply = Reply::text("Chọn").with_choices(vec![civic::command::Choice::new("Phở Bà Hoa", "ATTP #DN-1")]);
        let m = message("42", &reply);
        assert_eq!(m["recipient"]["user_id"], "42");
        assert_eq!(m["message"]["attachment"]["payload"]["buttons"][0]["payload"], "ATTP #DN-1");
        assert!(message("42", &Reply::text("x"))["message"].get("attachment").is_none());
    }
}
