//! PUT /food-safety/establishments (role `admin`)
//!
//! The body is a JSON array of establishments in exactly the registry's shape, or CSV
//! (`Content-Type: text/csv`): a header row of the JSON field names, the certificate's
//! flattened (`certificate.number` or `certificate_number`, `issued`, `expires`,
//! `authority`; all empty for none), without violations, which are their own upload (see
//! [`crate::violations`]) and which a CSV import leaves as they are. A JSON item's
//! `violations` replace the stored ones.
//!
//! The whole batch is validated first (every field error of every item, named
//! `[index].field`, or `line N.field` for CSV), and either all of it is stored, atomically,
//! or none of it. Upsert by `id`: importing the same batch twice changes nothing.

use bytes::Bytes;
use civic::validate::Fields;
use civic::{Error, FieldError, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde_json::Value;

use crate::model::{Certificate, Establishment, KINDS, MAX_CERT_NUMBER, MAX_ID, MAX_PENALTY_VND, Violation};
use crate::store;

/// The largest import body (bytes).
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// The most establishments in one import.
pub const MAX_ITEMS: usize = 10_000;

/// The CSV columns of an establishment (any order; `id` and the required fields must be
/// there). `certificate_number` and the like are read as `certificate.number`.
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "name",
    "address",
    "ward",
    "district",
    "province",
    "kind",
    "lat",
    "lng",
    "certificate.number",
    "certificate.issued",
    "certificate.expires",
    "certificate.authority",
];

pub async fn put(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::auth::require_role(env, req.headers(), civic::auth::Role::Admin)?;
    let upload = read_upload(req, CSV_COLUMNS, csv_establishment)?;
    let items = parse_upload(&upload)?;
    let violations = if upload.lines.is_some() { store::Violations::Keep } else { store::Violations::Replace };
    store::upsert(env, &items, violations).await?;
    civic::web::json(StatusCode::OK, &serde_json::json!({"imported": items.len()}))
}

/// The records of an upload, as JSON objects: a JSON array as sent, or CSV rows turned into
/// objects by a function of the row's `(column, cell)` pairs and the file's delimiter.
#[derive(Debug)]
pub struct Upload {
    pub items: Vec<Value>,
    /// For CSV: each record's line in the file.
    pub lines: Option<Vec<usize>>,
}

impl Upload {
    /// How errors name record `i`: `[i]`, or `line N` for CSV.
    pub fn label(&self, i: usize) -> String {
        match self.lines.as_ref().and_then(|l| l.get(i)) {
            Some(line) => format!("line {line}"),
            None => format!("[{i}]"),
        }
    }
}

fn is_csv(req: &Request<Bytes>) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("text/csv"))
}

