//! GET /food-safety/establishments/{id}
//!
//! The full record: every imported field, the certificate status today (Vietnam time) and
//! the list of violations. 404 for an unknown id.

use bytes::Bytes;
use civic::{Error, Platform};
use http::{Response, StatusCode};

use crate::model::CertificateStatus;
use crate::store;

pub async fn get(id: &str, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    if id.len() > 64 {
        return Err(Error::NotFound);
    }
    let e = store::get(env, id).await?.ok_or(Error::NotFound)?;
    let today = civic::web::vn_today(env.now());
    let status = CertificateStatus::of(e.certificate.as_ref(), today);
    let mut body = serde_json::to_value(&e).map_err(|e| Error::Internal(e.to_string()))?;
    body["certificate_status"] = serde_json::to_value(status).map_err(|e| Error::Internal(e.to_string()))?;
    civic::web::json(StatusCode::OK, &body)
}
