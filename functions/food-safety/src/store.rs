//! The `food` database: writes (one atomic batch per import) and reads.

use chrono::NaiveDate;
use civic::platform::{DbError, Row, Rows, Statement, Value};
use civic::text::fold;
use civic::{Error, Platform};

use crate::model::{Certificate, Establishment, Violation};

pub const DB: &str = "food";

/// Rows per statement group of an import. Each group is bound as ONE JSON parameter and
/// unpacked by SQLite's `json_each`, so an import of any size is three statements per group:
/// D1 caps bound parameters (100 per statement), queries per invocation (1,000) and a value's
/// size (2 MB); 500 establishments make about 400 KB of JSON.
pub const GROUP: usize = 500;

const UPSERT: &str = "INSERT INTO establishments
    (id, name, name_folded, address, ward, ward_folded, district, district_folded, province, place_folded, kind,
     cert_number, cert_issued, cert_expires, cert_authority, lat, lng, violation_count, updated_at)
  SELECT json_extract(e.value, '$.id'), json_extract(e.value, '$.name'), json_extract(e.value, '$.name_folded'), json_extract(e.value, '$.address'),
     json_extract(e.value, '$.ward'), json_extract(e.value, '$.ward_folded'), json_extract(e.value, '$.district'), json_extract(e.value, '$.district_folded'),
     json_extract(e.value, '$.province'), json_extract(e.value, '$.place_folded'), json_extract(e.value, '$.kind'), json_extract(e.value, '$.cert_number'), json_extract(e.value, '$.cert_issued'),
     json_extract(e.value, '$.cert_expires'), json_extract(e.value, '$.cert_authority'), json_extract(e.value, '$.lat'), json_extract(e.value, '$.lng'),
     coalesce(json_array_length(e.value, '$.violations'),
              (SELECT x.violation_count FROM establishments AS x WHERE x.id = json_extract(e.value, '$.id')), 0), ?2
  FROM json_each(?1) AS e WHERE true
  ON CONFLICT (id) DO UPDATE SET
    name = excluded.name, name_folded = excluded.name_folded, address = excluded.address,
    ward = excluded.ward, ward_folded = excluded.ward_folded, district = excluded.district,
    district_folded = excluded.district_folded, province = excluded.province,
    place_folded = excluded.place_folded, kind = excluded.kind,
    cert_number = excluded.cert_number, cert_issued = excluded.cert_issued,
    cert_expires = excluded.cert_expires, cert_authority = excluded.cert_authority,
    lat = excluded.lat, lng = excluded.lng, violation_count = excluded.violation_count,
    updated_at = excluded.updated_at
  WHERE (name, address, ward, district, province, place_folded, kind, cert_number, cert_issued, cert_expires,
         cert_authority, lat, lng, violation_count)
     IS NOT (excluded.name, excluded.address, excluded.ward, excluded.district, excluded.province,
         excluded.place_folded, excluded.kind, excluded.cert_number, excluded.cert_issued, excluded.cert_expires,
         excluded.cert_authority, excluded.lat, excluded.lng, excluded.violation_count)";

const CLEAR_VIOLATIONS: &str = "DELETE FROM violations WHERE establishment_id IN
    (SELECT json_extract(e.value, '$.id') FROM json_each(?1) AS e WHERE json_type(e.value, '$.violations') IS NOT NULL)";

const INSERT_VIOLATIONS: &str = "INSERT INTO violations (establishment_id, seq, date, description, penalty_vnd)
  SELECT json_extract(e.value, '$.id'), v.key, json_extract(v.value, '$.date'), json_extract(v.value, '$.description'), json_extract(v.value, '$.penalty_vnd')
  FROM json_each(?1) AS e, json_each(e.value, '$.violations') AS v";

/// What an import does with the stored violations of the places it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violations {
    /// Replaced by the imported lists (JSON).
    Replace,
    /// Left as they are (CSV, whose violations are their own upload).
    Keep,
}

