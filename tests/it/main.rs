//! End-to-end tests: the built Wasm of each function, over real HTTP, on both runtimes.
//!
//! Starts the Spin builds on the project's local host (one host serves every function) and
//! each function's Workers build on workerd (`wrangler dev`, local D1), each with temporary
//! databases of its own, runs every function's checks against each runtime, then compares
//! the two runtimes' answers, and stops them all; the fault tests (`faults`) start runtimes
//! of their own. Needs the artifacts `cargo xtask test` builds first.
//!
//! On Workers, chat's worker starts last: it reaches the others through service bindings,
//! which `wrangler dev` resolves through a dev registry of this run's own
//! (`WRANGLER_REGISTRY_PATH`). Its checks (`chat`) run with Zalo and Telegram stand-ins.

/// Fails the check with a message unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

mod chat;
mod faults;
mod food;
mod harness;
mod media;
mod notify;
mod open311;
mod payments;
mod permits;
mod privacy;
mod raw;
mod reports;
mod security;

use std::sync::Arc;

use harness::{Server, Suite};
use libtest_mimic::{Arguments, Failed, Trial};

const SUITES: &[Suite] = &[food::SUITE, permits::SUITE, payments::SUITE, reports::SUITE, chat::SUITE];

/// Whether a suite's Workers build binds to the others' (chat: service bindings), so that it
/// starts once they are up.
fn binds_to_others(suite: &Suite) -> bool {
    suite.function == chat::SUITE.function
}

type Started = Result<Arc<Server>, String>;

fn trial(name: String, server: &Started, f: impl FnOnce(&Server) -> Result<(), String> + Send + 'static) -> Trial {
    let server = server.clone();
    Trial::test(name, move || match &server {
        Ok(s) => f(s).map_err(Failed::from),
        Err(e) => Err(Failed::from(e.clone())),
    })
}

