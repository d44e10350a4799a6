//! Notifications through `handle` and `tick`, natively: the events of each change, the reporter's
//! messages at a stand-in SMS gateway, partner webhooks at a stand-in receiver, overdue
//! warnings, and rating by message (`DG`).

use bytes::Bytes;
use chrono::Duration;
use civic::Platform;
use civic::platform::native::{NativePlatform, block_on};
use civic::testing::{Receiver, token};
use http::{Request, StatusCode};
use serde_json::{Value, json};

use super::{call, catalogue};

const REPORTER: &str = "84905123456";

/// The stand-ins of a test: the SMS gateway and a partner's webhook endpoint.
struct Stands {
    gateway: Receiver,
    partner: Receiver,
}

/// A platform at 2024-11-05 09:00 (Vietnam) with the catalogue, the SMS secrets and both
/// stand-ins reachable.
fn env() -> (NativePlatform, Stands) {
    let gateway = Receiver::start().unwrap();
    let partner = Receiver::start().unwrap();
    let env = civic::testing::route_env_at(&["reports"], "2024-11-05T09:00:00+07:00")
        .with_config("sms_webhook_secret", "sms-secret")
        .with_config("sms_gateway_url", &format!("http://{}/sms", gateway.addr))
        .with_config("internal_secret", "in-s3cret")
        .with_allowed_host(&gateway.addr)
        .with_allowed_host(&partner.addr);
    let (status, v) = call(&env, "PUT", "/reports/categories", &[("authorization", &admin(&env))], &catalogue());
    assert_eq!(status, StatusCode::OK, "{v}");
    (env, Stands { gateway, partner })
}

fn admin(env: &NativePlatform) -> String {
    token(env, &json!({"roles": ["admin"]}))
}

fn officer(env: &NativePlatform, agency: &str) -> String {
    token(env, &json!({"sub": format!("officer-{agency}"), "roles": ["officer"], "agency": agency}))
}

/// Registers the partner's endpoint for `events` (and `agency`, if given); its secret.
fn subscribe(env: &NativePlatform, partner: &Receiver, events: &[&str], agency: Option<&str>) -> String {
    let mut body = json!({"url": format!("http://{}/hook", partner.addr), "events": events});
    if let Some(a) = agency {
        body["agency"] = json!(a);
    }
    let (status, v) = call(env, "POST", "/reports/webhooks", &[("authorization", &admin(env))], &body);
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["secret"].as_str().unwrap().to_owned()
}

/// An SMS from `from` through the gateway's webhook; the reply.
fn sms_from(env: &NativePlatform, from: &str, id: &str, text: &str) -> String {
    let body = json!({"id": id, "from": from, "to": "1022", "text": text}).to_string();
    let sig = civic::auth::hmac_sha256_hex(b"sms-secret", body.as_bytes());
    let req = Request::post("/reports/sms").header("x-signature", sig).body(Bytes::from(body)).unwrap();
    let resp = block_on(report_submission::handle(req, env));
    assert_eq!(resp.status(), StatusCode::OK);
    serde_json::from_slice::<Value>(resp.body()).unwrap()["reply"].as_str().unwrap().to_owned()
}

/// A signed command through `handle`; the reply text.
fn command(env: &NativePlatform, body: &Value) -> String {
    let body = body.to_string();
    let sig = civic::command::sign("in-s3cret", body.as_bytes());
    let (status, v) = civic::testing::call(
        |r| report_submission::handle(r, env),
        "POST",
        "/reports/command",
        &[("x-signature", &sig)],
        body,
    );
    assert_eq!(status, StatusCode::OK, "{v}");
    v["reply"].as_str().unwrap().to_owned()
}

