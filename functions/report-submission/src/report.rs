//! `POST /reports`: a citizen files a field report; `GET /reports/{code}`: anyone follows it.
//!
//! Body (JSON): `{"category", "description", "lat", "lng", "address", "media_urls",
//! "media_ids", "anonymous", "name", "phone", "attributes"}`. A citizen's bearer JWT identifies the reporter; without
//! one, `phone` is required (anonymous filing). `description` is plain text, at most 4,000
//! characters; the place is `lat`/`lng` inside the province, or an `address`, or both; at
//! most 5 photos in all: `media_urls` (`https://`, or our own photo URLs) and `media_ids`
//! (ids `POST /reports/media` answered; the report keeps their URLs); an id or own URL that
//! names no uploaded photo is a 422. `anonymous` hides nothing more publicly (the public
//! view never shows who reported) but is kept for the agency's view. `attributes` answers
//! the category's extra questions (`{"code": answer}`, [`crate::attribute`]); a required
//! one unanswered is a 422.
//!
//! The agency comes from the routing table ([`crate::category::route`]) for the report's
//! district; the due time from the category's deadline. An open report of the same category
//! within 50 m filed in the last 7 days makes the new one its duplicate (`duplicate_of`);
//! both stay visible. An `Idempotency-Key` header makes retries return the first answer
//! instead of filing again.

use bytes::Bytes;
use chrono::Duration;
use civic::limit::{Caller, Count, Rule, Verdict};
use civic::validate::Fields;
use civic::{Error, FieldError, Lang, Msg, Platform};
use http::{HeaderValue, Request, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::attribute::{self, Given};
use crate::status::Status;
use crate::store::{self, Event, Names, Report, stamp};
use crate::{category, geo};

const MAX_BODY: usize = 64 * 1024;
/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 4_000;
/// The most photos (or videos) a report links.
pub const MAX_MEDIA: usize = 5;
/// The longest media URL, in bytes.
pub const MAX_URL: usize = 500;
/// The longest address, in characters.
pub const MAX_ADDRESS: usize = 300;
/// The longest reporter name, in characters.
pub const MAX_NAME: usize = 200;
/// The longest phone number as typed (spaces and `+84` included), in characters.
pub const MAX_PHONE: usize = 20;
/// The longest `Idempotency-Key` header, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// A report as filed, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Filing {
    pub category: String,
    pub description: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub address: Option<String>,
    pub media_urls: Vec<String>,
    /// Photos uploaded to `POST /reports/media`, by id (their URLs join `media_urls` when
    /// the report is filed).
    pub media_ids: Vec<String>,
    pub anonymous: bool,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// Answers to the category's questions, as given (checked when filed).
    pub attributes: Vec<Given>,
    /// The sender's id on the filing channel, for a report filed by a command
    /// ([`crate::command`]); `None` from the app and Open311 ([`parse`] never sets it).
    pub channel_user: Option<String>,
}

/// An `https://` URL with a host, at most [`MAX_URL`] bytes, without spaces or control
/// characters.
pub fn https_url(u: &str) -> bool {
    u.len() <= MAX_URL
        && u.strip_prefix("https://").is_some_and(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !u.chars().any(|c| c.is_whitespace() || c.is_control())
        })
}

/// Validates a filing, naming every bad field; `ours` tells a URL of our own photos (which
/// may be `http://` on a local run) from the outside ones, which must be `https://`.
pub fn parse(body: &Value, phone_required: bool, ours: impl Fn(&str) -> bool) -> Result<Filing, Error> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut f = Fields::new(String::new(), &mut errors);
    let keys = [
        "category",
        "description",
        "lat",
        "lng",
        "address",
        "media_urls",
        "media_ids",
        "anonymous",
        "name",
        "phone",
        "attributes",
    ];
    let Some(obj) = f.object("", body, &keys) else {
        return Err(Error::Validation(errors));
    };
    let category = f.text(obj, "", "category", category::MAX_CODE);
    let description = description(&mut f, obj);
    let (lat, lng, address) = place(&mut f, obj);
    let (media_urls, media_ids) = media(&mut f, obj, ours);
    let anonymous = match obj.get("anonymous") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            f.err("anonymous", Msg::new("Phải là true/false", "must be true or false"));
            false
        }
    };
    let name = f.opt_text(obj, "", "name", MAX_NAME);
    let phone = phone(&mut f, obj, phone_required);
    let attributes = match obj.get("attributes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(answers)) => attribute::from_json(answers).unwrap_or_else(|code| {
            f.err(&format!("attributes.{code}"), Msg::new("Văn bản, số hoặc danh sách", "text, a number or a list"));
            Vec::new()
        }),
        Some(_) => {
            f.err("attributes", Msg::new("Phải là đối tượng {mã: trả lời}", "must be an object {code: answer}"));
            Vec::new()
        }
    };
    match (category, description) {
        (Some(category), Some(description)) if errors.is_empty() => Ok(Filing {
            category,
            description,
            lat,
            lng,
            address,
            media_urls,
            media_ids,
            anonymous,
            name,
            phone,
            attributes,
            channel_user: None,
        }),
        _ => Err(Error::Validation(errors)),
    }
}

