//! food-safety over HTTP, each check run against both runtimes.

use serde_json::{Value, json};

use crate::harness::{
    Check, Resp, SMS_SECRET, Server, Suite, bearer, get, is_problem, request, request_declaring, same, send_sms,
    send_sms_from, sign, token,
};

pub const SUITE: Suite = Suite {
    base: "/food-safety",
    function: "food-safety",
    databases: &["food"],
    seed: &[],
    checks: CHECKS,
    same_answers,
};

pub const FIXTURE: &str = include_str!("../data/establishments.json");

fn import(s: &Server, body: &str) -> Result<Resp, String> {
    let auth = bearer(&["admin"]);
    request(
        &s.addr,
        "PUT",
        "/food-safety/establishments",
        &[("authorization", &auth), ("content-type", "application/json")],
        body.as_bytes(),
    )
}

pub fn load_fixture(s: &Server) -> Result<(), String> {
    imported("import", &import(s, FIXTURE)?, 5)
}

/// An import answered 200 with the number of places it imported.
fn imported(what: &str, r: &Resp, places: u64) -> Result<(), String> {
    ensure!(
        r.status == 200 && r.json()? == json!({"imported": places}),
        "{what}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    Ok(())
}

/// An `ATTP` message through the gateway's webhook.
pub fn sms(s: &Server, id: &str, text: &str) -> Result<Resp, String> {
    send_sms(s, "/food-safety/sms", id, text)
}

fn unknown_routes_are_404_and_wrong_methods_405(s: &Server) -> Result<(), String> {
    is_problem(&get(&s.addr, "/food-safety/nope")?, 404)?;
    is_problem(&request(&s.addr, "DELETE", "/food-safety/establishments", &[], b"")?, 405)?;
    Ok(())
}

fn import_needs_an_admin_token(s: &Server) -> Result<(), String> {
    let path = "/food-safety/establishments";
    let body = FIXTURE.as_bytes();
    is_problem(&request(&s.addr, "PUT", path, &[], body)?, 401)?;
    let citizen = bearer(&["citizen"]);
    is_problem(&request(&s.addr, "PUT", path, &[("authorization", &citizen)], body)?, 403)?;
    let expired = format!("Bearer {}", token(&["admin"], -3600));
    is_problem(&request(&s.addr, "PUT", path, &[("authorization", &expired)], body)?, 401)?;
    let forged = {
        let t = token(&["admin"], 600);
        let (head_payload, _) = t.rsplit_once('.').unwrap_or((&t, ""));
        format!("Bearer {head_payload}.AAAA")
    };
    is_problem(&request(&s.addr, "PUT", path, &[("authorization", &forged)], body)?, 401)?;
    Ok(())
}

fn search_is_diacritic_and_case_insensitive(s: &Server) -> Result<(), String> {
    load_fixture(s)?;
    for q in ["pho%20ba%20hoa", "PHO%20BA%20HOA", "Ph%E1%BB%9F%20B%C3%A0%20Hoa", "phở+bà+hoa"] {
        let r = get(&s.addr, &format!("/food-safety/establishments?q={q}"))?;
        ensure!(r.status == 200, "q={q}: {}", r.status);
        let v = r.json()?;
        ensure!(v["total"] == 2, "q={q}: total {}", v["total"]);
        let first = &v["results"][0];
        ensure!(first["id"] == "DN-000123" && first["name"] == "Phở Bà Hoa", "q={q}: best match first: {v}");
        ensure!(first["certificate_status"] == "valid" && first["violations"] == 1, "q={q}: {first}");
        ensure!(first["certificate"]["number"] == "123/2024/ATTP-CNĐK", "{first}");
        ensure!(v["results"][1]["certificate_status"] == "expired", "{v}");
    }
    let r = get(&s.addr, "/food-safety/establishments?q=pho%20ba%20hoa&district=son%20tra")?.json()?;
    ensure!(r["total"] == 1 && r["results"][0]["id"] == "E2E-0002", "district filter: {r}");
    let r = get(&s.addr, "/food-safety/establishments?q=bun%20cha%20ca")?.json()?;
    ensure!(r["results"][0]["certificate_status"] == "none" && r["results"][0]["certificate"].is_null(), "{r}");
    ensure!(r["results"][0]["violations"] == 2, "{r}");
    let r =
        get(&s.addr, "/food-safety/establishments?district=Qu%E1%BA%ADn%20H%E1%BA%A3i%20Ch%C3%A2u&limit=2")?.json()?;
    ensure!(r["total"] == 3 && r["results"].as_array().map(Vec::len) == Some(2), "district only, limit 2: {r}");
    let r = get(&s.addr, "/food-safety/establishments?q=zzzz")?.json()?;
    ensure!(r == json!({"results": [], "total": 0}), "no match: {r}");
    let v = is_problem(&get(&s.addr, "/food-safety/establishments?limit=0")?, 422)?;
    ensure!(v["errors"][0]["field"] == "limit", "{v}");
    Ok(())
}

fn import_is_idempotent(s: &Server) -> Result<(), String> {
    load_fixture(s)?;
    let before = get(&s.addr, "/food-safety/establishments/DN-000123")?;
    load_fixture(s)?;
    let after = get(&s.addr, "/food-safety/establishments/DN-000123")?;
    ensure!(
        // status and body: headers such as Date may differ between two requests
        before.status == 200 && (before.status, &before.body) == (after.status, &after.body),
        "a second import changed the record:\n{} {}\n{} {}",
        before.status,
        String::from_utf8_lossy(&before.body),
        after.status,
        String::from_utf8_lossy(&after.body)
    );
    let v = after.json()?;
    ensure!(v["violations"].as_array().map(Vec::len) == Some(1), "violations kept once: {v}");
    Ok(())
}

fn malformed_batch_names_index_and_field_and_stores_nothing(s: &Server) -> Result<(), String> {
    let mut items: Vec<Value> = serde_json::from_str(FIXTURE).map_err(|e| e.to_string())?;
    for (i, item) in items.iter_mut().enumerate() {
        item["id"] = json!(format!("BAD-{i}"));
    }
    items[3]["certificate"]["expires"] = json!("2027-13-45");
    items[4]["kind"] = json!(42);
    let r = import(s, &Value::Array(items).to_string())?;
    let v = is_problem(&r, 422)?;
    let fields: Vec<&str> =
        v["errors"].as_array().map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect()).unwrap_or_default();
    ensure!(fields == ["[3].certificate.expires", "[4].kind"], "fields {fields:?}");
    is_problem(&get(&s.addr, "/food-safety/establishments/BAD-0")?, 404)?;
    let r = import(s, "[{\"id\": ")?;
    is_problem(&r, 400)?;
    Ok(())
}

