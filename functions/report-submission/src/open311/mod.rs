//! Open311 GeoReport v2, under `/open311/v2/`: the same categories (services) and reports
//! (service requests) as the native API, for the clients written against the published
//! specification (<http://wiki.open311.org/GeoReport_v2>), in both of its formats: every
//! route is `{name}.xml` (`Content-Type: text/xml; charset=utf-8`, the specification's
//! required format) or `{name}.json`, each answer built once and written in either
//! ([`doc`]).
//!
//! - `GET discovery.{fmt}` (the endpoint's `url` is built on `public_base_url`),
//!   `GET services.{fmt}`, `GET services/{code}.{fmt}` (the service
//!   definition: the category's attributes, [`crate::attribute`]);
//! - `POST requests.{fmt}` (form-encoded; `api_key` one of `open311_api_keys`):
//!   `service_code`, `lat` and `long` or `address_string`, `description` (optional: the
//!   service's name stands for a missing one), `media_url` (`https://`, or a photo URL of
//!   `POST /reports/media`),
//!   `email`, `phone`, `first_name`, `last_name`, `device_id`, `account_id`, and the
//!   answers `attribute[code]` (`attribute[code][]` repeated for a `multivaluelist`)
//!   (`email` and `device_id` are accepted and not kept; a field it reads given twice is a
//!   400); answers `service_requests/request` with `service_request_id`, `service_notice`,
//!   `account_id`;
//! - `GET requests.{fmt}?service_request_id=&service_code=&start_date=&end_date=&status=`
//!   (every listed `service_request_id`, however many, the other parameters then ignored;
//!   else the last 90 days and at most 1000, newest first; `status` is `open`, `closed` or
//!   both, comma-separated), `GET requests/{id}.{fmt}`,
//!   `GET tokens/{token}.{fmt}` (requests are created at once, so a token is its request id);
//! - `GET` and `POST servicerequestupdates.{fmt}`: the FixMyStreet extension, [`updates`].
//!
//! `jurisdiction_id` (query, or form field of a POST) may be left out or empty; given, it
//! must be this deployment's (`open311_jurisdiction_id`), else 404. `open311_api_keys` is a
//! comma-separated list of `key` (a client that files requests) and `key=agency_code` (an
//! agency's own case system, which may also post updates to that agency's reports).
//!
//! Ids are strings, times ISO 8601 with `+07:00`, errors `errors/error` with `code` and
//! `description` and the HTTP status 400 (a parameter given twice included), 403, 404, 405
//! (with `Allow`), 409 (an update the report's status does not allow) or 413.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use civic::{Error, Platform};
use http::{HeaderValue, Request, Response, StatusCode, header};

use crate::attribute;
use crate::report::{self, Filing};
use crate::status::{Open311, Status};
use crate::store::{self, DB, Filter, stamp};

pub mod doc;
pub mod updates;

use doc::{Node, list};

pub const BASE: &str = "/open311/v2";
/// The largest form a POST takes, in bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// The days a request list covers when it names no `start_date`.
pub const DEFAULT_DAYS: i64 = 90;
/// The most requests a list without `service_request_id` answers (newest first).
pub const MAX_LIST: i64 = 1_000;

