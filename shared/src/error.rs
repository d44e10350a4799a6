//! One error type for every function, mapped to an RFC 9457 `application/problem+json`
//! response in exactly one place ([`Error::into_response`]).
//!
//! Titles and field messages are Vietnamese by default and English when the caller sends
//! `Accept-Language: en`. Internal details ([`Error::Internal`]) are logged and never returned.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde::Serialize;

/// How long a caller should wait before retrying after a database failure (seconds), sent as
/// `Retry-After` with every [`Error::Unavailable`].
pub const RETRY_AFTER_SECONDS: u64 = 10;

/// The language of a response: Vietnamese unless the caller prefers English.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// Picks the language from `Accept-Language`: English when an `en` range is preferred
    /// over any `vi` range (highest `q` wins, first listed wins ties), Vietnamese otherwise.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        let Some(value) = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()) else {
            return Lang::Vi;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else if tag == "vi" || tag.starts_with("vi-") {
                Lang::Vi
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Vi, |(_, l)| l)
    }

    /// Chooses between a Vietnamese and an English text.
    pub fn pick<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

/// A message in both languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub vi: Cow<'static, str>,
    pub en: Cow<'static, str>,
}

impl Msg {
    pub fn new(vi: impl Into<Cow<'static, str>>, en: impl Into<Cow<'static, str>>) -> Msg {
        Msg { vi: vi.into(), en: en.into() }
    }
    pub fn required() -> Msg {
        Msg::new("Bắt buộc phải có", "is required")
    }
    pub fn invalid(vi: impl Into<Cow<'static, str>>, en: impl Into<Cow<'static, str>>) -> Msg {
        Msg::new(vi, en)
    }
    pub fn too_long(max: usize) -> Msg {
        Msg::new(format!("Dài quá {max} ký tự"), format!("longer than {max} characters"))
    }
    pub fn text(&self, lang: Lang) -> &str {
        lang.pick(&self.vi, &self.en)
    }
}

/// One invalid field of a request, named by its JSON path (`[3].certificate.expires`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: Msg,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: Msg) -> FieldError {
        FieldError { field: field.into(), message }
    }
}

