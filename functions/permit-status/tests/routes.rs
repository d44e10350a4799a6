//! The routes through `handle`, natively: the same code the Wasm builds run, on rusqlite,
//! with a settable clock (the day boundary in UTC+7 is exact here; the end-to-end suite
//! drives the same routes over HTTP on both runtimes).

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use bytes::Bytes;
use civic::Platform;
use civic::platform::native::{NativePlatform, block_on};
use civic::testing::t;
use http::{Request, StatusCode};
use serde_json::{Value, json};

const CODE: &str = "000.00.19.H57-241105-0012";

fn env() -> NativePlatform {
    civic::testing::route_env_at(&["permits", "payments"], "2024-11-18T10:00:00+07:00")
        .with_config("sms_webhook_secret", "sms-secret")
}

fn token(env: &NativePlatform, extra: Value) -> String {
    civic::testing::token(env, &extra)
}

/// A JSON request through `handle`, with a bearer token when `auth` is given.
fn call(env: &NativePlatform, method: &str, path: &str, auth: Option<&str>, body: &str) -> (StatusCode, Value) {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend(auth.map(|a| ("authorization", a)));
    civic::testing::call(|r| permit_status::handle(r, env), method, path, &headers, body.to_owned())
}

fn body(status: i64, status_at: &str, note: &str) -> String {
    json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
       "field": "Xây dựng", "agency": "UBND quận Hải Châu",
       "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
       "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
       "status": status, "status_at": status_at, "note": note, "result_at": null, "fee_vnd": 150000})
    .to_string()
}

fn push(env: &NativePlatform, status: i64, at: &str, note: &str) -> (StatusCode, Value) {
    let system = token(env, json!({"roles": ["system"]}));
    call(env, "PUT", &format!("/permits/{CODE}"), Some(&system), &body(status, at, note))
}

#[test]
fn pushes_need_the_system_role_and_valid_bodies() {
    let env = env();
    let path = format!("/permits/{CODE}");
    let b = body(4, "2024-11-06T09:00:00+07:00", "");
    assert_eq!(call(&env, "PUT", &path, None, &b).0, StatusCode::UNAUTHORIZED);
    let citizen = token(&env, json!({"roles": ["citizen"]}));
    assert_eq!(call(&env, "PUT", &path, Some(&citizen), &b).0, StatusCode::FORBIDDEN);
    let admin = token(&env, json!({"roles": ["admin"]}));
    assert_eq!(call(&env, "PUT", &path, Some(&admin), &b).0, StatusCode::FORBIDDEN);
    let system = token(&env, json!({"roles": ["system"]}));
    let (status, problem) = call(&env, "PUT", "/permits/H57-1", Some(&system), &b);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let bad = body(11, "yesterday", "").replace("\"fee_vnd\":150000", "\"fee_vnd\":-5");
    let (status, problem) = call(&env, "PUT", &path, Some(&system), &bad);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["status", "status_at", "fee_vnd"]);
    assert_eq!(call(&env, "GET", &path, None, "").0, StatusCode::NOT_FOUND, "nothing stored");
}

#[test]
fn repeated_and_out_of_order_pushes_leave_the_newest_state() {
    let env = env();
    assert_eq!(
        push(&env, 2, "2024-11-05T08:30:00+07:00", "Tiếp nhận"),
        (StatusCode::CREATED, json!({"code": CODE, "outcome": "created"}))
    );
    assert_eq!(push(&env, 4, "2024-11-06T09:00:00+07:00", "Chuyển phòng").1["outcome"], "updated");
    assert_eq!(push(&env, 4, "2024-11-06T09:00:00+07:00", "Chuyển phòng").1["outcome"], "unchanged");
    assert_eq!(push(&env, 1, "2024-11-05T08:00:00+07:00", "Nộp trực tuyến").1["outcome"], "stale");
    let (_, v) = call(&env, "GET", &format!("/permits/{}?phone=3456", CODE.to_lowercase()), None, "");
    assert_eq!(v["code"], CODE);
    assert_eq!(v["status"], json!({"code": 4, "label": "Đang xử lý"}));
    let history: Vec<i64> =
        v["history"].as_array().unwrap().iter().map(|e| e["status"]["code"].as_i64().unwrap()).collect();
    assert_eq!(history, [1, 2, 4], "every event once, in time order");
    let (status, health) = call(&env, "GET", "/permits/health", None, "");
    assert_eq!((status, health), (StatusCode::OK, json!({"status": "ok", "dossiers": 1})));
}

