//! Open to the internet, on both runtimes over HTTP, each on fresh servers of its
//! own: rate limits (429 with `Retry-After`, one short SMS, counted exactly under
//! concurrency, reset when the window ends, partner callbacks never refused) and retention
//! (personal data seeded with its time long past, removed or pseudonymised by one tick while
//! the statistics and the reconciliation answer as before).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{self, Resp, Server, Suite, VNPAY_SECRET, bearer, bearer_with, request, send_sms_from};
use crate::payments::{create_order, vnpay_ipn, vnpay_params, vnpay_query};

fn no_answers(_: &Server, _: &Server) -> Result<(), String> {
    Ok(())
}

/// The servers of one test: one local host for every function on Spin, one `wrangler dev`
/// per function on Workers (started one after another on one state folder).
struct Servers {
    all: Vec<Arc<Server>>,
    bases: Vec<&'static str>,
}

impl Servers {
    fn start(runtime: &str, suites: &[&'static Suite], extra: &[(&str, &str)]) -> Result<Servers, String> {
        let bases = suites.iter().map(|s| s.base).collect();
        if runtime == "spin" {
            let seed: Vec<(&str, &str)> = suites.iter().flat_map(|s| s.seed.iter().copied()).collect();
            let dir = Arc::new(tempfile::tempdir().map_err(|e| e.to_string())?);
            let host = Arc::new(harness::start_spin_custom(dir, &seed, extra, &[])?);
            return Ok(Servers { all: vec![host; suites.len()], bases });
        }
        let dir = harness::prepare_workers(suites)?;
        let all = suites
            .iter()
            .map(|s| harness::start_workers_with(s, Arc::clone(&dir), extra).map(Arc::new))
            .collect::<Result<_, _>>()?;
        Ok(Servers { all, bases })
    }

    /// The server of the function at `base`.
    fn at(&self, base: &str) -> Result<&Server, String> {
        let i = self.bases.iter().position(|b| *b == base).ok_or(format!("no server for {base}"))?;
        Ok(&self.all[i])
    }
}

const LIMITED_REPORTS: Suite = Suite {
    function: "report-submission",
    base: "/reports",
    databases: &["reports"],
    seed: &[],
    checks: &[],
    same_answers: no_answers,
};

const LIMITED_PAYMENTS: Suite = Suite {
    function: "payment-callback",
    base: "/payments",
    databases: &["payments", "permits"],
    seed: crate::payments::SUITE.seed,
    checks: &[],
    same_answers: no_answers,
};

const LIMITED_PERMITS: Suite = Suite {
    function: "permit-status",
    base: "/permits",
    databases: &["permits", "payments"],
    seed: &[],
    checks: &[],
    same_answers: no_answers,
};

/// Low limits for the limit checks; a short window for orders, to see it end.
const LIMITS: &[(&str, &str)] = &[
    ("rate_limit_report_filing", "5/1h"),
    ("rate_limit_sms", "3/1h"),
    ("rate_limit_order_creation", "2/4s"),
    ("rate_limit_dossier_lookup", "3/1h"),
];

fn pothole(n: u32) -> Vec<u8> {
    let lat = 16.05 + f64::from(n) * 0.002;
    json!({"category": "road-damage", "description": "Ổ gà lớn", "lat": lat, "lng": 108.2150}).to_string().into_bytes()
}

fn file_as(s: &Server, sub: &str, n: u32) -> Result<Resp, String> {
    let auth = bearer_with(&json!({"sub": sub}));
    request(&s.addr, "POST", "/reports", &[("authorization", &auth), ("content-type", "application/json")], &pothole(n))
}

fn retry_after(r: &Resp) -> Result<u64, String> {
    r.header("retry-after").and_then(|v| v.parse().ok()).ok_or(format!(
        "no Retry-After: {} {:?}",
        r.status,
        r.header("retry-after")
    ))
}

/// Twelve filings at once from one citizen with a limit of five: exactly five are filed,
/// seven get a 429 problem with `Retry-After`; another citizen is served meanwhile.
fn a_burst_is_counted_exactly(s: &Server) -> Result<(), String> {
    crate::reports::set_catalogue(s)?;
    let answers: Vec<Result<Resp, String>> = std::thread::scope(|scope| {
        let running: Vec<_> = (0..12).map(|n| scope.spawn(move || file_as(s, "e2e-burst", n))).collect();
        running.into_iter().map(|t| t.join().unwrap_or_else(|_| Err("a thread panicked".into()))).collect()
    });
    let answers = answers.into_iter().collect::<Result<Vec<_>, _>>()?;
    let filed = answers.iter().filter(|r| r.status == 201).count();
    let refused: Vec<&Resp> = answers.iter().filter(|r| r.status == 429).collect();
    ensure!(
        filed == 5 && refused.len() == 7,
        "5 filed and 7 refused, got {:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in refused {
        let v = harness::is_problem(r, 429)?;
        ensure!(v["type"] == "/problems/too-many-requests", "{v}");
        let wait = retry_after(r)?;
        ensure!((3500..=3600).contains(&wait), "Retry-After {wait}: the window opened moments ago");
    }
    ensure!(file_as(s, "e2e-other", 50)?.status == 201, "another citizen is served");
    let listed = harness::get(&s.addr, "/reports?category=road-damage")?.json()?;
    ensure!(listed["total"] == 6, "nothing stored over the limit: {listed}");
    Ok(())
}

/// Six SMS from one number with a limit of three: three answered, one short SMS saying when
/// to write again, then `"reply": null` (no SMS); another number is answered.
fn an_sms_flood_costs_one_short_sms(s: &Server) -> Result<(), String> {
    let reply = |id: &str, from: &str| -> Result<Value, String> {
        let r = send_sms_from(s, "/reports/sms", id, from, "TT PA-000000-0000")?;
        ensure!(
            r.status == 200,
            "the gateway is always answered 200: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        Ok(r.json()?["reply"].clone())
    };
    let replies: Vec<Value> =
        (0..6).map(|i| reply(&format!("e2e-flood-{i}"), "84905000017")).collect::<Result<_, _>>()?;
    ensure!(replies[..3].iter().all(|r| r.as_str().is_some_and(|t| t.starts_with("Khong tim thay"))), "{replies:?}");
    ensure!(replies[3].as_str().is_some_and(|t| t.starts_with("Ban da gui qua nhieu tin nhan.")), "{replies:?}");
    ensure!(replies[4].is_null() && replies[5].is_null(), "silence after the one notice: {replies:?}");
    ensure!(reply("e2e-flood-3", "84905000017")? == replies[3], "a redelivery gets the stored reply");
    ensure!(reply("e2e-flood-x", "84905000018")?.is_string(), "another number is answered");
    Ok(())
}

/// Orders (each for a dossier of its own: asking again for a pending order answers it and
/// is not counted): two in four seconds per citizen; the third is a 429 until the window
/// ends, then served. A storm of repeated IPNs for one order, all from this one address, is never
/// refused: every one gets VNPay's answer.
fn orders_are_limited_and_callbacks_never(s: &Server) -> Result<(), String> {
    let first = create_order(s, &crate::payments::code(3), "vnpay", "e2e-limited")?;
    create_order(s, &crate::payments::code(5), "vnpay", "e2e-limited")?;
    let body = json!({"dossier_code": crate::payments::code(6), "provider": "vnpay"}).to_string();
    let auth = bearer_with(&json!({"sub": "e2e-limited"}));
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let refused = request(&s.addr, "POST", "/payments/orders", &headers, body.as_bytes())?;
    harness::is_problem(&refused, 429)?;
    let wait = retry_after(&refused)?;
    ensure!((1..=4).contains(&wait), "Retry-After {wait} of a 4 s window");
    std::thread::sleep(Duration::from_secs(wait + 1));
    create_order(s, &crate::payments::code(6), "vnpay", "e2e-limited").map_err(|e| format!("after the window: {e}"))?;
    let txn_ref = first["txn_ref"].as_str().unwrap_or_default();
    let query = vnpay_query(&vnpay_params(txn_ref, 15_000_000, "00", "77000001"), VNPAY_SECRET);
    let mut codes = Vec::new();
    for _ in 0..40 {
        codes.push(vnpay_ipn(s, &query)?);
    }
    ensure!(
        codes[0] == "00" && codes[1..].iter().all(|c| c == "02"),
        "settled once, then 'already confirmed': {codes:?}"
    );
    Ok(())
}

/// Dossier lookups: three per caller; the fourth is a 429; the one-stop-shop system is not
/// limited.
fn dossier_lookups_are_limited(s: &Server) -> Result<(), String> {
    let path = format!("/permits/{}", crate::payments::code(4));
    let citizen = bearer_with(&json!({"sub": "e2e-lookups"}));
    for i in 0..3 {
        let r = request(&s.addr, "GET", &path, &[("authorization", &citizen)], b"")?;
        ensure!(r.status == 200, "lookup {i}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    }
    let refused = request(&s.addr, "GET", &path, &[("authorization", &citizen)], b"")?;
    harness::is_problem(&refused, 429)?;
    retry_after(&refused)?;
    let system = bearer(&["system"]);
    for _ in 0..5 {
        let r = request(&s.addr, "GET", &path, &[("authorization", &system)], b"")?;
        ensure!(r.status == 200, "the system is not limited: {}", r.status);
    }
    Ok(())
}

/// The limit checks on fresh servers of `runtime`.
pub fn limits(runtime: &str) -> Result<(), String> {
    let servers = Servers::start(runtime, &[&LIMITED_REPORTS, &LIMITED_PAYMENTS, &LIMITED_PERMITS], LIMITS)?;
    let reports = servers.at("/reports")?;
    a_burst_is_counted_exactly(reports).map_err(|e| format!("burst: {e}"))?;
    an_sms_flood_costs_one_short_sms(reports).map_err(|e| format!("sms: {e}"))?;
    orders_are_limited_and_callbacks_never(servers.at("/payments")?).map_err(|e| format!("orders: {e}"))?;
    dossier_lookups_are_limited(servers.at("/permits")?).map_err(|e| format!("dossiers: {e}"))
}

/// Personal data of every kind, dated 2025-01-01: well past every default period.
const OLD_REPORTS: Suite = Suite {
    function: "report-submission",
    base: "/reports",
    databases: &["reports"],
    seed: &[
        ("reports", "INSERT INTO agencies (code, name) VALUES ('e2e-ret', 'Đội E2E')"),
        (
            "reports",
            "INSERT INTO categories (code, name_vi, name_en, description_vi, description_en, keywords, deadline_hours)
             VALUES ('e2e-ret', 'Thử', 'Test', 'Thử', 'Test', 'e2eret', 24)",
        ),
        (
            "reports",
            "INSERT INTO reports (code, category, description, media_urls, agency, status, reporter_name, reporter_phone,
                                  anonymous, channel, created_at, due_at, resolved_at, closed_at)
             VALUES ('PA-250101-0001', 'e2e-ret', 'Đã xử lý', '[]', 'e2e-ret', 'resolved', 'Nguyễn Văn A', '0905111222',
                     0, 'sms', '2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z', '2025-01-01T12:00:00Z', '2025-01-01T12:00:00Z'),
                    ('PA-250101-0002', 'e2e-ret', 'Còn mở', '[]', 'e2e-ret', 'received', 'Trần Thị B', '0905111333',
                     0, 'sms', '2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z', NULL, NULL)",
        ),
        (
            "reports",
            "INSERT INTO sms_messages (id, sender, recipient, text, received_at, reply)
             VALUES ('e2e-old', '84905111222', '1022', 'PA cu', '2025-01-01T00:00:00.000Z', 'ok')",
        ),
    ],
    checks: &[],
    same_answers: no_answers,
};

const OLD_PAYMENTS: Suite = Suite {
    function: "payment-callback",
    base: "/payments",
    databases: &["payments", "permits"],
    seed: &[
        (
            "payments",
            "INSERT INTO callbacks (id, provider, received_at, params, signature_valid, txn_ref, provider_txn_id,
                                    amount_vnd, success, outcome, order_id)
             VALUES ('cb-e2e-old', 'vnpay', '2025-01-01T00:05:00Z',
                     'vnp_Amount=15000000&vnp_BankTranNo=VNP1&vnp_CardType=ATM&vnp_TxnRef=E2E-OLD', 1, 'E2E-OLD',
                     '99000001', 150000, 1, 'settled', 'e2e-old')",
        ),
        (
            "payments",
            "INSERT INTO orders (order_id, txn_ref, dossier_code, owner, provider, amount_vnd, state, created_at,
                                 expires_at, paid_at, provider_txn_id, settled_by)
             VALUES ('e2e-old', 'E2E-OLD', '000.98.19.H57-241105-0001', 'e2e', 'vnpay', 150000, 'paid',
                     '2025-01-01T00:00:00Z', '2025-01-01T00:15:00Z', '2025-01-01T00:05:00Z', '99000001', 'cb-e2e-old')",
        ),
    ],
    checks: &[],
    same_answers: no_answers,
};

const OLD_PERMITS: Suite = Suite {
    function: "permit-status",
    base: "/permits",
    databases: &["permits", "payments"],
    seed: &[(
        "permits",
        "INSERT INTO sms_messages (id, sender, recipient, text, received_at, reply)
         VALUES ('e2e-old', '84905111222', '8188', 'HS 1', '2025-01-01T00:00:00.000Z', 'ok')",
    )],
    checks: &[],
    same_answers: no_answers,
};

const OLD_FOOD: Suite = Suite {
    function: "food-safety",
    base: "/food-safety",
    databases: &["food"],
    seed: &[
        (
            "food",
            "INSERT INTO sms_messages (id, sender, recipient, text, received_at, reply)
             VALUES ('e2e-old', '84905111222', '8188', 'ATTP pho', '2025-01-01T00:00:00.000Z', 'ok')",
        ),
        (
            "food",
            "INSERT INTO choices (channel, user_hash, ids, at) VALUES ('sms', 'e2e', '[]', '2025-01-01T00:00:00Z')",
        ),
    ],
    checks: &[],
    same_answers: no_answers,
};

const OLD_CHAT: Suite = Suite {
    function: "chat",
    base: "/chat",
    databases: &["chat"],
    seed: &[
        (
            "chat",
            "INSERT INTO chat_events (channel, event_id, user_id, body, received_at, answered_at)
             VALUES ('zalo', 'e2e-old', '2468', '{\"message\":{\"text\":\"TT PA-1\"}}', '2025-01-01T00:00:00Z',
                     '2025-01-01T00:00:01Z')",
        ),
        (
            "chat",
            "INSERT INTO conversations (channel, user_id, id, step, text, started_at, updated_at)
             VALUES ('zalo', '2468', 'zalo:2468:e2e-old', 'place', 'Ổ gà', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')",
        ),
    ],
    checks: &[],
    same_answers: no_answers,
};

fn admin_get(s: &Server, path: &str) -> Result<Value, String> {
    let r = request(&s.addr, "GET", path, &[("authorization", &bearer(&["admin"]))], b"")?;
    ensure!(r.status == 200, "GET {path}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    r.json()
}

/// `GET <base>/retention`'s entry for `kind`.
fn kept(s: &Server, base: &str, kind: &str) -> Result<Value, String> {
    let v = admin_get(s, &format!("{base}/retention"))?;
    let found = v["kinds"].as_array().and_then(|l| l.iter().find(|k| k["kind"] == kind).cloned());
    found.ok_or(format!("{base}/retention lists no {kind}: {v}"))
}

/// Each function's old personal data: listed as past its period, gone after one tick.
fn every_kind_is_forgotten(servers: &Servers) -> Result<(), String> {
    let kinds = [
        ("/reports", &["reporter_contact", "sms_messages"][..]),
        ("/payments", &["callbacks_raw"][..]),
        ("/permits", &["sms_messages"][..]),
        ("/food-safety", &["sms_messages", "conversations"][..]),
        ("/chat", &["chat_events", "conversations"][..]),
    ];
    for (base, names) in kinds {
        let s = servers.at(base)?;
        for kind in names {
            let before = kept(s, base, kind)?;
            ensure!(before["past_period"] == true && before["oldest"].is_string(), "{base} {kind} before: {before}");
        }
        let done = crate::notify::tick(s, base)?;
        for kind in names {
            let after = kept(s, base, kind)?;
            ensure!(after["oldest"].is_null(), "{base} {kind} after the tick {done}: {after}");
        }
    }
    Ok(())
}

/// The retention checks on fresh servers of `runtime`: every kind of old personal data goes
/// in one tick; a closed report forgets its reporter, an open one keeps them; the statistics
/// and the reconciliation of that day answer as before.
pub fn retention(runtime: &str) -> Result<(), String> {
    let suites: [&'static Suite; 5] = [&OLD_REPORTS, &OLD_PAYMENTS, &OLD_PERMITS, &OLD_FOOD, &OLD_CHAT];
    let servers = Servers::start(runtime, &suites, &[])?;
    let (reports, payments) = (servers.at("/reports")?, servers.at("/payments")?);
    let stats = || harness::get(&reports.addr, "/reports/stats?from=2025-01-01&to=2025-01-31").and_then(|r| r.json());
    let reconciliation = || {
        let r = request(
            &payments.addr,
            "GET",
            "/payments/reconciliation?date=2025-01-01",
            &[("authorization", &bearer(&["admin"])), ("accept", "text/csv")],
            b"",
        )?;
        ensure!(r.status == 200, "reconciliation: {}", r.status);
        Ok::<String, String>(String::from_utf8_lossy(&r.body).into_owned())
    };
    let (stats_before, reconciled_before) = (stats()?, reconciliation()?);
    ensure!(reconciled_before.contains("99000001"), "the old payment is reconciled: {reconciled_before}");
    every_kind_is_forgotten(&servers)?;
    let officer = bearer_with(&json!({"sub": "o", "roles": ["officer"], "agency": "e2e-ret"}));
    let reporter = |code: &str| -> Result<Value, String> {
        let r = request(&reports.addr, "GET", &format!("/reports/{code}"), &[("authorization", &officer)], b"")?;
        Ok(r.json()?["reporter"].clone())
    };
    let closed = reporter("PA-250101-0001")?;
    ensure!(closed["phone"].is_null() && closed["name"].is_null(), "a closed report forgot its reporter: {closed}");
    let open = reporter("PA-250101-0002")?;
    ensure!(open["phone"] == "0905111333", "an open report keeps its reporter: {open}");
    ensure!(stats()? == stats_before, "the statistics answer as before");
    ensure!(reconciliation()? == reconciled_before, "the reconciliation answers as before");
    let order = crate::payments::order_as_admin(payments, "e2e-old")?;
    ensure!(order["state"] == "paid", "the order stays paid: {order}");
    Ok(())
}
