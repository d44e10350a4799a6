//! The host side of `fermyon:spin/sqlite@2.0.0` on real SQLite files (rusqlite).
//!
//! - `open(label)` is `access-denied` unless the label is in the component's
//!   `sqlite_databases` (as in Spin, `default` is a label like any other), and
//!   `no-such-database` when the host has no file for it.
//! - A `connection` resource owns one rusqlite connection to the label's file, opened with
//!   civic's `open_db` (WAL, 5 s busy timeout, foreign keys). Statements a guest runs on it —
//!   including `BEGIN` / `COMMIT` / `ROLLBACK` — act on that connection alone, so a guest can
//!   make a batch atomic.
//! - `execute(sql, params)` binds the parameters (integer, real, text, blob, null), runs one
//!   statement and returns its column names and every row, with values mapped back exactly.
//!   SQLite errors come back as `io(message)`.
//! - Statements run on tokio's blocking pool, so a busy database never stalls the server;
//!   each pooled connection keeps its prepared statements (rusqlite's statement cache).
//! - Closed connections go back to a small per-database pool when they are outside a
//!   transaction (a connection dropped inside one is closed, which rolls it back); `open`
//!   takes an idle one without leaving the request's task, and only opening a new
//!   connection goes to the blocking pool.
//! - A database file that disappears while the host runs is an error on every open (the
//!   guest answers 503), never a new empty file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime::component::Resource;

use crate::bindings::fermyon::spin::sqlite::{self, QueryResult, RowResult, Value};
use crate::server::RequestState;

/// Idle connections kept per database.
const POOL_SIZE: usize = 8;

/// One database file and its idle connections.
#[derive(Debug)]
pub struct Database {
    pub label: String,
    pub path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl Database {
    /// A database backed by `path` (the file is created on first open).
    pub fn new(label: &str, path: &Path) -> Database {
        Database { label: label.to_owned(), path: path.to_owned(), idle: Mutex::new(Vec::new()) }
    }

    /// An idle connection, or a new one. The file was created and migrated when the host
    /// started; once it is gone (deleted, its volume unmounted) every open fails, rather than
    /// an idle connection writing on to the unlinked file or a new one creating an empty
    /// database, both of which would lose what is written.
    fn checkout(&self) -> rusqlite::Result<rusqlite::Connection> {
        match self.take_idle() {
            Some(taken) => taken,
            None => civic::platform::native::open_db(&self.path),
        }
    }

    /// An idle connection, the error of a vanished file, or `None` when a new connection is
    /// needed: what [`Database::checkout`] does without opening anything.
    fn take_idle(&self) -> Option<rusqlite::Result<rusqlite::Connection>> {
        if !self.path.exists() {
            if let Ok(mut idle) = self.idle.lock() {
                idle.clear();
            }
            return Some(Err(rusqlite::Error::InvalidPath(self.path.clone())));
        }
        self.idle.lock().ok().and_then(|mut idle| idle.pop()).map(Ok)
    }

    /// Returns a connection to the pool if it is outside a transaction and the pool has room.
    pub fn checkin(&self, conn: rusqlite::Connection) {
        if !conn.is_autocommit() {
            return; // dropping it closes it, which rolls the transaction back
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < POOL_SIZE
        {
            idle.push(conn);
        }
    }
}

/// The databases of the application, by label.
#[derive(Debug, Default)]
pub struct Databases {
    by_label: HashMap<String, Arc<Database>>,
}

impl Databases {
    /// Adds a database.
    pub fn insert(&mut self, db: Database) {
        self.by_label.insert(db.label.clone(), Arc::new(db));
    }

    /// The database of a label.
    pub fn get(&self, label: &str) -> Option<&Arc<Database>> {
        self.by_label.get(label)
    }
}

/// The `connection` resource: one open connection of one database.
#[derive(Debug)]
pub struct Connection {
    db: Arc<Database>,
    /// `None` only while a statement runs on the blocking pool.
    conn: Option<rusqlite::Connection>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.db.checkin(conn);
        }
    }
}

fn to_sql(v: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Integer(i) => V::Integer(i),
        Value::Real(f) => V::Real(f),
        Value::Text(s) => V::Text(s),
        Value::Blob(b) => V::Blob(b),
        Value::Null => V::Null,
    }
}

/// A column value as the guest gets it; text that is not UTF-8 is converted lossily, as
/// `civic`'s `NativePlatform` does.
fn from_sql(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Integer(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Runs one statement with bound parameters and collects its result, the way `civic`'s
/// `NativePlatform` does (`civic::platform::native::run`: same binding, same value mapping),
/// so the host and native tests share SQL semantics. The prepared statement stays in the
/// connection's statement cache (rusqlite's, 16 statements), so a pooled connection parses a
/// function's usual statements once rather than on every request.
pub fn execute(conn: &rusqlite::Connection, sql: &str, params: Vec<Value>) -> rusqlite::Result<QueryResult> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let n = columns.len();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.into_iter().map(to_sql)))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(from_sql(row.get_ref(i)?));
        }
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