#[test]
fn only_the_verified_applicant_sees_name_and_history() {
    let env = env();
    push(&env, 4, "2024-11-06T09:00:00+07:00", "Chuyển phòng Quản lý đô thị");
    let path = format!("/permits/{CODE}");
    let (status, public) = call(&env, "GET", &path, None, "");
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&String> = public.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "agency",
            "code",
            "days_late",
            "days_left",
            "due_at",
            "fee_paid",
            "fee_vnd",
            "overdue",
            "procedure_name",
            "received_at",
            "status"
        ]
    );
    let text = public.to_string();
    assert!(!text.contains("Nguyễn") && !text.contains("0905") && !text.contains("3456"), "{text}");

    let (_, by_last4) = call(&env, "GET", &format!("{path}?phone=3456"), None, "");
    assert_eq!(by_last4["applicant"], json!({"name": "Nguyễn V. A."}));
    assert_eq!(by_last4["history"][0]["note"], "Chuyển phòng Quản lý đô thị");
    assert!(!by_last4.to_string().contains("0905"));

    let (status, wrong) = call(&env, "GET", &format!("{path}?phone=3457"), None, "");
    assert_eq!((status, &wrong), (StatusCode::OK, &public), "a wrong guess looks like no guess");

    let mine = token(&env, json!({"phone": "+84 905 123 456"}));
    assert_eq!(call(&env, "GET", &path, Some(&mine), "").1, by_last4);
    let theirs = token(&env, json!({"phone": "0905999999"}));
    assert_eq!(call(&env, "GET", &path, Some(&theirs), "").1, public);
    let officer = token(&env, json!({"roles": ["admin"], "phone": "0905123456"}));
    assert_eq!(call(&env, "GET", &path, Some(&officer), "").1, public, "the phone claim counts for citizens");
    let expired = token(&env, json!({"phone": "0905123456", "exp": 1}));
    assert_eq!(call(&env, "GET", &path, Some(&expired), "").0, StatusCode::UNAUTHORIZED);

    // Guessing through the 10,000 last-4 answers stops after a few wrong ones a day.
    for guess in 0..10 {
        call(&env, "GET", &format!("{path}?phone={guess:04}"), None, "");
    }
    assert_eq!(call(&env, "GET", &format!("{path}?phone=3456"), None, "").1, public, "closed for today");
    assert_eq!(call(&env, "GET", &path, Some(&mine), "").1, by_last4, "the JWT still works");
    env.set_now(t("2024-11-19T00:00:00+07:00"));
    assert!(call(&env, "GET", &format!("{path}?phone=3456"), None, "").1.get("history").is_some(), "open the next day");
}

#[test]
fn overdue_turns_at_midnight_in_vietnam() {
    let env = env();
    push(&env, 4, "2024-11-06T09:00:00+07:00", "");
    let at = |now: &str| {
        env.set_now(t(now));
        let (_, v) = call(&env, "GET", &format!("/permits/{CODE}"), None, "");
        (v["overdue"].clone(), v["days_late"].clone(), v["days_left"].clone())
    };
    assert_eq!(at("2024-11-14T16:59:59Z"), (json!(false), Value::Null, json!(1)), "23:59:59 on the 14th");
    assert_eq!(at("2024-11-14T17:00:00Z"), (json!(false), Value::Null, json!(0)), "00:00 on the 15th");
    assert_eq!(at("2024-11-15T10:00:01Z"), (json!(true), json!(0), Value::Null), "17:00:01 on the 15th");
    assert_eq!(at("2024-11-15T16:59:59Z"), (json!(true), json!(0), Value::Null), "23:59:59 on the 15th");
    assert_eq!(at("2024-11-15T17:00:00Z"), (json!(true), json!(1), Value::Null), "00:00 on the 16th");
    push(&env, 9, "2024-11-16T08:00:00+07:00", "Đã ký");
    assert_eq!(at("2024-11-20T00:00:00Z"), (json!(false), Value::Null, Value::Null), "processed: no longer running");
}

