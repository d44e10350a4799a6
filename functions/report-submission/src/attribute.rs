//! The extra questions of a category: Open311 GeoReport v2 service definition attributes
//! (`GET services/{service_code}`, "attributes"), set by admins with the categories
//! (`PUT /reports/categories`, `"attributes": [...]` of a category) and answered when a
//! report is filed (Open311 `attribute[code]`, `attribute[code][]`; the app's
//! `"attributes": {"code": answer}`).
//!
//! A definition, as stored (JSON in `categories.attributes`) and as admins send it:
//!
//! ```json
//! {"code": "lane", "datatype": "singlevaluelist", "required": true, "order": 1,
//!  "description": "Làn đường nào?", "values": [{"key": "left", "name": "Làn trái"}]}
//! ```
//!
//! `datatype` is one of the specification's `string` (one line, at most
//! [`MAX_STRING`] characters), `text` (several lines, at most [`MAX_TEXT`]), `number` (a
//! finite decimal), `datetime` (RFC 3339 with an offset), `singlevaluelist` (one of the
//! `values`' keys), `multivaluelist` (one or more of them); `variable: false` marks a note
//! shown to the citizen that takes no answer (default `true`); `order` defaults to the
//! position in the list, from 1; `datatype_description` is an optional hint.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use civic::{FieldError, Msg};

/// The most attributes a category has.
pub const MAX_ATTRIBUTES: usize = 30;
/// The most values a list attribute offers.
pub const MAX_VALUES: usize = 100;
/// The longest `string` answer, in characters.
pub const MAX_STRING: usize = 500;
/// The longest `text` answer, in characters.
pub const MAX_TEXT: usize = 4_000;
/// The longest attribute or value key, in bytes (ASCII).
pub const MAX_KEY: usize = 64;
/// The longest description, hint or value name, in characters.
pub const MAX_LABEL: usize = 500;

/// An attribute's datatype (GeoReport v2, "GET Service Definition", `datatype`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    String,
    Number,
    Datetime,
    Text,
    Singlevaluelist,
    Multivaluelist,
}

impl Datatype {
    /// Its text, as the specification spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Datatype::String => "string",
            Datatype::Number => "number",
            Datatype::Datetime => "datetime",
            Datatype::Text => "text",
            Datatype::Singlevaluelist => "singlevaluelist",
            Datatype::Multivaluelist => "multivaluelist",
        }
    }

    /// Whether its answers are keys of its `values`.
    pub fn is_list(self) -> bool {
        matches!(self, Datatype::Singlevaluelist | Datatype::Multivaluelist)
    }
}

/// One value a list attribute offers.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// What a client sends (`attribute[lane]=left`).
    pub key: String,
    /// What a citizen reads.
    pub name: String,
}

fn yes() -> bool {
    true
}

/// One question of a category.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    pub code: String,
    pub datatype: Datatype,
    #[serde(default)]
    pub required: bool,
    #[serde(default = "yes")]
    pub variable: bool,
    /// Display order, from 1; `None`: the position in the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datatype_description: Option<String>,
    /// The choices of a list attribute, none for the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Choice>,
}

fn key_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_KEY && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn label_ok(s: &str) -> bool {
    !s.trim().is_empty() && s.chars().count() <= MAX_LABEL && !s.chars().any(char::is_control)
}