/// The two formats of every route, by the path's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// `name.json` or `name.xml`: the name and its format.
    pub fn split(file: &str) -> Option<(&str, Format)> {
        if let Some(name) = file.strip_suffix(".json") {
            Some((name, Format::Json))
        } else {
            file.strip_suffix(".xml").map(|name| (name, Format::Xml))
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

/// A document to answer: its XML root element and its content.
#[derive(Debug)]
pub struct Doc {
    pub root: &'static str,
    pub node: Node,
}

/// An Open311 error: the HTTP status, the `description`, for a 405 the methods the path
/// takes (`Allow`), and for a 429 the seconds to wait (`Retry-After`).
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub description: String,
    allow: Option<&'static str>,
    retry_after: Option<u64>,
}

/// A refusal with this status and description.
pub fn refuse(status: StatusCode, description: impl Into<String>) -> Refusal {
    Refusal { status, description: description.into(), allow: None, retry_after: None }
}

/// The Open311 names of the native API's fields, for error descriptions.
fn open311_field(field: &str) -> String {
    match field {
        "lng" => "long".to_owned(),
        "address" => "address_string".to_owned(),
        "media_urls[0]" | "media_urls" => "media_url".to_owned(),
        f => f.strip_prefix("attributes.").map_or_else(|| f.to_owned(), |code| format!("attribute[{code}]")),
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Refusal {
        let status = e.status();
        let description = match &e {
            _ if status.is_server_error() => {
                civic::log::error(&format!("open311: {e}"));
                "internal error".to_owned()
            }
            Error::Validation(errors) => {
                let what: Vec<String> =
                    errors.iter().map(|e| format!("{}: {}", open311_field(&e.field), e.message.en)).collect();
                what.join("; ")
            }
            Error::BadRequest(m) | Error::Conflict(m) => m.en.to_string(),
            Error::PayloadTooLarge(cap) => format!("the body is over {cap} bytes"),
            Error::TooManyRequests(n) => {
                return Refusal {
                    retry_after: Some(*n),
                    ..refuse(status, format!("too many requests for this api_key; retry after {n} seconds"))
                };
            }
            _ => status.canonical_reason().unwrap_or("refused").to_lowercase(),
        };
        // A validation failure is the specification's 400, not the native API's 422.
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
        refuse(status, description)
    }
}

impl From<civic::platform::DbError> for Refusal {
    fn from(e: civic::platform::DbError) -> Refusal {
        Refusal::from(Error::from(e))
    }
}

/// What a route answers.
pub type Answer = Result<Doc, Refusal>;

/// The response of a document or refusal in `format`.
fn respond(answer: Answer, format: Format) -> Response<Bytes> {
    let (status, root, node, allow, retry_after) = match answer {
        Ok(Doc { root, node }) => (StatusCode::OK, root, node, None, None),
        Err(r) => {
            let error = Node::Map(vec![
                ("code", Node::Int(i64::from(r.status.as_u16()))),
                ("description", Node::Text(r.description)),
            ]);
            (r.status, "errors", list("error", vec![error]), r.allow, r.retry_after)
        }
    };
    let body = match format {
        Format::Json => node.json().to_string().into_bytes(),
        Format::Xml => node.xml(root),
    };
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Some(allow) = allow {
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    if let Some(seconds) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // The database failed: nothing was stored; a client retries after this long.
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(civic::error::RETRY_AFTER_SECONDS));
    }
    resp
}

/// An Open311 405, with the `Allow` header (RFC 9110) naming the methods the path takes.
fn not_allowed(allow: &'static str) -> Refusal {
    Refusal { allow: Some(allow), ..refuse(StatusCode::METHOD_NOT_ALLOWED, "method not allowed") }
}

/// The parsed form of a POST, after its size is checked.
pub type Form = Vec<(String, String)>;

fn read_form(req: &Request<Bytes>) -> Result<Form, Refusal> {
    civic::web::check_size(req, MAX_BODY)?;
    Ok(form_urlencoded::parse(req.body()).into_owned().collect())
}

/// The one value of a form field, trimmed, `None` when absent or blank.
pub fn field(form: &Form, name: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A 400 naming the first of `names` given more than once.
pub fn once(form: &Form, names: &[&str]) -> Result<(), Refusal> {
    match names.iter().find(|k| form.iter().filter(|(key, _)| key == *k).count() > 1) {
        Some(k) => Err(refuse(StatusCode::BAD_REQUEST, format!("{k} is given more than once"))),
        None => Ok(()),
    }
}

/// A query parameter given at most once (400 otherwise), blank as none.
pub fn param(req: &Request<Bytes>, name: &str) -> Result<Option<String>, Refusal> {
    civic::web::single_param(req, name)
        .map(|v| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
        .map_err(|k| refuse(StatusCode::BAD_REQUEST, format!("{k} is given more than once")))
}

/// `jurisdiction_id`, when given and not empty, must be this deployment's.
fn jurisdiction(given: Option<String>, env: &impl Platform) -> Result<(), Refusal> {
    let Some(given) = given else { return Ok(()) };
    let ours = env.config("open311_jurisdiction_id").map(|j| j.trim().to_owned()).filter(|j| !j.is_empty());
    if ours.as_deref() == Some(given.as_str()) {
        Ok(())
    } else {
        Err(refuse(StatusCode::NOT_FOUND, format!("jurisdiction_id {given:?} is not served here")))
    }
}

/// Every Open311 route; `segments` are below [`BASE`], the last one `{name}.{fmt}`.
pub async fn route(req: &Request<Bytes>, env: &impl Platform, segments: &[&str]) -> Response<Bytes> {
    let Some((last, format)) = segments.last().and_then(|s| Format::split(s)) else {
        return respond(Err(refuse(StatusCode::NOT_FOUND, "not found")), Format::Json);
    };
    let mut path = segments.to_vec();
    if let Some(end) = path.last_mut() {
        *end = last;
    }
    respond(answer(req, env, &path).await, format)
}

async fn answer(req: &Request<Bytes>, env: &impl Platform, path: &[&str]) -> Answer {
    // Only the two POST routes read a form: a POST elsewhere is a 405 or 404, whatever its body.
    let posted = req.method() == http::Method::POST && matches!(path, ["requests" | "servicerequestupdates"]);
    let form = if posted { read_form(req)? } else { Form::new() };
    let given = if posted {
        once(&form, &["jurisdiction_id"])?;
        field(&form, "jurisdiction_id")
    } else {
        param(req, "jurisdiction_id")?
    };
    jurisdiction(given, env)?;
    match (req.method().as_str(), path) {
        ("GET", ["discovery"]) => Ok(discovery(req, env)),
        ("GET", ["services"]) => services(env).await,
        ("GET", ["services", code]) => service(env, code).await,
        ("GET", ["requests"]) => requests(req, env).await,
        ("POST", ["requests"]) => post(&form, env).await,
        ("GET", ["requests", id]) => one(env, id).await,
        ("GET", ["tokens", t]) => token(env, t).await,
        ("GET", ["servicerequestupdates"]) => updates::list(req, env).await,
        ("POST", ["servicerequestupdates"]) => updates::post(&form, env).await,
        (_, ["requests" | "servicerequestupdates"]) => Err(not_allowed("GET, POST")),
        (_, ["discovery" | "services"] | ["services" | "requests" | "tokens", _]) => Err(not_allowed("GET")),
        _ => Err(refuse(StatusCode::NOT_FOUND, "not found")),
    }
}

fn text(s: impl Into<String>) -> Node {
    Node::Text(s.into())
}

/// Where this deployment answers: `public_base_url`, else the request's own `Host`.
fn public_base(req: &Request<Bytes>, env: &impl Platform) -> String {
    if let Ok(base) = civic::web::public_base_url(env) {
        return base;
    }
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = if host.starts_with("127.0.0.1") || host.starts_with("localhost") { "http" } else { "https" };
    format!("{scheme}://{host}")
}

fn discovery(req: &Request<Bytes>, env: &impl Platform) -> Doc {
    let changeset = "2026-11-30T00:00:00+07:00";
    let endpoint = Node::Map(vec![
        ("specification", text("http://wiki.open311.org/GeoReport_v2")),
        ("url", text(format!("{}{BASE}", public_base(req, env)))),
        ("changeset", text(changeset)),
        ("type", text("production")),
        ("formats", list("format", vec![text("text/xml"), text("application/json")])),
    ]);
    Doc {
        root: "discovery",
        node: Node::Map(vec![
            ("changeset", text(changeset)),
            ("contact", text("Trung tâm Giám sát điều hành đô thị thông minh — đường dây nóng 1022")),
            ("key_service", text("Xin api_key từ Trung tâm Giám sát điều hành đô thị thông minh")),
            ("endpoints", list("endpoint", vec![endpoint])),
        ]),
    }
}

async fn services(env: &impl Platform) -> Answer {
    let rows = env
        .query(
            DB,
            "SELECT code, name_vi, description_vi, keywords, json_array_length(attributes) > 0 AS metadata
             FROM categories ORDER BY code",
            &[],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        let field = |c: &str| r.str(c).map(text);
        out.push(Node::Map(vec![
            ("service_code", field("code")?),
            ("service_name", field("name_vi")?),
            ("description", field("description_vi")?),
            ("metadata", Node::Bool(r.i64("metadata")? == 1)),
            ("type", text("realtime")),
            ("keywords", field("keywords")?),
        ]));
    }
    Ok(Doc { root: "services", node: list("service", out) })
}

/// The service definition: the category's attributes in display order.
async fn service(env: &impl Platform, code: &str) -> Answer {
    let Some(known) = crate::category::get(env, code).await? else {
        return Err(refuse(StatusCode::NOT_FOUND, "no such service_code"));
    };
    let attributes = attribute::ordered(&known.attributes)
        .into_iter()
        .map(|(order, a)| {
            let values = a
                .values
                .iter()
                .map(|v| Node::Map(vec![("key", text(v.key.as_str())), ("name", text(v.name.as_str()))]))
                .collect();
            Node::Map(vec![
                ("variable", Node::Bool(a.variable)),
                ("code", text(a.code.as_str())),
                ("datatype", text(a.datatype.as_str())),
                ("required", Node::Bool(a.required)),
                ("datatype_description", Node::opt_text(a.datatype_description.as_deref())),
                ("order", Node::Int(order)),
                ("description", text(a.description.as_str())),
                ("values", list("value", values)),
            ])
        })
        .collect();
    let node = Node::Map(vec![("service_code", text(known.code)), ("attributes", list("attribute", attributes))]);
    Ok(Doc { root: "service_definition", node })
}

/// One entry of `open311_api_keys`: a key, and the agency it is bound to (`key=agency`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub key: String,
    pub agency: Option<String>,
}

/// The configured keys (`key` or `key=agency_code`, comma separated).
pub fn api_keys(env: &impl Platform) -> Vec<ApiKey> {
    let list = env.config("open311_api_keys").unwrap_or_default();
    list.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((key, agency)) => {
                ApiKey { key: key.trim().to_owned(), agency: Some(agency.trim().to_owned()).filter(|a| !a.is_empty()) }
            }
            None => ApiKey { key: entry.to_owned(), agency: None },
        })
        .filter(|k| !k.key.is_empty())
        .collect()
}

