//! SQL and FTS5 metacharacters and oversized values in every text input: plain text or a
//! clean 4xx, never a 5xx.

use serde_json::{Value, json};

use super::Servers;
use super::fixture::{dossier, dossier_code, filed, fixture, import, place, push};
use crate::harness::{
    MOMO_SECRET_KEY, Resp, VNPAY_SECRET, bearer, bearer_with, get, is_problem, post_form, post_json, send_sms, unix_now,
};
use crate::payments::{momo_body, vnpay_ipn, vnpay_params, vnpay_query};

/// Values that would break SQL built by formatting, LIKE patterns without escaping, or FTS5
/// queries passed through.
const NASTY: &[&str] = &[
    "'; DROP TABLE establishments; --",
    "\" OR 1=1 --",
    "' OR '1'='1",
    "Robert'); DELETE FROM reports; --",
    "%",
    "_",
    "\\",
    "100% _x_ \\%",
    "NEAR(kiemthu bao, 2)",
    "\"unterminated",
    "kiemthu*",
    "a AND b OR NOT c",
    "^kiemthu",
    "name_folded : kiemthu",
    "{name_folded address_folded}: kiemthu",
    "kiemthu\" OR \"",
    "$1 ?1 :name @p",
    "Ứng dụng 🍜 تجربة 測試",
    "` ; -- /* */",
];

/// Where Open311 clients file a request (a form body).
pub(super) const OPEN311_REQUESTS: &str = "/open311/v2/requests.json";

