//! `WorkersPlatform`: D1, `Env` vars and secrets, and `Fetch` on Cloudflare Workers.
//!
//! D1 hands every number back as a JavaScript number: integers are exact within ±2^53
//! (binding a larger one is refused rather than rounded), and an integral `REAL` reads
//! back as an integer (the [`Row`](super::Row) readers accept either). `batch` is D1's own
//! `batch()`, which runs as one transaction.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{D1Database, Env};

use super::{BodyCap, DbError, FetchError, Object as Stored, ObjectError, Platform, Rows, Statement, Value};

/// The Workers adapter, built from the `Env` of a fetch event.
pub struct WorkersPlatform {
    env: Env,
}

impl std::fmt::Debug for WorkersPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkersPlatform")
    }
}

impl WorkersPlatform {
    pub fn new(env: Env) -> WorkersPlatform {
        WorkersPlatform { env }
    }

    fn d1(&self, db: &str) -> Result<D1Database, DbError> {
        self.env.d1(db).map_err(|e| DbError(format!("D1 binding {db}: {e}")))
    }
}

const MAX_SAFE: i64 = 9_007_199_254_740_991;

fn js_err(v: JsValue) -> DbError {
    let msg = v
        .dyn_ref::<js_sys::Error>()
        .map(|e| {
            let cause = Reflect::get(e, &"cause".into()).ok().and_then(|c| c.dyn_into::<js_sys::Error>().ok());
            match cause {
                Some(c) => format!("{}: {}", String::from(e.message()), String::from(c.message())),
                None => String::from(e.message()),
            }
        })
        .or_else(|| v.as_string())
        .unwrap_or_else(|| format!("{v:?}"));
    DbError(msg)
}

fn to_js(v: &Value) -> Result<JsValue, DbError> {
    Ok(match v {
        Value::Null => JsValue::NULL,
        #[allow(clippy::cast_precision_loss)]
        Value::Integer(i) if (-MAX_SAFE..=MAX_SAFE).contains(i) => JsValue::from_f64(*i as f64),
        Value::Integer(i) => return Err(DbError(format!("integer {i} is outside D1's exact range"))),
        Value::Real(f) => JsValue::from_f64(*f),
        Value::Text(s) => JsValue::from_str(s),
        Value::Blob(b) => Uint8Array::from(b.as_slice()).buffer().into(),
    })
}

fn from_js(v: &JsValue) -> Value {
    if v.is_null() || v.is_undefined() {
        return Value::Null;
    }
    if let Some(s) = v.as_string() {
        return Value::Text(s);
    }
    if let Some(f) = v.as_f64() {
        #[allow(clippy::cast_possible_truncation)]
        return if f.fract() == 0.0 && f.abs() <= MAX_SAFE as f64 { Value::Integer(f as i64) } else { Value::Real(f) };
    }
    if let Some(b) = v.as_bool() {
        return Value::Integer(i64::from(b));
    }
    if v.is_instance_of::<js_sys::ArrayBuffer>() || v.is_instance_of::<Uint8Array>() {
        return Value::Blob(Uint8Array::new(v).to_vec());
    }
    if let Some(arr) = v.dyn_ref::<Array>() {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Value::Blob(arr.iter().map(|x| x.as_f64().unwrap_or(0.0) as u8).collect());
    }
    Value::Text(format!("{v:?}"))
}

/// Converts D1's `{ results: [{col: value, ...}, ...] }` into rows.
fn rows_of(result: &JsValue) -> Result<Rows, DbError> {
    let results = Reflect::get(result, &"results".into()).map_err(js_err)?;
    let Some(results) = results.dyn_ref::<Array>() else {
        return Ok(Rows::default());
    };
    let mut out = Rows::default();
    for (i, row) in results.iter().enumerate() {
        let entries = Object::entries(&Object::from(row));
        if i == 0 {
            out.columns = entries.iter().map(|e| Array::from(&e).get(0).as_string().unwrap_or_default()).collect();
        }
        out.rows.push(entries.iter().map(|e| from_js(&Array::from(&e).get(1))).collect());
    }
    Ok(out)
}

fn changes_of(result: &JsValue) -> u64 {
    Reflect::get(result, &"meta".into())
        .and_then(|m| Reflect::get(&m, &"changes".into()))
        .ok()
        .and_then(|c| c.as_f64())
        .map_or(0, |c| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = c as u64;
            n
        })
}

/// A prepared, bound D1 statement as a raw JS object.
fn prepare(db: &D1Database, sql: &str, params: &[Value]) -> Result<JsValue, DbError> {
    let args = params.iter().map(to_js).collect::<Result<Vec<_>, _>>()?;
    let stmt = db.prepare(sql).bind(&args).map_err(|e| DbError(e.to_string()))?;
    Ok(stmt.inner().clone().into())
}

