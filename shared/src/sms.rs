//! The SMS gateway's webhook contract, the same for every keyword (`ATTP`, `HS`, ...): each
//! function answers its own keyword on a route of its own, with [`webhook`].
//!
//! Body `{"id": "<message id>", "from": "84905123456", "to": "8188", "text": "HS ..."}`,
//! header `X-Signature: <lowercase hex HMAC-SHA256(sms_webhook_secret, raw body)>`, verified
//! before the body is parsed. The message is stored (table `sms_messages` of the function's
//! own database) before it is answered, and a redelivery of the same id gets the stored
//! reply. The answer is `200 {"reply": "<one SMS>"}`: build the text with
//! [`crate::text::sms`], dates with [`date`] and [`date_time`].

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, TimeZone};
use http::{Request, Response, StatusCode};
use serde::Deserialize;

use crate::error::{Error, Msg};
use crate::platform::Platform;

/// The largest webhook body (bytes).
pub const MAX_BODY: usize = 4 * 1024;

/// The longest gateway message id (bytes); a longer one is refused (400).
pub const MAX_ID: usize = 128;

/// The province's SMS short code, quoted in help texts when a message did not come through
/// a short code (a brandname, an unknown sender).
pub const SHORT_CODE: &str = "8188";

/// The gateway's message.
#[derive(Debug, Deserialize)]
pub struct Inbound {
    pub id: String,
    /// The sender's phone number.
    pub from: String,
    /// The short code the message was sent to.
    pub to: String,
    pub text: String,
}

/// Verifies, parses and stores the gateway's message, then answers it with `answer` (or with
/// the reply already stored for that message id).
pub async fn webhook<P: Platform>(
    req: &Request<Bytes>,
    env: &P,
    db: &str,
    answer: impl AsyncFnOnce(&Inbound) -> Result<String, Error>,
) -> Result<Response<Bytes>, Error> {
    crate::web::check_size(req, MAX_BODY)?;
    let secret = env.config("sms_webhook_secret").ok_or(Error::Config("sms_webhook_secret"))?;
    let signature = req.headers().get("x-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !crate::auth::verify_hmac_sha256_hex(secret.as_bytes(), req.body(), signature) {
        return Err(Error::BadSignature);
    }
    // The signature vouches for the body; gateways differ in the Content-Type they send,
    // so the body is read as JSON whatever it says.
    let msg: Inbound = serde_json::from_slice(req.body())
        .map_err(|e| Error::BadRequest(Msg::new(format!("JSON không hợp lệ: {e}"), format!("invalid JSON: {e}"))))?;
    if msg.id.trim().is_empty() || msg.id.len() > MAX_ID {
        return Err(Error::BadRequest(Msg::new(
            format!("Thiếu mã tin nhắn, hoặc dài quá {MAX_ID} byte"),
            format!("the message id is missing or longer than {MAX_ID} bytes"),
        )));
    }
    let reply = match remember(env, db, &msg).await? {
        Some(stored) => stored,
        None => {
            let reply = answer(&msg).await?;
            env.execute(
                db,
                "UPDATE sms_messages SET reply = ?1 WHERE id = ?2",
                &[reply.as_str().into(), msg.id.as_str().into()],
            )
            .await?;
            reply
        }
    };
    crate::web::json(StatusCode::OK, &serde_json::json!({"reply": reply}))
}

/// Stores the message unless this id was seen before; returns the stored reply of a
/// message already answered.
async fn remember(env: &impl Platform, db: &str, msg: &Inbound) -> Result<Option<String>, Error> {
    let received = env.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let inserted = env
        .query(
            db,
            "INSERT INTO sms_messages (id, sender, recipient, text, received_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO NOTHING RETURNING id",
            &[
                msg.id.as_str().into(),
                msg.from.as_str().into(),
                msg.to.as_str().into(),
                msg.text.as_str().into(),
                received.into(),
            ],
        )
        .await?;
    if !inserted.is_empty() {
        return Ok(None);
    }
    let rows = env.query(db, "SELECT reply FROM sms_messages WHERE id = ?1", &[msg.id.as_str().into()]).await?;
    Ok(rows.first().map(|r| r.opt_str("reply")).transpose()?.flatten().map(str::to_owned))
}

/// The short code to quote in a help text: the one the message was sent to when it looks
/// like one (up to 8 digits), else the province's [`SHORT_CODE`].
pub fn short_code(to: &str) -> &str {
    if !to.is_empty() && to.len() <= 8 && to.bytes().all(|b| b.is_ascii_digit()) { to } else { SHORT_CODE }
}

