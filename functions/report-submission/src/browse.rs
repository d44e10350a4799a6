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
use civic::platform::Row;
use civic::{Error, FieldError, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::status::Status;
use crate::store::{DB, Filter, stamp};

/// Reports a list page holds.
pub const PER_PAGE: i64 = 20;
/// The last page number a list accepts (200,000 reports deep).
pub const MAX_PAGE: i64 = 10_000;
/// The days the figures cover by default, today included.
pub const STATS_DAYS: i64 = 30;
/// The longest span the figures cover: a leap year's days after `from`.
pub const MAX_STATS_SPAN_DAYS: i64 = 366;

const SECONDS_PER_HOUR: f64 = 3_600.0;

fn invalid(field: &str, vi: &str, en: &str) -> Error {
    Error::Validation(vec![FieldError::new(field, Msg::new(vi.to_owned(), en.to_owned()))])
}

/// GET /reports
pub async fn list(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let filter = filter(req)?;
    let page = page(req)?;
    // The filter's columns (status, category, district, lat, lng) are only in `reports`, so
    // they name the same columns in the join of `page_of`.
    let total =
        env.query(DB, &format!("SELECT count(*) AS n FROM reports WHERE {}", filter.sql()), filter.params()).await?;
    let total = total.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0);
    let reports = page_of(env, &filter, page).await?;
    civic::web::json(StatusCode::OK, &json!({"reports": reports, "page": page, "per_page": PER_PAGE, "total": total}))
}

/// A query parameter, `None` when absent or blank; given twice, it is refused (422).
fn param(req: &Request<Bytes>, key: &str) -> Result<Option<String>, Error> {
    Ok(civic::web::query_param(req, key)?.filter(|v| !v.trim().is_empty()))
}

/// The list's filter from `status`, `category`, `district` and `bbox`.
fn filter(req: &Request<Bytes>) -> Result<Filter, Error> {
    let mut filter = Filter::default();
    if let Some(status) = param(req, "status")? {
        match (status.as_str(), Status::parse(&status)) {
            ("open", _) => filter.any_of("status", Status::json_list(&Status::OPEN)),
            (_, Some(s)) => filter.bind("status = ?", s.as_str()),
            (_, None) => {
                return Err(invalid(
                    "status",
                    "Trạng thái không hợp lệ",
                    "received, in_progress, resolved, rejected or open",
                ));
            }
        }
    }
    if let Some(category) = param(req, "category")? {
        filter.bind("category = ?", category);
    }
    if let Some(district) = param(req, "district")? {
        filter.bind("district = ?", civic::district::key(&district));
    }
    if let Some(bbox) = param(req, "bbox")? {
        let [w, s, e, n] =
            bbox_of(&bbox).ok_or_else(|| invalid("bbox", "Dạng tây,nam,đông,bắc", "west,south,east,north"))?;
        filter.bind("lng >= ?", w);
        filter.bind("lat >= ?", s);
        filter.bind("lng <= ?", e);
        filter.bind("lat <= ?", n);
    }
    Ok(filter)
}

/// `west,south,east,north`: exactly four finite numbers (degrees), each one read; a part
/// that is not a number refuses the whole box rather than being skipped.
fn bbox_of(text: &str) -> Option<[f64; 4]> {
    let numbers: Option<Vec<f64>> =
        text.split(',').map(|x| x.trim().parse::<f64>().ok().filter(|x| x.is_finite())).collect();
    numbers?.try_into().ok()
}

/// `page`, from 1 (the default) to [`MAX_PAGE`].
fn page(req: &Request<Bytes>) -> Result<i64, Error> {
    match param(req, "page")? {
        None => Ok(1),
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=MAX_PAGE).contains(p))
            .ok_or_else(|| invalid("page", "Từ 1", "from 1")),
    }
}

