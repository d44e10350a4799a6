//! Role boundaries: citizen, officer of another agency, admin, system, on every
//! role-guarded route.

use serde_json::{Value, json};

use super::Servers;
use super::fixture::{fixture, same_snapshot, snapshot};
use crate::harness::{bearer_with, is_problem};

/// A caller: how a failure names them, and their `Authorization`.
type Caller = (&'static str, String);

/// One role-guarded route: (method, path, the callers it refuses, the status they get, the
/// callers it lets through with the status each gets).
type Guard<'a> = (&'a str, &'a str, &'a [&'a Caller], u16, &'a [(&'a Caller, u16)]);

/// Who may do what: each role (and a few near misses) on every role-guarded route, with the
/// status it gets. Bodies do not parse where a body is read, so a permitted caller gets 400
/// (or 404 / 200 where nothing is read) and nothing changes.
pub(super) fn role_boundaries(s: &Servers) -> Result<(), String> {
    let f = fixture(s, 3)?;
    let who = |name: &'static str, roles: Value, agency: Option<&str>, sub: &str| -> Caller {
        let mut c = json!({"roles": roles, "sub": sub});
        if let Some(a) = agency {
            c["agency"] = json!(a);
        }
        (name, bearer_with(&c))
    };
    let citizen = who("citizen", json!(["citizen"]), None, "sec-citizen");
    let owner = who("its owner", json!(["citizen"]), None, "sec-owner");
    let nobody = who("no roles", json!([]), None, "sec-nobody");
    let officer = who("officer", json!(["officer"]), Some("moi-truong"), "sec-officer");
    let other_officer = who("officer of another agency", json!(["officer"]), Some("so-gtvt"), "sec-officer-2");
    let agencyless = who("officer without agency", json!(["officer"]), None, "sec-officer-3");
    let admin = who("admin", json!(["admin"]), None, "sec-admin");
    let system = who("system", json!(["system"]), None, "sec-system");
    let upper = who("ADMIN in capitals", json!(["ADMIN", "System"]), None, "sec-case");
    // The same tokens, named for what they are on a route of their own.
    let another_citizen = ("another citizen", citizen.1.clone());
    let its_officer = ("officer of its agency", officer.1.clone());
    let upper_system = ("System in capitals", upper.1.clone());
    let rate = format!("/reports/{}/rating", f.report);
    let patch = format!("/reports/{}", f.report);
    let order = format!("/payments/orders/{}", f.order);
    let place = format!("/food-safety/establishments/{}", f.place);
    let push = format!("/permits/{}", f.dossier);
    // 400 = let through, stopped at the body.
    let table: &[Guard] = &[
        ("PUT", "/food-safety/establishments", &[&citizen, &officer, &system, &upper, &nobody], 403, &[(&admin, 400)]),
        ("PUT", "/food-safety/violations", &[&citizen, &officer, &system], 403, &[(&admin, 400)]),
        ("DELETE", &place, &[&citizen, &officer, &system], 403, &[]),
        ("PUT", &push, &[&citizen, &officer, &admin, &upper_system], 403, &[(&system, 400)]),
        ("GET", "/payments/reconciliation?date=2024-11-22", &[&citizen, &officer, &system], 403, &[(&admin, 200)]),
        ("GET", &order, &[&another_citizen, &officer, &system], 404, &[(&owner, 200), (&admin, 200)]),
        ("POST", "/payments/orders", &[&nobody, &admin, &system], 403, &[(&citizen, 400)]),
        ("PATCH", &patch, &[&citizen, &other_officer, &agencyless, &admin, &system], 403, &[(&its_officer, 400)]),
        ("POST", &rate, &[&another_citizen, &its_officer, &admin], 403, &[]),
        ("PUT", "/reports/categories", &[&citizen, &officer, &system], 403, &[(&admin, 400)]),
    ];
    let mut failures = Vec::new();
    let before = snapshot(s, &f)?;
    for (method, path, refused, refused_with, allowed) in table {
        for ((caller, token), want) in refused.iter().map(|c| (*c, *refused_with)).chain(allowed.iter().copied()) {
            let headers = [("authorization", token.as_str()), ("content-type", "application/json")];
            let r = s.send(method, path, &headers, b"{")?;
            let ok = if want == 200 { r.status == 200 } else { is_problem(&r, want).is_ok() };
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
        for (caller, token) in [&citizen, &officer, &system] {
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
    let seen = reporter(&officer.1)?;
    ensure!(seen["phone"].as_str().is_some_and(|p| p.ends_with("905111222")), "the agency sees its reporter: {seen}");
    for (caller, token) in [&other_officer, &admin, &citizen] {
        ensure!(reporter(token)?.is_null(), "{caller} sees the reporter");
    }
    // An officer of another agency cannot move a report by reassigning it either.
    let r = s.send_json("PATCH", &patch, &other_officer.1, &json!({"agency": "so-gtvt"}))?;
    is_problem(&r, 403)?;
    Ok(())
}