/// Every problem of a category's attribute list, each named under `at` (`categories[0].`).
pub fn check(list: &[Attribute], at: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |field: String, vi: &str, en: &str| {
        errors.push(FieldError::new(format!("{at}attributes{field}"), Msg::new(vi.to_owned(), en.to_owned())));
    };
    if list.len() > MAX_ATTRIBUTES {
        err(String::new(), "Quá nhiều câu hỏi", &format!("at most {MAX_ATTRIBUTES}"));
    }
    for (i, a) in list.iter().enumerate() {
        if !key_ok(&a.code) {
            err(format!("[{i}].code"), "Mã chỉ gồm chữ, số, - _ .", "letters, digits, - _ . only");
        } else if list[..i].iter().any(|b| b.code == a.code) {
            err(format!("[{i}].code"), "Mã bị trùng", "given twice");
        }
        if !label_ok(&a.description) {
            err(format!("[{i}].description"), "Bắt buộc, không quá dài", "required, not too long");
        }
        if a.datatype_description.as_deref().is_some_and(|d| !label_ok(d)) {
            err(format!("[{i}].datatype_description"), "Không quá dài", "not blank, not too long");
        }
        if a.order.is_some_and(|o| !(1..=1_000).contains(&o)) {
            err(format!("[{i}].order"), "Từ 1 đến 1000", "from 1 to 1000");
        }
        match (a.datatype.is_list(), a.values.len()) {
            (true, 0) => err(format!("[{i}].values"), "Cần ít nhất một lựa chọn", "a list needs values"),
            (true, n) if n > MAX_VALUES => err(format!("[{i}].values"), "Quá nhiều lựa chọn", "too many values"),
            (false, n) if n > 0 => err(format!("[{i}].values"), "Chỉ dùng cho danh sách", "only lists have values"),
            _ => {}
        }
        for (j, v) in a.values.iter().enumerate() {
            if !key_ok(&v.key) || a.values[..j].iter().any(|w| w.key == v.key) {
                err(format!("[{i}].values[{j}].key"), "Mã không hợp lệ hoặc bị trùng", "not a key, or given twice");
            }
            if !label_ok(&v.name) {
                err(format!("[{i}].values[{j}].name"), "Bắt buộc, không quá dài", "required, not too long");
            }
        }
    }
    errors
}

/// The attributes in display order: by `order`, else by position.
pub fn ordered(list: &[Attribute]) -> Vec<(i64, &Attribute)> {
    let mut out: Vec<(i64, &Attribute)> =
        list.iter().enumerate().map(|(i, a)| (a.order.unwrap_or(i64::try_from(i).unwrap_or(0) + 1), a)).collect();
    out.sort_by_key(|(order, _)| *order);
    out
}

/// An answer as a client gave it: the attribute's code, its values (one, or several for
/// `attribute[code][]` or a JSON array) and whether it came as a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Given {
    pub code: String,
    pub values: Vec<String>,
    pub list: bool,
}

/// The answers of an Open311 form (`attribute[code]=v`, `attribute[code][]=v` repeated),
/// in the order given, each code once.
pub fn from_form(form: &[(String, String)]) -> Vec<Given> {
    let mut out: Vec<Given> = Vec::new();
    for (key, value) in form {
        let Some(inner) = key.strip_prefix("attribute[") else { continue };
        let (code, list) = match inner.strip_suffix("][]") {
            Some(code) => (code, true),
            None => match inner.strip_suffix(']') {
                Some(code) => (code, false),
                None => continue,
            },
        };
        match out.iter_mut().find(|g| g.code == code) {
            Some(g) => {
                g.values.push(value.clone());
                g.list |= list;
            }
            None => out.push(Given { code: code.to_owned(), values: vec![value.clone()], list }),
        }
    }
    out
}

/// The form keys that look like an attribute but are not `attribute[code]` or
/// `attribute[code][]` (a client's typo would otherwise be dropped unread).
pub fn malformed(form: &[(String, String)]) -> Option<&str> {
    form.iter().map(|(k, _)| k.as_str()).find(|k| {
        k.starts_with("attribute") && {
            let inner =
                k.strip_prefix("attribute[").and_then(|i| i.strip_suffix("][]").or_else(|| i.strip_suffix(']')));
            inner.is_none_or(|c| c.is_empty() || c.contains(['[', ']']))
        }
    })
}

/// The answers of the app's JSON (`{"code": "text" | number | ["key", ...]}`); `Err` names
/// the code whose answer is of another type.
pub fn from_json(obj: &Map<String, Value>) -> Result<Vec<Given>, String> {
    let mut out = Vec::with_capacity(obj.len());
    for (code, v) in obj {
        let (values, list) = match v {
            Value::Null => continue,
            Value::String(s) => (vec![s.clone()], false),
            Value::Number(n) => (vec![n.to_string()], false),
            Value::Array(items) => {
                let texts: Option<Vec<String>> = items.iter().map(|i| i.as_str().map(str::to_owned)).collect();
                (texts.ok_or_else(|| code.clone())?, true)
            }
            _ => return Err(code.clone()),
        };
        out.push(Given { code: code.clone(), values, list });
    }
    Ok(out)
}

