//! Integration tests of `civic-host`: the real binary serving the test guest
//! (`host/guest`, built for `wasm32-wasip2`) over real HTTP.
//!
//! Each test writes its own `spin.toml` and `runtime-config.toml` into a temporary directory,
//! starts the host on `127.0.0.1:0`, waits for its `Serving http://ADDR` line and talks to it
//! with the project's HTTP client (`client`). The host process is killed when the test's [`Host`]
//! guard is dropped, also when the test fails.

// Test code: the latency report measures time, which the workspace lint forbids for Wasm code.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod chaining;
mod client;
mod host;

use client::{Client, get, raw_exchange};
use host::{Host, guest_wasm, manifest_for};

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

fn started() -> Host {
    Host::start(&manifest_for(&guest_wasm()), &[("SPIN_VARIABLE_SECRET", "s3cret")])
}

#[test]
fn unknown_routes_are_404_and_health_answers() {
    let host = started();
    for path in ["/", "/nope", "/guestx/hello", "/limite"] {
        let r = get(host.addr, path);
        assert_eq!(r.status, 404, "{path}");
        assert!(r.body.is_empty(), "{path}");
    }
    let r = get(host.addr, "/.well-known/spin/health");
    assert_eq!((r.status, r.body.as_slice()), (200, b"OK".as_slice()));
    // No component ran for those: the only log lines are the requests themselves.
    host.wait_for_line(|l| l.starts_with("GET /nope 404 ") && l.ends_with("us"));
}

#[test]
fn spin_headers_and_uri_are_set_as_spin_does() {
    let host = started();
    // Raw: the host must report this connection's own address.
    let (local, r) = raw_exchange(
        host.addr,
        format!(
            "GET /guest/echo?q=ph%E1%BB%9F&n=1 HTTP/1.1\r\nHost: {}\r\nspin-path-info: /spoofed\r\n\
             Connection: close\r\n\r\n",
            host.addr
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 200);
    let j = json(&r.body);
    let h = &j["headers"];
    let base = format!("http://{}", host.addr);
    assert_eq!(h["spin-full-url"], format!("{base}/guest/echo?q=ph%E1%BB%9F&n=1"));
    assert_eq!(h["spin-path-info"], "/echo", "the client's own spin-path-info is replaced");
    assert_eq!(h["spin-matched-route"], "/guest/...");
    assert_eq!(h["spin-raw-component-route"], "/guest/...");
    assert_eq!(h["spin-component-route"], "/guest");
    assert_eq!(h["spin-base-path"], "/");
    assert_eq!(h["spin-client-addr"], local.to_string());
    assert_eq!(j["uri"], format!("{base}/guest/echo?q=ph%E1%BB%9F&n=1"));
    assert_eq!(j["path"], "/guest/echo");
    assert_eq!(j["query"], "q=ph%E1%BB%9F&n=1");
    assert_eq!(j["method"], "Method::Get");
    assert_eq!(j["env"], "env-ok", "[component.x] environment reaches the guest");

    let mut c = Client::connect(host.addr);

    // The authority comes from the Host header.
    let r = c.request("POST", "/guest/echo", &[("Host", "civic.example.vn:8080")], b"body");
    let j = json(&r.body);
    assert_eq!(j["uri"], "http://civic.example.vn:8080/guest/echo");
    assert_eq!(j["headers"]["spin-full-url"], "http://civic.example.vn:8080/guest/echo");
    assert_eq!(j["method"], "Method::Post");
    assert_eq!(j["body"], "body", "the request body reaches the guest");

    // Exact route: empty path info, the route itself as component route.
    let r = c.request("GET", "/exact/", &[], b"");
    let j = json(&r.body);
    assert_eq!(j["headers"]["spin-path-info"], "");
    assert_eq!(j["headers"]["spin-matched-route"], "/exact");
    assert_eq!(j["headers"]["spin-component-route"], "/exact");
    assert_eq!(j["headers"]["spin-raw-component-route"], "/exact");
    assert_eq!(j["path"], "/exact/");
    let r = c.request("GET", "/guest/echo/", &[], b"");
    assert_eq!(r.status, 404, "the trailing slash stays in the path info (/echo/), unknown to the guest");

    // A named segment is captured.
    let r = c.request("GET", "/named/HS-001/echo", &[], b"");
    let j = json(&r.body);
    assert_eq!(j["headers"]["spin-path-match-dossier-code"], "HS-001");
    assert_eq!(j["headers"]["spin-component-route"], "/named/:dossier_code");
    assert_eq!(j["headers"]["spin-path-info"], "/echo");
}

#[test]
fn malformed_host_header_is_a_400_not_a_crash() {
    let host = started();
    let (_, r) =
        raw_exchange(host.addr, b"GET /guest/hello HTTP/1.1\r\nHost: bad host header\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 400);
    let r = get(host.addr, "/guest/hello");
    assert_eq!((r.status, r.body.as_slice()), (200, b"hello".as_slice()));
}

#[test]
fn sqlite_round_trips_every_type_and_transactions() {
    let host = started();
    let r = get(host.addr, "/guest/sqlite?label=main");
    assert_eq!(r.status, 200);
    let j = json(&r.body);
    assert_eq!(j["columns"], serde_json::json!(["i", "r", "s", "b", "n"]));
    assert_eq!(
        j["rows"],
        serde_json::json!([[
            { "integer": i64::MAX },
            { "real": -0.125 },
            { "text": "Phở Bà, Huế 🍜" },
            { "blob": [0, 1, 127, 128, 255] },
            "null"
        ]])
    );
    assert_eq!(j["inside_transaction"], 2);
    assert_eq!(j["after_rollback"], 1, "ROLLBACK undid the insert");
    assert_eq!(j["after_commit"], 2, "COMMIT kept it");
    let bad = j["bad_statement"].as_str().unwrap_or_default();
    assert!(bad.starts_with("Error::Io(") && bad.contains("no such table"), "{bad}");

    // The runtime config maps `main` to its file name under --data, and the migration ran.
    let file = host.data_dir().join("main-file.db");
    assert!(file.is_file(), "{} exists", file.display());
    let conn = rusqlite::Connection::open(&file).unwrap();
    let migrated: i64 = conn.query_row("SELECT count(*) FROM migrated", [], |row| row.get(0)).unwrap();
    assert_eq!(migrated, 1);
    let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0)).unwrap();
    assert_eq!(rows, 2, "the guest's committed rows are in the file");
    host.wait_for_line(|l| l.starts_with("Database \"main\" at ") && l.ends_with("applied 0001_init.sql"));
    host.wait_for_line(|l| l.starts_with("Database \"default\" at ") && l.ends_with("up to date"));
}