/// `description`: plain text over several lines ([`Fields::text`] would refuse the line
/// breaks), trimmed, at most [`MAX_DESCRIPTION`] characters.
fn description(f: &mut Fields<'_>, obj: &Map<String, Value>) -> Option<String> {
    match obj.get("description") {
        Some(Value::String(d)) if !d.trim().is_empty() => {
            let d = d.trim();
            if d.chars().count() > MAX_DESCRIPTION {
                f.err("description", Msg::too_long(MAX_DESCRIPTION));
                None
            } else if !civic::validate::plain_text(d) {
                f.err("description", Msg::new("Chỉ văn bản thường", "plain text only"));
                None
            } else {
                Some(d.to_owned())
            }
        }
        Some(Value::String(_)) | None | Some(Value::Null) => {
            f.err("description", Msg::required());
            None
        }
        Some(_) => {
            f.err("description", Msg::new("Phải là văn bản", "must be text"));
            None
        }
    }
}

/// The place: `lat` and `lng` together, inside the province, or an `address`, or both.
fn place(f: &mut Fields<'_>, obj: &Map<String, Value>) -> (Option<f64>, Option<f64>, Option<String>) {
    let mut coord = |key: &str| match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let x = v.as_f64();
            if x.is_none() {
                f.err(key, Msg::new("Phải là số", "must be a number"));
            }
            x
        }
    };
    let (lat, lng) = (coord("lat"), coord("lng"));
    match (lat, lng) {
        (Some(la), Some(ln)) if !geo::in_province(la, ln) => {
            f.err("lat", Msg::new("Vị trí ngoài địa bàn tỉnh/thành phố", "outside the province"));
        }
        (Some(_), None) => f.err("lng", Msg::required()),
        (None, Some(_)) => f.err("lat", Msg::required()),
        _ => {}
    }
    let address = f.opt_text(obj, "", "address", MAX_ADDRESS);
    let absent = |k: &str| obj.get(k).is_none_or(Value::is_null);
    if address.is_none() && absent("lat") && absent("lng") {
        f.err("address", Msg::new("Cần tọa độ (lat, lng) hoặc địa chỉ", "lat/lng or an address is required"));
    }
    (lat, lng, address)
}

/// One list of texts (`media_urls` or `media_ids`): each item `ok` by `check`, else named
/// by its index with `wrong`.
fn texts(
    f: &mut Fields<'_>,
    obj: &Map<String, Value>,
    key: &str,
    check: impl Fn(&str) -> bool,
    wrong: &Msg,
) -> Vec<String> {
    let mut out = Vec::new();
    match obj.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, u) in list.iter().enumerate() {
                match u.as_str() {
                    Some(u) if check(u) => out.push(u.to_owned()),
                    _ => f.err(&format!("{key}[{i}]"), wrong.clone()),
                }
            }
        }
        Some(_) => f.err(key, Msg::new("Phải là danh sách", "must be a list")),
    }
    out
}

/// `media_urls` (each `https://` or `ours`) and `media_ids` (each an id as uploads have
/// them), at most [`MAX_MEDIA`] in all; each bad one is named by its index.
fn media(f: &mut Fields<'_>, obj: &Map<String, Value>, ours: impl Fn(&str) -> bool) -> (Vec<String>, Vec<String>) {
    let url = |u: &str| https_url(u) || (u.len() <= MAX_URL && ours(u));
    let urls = texts(f, obj, "media_urls", url, &Msg::new("Phải là liên kết https://", "must be an https:// URL"));
    let ids = texts(f, obj, "media_ids", crate::media::valid_id, &Msg::new("Không phải mã ảnh", "not a photo id"));
    let given = |k: &str| obj.get(k).and_then(Value::as_array).map_or(0, Vec::len);
    if given("media_urls") + given("media_ids") > MAX_MEDIA {
        let at_most = Msg::new(format!("Tối đa {MAX_MEDIA} ảnh"), format!("at most {MAX_MEDIA} in all"));
        f.err(if given("media_urls") > MAX_MEDIA { "media_urls" } else { "media_ids" }, at_most);
    }
    (urls, ids)
}