fn a_bulk_import_of_ten_thousand_is_one_request(s: &Server) -> Result<(), String> {
    let base: Vec<Value> = serde_json::from_str(FIXTURE).map_err(|e| e.to_string())?;
    let items: Vec<Value> = (0..10_000)
        .map(|i| {
            let mut item = base[i % base.len()].clone();
            item["id"] = json!(format!("BULK-{i:05}"));
            item["name"] = json!(format!("Quán Thử Nghiệm Số {i}"));
            // a district of their own, so checks running alongside see none of these
            item["district"] = json!("Huyện Thử Nghiệm");
            item
        })
        .collect();
    imported("bulk import", &import(s, &Value::Array(items).to_string())?, 10_000)?;
    let v = get(&s.addr, "/food-safety/establishments?q=quan%20thu%20nghiem%20so%209999")?.json()?;
    ensure!(v["results"][0]["id"] == "BULK-09999", "{v}");
    let v = get(&s.addr, "/food-safety/establishments?district=thu%20nghiem&limit=1")?.json()?;
    ensure!(v["total"] == 10000, "total {}", v["total"]);
    // open data: every record, page by page, by id
    let p = get(&s.addr, "/food-safety/establishments?district=thu%20nghiem&page=3&page_size=500")?.json()?;
    let ids: Vec<&str> =
        p["results"].as_array().map(|l| l.iter().filter_map(|r| r["id"].as_str()).collect()).unwrap_or_default();
    ensure!(p["total"] == 10000 && p["page"] == 3 && ids.len() == 500, "page 3: {} results", ids.len());
    ensure!(
        ids.first() == Some(&"BULK-01000") && ids.last() == Some(&"BULK-01499"),
        "by id: {:?}..{:?}",
        ids.first(),
        ids.last()
    );
    is_problem(&get(&s.addr, "/food-safety/establishments?page_size=501")?, 422)?;
    let v = get(&s.addr, "/food-safety/establishments/BULK-00002")?.json()?;
    ensure!(v["violations"].as_array().map(Vec::len) == Some(2), "violations of a bulk item: {v}");
    Ok(())
}

