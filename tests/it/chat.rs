//! chat, the Zalo Official Account and Telegram bot, over real HTTP on both runtimes, with the
//! functions it asks (food-safety, permit-status, report-submission) behind it: on Spin the
//! one local host serves them all, on Workers chat's worker reaches theirs through service
//! bindings (`wrangler dev` processes that share one dev registry).
//!
//! Each runtime has stand-ins of its own on 127.0.0.1 ([`StandIn`], one tiny_http server):
//! Zalo's OA API (`POST /v3.0/oa/message/cs`), Zalo's OAuth (`POST /v4/oa/access_token`,
//! single-use refresh tokens), Zalo's photo CDN (`GET /zdn/...jpg`) and the Telegram Bot API
//! (`getFile`, file downloads, `answerCallbackQuery`, `sendMessage`). Each checks what it
//! receives as the platform would, answers as the platform documents, and records it.
//!
//! Zalo events are signed here (`mac=` hex SHA-256 of app id, body, timestamp and OA secret
//! key, with `sha2`), independently of the code under test. Each check has Zalo users,
//! Telegram chats, places, dossiers and report places of its own, so checks share a runtime.
//! The token check's burst must start from no stored token: every Zalo check waits for it
//! first ([`World::zalo_gate`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization as _;
use unicode_normalization::char::is_combining_mark;

use crate::harness::{Resp, Server, Suite, bearer, get, is_problem, request, send_sms, unix_now};
use crate::media::{JPEG, is_clean};

pub const SUITE: Suite = Suite {
    base: "/chat",
    function: "chat",
    databases: &["chat"],
    seed: &[],
    // Its checks need the functions behind it too: [`CHECKS`], run with a [`World`].
    checks: &[],
    same_answers,
};

/// The service bindings of chat's worker (wrangler.toml `[[env.chat.services]]`), to
/// food-safety, permit-status and report-submission.
pub const SERVICES: &[&str] = &["FOOD_SAFETY", "PERMIT_STATUS", "REPORT_SUBMISSION"];

pub const ZALO_APP_ID: &str = "4318251306518472233";
const ZALO_OA_ID: &str = "2912377412349876543";
const ZALO_OA_SECRET: &str = "e2e-zalo-oa-secret-key-0123";
const ZALO_APP_SECRET: &str = "e2e-zalo-app-secret-key-4567";
const TELEGRAM_TOKEN: &str = "7012345678:AAE2E-test-bot-token-Qw3rTyUi0p";
const TELEGRAM_SECRET: &str = "e2e-telegram-secret_0123";

/// How long a reply may take to reach a stand-in.
const REPLY_WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// The stand-ins

/// One message the OA sent, as the Zalo stand-in took it.
#[derive(Clone, Debug)]
pub struct Sent {
    pub user: String,
    pub text: String,
    /// `(title, payload)` of each `oa.query.show` button.
    pub buttons: Vec<(String, String)>,
    pub at: Instant,
}

impl Sent {
    /// The text and every button's title and payload, folded ([`fold`]).
    fn folded(&self) -> String {
        let mut all = self.text.clone();
        for (title, payload) in &self.buttons {
            all.push_str(&format!("\n{title} {payload}"));
        }
        fold(&all)
    }

    fn payloads(&self) -> BTreeSet<String> {
        self.buttons.iter().map(|(_, p)| p.trim().to_uppercase()).collect()
    }
}

/// One call to Zalo's OAuth: which refresh token, and whether it was taken.
#[derive(Clone, Debug)]
pub struct Refresh {
    pub token: String,
    pub ok: bool,
    pub why: String,
}

/// One call to the Telegram stand-in: its method (`getFile`, `answerCallbackQuery`,
/// `sendMessage`, `file` for a download) and its parameters.
#[derive(Clone, Debug)]
pub struct TgCall {
    pub method: String,
    pub params: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    /// Access tokens issued: valid until the test says otherwise.
    access: HashMap<String, bool>,
    /// Refresh tokens issued (and the configured first): unused until used once.
    refresh: HashMap<String, bool>,
    newest_refresh: String,
    refreshes: Vec<Refresh>,
    sent: Vec<Sent>,
    /// Sends refused for an unknown or invalidated access token.
    refused_sends: usize,
    /// What the stand-in refused as malformed (request shape, secrets): never expected.
    problems: Vec<String>,
    telegram: Vec<TgCall>,
    /// Telegram file paths handed out by getFile.
    files: Vec<String>,
    cdn: Vec<String>,
    serial: u64,
}

/// The Zalo and Telegram stand-ins of one runtime.
pub struct StandIn {
    pub runtime: &'static str,
    pub addr: String,
    first_refresh: String,
    state: Mutex<State>,
    changed: Condvar,
    burst: OnceLock<Result<Burst, String>>,
    /// Webhook-to-reply times of the Zalo round trips (command, time).
    zalo_latency: Mutex<Vec<(String, Duration)>>,
    /// Webhook round trips of Telegram (the reply is in the response).
    telegram_latency: Mutex<Vec<(String, Duration)>>,
}

static STANDINS: OnceLock<Vec<Arc<StandIn>>> = OnceLock::new();

/// Starts the stand-ins of both runtimes (before the runtimes: [`settings`] names them).
pub fn start_standins() -> Result<(), String> {
    let all = vec![StandIn::start("spin")?, StandIn::start("workers")?];
    STANDINS.set(all).map_err(|_| "the chat stand-ins were started twice".to_owned())
}

fn standin(runtime: &str) -> Option<&'static Arc<StandIn>> {
    STANDINS.get()?.iter().find(|s| s.runtime == runtime)
}