/// Reads a JSON array or a CSV upload (see [`Upload`]); CSV columns must be among `columns`
/// (after `_` is read as `.`), each once.
pub fn read_upload(
    req: &Request<Bytes>,
    columns: &[&str],
    item: impl Fn(&[(String, String)], char) -> Value,
) -> Result<Upload, Error> {
    if !is_csv(req) {
        let body: Value = civic::web::read_json(req, MAX_BODY)?;
        return match body {
            Value::Array(items) => Ok(Upload { items, lines: None }),
            _ => Err(Error::Validation(vec![FieldError::new(
                "",
                Msg::new("Phải là một mảng JSON", "must be a JSON array"),
            )])),
        };
    }
    civic::web::check_size(req, MAX_BODY)?;
    let text = std::str::from_utf8(req.body())
        .map_err(|_| Error::BadRequest(Msg::new("CSV phải mã hóa UTF-8", "CSV must be UTF-8")))?;
    let table = civic::csv::parse(text).map_err(|e| {
        Error::BadRequest(Msg::new(
            format!("CSV không hợp lệ ở dòng {}: {}", e.line, e.vi()),
            format!("invalid CSV at line {}: {}", e.line, e.message),
        ))
    })?;
    let header: Vec<String> = table.header.iter().map(|h| column_name(h, columns)).collect();
    let mut errors = Vec::new();
    for (i, h) in header.iter().enumerate() {
        if !columns.contains(&h.as_str()) {
            errors.push(FieldError::new(
                format!("line 1.{h}"),
                Msg::new(
                    format!("Cột không được hỗ trợ; các cột: {}", columns.join(", ")),
                    format!("unknown column; the columns are: {}", columns.join(", ")),
                ),
            ));
        } else if header[..i].contains(h) {
            errors.push(FieldError::new(format!("line 1.{h}"), Msg::new("Cột bị lặp", "column repeated")));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let items = table
        .rows
        .iter()
        .map(|r| {
            let cells: Vec<(String, String)> =
                header.iter().cloned().zip(r.fields.iter().map(|f| f.trim().to_owned())).collect();
            item(&cells, table.delimiter)
        })
        .collect();
    Ok(Upload { items, lines: Some(table.rows.iter().map(|r| r.line).collect()) })
}

/// `certificate_number` as `certificate.number` when that is a column.
fn column_name(h: &str, columns: &[&str]) -> String {
    let dotted = h.replacen('_', ".", 1);
    if !columns.contains(&h) && columns.contains(&dotted.as_str()) { dotted } else { h.to_owned() }
}

/// A number cell as a JSON number (a decimal comma too, in a `;`-separated file); anything
/// else stays text, for the validation to name.
pub fn number_cell(v: &str, delimiter: char) -> Value {
    let v = if delimiter == ';' { v.replace(',', ".") } else { v.to_owned() };
    if let Ok(n) = v.parse::<i64>() {
        return Value::from(n);
    }
    v.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::String(v), Value::Number)
}

/// One CSV row of establishments as the JSON item it stands for: empty cells are absent,
/// the certificate columns make the certificate object.
fn csv_establishment(cells: &[(String, String)], delimiter: char) -> Value {
    let mut obj = serde_json::Map::new();
    let mut cert = serde_json::Map::new();
    for (k, v) in cells {
        if let Some(field) = k.strip_prefix("certificate.") {
            if !v.is_empty() {
                cert.insert(field.to_owned(), Value::String(v.clone()));
            }
        } else if k == "lat" || k == "lng" {
            if !v.is_empty() {
                obj.insert(k.clone(), number_cell(v, delimiter));
            }
        } else {
            obj.insert(k.clone(), Value::String(v.clone()));
        }
    }
    if !cert.is_empty() {
        obj.insert("certificate".into(), Value::Object(cert));
    }
    Value::Object(obj)
}

/// Validates a whole JSON batch, returning every field error at once.
pub fn parse_batch(body: &Value) -> Result<Vec<Establishment>, Error> {
    match body {
        Value::Array(items) => parse_upload(&Upload { items: items.clone(), lines: None }),
        _ => Err(Error::Validation(vec![FieldError::new(
            "",
            Msg::new("Phải là một mảng JSON các cơ sở", "must be a JSON array of establishments"),
        )])),
    }
}

/// Validates a whole upload, returning every field error at once.
pub fn parse_upload(upload: &Upload) -> Result<Vec<Establishment>, Error> {
    let list = &upload.items;
    if list.len() > MAX_ITEMS {
        return Err(Error::Validation(vec![FieldError::new(
            "",
            Msg::new(
                format!("Tối đa {MAX_ITEMS} cơ sở mỗi lần"),
                format!("at most {MAX_ITEMS} establishments per import"),
            ),
        )]));
    }
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(list.len());
    let mut seen = std::collections::HashSet::new();
    for (i, item) in list.iter().enumerate() {
        let mut f = Fields::new(upload.label(i), &mut errors);
        if let Some(e) = establishment(&mut f, item) {
            if !seen.insert(e.id.clone()) {
                errors.push(FieldError::new(
                    format!("{}.id", upload.label(i)),
                    Msg::new("Mã bị lặp trong lô", "duplicate id in this batch"),
                ));
            }
            out.push(e);
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(Error::Validation(errors)) }
}

fn establishment(f: &mut Fields<'_>, item: &Value) -> Option<Establishment> {
    const KEYS: &[&str] =
        &["id", "name", "address", "ward", "district", "province", "kind", "certificate", "violations", "lat", "lng"];
    let before = f.error_count();
    let obj = f.object("", item, KEYS)?;
    let id = f.text(obj, "", "id", MAX_ID);
    if let Some(id) = &id
        && !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    {
        f.err("id", Msg::new("Chỉ gồm chữ, số và - _ . /", "only letters, digits and - _ . /"));
    }
    let name = f.text(obj, "", "name", 200);
    let address = f.text(obj, "", "address", 300);
    let ward = f.text(obj, "", "ward", 100);
    let district = f.text(obj, "", "district", 100);
    let province = f.text(obj, "", "province", 100);
    let kind = f.text(obj, "", "kind", 32);
    if let Some(k) = &kind
        && !KINDS.contains(&k.as_str())
    {
        f.err(
            "kind",
            Msg::new(
                format!("Phải là một trong: {}", KINDS.join(", ")),
                format!("must be one of: {}", KINDS.join(", ")),
            ),
        );
    }
    let certificate = match obj.get("certificate") {
        None | Some(Value::Null) => None,
        Some(v) => certificate(f, v),
    };
    let violations = match obj.get("violations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.iter().enumerate().filter_map(|(j, v)| violation(f, j, v)).collect(),
        Some(_) => {
            f.err("violations", civic::validate::wrong_type("một mảng", "an array"));
            Vec::new()
        }
    };
    let lat = f.number_within(obj, "lat", 90.0);
    let lng = f.number_within(obj, "lng", 180.0);
    if f.error_count() > before {
        return None;
    }
    Some(Establishment {
        id: id?,
        name: name?,
        address: address?,
        ward: ward?,
        district: district?,
        province: province?,
        kind: kind?,
        certificate,
        violations,
        lat,
        lng,
    })
}

fn certificate(f: &mut Fields<'_>, v: &Value) -> Option<Certificate> {
    let obj = f.object("certificate", v, &["number", "issued", "expires", "authority"])?;
    let number = f.text(obj, "certificate", "number", MAX_CERT_NUMBER);
    let issued = f.date(obj, "certificate", "issued");
    let expires = f.date(obj, "certificate", "expires");
    let authority = f.text(obj, "certificate", "authority", 200);
    if let (Some(i), Some(e)) = (issued, expires)
        && e < i
    {
        f.err("certificate.expires", Msg::new("Ngày hết hạn trước ngày cấp", "expires before it was issued"));
        return None;
    }
    Some(Certificate { number: number?, issued: issued?, expires: expires?, authority: authority? })
}

fn violation(f: &mut Fields<'_>, j: usize, v: &Value) -> Option<Violation> {
    let path = format!("violations[{j}]");
    let obj = f.object(&path, v, &["date", "description", "penalty_vnd"])?;
    let date = f.date(obj, &path, "date");
    let description = f.text(obj, &path, "description", 500);
    let penalty_vnd = f.integer(obj, &path, "penalty_vnd", 0, MAX_PENALTY_VND);
    Some(Violation { date: date?, description: description?, penalty_vnd: penalty_vnd? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({"id": "DN-000123", "name": "Phở Bà Hoa", "address": "12 Trần Phú", "ward": "Thạch Thang",
          "district": "Hải Châu", "province": "Đà Nẵng", "kind": "restaurant",
          "certificate": {"number": "123/2024/ATTP-CNĐK", "issued": "2024-03-01",
                          "expires": "2027-03-01", "authority": "Ban Quản lý ATTP Đà Nẵng"},
          "violations": [{"date": "2025-06-01", "description": "Không có sổ kiểm thực ba bước",
                          "penalty_vnd": 5000000}],
          "lat": 16.0719, "lng": 108.2203})
    }

    fn fields_of(body: &Value) -> Vec<String> {
        match parse_batch(body) {
            Err(Error::Validation(list)) => list.into_iter().map(|e| e.field).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let items = parse_batch(&json!([sample()])).unwrap();
        let e = &items[0];
        assert_eq!(e.id, "DN-000123");
        assert_eq!(e.certificate.as_ref().unwrap().expires.to_string(), "2027-03-01");
        assert_eq!(e.violations[0].penalty_vnd, 5_000_000);
        assert_eq!(e.lat, Some(16.0719));
    }

    #[test]
    fn null_certificate_and_empty_violations_are_fine() {
        let mut v = sample();
        v["certificate"] = Value::Null;
        v["violations"] = json!([]);
        let items = parse_batch(&json!([v])).unwrap();
        assert!(items[0].certificate.is_none() && items[0].violations.is_empty());
    }

    #[test]
    fn errors_name_item_index_and_field() {
        let mut bad = sample();
        bad["name"] = json!("");
        bad["certificate"]["expires"] = json!("01/03/2027");
        bad["violations"][0]["penalty_vnd"] = json!(-5);
        bad["lat"] = json!(123.0);
        bad["colour"] = json!("red");
        let mut also_bad = sample();
        also_bad["id"] = json!("DN 1");
        also_bad["kind"] = json!("spaceship");
        let got = fields_of(&json!([sample(), bad, also_bad]));
        assert_eq!(
            got,
            [
                "[1].colour",
                "[1].name",
                "[1].certificate.expires",
                "[1].violations[0].penalty_vnd",
                "[1].lat",
                "[2].id",
                "[2].kind"
            ]
        );
    }

    #[test]
    fn shape_errors_table() {
        let cases: Vec<(Value, &str)> = vec![
            (json!({"id": "x"}), ""),
            (json!([1]), "[0]"),
            (json!([{"id": 5}]), "[0].id"),
            (json!([{"name": "x"}]), "[0].id"),
        ];
        for (body, want) in cases {
            let got = fields_of(&body);
            assert_eq!(got.first().map(String::as_str), Some(want), "{body}");
        }
        let mut expired_first = sample();
        expired_first["certificate"]["issued"] = json!("2028-01-01");
        assert_eq!(fields_of(&json!([expired_first])), ["[0].certificate.expires"]);
        assert_eq!(fields_of(&json!([sample(), sample()])), ["[1].id"]);
    }
}
