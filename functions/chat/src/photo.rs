//! A citizen's photo from Zalo or Telegram, stored with report-submission's media store
//! (`POST /reports/media` as an internal caller: `X-Signature`, an HMAC-SHA256 of the bytes
//! with `internal_secret`, and `X-Channel-User: <channel>:<user>`, so that its upload limit
//! counts per citizen). Only our own media URL is kept: a Telegram file URL holds the bot's
//! token and is never stored, shown or logged.

use bytes::Bytes;
use civic::{Error, Platform};
use http::Request;
use serde::Deserialize;

use crate::store::Sender;

/// The most bytes of a photo fetched from a platform (report-submission refuses more than
/// its own, smaller, limit with a 413).
pub const MAX_BYTES: usize = 12 * 1024 * 1024;

/// Where a photo is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoRef {
    /// Zalo: `message.attachments[].payload.url`, on Zalo's CDN.
    Url(String),
    /// Telegram: the `file_id` of the largest `PhotoSize`.
    TelegramFile(String),
}

#[derive(Deserialize)]
struct Stored {
    url: String,
}

/// Fetches the photo and stores it; returns its URL on our media route.
pub async fn store(env: &impl Platform, from: Sender<'_>, photo: &PhotoRef) -> Result<String, Error> {
    let (bytes, content_type) = match photo {
        PhotoRef::Url(url) => download(env, url).await.map_err(Error::Upstream)?,
        PhotoRef::TelegramFile(id) => {
            let token = env.config("telegram_bot_token").ok_or(Error::Config("telegram_bot_token"))?;
            let url = crate::telegram::file_url(env, &token, id).await?;
            download(env, &url).await.map_err(|e| Error::Upstream(e.replace(&token, "<token>")))?
        }
    };
    let secret = env.config("internal_secret").ok_or(Error::Config("internal_secret"))?;
    let request = Request::post(civic::command::internal_url("report-submission", "/reports/media"))
        .header(http::header::CONTENT_TYPE, content_type)
        .header(civic::command::SIGNATURE, civic::command::sign(&secret, &bytes))
        .header("x-channel-user", format!("{}:{}", from.channel.as_str(), from.user))
        .body(bytes)
        .map_err(|e| Error::Internal(format!("media request: {e}")))?;
    let resp = env.fetch(request).await.map_err(|e| Error::Upstream(format!("report-submission media: {e}")))?;
    if !resp.status().is_success() {
        let body = String::from_utf8_lossy(resp.body());
        return Err(Error::Upstream(format!("report-submission media answered {}: {body}", resp.status())));
    }
    let stored: Stored = serde_json::from_slice(resp.body())
        .map_err(|e| Error::Upstream(format!("report-submission media: bad answer: {e}")))?;
    Ok(stored.url)
}

/// GETs a photo: its bytes and the type it was served with (`application/octet-stream` when
/// none; the media route tells the type by the bytes anyway). The error text may hold the
/// URL: callers scrub secrets from it.
async fn download(env: &impl Platform, url: &str) -> Result<(Bytes, String), String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err("a photo URL that is not http(s)".into());
    }
    let request = Request::get(url).body(Bytes::new()).map_err(|e| format!("photo URL: {e}"))?;
    let resp = env.fetch(request).await.map_err(|e| format!("fetching a photo: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("fetching a photo: status {}", resp.status()));
    }
    if resp.body().len() > MAX_BYTES {
        return Err(format!("a photo of {} bytes, over {MAX_BYTES}", resp.body().len()));
    }
    let content_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    Ok((resp.into_body(), content_type))
}
