//! The security review, written as checks over HTTP and run against both runtimes:
//!
//! - the bearer-token attack list of `civic::auth` (shared/src/auth/tests.rs), as far as it
//!   makes sense with the e2e settings (HS256 secret, no JWKS), against every route that
//!   takes a bearer token, read from docs/openapi.json at run time so that a new route is
//!   covered without touching this file;
//! - every role boundary: citizen, officer of another agency, admin, system;
//! - forged and replayed partner callbacks and SMS webhooks (what payments.rs, food.rs and
//!   permits.rs do not already cover);
//! - SQL and FTS5 metacharacters and oversized values in every text input;
//! - no personal data in any public answer.
//!
//! Each function is served by its own `wrangler dev` on Workers and by one host on Spin, so a
//! check gets the four [`Servers`] and sends each request to the function that owns its route.
//! The checks use names, codes and places of their own (`SEC-`, dossiers `000.96.…`, the
//! `sec-` SMS ids, lat 16.10–16.12 / lng 108.05–108.07), away from the other suites'.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::harness::{
    AUDIENCE, HS256_SECRET, ISSUER, MOMO_SECRET_KEY, Resp, SMS_SECRET, Server, VNPAY_SECRET, ZALOPAY_KEY1,
    ZALOPAY_KEY2, bearer, bearer_with, get, is_problem, request, send_sms, send_sms_from, sign, sign512, unix_now,
};
use crate::payments::{create_order, momo_body, order_as_admin, vnpay_ipn, vnpay_params, vnpay_query, zalopay_body};

/// The four functions' servers on one runtime (on Spin, four times the same host).
pub struct Servers<'a> {
    pub food: &'a Server,
    pub permits: &'a Server,
    pub payments: &'a Server,
    pub reports: &'a Server,
}

impl Servers<'_> {
    /// The server of the function that owns `path`.
    fn owner(&self, path: &str) -> Result<&Server, String> {
        let first = path.trim_start_matches('/').split(['/', '?']).next().unwrap_or_default();
        match first {
            "food-safety" => Ok(self.food),
            "permits" => Ok(self.permits),
            "payments" => Ok(self.payments),
            "reports" | "open311" => Ok(self.reports),
            other => Err(format!("no function owns /{other}: add it to Servers::owner")),
        }
    }

    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Resp, String> {
        request(&self.owner(path)?.addr, method, path, headers, body)
    }
}

/// The servers of one runtime, from the started servers in `SUITES` order (food-safety,
/// permit-status, payment-callback, report-submission).
pub fn servers(started: &[Result<Arc<Server>, String>]) -> Result<Servers<'_>, String> {
    let at = |i: usize| -> Result<&Server, String> {
        match started.get(i) {
            Some(Ok(s)) => Ok(s.as_ref()),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("no server {i}")),
        }
    };
    Ok(Servers { food: at(0)?, permits: at(1)?, payments: at(2)?, reports: at(3)? })
}

pub type SecurityCheck = fn(&Servers) -> Result<(), String>;

pub const CHECKS: &[(&str, SecurityCheck)] = &[
    ("every_bearer_route_refuses_every_attack_token", every_bearer_route_refuses_every_attack_token),
    ("malformed_authorization_headers", malformed_authorization_headers),
    ("role_boundaries", role_boundaries),
    ("vnpay_forgeries_and_replays_settle_nothing_twice", vnpay_forgeries_and_replays_settle_nothing_twice),
    ("momo_forgeries_and_replays_settle_once", momo_forgeries_and_replays_settle_once),
    ("zalopay_forgeries_and_replays_settle_once", zalopay_forgeries_and_replays_settle_once),
    (
        "sms_webhooks_refuse_forgeries_and_answer_redelivery_once",
        sms_webhooks_refuse_forgeries_and_answer_redelivery_once,
    ),
    ("sql_and_fts_metacharacters_are_plain_text", sql_and_fts_metacharacters_are_plain_text),
    ("oversized_fields_are_4xx_never_5xx", oversized_fields_are_4xx_never_5xx),
    ("no_personal_data_in_public_answers", no_personal_data_in_public_answers),
];

// ---------------------------------------------------------------- tokens

/// base64url without padding (RFC 4648 §5), as JWTs use it.
fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn b64_json(v: &Value) -> String {
    b64(v.to_string().as_bytes())
}

/// A token with any header and payload, HMAC-SHA256-signed with `secret` over
/// `header.payload` (whatever the header says).
fn hand_signed(header: &Value, payload: &str, secret: &[u8]) -> String {
    let message = format!("{}.{payload}", b64_json(header));
    let key = String::from_utf8_lossy(secret);
    let sig = hex::decode(sign(&key, message.as_bytes())).unwrap_or_default();
    format!("{message}.{}", b64(&sig))
}

/// Claims that would pass every role check: if a forged token carrying them got through,
/// the route would do what it does for its most privileged caller.
fn god_claims() -> Value {
    let now = unix_now();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "sec-attacker", "iat": now, "nbf": now - 5, "exp": now + 600,
        "roles": ["admin", "system", "officer", "citizen"], "agency": "moi-truong", "phone": "0905123456"})
}

fn with(mut claims: Value, member: &str, value: Value) -> Value {
    claims[member] = value;
    claims
}

fn without(mut claims: Value, member: &str) -> Value {
    if let Some(o) = claims.as_object_mut() {
        o.remove(member);
    }
    claims
}

fn hs256(claims: &Value) -> String {
    hand_signed(&json!({"alg": "HS256", "typ": "JWT"}), &b64_json(claims), HS256_SECRET.as_bytes())
}

const RSA_PUBLIC: &str = include_str!("../../shared/testdata/auth/rsa-1.public.pem");
const EC_PUBLIC: &str = include_str!("../../shared/testdata/auth/ec-1.public.pem");
const JWKS: &str = include_str!("../../shared/testdata/auth/jwks.json");

