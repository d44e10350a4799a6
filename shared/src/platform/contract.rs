//! The SQL contract every adapter of the port must honour. The same checks run natively
//! (the [`platform_contract_tests!`](crate::platform_contract_tests) macro) and inside each
//! function on both Wasm runtimes (the admin-only `POST /<base>/selftest` route that the
//! end-to-end tests call).
//!
//! The checks use their own scratch table, `_contract_probe`, created and dropped here.

use super::{Platform, Statement, Value};

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
    p.execute(db, "DROP TABLE IF EXISTS _contract_probe", &[]).await.map_err(|e| e.0)?;
    p.execute(db, TABLE, &[]).await.map_err(|e| e.0)?;
    Ok(())
}

async fn count<P: Platform>(p: &P, db: &str) -> Result<i64, String> {
    let rows = p.query(db, "SELECT count(*) AS n FROM _contract_probe", &[]).await.map_err(|e| e.0)?;
    rows.first().ok_or("no count row")?.i64("n").map_err(|e| e.0)
}

/// Runs one named check on a fresh scratch table.
pub async fn run_one<P: Platform>(p: &P, db: &str, name: &str) -> Result<(), String> {
    reset(p, db).await?;
    let e = |e: super::DbError| e.0;
    let result = match name {
        "types_round_trip" => {
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
            .map_err(e)?;
            let rows = p.query(db, "SELECT i, r, t, b, typeof(i) AS ti, typeof(r) AS tr, typeof(t) AS tt, typeof(b) AS tb FROM _contract_probe WHERE id = 1", &[]).await.map_err(e)?;
            let row = rows.first().ok_or("row missing")?;
            ensure(row.i64("i").map_err(e)? == -9_007_199_254_740_991, || "integer".into())?;
            ensure((row.f64("r").map_err(e)? - 3.25).abs() < f64::EPSILON, || "real".into())?;
            ensure(row.str("t").map_err(e)? == "Phở Bà Hoa — đ ✓", || "text".into())?;
            ensure(row.opt_blob("b").map_err(e)? == Some(blob.as_slice()), || format!("blob: {:?}", row.value("b")))?;
            let types: Vec<&str> = ["ti", "tr", "tt", "tb"].iter().map(|c| row.str(c).unwrap_or("?")).collect();
            ensure(types == ["integer", "real", "text", "blob"], || format!("stored types {types:?}"))
        }
        "null_round_trip" => {
            p.execute(
                db,
                "INSERT INTO _contract_probe (id, i, r, t, b) VALUES (1, ?1, ?2, ?3, ?4)",
                &[Value::Null, Value::Null, Option::<String>::None.into(), Value::Null],
            )
            .await
            .map_err(e)?;
            let rows = p.query(db, "SELECT i, r, t, b FROM _contract_probe", &[]).await.map_err(e)?;
            let row = rows.first().ok_or("row missing")?;
            ensure(row.opt_i64("i").map_err(e)?.is_none() && row.opt_f64("r").map_err(e)?.is_none(), || {
                "null numbers".into()
            })?;
            ensure(row.opt_str("t").map_err(e)?.is_none() && row.opt_blob("b").map_err(e)?.is_none(), || {
                "null text/blob".into()
            })
        }
        "batch_is_atomic" => {
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
            p.batch(db, &good).await.map_err(e)?;
            let n = count(p, db).await?;
            ensure(n == 1, || format!("{n} rows after a good batch"))
        }
        "batch_returns_rows" => {
            let out = p
                .batch(
                    db,
                    &[
                        Statement::new("INSERT INTO _contract_probe (id, t) VALUES (7, 'x') RETURNING id", vec![]),
                        Statement::new("SELECT t FROM _contract_probe WHERE id = ?1", vec![7.into()]),
                    ],
                )
                .await
                .map_err(e)?;
            ensure(out.len() == 2, || format!("{} results", out.len()))?;
            let id = out[0].first().ok_or("no RETURNING row")?.i64("id").map_err(e)?;
            let t = out[1].first().ok_or("no SELECT row")?.str("t").map_err(e)?.to_owned();
            ensure(id == 7 && t == "x", || format!("got {id} {t}"))
        }
        "returning_works" => {
            let ins = "INSERT INTO _contract_probe (id, u) VALUES (?1, ?2) ON CONFLICT(u) DO NOTHING RETURNING id";
            let first = p.query(db, ins, &[10.into(), "k".into()]).await.map_err(e)?;
            let again = p.query(db, ins, &[11.into(), "k".into()]).await.map_err(e)?;
            ensure(first.len() == 1 && first.first().map(|r| r.i64("id")) == Some(Ok(10)), || {
                "first insert returns its id".into()
            })?;
            ensure(again.is_empty(), || "a conflicting insert returns no row".into())
        }
        "conditional_update_is_exactly_once" => {
            p.execute(db, "INSERT INTO _contract_probe (id) VALUES (1)", &[]).await.map_err(e)?;
            let settle = "UPDATE _contract_probe SET state = 'paid' WHERE id = ?1 AND state = 'pending' RETURNING id";
            let a = p.query(db, settle, &[1.into()]).await.map_err(e)?;
            let b = p.query(db, settle, &[1.into()]).await.map_err(e)?;
            ensure(a.len() == 1 && b.is_empty(), || format!("settled {} then {}", a.len(), b.len()))
        }
        "execute_counts_changes" => {
            for id in 1..=3 {
                p.execute(db, "INSERT INTO _contract_probe (id, i) VALUES (?1, 0)", &[Value::Integer(id)])
                    .await
                    .map_err(e)?;
            }
            let n = p.execute(db, "UPDATE _contract_probe SET i = 1 WHERE id >= ?1", &[2.into()]).await.map_err(e)?;
            ensure(n == 2, || format!("{n} changes reported, 2 expected"))
        }
        "params_are_bound_not_formatted" => {
            let evil = "x'); DROP TABLE _contract_probe; --";
            p.execute(db, "INSERT INTO _contract_probe (id, t) VALUES (1, ?1)", &[evil.into()]).await.map_err(e)?;
            let rows = p.query(db, "SELECT t FROM _contract_probe WHERE t = ?1", &[evil.into()]).await.map_err(e)?;
            ensure(rows.first().map(|r| r.str("t").map(str::to_owned)) == Some(Ok(evil.to_owned())), || {
                "bound text".into()
            })
        }
        other => Err(format!("unknown check {other}")),
    };
    p.execute(db, "DROP TABLE IF EXISTS _contract_probe", &[]).await.map_err(e)?;
    result
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
