//! A plain spin-sdk hello component, as `spin new -t http-rust` makes it: every request is
//! answered `200 text/plain` `hello`, without reading the request, a variable or a database.
//! It measures what a request costs the runtime itself (instantiating a small component,
//! the WASI and `wasi:http` calls of one response), the floor the functions' trivial routes
//! are compared with (`cargo xtask bench`, xtask's `floor`).
//!
//! Built for `wasm32-wasip2` (`cargo build --release --target wasm32-wasip2 -p
//! civic-host-hello`); served by `host/hello/spin.toml` on `/hello`. Natively it is empty.

/// The component's handler (`wasi:http/incoming-handler`), on Spin-compatible runtimes only.
#[cfg(target_os = "wasi")]
#[allow(unsafe_code)] // the SDK macro generates the Wasm exports, `unsafe` by nature
mod component {
    use spin_sdk::http::{IntoResponse, Request, Response};
    use spin_sdk::http_component;

    /// Answers `200 hello` to any request.
    #[http_component]
    fn hello(_req: Request) -> anyhow::Result<impl IntoResponse> {
        Ok(Response::builder().status(200).header("content-type", "text/plain").body("hello").build())
    }
}
