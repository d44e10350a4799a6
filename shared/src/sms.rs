//! The SMS gateway's webhook contract, the same for every keyword (`ATTP`, `HS`, ...): each
//! function answers its own keyword on a route of its own, with [`webhook`].
//!
//! Body `{"id": "<message id>", "from": "84905123456", "to": "8188", "text": "HS ..."}`,
//! header `X-Signature: <lowercase hex HMAC-SHA256(sms_webhook_secret, raw body)>`, verified
//! before the body is parsed. The message is stored (table `sms_messages` of the function's
//! own database) before it is answered, and a redelivery of the same id gets the stored
//! reply. The answer is `200 {"reply": "<one SMS>"}`: build the text with
//! [`crate::text::sms`], dates with [`date`] and [`date_time`].
//!
//! **Rate limit** ([`RULE`], setting `rate_limit_sms`, default 20 messages an hour per
//! sender, counted in the same batch that stores the message): the message that crosses the
//! limit is answered with one short SMS saying when to write again ([`too_many`]); the ones
//! after it, until the window ends, with `{"reply": null}`: stored, and not answered, so a
//! flood costs the province one SMS. A redelivered message is not counted again.

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, TimeZone};
use http::{Request, Response, StatusCode};
use serde::Deserialize;

use crate::error::{Error, Msg};
use crate::limit::{Caller, Count, Rule, Verdict};
use crate::platform::{Platform, Statement};

/// The SMS commands one phone number may send to one function: setting `rate_limit_sms`.
pub const RULE: Rule = Rule { name: "sms", default: "20/1h" };

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
    let count = RULE.count(env, &Caller::Phone(msg.from.clone()))?;
    let reply = match remember(env, db, &msg, &count).await? {
        Remembered::Answered(stored) => stored,
        Remembered::New(verdict) => {
            let reply = match verdict {
                Verdict::Within => answer(&msg).await?,
                Verdict::Over { retry_after, first: true } => too_many(env.now(), retry_after),
                Verdict::Over { first: false, .. } => String::new(),
            };
            env.execute(
                db,
                "UPDATE sms_messages SET reply = ?1 WHERE id = ?2",
                &[reply.as_str().into(), msg.id.as_str().into()],
            )
            .await?;
            reply
        }
    };
    let reply = (!reply.is_empty()).then_some(reply);
    crate::web::json(StatusCode::OK, &serde_json::json!({"reply": reply}))
}

/// The one SMS a sender gets for crossing [`RULE`]: when to write again, in Vietnam time.
pub fn too_many(now: DateTime<chrono::Utc>, retry_after: u64) -> String {
    let again = now + chrono::Duration::seconds(i64::try_from(retry_after).unwrap_or(i64::MAX / 2));
    crate::text::sms(&format!(
        "Ban da gui qua nhieu tin nhan. Tin nhan tiep theo duoc tra loi sau {}.",
        date_time(&again)
    ))
}

/// What [`remember`] found.
enum Remembered {
    /// A message seen before, with the reply it got.
    Answered(String),
    /// A new message (or one seen but never answered), and its rate-limit verdict.
    New(Verdict),
}

/// Stores the message unless this id was seen before, counting a new one against [`RULE`]
/// in the same batch; a message already answered gets its stored reply.
async fn remember(env: &impl Platform, db: &str, msg: &Inbound, count: &Count) -> Result<Remembered, Error> {
    let received = env.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let results = env
        .batch(
            db,
            &[
                Statement::new(
                    "INSERT INTO sms_messages (id, sender, recipient, text, received_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (id) DO NOTHING RETURNING id",
                    vec![
                        msg.id.as_str().into(),
                        msg.from.as_str().into(),
                        msg.to.as_str().into(),
                        msg.text.as_str().into(),
                        received.into(),
                    ],
                ),
                count.statement_after_change(),
            ],
        )
        .await?;
    if results.first().is_some_and(|r| !r.is_empty()) {
        let counted = results.get(1).ok_or_else(|| Error::Internal("sms: the count returned nothing".into()))?;
        return Ok(Remembered::New(count.verdict(counted)?));
    }
    let rows = env.query(db, "SELECT reply FROM sms_messages WHERE id = ?1", &[msg.id.as_str().into()]).await?;
    Ok(match rows.first().map(|r| r.opt_str("reply")).transpose()?.flatten() {
        Some(stored) => Remembered::Answered(stored.to_owned()),
        None => Remembered::New(Verdict::Within),
    })
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

    fn env() -> NativePlatform {
        let env = NativePlatform::in_memory(&["db"]).with_config("sms_webhook_secret", "s3cret");
        block_on(env.execute("db", SCHEMA, &[])).unwrap();
        block_on(env.execute("db", crate::limit::SCHEMA.split(';').next().unwrap_or_default(), &[])).unwrap();
        env
    }

    fn signed(body: &str, secret: &str) -> Request<Bytes> {
        let sig = crate::auth::hmac_sha256_hex(secret.as_bytes(), body.as_bytes());
        Request::post("/x/sms").header("x-signature", sig).body(Bytes::from(body.to_owned())).unwrap()
    }

    #[test]
    fn stores_first_answers_once_and_replays_the_reply() {
        let env = env();
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
    fn a_flood_from_one_number_costs_one_sms() {
        let env = env().with_config("rate_limit_sms", "2/1h");
        env.set_now("2026-01-01T00:00:00Z".parse().unwrap());
        let send = |id: &str, from: &str| {
            let body = format!(r#"{{"id": "{id}", "from": "{from}", "to": "8188", "text": "HS 1"}}"#);
            let r = block_on(webhook(&signed(&body, "s3cret"), &env, "db", async |_: &Inbound| Ok("ok".to_owned())));
            serde_json::from_slice::<serde_json::Value>(r.unwrap().body()).unwrap()["reply"].clone()
        };
        assert_eq!([send("a", "84905123456"), send("b", "0905123456")], ["ok", "ok"]);
        let over = send("c", "+84905123456");
        assert_eq!(over, "Ban da gui qua nhieu tin nhan. Tin nhan tiep theo duoc tra loi sau 08:00 01/01/2026.");
        assert_eq!(send("d", "84905123456"), serde_json::Value::Null, "silence after the one notice");
        assert_eq!(send("c", "84905123456"), over, "a redelivery gets its stored reply, uncounted");
        assert_eq!(send("e", "84912000000"), "ok", "another number is served");
        let stored = block_on(env.query("db", "SELECT count(*) AS n FROM sms_messages", &[])).unwrap();
        assert_eq!(stored.first().unwrap().i64("n").unwrap(), 5, "every message is kept");
        env.set_now("2026-01-01T01:00:00Z".parse().unwrap());
        assert_eq!(send("f", "84905123456"), "ok", "a new window");
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
        let env = env();
        let long = "m".repeat(MAX_ID + 1);
        let body = format!(r#"{{"id": "{long}", "from": "84905123456", "to": "8188", "text": "HS 1"}}"#);
        let r = block_on(webhook(&signed(&body, "s3cret"), &env, "db", async |_: &Inbound| Ok(String::new())));
        match r {
            Err(Error::BadRequest(m)) => assert!(m.en.contains("128"), "{}", m.en),
            other => panic!("expected a 400, got {other:?}"),
        }
    }
}