/// The reports of one page of a filter, newest first, public fields only.
async fn page_of(env: &impl Platform, filter: &Filter, page: i64) -> Result<Vec<Value>, Error> {
    let mut params = filter.params().to_vec();
    params.push(PER_PAGE.into());
    params.push(((page - 1) * PER_PAGE).into());
    let sql = format!(
        "SELECT r.code, r.status, r.category, r.description, r.lat, r.lng, r.address, r.agency, a.name AS agency_name,
                r.created_at, r.due_at, r.duplicate_of
         FROM reports r JOIN agencies a ON a.code = r.agency WHERE {}
         ORDER BY r.created_at DESC, r.code DESC LIMIT ?{} OFFSET ?{}",
        filter.sql(),
        params.len() - 1,
        params.len()
    );
    let rows = env.query(DB, &sql, &params).await?;
    rows.iter().map(|r| public(&r)).collect()
}

/// One listed report: what anyone may see.
fn public(r: &Row<'_>) -> Result<Value, Error> {
    Ok(json!({"code": r.str("code")?, "status": r.str("status")?, "category": r.str("category")?,
        "description": r.str("description")?, "lat": r.opt_f64("lat")?, "lng": r.opt_f64("lng")?,
        "address": r.opt_str("address")?, "agency": {"code": r.str("agency")?, "name": r.str("agency_name")?},
        "created_at": civic::web::vn_time(r.str("created_at")?), "due_at": civic::web::vn_time(r.str("due_at")?),
        "duplicate_of": r.opt_str("duplicate_of")?}))
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

/// One report as the figures count it.
struct Counted<'r> {
    status: Status,
    created_at: &'r str,
    due_at: &'r str,
    resolved_at: Option<&'r str>,
}

impl Tally {
    /// Counts one report, as of `now` (a stored UTC stamp): resolved on time when resolved by
    /// its due time; overdue when still open after it.
    fn count(&mut self, r: &Counted<'_>, now: &str) {
        self.received += 1;
        if r.status == Status::Resolved {
            self.resolved += 1;
            if let Some(at) = r.resolved_at {
                if at <= r.due_at {
                    self.on_time += 1;
                }
                if let (Ok(a), Ok(c)) = (DateTime::parse_from_rfc3339(at), DateTime::parse_from_rfc3339(r.created_at)) {
                    #[allow(clippy::cast_precision_loss)]
                    self.hours.push((a - c).num_seconds() as f64 / SECONDS_PER_HOUR);
                }
            }
        } else if r.status.is_open() && r.due_at < now {
            self.overdue_open += 1;
        }
    }

    fn json(&self, code: &str) -> Value {
        json!({"agency": {"code": code, "name": self.name}, "received": self.received, "resolved": self.resolved,
            "on_time": self.on_time, "overdue_open": self.overdue_open,
            "median_resolution_hours": median(self.hours.clone())})
    }
}

/// The days of the figures: `from` and `to` (Vietnam dates, both included), by default the
/// [`STATS_DAYS`] days to today; at most [`MAX_STATS_SPAN_DAYS`] apart.
fn period(req: &Request<Bytes>, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), Error> {
    let date = |k: &str, default: NaiveDate| -> Result<NaiveDate, Error> {
        match civic::web::query_param(req, k)? {
            None => Ok(default),
            Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| invalid(k, "Ngày dạng YYYY-MM-DD", "a date, YYYY-MM-DD")),
        }
    };
    let to = date("to", today)?;
    let from = date("from", to - Duration::days(STATS_DAYS - 1))?;
    if from > to || (to - from).num_days() > MAX_STATS_SPAN_DAYS {
        return Err(invalid(
            "from",
            "Khoảng ngày không hợp lệ (tối đa 1 năm)",
            "from must be before to, at most a year apart",
        ));
    }
    Ok((from, to))
}

/// GET /reports/stats
pub async fn stats(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let now = env.now();
    let (from, to) = period(req, civic::web::vn_today(now))?;
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
    let now = stamp(now);
    for r in rows.iter() {
        let t = tallies.entry(r.str("agency")?.to_owned()).or_default();
        t.name = r.str("name")?.to_owned();
        let counted = Counted {
            status: Status::stored(r.str("status")?)?,
            created_at: r.str("created_at")?,
            due_at: r.str("due_at")?,
            resolved_at: r.opt_str("resolved_at")?,
        };
        t.count(&counted, &now);
        total.count(&counted, &now);
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