/// One establishment as the import statements read it: flat, with the search keys; without
/// `violations` when they are kept.
fn row_json(e: &Establishment, violations: Violations) -> serde_json::Value {
    let cert = e.certificate.as_ref();
    let mut row = serde_json::json!({
        "id": e.id, "name": e.name, "name_folded": fold(&e.name), "address": e.address,
        "ward": e.ward, "ward_folded": fold(&e.ward), "district": e.district,
        "district_folded": fold(&e.district), "province": e.province, "place_folded": place_folded(e),
        "kind": e.kind,
        "cert_number": cert.map(|c| &c.number), "cert_issued": cert.map(|c| c.issued.to_string()),
        "cert_expires": cert.map(|c| c.expires.to_string()), "cert_authority": cert.map(|c| &c.authority),
        "lat": e.lat, "lng": e.lng,
    });
    if violations == Violations::Replace {
        row["violations"] = serde_json::json!(e.violations);
    }
    row
}

/// The words a place is found by besides its name: address, ward, district, province.
pub fn place_folded(e: &Establishment) -> String {
    fold(&format!("{} {} {} {}", e.address, e.ward, e.district, e.province))
}

const INSERT_KEYS: &str = "INSERT OR IGNORE INTO search_keys (key, word)
  SELECT json_extract(k.value, '$[0]'), json_extract(k.value, '$[1]') FROM json_each(?1) AS k";

/// The deletion keys of every word of a group's names and places, as `[[key, word], ...]`.
fn keys_json(group: &[Establishment]) -> String {
    let mut seen = std::collections::BTreeSet::new();
    for e in group {
        for w in civic::text::words(&e.name).into_iter().chain(civic::text::words(&place_folded(e))) {
            seen.insert(w);
        }
    }
    let pairs: Vec<(String, &String)> =
        seen.iter().flat_map(|w| crate::fuzzy::index_keys(w).into_iter().map(move |k| (k, w))).collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_owned())
}

/// The statements that store a group of establishments: rows upserted (unchanged rows are
/// left alone; triggers keep the text index in step), their violations replaced whole or
/// kept, and the typo keys of their words added.
pub fn upsert_statements(group: &[Establishment], violations: Violations, now: &str) -> Vec<Statement> {
    let json = serde_json::Value::Array(group.iter().map(|e| row_json(e, violations)).collect()).to_string();
    vec![
        Statement::new(UPSERT, vec![json.as_str().into(), now.into()]),
        Statement::new(CLEAR_VIOLATIONS, vec![json.as_str().into()]),
        Statement::new(INSERT_VIOLATIONS, vec![json.into()]),
        Statement::new(INSERT_KEYS, vec![keys_json(group).into()]),
    ]
}

/// Stores a validated batch atomically (one [`Platform::batch`]).
pub async fn upsert(env: &impl Platform, items: &[Establishment], violations: Violations) -> Result<(), Error> {
    if items.is_empty() {
        return Ok(());
    }
    let now = civic::web::stamp(env.now());
    let statements: Vec<Statement> = items.chunks(GROUP).flat_map(|g| upsert_statements(g, violations, &now)).collect();
    env.batch(DB, &statements).await?;
    Ok(())
}

/// The columns every read selects.
pub const COLUMNS: &str = "id, name, name_folded, address, ward, ward_folded, district, district_folded, province, \
     place_folded, kind, cert_number, cert_issued, cert_expires, cert_authority, lat, lng, violation_count";

fn date(row: &Row<'_>, col: &str) -> Result<Option<NaiveDate>, DbError> {
    row.opt_str(col)?.map(|s| s.parse::<NaiveDate>().map_err(|e| DbError(format!("{col}: {e}")))).transpose()
}

