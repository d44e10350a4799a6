//! `SpinPlatform`: spin-sdk 5 SQLite (`fermyon:spin/sqlite@2.0.0`), variables and outbound
//! HTTP. Atomic batches run inside `BEGIN IMMEDIATE ... COMMIT` on one connection.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use spin_sdk::sqlite::{Connection, QueryResult, Value as SpinValue};

use super::{BodyCap, DbError, FetchError, Platform, Rows, Statement, Value};
use crate::error::Error;

/// The Spin adapter; build one per request.
#[derive(Default)]
pub struct SpinPlatform {
    conns: RefCell<HashMap<String, Rc<Connection>>>,
}

impl std::fmt::Debug for SpinPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpinPlatform")
    }
}

impl SpinPlatform {
    pub fn new() -> SpinPlatform {
        SpinPlatform::default()
    }

    fn conn(&self, db: &str) -> Result<Rc<Connection>, DbError> {
        if let Some(c) = self.conns.borrow().get(db) {
            return Ok(Rc::clone(c));
        }
        let conn = Rc::new(Connection::open(db).map_err(|e| DbError(format!("open {db}: {e}")))?);
        self.conns.borrow_mut().insert(db.to_owned(), Rc::clone(&conn));
        Ok(conn)
    }
}

fn to_spin(v: &Value) -> SpinValue {
    match v {
        Value::Null => SpinValue::Null,
        Value::Integer(i) => SpinValue::Integer(*i),
        Value::Real(f) => SpinValue::Real(*f),
        Value::Text(s) => SpinValue::Text(s.clone()),
        Value::Blob(b) => SpinValue::Blob(b.clone()),
    }
}

fn from_spin(v: SpinValue) -> Value {
    match v {
        SpinValue::Null => Value::Null,
        SpinValue::Integer(i) => Value::Integer(i),
        SpinValue::Real(f) => Value::Real(f),
        SpinValue::Text(s) => Value::Text(s),
        SpinValue::Blob(b) => Value::Blob(b),
    }
}

fn rows(r: QueryResult) -> Rows {
    Rows {
        columns: r.columns,
        rows: r.rows.into_iter().map(|row| row.values.into_iter().map(from_spin).collect()).collect(),
    }
}

fn run(conn: &Connection, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
    let params: Vec<SpinValue> = params.iter().map(to_spin).collect();
    conn.execute(sql, &params).map(rows).map_err(|e| DbError(e.to_string()))
}

impl Platform for SpinPlatform {
    async fn query(&self, db: &str, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        run(&*self.conn(db)?, sql, params)
    }

    async fn execute(&self, db: &str, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let conn = self.conn(db)?;
        run(&conn, sql, params)?;
        let n = run(&conn, "SELECT changes() AS n", &[])?;
        let n = n.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn batch(&self, db: &str, statements: &[Statement]) -> Result<Vec<Rows>, DbError> {
        let conn = self.conn(db)?;
        // reads share the database with other requests; a batch that writes takes the lock
        // first, so it never fails half-way on a busy database
        run(&conn, if super::reads_only(statements) { "BEGIN" } else { "BEGIN IMMEDIATE" }, &[])?;
        let mut out = Vec::with_capacity(statements.len());
        for s in statements {
            match run(&conn, &s.sql, &s.params) {
                Ok(r) => out.push(r),
                Err(e) => {
                    // Keep the original error; a failed rollback leaves nothing more to do.
                    let _ = run(&conn, "ROLLBACK", &[]);
                    return Err(e);
                }
            }
        }
        if let Err(e) = run(&conn, "COMMIT", &[]) {
            let _ = run(&conn, "ROLLBACK", &[]);
            return Err(e);
        }
        Ok(out)
    }

    fn config(&self, key: &str) -> Option<String> {
        spin_sdk::variables::get(key).ok().filter(|v| !v.is_empty())
    }

    #[allow(clippy::disallowed_methods)] // WASI clocks back SystemTime on wasm32-wasip2
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(std::time::SystemTime::now())
    }

    fn random_bytes(&self, buf: &mut [u8]) {
        let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        let bytes = wasi::random::random::get_random_bytes(len);
        buf.copy_from_slice(&bytes[..buf.len()]);
    }

    /// A monotonic-clock pollable, blocked on: the instance serves this one request, and the
    /// host goes on serving the others meanwhile.
    async fn sleep(&self, duration: std::time::Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        wasi::clocks::monotonic_clock::subscribe_duration(nanos).block();
    }

    /// Spin's `spin-client-addr` (`ip:port`), which Spin sets on every request, replacing a
    /// header of that name the client sent.
    fn client_addr(&self, headers: &http::HeaderMap) -> Option<std::net::IpAddr> {
        let value = headers.get("spin-client-addr")?.to_str().ok()?;
        value.parse::<std::net::SocketAddr>().map(|a| a.ip()).or_else(|_| value.parse()).ok()
    }

