//! The platform port: everything a function may ask of its runtime.
//!
//! The same handler code runs on Spin (`spin::SpinPlatform`, built for `wasm32-wasip2`), on
//! Cloudflare Workers (`workers::WorkersPlatform`, built for `wasm32-unknown-unknown`) and
//! natively in tests ([`NativePlatform`](native::NativePlatform)). Each adapter module also
//! holds the runtime's whole entry point, `serve`; [`entry_points!`](crate::entry_points),
//! one line in each function's `lib.rs`, exports both around the function's `handle`. So the
//! glue per platform is two files: `platform/spin.rs` and `platform/workers.rs`.
//!
//! SQL is the SQLite dialect, per named database. There are no interactive transactions (D1
//! has none): atomicity across statements comes from [`Platform::batch`], exactly-once from
//! single conditional statements (`... ON CONFLICT DO NOTHING RETURNING ...`). Parameters
//! are always bound, never formatted into SQL.
//!
//! ```
//! use civic::platform::{native::{NativePlatform, block_on}, Platform, Value};
//! let p = NativePlatform::in_memory(&["food"]);
//! block_on(async {
//!     p.execute("food", "CREATE TABLE t (n INTEGER)", &[]).await.unwrap();
//!     p.execute("food", "INSERT INTO t VALUES (?1)", &[Value::from(7)]).await.unwrap();
//!     let rows = p.query("food", "SELECT n FROM t", &[]).await.unwrap();
//!     assert_eq!(rows.iter().next().unwrap().i64("n").unwrap(), 7);
//! });
//! ```

use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};

pub mod contract;
#[cfg(not(target_arch = "wasm32"))]
pub mod counted;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(target_os = "wasi")]
pub mod spin;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod workers;

/// A function's entry points around its `handle` (`async fn(http::Request<Bytes>, &impl
/// Platform) -> http::Response<Bytes>`), reading bodies of at most `max_body` bytes (a
/// [`BodyCap`]: one number for every route, or a function of the method and path for a
/// function with one route that takes more than the others), and around its scheduled work
/// `tick` (`async fn(&impl Platform) -> Result<civic::outbox::Tick, civic::Error>`):
///
/// - on Spin (`target_os = "wasi"`), a `#[spin_sdk::http_component]` that calls
///   `civic::platform::spin::serve_then` (`wasi:http/incoming-handler`); Spin has no timer,
///   so `tick` is reached through the function's `POST <prefix>/tick` route;
/// - on Workers (`wasm32-unknown-unknown`), an `#[event(fetch)]` that calls
///   `civic::platform::workers::serve_then`, and an `#[event(scheduled)]` (the cron
///   trigger of wrangler.toml) that calls `civic::platform::workers::scheduled` with `tick`.
///
/// Both deliver the outbox of a response marked [`crate::outbox::Due`] after answering.
/// Natively it expands to nothing, so `cargo test` links without either SDK. The calling
/// crate depends on `spin-sdk` for the first target, on `worker` and `http-body-util` for the
/// second.
///
/// ```text
/// civic::entry_points!(crate::handle, crate::MAX_BODY, crate::tick);
/// civic::entry_points!(crate::handle, crate::max_body, crate::tick); // fn(&http::Method, &str) -> usize
/// ```
#[macro_export]
macro_rules! entry_points {
    ($handle:path, $max_body:expr, $tick:path) => {
        /// The Spin entry point: `civic::platform::spin::serve_then` around the handler.
        #[cfg(target_os = "wasi")]
        #[allow(unsafe_code)] // the SDK macro generates the Wasm exports, `unsafe` by nature
        mod spin_entry {
            #[::spin_sdk::http_component]
            async fn entry(req: ::spin_sdk::http::IncomingRequest, out: ::spin_sdk::http::ResponseOutparam) {
                $crate::platform::spin::serve_then(req, out, $max_body, async |req, env| $handle(req, env).await).await
            }
        }

        /// The Workers entry points: `civic::platform::workers::serve_then` around the
        /// handler, and the cron trigger's `civic::platform::workers::scheduled`.
        #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
        #[allow(unsafe_code)] // the SDK macro generates the Wasm exports, `unsafe` by nature
        mod workers_entry {
            #[::worker::event(fetch)]
            async fn fetch(
                req: ::worker::HttpRequest,
                env: ::worker::Env,
                ctx: ::worker::Context,
            ) -> ::worker::Result<::http::Response<::http_body_util::Full<::bytes::Bytes>>> {
                $crate::platform::workers::serve_then(req, env, ctx, $max_body, async |req, env| {
                    $handle(req, env).await
                })
                .await
            }

            #[::worker::event(scheduled)]
            async fn cron(_event: ::worker::ScheduledEvent, env: ::worker::Env, _ctx: ::worker::ScheduleContext) {
                $crate::platform::workers::scheduled(env, async |env| $tick(env).await).await
            }
        }
    };
}

/// The most bytes an entry point reads of a request body before it answers 413: a `usize`
/// for every route alike, or a function of the request's method and path
/// (`fn(&http::Method, &str) -> usize`) when one route takes more than the others (a photo
/// upload), so that the rest keep their small cap before anything is read.
pub trait BodyCap {
    /// The cap for a request to `path` with `method`, in bytes.
    fn cap(&self, method: &http::Method, path: &str) -> usize;
}

