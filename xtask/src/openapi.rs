//! The OpenAPI document against the running service: schemathesis (PyPI, pinned with every
//! dependency in `tools/requirements.txt`) reads `docs/openapi.json`, sends requests generated
//! from it to the local host serving the demo data, and checks every answer:
//!
//! - `not_a_server_error`: no 5xx;
//! - `status_code_conformance`: a status the operation lists;
//! - `content_type_conformance`: a content type the operation lists for that status;
//! - `response_schema_conformance`: a body its schema accepts;
//! - `unsupported_method`, `allow_header_conformance`: a method the path does not have is a
//!   405 with an `Allow` header that names the documented ones.
//!
//! So a route, field or status that the document does not describe fails the test command.
//! The run is deterministic, with an admin bearer token on every request but those that
//! need another role ([`ROLES`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::load::Host;
use crate::root;
use crate::tools::run;

/// The checks run (schemathesis' names).
pub const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_schema_conformance,unsupported_method,allow_header_conformance";

/// Test cases per operation, in each phase (about half a minute for the whole run).
const EXAMPLES: &str = "20";

/// The Python tools folder (`$CIVIC_PYTHON`, default `~/.cache/civic/python`): a venv with
/// the pinned schemathesis, made or refreshed when `tools/requirements.txt` changed.
pub fn venv() -> Result<PathBuf> {
    let dir = std::env::var_os("CIVIC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/civic/python"));
    let requirements = root().join("tools/requirements.txt");
    let want = std::fs::read_to_string(&requirements).context("reading tools/requirements.txt")?;
    let stamp = dir.join(".installed-from");
    let st = dir.join("bin/st");
    if std::fs::read_to_string(&stamp).unwrap_or_default() != want || !st.exists() {
        eprintln!("xtask: installing schemathesis into {} (pip)", dir.display());
        run(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
        run(Command::new(dir.join("bin/pip")).args(["install", "--quiet", "--no-deps", "-r"]).arg(&requirements))?;
        std::fs::write(&stamp, want)?;
    }
    Ok(st)
}

/// Serves the Spin builds (already built) on the local host with a fresh copy of the demo
/// data and runs schemathesis against it. `Ok(true)` when every check passed; its report
/// goes to standard output.
pub fn check() -> Result<bool> {
    let st = venv()?;
    let data = std::env::temp_dir().join(format!("civic-openapi-{}", std::process::id()));
    crate::up::migrate(&["--data".into(), data.display().to_string(), "--demo".into()])?;
    let result = Host::start_with(&data, &[], &[]).and_then(|host| schemathesis(&st, &host.addr, &data));
    let _ = std::fs::remove_dir_all(&data);
    result
}

/// The operations whose callers have another role than admin, with that role: the token
/// they get instead, so the run reaches past their 403.
const ROLES: &[(&str, &str)] = &[("POST /payments/orders", "citizen"), ("PUT /permits/{code}", "system")];

/// `schemathesis.toml` for the run: an admin bearer token on every request, and the role each
/// operation of [`ROLES`] wants.
fn config(scratch: &Path) -> Result<PathBuf> {
    let bearer = |role: &str| crate::up::demo_token(&[role]).map(|t| format!("Bearer {t}"));
    let mut toml = format!("headers = {{ Authorization = \"{}\" }}\n", bearer("admin")?);
    for (operation, role) in ROLES {
        toml.push_str(&format!(
            "\n[[operations]]\ninclude-name = \"{operation}\"\nheaders = {{ Authorization = \"{}\" }}\n",
            bearer(role)?
        ));
    }
    let path = scratch.join("schemathesis.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}

fn schemathesis(st: &Path, addr: &str, scratch: &Path) -> Result<bool> {
    let config = config(scratch)?;
    let started = Instant::now();
    // One worker: with two, hypothesis' source inspection hits a CPython 3.11 AST race
    // ("AST constructor recursion depth mismatch") and the run errors.
    let status = Command::new(st)
        .current_dir(scratch) // it keeps a `.schemathesis/` folder where it runs
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(root().join("docs/openapi.json"))
        .args(["--url", &format!("http://{addr}")])
        .args(["--checks", CHECKS, "--max-examples", EXAMPLES, "--workers", "1"])
        .args(["--seed", "2026", "--generation-deterministic"])
        .args(["--no-color", "--output-sanitize", "true", "--report-dir"])
        .arg(scratch.join("schemathesis-report"))
        .status()
        .context("starting schemathesis")?;
    println!("schemathesis against the local host: {status} in {:.0} s", started.elapsed().as_secs_f64());
    Ok(status.success())
}