/// Everything that can go wrong while handling a request.
#[derive(Debug)]
pub enum Error {
    /// The body is not what the route accepts (not JSON, wrong shape). The detail is safe to show.
    BadRequest(Msg),
    /// Well-formed but invalid; every field error at once.
    Validation(Vec<FieldError>),
    /// Missing, malformed, expired or forged credentials.
    Unauthorized,
    /// A webhook's signature is missing or does not match its body.
    BadSignature,
    /// Authenticated, but the role does not allow this.
    Forbidden,
    NotFound,
    /// The request cannot apply to the resource's current state (a fee already paid). The
    /// detail is safe to show.
    Conflict(Msg),
    /// The path exists but not for this method; the methods it is routed for, sent as `Allow`
    /// (RFC 9110 §15.5.6).
    MethodNotAllowed(&'static [Method]),
    /// The body is larger than the route's cap (bytes).
    PayloadTooLarge(usize),
    UnsupportedMediaType,
    /// The caller sent more than its share (uploads in the last hour); retry after this many
    /// seconds, sent as `Retry-After` (RFC 6585 §4).
    TooManyRequests(u64),
    /// A partner's service (a bank, a wallet) failed or refused; the text is logged, shown
    /// as a 502.
    Upstream(String),
    /// A required setting is missing; logged, shown as a 500.
    Config(&'static str),
    /// The database failed (locked past the busy timeout, missing, not bound, full, I/O): the
    /// text is logged, the caller gets a 503 with `Retry-After` ([`RETRY_AFTER_SECONDS`]) and
    /// nothing was acknowledged, so a partner retries.
    Unavailable(String),
    /// Anything else; the text is logged, never returned.
    Internal(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadRequest(m) => write!(f, "bad request: {}", m.en),
            Error::Validation(errs) => write!(f, "validation failed on {} field(s)", errs.len()),
            Error::Unauthorized => f.write_str("unauthorized"),
            Error::BadSignature => f.write_str("bad webhook signature"),
            Error::Forbidden => f.write_str("forbidden"),
            Error::NotFound => f.write_str("not found"),
            Error::Conflict(m) => write!(f, "conflict: {}", m.en),
            Error::MethodNotAllowed(_) => f.write_str("method not allowed"),
            Error::PayloadTooLarge(n) => write!(f, "payload larger than {n} bytes"),
            Error::UnsupportedMediaType => f.write_str("unsupported media type"),
            Error::TooManyRequests(n) => write!(f, "too many requests; retry after {n} s"),
            Error::Config(key) => write!(f, "missing configuration: {key}"),
            Error::Upstream(e) => write!(f, "partner service: {e}"),
            Error::Unavailable(e) => write!(f, "unavailable: {e}"),
            Error::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<crate::platform::DbError> for Error {
    fn from(e: crate::platform::DbError) -> Self {
        Error::Unavailable(format!("database: {e}"))
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<ProblemField<'a>>,
}

#[derive(Serialize)]
struct ProblemField<'a> {
    field: &'a str,
    message: &'a str,
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unauthorized | Error::BadSignature => StatusCode::UNAUTHORIZED,
            Error::Forbidden => StatusCode::FORBIDDEN,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Config(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::Upstream(_) => StatusCode::BAD_GATEWAY,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// (type slug, Vietnamese title, English title)
    fn describe(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            Error::BadRequest(_) => ("bad-request", "Yêu cầu không hợp lệ", "Bad request"),
            Error::Validation(_) => ("validation", "Dữ liệu không hợp lệ", "Invalid data"),
            Error::Unauthorized => ("unauthorized", "Chưa xác thực", "Unauthorized"),
            Error::BadSignature => ("bad-signature", "Chữ ký không hợp lệ", "Invalid signature"),
            Error::Forbidden => ("forbidden", "Không có quyền", "Forbidden"),
            Error::NotFound => ("not-found", "Không tìm thấy", "Not found"),
            Error::Conflict(_) => ("conflict", "Không thực hiện được ở trạng thái hiện tại", "Conflict"),
            Error::MethodNotAllowed(_) => ("method-not-allowed", "Phương thức không được hỗ trợ", "Method not allowed"),
            Error::PayloadTooLarge(_) => ("payload-too-large", "Dữ liệu gửi lên quá lớn", "Payload too large"),
            Error::UnsupportedMediaType => {
                ("unsupported-media-type", "Kiểu dữ liệu không được hỗ trợ", "Unsupported media type")
            }
            Error::TooManyRequests(_) => ("too-many-requests", "Gửi quá nhiều yêu cầu", "Too many requests"),
            Error::Config(_) | Error::Internal(_) => ("internal", "Lỗi hệ thống", "Internal error"),
            Error::Upstream(_) => ("upstream", "Dịch vụ đối tác không phản hồi đúng", "A partner service failed"),
            Error::Unavailable(_) => ("unavailable", "Dịch vụ tạm thời gián đoạn", "Service temporarily unavailable"),
        }
    }

    /// The `detail` of the problem: safe to show, in the caller's language.
    fn detail(&self, lang: Lang) -> Option<String> {
        let text = match self {
            Error::BadRequest(m) | Error::Conflict(m) => return Some(m.text(lang).to_owned()),
            Error::PayloadTooLarge(n) => {
                return Some(match lang {
                    Lang::Vi => format!("Tối đa {n} byte"),
                    Lang::En => format!("At most {n} bytes"),
                });
            }
            Error::TooManyRequests(n) => {
                return Some(match lang {
                    Lang::Vi => format!("Vui lòng thử lại sau {n} giây"),
                    Lang::En => format!("Please try again in {n} seconds"),
                });
            }
            Error::MethodNotAllowed(allowed) => {
                let list = allow(allowed);
                return Some(match lang {
                    Lang::Vi => format!("Đường dẫn này nhận: {list}"),
                    Lang::En => format!("This path takes: {list}"),
                });
            }
            Error::Unauthorized => lang.pick("Cần mã xác thực (Bearer) hợp lệ", "A valid bearer token is required"),
            Error::Config(_) => lang.pick(
                "Máy chủ chưa được cấu hình đúng; quản trị viên xem nhật ký hệ thống",
                "The server is misconfigured; its operators will find the cause in its log",
            ),
            Error::Upstream(_) => lang.pick(
                "Dịch vụ đối tác (ngân hàng, ví điện tử, Zalo, Telegram) chưa xử lý được yêu cầu; vui lòng thử lại sau",
                "The partner service (a bank, a wallet, Zalo, Telegram) could not complete the request; please try again later",
            ),
            Error::Unavailable(_) => lang.pick(
                "Chưa lưu hoặc đọc được dữ liệu; vui lòng thử lại sau ít phút",
                "The data could not be read or saved; please try again in a few minutes",
            ),
            Error::BadSignature => lang.pick(
                "Chữ ký của thông báo thiếu hoặc không khớp với nội dung",
                "The message signature is missing or does not match the body",
            ),
            _ => return None,
        };
        Some(text.to_owned())
    }

    /// The headers this error adds: `WWW-Authenticate`, `Allow`, `Retry-After`.
    fn add_headers(&self, headers: &mut HeaderMap) {
        match self {
            Error::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::MethodNotAllowed(allowed) => {
                if let Ok(v) = HeaderValue::from_str(&allow(allowed)) {
                    headers.insert(header::ALLOW, v);
                }
            }
            Error::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            Error::TooManyRequests(n) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*n));
            }
            _ => {}
        }
    }

    /// The one place an error becomes a response: RFC 9457 problem+json (`type`, `title`,
    /// `status`, `detail` when there is one safe to show, `errors` for a validation), in the
    /// caller's language, with its headers (`WWW-Authenticate`, `Allow`, `Retry-After`).
    pub fn into_response(self, lang: Lang) -> Response<Bytes> {
        let status = self.status();
        if status.is_server_error() {
            crate::log::error(&self.to_string());
        }
        let (slug, vi, en) = self.describe();
        let kind = format!("/problems/{slug}");
        let detail = self.detail(lang);
        let errors = match &self {
            Error::Validation(list) => {
                list.iter().map(|e| ProblemField { field: &e.field, message: e.message.text(lang) }).collect()
            }
            _ => Vec::new(),
        };
        let problem = Problem {
            kind: &kind,
            title: lang.pick(vi, en),
            status: status.as_u16(),
            detail: detail.as_deref(),
            errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut resp = Response::new(Bytes::from(body));
        *resp.status_mut() = status;
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.pick("vi", "en")));
        self.add_headers(headers);
        resp
    }
}

