//! Outbound webhooks signed the Standard Webhooks way (standardwebhooks.com, "Signature
//! scheme"), so that partner systems verify them with any Standard Webhooks library.
//!
//! A delivery carries three headers: `webhook-id` (the event's stable id, the same on every
//! retry, for the receiver to deduplicate), `webhook-timestamp` (Unix seconds of this
//! attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//! keyed with the endpoint's secret, `whsec_<base64 of the key>`. Signing is the
//! `standardwebhooks` crate's; its verification is not used here, since it reads the wall
//! clock (which panics on Workers).

use base64::Engine as _;

use crate::error::{Error, Msg};
use crate::platform::Platform;

/// The header of the event's id.
pub const ID: &str = "webhook-id";
/// The header of the attempt's time, Unix seconds.
pub const TIMESTAMP: &str = "webhook-timestamp";
/// The header of the signature, `v1,<base64>`.
pub const SIGNATURE: &str = "webhook-signature";

/// The prefix of a secret's text.
pub const SECRET_PREFIX: &str = "whsec_";

/// How many random bytes a new secret has (Standard Webhooks asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// An endpoint's signing secret, `whsec_<base64>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(whsec_…)")
    }
}

impl Secret {
    /// A new secret from the runtime's secure random source.
    pub fn generate(env: &impl Platform) -> Secret {
        let mut key = [0u8; SECRET_BYTES];
        env.random_bytes(&mut key);
        Secret(format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(key)))
    }

    /// A stored secret; a 400 unless it is `whsec_` and base64 of 24 to 64 bytes.
    pub fn parse(text: &str) -> Result<Secret, Error> {
        let key = text
            .strip_prefix(SECRET_PREFIX)
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .filter(|key| (24..=64).contains(&key.len()));
        match key {
            Some(_) => Ok(Secret(text.to_owned())),
            None => Err(Error::BadRequest(Msg::new(
                "Khóa bí mật phải có dạng whsec_<base64 của 24-64 byte>",
                "a secret must be whsec_<base64 of 24 to 64 bytes>",
            ))),
        }
    }

    /// `whsec_<base64>`: what the registration answers once, and what is stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `webhook-signature` of `body` (UTF-8 JSON) sent as event `id` at `timestamp` (Unix
/// seconds). [`Error::Internal`] for a body that is not UTF-8 (ours are JSON).
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> Result<String, Error> {
    let webhook =
        standardwebhooks::Webhook::new(secret.as_str()).map_err(|e| Error::Internal(format!("webhook secret: {e}")))?;
    webhook.sign(id, timestamp, body).map_err(|e| Error::Internal(format!("signing a webhook: {e}")))
}

/// The three headers of one delivery attempt, in [`ID`], [`TIMESTAMP`], [`SIGNATURE`] order.
pub fn headers(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> Result<[(&'static str, String); 3], Error> {
    let signature = sign(secret, id, timestamp, body)?;
    Ok([(ID, id.to_owned()), (TIMESTAMP, timestamp.to_string()), (SIGNATURE, signature)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::native::NativePlatform;

    #[test]
    fn the_published_example_signs_as_published() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../testdata/standard-webhooks.json")).expect("test data");
        let secret = Secret::parse(v["secret"].as_str().unwrap_or_default()).expect("its secret parses");
        let (id, body) = (v["id"].as_str().unwrap_or_default(), v["body"].as_str().unwrap_or_default());
        let timestamp = v["timestamp"].as_i64().unwrap_or_default();
        assert_eq!(sign(&secret, id, timestamp, body.as_bytes()).unwrap(), v["signature"].as_str().unwrap());
        let [(_, got_id), (_, got_ts), (_, got_sig)] = headers(&secret, id, timestamp, body.as_bytes()).unwrap();
        assert_eq!(
            (got_id.as_str(), got_ts.as_str(), Some(got_sig.as_str())),
            (id, "1614265330", v["signature"].as_str())
        );
    }

    #[test]
    fn secrets_are_generated_parsed_and_never_printed() {
        let p = NativePlatform::in_memory(&[]);
        let (a, b) = (Secret::generate(&p), Secret::generate(&p));
        assert_ne!(a, b);
        assert_eq!(Secret::parse(a.as_str()).unwrap(), a);
        assert_eq!(format!("{a:?}"), "Secret(whsec_…)");
        for bad in ["", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_c2hvcnQ="] {
            assert!(Secret::parse(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(sign(&a, "msg_1", 1, b"\xff"), Err(Error::Internal(_))));
    }
}
