//! What the fuzz targets run, and what they check, in one place: each target in
//! `fuzz_targets/` calls one function here, and so does the replay of the corpus seeds and of
//! every crash found (`tests/fuzz.rs` in the main workspace, which includes this file).
//!
//! Every input goes through a function's own `handle` on `NativePlatform` (in-memory SQLite
//! with the real migrations and some data), as a request from the outside would, and the pure
//! parsers are called on the same text. What must hold for any input:
//!
//! - nothing panics (a panic is a trap in Wasm: a 500 for a citizen, a retry storm for a bank);
//! - no 5xx (but a wallet's 502): bad input is the client's error, answered 4xx, and the
//!   in-memory database does not fail (a failed statement would be a 503);
//! - errors are problem+json, except where the partner's own format is the contract (VNPay's
//!   `RspCode`, ZaloPay's `return_code`, Open311's error list);
//! - partner callbacks: a correctly signed one is never refused as forged, a VNPay IPN never
//!   answers `99` (unknown error) and every answer is one of VNPay's documented codes;
//! - SMS: every text message gets a non-empty reply that fits the SMS size;
//! - chat: every signed Zalo event and every Telegram update with the secret is answered
//!   (200, or a 400 for an update that is not one), and every signed command gets a
//!   non-empty reply, one plain SMS for the `sms` channel;
//! - dossier codes: a parsed code parses again to itself.
//!
//! Inputs are bytes; where a target has modes, the first byte picks one, so libFuzzer's
//! mutations move between them.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use civic::platform::native::{NativePlatform, block_on};
use http::{Request, Response, StatusCode};
use serde_json::{Value, json};

const SECRET: &str = "fuzz-hs256-secret-0123456789abcdef";
const SMS_SECRET: &str = "fuzz-sms-secret";
const VNPAY_SECRET: &str = "FUZZVNPAYSECRETFUZZVNPAYSECRET00";
const MOMO_ACCESS: &str = "fuzz-momo-access";
const MOMO_SECRET: &str = "fuzz-momo-secret";
const ZALO_KEY2: &str = "fuzz-zalo-key2";
const OPEN311_KEY: &str = "fuzz-open311-key";
/// The key of the agency [`REPORT`] is routed to (it posts `servicerequestupdates`).
const OPEN311_AGENCY_KEY: &str = "fuzz-agency-key";
const INTERNAL_SECRET: &str = "fuzz-internal-secret";
const ZALO_APP_ID: &str = "4500000000000000001";
const ZALO_OA_SECRET: &str = "fuzz-zalo-oa-secret";
const TELEGRAM_SECRET: &str = "fuzz-telegram-secret";
/// A dossier with a fee, and its pending orders (one per provider), made by [`world`].
pub const DOSSIER: &str = "000.00.19.H57-241105-0012";
pub const VNPAY_TXN: &str = "241122_FUZZVNPAY";
pub const MOMO_TXN: &str = "241122_FUZZMOMO";
pub const ZALO_TXN: &str = "241122_FUZZZALO";
/// The reports [`world`] files for `citizen-1`, routed to the agency `hai-chau`: one open, for
/// officers to move, and one resolved, to rate.
pub const REPORT: &str = "PA-241122-0001";
pub const RESOLVED: &str = "PA-241122-0002";
const FEE: i64 = 150_000;

/// The databases of all four functions, shared as on the local host, with a fixed clock.
pub struct World {
    pub env: NativePlatform,
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-11-22T09:00:00+07:00").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

/// The one world of this process, made on first use.
///
/// # Panics
/// When the world cannot be set up (a broken migration or seed): no input could be judged.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| match make_world() {
        Ok(w) => w,
        Err(e) => panic!("fuzz world: {e}"),
    })
}

