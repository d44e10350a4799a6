//! The Workers entry point: [`civic::platform::workers::serve`] around [`crate::handle`].

use bytes::Bytes;
use http_body_util::Full;
use worker::{Context, Env, HttpRequest, event};

#[event(fetch)]
async fn fetch(req: HttpRequest, env: Env, _ctx: Context) -> worker::Result<http::Response<Full<Bytes>>> {
    civic::platform::workers::serve(req, env, crate::MAX_BODY, async |req, env| crate::handle(req, env).await).await
}