#[test]
fn sqlite_labels_are_checked() {
    let host = started();
    let open = |path: &str| json(&get(host.addr, path).body);
    assert_eq!(open("/guest/sqlite/open?label=other")["error"], "Error::AccessDenied", "undeclared label");
    assert_eq!(
        open("/limited/sqlite/open?label=main")["error"],
        "Error::AccessDenied",
        "declared by another component"
    );
    assert_eq!(open("/limited/sqlite/open?label=default")["error"], "Error::AccessDenied", "default is a label too");
    assert_eq!(open("/guest/sqlite/open?label=default")["ok"], true);
    assert!(
        host.data_dir().join("default.db").is_file(),
        "a label absent from the runtime config is <data>/<label>.db"
    );
}

#[test]
fn variables_come_from_env_then_defaults() {
    let host = started();
    let var = |name: &str| json(&get(host.addr, &format!("/guest/var?name={name}")).body);
    assert_eq!(var("greeting")["value"], "xin chào", "default");
    assert_eq!(var("secret")["value"], "s3cret", "SPIN_VARIABLE_SECRET");
    assert_eq!(var("mixed")["value"], "<xin chào|s3cret>", "template with literal text");
    assert_eq!(var("literal")["value"], "just text");
    let undefined = var("not_declared")["error"].as_str().unwrap_or_default().to_owned();
    assert!(undefined.starts_with("Error::Undefined("), "{undefined}");
    let invalid = var("Bad-Name")["error"].as_str().unwrap_or_default().to_owned();
    assert!(invalid.starts_with("Error::InvalidName("), "{invalid}");
    // An application variable the component does not declare is not visible to it.
    let hidden = json(&get(host.addr, "/limited/var?name=greeting").body);
    assert!(hidden["error"].as_str().unwrap_or_default().starts_with("Error::Undefined("));

    // The environment overrides a default too.
    let host2 = Host::start(
        &manifest_for(&guest_wasm()),
        &[("SPIN_VARIABLE_SECRET", "x"), ("SPIN_VARIABLE_GREETING", "chào buổi sáng")],
    );
    let r = json(&get(host2.addr, "/guest/var?name=greeting").body);
    assert_eq!(r["value"], "chào buổi sáng");
}

#[test]
fn a_required_variable_without_value_stops_the_start() {
    let out = Host::run_to_exit(&manifest_for(&guest_wasm()), &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("secret (set SPIN_VARIABLE_SECRET)"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Serving"));
}

#[test]
fn a_failing_migration_stops_the_start() {
    let out = Host::run_to_exit_with(
        &manifest_for(&guest_wasm()),
        &[("SPIN_VARIABLE_SECRET", "x")],
        "CREATE TABLE broken (;",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("migrating database \"main\"") && stderr.contains("0001_init.sql"), "{stderr}");
}

/// A stand-in server (tiny_http) on 127.0.0.1 answering `pong` to every request.
fn pong_server() -> std::net::SocketAddr {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let addr = server.server_addr().to_ip().unwrap();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let _ = request.respond(tiny_http::Response::from_string("pong"));
        }
    });
    addr
}