fn make_world() -> Result<World, String> {
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let env = NativePlatform::in_memory_migrated(&["food", "permits", "payments", "reports", "chat"], &migrations)
        .map_err(|e| e.to_string())?;
    let mut env = env;
    for (k, v) in [
        ("jwt_issuer", "iss"),
        ("jwt_audience", "aud"),
        ("jwt_hs256_secret", SECRET),
        ("sms_webhook_secret", SMS_SECRET),
        ("vnpay_tmn_code", "FUZZV210"),
        ("vnpay_hash_secret", VNPAY_SECRET),
        ("vnpay_pay_url", "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html"),
        ("vnpay_return_url", "https://dichvucong.example.vn/ket-qua"),
        ("momo_partner_code", "MOMOFUZZ"),
        ("momo_access_key", MOMO_ACCESS),
        ("momo_secret_key", MOMO_SECRET),
        ("zalopay_app_id", "2553"),
        ("zalopay_key1", "fuzz-zalo-key1"),
        ("zalopay_key2", ZALO_KEY2),
        // The wallets' create APIs are out of reach: outbound fetch allows no host here.
        ("momo_endpoint", "http://127.0.0.1:9"),
        ("zalopay_endpoint", "http://127.0.0.1:9"),
        ("public_base_url", "https://api.example.vn"),
        ("payment_return_url", "https://dichvucong.example.vn/ket-qua"),
        ("open311_api_keys", &format!("{OPEN311_KEY},{OPEN311_AGENCY_KEY}=so-gtvt")),
        ("open311_jurisdiction_id", "danang.gov.vn"),
        // chat: the other functions and the platforms' APIs are out of reach (no host is
        // allowed), so every reply that needs them is the bot's apology or goes to the outbox.
        ("internal_secret", INTERNAL_SECRET),
        ("zalo_app_id", ZALO_APP_ID),
        ("zalo_oa_secret_key", ZALO_OA_SECRET),
        ("zalo_app_secret_key", "fuzz-zalo-app-secret"),
        ("zalo_refresh_token", "fuzz-zalo-refresh"),
        ("zalo_api_base", "http://127.0.0.1:9"),
        ("zalo_oauth_base", "http://127.0.0.1:9"),
        ("telegram_bot_token", "fuzz-telegram-token"),
        ("telegram_secret_token", TELEGRAM_SECRET),
        ("telegram_api_base", "http://127.0.0.1:9"),
    ] {
        env = env.with_config(k, v);
    }
    env.set_now(now());
    let w = World { env };
    let expect = |what: &str, resp: Response<Bytes>, want: StatusCode| {
        if resp.status() == want {
            Ok(())
        } else {
            Err(format!("{what}: {} {}", resp.status(), String::from_utf8_lossy(resp.body())))
        }
    };
    let food = Value::Array(food_safety::demo::establishments(300)).to_string();
    expect("food import", w.call("PUT", "/food-safety/establishments", Auth::Admin, JSON, food), StatusCode::OK)?;
    let push = json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng",
        "field": "Xây dựng", "agency": "UBND quận Hải Châu",
        "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
        "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
        "status": 4, "status_at": "2024-11-06T09:00:00+07:00", "fee_vnd": FEE});
    let path = format!("/permits/{DOSSIER}");
    expect("dossier", w.call("PUT", &path, Auth::System, JSON, push.to_string()), StatusCode::CREATED)?;
    expect("categories", w.call("PUT", "/reports/categories", Auth::Admin, JSON, CATALOGUE.into()), StatusCode::OK)?;
    let report =
        json!({"category": "road-damage", "description": "Ổ gà lớn giữa đường", "lat": 16.0719, "lng": 108.2203});
    for _ in [REPORT, RESOLVED] {
        expect("report", w.call("POST", "/reports", Auth::Citizen, JSON, report.to_string()), StatusCode::CREATED)?;
    }
    let done = json!({"status": "resolved", "note": "Đã vá"}).to_string();
    expect("resolve", w.call("PATCH", &format!("/reports/{RESOLVED}"), Auth::Officer, JSON, done), StatusCode::OK)?;
    let stamp = civic::web::stamp;
    for (i, (txn, provider)) in [(VNPAY_TXN, "vnpay"), (MOMO_TXN, "momo"), (ZALO_TXN, "zalopay")].iter().enumerate() {
        let order = payment_callback::ledger::Order {
            order_id: format!("ord_fuzz_{i}"),
            txn_ref: (*txn).into(),
            dossier_code: DOSSIER.into(),
            owner: "citizen-1".into(),
            provider: (*provider).into(),
            amount_vnd: FEE,
            state: payment_callback::ledger::OrderState::Pending,
            payment_url: None,
            created_at: stamp(now()),
            expires_at: stamp(now() + Duration::days(3650)),
            paid_at: None,
            provider_txn_id: None,
        };
        block_on(payment_callback::ledger::insert(&w.env, &order)).map_err(|e| format!("order: {e}"))?;
    }
    Ok(w)
}

