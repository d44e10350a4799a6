//! permit-status: where is my administrative dossier (hồ sơ thủ tục hành chính)?
//!
//! Citizens look a dossier up by its code from the app, by SMS (`HS <mã hồ sơ>`) and from
//! chat, and learn its status, its due date (ngày hẹn trả), whether it is overdue and whether
//! its fee is paid. The province's one-stop-shop system (hệ thống một cửa điện tử) pushes
//! dossiers and their status changes in.
//!
//! Routes (base `/permits`):
//!
//! | method | path | who | module |
//! |---|---|---|---|
//! | GET | `/health` | anyone | [`civic::web::health`] |
//! | GET | `/{code}[?phone=<last 4 digits>]` | anyone (rate limited); the applicant sees more | [`lookup`] |
//! | PUT | `/{code}` | system | [`push`] |
//! | POST | `/sms` | SMS gateway (HMAC) | [`sms`] |
//! | POST | `/command` | the chat bot and internal callers (HMAC with `internal_secret`) | [`command`] |
//! | POST | `/selftest` | admin | [`civic::web::selftest`] |
//! | POST, GET | `/webhooks` | admin | [`civic::outbox::register`], [`civic::outbox::endpoints`] |
//! | DELETE | `/webhooks/{id}` | admin | [`civic::outbox::delete_endpoint`] |
//! | GET | `/outbox?state=dead&limit=` | admin | [`civic::outbox::list`] |
//! | POST | `/outbox/{id}/retry` | admin | [`civic::outbox::retry`] |
//! | GET | `/retention` | admin | [`civic::retention::route`] |
//! | POST | `/tick` | system (the scheduler; Workers' cron calls [`tick`] itself) | [`tick`] |
//!
//! Events ([`EVENTS`], [`notify`]): `dossier.status_changed`, written with each push that
//! creates a dossier or changes its status; to the applicant by SMS and to the partner
//! webhooks registered for it.
//!
//! Rate limit: `dossier_lookup` on `GET /{code}` ([`lookup`]). SMS commands are counted by
//! [`civic::sms`]; `POST /command` by the chat function, which counts its users.
//!
//! Retention ([`RETENTION`], run by [`tick`]): SMS messages, the notification log, and the
//! wrong last-4 counts of past days ([`store::PHONE_CHECKS`]).
//!
//! Databases: `permits` (written here), `payments` (read: is the fee paid, [`fee`]).

use bytes::Bytes;
use civic::outbox::{EventType, Tick};
use civic::retention::{self, Kind};
use civic::{Error, Platform};
use http::{Method, Request, Response};

pub mod command;
pub mod dossier;
pub mod fee;
pub mod lookup;
pub mod notify;
pub mod push;
pub mod sms;
pub mod store;
pub mod view;

// The Spin and Workers entry points around `handle` and `tick` (nothing natively).
civic::entry_points!(crate::handle, crate::MAX_BODY, crate::tick);

/// Where this function's routes live.
pub const BASE: &str = "/permits";

/// The largest body any route accepts (a push); the entry points stop reading past it.
pub const MAX_BODY: usize = push::MAX_BODY;

// A command (`POST /permits/command`) must get through the entry points whole.
const _: () = assert!(MAX_BODY >= civic::command::MAX_BODY && MAX_BODY >= civic::sms::MAX_BODY);

/// The event types this function writes, which its webhooks may subscribe to.
pub const EVENTS: &[EventType] = &[EventType::DossierStatusChanged];

/// The kinds of personal data (and housekeeping) the `permits` database keeps for a
/// period ([`civic::retention`]): the SMS messages (`HS <mã hồ sơ>` and their replies), the
/// notification log (the applicant's phone and message), the wrong last-4 counts of past
/// days ([`store::PHONE_CHECKS`]). `GET /permits/retention` shows the oldest of each.
pub const RETENTION: &[Kind] = &[retention::SMS_MESSAGES, retention::NOTIFICATIONS, store::PHONE_CHECKS];

