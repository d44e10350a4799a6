//! The transactional outbox: every state change that someone must hear about writes its
//! event in the same atomic batch as the change ([`enqueue`]), and the function's scheduled
//! work ([`deliver`], called by its `tick`) delivers it at least once (DESIGN.md, "The
//! outbound half"). Tables: `migrations/<db>/NNNN_outbox.sql`, the same in every database
//! that has events.
//!
//! Receivers:
//! - **partner systems**: endpoints an admin registers (`POST <prefix>/webhooks`,
//!   [`register`]) for some event types; each delivery is `POST <url>` of
//!   `{"type", "timestamp", "data"}` signed the Standard Webhooks way ([`crate::webhooks`]),
//!   with the event's id as `webhook-id` on every retry. `410 Gone` disables the endpoint.
//! - **the citizen** it concerns, on the channel they used: SMS through the gateway
//!   (`POST {sms_gateway_url}` of `{"id": <event id>, "to": <phone>, "text": <one SMS>}` with
//!   `X-Signature: hex(HMAC-SHA256(sms_webhook_secret, body))`, the mirror of the inbound
//!   contract of [`crate::sms`]), Zalo or Telegram through the chat function
//!   (`POST /chat/send`, signed like the command routes, [`crate::command::verify`]). A
//!   citizen's messages go out in the order they were written.
//!
//! Delivery: a failed attempt is retried after the `outbox_retry_schedule` (default 30 s,
//! 2 min, 10 min, 1 h, 6 h, 24 h, each ±20 % jitter); after the last it is `dead`, kept,
//! listed (`GET <prefix>/outbox?state=dead`, [`list`]) and retried by hand
//! (`POST <prefix>/outbox/{id}/retry`, [`retry`]). Each attempt waits at most
//! `outbox_timeout_seconds` (default 10) for its receiver. A tick claims due deliveries with
//! one conditional `UPDATE` (a lease in `claimed_until`), so ticks that overlap or repeat
//! never make the same attempt twice, and a tick that dies mid-way leaves its claims to
//! lapse and be taken again: nothing is lost.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::auth::Role;
use crate::command::Channel;
use crate::error::{Error, FieldError, Msg};
use crate::platform::{Platform, Row, Statement, Timeout, Value};
use crate::web::stamp;

/// The event types, as `type` names them (a webhook's `events` lists some of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A report was filed (report-submission).
    ReportCreated,
    /// A report moved: `data.status` is `in_progress`, `resolved`, `rejected` or `reassigned`.
    ReportStatusChanged,
    /// A report passed its due time unresolved; for its agency.
    ReportOverdue,
    /// A dossier's status changed (permit-status).
    DossierStatusChanged,
    /// A fee payment settled (payment-callback).
    PaymentSettled,
    /// A payment order expired unpaid (payment-callback).
    OrderExpired,
}

impl EventType {
    /// Every type, in the order of the docs.
    pub const ALL: [EventType; 6] = [
        EventType::ReportCreated,
        EventType::ReportStatusChanged,
        EventType::ReportOverdue,
        EventType::DossierStatusChanged,
        EventType::PaymentSettled,
        EventType::OrderExpired,
    ];

    /// `report.created`, `report.status_changed`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ReportCreated => "report.created",
            EventType::ReportStatusChanged => "report.status_changed",
            EventType::ReportOverdue => "report.overdue",
            EventType::DossierStatusChanged => "dossier.status_changed",
            EventType::PaymentSettled => "payment.settled",
            EventType::OrderExpired => "order.expired",
        }
    }

    /// The type named `name`, if any.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// A ZNS template message, the way to reach a Zalo user outside Zalo's 48-hour window:
/// the template's name (`report_status`: the chat function reads its id from config
/// `zalo_zns_template_<name>`) and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Template {
    pub name: &'static str,
    pub data: Json,
}

/// The citizen an event concerns, and what to tell them.
#[derive(Clone, Debug, PartialEq)]
pub struct Citizen {
    /// The channel they used.
    pub channel: Channel,
    /// Their address on it: the phone (SMS), the Zalo user id, the Telegram chat id.
    pub address: String,
    /// Their phone, when known (Zalo: for a ZNS template outside the 48-hour window).
    pub phone: Option<String>,
    /// The message in Vietnamese with diacritics (an SMS drops them: [`crate::text::sms`]).
    pub text: String,
    /// Zalo: the ZNS template to send when a free reply is no longer allowed.
    pub template: Option<Template>,
}

/// One event: its type, the thing it is about, the public facts (a JSON object, never more
/// than the public view shows), and the citizen to tell, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventType,
    /// The report code, dossier code or order id.
    pub subject: String,
    /// A JSON object. `data.agency`, when present, is what an endpoint's `agency` filters on.
    pub data: Json,
    pub citizen: Option<Citizen>,
}