const JSON: &str = "application/json";
const CSV: &str = "text/csv";
const FORM: &str = "application/x-www-form-urlencoded";

const CATALOGUE: &str = r#"{"agencies": [
    {"code": "so-gtvt", "name": "Sở Giao thông vận tải"},
    {"code": "hai-chau", "name": "UBND quận Hải Châu"}],
  "categories": [
    {"code": "road-damage", "name_vi": "Hư hỏng mặt đường", "name_en": "Road damage",
     "description_vi": "Ổ gà, sụt lún", "description_en": "Potholes", "keywords": ["o ga"],
     "deadline_hours": 72, "routes": {"*": "so-gtvt", "Quận Hải Châu": "hai-chau"},
     "attributes": [
       {"code": "width", "datatype": "number", "description": "Rộng bao nhiêu mét?"},
       {"code": "lanes", "datatype": "multivaluelist", "description": "Làn nào?",
        "values": [{"key": "left", "name": "Trái"}, {"key": "right", "name": "Phải"}]},
       {"code": "seen", "datatype": "datetime", "description": "Thấy lúc nào?"}]}]}"#;

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `citizen-1`, who filed [`REPORT`] and owns the orders.
    Citizen,
    /// An officer of the agency [`REPORT`] is routed to.
    Officer,
    /// An officer of another agency.
    OtherOfficer,
    Admin,
    System,
    /// A token signed with another key.
    Forged,
    /// A token past its `exp`.
    Expired,
}

pub const AUTHS: [Auth; 8] = [
    Auth::None,
    Auth::Citizen,
    Auth::Officer,
    Auth::OtherOfficer,
    Auth::Admin,
    Auth::System,
    Auth::Forged,
    Auth::Expired,
];

impl Auth {
    fn header(self) -> Option<String> {
        let t = now().timestamp();
        let claims = match self {
            Auth::None => return None,
            Auth::Citizen => json!({"phone": "0905123456"}),
            Auth::Officer => json!({"sub": "officer-1", "roles": ["officer"], "agency": "hai-chau"}),
            Auth::OtherOfficer => json!({"sub": "officer-2", "roles": ["officer"], "agency": "so-gtvt"}),
            Auth::Admin => json!({"sub": "admin-1", "roles": ["admin"]}),
            Auth::System => json!({"sub": "lgsp", "roles": ["system"]}),
            Auth::Forged => return Some(civic::testing::bearer("another-secret-0123456789abcdefgh", t, &json!({}))),
            Auth::Expired => json!({"exp": t - 60}),
        };
        Some(civic::testing::bearer(SECRET, t, &claims))
    }
}

impl World {
    /// One request through the function that owns `path`, as the local host routes it.
    pub fn call(&self, method: &str, path: &str, auth: Auth, content_type: &str, body: String) -> Response<Bytes> {
        self.send(method, path, auth, &[("content-type", content_type)], Bytes::from(body))
    }

    fn send(&self, method: &str, uri: &str, auth: Auth, headers: &[(&str, &str)], body: Bytes) -> Response<Bytes> {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(a) = auth.header() {
            req = req.header("authorization", a);
        }
        let Ok(req) = req.body(body) else { panic!("request {method} {uri} could not be built") };
        let env = &self.env;
        if uri.starts_with("/food-safety") {
            block_on(food_safety::handle(req, env))
        } else if uri.starts_with("/permits") {
            block_on(permit_status::handle(req, env))
        } else if uri.starts_with("/payments") {
            block_on(payment_callback::handle(req, env))
        } else if uri.starts_with("/chat") {
            block_on(chat::handle(req, env))
        } else {
            block_on(report_submission::handle(req, env))
        }
    }
}

/// The checks every answer passes: no 5xx but the 502 of a wallet out of reach (a 503 would
/// be a failed statement: the in-memory database is always there), and problem+json for
/// every error unless `own_format`.
fn check(what: &str, resp: &Response<Bytes>, own_format: bool) {
    let status = resp.status();
    let body = String::from_utf8_lossy(resp.body());
    assert!(!status.is_server_error() || status == StatusCode::BAD_GATEWAY, "{what}: {status} {body}");
    if status.is_client_error() || status.is_server_error() {
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !own_format {
            assert!(ct.starts_with("application/problem+json"), "{what}: {status} answered {ct:?}: {body}");
            let problem: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
            assert_eq!(problem["status"], status.as_u16(), "{what}: {body}");
        }
    }
    if resp.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/")) {
        assert!(serde_json::from_slice::<Value>(resp.body()).is_ok(), "{what}: {status} body is not JSON: {body}");
    }
}