/// An `Allow` value: `GET, PUT`.
fn allow(methods: &[Method]) -> String {
    methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(v: &str) -> Lang {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(v).unwrap());
        Lang::from_headers(&h)
    }

    #[test]
    fn accept_language_table() {
        let cases = [
            ("en", Lang::En),
            ("en-US,en;q=0.9", Lang::En),
            ("vi", Lang::Vi),
            ("vi-VN,vi;q=0.9,en;q=0.8", Lang::Vi),
            ("en;q=0.5,vi;q=0.9", Lang::Vi),
            ("fr", Lang::Vi),
            ("fr,en;q=0.3", Lang::En),
            ("", Lang::Vi),
        ];
        for (header, want) in cases {
            assert_eq!(lang(header), want, "Accept-Language: {header}");
        }
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::Vi);
    }

    fn body(resp: &Response<Bytes>) -> serde_json::Value {
        serde_json::from_slice(resp.body()).unwrap()
    }

    #[test]
    fn validation_lists_every_field_in_the_chosen_language() {
        let err = Error::Validation(vec![
            FieldError::new("[0].name", Msg::required()),
            FieldError::new("[2].lat", Msg::new("Ngoài khoảng", "out of range")),
        ]);
        let resp = err.into_response(Lang::En);
        assert_eq!(resp.status(), 422);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/problem+json");
        let v = body(&resp);
        assert_eq!(v["status"], 422);
        assert_eq!(v["title"], "Invalid data");
        assert_eq!(v["errors"][0]["field"], "[0].name");
        assert_eq!(v["errors"][0]["message"], "is required");
        assert_eq!(v["errors"][1]["message"], "out of range");
    }

    #[test]
    fn internal_details_are_never_returned() {
        let resp = Error::Internal("secret=hunter2 at db.rs:12".into()).into_response(Lang::Vi);
        assert_eq!(resp.status(), 500);
        let text = String::from_utf8(resp.body().to_vec()).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(body(&resp)["title"], "Lỗi hệ thống");
    }

    #[test]
    fn a_failed_database_is_a_503_to_retry_without_its_details() {
        let e: Error = crate::platform::DbError("database is locked: /srv/data/payments.db".into()).into();
        let resp = e.into_response(Lang::En);
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()[header::RETRY_AFTER], RETRY_AFTER_SECONDS.to_string().as_str());
        let text = String::from_utf8(resp.body().to_vec()).unwrap();
        assert!(!text.contains("payments.db") && !text.contains("locked"), "{text}");
        assert_eq!(body(&resp)["type"], "/problems/unavailable");
    }

    #[test]
    fn a_bad_webhook_signature_is_401_without_a_bearer_challenge() {
        let resp = Error::BadSignature.into_response(Lang::En);
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(body(&resp)["type"], "/problems/bad-signature");
        assert_eq!(body(&resp)["title"], "Invalid signature");
    }

    #[test]
    fn unauthorized_challenges_for_a_bearer_token() {
        let resp = Error::Unauthorized.into_response(Lang::Vi);
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(body(&resp)["type"], "/problems/unauthorized");
    }

    #[test]
    fn too_many_requests_says_when_to_retry() {
        let resp = Error::TooManyRequests(1800).into_response(Lang::En);
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1800");
        assert_eq!(body(&resp)["type"], "/problems/too-many-requests");
        assert_eq!(body(&resp)["detail"], "Please try again in 1800 seconds");
    }

    #[test]
    fn a_wrong_method_names_the_routed_ones_in_allow() {
        let resp = Error::MethodNotAllowed(&[Method::GET, Method::PUT]).into_response(Lang::En);
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()[header::ALLOW], "GET, PUT");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(body(&resp)["type"], "/problems/method-not-allowed");
        assert_eq!(body(&resp)["detail"], "This path takes: GET, PUT");
    }
}
