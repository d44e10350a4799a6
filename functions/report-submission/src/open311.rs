//! Open311 GeoReport v2 (JSON), under `/open311/v2/`: the same categories (services) and
//! reports (service requests) as the native API, for the clients written against the
//! published specification.
//!
//! - `GET discovery.json`, `GET services.json`, `GET services/{code}.json`;
//! - `POST requests.json` (form-encoded; `api_key` one of `open311_api_keys`, comma
//!   separated): `service_code`, `lat` and `long` or `address_string`, `description`,
//!   `media_url`, `email`, `phone`, `first_name`, `last_name`, `device_id`, `account_id`
//!   (`email` and `device_id` are accepted and not kept; a field it reads given twice is a
//!   400); answers `[{"service_request_id", "service_notice", "account_id"}]`;
//! - `GET requests.json?service_request_id=&service_code=&start_date=&end_date=&status=`
//!   (every listed `service_request_id`, however many, the other parameters then ignored;
//!   else the last 90 days and at most 1000, newest first), `GET requests/{id}.json`,
//!   `GET tokens/{token}.json` (requests are created at once, so a token is its request id).
//!
//! Ids are strings, times ISO 8601 with `+07:00`, errors `[{"code", "description"}]` with
//! 400 (a query parameter given twice included), 403, 404 or 405 (with `Allow`).

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use civic::{Error, Lang, Platform};
use http::{HeaderValue, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::report::{self, Filing};
use crate::status::{Open311, Status};
use crate::store::{self, DB, Filter, stamp};

pub const BASE: &str = "/open311/v2";
const MAX_BODY: usize = 16 * 1024;
/// The days a request list covers when it names no `start_date`.
pub const DEFAULT_DAYS: i64 = 90;
/// The most requests a list without `service_request_id` answers (newest first).
pub const MAX_LIST: i64 = 1_000;

/// An Open311 error answer.
fn error(status: StatusCode, description: &str) -> Response<Bytes> {
    let body = json!([{"code": status.as_u16(), "description": description}]).to_string();
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    resp
}

/// An Open311 405, with the `Allow` header (RFC 9110) naming the methods the path takes.
fn not_allowed(allow: &'static str) -> Response<Bytes> {
    let mut resp = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

fn ok(value: &Value) -> Response<Bytes> {
    civic::web::json(StatusCode::OK, value).unwrap_or_else(|e| e.into_response(Lang::En))
}

/// Every Open311 route; `path` is below [`BASE`].
pub async fn route(req: &Request<Bytes>, env: &impl Platform, segments: &[&str]) -> Response<Bytes> {
    // `{name}.json`: its name.
    let stem = |file: &'_ str| file.strip_suffix(".json").unwrap_or(file).to_owned();
    let answer = match (req.method().as_str(), segments) {
        ("GET", ["discovery.json"]) => Ok(discovery(req)),
        ("GET", ["services.json"]) => services(env).await,
        ("GET", ["services", file]) if file.ends_with(".json") => service(env, &stem(file)).await,
        ("GET", ["requests.json"]) => requests(req, env).await,
        ("POST", ["requests.json"]) => post(req, env).await,
        ("GET", ["requests", file]) if file.ends_with(".json") => one(env, &stem(file)).await,
        ("GET", ["tokens", file]) if file.ends_with(".json") => token(env, &stem(file)).await,
        (_, ["requests.json"]) => Ok(not_allowed("GET, POST")),
        (_, ["discovery.json" | "services.json"] | ["services" | "requests" | "tokens", _]) => Ok(not_allowed("GET")),
        _ => Ok(error(StatusCode::NOT_FOUND, "not found")),
    };
    answer.unwrap_or_else(|e| {
        let status = e.status();
        if status.is_server_error() {
            civic::log::error(&format!("open311: {e}"));
        }
        error(status, if status.is_server_error() { "internal error" } else { "bad request" })
    })
}

fn discovery(req: &Request<Bytes>) -> Response<Bytes> {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = if host.starts_with("127.0.0.1") || host.starts_with("localhost") { "http" } else { "https" };
    ok(&json!({
        "changeset": "2024-11-05T00:00:00+07:00",
        "contact": "Trung tâm Giám sát điều hành đô thị thông minh — đường dây nóng 1022",
        "key_service": "Xin api_key từ Trung tâm Giám sát điều hành đô thị thông minh",
        "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": format!("{scheme}://{host}{BASE}"),
            "changeset": "2024-11-05T00:00:00+07:00", "type": "production", "formats": ["application/json"]}]
    }))
}

