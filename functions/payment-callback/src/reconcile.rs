//! `GET /payments/reconciliation?date=YYYY-MM-DD` (admin): the orders settled on that day in
//! Vietnam time (UTC+7), per provider the count and the total, and the list; JSON, or CSV
//! with `Accept: text/csv` (one row per order, then one `total` row per provider).

use bytes::Bytes;
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use civic::auth::Role;
use civic::web::stamp;
use civic::{Error, FieldError, Msg, Platform};
use http::{HeaderValue, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::ledger::{DB, OrderState};

/// The UTC bounds `[start, end)` of a day in Vietnam.
pub fn day_bounds(day: NaiveDate) -> (String, String) {
    let start = |d: NaiveDate| {
        let local = d.and_time(NaiveTime::MIN);
        civic::web::vietnam().from_local_datetime(&local).single().map(|t| stamp(t.with_timezone(&Utc)))
    };
    let next = day.succ_opt().unwrap_or(day);
    (start(day).unwrap_or_default(), start(next).unwrap_or_default())
}

fn wants_csv(req: &Request<Bytes>) -> bool {
    req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| {
        a.split(',').any(|m| m.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("text/csv"))
    })
}

/// A CSV field: quoted when it holds a comma, a quote or a line break; a leading `=+-@` is
/// prefixed with `'` so that a spreadsheet does not run it as a formula.
fn csv(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

pub async fn get(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::auth::require_role(env, req.headers(), Role::Admin)?;
    let day =
        civic::web::query_param(req, "date")?.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()).ok_or_else(
            || Error::Validation(vec![FieldError::new("date", Msg::new("Ngày dạng YYYY-MM-DD", "a date, YYYY-MM-DD"))]),
        )?;
    let (start, end) = day_bounds(day);
    let rows = env
        .query(
            DB,
            "SELECT order_id, txn_ref, provider, provider_txn_id, dossier_code, amount_vnd, paid_at FROM orders
             WHERE state = ?3 AND paid_at >= ?1 AND paid_at < ?2 ORDER BY provider, paid_at, order_id",
            &[start.into(), end.into(), OrderState::Paid.as_str().into()],
        )
        .await?;
    let mut orders = Vec::with_capacity(rows.len());
    let mut totals: Vec<(String, i64, i64)> = Vec::new();
    for r in rows.iter() {
        let provider = r.str("provider")?.to_owned();
        let amount = r.i64("amount_vnd")?;
        match totals.last_mut() {
            Some((p, count, sum)) if *p == provider => {
                *count += 1;
                *sum += amount;
            }
            _ => totals.push((provider.clone(), 1, amount)),
        }
        orders.push(json!({"order_id": r.str("order_id")?, "txn_ref": r.str("txn_ref")?, "provider": provider,
            "provider_txn_id": r.opt_str("provider_txn_id")?, "dossier_code": r.str("dossier_code")?,
            "amount_vnd": amount, "paid_at": r.str("paid_at")?}));
    }
    if wants_csv(req) {
        let mut out =
            String::from("kind,provider,order_id,txn_ref,provider_txn_id,dossier_code,amount_vnd,paid_at,count\r\n");
        let text = |o: &Value, k: &str| csv(o[k].as_str().unwrap_or(""));
        for o in &orders {
            out.push_str(&format!(
                "order,{},{},{},{},{},{},{},\r\n",
                text(o, "provider"),
                text(o, "order_id"),
                text(o, "txn_ref"),
                text(o, "provider_txn_id"),
                text(o, "dossier_code"),
                o["amount_vnd"],
                text(o, "paid_at")
            ));
        }
        for (provider, count, sum) in &totals {
            out.push_str(&format!("total,{},,,,,{sum},,{count}\r\n", csv(provider)));
        }
        let mut resp = Response::new(Bytes::from(out));
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        return Ok(resp);
    }
    let providers: Vec<Value> =
        totals.iter().map(|(p, count, sum)| json!({"provider": p, "count": count, "total_vnd": sum})).collect();
    civic::web::json(StatusCode::OK, &json!({"date": day.to_string(), "providers": providers, "orders": orders}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vietnam_day_starts_at_17_utc_the_day_before() {
        let day = NaiveDate::from_ymd_opt(2024, 11, 22).unwrap();
        assert_eq!(day_bounds(day), ("2024-11-21T17:00:00Z".to_owned(), "2024-11-22T17:00:00Z".to_owned()));
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv("plain"), "plain");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
