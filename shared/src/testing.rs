//! Helpers for the functions' own native tests: the route tests' platform, tokens and calls
//! ([`route_env`], [`route_env_at`], [`t`], [`token`], [`call`]), the OpenAPI route check
//! both ways ([`check_openapi`]), a platform whose reads fail ([`ReadsFail`]) and a stand-in
//! partner server ([`serve_json`]) and a recording receiver ([`Receiver`]).

use std::future::Future;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, Response, StatusCode};

use crate::platform::native::{NativePlatform, block_on};

/// The HS256 secret of [`route_env`]'s platforms, which [`token`] signs with.
pub const SECRET: &str = "routes-test-hs256-secret-0123456789";

/// A platform for a function's native route tests: in-memory databases `labels` with the
/// repository's migrations (`migrations/<label>/`) applied, and the JWT settings [`token`]
/// signs for (issuer `iss`, audience `aud`, HS256 [`SECRET`]); its clock is the real one.
///
/// # Panics
/// If a migration fails (a test's own mistake).
pub fn route_env(labels: &[&str]) -> NativePlatform {
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    NativePlatform::in_memory_migrated(labels, &migrations)
        .unwrap_or_else(|e| panic!("migrating {labels:?}: {e}"))
        .with_config("jwt_issuer", "iss")
        .with_config("jwt_audience", "aud")
        .with_config("jwt_hs256_secret", SECRET)
}

/// [`route_env`] with the clock frozen at `now` (RFC 3339, e.g. `2024-11-05T09:00:00+07:00`).
///
/// # Panics
/// If a migration fails or `now` is not RFC 3339 (a test's own mistake).
pub fn route_env_at(labels: &[&str], now: &str) -> NativePlatform {
    let env = route_env(labels);
    env.set_now(t(now));
    env
}

/// An instant from RFC 3339 text (`2024-11-05T09:00:00+07:00`).
///
/// # Panics
/// If the text is not RFC 3339 (a test's own mistake).
pub fn t(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap_or_else(|e| panic!("{rfc3339:?}: {e}")).with_timezone(&Utc)
}

/// An `Authorization` value for a [`route_env`] platform: [`bearer`] signed with [`SECRET`],
/// valid an hour from the platform's clock, with the claims of `extra`.
pub fn token(env: &NativePlatform, extra: &serde_json::Value) -> String {
    bearer(SECRET, crate::platform::Platform::now(env).timestamp(), extra)
}

/// Sends `method path` with `headers` and `body` (none when empty) through a function's
/// `handle` (e.g. `|r| permit_status::handle(r, &env)`), natively; returns the status and
/// the JSON body (`Null` when the body is not JSON).
///
/// # Panics
/// If the method, path or a header is not valid HTTP (a test's own mistake).
pub fn call<F: Future<Output = Response<Bytes>>>(
    handle: impl FnOnce(Request<Bytes>) -> F,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(body.into()).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let resp = block_on(handle(req));
    (resp.status(), serde_json::from_slice(resp.body()).unwrap_or(serde_json::Value::Null))
}

/// A documented path under `base`: its text, its concrete form (parameters replaced by the
/// sample values of `params`, e.g. `("{id}", "DN-000123")`) and its documented methods, upper
/// case and sorted.
struct DocumentedPath {
    path: String,
    concrete: String,
    methods: Vec<String>,
}

fn documented_paths(
    doc: &serde_json::Value,
    base: &str,
    params: &[(&str, &str)],
) -> Result<Vec<DocumentedPath>, String> {
    let paths = doc["paths"].as_object().ok_or("the description has no paths")?;
    let mut out = Vec::new();
    for (path, ops) in paths.iter().filter(|(p, _)| p.starts_with(base)) {
        let ops = ops.as_object().ok_or(format!("{path}: no operations"))?;
        let mut methods: Vec<String> =
            ops.keys().filter(|k| *k != "parameters").map(|k| k.to_ascii_uppercase()).collect();
        methods.sort();
        let concrete = params.iter().fold(path.clone(), |p, (name, value)| p.replace(name, value));
        out.push(DocumentedPath { path: path.clone(), concrete, methods });
    }
    Ok(out)
}