async fn services(env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let rows =
        env.query(DB, "SELECT code, name_vi, description_vi, keywords FROM categories ORDER BY code", &[]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        out.push(json!({"service_code": r.str("code")?, "service_name": r.str("name_vi")?,
            "description": r.str("description_vi")?, "metadata": false, "type": "realtime",
            "keywords": r.str("keywords")?}));
    }
    Ok(ok(&Value::Array(out)))
}

async fn service(env: &impl Platform, code: &str) -> Result<Response<Bytes>, Error> {
    if crate::category::get(env, code).await?.is_none() {
        return Ok(error(StatusCode::NOT_FOUND, "no such service_code"));
    }
    Ok(ok(&json!({"service_code": code, "attributes": []})))
}

fn keys(env: &impl Platform) -> Vec<String> {
    env.config("open311_api_keys")
        .map(|k| k.split(',').map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect())
        .unwrap_or_default()
}

/// The form fields `POST requests.json` reads. Each may be given once: a second value (a
/// second `media_url`, say) would otherwise be dropped unread, so it is refused (400).
const READ: [&str; 11] = [
    "api_key",
    "service_code",
    "lat",
    "long",
    "address_string",
    "description",
    "media_url",
    "first_name",
    "last_name",
    "phone",
    "account_id",
];

async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::web::check_size(req, MAX_BODY)?;
    let form: Vec<(String, String)> = form_urlencoded::parse(req.body()).into_owned().collect();
    let get =
        |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.trim().to_owned()).filter(|v| !v.is_empty());
    let given = get("api_key").unwrap_or_default();
    if given.is_empty() || !keys(env).iter().any(|k| civic::auth::constant_time_eq(k.as_bytes(), given.as_bytes())) {
        return Ok(error(StatusCode::FORBIDDEN, "api_key is missing or not valid"));
    }
    if let Some(k) = READ.iter().find(|k| form.iter().filter(|(key, _)| key == *k).count() > 1) {
        return Ok(error(StatusCode::BAD_REQUEST, &format!("{k} is given more than once")));
    }
    let Some(service_code) = get("service_code") else {
        return Ok(error(StatusCode::BAD_REQUEST, "service_code is required"));
    };
    if crate::category::get(env, &service_code).await?.is_none() {
        return Ok(error(StatusCode::NOT_FOUND, "no such service_code"));
    }
    let number = |k: &str| get(k).map(|v| v.parse::<f64>().ok());
    let name = match (get("first_name"), get("last_name")) {
        (Some(f), Some(l)) => Some(format!("{l} {f}")),
        (f, l) => f.or(l),
    };
    let body = json!({
        "category": service_code,
        "description": get("description").unwrap_or_default(),
        "lat": number("lat").map(|v| v.map_or(Value::String("x".into()), Value::from)),
        "lng": number("long").map(|v| v.map_or(Value::String("x".into()), Value::from)),
        "address": get("address_string"),
        "media_urls": get("media_url").map(|u| vec![u]).unwrap_or_default(),
        "name": name,
        "phone": get("phone"),
    });
    let filing: Filing = match report::parse(&body, false) {
        Ok(f) => f,
        Err(Error::Validation(errors)) => {
            let what: Vec<String> = errors
                .iter()
                .map(|e| {
                    let field = match e.field.as_str() {
                        "lng" => "long",
                        "address" => "address_string",
                        "media_urls[0]" | "media_urls" => "media_url",
                        other => other,
                    };
                    format!("{field}: {}", e.message.en)
                })
                .collect();
            return Ok(error(StatusCode::BAD_REQUEST, &what.join("; ")));
        }
        Err(e) => return Err(e),
    };
    let account = get("account_id");
    let sub = account.as_ref().map(|a| format!("open311:{a}"));
    let (code, _) = report::file(env, &filing, sub.as_deref(), "open311", None).await?;
    let (r, _) = store::get(env, &code).await?.ok_or(Error::NotFound)?;
    let notice = format!("Hạn xử lý: {}", civic::web::vn_time(&r.due_at));
    Ok(ok(&json!([{"service_request_id": code, "service_notice": notice, "account_id": account}])))
}