/// When the event's statements take effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Always (the batch as a whole fails or holds: a new report).
    Always,
    /// Only if the statement just before them in the batch changed a row (a conditional
    /// `UPDATE ... WHERE state = 'pending'` that found nothing leaves no event).
    IfChanged,
}

/// The statements that write `event` (its row, one delivery per subscribed endpoint, one to
/// the citizen), to append to the batch of the change it reports, and the event's id.
///
/// # Errors
/// [`Error::Internal`] when the data cannot be serialized.
pub fn enqueue(env: &impl Platform, event: &Event, guard: Guard) -> Result<(String, Vec<Statement>), Error> {
    let id = new_id(env, "msg_");
    let now = stamp(env.now());
    let data = serde_json::to_string(&event.data).map_err(|e| Error::Internal(format!("event data: {e}")))?;
    let agency = event.data.get("agency").and_then(Json::as_str).map(str::to_owned);
    let condition = match guard {
        Guard::Always => "",
        Guard::IfChanged => " WHERE changes() > 0",
    };
    let mut statements = vec![
        Statement::new(
            format!(
                "INSERT INTO outbox_events (id, type, subject, data, created_at) SELECT ?1, ?2, ?3, ?4, ?5{condition}"
            ),
            vec![
                id.as_str().into(),
                event.kind.as_str().into(),
                event.subject.as_str().into(),
                data.into(),
                now.as_str().into(),
            ],
        ),
        Statement::new(
            "INSERT INTO outbox_deliveries (id, event_id, target, endpoint_id, state, next_at, updated_at)
             SELECT ?1 || '.' || w.id, ?1, 'webhook', w.id, 'pending', ?2, ?2 FROM webhook_endpoints w
             WHERE w.state = 'enabled' AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = ?3)
               AND (w.agency IS NULL OR w.agency = ?4)
               AND EXISTS (SELECT 1 FROM outbox_events WHERE id = ?1)",
            vec![id.as_str().into(), now.as_str().into(), event.kind.as_str().into(), agency.into()],
        ),
    ];
    if let Some(c) = &event.citizen {
        let template = c
            .template
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Error::Internal(format!("template: {e}")))?;
        statements.push(Statement::new(
            "INSERT INTO outbox_deliveries (id, event_id, target, recipient, phone, message, template, state, next_at, updated_at)
             SELECT ?1 || '.citizen', ?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7
             WHERE EXISTS (SELECT 1 FROM outbox_events WHERE id = ?1)",
            vec![
                id.as_str().into(),
                c.channel.as_str().into(),
                c.address.as_str().into(),
                c.phone.clone().into(),
                c.text.as_str().into(),
                template.into(),
                now.as_str().into(),
            ],
        ));
    }
    Ok((id, statements))
}

/// `<prefix><22 URL-safe base64 characters>` from 16 random bytes.
fn new_id(env: &impl Platform, prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    env.random_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What one run of a function's scheduled work did: deliveries by outcome, and the
/// function's own work by name (`orders_expired`, `reports_overdue`, `replies_sent`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tick {
    /// Deliveries that reached their receiver.
    pub delivered: u64,
    /// Deliveries that failed and wait for their next attempt.
    pub retried: u64,
    /// Deliveries that failed their last attempt (listed under `outbox?state=dead`).
    pub dead: u64,
    /// Deliveries that can never be made (no way left to reach the citizen; an endpoint
    /// disabled or deleted), recorded as such.
    pub undeliverable: u64,
    /// The function's own scheduled work, counted by name.
    #[serde(flatten)]
    pub work: BTreeMap<&'static str, u64>,
}

impl Tick {
    fn add(&mut self, other: &Tick) {
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.dead += other.dead;
        self.undeliverable += other.undeliverable;
    }
}

/// `POST <prefix>/tick`: a bearer JWT with role `system` (401/403 otherwise), then the
/// function's scheduled work; `200` with the [`Tick`] as JSON. Workers' cron trigger calls
/// the same `tick` without the route.
pub async fn tick_route<P: Platform>(
    req: &Request<Bytes>,
    env: &P,
    tick: impl AsyncFnOnce(&P) -> Result<Tick, Error>,
) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::System)?;
    crate::web::json(StatusCode::OK, &tick(env).await?)
}

/// How many deliveries one claim takes; they are attempted together.
pub const CLAIM_SIZE: i64 = 20;

/// The most deliveries one [`deliver`] attempts, so that a tick ends.
pub const MAX_PER_RUN: u64 = 1_000;

