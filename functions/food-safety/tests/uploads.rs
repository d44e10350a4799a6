//! The registry's uploads through `handle`, natively: establishments as JSON or CSV, and
//! violations as their own CSV (or JSON) keyed by establishment id. The end-to-end suite sends
//! the same uploads over HTTP on both runtimes.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use bytes::Bytes;
use civic::Platform;
use civic::platform::native::{NativePlatform, block_on};
use http::{Request, StatusCode};
use serde_json::{Value, json};

fn env() -> NativePlatform {
    civic::testing::route_env(&["food"])
}

/// An upload by an admin.
fn put(env: &NativePlatform, path: &str, content_type: &str, body: &str) -> (StatusCode, Value) {
    let admin = civic::testing::token(env, &json!({"roles": ["admin"]}));
    let headers = [("content-type", content_type), ("authorization", admin.as_str())];
    civic::testing::call(|r| food_safety::handle(r, env), "PUT", path, &headers, body.to_owned())
}

/// An anonymous GET's JSON body.
fn get(env: &NativePlatform, path: &str) -> Value {
    civic::testing::call(|r| food_safety::handle(r, env), "GET", path, &[], "").1
}

fn fields(v: &Value) -> Vec<&str> {
    v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect()
}

const CSV: &str = "\u{feff}id,name,address,ward,district,province,kind,lat,lng,certificate.number,certificate.issued,certificate.expires,certificate.authority\r\n\
DN-000123,Phở Bà Hoa,12 Trần Phú,Thạch Thang,Hải Châu,Đà Nẵng,restaurant,16.0719,108.2203,123/2024/ATTP-CNĐK,2024-03-01,2027-03-01,Ban Quản lý ATTP Đà Nẵng\r\n\
DN-000124,\"Bún chả cá \"\"Bà Lữ\"\", chi nhánh 2\",319 Hùng Vương,Vĩnh Trung,Thanh Khê,Đà Nẵng,street_food,,,,,,\r\n";

#[test]
fn csv_establishments_import_like_json() {
    let env = env();
    let (status, v) = put(&env, "/food-safety/establishments", "text/csv; charset=utf-8", CSV);
    assert_eq!((status, v), (StatusCode::OK, json!({"imported": 2})));
    let e = get(&env, "/food-safety/establishments/DN-000124");
    assert_eq!(e["name"], "Bún chả cá \"Bà Lữ\", chi nhánh 2");
    assert_eq!((e["certificate"].clone(), e["lat"].clone()), (Value::Null, Value::Null));
    let e = get(&env, "/food-safety/establishments/DN-000123");
    assert_eq!(e["certificate"]["expires"], "2027-03-01");
    assert_eq!(e["lat"], 16.0719);
    let found = get(&env, "/food-safety/establishments?q=bun%20cha%20ca%20ba%20lu");
    assert_eq!(found["results"][0]["id"], "DN-000124", "the CSV rows are searchable: {found}");
    // the same file from a Vietnamese Excel: semicolons, decimal commas, underscores
    let excel = CSV.replace(',', ";").replace("16.0719", "16,0719").replace("certificate.", "certificate_");
    let excel = excel.replace("\"Bún chả cá \"\"Bà Lữ\"\"; chi nhánh 2\"", "\"Bún chả cá \"\"Bà Lữ\"\", chi nhánh 2\"");
    let (status, v) = put(&env, "/food-safety/establishments", "text/csv", &excel);
    assert_eq!((status, v), (StatusCode::OK, json!({"imported": 2})));
    assert_eq!(get(&env, "/food-safety/establishments/DN-000123")["lat"], 16.0719);
}

#[test]
fn csv_errors_name_the_line_and_store_nothing() {
    let env = env();
    let bad = CSV.replace("2027-03-01", "01/03/2027").replace("street_food", "spaceship");
    let (status, v) = put(&env, "/food-safety/establishments", "text/csv", &bad);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&v), ["line 2.certificate.expires", "line 3.kind"]);
    let half_cert = CSV.replace(",,,,,,\r\n", ",,,9/2025,,,\r\n");
    let (_, v) = put(&env, "/food-safety/establishments", "text/csv", &half_cert);
    assert_eq!(fields(&v), ["line 3.certificate.issued", "line 3.certificate.expires", "line 3.certificate.authority"]);
    let (status, v) = put(&env, "/food-safety/establishments", "text/csv", "id,name,colour\nX,Y,red\n");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&v), ["line 1.colour"]);
    let (status, v) = put(&env, "/food-safety/establishments", "text/csv", "id,name\nX,\"Y\nZ,W\n");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("dòng 2"), "{v}");
    let (status, _) = put(&env, "/food-safety/establishments", "text/csv", "\u{0}\u{ff}");
    assert!(status.is_client_error());
    assert_eq!(get(&env, "/food-safety/establishments")["total"], 0, "nothing stored");
}

