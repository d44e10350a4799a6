//! Small helpers on `http` types shared by every function: JSON responses, size-capped JSON
//! bodies, query strings, path segments, the selftest route, and Vietnam's local time.

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use http::{HeaderValue, Request, Response, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Msg};
use crate::platform::{Platform, contract};

/// A JSON response.
/// This deployment's public address, `public_base_url`, trimmed and without a trailing `/`
/// (`https://api.danang.gov.vn`): what links to our own routes are built on (wallet
/// callbacks, photo URLs, Open311 discovery). [`Error::Config`] when unset or blank.
pub fn public_base_url(env: &impl Platform) -> Result<String, Error> {
    let base = env.config("public_base_url").map(|b| b.trim().trim_end_matches('/').to_owned()).unwrap_or_default();
    if base.is_empty() { Err(Error::Config("public_base_url")) } else { Ok(base) }
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Response<Bytes>, Error> {
    let body = serde_json::to_vec(value).map_err(|e| Error::Internal(format!("serialize: {e}")))?;
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// Refuses a body past `cap` bytes (413), by its declared length before anything is read
/// and by its actual length.
pub fn check_size(req: &Request<Bytes>, cap: usize) -> Result<(), Error> {
    if declares_more_than(req.headers(), cap) || req.body().len() > cap {
        return Err(Error::PayloadTooLarge(cap));
    }
    Ok(())
}

/// True when `Content-Length` announces more than `cap` bytes: the entry points refuse such a
/// request before reading its body.
pub fn declares_more_than(headers: &http::HeaderMap, cap: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > cap as u64)
}

/// The 413 answer an entry point gives when a body passes `cap` (declared or read).
pub fn too_large(headers: &http::HeaderMap, cap: usize) -> Response<Bytes> {
    Error::PayloadTooLarge(cap).into_response(crate::Lang::from_headers(headers))
}

/// The 400 answer an entry point gives when the request body cannot be read (the client
/// broke off mid-body, a malformed chunked encoding): the same problem on every runtime.
/// `cause` is logged, never returned.
pub fn unreadable_body(headers: &http::HeaderMap, cause: &str) -> Response<Bytes> {
    crate::log::error(&format!("reading the request body: {cause}"));
    let msg = Msg::new("Không đọc được nội dung yêu cầu", "the request body could not be read");
    Error::BadRequest(msg).into_response(crate::Lang::from_headers(headers))
}

/// Parses a JSON body after checking its size and media type.
pub fn read_json<T: DeserializeOwned>(req: &Request<Bytes>, cap: usize) -> Result<T, Error> {
    check_size(req, cap)?;
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(Error::UnsupportedMediaType);
        }
    }
    serde_json::from_slice(req.body())
        .map_err(|e| Error::BadRequest(Msg::new(format!("JSON không hợp lệ: {e}"), format!("invalid JSON: {e}"))))
}

/// The decoded `name=value` pairs of the query string.
pub fn query_pairs(req: &Request<Bytes>) -> Vec<(String, String)> {
    req.uri().query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// A query parameter given at most once: `Ok(None)` when absent, `Err(name)` when given more
/// than once (its other values would otherwise be dropped unread). For routes that answer in a
/// partner's format (Open311); the others use [`query_param`].
pub fn single_param<'n>(req: &Request<Bytes>, name: &'n str) -> Result<Option<String>, &'n str> {
    let mut values = query_pairs(req).into_iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    match (values.next(), values.next()) {
        (_, Some(_)) => Err(name),
        (v, None) => Ok(v),
    }
}

/// A query parameter's value, `None` when absent. Given more than once it is refused, 422
/// naming it, never read as its first value.
pub fn query_param(req: &Request<Bytes>, name: &str) -> Result<Option<String>, Error> {
    single_param(req, name).map_err(|field| {
        Error::Validation(vec![crate::FieldError::new(field, Msg::new("Chỉ được cho một lần", "given more than once"))])
    })
}

/// A function's answer to a request: the route's response, or its error as problem+json
/// ([`Error::into_response`]) in the language the request asks for (`Accept-Language`).
pub fn respond(req: &Request<Bytes>, result: Result<Response<Bytes>, Error>) -> Response<Bytes> {
    result.unwrap_or_else(|e| e.into_response(crate::Lang::from_headers(req.headers())))
}