/// The scheduled work (`POST /permits/tick`, Workers' cron trigger): delivers the due events
/// of the `permits` outbox ([`civic::outbox::deliver()`]), then removes what is past its
/// retention period ([`RETENTION`], [`civic::retention::run`]: counted as
/// `sms_messages_purged`, `notifications_purged`, `phone_checks_purged`) and the rate-limit
/// windows that have ended.
///
/// # Errors
/// A database error, or an outbox or retention setting that does not parse.
pub async fn tick(env: &impl Platform) -> Result<Tick, Error> {
    let mut tick = civic::outbox::deliver(env, store::DB).await?;
    tick.work.extend(retention::run(env, store::DB, RETENTION).await?);
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
        (&Method::GET, ["health"]) => civic::web::health(env, store::DB, "dossiers").await,
        (&Method::POST, ["sms"]) => sms::post(req, env).await,
        (&Method::POST, ["command"]) => command::post(req, env).await,
        (&Method::POST, ["selftest"]) => civic::web::selftest(req, env, store::DB).await,
        (&Method::POST, ["webhooks"]) => civic::outbox::register(req, env, store::DB, EVENTS).await,
        (&Method::GET, ["webhooks"]) => civic::outbox::endpoints(req, env, store::DB).await,
        (&Method::DELETE, ["webhooks", id]) => civic::outbox::delete_endpoint(req, env, store::DB, id).await,
        (&Method::GET, ["outbox"]) => civic::outbox::list(req, env, store::DB).await,
        (&Method::POST, ["outbox", id, "retry"]) => civic::outbox::retry(req, env, store::DB, id).await,
        (&Method::GET, ["retention"]) => retention::route(req, env, store::DB, RETENTION).await,
        (&Method::POST, ["tick"]) => civic::outbox::tick_route(req, env, tick).await,
        (_, ["health" | "retention"]) => Err(Error::MethodNotAllowed(&[Method::GET])),
        (_, ["sms" | "command" | "selftest" | "tick"] | ["outbox", _, "retry"]) => {
            Err(Error::MethodNotAllowed(&[Method::POST]))
        }
        (_, ["webhooks"]) => Err(Error::MethodNotAllowed(&[Method::GET, Method::POST])),
        (_, ["webhooks", _]) => Err(Error::MethodNotAllowed(&[Method::DELETE])),
        (_, ["outbox"]) => Err(Error::MethodNotAllowed(&[Method::GET])),
        // Below the named routes: a dossier code has dots, so it never is one of their names.
        (&Method::GET, [code]) => lookup::get(req, env, code).await,
        (&Method::PUT, [code]) => push::put(req, env, code).await,
        (_, [_]) => Err(Error::MethodNotAllowed(&[Method::GET, Method::PUT])),
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
        let env = civic::testing::route_env(&[store::DB, fee::PAYMENTS]);
        let call = |req| block_on(handle(req, &env));
        let params = [("{code}", "000.00.19.H57-241105-0012"), ("{id}", "msg_1")];
        let doc = civic::testing::openapi();
        let (documented, refused) = civic::testing::check_methods(&doc, BASE, &params, call).unwrap();
        let routed = civic::testing::routed_operations(include_str!("lib.rs"), BASE);
        let routed = civic::testing::check_routed_operations(&doc, BASE, &routed).unwrap();
        // GET health, GET+PUT {code}, POST sms, POST command, POST selftest, POST+GET webhooks,
        // DELETE webhooks/{id}, GET outbox, POST outbox/{id}/retry, GET retention, POST tick
        assert_eq!(
            OpenApiCheck { documented, routed, refused },
            OpenApiCheck { documented: 13, routed: 13, refused: 42 }
        );
    }

    /// The documented push body is the one parsed, field for field.
    #[test]
    fn openapi_documents_the_push_body() {
        let doc = civic::testing::openapi();
        let mut documented: Vec<&str> = doc["components"]["schemas"]["DossierPush"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut parsed = push::KEYS.to_vec();
        documented.sort_unstable();
        parsed.sort_unstable();
        assert_eq!(documented, parsed);
        let example: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/examples/dossier-push.json")).unwrap();
        push::parse(&example).expect("the README's example push is valid");
    }
}
