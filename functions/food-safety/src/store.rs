//! The `food` database: writes (one atomic batch per import) and reads.

use chrono::NaiveDate;
use civic::platform::{DbError, Row, Statement, Value};
use civic::text::fold;
use civic::{Error, Platform};

use crate::model::{Certificate, Establishment, Violation};

pub const DB: &str = "food";

const UPSERT: &str = "INSERT INTO establishments
    (id, name, name_folded, address, ward, ward_folded, district, district_folded, province, kind,
     cert_number, cert_issued, cert_expires, cert_authority, lat, lng, violation_count, updated_at)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
  ON CONFLICT (id) DO UPDATE SET
    name = excluded.name, name_folded = excluded.name_folded, address = excluded.address,
    ward = excluded.ward, ward_folded = excluded.ward_folded, district = excluded.district,
    district_folded = excluded.district_folded, province = excluded.province, kind = excluded.kind,
    cert_number = excluded.cert_number, cert_issued = excluded.cert_issued,
    cert_expires = excluded.cert_expires, cert_authority = excluded.cert_authority,
    lat = excluded.lat, lng = excluded.lng, violation_count = excluded.violation_count,
    updated_at = excluded.updated_at
  WHERE (name, address, ward, district, province, kind, cert_number, cert_issued, cert_expires,
         cert_authority, lat, lng, violation_count)
     IS NOT (excluded.name, excluded.address, excluded.ward, excluded.district, excluded.province,
         excluded.kind, excluded.cert_number, excluded.cert_issued, excluded.cert_expires,
         excluded.cert_authority, excluded.lat, excluded.lng, excluded.violation_count)";

/// The statements that store one establishment (row, then its violations, replaced whole).
pub fn upsert_statements(e: &Establishment, now: &str) -> Vec<Statement> {
    let cert = e.certificate.as_ref();
    let mut out = vec![
        Statement::new(
            UPSERT,
            vec![
                e.id.as_str().into(),
                e.name.as_str().into(),
                fold(&e.name).into(),
                e.address.as_str().into(),
                e.ward.as_str().into(),
                fold(&e.ward).into(),
                e.district.as_str().into(),
                fold(&e.district).into(),
                e.province.as_str().into(),
                e.kind.as_str().into(),
                cert.map(|c| c.number.clone()).into(),
                cert.map(|c| c.issued.to_string()).into(),
                cert.map(|c| c.expires.to_string()).into(),
                cert.map(|c| c.authority.clone()).into(),
                e.lat.into(),
                e.lng.into(),
                i64::try_from(e.violations.len()).unwrap_or(i64::MAX).into(),
                now.into(),
            ],
        ),
        Statement::new("DELETE FROM violations WHERE establishment_id = ?1", vec![e.id.as_str().into()]),
    ];
    for (seq, v) in e.violations.iter().enumerate() {
        out.push(Statement::new(
            "INSERT INTO violations (establishment_id, seq, date, description, penalty_vnd) VALUES (?1, ?2, ?3, ?4, ?5)",
            vec![
                e.id.as_str().into(),
                i64::try_from(seq).unwrap_or(i64::MAX).into(),
                v.date.to_string().into(),
                v.description.as_str().into(),
                v.penalty_vnd.into(),
            ],
        ));
    }
    out
}

/// Stores a validated batch atomically.
pub async fn upsert(env: &impl Platform, items: &[Establishment]) -> Result<(), Error> {
    if items.is_empty() {
        return Ok(());
    }
    let now = env.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let statements: Vec<Statement> = items.iter().flat_map(|e| upsert_statements(e, &now)).collect();
    env.batch(DB, &statements).await?;
    Ok(())
}

/// The columns every read selects.
pub const COLUMNS: &str = "id, name, name_folded, address, ward, district, province, kind, cert_number, cert_issued, \
     cert_expires, cert_authority, lat, lng, violation_count";

fn date(row: &Row<'_>, col: &str) -> Result<Option<NaiveDate>, DbError> {
    row.opt_str(col)?.map(|s| s.parse::<NaiveDate>().map_err(|e| DbError(format!("{col}: {e}")))).transpose()
}

/// One stored establishment without its violation list (see [`Summary::violations`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub establishment: Establishment,
    pub name_folded: String,
    pub violations: i64,
}

