//! The SQL contract every adapter of the port must honour. The same checks run natively
//! (the [`platform_contract_tests!`](crate::platform_contract_tests) macro) and inside each
//! function on both Wasm runtimes (the admin-only `POST /<base>/selftest` route that the
//! end-to-end tests call).
//!
//! The checks use their own scratch table, `_contract_probe`, created before each check and
//! dropped after it, also when the check fails.

use super::{DbError, Platform, Statement, Value};

/// The names of the checks, in the order [`run_all`] runs them.
pub const CHECKS: &[&str] = &[
    "types_round_trip",
    "null_round_trip",
    "batch_is_atomic",
    "batch_returns_rows",
    "returning_works",
    "conditional_update_is_exactly_once",
    "execute_counts_changes",
    "params_are_bound_not_formatted",
];

const TABLE: &str = "CREATE TABLE IF NOT EXISTS _contract_probe (
    id INTEGER PRIMARY KEY,
    i INTEGER, r REAL, t TEXT, b BLOB,
    state TEXT NOT NULL DEFAULT 'pending',
    u TEXT UNIQUE)";

fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

async fn reset<P: Platform>(p: &P, db: &str) -> Result<(), String> {
    p.execute(db, "DROP TABLE IF EXISTS _contract_probe", &[]).await.map_err(text)?;
    p.execute(db, TABLE, &[]).await.map_err(text)?;
    Ok(())
}

async fn count<P: Platform>(p: &P, db: &str) -> Result<i64, String> {
    let rows = p.query(db, "SELECT count(*) AS n FROM _contract_probe", &[]).await.map_err(text)?;
    rows.first().ok_or("no count row")?.i64("n").map_err(text)
}

fn text(e: DbError) -> String {
    e.0
}

/// Runs one named check on a fresh scratch table, and drops the table again whatever the
/// check's outcome (a check that fails midway leaves nothing behind).
pub async fn run_one<P: Platform>(p: &P, db: &str, name: &str) -> Result<(), String> {
    reset(p, db).await?;
    let result = match name {
        "types_round_trip" => types_round_trip(p, db).await,
        "null_round_trip" => null_round_trip(p, db).await,
        "batch_is_atomic" => batch_is_atomic(p, db).await,
        "batch_returns_rows" => batch_returns_rows(p, db).await,
        "returning_works" => returning_works(p, db).await,
        "conditional_update_is_exactly_once" => conditional_update_is_exactly_once(p, db).await,
        "execute_counts_changes" => execute_counts_changes(p, db).await,
        "params_are_bound_not_formatted" => params_are_bound_not_formatted(p, db).await,
        other => Err(format!("unknown check {other}")),
    };
    let dropped = p.execute(db, "DROP TABLE IF EXISTS _contract_probe", &[]).await.map_err(text);
    result.and(dropped.map(drop))
}

/// Integers (to ±2^53), reals, text and blobs come back as they went in, stored as their
/// SQLite types.
async fn types_round_trip<P: Platform>(p: &P, db: &str) -> Result<(), String> {
    let blob = vec![0u8, 1, 2, 254, 255];
    p.execute(
        db,
        "INSERT INTO _contract_probe (id, i, r, t, b) VALUES (?1, ?2, ?3, ?4, ?5)",
        &[
            1.into(),
            Value::Integer(-9_007_199_254_740_991),
            3.25.into(),
            "Phở Bà Hoa — đ ✓".into(),
            blob.clone().into(),
        ],
    )
    .await
    .map_err(text)?;
    let rows = p
        .query(
            db,
            "SELECT i, r, t, b, typeof(i) AS ti, typeof(r) AS tr, typeof(t) AS tt, typeof(b) AS tb \
             FROM _contract_probe WHERE id = 1",
            &[],
        )
        .await
        .map_err(text)?;
    let row = rows.first().ok_or("row missing")?;
    ensure(row.i64("i").map_err(text)? == -9_007_199_254_740_991, || "integer".into())?;
    ensure((row.f64("r").map_err(text)? - 3.25).abs() < f64::EPSILON, || "real".into())?;
    ensure(row.str("t").map_err(text)? == "Phở Bà Hoa — đ ✓", || "text".into())?;
    ensure(row.opt_blob("b").map_err(text)? == Some(blob.as_slice()), || format!("blob: {:?}", row.value("b")))?;
    let types: Vec<&str> = ["ti", "tr", "tt", "tb"].iter().map(|c| row.str(c).unwrap_or("?")).collect();
    ensure(types == ["integer", "real", "text", "blob"], || format!("stored types {types:?}"))
}