/// The chat settings `runtime` gets (Spin variables, Workers vars): its stand-ins' address
/// for every Zalo and Telegram base, and the shared secrets.
pub fn settings(runtime: &str) -> Vec<(String, String)> {
    let Some(s) = standin(runtime) else { return Vec::new() };
    let base = format!("http://{}", s.addr);
    [
        ("zalo_app_id", ZALO_APP_ID),
        ("zalo_oa_secret_key", ZALO_OA_SECRET),
        ("zalo_app_secret_key", ZALO_APP_SECRET),
        ("zalo_refresh_token", &s.first_refresh),
        ("zalo_api_base", &base),
        ("zalo_oauth_base", &base),
        ("zalo_media_origin", &base),
        ("telegram_bot_token", TELEGRAM_TOKEN),
        ("telegram_secret_token", TELEGRAM_SECRET),
        ("telegram_api_base", &base),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

#[allow(clippy::disallowed_methods)] // the test measures real time
fn now() -> Instant {
    Instant::now()
}

#[allow(clippy::disallowed_methods)] // the test client stamps events with real time
fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(0)
}

type Answer = (u16, &'static str, Vec<u8>);

fn json_answer(v: &Value) -> Answer {
    (200, "application/json", v.to_string().into_bytes())
}

impl StandIn {
    fn start(runtime: &'static str) -> Result<Arc<StandIn>, String> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = server.server_addr().to_ip().ok_or("the stand-in is not on an IP address")?.to_string();
        let first_refresh = format!("e2e-{runtime}-refresh-0");
        let mut state = State::default();
        state.refresh.insert(first_refresh.clone(), true);
        state.newest_refresh.clone_from(&first_refresh);
        let me = Arc::new(StandIn {
            runtime,
            addr,
            first_refresh,
            state: Mutex::new(state),
            changed: Condvar::new(),
            burst: OnceLock::new(),
            zalo_latency: Mutex::new(Vec::new()),
            telegram_latency: Mutex::new(Vec::new()),
        });
        let serving = Arc::clone(&me);
        std::thread::spawn(move || {
            for rq in server.incoming_requests() {
                let me = Arc::clone(&serving);
                std::thread::spawn(move || me.serve(rq));
            }
        });
        Ok(me)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serve(&self, mut rq: tiny_http::Request) {
        let mut body = Vec::new();
        let _ = rq.as_reader().read_to_end(&mut body);
        let method = rq.method().as_str().to_owned();
        let url = rq.url().to_owned();
        let headers: Vec<(String, String)> = rq
            .headers()
            .iter()
            .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.as_str().to_owned()))
            .collect();
        let (status, content_type, bytes) = self.answer(&method, &url, &headers, &body);
        self.changed.notify_all();
        let mut resp = tiny_http::Response::from_data(bytes).with_status_code(status);
        if let Ok(h) = tiny_http::Header::from_bytes("content-type", content_type) {
            resp = resp.with_header(h);
        }
        let _ = rq.respond(resp);
    }

    fn answer(&self, method: &str, url: &str, headers: &[(String, String)], body: &[u8]) -> Answer {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        match (method, path) {
            ("POST", "/v3.0/oa/message/cs") => json_answer(&self.zalo_send(header("access_token"), body)),
            ("POST", "/v4/oa/access_token") => {
                json_answer(&self.zalo_refresh(header("secret_key"), header("content-type"), body))
            }
            ("GET", p) if p.starts_with("/zdn/") && p.ends_with(".jpg") => {
                self.lock().cdn.push(p.to_owned());
                (200, "image/jpeg", JPEG.to_vec())
            }
            (_, p) if p.starts_with("/file/bot") => self.telegram_file(method, p),
            (_, p) if p.starts_with("/bot") => self.telegram(p, query, header("content-type"), body),
            _ => {
                self.lock().problems.push(format!("unexpected request {method} {url}"));
                (404, "text/plain", b"not found".to_vec())
            }
        }
    }

    /// `POST /v3.0/oa/message/cs`: a consultation message to one user, text and optional
    /// `oa.query.show` buttons.
    fn zalo_send(&self, token: Option<&str>, body: &[u8]) -> Value {
        let mut st = self.lock();
        if token.is_none_or(|t| st.access.get(t) != Some(&true)) {
            st.refused_sends += 1;
            return json!({"error": -216, "message": "Access token is invalid"});
        }
        let parsed = serde_json::from_slice::<Value>(body).map_err(|e| format!("not JSON: {e}"));
        match parsed.and_then(|v| zalo_message(&v)) {
            Ok((user, text, buttons)) => {
                st.serial += 1;
                let id = format!("{:032x}", st.serial);
                st.sent.push(Sent { user: user.clone(), text, buttons, at: now() });
                json!({"error": 0, "message": "Success", "data": {"message_id": id, "user_id": user}})
            }
            Err(e) => {
                st.problems.push(format!("message/cs: {e}: {}", String::from_utf8_lossy(body)));
                json!({"error": -201, "message": format!("Parameters are invalid: {e}")})
            }
        }
    }

    /// `POST /v4/oa/access_token`: a new pair for a refresh token, which is then used up.
    fn zalo_refresh(&self, secret: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Value {
        let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        let field = |k: &str| form.get(k).map_or("", String::as_str);
        let token = field("refresh_token").to_owned();
        let mut st = self.lock();
        let refuse = |st: &mut State, code: i64, why: &str| {
            st.refreshes.push(Refresh { token: token.clone(), ok: false, why: why.to_owned() });
            json!({"error": code, "error_name": why, "error_description": why,
                "error_reason": "", "ref_doc": "https://developers.zalo.me/docs/official-account"})
        };
        if !content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
            st.problems.push(format!("access_token: content-type {content_type:?}"));
            return refuse(&mut st, -14003, "Invalid content type");
        }
        if secret != Some(ZALO_APP_SECRET) {
            st.problems.push(format!("access_token: secret_key header {secret:?}"));
            return refuse(&mut st, -14002, "Invalid secret key");
        }
        if field("app_id") != ZALO_APP_ID || field("grant_type") != "refresh_token" {
            st.problems.push(format!("access_token: form {form:?}"));
            return refuse(&mut st, -14001, "Invalid parameter");
        }
        if st.refresh.get(&token) != Some(&true) {
            return refuse(&mut st, -14014, "Invalid refresh token");
        }
        st.refresh.insert(token.clone(), false);
        st.serial += 1;
        let access = format!("e2e-{}-access-{}", self.runtime, st.serial);
        let refresh = format!("e2e-{}-refresh-{}", self.runtime, st.serial);
        st.access.insert(access.clone(), true);
        st.refresh.insert(refresh.clone(), true);
        st.newest_refresh.clone_from(&refresh);
        st.refreshes.push(Refresh { token, ok: true, why: String::new() });
        json!({"access_token": access, "refresh_token": refresh, "expires_in": "90000"})
    }

    /// `/bot<token>/<method>`: getFile, answerCallbackQuery, sendMessage.
    fn telegram(&self, path: &str, query: &str, content_type: Option<&str>, body: &[u8]) -> Answer {
        let rest = path.strip_prefix("/bot").unwrap_or_default();
        let (token, method) = rest.rsplit_once('/').unwrap_or((rest, ""));
        let mut st = self.lock();
        if token != TELEGRAM_TOKEN {
            st.problems.push(format!("telegram: bot token {token:?}"));
            let v = json!({"ok": false, "error_code": 401, "description": "Unauthorized"});
            return (401, "application/json", v.to_string().into_bytes());
        }
        let mut params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        if content_type.is_some_and(|c| c.starts_with("application/json")) {
            if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
                for (k, v) in o {
                    params.insert(k, v.as_str().map_or_else(|| v.to_string(), str::to_owned));
                }
            }
        } else if !body.is_empty() {
            params.extend(form_urlencoded::parse(body).into_owned());
        }
        st.telegram.push(TgCall { method: method.to_owned(), params: params.clone() });
        let bad = |d: &str| {
            let v = json!({"ok": false, "error_code": 400, "description": format!("Bad Request: {d}")});
            (400, "application/json", v.to_string().into_bytes())
        };
        match method {
            "getFile" => {
                let id = params.get("file_id").cloned().unwrap_or_default();
                if id.is_empty() {
                    st.problems.push("getFile without file_id".into());
                    return bad("invalid file_id");
                }
                st.serial += 1;
                let file_path = format!("photos/file_{}.jpg", st.serial);
                st.files.push(file_path.clone());
                json_answer(&json!({"ok": true, "result": {"file_id": id, "file_unique_id": format!("u{}", st.serial),
                    "file_size": JPEG.len(), "file_path": file_path}}))
            }
            "answerCallbackQuery" if params.get("callback_query_id").is_some_and(|i| !i.is_empty()) => {
                json_answer(&json!({"ok": true, "result": true}))
            }
            "sendMessage" if params.contains_key("chat_id") && params.get("text").is_some_and(|t| !t.is_empty()) => {
                st.serial += 1;
                json_answer(&json!({"ok": true, "result": {"message_id": st.serial, "date": unix_now(),
                    "chat": {"id": params.get("chat_id"), "type": "private"}, "text": params.get("text")}}))
            }
            other => {
                st.problems.push(format!("telegram: {other} with {params:?}"));
                bad("method or parameters")
            }
        }
    }

    /// `GET /file/bot<token>/<file_path>`: the photo a getFile named.
    fn telegram_file(&self, method: &str, path: &str) -> Answer {
        let rest = path.strip_prefix("/file/bot").unwrap_or_default();
        let (token, file) = rest.split_once('/').unwrap_or((rest, ""));
        let mut st = self.lock();
        let known = st.files.iter().any(|f| f == file);
        let params = HashMap::from([("file_path".to_owned(), file.to_owned())]);
        st.telegram.push(TgCall { method: "file".into(), params });
        if method != "GET" || token != TELEGRAM_TOKEN || !known {
            st.problems.push(format!("telegram file: {method} token {token:?} file {file:?}"));
            return (404, "application/json", br#"{"ok":false,"error_code":404,"description":"Not Found"}"#.to_vec());
        }
        (200, "image/jpeg", JPEG.to_vec())
    }

    /// Waits until `done` answers something about the state, or `timeout` passes.
    fn wait_for<T>(&self, timeout: Duration, done: impl Fn(&State) -> Option<T>) -> Option<T> {
        let deadline = now() + timeout;
        let mut st = self.lock();
        loop {
            if let Some(t) = done(&st) {
                return Some(t);
            }
            let left = deadline.saturating_duration_since(now());
            if left.is_zero() {
                return None;
            }
            st = self.changed.wait_timeout(st, left).map_or_else(|e| e.into_inner().0, |(g, _)| g);
        }
    }

    /// The messages sent to `user` so far.
    pub fn sent_to(&self, user: &str) -> Vec<Sent> {
        self.lock().sent.iter().filter(|m| m.user == user).cloned().collect()
    }

    /// The messages to `user` once there are at least `n`.
    fn wait_sent(&self, user: &str, n: usize, timeout: Duration) -> Option<Vec<Sent>> {
        self.wait_for(timeout, |st| {
            let mine: Vec<Sent> = st.sent.iter().filter(|m| m.user == user).cloned().collect();
            (mine.len() >= n).then_some(mine)
        })
    }

    fn refreshes(&self) -> Vec<Refresh> {
        self.lock().refreshes.clone()
    }

    fn telegram_calls(&self) -> Vec<TgCall> {
        self.lock().telegram.clone()
    }

    /// What the stand-in refused as malformed, for error messages.
    fn problems(&self) -> Vec<String> {
        self.lock().problems.clone()
    }

    /// A test control: every access token issued so far stops working (-216), as when Zalo
    /// revokes them; the refresh tokens stay as they are.
    fn invalidate_access_tokens(&self) {
        for valid in self.lock().access.values_mut() {
            *valid = false;
        }
    }

    fn record(&self, zalo: bool, what: &str, took: Duration) {
        let list = if zalo { &self.zalo_latency } else { &self.telegram_latency };
        list.lock().unwrap_or_else(PoisonError::into_inner).push((what.to_owned(), took));
    }
}

/// A `message/cs` body read: `(user_id, text, buttons as (title, payload))`.
type ZaloMessage = (String, String, Vec<(String, String)>);

/// Reads a `message/cs` body, or says what is wrong with it.
fn zalo_message(v: &Value) -> Result<ZaloMessage, String> {
    let user = v["recipient"]["user_id"].as_str().ok_or("recipient.user_id is not a string")?;
    ensure!(!user.is_empty() && user.bytes().all(|b| b.is_ascii_digit()), "recipient.user_id {user:?}");
    let text = v["message"]["text"].as_str().ok_or("message.text is not a string")?;
    ensure!(!text.trim().is_empty() && text.chars().count() <= 2000, "message.text empty or over 2000 characters");
    let mut buttons = Vec::new();
    let attachment = &v["message"]["attachment"];
    if !attachment.is_null() {
        ensure!(attachment["type"] == "template", "attachment.type {}", attachment["type"]);
        let list = attachment["payload"]["buttons"].as_array().ok_or("attachment.payload.buttons is not a list")?;
        ensure!(!list.is_empty(), "no buttons");
        for b in list {
            let (title, payload) = (b["title"].as_str().unwrap_or(""), b["payload"].as_str().unwrap_or(""));
            ensure!(b["type"] == "oa.query.show" && !title.is_empty() && !payload.is_empty(), "button {b}");
            buttons.push((title.to_owned(), payload.to_owned()));
        }
    }
    Ok((user.to_owned(), text.to_owned(), buttons))
}

/// Prints the webhook-to-reply times of the whole run, per runtime (figures, not checks).
pub fn print_latencies() {
    for s in STANDINS.get().into_iter().flatten() {
        for (channel, list) in [("zalo", &s.zalo_latency), ("telegram", &s.telegram_latency)] {
            let all: Vec<Duration> = list.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|l| l.1).collect();
            if let Some(line) = summary(&all) {
                eprintln!("chat {channel} on {} over the whole run: {line}", s.runtime);
            }
        }
    }
}

