//! PUT /food-safety/violations (role `admin`)
//!
//! Inspection violations as their own upload, keyed by establishment id: CSV
//! (`Content-Type: text/csv`, header `establishment_id,date,description,penalty_vnd`) or a
//! JSON array of objects with those fields. Each establishment named in the upload gets
//! exactly the violations listed for it, in the upload's order; establishments not named
//! keep theirs. The whole upload is validated first (every error, by line or index), every
//! id must be a stored establishment, and it is stored in one atomic batch, so uploading the
//! same file twice changes nothing.

use std::collections::BTreeMap;

use bytes::Bytes;
use civic::platform::Statement;
use civic::validate::Fields;
use civic::{Error, FieldError, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde_json::Value;

use crate::import::{self, Upload};
use crate::model::{MAX_ID, MAX_PENALTY_VND};
use crate::store::DB;

/// The most violation rows in one upload.
pub const MAX_ROWS: usize = 50_000;
/// Rows per statement (one JSON parameter each; D1 caps a value at 2 MB).
const GROUP: usize = 2_000;
/// The CSV header (any order).
pub const COLUMNS: &[&str] = &["establishment_id", "date", "description", "penalty_vnd"];

/// One validated row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub establishment_id: String,
    pub violation: crate::model::Violation,
}

pub async fn put(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::auth::require_role(env, req.headers(), civic::auth::Role::Admin)?;
    let upload = import::read_upload(req, COLUMNS, csv_row)?;
    let rows = parse(&upload)?;
    let ids = check_ids(env, &upload, &rows).await?;
    let now = civic::web::stamp(env.now());
    env.batch(DB, &statements(&ids, &rows, &now)).await?;
    civic::web::json(StatusCode::OK, &serde_json::json!({"establishments": ids.len(), "violations": rows.len()}))
}

/// One CSV row as the JSON object it stands for (the penalty a number).
fn csv_row(cells: &[(String, String)], delimiter: char) -> Value {
    let obj = cells
        .iter()
        .map(|(k, v)| {
            let value = if k == "penalty_vnd" { import::number_cell(v, delimiter) } else { Value::String(v.clone()) };
            (k.clone(), value)
        })
        .collect();
    Value::Object(obj)
}

/// Validates every row, naming errors by CSV line or JSON index.
pub fn parse(upload: &Upload) -> Result<Vec<Row>, Error> {
    if upload.items.len() > MAX_ROWS {
        return Err(Error::Validation(vec![FieldError::new(
            "",
            Msg::new(format!("Tối đa {MAX_ROWS} dòng mỗi lần"), format!("at most {MAX_ROWS} rows per upload")),
        )]));
    }
    let mut errors = Vec::new();
    let mut rows = Vec::with_capacity(upload.items.len());
    for (i, item) in upload.items.iter().enumerate() {
        let mut f = Fields::new(upload.label(i), &mut errors);
        let Some(obj) = f.object("", item, COLUMNS) else { continue };
        let id = f.text(obj, "", "establishment_id", MAX_ID);
        let date = f.date(obj, "", "date");
        let description = f.text(obj, "", "description", 500);
        let penalty_vnd = f.integer(obj, "", "penalty_vnd", 0, MAX_PENALTY_VND);
        if let (Some(establishment_id), Some(date), Some(description), Some(penalty_vnd)) =
            (id, date, description, penalty_vnd)
        {
            rows.push(Row { establishment_id, violation: crate::model::Violation { date, description, penalty_vnd } });
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(Error::Validation(errors)) }
}

/// The distinct establishment ids of the upload, each checked to be stored.
async fn check_ids(env: &impl Platform, upload: &Upload, rows: &[Row]) -> Result<Vec<String>, Error> {
    let mut ids: Vec<String> = rows.iter().map(|r| r.establishment_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut known = std::collections::HashSet::new();
    for chunk in ids.chunks(GROUP) {
        let list = serde_json::to_string(chunk).map_err(|e| Error::Internal(e.to_string()))?;
        let found = env
            .query(DB, "SELECT id FROM establishments WHERE id IN (SELECT value FROM json_each(?1))", &[list.into()])
            .await?;
        for r in found.iter() {
            known.insert(r.str("id")?.to_owned());
        }
    }
    let errors: Vec<FieldError> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !known.contains(&r.establishment_id))
        .map(|(i, _)| {
            FieldError::new(
                format!("{}.establishment_id", upload.label(i)),
                Msg::new("Không có cơ sở với mã này", "no establishment has this id"),
            )
        })
        .collect();
    if errors.is_empty() { Ok(ids) } else { Err(Error::Validation(errors)) }
}

/// The batch: the named establishments' violations removed, the upload's inserted (numbered
/// per establishment in upload order), their counts brought up to date.
pub fn statements(ids: &[String], rows: &[Row], now: &str) -> Vec<Statement> {
    let mut seq: BTreeMap<&str, i64> = BTreeMap::new();
    let numbered: Vec<Value> = rows
        .iter()
        .map(|r| {
            let n = seq.entry(r.establishment_id.as_str()).or_insert(0);
            *n += 1;
            serde_json::json!([
                r.establishment_id,
                *n - 1,
                r.violation.date.to_string(),
                r.violation.description,
                r.violation.penalty_vnd
            ])
        })
        .collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(GROUP) {
        let list = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
        out.push(Statement::new(
            "DELETE FROM violations WHERE establishment_id IN (SELECT value FROM json_each(?1))",
            vec![list.into()],
        ));
    }
    for chunk in numbered.chunks(GROUP) {
        let list = Value::Array(chunk.to_vec()).to_string();
        out.push(Statement::new(
            "INSERT INTO violations (establishment_id, seq, date, description, penalty_vnd)
             SELECT json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'),
                    json_extract(r.value, '$[3]'), json_extract(r.value, '$[4]')
             FROM json_each(?1) AS r
             WHERE EXISTS (SELECT 1 FROM establishments WHERE id = json_extract(r.value, '$[0]'))",
            vec![list.into()],
        ));
    }
    for chunk in ids.chunks(GROUP) {
        let list = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
        out.push(Statement::new(
            "UPDATE establishments SET
               violation_count = (SELECT count(*) FROM violations WHERE establishment_id = establishments.id),
               updated_at = ?2
             WHERE id IN (SELECT value FROM json_each(?1))",
            vec![list.into(), now.into()],
        ));
    }
    out
}
