//! `NativePlatform`: rusqlite databases, a config map, a settable clock, outbound HTTP over
//! [`http_agent`] (the one HTTP client of the native code, the tests and xtask). Used by unit and
//! integration tests, by `cargo xtask up` to load demo data, and by the local host to apply
//! migrations.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, params_from_iter};

use super::{DbError, FetchError, Platform, Rows, Statement, Value};

/// Opens a SQLite file the way every runtime here uses it: WAL, a busy timeout, foreign keys,
/// and reads through a memory map (up to 256 MiB, shared by every connection through the
/// OS page cache) rather than a read call per page.
pub fn open_db(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
    Ok(conn)
}

/// Applies `dir/NNNN_name.sql` files not yet recorded, in name order, each in its own
/// transaction, and records them in `d1_migrations`, the table `wrangler d1 migrations` keeps,
/// so a database file is migrated alike by every tool. Returns the names newly applied.
pub fn migrate(conn: &mut Connection, dir: &Path) -> Result<Vec<String>, DbError> {
    let err = |e: &dyn std::fmt::Display| DbError(format!("migrations in {}: {e}", dir.display()));
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS d1_migrations(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT UNIQUE,
            applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)",
    )
    .map_err(|e| err(&e))?;
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => {
            rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "sql")).collect()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(err(&e)),
    };
    files.sort();
    let mut applied = Vec::new();
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let done: bool = conn
            .query_row("SELECT EXISTS(SELECT 1 FROM d1_migrations WHERE name = ?1)", [&name], |r| r.get(0))
            .map_err(|e| err(&e))?;
        if done {
            continue;
        }
        let sql = std::fs::read_to_string(&file).map_err(|e| err(&e))?;
        let tx = conn.transaction().map_err(|e| err(&e))?;
        tx.execute_batch(&sql).map_err(|e| err(&format!("{name}: {e}")))?;
        tx.execute("INSERT INTO d1_migrations (name) VALUES (?1)", [&name]).map_err(|e| err(&e))?;
        tx.commit().map_err(|e| err(&e))?;
        applied.push(name);
    }
    Ok(applied)
}

/// Runs a future whose every await is ready at once (all `NativePlatform` futures are).
/// For tests and tools; panics if the future would really wait.
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("block_on: future never completed")
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Integer(i) => SqlValue::Integer(*i),
        Value::Real(f) => SqlValue::Real(*f),
        Value::Text(s) => SqlValue::Text(s.clone()),
        Value::Blob(b) => SqlValue::Blob(b.clone()),
    }
}

fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Runs one statement on a connection, returning its rows (if any).
pub fn run(conn: &Connection, sql: &str, params: &[Value]) -> rusqlite::Result<Rows> {
    let mut stmt = conn.prepare(sql)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let n = columns.len();
    let mut out = Rows { columns, rows: Vec::new() };
    let mut rows = stmt.query(params_from_iter(params.iter().map(to_sql)))?;
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(from_sql(row.get_ref(i)?));
        }
        out.rows.push(values);
    }
    Ok(out)
}

/// The native adapter of the platform port.
pub struct NativePlatform {
    dbs: HashMap<String, Mutex<Connection>>,
    config: HashMap<String, String>,
    now: Mutex<Option<DateTime<Utc>>>,
    allowed_hosts: Vec<String>,
    /// The outbound client of `fetch` (keeps connections to partners alive).
    agent: ureq::Agent,
}

impl std::fmt::Debug for NativePlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativePlatform").field("dbs", &self.dbs.keys()).finish_non_exhaustive()
    }
}

impl NativePlatform {
    fn with_dbs(dbs: HashMap<String, Mutex<Connection>>) -> NativePlatform {
        NativePlatform {
            dbs,
            config: HashMap::new(),
            now: Mutex::new(None),
            allowed_hosts: Vec::new(),
            agent: http_agent(Some(FETCH_TIMEOUT)),
        }
    }

    /// Empty in-memory databases with the given labels.
    ///
    /// # Panics
    /// If SQLite cannot open an in-memory database.
    pub fn in_memory(labels: &[&str]) -> NativePlatform {
        let dbs = labels
            .iter()
            .map(|l| {
                let conn = Connection::open_in_memory().expect("in-memory sqlite");
                ((*l).to_owned(), Mutex::new(conn))
            })
            .collect();
        Self::with_dbs(dbs)
    }

