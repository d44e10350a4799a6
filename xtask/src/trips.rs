//! Database round trips per route: every route of the five functions called once, natively
//! and in-process (each function's `handle` on a [`NativePlatform`] over demo data), through
//! [`Counted`], which records one call per round trip (a `batch` of any length is one, as on
//! D1). A measurement, never a test: nothing here passes or fails on a figure.
//!
//! [`table`] makes the demo data in a temporary folder (`cargo xtask migrate --demo`), runs
//! the routes in an order where each finds what it reads (an order before its IPN, a photo
//! before its fetch) and returns one [`Row`] per route; [`markdown`] writes them as the rows
//! of a markdown table, for `cargo xtask bench` and BENCHMARKS.md.
//!
//! What is counted is the handler's own work: the same calls reach D1 from a Worker, and a
//! remote libSQL server from Spin. The outbox deliveries a response marks for after the
//! answer ([`civic::outbox::soon`]) are the entry point's, after the response, and are not
//! counted; nor is any `fetch` (the chat bot's replies fail fast natively: no host is
//! allowed).

use std::time::Instant;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use civic::platform::counted::Counted;
use civic::platform::native::{NativePlatform, block_on};

/// Calls of a read route timed for its native p50 (its round trips are those of the first).
const TIMED: usize = 21;

/// One route, called once.
#[derive(Clone, Debug)]
pub struct Row {
    /// The function's crate name.
    pub function: &'static str,
    /// What the call was (e.g. `dossier lookup, verified (?phone=)`).
    pub name: String,
    pub method: &'static str,
    /// The path with its parameters as placeholders, as in docs/openapi.json.
    pub template: &'static str,
    /// A read route: answers from what is stored; its writes, if any, are bookkeeping (a
    /// rate-limit count, a stored callback).
    pub read: bool,
    /// The HTTP status answered.
    pub status: u16,
    /// Database round trips (`query`, `execute`, `batch`: one each).
    pub trips: usize,
    /// SQL statements across them.
    pub statements: usize,
    /// `query`/`execute`/`batch(n)` per round trip, in order, with the database label.
    pub calls: String,
    /// Native time of the handler in µs: the p50 of [`TIMED`] calls for a read route, the one
    /// call for a write.
    pub micros: u64,
}

/// One request of the run.
struct Call<'a> {
    function: &'static str,
    name: &'a str,
    method: &'static str,
    template: &'static str,
    path: &'a str,
    headers: &'a [(&'a str, String)],
    body: Bytes,
    read: bool,
}

fn request(c: &Call<'_>) -> Result<http::Request<Bytes>> {
    let mut req = http::Request::builder().method(c.method).uri(c.path);
    for (k, v) in c.headers {
        req = req.header(*k, v.as_str());
    }
    Ok(req.body(c.body.clone())?)
}

fn dispatch(env: &Counted<NativePlatform>, function: &str, req: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
    Ok(match function {
        "food-safety" => block_on(food_safety::handle(req, env)),
        "permit-status" => block_on(permit_status::handle(req, env)),
        "payment-callback" => block_on(payment_callback::handle(req, env)),
        "report-submission" => block_on(report_submission::handle(req, env)),
        "chat" => block_on(chat::handle(req, env)),
        other => bail!("no function {other}"),
    })
}

/// The routes run, in order, and their rows.
struct Run {
    env: Counted<NativePlatform>,
    rows: Vec<Row>,
}

