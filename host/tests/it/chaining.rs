//! Local service chaining: a component's request to `http://<id>.spin.internal/...` runs the
//! component `<id>` of the same application in-process, as on Spin (see `civic_host::outbound`).
//!
//! The test guest's `/outbound?url=U` sends `U` and reports what came back; the application
//! (`chaining_manifest_for`) has a `target` component with a private route, its own environment,
//! variable and database, and callers with different `allowed_outbound_hosts`.

use crate::client::{Client, get, raw_exchange};
use crate::host::{Host, chaining_manifest_for, guest_wasm};
use crate::json;

fn started() -> Host {
    Host::start(&chaining_manifest_for(&guest_wasm()), &[])
}

/// Percent-encodes everything but unreserved characters, for a URL inside a query.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What `caller`'s `/outbound` reports after sending `method` with `body` to `url`.
fn outbound(host: &Host, caller: &str, url: &str, method: &str, body: &[u8]) -> serde_json::Value {
    let path = format!("/{caller}/outbound?url={}&method={method}", enc(url));
    let r = Client::connect(host.addr).request(if body.is_empty() { "GET" } else { "POST" }, &path, &[], body);
    assert_eq!(r.status, 200, "{caller} -> {url}: {}", String::from_utf8_lossy(&r.body));
    json(&r.body)
}

fn chained_get(host: &Host, caller: &str, url: &str) -> serde_json::Value {
    outbound(host, caller, url, "GET", b"")
}

#[test]
fn a_chained_request_reaches_its_component_as_on_spin() {
    let host = started();
    let r = chained_get(&host, "guest", "http://target.spin.internal/echo?q=ph%E1%BB%9F&n=1");
    assert_eq!(r["status"], 200, "{r}");
    let echo = json(r["body"].as_str().unwrap().as_bytes());
    // The authority is the chaining host, in the URI; Spin sends no Host header.
    assert_eq!(echo["uri"], "http://target.spin.internal/echo?q=ph%E1%BB%9F&n=1");
    assert_eq!(echo["path"], "/echo");
    assert_eq!(echo["query"], "q=ph%E1%BB%9F&n=1");
    assert_eq!(echo["host"], serde_json::Value::Null, "no Host header, as on Spin");
    assert_eq!(echo["method"], "Method::Get");
    // Spin's synthetic route match: the whole path against `/...`.
    let h = &echo["headers"];
    assert_eq!(h["spin-path-info"], "/echo");
    assert_eq!(h["spin-matched-route"], "/...");
    assert_eq!(h["spin-raw-component-route"], "/...");
    assert_eq!(h["spin-component-route"], "");
    assert_eq!(h["spin-base-path"], "/");
    assert_eq!(h["spin-client-addr"], "0.0.0.0:0");
    assert_eq!(h["spin-full-url"], "http://localhost/echo?q=ph%E1%BB%9F&n=1", "Spin's URL without a Host");
    assert_eq!(h["x-test"], "chained", "the caller's headers arrive");
    assert_eq!(echo["env"], "target-env", "the target's own environment");

    // Both requests are logged.
    host.wait_for_line(|l| l.starts_with("GET /echo 200 ") && l.ends_with("us"));
    host.wait_for_line(|l| l.starts_with("GET /guest/outbound 200 ") && l.ends_with("us"));

    // A component may chain to itself.
    let r = chained_get(&host, "guest", "http://guest.spin.internal/hello");
    assert_eq!((r["status"].as_u64(), r["body"].as_str()), (Some(200), Some("hello")), "{r}");
}

#[test]
fn status_headers_and_body_come_back_intact() {
    let host = started();
    // A body of several MiB, multi-byte UTF-8, goes to the target and back.
    let body = "Phở Bà, Huế 🍜 — phản ánh hiện trường. ".repeat(100_000);
    assert!(body.len() > 4 << 20);
    let r = outbound(&host, "guest", "http://target.spin.internal/respond?status=418", "POST", body.as_bytes());
    assert_eq!(r["status"], 418, "{}", r["error"]);
    assert_eq!(r["body_len"], body.len());
    assert!(r["body"] == body.as_str(), "the body came back changed");
    assert_eq!(r["headers"]["x-from"], "target-env");
    assert_eq!(r["headers"]["x-method"], "Method::Post");
    host.wait_for_line(|l| l.starts_with("POST /respond 418 "));

    let r = chained_get(&host, "guest", "http://target.spin.internal/respond?status=201&body=t%E1%BA%A1o");
    assert_eq!((r["status"].as_u64(), r["body"].as_str()), (Some(201), Some("tạo")), "{r}");

    // What the target answers is what the caller gets, a 404 included.
    let r = chained_get(&host, "guest", "http://target.spin.internal/nope");
    assert_eq!(r["status"], 404, "{r}");
    assert_eq!(r["body"], "no test route \"/nope\"");

    // A target that traps answers 500, and the caller goes on.
    let r = chained_get(&host, "guest", "http://target.spin.internal/trap");
    assert_eq!(r["status"], 500, "{r}");
    host.wait_for_line(|l| l.starts_with("GET /trap 500 "));
}