/// A form-urlencoded value, for a query string or a form body.
pub(super) fn pct(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A percent-encoded path segment (every byte but letters and digits as `%XX`).
fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn no_5xx(what: &str, r: &Resp) -> Result<(), String> {
    ensure!(r.status < 500, "{what}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    Ok(())
}

/// Every text input with every nasty value: never a 5xx, stored verbatim where stored, LIKE
/// wildcards taken literally, and every table still there afterwards.
pub(super) fn sql_and_fts_metacharacters_are_plain_text(s: &Servers) -> Result<(), String> {
    crate::reports::set_catalogue(s.reports)?;
    let stamp = unix_now();
    let admin = bearer(&["admin"]);
    // food-safety: names and districts stored verbatim, searched without error.
    let items: Vec<Value> = NASTY
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut p = place(&format!("SEC-SQL-{i:02}"), &format!("Quán {v}"), &format!("Huyện {v}"));
            p["address"] = json!(v);
            p["violations"] = json!([{"date": "2025-01-01", "description": v, "penalty_vnd": 1}]);
            p
        })
        .collect();
    let r = import(s, &Value::Array(items))?;
    ensure!(r.status == 200, "import: {} {}", r.status, String::from_utf8_lossy(&r.body));
    for (i, v) in NASTY.iter().enumerate() {
        let rec = get(&s.food.addr, &format!("/food-safety/establishments/SEC-SQL-{i:02}"))?.json()?;
        ensure!(
            rec["name"] == format!("Quán {v}") && rec["address"] == *v && rec["violations"][0]["description"] == *v,
            "stored verbatim: {v:?}: {rec}"
        );
        for query in [format!("q={}", pct(v)), format!("district={}", pct(v)), format!("q=quan&district={}", pct(v))] {
            let r = get(&s.food.addr, &format!("/food-safety/establishments?{query}"))?;
            no_5xx(&query, &r)?;
        }
        let ids = format!("/food-safety/establishments/{}", segment(v));
        no_5xx(&ids, &get(&s.food.addr, &ids)?)?;
        let sms = send_sms(s.food, "/food-safety/sms", &format!("sec-sql-{stamp}-{i}"), &format!("ATTP {v}"))?;
        no_5xx("food sms", &sms)?;
    }
    // A district is matched on its folded words: "%" and "_" never reach a LIKE pattern as
    // wildcards; "Bảo%Mật" is the district "Bảo Mật".
    let r = get(&s.food.addr, "/food-safety/establishments?district=B%E1%BA%A3o%25_M%E1%BA%ADt&limit=50")?.json()?;
    let ids: Vec<&str> =
        r["results"].as_array().map(|l| l.iter().filter_map(|x| x["id"].as_str()).collect()).unwrap_or_default();
    ensure!(ids.iter().all(|id| id.starts_with("SEC-KEEP-")), "district=Bảo%_Mật matched {ids:?}");
    // permit-status: pushed text stored verbatim; codes and phones in the path and query refused cleanly.
    let code = dossier_code(21);
    for (i, v) in NASTY.iter().enumerate() {
        let mut body = dossier(4, &format!("2024-11-06T09:{i:02}:00+07:00"), 0, &format!("Nguyễn {v}"), "0905123456");
        body["procedure_name"] = json!(v);
        body["agency"] = json!(v);
        body["note"] = json!(v);
        push(s, &code, &body)?;
        let pub_view = get(&s.permits.addr, &format!("/permits/{code}"))?.json()?;
        ensure!(pub_view["procedure_name"] == *v && pub_view["agency"] == *v, "stored verbatim: {v:?}: {pub_view}");
        let path = format!("/permits/{}", segment(v));
        no_5xx(&path, &get(&s.permits.addr, &path)?)?;
        no_5xx("phone", &get(&s.permits.addr, &format!("/permits/{code}?phone={}", pct(v)))?)?;
        no_5xx("permit push path", &s.send_json("PUT", &path, &bearer(&["system"]), &body)?)?;
        no_5xx("HS sms", &send_sms(s.permits, "/permits/sms", &format!("sec-hs-{stamp}-{i}"), &format!("HS {v}"))?)?;
    }
    // payment-callback: the dossier code and provider, the order id, the IPN references.
    let citizen = bearer(&["citizen"]);
    for v in NASTY {
        let order = json!({"dossier_code": v, "provider": v});
        is_problem(&s.send_json("POST", "/payments/orders", &citizen, &order)?, 422)?;
        no_5xx(
            "order id",
            &s.send("GET", &format!("/payments/orders/{}", segment(v)), &[("authorization", &admin)], b"")?,
        )?;
        no_5xx(
            "reconciliation",
            &s.send("GET", &format!("/payments/reconciliation?date={}", pct(v)), &[("authorization", &admin)], b"")?,
        )?;
        let ipn = vnpay_query(&vnpay_params(v, 15_000_000, "00", v), VNPAY_SECRET);
        let code = vnpay_ipn(s.payments, &ipn)?;
        ensure!(code != "00" && code != "02", "vnpay ref {v:?}: {code}");
        let r = post_json(s.payments, "/payments/momo/ipn", &momo_body(v, 150_000, 0, 1, MOMO_SECRET_KEY))?;
        no_5xx("momo ref", &r)?;
    }
    // report-submission: every text field of a filing, PATCH notes, ratings, Open311 forms,
    // filters and SMS; stored verbatim.
    let reporter = bearer_with(&json!({"sub": "sec-sql-reporter"}));
    let officer = bearer_with(&json!({"roles": ["officer"], "agency": "moi-truong"}));
    for (i, v) in NASTY.iter().enumerate() {
        let lat = 16.1100 + f64::from(u32::try_from(i).unwrap_or(0)) * 0.0005;
        let body =
            json!({"category": "rubbish", "description": v, "address": v, "name": v, "lat": lat, "lng": 108.0600});
        let rep = filed(s, &body, &[("authorization", &reporter)])?;
        ensure!(rep["description"] == *v && rep["address"] == *v, "stored verbatim: {v:?}: {rep}");
        let path = format!("/reports/{}", rep["code"].as_str().unwrap_or_default());
        let r = s.send_json("PATCH", &path, &officer, &json!({"status": "in_progress", "note": v}))?;
        ensure!(r.status == 200, "patch with {v:?}: {} {}", r.status, String::from_utf8_lossy(&r.body));
        let r = s.send_json("PATCH", &path, &officer, &json!({"status": v}))?;
        is_problem(&r, 422).map_err(|e| format!("status {v:?}: {e}"))?;
        let rating = json!({"stars": 5, "comment": v});
        no_5xx("rating", &s.send_json("POST", &format!("{path}/rating"), &reporter, &rating)?)?;
        let back = get(&s.reports.addr, &path)?.json()?;
        ensure!(back["description"] == *v, "read back verbatim: {back}");
        ensure!(back.to_string().contains(&json!(v).to_string()), "note stored verbatim: {v:?}: {back}");
        for query in ["status", "category", "district", "bbox", "page"].map(|k| format!("/reports?{k}={}", pct(v))) {
            no_5xx(&query, &get(&s.reports.addr, &query)?)?;
        }
        for query in [
            format!("/reports/stats?from={}", pct(v)),
            format!("/reports/{}", segment(v)),
            format!("/open311/v2/services/{}.json", segment(v)),
            format!("/open311/v2/requests.json?status={}&service_code={}", pct(v), pct(v)),
            format!("/open311/v2/requests/{}.json", segment(v)),
            format!("/open311/v2/tokens/{}.json", segment(v)),
            format!("/open311/v2/services/{}.xml?jurisdiction_id={}", segment(v), pct(v)),
            format!("/open311/v2/servicerequestupdates.xml?start_date={}&end_date={}", pct(v), pct(v)),
        ] {
            no_5xx(&query, &get(&s.reports.addr, &query)?)?;
        }
        let form = format!(
            "api_key=e2e-open311-key&service_code=rubbish&lat={lat}&long=108.0610&description={d}&address_string={d}\
             &first_name={d}&last_name={d}&phone=0905123456&email={d}&account_id={d}",
            d = pct(v)
        );
        let r = post_form(s.reports, OPEN311_REQUESTS, &form)?;
        ensure!(r.status == 200, "open311 with {v:?}: {} {}", r.status, String::from_utf8_lossy(&r.body));
        let id = r.json()?[0]["service_request_id"].as_str().unwrap_or_default().to_owned();
        let back = get(&s.reports.addr, &format!("/open311/v2/requests/{id}.json"))?.json()?;
        ensure!(back[0]["description"] == *v && back[0]["address"] == *v, "open311 verbatim: {back}");
        let odd = form.replace("service_code=rubbish", &format!("service_code={}", pct(v)));
        no_5xx("open311 service_code", &post_form(s.reports, OPEN311_REQUESTS, &odd)?)?;
        let sms = send_sms(s.reports, "/reports/sms", &format!("sec-sql-{stamp}-{i}"), &format!("TT {v}"))?;
        no_5xx("TT sms", &sms)?;
    }
    // Catalogue names with metacharacters are valid text (only the deadline is refused, so
    // nothing is stored); metacharacters in codes are refused by name.
    for v in NASTY {
        let c = json!({"agencies": [{"code": "moi-truong", "name": v}], "categories": [{"code": "sec-sql", "name_vi": v,
            "name_en": v, "description_vi": v, "description_en": v, "keywords": [v], "deadline_hours": 0,
            "routes": {"*": "moi-truong", (*v): "moi-truong"}}]});
        let p = is_problem(&s.send_json("PUT", "/reports/categories", &admin, &c)?, 422)?;
        let fields: Vec<&str> =
            p["errors"].as_array().map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect()).unwrap_or_default();
        ensure!(fields == ["categories[0].deadline_hours"], "catalogue with {v:?}: {fields:?}");
        // (a quote keeps even "_", a valid code on its own, from being stored)
        let bad_code = json!({"agencies": [{"code": format!("{v}'"), "name": "x"}], "categories": []});
        is_problem(&s.send_json("PUT", "/reports/categories", &admin, &bad_code)?, 422)?;
    }
    // Everything is still there.
    for (path, table) in [
        ("/food-safety/health", "establishments"),
        ("/permits/health", "dossiers"),
        ("/payments/health", "orders"),
        ("/reports/health", "reports"),
    ] {
        let v = s.send("GET", path, &[], b"")?.json()?;
        ensure!(v["status"] == "ok" && v[table].is_i64(), "{path}: {v}");
    }
    let v = get(&s.food.addr, "/food-safety/establishments?q=quan%20bao%20mat")?;
    ensure!(v.status == 200, "search after: {}", v.status);
    Ok(())
}

