//! An instrumented platform adapter: every database call a handler makes through it is
//! recorded, so a benchmark can print how many round trips each route costs.
//!
//! On Cloudflare D1 each [`Platform::query`], [`Platform::execute`] and [`Platform::batch`]
//! is one HTTP exchange between the Worker and the database's primary (a batch of any length
//! is one), and on Spin with a remote libSQL database one exchange with that server. The
//! embedded SQLite of the local host hides that cost; [`Counted`] makes it visible.
//!
//! ```
//! use civic::platform::{counted::Counted, native::{NativePlatform, block_on}, Platform, Statement};
//! let p = Counted::new(NativePlatform::in_memory(&["food"]));
//! block_on(async {
//!     p.execute("food", "CREATE TABLE t (n INTEGER)", &[]).await.unwrap();
//!     p.batch("food", &[Statement::new("INSERT INTO t VALUES (1)", vec![]), Statement::new("SELECT n FROM t", vec![])])
//!         .await
//!         .unwrap();
//! });
//! let calls = p.take();
//! assert_eq!(calls.len(), 2, "a batch is one round trip");
//! assert_eq!(calls[1].statements.len(), 2);
//! ```

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::{DbError, FetchError, Object, ObjectError, Platform, Rows, Statement, Value};

/// One database round trip.
#[derive(Clone, Debug)]
pub struct Call {
    /// The database label.
    pub db: String,
    /// `query`, `execute` or `batch`.
    pub kind: &'static str,
    /// The SQL of each statement, in order (one for `query` and `execute`).
    pub statements: Vec<String>,
    /// How long the wrapped platform took to answer.
    pub took: Duration,
}

/// A [`Platform`] that passes everything to `inner` and records each database call.
pub struct Counted<P> {
    pub inner: P,
    calls: Mutex<Vec<Call>>,
}

impl<P> Counted<P> {
    pub fn new(inner: P) -> Counted<P> {
        Counted { inner, calls: Mutex::new(Vec::new()) }
    }

    /// The calls recorded since the last `take`, oldest first.
    pub fn take(&self) -> Vec<Call> {
        self.calls.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
    }

    #[allow(clippy::disallowed_methods)] // native only: times the wrapped call
    async fn timed<T>(
        &self,
        db: &str,
        kind: &'static str,
        statements: Vec<String>,
        call: impl Future<Output = T>,
    ) -> T {
        let started = std::time::Instant::now();
        let out = call.await;
        let took = started.elapsed();
        if let Ok(mut c) = self.calls.lock() {
            c.push(Call { db: db.to_owned(), kind, statements, took });
        }
        out
    }
}

impl<P: Platform> Platform for Counted<P> {
    async fn query(&self, db: &str, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.timed(db, "query", vec![sql.to_owned()], self.inner.query(db, sql, params)).await
    }

    async fn execute(&self, db: &str, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.timed(db, "execute", vec![sql.to_owned()], self.inner.execute(db, sql, params)).await
    }

    async fn batch(&self, db: &str, statements: &[Statement]) -> Result<Vec<Rows>, DbError> {
        let sql = statements.iter().map(|s| s.sql.clone()).collect();
        self.timed(db, "batch", sql, self.inner.batch(db, statements)).await
    }

    fn config(&self, key: &str) -> Option<String> {
        self.inner.config(key)
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    fn random_bytes(&self, buf: &mut [u8]) {
        self.inner.random_bytes(buf);
    }

    async fn fetch(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, FetchError> {
        self.inner.fetch(request).await
    }

    async fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration).await;
    }

    fn client_addr(&self, headers: &http::HeaderMap) -> Option<std::net::IpAddr> {
        self.inner.client_addr(headers)
    }

    fn has_bucket(&self, bucket: &str) -> bool {
        self.inner.has_bucket(bucket)
    }

    async fn bucket_put(&self, bucket: &str, key: &str, object: Object) -> Result<(), ObjectError> {
        self.inner.bucket_put(bucket, key, object).await
    }

    async fn bucket_get(&self, bucket: &str, key: &str) -> Result<Option<Object>, ObjectError> {
        self.inner.bucket_get(bucket, key).await
    }
}
