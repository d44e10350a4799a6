//! The transactional outbox: every state change that someone must hear about writes its
//! event in the same atomic batch as the change ([`enqueue`]), and the function's scheduled
//! work ([`deliver()`], called by its `tick`) delivers it at least once (DESIGN.md, "The
//! outbound half"). Tables: `migrations/<db>/NNNN_outbox.sql`, the same in every database
//! that has events.
//!
//! Modules: [`mod@deliver`] (claims, attempts, retries), [`admin`] (the webhook and outbox
//! routes); here the events and what writes them.
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

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::Serialize;
use serde_json::Value as Json;

use crate::auth::Role;
use crate::command::Channel;
use crate::error::Error;
use crate::platform::{Platform, Statement};
use crate::web::stamp;

pub mod admin;
pub mod deliver;

pub use admin::{delete_endpoint, endpoints, list, register, retry};
pub use deliver::deliver;

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

    /// Whether its `data` names an agency (`data.agency`), which an endpoint's `agency` then
    /// filters on: a report's agency code, a dossier's agency as the one-stop-shop system
    /// names it. Payments and orders name none.
    pub fn carries_agency(self) -> bool {
        !matches!(self, EventType::PaymentSettled | EventType::OrderExpired)
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
    /// A JSON object. `data.agency` (and `data.previous_agency` of a reassignment), when
    /// present, is what an endpoint's `agency` filters on.
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
    // a reassignment also concerns the agency the report left
    let previous = event.data.get("previous_agency").and_then(Json::as_str).map(str::to_owned);
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
               AND (w.agency IS NULL OR w.agency = ?4 OR w.agency = ?5)
               AND EXISTS (SELECT 1 FROM outbox_events WHERE id = ?1)",
            vec![id.as_str().into(), now.as_str().into(), event.kind.as_str().into(), agency.into(), previous.into()],
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
    use super::deliver::{CLAIM, CLAIM_SIZE, Claimed, DEFAULT_SCHEDULE, parse_schedule};
    use super::*;
    use crate::error::Error;
    use crate::platform::native::{NativePlatform, block_on};
    use crate::testing::{Receiver, route_env_at, t, token};
    use serde_json::json;
    use std::time::Duration;

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
        assert_eq!(
            bad(json!({"url": "https://partner.vn/x", "events": ["payment.settled"], "agency": "so-gtvt"})),
            ["agency"]
        );
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
    fn a_dead_delivery_of_a_disabled_or_deleted_endpoint_is_not_retried() {
        let hook = Receiver::start().unwrap();
        let env = env_with(&[&hook]).with_config("outbox_retry_schedule", "1s");
        let (endpoint, _) = register_endpoint(&env, &format!("http://{}/hook", hook.addr), &["payment.settled"]);
        write(&env, &settled("ORD-8", None));
        hook.answer(500);
        let first = block_on(deliver(&env, DB)).unwrap();
        env.set_now(t("2026-11-30T09:00:10Z"));
        let second = block_on(deliver(&env, DB)).unwrap();
        assert_eq!((first.retried, second.dead), (1, 1), "{first:?} {second:?} {:?}", states(&env));
        let dead_id = format!(
            "{}.{endpoint}",
            block_on(env.query(DB, "SELECT id FROM outbox_events", &[])).unwrap().first().unwrap().str("id").unwrap()
        );
        hook.answer(410);
        write(&env, &settled("ORD-9", None));
        block_on(deliver(&env, DB)).unwrap();
        let again = Request::post("/x").header("authorization", admin(&env)).body(Bytes::new()).unwrap();
        match block_on(retry(&again, &env, DB, &dead_id)) {
            Err(Error::Conflict(m)) => assert!(m.en.contains("endpoint"), "{m:?}"),
            other => panic!("a disabled endpoint's delivery: {other:?}"),
        }
        let del = Request::delete("/x").header("authorization", admin(&env)).body(Bytes::new()).unwrap();
        block_on(delete_endpoint(&del, &env, DB, &endpoint)).unwrap();
        assert!(
            states(&env).iter().all(|(_, s, _)| s == "cancelled"),
            "deleting cancels the dead too: {:?}",
            states(&env)
        );
    }

    #[test]
    fn a_reassignment_reaches_the_agency_it_left() {
        let hook = Receiver::start().unwrap();
        let env = env_with(&[&hook]);
        let req = |agency: &str| {
            let body = json!({"url": format!("http://{}/{agency}", hook.addr), "events": ["report.status_changed"], "agency": agency});
            Request::post("/reports/webhooks")
                .header("authorization", admin(&env))
                .body(Bytes::from(body.to_string()))
                .unwrap()
        };
        let offered = [EventType::ReportStatusChanged];
        for agency in ["old", "new", "other"] {
            assert_eq!(block_on(register(&req(agency), &env, DB, &offered)).unwrap().status(), StatusCode::CREATED);
        }
        let moved = Event {
            kind: EventType::ReportStatusChanged,
            subject: "PA-1".into(),
            data: json!({"code": "PA-1", "status": "reassigned", "agency": "new", "previous_agency": "old"}),
            citizen: None,
        };
        write(&env, &moved);
        block_on(deliver(&env, DB)).unwrap();
        let mut paths: Vec<String> = hook.received().iter().map(|r| r.path.clone()).collect();
        paths.sort();
        assert_eq!(paths, ["/new", "/old"]);
    }

    #[test]
    fn stored_errors_mask_numbers() {
        for (given, want) in [
            ("rejected 84905123456: bad", "rejected …: bad"),
            ("HTTP 500: order 12345 of 2026", "HTTP 500: order 12345 of 2026"),
            ("0905123456", "…"),
        ] {
            assert_eq!(deliver::masked(given), want, "{given}");
        }
    }

    #[test]
    fn every_database_with_events_has_the_same_tables() {
        let reports = include_str!("../../../migrations/reports/0005_outbox.sql");
        assert_eq!(reports, include_str!("../../../migrations/permits/0002_outbox.sql"));
        assert_eq!(reports, include_str!("../../../migrations/payments/0003_outbox.sql"));
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
