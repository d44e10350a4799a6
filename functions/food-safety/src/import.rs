//! PUT /food-safety/establishments (role `admin`)
//!
//! The body is a JSON array of establishments in exactly the registry's shape; the whole
//! batch is validated first (every field error of every item, named `[index].field`), and
//! either all of it is stored, atomically, or none of it. Upsert by `id`: importing the same
//! batch twice changes nothing.

use bytes::Bytes;
use chrono::NaiveDate;
use civic::{Error, FieldError, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde_json::{Map, Value};

use crate::model::{Certificate, Establishment, KINDS, Violation};
use crate::store;

/// The largest import body (bytes).
pub const MAX_BODY: usize = 8 * 1024 * 1024;
/// The most establishments in one import.
pub const MAX_ITEMS: usize = 5_000;

pub async fn put(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::auth::require_role(env, req.headers(), civic::auth::Role::Admin)?;
    let body: Value = civic::web::read_json(req, MAX_BODY)?;
    let items = parse_batch(&body)?;
    store::upsert(env, &items).await?;
    civic::web::json(StatusCode::OK, &serde_json::json!({"imported": items.len()}))
}

/// Validates a whole batch, returning every field error at once.
pub fn parse_batch(body: &Value) -> Result<Vec<Establishment>, Error> {
    let Some(list) = body.as_array() else {
        return Err(Error::Validation(vec![FieldError::new(
            "",
            Msg::new("Phải là một mảng JSON các cơ sở", "must be a JSON array of establishments"),
        )]));
    };
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
        let mut f = Fields::new(format!("[{i}]"), &mut errors);
        if let Some(e) = f.establishment(item) {
            if !seen.insert(e.id.clone()) {
                errors.push(FieldError::new(
                    format!("[{i}].id"),
                    Msg::new("Mã bị lặp trong lô", "duplicate id in this batch"),
                ));
            }
            out.push(e);
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(Error::Validation(errors)) }
}

/// Reads fields of one item, recording an error for each bad one.
struct Fields<'e> {
    prefix: String,
    errors: &'e mut Vec<FieldError>,
}

fn wrong_type(expected_vi: &'static str, expected_en: &'static str) -> Msg {
    Msg::new(format!("Phải là {expected_vi}"), format!("must be {expected_en}"))
}

impl<'e> Fields<'e> {
    fn new(prefix: String, errors: &'e mut Vec<FieldError>) -> Self {
        Fields { prefix, errors }
    }

    fn err(&mut self, field: &str, msg: Msg) {
        let name = if field.is_empty() { self.prefix.clone() } else { format!("{}.{field}", self.prefix) };
        self.errors.push(FieldError::new(name, msg));
    }

