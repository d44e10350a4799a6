//! Reading many reports: `GET /reports?status=&category=&district=&bbox=&page=` and the
//! transparency figures `GET /reports/stats?from=&to=`.
//!
//! - The list is newest first, 20 a page (`page` from 1), public fields only: `status` is one
//!   of the statuses or `open` (received or in progress); `district` a district's name;
//!   `bbox` is `west,south,east,north` in degrees.
//! - The figures count the reports filed from `from` to `to` (dates in Vietnam time, both
//!   included; the last 30 days by default), per agency: received, resolved, resolved on time
//!   (before the due time), open and overdue now, and the median hours from filing to
//!   resolution.

use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use civic::platform::Value as Sql;
use civic::{Error, FieldError, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::geo::district_key;
use crate::store::{DB, stamp};

pub const PER_PAGE: i64 = 20;

fn invalid(field: &str, vi: &str, en: &str) -> Error {
    Error::Validation(vec![FieldError::new(field, Msg::new(vi.to_owned(), en.to_owned()))])
}

/// GET /reports
pub async fn list(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let mut filter = vec!["1 = 1".to_owned()];
    let mut params: Vec<Sql> = Vec::new();
    let mut bind = |filter: &mut Vec<String>, clause: &str, value: Sql| {
        params.push(value);
        filter.push(clause.replace('?', &format!("?{}", params.len())));
    };
    let q = |k: &str| civic::web::query_param(req, k).filter(|v| !v.trim().is_empty());
    if let Some(status) = q("status") {
        match status.as_str() {
            "open" => filter.push("status IN ('received', 'in_progress')".into()),
            "received" | "in_progress" | "resolved" | "rejected" => bind(&mut filter, "status = ?", status.into()),
            _ => {
                return Err(invalid(
                    "status",
                    "Trạng thái không hợp lệ",
                    "received, in_progress, resolved, rejected or open",
                ));
            }
        }
    }
    if let Some(category) = q("category") {
        bind(&mut filter, "category = ?", category.into());
    }
    if let Some(district) = q("district") {
        bind(&mut filter, "district = ?", district_key(&district).into());
    }
    if let Some(bbox) = q("bbox") {
        let n: Vec<f64> = bbox.split(',').filter_map(|x| x.trim().parse().ok()).collect();
        let [w, s, e, nn] = n[..] else {
            return Err(invalid("bbox", "Dạng tây,nam,đông,bắc", "west,south,east,north"));
        };
        bind(&mut filter, "lng >= ?", w.into());
        bind(&mut filter, "lat >= ?", s.into());
        bind(&mut filter, "lng <= ?", e.into());
        bind(&mut filter, "lat <= ?", nn.into());
    }
    let page = match q("page") {
        None => 1,
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=10_000).contains(p))
            .ok_or_else(|| invalid("page", "Từ 1", "from 1"))?,
    };
    // The filter's columns (status, category, district, lat, lng) are only in `reports`, so
    // they name the same columns in the join below.
    let filter = filter.join(" AND ");
    let total = env.query(DB, &format!("SELECT count(*) AS n FROM reports WHERE {filter}"), &params).await?;
    let total = total.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0);
    let mut paged = params.clone();
    paged.push(PER_PAGE.into());
    paged.push(((page - 1) * PER_PAGE).into());
    let rows = env
        .query(
            DB,
            &format!(
                "SELECT r.code, r.status, r.category, r.description, r.lat, r.lng, r.address, r.agency, a.name AS agency_name,
                        r.created_at, r.due_at, r.duplicate_of
                 FROM reports r JOIN agencies a ON a.code = r.agency WHERE {filter}
                 ORDER BY r.created_at DESC, r.code DESC LIMIT ?{} OFFSET ?{}",
                paged.len() - 1,
                paged.len()
            ),
            &paged,
        )
        .await?;
    let mut reports = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        reports.push(json!({"code": r.str("code")?, "status": r.str("status")?, "category": r.str("category")?,
            "description": r.str("description")?, "lat": r.opt_f64("lat")?, "lng": r.opt_f64("lng")?,
            "address": r.opt_str("address")?, "agency": {"code": r.str("agency")?, "name": r.str("agency_name")?},
            "created_at": civic::web::vn_time(r.str("created_at")?), "due_at": civic::web::vn_time(r.str("due_at")?),
            "duplicate_of": r.opt_str("duplicate_of")?}));
    }
    civic::web::json(StatusCode::OK, &json!({"reports": reports, "page": page, "per_page": PER_PAGE, "total": total}))
}