    /// In-memory databases with `migrations/<label>/` applied.
    pub fn in_memory_migrated(labels: &[&str], migrations: &Path) -> Result<NativePlatform, DbError> {
        let p = Self::in_memory(labels);
        for (label, conn) in &p.dbs {
            let mut conn = conn.lock().map_err(|_| DbError("poisoned".into()))?;
            migrate(&mut conn, &migrations.join(label))?;
        }
        Ok(p)
    }

    /// Database files `<dir>/<label>.db`, created if missing, with `migrations/<label>/` applied.
    pub fn open_dir(dir: &Path, labels: &[&str], migrations: &Path) -> Result<NativePlatform, DbError> {
        std::fs::create_dir_all(dir).map_err(|e| DbError(format!("{}: {e}", dir.display())))?;
        let mut dbs = HashMap::new();
        for label in labels {
            let path = dir.join(format!("{label}.db"));
            let mut conn = open_db(&path).map_err(|e| DbError(format!("{}: {e}", path.display())))?;
            migrate(&mut conn, &migrations.join(label))?;
            dbs.insert((*label).to_owned(), Mutex::new(conn));
        }
        Ok(Self::with_dbs(dbs))
    }

    /// Database files opened as they are, by label (already migrated, e.g. by wrangler: the
    /// SQLite files behind a local D1).
    pub fn open_files(files: &[(&str, PathBuf)]) -> Result<NativePlatform, DbError> {
        let mut dbs = HashMap::new();
        for (label, path) in files {
            let conn = open_db(path).map_err(|e| DbError(format!("{}: {e}", path.display())))?;
            dbs.insert((*label).to_owned(), Mutex::new(conn));
        }
        Ok(Self::with_dbs(dbs))
    }

    /// Whether it has a database of this label.
    pub fn has_db(&self, label: &str) -> bool {
        self.dbs.contains_key(label)
    }

    #[must_use]
    pub fn with_config(mut self, key: &str, value: &str) -> NativePlatform {
        self.config.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Hosts outbound `fetch` may reach, as `host:port`.
    #[must_use]
    pub fn with_allowed_host(mut self, host_port: &str) -> NativePlatform {
        self.allowed_hosts.push(host_port.to_owned());
        self
    }

    /// Freezes the clock at `now` (until set again).
    pub fn set_now(&self, now: DateTime<Utc>) {
        if let Ok(mut g) = self.now.lock() {
            *g = Some(now);
        }
    }

    fn conn(&self, db: &str) -> Result<std::sync::MutexGuard<'_, Connection>, DbError> {
        self.dbs
            .get(db)
            .ok_or_else(|| DbError(format!("no such database: {db}")))?
            .lock()
            .map_err(|_| DbError("connection lock poisoned".into()))
    }
}

fn db_err(e: rusqlite::Error) -> DbError {
    DbError(e.to_string())
}

impl Platform for NativePlatform {
    async fn query(&self, db: &str, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        run(&*self.conn(db)?, sql, params).map_err(db_err)
    }

    async fn execute(&self, db: &str, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let conn = self.conn(db)?;
        run(&conn, sql, params).map_err(db_err)?;
        Ok(conn.changes())
    }

    async fn batch(&self, db: &str, statements: &[Statement]) -> Result<Vec<Rows>, DbError> {
        let mut conn = self.conn(db)?;
        let tx = conn.transaction().map_err(db_err)?;
        let mut out = Vec::with_capacity(statements.len());
        for s in statements {
            out.push(run(&tx, &s.sql, &s.params).map_err(db_err)?);
        }
        tx.commit().map_err(db_err)?;
        Ok(out)
    }

    fn config(&self, key: &str) -> Option<String> {
        self.config.get(key).filter(|v| !v.is_empty()).cloned()
    }

    #[allow(clippy::disallowed_methods)] // the native clock is the real one unless frozen
    fn now(&self) -> DateTime<Utc> {
        self.now.lock().ok().and_then(|g| *g).unwrap_or_else(|| DateTime::<Utc>::from(std::time::SystemTime::now()))
    }

    fn random_bytes(&self, buf: &mut [u8]) {
        let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf));
        assert!(ok.is_ok(), "no secure random source: {ok:?}");
    }

    async fn sleep(&self, duration: std::time::Duration) {
        std::thread::sleep(duration);
    }

    async fn fetch(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, FetchError> {
        fetch_blocking(&self.agent, &request, &self.allowed_hosts)
    }
}

