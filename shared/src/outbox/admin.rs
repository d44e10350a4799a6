//! The admin routes under each function's prefix: partner endpoints (`webhooks`) and the
//! outbox's deliveries (`outbox`, `outbox/{id}/retry`).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde_json::{Value as Json, json};

use super::{EventType, new_id, soon};
use crate::auth::Role;
use crate::error::{Error, FieldError, Msg};
use crate::platform::{Platform, Row, Statement};
use crate::web::stamp;

/// The longest webhook URL (bytes).
pub const MAX_URL: usize = 2_048;

/// The most event types one endpoint subscribes to.
pub const MAX_EVENTS: usize = 16;

/// The largest registration body (bytes).
pub const MAX_REGISTRATION: usize = 8 * 1024;

/// A URL a webhook may go to: `https://` with a host, or `http://` to this machine (a
/// receiver under test); no user name or password in it; at most [`MAX_URL`] bytes.
pub fn acceptable_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let scheme_ok = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => loopback,
        _ => false,
    };
    let authority = uri.authority().map(http::uri::Authority::as_str).unwrap_or_default();
    url.len() <= MAX_URL && scheme_ok && uri.host().is_some_and(|h| !h.is_empty()) && !authority.contains('@')
}

/// `POST <prefix>/webhooks` (admin): registers a partner endpoint. Body `{"url", "events":
/// ["payment.settled", ...], "agency"?}`: `events` among `offered` (this function's
/// types), `agency` limiting it to the events of that agency. Answers `201` with `{"id",
/// "url", "events", "agency", "state": "enabled", "created_at", "secret": "whsec_..."}`:
/// the secret is shown this once. 422 names every bad field.
pub async fn register(
    req: &Request<Bytes>,
    env: &impl Platform,
    db: &str,
    offered: &[EventType],
) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::Admin)?;
    let body: Json = crate::web::read_json(req, MAX_REGISTRATION)?;
    let (url, events, agency) = parse_registration(&body, offered)?;
    let id = new_id(env, "ep_");
    let secret = crate::webhooks::Secret::generate(env);
    let now = stamp(env.now());
    let events_json = serde_json::to_string(&events).map_err(|e| Error::Internal(e.to_string()))?;
    env.execute(
        db,
        "INSERT INTO webhook_endpoints (id, url, events, agency, secret, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'enabled', ?6)",
        &[
            id.as_str().into(),
            url.as_str().into(),
            events_json.into(),
            agency.clone().into(),
            secret.as_str().into(),
            now.as_str().into(),
        ],
    )
    .await?;
    let view = json!({"id": id, "url": url, "events": events, "agency": agency, "state": "enabled",
        "disabled_reason": null, "created_at": now, "secret": secret.as_str()});
    let mut resp = crate::web::json(StatusCode::CREATED, &view)?;
    if let Ok(location) = http::HeaderValue::from_str(&format!("{}/{id}", req.uri().path().trim_end_matches('/'))) {
        resp.headers_mut().insert(http::header::LOCATION, location);
    }
    Ok(resp)
}

