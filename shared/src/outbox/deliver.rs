//! Delivery: claims of due deliveries (one conditional `UPDATE`), their attempts (a partner's webhook,
//! the SMS gateway, chat's `POST /chat/send`) bounded by a timeout, and the record of each
//! outcome with its retry or its end.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use serde_json::{Value as Json, json};

use super::Tick;
use crate::error::Error;
use crate::platform::{Platform, Row, Statement, Timeout, Value};
use crate::web::stamp;

/// How many deliveries one claim takes; they are attempted together.
pub const CLAIM_SIZE: i64 = 20;

/// The most deliveries one [`deliver`] attempts, so that a tick ends.
pub const MAX_PER_RUN: u64 = 1_000;

/// The retry schedule when `outbox_retry_schedule` is unset: the waits after the first,
/// second, ... failed attempt; after the last, the delivery is dead.
pub const DEFAULT_SCHEDULE: &str = "30s,2m,10m,1h,6h,24h";

/// How long an attempt waits for its receiver when `outbox_timeout_seconds` is unset.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A retry schedule from its text: waits separated by commas, each a [`humantime`] duration
/// (`30s,2m,10m,1h,6h,24h`). `None` when a part is not one.
pub fn parse_schedule(text: &str) -> Option<Vec<Duration>> {
    text.split(',')
        .map(|part| humantime::parse_duration(part.trim()).ok())
        .collect::<Option<Vec<_>>>()
        .filter(|s| !s.is_empty())
}

/// The delivery settings of a platform.
struct Settings {
    schedule: Vec<Duration>,
    timeout: Duration,
}

impl Settings {
    fn of(env: &impl Platform) -> Result<Settings, Error> {
        let schedule = match env.config("outbox_retry_schedule") {
            Some(text) => parse_schedule(&text).ok_or(Error::Config("outbox_retry_schedule"))?,
            None => parse_schedule(DEFAULT_SCHEDULE).unwrap_or_default(),
        };
        let timeout = match env.config("outbox_timeout_seconds") {
            Some(text) => {
                Duration::from_secs(text.trim().parse().map_err(|_| Error::Config("outbox_timeout_seconds"))?)
            }
            None => DEFAULT_TIMEOUT,
        };
        Ok(Settings { schedule, timeout })
    }

    /// How long a claim holds: every attempt of a claim runs at once, each within the
    /// timeout; the margin covers the writes around them. A tick that dies (a host restart)
    /// leaves its claims to lapse after this, to be taken again.
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.timeout * 2).unwrap_or_default() + chrono::Duration::seconds(5)
    }
}

/// One claimed delivery with what its attempt needs.
#[derive(Debug)]
pub(super) struct Claimed {
    seq: i64,
    id: String,
    event_id: String,
    target: String,
    endpoint_id: Option<String>,
    recipient: Option<String>,
    phone: Option<String>,
    message: Option<String>,
    template: Option<String>,
    pub(super) attempts: i64,
    pub(super) kind: String,
    data: String,
    created_at: String,
    url: Option<String>,
    secret: Option<String>,
    pub(super) endpoint_state: Option<String>,
}

impl Claimed {
    pub(super) fn read(r: &Row<'_>) -> Result<Claimed, Error> {
        let text = |c: &str| r.opt_str(c).map(|s| s.map(str::to_owned));
        Ok(Claimed {
            seq: r.i64("seq")?,
            id: r.str("id")?.to_owned(),
            event_id: r.str("event_id")?.to_owned(),
            target: r.str("target")?.to_owned(),
            endpoint_id: text("endpoint_id")?,
            recipient: text("recipient")?,
            phone: text("phone")?,
            message: text("message")?,
            template: text("template")?,
            attempts: r.i64("attempts")?,
            kind: r.opt_str("type")?.unwrap_or_default().to_owned(),
            data: r.opt_str("data")?.unwrap_or("{}").to_owned(),
            created_at: r.opt_str("created_at")?.unwrap_or_default().to_owned(),
            url: text("url")?,
            secret: text("secret")?,
            endpoint_state: text("endpoint_state")?,
        })
    }
}

