//! A platform whose `fetch` answers for the other functions and for Zalo, checking what it
//! receives; everything else is the native adapter.

use std::sync::Mutex;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use civic::command::{Command, Reply};
use civic::platform::native::NativePlatform;
use civic::platform::{DbError, FetchError, Platform, Rows, Statement, Value};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

pub const INTERNAL: &str = "test-internal-secret";
pub const APP_ID: &str = "4500000000000000001";
pub const OA_SECRET: &str = "test-oa-secret";

pub struct StandIn {
    pub native: NativePlatform,
    /// Commands received, by the component they were sent to.
    pub commands: Mutex<Vec<(String, Command)>>,
    /// Zalo messages sent: (user_id, text, button payloads).
    pub zalo: Mutex<Vec<(String, String, Vec<String>)>>,
    pub photos_stored: Mutex<usize>,
    pub reports_filed: Mutex<Vec<String>>,
    /// The next statement whose SQL holds this text fails (once), as a database error would.
    pub fail_once: Mutex<Option<&'static str>>,
}

impl StandIn {
    pub fn new() -> StandIn {
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let native = NativePlatform::in_memory_migrated(&["chat"], &migrations)
            .expect("chat migrations")
            .with_config("internal_secret", INTERNAL)
            .with_config("zalo_app_id", APP_ID)
            .with_config("zalo_oa_secret_key", OA_SECRET)
            .with_config("zalo_app_secret_key", "app-secret")
            .with_config("zalo_refresh_token", "r0")
            .with_config("zalo_api_base", "http://zalo.test")
            .with_config("zalo_oauth_base", "http://oauth.zalo.test");
        StandIn {
            native,
            commands: Mutex::new(Vec::new()),
            zalo: Mutex::new(Vec::new()),
            photos_stored: Mutex::new(0),
            reports_filed: Mutex::new(Vec::new()),
            fail_once: Mutex::new(None),
        }
    }

    pub fn sent(&self) -> Vec<(String, String, Vec<String>)> {
        self.zalo.lock().unwrap().clone()
    }

    fn command(&self, component: &str, body: &[u8], signature: &str) -> Result<Reply, String> {
        let want = hex::encode(hmac_sha256(INTERNAL.as_bytes(), body));
        if want != signature {
            return Err(format!("{component}: bad X-Signature"));
        }
        let cmd: Command = serde_json::from_slice(body).map_err(|e| format!("{component}: {e}"))?;
        self.commands.lock().unwrap().push((component.to_owned(), cmd.clone()));
        let (keyword, rest) = civic::sms::keyword(&cmd.text);
        Ok(match (component, keyword.as_str()) {
            ("report-submission", "pa") => {
                let key = cmd.id.clone().unwrap_or_default();
                let mut filed = self.reports_filed.lock().unwrap();
                if !filed.contains(&key) {
                    filed.push(key);
                }
                let place =
                    cmd.location.map_or(cmd.address.clone().unwrap_or_default(), |l| format!("{},{}", l.lat, l.lng));
                Reply::text(format!("Đã nhận phản ánh PA-241105-0001 ({rest}; {place}; {} ảnh)", cmd.media.len()))
            }
            ("food-safety", _) if cmd.location.is_some() => Reply::text("Gần bạn: Phở Bà Hoa (120 m)"),
            ("food-safety", _) => Reply::text("2 cơ sở khớp").with_choices(vec![
                civic::command::Choice::new("Phở Bà Hoa, 12 Trần Phú", "ATTP #DN-1"),
                civic::command::Choice::new("Phở Bà Hoa, 3 Lê Lợi", "ATTP #DN-2"),
            ]),
            (other, _) => Reply::text(format!("{other}: {}", cmd.text)),
        })
    }
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC by its definition (RFC 2104), independent of the crate under test.
    let mut k = if key.len() > 64 { Sha256::digest(key).to_vec() } else { key.to_vec() };
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new().chain_update(&ipad).chain_update(msg).finalize();
    Sha256::new().chain_update(&opad).chain_update(inner).finalize().to_vec()
}

fn respond(status: u16, body: Json) -> Result<http::Response<Bytes>, FetchError> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .map_err(|e| FetchError(e.to_string()))
}

