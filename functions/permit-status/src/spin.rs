//! The Spin entry point: read the body (stopping past [`crate::MAX_BODY`]), build the
//! platform, call [`crate::handle`].

use bytes::Bytes;
use civic::platform::spin::SpinPlatform;
use futures::StreamExt;
use spin_sdk::http::IncomingRequest;

#[spin_sdk::http_component]
async fn entry(req: IncomingRequest) -> anyhow::Result<http::Response<Vec<u8>>> {
    let mut builder = http::Request::builder().method(req.method().to_string().as_str()).uri(req.uri());
    for (name, value) in req.headers().entries() {
        builder = builder.header(name, value);
    }
    if builder.headers_ref().is_some_and(|h| civic::web::declares_more_than(h, crate::MAX_BODY)) {
        return too_large(&builder);
    }
    let mut body = Vec::new();
    let mut stream = req.into_body_stream();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.map_err(|e| anyhow::anyhow!("reading the request body: {e:?}"))?);
        if body.len() > crate::MAX_BODY {
            return too_large(&builder);
        }
    }
    let req = builder.body(Bytes::from(body))?;
    let resp = crate::handle(req, &SpinPlatform::new()).await;
    Ok(resp.map(|b| b.to_vec()))
}

fn too_large(builder: &http::request::Builder) -> anyhow::Result<http::Response<Vec<u8>>> {
    let empty = http::HeaderMap::new();
    let headers = builder.headers_ref().unwrap_or(&empty);
    Ok(civic::web::too_large(headers, crate::MAX_BODY).map(|b| b.to_vec()))
}