/// Takes up to [`CLAIM_SIZE`] due deliveries for this tick until `lease`, in one
/// conditional statement. A citizen's delivery waits while an earlier one to them is pending,
/// so that their messages keep their order.
pub(super) const CLAIM: &str =
    "UPDATE outbox_deliveries SET claimed_until = ?2, attempts = attempts + 1, updated_at = ?1
    WHERE seq IN (
        SELECT d.seq FROM outbox_deliveries d
        WHERE d.state = 'pending' AND d.next_at <= ?1 AND (d.claimed_until IS NULL OR d.claimed_until <= ?1)
          AND (d.target = 'webhook' OR NOT EXISTS (
              SELECT 1 FROM outbox_deliveries e
              WHERE e.target = d.target AND e.recipient = d.recipient AND e.state = 'pending' AND e.seq < d.seq))
        ORDER BY d.next_at, d.seq LIMIT ?3)
      AND state = 'pending' AND (claimed_until IS NULL OR claimed_until <= ?1)
    RETURNING seq, id, event_id, target, endpoint_id, recipient, phone, message, template, attempts,
      (SELECT type FROM outbox_events v WHERE v.id = event_id) AS type,
      (SELECT data FROM outbox_events v WHERE v.id = event_id) AS data,
      (SELECT created_at FROM outbox_events v WHERE v.id = event_id) AS created_at,
      (SELECT url FROM webhook_endpoints w WHERE w.id = endpoint_id) AS url,
      (SELECT secret FROM webhook_endpoints w WHERE w.id = endpoint_id) AS secret,
      (SELECT state FROM webhook_endpoints w WHERE w.id = endpoint_id) AS endpoint_state";

/// What became of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// The receiver took it (2xx).
    Delivered(u16),
    /// It failed; retried later unless it was the last attempt.
    Failed { status: Option<u16>, error: String },
    /// It can never be made (no way to reach the citizen; the endpoint is gone).
    Undeliverable(String),
    /// The endpoint answered `410 Gone`: it is disabled.
    Gone,
}

/// Delivers what is due in database `db`: claims (one conditional `UPDATE ... RETURNING`
/// under a lease in `claimed_until`), attempts every claimed
/// delivery at once, records the outcomes in one batch, and goes on until nothing is due or
/// [`MAX_PER_RUN`] were attempted.
///
/// # Errors
/// A database error, or a setting that does not parse ([`Error::Config`]).
pub async fn deliver(env: &impl Platform, db: &str) -> Result<Tick, Error> {
    let settings = Settings::of(env)?;
    let mut total = Tick::default();
    let mut attempted = 0u64;
    while attempted < MAX_PER_RUN {
        let now = env.now();
        let lease = stamp(now + settings.lease());
        let rows = env.query(db, CLAIM, &[stamp(now).into(), lease.as_str().into(), CLAIM_SIZE.into()]).await?;
        if rows.is_empty() {
            break;
        }
        let claimed = rows.iter().map(|r| Claimed::read(&r)).collect::<Result<Vec<_>, _>>()?;
        attempted += claimed.len() as u64;
        let outcomes = futures_util::future::join_all(claimed.iter().map(|d| attempt(env, d, settings.timeout))).await;
        let mut statements = Vec::new();
        for (d, outcome) in claimed.iter().zip(outcomes) {
            total.add(&record(env, &settings, d, &outcome, &lease, &mut statements));
        }
        env.batch(db, &statements).await?;
    }
    Ok(total)
}

