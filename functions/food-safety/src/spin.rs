//! The Spin entry point: convert, build the platform, call [`crate::handle`].

use bytes::Bytes;
use civic::platform::spin::SpinPlatform;

#[spin_sdk::http_component]
async fn entry(req: http::Request<Vec<u8>>) -> anyhow::Result<http::Response<Vec<u8>>> {
    let resp = crate::handle(req.map(Bytes::from), &SpinPlatform::new()).await;
    Ok(resp.map(|b| b.to_vec()))
}
