//! Project automation (the cargo-xtask pattern): `cargo xtask <command>`.
//!
//! - `up [--listen ADDR] [--data DIR] [--no-demo]`: build the Spin components, apply
//!   migrations, load demo data into an empty data folder, serve on the local host.
//! - `build`: both targets of every function, printing each artifact's raw and gzipped size.
//! - `test`: every test: native unit and integration tests, the end-to-end suite against
//!   the local host and against `wrangler dev` (workerd), schemathesis against the OpenAPI
//!   document, and each fuzz target briefly.
//! - `worker-build <function>`: worker-build with local wasm-bindgen, wasm-opt and esbuild
//!   (wrangler.toml's build command).
//! - `migrate [--data DIR] [--demo]`: the database files with their schema, without serving.
//! - `load [--addr HOST:PORT | --miniflare] [--requests N] [--only /PREFIX] [--food-rows N]`:
//!   latency and throughput on the local host, on a server already running, or on one
//!   function's Workers build under miniflare 4; `--food-rows` imports that many demo
//!   establishments first.
//! - `bench [--requests N] [--food-rows N] [--no-miniflare]`: sizes, cold start, native
//!   against local host per route, load on the local host and on miniflare; written into
//!   BENCHMARKS.md.
//! - `fuzz [--seconds N] [TARGET...]`: the cargo-fuzz targets of `fuzz/`, N seconds each.
//! - `soak [--minutes N] [--runtime spin|workers|both] [--rate R]`: N minutes (default 60) of
//!   mixed load at R requests a second per runtime (default 20) on the local host and on
//!   miniflare at once, with an injected webhook fault; a table per runtime over time, checks
//!   that nothing was lost, into BENCHMARKS.md. Not part of `test`.
//! - `demo-json [COUNT]`: print the demo establishments as an import body.
//! - `token [ROLE...]`: print an HS256 bearer token for the demo configuration.
//!
//! Missing Rust targets, cargo tools, npm packages and the Python venv of schemathesis are
//! installed on first use.

#![allow(clippy::disallowed_methods)] // a build tool may read the clock

mod bench;
mod build;
mod demo;
mod floor;
mod fuzz;
mod load;
mod openapi;
mod soak;
mod tools;
mod trips;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

/// Every function of the project: crate name, wasm file stem, base route, databases.
pub struct Function {
    pub name: &'static str,
    /// The prefix of its routes.
    pub base: &'static str,
    pub wasm: &'static str,
    pub dbs: &'static [&'static str],
}

pub const FUNCTIONS: &[Function] = &[
    Function { name: "food-safety", base: "/food-safety", wasm: "food_safety", dbs: &["food"] },
    Function { name: "permit-status", base: "/permits", wasm: "permit_status", dbs: &["permits", "payments"] },
    Function { name: "payment-callback", base: "/payments", wasm: "payment_callback", dbs: &["payments", "permits"] },
    Function { name: "report-submission", base: "/reports", wasm: "report_submission", dbs: &["reports"] },
    Function { name: "chat", base: "/chat", wasm: "chat", dbs: &["chat"] },
];

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: cargo xtask <command>\n\n\
         up [--listen ADDR] [--data DIR] [--no-demo]   serve every function locally (Spin builds, local host)\n\
         build                                         build both targets of every function, print sizes\n\
         test                                          run every test (native, local host, wrangler dev)\n\
         migrate [--data DIR] [--demo]                 create the database files with their schema\n\
         load [--addr HOST:PORT | --miniflare] [--requests N] [--only /PREFIX] [--food-rows N]\n\
                                              latency and throughput over HTTP (local host, or miniflare)\n\
         bench [--requests N] [--food-rows N] [--no-miniflare]\n\
                                              every figure (sizes, native vs host, load), into BENCHMARKS.md\n\
         fuzz [--seconds N] [TARGET...]                the fuzz targets (cargo-fuzz), N seconds each (default 600)\n\
         soak [--minutes N] [--runtime spin|workers|both] [--rate R]\n\
                                              mixed load for N minutes (default 60, 20 req/s), checks, into BENCHMARKS.md\n\
         worker-build FUNCTION                         offline worker-build (used by wrangler.toml)\n\
         demo-json [COUNT]                             print demo establishments as an import body\n\
         token [ROLE...]                               print a demo HS256 bearer token (default role admin)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        return usage();
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "up" => up::run(rest),
        "build" => build::all().map(|_| ()),
        "bench" => bench::run(rest),
        "migrate" => up::migrate(rest),
        "load" => load::run(rest),
        "test" => build::test(),
        "fuzz" => fuzz::run(rest),
        "soak" => soak::run(rest),
        "worker-build" => match rest.first() {
            Some(f) => build::worker(f),
            None => return usage(),
        },
        "demo-json" => {
            let n = rest.first().and_then(|n| n.parse().ok()).unwrap_or(food_safety::demo::COUNT);
            println!("{}", serde_json::Value::Array(food_safety::demo::establishments(n)));
            Ok(())
        }
        "token" => {
            let roles: Vec<&str> =
                if rest.is_empty() { vec!["admin"] } else { rest.iter().map(String::as_str).collect() };
            up::demo_token(&roles).map(|t| println!("{t}"))
        }
        "-h" | "--help" | "help" => return usage(),
        other => {
            eprintln!("unknown command: {other}");
            return usage();
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