/// Reports as Open311 service requests, with what the list needs joined in one query.
const REQUESTS: &str = "SELECT r.code, r.status, r.category, r.description, r.address, r.lat, r.lng, r.media_urls,
        r.created_at, r.due_at, c.name_vi, a.name AS agency_name,
        (SELECT MAX(at) FROM report_events e WHERE e.code = r.code) AS updated_at,
        (SELECT note FROM report_events e WHERE e.code = r.code AND note IS NOT NULL ORDER BY seq DESC LIMIT 1) AS note
    FROM reports r JOIN categories c ON c.code = r.category JOIN agencies a ON a.code = r.agency";

fn as_request(r: &civic::platform::Row<'_>) -> Result<Value, Error> {
    let status = Status::stored(r.str("status")?)?;
    let due = civic::web::vn_time(r.str("due_at")?);
    let mut v = json!({
        "service_request_id": r.str("code")?,
        "status": status.open311().as_str(),
        "service_name": r.str("name_vi")?,
        "service_code": r.str("category")?,
        "description": r.str("description")?,
        "agency_responsible": r.str("agency_name")?,
        "service_notice": format!("Hạn xử lý: {due}"),
        "requested_datetime": civic::web::vn_time(r.str("created_at")?),
        "updated_datetime": civic::web::vn_time(r.opt_str("updated_at")?.unwrap_or(r.str("created_at")?)),
        "expected_datetime": due,
    });
    if let Some(note) = r.opt_str("note")? {
        v["status_notes"] = json!(note);
    }
    if let Some(a) = r.opt_str("address")? {
        v["address"] = json!(a);
    }
    if let (Some(lat), Some(lng)) = (r.opt_f64("lat")?, r.opt_f64("lng")?) {
        v["lat"] = json!(lat);
        v["long"] = json!(lng);
    }
    let media: Vec<String> = serde_json::from_str(r.str("media_urls")?).unwrap_or_default();
    if let Some(m) = media.first() {
        v["media_url"] = json!(m);
    }
    Ok(v)
}

/// The requests matching a filter (SQL over `r.`), newest first, at most `limit`.
async fn select(env: &impl Platform, filter: &Filter, limit: i64) -> Result<Vec<Value>, Error> {
    let sql = format!("{REQUESTS} WHERE {} ORDER BY r.created_at DESC, r.code DESC LIMIT {limit}", filter.sql());
    let rows = env.query(DB, &sql, filter.params()).await?;
    rows.iter().map(|r| as_request(&r)).collect()
}

async fn one(env: &impl Platform, id: &str) -> Result<Response<Bytes>, Error> {
    let mut filter = Filter::default();
    filter.bind("r.code = ?", id.to_ascii_uppercase());
    let found = select(env, &filter, 1).await?;
    if found.is_empty() {
        return Ok(error(StatusCode::NOT_FOUND, "no such service_request_id"));
    }
    Ok(ok(&Value::Array(found)))
}

