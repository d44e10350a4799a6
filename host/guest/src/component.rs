//! The component itself (only built for WASI).

use serde_json::{Value as Json, json};
use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::http_component;
use spin_sdk::sqlite::{Connection, Value};
use spin_sdk::variables;

#[http_component]
async fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let info = header(&req, "spin-path-info");
    let query = req.query().to_owned();
    let body = match info.as_str() {
        "/hello" => return Ok(Response::builder().status(200).body("hello").build()),
        "" | "/echo" => echo(&req),
        "/sqlite" => sqlite_round_trip(&param(&query, "label").unwrap_or_else(|| "main".into())),
        "/sqlite/open" => open(&param(&query, "label").unwrap_or_default()),
        "/var" => var(&param(&query, "name").unwrap_or_default()),
        "/outbound" => outbound(&req, &query).await,
        "/respond" => return Ok(respond(&req, &query)),
        "/trap" => panic!("trap requested by the test"),
        _ => {
            return Ok(Response::builder().status(404).body(format!("no test route {info:?}")).build());
        }
    };
    Ok(Response::builder().status(200).header("content-type", "application/json").body(body.to_string()).build())
}

fn header(req: &Request, name: &str) -> String {
    req.header(name).and_then(|v| v.as_str()).unwrap_or_default().to_owned()
}

/// The value of a query parameter, form-urldecoded (`%XX` and `+`).
fn param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn echo(req: &Request) -> Json {
    let mut spin = serde_json::Map::new();
    for (name, value) in req.headers() {
        if name.starts_with("spin-") || name.starts_with("x-") {
            spin.insert(name.to_owned(), json!(value.as_str().unwrap_or_default()));
        }
    }
    json!({
        "uri": req.uri(),
        "path": req.path(),
        "query": req.query(),
        "method": format!("{:?}", req.method()),
        "headers": spin,
        "host": req.header("host").and_then(|v| v.as_str()),
        "env": std::env::var("CIVIC_TEST_ENV").ok(),
        "body": String::from_utf8_lossy(req.body()),
    })
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Integer(i) => json!({ "integer": i }),
        Value::Real(f) => json!({ "real": f }),
        Value::Text(s) => json!({ "text": s }),
        Value::Blob(b) => json!({ "blob": b }),
        Value::Null => json!("null"),
    }
}

fn sqlite_round_trip(label: &str) -> Json {
    match try_round_trip(label) {
        Ok(j) => j,
        Err(e) => json!({ "error": format!("{e:?}") }),
    }
}

fn count(db: &Connection) -> Result<i64, spin_sdk::sqlite::Error> {
    let r = db.execute("SELECT count(*) FROM t", &[])?;
    Ok(match r.rows.first().and_then(|row| row.values.first()) {
        Some(Value::Integer(n)) => *n,
        _ => -1,
    })
}

fn try_round_trip(label: &str) -> Result<Json, spin_sdk::sqlite::Error> {
    let db = Connection::open(label)?;
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB, n)", &[])?;
    db.execute("DELETE FROM t", &[])?;
    db.execute(
        "INSERT INTO t (i, r, s, b, n) VALUES (?, ?, ?, ?, ?)",
        &[
            Value::Integer(i64::MAX),
            Value::Real(-0.125),
            Value::Text("Phở Bà, Huế 🍜".into()),
            Value::Blob(vec![0, 1, 127, 128, 255]),
            Value::Null,
        ],
    )?;
    let selected = db.execute("SELECT i, r, s, b, n FROM t", &[])?;
    let rows: Vec<Json> =
        selected.rows.iter().map(|row| Json::Array(row.values.iter().map(value_json).collect())).collect();

    db.execute("BEGIN", &[])?;
    db.execute("INSERT INTO t (i) VALUES (?)", &[Value::Integer(2)])?;
    let inside = count(&db)?;
    db.execute("ROLLBACK", &[])?;
    let after_rollback = count(&db)?;

    db.execute("BEGIN", &[])?;
    db.execute("INSERT INTO t (i) VALUES (?)", &[Value::Integer(3)])?;
    db.execute("COMMIT", &[])?;
    let after_commit = count(&db)?;

    let bad = db.execute("SELECT * FROM no_such_table", &[]).err().map(|e| format!("{e:?}"));
    Ok(json!({
        "columns": selected.columns,
        "rows": rows,
        "inside_transaction": inside,
        "after_rollback": after_rollback,
        "after_commit": after_commit,
        "bad_statement": bad,
    }))
}

fn open(label: &str) -> Json {
    match Connection::open(label) {
        Ok(_) => json!({ "ok": true }),
        Err(e) => json!({ "error": format!("{e:?}") }),
    }
}

fn var(name: &str) -> Json {
    match variables::get(name) {
        Ok(v) => json!({ "value": v }),
        Err(e) => json!({ "error": format!("{e:?}") }),
    }
}

/// Sends `method` (default GET) to `url` with this request's body and an `x-test` header.
async fn outbound(req: &Request, query: &str) -> Json {
    let url = param(query, "url").unwrap_or_default();
    let method = match param(query, "method").as_deref() {
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        _ => Method::Get,
    };
    let out = Request::builder().method(method).uri(url).header("x-test", "chained").body(req.body().to_vec()).build();
    match spin_sdk::http::send::<_, Response>(out).await {
        Ok(resp) => {
            let headers: serde_json::Map<String, Json> = resp
                .headers()
                .filter(|(name, _)| name.starts_with("x-") || *name == "content-type")
                .map(|(name, value)| (name.to_owned(), json!(value.as_str().unwrap_or_default())))
                .collect();
            json!({
                "status": resp.status(),
                "headers": headers,
                "body": String::from_utf8_lossy(resp.body()),
                "body_len": resp.body().len(),
            })
        }
        Err(e) => json!({ "error": format!("{e:?}") }),
    }
}

/// Answers `status` (default 200) with `body` or else the request's own body, and headers
/// `x-from` (the `CIVIC_TEST_ENV` environment variable) and `x-method`.
fn respond(req: &Request, query: &str) -> Response {
    let status: u16 = param(query, "status").and_then(|s| s.parse().ok()).unwrap_or(200);
    let body = param(query, "body").map(String::into_bytes).unwrap_or_else(|| req.body().to_vec());
    Response::builder()
        .status(status)
        .header("x-from", std::env::var("CIVIC_TEST_ENV").unwrap_or_default())
        .header("x-method", format!("{:?}", req.method()))
        .body(body)
        .build()
}