/// One stored establishment without its violation list (see [`Summary::violations`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub establishment: Establishment,
    pub name_folded: String,
    /// The folded address, ward, district and province.
    pub place_folded: String,
    pub ward_folded: String,
    pub district_folded: String,
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
        place_folded: row.str("place_folded")?.to_owned(),
        ward_folded: row.str("ward_folded")?.to_owned(),
        district_folded: row.str("district_folded")?.to_owned(),
        violations: row.i64("violation_count")?,
    })
}

/// One establishment with its violations, if it exists: one round trip (a batch of the row
/// and its violations).
pub async fn get(env: &impl Platform, id: &str) -> Result<Option<Establishment>, Error> {
    let rows = env
        .batch(
            DB,
            &[
                Statement::new(format!("SELECT {COLUMNS} FROM establishments WHERE id = ?1"), vec![id.into()]),
                Statement::new(
                    "SELECT date, description, penalty_vnd FROM violations WHERE establishment_id = ?1
                     ORDER BY date DESC, seq",
                    vec![id.into()],
                ),
            ],
        )
        .await?;
    let (Some(place), Some(vs)) = (rows.first(), rows.get(1)) else {
        return Err(Error::Internal("an establishment's read did not answer".into()));
    };
    let Some(row) = place.first() else {
        return Ok(None);
    };
    let mut e = summary(&row)?.establishment;
    for v in vs.iter() {
        e.violations.push(Violation {
            date: date(&v, "date")?.ok_or_else(|| DbError("violation without date".into()))?,
            description: v.str("description")?.to_owned(),
            penalty_vnd: v.i64("penalty_vnd")?,
        });
    }
    Ok(Some(e))
}

/// One establishment without its violation list.
pub async fn summary_of(env: &impl Platform, id: &str) -> Result<Option<Summary>, Error> {
    let rows = env.query(DB, &format!("SELECT {COLUMNS} FROM establishments WHERE id = ?1"), &[id.into()]).await?;
    Ok(rows.first().map(|r| summary(&r)).transpose()?)
}

/// One page of every establishment (open data), by id, optionally in one district (folded
/// key); with the count of all of them.
pub async fn page(
    env: &impl Platform,
    district: Option<&str>,
    page: i64,
    size: i64,
) -> Result<(Vec<Summary>, i64), Error> {
    let (filter, mut params): (&str, Vec<Value>) = match district {
        Some(d) => ("WHERE instr(district_folded, ?1) > 0", vec![d.into()]),
        None => ("", Vec::new()),
    };
    let total = env.query(DB, &format!("SELECT count(*) AS n FROM establishments {filter}"), &params).await?;
    let total = total.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0);
    let n = params.len();
    params.push(size.into());
    params.push(((page - 1) * size).into());
    let rows = env
        .query(
            DB,
            &format!("SELECT {COLUMNS} FROM establishments {filter} ORDER BY id LIMIT ?{} OFFSET ?{}", n + 1, n + 2),
            &params,
        )
        .await?;
    let list = rows.iter().map(|r| summary(&r)).collect::<Result<Vec<_>, _>>()?;
    Ok((list, total))
}

/// Candidates of a `near` search: the places of the bounding box (`lat`/`lng` ranges, through
/// the index `establishments_near`) whose planar key ([`civic::geo::Planar`]) is within the
/// radius with [`civic::geo::SLACK`], at most `?11`, best first by the `ORDER BY` spliced in
/// (a constant of [`near`]); `total` counts those within the radius itself. The inner
/// selects read the covering index only; the full rows are read for the candidates alone.
pub const NEAR: &str = "WITH near AS (
    SELECT seq, cert_issued, cert_expires,
           (lat - ?1) * (lat - ?1) + ((lng - ?2) * (?3 - ?4 * (lat - ?1))) * ((lng - ?2) * (?3 - ?4 * (lat - ?1))) AS d2
    FROM establishments
    WHERE lat BETWEEN ?5 AND ?6 AND lng BETWEEN ?7 AND ?8
  )
  SELECT {COLUMNS}, (SELECT count(*) FROM near WHERE d2 <= ?9) AS total
  FROM establishments
  WHERE seq IN (SELECT seq FROM near WHERE d2 <= ?10 ORDER BY {ORDER} LIMIT ?11)";

