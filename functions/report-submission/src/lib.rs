//! report-submission: field reports (phản ánh hiện trường), routed to the agency that
//! answers them.
//!
//! Routes (base `/reports`):
//!
//! | method | path | who | module |
//! |---|---|---|---|
//! | GET | `/health` | anyone | [`civic::web::health`] |
//! | GET | `/categories` | anyone | [`category`] |
//! | GET | `?status=&category=&district=&bbox=&page=` | anyone | [`browse`] |
//! | GET | `/stats?from=&to=` | anyone | [`browse`] |
//! | POST | `/media` | anyone (a bearer token, if sent, must be valid); the chat bot per channel user (HMAC) | [`media`] |
//! | GET | `/media/{id}` | anyone | [`media`] |
//! | POST | `/sms` | SMS gateway (HMAC) | [`sms`] |
//! | POST | `/command` | the chat bot and internal callers (HMAC with `internal_secret`) | [`command`] |
//! | PUT | `/categories` | admin | [`category`] |
//! | POST | `` (the base) | a citizen, or anyone with a phone number | [`report`] |
//! | GET | `/{code}` | anyone | [`report`] |
//! | PATCH | `/{code}` | an officer of its agency | [`lifecycle`] |
//! | POST | `/{code}/rating` | its reporter | [`lifecycle`] |
//! | POST, GET | `/webhooks` | admin | [`civic::outbox::register`], [`civic::outbox::endpoints`] |
//! | DELETE | `/webhooks/{id}` | admin | [`civic::outbox::delete_endpoint`] |
//! | GET | `/outbox?state=&limit=` | admin | [`civic::outbox::list`] |
//! | POST | `/outbox/{id}/retry` | admin | [`civic::outbox::retry`] |
//! | POST | `/tick` | scheduler (role `system`) | [`tick()`], [`civic::outbox::tick_route`] |
//! | GET | `/retention` | admin | [`retention`], [`civic::retention::route`] |
//! | POST | `/selftest` | admin | [`civic::web::selftest`] |
//!
//! And Open311 GeoReport v2 under `/open311/v2/` ([`open311`]). A report's states are
//! [`status::Status`]; where it is, [`geo`] and [`civic::district`]; storage, [`store`].
//!
//! Every change someone must hear of writes its event in the same batch ([`notify`]:
//! `report.created`, `report.status_changed` with the reporter's message,
//! `report.overdue`); partner systems subscribe with `POST /reports/webhooks`. The answer of
//! a request that wrote events is marked ([`civic::outbox::soon`]) so that the entry point
//! delivers them right after answering; [`tick()`] (the Workers cron trigger, or
//! `POST /reports/tick` on Spin) warns of overdue reports and delivers the rest.
//!
//! Public writes are rate-limited per caller ([`civic::limit`]): filings
//! ([`report::FILING`], [`report::OPEN311_FILING`]), photo uploads ([`media::UPLOADS`]) and
//! SMS commands ([`civic::sms::RULE`]). Personal data is kept for the periods of
//! [`retention::KINDS`]; the tick removes what is past them.

use bytes::Bytes;
use civic::{Error, Platform};
use http::{Method, Request, Response};

pub mod attribute;
pub mod browse;
pub mod category;
pub mod command;
pub mod geo;
pub mod lifecycle;
pub mod media;
pub mod notify;
pub mod open311;
pub mod overdue;
pub mod report;
pub mod retention;
pub mod sms;
pub mod status;
pub mod store;

pub use notify::EVENTS;
pub use overdue::tick;

// The Spin and Workers entry points around `handle`, and the Workers cron trigger around
// `tick` (nothing natively).
civic::entry_points!(crate::handle, crate::max_body, crate::tick);

/// Where this function's routes live.
pub const BASE: &str = "/reports";

/// The largest body any route accepts (the category catalogue), but `POST /reports/media`.
pub const MAX_BODY: usize = 256 * 1024;

// Commands (`POST /reports/command`) and SMS get through the entry points whole; their own
// caps (16 KiB, 4 KiB) answer 413 past them.
const _: () = assert!(MAX_BODY >= civic::command::MAX_BODY && MAX_BODY >= civic::sms::MAX_BODY);

/// The entry points' body cap for a request: [`media::MAX_REQUEST`] (8 MiB of photo and its
/// multipart framing) for `POST /reports/media`, [`MAX_BODY`] for every other route.
pub fn max_body(method: &Method, path: &str) -> usize {
    let media = path.strip_prefix(BASE).is_some_and(|p| p.trim_end_matches('/') == "/media");
    if method == Method::POST && media { media::MAX_REQUEST } else { MAX_BODY }
}

/// The function: one request in, one response out, on any platform.
pub async fn handle(req: Request<Bytes>, env: &impl Platform) -> Response<Bytes> {
    civic::web::respond(&req, route(&req, env).await)
}

