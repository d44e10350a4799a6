//! Helpers for the functions' own native tests.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, Response, StatusCode};

use crate::platform::native::NativePlatform;

/// Checks a function's router against the API description: every operation documented
/// under `base` must be routed (neither 405, nor 404 on a path without parameters). Path
/// parameters are replaced by the sample values of `params` (`("{id}", "DN-000123")`).
/// Returns how many operations were checked, or the first one that is not routed.
pub fn check_documented_routes(
    doc: &serde_json::Value,
    base: &str,
    params: &[(&str, &str)],
    call: impl Fn(Request<Bytes>) -> Response<Bytes>,
) -> Result<usize, String> {
    let paths = doc["paths"].as_object().ok_or("the description has no paths")?;
    let mut checked = 0;
    for (path, ops) in paths.iter().filter(|(p, _)| p.starts_with(base)) {
        let concrete = params.iter().fold(path.clone(), |p, (name, value)| p.replace(name, value));
        let methods = ops.as_object().ok_or(format!("{path}: no operations"))?.keys();
        for method in methods.filter(|k| *k != "parameters") {
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .body(Bytes::new())
                .map_err(|e| format!("{method} {concrete}: {e}"))?;
            let status = call(req).status();
            if status == StatusCode::METHOD_NOT_ALLOWED || (status == StatusCode::NOT_FOUND && !path.contains('{')) {
                return Err(format!("{method} {path} is documented but answers {status}"));
            }
            checked += 1;
        }
    }
    Ok(checked)
}

/// A platform whose reads all fail (`query` answers a [`DbError`](crate::platform::DbError))
/// while writes go through to the wrapped one: a check that reads after writing fails midway.
pub struct ReadsFail(pub NativePlatform);

impl crate::platform::Platform for ReadsFail {
    async fn query(
        &self,
        _: &str,
        _: &str,
        _: &[crate::platform::Value],
    ) -> Result<crate::platform::Rows, crate::platform::DbError> {
        Err(crate::platform::DbError("reads fail here".into()))
    }
    async fn execute(
        &self,
        db: &str,
        sql: &str,
        params: &[crate::platform::Value],
    ) -> Result<u64, crate::platform::DbError> {
        self.0.execute(db, sql, params).await
    }
    async fn batch(
        &self,
        db: &str,
        statements: &[crate::platform::Statement],
    ) -> Result<Vec<crate::platform::Rows>, crate::platform::DbError> {
        self.0.batch(db, statements).await
    }
    fn config(&self, key: &str) -> Option<String> {
        self.0.config(key)
    }
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
    fn random_bytes(&self, buf: &mut [u8]) {
        self.0.random_bytes(buf);
    }
    async fn fetch(&self, request: Request<Bytes>) -> Result<Response<Bytes>, crate::platform::FetchError> {
        self.0.fetch(request).await
    }
}

/// A stand-in HTTP/1.1 server (tiny_http) on 127.0.0.1 for a partner that cannot run here:
/// each request is answered `200` with `content-type: application/json` and the JSON that
/// `answer(path, body)` returns (`path` with its query). Returns the `host:port` it listens
/// on; it serves, a thread per request, until the process ends.
pub fn serve_json(
    answer: impl Fn(&str, &[u8]) -> serde_json::Value + Send + Sync + 'static,
) -> std::io::Result<String> {
    let server = tiny_http::Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
    let addr = server.server_addr().to_ip().ok_or_else(|| std::io::Error::other("not an IP listener"))?.to_string();
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let answer = answer.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut body = Vec::new();
                std::io::Read::read_to_end(request.as_reader(), &mut body)?;
                let text = answer(request.url(), &body).to_string();
                let json = tiny_http::Header::from_bytes("content-type", "application/json")
                    .map_err(|()| std::io::Error::other("header"))?;
                request.respond(tiny_http::Response::from_string(text).with_header(json))
            });
        }
    });
    Ok(addr)
}

/// An `Authorization` value for the functions' native route tests: an HS256 token signed
/// with `secret`, issuer `iss`, audience `aud`, subject `citizen-1`, valid an hour from `now`
/// (unix seconds); the members of `extra` (roles, agency, phone, a different sub or exp...)
/// replace or add to those.
pub fn bearer(secret: &str, now: i64, extra: &serde_json::Value) -> String {
    let mut claims = serde_json::json!({"iss": "iss", "aud": "aud", "sub": "citizen-1", "exp": now + 3600});
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap_or_default();
    format!("Bearer {token}")
}
