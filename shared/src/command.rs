//! The command contract: how the chat bot (and each function's own SMS webhook) asks the
//! function that owns an answer: `POST <prefix>/command` on food-safety
//! (`/food-safety/command`), permit-status (`/permits/command`) and report-submission
//! (`/reports/command`).
//!
//! **Request** ([`Command`]), JSON, at most [`MAX_BODY`] bytes:
//!
//! ```json
//! {"channel": "zalo", "user": "2468458835296117922", "phone": "0905123456",
//!  "text": "ATTP phở bà hoa", "location": {"lat": 16.06, "lng": 108.22},
//!  "media": ["https://api.danang.gov.vn/reports/media/…"], "id": "zalo:msg-1"}
//! ```
//!
//! `channel` is `sms`, `zalo` or `telegram`; `user` the sender's id on that channel (the phone
//! number for SMS; Zalo and Telegram ids are large numbers, sent as strings); `phone`,
//! `location`, `address` (a place written out, at most [`MAX_ADDRESS`] characters), `media`
//! (our own media URLs) and `id` are optional. `id` is the sender's
//! message (or conversation) id: a repeated `id` on one channel changes nothing twice (a
//! `PA` files one report). Unknown fields are refused (400).
//!
//! **Answer** ([`Reply`]), `200 {"reply": "<text>", "choices": [{"label", "value"}]}`: the
//! text written for the channel ([`render`]: one ASCII SMS of at most 160 characters for
//! `sms`, Vietnamese with its diacritics, whole sentences, for `zalo` and `telegram`), and
//! for a choice the buttons to offer, each `value` being the text to send back when tapped.
//!
//! **Guard**: `X-Signature: <lowercase hex HMAC-SHA256(internal_secret, raw body)>`, checked
//! before the body is read (401 otherwise; 500 when `internal_secret` is unset). It works the
//! same on Spin and Workers whatever JWT mode a deployment uses. Errors are problem+json.
//!
//! Callers reach a function by its Spin component id: [`call`] posts to
//! `http://<component>.spin.internal<path>`, which Spin's local service chaining (and the
//! local host) route to that component, and the Workers adapter to the service binding of
//! that name ([`crate::platform::Platform::fetch`]).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Msg};
use crate::platform::Platform;

/// The largest command body (bytes).
pub const MAX_BODY: usize = 16 * 1024;

/// The longest `text`, in characters; a report's description is the longest thing a command
/// carries.
pub const MAX_TEXT: usize = 2_000;

/// The longest `user`, `phone` and `id` (bytes).
pub const MAX_ID: usize = 128;

/// The longest `address`, in characters.
pub const MAX_ADDRESS: usize = 300;

/// The most `media` URLs in one command.
pub const MAX_MEDIA: usize = 5;

/// The header that carries the body's HMAC.
pub const SIGNATURE: &str = "x-signature";

/// Where a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Zalo,
    Telegram,
}

impl Channel {
    /// `sms`, `zalo`, `telegram`: as stored with a report (`reports.channel`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Zalo => "zalo",
            Channel::Telegram => "telegram",
        }
    }

    /// Zalo and Telegram: replies keep their diacritics and may run to a few hundred
    /// characters.
    pub fn is_chat(self) -> bool {
        self != Channel::Sms
    }
}

/// A shared location, in WGS 84 degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lat: f64,
    pub lng: f64,
}

/// One message to answer (see the module docs for the JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    pub channel: Channel,
    /// The sender on that channel: phone number (SMS), Zalo user id, Telegram chat id.
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The message, as the citizen wrote it (may be empty beside a location or photos).
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// A place written out (a report's address when no location was shared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Our own media URLs (`{public_base_url}/reports/media/{id}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<String>,
    /// The message's (or conversation's) id on its channel, for idempotency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Command {
    /// A text message from `user` on `channel`.
    pub fn text(channel: Channel, user: impl Into<String>, text: impl Into<String>) -> Command {
        Command {
            channel,
            user: user.into(),
            phone: None,
            text: text.into(),
            location: None,
            address: None,
            media: Vec::new(),
            id: None,
        }
    }

    /// Every problem of a parsed command (empty when it is fine).
    pub fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        let mut bad = |field: &str, vi: String, en: String| out.push(FieldError::new(field, Msg::new(vi, en)));
        if self.user.trim().is_empty() || self.user.len() > MAX_ID {
            bad(
                "user",
                format!("Thiếu người gửi, hoặc dài quá {MAX_ID} byte"),
                format!("missing or over {MAX_ID} bytes"),
            );
        }
        for (field, value) in [("phone", &self.phone), ("id", &self.id)] {
            if value.as_ref().is_some_and(|v| v.trim().is_empty() || v.len() > MAX_ID) {
                bad(field, format!("Rỗng hoặc dài quá {MAX_ID} byte"), format!("empty or over {MAX_ID} bytes"));
            }
        }
        if self.text.chars().count() > MAX_TEXT {
            bad("text", format!("Dài quá {MAX_TEXT} ký tự"), format!("longer than {MAX_TEXT} characters"));
        }
        if let Some(l) = self.location
            && !((-90.0..=90.0).contains(&l.lat) && (-180.0..=180.0).contains(&l.lng))
        {
            bad("location", "Tọa độ không hợp lệ".into(), "lat must be within ±90 and lng within ±180".into());
        }
        if self.address.as_ref().is_some_and(|a| a.trim().is_empty() || a.chars().count() > MAX_ADDRESS) {
            bad(
                "address",
                format!("Rỗng hoặc dài quá {MAX_ADDRESS} ký tự"),
                format!("empty or over {MAX_ADDRESS} characters"),
            );
        }
        if self.media.len() > MAX_MEDIA {
            bad("media", format!("Tối đa {MAX_MEDIA} ảnh"), format!("at most {MAX_MEDIA} URLs"));
        }
        out
    }
}