async fn token(env: &impl Platform, token: &str) -> Result<Response<Bytes>, Error> {
    let id = token.to_ascii_uppercase();
    if store::get(env, &id).await?.is_none() {
        return Ok(error(StatusCode::NOT_FOUND, "no such token"));
    }
    Ok(ok(&json!([{"service_request_id": id, "token": token}])))
}

fn date(s: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| stamp(t.with_timezone(&Utc)))
}

/// A comma-separated list as a JSON array of its non-empty items, trimmed, each passed
/// through `each`: every item, however many, to bind as one SQL parameter (D1 takes at most
/// 100 parameters per statement, so one per item would cap the list).
fn json_list(list: &str, each: impl Fn(&str) -> String) -> (String, usize) {
    let items: Vec<String> = list.split(',').map(str::trim).filter(|i| !i.is_empty()).map(each).collect();
    (serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_owned()), items.len())
}

/// The query parameters `GET requests.json` reads.
const QUERY: [&str; 5] = ["service_request_id", "start_date", "end_date", "service_code", "status"];

/// The parameters of [`QUERY`] given and not blank; `Err` names one given twice.
fn query(req: &Request<Bytes>) -> Result<Vec<(&'static str, String)>, &'static str> {
    let mut given = Vec::new();
    for k in QUERY {
        if let Some(v) = civic::web::single_param(req, k)?.filter(|v| !v.trim().is_empty()) {
            given.push((k, v));
        }
    }
    Ok(given)
}

/// `GET requests.json`: by `service_request_id` (a comma-separated list of any length; the
/// other parameters are then ignored, as the specification says), else the requests filed
/// from `start_date` (default: [`DEFAULT_DAYS`] ago) to `end_date`, of the comma-separated
/// `service_code`s, `open` or `closed`, newest first, at most [`MAX_LIST`].
async fn requests(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let given = match query(req) {
        Ok(given) => given,
        Err(k) => return Ok(error(StatusCode::BAD_REQUEST, &format!("{k} is given more than once"))),
    };
    let q = |k: &str| given.iter().find(|(name, _)| *name == k).map(|(_, v)| v.as_str());
    let (filter, limit) = if let Some(ids) = q("service_request_id") {
        let (ids, n) = json_list(ids, str::to_ascii_uppercase);
        let mut filter = Filter::default();
        filter.any_of("r.code", ids);
        (filter, i64::try_from(n).unwrap_or(i64::MAX))
    } else {
        match list_filter(q, env.now()) {
            Ok(filter) => (filter, MAX_LIST),
            Err(message) => return Ok(error(StatusCode::BAD_REQUEST, message)),
        }
    };
    Ok(ok(&Value::Array(select(env, &filter, limit).await?)))
}

/// The filter of a list without ids: `start_date`, `end_date`, `service_code`, `status`
/// (`q` gives each, if given); `Err` is the Open311 400's description.
fn list_filter<'a>(q: impl Fn(&str) -> Option<&'a str>, now: DateTime<Utc>) -> Result<Filter, &'static str> {
    let mut filter = Filter::default();
    let start = match q("start_date") {
        Some(s) => date(s).ok_or("start_date must be ISO 8601 with an offset")?,
        None => stamp(now - Duration::days(DEFAULT_DAYS)),
    };
    filter.bind("r.created_at >= ?", start);
    if let Some(e) = q("end_date") {
        filter.bind("r.created_at <= ?", date(e).ok_or("end_date must be ISO 8601 with an offset")?);
    }
    if let Some(codes) = q("service_code") {
        let (codes, n) = json_list(codes, str::to_owned);
        if n > 0 {
            filter.any_of("r.category", codes);
        }
    }
    if let Some(status) = q("status") {
        let status = Open311::parse(status).ok_or("status must be open or closed")?;
        filter.any_of("r.status", Status::json_list(&status.statuses()));
    }
    Ok(filter)
}