/// The configured key the form's `api_key` is (compared in constant time), else a 403.
pub fn caller(form: &Form, env: &impl Platform) -> Result<ApiKey, Refusal> {
    let given = field(form, "api_key").unwrap_or_default();
    // Every key is compared, so the time taken does not tell which one matched.
    let found = api_keys(env).into_iter().fold(None, |found, k| {
        if civic::auth::constant_time_eq(k.key.as_bytes(), given.as_bytes()) { Some(k) } else { found }
    });
    found.filter(|_| !given.is_empty()).ok_or_else(|| refuse(StatusCode::FORBIDDEN, "api_key is missing or not valid"))
}

/// The form fields `POST requests` reads besides the attributes. Each may be given once: a
/// second value (a second `media_url`, say) would otherwise be dropped unread, so it is
/// refused (400).
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

async fn post(form: &Form, env: &impl Platform) -> Answer {
    let client = caller(form, env)?;
    once(form, &READ)?;
    if let Some(key) = attribute::malformed(form) {
        return Err(refuse(StatusCode::BAD_REQUEST, format!("{key} is not attribute[code] or attribute[code][]")));
    }
    let get = |k: &str| field(form, k);
    let Some(service_code) = get("service_code") else {
        return Err(refuse(StatusCode::BAD_REQUEST, "service_code is required"));
    };
    let number = |k: &str| get(k).map(|v| v.parse::<f64>().ok());
    let name = match (get("first_name"), get("last_name")) {
        (Some(f), Some(l)) => Some(format!("{l} {f}")),
        (f, l) => f.or(l),
    };
    // `description` is optional in the specification: a report without one is described by
    // its service's name.
    let Some(known) = crate::category::get(env, &service_code).await? else {
        return Err(refuse(StatusCode::NOT_FOUND, "no such service_code"));
    };
    let body = serde_json::json!({
        "category": service_code,
        "description": get("description").unwrap_or(known.name_vi),
        "lat": number("lat").map(|v| v.map_or(serde_json::Value::String("x".into()), serde_json::Value::from)),
        "lng": number("long").map(|v| v.map_or(serde_json::Value::String("x".into()), serde_json::Value::from)),
        "address": get("address_string"),
        "media_urls": get("media_url").map(|u| vec![u]).unwrap_or_default(),
        "name": name,
        "phone": get("phone"),
    });
    let ours = |u: &str| crate::media::id_in(env, u).is_some();
    let filing = Filing { attributes: attribute::from_form(form), ..report::parse(&body, false, ours)? };
    let account = get("account_id");
    let sub = account.as_ref().map(|a| format!("open311:{a}"));
    let counted = report::OPEN311_FILING.count(env, &civic::limit::Caller::Open311Key(client.key))?;
    let (code, _) = report::file(env, &filing, sub.as_deref(), "open311", None, &counted).await?.code()?;
    let (r, _) = store::get(env, &code).await?.ok_or(Error::NotFound)?;
    let notice = format!("Hạn xử lý: {}", civic::web::vn_time(&r.due_at));
    let request = Node::Map(vec![
        ("service_request_id", text(code)),
        ("service_notice", text(notice)),
        ("account_id", Node::opt_text(account)),
    ]);
    Ok(Doc { root: "service_requests", node: list("request", vec![request]) })
}