#[test]
fn fee_paid_comes_from_the_payments_database() {
    let env = env();
    push(&env, 6, "2024-11-06T09:00:00+07:00", "Yêu cầu nộp lệ phí");
    let fee_paid = |env: &NativePlatform| call(env, "GET", &format!("/permits/{CODE}"), None, "").1["fee_paid"].clone();
    assert_eq!(fee_paid(&env), json!(false));
    block_on(env.execute(
        "payments",
        "INSERT INTO orders (order_id, txn_ref, dossier_code, owner, provider, amount_vnd, state, created_at, expires_at, paid_at)
         VALUES ('o1', 'T1', ?1, 'u1', 'momo', 150000, 'paid', '2024-11-07T02:00:00Z', '2024-11-07T02:15:00Z', '2024-11-07T02:01:00Z')",
        &[CODE.into()],
    ))
    .unwrap();
    assert_eq!(fee_paid(&env), json!(true));
    let sms = sms(&env, "m1", &format!("hs {}", CODE.to_lowercase()));
    assert_eq!(
        sms,
        "Ho so 000.00.19.H57-241105-0012: Yeu cau thuc hien nghia vu tai chinh, hen tra 15/11/2024 (tre 3 ngay). Le phi: da nop."
    );
}

fn sms(env: &NativePlatform, id: &str, text: &str) -> String {
    let body = json!({"id": id, "from": "84905123456", "to": "8188", "text": text}).to_string();
    let sig = civic::auth::hmac_sha256_hex(b"sms-secret", body.as_bytes());
    let req = Request::post("/permits/sms").header("x-signature", sig).body(Bytes::from(body)).unwrap();
    let resp = block_on(permit_status::handle(req, env));
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = serde_json::from_slice(resp.body()).unwrap();
    v["reply"].as_str().unwrap().to_owned()
}

#[test]
fn sms_answers_each_kind_of_message() {
    let env = env();
    push(&env, 4, "2024-11-06T09:00:00+07:00", "");
    assert_eq!(
        sms(&env, "1", &format!("HS {CODE}")),
        "Ho so 000.00.19.H57-241105-0012: Dang xu ly, hen tra 15/11/2024 (tre 3 ngay). Le phi 150.000d: chua nop."
    );
    assert!(
        sms(&env, "2", "HS 000.00.19.H57-241105-0099").starts_with("Khong tim thay ho so 000.00.19.H57-241105-0099.")
    );
    assert!(sms(&env, "3", "HS 12345").starts_with("Ma ho so \"12345\" khong dung."));
    assert!(sms(&env, "4", "HS").starts_with("Tra cuu ho so: soan HS <ma ho so> gui 8188."));
    assert!(sms(&env, "5", "xin chao").starts_with("Tra cuu ho so"));
    // a redelivery gets the stored reply even when the dossier has moved on
    push(&env, 9, "2024-11-16T08:00:00+07:00", "");
    assert!(sms(&env, "1", &format!("HS {CODE}")).contains("Dang xu ly"));
    assert!(sms(&env, "6", &format!("HS {CODE}")).contains("Da xu ly xong"));
}

