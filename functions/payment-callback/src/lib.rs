//! payment-callback: fee payment orders for dossiers, and exactly-once settlement of the
//! callbacks of VNPay, MoMo and ZaloPay.
//!
//! Citizens pay a dossier's fee (lệ phí) online; the bank or wallet then calls back, often
//! more than once, sometimes concurrently, sometimes forged. Each callback is stored raw
//! before it is answered, verified with the partner's own signature scheme, and settles its
//! order at most once ([`ledger`]); each partner gets the answer its protocol expects, so its
//! retries stop when they should. A settled order marks the dossier's fee paid, which
//! permit-status reads from the `payments` database.
//!
//! Routes (base `/payments`):
//!
//! | method | path | who | module |
//! |---|---|---|---|
//! | GET | `/health` | anyone | [`civic::web::health`] |
//! | POST | `/orders` | citizen (rate limited) | [`order`] |
//! | GET | `/orders/{order_id}` | its owner, admin | [`order`] |
//! | GET | `/vnpay/ipn?...` | VNPay (vnp_SecureHash) | [`vnpay`] |
//! | POST | `/momo/ipn` | MoMo (signature) | [`momo`] |
//! | POST | `/zalopay/callback` | ZaloPay (mac) | [`zalopay`] |
//! | GET | `/reconciliation?date=` | admin | [`reconcile`] |
//! | POST | `/selftest` | admin | [`civic::web::selftest`] |
//! | POST, GET | `/webhooks` | admin | [`civic::outbox::register`], [`civic::outbox::endpoints`] |
//! | DELETE | `/webhooks/{id}` | admin | [`civic::outbox::delete_endpoint`] |
//! | GET | `/outbox?state=dead&limit=` | admin | [`civic::outbox::list`] |
//! | POST | `/outbox/{id}/retry` | admin | [`civic::outbox::retry`] |
//! | GET | `/retention` | admin | [`civic::retention::route`] |
//! | POST | `/tick` | system (the scheduler; Workers' cron calls [`tick`] itself) | [`tick`] |
//!
//! Events ([`EVENTS`]), for the partner webhooks registered for them: `payment.settled`,
//! written with the update that settles an order ([`ledger`]; delivered right after the
//! partner's callback is answered, never before), and `order.expired`, written by the tick
//! with the update that expires an unpaid order 15 minutes after its creation.
//!
//! Rate limit: `order_creation` per citizen on `POST /orders` ([`order`]), counted in the
//! order's `INSERT`, before any partner hears of it. The partners' callbacks are never
//! limited: refusing one could lose a payment.
//!
//! Retention ([`RETENTION`], run by [`tick`]): the notification log, and the raw text of
//! the partners' callbacks ([`ledger::CALLBACKS_RAW`]; what reconciliation needs is kept).
//!
//! Databases: `payments` (written here), `permits` (read: a dossier's fee).

use bytes::Bytes;
use civic::outbox::{EventType, Tick};
use civic::retention::{self, Kind};
use civic::{Error, Platform};
use http::{Method, Request, Response};

pub mod ledger;
pub mod momo;
pub mod order;
pub mod reconcile;
pub mod vnpay;
pub mod wallet;
pub mod zalopay;

// The Spin and Workers entry points around `handle` and `tick` (nothing natively).
civic::entry_points!(crate::handle, crate::MAX_BODY, crate::tick);

/// Where this function's routes live.
pub const BASE: &str = "/payments";

/// The largest callback body (bytes); partners send well under 2 KiB.
pub const CALLBACK_MAX_BODY: usize = 16 * 1024;

/// The largest body any route accepts; the entry points stop reading past it.
pub const MAX_BODY: usize = CALLBACK_MAX_BODY;

/// The event types this function writes, which its webhooks may subscribe to.
pub const EVENTS: &[EventType] = &[EventType::PaymentSettled, EventType::OrderExpired];

/// The kinds of personal data the `payments` database keeps for a period
/// ([`civic::retention`]): the notification log, and the raw callbacks
/// ([`ledger::CALLBACKS_RAW`]). `GET /payments/retention` shows the oldest of each.
pub const RETENTION: &[Kind] = &[retention::NOTIFICATIONS, ledger::CALLBACKS_RAW];

