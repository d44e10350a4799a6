//! The Spin entry point: [`civic::platform::spin::serve`] around [`crate::handle`].

use spin_sdk::http::IncomingRequest;

#[spin_sdk::http_component]
async fn entry(req: IncomingRequest) -> http::Response<Vec<u8>> {
    civic::platform::spin::serve(req, crate::MAX_BODY, async |req, env| crate::handle(req, env).await).await
}
