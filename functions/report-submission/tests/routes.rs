//! The routes through `handle`, natively (rusqlite, a settable clock).

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use bytes::Bytes;
use chrono::Duration;
use civic::Platform;
use civic::platform::native::{NativePlatform, block_on};
use civic::testing::token;
use http::{Request, StatusCode};
use serde_json::{Value, json};

/// Notifications and scheduled work.
#[path = "routes/outbox.rs"]
mod outbox;

/// Rate limits and retention.
#[path = "routes/privacy.rs"]
mod privacy;

/// A JSON request through `handle` (no body when `body` is null).
fn call(env: &NativePlatform, method: &str, path: &str, headers: &[(&str, &str)], body: &Value) -> (StatusCode, Value) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let body = if body.is_null() { Bytes::new() } else { Bytes::from(body.to_string()) };
    civic::testing::call(|r| report_submission::handle(r, env), method, path, &all, body)
}

fn catalogue() -> Value {
    json!({
        "agencies": [
            {"code": "so-gtvt", "name": "Sở Giao thông vận tải"},
            {"code": "hai-chau", "name": "UBND quận Hải Châu"},
            {"code": "moi-truong", "name": "Công ty Môi trường đô thị"}
        ],
        "categories": [
            {"code": "road-damage", "name_vi": "Hư hỏng mặt đường", "name_en": "Road damage",
             "description_vi": "Ổ gà, sụt lún", "description_en": "Potholes, subsidence", "keywords": ["o ga", "sut lun"],
             "deadline_hours": 72, "routes": {"*": "so-gtvt", "Quận Hải Châu": "hai-chau"}},
            {"code": "rubbish", "name_vi": "Rác thải", "name_en": "Rubbish",
             "description_vi": "Rác thải không đúng nơi quy định", "description_en": "Dumped rubbish", "keywords": ["rac"],
             "deadline_hours": 24, "routes": {"*": "moi-truong"}}
        ]
    })
}

fn env() -> NativePlatform {
    let env = civic::testing::route_env_at(&["reports"], "2024-11-05T09:00:00+07:00");
    let admin = token(&env, &json!({"roles": ["admin"]}));
    let (status, v) = call(&env, "PUT", "/reports/categories", &[("authorization", &admin)], &catalogue());
    assert_eq!(status, StatusCode::OK, "{v}");
    env
}

fn pothole(lat: f64, lng: f64) -> Value {
    json!({"category": "road-damage", "description": "Ổ gà lớn giữa đường", "lat": lat, "lng": lng,
        "media_urls": ["https://cdn.example.vn/p/1.jpg"]})
}

#[test]
fn a_citizen_files_and_anyone_follows_without_personal_data() {
    let env = env();
    let citizen = token(&env, &json!({"phone": "0905123456"}));
    let mut body = pothole(16.0719, 108.2203);
    body["name"] = json!("Nguyễn Văn An");
    let (status, v) = call(&env, "POST", "/reports", &[("authorization", &citizen)], &body);
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["code"], "PA-241105-0001");
    assert_eq!(v["status"], "received");
    assert_eq!(v["agency"], json!({"code": "hai-chau", "name": "UBND quận Hải Châu"}), "routed by district");
    assert_eq!(v["created_at"], "2024-11-05T09:00:00+07:00");
    assert_eq!(v["due_at"], "2024-11-08T09:00:00+07:00", "72 hours");
    assert_eq!(v["duplicate_of"], Value::Null);
    assert_eq!(v["history"][0]["status"], "received");
    let (_, public) = call(&env, "GET", "/reports/pa-241105-0001", &[], &Value::Null);
    assert_eq!(public, v);
    let text = public.to_string();
    assert!(!text.contains("0905") && !text.contains("Nguyễn") && !text.contains("citizen-1"), "{text}");
    // elsewhere in the city: the category's default agency
    let (_, far) = call(&env, "POST", "/reports", &[("authorization", &citizen)], &pothole(16.0750, 108.1450));
    assert_eq!((far["code"].clone(), far["agency"]["code"].clone()), (json!("PA-241105-0002"), json!("so-gtvt")));
    assert_eq!(call(&env, "GET", "/reports/PA-241105-0099", &[], &Value::Null).0, StatusCode::NOT_FOUND);
}