impl Run {
    /// Calls `c` once, counted (then, for a read, [`TIMED`] times more for its p50); its row,
    /// and the answer of the first call.
    fn call(&mut self, c: &Call<'_>) -> Result<(u16, Bytes)> {
        self.env.take();
        let t = Instant::now();
        let resp = dispatch(&self.env, c.function, request(c)?)?;
        let first = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
        let calls = self.env.take();
        let status = resp.status().as_u16();
        let body = resp.into_body();
        let micros = if c.read {
            let mut times = Vec::with_capacity(TIMED);
            for _ in 0..TIMED {
                let t = Instant::now();
                dispatch(&self.env, c.function, request(c)?)?;
                times.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
            self.env.take();
            times.sort_unstable();
            times[TIMED / 2]
        } else {
            first
        };
        let described: Vec<String> = calls
            .iter()
            .map(|k| {
                if k.kind == "batch" {
                    format!("{} batch({})", k.db, k.statements.len())
                } else {
                    format!("{} {}", k.db, k.kind)
                }
            })
            .collect();
        self.rows.push(Row {
            function: c.function,
            name: c.name.to_owned(),
            method: c.method,
            template: c.template,
            read: c.read,
            status,
            trips: calls.len(),
            statements: calls.iter().map(|k| k.statements.len()).sum(),
            calls: described.join(", "),
            micros,
        });
        Ok((status, body))
    }

    fn get(&mut self, function: &'static str, name: &str, template: &'static str, path: &str) -> Result<(u16, Bytes)> {
        self.call(&Call { function, name, method: "GET", template, path, headers: &[], body: Bytes::new(), read: true })
    }

    /// A signed SMS of `text` to `path`, then the gateway's redelivery of the same message
    /// (answered from what was stored): two rows, named by the text's keyword.
    fn sms_twice(&mut self, function: &'static str, secret: &str, path: &'static str, text: &str) -> Result<()> {
        let keyword = text.split_whitespace().next().unwrap_or_default();
        let (body, sig) = sms(secret, &format!("trips-{}", keyword.to_lowercase()), text);
        let headers = [("x-signature", sig)];
        let first_name = format!("SMS {keyword} (first)");
        let first = Call {
            function,
            name: &first_name,
            method: "POST",
            template: path,
            path,
            headers: &headers,
            body,
            read: false,
        };
        self.call(&first)?;
        let repeat_name = format!("SMS {keyword} (repeat of a stored message)");
        self.call(&Call { name: &repeat_name, read: true, ..first })?;
        Ok(())
    }
}

/// Every route once, natively over fresh demo data (a temporary folder, removed after):
/// one [`Row`] per route, in the order run.
///
/// # Errors
/// The demo data cannot be made, or a request cannot be built (a route answering an error
/// status is a row, not an error).
pub fn table() -> Result<Vec<Row>> {
    let data = std::env::temp_dir().join(format!("civic-trips-{}", std::process::id()));
    crate::up::migrate(&["--data".into(), data.display().to_string(), "--demo".into()])?;
    let result = crate::bench::native(&data).and_then(|env| {
        let mut run = Run { env: Counted::new(env), rows: Vec::new() };
        routes(&mut run)?;
        Ok(run.rows)
    });
    let _ = std::fs::remove_dir_all(&data);
    result
}

fn json(v: &serde_json::Value) -> Bytes {
    Bytes::from(v.to_string())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A signed SMS of `text` from a sender and id of its own.
fn sms(secret: &str, id: &str, text: &str) -> (Bytes, String) {
    let body = serde_json::json!({"id": id, "from": "84905111222", "to": "8188", "text": text}).to_string();
    let sig = civic::auth::hmac_sha256_hex(secret.as_bytes(), body.as_bytes());
    (Bytes::from(body), sig)
}

/// A 1×1 transparent PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[allow(clippy::too_many_lines)] // one route after another, in the order they depend on
fn routes(run: &mut Run) -> Result<()> {
    let vars = crate::up::demo_variables()?;
    let var = |k: &str| vars.get(k).cloned().unwrap_or_default();
    let now = chrono::Utc::now();
    let today = civic::web::vn_today(now);
    let admin = bearer(&crate::up::demo_token(&["admin"])?);
    let citizen = bearer(&crate::up::demo_token(&["citizen"])?);
    let system = bearer(&crate::up::demo_token(&["system"])?);

    // food-safety (the search is the lead's; reported here)
    const FOOD: &str = "food-safety";
    run.get(FOOD, "health", "/food-safety/health", "/food-safety/health")?;
    run.get(FOOD, "establishment by id", "/food-safety/establishments/{id}", "/food-safety/establishments/DN-000123")?;
    let search = "/food-safety/establishments?q=&district=&limit=";
    run.get(FOOD, "search, exact", search, "/food-safety/establishments?q=pho%20ba%20hoa&limit=10")?;
    run.get(FOOD, "search, typo", search, "/food-safety/establishments?q=mi%20quang%20ech%20bep%20trag&limit=10")?;
    run.get(FOOD, "search, common words", search, "/food-safety/establishments?q=banh%20mi&limit=10")?;
    run.get(FOOD, "search, with district", search, "/food-safety/establishments?q=mi%20quang&district=hai%20chau")?;
    run.get(
        FOOD,
        "near search",
        "/food-safety/establishments?near=&radius=&limit=",
        "/food-safety/establishments?near=16.0678,108.2208&radius=1000&limit=10",
    )?;
    let secret = var("sms_webhook_secret");
    run.sms_twice(FOOD, &secret, "/food-safety/sms", "ATTP pho ba hoa")?;

    // permit-status
    const PERMITS: &str = "permit-status";
    let dossiers = crate::demo::permits::dossiers(crate::demo::permits::COUNT, today);
    let first = dossiers.first().context("no demo dossier")?;
    let phone = first.pushes.first().and_then(|p| p["applicant"]["phone"].as_str()).unwrap_or("").to_owned();
    let last4 = &phone[phone.len().saturating_sub(4)..];
    let code = &first.code;
    run.get(PERMITS, "health", "/permits/health", "/permits/health")?;
    run.get(PERMITS, "dossier lookup, public", "/permits/{code}", &format!("/permits/{code}"))?;
    run.get(
        PERMITS,
        "dossier lookup, verified (?phone=)",
        "/permits/{code}?phone=",
        &format!("/permits/{code}?phone={last4}"),
    )?;
    let wrong = if last4 == "0000" { "1111" } else { "0000" };
    let auth = [("authorization", citizen.clone())];
    run.call(&Call {
        function: PERMITS,
        name: "dossier lookup, wrong last 4 (counted)",
        method: "GET",
        template: "/permits/{code}?phone=",
        path: &format!("/permits/{code}?phone={wrong}"),
        headers: &[],
        body: Bytes::new(),
        read: false,
    })?;
    run.call(&Call {
        function: PERMITS,
        name: "dossier lookup, citizen token",
        method: "GET",
        template: "/permits/{code}",
        path: &format!("/permits/{code}"),
        headers: &auth,
        body: Bytes::new(),
        read: true,
    })?;
    let free = dossiers.iter().find(|d| d.fee_vnd == 0).context("no free demo dossier")?;
    run.get(PERMITS, "dossier lookup, no fee", "/permits/{code}", &format!("/permits/{}", free.code))?;
    run.get(PERMITS, "dossier lookup, unknown code", "/permits/{code}", "/permits/000.00.19.H57-241105-9999")?;
    run.sms_twice(PERMITS, &secret, "/permits/sms", &format!("HS {code}"))?;
    let push: serde_json::Value = serde_json::from_str(include_str!("../../docs/examples/dossier-push.json"))?;
    let headers = [("authorization", system.clone()), ("content-type", "application/json".into())];
    let put = Call {
        function: PERMITS,
        name: "push, new dossier",
        method: "PUT",
        template: "/permits/{code}",
        path: "/permits/000.00.19.H57-241105-7777",
        headers: &headers,
        body: json(&push),
        read: false,
    };
    run.call(&put)?;
    run.call(&Call { name: "push, repeated", ..put })?;
    let headers = [("authorization", admin.clone())];
    run.call(&Call {
        function: PERMITS,
        name: "outbox list (admin)",
        method: "GET",
        template: "/permits/outbox",
        path: "/permits/outbox",
        headers: &headers,
        body: Bytes::new(),
        read: true,
    })?;

    // payment-callback
    const PAY: &str = "payment-callback";
    run.get(PAY, "health", "/payments/health", "/payments/health")?;
    let unpaid = dossiers.iter().find(|d| d.fee_vnd > 0 && !d.paid).context("no unpaid demo dossier")?;
    let headers = [("authorization", citizen.clone()), ("content-type", "application/json".into())];
    let (status, created) = run.call(&Call {
        function: PAY,
        name: "order created (VNPay)",
        method: "POST",
        template: "/payments/orders",
        path: "/payments/orders",
        headers: &headers,
        body: json(&serde_json::json!({"dossier_code": unpaid.code, "provider": "vnpay"})),
        read: false,
    })?;
    if status != 201 {
        bail!("order creation answered {status}: {}", String::from_utf8_lossy(&created));
    }
    let order: serde_json::Value = serde_json::from_slice(&created)?;
    let order_id = order["order_id"].as_str().unwrap_or_default().to_owned();
    let auth = [("authorization", citizen.clone())];
    run.call(&Call {
        function: PAY,
        name: "order view (its owner)",
        method: "GET",
        template: "/payments/orders/{order_id}",
        path: &format!("/payments/orders/{order_id}"),
        headers: &auth,
        body: Bytes::new(),
        read: true,
    })?;
    let ipn = crate::load::vnpay_ipn_path(&order, 777)?;
    let vnpay = Call {
        function: PAY,
        name: "VNPay IPN (first: settles)",
        method: "GET",
        template: "/payments/vnpay/ipn?…",
        path: &ipn,
        headers: &[],
        body: Bytes::new(),
        read: false,
    };
    run.call(&vnpay)?;
    run.call(&Call { name: "VNPay IPN (repeat, order paid)", read: true, ..vnpay })?;
    // The demo's paid orders: the second is MoMo's, the third ZaloPay's (up::load_demo).
    let paid: Vec<&crate::demo::permits::Demo> = dossiers.iter().filter(|d| d.paid).collect();
    let yymmdd = today.format("%y%m%d");
    if let Some(d) = paid.get(1) {
        let mut body = serde_json::json!({
            "partnerCode": var("momo_partner_code"), "orderId": format!("{yymmdd}_DEMO{:08}", 1),
            "requestId": "trips-momo", "amount": d.fee_vnd, "orderInfo": "lệ phí", "orderType": "momo_wallet",
            "transId": 4_100_000_001_i64, "resultCode": 0, "message": "Successful.", "payType": "qr",
            "responseTime": now.timestamp_millis(), "extraData": "",
        });
        let signed = payment_callback::momo::signed_string(&var("momo_access_key"), &body);
        body["signature"] = civic::auth::hmac_sha256_hex(var("momo_secret_key").as_bytes(), signed.as_bytes()).into();
        let headers = [("content-type", "application/json".to_owned())];
        run.call(&Call {
            function: PAY,
            name: "MoMo IPN (repeat, order paid)",
            method: "POST",
            template: "/payments/momo/ipn",
            path: "/payments/momo/ipn",
            headers: &headers,
            body: json(&body),
            read: true,
        })?;
    }
    if let Some(d) = paid.get(2) {
        let data = serde_json::json!({
            "app_id": var("zalopay_app_id").parse::<i64>().unwrap_or(0), "app_trans_id": format!("{yymmdd}_DEMO{:08}", 2),
            "app_time": now.timestamp_millis(), "amount": d.fee_vnd, "zp_trans_id": 2_411_220_000_002_i64,
            "server_time": now.timestamp_millis(), "channel": 38,
        })
        .to_string();
        let mac = civic::auth::hmac_sha256_hex(var("zalopay_key2").as_bytes(), data.as_bytes());
        let headers = [("content-type", "application/json".to_owned())];
        run.call(&Call {
            function: PAY,
            name: "ZaloPay callback (repeat, order paid)",
            method: "POST",
            template: "/payments/zalopay/callback",
            path: "/payments/zalopay/callback",
            headers: &headers,
            body: json(&serde_json::json!({"data": data, "mac": mac, "type": 1})),
            read: true,
        })?;
    }
    let headers = [("authorization", admin.clone())];
    run.call(&Call {
        function: PAY,
        name: "reconciliation (admin)",
        method: "GET",
        template: "/payments/reconciliation?date=",
        path: &format!("/payments/reconciliation?date={today}"),
        headers: &headers,
        body: Bytes::new(),
        read: true,
    })?;

    // report-submission
    const REPORTS: &str = "report-submission";
    let report = format!("PA-{yymmdd}-0001");
    run.get(REPORTS, "health", "/reports/health", "/reports/health")?;
    run.get(REPORTS, "report view", "/reports/{code}", &format!("/reports/{report}"))?;
    run.get(REPORTS, "reports list, open", "/reports?status=&category=&district=&bbox=&page=", "/reports?status=open")?;
    run.get(REPORTS, "reports list, all", "/reports?status=&category=&district=&bbox=&page=", "/reports")?;
    run.get(REPORTS, "stats", "/reports/stats?from=&to=", "/reports/stats")?;
    run.get(REPORTS, "categories", "/reports/categories", "/reports/categories")?;
    run.get(REPORTS, "Open311 services", "/open311/v2/services.{fmt}", "/open311/v2/services.json")?;
    let category = crate::demo::reports::catalogue()["categories"][0]["code"].as_str().unwrap_or("other").to_owned();
    run.get(
        REPORTS,
        "Open311 service definition",
        "/open311/v2/services/{code}.{fmt}",
        &format!("/open311/v2/services/{category}.json"),
    )?;
    run.get(
        REPORTS,
        "Open311 requests, open",
        "/open311/v2/requests.{fmt}?…",
        "/open311/v2/requests.json?status=open",
    )?;
    run.get(REPORTS, "Open311 requests, XML", "/open311/v2/requests.{fmt}?…", "/open311/v2/requests.xml")?;
    run.get(
        REPORTS,
        "Open311 requests by id",
        "/open311/v2/requests.{fmt}?service_request_id=",
        &format!("/open311/v2/requests.json?service_request_id={report},PA-{yymmdd}-0002"),
    )?;
    run.get(
        REPORTS,
        "Open311 request",
        "/open311/v2/requests/{id}.{fmt}",
        &format!("/open311/v2/requests/{report}.json"),
    )?;
    run.get(
        REPORTS,
        "Open311 token",
        "/open311/v2/tokens/{token}.{fmt}",
        &format!("/open311/v2/tokens/{report}.json"),
    )?;
    run.get(
        REPORTS,
        "Open311 request updates",
        "/open311/v2/servicerequestupdates.{fmt}",
        "/open311/v2/servicerequestupdates.json",
    )?;
    run.get(REPORTS, "Open311 discovery", "/open311/v2/discovery.{fmt}", "/open311/v2/discovery.json")?;
    let headers = [("content-type", "image/png".to_owned()), ("authorization", citizen.clone())];
    let (status, uploaded) = run.call(&Call {
        function: REPORTS,
        name: "photo upload",
        method: "POST",
        template: "/reports/media",
        path: "/reports/media",
        headers: &headers,
        body: Bytes::from_static(PNG),
        read: false,
    })?;
    let media: serde_json::Value = serde_json::from_slice(&uploaded).unwrap_or_default();
    if let (201, Some(id)) = (status, media["id"].as_str()) {
        run.get(REPORTS, "photo fetch", "/reports/media/{id}", &format!("/reports/media/{id}"))?;
    }
    let headers = [("content-type", "application/json".to_owned())];
    run.call(&Call {
        function: REPORTS,
        name: "report filed",
        method: "POST",
        template: "/reports",
        path: "/reports",
        headers: &headers,
        body: json(&serde_json::json!({"category": category, "description": "Ổ gà lớn trước số 12 Trần Phú (đếm)",
            "lat": 16.0719, "lng": 108.2203, "phone": "0905123456"})),
        read: false,
    })?;
    let form = format!(
        "api_key={}&service_code={category}&lat=16.0719&long=108.2203&description=%E1%BB%94%20g%C3%A0",
        var("open311_api_keys").split(',').next().unwrap_or("").split('=').next().unwrap_or("")
    );
    let headers = [("content-type", "application/x-www-form-urlencoded".to_owned())];
    run.call(&Call {
        function: REPORTS,
        name: "Open311 request filed",
        method: "POST",
        template: "/open311/v2/requests.{fmt}",
        path: "/open311/v2/requests.json",
        headers: &headers,
        body: Bytes::from(form),
        read: false,
    })?;
    run.sms_twice(REPORTS, &secret, "/reports/sms", &format!("TT {report}"))?;

    // chat
    const CHAT: &str = "chat";
    run.get(CHAT, "health", "/chat/health", "/chat/health")?;
    let app_id = var("zalo_app_id");
    let ms = now.timestamp_millis().to_string();
    let event = serde_json::json!({"app_id": app_id, "event_name": "user_send_text", "timestamp": ms,
        "sender": {"id": "2468458835296117922"}, "recipient": {"id": "oa"},
        "message": {"msg_id": "trips-msg-1", "text": "xin chào"}})
    .to_string();
    let signature = chat::zalo::signature(&app_id, event.as_bytes(), &ms, &var("zalo_oa_secret_key"));
    let headers = [("x-zevent-signature", signature), ("content-type", "application/json".into())];
    let zalo = Call {
        function: CHAT,
        name: "Zalo webhook, a message (first; the reply's send fails natively)",
        method: "POST",
        template: "/chat/zalo",
        path: "/chat/zalo",
        headers: &headers,
        body: Bytes::from(event),
        read: false,
    };
    run.call(&zalo)?;
    run.call(&Call { name: "Zalo webhook, repeated event", read: true, ..zalo })?;
    let update = serde_json::json!({"update_id": 777_001, "message": {"message_id": 1, "date": now.timestamp(),
        "chat": {"id": 123_456_789, "type": "private"}, "from": {"id": 123_456_789, "is_bot": false, "first_name": "A"},
        "text": "xin chào"}});
    let headers = [
        ("x-telegram-bot-api-secret-token", var("telegram_secret_token")),
        ("content-type", "application/json".into()),
    ];
    let telegram = Call {
        function: CHAT,
        name: "Telegram webhook, a message (first; the reply's send fails natively)",
        method: "POST",
        template: "/chat/telegram",
        path: "/chat/telegram",
        headers: &headers,
        body: json(&update),
        read: false,
    };
    run.call(&telegram)?;
    run.call(&Call { name: "Telegram webhook, repeated update", read: true, ..telegram })?;
    Ok(())
}

/// The rows as a markdown table: a header and one line per route.
pub fn markdown(rows: &[Row]) -> Vec<String> {
    let mut out = vec![
        "| function | route | method | path | read | status | round trips | statements | calls | native |".to_owned(),
        "|---|---|---|---|---|---|---|---|---|---|".to_owned(),
    ];
    for r in rows {
        out.push(format!(
            "| {} | {} | {} | `{}` | {} | {} | {} | {} | {} | {} µs |",
            r.function,
            r.name,
            r.method,
            r.template,
            if r.read { "read" } else { "write" },
            r.status,
            r.trips,
            r.statements,
            r.calls,
            r.micros
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    /// Prints the table (no figure is checked): `cargo test -p xtask trips -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement: makes the demo data and calls every route"]
    fn print_the_table() {
        for line in super::markdown(&super::table().unwrap()) {
            println!("{line}");
        }
    }
}
