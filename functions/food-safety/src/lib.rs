//! food-safety: is this eating place certified safe?
//!
//! Citizens look up an establishment by name (diacritics optional) from the app, or text
//! `ATTP <tên cơ sở>` to the SMS short code, and learn whether it holds a valid food-safety
//! certificate (giấy chứng nhận cơ sở đủ điều kiện ATTP) and how many violations are on
//! record. Near a point, it lists the places around with their distances. The chat bot
//! (Zalo, Telegram) asks the same in full Vietnamese through the signed `command` route, with
//! buttons to pick a place. The province's registry imports establishments in bulk.
//!
//! Routes (base `/food-safety`):
//!
//! | method | path | who | module |
//! |---|---|---|---|
//! | GET | `/health` | anyone | [`civic::web::health`] |
//! | GET | `/establishments?q=&district=&limit=` | anyone | [`search`] |
//! | GET | `/establishments?near=<lat>,<lng>&radius=&limit=` | anyone | [`search`], [`nearby`] |
//! | GET | `/establishments/{id}` | anyone | [`establishment`] |
//! | DELETE | `/establishments/{id}` | admin | [`establishment`] |
//! | PUT | `/establishments` (JSON or CSV) | admin | [`import`] |
//! | PUT | `/violations` (CSV or JSON) | admin | [`violations`] |
//! | POST | `/sms` | SMS gateway (HMAC) | [`sms`] |
//! | POST | `/command` | chat bot, internal (HMAC) | [`command`] |
//! | POST | `/selftest` | admin | [`civic::web::selftest`] |
//! | GET | `/retention` | admin | [`civic::retention::route`] |
//! | POST | `/tick` | system (the scheduler; Workers' cron calls [`tick`] itself) | [`tick`] |
//!
//! Retention ([`RETENTION`], run by [`tick`]): the SMS messages and the senders' last lists
//! ([`command::CONVERSATIONS`]). SMS commands are rate limited by [`civic::sms`]; chat
//! commands by the chat function.

use bytes::Bytes;
use civic::outbox::Tick;
use civic::retention::{self, Kind};
use civic::{Error, Platform};
use http::{Method, Request, Response};

pub mod chat;
pub mod command;
#[cfg(not(target_arch = "wasm32"))]
pub mod demo;
pub mod establishment;
pub mod fuzzy;
pub mod import;
pub mod model;
pub mod nearby;
pub mod phrase;
pub mod rank;
pub mod search;
pub mod sms;
pub mod store;
pub mod violations;

// The Spin and Workers entry points around `handle` and `tick` (nothing natively).
civic::entry_points!(crate::handle, crate::MAX_BODY, crate::tick);

/// Where this function's routes live.
pub const BASE: &str = "/food-safety";

/// The largest body any route accepts (the bulk import); the entry points stop reading
/// past it. Each route applies its own, smaller cap as well (`sms`: [`civic::sms::MAX_BODY`],
/// `command`: [`civic::command::MAX_BODY`]).
pub const MAX_BODY: usize = import::MAX_BODY;

// The entry points' cap lets every route's own cap through.
const _: () = assert!(MAX_BODY >= civic::command::MAX_BODY && MAX_BODY >= civic::sms::MAX_BODY);

/// The kinds of personal data the `food` database keeps for a period ([`civic::retention`]):
/// the SMS messages (`ATTP …` and their replies) and the senders' last lists
/// ([`command::CONVERSATIONS`]). `GET /food-safety/retention` shows the oldest of each.
pub const RETENTION: &[Kind] = &[retention::SMS_MESSAGES, command::CONVERSATIONS];

/// The scheduled work (`POST /food-safety/tick`, Workers' cron trigger): this function
/// writes no events, so it delivers nothing; it removes what is past its retention period
/// ([`RETENTION`], [`civic::retention::run`]: counted as `sms_messages_purged`,
/// `conversations_purged`) and the rate-limit windows that have ended.
///
/// # Errors
/// A database error, or a retention setting that does not parse.
pub async fn tick(env: &impl Platform) -> Result<Tick, Error> {
    Ok(Tick { work: retention::run(env, store::DB, RETENTION).await?, ..Tick::default() })
}

