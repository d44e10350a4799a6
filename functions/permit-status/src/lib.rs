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
//! | GET | `/health` | anyone | here |
//! | GET | `/{code}[?phone=<last 4 digits>]` | anyone; the applicant sees more | [`lookup`] |
//! | PUT | `/{code}` | system | [`push`] |
//! | POST | `/sms` | SMS gateway (HMAC) | [`sms`] |
//! | POST | `/selftest` | admin | [`civic::web::selftest`] |
//!
//! Databases: `permits` (written here), `payments` (read: is the fee paid, [`fee`]).

use bytes::Bytes;
use civic::{Error, Lang, Platform};
use http::{Method, Request, Response, StatusCode};

pub mod dossier;
pub mod fee;
pub mod lookup;
pub mod push;
pub mod sms;
pub mod store;
pub mod update;
pub mod view;

// The SDK macros generate the Wasm exports, which are `unsafe` by nature.
#[cfg(target_os = "wasi")]
#[allow(unsafe_code)]
mod spin;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#[allow(unsafe_code)]
mod workers;

/// Where this function's routes live.
pub const BASE: &str = "/permits";

/// The largest body any route accepts (a push); the entry points stop reading past it.
pub const MAX_BODY: usize = push::MAX_BODY;

/// The function: one request in, one response out, on any platform.
pub async fn handle(req: Request<Bytes>, env: &impl Platform) -> Response<Bytes> {
    let lang = Lang::from_headers(req.headers());
    route(&req, env).await.unwrap_or_else(|e| e.into_response(lang))
}

async fn route(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let segments = civic::web::segments(req.uri().path(), BASE).ok_or(Error::NotFound)?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["health"]) => health(env).await,
        (&Method::POST, ["sms"]) => sms::post(req, env).await,
        (&Method::POST, ["selftest"]) => civic::web::selftest(req, env, store::DB).await,
        (_, ["health" | "sms" | "selftest"]) => Err(Error::MethodNotAllowed),
        (&Method::GET, [code]) => lookup::get(req, env, code).await,
        (&Method::PUT, [code]) => push::put(req, env, code).await,
        (_, [_]) => Err(Error::MethodNotAllowed),
        _ => Err(Error::NotFound),
    }
}

/// GET /permits/health: 200 when the database answers.
async fn health(env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let rows = env.query(store::DB, "SELECT count(*) AS n FROM dossiers", &[]).await?;
    let n = rows.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0);
    civic::web::json(StatusCode::OK, &serde_json::json!({"status": "ok", "dossiers": n}))
}