/// The retry schedule when `outbox_retry_schedule` is unset: the waits after the first,
/// second, ... failed attempt; after the last, the delivery is dead.
pub const DEFAULT_SCHEDULE: &str = "30s,2m,10m,1h,6h,24h";

/// How long an attempt waits for its receiver when `outbox_timeout_seconds` is unset.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A retry schedule from its text: waits separated by commas, each a number with `s`, `m`,
/// `h` or `d` (`30s,2m,10m,1h,6h,24h`). `None` when a part is not one.
pub fn parse_schedule(text: &str) -> Option<Vec<Duration>> {
    text.split(',')
        .map(|part| {
            let part = part.trim();
            let unit = match part.chars().last()? {
                's' => 1,
                'm' => 60,
                'h' => 3_600,
                'd' => 86_400,
                _ => return None,
            };
            let n: u64 = part[..part.len() - 1].parse().ok()?;
            Some(Duration::from_secs(n.checked_mul(unit)?))
        })
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
struct Claimed {
    seq: i64,
    id: String,
    event_id: String,
    target: String,
    endpoint_id: Option<String>,
    recipient: Option<String>,
    phone: Option<String>,
    message: Option<String>,
    template: Option<String>,
    attempts: i64,
    kind: String,
    data: String,
    created_at: String,
    url: Option<String>,
    secret: Option<String>,
    endpoint_state: Option<String>,
}

impl Claimed {
    fn read(r: &Row<'_>) -> Result<Claimed, Error> {
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
const CLAIM: &str = "UPDATE outbox_deliveries SET claimed_until = ?2, attempts = attempts + 1, updated_at = ?1
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

/// Delivers what is due in database `db`: claims ([`CLAIM`]), attempts every claimed
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
                    ("pending", stamp(now + jittered(env, *wait)))
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
            Outcome::Undeliverable(format!("chat: {}", crate::text::cut(&String::from_utf8_lossy(resp.body()), 300)))
        }
        Ok(resp) => Outcome::Failed {
            status: Some(resp.status().as_u16()),
            error: format!(
                "HTTP {}: {}",
                resp.status().as_u16(),
                crate::text::cut(&String::from_utf8_lossy(resp.body()), 300)
            ),
        },
        Err(e) => Outcome::Failed { status: None, error: e.to_string() },
    }
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

/// `POST {sms_gateway_url}` of `{"id": <event id>, "to", "text"}`, one ASCII SMS, signed
/// with `sms_webhook_secret` in `X-Signature`.
fn sms_request(env: &impl Platform, d: &Claimed) -> Result<Request<Bytes>, Outcome> {
    let url = env.config("sms_gateway_url").ok_or_else(|| failed("sms_gateway_url is not set"))?;
    let secret = env.config("sms_webhook_secret").ok_or_else(|| failed("sms_webhook_secret is not set"))?;
    let (Some(to), Some(text)) = (&d.recipient, &d.message) else {
        return Err(Outcome::Undeliverable("no phone or no message".into()));
    };
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

/// The longest webhook URL (bytes).
pub const MAX_URL: usize = 2_048;

/// The most event types one endpoint subscribes to.
pub const MAX_EVENTS: usize = 16;

/// The largest registration body (bytes).
pub const MAX_REGISTRATION: usize = 8 * 1024;

/// A URL a webhook may go to: `https://` with a host, or `http://` to this machine (a
/// receiver under test); no user name or password in it; at most [`MAX_URL`] bytes.
pub fn acceptable_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let scheme_ok = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => loopback,
        _ => false,
    };
    let authority = uri.authority().map(http::uri::Authority::as_str).unwrap_or_default();
    url.len() <= MAX_URL && scheme_ok && uri.host().is_some_and(|h| !h.is_empty()) && !authority.contains('@')
}

/// `POST <prefix>/webhooks` (admin): registers a partner endpoint. Body `{"url", "events":
/// ["payment.settled", ...], "agency"?}`: `events` among `offered` (this function's
/// types), `agency` limiting it to the events of that agency. Answers `201` with `{"id",
/// "url", "events", "agency", "state": "enabled", "created_at", "secret": "whsec_..."}`:
/// the secret is shown this once. 422 names every bad field.
pub async fn register(
    req: &Request<Bytes>,
    env: &impl Platform,
    db: &str,
    offered: &[EventType],
) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::Admin)?;
    let body: Json = crate::web::read_json(req, MAX_REGISTRATION)?;
    let (url, events, agency) = parse_registration(&body, offered)?;
    let id = new_id(env, "ep_");
    let secret = crate::webhooks::Secret::generate(env);
    let now = stamp(env.now());
    let events_json = serde_json::to_string(&events).map_err(|e| Error::Internal(e.to_string()))?;
    env.execute(
        db,
        "INSERT INTO webhook_endpoints (id, url, events, agency, secret, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'enabled', ?6)",
        &[
            id.as_str().into(),
            url.as_str().into(),
            events_json.into(),
            agency.clone().into(),
            secret.as_str().into(),
            now.as_str().into(),
        ],
    )
    .await?;
    let view = json!({"id": id, "url": url, "events": events, "agency": agency, "state": "enabled",
        "disabled_reason": null, "created_at": now, "secret": secret.as_str()});
    let mut resp = crate::web::json(StatusCode::CREATED, &view)?;
    if let Ok(location) = http::HeaderValue::from_str(&format!("{}/{id}", req.uri().path().trim_end_matches('/'))) {
        resp.headers_mut().insert(http::header::LOCATION, location);
    }
    Ok(resp)
}