/// NULL goes in and comes back as NULL in every column type.
async fn null_round_trip<P: Platform>(p: &P, db: &str) -> Result<(), String> {
    p.execute(
        db,
        "INSERT INTO _contract_probe (id, i, r, t, b) VALUES (1, ?1, ?2, ?3, ?4)",
        &[Value::Null, Value::Null, Option::<String>::None.into(), Value::Null],
    )
    .await
    .map_err(text)?;
    let rows = p.query(db, "SELECT i, r, t, b FROM _contract_probe", &[]).await.map_err(text)?;
    let row = rows.first().ok_or("row missing")?;
    ensure(row.opt_i64("i").map_err(text)?.is_none() && row.opt_f64("r").map_err(text)?.is_none(), || {
        "null numbers".into()
    })?;
    ensure(row.opt_str("t").map_err(text)?.is_none() && row.opt_blob("b").map_err(text)?.is_none(), || {
        "null text/blob".into()
    })
}

/// A batch whose last statement fails keeps none of its rows; a good one keeps them all.
async fn batch_is_atomic<P: Platform>(p: &P, db: &str) -> Result<(), String> {
    let failing = [
        Statement::new("INSERT INTO _contract_probe (id, u) VALUES (1, 'a')", vec![]),
        Statement::new("INSERT INTO _contract_probe (id, u) VALUES (2, 'b')", vec![]),
        // violates UNIQUE(u): the whole batch must roll back
        Statement::new("INSERT INTO _contract_probe (id, u) VALUES (3, 'a')", vec![]),
    ];
    ensure(p.batch(db, &failing).await.is_err(), || "a failing batch reported success".into())?;
    let n = count(p, db).await?;
    ensure(n == 0, || format!("{n} rows kept from a failed batch"))?;
    let good = [
        Statement::new("INSERT INTO _contract_probe (id, u) VALUES (?1, ?2)", vec![1.into(), "a".into()]),
        Statement::new("UPDATE _contract_probe SET i = 5 WHERE id = ?1", vec![1.into()]),
    ];
    p.batch(db, &good).await.map_err(text)?;
    let n = count(p, db).await?;
    ensure(n == 1, || format!("{n} rows after a good batch"))
}

/// A batch answers the rows of each of its statements, in order.
async fn batch_returns_rows<P: Platform>(p: &P, db: &str) -> Result<(), String> {
    let out = p
        .batch(
            db,
            &[
                Statement::new("INSERT INTO _contract_probe (id, t) VALUES (7, 'x') RETURNING id", vec![]),
                Statement::new("SELECT t FROM _contract_probe WHERE id = ?1", vec![7.into()]),
            ],
        )
        .await
        .map_err(text)?;
    ensure(out.len() == 2, || format!("{} results", out.len()))?;
    let id = out[0].first().ok_or("no RETURNING row")?.i64("id").map_err(text)?;
    let t = out[1].first().ok_or("no SELECT row")?.str("t").map_err(text)?.to_owned();
    ensure(id == 7 && t == "x", || format!("got {id} {t}"))
}

/// `ON CONFLICT DO NOTHING RETURNING` answers the new row's id, and no row on a conflict.
async fn returning_works<P: Platform>(p: &P, db: &str) -> Result<(), String> {
    let ins = "INSERT INTO _contract_probe (id, u) VALUES (?1, ?2) ON CONFLICT(u) DO NOTHING RETURNING id";
    let first = p.query(db, ins, &[10.into(), "k".into()]).await.map_err(text)?;
    let again = p.query(db, ins, &[11.into(), "k".into()]).await.map_err(text)?;
    ensure(first.len() == 1 && first.first().map(|r| r.i64("id")) == Some(Ok(10)), || {
        "first insert returns its id".into()
    })?;
    ensure(again.is_empty(), || "a conflicting insert returns no row".into())
}