/// `p50 X ms, max Y ms over N replies` of some durations.
pub fn summary(all: &[Duration]) -> Option<String> {
    let mut ms: Vec<u128> = all.iter().map(Duration::as_millis).collect();
    ms.sort_unstable();
    let (p50, max) = (ms.get(ms.len() / 2)?, ms.last()?);
    Some(format!("p50 {p50} ms, max {max} ms over {} replies", ms.len()))
}

// ---------------------------------------------------------------------------------------
// The client: one runtime's world, Zalo events and Telegram updates

/// One runtime's chat, the functions it asks, and its stand-ins.
pub struct World<'a> {
    pub runtime: &'static str,
    pub chat: &'a Server,
    pub food: &'a Server,
    pub permits: &'a Server,
    pub reports: &'a Server,
    pub standin: &'a StandIn,
}

/// One chat check on one runtime.
pub type ChatCheck = fn(&World) -> Result<(), String>;

/// The world of `runtime` from its started servers: chat, food-safety, permit-status and
/// report-submission, in that order (on Spin four times the one host).
pub fn world<'a>(runtime: &'static str, started: &'a [Result<Arc<Server>, String>]) -> Result<World<'a>, String> {
    let at = |i: usize| crate::harness::started_at(started, i);
    let standin = standin(runtime).ok_or("the chat stand-ins did not start")?;
    Ok(World { runtime, chat: at(0)?, food: at(1)?, permits: at(2)?, reports: at(3)?, standin })
}

