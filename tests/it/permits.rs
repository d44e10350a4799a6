//! permit-status over HTTP, each check run against both runtimes. Every check works on
//! dossier codes of its own, so checks can share a runtime in parallel.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde_json::{Value, json};

use crate::harness::{
    Check, Resp, Server, Suite, bearer, bearer_with, get, is_problem, request, request_declaring, same, send_sms,
    unix_now,
};

pub const SUITE: Suite = Suite {
    base: "/permits",
    function: "permit-status",
    databases: &["permits", "payments"],
    seed: SEED,
    checks: CHECKS,
    same_answers,
};

/// Orders in payment-callback's database, as it would have settled them: one paid for
/// dossier 0061, one still pending for 0062.
const SEED: &[(&str, &str)] = &[(
    "payments",
    "INSERT INTO orders (order_id, txn_ref, dossier_code, owner, provider, amount_vnd, state, created_at, expires_at, paid_at)
     VALUES ('e2e-1', 'E2E-1', '000.99.19.H57-241105-0061', 'e2e', 'vnpay', 150000, 'paid',
             '2024-11-07T02:00:00Z', '2024-11-07T02:15:00Z', '2024-11-07T02:03:00Z'),
            ('e2e-2', 'E2E-2', '000.99.19.H57-241105-0062', 'e2e', 'momo', 150000, 'pending',
             '2024-11-07T02:00:00Z', '2024-11-07T02:15:00Z', NULL)",
)];

fn code(n: u32) -> String {
    format!("000.99.19.H57-241105-{n:04}")
}

fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| unreachable!())
}

/// Now plus `days` whole days, in Vietnam time: whole days keep the time of day, so the
/// count of calendar days between it and now is exactly `days`.
fn days_from_now(days: i64) -> DateTime<FixedOffset> {
    let now = DateTime::from_timestamp(unix_now(), 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    (now + Duration::days(days)).with_timezone(&vietnam())
}

/// A push of the documented shape.
fn dossier(status: i64, status_at: &str, due_at: &str, fee: i64) -> Value {
    json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "field": "Xây dựng", "agency": "UBND quận Hải Châu",
        "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
        "received_at": "2024-11-05T08:30:00+07:00", "due_at": due_at,
        "status": status, "status_at": status_at, "note": format!("trạng thái {status}"), "result_at": null,
        "fee_vnd": fee})
}

fn put(s: &Server, code: &str, body: &Value, auth: Option<&str>) -> Result<Resp, String> {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    request(&s.addr, "PUT", &format!("/permits/{code}"), &headers, body.to_string().as_bytes())
}