/// The scheduled work (`POST /payments/tick`, Workers' cron trigger): expires the unpaid
/// orders past their expiry ([`ledger::expire_due`], counted as `orders_expired`), delivers
/// the due events of the `payments` outbox ([`civic::outbox::deliver()`]), then removes what
/// is past its retention period ([`RETENTION`], [`civic::retention::run`]: counted as
/// `notifications_purged`, `callbacks_raw_purged`) and the rate-limit windows that have
/// ended.
///
/// # Errors
/// A database error, or an outbox or retention setting that does not parse.
pub async fn tick(env: &impl Platform) -> Result<Tick, Error> {
    let expired = ledger::expire_due(env).await?;
    let mut tick = civic::outbox::deliver(env, ledger::DB).await?;
    tick.work.insert("orders_expired", expired);
    tick.work.extend(retention::run(env, ledger::DB, RETENTION).await?);
    Ok(tick)
}

/// The function: one request in, one response out, on any platform.
pub async fn handle(req: Request<Bytes>, env: &impl Platform) -> Response<Bytes> {
    civic::web::respond(&req, route(&req, env).await)
}

async fn route(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let segments = civic::web::segments(req.uri().path(), BASE).ok_or(Error::NotFound)?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["health"]) => civic::web::health(env, ledger::DB, "orders").await,
        (&Method::POST, ["orders"]) => order::create(req, env).await,
        (&Method::GET, ["orders", id]) => order::get(req, env, id).await,
        (&Method::GET, ["vnpay", "ipn"]) => vnpay::ipn(req, env).await,
        (&Method::POST, ["momo", "ipn"]) => momo::ipn(req, env).await,
        (&Method::POST, ["zalopay", "callback"]) => zalopay::callback(req, env).await,
        (&Method::GET, ["reconciliation"]) => reconcile::get(req, env).await,
        (&Method::POST, ["selftest"]) => civic::web::selftest(req, env, ledger::DB).await,
        (&Method::POST, ["webhooks"]) => civic::outbox::register(req, env, ledger::DB, EVENTS).await,
        (&Method::GET, ["webhooks"]) => civic::outbox::endpoints(req, env, ledger::DB).await,
        (&Method::DELETE, ["webhooks", id]) => civic::outbox::delete_endpoint(req, env, ledger::DB, id).await,
        (&Method::GET, ["outbox"]) => civic::outbox::list(req, env, ledger::DB).await,
        (&Method::POST, ["outbox", id, "retry"]) => civic::outbox::retry(req, env, ledger::DB, id).await,
        (&Method::GET, ["retention"]) => retention::route(req, env, ledger::DB, RETENTION).await,
        (&Method::POST, ["tick"]) => civic::outbox::tick_route(req, env, tick).await,
        (_, ["health" | "reconciliation" | "outbox" | "retention"] | ["orders", _] | ["vnpay", "ipn"]) => {
            Err(Error::MethodNotAllowed(&[Method::GET]))
        }
        (_, ["orders" | "selftest" | "tick"] | ["momo", "ipn"] | ["zalopay", "callback"] | ["outbox", _, "retry"]) => {
            Err(Error::MethodNotAllowed(&[Method::POST]))
        }
        (_, ["webhooks"]) => Err(Error::MethodNotAllowed(&[Method::GET, Method::POST])),
        (_, ["webhooks", _]) => Err(Error::MethodNotAllowed(&[Method::DELETE])),
        _ => Err(Error::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use civic::platform::native::block_on;
    use civic::testing::OpenApiCheck;

    /// Both ways: every documented operation is routed (not 404/405), every route of the
    /// match arms above is documented, and a method not documented on a path is a 405 with
    /// `Allow` naming the documented ones ([`civic::testing::check_openapi`]).
    #[test]
    fn openapi_documents_the_routes() {
        let env = civic::testing::route_env(&[ledger::DB, order::PERMITS]);
        let call = |req| block_on(handle(req, &env));
        let params = [("{order_id}", "ord_1"), ("{id}", "msg_1")];
        let checked = civic::testing::check_openapi(BASE, &params, include_str!("lib.rs"), call);
        // health, orders (2), 3 callbacks, reconciliation, selftest, webhooks (2), webhooks/{id},
        // outbox, outbox/{id}/retry, retention, tick
        assert_eq!(checked, Ok(OpenApiCheck { documented: 15, routed: 15, refused: 55 }));
    }
}