impl World<'_> {
    /// `failure`, with what the runtime logged that may explain it: every line about a
    /// panic or an error, and the last lines, of each server of this world.
    pub fn explain(&self, failure: String) -> String {
        let mut out = failure;
        let mut seen: Vec<&str> = Vec::new();
        for s in [self.chat, self.food, self.permits, self.reports] {
            if seen.contains(&s.addr.as_str()) {
                continue;
            }
            seen.push(&s.addr);
            let log = s.log.lock().map(|l| l.clone()).unwrap_or_default();
            let telling = |l: &&String| {
                let l = l.to_lowercase();
                l.contains("panic") || l.contains("error") || l.contains("trap") || l.contains("not sent")
            };
            let mut lines: Vec<&String> = log.iter().filter(telling).collect();
            let tail: Vec<&String> = log.iter().rev().take(12).rev().collect();
            lines.retain(|l| !tail.contains(l));
            lines.extend(tail);
            out.push_str(&format!("\n--- {} {} log (errors, then its last lines) ---\n", s.name, s.addr));
            for l in lines.iter().rev().take(60).rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

static SERIAL: AtomicU64 = AtomicU64::new(1);

fn serial() -> u64 {
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// A Zalo user id of one check (`n`), as big as Zalo's.
pub fn zalo_user(n: u64) -> String {
    (5_500_000_000_000_000_000_u64 + n).to_string()
}

/// A fresh Zalo `msg_id` (32 hex digits).
fn msg_id() -> String {
    format!("{:016x}{:016x}", now_ms(), serial())
}

/// A Zalo OA event as Zalo sends it, stamped `timestamp` (Unix milliseconds, a string).
fn zalo_event_at(user: &str, name: &str, message: Value, timestamp: i64) -> Value {
    json!({"app_id": ZALO_APP_ID, "user_id_by_app": format!("88{user}"), "event_name": name,
        "sender": {"id": user}, "recipient": {"id": ZALO_OA_ID}, "message": message,
        "timestamp": timestamp.to_string()})
}

fn zalo_event(user: &str, name: &str, message: Value) -> Value {
    zalo_event_at(user, name, message, now_ms())
}

fn text_event(user: &str, text: &str) -> Value {
    zalo_event(user, "user_send_text", json!({"text": text, "msg_id": msg_id()}))
}

fn location_event(user: &str, lat: f64, lng: f64) -> Value {
    let coordinates = json!({"latitude": lat.to_string(), "longitude": lng.to_string()});
    let message = json!({"msg_id": msg_id(), "text": "",
        "attachments": [{"type": "location", "payload": {"coordinates": coordinates}}]});
    zalo_event(user, "user_send_location", message)
}

fn image_event(user: &str, url: &str) -> Value {
    let message = json!({"msg_id": msg_id(), "text": "",
        "attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}}]});
    zalo_event(user, "user_send_image", message)
}

/// `X-ZEvent-Signature` of `body`: `mac=` hex SHA-256 of app id, body, timestamp and the OA
/// secret key, as Zalo's webhook documentation gives it.
fn zalo_signature(app_id: &str, body: &str, timestamp: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    for part in [app_id, body, timestamp, secret] {
        h.update(part.as_bytes());
    }
    format!("mac={}", hex::encode(h.finalize()))
}

/// Lowercase, diacritics dropped, `đ` as `d`: to compare text across SMS and chat (written
/// here with unicode-normalization, not with the code under test).
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| if c == 'đ' || c == 'Đ' { 'd' } else { c })
        .flat_map(char::to_lowercase)
        .collect()
}

fn text_of(r: &Resp) -> String {
    format!("{} {}", r.status, String::from_utf8_lossy(&r.body))
}

impl World<'_> {
    fn post_zalo(&self, body: &str, signature: Option<&str>) -> Result<Resp, String> {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(s) = signature {
            headers.push(("x-zevent-signature", s));
        }
        request(&self.chat.addr, "POST", "/chat/zalo", &headers, body.as_bytes())
    }

    /// Posts a Zalo event signed as Zalo signs it.
    fn zalo_post(&self, event: &Value) -> Result<Resp, String> {
        let body = event.to_string();
        let ts = event["timestamp"].as_str().unwrap_or_default();
        self.post_zalo(&body, Some(&zalo_signature(ZALO_APP_ID, &body, ts, ZALO_OA_SECRET)))
    }

    /// Posts a signed event: it must be taken (200 `{"ok": true}`, not a duplicate).
    fn zalo_accepted(&self, event: &Value) -> Result<(), String> {
        let r = self.zalo_post(event)?;
        let v = r.json()?;
        ensure!(
            r.status == 200 && v["ok"] == true && v["duplicate"] != true,
            "a fresh signed event must be taken: {} for {event}",
            text_of(&r)
        );
        Ok(())
    }

    /// The token check's burst, once per runtime, before any other Zalo message.
    fn zalo_gate(&self) -> &Result<Burst, String> {
        self.standin.burst.get_or_init(|| token_burst(self))
    }

    /// Posts a signed event and waits for the one reply it gets at the stand-in.
    fn zalo_exchange(&self, user: &str, event: &Value) -> Result<Sent, String> {
        let before = self.standin.sent_to(user).len();
        let start = now();
        self.zalo_accepted(event)?;
        let mine = self.standin.wait_sent(user, before + 1, REPLY_WAIT).ok_or_else(|| {
            format!(
                "no reply to {user} at the Zalo stand-in within {} s after {event}; stand-in problems: {:?}",
                REPLY_WAIT.as_secs(),
                self.standin.problems()
            )
        })?;
        let reply = mine[before].clone();
        let what = event["message"]["text"].as_str().and_then(|t| t.split_whitespace().next()).unwrap_or("event");
        self.standin.record(true, &fold(what), reply.at.saturating_duration_since(start));
        Ok(reply)
    }

    /// A text from `user` and the reply it gets.
    fn zalo_say(&self, user: &str, text: &str) -> Result<Sent, String> {
        self.zalo_exchange(user, &text_event(user, text))
    }

    /// A Telegram update posted with `secret` as `X-Telegram-Bot-Api-Secret-Token`.
    fn tg_post(&self, update: &Value, secret: Option<&str>) -> Result<Resp, String> {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(s) = secret {
            headers.push(("x-telegram-bot-api-secret-token", s));
        }
        request(&self.chat.addr, "POST", "/chat/telegram", &headers, update.to_string().as_bytes())
    }

    /// Posts an update with the right secret; the `sendMessage` of the response, checked
    /// for its chat.
    fn tg_reply(&self, chat: i64, update: &Value) -> Result<Value, String> {
        let start = now();
        let r = self.tg_post(update, Some(TELEGRAM_SECRET))?;
        let took = now().saturating_duration_since(start);
        let v = r.json()?;
        ensure!(
            r.status == 200 && v["method"] == "sendMessage" && v["chat_id"].as_i64() == Some(chat),
            "sendMessage to chat {chat} in the response to {update}: {}",
            text_of(&r)
        );
        ensure!(v["text"].as_str().is_some_and(|t| !t.trim().is_empty()), "no text: {v}");
        let text = update["message"]["text"].as_str().or(update["callback_query"]["data"].as_str());
        let what = text.and_then(|t| t.split_whitespace().next()).unwrap_or("update");
        self.standin.record(false, &fold(what), took);
        Ok(v)
    }

    fn tg_say(&self, chat: i64, text: &str) -> Result<Value, String> {
        self.tg_reply(chat, &tg_message(chat, json!({"text": text})))
    }
}

/// A Telegram chat id of one check (`n`).
fn tg_chat(n: i64) -> i64 {
    6_100_000_000 + n
}

fn update_id() -> i64 {
    i64::try_from(100_000 + serial()).unwrap_or(0)
}

/// A private-chat message update from `chat`, with `fields` (`text`, `location`, `photo`).
fn tg_message(chat: i64, fields: Value) -> Value {
    let mut message = json!({"message_id": serial(),
        "from": {"id": chat, "is_bot": false, "first_name": "Lan", "last_name": "Trần", "language_code": "vi"},
        "chat": {"id": chat, "first_name": "Lan", "last_name": "Trần", "type": "private"}, "date": unix_now()});
    if let (Some(m), Some(f)) = (message.as_object_mut(), fields.as_object()) {
        m.extend(f.clone());
    }
    json!({"update_id": update_id(), "message": message})
}

/// A tap on an inline button (`data`) under a message in `chat`.
fn tg_callback(chat: i64, id: &str, data: &str) -> Value {
    json!({"update_id": update_id(), "callback_query": {"id": id,
        "from": {"id": chat, "is_bot": false, "first_name": "Lan", "language_code": "vi"},
        "message": {"message_id": serial(), "from": {"id": 7_012_345_678_i64, "is_bot": true, "first_name": "Bot"},
            "chat": {"id": chat, "first_name": "Lan", "type": "private"}, "date": unix_now(), "text": "…"},
        "chat_instance": "-5012345678901234567", "data": data}})
}

/// The inline keyboard of a `sendMessage`: `(text, callback_data)` per row (one button each).
fn keyboard(v: &Value) -> Result<Vec<(String, String)>, String> {
    let rows = v["reply_markup"]["inline_keyboard"].as_array().ok_or(format!("no inline_keyboard: {v}"))?;
    let mut out = Vec::new();
    for row in rows {
        let b = row.as_array().filter(|r| r.len() == 1).and_then(|r| r.first()).ok_or(format!("row {row}"))?;
        let (text, data) = (b["text"].as_str().unwrap_or(""), b["callback_data"].as_str().unwrap_or(""));
        ensure!(!text.is_empty() && !data.is_empty() && data.len() <= 64, "button {b}");
        out.push((text.to_owned(), data.to_owned()));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Data the checks look up

/// Places of the chat checks' own, far from the other suites' (15.99 N, 108.26 E): one
/// certified 56 m from [`NEAR`], one certified 356 m away, one without a certificate 11 m away.
const PLACES: &str = r#"[
  {"id": "CHAT-0001", "name": "Hủ tiếu Nam Vang Kiều Oanh", "address": "88 Nguyễn Chí Thanh", "ward": "Hải Châu 1",
   "district": "Hải Châu", "province": "Đà Nẵng", "kind": "eatery",
   "certificate": {"number": "88/2025/ATTP-CNĐK", "issued": "2025-02-10", "expires": "2097-08-15",
                   "authority": "Ban Quản lý ATTP Đà Nẵng"},
   "violations": [], "lat": 15.9905, "lng": 108.2601},
  {"id": "CHAT-0002", "name": "Bánh tráng cuốn thịt heo Đại Lộc", "address": "3 Lê Văn Hiến", "ward": "Khuê Mỹ",
   "district": "Ngũ Hành Sơn", "province": "Đà Nẵng", "kind": "restaurant",
   "certificate": {"number": "89/2025/ATTP-CNĐK", "issued": "2025-02-11", "expires": "2096-11-20",
                   "authority": "Ban Quản lý ATTP Đà Nẵng"},
   "violations": [], "lat": 15.9932, "lng": 108.2601},
  {"id": "CHAT-0003", "name": "Ốc hút Cô Sáu Lề Đường", "address": "5 Lê Văn Hiến", "ward": "Khuê Mỹ",
   "district": "Ngũ Hành Sơn", "province": "Đà Nẵng", "kind": "street_food",
   "certificate": null, "violations": [], "lat": 15.9901, "lng": 108.2601}
]"#;

/// Where a citizen shares a location next to [`PLACES`].
const NEAR: (f64, f64) = (15.9900, 108.2601);

fn load_places(w: &World) -> Result<(), String> {
    crate::food::load_fixture(w.food)?;
    let admin = bearer(&["admin"]);
    let headers = [("authorization", admin.as_str()), ("content-type", "application/json")];
    let r = request(&w.food.addr, "PUT", "/food-safety/establishments", &headers, PLACES.as_bytes())?;
    ensure!(r.status == 200, "importing the chat places: {}", text_of(&r));
    Ok(())
}

/// A dossier code of the chat checks (`000.95...`, away from permits.rs's `000.99...`).
fn dossier_code(n: u32) -> String {
    format!("000.95.19.H57-241105-{n:04}")
}

/// A dossier pushed by the one-stop-shop system: being processed (4), due 20/12/2099, fee
/// 150.000 đ not paid, applicant Nguyễn Văn An of phone 0905123456.
fn push_dossier(w: &World, code: &str) -> Result<(), String> {
    let body = json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "field": "Xây dựng", "agency": "UBND quận Hải Châu",
        "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
        "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2099-12-20T17:00:00+07:00",
        "status": 4, "status_at": "2024-11-06T09:00:00+07:00", "note": "đang thẩm định", "result_at": null,
        "fee_vnd": 150_000});
    let system = bearer(&["system"]);
    let headers = [("authorization", system.as_str()), ("content-type", "application/json")];
    let r = request(&w.permits.addr, "PUT", &format!("/permits/{code}"), &headers, body.to_string().as_bytes())?;
    ensure!(r.status == 200 || r.status == 201, "push {code}: {}", text_of(&r));
    Ok(())
}

/// A rubbish report filed over the API at (lat, lng); its code.
fn file_report(w: &World, lat: f64, lng: f64) -> Result<String, String> {
    crate::reports::set_catalogue(w.reports)?;
    let body = json!({"category": "rubbish", "description": "Rác đổ trộm bên kênh", "lat": lat, "lng": lng,
        "phone": "0905 444 555"});
    let headers = [("content-type", "application/json")];
    let r = request(&w.reports.addr, "POST", "/reports", &headers, body.to_string().as_bytes())?;
    ensure!(r.status == 201, "filing a report: {}", text_of(&r));
    Ok(r.json()?["code"].as_str().unwrap_or_default().to_owned())
}

/// The first report code (`PA-YYMMDD-NNNN`) in a text.
fn report_code(text: &str) -> Option<String> {
    text.match_indices("PA-").map(|(i, _)| &text[i..]).find_map(|t| {
        let code: String = t.chars().take(14).collect();
        let b = code.as_bytes();
        let ok = b.len() == 14
            && b[3..9].iter().all(u8::is_ascii_digit)
            && b[9] == b'-'
            && b[10..].iter().all(u8::is_ascii_digit);
        ok.then_some(code)
    })
}

/// A report as report-submission shows it.
fn report(w: &World, code: &str) -> Result<Value, String> {
    let r = get(&w.reports.addr, &format!("/reports/{code}"))?;
    ensure!(r.status == 200, "GET /reports/{code}: {}", text_of(&r));
    r.json()
}

/// The photos of a report: each one of ours (`/reports/media/{id}` on report-submission),
/// served as a clean JPEG; `forbidden` appear in none of their URLs.
fn our_photos(w: &World, report: &Value, forbidden: &[&str]) -> Result<usize, String> {
    let urls = report["media_urls"].as_array().ok_or(format!("no media_urls: {report}"))?;
    for url in urls {
        let url = url.as_str().unwrap_or_default();
        let at = url.find("/reports/media/").ok_or(format!("not one of our media URLs: {url}"))?;
        ensure!(url.starts_with("http") && !url.contains(&w.standin.addr), "not one of our media URLs: {url}");
        for f in forbidden {
            ensure!(!url.contains(f), "{url} holds {f:?}");
        }
        let r = get(&w.reports.addr, &url[at..])?;
        ensure!(r.status == 200 && r.header("content-type") == Some("image/jpeg"), "GET {url}: {}", r.status);
        is_clean("image/jpeg", &r.body)?;
    }
    Ok(urls.len())
}

/// The facts an SMS reply states that can be compared across channels: tokens with a digit
/// and a `/` or `-` (dates, certificate numbers, dossier and report codes), folded.
fn facts(sms: &str) -> Vec<String> {
    sms.split_whitespace()
        .map(|t| t.trim_matches(|c: char| matches!(c, ',' | '.' | ':' | ';' | '(' | ')' | '"')))
        .filter(|t| t.bytes().any(|b| b.is_ascii_digit()) && t.contains(['/', '-']))
        .map(fold)
        .collect()
}

fn sms_reply(s: &Server, path: &str, id: &str, text: &str) -> Result<String, String> {
    let r = send_sms(s, path, id, text)?;
    ensure!(r.status == 200, "sms {text:?} to {path}: {}", text_of(&r));
    Ok(r.json()?["reply"].as_str().unwrap_or_default().to_owned())
}

// ---------------------------------------------------------------------------------------
// The checks

pub const CHECKS: &[(&str, ChatCheck)] = &[
    ("zalo_concurrent_token_refreshes_keep_the_newest_pair", concurrent_refreshes_keep_the_newest_pair),
    ("zalo_attp_answers_with_diacritics", zalo_attp),
    ("zalo_hs_answers_and_only_the_right_last4_opens_details", zalo_hs),
    ("zalo_tt_answers_the_report_status", zalo_tt),
    ("zalo_unknown_text_and_follow_get_the_menu_as_buttons", zalo_menu),
    ("sms_and_chat_state_the_same_facts", sms_and_chat_agree),
    ("zalo_location_gets_the_nearest_certified_places_first", zalo_location),
    ("zalo_pa_files_one_report_and_redelivery_changes_nothing", zalo_pa),
    ("zalo_forged_signature_is_401_and_nothing_is_sent", zalo_forged),
    ("zalo_stale_timestamp_is_refused_and_nothing_is_sent", zalo_stale),
    ("zalo_replayed_msg_id_is_200_and_answered_once", zalo_replay),
    ("telegram_text_is_answered_in_the_webhook_response", telegram_text),
    ("telegram_matches_come_as_buttons_and_a_tap_is_answered", telegram_tap),
    ("telegram_wrong_secret_is_401", telegram_wrong_secret),
    ("telegram_repeated_update_is_200_without_a_reply", telegram_repeat),
    ("telegram_a_burst_gets_one_notice_then_silence", telegram_burst),
    ("telegram_pa_photo_is_stored_as_ours_never_with_the_token", telegram_pa),
    ("zalo_and_telegram_reporters_hear_each_step", reporters_hear_each_step),
    ("reply_latency_is_printed", latency),
];

/// What the token burst saw ([`token_burst`]).
#[derive(Debug)]
pub struct Burst {
    /// Messages to each burst user (one expected each).
    replies: Vec<(String, usize)>,
    /// The refresh calls of the burst, and those after it settled.
    during: Vec<Refresh>,
    after: Vec<Refresh>,
    /// The newest refresh token once the burst settled.
    newest: String,
    /// The reply after every access token was invalidated.
    last: Result<String, String>,
}

/// Six users write at once to a chat that holds no token (each must refresh, or wait for one
/// that did); once every reply is in, every access token is invalidated and a seventh user
/// writes: the chat must refresh with the newest refresh token, the only one still good.
fn token_burst(w: &World) -> Result<Burst, String> {
    let before = w.standin.refreshes();
    ensure!(before.is_empty(), "refreshes before the first Zalo message: {before:?}");
    let users: Vec<String> = (1..=6).map(zalo_user).collect();
    let posted: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            users.iter().map(|u| scope.spawn(move || w.zalo_accepted(&text_event(u, "xin chào")))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a sender panicked".into()))).collect()
    });
    posted.into_iter().collect::<Result<Vec<()>, String>>()?;
    let deadline = now() + REPLY_WAIT;
    for u in &users {
        // A reply that never comes shows in `replies`.
        let _ = w.standin.wait_sent(u, 1, deadline.saturating_duration_since(now()));
    }
    std::thread::sleep(Duration::from_millis(500));
    let replies = users.iter().map(|u| (u.clone(), w.standin.sent_to(u).len())).collect();
    let during = w.standin.refreshes();
    let newest = w.standin.lock().newest_refresh.clone();
    w.standin.invalidate_access_tokens();
    let last = w.zalo_say(&zalo_user(7), "xin chào").map(|s| s.text);
    let after = w.standin.refreshes().split_off(during.len());
    Ok(Burst { replies, during, after, newest, last })
}

