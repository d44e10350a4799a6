//! GET /permits/{code}: where a dossier stands, for anyone who has its code.
//!
//! The public view never names the applicant. The applicant proves who they are with
//! `?phone=<last 4 digits of the phone on the dossier>` or with a citizen bearer JWT whose
//! `phone` claim is that phone; then the view adds the masked name and the full history.
//! A wrong last-4 gives the public view, exactly as no `phone` does, so the answer never
//! confirms a guess; after [`store::PHONE_CHECKS_PER_DAY`] wrong ones the last-4 check is off
//! for that dossier until the next day (Vietnam time). An invalid bearer token is a 401.
//!
//! **Rate limit** [`DOSSIER_LOOKUP`] (setting `rate_limit_dossier_lookup`, default `120/1h`)
//! per caller ([`civic::limit::Caller`]: the JWT subject, else the client address), so that
//! nobody walks the code space or the last-4 digits; over it, a 429 problem+json with
//! `Retry-After`. Generous, because an anonymous caller is counted by address and Vietnamese
//! mobile carriers put many citizens behind one CGNAT IPv4 address. The count rides in the
//! batch of the dossier's reads ([`civic::limit::check`], [`store::reads`]): no round trip
//! of its own. Callers with role `system`, `admin` or `officer` are not counted. A code that
//! does not parse is a 400 before anything is counted or read.

use bytes::Bytes;
use civic::auth::{Principal, Role};
use civic::limit::{Caller, Rule};
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

/// Lookups per caller: setting `rate_limit_dossier_lookup`.
pub const DOSSIER_LOOKUP: Rule = Rule { name: "dossier_lookup", default: "120/1h" };

/// The roles whose lookups are not counted: the one-stop-shop system, admins, officers.
const UNCOUNTED: [Role; 3] = [Role::System, Role::Admin, Role::Officer];

/// `GET /permits/{code}`: 200 with the dossier's view, 400 for a malformed code, 401 for an
/// invalid bearer token, 404 for an unknown dossier, 429 over [`DOSSIER_LOOKUP`].
pub async fn get(req: &Request<Bytes>, env: &impl Platform, raw: &str) -> Result<Response<Bytes>, Error> {
    let code = code(raw)?;
    let who = civic::auth::authenticate_if_present(env, req.headers())?;
    // A four-digit guess has today's wrong-guess count read with the dossier: one round trip.
    let guess = civic::web::query_param(req, "phone").ok().flatten().is_some_and(|g| is_guess(&g));
    let mut reads = store::reads(&code);
    if guess {
        reads.push(store::phone_check_read(env, &code));
    }
    let results = if who.as_ref().is_some_and(|p| UNCOUNTED.iter().any(|r| p.has(*r))) {
        env.batch(store::DB, &reads).await?
    } else {
        let count = DOSSIER_LOOKUP.count(env, &caller(req, env, who.as_ref()))?;
        civic::limit::check(env, store::DB, &count, reads).await?
    };
    let (dossier, checks_open) = store::parse_with_phone_check(&code, &results)?;
    let dossier = dossier.ok_or(Error::NotFound)?;
    let verified = is_applicant(req, env, who.as_ref(), &dossier, checks_open).await?;
    let fee_paid = fee::paid(env, &code, dossier.update.fee_vnd).await;
    let body = view::view(&dossier, env.now(), Lang::from_headers(req.headers()), fee_paid, verified);
    let mut resp = civic::web::json(StatusCode::OK, &body)?;
    // Status changes at any time, and the verified view is personal: no cache keeps it.
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Who is counted: what [`Caller::of_request`] gives (the JWT subject, else the client
/// address), from the token already verified rather than verifying it again.
fn caller(req: &Request<Bytes>, env: &impl Platform, who: Option<&Principal>) -> Caller {
    match who {
        Some(p) => Caller::Subject(p.subject.clone()),
        None => Caller::Address(env.client_addr(req.headers())),
    }
}

/// Whether the caller (`who`, the request's verified token if any) proved to be the
/// dossier's applicant; `checks_open` is what the batch of the dossier's reads found of
/// today's wrong guesses, when it read them ([`last4_proves`]).
async fn is_applicant(
    req: &Request<Bytes>,
    env: &impl Platform,
    who: Option<&Principal>,
    d: &Dossier,
    checks_open: Option<bool>,
) -> Result<bool, Error> {
    if let Some(who) = who
        && who.has(Role::Citizen)
        && who.phone.as_deref().is_some_and(|p| civic::phone::same(p, &d.update.applicant.phone))
    {
        return Ok(true);
    }
    let Some(last4) = civic::web::query_param(req, "phone")? else {
        return Ok(false);
    };
    last4_proves(env, d, &last4, checks_open).await
}

/// Whether `last4` is a guess at the last four digits: four ASCII digits.
pub fn is_guess(last4: &str) -> bool {
    last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `last4` are the last four digits of the applicant's phone, under the per-dossier
/// lock: `false` for anything but four ASCII digits ([`is_guess`]; not counted), and for
/// every answer once [`store::PHONE_CHECKS_PER_DAY`] wrong ones were counted today (Vietnam
/// time); a wrong four digits is counted ([`store::phone_check_failed`]). `checks_open` is
/// whether the check is open today, as read in the batch of the dossier's reads
/// ([`store::phone_check_read`]); `None` reads it here (a round trip more). The one check
/// behind `?phone=` here and `HS <mã hồ sơ> <4 số cuối>` in [`crate::command`]. Errors: the
/// database's.
pub async fn last4_proves(
    env: &impl Platform,
    d: &Dossier,
    last4: &str,
    checks_open: Option<bool>,
) -> Result<bool, Error> {
    if !is_guess(last4) {
        return Ok(false);
    }
    let open = match checks_open {
        Some(open) => open,
        None => store::phone_check_open(env, &d.code).await?,
    };
    if !open {
        return Ok(false);
    }
    if phone_matches(&d.update.applicant.phone, last4) {
        return Ok(true);
    }
    store::phone_check_failed(env, &d.code).await?;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The caller counted is the one [`Caller::of_request`] names, token or none.
    #[test]
    fn the_caller_is_the_one_of_request() {
        let env = civic::testing::route_env(&[]);
        let anonymous = Request::get("/permits/x").body(Bytes::new()).unwrap();
        let signed = Request::get("/permits/x")
            .header("authorization", civic::testing::token(&env, &serde_json::json!({"sub": "citizen-9"})))
            .body(Bytes::new())
            .unwrap();
        for req in [anonymous, signed] {
            let who = civic::auth::authenticate_if_present(&env, req.headers()).unwrap();
            assert_eq!(caller(&req, &env, who.as_ref()), Caller::of_request(&env, &req).unwrap());
        }
    }

    #[test]
    fn parse_wants_both_reads() {
        let code = Code::parse("000.00.19.H57-241105-0012").unwrap();
        assert!(matches!(store::parse(&code, &[]), Err(Error::Internal(_))));
    }
}