/// Nearest first.
const BY_DISTANCE: &str = "d2, seq";
/// Places holding a certificate valid on day `?12` (issued on or before it, expiring on or
/// after it: valid or expiring) first, then nearest first.
const CERTIFIED_FIRST: &str = "coalesce(cert_issued <= ?12 AND cert_expires >= ?12, 0) DESC, d2, seq";

/// The SQL of a `near` search (see [`NEAR`]).
pub fn near_sql(certified_first: bool) -> String {
    NEAR.replace("{COLUMNS}", COLUMNS).replace("{ORDER}", if certified_first { CERTIFIED_FIRST } else { BY_DISTANCE })
}

/// Candidates for the places within `metres` of `at`, in one statement: at most `take`
/// places with coordinates, nearest first (or, with `certified_on`, those with a certificate
/// valid that day first), and how many lie within `metres`. The order and the count use the
/// planar key, which agrees with the great-circle distance to millimetres; the caller
/// measures exactly ([`crate::nearby::find`]). Places without coordinates are never found.
pub async fn near(
    env: &impl Platform,
    at: civic::command::Location,
    metres: f64,
    take: usize,
    certified_on: Option<NaiveDate>,
) -> Result<(Vec<Summary>, i64), Error> {
    use civic::geo::{Planar, SLACK, bounding_box, planar_bound};
    let key = Planar::at(at);
    let b = bounding_box(at, metres * (1.0 + SLACK));
    let mut params: Vec<Value> = vec![
        key.lat0.into(),
        key.lng0.into(),
        key.c.into(),
        key.s.into(),
        b.south.into(),
        b.north.into(),
        b.west.into(),
        b.east.into(),
        planar_bound(metres).into(),
        planar_bound(metres * (1.0 + SLACK)).into(),
        i64::try_from(take).unwrap_or(i64::MAX).into(),
    ];
    if let Some(day) = certified_on {
        params.push(day.to_string().into());
    }
    let rows = env.query(DB, &near_sql(certified_on.is_some()), &params).await?;
    let total = rows.first().map(|r| r.i64("total")).transpose()?.unwrap_or(0);
    let list = rows.iter().map(|r| summary(&r)).collect::<Result<Vec<_>, _>>()?;
    Ok((list, total))
}

/// Removes an establishment (a place that closed) with its violations; `false` when there was
/// none with that id.
pub async fn delete(env: &impl Platform, id: &str) -> Result<bool, Error> {
    let results = env
        .batch(
            DB,
            &[
                civic::platform::Statement::new("DELETE FROM violations WHERE establishment_id = ?1", vec![id.into()]),
                civic::platform::Statement::new(
                    "DELETE FROM establishments WHERE id = ?1 RETURNING id",
                    vec![id.into()],
                ),
            ],
        )
        .await?;
    Ok(results.get(1).is_some_and(|r| !r.is_empty()))
}

/// The statement that finds the indexed words sharing a deletion key with any of `keys` (see
/// [`crate::fuzzy`]): rows of one column, `word`. Read them with [`words`].
pub fn words_statement(keys: &[String]) -> Statement {
    let keys = serde_json::to_string(keys).unwrap_or_else(|_| "[]".to_owned());
    Statement::new(
        "SELECT DISTINCT k.word FROM json_each(?1) AS j JOIN search_keys AS k ON k.key = j.value",
        vec![keys.into()],
    )
}

/// The words of [`words_statement`]'s rows.
pub fn words(rows: &Rows) -> Result<Vec<String>, Error> {
    Ok(rows.iter().map(|r| r.str("word").map(str::to_owned)).collect::<Result<_, _>>()?)
}