/// The path below `base` as segments, percent-decoded; `None` if the path is not under `base`.
/// A trailing slash is ignored.
pub fn segments(path: &str, base: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix(base)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(rest.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect())
}

/// `%XX` escapes decoded (RFC 3986 §2.1), by the `percent-encoding` crate; an escape that is not
/// two hex digits stays as it is, and bytes that are not UTF-8 become U+FFFD.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Asia/Ho_Chi_Minh: UTC+7 all year (no daylight saving).
pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| unreachable!())
}

/// A time as the databases store it: UTC, whole seconds, trailing `Z`, so text order is
/// time order (RFC 3339, `2024-11-05T02:00:00Z`). Every stored time goes through here:
/// `stamp(env.now())` for now.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A time as [`stamp`] stored it (any RFC 3339 text is read); `None` for text that is not one.
pub fn parse_stamp(stored: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(stored).ok().map(|t| t.with_timezone(&Utc))
}

/// A stored time as answers show it, in Vietnam time with its offset
/// (`2024-11-05T09:00:00+07:00`); text that is not a time is shown as it is.
pub fn vn_time(stored: &str) -> String {
    DateTime::parse_from_rfc3339(stored)
        .map_or_else(|_| stored.to_owned(), |t| t.with_timezone(&vietnam()).to_rfc3339())
}

/// The calendar date in Vietnam at `now` (today's for `env.now()`).
pub fn vn_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&vietnam()).date_naive()
}

/// `GET /<base>/health`: `200 {"status": "ok", "<table>": <row count>}` when the function's
/// database answers; when it does not, the problem of a database failure
/// ([`Error::Unavailable`]: 503 with `Retry-After`). `table` is a constant of the function
/// (it is part of the SQL text).
pub async fn health(env: &impl Platform, db: &str, table: &str) -> Result<Response<Bytes>, Error> {
    let rows = env.query(db, &format!("SELECT count(*) AS n FROM {table}"), &[]).await?;
    let n = rows.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0);
    let mut body = serde_json::Map::new();
    body.insert("status".into(), "ok".into());
    body.insert(table.into(), n.into());
    json(StatusCode::OK, &body)
}

/// `POST /<base>/selftest` (admin role): runs the platform's SQL contract checks
/// ([`contract::CHECKS`]) against `db` on the runtime that serves the request. Answers
/// `200 {"passed": n, "failed": n, "checks": [{"name", "ok", "error"?}, ...]}`.
pub async fn selftest(req: &Request<Bytes>, env: &impl Platform, db: &str) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), crate::auth::Role::Admin)?;
    json(StatusCode::OK, &run_checks(env, db).await)
}

