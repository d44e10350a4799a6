//! report-submission over HTTP, each check run against both runtimes. Checks file in places
//! of their own (their own coordinates), so that duplicates do not cross between them.

use serde_json::{Value, json};

use crate::harness::{
    Check, Resp, Server, Suite, bearer, bearer_with, get, is_problem, request, request_declaring, same, send_sms,
    unix_now,
};

pub const SUITE: Suite = Suite {
    base: "/reports",
    function: "report-submission",
    databases: &["reports"],
    seed: &[],
    checks: CHECKS,
    same_answers,
};

fn catalogue() -> Value {
    json!({
        "agencies": [
            {"code": "so-gtvt", "name": "Sở Giao thông vận tải"},
            {"code": "ubnd-hai-chau", "name": "UBND quận Hải Châu"},
            {"code": "moi-truong", "name": "Công ty Môi trường đô thị"},
            {"code": "dien-chieu-sang", "name": "Công ty Điện chiếu sáng"}
        ],
        "categories": [
            {"code": "road-damage", "name_vi": "Hư hỏng mặt đường", "name_en": "Road damage",
             "description_vi": "Ổ gà, sụt lún", "description_en": "Potholes, subsidence", "keywords": ["o ga"],
             "deadline_hours": 72, "routes": {"*": "so-gtvt", "Hải Châu": "ubnd-hai-chau"}},
            {"code": "rubbish", "name_vi": "Rác thải", "name_en": "Rubbish",
             "description_vi": "Rác thải không đúng nơi quy định", "description_en": "Dumped rubbish", "keywords": ["rac"],
             "deadline_hours": 24, "routes": {"*": "moi-truong"}},
            {"code": "street-light", "name_vi": "Đèn đường hỏng", "name_en": "Street light out",
             "description_vi": "Đèn chiếu sáng công cộng không sáng", "description_en": "A public light is out",
             "keywords": ["den"], "deadline_hours": 48, "routes": {"*": "dien-chieu-sang"},
             "attributes": [
                {"code": "pole", "datatype": "string", "required": true, "order": 1,
                 "description": "Số hiệu cột đèn (ghi trên cột)", "datatype_description": "VD: HC-0412"},
                {"code": "fault", "datatype": "multivaluelist", "required": true, "order": 2,
                 "description": "Đèn bị làm sao?",
                 "values": [{"key": "dark", "name": "Không sáng"}, {"key": "flicker", "name": "Chập chờn"},
                            {"key": "day", "name": "Sáng cả ban ngày"}]},
                {"code": "lamps", "datatype": "number", "order": 3, "description": "Bao nhiêu bóng hỏng?"},
                {"code": "safety", "datatype": "text", "variable": false, "order": 4,
                 "description": "Đừng chạm vào cột đèn hay dây điện bị hở."}
             ]}
        ]
    })
}

/// The categories, set by an admin (idempotent: every check may do it).
pub fn set_catalogue(s: &Server) -> Result<(), String> {
    let body = catalogue().to_string();
    let admin = bearer(&["admin"]);
    let r = request(
        &s.addr,
        "PUT",
        "/reports/categories",
        &[("authorization", &admin), ("content-type", "application/json")],
        body.as_bytes(),
    )?;
    ensure!(r.status == 200, "catalogue: {} {}", r.status, String::from_utf8_lossy(&r.body));
    Ok(())
}

fn file(s: &Server, body: &Value, headers: &[(&str, &str)]) -> Result<Resp, String> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    request(&s.addr, "POST", "/reports", &all, body.to_string().as_bytes())
}

fn filed(s: &Server, body: &Value, headers: &[(&str, &str)]) -> Result<Value, String> {
    let r = file(s, body, headers)?;
    ensure!(r.status == 201, "file: {} {}", r.status, String::from_utf8_lossy(&r.body));
    r.json()
}

fn pothole(lat: f64, lng: f64) -> Value {
    json!({"category": "road-damage", "description": "Ổ gà lớn giữa đường", "lat": lat, "lng": lng,
        "media_urls": ["https://cdn.example.vn/p/1.jpg"]})
}

