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
//! | POST | `/orders` | citizen | [`order`] |
//! | GET | `/orders/{order_id}` | its owner, admin | [`order`] |
//! | GET | `/vnpay/ipn?...` | VNPay (vnp_SecureHash) | [`vnpay`] |
//! | POST | `/momo/ipn` | MoMo (signature) | [`momo`] |
//! | POST | `/zalopay/callback` | ZaloPay (mac) | [`zalopay`] |
//! | GET | `/reconciliation?date=` | admin | [`reconcile`] |
//! | POST | `/selftest` | admin | [`civic::web::selftest`] |
//!
//! Databases: `payments` (written here), `permits` (read: a dossier's fee).

use bytes::Bytes;
use civic::{Error, Platform};
use http::{Method, Request, Response};

pub mod ledger;
pub mod momo;
pub mod order;
pub mod reconcile;
pub mod vnpay;
pub mod wallet;
pub mod zalopay;

// The Spin and Workers entry points around `handle` (nothing natively).
civic::entry_points!(crate::handle, crate::MAX_BODY);

/// Where this function's routes live.
pub const BASE: &str = "/payments";

/// The largest callback body (bytes); partners send well under 2 KiB.
pub const CALLBACK_MAX_BODY: usize = 16 * 1024;

/// The largest body any route accepts; the entry points stop reading past it.
pub const MAX_BODY: usize = CALLBACK_MAX_BODY;

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
        (_, ["health" | "reconciliation"] | ["orders", _] | ["vnpay", "ipn"]) => {
            Err(Error::MethodNotAllowed(&[Method::GET]))
        }
        (_, ["orders" | "selftest"] | ["momo", "ipn"] | ["zalopay", "callback"]) => {
            Err(Error::MethodNotAllowed(&[Method::POST]))
        }
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
        let checked = civic::testing::check_openapi(BASE, &[("{order_id}", "ord_1")], include_str!("lib.rs"), call);
        // health, orders (2), 3 callbacks, reconciliation, selftest
        assert_eq!(checked, Ok(OpenApiCheck { documented: 8, routed: 8, refused: 32 }));
    }
}