fn full_record_and_localised_404(s: &Server) -> Result<(), String> {
    load_fixture(s)?;
    let v = get(&s.addr, "/food-safety/establishments/DN-000123")?.json()?;
    ensure!(v["name"] == "Phở Bà Hoa" && v["province"] == "Đà Nẵng" && v["kind"] == "restaurant", "{v}");
    ensure!(v["certificate_status"] == "valid" && v["lat"] == 16.0719, "{v}");
    ensure!(
        v["violations"][0]
            == json!({"date": "2025-06-01", "description": "Không có sổ kiểm thực ba bước", "penalty_vnd": 5_000_000}),
        "{v}"
    );
    let vi = is_problem(&get(&s.addr, "/food-safety/establishments/NOPE-1")?, 404)?;
    ensure!(vi["title"] == "Không tìm thấy", "{vi}");
    let en =
        request(&s.addr, "GET", "/food-safety/establishments/NOPE-1", &[("accept-language", "en-US,en;q=0.9")], b"")?;
    let en = is_problem(&en, 404)?;
    ensure!(en["title"] == "Not found", "{en}");
    Ok(())
}

fn sms_answers_in_one_ascii_sms(s: &Server) -> Result<(), String> {
    load_fixture(s)?;
    let one = |id: &str, text: &str| -> Result<String, String> {
        let r = sms(s, id, text)?;
        ensure!(r.status == 200, "sms {text:?}: {} {}", r.status, String::from_utf8_lossy(&r.body));
        let reply = r.json()?["reply"].as_str().unwrap_or_default().to_owned();
        ensure!(!reply.is_empty() && reply.len() <= 160, "{} chars: {reply}", reply.len());
        ensure!(reply.chars().all(|c| (' '..='~').contains(&c)), "not printable ASCII: {reply}");
        Ok(reply)
    };
    let reply = one("e2e-sms-1", "ATTP pho ba hoa, hai chau")?;
    ensure!(
        reply.contains("Pho Ba Hoa") && reply.contains("123/2024/ATTP-CNDK") && reply.contains("01/03/2099"),
        "{reply}"
    );
    ensure!(reply.contains("con hieu luc") && reply.contains("Vi pham: 1"), "{reply}");
    let reply = one("e2e-sms-2", "attp bún chả cá")?;
    ensure!(
        reply.contains("Bun cha ca Ba Lu") && reply.contains("CHUA CO GCN") && reply.contains("Vi pham: 2"),
        "{reply}"
    );
    let reply = one("e2e-sms-3", "ATTP pho ba hoa")?;
    ensure!(reply.starts_with("Pho Ba Hoa, 12 Tran Phu"), "exact name wins: {reply}");
    let reply = one("e2e-sms-4", "ATTP ba")?;
    ensure!(reply.contains("co so khop") && reply.contains("1)"), "several matches are listed: {reply}");
    let help = one("e2e-sms-5", "xin chao")?;
    ensure!(help.contains("ATTP") && help.contains("8188"), "{help}");
    let again = one("e2e-sms-1", "ATTP pho ba hoa, hai chau")?;
    ensure!(again.contains("Pho Ba Hoa"), "redelivery gets the stored reply: {again}");
    Ok(())
}

