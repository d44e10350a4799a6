//! Validation of JSON bodies that reports every field error at once, each named by its path
//! (`[3].certificate.expires`), in Vietnamese and English.
//!
//! ```
//! use civic::validate::Fields;
//! let body = serde_json::json!({"name": "", "extra": 1});
//! let mut errors = Vec::new();
//! let mut f = Fields::new("[0]".into(), &mut errors);
//! let obj = f.object("", &body, &["name"]).unwrap();
//! assert!(f.text(obj, "", "name", 10).is_none());
//! let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
//! assert_eq!(fields, ["[0].extra", "[0].name"]);
//! ```

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::error::{FieldError, Msg};

/// `path.key`, or `key` at the top.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// Reads fields of one item, recording an error for each bad one.
pub struct Fields<'e> {
    prefix: String,
    errors: &'e mut Vec<FieldError>,
}

pub fn wrong_type(expected_vi: &'static str, expected_en: &'static str) -> Msg {
    Msg::new(format!("Phải là {expected_vi}"), format!("must be {expected_en}"))
}

impl<'e> Fields<'e> {
    pub fn new(prefix: String, errors: &'e mut Vec<FieldError>) -> Self {
        Fields { prefix, errors }
    }

    pub fn err(&mut self, field: &str, msg: Msg) {
        let name = if field.is_empty() { self.prefix.clone() } else { join(&self.prefix, field) };
        self.errors.push(FieldError::new(name, msg));
    }

    pub fn object<'v>(&mut self, field: &str, v: &'v Value, allowed: &[&str]) -> Option<&'v Map<String, Value>> {
        let Some(obj) = v.as_object() else {
            self.err(field, wrong_type("một đối tượng JSON", "a JSON object"));
            return None;
        };
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                let name = join(field, key);
                self.err(&name, Msg::new("Trường không được hỗ trợ", "unknown field"));
            }
        }
        Some(obj)
    }

    /// An optional [`Fields::text`]: missing, `null` and blank are all "none".
    pub fn opt_text(&mut self, obj: &Map<String, Value>, path: &str, key: &str, max: usize) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(_) => self.text(obj, path, key, max),
        }
    }

    pub fn text(&mut self, obj: &Map<String, Value>, path: &str, key: &str, max: usize) -> Option<String> {
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

    pub fn date(&mut self, obj: &Map<String, Value>, path: &str, key: &str) -> Option<NaiveDate> {
        let s = self.text(obj, path, key, 10)?;
        let parsed = (s.len() == 10).then(|| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()).flatten();
        if parsed.is_none() {
            self.err(&join(path, key), Msg::new("Phải là ngày dạng YYYY-MM-DD", "must be a date YYYY-MM-DD"));
        }
        parsed
    }

    /// An optional number within ±`limit` (`null` or absent is `None`).
    pub fn number_within(&mut self, obj: &Map<String, Value>, key: &str, limit: f64) -> Option<f64> {
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

    /// How many errors have been recorded so far (by every reader of this list).
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// A required whole number in `min..=max`.
    pub fn integer(&mut self, obj: &Map<String, Value>, path: &str, key: &str, min: i64, max: i64) -> Option<i64> {
        let field = join(path, key);
        match obj.get(key) {
            Some(Value::Number(n)) if n.as_i64().is_some_and(|v| (min..=max).contains(&v)) => n.as_i64(),
            None | Some(Value::Null) => {
                self.err(&field, Msg::required());
                None
            }
            Some(_) => {
                self.err(
                    &field,
                    Msg::new(
                        format!("Phải là số nguyên từ {min} đến {max}"),
                        format!("must be a whole number from {min} to {max}"),
                    ),
                );
                None
            }
        }
    }

    /// A required RFC 3339 time with its offset (`2024-11-05T08:30:00+07:00`), as UTC.
    pub fn datetime(&mut self, obj: &Map<String, Value>, path: &str, key: &str) -> Option<DateTime<Utc>> {
        let s = self.text(obj, path, key, 40)?;
        let parsed = DateTime::parse_from_rfc3339(&s).ok().map(|t| t.with_timezone(&Utc));
        if parsed.is_none() {
            self.err(
                &join(path, key),
                Msg::new("Phải là thời điểm RFC 3339 có múi giờ", "must be an RFC 3339 time with an offset"),
            );
        }
        parsed
    }

    /// An optional RFC 3339 time (`null` or absent is `None`).
    pub fn opt_datetime(&mut self, obj: &Map<String, Value>, path: &str, key: &str) -> Option<DateTime<Utc>> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(_) => self.datetime(obj, path, key),
        }
    }
}

/// Plain text over several lines: no control characters but line breaks and tabs (`\n`,
/// `\r`, `\t`). A one-line field refuses those too ([`Fields::text`]).
pub fn plain_text(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run<T>(
        body: Value,
        read: impl FnOnce(&mut Fields<'_>, &Map<String, Value>) -> Option<T>,
    ) -> (Option<T>, Vec<String>) {
        let mut errors = Vec::new();
        let obj = body.as_object().cloned().unwrap_or_default();
        let got = read(&mut Fields::new("[2]".into(), &mut errors), &obj);
        (got, errors.into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn integer_table() {
        let cases = [
            (json!({"n": 5}), Some(5)),
            (json!({"n": 0}), Some(0)),
            (json!({"n": -1}), None),
            (json!({"n": 11}), None),
            (json!({"n": 1.5}), None),
            (json!({"n": "5"}), None),
            (json!({}), None),
        ];
        for (body, want) in cases {
            let (got, errors) = run(body.clone(), |f, o| f.integer(o, "fee", "n", 0, 10));
            assert_eq!(got, want, "{body}");
            assert_eq!(errors.is_empty(), want.is_some(), "{body}: {errors:?}");
            if want.is_none() {
                assert_eq!(errors, ["[2].fee.n"]);
            }
        }
    }

    #[test]
    fn datetime_table() {
        let cases = [
            (json!({"t": "2024-11-05T08:30:00+07:00"}), Some("2024-11-05T01:30:00+00:00")),
            (json!({"t": "2024-11-05T01:30:00Z"}), Some("2024-11-05T01:30:00+00:00")),
            (json!({"t": "2024-11-05 08:30"}), None),
            (json!({"t": "2024-11-05T08:30:00"}), None),
            (json!({"t": 5}), None),
        ];
        for (body, want) in cases {
            let (got, errors) = run(body.clone(), |f, o| f.datetime(o, "", "t"));
            assert_eq!(got.map(|t| t.to_rfc3339()), want.map(str::to_owned), "{body}");
            assert_eq!(errors.len(), usize::from(want.is_none()), "{body}");
        }
        let (got, errors) = run(json!({"t": null}), |f, o| f.opt_datetime(o, "", "t"));
        assert!(got.is_none() && errors.is_empty());
    }
}