/// The statements that record `outcome` of `d`'s attempt under the claim `lease`, and how it
/// counts.
fn record(
    env: &impl Platform,
    settings: &Settings,
    d: &Claimed,
    outcome: &Outcome,
    lease: &str,
    out: &mut Vec<Statement>,
) -> Tick {
    let now = env.now();
    let at = stamp(now);
    let mut tick = Tick::default();
    let mine = |sql: &str, mut params: Vec<Value>| {
        params.extend([d.seq.into(), lease.into()]);
        let n = params.len();
        Statement::new(format!("{sql} WHERE seq = ?{} AND claimed_until = ?{n}", n - 1), params)
    };
    match outcome {
        Outcome::Delivered(status) => {
            tick.delivered = 1;
            out.push(mine(
                "UPDATE outbox_deliveries SET state = 'delivered', delivered_at = ?1, updated_at = ?1,
                 claimed_until = NULL, last_status = ?2, last_error = NULL",
                vec![at.as_str().into(), i64::from(*status).into()],
            ));
        }
        Outcome::Failed { status, error } => {
            let wait = usize::try_from(d.attempts - 1).ok().and_then(|i| settings.schedule.get(i));
            let (state, next_at) = match wait {
                Some(wait) => {
                    tick.retried = 1;
                    ("pending", stamp(ceil_second(now + jittered(env, *wait))))
                }
                None => {
                    tick.dead = 1;
                    ("dead", at.clone())
                }
            };
            out.push(mine(
                "UPDATE outbox_deliveries SET state = ?1, next_at = ?2, updated_at = ?3, claimed_until = NULL,
                 last_status = ?4, last_error = ?5",
                vec![
                    state.into(),
                    next_at.into(),
                    at.as_str().into(),
                    status.map(i64::from).into(),
                    crate::text::cut(error, 500).into(),
                ],
            ));
        }
        Outcome::Undeliverable(why) => {
            tick.undeliverable = 1;
            out.push(mine(
                "UPDATE outbox_deliveries SET state = 'undeliverable', updated_at = ?1, claimed_until = NULL,
                 last_error = ?2",
                vec![at.as_str().into(), crate::text::cut(why, 500).into()],
            ));
        }
        Outcome::Gone => {
            tick.undeliverable = 1;
            let endpoint = d.endpoint_id.clone().unwrap_or_default();
            out.push(Statement::new(
                "UPDATE webhook_endpoints SET state = 'disabled', disabled_reason = ?2 WHERE id = ?1",
                vec![endpoint.as_str().into(), format!("410 Gone at {at}").into()],
            ));
            out.push(Statement::new(
                "UPDATE outbox_deliveries SET state = 'cancelled', updated_at = ?2, claimed_until = NULL,
                 last_status = 410, last_error = 'the endpoint answered 410 Gone and was disabled'
                 WHERE endpoint_id = ?1 AND state = 'pending' AND (seq = ?3 OR claimed_until IS NULL OR claimed_until <= ?2)",
                vec![endpoint.into(), at.into(), d.seq.into()],
            ));
        }
    }
    tick
}

/// `t` rounded up to a whole second: stored times have whole seconds, and a retry must not
/// come early (truncated, a wait under a second would be due at once, in the same run).
fn ceil_second(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    match t.timestamp_subsec_nanos() {
        0 => t,
        nanos => t + chrono::Duration::nanoseconds(1_000_000_000 - i64::from(nanos)),
    }
}

/// `wait` give or take a fifth, at random, so that retries of many deliveries spread out.
fn jittered(env: &impl Platform, wait: Duration) -> chrono::Duration {
    let mut b = [0u8; 2];
    env.random_bytes(&mut b);
    let unit = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX); // 0..=1
    let factor = 0.8 + 0.4 * unit;
    #[allow(clippy::cast_possible_truncation)]
    let ms = (wait.as_millis() as f64 * factor) as i64;
    chrono::Duration::milliseconds(ms)
}

/// One attempt of `d`, bounded by `timeout`.
async fn attempt(env: &impl Platform, d: &Claimed, timeout: Duration) -> Outcome {
    let request = match d.target.as_str() {
        "webhook" => webhook_request(env, d),
        "sms" => sms_request(env, d),
        "zalo" | "telegram" => chat_request(env, d),
        other => Err(Outcome::Undeliverable(format!("unknown target {other}"))),
    };
    let mut request = match request {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    request.extensions_mut().insert(Timeout(timeout));
    match env.fetch(request).await {
        Ok(resp) if resp.status().is_success() => Outcome::Delivered(resp.status().as_u16()),
        Ok(resp) if resp.status() == StatusCode::GONE && d.target == "webhook" => Outcome::Gone,
        Ok(resp) if resp.status() == StatusCode::UNPROCESSABLE_ENTITY && d.target != "webhook" && d.target != "sms" => {
            Outcome::Undeliverable(format!("chat cannot send it: {}", problem_fields(resp.body())))
        }
        Ok(resp) => Outcome::Failed { status: Some(resp.status().as_u16()), error: answer_text(d, &resp) },
        Err(e) => Outcome::Failed { status: None, error: masked(&e.to_string()) },
    }
}

/// What is kept of a failed answer: the status, and for a partner's webhook the start of its
/// body (digit runs masked). A gateway's or chat's body may repeat the citizen's number or
/// message, so of those only the status is kept.
fn answer_text(d: &Claimed, resp: &http::Response<Bytes>) -> String {
    let status = resp.status().as_u16();
    if d.target == "webhook" {
        format!("HTTP {status}: {}", masked(&crate::text::cut(&String::from_utf8_lossy(resp.body()), 300)))
    } else {
        format!("HTTP {status}")
    }
}

/// The fields a problem+json answer names (`errors[].field`), for the record of why chat
/// could not send (`phone`, `template`, `user`): never their values.
fn problem_fields(body: &[u8]) -> String {
    let v: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
    let fields: Vec<&str> =
        v["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).take(5).collect();
    if fields.is_empty() { "422".to_owned() } else { fields.join(", ") }
}

/// `text` with every run of six or more digits (a phone number, an account) replaced by `…`.
pub(super) fn masked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    for c in text.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        out.push_str(if digits.len() >= 6 { "…" } else { &digits });
        digits.clear();
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

fn failed(error: impl Into<String>) -> Outcome {
    Outcome::Failed { status: None, error: error.into() }
}

fn post_json(url: &str, body: Vec<u8>) -> Result<Request<Bytes>, Outcome> {
    Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body))
        .map_err(|e| failed(format!("request: {e}")))
}