impl Platform for StandIn {
    async fn query(&self, db: &str, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.native.query(db, sql, params).await
    }
    async fn execute(&self, db: &str, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let failing = {
            let mut fail = self.fail_once.lock().unwrap();
            fail.is_some_and(|text| sql.contains(text)) && fail.take().is_some()
        };
        if failing {
            return Err(DbError("database is locked".into()));
        }
        self.native.execute(db, sql, params).await
    }
    async fn batch(&self, db: &str, statements: &[Statement]) -> Result<Vec<Rows>, DbError> {
        self.native.batch(db, statements).await
    }
    fn config(&self, key: &str) -> Option<String> {
        self.native.config(key)
    }
    fn now(&self) -> DateTime<Utc> {
        self.native.now()
    }
    fn random_bytes(&self, buf: &mut [u8]) {
        self.native.random_bytes(buf);
    }
    async fn fetch(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, FetchError> {
        let uri = request.uri().clone();
        let signature = request.headers().get("x-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        match (uri.host().unwrap_or(""), uri.path()) {
            ("report-submission.spin.internal", "/reports/media") => {
                let want = hex::encode(hmac_sha256(INTERNAL.as_bytes(), request.body()));
                let user = request.headers().get("x-channel-user").and_then(|v| v.to_str().ok()).unwrap_or("");
                if want != signature || !user.starts_with("zalo:") {
                    return respond(401, json!({"title": "bad signature"}));
                }
                *self.photos_stored.lock().unwrap() += 1;
                respond(201, json!({"id": "m1", "url": "https://api.test/reports/media/m1"}))
            }
            (host, _) if host.ends_with(".spin.internal") => {
                let component = host.trim_end_matches(".spin.internal");
                match self.command(component, request.body(), &signature) {
                    Ok(reply) => respond(200, serde_json::to_value(reply).unwrap()),
                    Err(e) => respond(401, json!({"title": e})),
                }
            }
            ("oauth.zalo.test", "/v4/oa/access_token") => {
                let form = String::from_utf8_lossy(request.body()).into_owned();
                if request.headers().get("secret_key").map(|v| v.as_bytes()) != Some(b"app-secret")
                    || !form.contains("refresh_token=r0")
                {
                    return respond(200, json!({"error": -14014, "error_description": "invalid"}));
                }
                respond(200, json!({"access_token": "a1", "refresh_token": "r1", "expires_in": "90000"}))
            }
            ("zalo.test", "/v3.0/oa/message/cs") => {
                if request.headers().get("access_token").map(|v| v.as_bytes()) != Some(b"a1") {
                    return respond(200, json!({"error": -216, "message": "Access token is invalid"}));
                }
                let m: Json = serde_json::from_slice(request.body()).map_err(|e| FetchError(e.to_string()))?;
                let user = m["recipient"]["user_id"].as_str().unwrap_or("").to_owned();
                let text = m["message"]["text"].as_str().unwrap_or("").to_owned();
                let buttons = m["message"]["attachment"]["payload"]["buttons"]
                    .as_array()
                    .map(|b| b.iter().map(|b| b["payload"].as_str().unwrap_or("").to_owned()).collect())
                    .unwrap_or_default();
                self.zalo.lock().unwrap().push((user, text, buttons));
                respond(200, json!({"error": 0, "message": "Success", "data": {"message_id": "x"}}))
            }
            ("photo.zdn.test", _) => http::Response::builder()
                .status(200)
                .header("content-type", "image/jpeg")
                .body(Bytes::from_static(b"\xff\xd8\xff\xe0jpeg"))
                .map_err(|e| FetchError(e.to_string())),
            (host, path) => Err(FetchError(format!("no stand-in for {host}{path}"))),
        }
    }
}

/// A Zalo event signed the way Zalo signs (SHA-256 of app id, body, timestamp, OA secret).
pub fn zalo_event(env: &StandIn, user: &str, msg_id: &str, event_name: &str, message: Json) -> http::Request<Bytes> {
    let ts = env.now().timestamp_millis().to_string();
    let mut message = message;
    message["msg_id"] = json!(msg_id);
    let body = json!({
        "app_id": APP_ID, "sender": {"id": user}, "recipient": {"id": "1000000000000000009"},
        "event_name": event_name, "message": message, "timestamp": ts, "user_id_by_app": "55"
    })
    .to_string();
    let digest =
        Sha256::new().chain_update(APP_ID).chain_update(&body).chain_update(&ts).chain_update(OA_SECRET).finalize();
    http::Request::post("/chat/zalo")
        .header("x-zevent-signature", format!("mac={}", hex::encode(digest)))
        .body(Bytes::from(body))
        .unwrap()
}