/// A push by the one-stop-shop system; its `outcome`.
fn push(s: &Server, code: &str, body: &Value) -> Result<String, String> {
    let r = put(s, code, body, Some(&bearer(&["system"])))?;
    ensure!(r.status == 200 || r.status == 201, "push {code}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    Ok(r.json()?["outcome"].as_str().unwrap_or_default().to_owned())
}

fn lookup(s: &Server, path: &str, headers: &[(&str, &str)]) -> Result<Value, String> {
    let r = request(&s.addr, "GET", path, headers, b"")?;
    ensure!(r.status == 200, "GET {path}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    ensure!(r.header("cache-control") == Some("no-store"), "GET {path}: cache-control {:?}", r.header("cache-control"));
    r.json()
}

fn sms(s: &Server, id: &str, text: &str) -> Result<Resp, String> {
    send_sms(s, "/permits/sms", id, text)
}

fn sms_reply(s: &Server, id: &str, text: &str) -> Result<String, String> {
    let r = sms(s, id, text)?;
    ensure!(r.status == 200, "sms {text:?}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    let reply = r.json()?["reply"].as_str().unwrap_or_default().to_owned();
    ensure!(reply.len() <= 160 && reply.chars().all(|c| (' '..='~').contains(&c)), "not one ASCII SMS: {reply:?}");
    Ok(reply)
}

const PUBLIC_KEYS: [&str; 11] = [
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
    "status",
];

fn pii_only_for_the_verified_applicant(s: &Server) -> Result<(), String> {
    let c = code(11);
    push(s, &c, &dossier(4, "2024-11-06T09:00:00+07:00", "2024-11-15T17:00:00+07:00", 150_000))?;
    let path = format!("/permits/{c}");
    let public = lookup(s, &path, &[])?;
    let keys: Vec<&str> = public.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    ensure!(keys == PUBLIC_KEYS, "public keys {keys:?}");
    ensure!(public["status"] == json!({"code": 4, "label": "Đang xử lý"}), "status {}", public["status"]);
    ensure!(public["due_at"] == "2024-11-15T17:00:00+07:00", "due_at shown in UTC+7: {}", public["due_at"]);
    let text = public.to_string();
    ensure!(!text.contains("Nguyễn") && !text.contains("0905") && !text.contains("3456"), "PII in {text}");

    let verified = lookup(s, &format!("{path}?phone=3456"), &[])?;
    ensure!(verified["applicant"] == json!({"name": "Nguyễn V. A."}), "applicant {}", verified["applicant"]);
    ensure!(verified["history"][0]["note"] == "trạng thái 4", "history {}", verified["history"]);
    ensure!(!verified.to_string().contains("0905"), "phone shown: {verified}");
    ensure!(lookup(s, &format!("{path}?phone=9999"), &[])? == public, "a wrong last-4 must look like none");
    // a repeated last-4 is refused, never read as its first value
    let twice = request(&s.addr, "GET", &format!("{path}?phone=3456&phone=9999"), &[], b"")?;
    ensure!(twice.status == 422, "a repeated phone: {} {}", twice.status, String::from_utf8_lossy(&twice.body));
    ensure!(twice.json()?["errors"][0]["field"] == "phone", "the 422 names phone: {:?}", twice.json());

    let mine = bearer_with(&json!({"phone": "+84905123456"}));
    ensure!(lookup(s, &path, &[("authorization", &mine)])? == verified, "JWT with the applicant's phone");
    let theirs = bearer_with(&json!({"phone": "0905000000"}));
    ensure!(lookup(s, &path, &[("authorization", &theirs)])? == public, "JWT with another phone");
    let expired = bearer_with(&json!({"phone": "0905123456", "exp": 1}));
    is_problem(&request(&s.addr, "GET", &path, &[("authorization", &expired)], b"")?, 401)?;

    let en = lookup(s, &format!("/permits/{}?phone=3456", c.to_lowercase()), &[("accept-language", "en")])?;
    ensure!(en["code"] == c.as_str(), "codes compare case-insensitively: {}", en["code"]);
    ensure!(en["status"]["label"] == "Being processed", "English label {}", en["status"]);
    ensure!(en["history"][0]["status"]["label"] == "Being processed", "English history {}", en["history"]);
    Ok(())
}

fn repeated_and_out_of_order_pushes(s: &Server) -> Result<(), String> {
    let c = code(21);
    let due = "2024-11-15T17:00:00+07:00";
    let outcomes = [
        push(s, &c, &dossier(2, "2024-11-05T08:30:00+07:00", due, 0))?,
        push(s, &c, &dossier(4, "2024-11-06T09:00:00+07:00", due, 0))?,
        push(s, &c, &dossier(4, "2024-11-06T09:00:00+07:00", due, 0))?,
        push(s, &c, &dossier(1, "2024-11-05T08:00:00+07:00", due, 0))?,
    ];
    ensure!(outcomes == ["created", "updated", "unchanged", "stale"], "outcomes {outcomes:?}");
    let v = lookup(s, &format!("/permits/{c}?phone=3456"), &[])?;
    ensure!(v["status"]["code"] == 4, "the newest state stays: {}", v["status"]);
    let history: Vec<&Value> =
        v["history"].as_array().map(|h| h.iter().map(|e| &e["status"]["code"]).collect()).unwrap_or_default();
    ensure!(history == [&json!(1), &json!(2), &json!(4)], "each event once, in time order: {history:?}");
    Ok(())
}

fn pushes_need_the_system_role_and_valid_bodies(s: &Server) -> Result<(), String> {
    let c = code(31);
    let body = dossier(4, "2024-11-06T09:00:00+07:00", "2024-11-15T17:00:00+07:00", 0);
    is_problem(&put(s, &c, &body, None)?, 401)?;
    is_problem(&put(s, &c, &body, Some(&bearer(&["citizen"])))?, 403)?;
    is_problem(&put(s, &c, &body, Some(&bearer(&["admin"])))?, 403)?;
    let mut bad = body.clone();
    bad["status"] = json!(0);
    bad["applicant"]["kind"] = json!("robot");
    bad["unexpected"] = json!(1);
    let v = is_problem(&put(s, &c, &bad, Some(&bearer(&["system"])))?, 422)?;
    let fields: Vec<&str> =
        v["errors"].as_array().map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect()).unwrap_or_default();
    ensure!(fields == ["unexpected", "applicant.kind", "status"], "fields {fields:?}");
    is_problem(&put(s, "not-a-code", &body, Some(&bearer(&["system"])))?, 400)?;
    let vi = is_problem(&get(&s.addr, &format!("/permits/{c}"))?, 404)?;
    let en = is_problem(&request(&s.addr, "GET", &format!("/permits/{c}"), &[("accept-language", "en")], b"")?, 404)?;
    ensure!(vi["title"] != en["title"], "404 in both languages: {} / {}", vi["title"], en["title"]);
    let shape = is_problem(&get(&s.addr, "/permits/000.00.19.H57-241305-0012")?, 400)?;
    ensure!(shape["detail"].as_str().is_some_and(|d| d.contains("YYMMDD")), "the expected shape is shown: {shape}");
    is_problem(&request(&s.addr, "DELETE", &format!("/permits/{c}"), &[], b"")?, 405)?;
    Ok(())
}

fn overdue_counts_calendar_days_in_vietnam(s: &Server) -> Result<(), String> {
    let (late, early, done) = (code(41), code(42), code(43));
    let at = "2024-11-06T09:00:00+07:00";
    push(s, &late, &dossier(4, at, &days_from_now(-3).to_rfc3339(), 0))?;
    push(s, &early, &dossier(5, at, &days_from_now(2).to_rfc3339(), 0))?;
    push(s, &done, &dossier(10, at, &days_from_now(-3).to_rfc3339(), 0))?;
    let t = |c: &str| -> Result<(Value, Value, Value), String> {
        let v = lookup(s, &format!("/permits/{c}"), &[])?;
        Ok((v["overdue"].clone(), v["days_late"].clone(), v["days_left"].clone()))
    };
    ensure!(t(&late)? == (json!(true), json!(3), Value::Null), "3 days late: {:?}", t(&late));
    ensure!(t(&early)? == (json!(false), Value::Null, json!(2)), "2 days left: {:?}", t(&early));
    ensure!(t(&done)? == (json!(false), Value::Null, Value::Null), "returned: {:?}", t(&done));
    Ok(())
}

fn fee_paid_comes_from_the_payments_database(s: &Server) -> Result<(), String> {
    let at = "2024-11-06T09:00:00+07:00";
    let due = "2024-11-15T17:00:00+07:00";
    let cases =
        [(code(61), 150_000, true), (code(62), 150_000, false), (code(63), 150_000, false), (code(64), 0, true)];
    for (c, fee, paid) in &cases {
        push(s, c, &dossier(6, at, due, *fee))?;
        let v = lookup(s, &format!("/permits/{c}"), &[])?;
        ensure!(v["fee_paid"] == *paid && v["fee_vnd"] == *fee, "{c}: fee {} paid {}", v["fee_vnd"], v["fee_paid"]);
    }
    Ok(())
}

fn sms_answers_hs_in_one_ascii_sms(s: &Server) -> Result<(), String> {
    let c = code(71);
    let due = days_from_now(-3);
    push(s, &c, &dossier(4, "2024-11-06T09:00:00+07:00", &due.to_rfc3339(), 150_000))?;
    let want =
        format!("Ho so {c}: Dang xu ly, hen tra {} (tre 3 ngay). Le phi 150.000d: chua nop.", due.format("%d/%m/%Y"));
    let id = format!("e2e-{}", unix_now());
    ensure!(sms_reply(s, &id, &format!("hs {}", c.to_lowercase()))? == want, "reply for {c}");
    ensure!(sms_reply(s, &id, "HS something else")? == want, "a redelivered id gets its first reply");
    let paid = sms_reply(s, &format!("{id}-paid"), &format!("HS {}", code(61)))?;
    ensure!(paid.ends_with("Le phi: da nop."), "paid: {paid}");
    let unknown = sms_reply(s, &format!("{id}-unknown"), &format!("HS {}", code(79)))?;
    ensure!(unknown.starts_with(&format!("Khong tim thay ho so {}.", code(79))), "unknown: {unknown}");
    let malformed = sms_reply(s, &format!("{id}-bad"), "HS 12345")?;
    ensure!(malformed.starts_with("Ma ho so \"12345\" khong dung."), "malformed: {malformed}");
    let help = sms_reply(s, &format!("{id}-help"), "xin chao")?;
    ensure!(help.starts_with("Tra cuu ho so: soan HS <ma ho so> gui 8188."), "help: {help}");
    let body = json!({"id": "forged", "from": "1", "to": "8188", "text": "HS x"}).to_string();
    let forged = request(&s.addr, "POST", "/permits/sms", &[("x-signature", &"0".repeat(64))], body.as_bytes())?;
    is_problem(&forged, 401)?;
    Ok(())
}

fn last4_guessing_closes_for_the_day(s: &Server) -> Result<(), String> {
    let c = code(81);
    push(s, &c, &dossier(4, "2024-11-06T09:00:00+07:00", "2024-11-15T17:00:00+07:00", 0))?;
    let path = format!("/permits/{c}");
    ensure!(lookup(s, &format!("{path}?phone=3456"), &[])?.get("history").is_some(), "open at first");
    for guess in 0..10 {
        lookup(s, &format!("{path}?phone={guess:04}"), &[])?;
    }
    ensure!(lookup(s, &format!("{path}?phone=3456"), &[])?.get("history").is_none(), "closed after 10 misses");
    let mine = bearer_with(&json!({"phone": "0905123456"}));
    ensure!(lookup(s, &path, &[("authorization", &mine)])?.get("history").is_some(), "the JWT still verifies");
    Ok(())
}

fn bodies_are_capped(s: &Server) -> Result<(), String> {
    let auth = bearer(&["system"]);
    let r = request_declaring(&s.addr, "PUT", &format!("/permits/{}", code(91)), 1 << 20, &[("authorization", &auth)])?;
    is_problem(&r, 413)?;
    let big = vec![b' '; 5 * 1024];
    is_problem(&request(&s.addr, "POST", "/permits/sms", &[("x-signature", "00")], &big)?, 413)?;
    Ok(())
}

const CHECKS: &[(&str, Check)] = &[
    ("pii_only_for_the_verified_applicant", pii_only_for_the_verified_applicant),
    ("repeated_and_out_of_order_pushes", repeated_and_out_of_order_pushes),
    ("pushes_need_the_system_role_and_valid_bodies", pushes_need_the_system_role_and_valid_bodies),
    ("overdue_counts_calendar_days_in_vietnam", overdue_counts_calendar_days_in_vietnam),
    ("fee_paid_comes_from_the_payments_database", fee_paid_comes_from_the_payments_database),
    ("sms_answers_hs_in_one_ascii_sms", sms_answers_hs_in_one_ascii_sms),
    ("last4_guessing_closes_for_the_day", last4_guessing_closes_for_the_day),
    ("bodies_are_capped", bodies_are_capped),
];

/// The same pushes, lookups and messages give the same status and body on both runtimes.
fn same_answers(spin: &Server, workers: &Server) -> Result<(), String> {
    let c = code(99);
    let body = dossier(6, "2024-11-06T09:00:00+07:00", "2024-11-15T17:00:00+07:00", 150_000);
    let system = bearer(&["system"]);
    same("push", &put(spin, &c, &body, Some(&system))?, &put(workers, &c, &body, Some(&system))?)?;
    let en = [("accept-language", "en")];
    let gets: [(String, &[(&str, &str)]); 6] = [
        (format!("/permits/{c}"), &[]),
        (format!("/permits/{c}?phone=3456"), &[]),
        (format!("/permits/{c}?phone=3456"), &en),
        (format!("/permits/{c}?phone=1111"), &[]),
        (format!("/permits/{}", code(98)), &en),
        ("/permits/H57-1".to_owned(), &[]),
    ];
    for (path, headers) in &gets {
        same(
            path,
            &request(&spin.addr, "GET", path, headers, b"")?,
            &request(&workers.addr, "GET", path, headers, b"")?,
        )?;
    }
    for (i, text) in
        [format!("HS {c}"), format!("HS {}", code(98)), "HS 1".to_owned(), "hello".to_owned()].iter().enumerate()
    {
        let id = format!("parity-{i}");
        same(&format!("sms {text:?}"), &sms(spin, &id, text)?, &sms(workers, &id, text)?)?;
    }
    Ok(())
}
