//! The Workers entry point: convert, build the platform, call [`crate::handle`].

use bytes::Bytes;
use civic::platform::workers::WorkersPlatform;
use http_body_util::{BodyExt, Full, Limited};
use worker::{Context, Env, HttpRequest, event};

#[event(fetch)]
async fn fetch(req: HttpRequest, env: Env, _ctx: Context) -> worker::Result<http::Response<Full<Bytes>>> {
    let (parts, body) = req.into_parts();
    if civic::web::declares_more_than(&parts.headers, crate::MAX_BODY) {
        return Ok(civic::web::too_large(&parts.headers, crate::MAX_BODY).map(Full::new));
    }
    let body = match Limited::new(body, crate::MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Ok(civic::web::too_large(&parts.headers, crate::MAX_BODY).map(Full::new));
        }
        Err(e) => return Err(worker::Error::RustError(format!("reading the request body: {e}"))),
    };
    let resp = crate::handle(http::Request::from_parts(parts, body), &WorkersPlatform::new(env)).await;
    Ok(resp.map(Full::new))
}
