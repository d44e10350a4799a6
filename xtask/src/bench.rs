//! `cargo xtask bench`: the project's figures in one run, printed and written into
//! BENCHMARKS.md (between the `xtask bench` markers, with the machine and the date). A
//! measurement, never a test: nothing here passes or fails on a figure.
//!
//! 1. Artifact sizes, raw and gzipped, both targets (the build fails over the size budget).
//! 2. What a request costs before it does any work ([`crate::floor`]: `wrk` at one connection
//!    against a plain spin-sdk hello component and each function's trivial route on the local
//!    host), and the host's start with an empty and with a filled compilation cache.
//! 3. Database round trips per route ([`crate::trips`]: every route once, natively, through
//!    the instrumented adapter `civic::platform::counted::Counted`), with what they would
//!    cost in production at the stated D1 round-trip times ([`RTT_MS`]).
//! 4. The local host's cold start (every component compiled, databases migrated) and each
//!    function's first response.
//! 5. Load over HTTP on 127.0.0.1 against the local host (every route of `cargo xtask load`,
//!    the search over 100,000 establishments, the IPN storm).
//! 6. The same request handled natively (the handler in-process on `NativePlatform`, over the
//!    same database files) and through the local host (HTTP, a fresh Wasm instance per
//!    request): p50 of each and their ratio, for the food-safety search, the permit lookup, a
//!    report filed and a VNPay IPN. (After the load: the reports filed here would slow its
//!    report lists.)
//! 7. Load against miniflare 4 for each function's Workers build, on the demo data (and the
//!    food rows).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use civic::platform::native::{NativePlatform, block_on};

use crate::load::{self, Host};
use crate::{FUNCTIONS, build, root};

const BEGIN: &str = "<!-- xtask bench: begin (generated; edit xtask/src/bench.rs instead) -->";
const END: &str = "<!-- xtask bench: end -->";

/// Requests per side for each native/host pair.
const PAIRS: usize = 400;

/// The D1 round-trip times the production model of section 3 adds per round trip, in
/// milliseconds, with what each stands for. Not measured here (this machine has no network):
/// without read replication every D1 query goes to the database's primary, in one location
/// (Cloudflare's D1 docs, "Global read replication" and "Data location"). For a Da Nang
/// deployment the primary sits in the `apac` location; a Worker placed next to it (Smart
/// Placement) pays about a millisecond per round trip inside the data centre, one serving
/// from a Vietnamese point of presence pays the network round trip to the primary's region
/// (about 35 ms for Da Nang to Singapore). Replace them with the deployment's own figures:
/// the Worker's wall time minus D1's `queryBatchTimeMs`, per query.
pub const RTT_MS: [(f64, &str); 2] =
    [(1.0, "Worker next to the primary (Smart Placement)"), (35.0, "Worker in Viet Nam, primary in apac")];

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()))
        .map_or_else(String::new, |k| format!(", {} GiB RAM", k / 1024 / 1024));
    format!("{cores} cores ({cpu}){mem}")
}

