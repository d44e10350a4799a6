//! The Zalo OA access token, and its refresh.
//!
//! `POST {zalo_oauth_base}/v4/oa/access_token` with header `secret_key: <zalo_app_secret_key>`
//! and form `app_id`, `grant_type=refresh_token`, `refresh_token` answers
//! `{"access_token", "refresh_token", "expires_in"}` (seconds, a string or a number), or an
//! object with a non-zero `error` (Zalo OA API v4, "Lấy access token từ refresh token").
//!
//! Zalo's refresh tokens are single use and each refresh returns a new pair, so the pair is
//! stored in one row (`zalo_tokens`) with a version: a refresh stores its pair only over the
//! version it started from (one conditional statement), so a slower refresh never replaces
//! a newer pair; a refresh that Zalo refuses (its token was used by a concurrent refresh)
//! takes the pair the other one stored, waiting up to [`BACKOFF_MS`] for it. The first
//! refresh token comes from the setting
//! `zalo_refresh_token`; later ones live only in the database.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use civic::web::stamp;
use civic::{Error, Platform};
use http::Request;
use serde::Deserialize;

use crate::store::DB;

/// A token is refreshed this long before it expires.
pub const MARGIN_SECONDS: i64 = 60;

/// How long a refresh that Zalo refused waits, between reads, for the pair a concurrent
/// refresh is storing (milliseconds; 775 in all, within the two seconds Zalo gives a webhook).
pub const BACKOFF_MS: [u64; 5] = [25, 50, 100, 200, 400];

/// The stored pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub version: i64,
}

/// The stored pair, if any.
pub async fn stored(env: &impl Platform) -> Result<Option<Pair>, Error> {
    let rows = env
        .query(DB, "SELECT access_token, refresh_token, expires_at, version FROM zalo_tokens WHERE id = 1", &[])
        .await?;
    let Some(r) = rows.first() else { return Ok(None) };
    Ok(Some(Pair {
        access_token: r.str("access_token")?.to_owned(),
        refresh_token: r.str("refresh_token")?.to_owned(),
        expires_at: civic::web::parse_stamp(r.str("expires_at")?).unwrap_or_default(),
        version: r.i64("version")?,
    }))
}

/// An access token good for at least [`MARGIN_SECONDS`]: the stored one, or a fresh one.
pub async fn access(env: &impl Platform) -> Result<String, Error> {
    let pair = stored(env).await?;
    match pair {
        Some(p) if p.expires_at - Duration::seconds(MARGIN_SECONDS) > env.now() => Ok(p.access_token),
        other => refresh(env, other.as_ref()).await,
    }
}

/// Zalo's answer to a refresh.
#[derive(Deserialize)]
struct Refreshed {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_name: Option<String>,
}

/// Refreshes the pair `seen` (or, with none stored, the setting `zalo_refresh_token`) and
/// returns an access token to use now: the new one, or the one a concurrent refresh stored.
pub async fn refresh(env: &impl Platform, seen: Option<&Pair>) -> Result<String, Error> {
    let refresh_token = match seen {
        Some(p) => p.refresh_token.clone(),
        None => env.config("zalo_refresh_token").ok_or(Error::Config("zalo_refresh_token"))?,
    };
    match call_refresh(env, &refresh_token).await? {
        Ok((access, refresh, expires_in)) => {
            let expires_at = stamp(env.now() + Duration::seconds(expires_in));
            let params = [access.as_str().into(), refresh.into(), expires_at.into()];
            match seen {
                Some(p) => {
                    let mut params = params.to_vec();
                    params.push(p.version.into());
                    env.execute(
                        DB,
                        "UPDATE zalo_tokens SET access_token = ?1, refresh_token = ?2, expires_at = ?3,
                           version = version + 1 WHERE id = 1 AND version = ?4",
                        &params,
                    )
                    .await?;
                }
                None => {
                    env.execute(
                        DB,
                        "INSERT INTO zalo_tokens (id, access_token, refresh_token, expires_at, version)
                         VALUES (1, ?1, ?2, ?3, 1) ON CONFLICT (id) DO NOTHING",
                        &params,
                    )
                    .await?;
                }
            }
            // Whether or not it was stored (a newer pair may be there), this token is valid.
            Ok(access)
        }
        Err(refused) => {
            // A concurrent refresh may have used that refresh token: Zalo answered it first,
            // and it is storing the next pair now. Wait for that pair a little ([`BACKOFF_MS`]).
            for ms in BACKOFF_MS {
                if let Some(now) = stored(env).await?
                    && seen.is_none_or(|s| now.version > s.version)
                {
                    return Ok(now.access_token);
                }
                env.sleep(std::time::Duration::from_millis(ms)).await;
            }
            match stored(env).await? {
                Some(now) if seen.is_none_or(|s| now.version > s.version) => Ok(now.access_token),
                _ => Err(refused),
            }
        }
    }
}

/// One refresh call: `Ok(Ok(..))` the new access token, refresh token and lifetime in
/// seconds; `Ok(Err(..))` Zalo's refusal (the token was used, or is unknown); `Err` when
/// Zalo could not be asked or gave no answer one can read.
async fn call_refresh(env: &impl Platform, refresh_token: &str) -> Result<Result<(String, String, i64), Error>, Error> {
    let app_id = env.config("zalo_app_id").ok_or(Error::Config("zalo_app_id"))?;
    let secret = env.config("zalo_app_secret_key").ok_or(Error::Config("zalo_app_secret_key"))?;
    let base = env.config("zalo_oauth_base").unwrap_or_else(|| "https://oauth.zaloapp.com".to_owned());
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("app_id", &app_id)
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", refresh_token)
        .finish();
    let request = Request::post(format!("{}/v4/oa/access_token", base.trim_end_matches('/')))
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("secret_key", secret)
        .body(Bytes::from(form))
        .map_err(|e| Error::Internal(format!("refresh request: {e}")))?;
    let resp = env.fetch(request).await.map_err(|e| Error::Upstream(format!("Zalo OAuth: {e}")))?;
    let answer: Refreshed = serde_json::from_slice(resp.body())
        .map_err(|e| Error::Upstream(format!("Zalo OAuth answered {} with no JSON: {e}", resp.status())))?;
    let failed = answer.error.as_ref().is_some_and(|e| e.as_i64() != Some(0));
    match (answer.access_token, answer.refresh_token) {
        (Some(access), Some(refresh)) if !failed && !access.is_empty() && !refresh.is_empty() => {
            let expires_in = match &answer.expires_in {
                Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
                Some(v) => v.as_i64(),
                None => None,
            }
            .filter(|s| *s > 0)
            .unwrap_or(3_600);
            Ok(Ok((access, refresh, expires_in)))
        }
        _ => Ok(Err(Error::Upstream(format!(
            "Zalo OAuth refused the refresh ({} {:?}: {})",
            resp.status(),
            answer.error,
            answer.error_description.or(answer.error_name).unwrap_or_default()
        )))),
    }
}