/// One step of a text search: the places whose words match an FTS5 query. The steps of a
/// search are read together, by one statement ([`steps_statement`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The FTS5 query.
    pub expr: String,
    /// The most places read, in the index's order (the best of a common query are read by
    /// name instead: [`names_statement`]).
    pub limit: usize,
    /// Whether, when more than `limit` match, the statement counts them all.
    pub count: bool,
    /// Earlier steps (by position) and a number of places: this step reads nothing once
    /// that earlier step read at least that many.
    pub unless: Vec<(usize, usize)>,
    /// How many places the same query read in an earlier round trip: the step is not run
    /// again, and that number stands for it in the conditions of later steps.
    pub known: Option<usize>,
}

impl Step {
    pub fn new(expr: String, limit: usize) -> Step {
        Step { expr, limit, count: false, unless: Vec::new(), known: None }
    }
}

/// What one [`Step`] read.
#[derive(Debug, Default)]
pub struct StepRows {
    pub places: Vec<Summary>,
    /// How many places match, when the step counts and more than its `limit` matched.
    pub total: Option<i64>,
}

/// `FROM ... WHERE ...` of a text search, with `from` first in the `FROM` list, and its
/// parameters numbered from `?{first}`: the FTS5 query, then the district. A district is
/// looked up in the index too (its words as a phrase of the place), then checked on the
/// column.
fn fts_filter(expr: &str, district: Option<&str>, from: &str, first: usize) -> (String, Vec<Value>) {
    let (a, b) = (first, first + 1);
    match district {
        Some(d) => {
            let words = civic::text::words(d);
            let expr = if words.is_empty() {
                expr.to_owned()
            } else {
                format!("({expr}) AND place_folded : \"{}\"", words.join(" "))
            };
            (
                format!(
                    "FROM {from}establishments_fts JOIN establishments AS e ON e.seq = establishments_fts.rowid
                     WHERE establishments_fts MATCH ?{a} AND instr(e.district_folded, ?{b}) > 0"
                ),
                vec![expr.into(), d.into()],
            )
        }
        None => (format!("FROM {from}establishments_fts WHERE establishments_fts MATCH ?{a}"), vec![expr.into()]),
    }
}

/// The steps of a search as one statement (one round trip, and each match list read once):
/// step `i` is the materialised list `s{i}` of at most `limit + 1` matches in the index's
/// order, empty when one of its `unless` conditions holds (checked on the earlier lists, so
/// the index is not read for it); with, for a step that counts, the number of all its
/// matches when more than `limit` matched (counted only then). Rows: [`COLUMNS`], `step`
/// and `total`. A step `known` is left out. Read them with [`read_steps`].
pub fn steps_statement(steps: &[Step], district: Option<&str>) -> Statement {
    let mut params: Vec<Value> = Vec::new();
    let mut ctes: Vec<String> = Vec::new();
    let mut union: Vec<String> = Vec::new();
    let read = |j: usize| match steps.get(j).and_then(|s| s.known) {
        Some(n) => n.to_string(),
        None => format!("(SELECT count(*) FROM s{j})"),
    };
    for (i, step) in steps.iter().enumerate().filter(|(_, s)| s.known.is_none()) {
        let guard: Vec<String> = step.unless.iter().map(|(j, n)| format!("{} < {n}", read(*j))).collect();
        let from = if guard.is_empty() {
            String::new()
        } else {
            format!("(SELECT 1 WHERE {}) AS g CROSS JOIN ", guard.join(" AND "))
        };
        let (filter, p) = fts_filter(&step.expr, district, &from, params.len() + 1);
        params.extend(p);
        ctes.push(format!(
            "s{i} AS MATERIALIZED (SELECT establishments_fts.rowid AS seq {filter} LIMIT {})",
            step.limit + 1
        ));
        let total = if step.count {
            let (all, p) = fts_filter(&step.expr, district, "", params.len() + 1);
            params.extend(p);
            format!("CASE WHEN (SELECT count(*) FROM s{i}) > {} THEN (SELECT count(*) {all}) END", step.limit)
        } else {
            "NULL".to_owned()
        };
        ctes.push(format!("t{i} AS MATERIALIZED (SELECT {total} AS n)"));
        union.push(format!("SELECT {i} AS step, s{i}.seq AS seq, t{i}.n AS total FROM s{i}, t{i}"));
    }
    if union.is_empty() {
        union.push("SELECT NULL AS step, NULL AS seq, NULL AS total WHERE 0".to_owned());
    }
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("e.{c}")).collect();
    let with = if ctes.is_empty() { String::new() } else { format!("WITH {}", ctes.join(",\n")) };
    let sql = format!(
        "{with} SELECT {}, s.step AS step, s.total AS total FROM ({}) AS s JOIN establishments AS e ON e.seq = s.seq",
        columns.join(", "),
        union.join(" UNION ALL ")
    );
    Statement::new(sql, params)
}