fn sms_refuses_a_bad_signature(s: &Server) -> Result<(), String> {
    let body = json!({"id": "e2e-forged", "from": "84905123456", "to": "8188", "text": "ATTP pho"}).to_string();
    let wrong = sign("not-the-secret", body.as_bytes());
    let r = request(&s.addr, "POST", "/food-safety/sms", &[("x-signature", &wrong)], body.as_bytes())?;
    let v = is_problem(&r, 401)?;
    ensure!(v["type"] == "/problems/bad-signature", "{v}");
    let r = request(&s.addr, "POST", "/food-safety/sms", &[], body.as_bytes())?;
    is_problem(&r, 401)?;
    let sig = sign(SMS_SECRET, body.as_bytes());
    let tampered = body.replace("pho", "bun");
    let r = request(&s.addr, "POST", "/food-safety/sms", &[("x-signature", &sig)], tampered.as_bytes())?;
    is_problem(&r, 401)?;
    // Gateways send all sorts of Content-Type; a signed body is read as JSON regardless.
    let form = [("x-signature", sig.as_str()), ("content-type", "application/x-www-form-urlencoded")];
    let r = request(&s.addr, "POST", "/food-safety/sms", &form, body.as_bytes())?;
    ensure!(r.status == 200 && r.json()?["reply"].is_string(), "signed body, form content type: {}", r.status);
    Ok(())
}

fn bodies_are_capped(s: &Server) -> Result<(), String> {
    let auth = bearer(&["admin"]);
    let declared = 16 * 1024 * 1024 + 16;
    let r = request_declaring(&s.addr, "PUT", "/food-safety/establishments", declared, &[("authorization", &auth)])?;
    is_problem(&r, 413)?;
    let sms_big = vec![b' '; 5000];
    let sig = sign(SMS_SECRET, &sms_big);
    let r = request(&s.addr, "POST", "/food-safety/sms", &[("x-signature", &sig)], &sms_big)?;
    is_problem(&r, 413)?;
    Ok(())
}

/// Several matches: a numbered list of 3; `ATTP 2` from the same phone, within 10 minutes,
/// answers the second. Another phone has no list to pick from.
fn sms_picks_from_the_last_list(s: &Server) -> Result<(), String> {
    load_fixture(s)?;
    let stamp = crate::harness::unix_now();
    let reply = |from: &str, n: u32, text: &str| -> Result<String, String> {
        let r = send_sms_from(s, "/food-safety/sms", &format!("pick-{stamp}-{from}-{n}"), from, text)?;
        ensure!(r.status == 200, "sms: {} {}", r.status, String::from_utf8_lossy(&r.body));
        Ok(r.json()?["reply"].as_str().unwrap_or_default().to_owned())
    };
    let list = reply("84911000001", 1, "ATTP ba")?;
    ensure!(list.contains(" 1) ") && list.contains(" 2) ") && !list.contains(" 4) "), "a list of at most 3: {list}");
    // The second entry's name: up to its street (`, `) or its certificate (`: `).
    let second = list.split(" 2) ").nth(1).and_then(|r| r.split([',', ':']).next()).unwrap_or_default().to_owned();
    let picked = reply("84911000001", 2, "ATTP 2")?;
    ensure!(!second.is_empty() && picked.starts_with(&second), "ATTP 2 answers {second:?}: {picked}");
    let stranger = reply("84911000002", 1, "ATTP 2")?;
    ensure!(stranger.starts_with("Khong co danh sach gan day"), "another phone: {stranger}");
    Ok(())
}