/// The suites grouped by shared databases (indices into [`SUITES`]), those that bind to
/// others left out.
fn groups() -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, suite) in SUITES.iter().enumerate().filter(|(_, s)| !binds_to_others(s)) {
        let shares =
            |g: &Vec<usize>| g.iter().any(|&j| SUITES[j].databases.iter().any(|d| suite.databases.contains(d)));
        match groups.iter_mut().find(|g| shares(g)) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

fn main() -> std::process::ExitCode {
    let mut args = Arguments::from_args();
    // The checks share each runtime; two at a time keeps wrangler's proxy comfortable.
    args.test_threads.get_or_insert(2);
    // The wallets' create-order APIs, standing in on 127.0.0.1 for both runtimes.
    if let Err(e) = harness::start_wallets() {
        eprintln!("the wallet stand-in did not start: {e}");
    }
    // Zalo's and Telegram's APIs, standing in for the chat bot, one set per runtime.
    if let Err(e) = chat::start_standins() {
        eprintln!("the chat stand-ins did not start: {e}");
    }
    // The SMS gateways that citizens' notifications go to, one per runtime.
    if let Err(e) = notify::start_standins() {
        eprintln!("the SMS gateway stand-ins did not start: {e}");
    }
    // The main run's own wrangler dev registry: its workers find each other there (service
    // bindings), and no other `wrangler dev` (the fault tests', another run's) is found.
    let registry = match tempfile::tempdir() {
        Ok(dir) => Arc::new(dir),
        Err(e) => {
            eprintln!("no temporary folder for the wrangler dev registry: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let seed: Vec<(&str, &str)> = SUITES.iter().flat_map(|s| s.seed.iter().copied()).collect();
    let spin_thread = std::thread::spawn(move || harness::start_spin_main(&seed));
    // Workers: functions that share a database (permit-status and payment-callback share
    // permits and payments) share wrangler's state folder and start one after the other (two
    // workerd starting at once on one folder can fail with SQLITE_BUSY); groups start in
    // parallel.
    let group_threads: Vec<_> = groups()
        .into_iter()
        .map(|group| {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || -> Vec<(usize, Result<Server, String>)> {
                let suites: Vec<&'static Suite> = group.iter().map(|&i| &SUITES[i]).collect();
                let state = harness::prepare_workers(&suites);
                let start = |i: usize| {
                    state.clone().and_then(|dir| harness::start_workers_in(&SUITES[i], dir, registry.path()))
                };
                group.iter().map(|&i| (i, start(i))).collect()
            })
        })
        .collect();
    // Those that bind to the others: their state made meanwhile, started once the others are up.
    let binding_threads: Vec<_> = (0..SUITES.len())
        .filter(|&i| binds_to_others(&SUITES[i]))
        .map(|i| (i, std::thread::spawn(move || harness::prepare_workers(&[&SUITES[i]]))))
        .collect();
    let joined = |r: std::thread::Result<Result<Server, String>>| -> Started {
        r.unwrap_or_else(|_| Err("a runtime starter panicked".into())).map(Arc::new)
    };
    let spin = joined(spin_thread.join());
    let mut workers: Vec<Started> = SUITES.iter().map(|_| Err("not started".to_owned())).collect();
    for t in group_threads {
        match t.join() {
            Ok(started) => {
                for (i, server) in started {
                    workers[i] = server.map(Arc::new);
                }
            }
            Err(_) => eprintln!("a Workers starter panicked"),
        }
    }
    for (i, state) in binding_threads {
        let state = state.join().unwrap_or_else(|_| Err("a Workers preparer panicked".into()));
        workers[i] = state.and_then(|dir| harness::start_workers_in(&SUITES[i], dir, registry.path())).map(Arc::new);
    }

    let mut trials = Vec::new();
    for (suite, worker) in SUITES.iter().zip(&workers) {
        let f = suite.function.replace('-', "_");
        let base = suite.base;
        for (runtime, server) in [("spin", &spin), ("workers", worker)] {
            trials.push(trial(format!("{runtime}::{f}::health"), server, move |s| harness::health(s, base)));
            for (name, check) in suite.checks {
                trials.push(trial(format!("{runtime}::{f}::{name}"), server, *check));
            }
            let contract = format!("{runtime}::{f}::sql_contract_holds_on_this_runtime");
            trials.push(trial(contract, server, move |s| harness::selftest_passes(s, base)));
        }
        let (spin, worker, same) = (spin.clone(), worker.clone(), suite.same_answers);
        trials.push(trial(format!("parity::{f}::same_request_same_answer"), &spin, move |a| match &worker {
            Ok(b) => same(a, b),
            Err(e) => Err(e.clone()),
        }));
        let (function, databases) = (suite.function, suite.databases);
        let services: &[&str] = if binds_to_others(suite) { chat::SERVICES } else { &[] };
        trials.push(Trial::test(format!("workers::{f}::deploys_as_configured"), move || {
            let report = harness::deploy_dry_run(function).map_err(Failed::from)?;
            let bound = databases.iter().chain(services).all(|b| report.contains(&format!("env.{b}")));
            let ok = report.contains("Total Upload:") && report.contains("D1 Database") && bound;
            if ok {
                Ok(())
            } else {
                let what = format!("the upload size or a binding of {databases:?} {services:?}");
                Err(format!("dry-run report lacks {what}:\n{report}").into())
            }
        }));
    }
    // permit-status shows what payment-callback settled: on Spin one host serves both, on
    // Workers the two workers share their D1 databases.
    let find = |f: &str| SUITES.iter().position(|s| s.function == f).map(|i| workers[i].clone());
    if let (Some(pay), Some(permits)) = (find("payment-callback"), find("permit-status")) {
        for (runtime, pay, permits) in [("spin", spin.clone(), spin.clone()), ("workers", pay, permits)] {
            trials.push(trial(format!("{runtime}::cross::fee_shows_as_paid_in_permit_status"), &pay, move |p| {
                let permits = permits.as_ref().map_err(Clone::clone)?;
                payments::fee_shows_as_paid_in_permit_status(p, permits)
            }));
        }
    }
    // Photos of reports, on the local host (database store) and on workerd (R2), and on a
    // host of their own that stores them in s3s-fs.
    if let Some(reports) = find("report-submission") {
        for (runtime, server) in [("spin", spin.clone()), ("workers", reports)] {
            for (name, check) in media::CHECKS {
                trials.push(trial(format!("{runtime}::media::{name}"), &server, *check));
            }
        }
    }
    // The chat bot: on Spin the one host; on Workers chat's worker and the workers it binds to.
    if let (Some(c), Some(food), Some(permits), Some(reports)) =
        (find("chat"), find("food-safety"), find("permit-status"), find("report-submission"))
    {
        for (runtime, servers) in [("spin", vec![spin.clone(); 4]), ("workers", vec![c, food, permits, reports])] {
            for (name, check) in chat::CHECKS {
                let (servers, check) = (servers.clone(), *check);
                trials.push(Trial::test(format!("{runtime}::chat::{name}"), move || {
                    let world = chat::world(runtime, &servers)?;
                    check(&world).map_err(|e| Failed::from(world.explain(e)))
                }));
            }
        }
    }
    // Notifications and scheduled work: on Spin the one host; on Workers permit-status,
    // payment-callback and report-submission; and runtimes of their own for expiries and a
    // host restart.
    if let (Some(permits), Some(pay), Some(reports)) =
        (find("permit-status"), find("payment-callback"), find("report-submission"))
    {
        for (runtime, servers) in [("spin", vec![spin.clone(); 3]), ("workers", vec![permits, pay.clone(), reports])] {
            for (name, check) in notify::CHECKS {
                let (servers, check) = (servers.clone(), *check);
                trials.push(Trial::test(format!("{runtime}::notify::{name}"), move || {
                    check(&notify::world(runtime, &servers)?).map_err(Failed::from)
                }));
            }
            let name = format!("{runtime}::notify::delivery_figures_are_printed");
            trials.push(Trial::test(name, move || notify::delivery_figures_are_printed(runtime).map_err(Failed::from)));
            let name = format!("{runtime}::notify::orders_expire_and_overdue_reports_warn_their_agency");
            trials.push(Trial::test(name, move || {
                notify::orders_expire_and_overdue_reports_warn_their_agency(runtime).map_err(Failed::from)
            }));
        }
        trials.push(trial(
            "workers::notify::the_cron_trigger_delivers".into(),
            &pay,
            notify::the_cron_trigger_delivers,
        ));
    }
    trials.push(Trial::test("spin::notify::a_host_restart_in_the_middle_loses_nothing", || {
        notify::a_host_restart_in_the_middle_loses_nothing().map_err(Failed::from)
    }));
    trials.push(Trial::test("spin::media::s3_store_on_s3s_fs", || media::s3_store_on_s3s_fs().map_err(Failed::from)));
    // Rate limits and retention, on fresh servers of each runtime.
    for runtime in ["spin", "workers"] {
        trials.push(Trial::test(format!("{runtime}::privacy::limits"), move || {
            privacy::limits(runtime).map_err(Failed::from)
        }));
        trials.push(Trial::test(format!("{runtime}::privacy::retention"), move || {
            privacy::retention(runtime).map_err(Failed::from)
        }));
    }
    for (name, run) in faults::trials() {
        trials.push(Trial::test(name, move || run().map_err(Failed::from)));
    }
    // The security review: each check reaches every function, on Spin through the one host,
    // on Workers through each function's own worker (in SUITES order).
    for (runtime, servers) in [("spin", vec![spin.clone(); SUITES.len()]), ("workers", workers.clone())] {
        for (name, check) in security::CHECKS {
            let (servers, check) = (servers.clone(), *check);
            trials.push(Trial::test(format!("{runtime}::security::{name}"), move || {
                check(&security::servers(&servers)?).map_err(Failed::from)
            }));
        }
    }
    trials.push(trial("spin::host_logs_one_line_per_request".into(), &spin, |s| {
        harness::get(&s.addr, "/permits/health?log-probe=1")?;
        let log = s.log.lock().map(|l| l.clone()).unwrap_or_default();
        let line = log.iter().find(|l| l.contains("/permits/health")).ok_or("no request log line")?;
        let ok = line.starts_with("GET /permits/health") && line.contains(" 200 ") && line.ends_with("us");
        if ok { Ok(()) } else { Err(format!("log line format: {line}")) }
    }));
    let conclusion = libtest_mimic::run(&args, trials);
    chat::print_latencies();
    // Stop every runtime (their process groups) before reporting.
    drop(spin);
    drop(workers);
    drop(registry);
    conclusion.exit_code()
}