/// A date as replies write it, day first: `15/11/2024`.
pub fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// A time as replies write it, in Vietnam time (UTC+7) whatever its offset:
/// `17:00 15/11/2024`.
pub fn date_time<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    t.with_timezone(&crate::web::vietnam()).format("%H:%M %d/%m/%Y").to_string()
}

/// Splits a message into its keyword (the first word, folded and stripped of punctuation:
/// `hs`, `attp`) and the rest, trimmed.
pub fn keyword(text: &str) -> (String, &str) {
    let trimmed = text.trim();
    let (first, rest) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
    (crate::text::words(first).concat(), rest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::native::{NativePlatform, block_on};

    const SCHEMA: &str = "CREATE TABLE sms_messages (id TEXT PRIMARY KEY, sender TEXT NOT NULL,
        recipient TEXT NOT NULL, text TEXT NOT NULL, received_at TEXT NOT NULL, reply TEXT) STRICT";

    fn signed(body: &str, secret: &str) -> Request<Bytes> {
        let sig = crate::auth::hmac_sha256_hex(secret.as_bytes(), body.as_bytes());
        Request::post("/x/sms").header("x-signature", sig).body(Bytes::from(body.to_owned())).unwrap()
    }

    #[test]
    fn stores_first_answers_once_and_replays_the_reply() {
        let env = NativePlatform::in_memory(&["db"]).with_config("sms_webhook_secret", "s3cret");
        block_on(env.execute("db", SCHEMA, &[])).unwrap();
        let body = r#"{"id": "m1", "from": "84905123456", "to": "8188", "text": "HS 1"}"#;
        let calls = std::cell::Cell::new(0);
        let answer = async |m: &Inbound| {
            calls.set(calls.get() + 1);
            Ok(format!("reply to {}", m.text))
        };
        for _ in 0..2 {
            let r = block_on(webhook(&signed(body, "s3cret"), &env, "db", answer)).unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(&r.body()[..], br#"{"reply":"reply to HS 1"}"#);
        }
        assert_eq!(calls.get(), 1, "a redelivery is answered from the store");
        let forged = block_on(webhook(&signed(body, "wrong"), &env, "db", answer));
        assert!(matches!(forged, Err(Error::BadSignature)));
        let no_id =
            block_on(webhook(&signed(r#"{"id":" ","from":"","to":"","text":""}"#, "s3cret"), &env, "db", answer));
        assert!(matches!(no_id, Err(Error::BadRequest(_))));
    }

    #[test]
    fn keyword_and_short_code() {
        assert_eq!(keyword("  Hs  000.00.19.H57-241105-0012 "), ("hs".to_owned(), "000.00.19.H57-241105-0012"));
        assert_eq!(keyword("ATTP"), ("attp".to_owned(), ""));
        assert_eq!(keyword("attp: pho"), ("attp".to_owned(), "pho"));
        assert_eq!(keyword(""), (String::new(), ""));
        assert_eq!(short_code("8188"), "8188");
        assert_eq!(short_code("Brandname"), "8188");
        assert_eq!(short_code(""), "8188");
    }

    #[test]
    fn dates_are_day_first_in_vietnam_time() {
        let t = DateTime::parse_from_rfc3339("2024-11-15T10:00:00Z").unwrap();
        assert_eq!(date_time(&t), "17:00 15/11/2024");
        let late = DateTime::parse_from_rfc3339("2024-11-15T17:30:00Z").unwrap();
        assert_eq!(date_time(&late.with_timezone(&chrono::Utc)), "00:30 16/11/2024");
        assert_eq!(date(NaiveDate::from_ymd_opt(2027, 3, 1).unwrap()), "01/03/2027");
    }

    #[test]
    fn an_overlong_message_id_is_refused_and_says_so() {
        let env = NativePlatform::in_memory(&["db"]).with_config("sms_webhook_secret", "s3cret");
        block_on(env.execute("db", SCHEMA, &[])).unwrap();
        let long = "m".repeat(MAX_ID + 1);
        let body = format!(r#"{{"id": "{long}", "from": "84905123456", "to": "8188", "text": "HS 1"}}"#);
        let r = block_on(webhook(&signed(&body, "s3cret"), &env, "db", async |_: &Inbound| Ok(String::new())));
        match r {
            Err(Error::BadRequest(m)) => assert!(m.en.contains("128"), "{}", m.en),
            other => panic!("expected a 400, got {other:?}"),
        }
    }
}