/// Percent-encodes what may not stand in a URI's query or path, so any bytes make a request
/// (as a client's library would send them).
fn uri_safe(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_graphic()
            && !matches!(b, b'#' | b'%' | b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn split(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&mode, rest)) => (mode, rest),
        None => (0, &[]),
    }
}

fn message_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("fuzz-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A sender of its own for each message: the clock here is frozen, so one number would meet
/// its SMS rate limit (`rate_limit_sms`, tested apart) and be answered with silence.
fn sender() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("849{:08}", NEXT.fetch_add(1, Ordering::Relaxed) % 100_000_000)
}

/// The SMS keywords' parsers and webhooks. Mode bits 0-1 pick the function (ATTP, HS, PA);
/// bit 2 sends the rest as the whole gateway body (signed) instead of as the message text.
pub fn sms(data: &[u8]) {
    let (mode, rest) = split(data);
    let w = world();
    let path = ["/food-safety/sms", "/permits/sms", "/reports/sms", "/food-safety/sms"][usize::from(mode & 3)];
    let text = String::from_utf8_lossy(rest);
    let _ = civic::sms::keyword(&text);
    let _ = food_safety::sms::parse(&text);
    let raw = mode & 4 != 0;
    let body = if raw {
        Bytes::copy_from_slice(rest)
    } else {
        let msg = json!({"id": message_id(), "from": sender(), "to": "8188", "text": text});
        Bytes::from(msg.to_string())
    };
    let signature = civic::auth::hmac_sha256_hex(SMS_SECRET.as_bytes(), &body);
    let resp = w.send("POST", path, Auth::None, &[("content-type", JSON), ("x-signature", &signature)], body);
    check(path, &resp, false);
    if !raw {
        assert_eq!(resp.status(), StatusCode::OK, "{path} {text:?}: {}", String::from_utf8_lossy(resp.body()));
        let v: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
        let reply = v["reply"].as_str().unwrap_or("");
        assert!(!reply.trim().is_empty(), "{path} {text:?}: empty reply");
        assert!(
            reply.len() <= civic::text::SMS_MAX && reply.is_ascii(),
            "{path} {text:?}: a reply that is not one plain SMS: {reply:?}"
        );
    }
}