/// How long one outbound call of [`NativePlatform`]'s `fetch` may take, from connecting to
/// the last byte of the answer.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest answer [`http_call`] reads: 64 MiB.
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// A plain-`http://` HTTP/1.1 client (ureq, no TLS) that sends what it is given and nothing
/// of its own: no `User-Agent`, `Accept` or `Accept-Encoding`, no proxy from the
/// environment; redirects are answered as they are, not followed, and a 4xx or 5xx is an
/// answer, not an error; any method name goes. Each call is bounded by `timeout` (none when
/// `None`). Connections are kept alive and reused (up to 3 idle per host, for 15 s) unless a
/// request carries `connection: close`. The one client of the native runs, the tests and
/// xtask.
pub fn http_agent(timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .proxy(None)
        .user_agent("")
        .accept("")
        .accept_encoding("")
        .allow_non_standard_methods(true)
        .timeout_global(timeout)
        .build()
        .new_agent()
}

/// Sends `req` (an absolute `http://` URI) with `agent` and reads the whole answer: its
/// status, headers and body (at most 64 MiB). `Host` and `Content-Length` come from the URI
/// and the body unless `req` sets them. Errors are ureq's: connection, timeout, a malformed
/// answer, a body over the limit.
pub fn http_call(agent: &ureq::Agent, req: http::Request<&[u8]>) -> Result<http::Response<Vec<u8>>, ureq::Error> {
    let (parts, mut body) = agent.run(req)?.into_parts();
    let bytes = body.with_config().limit(MAX_ANSWER_BYTES).read_to_vec()?;
    Ok(http::Response::from_parts(parts, bytes))
}

