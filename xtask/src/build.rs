//! `cargo xtask build` and `cargo xtask test`, and the offline worker-build wrapper.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::tools::{self, cargo, run};
use crate::{FUNCTIONS, Function, root};

fn function(name: &str) -> Result<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name).with_context(|| format!("no function named {name}"))
}

/// `target/` of the workspace (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// The Spin component of a function.
pub fn spin_artifact(f: &Function) -> PathBuf {
    target_dir().join("wasm32-wasip2/release").join(format!("{}.wasm", f.wasm))
}

/// The directory worker-build writes a function's worker into.
pub fn worker_dir(f: &Function) -> PathBuf {
    root().join("functions").join(f.name).join("build")
}

/// Builds every Spin component.
pub fn spin_all() -> Result<()> {
    tools::targets(&["wasm32-wasip2"])?;
    let mut cmd = cargo();
    // Stripped: the name section is 18% of the component. (The Workers build keeps it:
    // wasm-bindgen wants the sections strip would drop.)
    cmd.current_dir(root()).args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--config",
        "profile.release.strip=true",
    ]);
    for f in FUNCTIONS {
        cmd.args(["-p", f.name]);
    }
    run(&mut cmd)
}

/// Builds the local host (dev profile, hot crates optimised; see the root Cargo.toml).
/// Built with the whole workspace selected, so dependency features unify as they do under
/// `cargo test --workspace` and neither build undoes the other.
pub fn host() -> Result<PathBuf> {
    run(cargo().current_dir(root()).args(["build", "--workspace", "--bins"]))?;
    Ok(target_dir().join("debug/civic-host"))
}

fn stamp_of(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("{} {}", meta.len(), mtime.as_nanos()))
}

/// worker-build for one function, with wasm-bindgen, wasm-opt and esbuild from local
/// installs (worker-build would otherwise download them). Skipped when the compiled Wasm is
/// unchanged since the last run.
pub fn worker(name: &str) -> Result<()> {
    let f = function(name)?;
    worker_build(f.name, f.wasm, &root().join("functions").join(f.name))
}

/// The fault tests' trapping Worker (`tests/trap-worker`), built the same way.
pub fn trap_worker() -> Result<()> {
    worker_build("civic-trap-worker", "civic_trap_worker", &root().join("tests/trap-worker"))
}

/// worker-build of `package` (in `dir`, whose Wasm is `<wasm>.wasm`) into `dir/build`.
fn worker_build(package: &str, wasm: &str, dir: &Path) -> Result<()> {
    let t = tools::worker_tools()?;
    run(cargo().current_dir(root()).args([
        "build",
        "--lib",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        package,
    ]))?;
    let input = target_dir().join("wasm32-unknown-unknown/release").join(format!("{wasm}.wasm"));
    let out = dir.join("build");
    let stamp_file = out.join(".built-from");
    let stamp = stamp_of(&input);
    if stamp.is_some() && std::fs::read_to_string(&stamp_file).ok() == stamp && out.join("index.js").exists() {
        eprintln!("xtask: {package} worker is up to date");
        return Ok(());
    }
    let npm = &t.npm;
    run(Command::new(&t.worker_build)
        .current_dir(dir)
        .arg("--release")
        .env("WASM_BINDGEN_BIN", &t.wasm_bindgen)
        .env("WASM_OPT_BIN", npm.join("node_modules/.bin/wasm-opt"))
        .env("ESBUILD_BIN", npm.join("node_modules/@esbuild/linux-x64/bin/esbuild"))
        .env("PATH", tools::node_path(npm)))?;
    if let Some(s) = stamp {
        std::fs::write(&stamp_file, s)?;
    }
    Ok(())
}

fn gzip_len(path: &Path) -> Result<usize> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&raw)?;
    Ok(gz.finish()?.len())
}

/// An artifact's size, raw and gzipped (bytes).
pub fn sizes(path: &Path) -> Result<(usize, usize)> {
    let raw = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?.len();
    Ok((usize::try_from(raw).unwrap_or(usize::MAX), gzip_len(path)?))
}

fn kib(n: usize) -> String {
    #[allow(clippy::cast_precision_loss)]
    let k = n as f64 / 1024.0;
    format!("{k:>8.1} KiB")
}

/// The most a function may weigh, gzipped: its Spin component, or its whole Workers bundle
/// (the JavaScript glue and the Wasm that `wrangler deploy` uploads).
pub const BUDGET_GZIP: usize = 1_000_000;