/// Reports as Open311 service requests, with what the list needs joined in one query.
const REQUESTS: &str = "SELECT r.code, r.status, r.category, r.description, r.address, r.lat, r.lng, r.media_urls,
        r.created_at, r.due_at, c.name_vi, a.name AS agency_name,
        (SELECT MAX(at) FROM report_events e WHERE e.code = r.code) AS updated_at,
        (SELECT note FROM report_events e WHERE e.code = r.code AND note IS NOT NULL ORDER BY seq DESC LIMIT 1) AS note
    FROM reports r JOIN categories c ON c.code = r.category JOIN agencies a ON a.code = r.agency";

/// One row of [`REQUESTS`] as a `request`, its fields in the specification's order (those
/// with no value left out).
fn as_request(r: &civic::platform::Row<'_>) -> Result<Node, Error> {
    let status = Status::stored(r.str("status")?)?;
    let due = civic::web::vn_time(r.str("due_at")?);
    let mut v = vec![("service_request_id", text(r.str("code")?)), ("status", text(status.open311().as_str()))];
    if let Some(note) = r.opt_str("note")? {
        v.push(("status_notes", text(note)));
    }
    v.extend([
        ("service_name", text(r.str("name_vi")?)),
        ("service_code", text(r.str("category")?)),
        ("description", text(r.str("description")?)),
        ("agency_responsible", text(r.str("agency_name")?)),
        ("service_notice", text(format!("Hạn xử lý: {due}"))),
        ("requested_datetime", text(civic::web::vn_time(r.str("created_at")?))),
        ("updated_datetime", text(civic::web::vn_time(r.opt_str("updated_at")?.unwrap_or(r.str("created_at")?)))),
        ("expected_datetime", text(due)),
    ]);
    if let Some(a) = r.opt_str("address")? {
        v.push(("address", text(a)));
    }
    if let (Some(lat), Some(lng)) = (r.opt_f64("lat")?, r.opt_f64("lng")?) {
        v.push(("lat", Node::Float(lat)));
        v.push(("long", Node::Float(lng)));
    }
    let media: Vec<String> = serde_json::from_str(r.str("media_urls")?).unwrap_or_default();
    if let Some(m) = media.into_iter().next() {
        v.push(("media_url", text(m)));
    }
    Ok(Node::Map(v))
}

