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
    let too_large = |headers: Option<&http::HeaderMap>| {
        let lang = headers.map(civic::Lang::from_headers).unwrap_or_default();
        civic::Error::PayloadTooLarge(crate::MAX_BODY).into_response(lang).map(|b| b.to_vec())
    };
    if builder.headers_ref().is_some_and(|h| civic::web::declares_more_than(h, crate::MAX_BODY)) {
        return Ok(too_large(builder.headers_ref()));
    }
    let mut body = Vec::new();
    let mut stream = req.into_body_stream();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.map_err(|e| anyhow::anyhow!("reading the request body: {e:?}"))?);
        if body.len() > crate::MAX_BODY {
            return Ok(too_large(builder.headers_ref()));
        }
    }
    let req = builder.body(Bytes::from(body))?;
    let resp = crate::handle(req, &SpinPlatform::new()).await;
    Ok(resp.map(|b| b.to_vec()))
}