fn an_admin_removes_a_closed_place(s: &Server) -> Result<(), String> {
    let fixture: Value = serde_json::from_str(FIXTURE).map_err(|e| e.to_string())?;
    let mut place = fixture[0].clone();
    place["id"] = json!("CLOSED-0001");
    let r = import(s, &json!([place]).to_string())?;
    ensure!(r.status == 200, "import: {} {}", r.status, String::from_utf8_lossy(&r.body));
    let path = "/food-safety/establishments/CLOSED-0001";
    is_problem(&request(&s.addr, "DELETE", path, &[("authorization", &bearer(&["citizen"]))], b"")?, 403)?;
    let r = request(&s.addr, "DELETE", path, &[("authorization", &bearer(&["admin"]))], b"")?;
    ensure!(r.status == 204 && r.body.is_empty(), "delete: {} {}", r.status, String::from_utf8_lossy(&r.body));
    is_problem(&get(&s.addr, path)?, 404)?;
    is_problem(&request(&s.addr, "DELETE", path, &[("authorization", &bearer(&["admin"]))], b"")?, 404)?;
    Ok(())
}

fn put_as(s: &Server, path: &str, content_type: &str, body: &str) -> Result<Resp, String> {
    let auth = bearer(&["admin"]);
    request(&s.addr, "PUT", path, &[("authorization", &auth), ("content-type", content_type)], body.as_bytes())
}

/// Places with names of their own (no other check imports them), for the search checks.
const LANDMARKS: &str = r#"[
  {"id": "SQ-0001", "name": "Mì Quảng Ếch Bếp Trang", "address": "24 Lê Duẩn", "ward": "Khuê Trung", "district": "Cẩm Lệ", "province": "Đà Nẵng", "kind": "restaurant"},
  {"id": "SQ-0002", "name": "Bê thui Cầu Mống", "address": "90 Hoàng Diệu", "ward": "Hòa Thọ Đông", "district": "Cẩm Lệ", "province": "Đà Nẵng", "kind": "restaurant"},
  {"id": "SQ-0003", "name": "Cơm gà A Hải", "address": "100 Thái Phiên", "ward": "Hòa Thọ Đông", "district": "Cẩm Lệ", "province": "Đà Nẵng", "kind": "eatery"},
  {"id": "SQ-0004", "name": "Cơm gà A Hải", "address": "7 Điện Biên Phủ", "ward": "Hòa Minh", "district": "Liên Chiểu", "province": "Đà Nẵng", "kind": "eatery"},
  {"id": "SQ-0005", "name": "Nhà hàng Madame Lân", "address": "4 Bạch Đằng", "ward": "Hòa An", "district": "Cẩm Lệ", "province": "Đà Nẵng", "kind": "restaurant"},
  {"id": "SQ-0006", "name": "Cà phê Trung Nguyên Legend", "address": "138 Bạch Đằng", "ward": "Khuê Trung", "district": "Cẩm Lệ", "province": "Đà Nẵng", "kind": "cafe"}
]"#;

fn search_finds_what_citizens_type(s: &Server) -> Result<(), String> {
    let r = import(s, LANDMARKS)?;
    ensure!(r.status == 200, "import: {} {}", r.status, String::from_utf8_lossy(&r.body));
    let cases: &[(&str, Option<&str>)] = &[
        ("mi quang ech bep trag", Some("SQ-0001")),
        ("ech bep trang mi quang", Some("SQ-0001")),
        ("be thiu cau mong", Some("SQ-0002")),
        ("com ga a hai q. cam le", Some("SQ-0003")),
        ("com ga a hai lien chieu", Some("SQ-0004")),
        ("nh madame lan", Some("SQ-0005")),
        ("cf trung nguyen legend", Some("SQ-0006")),
        ("Cà Phê Trung Nguyên", Some("SQ-0006")),
        ("sushi tokyo", None),
        ("madame tokyo", None),
    ];
    for (q, want) in cases {
        let path = format!("/food-safety/establishments?q={}", q.replace(' ', "%20").replace('.', "%2E"));
        let v = get(&s.addr, &path)?.json()?;
        let first = v["results"][0]["id"].as_str();
        ensure!(first == *want, "{q:?}: want {want:?} first, got {v}");
    }
    Ok(())
}