/// The photos of a filing as the report keeps them: its `media_urls`, then the URLs of its
/// `media_ids`; an id, or one of our own URLs, that names no uploaded photo is refused
/// (422, by its field and index).
async fn photos(env: &impl Platform, filing: &Filing) -> Result<Vec<String>, Error> {
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(filing.media_urls.len() + filing.media_ids.len());
    let missing = || Msg::new("Không có ảnh này", "no photo was uploaded with this id");
    for (i, u) in filing.media_urls.iter().enumerate() {
        if let Some(id) = crate::media::id_in(env, u)
            && crate::media::url_of(env, id).await?.is_none()
        {
            errors.push(FieldError::new(format!("media_urls[{i}]"), missing()));
        }
        out.push(u.clone());
    }
    for (i, id) in filing.media_ids.iter().enumerate() {
        match crate::media::url_of(env, id).await? {
            Some(url) => out.push(url),
            None => errors.push(FieldError::new(format!("media_ids[{i}]"), missing())),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(Error::Validation(errors)) }
}

/// `phone`: a Vietnamese number; required when `required` (filing without a sign-in).
fn phone(f: &mut Fields<'_>, obj: &Map<String, Value>, required: bool) -> Option<String> {
    let phone = f.opt_text(obj, "", "phone", MAX_PHONE);
    if phone.as_deref().is_some_and(|p| !civic::phone::is_valid(p)) {
        f.err("phone", Msg::new("Số điện thoại không hợp lệ", "not a phone number"));
    } else if phone.is_none() && required {
        f.err("phone", Msg::new("Cần số điện thoại khi gửi không đăng nhập", "required without a sign-in"));
    }
    phone
}

/// The public view: never who reported it.
pub fn view(r: &Report, history: &[Event], names: &Names, lang: Lang) -> Value {
    let name = names.category.as_ref().map(|(vi, en)| lang.pick(vi, en).to_owned());
    json!({
        "code": r.code, "status": r.status.as_str(), "category": r.category, "category_name": name,
        "description": r.description, "lat": r.lat, "lng": r.lng, "address": r.address, "media_urls": r.media_urls,
        "agency": {"code": r.agency, "name": names.agency},
        "created_at": civic::web::vn_time(&r.created_at), "due_at": civic::web::vn_time(&r.due_at), "duplicate_of": r.duplicate_of,
        "attributes": r.attributes,
        "history": history.iter().map(|e| json!({"at": civic::web::vn_time(&e.at), "status": e.status.as_str(), "agency": e.agency,
            "note": e.note, "media_url": e.media_url})).collect::<Vec<_>>(),
    })
}

async fn answer(env: &impl Platform, code: &str, status: StatusCode, lang: Lang) -> Result<Response<Bytes>, Error> {
    let (r, history, names) = store::get_named(env, code).await?.ok_or(Error::NotFound)?;
    civic::web::json(status, &view(&r, &history, &names, lang))
}

/// Who files, for the idempotency scope: the JWT subject, else the phone's digits.
fn scope(sub: Option<&str>, phone: Option<&str>) -> String {
    match (sub, phone) {
        (Some(s), _) => format!("sub:{s}"),
        (None, Some(p)) => {
            format!("phone:{}", p.bytes().filter(u8::is_ascii_digit).map(char::from).collect::<String>())
        }
        _ => "anonymous".to_owned(),
    }
}

/// Whether filings on `channel` can answer a category's questions: the app and Open311 can;
/// SMS and the chat bots (`sms`, `zalo`, `telegram`) cannot ask them.
pub fn can_ask(channel: &str) -> bool {
    !matches!(channel, "sms" | "zalo" | "telegram")
}

/// Citizens filing reports (app, SMS, Zalo, Telegram; keyed by JWT subject, phone, chat user,
/// else the client's address): setting `rate_limit_report_filing`. Ten an hour is more than
/// anyone sees to report themselves, and a flood stops at ten.
pub const FILING: Rule = Rule { name: "report_filing", default: "10/1h" };

/// Open311 clients filing reports (keyed by `api_key`): setting `rate_limit_open311_filing`.
/// A client files for many citizens (an agency's app, a partner portal), hence the higher
/// default.
pub const OPEN311_FILING: Rule = Rule { name: "open311_filing", default: "300/1h" };

/// What [`file`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Filed now, with this code.
    Now(String),
    /// Filed before under the same idempotency key (nothing counted, nothing stored).
    Before(String),
    /// Refused: the caller is over its limit ([`FILING`], [`OPEN311_FILING`]) until
    /// `retry_after` seconds from now; `first` for the filing that crossed it.
    OverLimit { retry_after: u64, first: bool },
}