/// Reads a registration, naming every bad field.
fn parse_registration(
    body: &Json,
    offered: &[EventType],
) -> Result<(String, Vec<&'static str>, Option<String>), Error> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut f = crate::validate::Fields::new(String::new(), &mut errors);
    let Some(obj) = f.object("", body, &["url", "events", "agency"]) else {
        return Err(Error::Validation(errors));
    };
    let url = f.text(obj, "", "url", MAX_URL);
    if url.as_deref().is_some_and(|u| !acceptable_url(u)) {
        f.err("url", Msg::new("Phải là liên kết https:// đầy đủ", "must be a full https:// URL"));
    }
    let agency = f.opt_text(obj, "", "agency", 64);
    let mut events: Vec<&'static str> = Vec::new();
    match obj.get("events").and_then(Json::as_array) {
        Some(list) if !list.is_empty() && list.len() <= MAX_EVENTS => {
            for (i, item) in list.iter().enumerate() {
                match item.as_str().and_then(EventType::parse).filter(|t| offered.contains(t)) {
                    Some(t) if !events.contains(&t.as_str()) => events.push(t.as_str()),
                    Some(_) => {}
                    None => {
                        let names: Vec<&str> = offered.iter().map(|t| t.as_str()).collect();
                        let names = names.join(", ");
                        f.err(
                            &format!("events[{i}]"),
                            Msg::new(format!("Một trong: {names}"), format!("one of: {names}")),
                        );
                    }
                }
            }
        }
        _ => f.err(
            "events",
            Msg::new(
                format!("Danh sách 1-{MAX_EVENTS} loại sự kiện"),
                format!("a list of 1 to {MAX_EVENTS} event types"),
            ),
        ),
    }
    match url {
        Some(url) if errors.is_empty() => Ok((url, events, agency)),
        _ => Err(Error::Validation(errors)),
    }
}

/// `GET <prefix>/webhooks` (admin): the registered endpoints, newest first, without their
/// secrets: `[{"id", "url", "events", "agency", "state", "disabled_reason", "created_at"}]`.
pub async fn endpoints(req: &Request<Bytes>, env: &impl Platform, db: &str) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::Admin)?;
    let rows = env
        .query(
            db,
            "SELECT id, url, events, agency, state, disabled_reason, created_at FROM webhook_endpoints
             ORDER BY created_at DESC, id",
            &[],
        )
        .await?;
    let list = rows
        .iter()
        .map(|r| {
            let events: Json = serde_json::from_str(r.str("events")?).unwrap_or(Json::Array(Vec::new()));
            Ok(json!({"id": r.str("id")?, "url": r.str("url")?, "events": events, "agency": r.opt_str("agency")?,
                "state": r.str("state")?, "disabled_reason": r.opt_str("disabled_reason")?,
                "created_at": r.str("created_at")?}))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    crate::web::json(StatusCode::OK, &list)
}

/// `DELETE <prefix>/webhooks/{id}` (admin): removes the endpoint; its pending deliveries are
/// cancelled. `204`, or 404.
pub async fn delete_endpoint(
    req: &Request<Bytes>,
    env: &impl Platform,
    db: &str,
    id: &str,
) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::Admin)?;
    let now = stamp(env.now());
    let results = env
        .batch(
            db,
            &[
                Statement::new("DELETE FROM webhook_endpoints WHERE id = ?1 RETURNING id", vec![id.into()]),
                Statement::new(
                    "UPDATE outbox_deliveries SET state = 'cancelled', updated_at = ?2,
                     last_error = 'the endpoint was deleted' WHERE endpoint_id = ?1 AND state = 'pending'",
                    vec![id.into(), now.into()],
                ),
            ],
        )
        .await?;
    if results.first().is_none_or(crate::platform::Rows::is_empty) {
        return Err(Error::NotFound);
    }
    Response::builder().status(StatusCode::NO_CONTENT).body(Bytes::new()).map_err(|e| Error::Internal(e.to_string()))
}

