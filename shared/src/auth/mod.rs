//! Who is calling: bearer JWT verification for the mobile apps, and the HMAC helpers the
//! webhook verifiers build on.
//!
//! # Bearer tokens
//!
//! [`authenticate`] reads the settings with [`AuthConfig::from_platform`], takes the token
//! from `Authorization: Bearer <token>` ([`bearer`]) and [`verify`]s it at the platform's
//! clock ([`Platform::now`]). [`require_role`] adds the role check (401 when not
//! authenticated, 403 when authenticated without the role).
//!
//! | Setting | |
//! |---|---|
//! | `jwt_issuer` | required; the token's `iss` must equal it |
//! | `jwt_audience` | required; the token's `aud` (a string or an array) must contain it |
//! | `jwt_hs256_secret` | HS256 shared secret, at least 32 bytes; used for tokens **without** `kid` |
//! | `jwt_jwks` | JWKS JSON text; RSA (RS256) and EC P-256 (ES256) keys, chosen by the token's `kid` |
//!
//! At least one of the last two must be set.
//!
//! The **key decides the algorithm**, never the token: a token with a `kid` is checked against
//! that JWKS key only (RS256 for `kty: RSA`, ES256 for `kty: EC` / `crv: P-256`), a token
//! without `kid` against the HS256 secret only, and a token whose header `alg` is anything
//! else is refused. So `alg: none`, and HS256 tokens "signed" with a public key, never pass.
//! Symmetric (`oct`) keys in the JWKS are not used.
//!
//! Claims: `exp` (required), `nbf` (optional), `iss`, `aud` and `sub` (required) are checked
//! with 60 s leeway against the time passed in, never against a clock read by `jsonwebtoken`
//! (its own `exp`/`nbf` checks are switched off: on Workers it would read `js_sys::Date`).
//! Roles come from `roles` (an array of strings, or one string): `citizen`, `officer`,
//! `admin`, `system`, matched exactly; unknown names are ignored; without a `roles` claim
//! the caller is a [`Role::Citizen`]. `officer` counts only together with a non-empty
//! `agency` claim. There is no role hierarchy: `admin` does not imply `officer`.
//!
//! Every rejection is [`Error::Unauthorized`] (401) and logs its reason, never the token or
//! a secret.
//!
//! ```
//! use civic::auth::{self, AuthConfig, Role};
//! use jsonwebtoken::{EncodingKey, Header};
//!
//! let cfg = AuthConfig {
//!     issuer: "https://id.danang.gov.vn".into(),
//!     audience: "civic".into(),
//!     hs256_secret: Some("a-shared-secret-of-32-bytes-or-more".into()),
//!     jwks: None,
//! };
//! let claims = serde_json::json!({
//!     "sub": "cccd:048090001234", "iss": "https://id.danang.gov.vn", "aud": "civic",
//!     "exp": 1_900_000_600, "roles": ["officer"], "agency": "so-y-te",
//! });
//! let key = EncodingKey::from_secret(b"a-shared-secret-of-32-bytes-or-more");
//! let token = jsonwebtoken::encode(&Header::default(), &claims, &key).unwrap();
//!
//! let who = auth::verify(&cfg, &token, 1_900_000_000).unwrap();
//! assert_eq!(who.subject, "cccd:048090001234");
//! assert!(who.has(Role::Officer));
//! assert_eq!(who.agency.as_deref(), Some("so-y-te"));
//! assert!(who.require(Role::Admin).is_err()); // 403
//!
//! // Ten minutes and one second later (beyond exp + 60 s leeway): 401.
//! assert!(auth::verify(&cfg, &token, 1_900_000_661).is_err());
//! ```
//!
//! # Webhook signatures
//!
//! [`hmac_sha256_hex`], [`hmac_sha512_hex`], [`verify_hmac_sha256_hex`],
//! [`verify_hmac_sha512_hex`] and [`constant_time_eq`] (via `subtle`) are the building blocks
//! of the partner verifiers (VNPay, MoMo, ZaloPay, Zalo OA, Telegram, SMS).

use std::fmt;

use http::HeaderMap;

use crate::error::Error;
use crate::platform::Platform;

mod jwt;
mod mac;
#[cfg(test)]
mod tests;

pub use jwt::verify;
pub use mac::{constant_time_eq, hmac_sha256_hex, hmac_sha512_hex, verify_hmac_sha256_hex, verify_hmac_sha512_hex};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Any signed-in citizen (the default when a token has no `roles` claim).
    Citizen,
    /// Staff of the agency named in the `agency` claim.
    Officer,
    Admin,
    /// The one-stop-shop system that pushes dossier updates.
    System,
}