async fn call(target: &JsValue, method: &str, arg: Option<&JsValue>) -> Result<JsValue, DbError> {
    let f: Function = Reflect::get(target, &method.into()).map_err(js_err)?.dyn_into().map_err(js_err)?;
    let promise = match arg {
        Some(a) => f.call1(target, a),
        None => f.call0(target),
    }
    .map_err(js_err)?;
    JsFuture::from(Promise::from(promise)).await.map_err(js_err)
}

impl Platform for WorkersPlatform {
    async fn query(&self, db: &str, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let stmt = prepare(&self.d1(db)?, sql, params)?;
        rows_of(&call(&stmt, "all", None).await?)
    }

    async fn execute(&self, db: &str, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let stmt = prepare(&self.d1(db)?, sql, params)?;
        Ok(changes_of(&call(&stmt, "run", None).await?))
    }

    async fn batch(&self, db: &str, statements: &[Statement]) -> Result<Vec<Rows>, DbError> {
        // nothing to run is nothing done, as on the other runtimes (D1 is not handed an empty batch)
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let d1 = self.d1(db)?;
        let list = Array::new();
        for s in statements {
            list.push(&prepare(&d1, &s.sql, &s.params)?);
        }
        let results = call(d1.as_ref(), "batch", Some(&list)).await?;
        Array::from(&results).iter().map(|r| rows_of(&r)).collect()
    }

    fn config(&self, key: &str) -> Option<String> {
        self.env
            .secret(key)
            .map(|s| s.to_string())
            .or_else(|_| self.env.var(key).map(|v| v.to_string()))
            .ok()
            .filter(|v| !v.is_empty())
    }

    fn now(&self) -> DateTime<Utc> {
        #[allow(clippy::cast_possible_truncation)]
        let ms = js_sys::Date::now() as i64;
        DateTime::from_timestamp_millis(ms).unwrap_or_default()
    }

    fn random_bytes(&self, buf: &mut [u8]) {
        // crypto.getRandomValues, through getrandom's `js` backend.
        if let Err(e) = getrandom::getrandom(buf) {
            panic!("no secure random source: {e}");
        }
    }

    async fn sleep(&self, duration: std::time::Duration) {
        worker::Delay::from(duration).await;
    }

    /// Cloudflare's `CF-Connecting-IP`, which its edge sets (a client cannot).
    fn client_addr(&self, headers: &http::HeaderMap) -> Option<std::net::IpAddr> {
        headers.get("cf-connecting-ip")?.to_str().ok()?.trim().parse().ok()
    }

    fn has_bucket(&self, bucket: &str) -> bool {
        self.env.bucket(bucket).is_ok()
    }

    /// R2's `put`, with the content type as the object's HTTP metadata.
    async fn bucket_put(&self, bucket: &str, key: &str, object: Stored) -> Result<(), ObjectError> {
        let err = |e: worker::Error| ObjectError(format!("R2 {bucket}: {e}"));
        let metadata = worker::HttpMetadata { content_type: Some(object.content_type), ..Default::default() };
        let r2 = self.env.bucket(bucket).map_err(err)?;
        r2.put(key, worker::Data::Bytes(object.bytes.to_vec())).http_metadata(metadata).execute().await.map_err(err)?;
        Ok(())
    }

    /// R2's `get`; an object stored without a content type reads as `application/octet-stream`.
    async fn bucket_get(&self, bucket: &str, key: &str) -> Result<Option<Stored>, ObjectError> {
        let err = |e: worker::Error| ObjectError(format!("R2 {bucket}: {e}"));
        let r2 = self.env.bucket(bucket).map_err(err)?;
        let Some(found) = r2.get(key).execute().await.map_err(err)? else {
            return Ok(None);
        };
        let content_type = found.http_metadata().content_type.unwrap_or_else(|| "application/octet-stream".to_owned());
        let bytes = match found.body() {
            Some(body) => body.bytes().await.map_err(err)?,
            None => Vec::new(),
        };
        Ok(Some(Stored { content_type, bytes: Bytes::from(bytes) }))
    }

