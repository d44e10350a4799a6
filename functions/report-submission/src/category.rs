//! Categories of reports (Open311 "services"), the agencies, and the routing table that says
//! which agency answers a category in a district.
//!
//! `PUT /reports/categories` (admin) sets them, in this shape (every category needs a `*`
//! route, its default; a district route, keyed by the district's name, wins over it):
//!
//! ```json
//! {"agencies": [{"code": "ubnd-hai-chau", "name": "UBND quận Hải Châu"}, ...],
//!  "categories": [{"code": "road-damage", "name_vi": "Hư hỏng mặt đường", "name_en": "Road damage",
//!                  "description_vi": "...", "description_en": "...", "keywords": ["o ga", "duong"],
//!                  "deadline_hours": 72, "routes": {"*": "so-gtvt", "Hải Châu": "ubnd-hai-chau"},
//!                  "attributes": [...]}]}
//! ```
//!
//! `attributes` (optional, default none) are the category's extra questions, the Open311
//! service definition: see [`crate::attribute`].
//!
//! `GET /reports/categories` lists them (anyone).

use std::collections::BTreeMap;

use bytes::Bytes;
use civic::auth::Role;
use civic::platform::Statement;
use civic::{Error, FieldError, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::attribute::{self, Attribute};
use crate::store::DB;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub code: String,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub description_vi: String,
    pub description_en: String,
    pub keywords: Vec<String>,
    pub deadline_hours: i64,
    /// District name (or `*`) -> agency code.
    pub routes: BTreeMap<String, String>,
    /// Extra questions (Open311 service definition attributes).
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub agencies: Vec<Agency>,
    pub categories: Vec<Category>,
}

const MAX_BODY: usize = 256 * 1024;

/// The longest category or agency code, in bytes (ASCII).
pub const MAX_CODE: usize = 64;
/// The longest agency or category name, in bytes.
const MAX_NAME: usize = 200;
/// The longest category description, in bytes.
const MAX_DESCRIPTION: usize = 2_000;
/// The longest deadline: a year, in hours.
const MAX_DEADLINE_HOURS: i64 = 24 * 365;

fn code_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_CODE
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Every problem of a catalogue, by field.
pub fn check(c: &Catalogue) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err =
        |field: String, vi: &str, en: &str| errors.push(FieldError::new(field, Msg::new(vi.to_owned(), en.to_owned())));
    let agencies: Vec<&str> = c.agencies.iter().map(|a| a.code.as_str()).collect();
    for (i, a) in c.agencies.iter().enumerate() {
        if !code_ok(&a.code) {
            err(format!("agencies[{i}].code"), "Mã chỉ gồm chữ, số, - _ .", "letters, digits, - _ . only");
        }
        if a.name.trim().is_empty() || a.name.len() > MAX_NAME {
            let (vi, en) =
                (format!("Bắt buộc, tối đa {MAX_NAME} ký tự"), format!("required, at most {MAX_NAME} characters"));
            err(format!("agencies[{i}].name"), &vi, &en);
        }
    }
    for (i, k) in c.categories.iter().enumerate() {
        let at = |f: &str| format!("categories[{i}].{f}");
        if !code_ok(&k.code) {
            err(at("code"), "Mã chỉ gồm chữ, số, - _ .", "letters, digits, - _ . only");
        }
        for (f, v, max) in [
            ("name_vi", &k.name_vi, MAX_NAME),
            ("name_en", &k.name_en, MAX_NAME),
            ("description_vi", &k.description_vi, MAX_DESCRIPTION),
            ("description_en", &k.description_en, MAX_DESCRIPTION),
        ] {
            if v.trim().is_empty() || v.len() > max {
                err(at(f), "Bắt buộc, không quá dài", "required, not too long");
            }
        }
        if !(1..=MAX_DEADLINE_HOURS).contains(&k.deadline_hours) {
            let (vi, en) =
                (format!("Từ 1 đến {MAX_DEADLINE_HOURS} giờ"), format!("from 1 to {MAX_DEADLINE_HOURS} hours"));
            err(at("deadline_hours"), &vi, &en);
        }
        if !k.routes.contains_key("*") {
            err(at("routes"), "Cần tuyến mặc định \"*\"", "needs a default \"*\" route");
        }
        for (district, agency) in &k.routes {
            if !agencies.contains(&agency.as_str()) {
                err(at(&format!("routes.{district}")), "Cơ quan không có trong danh sách", "not one of the agencies");
            }
        }
    }
    for (i, k) in c.categories.iter().enumerate() {
        errors.extend(attribute::check(&k.attributes, &format!("categories[{i}].")));
    }
    errors
}

/// PUT /reports/categories
pub async fn put(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::auth::require_role(env, req.headers(), Role::Admin)?;
    let catalogue: Catalogue = civic::web::read_json(req, MAX_BODY)?;
    let errors = check(&catalogue);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    save(env, &catalogue).await?;
    civic::web::json(
        StatusCode::OK,
        &serde_json::json!({"agencies": catalogue.agencies.len(), "categories": catalogue.categories.len()}),
    )
}