/// `POST <url>` of `{"type", "timestamp", "data"}` with the three Standard Webhooks headers.
fn webhook_request(env: &impl Platform, d: &Claimed) -> Result<Request<Bytes>, Outcome> {
    let (Some(url), Some(secret), Some("enabled")) = (&d.url, &d.secret, d.endpoint_state.as_deref()) else {
        return Err(Outcome::Undeliverable("the endpoint was deleted or disabled".into()));
    };
    let data: Json = serde_json::from_str(&d.data).unwrap_or(Json::Null);
    let body = json!({"type": d.kind, "timestamp": d.created_at, "data": data}).to_string().into_bytes();
    let secret =
        crate::webhooks::Secret::parse(secret).map_err(|_| failed("the endpoint's stored secret is unusable"))?;
    let headers = crate::webhooks::headers(&secret, &d.event_id, env.now().timestamp(), &body)
        .map_err(|e| failed(format!("signing: {e:?}")))?;
    let mut request = post_json(url, body)?;
    for (name, value) in headers {
        let value = http::HeaderValue::from_str(&value).map_err(|e| failed(format!("header: {e}")))?;
        request.headers_mut().insert(name, value);
    }
    Ok(request)
}

/// `POST {sms_gateway_url}` of `{"id": <event id>, "to": <84...>, "text"}`, one ASCII SMS, signed
/// with `sms_webhook_secret` in `X-Signature`.
fn sms_request(env: &impl Platform, d: &Claimed) -> Result<Request<Bytes>, Outcome> {
    let url = env.config("sms_gateway_url").ok_or_else(|| failed("sms_gateway_url is not set"))?;
    let secret = env.config("sms_webhook_secret").ok_or_else(|| failed("sms_webhook_secret is not set"))?;
    let (Some(to), Some(text)) = (&d.recipient, &d.message) else {
        return Err(Outcome::Undeliverable("no phone or no message".into()));
    };
    let to = crate::phone::international(to);
    let body = json!({"id": d.event_id, "to": to, "text": crate::text::sms(text)}).to_string().into_bytes();
    let mut request = post_json(&url, body)?;
    let signature = crate::command::sign(&secret, request.body());
    let value = http::HeaderValue::from_str(&signature).map_err(|e| failed(format!("header: {e}")))?;
    request.headers_mut().insert(crate::command::SIGNATURE, value);
    Ok(request)
}

/// The chat function's `POST /chat/send` of `{"id": <delivery id>, "channel", "user",
/// "phone"?, "text", "template"?}`, signed with `internal_secret`.
fn chat_request(env: &impl Platform, d: &Claimed) -> Result<Request<Bytes>, Outcome> {
    let (Some(user), Some(text)) = (&d.recipient, &d.message) else {
        return Err(Outcome::Undeliverable("no user or no message".into()));
    };
    let mut body = json!({"id": d.id, "channel": d.target, "user": user, "text": text});
    if let Some(phone) = &d.phone {
        body["phone"] = json!(phone);
    }
    if let Some(template) = d.template.as_deref().and_then(|t| serde_json::from_str::<Json>(t).ok()) {
        body["template"] = template;
    }
    crate::command::internal_request(env, "chat", "/chat/send", body.to_string().into_bytes())
        .map_err(|e| failed(format!("{e:?}")))
}