/// What each of `n` steps read, from the rows of [`steps_statement`].
pub fn read_steps(rows: &Rows, n: usize) -> Result<Vec<StepRows>, Error> {
    let mut out: Vec<StepRows> = (0..n).map(|_| StepRows::default()).collect();
    for r in rows.iter() {
        let step = usize::try_from(r.i64("step")?).ok().filter(|s| *s < n);
        let Some(read) = step.and_then(|s| out.get_mut(s)) else {
            return Err(Error::Internal("a search step out of range".into()));
        };
        read.total = read.total.or(r.opt_i64("total")?);
        read.places.push(summary(&r)?);
    }
    Ok(out)
}

/// The most places [`names_statement`] reads per name.
pub const PER_NAME: usize = 20;

/// The places whose folded name is, or starts with, one of `names` (folded words joined by
/// single spaces), optionally in one district (folded key): through the index of names, in
/// its order (the name itself first), at most [`PER_NAME`] per name. Read them with [`summaries`].
pub fn names_statement(names: &[String], district: Option<&str>) -> Statement {
    let list = serde_json::to_string(names).unwrap_or_else(|_| "[]".to_owned());
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("e.{c}")).collect();
    let sql = format!(
        "SELECT {} FROM json_each(?1) AS n JOIN establishments AS e
           ON e.seq IN (SELECT x.seq FROM establishments AS x
                        WHERE x.name_folded >= n.value AND x.name_folded < n.value || '~'
                          AND (?2 IS NULL OR instr(x.district_folded, ?2) > 0)
                        ORDER BY x.name_folded LIMIT {PER_NAME})",
        columns.join(", ")
    );
    Statement::new(sql, vec![list.into(), district.into()])
}

/// The places of rows that select [`COLUMNS`].
pub fn summaries(rows: &Rows) -> Result<Vec<Summary>, Error> {
    Ok(rows.iter().map(|r| summary(&r)).collect::<Result<Vec<_>, _>>()?)
}

/// Runs search steps in one batch (one round trip) after `first` (statements whose rows
/// come first, e.g. [`words_statement`]). Returns the rows of `first` and what each step
/// read, in order.
pub async fn run_steps(
    env: &impl Platform,
    first: Vec<Statement>,
    steps: &[Step],
    district: Option<&str>,
) -> Result<(Vec<Rows>, Vec<StepRows>), Error> {
    let n = first.len();
    let mut statements = first;
    if !steps.is_empty() {
        statements.push(steps_statement(steps, district));
    }
    if statements.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut rows = env.batch(DB, &statements).await?;
    let stepped = rows.split_off(n.min(rows.len()));
    let read = match stepped.first() {
        Some(r) => read_steps(r, steps.len())?,
        None if steps.is_empty() => Vec::new(),
        None => return Err(Error::Internal("the search steps did not answer".into())),
    };
    Ok((rows, read))
}