/// The native `fetch`: plain `http://` only, to the allowed `host:port`s only, through
/// [`http_call`] (30 s per call, or the request's [`Timeout`](super::Timeout) when shorter); the request's `Host`, `Content-Length` and `Connection`
/// are replaced by the client's own.
fn fetch_blocking(
    agent: &ureq::Agent,
    req: &http::Request<Bytes>,
    allowed: &[String],
) -> Result<http::Response<Bytes>, FetchError> {
    let uri = req.uri();
    if uri.scheme_str() != Some("http") {
        return Err(FetchError(format!("native fetch supports http:// only, not {uri}")));
    }
    let host = uri.host().ok_or_else(|| FetchError("no host".into()))?;
    let port = uri.port_u16().unwrap_or(80);
    let authority = format!("{host}:{port}");
    if !allowed.iter().any(|a| a == &authority) {
        return Err(FetchError(format!("outbound host not allowed: {authority}")));
    }
    let mut out = http::Request::builder().method(req.method().clone()).uri(uri.clone());
    for (k, v) in req.headers() {
        if k != http::header::HOST && k != http::header::CONTENT_LENGTH && k != http::header::CONNECTION {
            out = out.header(k, v);
        }
    }
    let mut out = out.body(req.body().as_ref()).map_err(|e| FetchError(format!("{authority}: {e}")))?;
    if let Some(super::Timeout(limit)) = req.extensions().get::<super::Timeout>() {
        out = agent.configure_request(out).timeout_global(Some((*limit).min(FETCH_TIMEOUT))).build();
    }
    let answer = http_call(agent, out).map_err(|e| FetchError(format!("{authority}: {e}")))?;
    Ok(answer.map(Bytes::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::platform_contract_tests!(NativePlatform::in_memory(&["contract"]));

    #[test]
    fn migrations_apply_once_and_are_recorded() {
        let dir = std::env::temp_dir().join(format!("civic-mig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("0001_a.sql"), "CREATE TABLE a (x INTEGER);").unwrap();
        std::fs::write(dir.join("0002_b.sql"), "CREATE TABLE b (y TEXT);").unwrap();
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, &dir).unwrap(), ["0001_a.sql", "0002_b.sql"]);
        assert!(migrate(&mut conn, &dir).unwrap().is_empty());
        std::fs::write(dir.join("0003_bad.sql"), "CREATE TABLE c (; nonsense").unwrap();
        assert!(migrate(&mut conn, &dir).is_err());
        let n: i64 = conn.query_row("SELECT count(*) FROM d1_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2, "a failed migration is not recorded");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn settable_clock() {
        let p = NativePlatform::in_memory(&[]);
        let t = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
        p.set_now(t);
        assert_eq!(p.now(), t);
    }

    #[test]
    fn fetch_refuses_hosts_not_allowed() {
        let p = NativePlatform::in_memory(&[]);
        let req = http::Request::get("http://127.0.0.1:9/x").body(Bytes::new()).unwrap();
        let err = block_on(p.fetch(req)).unwrap_err();
        assert!(err.0.contains("not allowed"), "{err}");
    }

    /// A request as the partner saw it: method, URL, headers (lower-case names), body.
    type Seen = (String, String, Vec<(String, String)>, Vec<u8>);

    /// A stand-in partner on 127.0.0.1 answering each request with `answer()`, each request
    /// sent back over the channel.
    fn partner(
        answer: impl Fn() -> tiny_http::ResponseBox + Send + 'static,
    ) -> (String, std::sync::mpsc::Receiver<Seen>) {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let addr = server.server_addr().to_ip().unwrap().to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for mut req in server.incoming_requests() {
                let mut body = Vec::new();
                req.as_reader().read_to_end(&mut body).unwrap();
                let headers =
                    req.headers().iter().map(|h| (h.field.to_string().to_lowercase(), h.value.to_string())).collect();
                let _ = tx.send((req.method().to_string(), req.url().to_owned(), headers, body));
                let _ = req.respond(answer());
            }
        });
        (addr, rx)
    }

    #[test]
    fn fetch_speaks_http1_to_a_real_server() {
        let (addr, seen) = partner(|| {
            // No length: a chunked answer.
            let body = std::io::Cursor::new(b"abcde".to_vec());
            tiny_http::Response::new(201.into(), vec!["x-a: b".parse().unwrap()], body, None, None).boxed()
        });
        let p = NativePlatform::in_memory(&[]).with_allowed_host(&addr);
        let req = http::Request::post(format!("http://{addr}/hook?x=1"))
            .header("x-partner", "p1")
            .header("host", "spoofed.example")
            .body(Bytes::from_static(b"hi"))
            .unwrap();
        let resp = block_on(p.fetch(req)).unwrap();
        assert_eq!(resp.status(), 201);
        assert_eq!(resp.headers()["x-a"], "b");
        assert_eq!(resp.body().as_ref(), b"abcde");
        let (method, url, headers, body) = seen.recv().unwrap();
        assert_eq!((method.as_str(), url.as_str(), body.as_slice()), ("POST", "/hook?x=1", b"hi".as_slice()));
        let mut names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-length", "host", "x-partner"], "nothing of the client's own: {headers:?}");
        assert!(headers.contains(&("host".into(), addr.clone())), "{headers:?}");
    }

    #[test]
    fn fetch_answers_4xx_5xx_and_redirects_as_they_are() {
        for (status, header) in [(404, "x-a: b"), (503, "retry-after: 10"), (302, "location: /elsewhere")] {
            let (addr, seen) = partner(move || {
                let header: tiny_http::Header = header.parse().unwrap();
                tiny_http::Response::from_string("no").with_status_code(status).with_header(header).boxed()
            });
            let p = NativePlatform::in_memory(&[]).with_allowed_host(&addr);
            let req = http::Request::get(format!("http://{addr}/x")).body(Bytes::new()).unwrap();
            let resp = block_on(p.fetch(req)).unwrap();
            assert_eq!((resp.status().as_u16(), resp.body().as_ref()), (status, b"no".as_slice()));
            assert!(seen.recv().is_ok());
            assert!(seen.try_recv().is_err(), "{status}: one request, no redirect followed");
        }
    }

    #[test]
    fn fetch_refuses_https_and_reports_a_dead_partner() {
        let p = NativePlatform::in_memory(&[]).with_allowed_host("127.0.0.1:9");
        let req = http::Request::get("https://127.0.0.1:9/x").body(Bytes::new()).unwrap();
        assert!(block_on(p.fetch(req)).unwrap_err().0.contains("http:// only"));
        let req = http::Request::get("http://127.0.0.1:9/x").body(Bytes::new()).unwrap();
        assert!(block_on(p.fetch(req)).unwrap_err().0.starts_with("127.0.0.1:9: "));
    }
}