/// Why one answer is refused, as `(code, message)`.
pub type Refusal = (String, Msg);

fn refuse(code: &str, vi: &str, en: &str) -> Refusal {
    (code.to_owned(), Msg::new(vi.to_owned(), en.to_owned()))
}

/// The answer to one attribute, checked against its datatype.
fn answer(a: &Attribute, g: &Given) -> Result<Option<Value>, Refusal> {
    let values: Vec<&str> = g.values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
    if values.is_empty() {
        return Ok(None);
    }
    if (values.len() > 1 || g.list) && a.datatype != Datatype::Multivaluelist {
        return Err(refuse(&a.code, "Chỉ một giá trị", "takes one value"));
    }
    let key = |v: &str| a.values.iter().any(|c| c.key == v);
    let one = values[0];
    let text = |max: usize, lines: bool| {
        if one.chars().count() > max {
            Err(refuse(&a.code, &format!("Tối đa {max} ký tự"), &format!("at most {max} characters")))
        } else if !(if lines { civic::validate::plain_text(one) } else { !one.chars().any(char::is_control) }) {
            Err(refuse(&a.code, "Chỉ văn bản thường", "plain text only"))
        } else {
            Ok(Some(Value::String(one.to_owned())))
        }
    };
    match a.datatype {
        Datatype::String => text(MAX_STRING, false),
        Datatype::Text => text(MAX_TEXT, true),
        Datatype::Number => match one.parse::<f64>().ok().filter(|n| n.is_finite()) {
            Some(n) => Ok(Some(Value::from(n))),
            None => Err(refuse(&a.code, "Phải là số", "must be a number")),
        },
        Datatype::Datetime => match chrono::DateTime::parse_from_rfc3339(one) {
            Ok(_) => Ok(Some(Value::String(one.to_owned()))),
            Err(_) => Err(refuse(&a.code, "Phải là thời điểm ISO 8601", "must be ISO 8601 with an offset")),
        },
        Datatype::Singlevaluelist if key(one) => Ok(Some(Value::String(one.to_owned()))),
        Datatype::Multivaluelist if values.iter().all(|v| key(v)) => {
            let mut keys: Vec<&str> = Vec::with_capacity(values.len());
            for v in values {
                if !keys.contains(&v) {
                    keys.push(v);
                }
            }
            Ok(Some(Value::from(keys)))
        }
        Datatype::Singlevaluelist | Datatype::Multivaluelist => {
            Err(refuse(&a.code, "Không phải một lựa chọn có sẵn", "not one of the values' keys"))
        }
    }
}