/// The attack list of shared/src/auth/tests.rs that makes sense over HTTP with the e2e
/// settings (HS256 secret, no JWKS): each a token that must be refused with 401.
fn attack_tokens() -> Vec<(&'static str, String)> {
    let god = god_claims();
    let payload = b64_json(&god);
    let none = b64_json(&json!({"alg": "none", "typ": "JWT"}));
    let secret = HS256_SECRET.as_bytes();
    let good = hs256(&god);
    let (good_head_payload, good_sig) = good.rsplit_once('.').unwrap_or((&good, ""));
    let now = unix_now();
    let citizen = hs256(&with(without(god.clone(), "agency"), "roles", json!(["citizen"])));
    let jwk_n = serde_json::from_str::<Value>(JWKS).map(|k| k["keys"][0]["n"].as_str().map(str::to_owned));
    let jwk_n = jwk_n.ok().flatten().unwrap_or_default();
    vec![
        // alg confusion
        ("alg none", format!("{none}.{payload}.")),
        ("alg none with a signature", format!("{none}.{payload}.c2ln")),
        ("alg None", format!("{}.{payload}.", b64_json(&json!({"alg": "None"})))),
        ("alg NONE", format!("{}.{payload}.", b64_json(&json!({"alg": "NONE"})))),
        ("alg none with kid", format!("{}.{payload}.", b64_json(&json!({"alg": "none", "kid": "rsa-1"})))),
        ("HS256 keyed with the RSA public PEM", hand_signed(&json!({"alg": "HS256"}), &payload, RSA_PUBLIC.as_bytes())),
        (
            "HS256 keyed with the RSA public PEM, kid rsa-1",
            hand_signed(&json!({"alg": "HS256", "kid": "rsa-1"}), &payload, RSA_PUBLIC.as_bytes()),
        ),
        (
            "HS256 keyed with the EC public PEM, kid ec-1",
            hand_signed(&json!({"alg": "HS256", "kid": "ec-1"}), &payload, EC_PUBLIC.as_bytes()),
        ),
        (
            "HS256 keyed with the JWK n, kid rsa-1",
            hand_signed(&json!({"alg": "HS256", "kid": "rsa-1"}), &payload, jwk_n.as_bytes()),
        ),
        ("RS256 header over an HS256 signature", hand_signed(&json!({"alg": "RS256"}), &payload, secret)),
        ("ES256 header over an HS256 signature", hand_signed(&json!({"alg": "ES256"}), &payload, secret)),
        ("PS256 header over an HS256 signature", hand_signed(&json!({"alg": "PS256"}), &payload, secret)),
        ("HS384 header over an HS256 signature", hand_signed(&json!({"alg": "HS384"}), &payload, secret)),
        ("HS512 with the secret", {
            let key = jsonwebtoken::EncodingKey::from_secret(secret);
            jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512), &god, &key)
                .unwrap_or_default()
        }),
        (
            "HS256 with a kid (JWKS only), no JWKS configured",
            hand_signed(&json!({"alg": "HS256", "kid": "hs-1"}), &payload, secret),
        ),
        ("empty kid", hand_signed(&json!({"alg": "HS256", "kid": ""}), &payload, secret)),
        ("embedded jwk header", {
            let jwk = serde_json::from_str::<Value>(JWKS).map(|k| k["keys"][1].clone()).unwrap_or_default();
            format!("{}.{payload}.{good_sig}", b64_json(&json!({"alg": "ES256", "jwk": jwk})))
        }),
        (
            "jku header pointing elsewhere",
            hand_signed(&json!({"alg": "HS256", "jku": "https://evil.example/jwks.json"}), &payload, b"evil"),
        ),
        // keys and signatures
        (
            "wrong HS256 secret",
            hand_signed(&json!({"alg": "HS256"}), &payload, b"another-secret-of-32-bytes-or-more!!"),
        ),
        ("empty HS256 secret", hand_signed(&json!({"alg": "HS256"}), &payload, b"")),
        ("tampered payload (citizen token, admin claims)", {
            let parts: Vec<&str> = citizen.split('.').collect();
            format!("{}.{payload}.{}", parts.first().unwrap_or(&""), parts.get(2).unwrap_or(&""))
        }),
        ("signature from another token", {
            let (_, sig) = citizen.rsplit_once('.').unwrap_or(("", ""));
            format!("{good_head_payload}.{sig}")
        }),
        ("signature cut short", good[..good.len().saturating_sub(4)].to_owned()),
        ("signature empty", format!("{good_head_payload}.")),
        (
            "signature in standard base64",
            format!("{good_head_payload}.{}=", good_sig.replace('-', "+").replace('_', "/")),
        ),
        // claims
        ("expired beyond the leeway", hs256(&with(god.clone(), "exp", json!(now - 120)))),
        ("expired an hour ago", hs256(&with(god.clone(), "exp", json!(now - 3600)))),
        ("exp as a string", hs256(&with(god.clone(), "exp", json!((now + 600).to_string())))),
        ("missing exp", hs256(&without(god.clone(), "exp"))),
        ("nbf in the future", hs256(&with(god.clone(), "nbf", json!(now + 3600)))),
        ("nbf not a number", hs256(&with(god.clone(), "nbf", json!(true)))),
        ("wrong iss", hs256(&with(god.clone(), "iss", json!("https://evil.example")))),
        ("iss with a trailing slash", hs256(&with(god.clone(), "iss", json!(format!("{ISSUER}/"))))),
        ("iss as an array", hs256(&with(god.clone(), "iss", json!([ISSUER])))),
        ("missing iss", hs256(&without(god.clone(), "iss"))),
        ("wrong aud", hs256(&with(god.clone(), "aud", json!("civic-admin")))),
        ("aud differs in case", hs256(&with(god.clone(), "aud", json!(AUDIENCE.to_uppercase())))),
        ("aud array without ours", hs256(&with(god.clone(), "aud", json!(["other"])))),
        ("aud empty array", hs256(&with(god.clone(), "aud", json!([])))),
        ("missing aud", hs256(&without(god.clone(), "aud"))),
        ("missing sub", hs256(&without(god.clone(), "sub"))),
        ("empty sub", hs256(&with(god.clone(), "sub", json!("")))),
        ("sub a number", hs256(&with(god.clone(), "sub", json!(42)))),
        ("roles a number", hs256(&with(god.clone(), "roles", json!(5)))),
        ("roles with a non-string", hs256(&with(god.clone(), "roles", json!(["admin", 1])))),
        ("agency not a string", hs256(&with(god.clone(), "agency", json!({"id": 1})))),
        ("payload not JSON", hand_signed(&json!({"alg": "HS256"}), &b64(b"not json"), secret)),
        ("payload a JSON array", hand_signed(&json!({"alg": "HS256"}), &b64_json(&json!([1, 2])), secret)),
        (
            "duplicate sub claims",
            hand_signed(
                &json!({"alg": "HS256"}),
                &b64(format!(
                    r#"{{"sub":"a","sub":"b","iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{},"roles":["admin"]}}"#,
                    now + 600
                )
                .as_bytes()),
                secret,
            ),
        ),
        ("header not JSON", format!("{}.{payload}.{good_sig}", b64(b"{alg"))),
        // garbage
        ("one word", "garbage".to_owned()),
        ("three dots of nothing", "..".to_owned()),
        ("two parts", good_head_payload.to_owned()),
        ("four parts", format!("{good}.x")),
        ("not base64", "a*b.c*d.e*f".to_owned()),
        ("JWE-shaped", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d".to_owned()),
        ("large", format!("{}.{}.x", b64_json(&json!({"alg": "HS256"})), "A".repeat(6_000))),
    ]
}

// ---------------------------------------------------------------- routes

/// A route as docs/openapi.json states it.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    template: String,
    /// Anonymous callers are served too (`security: [{}, {"bearer": []}]`).
    optional: bool,
}

/// Every operation of docs/openapi.json whose `security` names `bearer`.
fn bearer_routes() -> Result<Vec<Route>, String> {
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
struct Fixture {
    /// An establishment that exists (delete and violations target it).
    place: String,
    /// An establishment id that must never come to exist.
    never: String,
    /// A pushed dossier.
    dossier: String,
    /// A filed report of the `moi-truong` agency.
    report: String,
    /// An order of `sec-owner`.
    order: String,
    /// A place no one files at (lat, lng, bbox).
    nowhere: (f64, f64, String),
}

fn dossier_code(n: u32) -> String {
    format!("000.96.19.H57-241105-{n:04}")
}

fn dossier(status: i64, status_at: &str, fee: i64, name: &str, phone: &str) -> Value {
    json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "field": "Xây dựng", "agency": "UBND quận Hải Châu",
        "applicant": {"name": name, "phone": phone, "kind": "citizen"},
        "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
        "status": status, "status_at": status_at, "note": "ghi chú", "result_at": null, "fee_vnd": fee})
}

fn push(s: &Servers, code: &str, body: &Value) -> Result<Resp, String> {
    let system = bearer(&["system"]);
    let path = format!("/permits/{code}");
    let r = s.send(
        "PUT",
        &path,
        &[("authorization", &system), ("content-type", "application/json")],
        body.to_string().as_bytes(),
    )?;
    ensure!(r.status == 200 || r.status == 201, "push {code}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    Ok(r)
}

fn place(id: &str, name: &str, district: &str) -> Value {
    json!({"id": id, "name": name, "address": "1 Đường Thử", "ward": "Phường Thử", "district": district,
        "province": "Đà Nẵng", "kind": "restaurant"})
}

fn import(s: &Servers, items: &Value) -> Result<Resp, String> {
    let admin = bearer(&["admin"]);
    s.send(
        "PUT",
        "/food-safety/establishments",
        &[("authorization", &admin), ("content-type", "application/json")],
        items.to_string().as_bytes(),
    )
}

fn file_report(s: &Servers, body: &Value, headers: &[(&str, &str)]) -> Result<Resp, String> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    s.send("POST", "/reports", &all, body.to_string().as_bytes())
}

fn filed(s: &Servers, body: &Value, headers: &[(&str, &str)]) -> Result<Value, String> {
    let r = file_report(s, body, headers)?;
    ensure!(r.status == 201, "file: {} {}", r.status, String::from_utf8_lossy(&r.body));
    r.json()
}