/// Reads a registration, naming every bad field.
fn parse_registration(
    body: &Json,
    offered: &[EventType],
) -> Result<(String, Vec<&'static str>, Option<String>), Error> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut f = crate::validate::Fields::new(String::new(), &mut errors);
    let Some(obj) = f.object("", body, &["url", "events", "agency"]) else {
        return Err(Error::Validation(errors));
    };
    let url = f.text(obj, "", "url", MAX_URL);
    if url.as_deref().is_some_and(|u| !acceptable_url(u)) {
        f.err("url", Msg::new("Phải là liên kết https:// đầy đủ", "must be a full https:// URL"));
    }
    let agency = f.opt_text(obj, "", "agency", 64);
    let mut events: Vec<&'static str> = Vec::new();
    match obj.get("events").and_then(Json::as_array) {
        Some(list) if !list.is_empty() && list.len() <= MAX_EVENTS => {
            for (i, item) in list.iter().enumerate() {
                match item.as_str().and_then(EventType::parse).filter(|t| offered.contains(t)) {
                    Some(t) if !events.contains(&t.as_str()) => events.push(t.as_str()),
                    Some(_) => {}
                    None => {
                        let names: Vec<&str> = offered.iter().map(|t| t.as_str()).collect();
                        let names = names.join(", ");
                        f.err(
                            &format!("events[{i}]"),
                            Msg::new(format!("Một trong: {names}"), format!("one of: {names}")),
                        );
                    }
                }
            }
        }
        _ => f.err(
            "events",
            Msg::new(
                format!("Danh sách 1-{MAX_EVENTS} loại sự kiện"),
                format!("a list of 1 to {MAX_EVENTS} event types"),
            ),
        ),
    }
    let filterable = events.iter().filter_map(|e| EventType::parse(e)).any(EventType::carries_agency);
    if agency.is_some() && !events.is_empty() && !filterable {
        f.err(
            "agency",
            Msg::new("Các sự kiện này không gắn với cơ quan nào", "these events name no agency to filter on"),
        );
    }
    match url {
        Some(url) if errors.is_empty() => Ok((url, events, agency)),
        _ => Err(Error::Validation(errors)),
    }
}

/// `GET <prefix>/webhooks` (admin): the registered endpoints, newest first, without their
/// secrets: `[{"id", "url", "events", "agency", "state", "disabled_reason", "created_at"}]`.
pub async fn endpoints(req: &Request<Bytes>, env: &impl Platform, db: &str) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::Admin)?;
    let rows = env
        .query(
            db,
            "SELECT id, url, events, agency, state, disabled_reason, created_at FROM webhook_endpoints
             ORDER BY created_at DESC, id",
            &[],
        )
        .await?;
    let list = rows
        .iter()
        .map(|r| {
            let events: Json = serde_json::from_str(r.str("events")?).unwrap_or(Json::Array(Vec::new()));
            Ok(json!({"id": r.str("id")?, "url": r.str("url")?, "events": events, "agency": r.opt_str("agency")?,
                "state": r.str("state")?, "disabled_reason": r.opt_str("disabled_reason")?,
                "created_at": r.str("created_at")?}))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    crate::web::json(StatusCode::OK, &list)
}

/// `DELETE <prefix>/webhooks/{id}` (admin): removes the endpoint; its pending and dead
/// deliveries are cancelled. `204`, or 404. (To take a disabled endpoint back, delete it and
/// register it again: a new id and secret.)
pub async fn delete_endpoint(
    req: &Request<Bytes>,
    env: &impl Platform,
    db: &str,
    id: &str,
) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::Admin)?;
    let now = stamp(env.now());
    let results = env
        .batch(
            db,
            &[
                Statement::new("DELETE FROM webhook_endpoints WHERE id = ?1 RETURNING id", vec![id.into()]),
                Statement::new(
                    "UPDATE outbox_deliveries SET state = 'cancelled', updated_at = ?2,
                     last_error = 'the endpoint was deleted' WHERE endpoint_id = ?1 AND state IN ('pending', 'dead')",
                    vec![id.into(), now.into()],
                ),
            ],
        )
        .await?;
    if results.first().is_none_or(crate::platform::Rows::is_empty) {
        return Err(Error::NotFound);
    }
    Response::builder().status(StatusCode::NO_CONTENT).body(Bytes::new()).map_err(|e| Error::Internal(e.to_string()))
}

/// A delivery's states, as `GET <prefix>/outbox?state=` takes them.
pub const STATES: [&str; 5] = ["pending", "delivered", "dead", "undeliverable", "cancelled"];

/// The most deliveries one listing shows.
pub const MAX_LIST: i64 = 200;

/// The columns of a delivery's admin view.
const DELIVERY_VIEW: &str = "d.id, d.event_id, e.type, e.subject, d.target, d.endpoint_id, d.state, d.attempts,
    d.next_at, d.last_status, d.last_error, e.created_at, d.updated_at, d.delivered_at";