#[test]
fn anonymous_filing_needs_a_phone_and_an_address_is_enough() {
    let env = env();
    let body =
        json!({"category": "rubbish", "description": "Rác đổ trộm", "address": "Kiệt 12 Trần Cao Vân, Thanh Khê"});
    let (status, problem) = call(&env, "POST", "/reports", &[], &body);
    assert_eq!((status, problem["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("phone")));
    let mut with_phone = body.clone();
    with_phone["phone"] = json!("0905 111 222");
    with_phone["anonymous"] = json!(true);
    let (status, v) = call(&env, "POST", "/reports", &[], &with_phone);
    assert_eq!((status, v["agency"]["code"].clone()), (StatusCode::CREATED, json!("moi-truong")));
    assert!(!v.to_string().contains("111"));
    let agency = token(&env, &json!({"roles": ["officer"], "agency": "moi-truong"}));
    let (_, seen) = call(
        &env,
        "GET",
        &format!("/reports/{}", v["code"].as_str().unwrap()),
        &[("authorization", &agency)],
        &Value::Null,
    );
    assert_eq!(
        seen["reporter"],
        json!({"name": null, "phone": "0905 111 222", "anonymous": true}),
        "kept for the agency"
    );
    let unknown = json!({"category": "ufo", "description": "x", "address": "Hải Châu", "phone": "0905111222"});
    let (status, problem) = call(&env, "POST", "/reports", &[], &unknown);
    assert_eq!((status, problem["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("category")));
    let expired = token(&env, &json!({"exp": 1}));
    assert_eq!(call(&env, "POST", "/reports", &[("authorization", &expired)], &with_phone).0, StatusCode::UNAUTHORIZED);
}

#[test]
fn an_idempotency_key_files_once() {
    let env = env();
    let citizen = token(&env, &json!({}));
    let headers = [("authorization", citizen.as_str()), ("idempotency-key", "retry-7f3a")];
    let (s1, first) = call(&env, "POST", "/reports", &headers, &pothole(16.0719, 108.2203));
    let (s2, again) = call(&env, "POST", "/reports", &headers, &pothole(16.0719, 108.2203));
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(first, again);
    let count = block_on(env.query("reports", "SELECT count(*) AS n FROM reports", &[])).unwrap();
    assert_eq!(count.first().unwrap().i64("n").unwrap(), 1);
    // the same key from someone else is their own
    let other = token(&env, &json!({"sub": "citizen-2"}));
    let (_, theirs) = call(
        &env,
        "POST",
        "/reports",
        &[("authorization", &other), ("idempotency-key", "retry-7f3a")],
        &pothole(16.0719, 108.2203),
    );
    assert_ne!(theirs["code"], first["code"]);
}

#[test]
fn a_report_within_50_m_of_an_open_one_is_its_duplicate() {
    let env = env();
    let citizen = token(&env, &json!({}));
    let post =
        |env: &NativePlatform, body: Value| call(env, "POST", "/reports", &[("authorization", &citizen)], &body).1;
    let first = post(&env, pothole(16.0719, 108.2203));
    // ~33 m north: a duplicate
    let near = post(&env, pothole(16.0722, 108.2203));
    assert_eq!(near["duplicate_of"], first["code"]);
    assert!(near["history"][0]["note"].as_str().unwrap().contains(first["code"].as_str().unwrap()));
    // ~78 m: not one
    assert_eq!(post(&env, pothole(16.0726, 108.2203))["duplicate_of"], Value::Null);
    // another category at the same spot: not one
    let mut rubbish = pothole(16.0719, 108.2203);
    rubbish["category"] = json!("rubbish");
    assert_eq!(post(&env, rubbish)["duplicate_of"], Value::Null);
    // eight days later: not one
    env.set_now(env.now() + Duration::days(8));
    let citizen = token(&env, &json!({}));
    let late = call(&env, "POST", "/reports", &[("authorization", &citizen)], &pothole(16.0719, 108.2203)).1;
    assert_eq!(late["duplicate_of"], Value::Null);
    assert!(late["code"].as_str().unwrap().starts_with("PA-241113-"), "{late}");
}

#[test]
fn categories_are_listed_and_only_admins_set_them() {
    let env = env();
    let (status, list) = call(&env, "GET", "/reports/categories", &[], &Value::Null);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let citizen = token(&env, &json!({}));
    assert_eq!(
        call(&env, "PUT", "/reports/categories", &[("authorization", &citizen)], &catalogue()).0,
        StatusCode::FORBIDDEN
    );
    let admin = token(&env, &json!({"roles": ["admin"]}));
    let mut bad = catalogue();
    bad["categories"][0]["routes"] = json!({"Hải Châu": "nobody"});
    let (status, problem) = call(&env, "PUT", "/reports/categories", &[("authorization", &admin)], &bad);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (_, health) = call(&env, "GET", "/reports/health", &[], &Value::Null);
    assert_eq!(health, json!({"status": "ok", "reports": 0}));
}

#[test]
fn officers_of_the_agency_move_it_and_every_change_is_kept() {
    let env = env();
    let citizen = token(&env, &json!({"sub": "reporter-1"}));
    let filed = call(&env, "POST", "/reports", &[("authorization", &citizen)], &pothole(16.0719, 108.2203)).1;
    let path = format!("/reports/{}", filed["code"].as_str().unwrap());
    let officer = |agency: &str| {
        token(&env, &json!({"sub": format!("officer-{agency}"), "roles": ["officer"], "agency": agency}))
    };
    let hai_chau = officer("hai-chau");
    let step = json!({"status": "in_progress", "note": "Đã cử đội kiểm tra"});
    assert_eq!(
        call(&env, "PATCH", &path, &[("authorization", &officer("so-gtvt"))], &step).0,
        StatusCode::FORBIDDEN,
        "another agency"
    );
    assert_eq!(
        call(&env, "PATCH", &path, &[("authorization", &citizen)], &step).0,
        StatusCode::FORBIDDEN,
        "not an officer"
    );
    let (status, v) = call(&env, "PATCH", &path, &[("authorization", &hai_chau)], &step);
    assert_eq!((status, v["status"].clone()), (StatusCode::OK, json!("in_progress")), "{v}");
    let reject = json!({"status": "rejected"});
    assert_eq!(
        call(&env, "PATCH", &path, &[("authorization", &hai_chau)], &reject).0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "needs a reason"
    );
    // a rating before it is resolved is refused
    let stars = json!({"stars": 5, "comment": "Nhanh"});
    assert_eq!(
        call(&env, "POST", &format!("{path}/rating"), &[("authorization", &citizen)], &stars).0,
        StatusCode::CONFLICT
    );
    let done = json!({"status": "resolved", "note": "Đã vá ổ gà", "media_url": "https://cdn.example.vn/fix.jpg"});
    let (_, v) = call(&env, "PATCH", &path, &[("authorization", &hai_chau)], &done);
    let history: Vec<&str> = v["history"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(history, ["received", "in_progress", "resolved"]);
    assert_eq!(v["history"][2]["media_url"], "https://cdn.example.vn/fix.jpg");
    assert_eq!(call(&env, "PATCH", &path, &[("authorization", &hai_chau)], &step).0, StatusCode::CONFLICT, "final");
    // the agency sees who reported it; another agency and the public do not
    let (_, seen) = call(&env, "GET", &path, &[("authorization", &hai_chau)], &Value::Null);
    assert_eq!(seen["reporter"], json!({"name": null, "phone": null, "anonymous": false}));
    let (_, other_agency) = call(&env, "GET", &path, &[("authorization", &officer("so-gtvt"))], &Value::Null);
    assert!(other_agency.get("reporter").is_none());
    // the reporter rates it, once; nobody else can
    let other = token(&env, &json!({"sub": "someone-else"}));
    assert_eq!(
        call(&env, "POST", &format!("{path}/rating"), &[("authorization", &other)], &stars).0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(call(&env, "POST", &format!("{path}/rating"), &[("authorization", &citizen)], &stars).0, StatusCode::OK);
    assert_eq!(
        call(&env, "POST", &format!("{path}/rating"), &[("authorization", &citizen)], &stars).0,
        StatusCode::CONFLICT
    );
}

#[test]
fn a_reassigned_report_belongs_to_the_new_agency() {
    let env = env();
    let citizen = token(&env, &json!({}));
    let filed = call(&env, "POST", "/reports", &[("authorization", &citizen)], &pothole(16.0719, 108.2203)).1;
    let path = format!("/reports/{}", filed["code"].as_str().unwrap());
    let officer = |agency: &str| token(&env, &json!({"roles": ["officer"], "agency": agency}));
    let unknown = json!({"agency": "nobody"});
    assert_eq!(
        call(&env, "PATCH", &path, &[("authorization", &officer("hai-chau"))], &unknown).0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, v) = call(
        &env,
        "PATCH",
        &path,
        &[("authorization", &officer("hai-chau"))],
        &json!({"agency": "so-gtvt", "note": "Đường do Sở quản lý"}),
    );
    assert_eq!((status, v["agency"]["code"].clone()), (StatusCode::OK, json!("so-gtvt")), "{v}");
    assert_eq!(v["history"][1]["status"], "reassigned");
    let step = json!({"status": "in_progress"});
    assert_eq!(call(&env, "PATCH", &path, &[("authorization", &officer("hai-chau"))], &step).0, StatusCode::FORBIDDEN);
    assert_eq!(call(&env, "PATCH", &path, &[("authorization", &officer("so-gtvt"))], &step).0, StatusCode::OK);
}

#[test]
fn lists_filter_and_page_and_stats_count_per_agency() {
    let env = env();
    // 23 potholes in Hải Châu (spread out: no duplicates), 2 rubbish reports elsewhere, each
    // by a citizen of its own (one citizen files at most 10 an hour)
    let citizen = |i: usize| token(&env, &json!({"sub": format!("citizen-{i}")}));
    for i in 0..23 {
        let lat = 16.0500 + f64::from(u8::try_from(i).unwrap()) * 0.001;
        call(&env, "POST", "/reports", &[("authorization", &citizen(i))], &pothole(lat, 108.2150));
    }
    for (i, lng) in [108.1400, 108.1420].into_iter().enumerate() {
        let body = json!({"category": "rubbish", "description": "Rác", "lat": 16.0850, "lng": lng});
        call(&env, "POST", "/reports", &[("authorization", &citizen(100 + i))], &body);
    }
    let (status, first) = call(&env, "GET", "/reports?category=road-damage", &[], &Value::Null);
    assert_eq!(status, StatusCode::OK);
    assert_eq!((first["total"].clone(), first["reports"].as_array().unwrap().len()), (json!(23), 20));
    let (_, second) = call(&env, "GET", "/reports?category=road-damage&page=2", &[], &Value::Null);
    assert_eq!(second["reports"].as_array().unwrap().len(), 3);
    assert_eq!(call(&env, "GET", "/reports?district=Li%C3%AAn%20Chi%E1%BB%83u", &[], &Value::Null).1["total"], 2);
    assert_eq!(call(&env, "GET", "/reports?bbox=108.13,16.08,108.15,16.09", &[], &Value::Null).1["total"], 2);
    assert_eq!(call(&env, "GET", "/reports?status=open", &[], &Value::Null).1["total"], 25);
    assert_eq!(call(&env, "GET", "/reports?status=lost", &[], &Value::Null).0, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!first.to_string().contains("citizen-1"));

    // resolve two Hải Châu reports: one within its 72 h, one after; let the rest run late
    let codes: Vec<String> =
        second["reports"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_owned()).collect();
    env.set_now(env.now() + Duration::hours(10));
    let officer_now = token(&env, &json!({"roles": ["officer"], "agency": "hai-chau"}));
    call(
        &env,
        "PATCH",
        &format!("/reports/{}", codes[0]),
        &[("authorization", &officer_now)],
        &json!({"status": "resolved"}),
    );
    env.set_now(env.now() + Duration::hours(90));
    let officer_late = token(&env, &json!({"roles": ["officer"], "agency": "hai-chau"}));
    call(
        &env,
        "PATCH",
        &format!("/reports/{}", codes[1]),
        &[("authorization", &officer_late)],
        &json!({"status": "resolved"}),
    );
    let (status, stats) = call(&env, "GET", "/reports/stats?from=2024-11-01&to=2024-11-30", &[], &Value::Null);
    assert_eq!(status, StatusCode::OK, "{stats}");
    let hai_chau =
        stats["agencies"].as_array().unwrap().iter().find(|a| a["agency"]["code"] == "hai-chau").unwrap().clone();
    assert_eq!(
        hai_chau,
        json!({"agency": {"code": "hai-chau", "name": "UBND quận Hải Châu"}, "received": 23, "resolved": 2, "on_time": 1,
               "overdue_open": 21, "median_resolution_hours": 55.0})
    );
    assert_eq!(stats["total"]["received"], 25);
    assert_eq!(
        call(&env, "GET", "/reports/stats?from=2024-12-01&to=2024-11-01", &[], &Value::Null).0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

fn sms(env: &NativePlatform, id: &str, text: &str) -> String {
    let body = json!({"id": id, "from": "84905123456", "to": "1022", "text": text}).to_string();
    let sig = civic::auth::hmac_sha256_hex(b"sms-secret", body.as_bytes());
    let req = Request::post("/reports/sms").header("x-signature", sig).body(Bytes::from(body)).unwrap();
    let resp = block_on(report_submission::handle(req, env));
    assert_eq!(resp.status(), StatusCode::OK);
    serde_json::from_slice::<Value>(resp.body()).unwrap()["reply"].as_str().unwrap().to_owned()
}

#[test]
fn sms_files_a_report_once_and_answers_its_status() {
    let env = env().with_config("sms_webhook_secret", "sms-secret");
    let reply = sms(&env, "m-1", "PA Rác đổ trộm đầu kiệt 12 Trần Cao Vân, Thanh Khê");
    assert_eq!(
        reply,
        "Da nhan phan anh PA-241105-0001, giao Cong ty Moi truong do thi xu ly truoc 09:00 06/11/2024. Tra cuu: soan TT PA-241105-0001 gui 1022"
    );
    assert_eq!(sms(&env, "m-1", "PA Rác đổ trộm đầu kiệt 12 Trần Cao Vân, Thanh Khê"), reply, "a redelivery");
    let (_, r) = call(&env, "GET", "/reports/PA-241105-0001", &[], &Value::Null);
    assert_eq!((r["category"].clone(), r["address"].clone()), (json!("rubbish"), json!("Quận Thanh Khê")));
    assert_eq!(call(&env, "GET", "/reports", &[], &Value::Null).1["total"], 1, "filed once");
    let status = sms(&env, "m-2", "tt pa-241105-0001");
    assert!(
        status.starts_with("Phan anh PA-241105-0001: Da tiep nhan (Cong ty Moi truong do thi), han 09:00 06/11/2024."),
        "{status}"
    );
    assert!(sms(&env, "m-3", "TT PA-000000-0000").starts_with("Khong tim thay phan anh PA-000000-0000."));
    assert!(sms(&env, "m-4", "xin chào").starts_with("Phan anh hien truong: soan PA <noi dung> gui 1022."));
    // no keyword matches, and this catalogue has no "other" category
    assert!(sms(&env, "m-5", "PA đèn đường hỏng").starts_with("Chua xac dinh duoc linh vuc"));
}

fn form(env: &NativePlatform, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let body = fields.iter().map(|(k, v)| format!("{k}={}", v.replace(' ', "+"))).collect::<Vec<_>>().join("&");
    let req = Request::post("/open311/v2/requests.json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(body))
        .unwrap();
    let resp = block_on(report_submission::handle(req, env));
    (resp.status(), serde_json::from_slice(resp.body()).unwrap())
}

#[test]
fn open311_lists_services_takes_requests_and_reads_them_back() {
    let env = env().with_config("open311_api_keys", "key-a, key-b");
    let (status, services) = call(&env, "GET", "/open311/v2/services.json", &[], &Value::Null);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(services[0]["service_code"], "road-damage");
    assert_eq!((services[0]["metadata"].clone(), services[0]["type"].clone()), (json!(false), json!("realtime")));
    assert_eq!(
        call(&env, "GET", "/open311/v2/services/rubbish.json", &[], &Value::Null).1,
        json!({"service_code": "rubbish", "attributes": []})
    );
    assert_eq!(call(&env, "GET", "/open311/v2/services/ufo.json", &[], &Value::Null).0, StatusCode::NOT_FOUND);
    let discovery = call(&env, "GET", "/open311/v2/discovery.json", &[], &Value::Null).1;
    assert_eq!(discovery["endpoints"][0]["specification"], "http://wiki.open311.org/GeoReport_v2");

    let good = [
        ("api_key", "key-b"),
        ("service_code", "road-damage"),
        ("lat", "16.0719"),
        ("long", "108.2203"),
        ("description", "Ổ gà trước nhà số 12"),
        ("first_name", "An"),
        ("last_name", "Nguyễn"),
        ("phone", "0905123456"),
    ];
    let (status, errors) = form(&env, &[("api_key", "wrong"), ("service_code", "road-damage")]);
    assert_eq!((status, errors[0]["code"].clone()), (StatusCode::FORBIDDEN, json!(403)));
    let (status, errors) = form(
        &env,
        &[("api_key", "key-a"), ("service_code", "ufo"), ("address_string", "Hải Châu"), ("description", "x")],
    );
    assert_eq!((status, errors[0]["code"].clone()), (StatusCode::NOT_FOUND, json!(404)));
    let (status, errors) = form(&env, &[("api_key", "key-a"), ("service_code", "rubbish"), ("description", "Rác")]);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(errors[0]["description"].as_str().unwrap().contains("address_string"), "{errors}");
    let (status, created) = form(&env, &good);
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created[0]["service_request_id"].as_str().unwrap().to_owned();
    assert_eq!(id, "PA-241105-0001");

    let (_, one) = call(&env, "GET", &format!("/open311/v2/requests/{id}.json"), &[], &Value::Null);
    let r = &one[0];
    assert_eq!(r["service_request_id"], id.as_str());
    assert_eq!(
        (r["status"].clone(), r["service_code"].clone(), r["lat"].clone(), r["long"].clone()),
        (json!("open"), json!("road-damage"), json!(16.0719), json!(108.2203))
    );
    assert_eq!(r["requested_datetime"], "2024-11-05T09:00:00+07:00");
    assert_eq!(r["agency_responsible"], "UBND quận Hải Châu");
    assert!(!one.to_string().contains("0905"), "no personal data");
    let (_, by_ids) = call(
        &env,
        "GET",
        &format!("/open311/v2/requests.json?service_request_id={id},PA-000000-0000"),
        &[],
        &Value::Null,
    );
    assert_eq!(by_ids.as_array().unwrap().len(), 1);
    let (_, open) =
        call(&env, "GET", "/open311/v2/requests.json?status=open&service_code=road-damage", &[], &Value::Null);
    assert_eq!(open.as_array().unwrap().len(), 1);
    let (_, closed) = call(&env, "GET", "/open311/v2/requests.json?status=closed", &[], &Value::Null);
    assert_eq!(closed, json!([]));
    let (_, in_range) = call(
        &env,
        "GET",
        "/open311/v2/requests.json?start_date=2024-11-05T00:00:00%2B07:00&end_date=2024-11-06T00:00:00%2B07:00",
        &[],
        &Value::Null,
    );
    assert_eq!(in_range.as_array().unwrap().len(), 1);
    assert_eq!(
        call(&env, "GET", "/open311/v2/requests.json?start_date=yesterday", &[], &Value::Null).0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(&env, "GET", &format!("/open311/v2/tokens/{id}.json"), &[], &Value::Null).1,
        json!([{"service_request_id": id, "token": id}])
    );
    assert_eq!(
        call(&env, "GET", "/open311/v2/requests/PA-000000-0000.json", &[], &Value::Null).0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(call(&env, "DELETE", "/open311/v2/requests.json", &[], &Value::Null).0, StatusCode::METHOD_NOT_ALLOWED);
    let req = Request::delete("/open311/v2/services.json").body(Bytes::new()).unwrap();
    let resp = block_on(report_submission::handle(req, &env));
    assert_eq!((resp.status(), resp.headers()["allow"].to_str().unwrap()), (StatusCode::METHOD_NOT_ALLOWED, "GET"));
}

/// Files `n` potholes a few hundred metres apart (no duplicates); their codes, in order.
fn file_potholes(env: &NativePlatform, n: usize) -> Vec<String> {
    let citizen = token(env, &json!({"phone": "0905123456"}));
    (0..n)
        .map(|i| {
            let step = 0.005 * f64::from(u32::try_from(i).unwrap());
            let (status, v) =
                call(env, "POST", "/reports", &[("authorization", &citizen)], &pothole(16.0, 108.1 + step));
            assert_eq!(status, StatusCode::CREATED, "{v}");
            v["code"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The `service_request_id`s of an Open311 list answer.
fn request_ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        list.as_array().unwrap().iter().map(|r| r["service_request_id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

#[test]
fn open311_answers_every_requested_id_however_many() {
    let env = env();
    let real = file_potholes(&env, 3);
    // 150 ids, the real ones at positions 1, 75 and 150: none may be dropped.
    let ids: Vec<String> = (1..=150)
        .map(|i| match i {
            1 => real[0].clone(),
            75 => real[1].clone(),
            150 => real[2].to_ascii_lowercase(),
            _ => format!("PA-000000-{i:04}"),
        })
        .collect();
    let path = format!("/open311/v2/requests.json?service_request_id={}", ids.join(","));
    let (status, list) = call(&env, "GET", &path, &[], &Value::Null);
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(request_ids(&list), real);
    // the same for a long service_code list: the real one is the 60th
    let mut codes: Vec<String> = (1..60).map(|i| format!("no-such-code-{i}")).collect();
    codes.push("road-damage".into());
    let path = format!("/open311/v2/requests.json?service_code={}", codes.join(","));
    assert_eq!(request_ids(&call(&env, "GET", &path, &[], &Value::Null).1), real);
}

#[test]
fn input_is_refused_whole_never_cut() {
    let env = env().with_config("sms_webhook_secret", "sms-secret");
    file_potholes(&env, 1);
    // a bounding box with a part that is not a number is refused, not read as the other four
    for bbox in ["108.0,15.9,x,108.3,16.2", "108.0,15.9,108.3", "108.0,15.9,inf,16.2", "108.0,15.9,108.3,16.2,1"] {
        let (status, v) = call(&env, "GET", &format!("/reports?bbox={bbox}"), &[], &Value::Null);
        assert_eq!(
            (status, v["errors"][0]["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("bbox")),
            "{bbox}"
        );
    }
    assert_eq!(call(&env, "GET", "/reports?bbox=108.0,15.9,108.3,16.2", &[], &Value::Null).1["total"], 1);
    // a parameter given twice is refused, naming it, rather than its second value dropped
    let (status, v) = call(&env, "GET", "/reports?category=road-damage&category=rubbish", &[], &Value::Null);
    assert_eq!((status, v["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("category")));
    let path = "/open311/v2/requests.json?service_request_id=PA-241105-0001&service_request_id=PA-241105-0002";
    let (status, v) = call(&env, "GET", path, &[], &Value::Null);
    assert_eq!(
        (status, v[0]["description"].clone()),
        (StatusCode::BAD_REQUEST, json!("service_request_id is given more than once"))
    );
    let env = env.with_config("open311_api_keys", "key-a");
    let twice = [
        ("api_key", "key-a"),
        ("service_code", "road-damage"),
        ("address_string", "Hải Châu"),
        ("description", "Ổ gà"),
        ("media_url", "https://cdn.example.vn/1.jpg"),
        ("media_url", "https://cdn.example.vn/2.jpg"),
    ];
    let (status, v) = form(&env, &twice);
    assert_eq!(
        (status, v[0]["description"].clone()),
        (StatusCode::BAD_REQUEST, json!("media_url is given more than once"))
    );
    // an SMS report longer than a description may be is refused with a reply, not filed cut
    let long = format!("PA rác {}", "a".repeat(report_submission::report::MAX_DESCRIPTION));
    assert!(sms(&env, "m-long", &long).starts_with("Phan anh dai qua 4000 ky tu"));
    assert_eq!(call(&env, "GET", "/reports?category=rubbish", &[], &Value::Null).1["total"], 0);
    // TT: a note too long for the SMS shows as much as fits, marked as cut
    let officer = token(&env, &json!({"roles": ["officer"], "agency": "so-gtvt"}));
    let note = "Đội duy tu đã khảo sát hiện trường và sẽ vá ổ gà trong tuần này; đề nghị người dân đi chậm, chú ý biển báo tạm thời.";
    let (status, v) = call(
        &env,
        "PATCH",
        "/reports/PA-241105-0001",
        &[("authorization", &officer)],
        &json!({"status": "in_progress", "note": note}),
    );
    assert_eq!(status, StatusCode::OK, "{v}");
    let reply = sms(&env, "m-tt", "TT PA-241105-0001");
    assert!(reply.starts_with("Phan anh PA-241105-0001: Dang xu ly (So Giao thong van tai)"), "{reply}");
    assert!(reply.contains(" Doi duy tu ") && reply.ends_with("...") && reply.len() <= 160, "{reply}");
}

/// A form POST to an Open311 path (JSON format).
fn post_form(env: &NativePlatform, path: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let req = Request::post(path).header("content-type", "application/x-www-form-urlencoded").body(Bytes::from(body));
    let resp = block_on(report_submission::handle(req.unwrap(), env));
    (resp.status(), serde_json::from_slice(resp.body()).unwrap())
}

#[test]
fn an_agencys_system_moves_its_reports_under_the_officer_rules() {
    let env = env().with_config("open311_api_keys", "client, gtvt-key=so-gtvt, rac-key=moi-truong");
    let (_, filed) = call(
        &env,
        "POST",
        "/reports",
        &[],
        &json!({"category": "road-damage", "description": "Ổ gà",
        "address": "Đường 2/9", "phone": "0905000111"}),
    );
    let code = filed["code"].as_str().unwrap().to_owned();
    let update = |key: &str, uid: &str, status: &str, description: &str| {
        let mut fields =
            vec![("api_key", key), ("service_request_id", code.as_str()), ("update_id", uid), ("status", status)];
        if !description.is_empty() {
            fields.push(("description", description));
        }
        post_form(&env, "/open311/v2/servicerequestupdates.json", &fields)
    };
    // A response that keeps the status, twice from the same system: one event.
    assert_eq!(update("gtvt-key", "a", "ACTION_SCHEDULED", "Sẽ vá trong tuần").0, StatusCode::OK);
    let (status, first) = update("gtvt-key", "b", "IN_PROGRESS", "Đã có lịch");
    assert_eq!((status, first[0]["update_id"].as_str()), (StatusCode::OK, Some(format!("{code}.3").as_str())));
    assert_eq!(update("gtvt-key", "b", "IN_PROGRESS", "Đã có lịch").1, first, "a repeat answers the first result");
    assert_eq!(update("client", "c", "FIXED", "").0, StatusCode::FORBIDDEN, "a client key only files");
    assert_eq!(update("rac-key", "c", "FIXED", "").0, StatusCode::FORBIDDEN, "another agency's report");
    let (status, why) = update("gtvt-key", "c", "fixed", "");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{why}");
    // A rejection without a description records the reason the status names.
    assert_eq!(update("gtvt-key", "d", "DUPLICATE", "").0, StatusCode::OK);
    let (status, closed) = update("gtvt-key", "e", "OPEN", "");
    assert_eq!(status, StatusCode::CONFLICT, "{closed}");
    let (_, view) = call(&env, "GET", &format!("/reports/{code}"), &[], &Value::Null);
    assert_eq!(view["status"], "rejected");
    let notes: Vec<&str> =
        view["history"].as_array().unwrap().iter().map(|e| e["note"].as_str().unwrap_or("")).collect();
    assert_eq!(notes, ["", "Sẽ vá trong tuần", "Đã có lịch", "Trùng với một phản ánh khác"]);
    let (_, updates) = call(&env, "GET", "/open311/v2/servicerequestupdates.json", &[], &Value::Null);
    let statuses: Vec<&str> = updates.as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["ACTION_SCHEDULED", "IN_PROGRESS", "DUPLICATE"]);
}

#[test]
fn the_app_answers_a_categorys_questions() {
    let env = env();
    let admin = token(&env, &json!({"roles": ["admin"]}));
    let mut with_questions = catalogue();
    with_questions["categories"][1]["attributes"] = json!([
        {"code": "size", "datatype": "singlevaluelist", "required": true, "description": "Bao nhiêu rác?",
         "values": [{"key": "bag", "name": "Vài túi"}, {"key": "truck", "name": "Cả xe"}]}]);
    let (status, v) = call(&env, "PUT", "/reports/categories", &[("authorization", &admin)], &with_questions);
    assert_eq!(status, StatusCode::OK, "{v}");
    let rubbish = json!({"category": "rubbish", "description": "Rác", "address": "K30 Lê Duẩn", "phone": "0905000222"});
    let (status, v) = call(&env, "POST", "/reports", &[], &rubbish);
    assert_eq!((status, v["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("attributes.size")));
    let mut answered = rubbish.clone();
    answered["attributes"] = json!({"size": "truck"});
    let (status, v) = call(&env, "POST", "/reports", &[], &answered);
    assert_eq!((status, &v["attributes"]), (StatusCode::CREATED, &json!({"size": "truck"})));
    let (_, list) = call(&env, "GET", "/reports/categories", &[], &Value::Null);
    assert_eq!(list[1]["attributes"][0]["code"], "size");
    // A definition that does not hold together is refused with the rest of the catalogue.
    with_questions["categories"][1]["attributes"][0]["datatype"] = json!("number");
    let (status, v) = call(&env, "PUT", "/reports/categories", &[("authorization", &admin)], &with_questions);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a number has no values: {v}");
}

#[test]
fn a_report_names_its_uploaded_photos_by_id_or_by_our_url() {
    let env = env().with_config("public_base_url", "http://127.0.0.1:3000").with_config("open311_api_keys", "k");
    let png = include_bytes!("../../../tests/data/photo-gps.png");
    let upload = civic::testing::call(
        |r| report_submission::handle(r, &env),
        "POST",
        "/reports/media",
        &[("content-type", "image/png")],
        Bytes::from_static(png),
    );
    assert_eq!(upload.0, StatusCode::CREATED, "{}", upload.1);
    let (id, url) = (upload.1["id"].as_str().unwrap(), upload.1["url"].as_str().unwrap());
    assert_eq!(url, format!("http://127.0.0.1:3000/reports/media/{id}"));
    let mut filing = json!({"category": "rubbish", "description": "Rác", "address": "K30 Lê Duẩn", "phone": "0905000333",
        "media_ids": [id], "media_urls": ["https://cdn.example.vn/a.jpg"]});
    let (status, v) = call(&env, "POST", "/reports", &[], &filing);
    assert_eq!((status, &v["media_urls"]), (StatusCode::CREATED, &json!(["https://cdn.example.vn/a.jpg", url])));
    filing["media_ids"] = json!(["AAAAAAAAAAAAAAAAAAAAAA"]);
    let (status, v) = call(&env, "POST", "/reports", &[], &filing);
    assert_eq!((status, v["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("media_ids[0]")));
    // Open311: our own URL (http on a local run) is taken; one that names no photo is not.
    let fields = [("api_key", "k"), ("service_code", "rubbish"), ("address_string", "K30"), ("description", "Rác")];
    let with = |u: &str| {
        let mut all = fields.to_vec();
        all.push(("media_url", u));
        post_form(&env, "/open311/v2/requests.json", &all)
    };
    let (status, v) = with(url);
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = with("http://127.0.0.1:3000/reports/media/AAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v[0]["description"].as_str().unwrap().starts_with("media_url"), "{v}");
    assert_eq!(with("http://elsewhere.vn/a.jpg").0, StatusCode::BAD_REQUEST, "outside URLs stay https only");
}

#[test]
fn open311_follows_the_specification_where_it_is_lenient() {
    let env = env().with_config("open311_api_keys", "k").with_config("public_base_url", "https://api.danang.gov.vn/");
    let (_, discovery) = call(&env, "GET", "/open311/v2/discovery.json", &[], &Value::Null);
    assert_eq!(discovery["endpoints"][0]["url"], "https://api.danang.gov.vn/open311/v2", "{discovery}");
    // `description` is optional: the service's name stands for it.
    let fields = [("api_key", "k"), ("service_code", "rubbish"), ("address_string", "K30 Lê Duẩn")];
    let (status, filed) = post_form(&env, "/open311/v2/requests.json", &fields);
    assert_eq!(status, StatusCode::OK, "{filed}");
    let code = filed[0]["service_request_id"].as_str().unwrap();
    let (_, back) = call(&env, "GET", &format!("/open311/v2/requests/{code}.json"), &[], &Value::Null);
    assert_eq!(back[0]["description"], "Rác thải");
    // `status` takes both, comma-separated; anything else is a 400.
    let (status, both) = call(&env, "GET", "/open311/v2/requests.json?status=open,closed", &[], &Value::Null);
    assert_eq!((status, both.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let (status, _) = call(&env, "GET", "/open311/v2/requests.json?status=open,done", &[], &Value::Null);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A POST where none is routed is a 405, whatever its body (it is not read).
    let big = [("description", "x".repeat(20_000))];
    let big: Vec<(&str, &str)> = big.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(post_form(&env, "/open311/v2/services.json", &big).0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post_form(&env, "/open311/v2/requests.json", &big).0, StatusCode::PAYLOAD_TOO_LARGE);
}

/// A signed command through `handle` (`internal_secret` `in-s3cret`).
fn command(env: &NativePlatform, body: &Value) -> (StatusCode, Value) {
    let body = body.to_string();
    let sig = civic::command::sign("in-s3cret", body.as_bytes());
    call_raw(env, "/reports/command", &[("x-signature", &sig)], Bytes::from(body))
}

fn call_raw(env: &NativePlatform, path: &str, headers: &[(&str, &str)], body: Bytes) -> (StatusCode, Value) {
    civic::testing::call(|r| report_submission::handle(r, env), "POST", path, headers, body)
}

fn command_env() -> NativePlatform {
    env()
        .with_config("internal_secret", "in-s3cret")
        .with_config("sms_webhook_secret", "sms-secret")
        .with_config("public_base_url", "https://api.danang.gov.vn")
}

const ZALO_USER: &str = "2468458835296117922";

#[test]
fn a_chat_pa_files_one_report_at_its_place_and_keeps_who_sent_it() {
    let env = command_env();
    let pa = json!({"channel": "zalo", "user": ZALO_USER, "phone": "0905123456", "text": "PA Ổ gà lớn giữa đường",
        "location": {"lat": 16.0719, "lng": 108.2203}, "id": "msg-1"});
    let (status, v) = command(&env, &pa);
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["reply"],
        "Đã nhận phản ánh PA-241105-0001 (lĩnh vực Hư hỏng mặt đường). Cơ quan xử lý: UBND quận Hải Châu, hạn xử lý \
         trước 09:00 ngày 08/11/2024. Để theo dõi, nhắn TT PA-241105-0001."
    );
    assert_eq!(v["choices"], json!([{"label": "Theo dõi PA-241105-0001", "value": "TT PA-241105-0001"}]));
    assert_eq!(command(&env, &pa).1, v, "a repeated id answers the same code");
    let mut other = pa.clone();
    other["id"] = json!("msg-2");
    other["channel"] = json!("telegram");
    other.as_object_mut().unwrap().remove("location");
    other["address"] = json!("Trước số 5 Lê Lợi, Thanh Khê");
    let (_, v) = command(&env, &other);
    assert!(v["reply"].as_str().unwrap().starts_with("Đã nhận phản ánh PA-241105-0002"), "{v}");
    assert!(v["reply"].as_str().unwrap().contains("Sở Giao thông vận tải"), "an address outside Hải Châu: {v}");
    let rows = block_on(env.query(
        "reports",
        "SELECT code, channel, channel_user, reporter_phone, address FROM reports ORDER BY code",
        &[],
    ))
    .unwrap();
    let stored: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (r.str("code").unwrap().into(), r.str("channel").unwrap().into(), r.str("channel_user").unwrap().into())
        })
        .collect();
    assert_eq!(
        stored,
        [
            ("PA-241105-0001".into(), "zalo".into(), ZALO_USER.into()),
            ("PA-241105-0002".into(), "telegram".into(), ZALO_USER.into())
        ],
        "filed once each, with the channel user"
    );
    // The channel user is never shown: the report, the lists, Open311, the agency's view.
    let officer = token(&env, &json!({"roles": ["officer"], "agency": "hai-chau"}));
    for (path, auth) in [
        ("/reports/PA-241105-0001", None),
        ("/reports/PA-241105-0001", Some(officer.as_str())),
        ("/reports", None),
        ("/open311/v2/requests.json", None),
        ("/open311/v2/requests/PA-241105-0001.json", None),
        ("/open311/v2/requests.xml", None),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let resp = block_on(report_submission::handle(
            headers.iter().fold(Request::get(path), |r, (k, v)| r.header(*k, *v)).body(Bytes::new()).unwrap(),
            &env,
        ));
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let body = String::from_utf8_lossy(resp.body()).to_string();
        assert!(!body.contains(ZALO_USER) && !body.contains("channel_user"), "{path}: {body}");
    }
}

#[test]
fn a_chat_pa_without_a_usable_place_or_with_outside_photos_files_nothing() {
    let env = command_env();
    let base = json!({"channel": "zalo", "user": ZALO_USER, "text": "PA Rác đổ trộm đầu kiệt"});
    let with = |extra: Value| {
        let mut cmd = base.clone();
        cmd.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        command(&env, &cmd).1["reply"].as_str().unwrap().to_owned()
    };
    let cases = [
        (json!({}), "Vui lòng cho biết nơi cần xử lý: chia sẻ vị trí, hoặc ghi địa chỉ"),
        (json!({"location": {"lat": 21.0285, "lng": 105.8542}}), "Vị trí bạn chia sẻ nằm ngoài địa bàn thành phố."),
        (
            json!({"address": "K12 Trần Cao Vân", "media": ["https://api.danang.gov.vn/reports/media/AAAAAAAAAAAAAAAAAAAAAA", "https://cdn.example.vn/a.jpg"]}),
            "Ảnh thứ 2 không phải ảnh đã gửi qua hệ thống phản ánh",
        ),
        (json!({"address": "K12 Trần Cao Vân", "text": "PA Đèn đường hỏng"}), "Chưa xác định được lĩnh vực"),
        (
            json!({"address": "K12 Trần Cao Vân", "text": "PA Rác\u{0007}"}),
            "Nội dung hoặc địa chỉ có ký tự không hợp lệ",
        ),
        (json!({"address": "K12", "text": "pa"}), "Gửi phản ánh hiện trường: nhắn PA <nội dung>"),
    ];
    for (extra, want) in cases {
        let reply = with(extra.clone());
        assert!(reply.starts_with(want), "{extra}: {reply}");
    }
    assert_eq!(call(&env, "GET", "/reports", &[], &Value::Null).1["total"], 0, "nothing filed");
    // our URL of a photo never uploaded: the bot's mistake, a 422 naming it
    let (status, v) = command(
        &env,
        &json!({"channel": "zalo", "user": ZALO_USER, "text": "PA Rác", "address": "K12",
            "media": ["https://api.danang.gov.vn/reports/media/AAAAAAAAAAAAAAAAAAAAAA"]}),
    );
    assert_eq!((status, &v["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("media[0]")));
}

#[test]
fn a_chat_pa_keeps_the_photos_the_bot_uploaded() {
    let env = command_env();
    let png = include_bytes!("../../../tests/data/photo-gps.png");
    let headers = [
        ("content-type", "image/png"),
        ("x-channel-user", "zalo:2468458835296117922"),
        ("x-signature", &civic::command::sign("in-s3cret", png)),
    ];
    let (status, upload) = call_raw(&env, "/reports/media", &headers, Bytes::from_static(png));
    assert_eq!(status, StatusCode::CREATED, "{upload}");
    let url = upload["url"].as_str().unwrap();
    let (_, v) = command(
        &env,
        &json!({"channel": "telegram", "user": "42", "text": "PA Rác", "address": "K12 Hải Châu", "media": [url], "id": "u-9"}),
    );
    assert!(v["reply"].as_str().unwrap().starts_with("Đã nhận phản ánh PA-241105-0001"), "{v}");
    let (_, report) = call(&env, "GET", "/reports/PA-241105-0001", &[], &Value::Null);
    assert_eq!(report["media_urls"], json!([url]));
}

#[test]
fn tt_on_chat_gives_status_agency_due_time_and_the_whole_last_note() {
    let env = command_env();
    file_potholes(&env, 1);
    let officer = token(&env, &json!({"roles": ["officer"], "agency": "so-gtvt"}));
    let note = "Đội duy tu đã khảo sát hiện trường và sẽ vá ổ gà trong tuần này; đề nghị người dân đi chậm, chú ý biển báo tạm thời.";
    env.set_now(env.now() + Duration::hours(1));
    let (status, v) = call(
        &env,
        "PATCH",
        "/reports/PA-241105-0001",
        &[("authorization", &officer)],
        &json!({"status": "in_progress", "note": note}),
    );
    assert_eq!(status, StatusCode::OK, "{v}");
    let tt = |channel: &str, text: &str| {
        command(&env, &json!({"channel": channel, "user": "84905123456", "text": text})).1["reply"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        tt("zalo", "tt pa-241105-0001 cảm ơn"),
        format!(
            "Phản ánh PA-241105-0001 (Hư hỏng mặt đường): Đang xử lý. Cơ quan xử lý: Sở Giao thông vận tải, hạn xử lý \
             09:00 ngày 08/11/2024. Ghi chú mới nhất (10:00 ngày 05/11/2024): {note}"
        )
    );
    env.set_now(env.now() + Duration::days(4));
    assert!(tt("telegram", "TT PA-241105-0001").contains("hạn xử lý 09:00 ngày 08/11/2024, đã quá hạn."));
    assert!(tt("zalo", "TT PA-000000-0000").starts_with("Không tìm thấy phản ánh PA-000000-0000."));
    // on SMS, the command answers what the SMS webhook answers
    assert_eq!(tt("sms", "TT PA-241105-0001"), sms(&env, "m-tt", "TT PA-241105-0001"));
    assert_eq!(tt("sms", "xin chào"), sms(&env, "m-help", "xin chào").replace("gui 1022", "gui 8188"));
}

#[test]
fn the_command_route_checks_its_signature_and_fields() {
    let env = command_env();
    let body = json!({"channel": "zalo", "user": ZALO_USER, "text": "TT PA-241105-0001"}).to_string();
    let forged = civic::command::sign("not-the-secret", body.as_bytes());
    assert_eq!(
        call_raw(&env, "/reports/command", &[("x-signature", &forged)], Bytes::from(body)).0,
        StatusCode::UNAUTHORIZED
    );
    let (status, v) = command(
        &env,
        &json!({"channel": "zalo", "user": ZALO_USER, "text": "PA x", "address": " ",
        "media": ["a", "b", "c", "d", "e", "f"]}),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect::<Vec<_>>(),
        ["address", "media"]
    );
    assert_eq!(call(&env, "GET", "/reports/command", &[], &Value::Null).0, StatusCode::METHOD_NOT_ALLOWED);
    let big = Bytes::from(vec![b' '; civic::command::MAX_BODY + 1]);
    assert_eq!(call_raw(&env, "/reports/command", &[("x-signature", "00")], big).0, StatusCode::PAYLOAD_TOO_LARGE);
}