const CSV_PLACES: &str = "\u{feff}id,name,address,ward,district,province,kind,lat,lng,certificate.number,certificate.issued,certificate.expires,certificate.authority\r\n\
CSV-0001,Bánh xèo Bà Dưỡng Kiệt 280,K280/23 Hoàng Diệu,Mỹ An,Ngũ Hành Sơn,Đà Nẵng,street_food,16.0592,108.2155,77/2025/ATTP-CNĐK,2025-01-15,2099-01-15,Ban Quản lý ATTP Đà Nẵng\r\n\
CSV-0002,\"Hải sản \"\"Năm Đảnh\"\", Thọ Quang\",139 Trần Quang Khải,Thọ Quang,Sơn Trà,Đà Nẵng,restaurant,,,,,,\r\n";

fn csv_imports_and_violations_upload(s: &Server) -> Result<(), String> {
    imported("csv", &put_as(s, "/food-safety/establishments", "text/csv; charset=utf-8", CSV_PLACES)?, 2)?;
    let e = get(&s.addr, "/food-safety/establishments/CSV-0002")?.json()?;
    ensure!(e["name"] == "Hải sản \"Năm Đảnh\", Thọ Quang" && e["certificate"].is_null(), "{e}");
    let violations = "establishment_id,date,description,penalty_vnd\n\
CSV-0001,2025-06-01,Không có sổ kiểm thực ba bước,5000000\n\
CSV-0002,2024-01-10,\"Không lưu mẫu thức ăn, 72 giờ\",0\n\
CSV-0001,2026-02-03,Dụng cụ chứa đựng không đảm bảo vệ sinh,1500000\n";
    let r = put_as(s, "/food-safety/violations", "text/csv", violations)?;
    ensure!(
        r.json()? == json!({"establishments": 2, "violations": 3}),
        "violations: {}",
        String::from_utf8_lossy(&r.body)
    );
    // a CSV re-import (renamed) keeps the violations and their count
    let renamed = CSV_PLACES.replace("Kiệt 280", "Kiệt 280 Hoàng Diệu");
    let r = put_as(s, "/food-safety/establishments", "text/csv", &renamed)?;
    ensure!(r.status == 200, "re-import: {}", String::from_utf8_lossy(&r.body));
    let e = get(&s.addr, "/food-safety/establishments/CSV-0001")?.json()?;
    let dates: Vec<&str> =
        e["violations"].as_array().map(|l| l.iter().filter_map(|v| v["date"].as_str()).collect()).unwrap_or_default();
    ensure!(e["name"] == "Bánh xèo Bà Dưỡng Kiệt 280 Hoàng Diệu" && dates == ["2026-02-03", "2025-06-01"], "{e}");
    let hit = get(&s.addr, "/food-safety/establishments?q=banh%20xeo%20ba%20duong%20kiet%20280")?.json()?;
    ensure!(hit["results"][0]["id"] == "CSV-0001" && hit["results"][0]["violations"] == 2, "{hit}");
    // errors name the line; nothing is stored
    let bad = "establishment_id,date,description,penalty_vnd\nCSV-0001,2025-13-01,x,5\nNOPE-1,2025-01-01,y,5\n";
    let v = is_problem(&put_as(s, "/food-safety/violations", "text/csv", bad)?, 422)?;
    ensure!(v["errors"][0]["field"] == "line 2.date", "{v}");
    let v = is_problem(&put_as(s, "/food-safety/establishments", "text/csv", "id,name,colour\nX,Y,red\n")?, 422)?;
    ensure!(v["errors"][0]["field"] == "line 1.colour", "{v}");
    let e = get(&s.addr, "/food-safety/establishments/CSV-0001")?.json()?;
    ensure!(e["violations"].as_array().map(Vec::len) == Some(2), "unchanged: {e}");
    // a header alone stores nothing and says so
    let r = put_as(s, "/food-safety/violations", "text/csv", "establishment_id,date,description,penalty_vnd\n")?;
    ensure!(r.json()? == json!({"establishments": 0, "violations": 0}), "empty: {}", String::from_utf8_lossy(&r.body));
    // the same places from a Vietnamese Excel (`;`, decimal commas, certificate_number), and
    // violations as JSON
    let excel = CSV_PLACES
        .replace(',', ";")
        .replace("16.0592", "16,0592")
        .replace("108.2155", "108,2155")
        .replace("certificate.", "certificate_")
        .replace("\"\"Năm Đảnh\"\"; Thọ Quang", "\"\"Năm Đảnh\"\", Thọ Quang");
    let r = put_as(s, "/food-safety/establishments", "text/csv", &excel)?;
    ensure!(r.status == 200, "excel: {}", String::from_utf8_lossy(&r.body));
    let e = get(&s.addr, "/food-safety/establishments/CSV-0001")?.json()?;
    ensure!(e["lat"] == 16.0592 && e["certificate"]["number"] == "77/2025/ATTP-CNĐK", "{e}");
    let body = json!([{"establishment_id": "CSV-0002", "date": "2026-01-05", "description": "Tái phạm", "penalty_vnd": 3_000_000}]);
    let r = put_as(s, "/food-safety/violations", "application/json", &body.to_string())?;
    ensure!(r.json()? == json!({"establishments": 1, "violations": 1}), "json: {}", String::from_utf8_lossy(&r.body));
    let e = get(&s.addr, "/food-safety/establishments/CSV-0002")?.json()?;
    ensure!(
        e["violations"][0]["description"] == "Tái phạm" && e["violations"].as_array().map(Vec::len) == Some(1),
        "{e}"
    );
    Ok(())
}

