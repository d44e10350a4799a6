//! Rate limits on filings and the retention of reporters' personal data, natively with the
//! injected clock.

use bytes::Bytes;
use chrono::Duration;
use civic::Platform;
use civic::platform::native::{NativePlatform, block_on};
use civic::testing::token;
use http::{Request, StatusCode};
use serde_json::{Value, json};

use super::{call, env, pothole};

/// An SMS from `from`; the reply (`None` for `"reply": null`: no SMS).
fn sms_from(env: &NativePlatform, from: &str, id: &str, text: &str) -> Option<String> {
    let body = json!({"id": id, "from": from, "to": "1022", "text": text}).to_string();
    let sig = civic::auth::hmac_sha256_hex(b"sms-secret", body.as_bytes());
    let req = Request::post("/reports/sms").header("x-signature", sig).body(Bytes::from(body)).unwrap();
    let resp = block_on(report_submission::handle(req, env));
    assert_eq!(resp.status(), StatusCode::OK);
    serde_json::from_slice::<Value>(resp.body()).unwrap()["reply"].as_str().map(str::to_owned)
}

fn file(env: &NativePlatform, who: &str, lat: f64) -> (StatusCode, Value, Option<String>) {
    let citizen = token(env, &json!({"sub": who}));
    let body = Bytes::from(pothole(lat, 108.2150).to_string());
    let req = Request::post("/reports")
        .header("authorization", format!("Bearer {}", citizen.trim_start_matches("Bearer ")))
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let resp = block_on(report_submission::handle(req, env));
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (resp.status(), serde_json::from_slice(resp.body()).unwrap_or(Value::Null), retry)
}

#[test]
fn a_burst_of_filings_from_one_citizen_is_cut_off_and_others_are_served() {
    let env = env().with_config("rate_limit_report_filing", "3/1h");
    for i in 0..3 {
        assert_eq!(file(&env, "alice", 16.05 + f64::from(i) * 0.01).0, StatusCode::CREATED);
    }
    let (status, problem, retry) = file(&env, "alice", 16.09);
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");
    assert_eq!(problem["type"], "/problems/too-many-requests", "{problem}");
    assert_eq!(retry.as_deref(), Some("3600"));
    assert_eq!(file(&env, "bob", 16.10).0, StatusCode::CREATED, "another citizen is served");
    assert_eq!(call(&env, "GET", "/reports", &[], &Value::Null).1["total"], 4, "nothing stored over the limit");
    env.set_now(env.now() + Duration::minutes(30));
    assert_eq!(file(&env, "alice", 16.11).2.as_deref(), Some("1800"), "refused again: half the window is left");
    env.set_now(env.now() + Duration::minutes(30));
    assert_eq!(file(&env, "alice", 16.12).0, StatusCode::CREATED, "a new window");
}

#[test]
fn an_sms_flood_costs_one_short_sms() {
    let env = env().with_config("sms_webhook_secret", "sms-secret").with_config("rate_limit_report_filing", "2/1h");
    let pa = |id: &str| sms_from(&env, "0905123456", id, "PA Rác đổ trộm đầu kiệt 12 Trần Cao Vân, Thanh Khê");
    assert!(pa("m1").unwrap().starts_with("Da nhan phan anh PA-241105-0001"));
    assert!(pa("m2").unwrap().starts_with("Da nhan phan anh PA-241105-0002"));
    assert_eq!(
        pa("m3").as_deref(),
        Some("Ban da gui nhieu phan anh trong thoi gian ngan; vui long gui tiep sau 10:00 05/11/2024.")
    );
    assert_eq!(pa("m4"), None, "no SMS for the filings after it");
    assert_eq!(pa("m3").as_deref().map(|r| r.starts_with("Ban da gui")), Some(true), "a redelivery: the same");
    // Any keyword counts against the number's SMS limit (20 an hour): one notice, then silence.
    let replies: Vec<Option<String>> =
        (5..=30).map(|i| sms_from(&env, "84905123456", &format!("t{i}"), "TT X")).collect();
    let notices =
        replies.iter().filter(|r| r.as_deref().is_some_and(|t| t.starts_with("Ban da gui qua nhieu"))).count();
    assert_eq!(notices, 1, "{replies:?}");
    assert_eq!(replies.iter().filter(|r| r.is_none()).count(), 26 - 16 - 1, "20 in the window: 4 + 16 answered");
    assert!(sms_from(&env, "0912000000", "other", "TT X").is_some(), "another number is served");
    let stored = block_on(env.query("reports", "SELECT count(*) AS n FROM sms_messages", &[])).unwrap();
    assert_eq!(stored.first().unwrap().i64("n").unwrap(), 31, "every message is kept");
    assert_eq!(call(&env, "GET", "/reports", &[], &Value::Null).1["total"], 2);
}