const VIOLATIONS: &str = "establishment_id,date,description,penalty_vnd\n\
DN-000123,2025-06-01,Không có sổ kiểm thực ba bước,5000000\n\
DN-000124,2024-01-10,\"Không lưu mẫu thức ăn, 72 giờ\",0\n\
DN-000123,2026-02-03,Dụng cụ chứa đựng không đảm bảo vệ sinh,1500000\n";

#[test]
fn violations_are_their_own_upload_and_a_csv_import_keeps_them() {
    let env = env();
    put(&env, "/food-safety/establishments", "text/csv", CSV);
    let (status, v) = put(&env, "/food-safety/violations", "text/csv", VIOLATIONS);
    assert_eq!((status, v), (StatusCode::OK, json!({"establishments": 2, "violations": 3})));
    let e = get(&env, "/food-safety/establishments/DN-000123");
    let dates: Vec<&str> = e["violations"].as_array().unwrap().iter().map(|v| v["date"].as_str().unwrap()).collect();
    assert_eq!(dates, ["2026-02-03", "2025-06-01"], "newest first");
    // the same upload again changes nothing; an upload naming one place leaves the other's
    put(&env, "/food-safety/violations", "text/csv", VIOLATIONS);
    let (_, v) = put(
        &env,
        "/food-safety/violations",
        "text/csv",
        "establishment_id,date,description,penalty_vnd\nDN-000124,2025-01-01,Tái phạm,2000000\n",
    );
    assert_eq!(v, json!({"establishments": 1, "violations": 1}));
    assert_eq!(get(&env, "/food-safety/establishments/DN-000123")["violations"].as_array().unwrap().len(), 2);
    let e = get(&env, "/food-safety/establishments/DN-000124");
    assert_eq!(e["violations"][0]["description"], "Tái phạm");
    // re-importing the establishments as CSV (a new name) keeps every violation and count
    put(&env, "/food-safety/establishments", "text/csv", &CSV.replace("Phở Bà Hoa", "Phở Bà Hoa 1975"));
    let e = get(&env, "/food-safety/establishments/DN-000123");
    assert_eq!((e["name"].as_str(), e["violations"].as_array().unwrap().len()), (Some("Phở Bà Hoa 1975"), 2));
    let hit = get(&env, "/food-safety/establishments?q=pho%20ba%20hoa%201975");
    assert_eq!(hit["results"][0]["violations"], 2, "the count too: {hit}");
    // a JSON import states the violations: an empty list clears them
    let mut item = get(&env, "/food-safety/establishments/DN-000123");
    item.as_object_mut().unwrap().remove("certificate_status");
    item["violations"] = json!([]);
    let (status, _) = put(&env, "/food-safety/establishments", "application/json", &json!([item]).to_string());
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get(&env, "/food-safety/establishments/DN-000123")["violations"], json!([]));
}

#[test]
fn violation_uploads_are_checked_whole() {
    let env = env();
    put(&env, "/food-safety/establishments", "text/csv", CSV);
    let bad = "establishment_id,date,description,penalty_vnd\nDN-000123,2025-13-01,x,5\nNOPE-1,2025-01-01,y,5\nDN-000124,2025-01-01,,-1\n";
    let (status, v) = put(&env, "/food-safety/violations", "text/csv", bad);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&v), ["line 2.date", "line 4.description", "line 4.penalty_vnd"]);
    let unknown = "establishment_id,date,description,penalty_vnd\nNOPE-1,2025-01-01,y,5\n";
    let (_, v) = put(&env, "/food-safety/violations", "text/csv", unknown);
    assert_eq!(fields(&v), ["line 2.establishment_id"]);
    let json_body =
        json!([{"establishment_id": "DN-000124", "date": "2025-01-01", "description": "z", "penalty_vnd": 7}]);
    let (status, v) = put(&env, "/food-safety/violations", "application/json", &json_body.to_string());
    assert_eq!((status, v), (StatusCode::OK, json!({"establishments": 1, "violations": 1})));
    let n = block_on(env.query("food", "SELECT count(*) AS n FROM violations", &[])).unwrap();
    assert_eq!(n.first().unwrap().i64("n").unwrap(), 1, "only the valid upload was stored");
    let anonymous = Request::put("/food-safety/violations").body(Bytes::from(VIOLATIONS)).unwrap();
    assert_eq!(block_on(food_safety::handle(anonymous, &env)).status(), StatusCode::UNAUTHORIZED);
}