    async fn fetch(&self, mut request: http::Request<Bytes>) -> Result<http::Response<Bytes>, FetchError> {
        // A declared length, not a chunked body: some partners' servers take no other.
        if !request.headers().contains_key(http::header::CONTENT_LENGTH) && request.method() != http::Method::GET {
            let length = http::HeaderValue::from(request.body().len());
            request.headers_mut().insert(http::header::CONTENT_LENGTH, length);
        }
        let timeout = request.extensions().get::<super::Timeout>().map(|t| t.0);
        let request = request.map(|b| b.to_vec());
        let send = spin_sdk::http::send::<_, http::Response<Vec<u8>>>(request);
        let resp = match timeout {
            None => send.await,
            Some(limit) => {
                futures::pin_mut!(send);
                match futures_util::future::select(send, Timer::after(limit)).await {
                    futures_util::future::Either::Left((resp, _)) => resp,
                    futures_util::future::Either::Right(((), _)) => {
                        return Err(FetchError(format!("no answer within {} ms", limit.as_millis())));
                    }
                }
            }
        };
        Ok(resp.map_err(|e| FetchError(e.to_string()))?.map(Bytes::from))
    }
}

/// A future that is ready once `duration` has passed on the monotonic clock, waited on by
/// spin-sdk's executor beside the request's other pollables (an outbound call's answer).
struct Timer {
    deadline: u64,
}

impl Timer {
    fn after(duration: std::time::Duration) -> Timer {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Timer { deadline: wasi::clocks::monotonic_clock::now().saturating_add(nanos) }
    }
}

impl std::future::Future for Timer {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if wasi::clocks::monotonic_clock::now() >= self.deadline {
            return std::task::Poll::Ready(());
        }
        let pollable = wasi::clocks::monotonic_clock::subscribe_instant(self.deadline);
        spin_executor::push_waker(pollable, cx.waker().clone());
        std::task::Poll::Pending
    }
}

/// The whole Spin entry point of a function: converts the request to `http` types, reads its
/// body (413 past `max` bytes, declared or read, without reading on; 400 when it cannot be
/// read, [`crate::web::unreadable_body`]), calls `handle` with a fresh [`SpinPlatform`], and
/// converts the answer back.
pub async fn serve(
    req: spin_sdk::http::IncomingRequest,
    max: usize,
    handle: impl AsyncFnOnce(http::Request<Bytes>, &SpinPlatform) -> http::Response<Bytes>,
) -> http::Response<Vec<u8>> {
    serve_capped(req, max, handle).await
}

/// [`serve`] with the body cap chosen per request by its method and path ([`BodyCap`]).
pub async fn serve_capped(
    req: spin_sdk::http::IncomingRequest,
    cap: impl BodyCap,
    handle: impl AsyncFnOnce(http::Request<Bytes>, &SpinPlatform) -> http::Response<Bytes>,
) -> http::Response<Vec<u8>> {
    use futures::StreamExt;

    let mut builder = http::Request::builder().method(req.method().to_string().as_str()).uri(req.uri());
    for (name, value) in req.headers().entries() {
        builder = builder.header(name, value);
    }
    let empty = http::HeaderMap::new();
    let headers = builder.headers_ref().unwrap_or(&empty).clone();
    let path = builder.uri_ref().map(|u| u.path().to_owned()).unwrap_or_default();
    let method = builder.method_ref().cloned().unwrap_or_default();
    let max = cap.cap(&method, &path);
    if crate::web::declares_more_than(&headers, max) {
        return crate::web::too_large(&headers, max).map(Vec::from);
    }
    let lang = crate::Lang::from_headers(&headers);
    let mut body = Vec::new();
    let mut stream = req.into_body_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(e) => return crate::web::unreadable_body(&headers, &format!("{e:?}")).map(Vec::from),
        }
        if body.len() > max {
            return crate::web::too_large(&headers, max).map(Vec::from);
        }
    }
    match builder.body(Bytes::from(body)) {
        Ok(req) => handle(req, &SpinPlatform::new()).await.map(Vec::from),
        Err(e) => Error::Internal(format!("request: {e}")).into_response(lang).map(Vec::from),
    }
}

/// The Spin entry point of a function: [`serve_capped`], the answer sent through `out`, and
/// then, for a response marked [`Due`](crate::outbox::Due), the outbox's delivery: Spin
/// keeps the handler running after its response is sent, so the caller never waits on a
/// receiver.
pub async fn serve_then(
    req: spin_sdk::http::IncomingRequest,
    out: spin_sdk::http::ResponseOutparam,
    cap: impl BodyCap,
    handle: impl AsyncFnOnce(http::Request<Bytes>, &SpinPlatform) -> http::Response<Bytes>,
) {
    let resp = serve_capped(req, cap, handle).await;
    let due = resp.extensions().get::<crate::outbox::Due>().copied();
    let mut response = spin_sdk::http::IntoResponse::into_response(resp);
    let body = std::mem::take(response.body_mut());
    match spin_sdk::http::OutgoingResponse::try_from(response) {
        Ok(response) => {
            if let Err(e) = out.set_with_body(response, body).await {
                crate::log::error(&format!("sending the response: {e}"));
            }
        }
        Err(e) => crate::log::error(&format!("converting the response: {e}")),
    }
    if let Some(crate::outbox::Due(db)) = due
        && let Err(e) = crate::outbox::deliver(&SpinPlatform::new(), db).await
    {
        crate::log::error(&format!("outbox {db}: delivery after the answer failed: {e:?}"));
    }
}