/// A field far over its limit: 422 naming the field (or 413 past the body cap), never 5xx.
pub(super) fn oversized_fields_are_4xx_never_5xx(s: &Servers) -> Result<(), String> {
    crate::reports::set_catalogue(s.reports)?;
    let admin = bearer(&["admin"]);
    let citizen = bearer(&["citizen"]);
    let long = |n: usize| "ả".repeat(n);
    let filing = |field: &str, v: Value| {
        let mut b = json!({"category": "rubbish", "description": "Rác", "lat": 16.1150, "lng": 108.0650, "phone": "0905123456"});
        b[field] = v;
        b
    };
    let mut item = place("SEC-BIG-0001", "Quán", "Huyện Bảo Mật");
    let mut cases: Vec<(&str, &str, String, Value, &str)> = Vec::new();
    for (field, n) in [("name", 201), ("address", 301), ("district", 101), ("id", 65)] {
        let mut i = item.clone();
        i[field] = json!(long(n));
        cases.push(("PUT", "/food-safety/establishments", admin.clone(), json!([i]), "field"));
    }
    item["violations"] = json!([{"date": "2025-01-01", "description": long(501), "penalty_vnd": 1}]);
    cases.push(("PUT", "/food-safety/establishments", admin.clone(), json!([item]), "field"));
    let push_path = format!("/permits/{}", dossier_code(31));
    for (field, n) in [("procedure_name", 501), ("agency", 201), ("note", 1001)] {
        let mut d = dossier(4, "2024-11-06T09:00:00+07:00", 0, "An", "0905123456");
        d[field] = json!(long(n));
        cases.push(("PUT", &push_path, bearer(&["system"]), d, "field"));
    }
    let mut d = dossier(4, "2024-11-06T09:00:00+07:00", 0, "An", "0905123456");
    d["applicant"]["name"] = json!(long(201));
    cases.push(("PUT", &push_path, bearer(&["system"]), d, "field"));
    cases.push((
        "POST",
        "/payments/orders",
        citizen.clone(),
        json!({"dossier_code": "9".repeat(65), "provider": "vnpay"}),
        "field",
    ));
    cases.push((
        "POST",
        "/payments/orders",
        citizen.clone(),
        json!({"dossier_code": "9".repeat(4000), "provider": "vnpay"}),
        "413",
    ));
    cases.push(("POST", "/reports", citizen.clone(), filing("description", json!(long(4001))), "field"));
    cases.push(("POST", "/reports", citizen.clone(), filing("address", json!(long(301))), "field"));
    cases.push(("POST", "/reports", citizen.clone(), filing("name", json!(long(201))), "field"));
    cases.push(("POST", "/reports", citizen.clone(), filing("description", json!("x".repeat(100 * 1024))), "413"));
    cases.push((
        "POST",
        "/reports",
        citizen.clone(),
        filing("media_urls", json!([format!("https://cdn.example.vn/{}", "a".repeat(5000))])),
        "field",
    ));
    let mut cat = json!({"agencies": [{"code": "moi-truong", "name": long(201)}], "categories": []});
    cases.push(("PUT", "/reports/categories", admin.clone(), cat.clone(), "field"));
    cat["agencies"][0]["name"] = json!("x".repeat(300 * 1024));
    // over report-submission's whole-body cap (256 KiB): refused from its declared length
    cases.push(("PUT", "/reports/categories", admin.clone(), cat, "413 unread"));
    let mut failures = Vec::new();
    for (method, path, auth, body, want) in &cases {
        // A body over a function's whole-body cap is refused from its declared length, before
        // it is read, and the connection closed: a client still writing it may see a broken
        // pipe before it reads the 413 (it did, now and then). So such a case announces its
        // length and waits for the answer, as the other declared-length checks do.
        let r = if *want == "413 unread" {
            let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
            let owner = &s.owner(path)?.addr;
            crate::raw::request_declaring(owner, method, path, body.to_string().len(), &headers)?
        } else {
            s.send_json(method, path, auth, body)?
        };
        let ok = match *want {
            "413" | "413 unread" => is_problem(&r, 413).is_ok(),
            _ => is_problem(&r, 422).is_ok_and(|p| p["errors"].as_array().is_some_and(|e| !e.is_empty())),
        };
        if !ok {
            failures.push(format!(
                "{method} {path} ({want}): {} {}",
                r.status,
                String::from_utf8_lossy(&r.body).chars().take(300).collect::<String>()
            ));
        }
    }
    let f = fixture(s, 4)?;
    // Query strings (with places stored, so that filters are evaluated), PATCH bodies,
    // Open311 forms, SMS texts.
    let big = pct(&long(300));
    let district60 = "a".repeat(60);
    for path in [
        format!("/food-safety/establishments?q={big}"),
        format!("/food-safety/establishments?district={big}"),
        format!("/food-safety/establishments?district={district60}"),
        format!("/food-safety/establishments?q=quan&district={district60}"),
        format!("/reports?district={big}"),
        format!("/open311/v2/requests.json?service_code={big}"),
    ] {
        let r = s.send("GET", &path, &[], b"")?;
        if !(400..500).contains(&r.status) && r.status != 200 {
            failures.push(format!("GET {}...: {}", &path[..40], r.status));
        }
    }
    let officer = bearer_with(&json!({"roles": ["officer"], "agency": "moi-truong"}));
    // A PATCH note over its limit (422), a PATCH body over the route's cap (413).
    let report = format!("/reports/{}", f.report);
    for (what, body, status) in [
        ("PATCH note 2001", json!({"status": "in_progress", "note": long(2001)}), 422),
        ("PATCH 9 KB", json!({"note": "x".repeat(9000)}), 413),
    ] {
        let r = s.send_json("PATCH", &report, &officer, &body)?;
        if is_problem(&r, status).is_err() {
            failures.push(format!("{what}: {}", r.status));
        }
    }
    // An Open311 description over its limit (400), a form over the body cap (413).
    for (what, length, status) in [("open311 description 4001", 4001, 400), ("open311 20 KB", 20_000, 413)] {
        let form = format!(
            "api_key=e2e-open311-key&service_code=rubbish&lat=16.1150&long=108.0650&description={}",
            "x".repeat(length)
        );
        let r = post_form(s.reports, OPEN311_REQUESTS, &form)?;
        if r.status != status {
            failures.push(format!("{what}: {} {}", r.status, String::from_utf8_lossy(&r.body)));
        }
    }
    for path in ["/food-safety/sms", "/permits/sms", "/reports/sms"] {
        let keyword = match path {
            "/food-safety/sms" => "ATTP",
            "/permits/sms" => "HS",
            _ => "PA",
        };
        let r = send_sms(
            s.owner(path)?,
            path,
            &format!("sec-big-{}-{path}", unix_now()),
            &format!("{keyword} {}", "a".repeat(3000)),
        )?;
        if r.status >= 500 || (r.status == 200 && r.json()?["reply"].as_str().is_none_or(|t| t.len() > 160)) {
            failures.push(format!("{path} 3000-char text: {} {}", r.status, String::from_utf8_lossy(&r.body)));
        }
    }
    ensure!(failures.is_empty(), "{} oversized values not refused cleanly:\n{}", failures.len(), failures.join("\n"));
    is_problem(&get(&s.food.addr, "/food-safety/establishments/SEC-BIG-0001")?, 404)?;
    Ok(())
}