async fn route(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    if let Some(segments) = civic::web::segments(req.uri().path(), open311::BASE) {
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let mut resp = open311::route(req, env, &segments).await;
        // A request filed or an update posted may have written an event.
        if req.method() == Method::POST && resp.status().is_success() {
            civic::outbox::soon(&mut resp, store::DB);
        }
        return Ok(resp);
    }
    let segments = civic::web::segments(req.uri().path(), BASE).ok_or(Error::NotFound)?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["health"]) => civic::web::health(env, store::DB, "reports").await,
        (&Method::GET, ["categories"]) => category::list(env).await,
        (&Method::GET, []) => browse::list(req, env).await,
        (&Method::GET, ["stats"]) => browse::stats(req, env).await,
        (&Method::POST, ["sms"]) => sms::post(req, env).await,
        (&Method::POST, ["command"]) => command::post(req, env).await,
        (&Method::POST, ["media"]) => media::post(req, env).await,
        (&Method::GET, ["media", id]) => media::get(env, id).await,
        (&Method::PUT, ["categories"]) => category::put(req, env).await,
        (&Method::POST, []) => report::post(req, env).await,
        (&Method::POST, ["selftest"]) => civic::web::selftest(req, env, store::DB).await,
        (&Method::POST, ["webhooks"]) => civic::outbox::register(req, env, store::DB, EVENTS).await,
        (&Method::GET, ["webhooks"]) => civic::outbox::endpoints(req, env, store::DB).await,
        (&Method::DELETE, ["webhooks", id]) => civic::outbox::delete_endpoint(req, env, store::DB, id).await,
        (&Method::GET, ["outbox"]) => civic::outbox::list(req, env, store::DB).await,
        (&Method::POST, ["outbox", id, "retry"]) => civic::outbox::retry(req, env, store::DB, id).await,
        (&Method::POST, ["tick"]) => civic::outbox::tick_route(req, env, tick).await,
        (&Method::GET, ["retention"]) => civic::retention::route(req, env, store::DB, &retention::KINDS).await,
        (_, ["health" | "stats" | "outbox" | "retention"]) => Err(Error::MethodNotAllowed(&[Method::GET])),
        (_, ["categories"]) => Err(Error::MethodNotAllowed(&[Method::GET, Method::PUT])),
        (_, ["webhooks"]) => Err(Error::MethodNotAllowed(&[Method::GET, Method::POST])),
        (_, ["webhooks", _]) => Err(Error::MethodNotAllowed(&[Method::DELETE])),
        (_, ["selftest" | "sms" | "command" | "media" | "tick"] | ["outbox", _, "retry"]) => {
            Err(Error::MethodNotAllowed(&[Method::POST]))
        }
        (_, ["media", _]) => Err(Error::MethodNotAllowed(&[Method::GET])),
        (&Method::GET, [code]) => report::get(req, env, code).await,
        (&Method::PATCH, [code]) => lifecycle::patch(req, env, code).await,
        (&Method::POST, [code, "rating"]) => lifecycle::rate(req, env, code).await,
        (_, []) => Err(Error::MethodNotAllowed(&[Method::GET, Method::POST])),
        (_, [_]) => Err(Error::MethodNotAllowed(&[Method::GET, Method::PATCH])),
        (_, [_, "rating"]) => Err(Error::MethodNotAllowed(&[Method::POST])),
        _ => Err(Error::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use civic::platform::native::block_on;
    use civic::testing::OpenApiCheck;

    /// Both ways, for the app's routes (the match arms above) and the Open311 ones (the arms
    /// of `open311::route`): every documented operation is routed (not 404/405), every routed
    /// one is documented, and a method not documented on a path is a 405 with `Allow` naming
    /// the documented ones ([`civic::testing::check_openapi`]).
    #[test]
    fn openapi_documents_the_routes() {
        let env = civic::testing::route_env(&[store::DB]);
        let call = |req| block_on(handle(req, &env));
        let code = [("{code}", "PA-241105-0001"), ("{id}", "AAAAAAAAAAAAAAAAAAAAAA")];
        let doc = civic::testing::openapi();
        let (documented, refused) = civic::testing::check_methods(&doc, BASE, &code, call).unwrap();
        let routed = civic::testing::routed_operations(include_str!("lib.rs"), BASE);
        let routed = civic::testing::check_routed_operations(&doc, BASE, &routed).unwrap();
        assert_eq!(
            OpenApiCheck { documented, routed, refused },
            // With the issue-16 paths (webhooks, webhooks/{id}, outbox, outbox/{id}/retry,
            // tick) and the retention route merged into docs/openapi.json: 14 + 6 + 1
            // operations, 41 + 19 + 4 refusals.
            OpenApiCheck { documented: 21, routed: 21, refused: 64 }
        );
        // Open311 paths end in `.{format}` (json or xml), which the router splits off before
        // it matches: its arms' patterns get the suffix back here.
        let routed: Vec<(String, String)> =
            civic::testing::routed_operations(include_str!("open311/mod.rs"), open311::BASE)
                .into_iter()
                .map(|(method, path)| (method, format!("{path}.{{}}")))
                .collect();
        assert_eq!(civic::testing::check_routed_operations(&doc, open311::BASE, &routed), Ok(9));
        for format in ["json", "xml"] {
            let ids = [
                ("{service_code}", "road-damage"),
                ("{service_request_id}", "PA-241105-0001"),
                ("{token}", "t"),
                ("{format}", format),
            ];
            assert_eq!(civic::testing::check_methods(&doc, open311::BASE, &ids, call), Ok((9, 26)), "{format}");
        }
    }

    #[test]
    fn commands_get_through_the_entry_points() {
        for path in ["/reports/command", "/reports/sms"] {
            assert!(max_body(&Method::POST, path) >= civic::command::MAX_BODY, "{path}");
        }
    }
}