/// The requests matching a filter (SQL over `r.`), newest first, at most `limit`.
async fn select(env: &impl Platform, filter: &Filter, limit: i64) -> Result<Vec<Node>, Error> {
    let sql = format!("{REQUESTS} WHERE {} ORDER BY r.created_at DESC, r.code DESC LIMIT {limit}", filter.sql());
    let rows = env.query(DB, &sql, filter.params()).await?;
    rows.iter().map(|r| as_request(&r)).collect()
}

fn requests_doc(found: Vec<Node>) -> Doc {
    Doc { root: "service_requests", node: list("request", found) }
}

async fn one(env: &impl Platform, id: &str) -> Answer {
    let mut filter = Filter::default();
    filter.bind("r.code = ?", id.to_ascii_uppercase());
    let found = select(env, &filter, 1).await?;
    if found.is_empty() {
        return Err(refuse(StatusCode::NOT_FOUND, "no such service_request_id"));
    }
    Ok(requests_doc(found))
}

async fn token(env: &impl Platform, token: &str) -> Answer {
    let id = token.to_ascii_uppercase();
    if store::get(env, &id).await?.is_none() {
        return Err(refuse(StatusCode::NOT_FOUND, "no such token"));
    }
    let request = Node::Map(vec![("service_request_id", text(id)), ("token", text(token))]);
    Ok(requests_doc(vec![request]))
}