pub const CHECKS: &[(&str, Check)] = &[
    ("search_finds_what_citizens_type", search_finds_what_citizens_type),
    ("csv_imports_and_violations_upload", csv_imports_and_violations_upload),
    ("unknown_routes_are_404_and_wrong_methods_405", unknown_routes_are_404_and_wrong_methods_405),
    ("import_needs_an_admin_token", import_needs_an_admin_token),
    ("search_is_diacritic_and_case_insensitive", search_is_diacritic_and_case_insensitive),
    ("import_is_idempotent", import_is_idempotent),
    (
        "malformed_batch_names_index_and_field_and_stores_nothing",
        malformed_batch_names_index_and_field_and_stores_nothing,
    ),
    ("a_bulk_import_of_ten_thousand_is_one_request", a_bulk_import_of_ten_thousand_is_one_request),
    ("full_record_and_localised_404", full_record_and_localised_404),
    ("sms_answers_in_one_ascii_sms", sms_answers_in_one_ascii_sms),
    ("sms_refuses_a_bad_signature", sms_refuses_a_bad_signature),
    ("bodies_are_capped", bodies_are_capped),
    ("an_admin_removes_a_closed_place", an_admin_removes_a_closed_place),
    ("sms_picks_from_the_last_list", sms_picks_from_the_last_list),
];

/// The same requests to both runtimes give the same status and body.
pub fn same_answers(spin: &Server, workers: &Server) -> Result<(), String> {
    load_fixture(spin)?;
    load_fixture(workers)?;
    let gets = [
        "/food-safety/establishments?q=pho%20ba%20hoa",
        "/food-safety/establishments?district=hai%20chau&limit=3",
        "/food-safety/establishments/DN-000123",
        "/food-safety/establishments/E2E-0003",
        "/food-safety/establishments/none",
        "/food-safety/establishments?limit=x",
    ];
    for path in gets {
        same(path, &get(&spin.addr, path)?, &get(&workers.addr, path)?)?;
    }
    for (i, text) in ["ATTP pho ba hoa", "ATTP ba", "ATTP nothing here", "hello"].iter().enumerate() {
        let id = format!("parity-{i}");
        same(&format!("sms {text:?}"), &sms(spin, &id, text)?, &sms(workers, &id, text)?)?;
    }
    Ok(())
}