/// The function: one request in, one response out, on any platform.
pub async fn handle(req: Request<Bytes>, env: &impl Platform) -> Response<Bytes> {
    civic::web::respond(&req, route(&req, env).await)
}

async fn route(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let segments = civic::web::segments(req.uri().path(), BASE).ok_or(Error::NotFound)?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["health"]) => civic::web::health(env, store::DB, "establishments").await,
        (&Method::GET, ["establishments"]) => search::get(req, env).await,
        (&Method::PUT, ["establishments"]) => import::put(req, env).await,
        (&Method::GET, ["establishments", id]) => establishment::get(id, env).await,
        (&Method::DELETE, ["establishments", id]) => establishment::delete(req, id, env).await,
        (&Method::PUT, ["violations"]) => violations::put(req, env).await,
        (&Method::POST, ["sms"]) => sms::post(req, env).await,
        (&Method::POST, ["command"]) => command::post(req, env).await,
        (&Method::POST, ["selftest"]) => civic::web::selftest(req, env, store::DB).await,
        (&Method::GET, ["retention"]) => retention::route(req, env, store::DB, RETENTION).await,
        (&Method::POST, ["tick"]) => civic::outbox::tick_route(req, env, tick).await,
        (_, ["health" | "retention"]) => Err(Error::MethodNotAllowed(&[Method::GET])),
        (_, ["establishments"]) => Err(Error::MethodNotAllowed(&[Method::GET, Method::PUT])),
        (_, ["establishments", _]) => Err(Error::MethodNotAllowed(&[Method::GET, Method::DELETE])),
        (_, ["violations"]) => Err(Error::MethodNotAllowed(&[Method::PUT])),
        (_, ["sms" | "command" | "selftest" | "tick"]) => Err(Error::MethodNotAllowed(&[Method::POST])),
        _ => Err(Error::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use civic::platform::native::block_on;
    use http::StatusCode;

    /// Both ways: every documented operation is routed (not 404/405), every route of the
    /// match arms above is documented, and a method not documented on a path is a 405 with
    /// `Allow` naming the documented ones ([`civic::testing::check_openapi`], step by step).
    #[test]
    fn openapi_documents_the_routes() {
        let env = civic::testing::route_env(&["food"]);
        let call = |req| block_on(handle(req, &env));
        let doc = civic::testing::openapi();
        let (documented, refused) = civic::testing::check_methods(&doc, BASE, &[("{id}", "DN-000123")], call).unwrap();
        let routed = civic::testing::routed_operations(include_str!("lib.rs"), BASE);
        let routed = civic::testing::check_routed_operations(&doc, BASE, &routed);
        // GET health, GET+PUT establishments, GET+DELETE establishment, PUT violations, POST sms,
        // POST command, POST selftest, GET retention, POST tick
        assert_eq!((documented, routed, refused), (11, Ok(11), 34));
        let unknown = Request::get("/food-safety/nope").body(Bytes::new()).unwrap();
        assert_eq!(block_on(handle(unknown, &env)).status(), StatusCode::NOT_FOUND);
    }

    /// `POST /food-safety/tick` is the scheduler's (role `system`); on a new database it
    /// finds nothing past its period.
    #[test]
    fn tick_is_for_the_scheduler() {
        let env = civic::testing::route_env(&["food"]);
        let tick = |roles: serde_json::Value| {
            let req = Request::post("/food-safety/tick")
                .header("authorization", civic::testing::token(&env, &serde_json::json!({"roles": roles})))
                .body(Bytes::new())
                .unwrap();
            let resp = block_on(handle(req, &env));
            (resp.status(), serde_json::from_slice::<serde_json::Value>(resp.body()).unwrap_or_default())
        };
        assert_eq!(tick(serde_json::json!(["admin"])).0, StatusCode::FORBIDDEN);
        assert_eq!(
            tick(serde_json::json!(["system"])),
            (
                StatusCode::OK,
                serde_json::json!({"delivered": 0, "retried": 0, "dead": 0, "undeliverable": 0,
                    "sms_messages_purged": 0, "conversations_purged": 0})
            )
        );
    }
}