/// The selftest's answer. Each check drops its scratch table whatever its outcome
/// ([`contract::run_one`]), so a production database keeps nothing of a failed check.
async fn run_checks(env: &impl Platform, db: &str) -> serde_json::Value {
    let results = contract::run_all(env, db).await;
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    let checks: Vec<serde_json::Value> = results
        .iter()
        .map(|(name, r)| match r {
            Ok(()) => serde_json::json!({"name": name, "ok": true}),
            Err(e) => serde_json::json!({"name": name, "ok": false, "error": e}),
        })
        .collect();
    serde_json::json!({"passed": results.len() - failed, "failed": failed, "checks": checks})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_table() {
        let cases: [(&str, &str, Option<&[&str]>); 7] = [
            ("/food-safety", "/food-safety", Some(&[])),
            ("/food-safety/", "/food-safety", Some(&[])),
            ("/food-safety/establishments", "/food-safety", Some(&["establishments"])),
            ("/food-safety/establishments/DN-1/", "/food-safety", Some(&["establishments", "DN-1"])),
            ("/food-safety/establishments/a%20b", "/food-safety", Some(&["establishments", "a b"])),
            ("/food-safetyx", "/food-safety", None),
            ("/permits/x", "/food-safety", None),
        ];
        for (path, base, want) in cases {
            let got = segments(path, base);
            let want: Option<Vec<String>> = want.map(|w| w.iter().map(|s| (*s).to_owned()).collect());
            assert_eq!(got, want, "segments({path:?})");
        }
    }

    #[test]
    fn a_repeated_query_parameter_is_refused_not_cut() {
        let req = Request::get("/x?a=1&b=2&b=3").body(Bytes::new()).unwrap();
        assert_eq!(query_param(&req, "a").ok().flatten().as_deref(), Some("1"));
        assert_eq!(query_param(&req, "c").ok().flatten(), None);
        assert_eq!(single_param(&req, "b"), Err("b"));
        let Err(Error::Validation(errors)) = query_param(&req, "b") else { panic!("b is repeated") };
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn percent_decode_is_total() {
        for s in ["%", "%4", "%zz", "a%41", "%E1%BB%9F", "%%%"] {
            let _ = percent_decode(s);
        }
        assert_eq!(percent_decode("a%41"), "aA");
        assert_eq!(percent_decode("Ph%E1%BB%9F"), "Phở");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%+1"), "%+1", "a sign is not a hex digit");
    }

    #[test]
    fn body_caps() {
        let big = Request::put("/x").body(Bytes::from(vec![b' '; 11])).unwrap();
        assert!(matches!(check_size(&big, 10), Err(Error::PayloadTooLarge(10))));
        let declared = Request::put("/x").header("content-length", "999999").body(Bytes::new()).unwrap();
        assert!(matches!(check_size(&declared, 10), Err(Error::PayloadTooLarge(10))));
        let ok = Request::put("/x").body(Bytes::from_static(b"[1]")).unwrap();
        assert_eq!(read_json::<Vec<i32>>(&ok, 10).unwrap(), vec![1]);
        let xml = Request::put("/x").header("content-type", "text/xml").body(Bytes::from_static(b"[1]")).unwrap();
        assert!(matches!(read_json::<Vec<i32>>(&xml, 10), Err(Error::UnsupportedMediaType)));
        let bad = Request::put("/x").body(Bytes::from_static(b"[1,")).unwrap();
        assert!(matches!(read_json::<Vec<i32>>(&bad, 10), Err(Error::BadRequest(_))));
    }

    #[test]
    fn stored_and_shown_times() {
        let t = DateTime::parse_from_rfc3339("2024-11-05T09:00:00.5+07:00").unwrap().with_timezone(&Utc);
        assert_eq!(stamp(t), "2024-11-05T02:00:00Z");
        assert_eq!(vn_time("2024-11-05T02:00:00Z"), "2024-11-05T09:00:00+07:00");
        assert_eq!(vn_time("not a time"), "not a time");
    }

    #[test]
    fn vietnam_date_rolls_over_at_17_utc() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(vn_today(t("2025-03-01T16:59:59Z")).to_string(), "2025-03-01");
        assert_eq!(vn_today(t("2025-03-01T17:00:00Z")).to_string(), "2025-03-02");
    }

    #[test]
    fn an_unreadable_body_is_a_400_problem() {
        let mut headers = http::HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("en"));
        let resp = unreadable_body(&headers, "connection reset");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/problem+json");
        let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(v["detail"], "the request body could not be read");
        assert!(!v.to_string().contains("reset"), "the cause is logged, not returned: {v}");
    }

    #[test]
    fn selftest_leaves_no_probe_table_when_checks_fail_midway() {
        use crate::platform::native::block_on;
        let env = crate::testing::ReadsFail(crate::platform::native::NativePlatform::in_memory(&["db"]));
        let probe = || {
            let sql = "SELECT name FROM sqlite_master WHERE name = ?1";
            !block_on(env.0.query("db", sql, &["_contract_probe".into()])).unwrap().is_empty()
        };
        let report = block_on(run_checks(&env, "db"));
        // the last check fails midway, after its insert
        assert_eq!(report["checks"][contract::CHECKS.len() - 1]["ok"], false, "{report}");
        assert!(!probe(), "the selftest drops the probe table: {report}");
        let healthy = crate::platform::native::NativePlatform::in_memory(&["db"]);
        let report = block_on(run_checks(&healthy, "db"));
        let counts = (report["passed"].clone(), report["failed"].clone());
        assert_eq!(counts, (serde_json::json!(contract::CHECKS.len()), serde_json::json!(0)), "{report}");
    }
}