pub fn summary(row: &Row<'_>) -> Result<Summary, DbError> {
    let certificate = match (
        row.opt_str("cert_number")?,
        date(row, "cert_issued")?,
        date(row, "cert_expires")?,
        row.opt_str("cert_authority")?,
    ) {
        (Some(number), Some(issued), Some(expires), Some(authority)) => {
            Some(Certificate { number: number.to_owned(), issued, expires, authority: authority.to_owned() })
        }
        _ => None,
    };
    Ok(Summary {
        establishment: Establishment {
            id: row.str("id")?.to_owned(),
            name: row.str("name")?.to_owned(),
            address: row.str("address")?.to_owned(),
            ward: row.str("ward")?.to_owned(),
            district: row.str("district")?.to_owned(),
            province: row.str("province")?.to_owned(),
            kind: row.str("kind")?.to_owned(),
            certificate,
            violations: Vec::new(),
            lat: row.opt_f64("lat")?,
            lng: row.opt_f64("lng")?,
        },
        name_folded: row.str("name_folded")?.to_owned(),
        violations: row.i64("violation_count")?,
    })
}

/// One establishment with its violations, if it exists.
pub async fn get(env: &impl Platform, id: &str) -> Result<Option<Establishment>, Error> {
    let rows = env.query(DB, &format!("SELECT {COLUMNS} FROM establishments WHERE id = ?1"), &[id.into()]).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let mut e = summary(&row)?.establishment;
    let vs = env
        .query(
            DB,
            "SELECT date, description, penalty_vnd FROM violations WHERE establishment_id = ?1 ORDER BY seq",
            &[id.into()],
        )
        .await?;
    for v in vs.iter() {
        e.violations.push(Violation {
            date: date(&v, "date")?.ok_or_else(|| DbError("violation without date".into()))?,
            description: v.str("description")?.to_owned(),
            penalty_vnd: v.i64("penalty_vnd")?,
        });
    }
    Ok(Some(e))
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Filters for [`candidates`]: every word must occur in the folded name; `district` must
/// occur in the folded district; `place` in the folded district or ward.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub words: Vec<String>,
    pub district: Option<String>,
    pub place: Option<String>,
}

/// The most candidates read for ranking.
pub const MAX_CANDIDATES: usize = 2_000;

/// Establishments matching a filter (unranked, at most [`MAX_CANDIDATES`]), and how many
/// match in all.
pub async fn candidates(env: &impl Platform, filter: &Filter) -> Result<(Vec<Summary>, i64), Error> {
    let mut clauses = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    for w in &filter.words {
        params.push(format!("%{}%", like_escape(w)).into());
        clauses.push(format!("name_folded LIKE ?{} ESCAPE '\\'", params.len()));
    }
    if let Some(d) = &filter.district {
        params.push(format!("%{}%", like_escape(d)).into());
        clauses.push(format!("district_folded LIKE ?{} ESCAPE '\\'", params.len()));
    }
    if let Some(p) = &filter.place {
        params.push(format!("%{}%", like_escape(p)).into());
        let n = params.len();
        clauses.push(format!("(district_folded LIKE ?{n} ESCAPE '\\' OR ward_folded LIKE ?{n} ESCAPE '\\')"));
    }
    let filter_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let rows = env
        .query(
            DB,
            &format!(
                "SELECT {COLUMNS} FROM establishments {filter_sql} ORDER BY name_folded, id LIMIT {MAX_CANDIDATES}"
            ),
            &params,
        )
        .await?;
    let list = rows.iter().map(|r| summary(&r)).collect::<Result<Vec<_>, _>>()?;
    let total = if list.len() < MAX_CANDIDATES {
        i64::try_from(list.len()).unwrap_or(i64::MAX)
    } else {
        let n = env.query(DB, &format!("SELECT count(*) AS n FROM establishments {filter_sql}"), &params).await?;
        n.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0)
    };
    Ok((list, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_escape_table() {
        for (input, want) in [("pho", "pho"), ("100%", "100\\%"), ("a_b", "a\\_b"), ("c\\d", "c\\\\d")] {
            assert_eq!(like_escape(input), want);
        }
    }
}
