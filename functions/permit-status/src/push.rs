//! PUT /permits/{code} (role `system`): the one-stop-shop system pushes a dossier and its
//! newest status change ([`crate::update`] has the body). Safe to repeat and to deliver out
//! of order ([`crate::store::apply`]). Answers `201` for a new dossier, else `200`, with
//! `{"code", "outcome": "created" | "updated" | "unchanged" | "stale"}`.

use bytes::Bytes;
use civic::auth::Role;
use civic::{Error, Platform};
use http::{Request, Response, StatusCode};

use crate::store::{self, Outcome};
use crate::{lookup, update};

/// The largest push body (bytes); the documented example is under 600.
pub const MAX_BODY: usize = 16 * 1024;

pub async fn put(req: &Request<Bytes>, env: &impl Platform, raw: &str) -> Result<Response<Bytes>, Error> {
    civic::auth::require_role(env, req.headers(), Role::System)?;
    let code = lookup::code(raw)?;
    let body: serde_json::Value = civic::web::read_json(req, MAX_BODY)?;
    let update = update::parse(&body)?;
    let outcome = store::apply(env, &code, &update).await?;
    let status = if outcome == Outcome::Created { StatusCode::CREATED } else { StatusCode::OK };
    civic::web::json(status, &serde_json::json!({"code": code, "outcome": outcome.as_str()}))
}