fn concurrent_refreshes_keep_the_newest_pair(w: &World) -> Result<(), String> {
    let b = w.zalo_gate().as_ref().map_err(|e| format!("the burst: {e}"))?;
    let mut wrong = Vec::new();
    let lost: Vec<&(String, usize)> = b.replies.iter().filter(|(_, n)| *n != 1).collect();
    if !lost.is_empty() {
        let outbox = spin_outbox(w);
        wrong.push(format!("each burst user gets one reply; (user, replies): {lost:?}; chat's outbox: {outbox:?}"));
    }
    let ok = b.during.iter().filter(|r| r.ok).count();
    if !(1..=6).contains(&ok) {
        wrong.push(format!("successful refreshes in a burst of 6: {ok}"));
    }
    match &b.last {
        Ok(text) if !text.is_empty() => {}
        other => wrong.push(format!("the reply after every access token was invalidated: {other:?}")),
    }
    let refused: Vec<(&str, &str)> =
        b.after.iter().filter(|r| !r.ok).map(|r| (r.token.as_str(), r.why.as_str())).collect();
    if !refused.is_empty() {
        wrong.push(format!("refused refreshes once the burst settled (a used or stale token): {refused:?}"));
    }
    if b.after.len() != 1 || b.after.first().is_some_and(|r| r.token != b.newest) {
        wrong.push(format!("one refresh after the invalidation, with the newest refresh token {}", b.newest));
    }
    let during = b.during.len();
    let summary = format!(
        "a burst of 6 from no token made {during} refresh calls ({ok} taken), the invalidation {} ({} taken)",
        b.after.len(),
        b.after.iter().filter(|r| r.ok).count()
    );
    eprintln!("chat on {}: {summary}", w.runtime);
    ensure!(wrong.is_empty(), "{}\n{summary}: {:?} then {:?}", wrong.join("\n"), b.during, b.after);
    Ok(())
}