impl Role {
    /// The claim value: `citizen`, `officer`, `admin` or `system`.
    fn parse(name: &str) -> Option<Role> {
        match name {
            "citizen" => Some(Role::Citizen),
            "officer" => Some(Role::Officer),
            "admin" => Some(Role::Admin),
            "system" => Some(Role::System),
            _ => None,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    /// Distinct roles, in claim order; `Officer` only when `agency` is set.
    pub roles: Vec<Role>,
    /// The `agency` claim, when present and not empty.
    pub agency: Option<String>,
    /// The `phone` claim, when present and not empty.
    pub phone: Option<String>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// `Err(Error::Forbidden)` (403) unless the caller has `role`.
    pub fn require(&self, role: Role) -> Result<(), Error> {
        if self.has(role) { Ok(()) } else { Err(Error::Forbidden) }
    }
}

/// The bearer-token settings. `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    /// HS256 shared secret (raw bytes of the string), for tokens without `kid`.
    pub hs256_secret: Option<String>,
    /// JWKS JSON text (`{"keys": [...]}`), for tokens with `kid`.
    pub jwks: Option<String>,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("hs256_secret", &self.hs256_secret.as_ref().map(|_| "[redacted]"))
            .field("jwks", &self.jwks.as_ref().map(|j| format!("[{} bytes]", j.len())))
            .finish()
    }
}

impl AuthConfig {
    /// Reads `jwt_issuer`, `jwt_audience`, `jwt_hs256_secret` and `jwt_jwks`.
    ///
    /// `Error::Config` (500, logged) when the issuer or the audience is unset, when neither a
    /// secret nor a JWKS is set, when the secret is shorter than 32 bytes (RFC 7518 §3.2),
    /// or when the JWKS is not JSON with at least one usable RS256/ES256 key.
    pub fn from_platform(p: &impl Platform) -> Result<AuthConfig, Error> {
        let setting = |key: &str| p.config(key).filter(|v| !v.trim().is_empty());
        let issuer = setting("jwt_issuer").ok_or(Error::Config("jwt_issuer"))?;
        let audience = setting("jwt_audience").ok_or(Error::Config("jwt_audience"))?;
        let hs256_secret = setting("jwt_hs256_secret");
        let jwks = setting("jwt_jwks");
        if hs256_secret.is_none() && jwks.is_none() {
            return Err(Error::Config("jwt_hs256_secret or jwt_jwks"));
        }
        if hs256_secret.as_ref().is_some_and(|s| s.len() < jwt::MIN_HS256_SECRET_LEN) {
            return Err(Error::Config("jwt_hs256_secret (shorter than 32 bytes)"));
        }
        if let Some(text) = &jwks
            && let Err(reason) = jwt::check_jwks(text)
        {
            crate::log::error(&format!("auth: jwt_jwks unusable: {reason}"));
            return Err(Error::Config("jwt_jwks (no usable RS256/ES256 key)"));
        }
        Ok(AuthConfig { issuer: issuer.trim().to_owned(), audience: audience.trim().to_owned(), hs256_secret, jwks })
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive). `None` when the
/// header is missing, repeated, not visible ASCII, of another scheme, or without a token.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.to_str().ok()?.trim().split_once(|c: char| c.is_ascii_whitespace())?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    Some(token)
}

/// A stable pseudonym of a person's identifier (`phone:84905…`, `chat:zalo:…`, `sub:…`):
/// lowercase hex HMAC-SHA256 keyed with the first of `internal_secret`, `sms_webhook_secret`,
/// `jwt_hs256_secret` that is set, so that a table keyed by it (rate limits, a sender's last
/// list) holds no number a reader could look up, and the same person maps to the same key.
pub fn pseudonym(p: &impl Platform, who: &str) -> String {
    let key = ["internal_secret", "sms_webhook_secret", "jwt_hs256_secret"]
        .into_iter()
        .find_map(|k| p.config(k).filter(|v| !v.is_empty()))
        .unwrap_or_default();
    hmac_sha256_hex(key.as_bytes(), who.as_bytes())
}

/// The caller of this request: settings from `p`, the bearer token from `headers`, checked
/// at `p.now()`. `Error::Unauthorized` when there is no valid token; `Error::Config` when
/// the settings are incomplete.
pub fn authenticate(p: &impl Platform, headers: &HeaderMap) -> Result<Principal, Error> {
    let cfg = AuthConfig::from_platform(p)?;
    let token = bearer(headers).ok_or(Error::Unauthorized)?;
    verify(&cfg, token, p.now().timestamp())
}

/// For routes that also serve anonymous callers: `None` when the request has no
/// `Authorization` header, else [`authenticate`]. A header that is there but malformed
/// (`Bearer` alone, another scheme, two tokens, two headers) is `Error::Unauthorized` like a
/// bad token, never quietly anonymous.
pub fn authenticate_if_present(p: &impl Platform, headers: &HeaderMap) -> Result<Option<Principal>, Error> {
    if headers.contains_key(http::header::AUTHORIZATION) { authenticate(p, headers).map(Some) } else { Ok(None) }
}

/// [`authenticate`], then `Error::Forbidden` unless the caller has `role`.
pub fn require_role(p: &impl Platform, headers: &HeaderMap, role: Role) -> Result<Principal, Error> {
    let principal = authenticate(p, headers)?;
    principal.require(role)?;
    Ok(principal)
}
