//! What a request costs before it does any work: the per-request floor of the local host.
//!
//! [`measure`] starts `target/debug/civic-host` twice on the repo's `spin.toml` with an empty
//! compilation cache of its own (the cold start compiles every component, the warm one loads
//! them from the cache), then serves a plain spin-sdk hello component (`host/hello`, built here
//! for `wasm32-wasip2` if needed) and the repo's functions, and runs `wrk` at one connection
//! against the hello and each function's trivial route. `wrk` is not installed by xtask: when
//! it is missing, the table is left out and a line says so. Figures only, nothing asserted.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::build::target_dir;
use crate::root;

/// The trivial route of each function (food-safety's counts every place: not trivial at
/// 100,000 places, listed for comparison).
pub const ROUTES: &[&str] =
    &["/permits/health", "/reports/health", "/payments/health", "/chat/health", "/food-safety/health"];

/// The markdown table's header lines, matching the rows of [`Floor::rows`].
pub const HEADER: [&str; 2] = ["| route | p50 | p99 | requests/s | p50 / hello p50 |", "|---|---|---|---|---|"];

/// What [`measure`] found.
#[derive(Debug, Clone, Default)]
pub struct Floor {
    /// Markdown table rows under [`HEADER`]: `| /hello (spin-sdk hello) | 0.55 ms | 0.98 ms |
    /// 1712 | 1.00 |`, the hello first; empty when `wrk` is missing.
    pub rows: Vec<String>,
    /// `Local host start to listening (5 components): cold 8.37 s (compiled), warm 0.37 s (from
    /// the compilation cache)`.
    pub start: String,
}

/// One `wrk --latency` run: p50 and p99 in ms, requests per second.
#[derive(Debug, Clone, Copy)]
struct Figures {
    p50_ms: f64,
    p99_ms: f64,
    rps: f64,
}

/// Measures the floor on the local host: `data` holds the migrated databases (`cargo xtask
/// migrate --data DIR --demo`), `seconds` is the length of each `wrk` run (10 in the issue's
/// figures). Needs `cargo xtask build` (the Spin components) and the debug host
/// (`cargo build --workspace --bins`); builds the hello component itself.
///
/// # Errors
/// A host that does not start, a component missing, or the hello that does not build.
pub fn measure(data: &Path, seconds: u32) -> Result<Floor> {
    let host = target_dir().join("debug/civic-host");
    if !host.exists() {
        bail!("{} is missing: run `cargo build --workspace --bins`", host.display());
    }
    let scratch = Scratch::new()?;
    let cache = scratch.path().join("cache");
    let cache_arg = cache.to_string_lossy().into_owned();
    let app = ["--manifest", "spin.toml", "--runtime-config", "runtime-config.toml"];

    let cold = Server::start(&host, &app, data, &cache_arg)?;
    let (cold_in, cold_n) = (cold.ready_in, cold.components);
    drop(cold);
    let warm = Server::start(&host, &app, data, &cache_arg)?;
    let start = format!(
        "Local host start to listening ({cold_n} components): cold {:.2} s (compiled), warm {:.2} s (from the \
         compilation cache)",
        cold_in.as_secs_f64(),
        warm.ready_in.as_secs_f64()
    );
    println!("{start}");

    if Command::new("wrk").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        println!("wrk is not installed (Debian: apt-get install wrk): the per-request floor is not measured");
        return Ok(Floor { rows: Vec::new(), start });
    }

    let manifest = hello_manifest(scratch.path())?;
    let manifest_arg = manifest.to_string_lossy().into_owned();
    let hello_host =
        Server::start(&host, &["--manifest", &manifest_arg], &scratch.path().join("hello-data"), &cache_arg)?;
    let hello = wrk(&hello_host.url("/hello"), seconds)?;
    drop(hello_host);
    let mut rows = vec![row("/hello (spin-sdk hello)", hello, hello)];
    for route in ROUTES {
        let f = wrk(&warm.url(route), seconds)?;
        rows.push(row(route, f, hello));
    }
    for r in &rows {
        println!("{r}");
    }
    Ok(Floor { rows, start })
}