fn delivery_view(r: &Row<'_>) -> Result<Json, Error> {
    Ok(json!({
        "id": r.str("id")?, "event_id": r.str("event_id")?, "type": r.str("type")?, "subject": r.str("subject")?,
        "target": r.str("target")?, "endpoint_id": r.opt_str("endpoint_id")?, "state": r.str("state")?,
        "attempts": r.i64("attempts")?, "next_at": r.str("next_at")?, "last_status": r.opt_i64("last_status")?,
        "last_error": r.opt_str("last_error")?, "created_at": r.str("created_at")?,
        "updated_at": r.str("updated_at")?, "delivered_at": r.opt_str("delivered_at")?,
    }))
}

/// `GET <prefix>/outbox?state=dead&limit=50` (admin): deliveries in that state (default
/// `dead`), newest first: `[{"id", "event_id", "type", "subject", "target", "endpoint_id",
/// "state", "attempts", "next_at", "last_status", "last_error", "created_at", "updated_at",
/// "delivered_at"}]`. The citizen's phone or chat id is not shown.
pub async fn list(req: &Request<Bytes>, env: &impl Platform, db: &str) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::Admin)?;
    let state = crate::web::query_param(req, "state")?.unwrap_or_else(|| "dead".to_owned());
    let mut errors = Vec::new();
    if !STATES.contains(&state.as_str()) {
        let names = STATES.join(", ");
        errors.push(FieldError::new("state", Msg::new(format!("Một trong: {names}"), format!("one of: {names}"))));
    }
    let limit = match crate::web::query_param(req, "limit")? {
        None => Some(50),
        Some(text) => text.parse::<i64>().ok().filter(|n| (1..=MAX_LIST).contains(n)),
    };
    if limit.is_none() {
        errors.push(FieldError::new("limit", Msg::new(format!("Từ 1 đến {MAX_LIST}"), format!("1 to {MAX_LIST}"))));
    }
    let (Some(limit), true) = (limit, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let rows = env
        .query(
            db,
            &format!(
                "SELECT {DELIVERY_VIEW} FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
                 WHERE d.state = ?1 ORDER BY d.seq DESC LIMIT ?2"
            ),
            &[state.into(), limit.into()],
        )
        .await?;
    let list = rows.iter().map(|r| delivery_view(&r)).collect::<Result<Vec<_>, _>>()?;
    crate::web::json(StatusCode::OK, &list)
}

/// `POST <prefix>/outbox/{id}/retry` (admin): a `dead` or `undeliverable` delivery is due
/// again now, with a fresh retry schedule. `200` with the delivery's view; 404 for no such
/// delivery; 409 when it is in another state, or its endpoint was deleted or disabled.
pub async fn retry(
    req: &Request<Bytes>,
    env: &impl Platform,
    db: &'static str,
    id: &str,
) -> Result<Response<Bytes>, Error> {
    crate::auth::require_role(env, req.headers(), Role::Admin)?;
    let now = stamp(env.now());
    let updated = env
        .execute(
            db,
            "UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_at = ?2, claimed_until = NULL,
             updated_at = ?2 WHERE id = ?1 AND state IN ('dead', 'undeliverable')
               AND (endpoint_id IS NULL OR EXISTS (
                   SELECT 1 FROM webhook_endpoints w WHERE w.id = endpoint_id AND w.state = 'enabled'))",
            &[id.into(), now.into()],
        )
        .await?;
    let rows = env
        .query(
            db,
            &format!(
                "SELECT {DELIVERY_VIEW} FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id WHERE d.id = ?1"
            ),
            &[id.into()],
        )
        .await?;
    let view = rows.first().map(|r| delivery_view(&r)).transpose()?.ok_or(Error::NotFound)?;
    if updated == 0 {
        let failed = matches!(view["state"].as_str(), Some("dead" | "undeliverable"));
        return Err(Error::Conflict(if failed {
            Msg::new("Điểm nhận của tin này đã bị xóa hoặc tắt", "its endpoint was deleted or disabled")
        } else {
            Msg::new(
                "Chỉ gửi lại được tin đã hỏng (dead, undeliverable)",
                "only a dead or undeliverable delivery can be retried",
            )
        }));
    }
    let mut resp = crate::web::json(StatusCode::OK, &view)?;
    soon(&mut resp, db);
    Ok(resp)
}
