//! Notifications through `handle` and `tick`, natively, with stand-in receivers on
//! 127.0.0.1: a pushed status change reaches the applicant by SMS and a registered partner
//! by a signed webhook, once; a repeated or older push tells no one.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use civic::platform::native::NativePlatform;
use civic::testing::Receiver;
use http::StatusCode;
use serde_json::{Value, json};

const CODE: &str = "000.00.19.H57-241105-0012";

fn env(partner: &Receiver, gateway: &Receiver) -> NativePlatform {
    civic::testing::route_env_at(&["permits", "payments"], "2024-11-18T10:00:00+07:00")
        .with_allowed_host(&partner.addr)
        .with_allowed_host(&gateway.addr)
        .with_config("sms_gateway_url", &format!("http://{}/sms", gateway.addr))
        .with_config("sms_webhook_secret", "sms-secret")
}

fn call(env: &NativePlatform, method: &str, path: &str, roles: &[&str], body: &str) -> (StatusCode, Value) {
    let auth = civic::testing::token(env, &json!({"roles": roles}));
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    civic::testing::call(|r| permit_status::handle(r, env), method, path, &headers, body.to_owned())
}

fn push(env: &NativePlatform, status: i64, at: &str) -> Value {
    let body = json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
       "field": "Xây dựng", "agency": "UBND quận Hải Châu",
       "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
       "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
       "status": status, "status_at": at, "note": null, "result_at": null, "fee_vnd": 150000});
    let (status, v) = call(env, "PUT", &format!("/permits/{CODE}"), &["system"], &body.to_string());
    assert!(status.is_success(), "{status} {v}");
    v
}