fn row(route: &str, f: Figures, hello: Figures) -> String {
    format!("| {route} | {:.2} ms | {:.2} ms | {:.0} | {:.2} |", f.p50_ms, f.p99_ms, f.rps, f.p50_ms / hello.p50_ms)
}

/// Builds the hello component and writes a manifest serving it on `/hello` into `dir`
/// (`host/hello/spin.toml`'s, with the artifact's absolute path).
fn hello_manifest(dir: &Path) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(root())
        .args(["build", "--release", "--target", "wasm32-wasip2", "-p", "civic-host-hello"])
        .args(["--config", "profile.release.strip=true"])
        .status()
        .context("building the hello component")?;
    if !status.success() {
        bail!("building the hello component failed: {status}");
    }
    let wasm = target_dir().join("wasm32-wasip2/release/civic_host_hello.wasm");
    let text = std::fs::read_to_string(root().join("host/hello/spin.toml"))?;
    let text = text.replace("../../target/wasm32-wasip2/release/civic_host_hello.wasm", &wasm.to_string_lossy());
    let manifest = dir.join("hello.toml");
    std::fs::write(&manifest, text)?;
    Ok(manifest)
}

/// A directory of its own under the system's temporary directory, removed when dropped: the
/// compilation cache of the runs (empty at the cold start) and the hello's manifest.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("civic-floor-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Scratch(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A civic-host serving on a free port until dropped.
struct Server {
    child: Child,
    addr: String,
    ready_in: Duration,
    components: usize,
}

impl Server {
    fn start(host: &Path, manifest_args: &[&str], data: &Path, cache: &str) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let started = Instant::now();
        let mut child = Command::new(host)
            .current_dir(root())
            .args(manifest_args)
            .args(["--listen", &addr, "--cache", cache, "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", host.display()))?;
        let out = child.stdout.take().context("host stdout")?;
        let mut lines = BufReader::new(out).lines();
        let mut components = 0;
        let ready = lines.by_ref().map_while(Result::ok).any(|l| {
            components += usize::from(l.starts_with("Component \""));
            l.starts_with("Serving http://")
        });
        let ready_in = started.elapsed();
        // Drain the request log so the host never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let server = Server { child, addr, ready_in, components };
        if !ready {
            bail!("the local host did not start");
        }
        Ok(server)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `wrk -t1 -c1 -d<seconds>s --latency <url>`, after a one-second warm-up.
fn wrk(url: &str, seconds: u32) -> Result<Figures> {
    let run = |d: u32| Command::new("wrk").args(["-t1", "-c1", &format!("-d{d}s"), "--latency", url]).output();
    run(1).context("running wrk")?;
    let out = run(seconds).context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_wrk(&text).with_context(|| format!("wrk on {url} printed no latency distribution:\n{text}"))
}

/// p50, p99 and requests/s of `wrk --latency`'s output.
fn parse_wrk(text: &str) -> Option<Figures> {
    let field = |prefix: &str| {
        text.lines().map(str::trim).find_map(|l| l.strip_prefix(prefix)).and_then(|r| r.split_whitespace().next())
    };
    Some(Figures {
        p50_ms: duration_ms(field("50%")?)?,
        p99_ms: duration_ms(field("99%")?)?,
        rps: field("Requests/sec:")?.parse().ok()?,
    })
}

/// wrk's `623.00us`, `1.32ms`, `2.01s` in milliseconds.
fn duration_ms(s: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 10s test @ http://127.0.0.1:3000/hello\n  Latency Distribution\n     50%  623.00us\n     \
                    75%  700.00us\n     90%    1.01ms\n     99%    1.23ms\n  14833 requests in 10.00s, 1.2MB read\n\
                    Requests/sec:   1483.26\nTransfer/sec:    120.00KB\n";
        let f = parse_wrk(text).expect("parses");
        assert!((f.p50_ms - 0.623).abs() < 1e-9 && (f.p99_ms - 1.23).abs() < 1e-9 && (f.rps - 1483.26).abs() < 1e-9);
        assert_eq!(duration_ms("2.5s"), Some(2500.0));
        assert_eq!(duration_ms("abc"), None);
    }
}
