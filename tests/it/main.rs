//! End-to-end tests: the built Wasm of each function, over real HTTP, on both runtimes.
//!
//! Starts the Spin build on the project's local host and the Workers build on workerd
//! (`wrangler dev`, local D1), each on its own port with its own temporary database, runs
//! every check against each, then compares the two runtimes' answers, and stops both.
//! Needs the artifacts `cargo xtask test` builds first.

mod checks;
mod harness;

use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};

fn main() -> std::process::ExitCode {
    let mut args = Arguments::from_args();
    // The checks share each runtime; two at a time keeps wrangler's proxy comfortable.
    args.test_threads.get_or_insert(2);
    let spin_thread = std::thread::spawn(harness::start_spin);
    let workers = harness::start_workers("food-safety", &["food"]);
    let spin = spin_thread.join().unwrap_or_else(|_| Err("the spin starter panicked".into()));
    let spin = spin.map(Arc::new);
    let workers = workers.map(Arc::new);

    let mut trials = Vec::new();
    for (runtime, server) in [("spin", &spin), ("workers", &workers)] {
        for (name, check) in checks::CHECKS {
            let server = server.clone();
            trials.push(Trial::test(format!("{runtime}::{name}"), move || match &server {
                Ok(s) => check(s).map_err(Failed::from),
                Err(e) => Err(Failed::from(e.clone())),
            }));
        }
    }
    {
        let (spin, workers) = (spin.clone(), workers.clone());
        trials.push(Trial::test("parity::same_request_same_answer", move || match (&spin, &workers) {
            (Ok(a), Ok(b)) => checks::same_answers(a, b).map_err(Failed::from),
            (Err(e), _) | (_, Err(e)) => Err(Failed::from(e.clone())),
        }));
    }
    {
        let spin = spin.clone();
        trials.push(Trial::test("spin::host_logs_one_line_per_request", move || {
            let s = spin.as_ref().map_err(|e| Failed::from(e.clone()))?;
            harness::get(&s.addr, "/food-safety/health?log-probe=1").map_err(Failed::from)?;
            let log = s.log.lock().map(|l| l.clone()).unwrap_or_default();
            let line = log.iter().find(|l| l.contains("/food-safety/health")).ok_or("no request log line")?;
            let ok = line.starts_with("GET /food-safety/health") && line.contains(" 200 ") && line.ends_with("us");
            if ok { Ok(()) } else { Err(format!("log line format: {line}").into()) }
        }));
    }
    trials.push(Trial::test("workers::deploys_as_configured", || {
        let report = harness::deploy_dry_run("food-safety").map_err(Failed::from)?;
        let ok = report.contains("Total Upload:") && report.contains("env.food") && report.contains("D1 Database");
        if ok {
            Ok(())
        } else {
            Err(format!("dry-run report lacks the upload size or the D1 binding:\n{report}").into())
        }
    }));
    let conclusion = libtest_mimic::run(&args, trials);
    // Stop both runtimes (their process groups) before reporting.
    drop(spin);
    drop(workers);
    conclusion.exit_code()
}