/// Stores a checked catalogue in one batch: agencies and categories upserted, each
/// category's routes replaced.
pub async fn save(env: &impl Platform, catalogue: &Catalogue) -> Result<(), Error> {
    let mut statements = Vec::new();
    for a in &catalogue.agencies {
        statements.push(Statement::new(
            "INSERT INTO agencies (code, name) VALUES (?1, ?2) ON CONFLICT (code) DO UPDATE SET name = excluded.name",
            vec![a.code.as_str().into(), a.name.as_str().into()],
        ));
    }
    for k in &catalogue.categories {
        let keywords = k.keywords.iter().map(|w| civic::text::words(w).join(" ")).collect::<Vec<_>>().join(",");
        let attributes = serde_json::to_string(&k.attributes).map_err(|e| Error::Internal(e.to_string()))?;
        statements.push(Statement::new(
            "INSERT INTO categories (code, name_vi, name_en, description_vi, description_en, keywords, deadline_hours,
                                     attributes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (code) DO UPDATE SET name_vi = excluded.name_vi, name_en = excluded.name_en,
               description_vi = excluded.description_vi, description_en = excluded.description_en,
               keywords = excluded.keywords, deadline_hours = excluded.deadline_hours,
               attributes = excluded.attributes",
            vec![
                k.code.as_str().into(),
                k.name_vi.as_str().into(),
                k.name_en.as_str().into(),
                k.description_vi.as_str().into(),
                k.description_en.as_str().into(),
                keywords.into(),
                k.deadline_hours.into(),
                attributes.into(),
            ],
        ));
        statements.push(Statement::new("DELETE FROM routes WHERE category = ?1", vec![k.code.as_str().into()]));
        for (district, agency) in &k.routes {
            let key = if district == "*" { "*".to_owned() } else { civic::district::key(district) };
            statements.push(Statement::new(
                "INSERT INTO routes (category, district, agency) VALUES (?1, ?2, ?3)",
                vec![k.code.as_str().into(), key.into(), agency.as_str().into()],
            ));
        }
    }
    env.batch(DB, &statements).await?;
    Ok(())
}

/// A category as reports use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub deadline_hours: i64,
    pub attributes: Vec<Attribute>,
}

/// The attribute definitions stored in `categories.attributes`; unreadable JSON is a
/// broken database.
pub fn stored_attributes(json: &str) -> Result<Vec<Attribute>, Error> {
    serde_json::from_str(json).map_err(|e| Error::Internal(format!("categories.attributes: {e}")))
}

/// A category by its code (`None`: no such category).
pub async fn get(env: &impl Platform, code: &str) -> Result<Option<Known>, Error> {
    let rows = env
        .query(
            DB,
            "SELECT code, name_vi, name_en, deadline_hours, attributes FROM categories WHERE code = ?1",
            &[code.into()],
        )
        .await?;
    let Some(r) = rows.first() else { return Ok(None) };
    Ok(Some(Known {
        code: r.str("code")?.to_owned(),
        name_vi: r.str("name_vi")?.to_owned(),
        name_en: r.str("name_en")?.to_owned(),
        deadline_hours: r.i64("deadline_hours")?,
        attributes: stored_attributes(r.str("attributes")?)?,
    }))
}

/// The agency that answers `category` in `district` (folded), else the category's default.
pub async fn route(env: &impl Platform, category: &str, district: Option<&str>) -> Result<Option<Agency>, Error> {
    let rows = env
        .query(
            DB,
            "SELECT a.code, a.name FROM routes r JOIN agencies a ON a.code = r.agency
             WHERE r.category = ?1 AND r.district IN (?2, '*') ORDER BY r.district = '*' LIMIT 1",
            &[category.into(), district.unwrap_or("*").into()],
        )
        .await?;
    let Some(r) = rows.first() else { return Ok(None) };
    Ok(Some(Agency { code: r.str("code")?.to_owned(), name: r.str("name")?.to_owned() }))
}

/// GET /reports/categories
pub async fn list(env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let rows = env
        .query(
            DB,
            "SELECT code, name_vi, name_en, description_vi, description_en, deadline_hours, attributes
             FROM categories ORDER BY code",
            &[],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        out.push(
            serde_json::json!({"code": r.str("code")?, "name_vi": r.str("name_vi")?, "name_en": r.str("name_en")?,
            "description_vi": r.str("description_vi")?, "description_en": r.str("description_en")?,
            "deadline_hours": r.i64("deadline_hours")?,
            "attributes": stored_attributes(r.str("attributes")?)?}),
        );
    }
    civic::web::json(StatusCode::OK, &out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn catalogue_checks_name_each_problem() {
        let c: Catalogue = serde_json::from_value(json!({
            "agencies": [{"code": "so-gtvt", "name": "Sở Giao thông vận tải"}, {"code": "bad code", "name": ""}],
            "categories": [{"code": "road-damage", "name_vi": "Hư hỏng mặt đường", "name_en": "Road damage",
                "description_vi": "Ổ gà", "description_en": "Potholes", "keywords": ["o ga"], "deadline_hours": 0,
                "routes": {"Hải Châu": "nobody"}}]}))
        .unwrap();
        let fields: Vec<String> = check(&c).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "agencies[1].code",
                "agencies[1].name",
                "categories[0].deadline_hours",
                "categories[0].routes",
                "categories[0].routes.Hải Châu"
            ]
        );
    }
}
