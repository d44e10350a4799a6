//! What the checks act on: the bearer routes of docs/openapi.json, and the data a
//! legitimate caller makes first (an establishment, a dossier, a report, an order), with the
//! snapshot that shows nothing changed.

use serde_json::{Value, json};

use super::Servers;
use crate::harness::{Resp, bearer};
use crate::payments::create_order;

/// A route as docs/openapi.json states it.
#[derive(Debug, Clone)]
pub(super) struct Route {
    pub(super) method: String,
    pub(super) template: String,
    /// Anonymous callers are served too (`security: [{}, {"bearer": []}]`).
    pub(super) optional: bool,
}

/// Every operation of docs/openapi.json whose `security` names `bearer`.
pub(super) fn bearer_routes() -> Result<Vec<Route>, String> {
    let path = crate::harness::root().join("docs/openapi.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut routes = Vec::new();
    for (template, ops) in doc["paths"].as_object().ok_or("openapi: no paths")? {
        for (method, op) in ops.as_object().into_iter().flatten() {
            let Some(security) = op.get("security").and_then(Value::as_array) else { continue };
            if !security.iter().any(|s| s.get("bearer").is_some()) {
                continue;
            }
            let optional = security.iter().any(|s| s.as_object().is_some_and(serde_json::Map::is_empty));
            routes.push(Route { method: method.to_uppercase(), template: template.clone(), optional });
        }
    }
    // GET /reports/{code} reads a bearer token (an officer of the report's agency sees the
    // reporter): the document must say so.
    ensure!(
        routes.iter().any(|r| r.method == "GET" && r.template == "/reports/{code}" && r.optional),
        "GET /reports/{{code}} reads a bearer token but the OpenAPI document gives it no security"
    );
    ensure!(routes.len() >= 15, "only {} bearer routes in the OpenAPI document", routes.len());
    Ok(routes)
}

/// Data the route checks act on, made once per check by a legitimate caller.
pub(super) struct Fixture {
    /// An establishment that exists (delete and violations target it).
    pub(super) place: String,
    /// An establishment id that must never come to exist.
    pub(super) never: String,
    /// A pushed dossier.
    pub(super) dossier: String,
    /// A filed report of the `moi-truong` agency.
    pub(super) report: String,
    /// An order of `sec-owner`.
    pub(super) order: String,
    /// A place no one files at (lat, lng, bbox).
    pub(super) nowhere: (f64, f64, String),
}

pub(super) fn dossier_code(n: u32) -> String {
    format!("000.96.19.H57-241105-{n:04}")
}

pub(super) fn dossier(status: i64, status_at: &str, fee: i64, name: &str, phone: &str) -> Value {
    json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "field": "Xây dựng", "agency": "UBND quận Hải Châu",
        "applicant": {"name": name, "phone": phone, "kind": "citizen"},
        "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
        "status": status, "status_at": status_at, "note": "ghi chú", "result_at": null, "fee_vnd": fee})
}

pub(super) fn push(s: &Servers, code: &str, body: &Value) -> Result<Resp, String> {
    let system = bearer(&["system"]);
    let path = format!("/permits/{code}");
    let r = s.send_json("PUT", &path, &system, body)?;
    ensure!(r.status == 200 || r.status == 201, "push {code}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    Ok(r)
}

pub(super) fn place(id: &str, name: &str, district: &str) -> Value {
    json!({"id": id, "name": name, "address": "1 Đường Thử", "ward": "Phường Thử", "district": district,
        "province": "Đà Nẵng", "kind": "restaurant"})
}

pub(super) fn import(s: &Servers, items: &Value) -> Result<Resp, String> {
    let admin = bearer(&["admin"]);
    s.send_json("PUT", "/food-safety/establishments", &admin, items)
}

fn file_report(s: &Servers, body: &Value, headers: &[(&str, &str)]) -> Result<Resp, String> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    s.send("POST", "/reports", &all, body.to_string().as_bytes())
}

pub(super) fn filed(s: &Servers, body: &Value, headers: &[(&str, &str)]) -> Result<Value, String> {
    let r = file_report(s, body, headers)?;
    ensure!(r.status == 201, "file: {} {}", r.status, String::from_utf8_lossy(&r.body));
    r.json()
}

pub(super) fn fixture(s: &Servers, n: u32) -> Result<Fixture, String> {
    let place_id = format!("SEC-KEEP-{n:04}");
    let r = import(s, &json!([place(&place_id, &format!("Quán Bảo Mật {n}"), "Huyện Bảo Mật")]))?;
    ensure!(r.status == 200, "import: {} {}", r.status, String::from_utf8_lossy(&r.body));
    let code = dossier_code(n);
    push(s, &code, &dossier(4, "2024-11-06T09:00:00+07:00", 150_000, "Nguyễn Văn An", "0905123456"))?;
    crate::reports::set_catalogue(s.reports)?;
    let lat = 16.1000 + f64::from(n) * 0.001;
    let report = filed(
        s,
        &json!({"category": "rubbish", "description": "Rác", "lat": lat, "lng": 108.0500, "phone": "0905111222"}),
        &[],
    )?;
    let order = create_order(s.payments, &code, "vnpay", "sec-owner")?;
    let nowhere = (lat, 108.0700, format!("108.0695,{:.4},108.0705,{:.4}", lat - 0.0005, lat + 0.0005));
    Ok(Fixture {
        place: place_id,
        never: format!("SEC-NEVER-{n:04}"),
        dossier: code,
        report: report["code"].as_str().unwrap_or_default().to_owned(),
        order: order["order_id"].as_str().unwrap_or_default().to_owned(),
        nowhere,
    })
}

