//! Test helpers: a stand-in for Telegram's and Zalo's APIs on 127.0.0.1 that records each
//! call and answers what a test says, and a platform wired to it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use civic::platform::Platform;
use civic::platform::native::{NativePlatform, block_on};
use http::StatusCode;
use serde_json::Value;

/// The `internal_secret` of [`env`].
pub const SECRET: &str = "internal-test-secret";

/// The Telegram bot token of [`env`].
pub const BOT_TOKEN: &str = "123:bot-token";

/// The OA access token [`env`] stores.
pub const OA_TOKEN: &str = "oa-access-token";

/// The Zalo app id and OA secret key of [`env`], which [`zalo`] signs with.
pub const ZALO_APP_ID: &str = "zalo-app";
pub const ZALO_OA_SECRET: &str = "zalo-oa-secret";

/// The Telegram webhook secret token of [`env`].
pub const TELEGRAM_SECRET: &str = "telegram-secret";

/// One call a stand-in received.
#[derive(Clone, Debug)]
pub struct Call {
    pub path: String,
    pub access_token: Option<String>,
    pub body: Value,
}

type Answer = dyn Fn(&str, &Value) -> (u16, Value) + Send + Sync;

/// A stand-in HTTP server: `answer(path, json body)` gives each call's status and JSON.
pub struct StandIn {
    pub addr: String,
    pub calls: Arc<Mutex<Vec<Call>>>,
}

impl StandIn {
    /// Starts one, answering after `delay` (a thread per request).
    pub fn start(delay: Duration, answer: impl Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static) -> StandIn {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let addr = server.server_addr().to_ip().unwrap().to_string();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answer> = Arc::new(answer);
        let seen = calls.clone();
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let (answer, seen) = (answer.clone(), seen.clone());
                std::thread::spawn(move || {
                    let mut body = Vec::new();
                    std::io::Read::read_to_end(request.as_reader(), &mut body).unwrap();
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let access_token = request
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("access_token"))
                        .map(|h| h.value.as_str().to_owned());
                    let path = request.url().to_owned();
                    seen.lock().unwrap().push(Call { path: path.clone(), access_token, body: body.clone() });
                    let (status, json) = answer(&path, &body);
                    std::thread::sleep(delay);
                    let header = tiny_http::Header::from_bytes("content-type", "application/json").unwrap();
                    let resp =
                        tiny_http::Response::from_string(json.to_string()).with_status_code(status).with_header(header);
                    let _ = request.respond(resp);
                });
            }
        });
        StandIn { addr, calls }
    }

    /// The calls to paths ending with `suffix`.
    pub fn calls_to(&self, suffix: &str) -> Vec<Call> {
        self.calls.lock().unwrap().iter().filter(|c| c.path.ends_with(suffix)).cloned().collect()
    }
}

/// A chat platform (migrated in-memory database, clock frozen at 2024-11-05T02:00:00Z)
/// whose Telegram and Zalo APIs are `stand_in`, with a valid OA token stored and the
/// `report_status` ZNS template configured as `tpl-report`, and the webhooks' secrets
/// ([`ZALO_APP_ID`], [`ZALO_OA_SECRET`], [`TELEGRAM_SECRET`]).
pub fn env(stand_in: &StandIn) -> NativePlatform {
    let base = format!("http://{}", stand_in.addr);
    let env = civic::testing::route_env(&[crate::store::DB])
        .with_config("internal_secret", SECRET)
        .with_config("telegram_bot_token", BOT_TOKEN)
        .with_config("telegram_api_base", &base)
        .with_config("zalo_api_base", &base)
        .with_config("zalo_business_base", &base)
        .with_config("zalo_zns_template_report_status", "tpl-report")
        .with_config("zalo_app_id", ZALO_APP_ID)
        .with_config("zalo_oa_secret_key", ZALO_OA_SECRET)
        .with_config("telegram_secret_token", TELEGRAM_SECRET)
        .with_allowed_host(&stand_in.addr);
    env.set_now(civic::testing::t("2024-11-05T02:00:00Z"));
    block_on(env.execute(
        crate::store::DB,
        "INSERT INTO zalo_tokens (id, access_token, refresh_token, expires_at, version)
         VALUES (1, ?1, 'refresh', '2099-01-01T00:00:00Z', 1)",
        &[OA_TOKEN.into()],
    ))
    .unwrap();
    env
}

/// `POST /chat/send` with `body`, signed with [`SECRET`].
pub fn send(env: &NativePlatform, body: &Value) -> (StatusCode, Value) {
    let raw = body.to_string();
    let signature = civic::command::sign(SECRET, raw.as_bytes());
    civic::testing::call(|r| crate::handle(r, env), "POST", "/chat/send", &[("x-signature", &signature)], raw)
}

/// `POST /chat/zalo` with `event`, given the app id and the platform's time as its `timestamp`,
/// and signed as Zalo signs.
pub fn zalo(env: &NativePlatform, event: &Value) -> (StatusCode, Value) {
    let timestamp = env.now().timestamp_millis().to_string();
    let mut event = event.clone();
    event["app_id"] = ZALO_APP_ID.into();
    event["timestamp"] = timestamp.as_str().into();
    let raw = event.to_string();
    let signature = crate::zalo::signature(ZALO_APP_ID, raw.as_bytes(), &timestamp, ZALO_OA_SECRET);
    civic::testing::call(|r| crate::handle(r, env), "POST", "/chat/zalo", &[("x-zevent-signature", &signature)], raw)
}

/// `POST /chat/telegram` with `update`, with the webhook's secret token.
pub fn telegram(env: &NativePlatform, update: &Value) -> (StatusCode, Value) {
    let headers = [("x-telegram-bot-api-secret-token", TELEGRAM_SECRET)];
    civic::testing::call(|r| crate::handle(r, env), "POST", "/chat/telegram", &headers, update.to_string())
}

/// The rows `sql` reads from the chat database.
pub fn rows(env: &NativePlatform, sql: &str) -> Vec<Vec<civic::platform::Value>> {
    block_on(env.query(crate::store::DB, sql, &[])).unwrap().rows
}

/// Runs `sql` on the chat database.
pub fn exec(env: &NativePlatform, sql: &str) {
    block_on(env.execute(crate::store::DB, sql, &[])).unwrap();
}