impl BodyCap for usize {
    fn cap(&self, _: &http::Method, _: &str) -> usize {
        *self
    }
}

impl<F: Fn(&http::Method, &str) -> usize> BodyCap for F {
    fn cap(&self, method: &http::Method, path: &str) -> usize {
        self(method, path)
    }
}

/// The Workers service binding that stands for a request to another function of the
/// deployment: `http://<component>.spin.internal/...` (Spin's local service chaining) goes to
/// the binding named after the component, upper-cased with `_` for `-`
/// (`food-safety` → `FOOD_SAFETY`). `None` for any other URL.
pub fn service_binding(uri: &http::Uri) -> Option<String> {
    let component = uri.host()?.strip_suffix(".spin.internal")?;
    let valid = !component.is_empty() && component.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    valid.then(|| component.to_ascii_uppercase().replace('-', "_"))
}

/// How long an outbound request may take, from sending it to the last byte of the answer:
/// put it in the request's extensions (`request.extensions_mut().insert(Timeout(d))`) and
/// [`Platform::fetch`] gives up with a [`FetchError`] past it. Without one, the runtime's
/// own limits apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout(pub std::time::Duration);

/// A SQLite value, as bound to a parameter or read from a column.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Integer(v.into())
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Integer(v.into())
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Integer(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A database error; its text is for logs, never for responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbError(pub String);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DbError {}

/// The result of a query: column names and rows of values in column order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row { columns: &self.columns, values })
    }
    pub fn first(&self) -> Option<Row<'_>> {
        self.iter().next()
    }
}

/// One row, read by column name. Readers convert where SQLite itself would be loose: D1
/// returns every number as a JavaScript number, so an integral `REAL` may come back as an
/// integer and `f64` readers accept integers.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl<'a> Row<'a> {
    pub fn value(&self, column: &str) -> Result<&'a Value, DbError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| DbError(format!("no column {column}")))
    }
    fn wrong(column: &str, want: &str, got: &Value) -> DbError {
        DbError(format!("column {column}: expected {want}, found {got:?}"))
    }
    pub fn opt_i64(&self, column: &str) -> Result<Option<i64>, DbError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Integer(i) => Ok(Some(*i)),
            // D1 hands integers back as JavaScript numbers.
            #[allow(clippy::cast_possible_truncation)]
            Value::Real(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => Ok(Some(*f as i64)),
            other => Err(Self::wrong(column, "integer", other)),
        }
    }
    pub fn i64(&self, column: &str) -> Result<i64, DbError> {
        self.opt_i64(column)?.ok_or_else(|| DbError(format!("column {column}: unexpected NULL")))
    }
    pub fn opt_f64(&self, column: &str) -> Result<Option<f64>, DbError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Real(f) => Ok(Some(*f)),
            #[allow(clippy::cast_precision_loss)]
            Value::Integer(i) => Ok(Some(*i as f64)),
            other => Err(Self::wrong(column, "real", other)),
        }
    }
    pub fn f64(&self, column: &str) -> Result<f64, DbError> {
        self.opt_f64(column)?.ok_or_else(|| DbError(format!("column {column}: unexpected NULL")))
    }
    pub fn opt_str(&self, column: &str) -> Result<Option<&'a str>, DbError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.as_str())),
            other => Err(Self::wrong(column, "text", other)),
        }
    }
    pub fn str(&self, column: &str) -> Result<&'a str, DbError> {
        self.opt_str(column)?.ok_or_else(|| DbError(format!("column {column}: unexpected NULL")))
    }
    pub fn opt_blob(&self, column: &str) -> Result<Option<&'a [u8]>, DbError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Blob(b) => Ok(Some(b.as_slice())),
            other => Err(Self::wrong(column, "blob", other)),
        }
    }
}

/// One statement of a [`Platform::batch`].
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Statement {
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Statement {
        Statement { sql: sql.into(), params }
    }
}

/// Whether every statement only reads: it starts with `SELECT`, `WITH` or `VALUES` and names
/// no statement that writes (`INSERT`, `UPDATE`, `DELETE`, `REPLACE`, `UPSERT`'s `ON
/// CONFLICT` needs one of those) or changes the schema, as a whole word, anywhere. A batch of
/// such statements needs no write lock: on SQLite a plain `BEGIN` gives it one consistent
/// snapshot while other requests read and write (WAL), where `BEGIN IMMEDIATE` would queue
/// concurrent searches behind each other. Errs on the side of writing: a false "writes" only
/// costs the lock.
pub fn reads_only(statements: &[Statement]) -> bool {
    const WRITES: [&str; 10] =
        ["INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "PRAGMA", "ATTACH", "VACUUM"];
    statements.iter().all(|s| {
        let mut words = s.sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty());
        let first = words.next().unwrap_or_default();
        ["SELECT", "WITH", "VALUES"].iter().any(|k| first.eq_ignore_ascii_case(k))
            && !words.any(|w| WRITES.iter().any(|k| w.eq_ignore_ascii_case(k)))
    })
}

