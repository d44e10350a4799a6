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
//! | GET | `/{code}[?phone=<last 4 digits>]` | anyone; the applicant sees more | [`lookup`] |
//! | PUT | `/{code}` | system | [`push`] |
//! | POST | `/sms` | SMS gateway (HMAC) | [`sms`] |
//! | POST | `/command` | the chat bot and internal callers (HMAC with `internal_secret`) | [`command`] |
//! | POST | `/selftest` | admin | [`civic::web::selftest`] |
//!
//! Databases: `permits` (written here), `payments` (read: is the fee paid, [`fee`]).

use bytes::Bytes;
use civic::{Error, Platform};
use http::{Method, Request, Response};

pub mod command;
pub mod dossier;
pub mod fee;
pub mod lookup;
pub mod push;
pub mod sms;
pub mod store;
pub mod view;

// The Spin and Workers entry points around `handle` (nothing natively).
civic::entry_points!(crate::handle, crate::MAX_BODY);

/// Where this function's routes live.
pub const BASE: &str = "/permits";

/// The largest body any route accepts (a push); the entry points stop reading past it.
pub const MAX_BODY: usize = push::MAX_BODY;

// A command (`POST /permits/command`) must get through the entry points whole.
const _: () = assert!(MAX_BODY >= civic::command::MAX_BODY && MAX_BODY >= civic::sms::MAX_BODY);

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
        (_, ["health"]) => Err(Error::MethodNotAllowed(&[Method::GET])),
        (_, ["sms" | "command" | "selftest"]) => Err(Error::MethodNotAllowed(&[Method::POST])),
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
        let params = [("{code}", "000.00.19.H57-241105-0012")];
        let doc = civic::testing::openapi();
        let (documented, refused) = civic::testing::check_methods(&doc, BASE, &params, call).unwrap();
        let routed = civic::testing::routed_operations(include_str!("lib.rs"), BASE);
        let routed = civic::testing::check_routed_operations(&doc, BASE, &routed).unwrap();
        // GET health, GET+PUT {code}, POST sms, POST command, POST selftest
        assert_eq!(
            OpenApiCheck { documented, routed, refused },
            OpenApiCheck { documented: 6, routed: 6, refused: 19 }
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