impl sqlite::Host for RequestState {}

impl sqlite::HostConnection for RequestState {
    async fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<Connection>, sqlite::Error>> {
        if !self.component.sqlite_databases.contains(&database) {
            return Ok(Err(sqlite::Error::AccessDenied));
        }
        let Some(db) = self.databases.get(&database).cloned() else {
            return Ok(Err(sqlite::Error::NoSuchDatabase));
        };
        // An idle connection is taken at once (a lock and a `stat`); opening a new one (file
        // I/O, pragmas) goes to the blocking pool.
        let opened = match db.take_idle() {
            Some(idle) => Ok(idle.map(|conn| Connection { db, conn: Some(conn) })),
            None => {
                tokio::task::spawn_blocking(move || db.checkout().map(|conn| Connection { db, conn: Some(conn) })).await
            }
        };
        match opened {
            Ok(Ok(conn)) => Ok(Ok(self.table.push(conn)?)),
            Ok(Err(e)) => Ok(Err(sqlite::Error::Io(format!("cannot open database {database:?}: {e}")))),
            Err(e) => Ok(Err(sqlite::Error::Io(format!("cannot open database {database:?}: {e}")))),
        }
    }

    async fn execute(
        &mut self,
        connection: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, sqlite::Error>> {
        let Some(conn) = self.table.get_mut(&connection).ok().and_then(|c| c.conn.take()) else {
            return Ok(Err(sqlite::Error::InvalidConnection));
        };
        let ran = tokio::task::spawn_blocking(move || {
            let result = execute(&conn, &statement, parameters);
            (conn, result)
        })
        .await;
        let (conn, result) = match ran {
            Ok(done) => done,
            // The statement panicked on the blocking pool; the connection is gone.
            Err(e) => return Ok(Err(sqlite::Error::Io(format!("statement failed: {e}")))),
        };
        match self.table.get_mut(&connection) {
            Ok(entry) => entry.conn = Some(conn),
            Err(_) => return Ok(Err(sqlite::Error::InvalidConnection)),
        }
        Ok(result.map_err(|e| sqlite::Error::Io(e.to_string())))
    }

    async fn drop(&mut self, connection: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_value_type_and_transactions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("t.db");
        let db = Arc::new(Database::new("t", &file));
        assert!(db.checkout().is_err(), "a missing file is not created by a request");
        db.checkin(civic::platform::native::open_db(&file).expect("created, as at the host's start"));
        let conn = db.checkout().expect("opens");
        execute(&conn, "CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB, n)", vec![]).expect("create");
        let params = vec![
            Value::Integer(i64::MIN),
            Value::Real(-1.5e300),
            Value::Text("Phở Bà Hà Nội".into()),
            Value::Blob(vec![0, 255, 7]),
            Value::Null,
        ];
        let r = execute(&conn, "INSERT INTO v VALUES (?, ?, ?, ?, ?)", params).expect("insert");
        assert!(r.rows.is_empty());
        let r = execute(&conn, "SELECT i, r, t, b, n FROM v", vec![]).expect("select");
        assert_eq!(r.columns, vec!["i", "r", "t", "b", "n"]);
        assert_eq!(r.rows.len(), 1);
        let v = &r.rows[0].values;
        assert!(matches!(v[0], Value::Integer(i64::MIN)));
        assert!(matches!(v[1], Value::Real(f) if f == -1.5e300));
        assert!(matches!(&v[2], Value::Text(s) if s == "Phở Bà Hà Nội"));
        assert!(matches!(&v[3], Value::Blob(b) if b == &[0, 255, 7]));
        assert!(matches!(v[4], Value::Null));

        execute(&conn, "BEGIN", vec![]).expect("begin");
        execute(&conn, "INSERT INTO v (i) VALUES (1)", vec![]).expect("insert");
        execute(&conn, "ROLLBACK", vec![]).expect("rollback");
        let r = execute(&conn, "SELECT count(*) AS c FROM v", vec![]).expect("count");
        assert!(matches!(r.rows[0].values[0], Value::Integer(1)));

        let e = execute(&conn, "SELEKT 1", vec![]).expect_err("syntax error");
        assert!(e.to_string().contains("syntax"), "{e}");

        // A connection left inside a transaction is not pooled.
        execute(&conn, "BEGIN", vec![]).expect("begin");
        db.checkin(conn);
        assert_eq!(db.idle.lock().map(|i| i.len()).unwrap_or(99), 0);
        let conn = db.checkout().expect("opens");
        db.checkin(conn);
        assert_eq!(db.idle.lock().map(|i| i.len()).unwrap_or(99), 1);

        // The file deleted under the host: no idle connection writes on to it.
        std::fs::remove_file(&file).expect("delete");
        assert!(db.checkout().is_err(), "the pooled connection to a deleted file is not handed out");
        assert!(!file.exists(), "and no new file is made");
    }
}