#[cfg(test)]
mod tests {
    use super::*;
    use civic::platform::native::{NativePlatform, block_on};

    fn env() -> NativePlatform {
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        NativePlatform::in_memory_migrated(&[DB], &migrations).unwrap()
    }

    fn items() -> Vec<Establishment> {
        let body: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/data/establishments.json")).unwrap();
        crate::import::parse_batch(&body).unwrap()
    }

    fn updated(env: &NativePlatform, id: &str) -> String {
        let rows =
            block_on(env.query(DB, "SELECT updated_at FROM establishments WHERE id = ?1", &[id.into()])).unwrap();
        rows.first().unwrap().str("updated_at").unwrap().to_owned()
    }

    #[test]
    fn delete_removes_the_place_and_its_violations() {
        let env = env();
        block_on(upsert(&env, &items(), Violations::Replace)).unwrap();
        assert!(block_on(delete(&env, "E2E-0003")).unwrap());
        assert!(!block_on(delete(&env, "E2E-0003")).unwrap(), "gone already");
        assert_eq!(block_on(get(&env, "E2E-0003")).unwrap(), None);
        let left =
            block_on(env.query(DB, "SELECT count(*) AS n FROM violations WHERE establishment_id = 'E2E-0003'", &[]))
                .unwrap();
        assert_eq!(left.first().unwrap().i64("n").unwrap(), 0);
    }

    #[test]
    fn upsert_round_trips_and_a_repeat_changes_nothing() {
        let env = env();
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc);
        env.set_now(t("2026-01-01T00:00:00Z"));
        let mut list = items();
        block_on(upsert(&env, &list, Violations::Replace)).unwrap();
        for e in &list {
            // read back with the violations newest first
            let mut want = e.clone();
            want.violations.sort_by_key(|v| std::cmp::Reverse(v.date));
            assert_eq!(block_on(get(&env, &e.id)).unwrap(), Some(want), "{}", e.id);
        }
        env.set_now(t("2026-02-01T00:00:00Z"));
        list[2].violations.pop();
        list[2].name = "Bún chả cá Bà Lữ 2".into();
        block_on(upsert(&env, &list, Violations::Replace)).unwrap();
        assert_eq!(updated(&env, &list[0].id), "2026-01-01T00:00:00Z", "an unchanged row is left alone");
        assert_eq!(updated(&env, &list[2].id), "2026-02-01T00:00:00Z");
        assert_eq!(block_on(get(&env, &list[2].id)).unwrap().as_ref(), Some(&list[2]));
        // the text index follows the rename (triggers): the old name is gone, the new one found
        let steps = [Step::new("\"lu\" AND \"2\"".into(), 10), Step::new("\"bun\" AND \"cha\"".into(), 10)];
        let (_, read) = block_on(run_steps(&env, Vec::new(), &steps, None)).unwrap();
        assert_eq!((read[0].places.len(), read[0].places[0].violations), (1, 1));
        assert_eq!(read[1].places.len(), 1);
    }

    #[test]
    fn a_large_import_is_a_few_statements() {
        let mut many = Vec::new();
        for i in 0..(GROUP * 2 + 7) {
            let mut e = items()[0].clone();
            e.id = format!("BULK-{i}");
            many.push(e);
        }
        let statements: usize =
            many.chunks(GROUP).map(|g| upsert_statements(g, Violations::Replace, "now").len()).sum();
        assert_eq!(statements, 12);
        let env = env();
        block_on(upsert(&env, &many, Violations::Replace)).unwrap();
        let n = block_on(env.query(DB, "SELECT count(*) AS n, sum(violation_count) AS v FROM establishments", &[]))
            .unwrap();
        assert_eq!(n.first().unwrap().i64("n").unwrap(), i64::try_from(many.len()).unwrap());
        assert_eq!(n.first().unwrap().i64("v").unwrap(), i64::try_from(many.len()).unwrap());
    }
}