impl Stored {
    /// The code and whether it was filed now; [`Error::TooManyRequests`] (429) over the limit.
    pub fn code(self) -> Result<(String, bool), Error> {
        match self {
            Stored::Now(code) => Ok((code, true)),
            Stored::Before(code) => Ok((code, false)),
            Stored::OverLimit { retry_after, .. } => Err(Error::TooManyRequests(retry_after)),
        }
    }
}

/// Files a validated report, counted by `counted` ([`FILING`] or [`OPEN311_FILING`] for its
/// caller) in the batch that takes its code: nothing is stored over the limit. An
/// idempotency key that filed before answers its code uncounted. Its answers are checked against the category's
/// questions here (422 naming `attributes.<code>` for each refused one); a required one must
/// be answered except over SMS and chat (`sms`, `zalo`, `telegram`), which cannot ask.
pub async fn file(
    env: &impl Platform,
    filing: &Filing,
    reporter_sub: Option<&str>,
    channel: &str,
    idempotency: Option<String>,
    counted: &Count,
) -> Result<Stored, Error> {
    if let Some(key) = &idempotency
        && let Some(code) = store::by_key(env, key).await?
    {
        return Ok(Stored::Before(code));
    }
    let known = category::get(env, &filing.category).await?.ok_or_else(|| {
        Error::Validation(vec![FieldError::new("category", Msg::new("Không có lĩnh vực này", "no such category"))])
    })?;
    let media_urls = photos(env, filing).await?;
    let attributes =
        attribute::answers(&known.attributes, &filing.attributes, can_ask(channel)).map_err(|refused| {
            Error::Validation(
                refused.into_iter().map(|(code, msg)| FieldError::new(format!("attributes.{code}"), msg)).collect(),
            )
        })?;
    let district = match (filing.lat, filing.lng) {
        (Some(lat), Some(lng)) => Some(geo::district_at(lat, lng)),
        _ => filing.address.as_deref().and_then(civic::district::named_in),
    }
    .map(|d| d.key);
    let agency = category::route(env, &known.code, district)
        .await?
        .ok_or_else(|| Error::Internal(format!("no route for category {}", known.code)))?;
    let now = env.now();
    let duplicate_of = match (filing.lat, filing.lng) {
        (Some(lat), Some(lng)) => store::duplicate_of(env, &known.code, lat, lng, now).await?,
        _ => None,
    };
    let code = match store::next_code(env, now, counted).await? {
        (_, Some(code)) => code,
        (Verdict::Over { retry_after, first }, None) => return Ok(Stored::OverLimit { retry_after, first }),
        (Verdict::Within, None) => return Err(Error::Internal("no report code".into())),
    };
    let report = Report {
        code,
        category: known.code.clone(),
        description: filing.description.clone(),
        lat: filing.lat,
        lng: filing.lng,
        address: filing.address.clone(),
        district: district.map(str::to_owned),
        media_urls,
        agency: agency.code,
        status: Status::Received,
        reporter_sub: reporter_sub.map(str::to_owned),
        reporter_name: filing.name.clone(),
        reporter_phone: filing.phone.clone(),
        anonymous: filing.anonymous,
        channel: channel.to_owned(),
        channel_user: filing.channel_user.clone(),
        duplicate_of,
        created_at: stamp(now),
        due_at: stamp(now + Duration::hours(known.deadline_hours)),
        attributes,
        rating: None,
    };
    if store::insert(env, &report, idempotency.as_deref()).await? {
        Ok(Stored::Now(report.code))
    } else {
        // A concurrent retry with the same key filed first.
        let key = idempotency.unwrap_or_default();
        let code = store::by_key(env, &key).await?.ok_or_else(|| Error::Internal("idempotency race".into()))?;
        Ok(Stored::Before(code))
    }
}