/// The methods a route table may answer.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Sends each of the methods (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`) to every path documented under `base` (parameters replaced by
/// the sample values of `params`, e.g. `("{id}", "DN-000123")`) through `call`:
///
/// - a documented method must be routed: neither 405, nor 404 on a path without parameters;
/// - any other method must be refused: 405 with an `Allow` header naming exactly the
///   documented ones (RFC 9110 §15.5.6), or 404, so that no operation is served undocumented.
///
/// Returns how many (documented, refused) pairs were checked, or the first that fails.
pub fn check_methods(
    doc: &serde_json::Value,
    base: &str,
    params: &[(&str, &str)],
    call: impl Fn(Request<Bytes>) -> Response<Bytes>,
) -> Result<(usize, usize), String> {
    let (mut documented, mut refused) = (0, 0);
    for p in documented_paths(doc, base, params)? {
        for method in METHODS {
            let req = Request::builder().method(method).uri(&p.concrete).body(Bytes::new());
            let resp = call(req.map_err(|e| format!("{method} {}: {e}", p.concrete))?);
            let status = resp.status();
            if p.methods.iter().any(|m| m == method) {
                if status == StatusCode::METHOD_NOT_ALLOWED
                    || (status == StatusCode::NOT_FOUND && !p.path.contains('{'))
                {
                    return Err(format!("{method} {} is documented but answers {status}", p.path));
                }
                documented += 1;
                continue;
            }
            match status {
                StatusCode::NOT_FOUND => {}
                StatusCode::METHOD_NOT_ALLOWED => {
                    let allow = resp.headers().get(http::header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("");
                    let mut allowed: Vec<String> = allow.split(',').map(|m| m.trim().to_owned()).collect();
                    allowed.sort();
                    if allowed != p.methods {
                        return Err(format!(
                            "{method} {}: 405 with Allow {allow:?}, documented {:?}",
                            p.path, p.methods
                        ));
                    }
                }
                status => return Err(format!("{method} {} is not documented but answers {status}", p.path)),
            }
            refused += 1;
        }
    }
    Ok((documented, refused))
}

/// The operations a router's source declares, read from its match arms:
/// `(&Method::GET, ["establishments", id]) =>` (or `("GET", ["requests", file]) if
/// file.ends_with(".json") =>`) is `("GET", "<base>/establishments/{}")`, a parameter as
/// `{}` (`{}.json` when the arm's guard requires that suffix). Arms whose method is `_` (the
/// 405 answers) are not operations. Sorted, without repeats.
pub fn routed_operations(source: &str, base: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = source.lines().filter_map(|line| routed_arm(line.trim(), base)).collect();
    out.sort();
    out.dedup();
    out
}

/// One match arm's `(method, pattern)`, if the line is an arm with a method.
fn routed_arm(line: &str, base: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('(')?;
    let (method, rest) = rest.split_once(',')?;
    let method = method.trim().trim_start_matches('&').trim_start_matches("Method::").trim_matches('"');
    if method.is_empty() || !method.chars().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let (segments, after) = rest.trim_start().strip_prefix('[')?.split_once(']')?;
    // What stands between the pattern and `=>`: `)`, and a guard if any.
    let (guard, _) = after.split_once("=>")?;
    let mut path = base.to_owned();
    for segment in segments.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        path.push('/');
        match segment.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(literal) => path.push_str(literal),
            None if guard.contains(&format!("{segment}.ends_with(\".json\")")) => path.push_str("{}.json"),
            None => path.push_str("{}"),
        }
    }
    Some((method.to_owned(), path))
}

