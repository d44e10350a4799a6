//! JWT verification with the algorithm pinned by the key.

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{AuthConfig, Principal, Role};
use crate::error::Error;

/// Clock skew allowed on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: i64 = 60;
/// Longer tokens are refused before any parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// RFC 7518 §3.2: an HS256 key is at least as long as the hash output.
pub(super) const MIN_HS256_SECRET_LEN: usize = 32;
/// RSA moduli below 2048 bits are refused.
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// base64url as JWKS publishers write it: padded or not.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Verifies `token` at `now_unix` (seconds since the epoch, from the platform clock).
///
/// Every failure is `Error::Unauthorized`; the reason is logged without the token.
pub fn verify(cfg: &AuthConfig, token: &str, now_unix: i64) -> Result<Principal, Error> {
    check(cfg, token, now_unix).map_err(|reason| {
        crate::log::error(&format!("auth: bearer token rejected: {reason}"));
        Error::Unauthorized
    })
}

/// Why a token was refused; static text, or built from values that are safe to log.
type Reason = std::borrow::Cow<'static, str>;

fn check(cfg: &AuthConfig, token: &str, now: i64) -> Result<Principal, Reason> {
    if token.is_empty() {
        return Err("empty token".into());
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err("token too long".into());
    }
    let header = jsonwebtoken::decode_header(token).map_err(|e| jwt_reason(&e, "header"))?;
    if header.crit.is_some() {
        return Err("header has crit parameters, none of which are supported".into());
    }

    // The key, and with it the one algorithm the token may use.
    let (alg, key) = match header.kid.as_deref() {
        Some(kid) => {
            let jwks = cfg.jwks.as_deref().ok_or("token has a kid but no JWKS is configured")?;
            jwks_key(jwks, kid)?
        }
        None => {
            let secret = cfg.hs256_secret.as_deref().ok_or("token has no kid and no HS256 secret is configured")?;
            if secret.len() < MIN_HS256_SECRET_LEN {
                return Err("configured HS256 secret is shorter than 32 bytes".into());
            }
            (Algorithm::HS256, DecodingKey::from_secret(secret.as_bytes()))
        }
    };
    if header.alg != alg {
        return Err(format!("header alg {:?} differs from the key's {alg:?}", header.alg).into());
    }

    // jsonwebtoken checks the signature with exactly `alg`; the claims are ours to check,
    // at our clock (with exp/nbf validation off it never reads its own).
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| jwt_reason(&e, "token"))?.claims;
    claims.into_principal(cfg, now)
}

fn jwt_reason(e: &jsonwebtoken::errors::Error, part: &str) -> Reason {
    // Only the kind: the inner texts may quote parts of the token.
    let what = match e.kind() {
        ErrorKind::InvalidToken => "not three dot-separated parts",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
            "algorithm not allowed"
        }
        ErrorKind::Base64(_) => "bad base64url",
        ErrorKind::Json(_) => "bad JSON, unknown alg or wrong claim types",
        ErrorKind::Utf8(_) => "bad UTF-8",
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
            "configured key unusable"
        }
        _ => "refused by jsonwebtoken",
    };
    format!("{part}: {what}").into()
}

/// A numeric date: seconds since the epoch, integral or not (`1.7e9` is fine).
#[derive(Deserialize)]
#[serde(transparent)]
struct NumericDate(serde_json::Number);

