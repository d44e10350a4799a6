//! chat: one Zalo Official Account and Telegram bot for every service.
//!
//! Citizens write to the province's OA on Zalo, or to its Telegram bot, the same commands
//! as by SMS (`ATTP <tên cơ sở>`, `HS <mã hồ sơ>`, `PA <nội dung>`, `TT <mã phản ánh>`), and
//! share locations and photos; the bot answers in Vietnamese with its diacritics, with
//! buttons for a choice ([`bot`]). It owns no service's data: each command goes over HTTP to
//! the function that owns the answer (`POST <prefix>/command`, [`civic::command`]) through
//! Spin's local service chaining or a Workers service binding. Its own database, `chat`,
//! keeps the events seen, open `PA` conversations, the Zalo token pair, unsent replies and
//! the notifications sent.
//!
//! It also carries the other functions' notifications to chat users (`POST /chat/send`:
//! Zalo within its 48-hour window, else a ZNS template by phone; Telegram), and delivers
//! its own unsent replies on each [`tick()`], which also removes the personal data past its
//! retention period ([`retention`]).
//!
//! Each chat user may send [`bot::RULE`] messages in a window; the message that crosses it
//! gets one short notice, the ones after it no reply, and the platform `200` all the same.
//!
//! Routes (base `/chat`):
//!
//! | method | path | who | module |
//! |---|---|---|---|
//! | GET | `/health` | anyone | [`civic::web::health`] |
//! | POST | `/zalo` | Zalo (`X-ZEvent-Signature`) | [`zalo`] |
//! | POST | `/telegram` | Telegram (`X-Telegram-Bot-Api-Secret-Token`) | [`telegram`] |
//! | POST | `/send` | other functions (`X-Signature`, `internal_secret`) | [`send`] |
//! | POST | `/tick` | scheduler (role `system`) | [`tick()`], [`civic::outbox::tick_route`] |
//! | GET | `/retention` | admin | [`civic::retention::route`], kinds [`retention::KINDS`] |
//! | POST | `/selftest` | admin | [`civic::web::selftest`] |
//!
//! Settings of its own (besides the platforms' tokens and secrets):
//!
//! | setting | default | what |
//! |---|---|---|
//! | `rate_limit_chat_messages` | `30/10m` | messages per chat user in a window ([`bot::RULE`]) |
//! | `retention_chat_events` | `30d` (at least `2d`) | [`retention::CHAT_EVENTS`] |
//! | `retention_conversations` | `1d` (at least `1h`) | [`retention::CONVERSATIONS`] |
//! | `retention_notifications` | `30d` (at least `2d`) | [`retention::NOTIFICATIONS`] |

use bytes::Bytes;
use civic::{Error, Platform};
use http::{Method, Request, Response};

pub mod bot;
pub mod photo;
pub mod retention;
pub mod send;
pub mod store;
pub mod telegram;
pub mod tick;
pub mod token;
pub mod zalo;

#[cfg(test)]
mod testkit;

pub use tick::tick;

// The Spin and Workers entry points around `handle`, and the Workers cron trigger around
// `tick` (nothing natively).
civic::entry_points!(crate::handle, crate::MAX_BODY, crate::tick);

/// Where this function's routes live.
pub const BASE: &str = "/chat";

/// The largest body any route accepts (a webhook event).
pub const MAX_BODY: usize = zalo::MAX_BODY;

/// The function: one request in, one response out, on any platform.
pub async fn handle(req: Request<Bytes>, env: &impl Platform) -> Response<Bytes> {
    civic::web::respond(&req, route(&req, env).await)
}

async fn route(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let segments = civic::web::segments(req.uri().path(), BASE).ok_or(Error::NotFound)?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["health"]) => civic::web::health(env, store::DB, "chat_events").await,
        (&Method::POST, ["zalo"]) => zalo::post(req, env).await,
        (&Method::POST, ["telegram"]) => telegram::post(req, env).await,
        (&Method::POST, ["send"]) => send::post(req, env).await,
        (&Method::POST, ["tick"]) => civic::outbox::tick_route(req, env, tick).await,
        (&Method::GET, ["retention"]) => civic::retention::route(req, env, store::DB, retention::KINDS).await,
        (&Method::POST, ["selftest"]) => civic::web::selftest(req, env, store::DB).await,
        (_, ["health" | "retention"]) => Err(Error::MethodNotAllowed(&[Method::GET])),
        (_, ["zalo" | "telegram" | "send" | "tick" | "selftest"]) => Err(Error::MethodNotAllowed(&[Method::POST])),
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
        let env = civic::testing::route_env(&[store::DB]);
        let call = |req| block_on(handle(req, &env));
        let check = civic::testing::check_openapi(BASE, &[], include_str!("lib.rs"), call).unwrap();
        // GET health, POST zalo, POST telegram, POST send, POST tick, GET retention, POST selftest
        assert_eq!(check, OpenApiCheck { documented: 7, routed: 7, refused: 28 });
    }
}