/// A documented path with each parameter as `{}` (`/reports/{code}/rating` is
/// `/reports/{}/rating`), as [`routed_operations`] writes it.
fn path_pattern(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

/// Checks that every operation a router serves (`routed`, from [`routed_operations`]) is
/// documented under `base` in the API description, and that every operation documented
/// there is among them. Returns how many operations agree, or every one that is routed but
/// undocumented or documented but not routed.
pub fn check_routed_operations(
    doc: &serde_json::Value,
    base: &str,
    routed: &[(String, String)],
) -> Result<usize, String> {
    let paths = doc["paths"].as_object().ok_or("the description has no paths")?;
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .filter(|(p, _)| p.starts_with(base))
        .flat_map(|(path, ops)| {
            let methods = ops.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
            methods.into_iter().filter(|m| m != "parameters").map(|m| (m.to_uppercase(), path_pattern(path)))
        })
        .collect();
    documented.sort();
    let undocumented: Vec<String> =
        routed.iter().filter(|r| !documented.contains(r)).map(|(m, p)| format!("{m} {p}")).collect();
    let unrouted: Vec<String> =
        documented.iter().filter(|d| !routed.contains(d)).map(|(m, p)| format!("{m} {p}")).collect();
    if undocumented.is_empty() && unrouted.is_empty() {
        Ok(routed.len())
    } else {
        Err(format!("routed but not documented: {undocumented:?}; documented but not routed: {unrouted:?}"))
    }
}

/// The project's API description, `docs/openapi.json`.
///
/// # Panics
/// If the file is not JSON (the test reading it fails, as it should).
pub fn openapi() -> serde_json::Value {
    serde_json::from_str(include_str!("../../docs/openapi.json")).unwrap_or_else(|e| panic!("docs/openapi.json: {e}"))
}

/// What [`check_openapi`] counted.
#[derive(Debug, PartialEq, Eq)]
pub struct OpenApiCheck {
    /// Documented operations that are routed ([`check_methods`]).
    pub documented: usize,
    /// Routed operations that are documented ([`check_routed_operations`]).
    pub routed: usize,
    /// Undocumented (method, path) pairs refused with 405 and a right `Allow`, or 404
    /// ([`check_methods`]).
    pub refused: usize,
}

/// A router against `docs/openapi.json`, both ways, for the paths under `base`: every
/// documented operation is routed, every match arm of `router_source` (the file holding the
/// route `match`, e.g. `include_str!("lib.rs")`) is documented, and every other method is a
/// 405 with `Allow` (or a 404). `params` and `call` as in [`check_methods`].
pub fn check_openapi(
    base: &str,
    params: &[(&str, &str)],
    router_source: &str,
    call: impl Fn(Request<Bytes>) -> Response<Bytes>,
) -> Result<OpenApiCheck, String> {
    let doc = openapi();
    let (documented, refused) = check_methods(&doc, base, params, call)?;
    let routed = check_routed_operations(&doc, base, &routed_operations(router_source, base))?;
    Ok(OpenApiCheck { documented, routed, refused })
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
    serve_each(move |request, body| {
        let text = answer(request.url(), &body).to_string();
        let json = tiny_http::Header::from_bytes("content-type", "application/json")
            .map_err(|()| std::io::Error::other("header"))?;
        request.respond(tiny_http::Response::from_string(text).with_header(json))
    })
}

/// A tiny_http server on a free port of 127.0.0.1 that reads each request's whole body and
/// hands both to `handle`, a thread per request, until the process ends; its `host:port`.
fn serve_each(
    handle: impl Fn(tiny_http::Request, Vec<u8>) -> std::io::Result<()> + Send + Sync + 'static,
) -> std::io::Result<String> {
    let server = tiny_http::Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
    let addr = server.server_addr().to_ip().ok_or_else(|| std::io::Error::other("not an IP listener"))?.to_string();
    let handle = std::sync::Arc::new(handle);
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let handle = std::sync::Arc::clone(&handle);
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut body = Vec::new();
                std::io::Read::read_to_end(request.as_reader(), &mut body)?;
                handle(request, body)
            });
        }
    });
    Ok(addr)
}