/// `POST /reports/tick` as the scheduler; its counts.
fn tick(env: &NativePlatform) -> Value {
    let system = token(env, &json!({"roles": ["system"]}));
    let (status, v) = call(env, "POST", "/reports/tick", &[("authorization", &system)], &Value::Null);
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

fn patch(env: &NativePlatform, code: &str, agency: &str, body: &Value) -> StatusCode {
    call(env, "PATCH", &format!("/reports/{code}"), &[("authorization", &officer(env, agency))], body).0
}

const CODE: &str = "PA-241105-0001";

#[test]
fn a_report_filed_by_sms_tells_its_reporter_each_step_in_order_and_partners_every_event() {
    let (env, s) = env();
    let secret = subscribe(&env, &s.partner, &["report.created", "report.status_changed"], None);
    let reply = sms_from(&env, REPORTER, "m-1", "PA Rác đổ trộm đầu kiệt 12 Trần Cao Vân, Thanh Khê");
    assert!(reply.starts_with(&format!("Da nhan phan anh {CODE}")), "{reply}");
    assert_eq!(patch(&env, CODE, "moi-truong", &json!({"status": "in_progress"})), StatusCode::OK);
    let done = json!({"status": "resolved", "note": "Đã thu gom rác"});
    assert_eq!(patch(&env, CODE, "moi-truong", &done), StatusCode::OK);
    // a refused move writes no event
    assert_eq!(patch(&env, CODE, "moi-truong", &json!({"status": "in_progress"})), StatusCode::CONFLICT);
    let (_, pending) =
        call(&env, "GET", "/reports/outbox?state=pending", &[("authorization", &admin(&env))], &Value::Null);
    let targets: Vec<&str> = pending.as_array().unwrap().iter().map(|d| d["target"].as_str().unwrap()).collect();
    assert_eq!(targets.iter().filter(|t| **t == "sms").count(), 2, "{pending}");
    assert_eq!(targets.iter().filter(|t| **t == "webhook").count(), 3, "{pending}");
    assert!(!pending.to_string().contains(REPORTER), "the admin list shows no phone");

    let counts = tick(&env);
    assert_eq!((counts["delivered"].clone(), counts["reports_overdue"].clone()), (json!(5), json!(0)), "{counts}");

    let texts: Vec<(String, String)> = s
        .gateway
        .received()
        .iter()
        .map(|r| {
            let sig = civic::auth::hmac_sha256_hex(b"sms-secret", &r.body);
            assert_eq!(r.header("x-signature"), sig, "signed like the inbound contract");
            let v = r.json();
            (v["to"].as_str().unwrap().to_owned(), v["text"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.iter().all(|(to, text)| to == REPORTER && text.is_ascii() && text.len() <= 160), "{texts:?}");
    assert_eq!(texts[0].1, format!("Phan anh {CODE}: dang duoc xu ly (co quan Cong ty Moi truong do thi)."));
    assert_eq!(
        texts[1].1,
        format!("Phan anh {CODE}: da xu ly xong. Danh gia: nhan DG {CODE} <1-5>. Ghi chu: Da thu gom rac.")
    );

    let mut got: Vec<(String, String)> = s
        .partner
        .received()
        .iter()
        .map(|r| {
            let secret = civic::webhooks::Secret::parse(&secret).unwrap();
            let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
            let want = civic::webhooks::sign(&secret, r.header("webhook-id"), ts, &r.body).unwrap();
            assert_eq!(r.header("webhook-signature"), want);
            let v = r.json();
            assert!(!r.body.windows(REPORTER.len()).any(|w| w == REPORTER.as_bytes()), "no phone in {v}");
            (v["type"].as_str().unwrap().to_owned(), v["data"]["status"].as_str().unwrap().to_owned())
        })
        .collect();
    got.sort();
    let want = [
        ("report.created", "received"),
        ("report.status_changed", "in_progress"),
        ("report.status_changed", "resolved"),
    ];
    assert_eq!(got, want.map(|(a, b)| (a.to_owned(), b.to_owned())));

    // nothing more: the 409 wrote nothing, and nothing is delivered twice
    let again = tick(&env);
    assert_eq!((again["delivered"].clone(), again["retried"].clone()), (json!(0), json!(0)), "{again}");
    assert_eq!((s.gateway.received().len(), s.partner.received().len()), (2, 3));
}

#[test]
fn every_filing_channel_writes_report_created_and_a_chat_reporter_hears_by_chat() {
    let (env, s) = env();
    subscribe(&env, &s.partner, &["report.created"], None);
    let citizen = token(&env, &json!({"sub": "c-1", "phone": "0905123456"}));
    let app = json!({"category": "road-damage", "description": "Ổ gà", "lat": 16.0719, "lng": 108.2203});
    assert_eq!(call(&env, "POST", "/reports", &[("authorization", &citizen)], &app).0, StatusCode::CREATED);
    sms_from(&env, REPORTER, "m-1", "PA Rác đổ trộm, Thanh Khê");
    let zalo = json!({"channel": "zalo", "user": "z-1", "phone": "0905123456", "text": "PA Ổ gà lớn",
        "location": {"lat": 16.0719, "lng": 108.2203}, "id": "z-msg-1"});
    assert!(command(&env, &zalo).starts_with("Đã nhận phản ánh PA-241105-0003"));
    assert!(command(&env, &zalo).starts_with("Đã nhận phản ánh PA-241105-0003"), "a repeat files nothing");
    let form = "api_key=k&service_code=rubbish&address_string=12+Tr%E1%BA%A7n+Ph%C3%BA&description=R%C3%A1c";
    let env = env.with_config("open311_api_keys", "k");
    let req = Request::post("/open311/v2/requests.json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(form))
        .unwrap();
    assert_eq!(block_on(report_submission::handle(req, &env)).status(), StatusCode::OK);
    assert_eq!(tick(&env)["delivered"], 4);
    let mut codes: Vec<String> =
        s.partner.received().iter().map(|r| r.json()["data"]["code"].as_str().unwrap().to_owned()).collect();
    codes.sort();
    assert_eq!(codes, ["PA-241105-0001", "PA-241105-0002", "PA-241105-0003", "PA-241105-0004"]);
    assert!(s.gateway.received().is_empty(), "the filing's own answer is the confirmation");

    // a change of the Zalo report goes back to that chat, with the phone for ZNS
    assert_eq!(patch(&env, "PA-241105-0003", "hai-chau", &json!({"agency": "so-gtvt"})), StatusCode::OK);
    let (_, pending) =
        call(&env, "GET", "/reports/outbox?state=pending", &[("authorization", &admin(&env))], &Value::Null);
    let targets: Vec<&str> = pending.as_array().unwrap().iter().map(|d| d["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["zalo"], "{pending}");
}

#[test]
fn an_overdue_report_warns_its_agency_once_however_ticks_overlap() {
    let (env, s) = env();
    subscribe(&env, &s.partner, &["report.overdue"], Some("moi-truong"));
    let other = Receiver::start().unwrap();
    let env = env.with_allowed_host(&other.addr);
    subscribe(&env, &other, &["report.overdue"], Some("so-gtvt"));
    let citizen = token(&env, &json!({"sub": "c-1"}));
    let rubbish = json!({"category": "rubbish", "description": "Rác", "address": "12 Trần Phú"});
    let road = json!({"category": "road-damage", "description": "Ổ gà", "address": "Quận Liên Chiểu"});
    for body in [&rubbish, &road, &rubbish] {
        assert_eq!(call(&env, "POST", "/reports", &[("authorization", &citizen)], body).0, StatusCode::CREATED);
    }
    // the third is resolved in time: never overdue
    assert_eq!(patch(&env, "PA-241105-0003", "moi-truong", &json!({"status": "resolved"})), StatusCode::OK);
    assert_eq!(tick(&env)["reports_overdue"], 0, "nothing is due yet");

    env.set_now(env.now() + Duration::hours(25));
    // two ticks that overlap: both read the candidates before either claims
    let first = block_on(report_submission::overdue::candidates(&env)).unwrap();
    let second = block_on(report_submission::overdue::candidates(&env)).unwrap();
    assert_eq!(first.iter().map(|o| o.code.as_str()).collect::<Vec<_>>(), ["PA-241105-0001"]);
    assert_eq!(block_on(report_submission::overdue::claim(&env, &first)).unwrap(), 1);
    assert_eq!(block_on(report_submission::overdue::claim(&env, &second)).unwrap(), 0);
    let counts = tick(&env);
    assert_eq!((counts["reports_overdue"].clone(), counts["delivered"].clone()), (json!(0), json!(1)), "{counts}");
    assert_eq!(tick(&env)["reports_overdue"], 0, "a repeated tick");
    let got: Vec<Value> = s.partner.received().iter().map(|r| r.json()).collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["type"], "report.overdue");
    assert_eq!(
        got[0]["data"],
        json!({"code": "PA-241105-0001", "category": "rubbish", "agency": "moi-truong", "status": "received",
            "due_at": "2024-11-06T09:00:00+07:00"})
    );
    assert!(other.received().is_empty(), "another agency's endpoint");

    // handed to another agency, it is that agency's to hear of
    assert_eq!(patch(&env, "PA-241105-0001", "moi-truong", &json!({"agency": "so-gtvt"})), StatusCode::OK);
    assert_eq!(tick(&env)["reports_overdue"], 1);
    let got: Vec<Value> = other.received().iter().map(|r| r.json()).collect();
    assert_eq!(got.iter().map(|v| v["data"]["agency"].clone()).collect::<Vec<_>>(), [json!("so-gtvt")]);
    assert_eq!(s.partner.received().len(), 1);
    // the road report (72 hours) is not due yet
    env.set_now(env.now() + Duration::hours(48));
    assert_eq!(tick(&env)["reports_overdue"], 1);
}

#[test]
fn the_tick_is_the_schedulers() {
    let (env, _) = env();
    let citizen = token(&env, &json!({"sub": "c-1"}));
    for (auth, want) in [(None, StatusCode::UNAUTHORIZED), (Some(citizen), StatusCode::FORBIDDEN)] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        assert_eq!(call(&env, "POST", "/reports/tick", &headers, &Value::Null).0, want);
    }
}

#[test]
fn dg_by_sms_rates_once_and_only_from_the_reporters_phone() {
    let (env, _) = env();
    sms_from(&env, REPORTER, "m-1", "PA Rác đổ trộm, Thanh Khê");
    let dg = |from: &str, id: &str, text: &str| sms_from(&env, from, id, text);
    let before = [
        ("DG", "Danh gia phan anh da xu ly xong: soan DG <ma phan anh> <1-5> gui 1022"),
        ("DG PA-000000-0000 5", "Khong tim thay phan anh PA-000000-0000."),
        ("dg pa-241105-0001 9", "So sao danh gia tu 1 den 5"),
        ("DG PA-241105-0001 năm", "So sao danh gia tu 1 den 5"),
        ("DG PA-241105-0001 5", "Phan anh PA-241105-0001: Da tiep nhan; chi danh gia duoc khi da xu ly xong."),
    ];
    for (i, (text, want)) in before.iter().enumerate() {
        let reply = dg(REPORTER, &format!("b-{i}"), text);
        assert!(reply.starts_with(want) && reply.len() <= 160, "{text}: {reply}");
    }
    assert_eq!(patch(&env, CODE, "moi-truong", &json!({"status": "resolved"})), StatusCode::OK);
    let after = [
        ("0912000111", "DG PA-241105-0001 1", "Chi nguoi gui phan anh PA-241105-0001 moi danh gia duoc"),
        (
            "0905 123 456",
            "DG PA-241105-0001 5 Rất nhanh, cảm ơn",
            "Cam on ban da danh gia phan anh PA-241105-0001: 5/5.",
        ),
        (
            REPORTER,
            "DG PA-241105-0001 4",
            "Phan anh PA-241105-0001 da duoc danh gia 5/5; moi phan anh chi danh gia mot lan.",
        ),
    ];
    for (i, (from, text, want)) in after.iter().enumerate() {
        let reply = dg(from, &format!("a-{i}"), text);
        assert!(reply.starts_with(want), "{from} {text}: {reply}");
    }
    // the rating route shares the one update: rated already
    let citizen = token(&env, &json!({"phone": REPORTER}));
    let (status, _) =
        call(&env, "POST", &format!("/reports/{CODE}/rating"), &[("authorization", &citizen)], &json!({"stars": 3}));
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(sms_from(&env, REPORTER, "h-1", "xin chào").contains("DG <ma phan anh> <1-5>"), "the help names DG");
}

#[test]
fn dg_by_chat_is_the_reporters_by_channel_and_user_or_phone() {
    // (channel, user, phone, reply)
    let cases = [
        ("zalo", "z-1", None, "Cảm ơn bạn đã đánh giá phản ánh PA-241105-0001: 4/5."),
        ("zalo", "z-2", Some("+84905123456"), "Cảm ơn bạn đã đánh giá"),
        ("telegram", "z-1", None, "Chỉ người đã gửi phản ánh PA-241105-0001 mới đánh giá được"),
        ("zalo", "z-2", None, "Chỉ người đã gửi phản ánh"),
        ("sms", "0905123456", None, "Cam on ban da danh gia"),
    ];
    for (channel, user, phone, want) in cases {
        let (env, _) = env();
        let pa = json!({"channel": "zalo", "user": "z-1", "phone": "0905123456", "text": "PA Ổ gà lớn",
            "location": {"lat": 16.0719, "lng": 108.2203}});
        command(&env, &pa);
        assert_eq!(patch(&env, CODE, "hai-chau", &json!({"status": "resolved"})), StatusCode::OK);
        let mut dg = json!({"channel": channel, "user": user, "text": format!("DG {CODE} 4")});
        if let Some(p) = phone {
            dg["phone"] = json!(p);
        }
        let reply = command(&env, &dg);
        assert!(reply.starts_with(want), "{channel} {user} {phone:?}: {reply}");
    }
}

#[test]
fn a_move_that_lost_a_race_writes_no_event() {
    let (env, _) = env();
    sms_from(&env, REPORTER, "m-1", "PA Rác đổ trộm, Thanh Khê");
    let events = || {
        let rows = block_on(env.query("reports", "SELECT COUNT(*) AS n FROM outbox_events", &[])).unwrap();
        rows.first().unwrap().i64("n").unwrap()
    };
    assert_eq!(events(), 1, "report.created");
    let (stale, _) = block_on(report_submission::store::get(&env, CODE)).unwrap().unwrap();
    assert_eq!(patch(&env, CODE, "moi-truong", &json!({"status": "in_progress"})), StatusCode::OK);
    assert_eq!(events(), 2);
    // an officer who read it as received resolves it: the conditional update finds nothing
    let by = report_submission::lifecycle::By::officer("moi-truong");
    let now = civic::web::stamp(env.now());
    let status = report_submission::status::Status::Resolved;
    let m = block_on(report_submission::lifecycle::move_to(&env, &stale, status, None, None, &now, &by)).unwrap();
    let results = block_on(env.batch("reports", &m.batch())).unwrap();
    assert!(results[0].is_empty());
    assert_eq!(events(), 2, "no event for a move that did not happen");
}