/// The UTC start of a Vietnam day.
fn day_start(d: NaiveDate) -> DateTime<Utc> {
    civic::web::vietnam()
        .from_local_datetime(&d.and_time(NaiveTime::MIN))
        .single()
        .map_or(DateTime::<Utc>::UNIX_EPOCH, |t| t.with_timezone(&Utc))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let m = if v.len().is_multiple_of(2) { (v[mid - 1] + v[mid]) / 2.0 } else { v[mid] };
    Some((m * 10.0).round() / 10.0)
}

#[derive(Default)]
struct Tally {
    name: String,
    received: i64,
    resolved: i64,
    on_time: i64,
    overdue_open: i64,
    hours: Vec<f64>,
}

impl Tally {
    fn json(&self, code: &str) -> Value {
        json!({"agency": {"code": code, "name": self.name}, "received": self.received, "resolved": self.resolved,
            "on_time": self.on_time, "overdue_open": self.overdue_open,
            "median_resolution_hours": median(self.hours.clone())})
    }
}

/// GET /reports/stats
pub async fn stats(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let now = env.now();
    let today = civic::web::vn_today(now);
    let date = |k: &str, default: NaiveDate| -> Result<NaiveDate, Error> {
        match civic::web::query_param(req, k) {
            None => Ok(default),
            Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| invalid(k, "Ngày dạng YYYY-MM-DD", "a date, YYYY-MM-DD")),
        }
    };
    let to = date("to", today)?;
    let from = date("from", to - Duration::days(29))?;
    if from > to || (to - from).num_days() > 366 {
        return Err(invalid(
            "from",
            "Khoảng ngày không hợp lệ (tối đa 1 năm)",
            "from must be before to, at most a year apart",
        ));
    }
    let rows = env
        .query(
            DB,
            "SELECT r.agency, a.name, r.status, r.created_at, r.due_at, r.resolved_at
             FROM reports r JOIN agencies a ON a.code = r.agency WHERE r.created_at >= ?1 AND r.created_at < ?2",
            &[stamp(day_start(from)).into(), stamp(day_start(to + Duration::days(1))).into()],
        )
        .await?;
    let mut tallies: std::collections::BTreeMap<String, Tally> = std::collections::BTreeMap::new();
    let mut total = Tally { name: "Tất cả".into(), ..Tally::default() };
    let now_s = stamp(now);
    for r in rows.iter() {
        let t = tallies.entry(r.str("agency")?.to_owned()).or_default();
        t.name = r.str("name")?.to_owned();
        let (status, created, due) = (r.str("status")?, r.str("created_at")?, r.str("due_at")?);
        let resolved_at = r.opt_str("resolved_at")?;
        for t in [&mut *t, &mut total] {
            t.received += 1;
            if status == "resolved" {
                t.resolved += 1;
                if let Some(at) = resolved_at {
                    if at <= due {
                        t.on_time += 1;
                    }
                    if let (Ok(a), Ok(c)) = (DateTime::parse_from_rfc3339(at), DateTime::parse_from_rfc3339(created)) {
                        #[allow(clippy::cast_precision_loss)]
                        t.hours.push((a - c).num_seconds() as f64 / 3600.0);
                    }
                }
            } else if matches!(status, "received" | "in_progress") && due < now_s.as_str() {
                t.overdue_open += 1;
            }
        }
    }
    let agencies: Vec<Value> = tallies.iter().map(|(code, t)| t.json(code)).collect();
    let mut all = total.json("*");
    all.as_object_mut().map(|o| o.remove("agency"));
    civic::web::json(
        StatusCode::OK,
        &json!({"from": from.to_string(), "to": to.to_string(), "agencies": agencies, "total": all}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_hours() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![5.0]), Some(5.0));
        assert_eq!(median(vec![10.0, 1.0, 4.0]), Some(4.0));
        assert_eq!(median(vec![1.0, 2.0, 3.0, 10.0]), Some(2.5));
    }
}