/// VNPay's IPN: the query string as sent (bit 0 clear), or parsed and signed as VNPay signs
/// (bit 0 set), so the checks past the signature are reached.
pub fn vnpay(data: &[u8]) {
    let (mode, rest) = split(data);
    let query = if mode & 1 == 0 {
        uri_safe(rest)
    } else {
        // VNPay sends each parameter once; a repeated one is refused as unsigned.
        let mut params: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(rest).into_owned() {
            if k != "vnp_SecureHash" && k != "vnp_SecureHashType" && !params.iter().any(|(seen, _)| *seen == k) {
                params.push((k, v));
            }
        }
        let hash = payment_callback::vnpay::secure_hash(VNPAY_SECRET, &params);
        params.push(("vnp_SecureHash".into(), hash));
        form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish()
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let valid = payment_callback::vnpay::verify(VNPAY_SECRET, &params);
    let resp = world().send("GET", &format!("/payments/vnpay/ipn?{query}"), Auth::None, &[], Bytes::new());
    check("vnpay ipn", &resp, true);
    let v: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    let code = v["RspCode"].as_str().unwrap_or("");
    assert!(
        resp.status() == StatusCode::OK && ["00", "01", "02", "04", "97"].contains(&code),
        "vnpay ipn {query:?}: {} {v}",
        resp.status()
    );
    assert_eq!(code == "97", !valid, "vnpay ipn {query:?}: {v} with a signature that is {valid}");
    if mode & 1 != 0 {
        assert!(valid, "vnpay ipn {query:?}: signed by the harness but not valid");
    }
}

/// Open311: `POST requests.json` with the rest as the form (bit 0 clear; bit 1 puts a valid
/// api_key and service_code first), or `GET requests.json` with it as the query (bit 0 set).
pub fn open311(data: &[u8]) {
    let (mode, rest) = split(data);
    // bit 1: GET (else POST); bit 2: the POST starts with a valid key and its target;
    // bit 4: servicerequestupdates (else requests); bit 8: XML (else JSON).
    let resource = if mode & 4 == 0 { "requests" } else { "servicerequestupdates" };
    let xml = mode & 8 != 0;
    let path = format!("/open311/v2/{resource}.{}", if xml { "xml" } else { "json" });
    let resp = if mode & 1 == 0 {
        let mut body = Vec::new();
        if mode & 2 != 0 {
            let start = if mode & 4 == 0 {
                format!("api_key={OPEN311_KEY}&service_code=road-damage&")
            } else {
                format!("api_key={OPEN311_AGENCY_KEY}&service_request_id={REPORT}&")
            };
            body.extend_from_slice(start.as_bytes());
        }
        body.extend_from_slice(rest);
        world().send("POST", &path, Auth::None, &[("content-type", FORM)], Bytes::from(body))
    } else {
        world().send("GET", &format!("{path}?{}", uri_safe(rest)), Auth::None, &[], Bytes::new())
    };
    check("open311", &resp, true);
    if xml {
        let text = String::from_utf8_lossy(resp.body());
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"), "open311: {text}");
        let code = format!("<code>{}</code>", resp.status().as_u16());
        assert!(resp.status().is_success() || (text.contains("<errors>") && text.contains(&code)), "open311: {text}");
        return;
    }
    let v: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    assert!(v.is_array(), "open311: {} {v}", resp.status());
    if !resp.status().is_success() {
        assert_eq!(v[0]["code"], resp.status().as_u16(), "open311: {v}");
    }
}

/// A body route: method, path, content type.
pub const BODIES: [(&str, &str, &str); 15] = [
    ("PUT", "/food-safety/establishments", JSON),
    ("PUT", "/food-safety/establishments", CSV),
    ("PUT", "/food-safety/violations", CSV),
    ("PUT", "/food-safety/violations", JSON),
    ("PUT", "/permits/000.00.19.H57-241105-0012", JSON),
    ("POST", "/payments/orders", JSON),
    ("POST", "/payments/momo/ipn", JSON),
    ("POST", "/payments/zalopay/callback", JSON),
    ("POST", "/reports", JSON),
    ("PUT", "/reports/categories", JSON),
    ("PATCH", "/reports/PA-241122-0001", JSON),
    ("POST", "/reports/PA-241122-0002/rating", JSON),
    ("POST", "/permits/webhooks", JSON),
    ("POST", "/payments/webhooks", JSON),
    ("POST", "/reports/webhooks", JSON),
];

/// Every route that takes a body: byte 0 picks the route (low nibble) and the caller (high
/// nibble, low three bits). MoMo's IPN and ZaloPay's callback are signed by the harness when
/// the caller bits are odd, the way each wallet signs, so their checks past the signature are
/// reached; they answer in their own format.
pub fn bodies(data: &[u8]) {
    let (mode, rest) = split(data);
    let (method, path, content_type) = BODIES[usize::from(mode & 15) % BODIES.len()];
    let auth = AUTHS[usize::from(mode >> 4) & 7];
    let signed = (mode >> 4) & 1 == 1;
    let mut body = Bytes::copy_from_slice(rest);
    let mut resigned = false;
    if signed && path == "/payments/momo/ipn" {
        if let Ok(mut v) = serde_json::from_slice::<Value>(rest)
            && v.is_object()
        {
            let raw = payment_callback::momo::signed_string(MOMO_ACCESS, &v);
            v["signature"] = json!(civic::auth::hmac_sha256_hex(MOMO_SECRET.as_bytes(), raw.as_bytes()));
            body = Bytes::from(v.to_string());
            resigned = true;
        }
    } else if signed && path == "/payments/zalopay/callback" {
        let data = String::from_utf8_lossy(rest);
        let mac = civic::auth::hmac_sha256_hex(ZALO_KEY2.as_bytes(), data.as_bytes());
        body = Bytes::from(json!({"data": data, "mac": mac, "type": 1}).to_string());
    }
    let what = format!("{method} {path} ({content_type}, {auth:?})");
    let resp = world().send(method, path, auth, &[("content-type", content_type)], body);
    let partner = path.starts_with("/payments/momo") || path.starts_with("/payments/zalopay");
    check(&what, &resp, partner);
    // ZaloPay never signs an empty `data`; one is refused whatever its MAC.
    if signed && path == "/payments/zalopay/callback" && !rest.is_empty() {
        let v: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
        assert_ne!(v["return_code"], -1, "{what}: a correctly signed callback refused as forged: {v}");
    }
    if resigned {
        assert_ne!(resp.status(), StatusCode::UNAUTHORIZED, "{what}: a correctly signed IPN refused as forged");
    }
}

/// The dossier code parser, and the permit lookup and SMS that read codes from citizens.
pub fn dossier_code(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(code) = civic::dossier::Code::parse(&text) {
        assert_eq!(civic::dossier::Code::parse(code.as_str()).as_ref(), Some(&code), "{text:?}");
        assert!(code.as_str().len() <= 52, "{text:?}: {}", code.as_str());
    }
    let w = world();
    let resp = w.send("GET", &format!("/permits/{}", uri_safe(data)), Auth::None, &[], Bytes::new());
    check("permit lookup", &resp, false);
    let resp = w.send("GET", &format!("/permits/{}?phone=3456", uri_safe(data)), Auth::Citizen, &[], Bytes::new());
    check("permit lookup (signed in)", &resp, false);
}

/// The chat bot's webhooks and the command routes it calls. Bits 0-1 of the mode pick what
/// the rest is: 0 the text of a signed Zalo `user_send_text`, 1 a whole Zalo event (signed
/// over its own `timestamp` field), 2 a whole Telegram update (with the secret), 3 the text
/// of a signed command to the function bits 2-3 pick, on the channel bits 4-5 pick.
pub fn chat(data: &[u8]) {
    let (mode, rest) = split(data);
    let w = world();
    let text = String::from_utf8_lossy(rest).into_owned();
    let zalo = |body: String| {
        let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let ts = match &value["timestamp"] {
            Value::String(t) => t.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        // signed as Zalo signs, to reach what lies past the signature
        let sig = chat::zalo::signature(ZALO_APP_ID, body.as_bytes(), &ts, ZALO_OA_SECRET);
        w.send("POST", "/chat/zalo", Auth::None, &[("content-type", JSON), ("x-zevent-signature", &sig)], body.into())
    };
    match mode & 3 {
        0 => {
            let event = json!({"app_id": ZALO_APP_ID, "sender": {"id": "9000000000000000001"},
                "recipient": {"id": "1"}, "event_name": "user_send_text",
                "message": {"text": text, "msg_id": message_id()},
                "timestamp": now().timestamp_millis().to_string()});
            let resp = zalo(event.to_string());
            check("zalo text", &resp, false);
            assert_eq!(resp.status(), StatusCode::OK, "{text:?}: {}", String::from_utf8_lossy(resp.body()));
        }
        1 => check("zalo event", &zalo(text), false),
        2 => {
            let headers = [("content-type", JSON), ("x-telegram-bot-api-secret-token", TELEGRAM_SECRET)];
            let resp = w.send("POST", "/chat/telegram", Auth::None, &headers, Bytes::from(text));
            check("telegram update", &resp, false);
        }
        _ => {
            let path = ["/food-safety/command", "/permits/command", "/reports/command", "/reports/command"]
                [usize::from((mode >> 2) & 3)];
            let channel = ["sms", "zalo", "telegram", "zalo"][usize::from((mode >> 4) & 3)];
            let cmd = json!({"channel": channel, "user": "9000000000000000002", "text": text,
                "location": {"lat": 16.0719, "lng": 108.2203}, "id": message_id()});
            let body = Bytes::from(cmd.to_string());
            let sig = civic::auth::hmac_sha256_hex(INTERNAL_SECRET.as_bytes(), &body);
            let resp = w.send("POST", path, Auth::None, &[("content-type", JSON), ("x-signature", &sig)], body);
            check(path, &resp, false);
            if resp.status() == StatusCode::OK {
                let v: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
                let reply = v["reply"].as_str().unwrap_or("");
                assert!(!reply.trim().is_empty(), "{path} {text:?}: empty reply");
                if channel == "sms" {
                    assert!(reply.len() <= civic::text::SMS_MAX && reply.is_ascii(), "{path} {text:?}: {reply:?}");
                }
            }
        }
    }
}

/// The inputs each target starts from: one valid request of each kind, and a few near misses.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let with = |mode: u8, body: &str| {
        let mut v = vec![mode];
        v.extend_from_slice(body.as_bytes());
        v
    };
    match target {
        "sms" => vec![
            with(0, "ATTP pho ba"),
            with(0, "attp 2"),
            with(1, "HS 000.00.19.H57-241105-0012"),
            with(2, "PA PA-241122-0001"),
            with(2, "PA o ga truoc 12 Tran Phu, Hai Chau"),
            with(4, r#"{"id":"m1","from":"84905123456","to":"8188","text":"ATTP quan"}"#),
        ],
        "chat" => vec![
            with(0, "ATTP pho ba"),
            with(0, "PA Đèn đường hỏng"),
            with(0, "2"),
            with(
                1,
                &format!(
                    r#"{{"app_id":"{ZALO_APP_ID}","sender":{{"id":"9"}},"event_name":"user_send_location","message":{{"msg_id":"l1","attachments":[{{"type":"location","payload":{{"coordinates":{{"latitude":"16.07","longitude":"108.22"}}}}}}]}},"timestamp":"{}"}}"#,
                    now().timestamp_millis()
                ),
            ),
            with(
                2,
                r#"{"update_id":1,"message":{"message_id":1,"chat":{"id":42},"text":"HS 000.00.19.H57-241105-0012"}}"#,
            ),
            with(2, r#"{"update_id":2,"callback_query":{"id":"q","from":{"id":42},"data":"GUI"}}"#),
            with(3, "ATTP pho ba hoa"),
            with(3 | 4, "HS 000.00.19.H57-241105-0012 3456"),
            with(3 | 8 | 16, "PA Ổ gà trước 12 Trần Phú"),
            with(3 | 8, "TT PA-241122-0001"),
        ],
        "vnpay" => {
            let q = format!(
                "vnp_Amount={}&vnp_BankCode=NCB&vnp_OrderInfo=Le+phi&vnp_PayDate=20241122090500&vnp_ResponseCode=00\
                 &vnp_TmnCode=FUZZV210&vnp_TransactionNo=14668450&vnp_TransactionStatus=00&vnp_TxnRef={VNPAY_TXN}",
                FEE * 100
            );
            vec![with(1, &q), with(0, &q), with(1, &q.replace("=00", "=24")), with(0, "vnp_SecureHash=00")]
        }
        "open311" => vec![
            with(2, "lat=16.0719&long=108.2203&description=O+ga&phone=0905123456&first_name=An&last_name=Nguyen"),
            with(2, "address_string=12+Tran+Phu&description=O+ga&email=a%40b.vn&account_id=7"),
            with(0, &format!("api_key={OPEN311_KEY}&service_code=none")),
            with(1, "service_code=road-damage&start_date=2024-11-01T00:00:00Z&status=open"),
            with(1, "service_request_id=PA-241122-0001,PA-241122-0002"),
            with(2, "address_string=12+Tran+Phu&description=O+ga&attribute[width]=2.5&attribute[lanes][]=left"),
            with(2 | 8, "address_string=12+Tran+Phu&description=O+ga&attribute[seen]=2024-11-05T08:00:00%2B07:00"),
            with(2 | 4, "update_id=u1&status=INVESTIGATING&description=Dang+kiem+tra"),
            with(2 | 4 | 8, "update_id=u2&status=DUPLICATE"),
            with(1 | 4 | 8, "start_date=2024-11-01T00:00:00Z&jurisdiction_id=danang.gov.vn"),
        ],
        "bodies" => {
            let route = |path: &str, method: &str, ct: &str| {
                BODIES.iter().position(|&(m, p, c)| p == path && m == method && c == ct).map_or(0, |i| i as u8)
            };
            let one = food_safety::demo::establishments(1).first().cloned().unwrap_or(Value::Null);
            let momo = json!({"partnerCode": "MOMOFUZZ", "orderId": MOMO_TXN, "requestId": MOMO_TXN, "amount": FEE,
                "orderInfo": "Le phi", "orderType": "momo_wallet", "transId": 4_088_878_653i64, "resultCode": 0,
                "message": "Thành công.", "payType": "qr", "responseTime": 1_732_240_800_000i64, "extraData": ""});
            let zalo = json!({"app_id": 2553, "app_trans_id": ZALO_TXN, "app_time": 1_732_240_800_000i64,
                "app_user": "citizen-1", "amount": FEE, "embed_data": "{}", "item": "[]", "zp_trans_id": 241_122_000_000_123i64,
                "server_time": 1_732_240_860_000i64, "channel": 38});
            let permit = json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép",
                "field": "Xây dựng", "agency": "UBND quận Hải Châu",
                "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
                "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
                "status": 5, "status_at": "2024-11-07T09:00:00+07:00", "fee_vnd": FEE, "note": "Đang thẩm định"});
            let id = one["id"].as_str().unwrap_or("DN-000001").to_owned();
            let (admin, system, citizen, officer) = (4 << 4, 5 << 4, 1 << 4, 2 << 4);
            vec![
                with(admin | route("/food-safety/establishments", "PUT", JSON), &Value::Array(vec![one]).to_string()),
                with(
                    admin | route("/food-safety/establishments", "PUT", CSV),
                    "id,name,address,ward,district,province,kind,certificate.number,certificate.issued,certificate.expires,certificate.authority\n\
                     X-1,Quán Phở Hà,12 Trần Phú,Thạch Thang,Hải Châu,Đà Nẵng,restaurant,123/ATTP,2024-01-02,2027-01-02,Ban Quản lý ATTP\n",
                ),
                with(
                    admin | route("/food-safety/violations", "PUT", CSV),
                    &format!("establishment_id,date,description,penalty_vnd\n{id},2024-03-04,Không đội mũ,1500000\n"),
                ),
                with(
                    admin | route("/food-safety/violations", "PUT", JSON),
                    &json!([{"establishment_id": id, "date": "2024-03-04", "description": "Bẩn", "penalty_vnd": 500000}])
                        .to_string(),
                ),
                with(system | route("/permits/000.00.19.H57-241105-0012", "PUT", JSON), &permit.to_string()),
                with(citizen | route("/payments/orders", "POST", JSON), &json!({"dossier_code": DOSSIER, "provider": "vnpay"}).to_string()),
                with(citizen | route("/payments/momo/ipn", "POST", JSON), &momo.to_string()),
                with(citizen | route("/payments/zalopay/callback", "POST", JSON), &zalo.to_string()),
                with(
                    citizen | route("/reports", "POST", JSON),
                    &json!({"category": "road-damage", "description": "Ổ gà", "address": "12 Trần Phú, Hải Châu",
                        "media_urls": ["https://cdn.example.vn/1.jpg"], "name": "An", "phone": "0905123456"})
                    .to_string(),
                ),
                with(admin | route("/reports/categories", "PUT", JSON), CATALOGUE),
                with(
                    officer | route("/reports/PA-241122-0001", "PATCH", JSON),
                    &json!({"status": "in_progress", "note": "Đã cử đội"}).to_string(),
                ),
                with(
                    citizen | route("/reports/PA-241122-0002/rating", "POST", JSON),
                    &json!({"stars": 5, "comment": "Nhanh"}).to_string(),
                ),
                with(
                    admin | route("/permits/webhooks", "POST", JSON),
                    &json!({"url": "https://mot-cua.example.vn/hooks", "events": ["dossier.status_changed"]}).to_string(),
                ),
                with(
                    admin | route("/payments/webhooks", "POST", JSON),
                    &json!({"url": "https://mot-cua.example.vn/hooks", "events": ["payment.settled", "order.expired"]})
                        .to_string(),
                ),
                with(
                    admin | route("/reports/webhooks", "POST", JSON),
                    &json!({"url": "https://hai-chau.example.vn/hooks", "events": ["report.overdue"], "agency": "ubnd-hai-chau"})
                        .to_string(),
                ),
            ]
        }
        "dossier_code" => vec![
            DOSSIER.as_bytes().to_vec(),
            b"000.00.19.h57-241105-0012".to_vec(),
            b"H57.1-240230-0001".to_vec(),
            b"..-000000-0000".to_vec(),
        ],
        _ => Vec::new(),
    }
}

/// The targets, by name, for the replay and for `cargo xtask fuzz`.
pub type Target = (&'static str, fn(&[u8]));

pub const TARGETS: [Target; 6] = [
    ("sms", sms),
    ("vnpay", vnpay),
    ("open311", open311),
    ("bodies", bodies),
    ("dossier_code", dossier_code),
    ("chat", chat),
];