#[test]
fn outbound_http_is_limited_to_allowed_hosts() {
    let host = started();
    let pong = pong_server();
    let url = |host: &str| format!("http%3A%2F%2F{host}%3A{}%2Fping", pong.port());

    let r = json(&get(host.addr, &format!("/guest/outbound?url={}", url("127.0.0.1"))).body);
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["body"], "pong");

    let denied = json(&get(host.addr, &format!("/limited/outbound?url={}", url("127.0.0.1"))).body);
    assert_eq!(denied["error"], "Http(ErrorCode::HttpRequestDenied)", "no allowed_outbound_hosts: nothing allowed");

    let other_host = json(&get(host.addr, &format!("/guest/outbound?url={}", url("localhost"))).body);
    assert_eq!(other_host["error"], "Http(ErrorCode::HttpRequestDenied)", "localhost is not 127.0.0.1");

    let https = json(&get(host.addr, "/guest/outbound?url=https%3A%2F%2F127.0.0.1%3A1%2F").body);
    assert_eq!(https["error"], "Http(ErrorCode::HttpRequestDenied)", "scheme must match");
}

#[test]
fn a_trap_is_a_500_for_that_request_only() {
    let host = started();
    let mut c = Client::connect(host.addr);
    let r = c.request("GET", "/guest/trap", &[], b"");
    assert_eq!(r.status, 500);
    let r = c.request("GET", "/guest/hello", &[], b"");
    assert_eq!((r.status, r.body.as_slice()), (200, b"hello".as_slice()));
    let r = get(host.addr, "/guest/hello");
    assert_eq!(r.status, 200);
    host.wait_for_line(|l| l.starts_with("GET /guest/trap 500 ") && l.ends_with("us"));
    host.wait_for_stderr("trap requested by the test");
}

#[test]
fn each_request_is_logged() {
    let host = started();
    get(host.addr, "/guest/hello?secret=not-logged");
    let line = host.wait_for_line(|l| l.starts_with("GET /guest/hello 200 "));
    let micros = line.trim_start_matches("GET /guest/hello 200 ").strip_suffix("us").unwrap();
    assert!(micros.parse::<u64>().is_ok(), "{line}");
    assert!(!host.stdout().contains("not-logged"), "the query is not logged");
}

#[test]
fn routes_are_listed_when_ready() {
    let host = started();
    let base = format!("http://{}", host.addr);
    for line in [
        format!("Serving {base}"),
        "Available Routes:".to_owned(),
        format!("  guest: {base}/guest (wildcard)"),
        format!("  limited: {base}/limited (wildcard)"),
        format!("  exact: {base}/exact"),
        format!("  named: {base}/named/:dossier_code (wildcard)"),
    ] {
        host.wait_for_line(|l| l == line);
    }
    // Each source compiled once, timed (`cargo xtask bench` reads these).
    host.wait_for_line(|l| l.starts_with("Component \"") && l.contains("\": compiled in ") && l.contains(" ms ("));
    let out = host.stdout();
    let serving = out.lines().position(|l| l.starts_with("Serving ")).unwrap();
    assert_eq!(out.lines().nth(serving + 1), Some("Available Routes:"), "{out}");
}

#[test]
fn sigterm_stops_the_host_with_status_0() {
    let mut host = started();
    assert_eq!(get(host.addr, "/guest/hello").status, 200);
    let status = host.terminate();
    assert!(status.success(), "{status:?}");
    host.wait_for_line(|l| l == "Shutting down");
}

#[test]
fn cli_help_and_errors() {
    let bin = env!("CARGO_BIN_EXE_civic-host");
    let out = std::process::Command::new(bin).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--runtime-config PATH"));
    let out = std::process::Command::new(bin).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(bin).args(["--manifest", "/nonexistent/spin.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read manifest /nonexistent/spin.toml"));
}

/// Not a pass/fail test: prints the latency of a trivial request (200 sequential requests on
/// one keep-alive connection). Run with `--nocapture` to see it.
#[test]
fn latency_report() {
    let host = started();
    let mut c = Client::connect(host.addr);
    for _ in 0..20 {
        c.request("GET", "/guest/hello", &[], b"");
    }
    let mut micros: Vec<u128> = (0..200)
        .map(|_| {
            let t = std::time::Instant::now();
            let r = c.request("GET", "/guest/hello", &[], b"");
            assert_eq!(r.status, 200);
            t.elapsed().as_micros()
        })
        .collect();
    micros.sort_unstable();
    let mean = micros.iter().sum::<u128>() / micros.len() as u128;
    eprintln!(
        "latency of GET /guest/hello over keep-alive, 200 requests: mean {mean}us, p50 {}us, p90 {}us, p99 {}us, max {}us",
        micros[100], micros[180], micros[198], micros[199]
    );
}