/// The rows of chat's outbox on the local host (`user status last_error`), read from its
/// database file; nothing on Workers (workerd's files are left alone).
fn spin_outbox(w: &World) -> Vec<String> {
    let file = w.chat.data_dir().join("chat.db");
    if w.runtime != "spin" || !file.exists() {
        return Vec::new();
    }
    let Ok(conn) = civic::platform::native::open_db(&file) else { return Vec::new() };
    let sql = "SELECT user_id, status, COALESCE(last_error, '') AS error FROM outbox";
    let Ok(rows) = civic::platform::native::run(&conn, sql, &[]) else { return Vec::new() };
    let cell = |r: &civic::platform::Row<'_>, c: &str| r.str(c).map(str::to_owned).unwrap_or_default();
    rows.iter().map(|r| format!("{} {} {}", cell(&r, "user_id"), cell(&r, "status"), cell(&r, "error"))).collect()
}

fn zalo_attp(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    load_places(w)?;
    let user = zalo_user(101);
    let r = w.zalo_say(&user, "ATTP hủ tiếu nam vang kiều oanh")?;
    for want in ["Hủ tiếu Nam Vang Kiều Oanh", "88/2025/ATTP-CNĐK", "15/08/2097"] {
        ensure!(r.text.contains(want), "ATTP reply lacks {want:?}: {r:?}");
    }
    let r = w.zalo_say(&user, "attp PHO BA HOA, hai chau")?;
    ensure!(r.text.contains("Phở Bà Hoa") || r.buttons.iter().any(|b| b.0.contains("Phở Bà Hoa")), "{r:?}");
    Ok(())
}

fn zalo_hs(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    let code = dossier_code(11);
    push_dossier(w, &code)?;
    let user = zalo_user(111);
    let public = w.zalo_say(&user, &format!("HS {}", code.to_lowercase()))?;
    for want in [code.as_str(), "Đang xử lý", "20/12/2099"] {
        ensure!(public.text.contains(want), "HS reply lacks {want:?}: {public:?}");
    }
    ensure!(!public.text.contains("Nguyễn") && !public.text.contains("0905"), "personal data: {public:?}");
    let wrong = w.zalo_say(&user, &format!("HS {code} 9999"))?;
    ensure!(!fold(&wrong.text).contains("nguyen"), "a wrong last-4 shows the applicant: {wrong:?}");
    ensure!(wrong.text.contains(&code), "a wrong last-4 still answers the dossier: {wrong:?}");
    let right = w.zalo_say(&user, &format!("HS {code} 3456"))?;
    ensure!(right.text.contains("Nguyễn") && !right.text.contains("0905"), "the right last-4 opens it: {right:?}");
    Ok(())
}

fn zalo_tt(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    let code = file_report(w, 15.9700, 108.2500)?;
    let r = w.zalo_say(&zalo_user(121), &format!("TT {code}"))?;
    ensure!(r.text.contains(&code) && fold(&r.text).contains("da tiep nhan"), "TT {code}: {r:?}");
    ensure!(r.text.contains("Đã tiếp nhận") || r.text.contains("đã tiếp nhận"), "diacritics kept: {r:?}");
    Ok(())
}

fn menu_of(what: &str, r: &Sent) -> Result<(), String> {
    let want: BTreeSet<String> = ["ATTP", "HS", "PA", "TT"].map(str::to_owned).into();
    ensure!(r.payloads() == want && r.buttons.len() == 4, "{what}: the menu's 4 choices as buttons: {r:?}");
    ensure!(r.buttons.iter().any(|(t, _)| !t.is_ascii()), "{what}: labels in Vietnamese: {r:?}");
    Ok(())
}

fn zalo_menu(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    let user = zalo_user(131);
    menu_of("an unknown text", &w.zalo_say(&user, "cho tôi hỏi chút")?)?;
    let follower = zalo_user(132);
    let follow = json!({"app_id": ZALO_APP_ID, "oa_id": ZALO_OA_ID, "event_name": "follow", "source": "oa_profile",
        "follower": {"id": follower}, "user_id_by_app": "88132", "timestamp": now_ms().to_string()});
    menu_of("a follow", &w.zalo_exchange(&follower, &follow)?)?;
    Ok(())
}

fn sms_and_chat_agree(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    load_places(w)?;
    let code = dossier_code(21);
    push_dossier(w, &code)?;
    let report = file_report(w, 15.9710, 108.2510)?;
    let user = zalo_user(141);
    let stamp = format!("chat-{}-{}", w.runtime, now_ms());
    let cases = [
        (w.food, "/food-safety/sms", "ATTP hu tieu nam vang kieu oanh", "ATTP hủ tiếu nam vang kiều oanh".to_owned()),
        (w.permits, "/permits/sms", &*format!("HS {code}"), format!("HS {code}")),
        (w.reports, "/reports/sms", &*format!("TT {report}"), format!("TT {report}")),
    ];
    for (i, (server, path, sms_text, chat_text)) in cases.iter().enumerate() {
        let sms = sms_reply(server, path, &format!("{stamp}-{i}"), sms_text)?;
        let chat = w.zalo_say(&user, chat_text)?;
        let wanted = facts(&sms);
        ensure!(!wanted.is_empty(), "no facts to compare in the SMS reply {sms:?}");
        let folded = chat.folded();
        let missing: Vec<&String> = wanted.iter().filter(|f| !folded.contains(f.as_str())).collect();
        ensure!(missing.is_empty(), "{chat_text}: the chat reply lacks {missing:?} of the SMS {sms:?}: {chat:?}");
        ensure!(!chat.text.is_ascii(), "{chat_text}: the chat reply keeps its diacritics: {chat:?}");
    }
    Ok(())
}

fn zalo_location(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    load_places(w)?;
    let user = zalo_user(151);
    let r = w.zalo_exchange(&user, &location_event(&user, NEAR.0, NEAR.1))?;
    let all = r.folded();
    let first = all.find("kieu oanh").ok_or(format!("the nearest certified place is missing: {r:?}"))?;
    if let Some(next) = all.find("dai loc") {
        ensure!(first < next, "nearest first: {r:?}");
    }
    if let Some(uncertified) = all.find("oc hut co sau") {
        ensure!(first < uncertified, "certified places before the uncertified one next door: {r:?}");
    }
    Ok(())
}

/// The four events of a PA conversation on Zalo; the replies they got.
fn zalo_pa_events(w: &World, user: &str, at: (f64, f64)) -> Result<(Vec<Value>, Vec<Sent>), String> {
    let photo = format!("http://{}/zdn/jpg/{user}/1.jpg", w.standin.addr);
    let events = vec![
        text_event(user, "PA Rác thải đổ trộm thành đống cuối kiệt 45, bốc mùi hôi"),
        location_event(user, at.0, at.1),
        image_event(user, &photo),
        text_event(user, "GUI"),
    ];
    let mut replies = Vec::new();
    for e in &events {
        replies.push(w.zalo_exchange(user, e)?);
    }
    ensure!(fold(&replies[0].text).contains("vi tri"), "PA asks for the place: {:?}", replies[0]);
    let send_or_cancel: BTreeSet<String> = ["GUI", "HUY"].map(str::to_owned).into();
    for (i, r) in replies[1..3].iter().enumerate() {
        ensure!(r.payloads() == send_or_cancel, "step {}: Gửi/Hủy buttons: {r:?}", i + 2);
    }
    ensure!(replies[2].text.contains('1'), "the photo is counted: {:?}", replies[2]);
    Ok((events, replies))
}