/// The native side: the demo data's files, with the demo configuration and the rate limits
/// raised (a load run, and the round-trip table of [`crate::trips`]).
pub(crate) fn native(data: &Path) -> Result<NativePlatform> {
    let labels: Vec<&str> = {
        let mut l: Vec<&str> = FUNCTIONS.iter().flat_map(|f| f.dbs.iter().copied()).collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    let mut env = NativePlatform::open_dir(data, &labels, &root().join("migrations"))
        .map_err(|e| anyhow::anyhow!("opening {}: {e}", data.display()))?;
    for (k, v) in load::unlimited_settings()? {
        env = env.with_config(&k, &v);
    }
    Ok(env)
}

struct Pair {
    name: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

fn request(pair: &Pair) -> Result<http::Request<Bytes>> {
    let mut req = http::Request::builder().method(pair.method).uri(&pair.path);
    for (k, v) in &pair.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    Ok(req.body(Bytes::from(pair.body.clone()))?)
}

/// Calls the function that serves `path` in-process, `n` times: sorted latencies in µs.
fn native_run(env: &NativePlatform, pair: &Pair, n: usize) -> Result<Vec<u64>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let req = request(pair)?;
        let t = Instant::now();
        let resp = match pair.path.split('/').nth(1).unwrap_or("") {
            "food-safety" => block_on(food_safety::handle(req, env)),
            "permits" => block_on(permit_status::handle(req, env)),
            "payments" => block_on(payment_callback::handle(req, env)),
            "reports" | "open311" => block_on(report_submission::handle(req, env)),
            other => bail!("no function serves /{other}"),
        };
        out.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
        if !resp.status().is_success() {
            bail!("{} natively: {} {}", pair.name, resp.status(), String::from_utf8_lossy(resp.body()));
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn pairs(addr: &str) -> Result<Vec<Pair>> {
    let today = civic::web::vn_today(chrono::Utc::now());
    let citizen = crate::up::demo_token(&["citizen"])?;
    let dossiers = crate::demo::permits::dossiers(crate::demo::permits::COUNT, today);
    let code = dossiers.first().map(|d| d.code.clone()).context("no demo dossier")?;
    // an order paid once: its IPN then takes the duplicate path on both sides
    let mut ipn = None;
    for (i, d) in dossiers.iter().filter(|d| d.fee_vnd > 0 && !d.paid).enumerate() {
        if let Some(path) = load::paid_ipn(addr, &citizen, &d.code, 500 + i)? {
            load::sequential(addr, "GET", &path, &[], b"", 1)?;
            ipn = Some(path);
            break;
        }
    }
    let category = crate::demo::reports::catalogue()["categories"][0]["code"].as_str().unwrap_or("other").to_owned();
    let report =
        serde_json::json!({"category": category, "description": "Ổ gà lớn trước số 12 Trần Phú (đo hiệu năng)",
        "lat": 16.0719, "lng": 108.2203, "phone": "0905123456"})
        .to_string();
    Ok(vec![
        // The trivial route: the host's own cost per request (HTTP, a fresh instance, WASI).
        Pair {
            name: "trivial: permits health (1 COUNT of 300 rows)",
            method: "GET",
            path: "/permits/health".into(),
            headers: Vec::new(),
            body: String::new(),
        },
        Pair {
            name: "food-safety search",
            method: "GET",
            path: "/food-safety/establishments?q=pho+ba+hao&limit=10".into(),
            headers: Vec::new(),
            body: String::new(),
        },
        Pair {
            name: "permit lookup",
            method: "GET",
            path: format!("/permits/{code}"),
            headers: Vec::new(),
            body: String::new(),
        },
        Pair {
            name: "report filed",
            method: "POST",
            path: "/reports".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: report,
        },
        Pair {
            name: "VNPay IPN (repeat)",
            method: "GET",
            path: ipn.context("no demo dossier left to order")?,
            headers: Vec::new(),
            body: String::new(),
        },
    ])
}

/// What `cargo xtask bench` was asked for.
struct Options {
    /// Requests per line of the load tables.
    requests: usize,
    /// Demo establishments imported before the food-safety search is measured.
    food_rows: usize,
    miniflare: bool,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options { requests: 1_000, food_rows: 100_000, miniflare: true };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--requests" => o.requests = it.next().and_then(|v| v.parse().ok()).context("--requests needs a number")?,
            "--food-rows" => {
                o.food_rows = it.next().and_then(|v| v.parse().ok()).context("--food-rows needs a number")?;
            }
            "--no-miniflare" => o.miniflare = false,
            other => bail!("unknown option {other} (bench [--requests N] [--food-rows N] [--no-miniflare])"),
        }
    }
    Ok(o)
}

/// `cargo xtask bench [--requests N] [--food-rows N] [--no-miniflare]`: the sections of the
/// module header, in order, into BENCHMARKS.md.
pub fn run(args: &[String]) -> Result<()> {
    let o = options(args)?;
    let mut md = String::new();
    let date = chrono::Utc::now().format("%Y-%m-%d");
    writeln!(md, "Generated by `cargo xtask bench` on {date}: {}.\n", machine())?;
    sizes(&mut md)?;

    println!("== local host");
    let data = std::env::temp_dir().join(format!("civic-bench-{}", std::process::id()));
    crate::up::migrate(&["--data".into(), data.display().to_string(), "--demo".into()])?;
    let result =
        floor(&mut md, &data).and_then(|()| round_trips(&mut md)).and_then(|()| on_local_host(&mut md, &data, &o));
    let _ = std::fs::remove_dir_all(&data);
    result?;

    if o.miniflare {
        for f in FUNCTIONS {
            on_miniflare(&mut md, f, &o)?;
        }
    }
    write_benchmarks(&md)
}

/// Section 1: each artifact's size, raw and gzipped.
fn sizes(md: &mut String) -> Result<()> {
    println!("== sizes");
    let artifacts = build::all()?;
    writeln!(md, "### Artifact sizes\n\n| function | target | raw | gzip |\n|---|---|---|---|")?;
    for (name, path) in &artifacts {
        let (raw, gz) = build::sizes(path)?;
        let (function, target) = name.split_once('/').unwrap_or((name, ""));
        writeln!(md, "| {function} | {target} | {:.0} KiB | {:.0} KiB |", kib(raw), kib(gz))?;
    }
    Ok(())
}

/// Section 2: the per-request floor and the start with and without the compilation cache.
fn floor(md: &mut String, data: &Path) -> Result<()> {
    println!("== what a request costs before any work (wrk)");
    let found = crate::floor::measure(data, 10)?;
    writeln!(md, "\n### What a request costs before it does any work\n")?;
    writeln!(
        md,
        "`wrk -t1 -c1 -d10s --latency` on this machine against the local host (debug build, as `cargo xtask up` \
         runs it): a plain spin-sdk hello component, and each function's trivial route. {}\n",
        found.start
    )?;
    if found.rows.is_empty() {
        writeln!(md, "(wrk is not installed: `apt-get install wrk`.)")?;
        return Ok(());
    }
    for l in crate::floor::HEADER.iter().map(|h| (*h).to_owned()).chain(found.rows) {
        writeln!(md, "{l}")?;
    }
    Ok(())
}

/// Section 3: database round trips per route, and the production model.
fn round_trips(md: &mut String) -> Result<()> {
    println!("== round trips per route");
    let rows = crate::trips::table()?;
    writeln!(md, "\n### Database round trips per route\n")?;
    writeln!(
        md,
        "Every route once, natively, on the demo data, through `civic::platform::counted::Counted` (a `batch` is one \
         round trip, as on D1). `native` is the handler's time in-process on embedded SQLite.\n"
    )?;
    for l in crate::trips::markdown(&rows) {
        writeln!(md, "{l}")?;
    }
    writeln!(
        md,
        "\nIn production each round trip is a network exchange with the database. The model: native time plus round \
         trips × the D1 round-trip time (see `RTT_MS` in xtask/src/bench.rs for the source and what to replace \
         it with).\n"
    )?;
    let heads: Vec<String> = RTT_MS.iter().map(|(ms, what)| format!("{what}: +{ms} ms each")).collect();
    writeln!(md, "| route | read | round trips | {} |", heads.join(" | "))?;
    writeln!(md, "|---|---|---|{}", "---|".repeat(RTT_MS.len()))?;
    for r in &rows {
        #[allow(clippy::cast_precision_loss)]
        let local_ms = r.micros as f64 / 1e3;
        #[allow(clippy::cast_precision_loss)]
        let cost: Vec<String> =
            RTT_MS.iter().map(|(ms, _)| format!("{:.1} ms", local_ms + r.trips as f64 * ms)).collect();
        let read = if r.read { "read" } else { "write" };
        writeln!(md, "| {} {} | {read} | {} | {} |", r.function, r.name, r.trips, cost.join(" | "))?;
    }
    Ok(())
}

/// Sections 4 to 6, on the local host serving the demo data in `data`.
fn on_local_host(md: &mut String, data: &Path, o: &Options) -> Result<()> {
    // an empty compilation cache of its own, so the start below compiles every component
    let cache = data.join("cold-cache");
    let host = Host::start_with(data, &["--cache", &cache.display().to_string()], &load::unlimited_env()?)?;
    cold_start(md, &host)?;
    load::seed_food(&host.addr, o.food_rows)?;
    println!("== load on the local host");
    let lines = load::report(&host.addr, o.requests, &[1, 4], "", true)?;
    writeln!(md, "\n### Load over HTTP: local host ({} requests per line, latencies in µs)\n\n```", o.requests)?;
    for l in lines {
        writeln!(md, "{l}")?;
    }
    writeln!(md, "```")?;
    native_and_host(md, &host, data, o.food_rows)
}

/// Section 4: start to listening, and each function's compile time and first response.
fn cold_start(md: &mut String, host: &Host) -> Result<()> {
    writeln!(md, "\n### Local host: cold start\n")?;
    writeln!(
        md,
        "Start to listening (every component compiled, an empty compilation cache, databases migrated): {:.2} s. \
         First response of each function:\n",
        host.ready_in.as_secs_f64()
    )?;
    writeln!(
        md,
        "| function | compile (Cranelift, at start) | first response (`/health`) | cold start |\n|---|---|---|---|"
    )?;
    for f in FUNCTIONS {
        let path = format!("{}/health", f.base);
        let compile_ms = host.compiled.iter().find(|(id, _)| id == f.name).map_or(f64::NAN, |(_, ms)| *ms);
        let (status, _, took) = load::once(&host.addr, "GET", &path, &[], b"")?;
        let first_ms = took.as_secs_f64() * 1e3;
        println!("{} compiled in {compile_ms:.0} ms, first response {status} in {first_ms:.2} ms", f.name);
        writeln!(md, "| {} | {compile_ms:.0} ms | {first_ms:.2} ms | {:.0} ms |", f.name, compile_ms + first_ms)?;
    }
    Ok(())
}

/// Section 6: the same requests natively and through the host.
fn native_and_host(md: &mut String, host: &Host, data: &Path, rows: usize) -> Result<()> {
    println!("== native and through the host");
    let env = native(data)?;
    writeln!(md, "\n### The same request natively and through the local host\n")?;
    writeln!(
        md,
        "p50 of {PAIRS} sequential requests each, on one keep-alive connection; natively the handler runs in-process \
         on `NativePlatform` over the same database files ({rows} establishments). `host − native` is what the \
         local host adds to a request: HTTP, a fresh Wasm instance, the calls across WASI.\n"
    )?;
    writeln!(md, "| route | native p50 | local host p50 | host / native | host − native |\n|---|---|---|---|---|")?;
    for pair in pairs(&host.addr)? {
        let nat = native_run(&env, &pair, PAIRS)?;
        let wasm = load::sequential(&host.addr, pair.method, &pair.path, &pair.headers, pair.body.as_bytes(), PAIRS)?;
        let (a, b) = (load::p(&nat, 0.5), load::p(&wasm, 0.5));
        #[allow(clippy::cast_precision_loss)]
        let ratio = b as f64 / a.max(1) as f64;
        println!("{}: native {a} us, host {b} us, x{ratio:.1}", pair.name);
        writeln!(md, "| {} | {a} µs | {b} µs | {ratio:.1}× | {} µs |", pair.name, b.saturating_sub(a))?;
    }
    Ok(())
}

/// Section 7 for one function: its Workers build on miniflare 4, on the demo data (and the
/// food rows).
fn on_miniflare(md: &mut String, f: &crate::Function, o: &Options) -> Result<()> {
    let (n, rows) = (o.requests, o.food_rows);
    println!("== load on miniflare ({})", f.name);
    let persist = std::env::temp_dir().join(format!("civic-bench-mf-{}-{}", f.name, std::process::id()));
    let (mut child, addr) = load::start_miniflare_with_trivial(f, &persist)?;
    let seeded = if f.name == "food-safety" { load::seed_food(&addr, rows) } else { Ok(()) };
    let trivial = !f.dbs.iter().any(|d| ["permits", "payments"].contains(d)) || f.base == "/permits";
    let result = seeded.and_then(|()| load::report(&addr, n, &[1, 4], f.base, trivial));
    load::stop_group(&mut child);
    let _ = std::fs::remove_dir_all(&persist);
    let data = if f.name == "food-safety" {
        format!("the demo data and {rows} demo establishments")
    } else {
        "the demo data".to_owned()
    };
    writeln!(
        md,
        "\n### Load over HTTP: {}'s Workers build on miniflare 4, {data} ({n} requests per line, latencies in µs)\n\n```",
        f.name
    )?;
    for l in result? {
        writeln!(md, "{l}")?;
    }
    writeln!(md, "```")?;
    Ok(())
}

/// Writes `md` into BENCHMARKS.md between the markers (or appends a section with them).
fn write_benchmarks(md: &str) -> Result<()> {
    let path = root().join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = format!("{BEGIN}\n{md}{END}");
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(a), Some(b)) if b > a => format!("{}{generated}{}", &old[..a], &old[b + END.len()..]),
        _ => format!("{old}\n## Figures of the last `cargo xtask bench`\n\n{generated}\n"),
    };
    std::fs::write(&path, new)?;
    println!("\nwritten into {}", path.display());
    Ok(())
}

#[allow(clippy::cast_precision_loss)]
fn kib(n: usize) -> f64 {
    n as f64 / 1024.0
}