/// Outbound HTTP failed (denied by the deployment, unreachable, malformed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchError(pub String);

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for FetchError {}

/// A stored object: its bytes and the media type they are served with (`image/jpeg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub content_type: String,
    pub bytes: Bytes,
}

/// Object storage failed (no such bucket bound, the store refused or was unreachable); the
/// text is for logs, never for responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectError(pub String);

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ObjectError {}

/// What a function may ask of its runtime. Futures are not `Send`: Workers is single-threaded.
///
/// The last five methods have defaults (no waiting, no client address, no bucket), so an
/// adapter that has none of them, such as a test double, implements only the first seven.
#[allow(async_fn_in_trait)]
pub trait Platform {
    /// Runs a statement that returns rows (`SELECT`, or anything with `RETURNING`).
    async fn query(&self, db: &str, sql: &str, params: &[Value]) -> Result<Rows, DbError>;
    /// Runs a statement and returns how many rows it changed.
    async fn execute(&self, db: &str, sql: &str, params: &[Value]) -> Result<u64, DbError>;
    /// Runs the statements in order, all or nothing: if one fails, none of them is kept.
    /// Returns the rows of each statement (empty unless it returns rows).
    async fn batch(&self, db: &str, statements: &[Statement]) -> Result<Vec<Rows>, DbError>;
    /// A setting or secret by its `lower_snake_case` name; `None` when unset or empty.
    fn config(&self, key: &str) -> Option<String>;
    /// The wall clock.
    fn now(&self) -> DateTime<Utc>;
    /// Fills `buf` from the runtime's secure random source.
    fn random_bytes(&self, buf: &mut [u8]);
    /// Outbound HTTP, limited to the hosts the deployment allows. A request to
    /// `http://<component>.spin.internal/...` reaches that function of the deployment: Spin's
    /// local service chaining, or on Workers the service binding of [`service_binding`].
    async fn fetch(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, FetchError>;

    /// Waits `duration` without holding up other requests (a short backoff while another
    /// request finishes what this one needs). Spin: a `wasi:clocks` monotonic-clock pollable;
    /// Workers: a `setTimeout` promise; natively: the thread sleeps. An adapter that cannot
    /// wait (a test double) returns at once.
    async fn sleep(&self, duration: std::time::Duration) {
        let _ = duration;
    }

    /// The address of the client that sent the request with these headers, as the runtime
    /// reports it in a header the client cannot set: Spin's `spin-client-addr` (`ip:port`),
    /// Cloudflare's `CF-Connecting-IP`. `None` when the runtime gives none (natively).
    fn client_addr(&self, headers: &http::HeaderMap) -> Option<std::net::IpAddr> {
        let _ = headers;
        None
    }

    /// Whether the runtime binds an object bucket under the name `bucket` (an R2 binding on
    /// Workers). Without one, [`crate::objects`] stores elsewhere.
    fn has_bucket(&self, bucket: &str) -> bool {
        let _ = bucket;
        false
    }

    /// Stores `object` under `key` in the bound bucket `bucket`, replacing any object there.
    async fn bucket_put(&self, bucket: &str, key: &str, object: Object) -> Result<(), ObjectError> {
        let _ = (key, object);
        Err(ObjectError(format!("no bucket {bucket} is bound")))
    }

    /// The object under `key` in the bound bucket `bucket`; `Ok(None)` when there is none.
    async fn bucket_get(&self, bucket: &str, key: &str) -> Result<Option<Object>, ObjectError> {
        let _ = key;
        Err(ObjectError(format!("no bucket {bucket} is bound")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_only_tells_a_batch_that_writes() {
        use super::{Statement, reads_only};
        let st = |sql: &str| Statement::new(sql, Vec::new());
        assert!(reads_only(&[st("SELECT 1"), st("  with m AS MATERIALIZED (SELECT 1) SELECT * FROM m")]));
        assert!(reads_only(&[st("SELECT updated_at, deleted_count FROM t")]), "columns are not statements");
        assert!(!reads_only(&[st("SELECT 1"), st("INSERT INTO t VALUES (1)")]));
        assert!(!reads_only(&[st("WITH x AS (SELECT 1) UPDATE t SET n = 1")]));
        assert!(!reads_only(&[st("select 1; delete from t")]));
        assert!(!reads_only(&[st("PRAGMA journal_mode")]));
        assert!(reads_only(&[]), "nothing to lock");
    }

    #[test]
    fn service_bindings_table() {
        let cases = [
            ("http://food-safety.spin.internal/food-safety/command", Some("FOOD_SAFETY")),
            ("http://report-submission.spin.internal/reports/media", Some("REPORT_SUBMISSION")),
            ("http://chat.spin.internal/", Some("CHAT")),
            ("https://food-safety.spin.internal.evil.com/x", None),
            ("http://.spin.internal/x", None),
            ("https://openapi.zalo.me/v3.0/oa/message/cs", None),
        ];
        for (uri, want) in cases {
            let uri: http::Uri = uri.parse().unwrap();
            assert_eq!(super::service_binding(&uri).as_deref(), want, "{uri}");
        }
    }
}