#[test]
fn an_open311_key_is_limited_in_open311_terms() {
    let env = env().with_config("open311_api_keys", "k1,k2").with_config("rate_limit_open311_filing", "1/1h");
    let post = |key: &str, lat: &str| {
        let body = format!("api_key={key}&service_code=road-damage&lat={lat}&long=108.2150&description=O+ga");
        let req = Request::post("/open311/v2/requests.json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from(body))
            .unwrap();
        block_on(report_submission::handle(req, &env))
    };
    assert_eq!(post("k1", "16.05").status(), StatusCode::OK);
    let refused = post("k1", "16.06");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "3600");
    let v: Value = serde_json::from_slice(refused.body()).unwrap();
    assert_eq!(v[0]["code"], 429, "{v}");
    assert_eq!(post("k2", "16.07").status(), StatusCode::OK, "another key is served");
}

#[test]
fn closed_reports_forget_their_reporter_after_the_period_and_stats_stay() {
    let env = env().with_config("sms_webhook_secret", "sms-secret");
    // Tokens are made when used: the clock moves by months.
    let admin = || token(&env, &json!({"roles": ["admin"]}));
    let system = || token(&env, &json!({"roles": ["system"]}));
    let officer = |agency: &str| token(&env, &json!({"sub": "o", "roles": ["officer"], "agency": agency}));
    // Three reports by SMS: one resolved, one rejected, one left open.
    for id in ["a", "b", "c"] {
        sms_from(&env, "0905123456", id, "PA Rác đổ trộm đầu kiệt 12 Trần Cao Vân, Thanh Khê").unwrap();
    }
    let step = |code: &str, status: &str| {
        let body = json!({"status": status, "note": "Đã xử lý"});
        let (s, v) =
            call(&env, "PATCH", &format!("/reports/{code}"), &[("authorization", &officer("moi-truong"))], &body);
        assert_eq!(s, StatusCode::OK, "{v}");
    };
    step("PA-241105-0001", "in_progress");
    step("PA-241105-0001", "resolved");
    step("PA-241105-0002", "rejected");
    let stats = || call(&env, "GET", "/reports/stats?from=2024-11-01&to=2024-11-30", &[], &Value::Null).1;
    let reporter = |code: &str| {
        let rows = block_on(env.query(
            "reports",
            "SELECT reporter_phone, channel_user FROM reports WHERE code = ?1",
            &[code.into()],
        ))
        .unwrap();
        let r = rows.first().unwrap();
        (r.opt_str("reporter_phone").unwrap().map(str::to_owned), r.opt_str("channel_user").unwrap().map(str::to_owned))
    };
    let tick = || call(&env, "POST", "/reports/tick", &[("authorization", &system())], &Value::Null).1;
    let kept = || call(&env, "GET", "/reports/retention", &[("authorization", &admin())], &Value::Null).1;
    assert_eq!(tick()["reporter_contact_cleared"], 0);
    let listed = kept();
    let contact = &listed["kinds"][0];
    assert_eq!(contact["kind"], "reporter_contact", "{listed}");
    assert_eq!(contact["period_seconds"], 90 * 86_400);
    assert_eq!(contact["oldest"], "2024-11-05T09:00:00+07:00");
    assert_eq!(contact["past_period"], false);

    env.set_now(env.now() + Duration::days(31));
    let done = tick();
    assert_eq!(done["sms_messages_purged"], 3, "{done}");
    assert_eq!(done["reporter_contact_cleared"], 0, "{done}");
    env.set_now(env.now() + Duration::days(60));
    assert_eq!(kept()["kinds"][0]["past_period"], true);
    // (the open report is overdue by now: the statistics are compared at the same time)
    let before = stats();
    let done = tick();
    assert_eq!(done["reporter_contact_cleared"], 2, "{done}");
    assert_eq!(reporter("PA-241105-0001"), (None, None));
    assert_eq!(reporter("PA-241105-0002"), (None, None));
    assert_eq!(reporter("PA-241105-0003").0.as_deref(), Some("0905123456"), "an open report keeps its reporter");
    assert_eq!(stats(), before, "the statistics answer as before");
    assert_eq!(call(&env, "GET", "/reports/PA-241105-0001", &[], &Value::Null).1["status"], "resolved");
    assert_eq!(tick()["reporter_contact_cleared"], 0, "done once");
    assert_eq!(kept()["kinds"][0]["oldest"], Value::Null);
    let forbidden = call(&env, "GET", "/reports/retention", &[("authorization", &officer("moi-truong"))], &Value::Null);
    assert_eq!(forbidden.0, StatusCode::FORBIDDEN);
}
