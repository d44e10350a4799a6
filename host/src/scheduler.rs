//! The local stand-in for a deployment's scheduler (`civic-host --tick SECONDS`, which
//! `cargo xtask up` sets). Spin has no timer, so each function exposes `POST <base>/tick`
//! (bearer JWT with role `system`) for the deployment's scheduler to call: a Kubernetes
//! CronJob under SpinKube, a cron job, the cloud's scheduler. This one calls every
//! component's tick at a fixed interval, each on its first wildcard route in manifest order
//! (`/reports/...` gives `POST /reports/tick`), through the same path as a request from the
//! network (from `127.0.0.1`), with a token it signs with the component's own
//! `jwt_hs256_secret`, `jwt_issuer` and `jwt_audience` (valid a minute). A component without
//! an HS256 secret is skipped, with one line saying so. Ticks that did something, and ticks
//! that failed, print one line: `tick /reports/tick 200 {"delivered":2,...}`; idle ones
//! print nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};

use crate::app::App;
use crate::server::{self, RequestBody};

/// One component's tick: where it is and the variables its token is signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub component: String,
    /// `/<base>/tick`.
    pub path: String,
    secret: String,
    issuer: String,
    audience: String,
}

/// The tick of every component that can be called (see the module docs), in manifest
/// order; the second value names the components skipped for want of an HS256 secret.
pub fn targets(app: &App) -> (Vec<Target>, Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    let (mut found, mut skipped) = (Vec::new(), Vec::new());
    for (component, prefix) in app.router.wildcard_prefixes() {
        if !seen.insert(component.clone()) {
            continue;
        }
        let Some(loaded) = app.components.get(&component) else { continue };
        let var = |name: &str| loaded.config.variables.get(name).filter(|v| !v.is_empty()).cloned();
        match (var("jwt_hs256_secret"), var("jwt_issuer"), var("jwt_audience")) {
            (Some(secret), Some(issuer), Some(audience)) => found.push(Target {
                path: format!("{}/tick", prefix.trim_end_matches('/')),
                component,
                secret,
                issuer,
                audience,
            }),
            _ => skipped.push(component),
        }
    }
    (found, skipped)
}

/// A `system` token for `target`, valid 60 s from `now` (Unix seconds).
fn token(target: &Target, now: i64) -> String {
    let claims = serde_json::json!({
        "iss": target.issuer, "aud": target.audience, "sub": "civic-host-scheduler",
        "roles": ["system"], "iat": now, "exp": now + 60,
    });
    let key = jsonwebtoken::EncodingKey::from_secret(target.secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap_or_default()
}

/// Calls every target's tick every `every`, forever (the server's runtime ends it). A
/// component's tick starts only after its previous one answered.
pub async fn run(app: Arc<App>, listen_addr: SocketAddr, every: Duration) {
    let (targets, skipped) = targets(&app);
    for component in skipped {
        println!("tick: {component} is not ticked: it has no jwt_hs256_secret, jwt_issuer and jwt_audience");
    }
    for target in targets {
        let app = app.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                tick_once(&app, &target, listen_addr).await;
            }
        });
    }
}

/// One call of `target`'s tick; prints what it did unless it was idle.
pub async fn tick_once(app: &Arc<App>, target: &Target, listen_addr: SocketAddr) {
    #[allow(clippy::disallowed_methods)] // native host: the wall clock is the token's clock
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let request = Request::post(format!("http://{listen_addr}{}", target.path))
        .header(http::header::HOST, listen_addr.to_string())
        .header(http::header::AUTHORIZATION, format!("Bearer {}", token(target, i64::try_from(now).unwrap_or(0))))
        .header(http::header::CONTENT_LENGTH, "0")
        .body(Full::new(Bytes::new()).map_err(|never| match never {}).boxed_unsync());
    let Ok(request) = request else { return };
    let request: Request<RequestBody> = request;
    let client = SocketAddr::from(([127, 0, 0, 1], 0));
    let resp = server::handle_local(app, request, client, listen_addr).await;
    let status = resp.status();
    let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let idle = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body)
        .is_ok_and(|m| m.values().all(|v| v.as_u64() == Some(0)));
    if !status.is_success() || !idle {
        println!("tick {} {} {}", target.path, status.as_u16(), String::from_utf8_lossy(&body));
    }
}
