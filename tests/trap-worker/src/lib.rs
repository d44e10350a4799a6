//! A Worker for the fault tests, built like the functions' Workers builds (worker-build,
//! `civic::platform::workers::serve`): `/trap` panics, which in Wasm is a trap
//! (`panic = "abort"`); `/hello` answers, with how many requests this Wasm instance has
//! served, so a test sees that the trap cost only its own request. Never deployed; on any
//! target but `wasm32-unknown-unknown` this crate is empty.

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod worker_entry {
    use std::sync::atomic::{AtomicU64, Ordering};

    use bytes::Bytes;
    use http::{Response, StatusCode};
    use http_body_util::Full;
    use worker::{Context, Env, HttpRequest, event};

    static SERVED: AtomicU64 = AtomicU64::new(0);

    #[event(fetch)]
    async fn fetch(req: HttpRequest, env: Env, _ctx: Context) -> worker::Result<Response<Full<Bytes>>> {
        civic::platform::workers::serve(req, env, 1024, async |req, _env| {
            let served = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
            match req.uri().path() {
                "/trap" => panic!("trap requested by the test"),
                "/hello" => {
                    let mut resp = Response::new(Bytes::from(format!("hello {served}")));
                    *resp.status_mut() = StatusCode::OK;
                    resp
                }
                _ => civic::Error::NotFound.into_response(civic::Lang::En),
            }
        })
        .await
    }
}