/// The stored answers (`{"code": answer}`) of `given` against a category's `attributes`,
/// or every refusal: an unknown code, an answer to a note (`variable: false`), a bad
/// answer, and (when `require`) a missing answer to a required question. Blank answers
/// count as none.
pub fn answers(attributes: &[Attribute], given: &[Given], require: bool) -> Result<Map<String, Value>, Vec<Refusal>> {
    let mut out = Map::new();
    let mut refused = Vec::new();
    for g in given {
        match attributes.iter().find(|a| a.code == g.code) {
            None => {
                refused.push(refuse(&g.code, "Không phải câu hỏi của lĩnh vực này", "not an attribute of this service"))
            }
            Some(a) if !a.variable => refused.push(refuse(&g.code, "Mục này không cần trả lời", "takes no answer")),
            Some(a) => match answer(a, g) {
                Ok(Some(v)) => {
                    out.insert(a.code.clone(), v);
                }
                Ok(None) => {}
                Err(r) => refused.push(r),
            },
        }
    }
    if require {
        for a in attributes.iter().filter(|a| a.required && a.variable && !out.contains_key(&a.code)) {
            if !refused.iter().any(|(code, _)| *code == a.code) {
                refused.push(refuse(&a.code, "Bắt buộc", "required"));
            }
        }
    }
    if refused.is_empty() { Ok(out) } else { Err(refused) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defs() -> Vec<Attribute> {
        serde_json::from_value(json!([
            {"code": "lane", "datatype": "singlevaluelist", "required": true, "description": "Làn nào?",
             "values": [{"key": "left", "name": "Trái"}, {"key": "right", "name": "Phải"}]},
            {"code": "size", "datatype": "number", "description": "Rộng bao nhiêu mét?", "order": 3},
            {"code": "kinds", "datatype": "multivaluelist", "description": "Loại hư hỏng",
             "values": [{"key": "hole", "name": "Ổ gà"}, {"key": "crack", "name": "Nứt"}]},
            {"code": "seen", "datatype": "datetime", "description": "Thấy lúc nào?"},
            {"code": "note", "datatype": "string", "variable": false, "description": "Ảnh giúp xử lý nhanh hơn"}
        ]))
        .unwrap()
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn answers_are_checked_against_the_definitions() {
        let given = from_form(&form(&[
            ("attribute[lane]", "left"),
            ("attribute[size]", "1.5"),
            ("attribute[kinds][]", "hole"),
            ("attribute[kinds][]", "crack"),
            ("attribute[kinds][]", "hole"),
            ("attribute[seen]", "2024-11-05T08:00:00+07:00"),
            ("description", "x"),
        ]));
        let got = answers(&defs(), &given, true).unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"lane": "left", "size": 1.5, "kinds": ["hole", "crack"], "seen": "2024-11-05T08:00:00+07:00"})
        );
        let codes = |pairs: &[(&str, &str)], require: bool| -> Vec<String> {
            answers(&defs(), &from_form(&form(pairs)), require).unwrap_err().into_iter().map(|(c, _)| c).collect()
        };
        assert_eq!(codes(&[("attribute[size]", "wide")], true), ["size", "lane"], "bad number, required lane missing");
        assert_eq!(codes(&[("attribute[lane]", "middle")], true), ["lane"]);
        assert_eq!(codes(&[("attribute[lane]", "left"), ("attribute[lane]", "right")], true), ["lane"]);
        assert_eq!(codes(&[("attribute[lane][]", "left")], true), ["lane"], "a single value list takes one");
        assert_eq!(codes(&[("attribute[lane]", "left"), ("attribute[colour]", "red")], true), ["colour"]);
        assert_eq!(codes(&[("attribute[lane]", "left"), ("attribute[note]", "x")], true), ["note"]);
        assert_eq!(codes(&[("attribute[lane]", "left"), ("attribute[seen]", "yesterday")], true), ["seen"]);
        assert!(answers(&defs(), &[], false).unwrap().is_empty(), "an SMS cannot answer: nothing required");
        assert!(answers(&defs(), &from_form(&form(&[("attribute[lane]", " ")])), false).unwrap().is_empty());
        assert_eq!(malformed(&form(&[("attribute[lane", "x")])), Some("attribute[lane"));
        assert_eq!(malformed(&form(&[("attribute[]", "x")])), Some("attribute[]"));
        assert_eq!(malformed(&form(&[("attribute[a][b]", "x")])), Some("attribute[a][b]"));
        assert_eq!(malformed(&form(&[("attribute[a][]", "x"), ("attribute[b]", "y")])), None);
        let json = from_json(json!({"lane": "right", "size": 2, "kinds": ["crack"]}).as_object().unwrap()).unwrap();
        assert_eq!(
            Value::Object(answers(&defs(), &json, true).unwrap()),
            json!({"lane": "right", "size": 2.0, "kinds": ["crack"]})
        );
        assert_eq!(from_json(json!({"lane": {"x": 1}}).as_object().unwrap()), Err("lane".to_owned()));
    }

    #[test]
    fn definitions_are_checked() {
        let mut list = defs();
        assert!(check(&list, "").is_empty());
        list[1].values = vec![Choice { key: "a".into(), name: "A".into() }];
        list[2].values.clear();
        list[3].code = "lane".into();
        list[4].order = Some(0);
        let fields: Vec<String> = check(&list, "categories[0].").into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "categories[0].attributes[1].values",
                "categories[0].attributes[2].values",
                "categories[0].attributes[3].code",
                "categories[0].attributes[4].order"
            ]
        );
        let all = defs();
        let order: Vec<&str> = ordered(&all).into_iter().map(|(_, a)| a.code.as_str()).collect();
        assert_eq!(order, ["lane", "size", "kinds", "seen", "note"]);
    }
}