/// An ISO 8601 time with an offset, as stored (UTC, `Z`).
pub fn date(s: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| stamp(t.with_timezone(&Utc)))
}

/// A comma-separated list as a JSON array of its non-empty items, trimmed, each passed
/// through `each`: every item, however many, to bind as one SQL parameter (D1 takes at most
/// 100 parameters per statement, so one per item would cap the list).
fn json_list(list: &str, each: impl Fn(&str) -> String) -> (String, usize) {
    let items: Vec<String> = list.split(',').map(str::trim).filter(|i| !i.is_empty()).map(each).collect();
    (serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_owned()), items.len())
}

/// The query parameters `GET requests` reads.
const QUERY: [&str; 5] = ["service_request_id", "start_date", "end_date", "service_code", "status"];

/// `GET requests`: by `service_request_id` (a comma-separated list of any length; the
/// other parameters are then ignored, as the specification says), else the requests filed
/// from `start_date` (default: [`DEFAULT_DAYS`] ago) to `end_date`, of the comma-separated
/// `service_code`s, `open` or `closed`, newest first, at most [`MAX_LIST`].
async fn requests(req: &Request<Bytes>, env: &impl Platform) -> Answer {
    let mut given = Vec::new();
    for k in QUERY {
        if let Some(v) = param(req, k)? {
            given.push((k, v));
        }
    }
    let q = |k: &str| given.iter().find(|(name, _)| *name == k).map(|(_, v)| v.as_str());
    let (filter, limit) = if let Some(ids) = q("service_request_id") {
        let (ids, n) = json_list(ids, str::to_ascii_uppercase);
        let mut filter = Filter::default();
        filter.any_of("r.code", ids);
        (filter, i64::try_from(n).unwrap_or(i64::MAX))
    } else {
        (list_filter(q, env.now()).map_err(|m| refuse(StatusCode::BAD_REQUEST, m))?, MAX_LIST)
    };
    Ok(requests_doc(select(env, &filter, limit).await?))
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
    if let Some(list) = q("status") {
        // One or both of `open` and `closed`, comma-separated.
        let mut statuses = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            statuses
                .extend(Open311::parse(item).ok_or("status must be open, closed or both, comma-separated")?.statuses());
        }
        if !statuses.is_empty() {
            filter.any_of("r.status", Status::json_list(&statuses));
        }
    }
    Ok(filter)
}