/// A button to offer: `label` is shown, `value` is the text the bot sends back when tapped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub label: String,
    pub value: String,
}

impl Choice {
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Choice {
        Choice { label: label.into(), value: value.into() }
    }
}

/// The answer to a [`Command`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub reply: String,
    #[serde(default)]
    pub choices: Vec<Choice>,
}

impl Reply {
    /// Text only, already written for its channel.
    pub fn text(reply: impl Into<String>) -> Reply {
        Reply { reply: reply.into(), choices: Vec::new() }
    }

    /// Vietnamese `text` rendered for `channel` ([`render`]), no buttons.
    pub fn for_channel(channel: Channel, text: &str) -> Reply {
        Reply::text(render(channel, text))
    }

    pub fn with_choices(mut self, choices: Vec<Choice>) -> Reply {
        self.choices = choices;
        self
    }
}

/// Vietnamese text as `channel` shows it: one SMS (diacritics dropped, at most 160
/// characters, cut at a word: [`crate::text::sms`]) or, on chat, as written.
pub fn render(channel: Channel, text: &str) -> String {
    if channel.is_chat() { text.trim().to_owned() } else { crate::text::sms(text) }
}

/// The `X-Signature` value of `body`: lowercase hex HMAC-SHA256 with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    crate::auth::hmac_sha256_hex(secret.as_bytes(), body)
}