/// A conditional `UPDATE ... RETURNING` settles once: the second finds nothing to change.
async fn conditional_update_is_exactly_once<P: Platform>(p: &P, db: &str) -> Result<(), String> {
    p.execute(db, "INSERT INTO _contract_probe (id) VALUES (1)", &[]).await.map_err(text)?;
    let settle = "UPDATE _contract_probe SET state = 'paid' WHERE id = ?1 AND state = 'pending' RETURNING id";
    let a = p.query(db, settle, &[1.into()]).await.map_err(text)?;
    let b = p.query(db, settle, &[1.into()]).await.map_err(text)?;
    ensure(a.len() == 1 && b.is_empty(), || format!("settled {} then {}", a.len(), b.len()))
}

/// `execute` answers the number of rows changed.
async fn execute_counts_changes<P: Platform>(p: &P, db: &str) -> Result<(), String> {
    for id in 1..=3 {
        p.execute(db, "INSERT INTO _contract_probe (id, i) VALUES (?1, 0)", &[Value::Integer(id)])
            .await
            .map_err(text)?;
    }
    let n = p.execute(db, "UPDATE _contract_probe SET i = 1 WHERE id >= ?1", &[2.into()]).await.map_err(text)?;
    ensure(n == 2, || format!("{n} changes reported, 2 expected"))
}

/// Text with SQL in it is bound as a value, never run.
async fn params_are_bound_not_formatted<P: Platform>(p: &P, db: &str) -> Result<(), String> {
    let evil = "x'); DROP TABLE _contract_probe; --";
    p.execute(db, "INSERT INTO _contract_probe (id, t) VALUES (1, ?1)", &[evil.into()]).await.map_err(text)?;
    let rows = p.query(db, "SELECT t FROM _contract_probe WHERE t = ?1", &[evil.into()]).await.map_err(text)?;
    ensure(rows.first().map(|r| r.str("t").map(str::to_owned)) == Some(Ok(evil.to_owned())), || "bound text".into())
}

/// Runs every check, returning each name with its outcome.
pub async fn run_all<P: Platform>(p: &P, db: &str) -> Vec<(&'static str, Result<(), String>)> {
    let mut out = Vec::with_capacity(CHECKS.len());
    for name in CHECKS {
        out.push((*name, run_one(p, db, name).await));
    }
    out
}

/// Generates one `#[test]` per contract check for a natively runnable adapter. The
/// expression builds a platform with a database labelled `contract`.
#[macro_export]
macro_rules! platform_contract_tests {
    ($make:expr) => {
        mod platform_contract {
            #[allow(unused_imports)]
            use super::*;
            fn check(name: &str) {
                let p = $make;
                let r = $crate::platform::native::block_on($crate::platform::contract::run_one(&p, "contract", name));
                assert_eq!(r, Ok(()), "contract check {name}");
            }
            #[test]
            fn types_round_trip() {
                check("types_round_trip")
            }
            #[test]
            fn null_round_trip() {
                check("null_round_trip")
            }
            #[test]
            fn batch_is_atomic() {
                check("batch_is_atomic")
            }
            #[test]
            fn batch_returns_rows() {
                check("batch_returns_rows")
            }
            #[test]
            fn returning_works() {
                check("returning_works")
            }
            #[test]
            fn conditional_update_is_exactly_once() {
                check("conditional_update_is_exactly_once")
            }
            #[test]
            fn execute_counts_changes() {
                check("execute_counts_changes")
            }
            #[test]
            fn params_are_bound_not_formatted() {
                check("params_are_bound_not_formatted")
            }
            #[test]
            fn every_check_has_a_test() {
                assert_eq!($crate::platform::contract::CHECKS.len(), 8);
            }
        }
    };
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::super::native::{NativePlatform, block_on};
    use super::*;
    use crate::testing::ReadsFail;

    #[test]
    fn a_check_failing_midway_leaves_no_probe_table() {
        let p = ReadsFail(NativePlatform::in_memory(&["contract"]));
        for name in CHECKS {
            let outcome = block_on(run_one(&p, "contract", name));
            let left = block_on(p.0.query(
                "contract",
                "SELECT count(*) AS n FROM sqlite_master WHERE name = '_contract_probe'",
                &[],
            ));
            let left = left.ok().and_then(|rows| rows.first().and_then(|r| r.i64("n").ok()));
            assert_eq!(left, Some(0), "{name} ({outcome:?}) left its probe table");
        }
        let failed = CHECKS.iter().filter(|n| block_on(run_one(&p, "contract", n)).is_err()).count();
        assert!(failed >= 6, "only {failed} checks read and failed");
    }
}