/// The files of a Workers bundle: every `.js`/`.mjs` and `.wasm` under the build folder.
fn bundle_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("{}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "wasm" || x == "js" || x == "mjs") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Both targets of every function; prints each artifact's raw and gzipped size, and fails
/// when one is over [`BUDGET_GZIP`].
pub fn all() -> Result<Vec<(String, PathBuf)>> {
    let started = Instant::now();
    spin_all()?;
    let spin_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for f in FUNCTIONS {
        worker(f.name)?;
    }
    trap_worker()?;
    let workers_secs = started.elapsed().as_secs_f64();
    let mut artifacts = Vec::new();
    let mut over = Vec::new();
    println!("\n{:<17} {:<8} {:>12} {:>12}  artifact", "function", "target", "raw", "gzip");
    for f in FUNCTIONS {
        let spin = spin_artifact(f);
        let worker = worker_dir(f).join("index_bg.wasm");
        let worker = if worker.exists() { worker } else { first_wasm(&worker_dir(f))? };
        for (target, path) in [("spin", spin), ("workers", worker)] {
            let raw = std::fs::metadata(&path).with_context(|| format!("{}", path.display()))?.len();
            let raw = usize::try_from(raw).unwrap_or(usize::MAX);
            let rel = path.strip_prefix(root()).unwrap_or(&path).display().to_string();
            let gz = gzip_len(&path)?;
            println!("{:<17} {:<8} {} {}  {rel}", f.name, target, kib(raw), kib(gz));
            let weighed = if target == "workers" {
                let files = bundle_files(&worker_dir(f))?;
                let mut total = 0;
                for file in &files {
                    total += gzip_len(file)?;
                }
                println!(
                    "{:<17} {:<8} {:>12} {}  the bundle: {} files",
                    f.name,
                    "workers",
                    "",
                    kib(total),
                    files.len()
                );
                total
            } else {
                gz
            };
            if weighed > BUDGET_GZIP {
                over.push(format!("{}/{target}: {} gzipped", f.name, kib(weighed).trim()));
            }
            artifacts.push((format!("{}/{target}", f.name), path));
        }
    }
    println!("built in {spin_secs:.1} s (Spin) + {workers_secs:.1} s (Workers)");
    if !over.is_empty() {
        bail!("over the size budget of 1 MB ({}) gzipped: {}", kib(BUDGET_GZIP).trim(), over.join(", "));
    }
    println!("every artifact is within the size budget of 1 MB ({}) gzipped", kib(BUDGET_GZIP).trim());
    Ok(artifacts)
}

fn first_wasm(dir: &Path) -> Result<PathBuf> {
    bundle_files(dir)?
        .into_iter()
        .find(|p| p.extension().is_some_and(|x| x == "wasm"))
        .with_context(|| format!("no .wasm under {}", dir.display()))
}

/// How long `cargo xtask test` runs each fuzz target.
const FUZZ_SECONDS: u64 = 30;

/// Every test: builds both targets and the host, then `cargo test --workspace` (native unit
/// and integration tests, the host's own tests, and the end-to-end suite on both runtimes).
/// Prints the time each phase took (where a CI run's time goes), then ends with one
/// `N passed, N failed` line summed over every test binary.
pub fn test() -> Result<()> {
    let started = Instant::now();
    let mut phases: Vec<(&str, f64)> = Vec::new();
    let mut lap = Instant::now();
    let mut phase = |name: &'static str, phases: &mut Vec<(&str, f64)>| {
        phases.push((name, lap.elapsed().as_secs_f64()));
        lap = Instant::now();
    };
    tools::targets(&["wasm32-wasip2", "wasm32-unknown-unknown"])?;
    let npm = tools::npm()?;
    let s3s_fs = tools::s3s_fs()?;
    phase("tools (targets, npm, s3s-fs)", &mut phases);
    all()?;
    phase("Wasm builds (Spin, Workers with their tools)", &mut phases);
    host()?;
    phase("host and binaries", &mut phases);
    let mut child = cargo()
        .current_dir(root())
        .args(["test", "--workspace", "--no-fail-fast", "--color", "never"])
        .env("CIVIC_TOOLS", &npm)
        .env("CIVIC_S3S_FS", &s3s_fs)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting cargo test")?;
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                let count = |what: &str| -> u64 {
                    rest.split(['.', ';'])
                        .find_map(|p| p.trim().strip_suffix(what).and_then(|n| n.trim().parse().ok()))
                        .unwrap_or(0)
                };
                passed += count(" passed");
                failed += count(" failed");
                ignored += count(" ignored");
            }
        }
    }
    let status = child.wait()?;
    phase("cargo test --workspace (unit, host, e2e on both runtimes)", &mut phases);
    // The service against its OpenAPI document (schemathesis), one pass or failure.
    if crate::openapi::check()? {
        passed += 1;
    } else {
        failed += 1;
    }
    phase("schemathesis", &mut phases);
    // Each fuzz target briefly, so they keep building and the easy crashes show; one pass or
    // failure each. `cargo xtask fuzz` runs them for longer.
    for run in crate::fuzz::fuzz(FUZZ_SECONDS, &crate::fuzz::TARGETS.map(|(t, _)| t))? {
        if run.crash.is_some() {
            failed += 1;
        } else {
            passed += 1;
        }
    }
    phase("fuzz targets (build and runs)", &mut phases);
    println!("\nall tests in {:.0} s:", started.elapsed().as_secs_f64());
    for (name, secs) in &phases {
        println!("  {secs:>6.0} s  {name}");
    }
    println!("{passed} passed, {failed} failed, {ignored} skipped");
    if !status.success() || failed > 0 {
        bail!("tests failed ({status})");
    }
    Ok(())
}