fn fixture(s: &Servers, n: u32) -> Result<Fixture, String> {
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
fn fill(template: &str, f: &Fixture) -> Result<String, String> {
    let value = |name: &str| -> Result<&str, String> {
        Ok(match (template.split('/').nth(1).unwrap_or_default(), name) {
            ("food-safety", "id") => &f.place,
            ("permits", "code") => &f.dossier,
            ("reports", "code") => &f.report,
            ("payments", "order_id") => &f.order,
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

/// The body a legitimate caller would send: if the token were accepted, the request would
/// take effect.
fn body_for(method: &str, template: &str, f: &Fixture) -> Value {
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
        _ => Value::Null,
    }
}

fn encode_body(body: &Value) -> Vec<u8> {
    if body.is_null() { Vec::new() } else { body.to_string().into_bytes() }
}

/// What the public (or an admin) sees of everything the route checks could change.
fn snapshot(s: &Servers, f: &Fixture) -> Result<Vec<(String, u16, Vec<u8>)>, String> {
    let admin = bearer(&["admin"]);
    let paths = [
        format!("/food-safety/establishments/{}", f.place),
        format!("/food-safety/establishments/{}", f.never),
        format!("/permits/{}", f.dossier),
        format!("/reports/{}", f.report),
        format!("/reports?bbox={}", f.nowhere.2),
        format!("/payments/orders/{}", f.order),
    ];
    let mut out = Vec::new();
    for p in paths {
        let r = s.send("GET", &p, &[("authorization", &admin)], b"")?;
        out.push((p, r.status, r.body));
    }
    let cats = s.send("GET", "/reports/categories", &[], b"")?;
    ensure!(!String::from_utf8_lossy(&cats.body).contains("sec-forged"), "a forged catalogue was stored");
    Ok(out)
}

fn same_snapshot(before: &[(String, u16, Vec<u8>)], after: &[(String, u16, Vec<u8>)]) -> Result<(), String> {
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

/// Every attack token on every bearer route: 401 problem+json, and nothing changed. The
/// same claims, signed properly, are not refused as unauthenticated (the attacks would
/// otherwise prove nothing).
fn every_bearer_route_refuses_every_attack_token(s: &Servers) -> Result<(), String> {
    let routes = bearer_routes()?;
    let f = fixture(s, 1)?;
    let before = snapshot(s, &f)?;
    let mut failures = Vec::new();
    for route in &routes {
        let path = fill(&route.template, &f)?;
        let body = encode_body(&body_for(&route.method, &route.template, &f));
        for (name, token) in attack_tokens() {
            let auth = format!("Bearer {token}");
            let r =
                s.send(&route.method, &path, &[("authorization", &auth), ("content-type", "application/json")], &body)?;
            if let Err(e) = is_problem(&r, 401) {
                failures.push(format!("{} {path}, {name}: {e}", route.method));
            }
        }
    }
    ensure!(failures.is_empty(), "{} refusals missing:\n{}", failures.len(), failures.join("\n"));
    same_snapshot(&before, &snapshot(s, &f)?)?;
    // The control: the god claims, properly signed, pass authentication on every route (a
    // body that does not parse keeps them from changing anything).
    let god = format!("Bearer {}", hs256(&god_claims()));
    for route in &routes {
        let path = fill(&route.template, &f)?;
        let r = s.send(&route.method, &path, &[("authorization", &god), ("content-type", "application/json")], b"{")?;
        ensure!(
            r.status != 401 && r.status < 500,
            "control {} {path}: {} {}",
            route.method,
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    Ok(())
}

/// `Authorization` values that hold no usable bearer token (`Bearer` alone, another scheme,
/// two tokens, two headers) are 401 problem+json on every route, those that also serve
/// anonymous callers included (`civic::auth::authenticate_if_present`): a broken client is
/// told so rather than quietly served as anonymous. A token in a cookie or the query string
/// is no credential: a route that needs a caller answers 401, the others the anonymous answer.
fn malformed_authorization_headers(s: &Servers) -> Result<(), String> {
    let routes = bearer_routes()?;
    let f = fixture(s, 2)?;
    let good = hs256(&god_claims());
    let forms: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("empty bearer", vec![("authorization", "Bearer".to_owned())]),
        ("bearer and spaces", vec![("authorization", "Bearer    ".to_owned())]),
        ("two tokens", vec![("authorization", format!("Bearer {good} {good}"))]),
        ("Basic scheme", vec![("authorization", "Basic YWRtaW46YWRtaW4=".to_owned())]),
        ("Token scheme", vec![("authorization", format!("Token {good}"))]),
        ("no scheme", vec![("authorization", good.clone())]),
        ("scheme glued", vec![("authorization", format!("Bearer{good}"))]),
        (
            "two Authorization headers",
            vec![("authorization", format!("Bearer {good}")), ("authorization", format!("Bearer {good}"))],
        ),
        ("token in a cookie", vec![("cookie", format!("token={good}"))]),
        ("token in the query", vec![]),
    ];
    let mut failures = Vec::new();
    for route in &routes {
        let base = fill(&route.template, &f)?;
        // A filing without a phone: an anonymous caller gets 422, so nothing is filed.
        let body = if route.method == "POST" && route.template == "/reports" {
            json!({"category": "rubbish", "description": "x", "lat": f.nowhere.0, "lng": f.nowhere.1})
                .to_string()
                .into_bytes()
        } else {
            encode_body(&body_for(&route.method, &route.template, &f))
        };
        let anonymous = s.send(&route.method, &base, &[("content-type", "application/json")], &body)?;
        for (name, headers) in &forms {
            let path = if *name == "token in the query" {
                format!("{base}{}access_token={good}", if base.contains('?') { '&' } else { '?' })
            } else {
                base.clone()
            };
            let mut h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            h.push(("content-type", "application/json"));
            let r = s.send(&route.method, &path, &h, &body)?;
            // An `Authorization` header that is there but malformed is refused on every
            // route; a token elsewhere (cookie, query) is no credential at all.
            let has_header = headers.iter().any(|(k, _)| *k == "authorization");
            let ok = if route.optional && !has_header {
                r.status == anonymous.status && r.body == anonymous.body
            } else {
                is_problem(&r, 401).is_ok()
            };
            if !ok {
                failures.push(format!(
                    "{} {path} ({}), {name}: {} {}",
                    route.method,
                    if route.optional { "anonymous allowed" } else { "caller required" },
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ));
            }
        }
    }
    ensure!(failures.is_empty(), "{} wrong answers:\n{}", failures.len(), failures.join("\n"));
    let r = s.send("GET", &format!("/permits/{}", f.dossier), &[("authorization", "Bearer")], b"")?;
    ensure!(r.json()?.get("history").is_none(), "an empty bearer is not the applicant");
    Ok(())
}

// ---------------------------------------------------------------- roles

/// One caller on one route: (who, `Authorization`, the status they get).
type Case<'a> = (&'a str, &'a str, u16);

/// Who may do what: each role (and a few near misses) on every role-guarded route, with the
/// status it gets. Bodies do not parse where a body is read, so a permitted caller gets 400
/// (or 404 / 200 where nothing is read) and nothing changes.
fn role_boundaries(s: &Servers) -> Result<(), String> {
    let f = fixture(s, 3)?;
    let who = |roles: Value, agency: Option<&str>, sub: &str| {
        let mut c = json!({"roles": roles, "sub": sub});
        if let Some(a) = agency {
            c["agency"] = json!(a);
        }
        bearer_with(&c)
    };
    let citizen = who(json!(["citizen"]), None, "sec-citizen");
    let owner = who(json!(["citizen"]), None, "sec-owner");
    let no_roles = who(json!([]), None, "sec-nobody");
    let officer_own = who(json!(["officer"]), Some("moi-truong"), "sec-officer");
    let officer_other = who(json!(["officer"]), Some("so-gtvt"), "sec-officer-2");
    let officer_no_agency = who(json!(["officer"]), None, "sec-officer-3");
    let admin = who(json!(["admin"]), None, "sec-admin");
    let system = who(json!(["system"]), None, "sec-system");
    let upper = who(json!(["ADMIN", "System"]), None, "sec-case");
    let rate = format!("/reports/{}/rating", f.report);
    let patch = format!("/reports/{}", f.report);
    let order = format!("/payments/orders/{}", f.order);
    let place = format!("/food-safety/establishments/{}", f.place);
    let push = format!("/permits/{}", f.dossier);
    // (method, path, [(caller, token, status)]); 400 = authorized, stopped at the body.
    let table: Vec<(&str, &str, Vec<Case>)> = vec![
        (
            "PUT",
            "/food-safety/establishments",
            vec![
                ("citizen", &citizen, 403),
                ("officer", &officer_own, 403),
                ("system", &system, 403),
                ("ADMIN in capitals", &upper, 403),
                ("no roles", &no_roles, 403),
                ("admin", &admin, 400),
            ],
        ),
        (
            "PUT",
            "/food-safety/violations",
            vec![
                ("citizen", &citizen, 403),
                ("officer", &officer_own, 403),
                ("system", &system, 403),
                ("admin", &admin, 400),
            ],
        ),
        ("DELETE", &place, vec![("citizen", &citizen, 403), ("officer", &officer_own, 403), ("system", &system, 403)]),
        (
            "PUT",
            &push,
            vec![
                ("citizen", &citizen, 403),
                ("officer", &officer_own, 403),
                ("admin", &admin, 403),
                ("System in capitals", &upper, 403),
                ("system", &system, 400),
            ],
        ),
        (
            "GET",
            "/payments/reconciliation?date=2024-11-22",
            vec![
                ("citizen", &citizen, 403),
                ("officer", &officer_own, 403),
                ("system", &system, 403),
                ("admin", &admin, 200),
            ],
        ),
        (
            "GET",
            &order,
            vec![
                ("another citizen", &citizen, 404),
                ("officer", &officer_own, 404),
                ("system", &system, 404),
                ("its owner", &owner, 200),
                ("admin", &admin, 200),
            ],
        ),
        (
            "POST",
            "/payments/orders",
            vec![
                ("no roles", &no_roles, 403),
                ("admin", &admin, 403),
                ("system", &system, 403),
                ("citizen", &citizen, 400),
            ],
        ),
        (
            "PATCH",
            &patch,
            vec![
                ("citizen", &citizen, 403),
                ("officer of another agency", &officer_other, 403),
                ("officer without agency", &officer_no_agency, 403),
                ("admin", &admin, 403),
                ("system", &system, 403),
                ("officer of its agency", &officer_own, 400),
            ],
        ),
        (
            "POST",
            &rate,
            vec![
                ("another citizen", &citizen, 403),
                ("officer of its agency", &officer_own, 403),
                ("admin", &admin, 403),
            ],
        ),
        (
            "PUT",
            "/reports/categories",
            vec![
                ("citizen", &citizen, 403),
                ("officer", &officer_own, 403),
                ("system", &system, 403),
                ("admin", &admin, 400),
            ],
        ),
    ];
    let mut failures = Vec::new();
    let before = snapshot(s, &f)?;
    for (method, path, cases) in &table {
        for (caller, token, want) in cases {
            let r = s.send(method, path, &[("authorization", token), ("content-type", "application/json")], b"{")?;
            let ok = if *want == 200 { r.status == 200 } else { is_problem(&r, *want).is_ok() };
            if !ok {
                failures.push(format!(
                    "{method} {path} as {caller}: want {want}, got {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ));
            }
        }
    }
    for base in ["/food-safety", "/permits", "/payments", "/reports"] {
        let path = format!("{base}/selftest");
        for (caller, token) in [("citizen", &citizen), ("officer", &officer_own), ("system", &system)] {
            let r = s.send("POST", &path, &[("authorization", token)], b"")?;
            if is_problem(&r, 403).is_err() {
                failures.push(format!("POST {path} as {caller}: {} {}", r.status, String::from_utf8_lossy(&r.body)));
            }
        }
    }
    ensure!(failures.is_empty(), "{} role boundaries crossed:\n{}", failures.len(), failures.join("\n"));
    same_snapshot(&before, &snapshot(s, &f)?)?;
    // Only an officer of the routed agency sees the reporter.
    let reporter = |token: &str| -> Result<Value, String> {
        Ok(s.send("GET", &patch, &[("authorization", token)], b"")?.json()?["reporter"].clone())
    };
    let seen = reporter(&officer_own)?;
    ensure!(seen["phone"].as_str().is_some_and(|p| p.ends_with("905111222")), "the agency sees its reporter: {seen}");
    for (caller, token) in [("officer of another agency", &officer_other), ("admin", &admin), ("citizen", &citizen)] {
        ensure!(reporter(token)?.is_null(), "{caller} sees the reporter");
    }
    // An officer of another agency cannot move a report by reassigning it either.
    let r = s.send(
        "PATCH",
        &patch,
        &[("authorization", &officer_other), ("content-type", "application/json")],
        json!({"agency": "so-gtvt"}).to_string().as_bytes(),
    )?;
    is_problem(&r, 403)?;
    Ok(())
}

// ---------------------------------------------------------------- partner callbacks

/// A dossier of its own for a payment check, with a 150,000 đ fee.
fn payable(s: &Servers, n: u32) -> Result<String, String> {
    let code = dossier_code(n);
    push(s, &code, &dossier(6, "2024-11-06T09:00:00+07:00", 150_000, "Nguyễn Văn An", "0905123456"))?;
    Ok(code)
}

fn outcomes(order: &Value) -> Vec<String> {
    order["callbacks"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["outcome"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// VNPay: forgeries payments.rs does not send (no hash, SHA-256 of the right secret, another
/// partner's secret, a hash over other parameters), a VNPay IPN for another wallet's order,
/// and replays after settlement (a new transaction number, a "cancelled" code) change nothing.
fn vnpay_forgeries_and_replays_settle_nothing_twice(s: &Servers) -> Result<(), String> {
    let code = payable(s, 11)?;
    let o = create_order(s.payments, &code, "vnpay", "sec-vnpay")?;
    let r = o["txn_ref"].as_str().unwrap_or_default();
    let id = o["order_id"].as_str().unwrap_or_default();
    let params = vnpay_params(r, 15_000_000, "00", "71000011");
    let good = vnpay_query(&params, VNPAY_SECRET);
    let (data, _) = good.split_once("&vnp_SecureHashType=").ok_or("unsigned query")?;
    let p = s.payments;
    ensure!(vnpay_ipn(p, data)? == "97", "no hash");
    ensure!(vnpay_ipn(p, &format!("{data}&vnp_SecureHash="))? == "97", "empty hash");
    ensure!(
        vnpay_ipn(p, &format!("{data}&vnp_SecureHash={}", sign(VNPAY_SECRET, data.as_bytes())))? == "97",
        "SHA-256"
    );
    ensure!(vnpay_ipn(p, &vnpay_query(&params, MOMO_SECRET_KEY))? == "97", "another partner's secret");
    let other = vnpay_query(&vnpay_params(r, 15_000_000, "00", "71000099"), VNPAY_SECRET);
    let (_, other_hash) = other.rsplit_once("&vnp_SecureHash=").ok_or("unsigned")?;
    ensure!(vnpay_ipn(p, &format!("{data}&vnp_SecureHash={other_hash}"))? == "97", "hash of other parameters");
    ensure!(vnpay_ipn(p, &format!("{data}&vnp_SecureHash={}", "0".repeat(128)))? == "97", "zero hash");
    ensure!(order_as_admin(p, id)?["state"] == "pending", "forgeries changed the order");
    // A MoMo order's reference, properly signed as VNPay: not VNPay's order.
    let momo = create_order(p, &code, "momo", "sec-vnpay")?;
    let momo_ref = momo["txn_ref"].as_str().unwrap_or_default();
    ensure!(
        vnpay_ipn(p, &vnpay_query(&vnpay_params(momo_ref, 15_000_000, "00", "71000012"), VNPAY_SECRET))? == "01",
        "cross"
    );
    ensure!(
        order_as_admin(p, momo["order_id"].as_str().unwrap_or_default())?["state"] == "pending",
        "cross-provider settle"
    );
    // Settle, then replay: the same, a new transaction number, a cancellation.
    ensure!(vnpay_ipn(p, &good)? == "00", "settles");
    ensure!(vnpay_ipn(p, &good)? == "02", "replay");
    ensure!(
        vnpay_ipn(p, &vnpay_query(&vnpay_params(r, 15_000_000, "00", "71000013"), VNPAY_SECRET))? == "02",
        "new txn no"
    );
    let cancel = vnpay_query(&vnpay_params(r, 15_000_000, "24", "71000014"), VNPAY_SECRET);
    ensure!(matches!(vnpay_ipn(p, &cancel)?.as_str(), "02" | "00"), "cancellation after settlement");
    let v = order_as_admin(p, id)?;
    ensure!(v["state"] == "paid" && v["provider_txn_id"] == "71000011", "settled once, by the first: {v}");
    let settled = outcomes(&v).iter().filter(|o| *o == "settled").count();
    ensure!(settled == 1, "settled {settled} times: {:?}", outcomes(&v));
    ensure!(outcomes(&v).iter().filter(|o| *o == "bad_signature").count() >= 6, "forgeries stored: {:?}", outcomes(&v));
    Ok(())
}

/// MoMo: a genuine signature moved onto another order's body, or over another amount, is
/// refused; a settled IPN replayed (also with a new transId) is acknowledged and settles once.
fn momo_forgeries_and_replays_settle_once(s: &Servers) -> Result<(), String> {
    let code = payable(s, 12)?;
    let p = s.payments;
    let post = |body: &str| {
        request(&p.addr, "POST", "/payments/momo/ipn", &[("content-type", "application/json")], body.as_bytes())
    };
    let a = create_order(p, &code, "momo", "sec-momo-a")?;
    let b = create_order(p, &code, "momo", "sec-momo-b")?;
    let (ra, rb) = (a["txn_ref"].as_str().unwrap_or_default(), b["txn_ref"].as_str().unwrap_or_default());
    let genuine: Value =
        serde_json::from_str(&momo_body(ra, 150_000, 0, 72_000_012, MOMO_SECRET_KEY)).map_err(|e| e.to_string())?;
    let mut moved = serde_json::from_str::<Value>(&momo_body(rb, 150_000, 0, 72_000_012, MOMO_SECRET_KEY))
        .map_err(|e| e.to_string())?;
    moved["signature"] = genuine["signature"].clone();
    is_problem(&post(&moved.to_string())?, 401)?;
    let mut cheaper = genuine.clone();
    cheaper["amount"] = json!(1_000);
    is_problem(&post(&cheaper.to_string())?, 401)?;
    let mut failed_to_ok = serde_json::from_str::<Value>(&momo_body(ra, 150_000, 1006, 72_000_012, MOMO_SECRET_KEY))
        .map_err(|e| e.to_string())?;
    failed_to_ok["resultCode"] = json!(0);
    is_problem(&post(&failed_to_ok.to_string())?, 401)?;
    let mut unsigned = genuine.clone();
    if let Some(o) = unsigned.as_object_mut() {
        o.remove("signature");
    }
    let r = post(&unsigned.to_string())?;
    ensure!(r.status == 401 || r.status == 400, "unsigned: {} {}", r.status, String::from_utf8_lossy(&r.body));
    ensure!(order_as_admin(p, a["order_id"].as_str().unwrap_or_default())?["state"] == "pending", "forgeries settled");
    ensure!(order_as_admin(p, b["order_id"].as_str().unwrap_or_default())?["state"] == "pending", "forgeries settled");
    for trans in [72_000_012, 72_000_012, 72_000_013] {
        let r = post(&momo_body(ra, 150_000, 0, trans, MOMO_SECRET_KEY))?;
        ensure!(r.status == 204, "momo: {} {}", r.status, String::from_utf8_lossy(&r.body));
    }
    let v = order_as_admin(p, a["order_id"].as_str().unwrap_or_default())?;
    let settled = outcomes(&v).iter().filter(|o| *o == "settled").count();
    ensure!(v["state"] == "paid" && v["provider_txn_id"] == "72000012" && settled == 1, "settled once: {v}");
    Ok(())
}

/// ZaloPay: a MAC made with key1 (the request key), a MAC of other data, a missing MAC are
/// refused (-1); a replay answers 2 and settles once.
fn zalopay_forgeries_and_replays_settle_once(s: &Servers) -> Result<(), String> {
    let code = payable(s, 13)?;
    let p = s.payments;
    let o = create_order(p, &code, "zalopay", "sec-zalopay")?;
    let r = o["txn_ref"].as_str().unwrap_or_default();
    let answer = |body: &str| -> Result<Value, String> {
        let resp = request(
            &p.addr,
            "POST",
            "/payments/zalopay/callback",
            &[("content-type", "application/json")],
            body.as_bytes(),
        )?;
        ensure!(resp.status == 200, "zalopay: {} {}", resp.status, String::from_utf8_lossy(&resp.body));
        Ok(resp.json()?["return_code"].clone())
    };
    ensure!(answer(&zalopay_body(r, 150_000, 241_122_000_000_013, ZALOPAY_KEY1))? == -1, "key1");
    let genuine: Value = serde_json::from_str(&zalopay_body(r, 150_000, 241_122_000_000_013, ZALOPAY_KEY2))
        .map_err(|e| e.to_string())?;
    let mut other: Value =
        serde_json::from_str(&zalopay_body(r, 1_000, 241_122_000_000_013, ZALOPAY_KEY2)).map_err(|e| e.to_string())?;
    other["mac"] = genuine["mac"].clone();
    ensure!(answer(&other.to_string())? == -1, "mac of other data");
    let mut spaced = genuine.clone();
    spaced["data"] = json!(format!("{} ", genuine["data"].as_str().unwrap_or_default()));
    ensure!(answer(&spaced.to_string())? == -1, "data changed by one space");
    let mut unsigned = genuine.clone();
    unsigned["mac"] = json!("");
    ensure!(answer(&unsigned.to_string())? == -1, "empty mac");
    ensure!(order_as_admin(p, o["order_id"].as_str().unwrap_or_default())?["state"] == "pending", "forgeries settled");
    ensure!(answer(&genuine.to_string())? == 1, "settles");
    ensure!(answer(&genuine.to_string())? == 2, "replay");
    ensure!(answer(&zalopay_body(r, 150_000, 241_122_000_000_014, ZALOPAY_KEY2))? == 2, "replay, new zp_trans_id");
    let v = order_as_admin(p, o["order_id"].as_str().unwrap_or_default())?;
    let settled = outcomes(&v).iter().filter(|o| *o == "settled").count();
    ensure!(v["state"] == "paid" && settled == 1, "settled once: {v}");
    Ok(())
}

/// Every SMS webhook: no, wrong, moved and truncated signatures are 401 problem+json; a
/// redelivered message id gets its first reply (and report-submission files it once).
fn sms_webhooks_refuse_forgeries_and_answer_redelivery_once(s: &Servers) -> Result<(), String> {
    let stamp = unix_now();
    for (path, text) in
        [("/food-safety/sms", "ATTP pho"), ("/permits/sms", "HS 123"), ("/reports/sms", "TT PA-000101-0001")]
    {
        let server = s.owner(path)?;
        let body =
            json!({"id": format!("sec-forged-{stamp}"), "from": "84905123456", "to": "8188", "text": text}).to_string();
        let genuine = sign(SMS_SECRET, body.as_bytes());
        let other = sign(SMS_SECRET, body.replace("8188", "8189").as_bytes());
        let forgeries: [(&str, Vec<(&str, String)>); 7] = [
            ("none", vec![]),
            ("empty", vec![("x-signature", String::new())]),
            ("wrong secret", vec![("x-signature", sign("not-the-secret", body.as_bytes()))]),
            ("another body's", vec![("x-signature", other)]),
            ("truncated", vec![("x-signature", genuine[..32].to_owned())]),
            ("SHA-512", vec![("x-signature", sign512(SMS_SECRET, body.as_bytes()))]),
            ("in another header", vec![("x-hub-signature", genuine.clone())]),
        ];
        for (name, headers) in forgeries {
            let mut h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            h.push(("content-type", "application/json"));
            let r = request(&server.addr, "POST", path, &h, body.as_bytes())?;
            is_problem(&r, 401).map_err(|e| format!("{path}, {name}: {e}"))?;
        }
    }
    // report-submission: a PA redelivered (same id, other text) files once.
    crate::reports::set_catalogue(s.reports)?;
    let id = format!("sec-pa-{stamp}");
    let reply = |id: &str, text: &str| -> Result<String, String> {
        let r = send_sms_from(s.reports, "/reports/sms", id, "84905444555", text)?;
        ensure!(r.status == 200, "sms: {} {}", r.status, String::from_utf8_lossy(&r.body));
        Ok(r.json()?["reply"].as_str().unwrap_or_default().to_owned())
    };
    let first = reply(&id, "PA Rác đổ trộm ở kiệt bảo mật số một")?;
    let again = reply(&id, "PA Một phản ánh khác hẳn")?;
    ensure!(first == again && first.starts_with("Da nhan phan anh PA-"), "redelivery: {first} / {again}");
    let code = first.split_whitespace().nth(4).unwrap_or_default().trim_end_matches(',').to_owned();
    let v = get(&s.reports.addr, &format!("/reports/{code}"))?.json()?;
    ensure!(v["description"].as_str().is_some_and(|d| d.contains("bảo mật số một")), "first text stored: {v}");
    // food-safety and permit-status: the same.
    let food = send_sms(s.food, "/food-safety/sms", &format!("sec-attp-{stamp}"), "ATTP quán bảo mật")?;
    let food_again = send_sms(s.food, "/food-safety/sms", &format!("sec-attp-{stamp}"), "xin chao")?;
    ensure!(food.status == 200 && food.json()? == food_again.json()?, "food-safety redelivery");
    Ok(())
}

// ---------------------------------------------------------------- injection and size

/// Values that would break SQL built by formatting, LIKE patterns without escaping, or FTS5
/// queries passed through.
const NASTY: &[&str] = &[
    "'; DROP TABLE establishments; --",
    "\" OR 1=1 --",
    "' OR '1'='1",
    "Robert'); DELETE FROM reports; --",
    "%",
    "_",
    "\\",
    "100% _x_ \\%",
    "NEAR(kiemthu bao, 2)",
    "\"unterminated",
    "kiemthu*",
    "a AND b OR NOT c",
    "^kiemthu",
    "name_folded : kiemthu",
    "{name_folded address_folded}: kiemthu",
    "kiemthu\" OR \"",
    "$1 ?1 :name @p",
    "Ứng dụng 🍜 تجربة 測試",
    "` ; -- /* */",
];

fn pct(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn no_5xx(what: &str, r: &Resp) -> Result<(), String> {
    ensure!(r.status < 500, "{what}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    Ok(())
}

/// Every text input with every nasty value: never a 5xx, stored verbatim where stored, LIKE
/// wildcards taken literally, and every table still there afterwards.
fn sql_and_fts_metacharacters_are_plain_text(s: &Servers) -> Result<(), String> {
    crate::reports::set_catalogue(s.reports)?;
    let stamp = unix_now();
    let admin = bearer(&["admin"]);
    // food-safety: names and districts stored verbatim, searched without error.
    let items: Vec<Value> = NASTY
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut p = place(&format!("SEC-SQL-{i:02}"), &format!("Quán {v}"), &format!("Huyện {v}"));
            p["address"] = json!(v);
            p["violations"] = json!([{"date": "2025-01-01", "description": v, "penalty_vnd": 1}]);
            p
        })
        .collect();
    let r = import(s, &Value::Array(items))?;
    ensure!(r.status == 200, "import: {} {}", r.status, String::from_utf8_lossy(&r.body));
    for (i, v) in NASTY.iter().enumerate() {
        let rec = get(&s.food.addr, &format!("/food-safety/establishments/SEC-SQL-{i:02}"))?.json()?;
        ensure!(
            rec["name"] == format!("Quán {v}") && rec["address"] == *v && rec["violations"][0]["description"] == *v,
            "stored verbatim: {v:?}: {rec}"
        );
        for query in [format!("q={}", pct(v)), format!("district={}", pct(v)), format!("q=quan&district={}", pct(v))] {
            let r = get(&s.food.addr, &format!("/food-safety/establishments?{query}"))?;
            no_5xx(&query, &r)?;
        }
        let ids = format!("/food-safety/establishments/{}", pct(v));
        no_5xx(&ids, &get(&s.food.addr, &ids)?)?;
        let sms = send_sms(s.food, "/food-safety/sms", &format!("sec-sql-{stamp}-{i}"), &format!("ATTP {v}"))?;
        no_5xx("food sms", &sms)?;
    }
    // A district is matched on its folded words: "%" and "_" never reach a LIKE pattern as
    // wildcards; "Bảo%Mật" is the district "Bảo Mật".
    let r = get(&s.food.addr, "/food-safety/establishments?district=B%E1%BA%A3o%25_M%E1%BA%ADt&limit=50")?.json()?;
    let ids: Vec<&str> =
        r["results"].as_array().map(|l| l.iter().filter_map(|x| x["id"].as_str()).collect()).unwrap_or_default();
    ensure!(ids.iter().all(|id| id.starts_with("SEC-KEEP-")), "district=Bảo%_Mật matched {ids:?}");
    // permit-status: pushed text stored verbatim; codes and phones in the path and query refused cleanly.
    let code = dossier_code(21);
    for (i, v) in NASTY.iter().enumerate() {
        let mut body = dossier(4, &format!("2024-11-06T09:{i:02}:00+07:00"), 0, &format!("Nguyễn {v}"), "0905123456");
        body["procedure_name"] = json!(v);
        body["agency"] = json!(v);
        body["note"] = json!(v);
        push(s, &code, &body)?;
        let pub_view = get(&s.permits.addr, &format!("/permits/{code}"))?.json()?;
        ensure!(pub_view["procedure_name"] == *v && pub_view["agency"] == *v, "stored verbatim: {v:?}: {pub_view}");
        let path = format!("/permits/{}", pct(v));
        no_5xx(&path, &get(&s.permits.addr, &path)?)?;
        no_5xx("phone", &get(&s.permits.addr, &format!("/permits/{code}?phone={}", pct(v)))?)?;
        no_5xx(
            "permit push path",
            &request(
                &s.permits.addr,
                "PUT",
                &path,
                &[("authorization", &bearer(&["system"]))],
                body.to_string().as_bytes(),
            )?,
        )?;
        no_5xx("HS sms", &send_sms(s.permits, "/permits/sms", &format!("sec-hs-{stamp}-{i}"), &format!("HS {v}"))?)?;
    }
    // payment-callback: the dossier code and provider, the order id, the IPN references.
    let citizen = bearer(&["citizen"]);
    for v in NASTY {
        let body = json!({"dossier_code": v, "provider": v}).to_string();
        let r = s.send(
            "POST",
            "/payments/orders",
            &[("authorization", &citizen), ("content-type", "application/json")],
            body.as_bytes(),
        )?;
        is_problem(&r, 422)?;
        no_5xx(
            "order id",
            &s.send("GET", &format!("/payments/orders/{}", pct(v)), &[("authorization", &admin)], b"")?,
        )?;
        no_5xx(
            "reconciliation",
            &s.send("GET", &format!("/payments/reconciliation?date={}", pct(v)), &[("authorization", &admin)], b"")?,
        )?;
        let ipn = vnpay_query(&vnpay_params(v, 15_000_000, "00", v), VNPAY_SECRET);
        let code = vnpay_ipn(s.payments, &ipn)?;
        ensure!(code != "00" && code != "02", "vnpay ref {v:?}: {code}");
        let r = request(
            &s.payments.addr,
            "POST",
            "/payments/momo/ipn",
            &[("content-type", "application/json")],
            momo_body(v, 150_000, 0, 1, MOMO_SECRET_KEY).as_bytes(),
        )?;
        no_5xx("momo ref", &r)?;
    }
    // report-submission: every text field of a filing, PATCH notes, ratings, Open311 forms,
    // filters and SMS; stored verbatim.
    let reporter = bearer_with(&json!({"sub": "sec-sql-reporter"}));
    let officer = bearer_with(&json!({"roles": ["officer"], "agency": "moi-truong"}));
    for (i, v) in NASTY.iter().enumerate() {
        let lat = 16.1100 + f64::from(u32::try_from(i).unwrap_or(0)) * 0.0005;
        let body =
            json!({"category": "rubbish", "description": v, "address": v, "name": v, "lat": lat, "lng": 108.0600});
        let rep = filed(s, &body, &[("authorization", &reporter)])?;
        ensure!(rep["description"] == *v && rep["address"] == *v, "stored verbatim: {v:?}: {rep}");
        let path = format!("/reports/{}", rep["code"].as_str().unwrap_or_default());
        let note = json!({"status": "in_progress", "note": v}).to_string();
        let r = s.send(
            "PATCH",
            &path,
            &[("authorization", &officer), ("content-type", "application/json")],
            note.as_bytes(),
        )?;
        ensure!(r.status == 200, "patch with {v:?}: {} {}", r.status, String::from_utf8_lossy(&r.body));
        let r = s.send(
            "PATCH",
            &path,
            &[("authorization", &officer), ("content-type", "application/json")],
            json!({"status": v}).to_string().as_bytes(),
        )?;
        is_problem(&r, 422).map_err(|e| format!("status {v:?}: {e}"))?;
        let rating = json!({"stars": 5, "comment": v}).to_string();
        let r = s.send(
            "POST",
            &format!("{path}/rating"),
            &[("authorization", &reporter), ("content-type", "application/json")],
            rating.as_bytes(),
        )?;
        no_5xx("rating", &r)?;
        let back = get(&s.reports.addr, &path)?.json()?;
        ensure!(back["description"] == *v, "read back verbatim: {back}");
        ensure!(back.to_string().contains(&json!(v).to_string()), "note stored verbatim: {v:?}: {back}");
        for query in ["status", "category", "district", "bbox", "page"].map(|k| format!("/reports?{k}={}", pct(v))) {
            no_5xx(&query, &get(&s.reports.addr, &query)?)?;
        }
        for query in [
            format!("/reports/stats?from={}", pct(v)),
            format!("/reports/{}", pct(v)),
            format!("/open311/v2/services/{}.json", pct(v)),
            format!("/open311/v2/requests.json?status={}&service_code={}", pct(v), pct(v)),
            format!("/open311/v2/requests/{}.json", pct(v)),
            format!("/open311/v2/tokens/{}.json", pct(v)),
        ] {
            no_5xx(&query, &get(&s.reports.addr, &query)?)?;
        }
        let form = format!(
            "api_key=e2e-open311-key&service_code=rubbish&lat={lat}&long=108.0610&description={d}&address_string={d}\
             &first_name={d}&last_name={d}&phone=0905123456&email={d}&account_id={d}",
            d = pct(v)
        );
        let r = request(
            &s.reports.addr,
            "POST",
            "/open311/v2/requests.json",
            &[("content-type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )?;
        ensure!(r.status == 200, "open311 with {v:?}: {} {}", r.status, String::from_utf8_lossy(&r.body));
        let id = r.json()?[0]["service_request_id"].as_str().unwrap_or_default().to_owned();
        let back = get(&s.reports.addr, &format!("/open311/v2/requests/{id}.json"))?.json()?;
        ensure!(back[0]["description"] == *v && back[0]["address"] == *v, "open311 verbatim: {back}");
        let odd = form.replace("service_code=rubbish", &format!("service_code={}", pct(v)));
        no_5xx(
            "open311 service_code",
            &request(
                &s.reports.addr,
                "POST",
                "/open311/v2/requests.json",
                &[("content-type", "application/x-www-form-urlencoded")],
                odd.as_bytes(),
            )?,
        )?;
        let sms = send_sms(s.reports, "/reports/sms", &format!("sec-sql-{stamp}-{i}"), &format!("TT {v}"))?;
        no_5xx("TT sms", &sms)?;
    }
    // Catalogue names with metacharacters are valid text (only the deadline is refused, so
    // nothing is stored); metacharacters in codes are refused by name.
    for v in NASTY {
        let c = json!({"agencies": [{"code": "moi-truong", "name": v}], "categories": [{"code": "sec-sql", "name_vi": v,
            "name_en": v, "description_vi": v, "description_en": v, "keywords": [v], "deadline_hours": 0,
            "routes": {"*": "moi-truong", (*v): "moi-truong"}}]});
        let r = s.send(
            "PUT",
            "/reports/categories",
            &[("authorization", &admin), ("content-type", "application/json")],
            c.to_string().as_bytes(),
        )?;
        let p = is_problem(&r, 422)?;
        let fields: Vec<&str> =
            p["errors"].as_array().map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect()).unwrap_or_default();
        ensure!(fields == ["categories[0].deadline_hours"], "catalogue with {v:?}: {fields:?}");
        // (a quote keeps even "_", a valid code on its own, from being stored)
        let bad_code = json!({"agencies": [{"code": format!("{v}'"), "name": "x"}], "categories": []});
        let r = s.send(
            "PUT",
            "/reports/categories",
            &[("authorization", &admin), ("content-type", "application/json")],
            bad_code.to_string().as_bytes(),
        )?;
        is_problem(&r, 422)?;
    }
    // Everything is still there.
    for (path, table) in [
        ("/food-safety/health", "establishments"),
        ("/permits/health", "dossiers"),
        ("/payments/health", "orders"),
        ("/reports/health", "reports"),
    ] {
        let v = s.send("GET", path, &[], b"")?.json()?;
        ensure!(v["status"] == "ok" && v[table].is_i64(), "{path}: {v}");
    }
    let v = get(&s.food.addr, "/food-safety/establishments?q=quan%20bao%20mat")?;
    ensure!(v.status == 200, "search after: {}", v.status);
    Ok(())
}

/// A field far over its limit: 422 naming the field (or 413 past the body cap), never 5xx.
fn oversized_fields_are_4xx_never_5xx(s: &Servers) -> Result<(), String> {
    crate::reports::set_catalogue(s.reports)?;
    let admin = bearer(&["admin"]);
    let citizen = bearer(&["citizen"]);
    let json_h = |auth: &str| -> Vec<(String, String)> {
        vec![("authorization".into(), auth.to_owned()), ("content-type".into(), "application/json".into())]
    };
    let long = |n: usize| "ả".repeat(n);
    let filing = |field: &str, v: Value| {
        let mut b = json!({"category": "rubbish", "description": "Rác", "lat": 16.1150, "lng": 108.0650, "phone": "0905123456"});
        b[field] = v;
        b
    };
    let mut item = place("SEC-BIG-0001", "Quán", "Huyện Bảo Mật");
    let mut cases: Vec<(&str, &str, String, Value, &str)> = Vec::new();
    for (field, n) in [("name", 201), ("address", 301), ("district", 101), ("id", 65)] {
        let mut i = item.clone();
        i[field] = json!(long(n));
        cases.push(("PUT", "/food-safety/establishments", admin.clone(), json!([i]), "field"));
    }
    item["violations"] = json!([{"date": "2025-01-01", "description": long(501), "penalty_vnd": 1}]);
    cases.push(("PUT", "/food-safety/establishments", admin.clone(), json!([item]), "field"));
    let push_path = format!("/permits/{}", dossier_code(31));
    for (field, n) in [("procedure_name", 501), ("agency", 201), ("note", 1001)] {
        let mut d = dossier(4, "2024-11-06T09:00:00+07:00", 0, "An", "0905123456");
        d[field] = json!(long(n));
        cases.push(("PUT", &push_path, bearer(&["system"]), d, "field"));
    }
    let mut d = dossier(4, "2024-11-06T09:00:00+07:00", 0, "An", "0905123456");
    d["applicant"]["name"] = json!(long(201));
    cases.push(("PUT", &push_path, bearer(&["system"]), d, "field"));
    cases.push((
        "POST",
        "/payments/orders",
        citizen.clone(),
        json!({"dossier_code": "9".repeat(65), "provider": "vnpay"}),
        "field",
    ));
    cases.push((
        "POST",
        "/payments/orders",
        citizen.clone(),
        json!({"dossier_code": "9".repeat(4000), "provider": "vnpay"}),
        "413",
    ));
    cases.push(("POST", "/reports", citizen.clone(), filing("description", json!(long(4001))), "field"));
    cases.push(("POST", "/reports", citizen.clone(), filing("address", json!(long(301))), "field"));
    cases.push(("POST", "/reports", citizen.clone(), filing("name", json!(long(201))), "field"));
    cases.push(("POST", "/reports", citizen.clone(), filing("description", json!("x".repeat(100 * 1024))), "413"));
    cases.push((
        "POST",
        "/reports",
        citizen.clone(),
        filing("media_urls", json!([format!("https://cdn.example.vn/{}", "a".repeat(5000))])),
        "field",
    ));
    let mut cat = json!({"agencies": [{"code": "moi-truong", "name": long(201)}], "categories": []});
    cases.push(("PUT", "/reports/categories", admin.clone(), cat.clone(), "field"));
    cat["agencies"][0]["name"] = json!("x".repeat(300 * 1024));
    cases.push(("PUT", "/reports/categories", admin.clone(), cat, "413"));
    let mut failures = Vec::new();
    for (method, path, auth, body, want) in &cases {
        let h = json_h(auth);
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = s.send(method, path, &h, body.to_string().as_bytes())?;
        let ok = match *want {
            "413" => is_problem(&r, 413).is_ok(),
            _ => is_problem(&r, 422).is_ok_and(|p| p["errors"].as_array().is_some_and(|e| !e.is_empty())),
        };
        if !ok {
            failures.push(format!(
                "{method} {path} ({want}): {} {}",
                r.status,
                String::from_utf8_lossy(&r.body).chars().take(300).collect::<String>()
            ));
        }
    }
    let f = fixture(s, 4)?;
    // Query strings (with places stored, so that filters are evaluated), PATCH bodies,
    // Open311 forms, SMS texts.
    let big = pct(&long(300));
    let district60 = "a".repeat(60);
    for path in [
        format!("/food-safety/establishments?q={big}"),
        format!("/food-safety/establishments?district={big}"),
        format!("/food-safety/establishments?district={district60}"),
        format!("/food-safety/establishments?q=quan&district={district60}"),
        format!("/reports?district={big}"),
        format!("/open311/v2/requests.json?service_code={big}"),
    ] {
        let r = s.send("GET", &path, &[], b"")?;
        if !(400..500).contains(&r.status) && r.status != 200 {
            failures.push(format!("GET {}...: {}", &path[..40], r.status));
        }
    }
    let officer = bearer_with(&json!({"roles": ["officer"], "agency": "moi-truong"}));
    let r = s.send(
        "PATCH",
        &format!("/reports/{}", f.report),
        &[("authorization", &officer), ("content-type", "application/json")],
        json!({"status": "in_progress", "note": long(2001)}).to_string().as_bytes(),
    )?;
    if is_problem(&r, 422).is_err() {
        failures.push(format!("PATCH note 2001: {}", r.status));
    }
    let r = s.send(
        "PATCH",
        &format!("/reports/{}", f.report),
        &[("authorization", &officer), ("content-type", "application/json")],
        json!({"note": "x".repeat(9000)}).to_string().as_bytes(),
    )?;
    if is_problem(&r, 413).is_err() {
        failures.push(format!("PATCH 9 KB: {}", r.status));
    }
    let form = format!(
        "api_key=e2e-open311-key&service_code=rubbish&lat=16.1150&long=108.0650&description={}",
        "x".repeat(4001)
    );
    let r = request(
        &s.reports.addr,
        "POST",
        "/open311/v2/requests.json",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )?;
    if r.status != 400 {
        failures.push(format!("open311 description 4001: {} {}", r.status, String::from_utf8_lossy(&r.body)));
    }
    let form = format!(
        "api_key=e2e-open311-key&service_code=rubbish&lat=16.1150&long=108.0650&description={}",
        "x".repeat(20_000)
    );
    let r = request(
        &s.reports.addr,
        "POST",
        "/open311/v2/requests.json",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )?;
    if r.status != 413 {
        failures.push(format!("open311 20 KB: {}", r.status));
    }
    for path in ["/food-safety/sms", "/permits/sms", "/reports/sms"] {
        let keyword = match path {
            "/food-safety/sms" => "ATTP",
            "/permits/sms" => "HS",
            _ => "PA",
        };
        let r = send_sms(
            s.owner(path)?,
            path,
            &format!("sec-big-{}-{path}", unix_now()),
            &format!("{keyword} {}", "a".repeat(3000)),
        )?;
        if r.status >= 500 || (r.status == 200 && r.json()?["reply"].as_str().is_none_or(|t| t.len() > 160)) {
            failures.push(format!("{path} 3000-char text: {} {}", r.status, String::from_utf8_lossy(&r.body)));
        }
    }
    ensure!(failures.is_empty(), "{} oversized values not refused cleanly:\n{}", failures.len(), failures.join("\n"));
    is_problem(&get(&s.food.addr, "/food-safety/establishments/SEC-BIG-0001")?, 404)?;
    Ok(())
}

// ---------------------------------------------------------------- personal data

/// Data with a known name, phone, e-mail and JWT subject, filed through every channel; no
/// public answer shows any of them.
fn no_personal_data_in_public_answers(s: &Servers) -> Result<(), String> {
    crate::reports::set_catalogue(s.reports)?;
    let stamp = unix_now();
    let name = "Hoàng Thị Kínđáo";
    let phone = "0977123987";
    let email = "kindao.hoang@example.vn";
    let sub = format!("sec-pii-sub-{stamp}");
    let needles = [name, "Kínđáo", "Kindao", "kindao", "977123987", email, &sub];
    let token = bearer_with(&json!({"sub": sub, "phone": phone, "email": email, "name": name}));
    // permit-status: a dossier of hers.
    let code = dossier_code(41);
    push(s, &code, &dossier(4, "2024-11-06T09:00:00+07:00", 150_000, name, phone))?;
    // report-submission: a report through the app (name, phone, token), Open311 and SMS.
    let lat = 16.1200;
    let rep = filed(
        s,
        &json!({"category": "rubbish", "description": "Rác bảo mật", "lat": lat, "lng": 108.0700, "name": name, "phone": phone}),
        &[("authorization", &token)],
    )?;
    let rep_code = rep["code"].as_str().unwrap_or_default().to_owned();
    let form = format!(
        "api_key=e2e-open311-key&service_code=rubbish&lat={lat}&long=108.0705&description=R%C3%A1c&first_name={}&last_name={}\
         &phone={phone}&email={}&device_id={}",
        pct("Kínđáo"),
        pct("Hoàng Thị"),
        pct(email),
        pct(&sub)
    );
    let r = request(
        &s.reports.addr,
        "POST",
        "/open311/v2/requests.json",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )?;
    ensure!(r.status == 200, "open311: {} {}", r.status, String::from_utf8_lossy(&r.body));
    let o311 = r.json()?[0]["service_request_id"].as_str().unwrap_or_default().to_owned();
    let sms = send_sms_from(
        s.reports,
        "/reports/sms",
        &format!("sec-pii-{stamp}"),
        "84977123987",
        &format!("PA Rác ở kiệt {stamp}"),
    )?;
    ensure!(sms.status == 200, "sms: {}", sms.status);
    let sms_code = sms.json()?["reply"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .nth(4)
        .unwrap_or_default()
        .trim_end_matches(',')
        .to_owned();
    // food-safety: an SMS from her phone (kept for "ATTP 2" picks).
    send_sms_from(s.food, "/food-safety/sms", &format!("sec-pii-{stamp}"), "84977123987", "ATTP ba")?;
    let bbox = format!("108.0690,{:.4},108.0720,{:.4}", lat - 0.001, lat + 0.001);
    let public = [
        "/food-safety/establishments?district=bao%20mat".to_owned(),
        "/food-safety/establishments?q=ba".to_owned(),
        format!("/permits/{code}"),
        format!("/permits/{code}?phone=0000"),
        format!("/reports/{rep_code}"),
        format!("/reports/{sms_code}"),
        format!("/reports/{o311}"),
        format!("/reports?bbox={bbox}"),
        "/reports?category=rubbish".to_owned(),
        "/reports/stats".to_owned(),
        "/open311/v2/requests.json".to_owned(),
        format!("/open311/v2/requests.json?service_request_id={rep_code},{o311},{sms_code}"),
        format!("/open311/v2/requests/{rep_code}.json"),
        format!("/open311/v2/requests/{o311}.json"),
        format!("/open311/v2/requests/{sms_code}.json"),
        format!("/open311/v2/tokens/{o311}.json"),
    ];
    let mut leaks = Vec::new();
    for path in &public {
        let r = s.send("GET", path, &[], b"")?;
        ensure!(r.status == 200, "GET {path}: {} {}", r.status, String::from_utf8_lossy(&r.body));
        let text = String::from_utf8_lossy(&r.body);
        for n in needles {
            if text.contains(n) {
                leaks.push(format!("{path} shows {n:?}"));
            }
        }
    }
    // Public SMS answers: anyone can text HS <code> or TT <code>.
    for (path, text) in [("/permits/sms", format!("HS {code}")), ("/reports/sms", format!("TT {rep_code}"))] {
        let r = send_sms_from(s.owner(path)?, path, &format!("sec-pii-tt-{stamp}-{path}"), "84911999888", &text)?;
        let reply = String::from_utf8_lossy(&r.body).to_string();
        for n in needles {
            if reply.contains(n) {
                leaks.push(format!("{path} {text} reply shows {n:?}"));
            }
        }
    }
    // Another citizen's token is not hers: the permit view stays public.
    let other = bearer_with(&json!({"sub": "sec-someone", "phone": "0911000111"}));
    let r = s.send("GET", &format!("/permits/{code}"), &[("authorization", &other)], b"")?;
    let text = String::from_utf8_lossy(&r.body);
    if needles.iter().any(|n| text.contains(n)) {
        leaks.push(format!("/permits/{code} with another citizen's token: {text}"));
    }
    ensure!(leaks.is_empty(), "personal data in public answers:\n{}", leaks.join("\n"));
    Ok(())
}