#[test]
fn unknown_routes_and_methods() {
    let env = env();
    assert_eq!(call(&env, "GET", "/permits", None, "").0, StatusCode::NOT_FOUND);
    assert_eq!(call(&env, "GET", "/permits/a/b", None, "").0, StatusCode::NOT_FOUND);
    assert_eq!(call(&env, "DELETE", &format!("/permits/{CODE}"), None, "").0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(call(&env, "PUT", "/permits/health", None, "").0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(call(&env, "GET", "/permits/sms", None, "").0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(call(&env, "GET", "/food-safety/health", None, "").0, StatusCode::NOT_FOUND);
}

/// A lookup with its response headers: status, `Retry-After`, content type, body.
fn lookup(env: &NativePlatform, path: &str, auth: Option<&str>) -> (StatusCode, String, String, Value) {
    let mut req = Request::get(path);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = block_on(permit_status::handle(req.body(Bytes::new()).unwrap(), env));
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let (retry, kind) = (header("retry-after"), header("content-type"));
    (resp.status(), retry, kind, serde_json::from_slice(resp.body()).unwrap_or(Value::Null))
}

#[test]
fn lookups_are_limited_per_caller_and_the_window_resets() {
    let env = env().with_config("rate_limit_dossier_lookup", "3/1h");
    push(&env, 4, "2024-11-06T09:00:00+07:00", "");
    let path = format!("/permits/{CODE}");
    // Unknown codes count too: walking the code space is what the limit stops.
    assert_eq!(lookup(&env, "/permits/000.00.19.H57-241105-0099", None).0, StatusCode::NOT_FOUND);
    assert_eq!(lookup(&env, &path, None).0, StatusCode::OK);
    assert_eq!(lookup(&env, &path, None).0, StatusCode::OK);
    let (status, retry, kind, problem) = lookup(&env, &path, None);
    assert_eq!(
        (status, retry.as_str(), kind.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "3600", "application/problem+json")
    );
    assert_eq!(problem["status"], 429, "{problem}");
    // A malformed code is a 400 before anything is counted; an invalid token a 401.
    assert_eq!(lookup(&env, "/permits/H57-1", None).0, StatusCode::BAD_REQUEST);
    let expired = token(&env, json!({"exp": 1}));
    assert_eq!(lookup(&env, &path, Some(&expired)).0, StatusCode::UNAUTHORIZED);

    // Another caller (a signed-in citizen: counted by subject) is served, up to its own limit.
    let citizen = token(&env, json!({"sub": "citizen-2"}));
    for _ in 0..3 {
        assert_eq!(lookup(&env, &path, Some(&citizen)).0, StatusCode::OK);
    }
    assert_eq!(lookup(&env, &path, Some(&citizen)).0, StatusCode::TOO_MANY_REQUESTS);
    // The system, admins and officers are never counted.
    let system = token(&env, json!({"sub": "mot-cua", "roles": ["system"]}));
    let admin = token(&env, json!({"sub": "ops", "roles": ["admin"]}));
    let officer = token(&env, json!({"sub": "can-bo", "roles": ["officer"], "agency": "UBND quận Hải Châu"}));
    for _ in 0..5 {
        for who in [&system, &admin, &officer] {
            assert_eq!(lookup(&env, &path, Some(who)).0, StatusCode::OK);
        }
    }
    // Twenty minutes on, still refused, for what is left of the window.
    env.set_now(t("2024-11-18T10:20:00+07:00"));
    assert_eq!(lookup(&env, &path, None).1, "2400");
    // The window ends an hour after its first lookup.
    env.set_now(t("2024-11-18T11:00:00+07:00"));
    assert_eq!(lookup(&env, &path, None).0, StatusCode::OK);
    let rows = block_on(env.query("permits", "SELECT caller FROM rate_limits", &[])).unwrap();
    assert!(rows.iter().all(|r| !r.str("caller").unwrap().contains("citizen")), "callers are pseudonyms");
}

#[test]
fn the_default_lookup_limit_is_generous() {
    let env = env();
    push(&env, 4, "2024-11-06T09:00:00+07:00", "");
    let path = format!("/permits/{CODE}");
    for _ in 0..120 {
        assert_eq!(lookup(&env, &path, None).0, StatusCode::OK);
    }
    assert_eq!(lookup(&env, &path, None).0, StatusCode::TOO_MANY_REQUESTS, "120 an hour, then 429");
    let bad = env.with_config("rate_limit_dossier_lookup", "lots");
    assert_eq!(lookup(&bad, &path, None).0, StatusCode::INTERNAL_SERVER_ERROR, "a setting that does not parse");
}
