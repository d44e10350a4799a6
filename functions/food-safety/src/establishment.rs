//! GET /food-safety/establishments/{id}
//!
//! The full record: every imported field, the certificate status today (Vietnam time) and
//! the list of violations, newest first. 404 for an unknown id.
//!
//! DELETE /food-safety/establishments/{id} (admin): a place that closed, with its violations;
//! 204, or 404 for an unknown id.

use bytes::Bytes;
use civic::auth::Role;
use civic::{Error, Platform};
use http::{Request, Response, StatusCode};

use crate::model::{CertificateStatus, MAX_ID};
use crate::store;

pub async fn get(id: &str, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    if id.len() > MAX_ID {
        return Err(Error::NotFound);
    }
    let e = store::get(env, id).await?.ok_or(Error::NotFound)?;
    let today = civic::web::vn_today(env.now());
    let status = CertificateStatus::of(e.certificate.as_ref(), today);
    let mut body = serde_json::to_value(&e).map_err(|e| Error::Internal(e.to_string()))?;
    body["certificate_status"] = serde_json::to_value(status).map_err(|e| Error::Internal(e.to_string()))?;
    civic::web::json(StatusCode::OK, &body)
}

pub async fn delete(req: &Request<Bytes>, id: &str, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::auth::require_role(env, req.headers(), Role::Admin)?;
    if id.len() > MAX_ID || !store::delete(env, id).await? {
        return Err(Error::NotFound);
    }
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}