/// The guard of every internal route (`POST <prefix>/command`, `POST /chat/send`): a body of
/// at most `cap` bytes (413 past it) whose `X-Signature` is the hex HMAC-SHA256 of the body
/// with `internal_secret` ([`Error::BadSignature`], 401, otherwise; [`Error::Config`], 500,
/// without the secret). Checked before the body is parsed.
pub fn verify<P: Platform>(req: &Request<Bytes>, env: &P, cap: usize) -> Result<(), Error> {
    crate::web::check_size(req, cap)?;
    let secret = env.config("internal_secret").ok_or(Error::Config("internal_secret"))?;
    let signature = req.headers().get(SIGNATURE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !crate::auth::verify_hmac_sha256_hex(secret.as_bytes(), req.body(), signature) {
        return Err(Error::BadSignature);
    }
    Ok(())
}

/// The `POST <prefix>/command` route: checks the body's size and signature, parses and
/// validates the command (every bad field at once, 422), and answers what `answer` replies.
pub async fn serve<P: Platform>(
    req: &Request<Bytes>,
    env: &P,
    answer: impl AsyncFnOnce(&Command) -> Result<Reply, Error>,
) -> Result<Response<Bytes>, Error> {
    verify(req, env, MAX_BODY)?;
    let cmd: Command = serde_json::from_slice(req.body())
        .map_err(|e| Error::BadRequest(Msg::new(format!("JSON không hợp lệ: {e}"), format!("invalid JSON: {e}"))))?;
    let problems = cmd.problems();
    if !problems.is_empty() {
        return Err(Error::Validation(problems));
    }
    let reply = answer(&cmd).await?;
    crate::web::json(StatusCode::OK, &reply)
}

/// The URL of `path` on the function deployed as Spin component `component`
/// (`http://food-safety.spin.internal/food-safety/command`).
pub fn internal_url(component: &str, path: &str) -> String {
    format!("http://{component}.spin.internal{path}")
}

/// The signed `POST` of `body` (JSON) to `path` on `component` ([`internal_url`]), with its
/// `X-Signature`. [`Error::Config`] without `internal_secret`.
pub fn internal_request<P: Platform>(
    env: &P,
    component: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<Request<Bytes>, Error> {
    let secret = env.config("internal_secret").ok_or(Error::Config("internal_secret"))?;
    Request::post(internal_url(component, path))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE, sign(&secret, &body))
        .body(Bytes::from(body))
        .map_err(|e| Error::Internal(format!("building a request to {component}: {e}")))
}

/// A signed `POST` of `body` (JSON) to `path` on `component`, through the platform's fetch:
/// Spin's local service chaining, or the Workers service binding named after the component.
/// [`Error::Config`] without `internal_secret`; [`Error::Upstream`] when the call fails or
/// answers anything but a 2xx (its status and body are in the text, for logs).
pub async fn post_internal<P: Platform>(
    env: &P,
    component: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<http::Response<Bytes>, Error> {
    let request = internal_request(env, component, path, body)?;
    let resp = env.fetch(request).await.map_err(|e| Error::Upstream(format!("{component}{path}: {e}")))?;
    if !resp.status().is_success() {
        let body = String::from_utf8_lossy(resp.body());
        return Err(Error::Upstream(format!("{component}{path} answered {}: {body}", resp.status())));
    }
    Ok(resp)
}

/// Sends `cmd` to `component`'s `path` ([`post_internal`]) and reads its [`Reply`].
pub async fn call<P: Platform>(env: &P, component: &str, path: &str, cmd: &Command) -> Result<Reply, Error> {
    let body = serde_json::to_vec(cmd).map_err(|e| Error::Internal(format!("serialize: {e}")))?;
    let resp = post_internal(env, component, path, body).await?;
    serde_json::from_slice(resp.body()).map_err(|e| Error::Upstream(format!("{component}{path}: bad reply: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::native::{NativePlatform, block_on};

    fn signed(env_secret: &str, body: &str) -> Request<Bytes> {
        Request::post("/x/command")
            .header(SIGNATURE, sign(env_secret, body.as_bytes()))
            .body(Bytes::from(body.to_owned()))
            .unwrap()
    }

    fn run(p: &NativePlatform, req: &Request<Bytes>) -> Result<Response<Bytes>, Error> {
        block_on(serve(req, p, async |c: &Command| Ok(Reply::for_channel(c.channel, &format!("Chào {}", c.user)))))
    }

    #[test]
    fn signed_commands_are_answered_for_their_channel() {
        let p = NativePlatform::in_memory(&[]).with_config("internal_secret", "s3");
        let body = r#"{"channel":"zalo","user":"2468458835296117922","text":"ATTP phở"}"#;
        let resp = run(&p, &signed("s3", body)).unwrap();
        let reply: Reply = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(reply, Reply::text("Chào 2468458835296117922"));
        let sms = r#"{"channel":"sms","user":"0905","text":"x"}"#;
        let reply: Reply = serde_json::from_slice(run(&p, &signed("s3", sms)).unwrap().body()).unwrap();
        assert_eq!(reply.reply, "Chao 0905");
    }

    #[test]
    fn forged_unknown_and_bad_fields_are_refused() {
        let p = NativePlatform::in_memory(&[]).with_config("internal_secret", "s3");
        let body = r#"{"channel":"zalo","user":"1","text":"x"}"#;
        assert!(matches!(run(&p, &signed("other", body)), Err(Error::BadSignature)));
        let unknown = r#"{"channel":"zalo","user":"1","text":"x","admin":true}"#;
        assert!(matches!(run(&p, &signed("s3", unknown)), Err(Error::BadRequest(_))));
        let channel = r#"{"channel":"fax","user":"1","text":"x"}"#;
        assert!(matches!(run(&p, &signed("s3", channel)), Err(Error::BadRequest(_))));
        let bad = r#"{"channel":"zalo","user":" ","text":"x","location":{"lat":91,"lng":0}}"#;
        match run(&p, &signed("s3", bad)) {
            Err(Error::Validation(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["user", "location"]);
            }
            other => panic!("{other:?}"),
        }
        let unset = NativePlatform::in_memory(&[]);
        assert!(matches!(run(&unset, &signed("", body)), Err(Error::Config("internal_secret"))));
    }

    #[test]
    fn the_request_round_trips_with_only_what_was_given() {
        let cmd = Command::text(Channel::Telegram, "42", "TT PA-241105-0001");
        let json = serde_json::to_string(&cmd).unwrap();
        assert_eq!(json, r#"{"channel":"telegram","user":"42","text":"TT PA-241105-0001"}"#);
        assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), cmd);
        assert_eq!(
            internal_url("food-safety", "/food-safety/command"),
            "http://food-safety.spin.internal/food-safety/command"
        );
    }
}
