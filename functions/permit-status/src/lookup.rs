//! GET /permits/{code}: where a dossier stands, for anyone who has its code.
//!
//! The public view never names the applicant. The applicant proves who they are with
//! `?phone=<last 4 digits of the phone on the dossier>` or with a citizen bearer JWT whose
//! `phone` claim is that phone; then the view adds the masked name and the full history.
//! A wrong last-4 gives the public view, exactly as no `phone` does, so the answer never
//! confirms a guess; after [`store::PHONE_CHECKS_PER_DAY`] wrong ones the last-4 check is off
//! for that dossier until the next day (Vietnam time). An invalid bearer token is a 401.

use bytes::Bytes;
use civic::auth::Role;
use civic::{Error, Lang, Msg, Platform};
use http::{HeaderValue, Request, Response, StatusCode, header};

use crate::dossier::{Code, phone_matches};
use crate::store::{self, Dossier};
use crate::{fee, view};

/// The code of a path or an SMS, or a 400 that shows the expected shape.
pub fn code(raw: &str) -> Result<Code, Error> {
    Code::parse(raw).ok_or_else(|| {
        Error::BadRequest(Msg::new(
            "Mã hồ sơ không đúng định dạng <mã cơ quan>-<YYMMDD>-<NNNN>, ví dụ 000.00.19.H57-241105-0012",
            "a dossier code has the form <agency code>-<YYMMDD>-<NNNN>, e.g. 000.00.19.H57-241105-0012",
        ))
    })
}

pub async fn get(req: &Request<Bytes>, env: &impl Platform, raw: &str) -> Result<Response<Bytes>, Error> {
    let code = code(raw)?;
    let dossier = store::get(env, &code).await?.ok_or(Error::NotFound)?;
    let verified = is_applicant(req, env, &dossier).await?;
    let fee_paid = fee::paid(env, &code, dossier.update.fee_vnd).await;
    let body = view::view(&dossier, env.now(), Lang::from_headers(req.headers()), fee_paid, verified);
    let mut resp = civic::web::json(StatusCode::OK, &body)?;
    // Status changes at any time, and the verified view is personal: no cache keeps it.
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Whether the caller proved to be the dossier's applicant.
async fn is_applicant(req: &Request<Bytes>, env: &impl Platform, d: &Dossier) -> Result<bool, Error> {
    if let Some(who) = civic::auth::authenticate_if_present(env, req.headers())?
        && who.has(Role::Citizen)
        && who.phone.as_deref().is_some_and(|p| civic::phone::same(p, &d.update.applicant.phone))
    {
        return Ok(true);
    }
    let Some(last4) = civic::web::query_param(req, "phone")? else {
        return Ok(false);
    };
    last4_proves(env, d, &last4).await
}

/// Whether `last4` are the last four digits of the applicant's phone, under the per-dossier
/// lock: `false` for anything but four ASCII digits (not counted), and for every answer once
/// [`store::PHONE_CHECKS_PER_DAY`] wrong ones were counted today (Vietnam time); a wrong
/// four digits is counted ([`store::phone_check_failed`]). The one check behind `?phone=`
/// here and `HS <mã hồ sơ> <4 số cuối>` in [`crate::command`]. Errors: the database's.
pub async fn last4_proves(env: &impl Platform, d: &Dossier, last4: &str) -> Result<bool, Error> {
    let a_guess = last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit());
    if !a_guess || !store::phone_check_open(env, &d.code).await? {
        return Ok(false);
    }
    if phone_matches(&d.update.applicant.phone, last4) {
        return Ok(true);
    }
    store::phone_check_failed(env, &d.code).await?;
    Ok(false)
}