    async fn fetch(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, FetchError> {
        let err = |e: worker::Error| FetchError(e.to_string());
        let (parts, body) = request.into_parts();
        let mut init = worker::RequestInit::new();
        init.with_method(worker::Method::from(parts.method.as_str().to_owned()));
        let headers = worker::Headers::new();
        for (k, v) in &parts.headers {
            headers.append(k.as_str(), v.to_str().unwrap_or_default()).map_err(err)?;
        }
        init.with_headers(headers);
        if !body.is_empty() {
            init.with_body(Some(Uint8Array::from(body.as_ref()).into()));
        }
        let req = worker::Request::new_with_init(&parts.uri.to_string(), &init).map_err(err)?;
        // Another function of the deployment: its service binding, as Spin's local service
        // chaining would route it.
        if let Some(binding) = super::service_binding(&parts.uri) {
            let fetcher = self.env.service(&binding).map_err(err)?;
            let resp = fetcher.fetch_request(req).await.map_err(err)?;
            let (head, body) = resp.into_parts();
            let bytes = body.collect().await.map_err(|e| FetchError(e.to_string()))?.to_bytes();
            return Ok(http::Response::from_parts(head, bytes));
        }
        let fetch = worker::Fetch::Request(req);
        let send = fetch.send();
        let mut resp = match parts.extensions.get::<super::Timeout>() {
            None => send.await.map_err(err)?,
            Some(super::Timeout(limit)) => {
                futures_util::pin_mut!(send);
                match futures_util::future::select(send, worker::Delay::from(*limit)).await {
                    futures_util::future::Either::Left((resp, _)) => resp.map_err(err)?,
                    futures_util::future::Either::Right(((), _)) => {
                        return Err(FetchError(format!("no answer within {} ms", limit.as_millis())));
                    }
                }
            }
        };
        let bytes = resp.bytes().await.map_err(err)?;
        let mut out = http::Response::builder().status(resp.status_code());
        for (k, v) in resp.headers().entries() {
            out = out.header(k, v);
        }
        out.body(Bytes::from(bytes)).map_err(|e| FetchError(e.to_string()))
    }
}

/// The whole Workers entry point of a function: reads the body (413 past `max` bytes,
/// declared or read, without reading on; 400 when it cannot be read, as on Spin:
/// [`crate::web::unreadable_body`]), calls `handle` with a [`WorkersPlatform`] on the event's
/// `Env`, and converts the answer back.
pub async fn serve(
    req: worker::HttpRequest,
    env: Env,
    max: usize,
    handle: impl AsyncFnOnce(http::Request<Bytes>, &WorkersPlatform) -> http::Response<Bytes>,
) -> worker::Result<http::Response<Full<Bytes>>> {
    serve_capped(req, env, max, handle).await
}

/// [`serve`] with the body cap chosen per request by its method and path ([`BodyCap`]).
pub async fn serve_capped(
    req: worker::HttpRequest,
    env: Env,
    cap: impl BodyCap,
    handle: impl AsyncFnOnce(http::Request<Bytes>, &WorkersPlatform) -> http::Response<Bytes>,
) -> worker::Result<http::Response<Full<Bytes>>> {
    let (parts, body) = req.into_parts();
    let max = cap.cap(&parts.method, parts.uri.path());
    if crate::web::declares_more_than(&parts.headers, max) {
        return Ok(crate::web::too_large(&parts.headers, max).map(Full::new));
    }
    let body = match Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Ok(crate::web::too_large(&parts.headers, max).map(Full::new));
        }
        // as on Spin: the client's broken body is its 400, not a platform error
        Err(e) => return Ok(crate::web::unreadable_body(&parts.headers, &e.to_string()).map(Full::new)),
    };
    let resp = handle(http::Request::from_parts(parts, body), &WorkersPlatform::new(env)).await;
    Ok(resp.map(Full::new))
}

/// [`serve_capped`], then, for a response marked [`Due`](crate::outbox::Due), the outbox's
/// delivery after the answer is sent (`ctx.waitUntil`): the caller never waits on a
/// receiver.
pub async fn serve_then(
    req: worker::HttpRequest,
    env: Env,
    ctx: worker::Context,
    cap: impl BodyCap,
    handle: impl AsyncFnOnce(http::Request<Bytes>, &WorkersPlatform) -> http::Response<Bytes>,
) -> worker::Result<http::Response<Full<Bytes>>> {
    let later = env.clone();
    let resp = serve_capped(req, env, cap, handle).await?;
    if let Some(crate::outbox::Due(db)) = resp.extensions().get::<crate::outbox::Due>().copied() {
        ctx.wait_until(async move { deliver_due(&WorkersPlatform::new(later), db).await });
    }
    Ok(resp)
}

/// Delivers what is due in `db`, logging a failure (the next tick tries again).
async fn deliver_due(env: &WorkersPlatform, db: &str) {
    if let Err(e) = crate::outbox::deliver(env, db).await {
        crate::log::error(&format!("outbox {db}: delivery after the answer failed: {e:?}"));
    }
}

/// The cron trigger's entry point (`[triggers] crons` of the function's environment in
/// wrangler.toml): runs `tick` with a [`WorkersPlatform`] and logs what it did, or why it
/// failed (a cron run has no one to answer).
pub async fn scheduled(
    env: Env,
    tick: impl AsyncFnOnce(&WorkersPlatform) -> Result<crate::outbox::Tick, crate::Error>,
) {
    match tick(&WorkersPlatform::new(env)).await {
        Ok(done) => worker::console_log!("tick: {}", serde_json::to_string(&done).unwrap_or_default()),
        Err(e) => crate::log::error(&format!("tick failed: {e:?}")),
    }
}