    fn object<'v>(&mut self, field: &str, v: &'v Value, allowed: &[&str]) -> Option<&'v Map<String, Value>> {
        let Some(obj) = v.as_object() else {
            self.err(field, wrong_type("một đối tượng JSON", "a JSON object"));
            return None;
        };
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                let name = if field.is_empty() { key.clone() } else { format!("{field}.{key}") };
                self.err(&name, Msg::new("Trường không được hỗ trợ", "unknown field"));
            }
        }
        Some(obj)
    }

    fn text(&mut self, obj: &Map<String, Value>, path: &str, key: &str, max: usize) -> Option<String> {
        let field = join(path, key);
        match obj.get(key) {
            None | Some(Value::Null) => {
                self.err(&field, Msg::required());
                None
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    self.err(&field, Msg::new("Không được để trống", "must not be empty"));
                    None
                } else if s.chars().count() > max {
                    self.err(&field, Msg::too_long(max));
                    None
                } else if s.chars().any(char::is_control) {
                    self.err(&field, Msg::new("Chứa ký tự điều khiển", "contains control characters"));
                    None
                } else {
                    Some(s.to_owned())
                }
            }
            Some(_) => {
                self.err(&field, wrong_type("chuỗi", "a string"));
                None
            }
        }
    }

    fn date(&mut self, obj: &Map<String, Value>, path: &str, key: &str) -> Option<NaiveDate> {
        let s = self.text(obj, path, key, 10)?;
        let parsed = (s.len() == 10).then(|| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()).flatten();
        if parsed.is_none() {
            self.err(&join(path, key), Msg::new("Phải là ngày dạng YYYY-MM-DD", "must be a date YYYY-MM-DD"));
        }
        parsed
    }

    fn coordinate(&mut self, obj: &Map<String, Value>, key: &str, limit: f64) -> Option<f64> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if x.is_finite() && x.abs() <= limit => Some(x),
                _ => {
                    self.err(key, Msg::new(format!("Phải trong khoảng ±{limit}"), format!("must be within ±{limit}")));
                    None
                }
            },
            Some(_) => {
                self.err(key, wrong_type("một số", "a number"));
                None
            }
        }
    }

    fn establishment(&mut self, item: &Value) -> Option<Establishment> {
        const KEYS: &[&str] = &[
            "id",
            "name",
            "address",
            "ward",
            "district",
            "province",
            "kind",
            "certificate",
            "violations",
            "lat",
            "lng",
        ];
        let before = self.errors.len();
        let obj = self.object("", item, KEYS)?;
        let id = self.text(obj, "", "id", 64);
        if let Some(id) = &id
            && !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        {
            self.err("id", Msg::new("Chỉ gồm chữ, số và - _ . /", "only letters, digits and - _ . /"));
        }
        let name = self.text(obj, "", "name", 200);
        let address = self.text(obj, "", "address", 300);
        let ward = self.text(obj, "", "ward", 100);
        let district = self.text(obj, "", "district", 100);
        let province = self.text(obj, "", "province", 100);
        let kind = self.text(obj, "", "kind", 32);
        if let Some(k) = &kind
            && !KINDS.contains(&k.as_str())
        {
            self.err(
                "kind",
                Msg::new(
                    format!("Phải là một trong: {}", KINDS.join(", ")),
                    format!("must be one of: {}", KINDS.join(", ")),
                ),
            );
        }
        let certificate = match obj.get("certificate") {
            None | Some(Value::Null) => None,
            Some(v) => self.certificate(v),
        };
        let violations = match obj.get("violations") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list.iter().enumerate().filter_map(|(j, v)| self.violation(j, v)).collect(),
            Some(_) => {
                self.err("violations", wrong_type("một mảng", "an array"));
                Vec::new()
            }
        };
        let lat = self.coordinate(obj, "lat", 90.0);
        let lng = self.coordinate(obj, "lng", 180.0);
        if self.errors.len() > before {
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

    fn certificate(&mut self, v: &Value) -> Option<Certificate> {
        let obj = self.object("certificate", v, &["number", "issued", "expires", "authority"])?;
        let number = self.text(obj, "certificate", "number", 64);
        let issued = self.date(obj, "certificate", "issued");
        let expires = self.date(obj, "certificate", "expires");
        let authority = self.text(obj, "certificate", "authority", 200);
        if let (Some(i), Some(e)) = (issued, expires)
            && e < i
        {
            self.err("certificate.expires", Msg::new("Ngày hết hạn trước ngày cấp", "expires before it was issued"));
            return None;
        }
        Some(Certificate { number: number?, issued: issued?, expires: expires?, authority: authority? })
    }

    fn violation(&mut self, j: usize, v: &Value) -> Option<Violation> {
        let path = format!("violations[{j}]");
        let obj = self.object(&path, v, &["date", "description", "penalty_vnd"])?;
        let date = self.date(obj, &path, "date");
        let description = self.text(obj, &path, "description", 500);
        let penalty_vnd = match obj.get("penalty_vnd") {
            Some(Value::Number(n)) if n.as_i64().is_some_and(|p| (0..=10_000_000_000).contains(&p)) => n.as_i64(),
            None | Some(Value::Null) => {
                self.err(&join(&path, "penalty_vnd"), Msg::required());
                None
            }
            Some(_) => {
                self.err(
                    &join(&path, "penalty_vnd"),
                    Msg::new("Phải là số nguyên VND từ 0", "must be a whole number of VND, 0 or more"),
                );
                None
            }
        };
        Some(Violation { date: date?, description: description?, penalty_vnd: penalty_vnd? })
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
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