#[test]
fn the_target_runs_with_its_own_configuration() {
    let host = started();
    let r = chained_get(&host, "guest", "http://target.spin.internal/var?name=greeting");
    assert_eq!(json(r["body"].as_str().unwrap().as_bytes())["value"], "xin chào", "{r}");
    let own = json(&get(host.addr, "/guest/var?name=greeting").body);
    assert!(own["error"].as_str().unwrap().starts_with("Error::Undefined("), "the caller has no such variable");

    let r = chained_get(&host, "guest", "http://target.spin.internal/sqlite/open?label=main");
    assert_eq!(json(r["body"].as_str().unwrap().as_bytes())["ok"], true, "{r}");
    let own = json(&get(host.addr, "/guest/sqlite/open?label=main").body);
    assert_eq!(own["error"], "Error::AccessDenied", "the caller may not open it");

    // The target's own allow list (empty) applies to its requests, not the caller's.
    let inner = format!("http://target.spin.internal/outbound?url={}", enc("http://guest.spin.internal/hello"));
    let r = chained_get(&host, "guest", &inner);
    let nested = json(r["body"].as_str().unwrap().as_bytes());
    assert_eq!(nested["error"], "Http(ErrorCode::HttpRequestDenied)", "{r}");
}

#[test]
fn chaining_needs_the_allow_list_entry() {
    let host = started();
    let denied = |caller: &str, url: &str| {
        let r = chained_get(&host, caller, url);
        assert_eq!(r["error"], "Http(ErrorCode::HttpRequestDenied)", "{caller} -> {url}: {r}");
    };
    denied("limited", "http://target.spin.internal/hello");
    host.wait_for_stderr("add \"http://target.spin.internal\" to allowed_outbound_hosts of [component.limited]");
    // `http://target.spin.internal` allows that component only.
    let r = chained_get(&host, "narrow", "http://target.spin.internal/hello");
    assert_eq!(r["body"], "hello", "{r}");
    denied("narrow", "http://guest.spin.internal/hello");
    // `http://*.spin.internal`: the components of the application, on port 80, over http.
    denied("guest", "http://target.spin.internal:8080/hello");
    denied("guest", "https://target.spin.internal/hello");
    denied("guest", "http://nope.spin.internal/hello");
    denied("guest", "http://a.target.spin.internal/hello");
}

#[test]
fn an_unknown_component_traps_the_caller_as_on_spin() {
    let host = started();
    // Allowed by `*://*:*`, but no such component: Spin's `unknown routing destination` trap.
    let r = get(host.addr, &format!("/loose/outbound?url={}", enc("http://nope.spin.internal/hello")));
    assert_eq!(r.status, 500);
    host.wait_for_stderr("component \"loose\" trapped");
    host.wait_for_stderr("has no HTTP component \"nope\" (unknown routing destination)");
    // A component without an HTTP trigger is no routing destination either, though
    // `*.spin.internal` allows it (Spin expands the wildcard to every component).
    let r = get(host.addr, &format!("/guest/outbound?url={}", enc("http://unrouted.spin.internal/hello")));
    assert_eq!(r.status, 500);
    host.wait_for_stderr("has no HTTP component \"unrouted\"");
    host.wait_for_line(|l| l.starts_with("GET /guest/outbound 500 "));

    // Scheme and port only matter to the allow list: this one is chained, over http.
    let r = chained_get(&host, "loose", "https://target.spin.internal:8443/echo");
    assert_eq!(r["status"], 200, "{r}");
    let echo = json(r["body"].as_str().unwrap().as_bytes());
    assert_eq!(echo["uri"], "http://target.spin.internal:8443/echo");
}

#[test]
fn a_client_cannot_pose_as_a_chained_request() {
    let host = started();
    // Spin drops a `Host: *.spin.internal` from the network; with no authority left the
    // request is refused.
    let (_, r) =
        raw_exchange(host.addr, b"GET /guest/echo HTTP/1.1\r\nHost: target.spin.internal\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 400);
    // An absolute-form request keeps the authority of its URI.
    let (_, r) = raw_exchange(
        host.addr,
        format!(
            "GET http://{0}/guest/echo HTTP/1.1\r\nHost: target.spin.internal\r\nConnection: close\r\n\r\n",
            host.addr
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 200);
    let echo = json(&r.body);
    assert_eq!(echo["uri"], format!("http://{}/guest/echo", host.addr));
    assert_eq!(echo["host"], serde_json::Value::Null);
}