/// POST /reports
pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let who = civic::auth::authenticate_if_present(env, req.headers())?;
    let body: Value = civic::web::read_json(req, MAX_BODY)?;
    let mut filing = parse(&body, who.is_none(), |u| crate::media::id_in(env, u).is_some())?;
    if filing.phone.is_none() {
        filing.phone = who.as_ref().and_then(|w| w.phone.clone());
    }
    let key = match req.headers().get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v.to_str().ok().filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY).ok_or_else(|| {
                Error::BadRequest(Msg::new(
                    "Idempotency-Key không hợp lệ",
                    format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible characters"),
                ))
            })?;
            Some(format!("{}:{k}", scope(who.as_ref().map(|w| w.subject.as_str()), filing.phone.as_deref())))
        }
    };
    let sub = who.as_ref().map(|w| w.subject.as_str());
    let caller = match sub {
        Some(sub) => Caller::Subject(sub.to_owned()),
        None => Caller::Address(env.client_addr(req.headers())),
    };
    let counted = FILING.count(env, &caller)?;
    let (code, fresh) = file(env, &filing, sub, "app", key, &counted).await?.code()?;
    let mut resp = answer(env, &code, StatusCode::CREATED, Lang::from_headers(req.headers())).await?;
    if fresh {
        civic::outbox::soon(&mut resp, store::DB);
    } else {
        resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// GET /reports/{code}: the public view; an officer of the report's agency also sees who
/// reported it (`reporter`: name, phone, and whether they asked to stay anonymous), which
/// the agency needs to answer them.
pub async fn get(req: &Request<Bytes>, env: &impl Platform, code: &str) -> Result<Response<Bytes>, Error> {
    let lang = Lang::from_headers(req.headers());
    let (r, history, names) = store::get_named(env, &code.to_ascii_uppercase()).await?.ok_or(Error::NotFound)?;
    let mut v = view(&r, &history, &names, lang);
    if let Some(who) = civic::auth::authenticate_if_present(env, req.headers())?
        && who.has(civic::auth::Role::Officer)
        && who.agency.as_deref() == Some(r.agency.as_str())
    {
        v["reporter"] = json!({"name": r.reporter_name, "phone": r.reporter_phone, "anonymous": r.anonymous});
    }
    let mut resp = civic::web::json(StatusCode::OK, &v)?;
    // Personal data in the agency's view: no cache keeps it.
    resp.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: Value, phone_required: bool) -> Vec<String> {
        match parse(&body, phone_required, |_| false) {
            Err(Error::Validation(list)) => list.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn only_the_app_and_open311_can_ask_a_categorys_questions() {
        for (channel, asks) in [("app", true), ("open311", true), ("sms", false), ("zalo", false), ("telegram", false)]
        {
            assert_eq!(can_ask(channel), asks, "{channel}");
        }
    }

    #[test]
    fn filing_table() {
        let ok = json!({"category": "road-damage", "description": "Ổ gà lớn trước số 12", "lat": 16.0719, "lng": 108.2203,
            "media_urls": ["https://cdn.example.vn/a.jpg"]});
        let f = parse(&ok, false, |_| false).unwrap();
        assert_eq!((f.lat, f.media_urls.len(), f.anonymous), (Some(16.0719), 1, false));
        assert_eq!(fields(json!({"category": "x", "description": "d"}), false), ["address"]);
        assert_eq!(fields(ok.clone(), true), ["phone"], "anonymous filing needs a phone");
        let mut bad = ok.clone();
        bad["lat"] = json!(21.0);
        bad["media_urls"] = json!(["http://x.vn/a.jpg", "https://ok.vn/b.jpg", "javascript:alert(1)"]);
        bad["description"] = json!("a\u{0007}b");
        bad["extra"] = json!(1);
        assert_eq!(fields(bad, false), ["extra", "description", "lat", "media_urls[0]", "media_urls[2]"]);
        let mut long = ok.clone();
        long["description"] = json!("ơ".repeat(MAX_DESCRIPTION + 1));
        assert_eq!(fields(long, false), ["description"]);
        let mut exactly = ok;
        exactly["description"] = json!("ơ".repeat(MAX_DESCRIPTION));
        assert!(parse(&exactly, false, |_| false).is_ok());
        exactly["description"] = json!("Ổ gà lớn.\nXe máy dễ ngã.");
        assert_eq!(
            parse(&exactly, false, |_| false).unwrap().description,
            "Ổ gà lớn.\nXe máy dễ ngã.",
            "line breaks are plain text"
        );
    }
}