fn a_report_is_routed_and_shown_without_personal_data(s: &Server) -> Result<(), String> {
    set_catalogue(s)?;
    let citizen = bearer_with(&json!({"phone": "0905123456"}));
    let mut body = pothole(16.0719, 108.2203);
    body["name"] = json!("Nguyễn Văn An");
    let v = filed(s, &body, &[("authorization", &citizen)])?;
    let code = v["code"].as_str().unwrap_or_default().to_owned();
    ensure!(code.starts_with("PA-") && code.len() == 14, "code {code}");
    ensure!(v["agency"] == json!({"code": "ubnd-hai-chau", "name": "UBND quận Hải Châu"}), "routed: {}", v["agency"]);
    ensure!(v["status"] == "received" && v["history"][0]["status"] == "received", "{v}");
    let public = get(&s.addr, &format!("/reports/{}", code.to_lowercase()))?.json()?;
    ensure!(public == v, "GET shows what POST answered: {public} / {v}");
    let text = public.to_string();
    ensure!(!text.contains("0905") && !text.contains("Nguyễn"), "personal data shown: {text}");
    let elsewhere = filed(s, &pothole(16.0800, 108.1405), &[("authorization", &citizen)])?;
    ensure!(elsewhere["agency"]["code"] == "so-gtvt", "default route: {}", elsewhere["agency"]);
    is_problem(&get(&s.addr, "/reports/PA-000101-9999")?, 404)?;
    Ok(())
}

fn anonymous_filing_needs_a_phone(s: &Server) -> Result<(), String> {
    set_catalogue(s)?;
    let body = json!({"category": "rubbish", "description": "Rác đổ trộm", "address": "Kiệt 5 Hà Huy Tập, Thanh Khê"});
    let v = is_problem(&file(s, &body, &[])?, 422)?;
    ensure!(v["errors"][0]["field"] == "phone", "{v}");
    let mut with_phone = body.clone();
    with_phone["phone"] = json!("0905 222 333");
    with_phone["description"] = json!("Rác đổ trộm\nđã ba ngày chưa dọn");
    let v = filed(s, &with_phone, &[])?;
    ensure!(v["agency"]["code"] == "moi-truong", "anonymous with a phone is filed: {v}");
    ensure!(v["description"] == "Rác đổ trộm\nđã ba ngày chưa dọn", "line breaks kept: {}", v["description"]);
    let bad = json!({"category": "road-damage", "description": "x", "lat": 21.03, "lng": 105.85,
        "media_urls": ["http://insecure.example/a.jpg"], "phone": "0905222333"});
    let v = is_problem(&file(s, &bad, &[])?, 422)?;
    let fields: Vec<&str> =
        v["errors"].as_array().map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect()).unwrap_or_default();
    ensure!(fields == ["lat", "media_urls[0]"], "{fields:?}");
    Ok(())
}

fn an_idempotency_key_files_once(s: &Server) -> Result<(), String> {
    set_catalogue(s)?;
    let citizen = bearer_with(&json!({"sub": "e2e-idempotent"}));
    let headers = [("authorization", citizen.as_str()), ("idempotency-key", "e2e-retry-1")];
    let first = filed(s, &pothole(16.0400, 108.2450), &headers)?;
    let again = file(s, &pothole(16.0400, 108.2450), &headers)?;
    ensure!(again.status == 201 && again.json()? == first, "a retry answers the first report");
    ensure!(
        again.header("idempotent-replayed") == Some("true"),
        "replay header {:?}",
        again.header("idempotent-replayed")
    );
    Ok(())
}