/// A delivery's states, as `GET <prefix>/outbox?state=` takes them.
pub const STATES: [&str; 5] = ["pending", "delivered", "dead", "undeliverable", "cancelled"];

/// The most deliveries one listing shows.
pub const MAX_LIST: i64 = 200;

/// The columns of a delivery's admin view.
const DELIVERY_VIEW: &str = "d.id, d.event_id, e.type, e.subject, d.target, d.endpoint_id, d.state, d.attempts,
    d.next_at, d.last_status, d.last_error, e.created_at, d.updated_at, d.delivered_at";

fn delivery_view(r: &Row<'_>) -> Result<Json, Error> {
    Ok(json!({
        "id": r.str("id")?, "event_id": r.str("event_id")?, "type": r.str("type")?, "subject": r.str("subject")?,
        "target": r.str("target")?, "endpoint_id": r.opt_str("endpoint_id")?, "state": r.str("state")?,
        "attempts": r.i64("attempts")?, "next_at": r.str("next_at")?, "last_status": r.opt_i64("last_status")?,
        "last_error": r.opt_str("last_error")?, "created_at": r.str("created_at")?,
        "updated_at": r.str("updated_at")?, "delivered_at": r.opt_str("delivered_at")?,
    }))
}

/// `GET <prefix>/outbox?state=dead&limit=50` (admin): deliveries in that state (default
/// `dead`), newest first: `[{"id", "event_id", "type", "subject", "target", "endpoint_id",
/// "state", "attempts", "next_at", "last_status", "last_error", "created_at", "updated_at",
/// "delivered_at"}]`. The citizen's phone or chat id is not shown.
pub async fn list(req: &Request<Bytes>, env: &impl Platform, db: &str) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::Admin)?;
    let state = crate::web::query_param(req, "state")?.unwrap_or_else(|| "dead".to_owned());
    let mut errors = Vec::new();
    if !STATES.contains(&state.as_str()) {
        let names = STATES.join(", ");
        errors.push(FieldError::new("state", Msg::new(format!("Một trong: {names}"), format!("one of: {names}"))));
    }
    let limit = match crate::web::query_param(req, "limit")? {
        None => Some(50),
        Some(text) => text.parse::<i64>().ok().filter(|n| (1..=MAX_LIST).contains(n)),
    };
    if limit.is_none() {
        errors.push(FieldError::new("limit", Msg::new(format!("Từ 1 đến {MAX_LIST}"), format!("1 to {MAX_LIST}"))));
    }
    let (Some(limit), true) = (limit, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let rows = env
        .query(
            db,
            &format!(
                "SELECT {DELIVERY_VIEW} FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
                 WHERE d.state = ?1 ORDER BY d.seq DESC LIMIT ?2"
            ),
            &[state.into(), limit.into()],
        )
        .await?;
    let list = rows.iter().map(|r| delivery_view(&r)).collect::<Result<Vec<_>, _>>()?;
    crate::web::json(StatusCode::OK, &list)
}

/// `POST <prefix>/outbox/{id}/retry` (admin): a `dead` or `undeliverable` delivery is due
/// again now, with a fresh retry schedule. `200` with the delivery's view; 404 for no such
/// delivery; 409 when it is in another state.
pub async fn retry(
    req: &Request<Bytes>,
    env: &impl Platform,
    db: &'static str,
    id: &str,
) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::Admin)?;
    let now = stamp(env.now());
    let updated = env
        .execute(
            db,
            "UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_at = ?2, claimed_until = NULL,
             updated_at = ?2 WHERE id = ?1 AND state IN ('dead', 'undeliverable')",
            &[id.into(), now.into()],
        )
        .await?;
    let rows = env
        .query(
            db,
            &format!(
                "SELECT {DELIVERY_VIEW} FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id WHERE d.id = ?1"
            ),
            &[id.into()],
        )
        .await?;
    let view = rows.first().map(|r| delivery_view(&r)).transpose()?.ok_or(Error::NotFound)?;
    if updated == 0 {
        return Err(Error::Conflict(Msg::new(
            "Chỉ gửi lại được tin đã hỏng (dead, undeliverable)",
            "only a dead or undeliverable delivery can be retried",
        )));
    }
    let mut resp = crate::web::json(StatusCode::OK, &view)?;
    soon(&mut resp, db);
    Ok(resp)
}

/// The mark on a response whose request wrote events to database `.0`: the entry point
/// delivers them right after answering where the runtime allows work after the response
/// (Workers' `waitUntil`, Spin's handler going on after its response is sent), so a
/// citizen hears within seconds without the request waiting on any receiver. The next tick
/// delivers whatever this misses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due(pub &'static str);