/// The route's path with its placeholders filled from the fixture.
pub(super) fn fill(template: &str, f: &Fixture) -> Result<String, String> {
    let value = |name: &str| -> Result<&str, String> {
        Ok(match (template.split('/').nth(1).unwrap_or_default(), name) {
            ("food-safety", "id") => &f.place,
            ("permits", "code") => &f.dossier,
            ("reports", "code") => &f.report,
            ("payments", "order_id") => &f.order,
            // a webhook endpoint's or an outbox delivery's id: refused before it is looked up
            ("permits" | "payments" | "reports", "id") => "ep_security-probe",
            _ => return Err(format!("{template}: no value for {{{name}}}: add one to security::fill")),
        })
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        let (name, tail) = after.split_once('}').ok_or(format!("{template}: unclosed placeholder"))?;
        out.push_str(before);
        out.push_str(value(name)?);
        rest = tail;
    }
    out.push_str(rest);
    if template == "/payments/reconciliation" {
        out.push_str("?date=2024-11-22");
    }
    Ok(out)
}

/// The URL of the webhook endpoints the attacks try to register.
const FORGED_HOOK: &str = "https://attacker.example/hook";

/// The body a legitimate caller would send: if the token were accepted, the request would
/// take effect.
pub(super) fn body_for(method: &str, template: &str, f: &Fixture) -> Value {
    match (method, template) {
        ("PUT", "/food-safety/establishments") => json!([place(&f.never, "Quán Giả Mạo", "Huyện Bảo Mật")]),
        ("PUT", "/food-safety/violations") => json!([{"establishment_id": f.place, "date": "2025-01-02",
            "description": "Vi phạm giả mạo", "penalty_vnd": 1}]),
        ("PUT", "/permits/{code}") => dossier(10, "2024-11-20T09:00:00+07:00", 0, "Kẻ Giả Mạo", "0900000000"),
        ("POST", "/payments/orders") => json!({"dossier_code": f.dossier, "provider": "momo"}),
        ("PUT", "/reports/categories") => {
            let mut c = json!({"agencies": [{"code": "sec-forged", "name": "Cơ quan giả mạo"}], "categories": []});
            c["categories"] = json!([{"code": "sec-forged", "name_vi": "Giả mạo", "name_en": "Forged",
                "description_vi": "x", "description_en": "x", "keywords": [], "deadline_hours": 24,
                "routes": {"*": "sec-forged"}}]);
            c
        }
        ("POST", "/reports") => json!({"category": "rubbish", "description": "Giả mạo", "lat": f.nowhere.0,
            "lng": f.nowhere.1, "phone": "0905999888"}),
        ("PATCH", "/reports/{code}") => json!({"status": "rejected", "note": "giả mạo"}),
        ("POST", "/reports/{code}/rating") => json!({"stars": 1, "comment": "giả mạo"}),
        ("POST", "/permits/webhooks") => json!({"url": FORGED_HOOK, "events": ["dossier.status_changed"]}),
        ("POST", "/payments/webhooks") => json!({"url": FORGED_HOOK, "events": ["payment.settled"]}),
        ("POST", "/reports/webhooks") => json!({"url": FORGED_HOOK, "events": ["report.created"]}),
        _ => Value::Null,
    }
}

pub(super) fn encode_body(body: &Value) -> Vec<u8> {
    if body.is_null() { Vec::new() } else { body.to_string().into_bytes() }
}

/// What the public (or an admin) sees of everything the route checks could change.
pub(super) fn snapshot(s: &Servers, f: &Fixture) -> Result<Vec<(String, u16, Vec<u8>)>, String> {
    let admin = bearer(&["admin"]);
    let paths = [
        format!("/food-safety/establishments/{}", f.place),
        format!("/food-safety/establishments/{}", f.never),
        format!("/permits/{}", f.dossier),
        format!("/reports/{}", f.report),
        format!("/reports?bbox={}", f.nowhere.2),
        format!("/payments/orders/{}", f.order),
        // no endpoint registered by a forged token (the checks register none of their own)
        "/permits/webhooks".to_owned(),
        "/payments/webhooks".to_owned(),
        "/reports/webhooks".to_owned(),
    ];
    let mut out = Vec::new();
    for p in paths {
        let r = s.send("GET", &p, &[("authorization", &admin)], b"")?;
        let body = if p.ends_with("/webhooks") {
            // only what an attack would have registered: the notification checks register
            // endpoints of their own meanwhile
            let list: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            let forged: Vec<&Value> =
                list.as_array().into_iter().flatten().filter(|e| e["url"] == FORGED_HOOK).collect();
            serde_json::to_vec(&forged).unwrap_or_default()
        } else {
            r.body
        };
        out.push((p, r.status, body));
    }
    let cats = s.send("GET", "/reports/categories", &[], b"")?;
    ensure!(!String::from_utf8_lossy(&cats.body).contains("sec-forged"), "a forged catalogue was stored");
    Ok(out)
}

pub(super) fn same_snapshot(before: &[(String, u16, Vec<u8>)], after: &[(String, u16, Vec<u8>)]) -> Result<(), String> {
    for ((path, s1, b1), (_, s2, b2)) in before.iter().zip(after) {
        ensure!(
            (s1, b1) == (s2, b2),
            "{path} changed:\n{s1} {}\n{s2} {}",
            String::from_utf8_lossy(b1),
            String::from_utf8_lossy(b2)
        );
    }
    Ok(())
}