fn a_report_within_50_m_is_a_duplicate(s: &Server) -> Result<(), String> {
    set_catalogue(s)?;
    let citizen = bearer(&["citizen"]);
    let auth = [("authorization", citizen.as_str())];
    let first = filed(s, &pothole(16.0300, 108.2000), &auth)?;
    let near = filed(s, &pothole(16.0303, 108.2000), &auth)?;
    ensure!(
        near["duplicate_of"] == first["code"],
        "33 m: duplicate of {}, got {}",
        first["code"],
        near["duplicate_of"]
    );
    let far = filed(s, &pothole(16.0308, 108.2000), &auth)?;
    ensure!(far["duplicate_of"].is_null(), "89 m: not a duplicate, got {}", far["duplicate_of"]);
    Ok(())
}

fn only_an_officer_of_its_agency_moves_it(s: &Server) -> Result<(), String> {
    set_catalogue(s)?;
    let reporter = bearer_with(&json!({"sub": "e2e-reporter"}));
    let v = filed(s, &pothole(16.0500, 108.2180), &[("authorization", &reporter)])?;
    let path = format!("/reports/{}", v["code"].as_str().unwrap_or_default());
    let officer = |agency: &str| bearer_with(&json!({"roles": ["officer"], "agency": agency}));
    let patch = |auth: &str, body: Value| -> Result<Resp, String> {
        request(
            &s.addr,
            "PATCH",
            &path,
            &[("authorization", auth), ("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
    };
    is_problem(&patch(&officer("so-gtvt"), json!({"status": "in_progress"}))?, 403)?;
    is_problem(&patch(&reporter, json!({"status": "in_progress"}))?, 403)?;
    let r = patch(&officer("ubnd-hai-chau"), json!({"status": "in_progress", "note": "Đã tiếp nhận"}))?;
    ensure!(
        r.status == 200 && r.json()?["status"] == "in_progress",
        "{} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    let r = patch(&officer("ubnd-hai-chau"), json!({"status": "resolved", "note": "Đã xử lý"}))?;
    let history = r.json()?["history"].as_array().map(Vec::len);
    ensure!(r.status == 200 && history == Some(3), "resolved with its history: {}", String::from_utf8_lossy(&r.body));
    is_problem(&patch(&officer("ubnd-hai-chau"), json!({"status": "in_progress"}))?, 409)?;
    let rate = |auth: &str| {
        request(
            &s.addr,
            "POST",
            &format!("{path}/rating"),
            &[("authorization", auth), ("content-type", "application/json")],
            br#"{"stars": 4}"#,
        )
    };
    ensure!(rate(&reporter)?.status == 200, "the reporter rates it");
    is_problem(&rate(&reporter)?, 409)?;
    Ok(())
}

fn lists_and_stats(s: &Server) -> Result<(), String> {
    set_catalogue(s)?;
    let citizen = bearer(&["citizen"]);
    for lat in [16.0100, 16.0110, 16.0120] {
        let body = json!({"category": "rubbish", "description": "Rác", "lat": lat, "lng": 108.1500});
        filed(s, &body, &[("authorization", &citizen)])?;
    }
    let list = get(&s.addr, "/reports?bbox=108.149,16.009,108.151,16.013&category=rubbish")?.json()?;
    ensure!(list["total"] == 3 && list["reports"].as_array().map(Vec::len) == Some(3), "bbox list: {list}");
    let stats = get(&s.addr, "/reports/stats")?.json()?;
    let waste =
        stats["agencies"].as_array().and_then(|a| a.iter().find(|a| a["agency"]["code"] == "moi-truong").cloned());
    ensure!(waste.is_some_and(|w| w["received"].as_i64() >= Some(3)), "stats: {stats}");
    Ok(())
}

fn sms_files_and_answers_status(s: &Server) -> Result<(), String> {
    set_catalogue(s)?;
    let id = format!("e2e-pa-{}", unix_now());
    let reply = |id: &str, text: &str| -> Result<String, String> {
        let r = send_sms(s, "/reports/sms", id, text)?;
        ensure!(r.status == 200, "sms: {} {}", r.status, String::from_utf8_lossy(&r.body));
        Ok(r.json()?["reply"].as_str().unwrap_or_default().to_owned())
    };
    let filed = reply(&id, "PA Rác đổ trộm cuối kiệt 30 Lê Duẩn, Hải Châu")?;
    ensure!(filed.starts_with("Da nhan phan anh PA-") && filed.contains("Cong ty Moi truong do thi"), "{filed}");
    ensure!(reply(&id, "PA Rác đổ trộm cuối kiệt 30 Lê Duẩn, Hải Châu")? == filed, "a redelivery gets the same reply");
    let code = filed.split_whitespace().nth(4).unwrap_or_default().trim_end_matches(',').to_owned();
    let status = reply(&format!("{id}-tt"), &format!("TT {code}"))?;
    ensure!(status.starts_with(&format!("Phan anh {code}: Da tiep nhan")), "{status}");
    ensure!(status.len() <= 160 && status.is_ascii(), "one ASCII SMS: {status}");
    Ok(())
}

fn only_admins_set_categories(s: &Server) -> Result<(), String> {
    set_catalogue(s)?;
    let body = catalogue().to_string();
    let citizen = bearer(&["citizen"]);
    is_problem(&request(&s.addr, "PUT", "/reports/categories", &[("authorization", &citizen)], body.as_bytes())?, 403)?;
    let list = get(&s.addr, "/reports/categories")?.json()?;
    ensure!(list.as_array().is_some_and(|l| l.len() >= 2), "categories {list}");
    // refused from the declared length, before the body is read
    is_problem(
        &request_declaring(&s.addr, "POST", "/reports", 1 << 20, &[("content-type", "application/json")])?,
        413,
    )?;
    // read, then refused by the route's own cap (64 KiB)
    let big = vec![b' '; 100 * 1024];
    is_problem(&request(&s.addr, "POST", "/reports", &[("content-type", "application/json")], &big)?, 413)?;
    Ok(())
}

const CHECKS: &[(&str, Check)] = &[
    ("a_report_is_routed_and_shown_without_personal_data", a_report_is_routed_and_shown_without_personal_data),
    ("anonymous_filing_needs_a_phone", anonymous_filing_needs_a_phone),
    ("an_idempotency_key_files_once", an_idempotency_key_files_once),
    ("a_report_within_50_m_is_a_duplicate", a_report_within_50_m_is_a_duplicate),
    ("only_an_officer_of_its_agency_moves_it", only_an_officer_of_its_agency_moves_it),
    ("lists_and_stats", lists_and_stats),
    ("open311_round_trip", crate::open311::round_trip),
    ("open311_fixmystreet_exchange_in_xml", crate::open311::fixmystreet_exchange),
    ("open311_json_and_xml_agree", crate::open311::json_and_xml_agree),
    ("sms_files_and_answers_status", sms_files_and_answers_status),
    ("only_admins_set_categories", only_admins_set_categories),
];

/// The same requests give the same answers on both runtimes (a filed report's code and times
/// depend on the runtime's other traffic and clock, so those are left out).
fn same_answers(spin: &Server, workers: &Server) -> Result<(), String> {
    set_catalogue(spin)?;
    set_catalogue(workers)?;
    for path in ["/reports/categories", "/reports/PA-000101-9999"] {
        same(path, &get(&spin.addr, path)?, &get(&workers.addr, path)?)?;
    }
    let bad = json!({"category": "nope", "description": "", "phone": "1"});
    same("bad filing", &file(spin, &bad, &[])?, &file(workers, &bad, &[])?)?;
    let body =
        json!({"category": "rubbish", "description": "Rác", "lat": 16.0600, "lng": 108.1200, "phone": "0905333444"});
    let strip = |mut v: Value| {
        for k in ["code", "created_at", "due_at", "history"] {
            v.as_object_mut().map(|o| o.remove(k));
        }
        v
    };
    let (a, b) = (strip(filed(spin, &body, &[])?), strip(filed(workers, &body, &[])?));
    ensure!(a == b, "filed: spin {a} / workers {b}");
    Ok(())
}