fn zalo_pa(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    crate::reports::set_catalogue(w.reports)?;
    let user = zalo_user(161);
    let at = (15.9650, 108.2450);
    let (events, replies) = zalo_pa_events(w, &user, at)?;
    let code = report_code(&replies[3].text).ok_or(format!("GUI answers the report's code: {:?}", replies[3]))?;
    ensure!(replies[3].text.contains("Công ty Môi trường đô thị"), "the agency: {:?}", replies[3]);
    let v = report(w, &code)?;
    ensure!(v["agency"]["code"] == "moi-truong", "routed to moi-truong: {v}");
    ensure!(v["description"].as_str().is_some_and(|d| d.contains("Rác thải đổ trộm")), "description: {v}");
    ensure!(v["lat"] == at.0 && v["lng"] == at.1, "the shared place: {v}");
    ensure!(our_photos(w, &v, &[])? == 1, "one photo: {v}");
    for e in &events {
        let r = w.zalo_post(e)?;
        ensure!(r.status == 200 && r.json()?["duplicate"] == true, "a redelivered event: {}", text_of(&r));
    }
    menu_of("after the redelivery", &w.zalo_say(&user, "chào")?)?;
    let sent = w.standin.sent_to(&user);
    ensure!(sent.len() == 5, "4 replies and the menu, no more: {sent:?}");
    let photo = format!("/zdn/jpg/{user}/1.jpg");
    let fetched = w.standin.lock().cdn.iter().filter(|p| **p == photo).count();
    ensure!(fetched == 1, "the photo fetched once: {fetched}");
    let (lat, lng) = at;
    let bbox = format!("/reports?bbox={},{},{},{}", lng - 0.001, lat - 0.001, lng + 0.001, lat + 0.001);
    let list = get(&w.reports.addr, &bbox)?.json()?;
    ensure!(list["total"] == 1, "one report filed there: {list}");
    Ok(())
}

fn zalo_forged(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    let user = zalo_user(171);
    let event = text_event(&user, "ATTP phở");
    let body = event.to_string();
    let ts = event["timestamp"].as_str().unwrap_or_default();
    let forged = zalo_signature(ZALO_APP_ID, &body, ts, "not-the-oa-secret");
    is_problem(&w.post_zalo(&body, Some(&forged))?, 401).map_err(|e| format!("a forged signature: {e}"))?;
    is_problem(&w.post_zalo(&body, None)?, 401).map_err(|e| format!("no signature: {e}"))?;
    let right = zalo_signature(ZALO_APP_ID, &body, ts, ZALO_OA_SECRET);
    let tampered = body.replace("ATTP phở", "ATTP bún");
    is_problem(&w.post_zalo(&tampered, Some(&right))?, 401).map_err(|e| format!("a tampered body: {e}"))?;
    let mut other_app = event.clone();
    other_app["app_id"] = json!("1111111111111111111");
    let other = other_app.to_string();
    let sig = zalo_signature("1111111111111111111", &other, ts, ZALO_OA_SECRET);
    is_problem(&w.post_zalo(&other, Some(&sig))?, 401).map_err(|e| format!("another app's event: {e}"))?;
    menu_of("a genuine message after the forgeries", &w.zalo_say(&user, "xin chào")?)?;
    std::thread::sleep(Duration::from_millis(300));
    let sent = w.standin.sent_to(&user);
    ensure!(sent.len() == 1, "only the genuine message is answered: {sent:?}");
    Ok(())
}

fn zalo_stale(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    let user = zalo_user(181);
    for (what, offset) in [("10 minutes old", -600_000), ("10 minutes ahead", 600_000)] {
        let e =
            zalo_event_at(&user, "user_send_text", json!({"text": "xin chào", "msg_id": msg_id()}), now_ms() + offset);
        let r = w.zalo_post(&e)?;
        ensure!((400..500).contains(&r.status), "an event {what}: {}", text_of(&r));
    }
    menu_of("a fresh message after the stale ones", &w.zalo_say(&user, "xin chào")?)?;
    std::thread::sleep(Duration::from_millis(300));
    let sent = w.standin.sent_to(&user);
    ensure!(sent.len() == 1, "only the fresh message is answered: {sent:?}");
    Ok(())
}

fn zalo_replay(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    let user = zalo_user(191);
    let first = text_event(&user, "xin chào");
    w.zalo_exchange(&user, &first)?;
    let r = w.zalo_post(&first)?;
    ensure!(r.status == 200 && r.json()?["duplicate"] == true, "the same event again: {}", text_of(&r));
    let mut same_id = text_event(&user, "TT PA-241105-0001");
    same_id["message"]["msg_id"] = first["message"]["msg_id"].clone();
    let r = w.zalo_post(&same_id)?;
    ensure!(r.status == 200 && r.json()?["duplicate"] == true, "its msg_id with another text: {}", text_of(&r));
    w.zalo_say(&user, "chào bạn")?;
    std::thread::sleep(Duration::from_millis(300));
    let sent = w.standin.sent_to(&user);
    ensure!(sent.len() == 2, "two messages, two replies: {sent:?}");
    Ok(())
}

fn telegram_text(w: &World) -> Result<(), String> {
    load_places(w)?;
    let chat = tg_chat(1);
    let v = w.tg_say(chat, "ATTP hủ tiếu nam vang kiều oanh")?;
    let text = v["text"].as_str().unwrap_or_default();
    for want in ["Hủ tiếu Nam Vang Kiều Oanh", "88/2025/ATTP-CNĐK", "15/08/2097"] {
        ensure!(text.contains(want), "the reply lacks {want:?}: {v}");
    }
    let menu = w.tg_say(chat, "alo")?;
    let data: BTreeSet<String> = keyboard(&menu)?.into_iter().map(|(_, d)| d.trim().to_uppercase()).collect();
    ensure!(data == ["ATTP", "HS", "PA", "TT"].map(str::to_owned).into(), "the menu's 4 buttons: {menu}");
    Ok(())
}

fn telegram_tap(w: &World) -> Result<(), String> {
    crate::food::load_fixture(w.food)?;
    let chat = tg_chat(2);
    let list = w.tg_say(chat, "ATTP ba")?;
    let buttons = keyboard(&list)?;
    ensure!(buttons.len() >= 2, "several matches, several buttons: {list}");
    let id = format!("cbq-{}-{}", w.runtime, serial());
    let tap = tg_callback(chat, &id, &buttons[0].1);
    let v = w.tg_reply(chat, &tap)?;
    ensure!(v["text"] != list["text"], "the tap answers the place, not the list again: {v}");
    let name = fold(buttons[0].0.split([',', '(']).next().unwrap_or_default().trim());
    ensure!(fold(v["text"].as_str().unwrap_or_default()).contains(&name), "the tapped place {name:?}: {v}");
    let answered = w.standin.wait_for(REPLY_WAIT, |st| {
        st.telegram
            .iter()
            .any(|c| c.method == "answerCallbackQuery" && c.params.get("callback_query_id") == Some(&id))
            .then_some(())
    });
    ensure!(answered.is_some(), "answerCallbackQuery {id} at the stand-in: {:?}", w.standin.telegram_calls());
    Ok(())
}

fn telegram_wrong_secret(w: &World) -> Result<(), String> {
    let chat = tg_chat(3);
    let update = tg_message(chat, json!({"text": "ATTP phở"}));
    for secret in [Some("not-the-secret"), None, Some("")] {
        let r = w.tg_post(&update, secret)?;
        ensure!(r.status == 401, "secret {secret:?}: {}", text_of(&r));
        ensure!(!String::from_utf8_lossy(&r.body).contains("sendMessage"), "no reply: {}", text_of(&r));
    }
    w.tg_reply(chat, &update).map(|_| ())
}

fn telegram_repeat(w: &World) -> Result<(), String> {
    let chat = tg_chat(4);
    let update = tg_message(chat, json!({"text": "xin chào"}));
    w.tg_reply(chat, &update)?;
    let r = w.tg_post(&update, Some(TELEGRAM_SECRET))?;
    ensure!(r.status == 200 && r.json()?.get("method").is_none(), "a repeated update_id: {}", text_of(&r));
    let mut again = tg_message(chat, json!({"text": "ATTP phở"}));
    again["update_id"] = update["update_id"].clone();
    let r = w.tg_post(&again, Some(TELEGRAM_SECRET))?;
    ensure!(r.status == 200 && r.json()?.get("method").is_none(), "its update_id, another text: {}", text_of(&r));
    Ok(())
}