/// Marks `resp` ([`Due`]): events were written to `db`.
pub fn soon(resp: &mut Response<Bytes>, db: &'static str) {
    resp.extensions_mut().insert(Due(db));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::native::{NativePlatform, block_on};
    use crate::testing::{Receiver, route_env_at, t, token};

    const DB: &str = "payments";
    const OFFERED: &[EventType] = &[EventType::PaymentSettled, EventType::OrderExpired];

    fn env_with(receivers: &[&Receiver]) -> NativePlatform {
        let mut env = route_env_at(&[DB], "2026-11-30T09:00:00Z")
            .with_config("sms_gateway_url", &format!("http://{}/sms", receivers[0].addr))
            .with_config("sms_webhook_secret", "sms-secret")
            .with_config("internal_secret", "internal-secret")
            .with_config("outbox_timeout_seconds", "1");
        for r in receivers {
            env = env.with_allowed_host(&r.addr);
        }
        env
    }

    fn admin(env: &NativePlatform) -> String {
        token(env, &json!({"roles": ["admin"]}))
    }

    /// Registers `url` for `events` through the route; returns (id, secret).
    fn register_endpoint(env: &NativePlatform, url: &str, events: &[&str]) -> (String, String) {
        let req = Request::post("/payments/webhooks")
            .header("authorization", admin(env))
            .body(Bytes::from(json!({"url": url, "events": events}).to_string()))
            .unwrap();
        let resp = block_on(register(&req, env, DB, OFFERED)).unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let v: Json = serde_json::from_slice(resp.body()).unwrap();
        (v["id"].as_str().unwrap().to_owned(), v["secret"].as_str().unwrap().to_owned())
    }

    fn settled(order: &str, citizen: Option<Citizen>) -> Event {
        Event {
            kind: EventType::PaymentSettled,
            subject: order.to_owned(),
            data: json!({"order_id": order, "amount_vnd": 50_000}),
            citizen,
        }
    }

    fn write(env: &NativePlatform, event: &Event) -> String {
        let (id, statements) = enqueue(env, event, Guard::Always).unwrap();
        block_on(env.batch(DB, &statements)).unwrap();
        id
    }

    fn states(env: &NativePlatform) -> Vec<(String, String, i64)> {
        let rows =
            block_on(env.query(DB, "SELECT target, state, attempts FROM outbox_deliveries ORDER BY seq", &[])).unwrap();
        rows.iter()
            .map(|r| (r.str("target").unwrap().into(), r.str("state").unwrap().into(), r.i64("attempts").unwrap()))
            .collect()
    }

    #[test]
    fn an_event_reaches_its_subscribers_signed_once() {
        let hook = Receiver::start().unwrap();
        let env = env_with(&[&hook]);
        let (_, secret) = register_endpoint(&env, &format!("http://{}/hook", hook.addr), &["payment.settled"]);
        register_endpoint(&env, &format!("http://{}/other", hook.addr), &["order.expired"]);
        let id = write(&env, &settled("ORD-1", None));
        let done = block_on(deliver(&env, DB)).unwrap();
        assert_eq!((done.delivered, done.retried), (1, 0));
        let got = hook.received();
        assert_eq!(got.len(), 1, "only the endpoint subscribed to payment.settled");
        assert_eq!((got[0].path.as_str(), got[0].header("webhook-id")), ("/hook", id.as_str()));
        assert!(crate::testing::standard_webhook_signed(&secret, &got[0]), "signature verifies");
        assert_eq!(
            got[0].json(),
            json!({"type": "payment.settled", "timestamp": "2026-11-30T09:00:00Z",
            "data": {"order_id": "ORD-1", "amount_vnd": 50_000}})
        );
        assert_eq!(block_on(deliver(&env, DB)).unwrap(), Tick::default(), "nothing twice");
    }

    #[test]
    fn a_guarded_event_is_written_only_when_the_change_happened() {
        let hook = Receiver::start().unwrap();
        let env = env_with(&[&hook]);
        register_endpoint(&env, &format!("http://{}/hook", hook.addr), &["payment.settled"]);
        for (changes, want) in [
            ("UPDATE webhook_endpoints SET state = state WHERE id = 'none'", 0),
            ("UPDATE webhook_endpoints SET state = state", 1),
        ] {
            let (_, mut statements) = enqueue(&env, &settled("ORD-2", None), Guard::IfChanged).unwrap();
            statements.insert(0, Statement::new(changes, vec![]));
            block_on(env.batch(DB, &statements)).unwrap();
            let n = block_on(env.query(DB, "SELECT count(*) AS n FROM outbox_deliveries", &[])).unwrap();
            assert_eq!(n.first().unwrap().i64("n").unwrap(), want, "{changes}");
        }
    }

    #[test]
    fn failures_retry_with_the_same_id_then_die_and_can_be_retried_by_hand() {
        let hook = Receiver::start().unwrap();
        let env = env_with(&[&hook]).with_config("outbox_retry_schedule", "30s,2m");
        register_endpoint(&env, &format!("http://{}/hook", hook.addr), &["payment.settled"]);
        let id = write(&env, &settled("ORD-3", None));
        hook.answer(500);
        assert_eq!(block_on(deliver(&env, DB)).unwrap().retried, 1);
        assert_eq!(block_on(deliver(&env, DB)).unwrap(), Tick::default(), "not due before its backoff");
        env.set_now(t("2026-11-30T09:00:40Z"));
        assert_eq!(block_on(deliver(&env, DB)).unwrap().retried, 1);
        env.set_now(t("2026-11-30T09:03:30Z"));
        assert_eq!(block_on(deliver(&env, DB)).unwrap().dead, 1);
        let ids: Vec<String> = hook.received().iter().map(|r| r.header("webhook-id").to_owned()).collect();
        assert_eq!(ids, [id.clone(), id.clone(), id.clone()], "one id across retries");

        let listed = Request::get("/payments/outbox?state=dead")
            .header("authorization", admin(&env))
            .body(Bytes::new())
            .unwrap();
        let v: Json = serde_json::from_slice(block_on(list(&listed, &env, DB)).unwrap().body()).unwrap();
        assert_eq!(
            (v[0]["event_id"].as_str(), v[0]["attempts"].as_i64(), v[0]["last_status"].as_i64()),
            (Some(id.as_str()), Some(3), Some(500))
        );
        let delivery = v[0]["id"].as_str().unwrap().to_owned();
        let again = |d: &str| {
            let req = Request::post(format!("/payments/outbox/{d}/retry"))
                .header("authorization", admin(&env))
                .body(Bytes::new())
                .unwrap();
            block_on(retry(&req, &env, DB, d))
        };
        hook.answer(204);
        assert_eq!(again(&delivery).unwrap().status(), StatusCode::OK);
        assert!(matches!(again(&delivery), Err(Error::Conflict(_))), "pending now");
        assert!(matches!(again("nope"), Err(Error::NotFound)));
        assert_eq!(block_on(deliver(&env, DB)).unwrap().delivered, 1);
        assert_eq!(hook.received().last().unwrap().header("webhook-id"), id);
    }

    #[test]
    fn gone_disables_the_endpoint_and_a_slow_receiver_times_out() {
        let hook = Receiver::start().unwrap();
        let env = env_with(&[&hook]);
        register_endpoint(&env, &format!("http://{}/hook", hook.addr), &["payment.settled"]);
        write(&env, &settled("ORD-4", None));
        hook.delay(Duration::from_millis(2_500));
        let done = block_on(deliver(&env, DB)).unwrap();
        assert_eq!(done.retried, 1, "a timeout is a failure");
        hook.delay(Duration::ZERO);
        hook.answer(410);
        env.set_now(t("2026-11-30T10:00:00Z"));
        write(&env, &settled("ORD-5", None));
        block_on(deliver(&env, DB)).unwrap();
        let endpoints = block_on(env.query(DB, "SELECT state FROM webhook_endpoints", &[])).unwrap();
        assert_eq!(endpoints.first().unwrap().str("state").unwrap(), "disabled");
        assert!(states(&env).iter().all(|(_, s, _)| s == "cancelled"), "{:?}", states(&env));
        write(&env, &settled("ORD-6", None));
        assert!(states(&env).len() == 2, "a disabled endpoint gets no new deliveries");
    }

    #[test]
    fn overlapping_claims_never_take_the_same_delivery() {
        let hook = Receiver::start().unwrap();
        let env = env_with(&[&hook]);
        register_endpoint(&env, &format!("http://{}/hook", hook.addr), &["payment.settled"]);
        for i in 0..30 {
            write(&env, &settled(&format!("ORD-{i}"), None));
        }
        let now = stamp(env.now());
        let claim = || {
            block_on(env.query(DB, CLAIM, &[now.as_str().into(), "2026-11-30T09:05:00Z".into(), CLAIM_SIZE.into()]))
                .unwrap()
        };
        let (a, b, c) = (claim(), claim(), claim());
        assert_eq!((a.len(), b.len(), c.len()), (20, 10, 0));
        let first = Claimed::read(&a.first().unwrap()).unwrap();
        assert_eq!(
            (first.kind.as_str(), first.attempts, first.endpoint_state.as_deref()),
            ("payment.settled", 1, Some("enabled"))
        );
    }

    #[test]
    fn a_citizen_hears_by_sms_in_order() {
        let gateway = Receiver::start().unwrap();
        let env = env_with(&[&gateway]);
        let sms = |text: &str| Citizen {
            channel: Channel::Sms,
            address: "84905123456".into(),
            phone: None,
            text: text.into(),
            template: None,
        };
        let first = write(&env, &settled("ORD-7", Some(sms("Đang xử lý"))));
        write(&env, &settled("ORD-7", Some(sms("Đã xử lý xong"))));
        gateway.answer(503);
        let done = block_on(deliver(&env, DB)).unwrap();
        assert_eq!((done.retried, done.delivered), (1, 0), "the second waits behind the first");
        gateway.answer(200);
        env.set_now(t("2026-11-30T09:01:00Z"));
        assert_eq!(block_on(deliver(&env, DB)).unwrap().delivered, 2);
        let got = gateway.received();
        let texts: Vec<Json> = got.iter().map(|r| r.json()["text"].clone()).collect();
        assert_eq!(texts, [json!("Dang xu ly"), json!("Dang xu ly"), json!("Da xu ly xong")]);
        assert_eq!(got[0].json(), json!({"id": first, "to": "84905123456", "text": "Dang xu ly"}));
        assert_eq!(got[0].header("x-signature"), crate::auth::hmac_sha256_hex(b"sms-secret", &got[0].body));
    }

    #[test]
    fn registrations_are_checked_and_listed_without_secrets() {
        let hook = Receiver::start().unwrap();
        let env = env_with(&[&hook]);
        let bad = |body: Json| {
            let req = Request::post("/payments/webhooks")
                .header("authorization", admin(&env))
                .body(Bytes::from(body.to_string()))
                .unwrap();
            match block_on(register(&req, &env, DB, OFFERED)) {
                Err(Error::Validation(e)) => e.into_iter().map(|e| e.field).collect::<Vec<_>>(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(bad(json!({"url": "http://partner.vn/x", "events": ["payment.settled"]})), ["url"]);
        assert_eq!(bad(json!({"url": "https://u:p@partner.vn/x", "events": []})), ["url", "events"]);
        assert_eq!(
            bad(json!({"url": "https://partner.vn/x", "events": ["report.created", "nope"]})),
            ["events[0]", "events[1]"]
        );
        assert_eq!(bad(json!({"url": "https://partner.vn/x", "events": ["order.expired"], "extra": 1})), ["extra"]);
        let (id, _) = register_endpoint(&env, "https://partner.vn/hooks", &["order.expired", "order.expired"]);
        let req = Request::get("/payments/webhooks").header("authorization", admin(&env)).body(Bytes::new()).unwrap();
        let v: Json = serde_json::from_slice(block_on(endpoints(&req, &env, DB)).unwrap().body()).unwrap();
        assert_eq!(v[0]["events"], json!(["order.expired"]));
        assert!(v[0].get("secret").is_none());
        let del = Request::delete(format!("/payments/webhooks/{id}"))
            .header("authorization", admin(&env))
            .body(Bytes::new())
            .unwrap();
        assert_eq!(block_on(delete_endpoint(&del, &env, DB, &id)).unwrap().status(), StatusCode::NO_CONTENT);
        assert!(matches!(block_on(delete_endpoint(&del, &env, DB, &id)), Err(Error::NotFound)));
        let citizen = Request::get("/payments/webhooks")
            .header("authorization", token(&env, &json!({})))
            .body(Bytes::new())
            .unwrap();
        assert!(matches!(block_on(endpoints(&citizen, &env, DB)), Err(Error::Forbidden)));
    }

    #[test]
    fn every_database_with_events_has_the_same_tables() {
        let reports = include_str!("../../migrations/reports/0005_outbox.sql");
        assert_eq!(reports, include_str!("../../migrations/permits/0002_outbox.sql"));
        assert_eq!(reports, include_str!("../../migrations/payments/0003_outbox.sql"));
    }

    #[test]
    fn schedules_parse() {
        let secs = |t: &str| parse_schedule(t).map(|v| v.iter().map(Duration::as_secs).collect::<Vec<_>>());
        assert_eq!(secs(DEFAULT_SCHEDULE), Some(vec![30, 120, 600, 3_600, 21_600, 86_400]));
        assert_eq!(secs(" 1s , 2d"), Some(vec![1, 172_800]));
        for bad in ["", "10", "5x", "s", "1s,,2s", "-1s"] {
            assert_eq!(secs(bad), None, "{bad:?}");
        }
    }
}