/// `POST /permits/tick` as the scheduler calls it.
fn tick(env: &NativePlatform) -> Value {
    let (status, v) = call(env, "POST", "/permits/tick", &["system"], "");
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

#[test]
fn a_status_change_reaches_the_applicant_and_the_partner_once() {
    let (partner, gateway) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    let env = env(&partner, &gateway);
    let registration = json!({"url": format!("http://{}/hooks", partner.addr), "events": ["dossier.status_changed"]});
    let (status, endpoint) = call(&env, "POST", "/permits/webhooks", &["admin"], &registration.to_string());
    assert_eq!(status, StatusCode::CREATED, "{endpoint}");
    let secret = endpoint["secret"].as_str().unwrap();

    assert_eq!(push(&env, 2, "2024-11-05T08:30:00+07:00")["outcome"], "created");
    assert_eq!(push(&env, 4, "2024-11-06T09:00:00+07:00")["outcome"], "updated");
    // a repeat, and an older push arriving late: no event
    assert_eq!(push(&env, 4, "2024-11-06T09:00:00+07:00")["outcome"], "unchanged");
    assert_eq!(push(&env, 1, "2024-11-05T08:00:00+07:00")["outcome"], "stale");
    let t = tick(&env);
    assert_eq!((t["delivered"].clone(), t["dead"].clone()), (json!(4), json!(0)), "{t}");
    assert_eq!(tick(&env)["delivered"], 0, "nothing twice");

    let texts: Vec<String> = gateway.received().iter().map(|r| r.json()["text"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        texts,
        [
            format!("Ho so {CODE}: Duoc tiep nhan. Hen tra 15/11/2024."),
            format!("Ho so {CODE}: Dang xu ly. Hen tra 15/11/2024."),
        ],
        "in order, one SMS each"
    );
    let sms = &gateway.received()[1];
    assert_eq!(
        (sms.path.as_str(), sms.json()["to"].clone()),
        ("/sms", json!("84905123456")),
        "the international form gateways take"
    );
    assert_eq!(sms.header("x-signature"), civic::auth::hmac_sha256_hex(b"sms-secret", &sms.body));

    let hooks = partner.received();
    assert_eq!(hooks.len(), 2);
    let last = &hooks[1];
    assert!(civic::testing::standard_webhook_signed(secret, last), "a Standard Webhooks signature");
    assert_eq!(last.header("webhook-id"), sms.json()["id"], "one event, one id");
    let body = last.json();
    assert_eq!(body["type"], "dossier.status_changed");
    assert_eq!(
        body["data"],
        json!({"code": CODE, "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ", "agency": "UBND quận Hải Châu",
            "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
            "status": {"code": 4, "label": "Đang xử lý"}, "overdue": true, "days_late": 3, "days_left": null,
            "fee_vnd": 150000})
    );
    assert!(!last.body.windows(4).any(|w| w == b"0905"), "never the applicant's phone");
}

#[test]
fn an_agency_filter_and_the_admin_routes() {
    let (partner, gateway) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    let env = env(&partner, &gateway);
    let other = json!({"url": format!("http://{}/other", partner.addr), "events": ["dossier.status_changed"],
        "agency": "UBND quận Sơn Trà"});
    assert_eq!(call(&env, "POST", "/permits/webhooks", &["admin"], &other.to_string()).0, StatusCode::CREATED);
    let wrong = json!({"url": format!("http://{}/x", partner.addr), "events": ["payment.settled"]});
    assert_eq!(
        call(&env, "POST", "/permits/webhooks", &["admin"], &wrong.to_string()).0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "only this function's events"
    );
    assert_eq!(call(&env, "GET", "/permits/webhooks", &["system"], "").0, StatusCode::FORBIDDEN);
    push(&env, 4, "2024-11-06T09:00:00+07:00");
    gateway.answer(500);
    let t = tick(&env);
    assert_eq!((t["delivered"].clone(), t["retried"].clone()), (json!(0), json!(1)), "{t}");
    assert!(partner.received().is_empty(), "another agency's endpoint hears nothing");
    let (status, pending) = call(&env, "GET", "/permits/outbox?state=pending", &["admin"], "");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (pending[0]["type"].clone(), pending[0]["subject"].clone()),
        (json!("dossier.status_changed"), json!(CODE))
    );
    assert_eq!(pending[0]["target"], "sms");
    let text = pending.to_string();
    assert!(!text.contains("0905"), "the outbox listing hides the phone: {text}");
}

/// An SMS command through `POST /permits/sms`, signed as the gateway signs it.
fn sms(env: &NativePlatform, id: &str, text: &str) {
    let body = json!({"id": id, "from": "84905123456", "to": "8188", "text": text}).to_string();
    let sig = civic::auth::hmac_sha256_hex(b"sms-secret", body.as_bytes());
    let headers = [("content-type", "application/json"), ("x-signature", sig.as_str())];
    let (status, _) = civic::testing::call(|r| permit_status::handle(r, env), "POST", "/permits/sms", &headers, body);
    assert_eq!(status, StatusCode::OK);
}

fn count(env: &NativePlatform, sql: &str) -> i64 {
    let rows = civic::platform::native::block_on(civic::Platform::query(env, "permits", sql, &[])).unwrap();
    rows.first().unwrap().i64("n").unwrap()
}

#[test]
fn the_tick_forgets_what_is_past_its_period_and_keeps_the_rest() {
    let (partner, gateway) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    let env = env(&partner, &gateway);
    let path = format!("/permits/{CODE}");
    // 18 November: a status change told by SMS, an SMS command, a wrong last-4 guess.
    push(&env, 2, "2024-11-05T08:30:00+07:00");
    sms(&env, "old", &format!("HS {CODE}"));
    call(&env, "GET", &format!("{path}?phone=0000"), &[], "");
    assert_eq!(tick(&env)["delivered"], 1);
    let (status, kept) = call(&env, "GET", "/permits/retention", &["admin"], "");
    assert_eq!(status, StatusCode::OK, "{kept}");
    let names: Vec<&str> = kept["kinds"].as_array().unwrap().iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert_eq!(names, ["sms_messages", "notifications", "phone_checks"]);
    assert_eq!(kept["kinds"][2]["oldest"], "2024-11-18T00:00:00+07:00", "a day's count from the day's start");
    assert_eq!(kept["kinds"][2]["past_period"], false);

    // 19 November: yesterday's guess count is within its 2 days.
    env.set_now(civic::testing::t("2024-11-19T10:00:00+07:00"));
    let t = tick(&env);
    assert_eq!((t["phone_checks_purged"].clone(), t["sms_messages_purged"].clone()), (json!(0), json!(0)), "{t}");
    assert_eq!(count(&env, "SELECT count(*) AS n FROM phone_checks"), 1);
    // 20 November, 10:00: the 18th began 58 hours ago.
    env.set_now(civic::testing::t("2024-11-20T10:00:00+07:00"));
    assert_eq!(call(&env, "GET", "/permits/retention", &["admin"], "").1["kinds"][2]["past_period"], true);
    assert_eq!(tick(&env)["phone_checks_purged"], 1);
    assert_eq!(count(&env, "SELECT count(*) AS n FROM phone_checks"), 0);

    // 10 December: another status change and SMS, within their 30 days at the end.
    env.set_now(civic::testing::t("2024-12-10T10:00:00+07:00"));
    push(&env, 4, "2024-12-10T09:00:00+07:00");
    sms(&env, "new", &format!("HS {CODE}"));
    assert_eq!(tick(&env)["delivered"], 1);
    // 19 December: the November SMS, its delivery and event are past 30 days; December's stay.
    env.set_now(civic::testing::t("2024-12-19T10:00:00+07:00"));
    let t = tick(&env);
    assert_eq!((t["sms_messages_purged"].clone(), t["notifications_purged"].clone()), (json!(1), json!(2)), "{t}");
    assert_eq!(count(&env, "SELECT count(*) AS n FROM sms_messages WHERE id LIKE '%new'"), 1);
    assert_eq!(count(&env, "SELECT count(*) AS n FROM sms_messages"), 1);
    assert_eq!(count(&env, "SELECT count(*) AS n FROM outbox_deliveries"), 1);
    assert_eq!(count(&env, "SELECT count(*) AS n FROM outbox_events"), 1);
    // The dossier itself and its history are not personal data kept for a period here.
    let (status, public) = call(&env, "GET", &path, &[], "");
    assert_eq!((status, public["status"]["code"].clone()), (StatusCode::OK, json!(4)));
    let t = tick(&env);
    assert_eq!((t["sms_messages_purged"].clone(), t["notifications_purged"].clone()), (json!(0), json!(0)), "{t}");
    // The redelivery of an SMS forgotten a month ago is answered as a new one.
    sms(&env, "old", &format!("HS {CODE}"));
}

#[test]
fn the_retention_route_is_for_admins() {
    let (partner, gateway) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    let env = env(&partner, &gateway);
    assert_eq!(
        civic::testing::call(|r| permit_status::handle(r, &env), "GET", "/permits/retention", &[], "").0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(&env, "GET", "/permits/retention", &["citizen"], "").0, StatusCode::FORBIDDEN);
    assert_eq!(call(&env, "GET", "/permits/retention", &["system"], "").0, StatusCode::FORBIDDEN);
    let (status, kept) = call(&env, "GET", "/permits/retention", &["admin"], "");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        kept["kinds"][0],
        json!({"kind": "sms_messages", "holds": "SMS received: sender's phone number, text and the reply sent",
            "setting": "retention_sms_messages", "period_seconds": 30 * 86_400, "oldest": null, "past_period": false})
    );
    assert_eq!(kept["kinds"][2]["period_seconds"], 2 * 86_400);
    assert_eq!(call(&env, "POST", "/permits/retention", &["admin"], "").0, StatusCode::METHOD_NOT_ALLOWED);
}