impl NumericDate {
    #[allow(clippy::cast_possible_truncation)] // saturating, and far beyond any real date
    fn secs(&self) -> Option<i64> {
        self.0.as_i64().or_else(|| self.0.as_f64().filter(|f| f.is_finite()).map(|f| f.floor() as i64))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn as_slice(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

/// The claims we read; a claim of the wrong JSON type fails the whole token.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    iss: Option<String>,
    aud: Option<OneOrMany>,
    exp: Option<NumericDate>,
    nbf: Option<NumericDate>,
    roles: Option<OneOrMany>,
    agency: Option<String>,
    phone: Option<String>,
}

impl Claims {
    fn into_principal(self, cfg: &AuthConfig, now: i64) -> Result<Principal, Reason> {
        let exp = self.exp.ok_or("no exp")?.secs().ok_or("exp is not a number")?;
        if now > exp.saturating_add(LEEWAY_SECS) {
            return Err(format!("expired {} s ago", now.saturating_sub(exp)).into());
        }
        if let Some(nbf) = self.nbf {
            let nbf = nbf.secs().ok_or("nbf is not a number")?;
            if nbf > now.saturating_add(LEEWAY_SECS) {
                return Err(format!("not valid for another {} s (nbf)", nbf.saturating_sub(now)).into());
            }
        }
        if self.iss.as_deref() != Some(cfg.issuer.as_str()) {
            return Err("wrong or missing iss".into());
        }
        let aud = self.aud.ok_or("no aud")?;
        if !aud.as_slice().contains(&cfg.audience) {
            return Err("aud does not name this audience".into());
        }
        let subject = self.sub.filter(|s| !s.is_empty()).ok_or("no sub")?;

        let agency = self.agency.filter(|a| !a.trim().is_empty());
        let phone = self.phone.filter(|p| !p.trim().is_empty());
        let mut roles = Vec::new();
        match &self.roles {
            None => roles.push(Role::Citizen),
            Some(names) => {
                for role in names.as_slice().iter().filter_map(|n| Role::parse(n)) {
                    let allowed = role != Role::Officer || agency.is_some();
                    if allowed && !roles.contains(&role) {
                        roles.push(role);
                    }
                }
            }
        }
        Ok(Principal { subject, roles, agency, phone })
    }
}

/// One key of a JWKS, as published; unknown members are ignored.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

/// The signing keys of a JWKS (`use` absent or `sig`); entries that are not JWK objects
/// are skipped.
fn signing_jwks(text: &str) -> Result<Vec<Jwk>, &'static str> {
    let set: JwkSet = serde_json::from_str(text).map_err(|_| "not a JSON object with a keys array")?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
        .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
        .collect())
}

/// The key named `kid` and the algorithm it fixes.
fn jwks_key(text: &str, kid: &str) -> Result<(Algorithm, DecodingKey), Reason> {
    let keys = signing_jwks(text).map_err(|e| format!("configured JWKS: {e}"))?;
    let mut matching = keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
    let jwk = matching.next().ok_or("unknown kid")?;
    if matching.next().is_some() {
        return Err("configured JWKS has several signing keys with this kid".into());
    }
    Ok(decoding_key(jwk).map_err(|e| format!("JWKS key for this kid: {e}"))?)
}

/// The algorithm comes from the key: RS256 for RSA, ES256 for EC P-256; nothing else.
fn decoding_key(jwk: &Jwk) -> Result<(Algorithm, DecodingKey), &'static str> {
    let member = |m: &Option<String>| -> Result<Vec<u8>, &'static str> {
        B64URL.decode(m.as_deref().ok_or("missing key member")?).map_err(|_| "bad base64url in key")
    };
    match jwk.kty.as_str() {
        "RSA" => {
            if jwk.alg.as_deref().is_some_and(|a| a != "RS256") {
                return Err("RSA key for an algorithm other than RS256");
            }
            let n = member(&jwk.n)?;
            let e = member(&jwk.e)?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err("RSA modulus shorter than 2048 bits");
            }
            if e.is_empty() {
                return Err("empty RSA exponent");
            }
            Ok((Algorithm::RS256, DecodingKey::from_rsa_raw_components(&n, &e)))
        }
        "EC" => {
            if jwk.crv.as_deref() != Some("P-256") {
                return Err("EC key on a curve other than P-256");
            }
            if jwk.alg.as_deref().is_some_and(|a| a != "ES256") {
                return Err("EC key for an algorithm other than ES256");
            }
            let (x, y) = (member(&jwk.x)?, member(&jwk.y)?);
            if x.len() != 32 || y.len() != 32 {
                return Err("P-256 coordinates are not 32 bytes");
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok((Algorithm::ES256, DecodingKey::from_ec_der(&point)))
        }
        _ => Err("unsupported kty (only RSA and EC)"),
    }
}

/// For [`AuthConfig::from_platform`]: the JWKS parses, has at least one usable key with a
/// kid, and no kid names two signing keys.
pub(super) fn check_jwks(text: &str) -> Result<(), &'static str> {
    let keys = signing_jwks(text)?;
    let mut kids: Vec<&str> = Vec::new();
    for key in &keys {
        if let Some(kid) = key.kid.as_deref() {
            if kids.contains(&kid) {
                return Err("two signing keys share a kid");
            }
            kids.push(kid);
        }
    }
    let usable = keys.iter().any(|k| k.kid.is_some() && decoding_key(k).is_ok());
    if usable { Ok(()) } else { Err("no RS256 or ES256 key with a kid") }
}