/// One request a [`Receiver`] took.
#[derive(Clone, Debug)]
pub struct Received {
    /// The path with its query.
    pub path: String,
    /// Header names in lower case, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// The first value of header `name` (lower case), or `""`.
    pub fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A stand-in receiver on 127.0.0.1 (a partner's webhook, an SMS gateway, the chat
/// function) that records every request and answers the status set with [`Receiver::answer`]
/// (200 at first) with `{}`, after the delay set with [`Receiver::delay`] (none at first).
#[derive(Clone, Debug)]
pub struct Receiver {
    /// `host:port` it listens on.
    pub addr: String,
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    got: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Starts one; it serves, a thread per request, until the process ends.
    ///
    /// # Errors
    /// When it cannot listen.
    pub fn start() -> std::io::Result<Receiver> {
        use std::sync::atomic::Ordering;
        let status = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(200));
        let delay_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let got: std::sync::Arc<std::sync::Mutex<Vec<Received>>> = std::sync::Arc::default();
        let (s, d, g) = (std::sync::Arc::clone(&status), std::sync::Arc::clone(&delay_ms), std::sync::Arc::clone(&got));
        let addr = serve_each(move |request, body| {
            let headers = request
                .headers()
                .iter()
                .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.as_str().to_owned()))
                .collect();
            if let Ok(mut got) = g.lock() {
                got.push(Received { path: request.url().to_owned(), headers, body });
            }
            std::thread::sleep(std::time::Duration::from_millis(d.load(Ordering::SeqCst)));
            request.respond(tiny_http::Response::from_string("{}").with_status_code(s.load(Ordering::SeqCst)))
        })?;
        Ok(Receiver { addr, status, delay_ms, got })
    }

    /// Answers `status` from now on.
    pub fn answer(&self, status: u16) {
        self.status.store(status, std::sync::atomic::Ordering::SeqCst);
    }

    /// Waits `delay` before answering, from now on.
    pub fn delay(&self, delay: std::time::Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every request taken so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

/// Whether `got` carries a Standard Webhooks signature by `secret` (`whsec_<base64 key>`):
/// one of the space-separated `webhook-signature` values is `v1,` and the base64
/// HMAC-SHA256, keyed with the decoded key, of `{webhook-id}.{webhook-timestamp}.{body}`
/// (standardwebhooks.com, "Verifying webhooks"). Written from the specification with HMAC
/// directly, apart from the `standardwebhooks` crate that signs, so each checks the other.
pub fn standard_webhook_signed(secret: &str, got: &Received) -> bool {
    use base64::Engine as _;
    use hmac::Mac as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let Ok(key) = b64.decode(secret.trim_start_matches("whsec_")) else { return false };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else { return false };
    mac.update(format!("{}.{}.", got.header("webhook-id"), got.header("webhook-timestamp")).as_bytes());
    mac.update(&got.body);
    let want = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    got.header("webhook-signature").split(' ').any(|s| s == want)
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

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTER: &str = r#"
        match (req.method(), segments.as_slice()) {
            (&Method::GET, ["health"]) => civic::web::health(env, store::DB, "x").await,
            (&Method::GET, []) => list(req, env).await,
            (&Method::POST, [code, "rating"]) => rate(req, env, code).await,
            ("GET", ["services", file]) if file.ends_with(".json") => service(env, &stem(file)).await,
            (_, ["health"]) => Err(Error::MethodNotAllowed(&[Method::GET])),
            (_, ["health" | "stats"] | ["orders", _]) => {
            _ => Err(Error::NotFound),
        }"#;

    fn doc(paths: serde_json::Value) -> serde_json::Value {
        serde_json::json!({ "paths": paths })
    }

    #[test]
    fn routed_operations_are_read_from_the_match_arms() {
        let ops = routed_operations(ROUTER, "/x");
        let want = [("GET", "/x"), ("GET", "/x/health"), ("GET", "/x/services/{}.json"), ("POST", "/x/{}/rating")];
        assert_eq!(ops, want.map(|(m, p)| (m.to_owned(), p.to_owned())));
    }

    #[test]
    fn an_undocumented_route_fails_and_so_does_an_unrouted_operation() {
        let routed = routed_operations(ROUTER, "/x");
        let full = doc(serde_json::json!({
            "/x": {"get": {}}, "/x/health": {"get": {}}, "/x/services/{code}.json": {"get": {}},
            "/x/{code}/rating": {"parameters": [], "post": {}}, "/y": {"get": {}}
        }));
        assert_eq!(check_routed_operations(&full, "/x", &routed), Ok(4));
        let missing = doc(serde_json::json!({
            "/x": {"get": {}}, "/x/health": {"get": {}}, "/x/{code}/rating": {"post": {}}
        }));
        let err = check_routed_operations(&missing, "/x", &routed).unwrap_err();
        assert!(err.contains("routed but not documented: [\"GET /x/services/{}.json\"]"), "{err}");
        let extra = doc(serde_json::json!({
            "/x": {"get": {}, "post": {}}, "/x/health": {"get": {}}, "/x/services/{code}.json": {"get": {}},
            "/x/{code}/rating": {"post": {}}
        }));
        let err = check_routed_operations(&extra, "/x", &routed).unwrap_err();
        assert!(err.contains("documented but not routed: [\"POST /x\"]"), "{err}");
    }

    #[test]
    fn a_method_served_but_not_documented_or_documented_but_not_served_fails() {
        let d = doc(serde_json::json!({ "/x/a": {"get": {}} }));
        let strict = |req: Request<Bytes>| {
            let status = if req.method() == http::Method::GET { 200 } else { 405 };
            Response::builder().status(status).header("allow", "GET").body(Bytes::new()).unwrap_or_default()
        };
        assert_eq!(check_methods(&d, "/x", &[], strict), Ok((1, 4)));
        let no_allow = |req: Request<Bytes>| {
            let status = if req.method() == http::Method::GET { 200 } else { 405 };
            Response::builder().status(status).body(Bytes::new()).unwrap_or_default()
        };
        assert_eq!(
            check_methods(&d, "/x", &[], no_allow),
            Err("POST /x/a: 405 with Allow \"\", documented [\"GET\"]".into())
        );
        let lax = |_: Request<Bytes>| Response::new(Bytes::new());
        assert_eq!(check_methods(&d, "/x", &[], lax), Err("POST /x/a is not documented but answers 200 OK".into()));
        let unrouted = |_: Request<Bytes>| Response::builder().status(404).body(Bytes::new()).unwrap_or_default();
        assert_eq!(
            check_methods(&d, "/x", &[], unrouted),
            Err("GET /x/a is documented but answers 404 Not Found".into())
        );
    }
}