/// 32 messages from one Telegram chat under the default `rate_limit_chat_messages` (30 in
/// ten minutes): 30 answered, the 31st told when to write again, the 32nd taken (200) with
/// no reply; another chat is answered meanwhile.
fn telegram_burst(w: &World) -> Result<(), String> {
    let chat = tg_chat(9);
    for i in 0..30 {
        w.tg_say(chat, "xin chào").map_err(|e| format!("message {i}: {e}"))?;
    }
    let notice = w.tg_say(chat, "xin chào")?;
    let text = fold(notice["text"].as_str().unwrap_or_default());
    ensure!(text.contains("qua nhanh") && text.contains("thu lai sau"), "the one notice: {notice}");
    let r = w.tg_post(&tg_message(chat, json!({"text": "xin chào"})), Some(TELEGRAM_SECRET))?;
    ensure!(r.status == 200 && r.json()?.get("method").is_none(), "silence after the notice: {}", text_of(&r));
    w.tg_say(tg_chat(10), "xin chào").map_err(|e| format!("another chat: {e}"))?;
    Ok(())
}

fn telegram_pa(w: &World) -> Result<(), String> {
    crate::reports::set_catalogue(w.reports)?;
    let chat = tg_chat(5);
    let at = (16.0585, 108.2160);
    let mut texts = Vec::new();
    let ask = w.tg_say(chat, "PA Ổ gà sâu giữa đường Lê Lợi, xe máy dễ té")?;
    ensure!(fold(ask["text"].as_str().unwrap_or_default()).contains("vi tri"), "PA asks for the place: {ask}");
    let location = json!({"location": {"latitude": at.0, "longitude": at.1}});
    let photos = w.tg_reply(chat, &tg_message(chat, location))?;
    let choices: BTreeSet<String> = keyboard(&photos)?.into_iter().map(|(_, d)| d.to_uppercase()).collect();
    ensure!(choices == ["GUI", "HUY"].map(str::to_owned).into(), "Gửi/Hủy buttons: {photos}");
    let sizes = json!({"photo": [
        {"file_id": "AgACAgUAAxkBAAIBsmall", "file_unique_id": "AQADsmall", "file_size": 1200, "width": 90, "height": 60},
        {"file_id": "AgACAgUAAxkBAAIBlarge", "file_unique_id": "AQADlarge", "file_size": 9800, "width": 1280, "height": 853}]});
    let counted = w.tg_reply(chat, &tg_message(chat, sizes))?;
    ensure!(counted["text"].as_str().is_some_and(|t| t.contains('1')), "the photo is counted: {counted}");
    let calls = w.standin.telegram_calls();
    let got =
        calls.iter().find(|c| c.method == "getFile" && c.params.get("file_id").is_some_and(|f| f.contains("large")));
    ensure!(got.is_some(), "getFile of the largest size: {calls:?}");
    ensure!(calls.iter().any(|c| c.method == "file"), "the file downloaded: {calls:?}");
    let filed = w.tg_say(chat, "gửi")?;
    let text = filed["text"].as_str().unwrap_or_default();
    let code = report_code(text).ok_or(format!("the report's code: {filed}"))?;
    let v = report(w, &code)?;
    ensure!(v["agency"]["code"] == "ubnd-hai-chau", "a pothole in Hải Châu: {v}");
    let secret = TELEGRAM_TOKEN.split_once(':').map_or(TELEGRAM_TOKEN, |(_, s)| s);
    ensure!(our_photos(w, &v, &[secret, "api.telegram.org", "/file/bot"])? == 1, "one photo: {v}");
    texts.extend([ask.to_string(), photos.to_string(), counted.to_string(), filed.to_string(), v.to_string()]);
    for t in &texts {
        ensure!(!t.contains(secret), "the bot token in {t}");
    }
    Ok(())
}

/// Moves a report to `in_progress` as an officer of its agency.
fn take_up(w: &World, code: &str) -> Result<(), String> {
    let agency = report(w, code)?["agency"]["code"].as_str().unwrap_or_default().to_owned();
    let auth = crate::harness::bearer_with(&json!({"roles": ["officer"], "agency": agency}));
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let r = request(&w.reports.addr, "PATCH", &format!("/reports/{code}"), &headers, br#"{"status": "in_progress"}"#)?;
    ensure!(r.status == 200, "PATCH {code}: {}", text_of(&r));
    Ok(())
}

/// Ticks report-submission until `done` holds (at most 20 s: deliveries retry a second apart).
fn ticked_until(w: &World, what: &str, done: impl Fn() -> bool) -> Result<(), String> {
    for _ in 0..80 {
        if done() {
            return Ok(());
        }
        crate::notify::tick(w.reports, "/reports")?;
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!("{what}: not within 20 s of ticks"))
}

/// Reports filed on Zalo and on Telegram: when an officer takes each up, its reporter hears
/// it in the same chat (report-submission's outbox, through chat's POST /chat/send: Zalo's
/// message/cs within the 48 hours, Telegram's sendMessage), in Vietnamese with diacritics.
fn reporters_hear_each_step(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    crate::reports::set_catalogue(w.reports)?;
    let user = zalo_user(171);
    let (_, replies) = zalo_pa_events(w, &user, (15.9660, 108.2460))?;
    let code = report_code(&replies[3].text).ok_or(format!("GUI answers the report's code: {:?}", replies[3]))?;
    take_up(w, &code)?;
    let heard =
        || w.standin.sent_to(&user).iter().any(|m| m.text.contains(&code) && m.text.contains("đang được xử lý"));
    ticked_until(w, "the Zalo reporter hears it", heard)?;

    let chat = tg_chat(171);
    w.tg_say(chat, "PA Rác thải đổ trộm cuối kiệt 12, bốc mùi")?;
    w.tg_reply(chat, &tg_message(chat, json!({"location": {"latitude": 15.9670, "longitude": 108.2470}})))?;
    let filed = w.tg_say(chat, "gửi")?;
    let code = report_code(filed["text"].as_str().unwrap_or_default()).ok_or(format!("the code: {filed}"))?;
    take_up(w, &code)?;
    let heard = || {
        w.standin.telegram_calls().iter().any(|c| {
            c.method == "sendMessage"
                && c.params.get("chat_id").is_some_and(|id| *id == chat.to_string())
                && c.params.get("text").is_some_and(|t| t.contains(&code) && t.contains("đang được xử lý"))
        })
    };
    ticked_until(w, "the Telegram reporter hears it", heard)
}

fn latency(w: &World) -> Result<(), String> {
    let _ = w.zalo_gate();
    load_places(w)?;
    let code = dossier_code(31);
    push_dossier(w, &code)?;
    let report = file_report(w, 15.9720, 108.2520)?;
    let commands =
        ["xin chào".to_owned(), "ATTP hủ tiếu nam vang kiều oanh".into(), format!("HS {code}"), format!("TT {report}")];
    let (user, chat) = (zalo_user(901), tg_chat(901));
    let (mut zalo, mut telegram) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        for c in &commands {
            let start = now();
            let sent = w.zalo_say(&user, c)?;
            zalo.push(sent.at.saturating_duration_since(start));
            let start = now();
            w.tg_say(chat, c)?;
            telegram.push(now().saturating_duration_since(start));
        }
    }
    let (z, t) = (summary(&zalo).unwrap_or_default(), summary(&telegram).unwrap_or_default());
    eprintln!("chat reply latency on {}: zalo (webhook POST to the reply at the stand-in) {z}", w.runtime);
    eprintln!("chat reply latency on {}: telegram (webhook round trip, reply in the response) {t}", w.runtime);
    Ok(())
}

/// The same Telegram updates to both runtimes' chat give the same answers.
fn same_answers(spin: &Server, workers: &Server) -> Result<(), String> {
    let chat = tg_chat(990);
    let updates = [
        tg_message(chat, json!({"text": "xin chào"})),
        tg_message(chat, json!({"text": "PA Cây đổ chắn ngang đường"})),
        tg_message(chat, json!({"text": "HUY"})),
        tg_message(chat, json!({"text": "HS 12345"})),
    ];
    let post = |s: &Server, u: &Value, secret: &str| {
        let headers = [("content-type", "application/json"), ("x-telegram-bot-api-secret-token", secret)];
        request(&s.addr, "POST", "/chat/telegram", &headers, u.to_string().as_bytes())
    };
    for u in &updates {
        let what = format!("update {}", u["message"]["text"]);
        crate::harness::same(&what, &post(spin, u, TELEGRAM_SECRET)?, &post(workers, u, TELEGRAM_SECRET)?)?;
    }
    let forged = tg_message(chat, json!({"text": "xin chào"}));
    crate::harness::same("a wrong secret", &post(spin, &forged, "nope")?, &post(workers, &forged, "nope")?)?;
    Ok(())
}
