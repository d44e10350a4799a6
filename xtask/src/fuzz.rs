//! `cargo xtask fuzz [--seconds N] [TARGET...]`: every fuzz target of `fuzz/` (cargo-fuzz,
//! libFuzzer, AddressSanitizer) for N seconds each (default 600), one after the other, from
//! the seeds in `fuzz/src/lib.rs`, the crashes kept in `fuzz/regressions/<target>/` and the
//! corpus grown by earlier runs in `fuzz/corpus/<target>/` (not committed).
//!
//! cargo-fuzz's default build: optimised, with debug assertions and overflow checks. The
//! machine's one Rust toolchain is stable; cargo-fuzz needs `-Z` flags, so the fuzz build
//! runs with `RUSTC_BOOTSTRAP=1` (stable ships the sanitizer runtimes).
//!
//! A crash stops that target and is reported with the file libFuzzer wrote under
//! `fuzz/artifacts/<target>/`: fix it, then move the file to `fuzz/regressions/<target>/`,
//! where the replay test (below, part of `cargo xtask test`) runs it from then on.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{root, tools};

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)] // the consts and fields the fuzz targets use but xtask does not
mod harness;

pub use harness::TARGETS;

/// What one target's run did.
pub struct Run {
    pub runs: u64,
    pub seconds: f64,
    pub corpus: usize,
    pub crash: Option<String>,
}

fn parse(args: &[String]) -> Result<(u64, Vec<&'static str>)> {
    let mut seconds = 600;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().and_then(|s| s.parse().ok()).context("--seconds needs a number")?,
            name => match TARGETS.iter().find(|(t, _)| *t == name) {
                Some((t, _)) => targets.push(*t),
                None => bail!("unknown fuzz target {name} (one of {:?})", TARGETS.map(|(t, _)| t)),
            },
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|(t, _)| *t).collect();
    }
    Ok((seconds, targets))
}

pub fn run(args: &[String]) -> Result<()> {
    let (seconds, targets) = parse(args)?;
    let runs = fuzz(seconds, &targets)?;
    let crashed: Vec<&Run> = runs.iter().filter(|r| r.crash.is_some()).collect();
    if !crashed.is_empty() {
        bail!("{} of {} fuzz targets crashed", crashed.len(), runs.len());
    }
    Ok(())
}

fn dir(kind: &str, target: &str) -> PathBuf {
    root().join("fuzz").join(kind).join(target)
}

/// Builds the targets, then runs each for `seconds`; prints and returns what each did.
pub fn fuzz(seconds: u64, targets: &[&'static str]) -> Result<Vec<Run>> {
    let cargo_fuzz = tools::cargo_fuzz()?;
    let fuzz_dir = root().join("fuzz");
    tools::run(Command::new(&cargo_fuzz).arg("build").current_dir(&fuzz_dir).env("RUSTC_BOOTSTRAP", "1"))?;
    let mut runs = Vec::new();
    for &target in targets {
        let corpus = dir("corpus", target);
        let artifacts = dir("artifacts", target);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        for (i, seed) in harness::seeds(target).iter().enumerate() {
            std::fs::write(corpus.join(format!("seed-{i}")), seed)?;
        }
        let regressions = dir("regressions", target);
        let started = Instant::now();
        let mut cmd = Command::new(&cargo_fuzz);
        cmd.args(["run", target])
            .arg(&corpus)
            .args(regressions.is_dir().then_some(&regressions))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            // Bodies up to 8 KiB: past every parser's interesting lengths, short of the caps.
            .arg("-max_len=8192")
            .arg("-timeout=20")
            .arg("-rss_limit_mb=4096")
            .arg("-print_final_stats=1")
            .current_dir(&fuzz_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .stderr(Stdio::piped());
        let out = cmd.output().with_context(|| format!("starting cargo fuzz run {target}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let stat = |name: &str| -> u64 {
            log.lines()
                .filter_map(|l| l.strip_prefix(&format!("stat::{name}:")))
                .filter_map(|v| v.trim().parse().ok())
                .next_back()
                .unwrap_or(0)
        };
        let crash = (!out.status.success()).then(|| {
            let file = log
                .lines()
                .find_map(|l| l.split_once("Test unit written to ").map(|(_, f)| f.trim().to_owned()))
                .unwrap_or_else(|| "(no file written)".into());
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            file
        });
        let run = Run {
            runs: stat("number_of_executed_units"),
            seconds: started.elapsed().as_secs_f64(),
            corpus: std::fs::read_dir(&corpus).map(Iterator::count).unwrap_or(0),
            crash,
        };
        match &run.crash {
            None => println!(
                "fuzz {target}: {} runs in {:.0} s ({:.0}/s), corpus {} inputs, no crash",
                run.runs,
                run.seconds,
                run.runs as f64 / run.seconds.max(1e-9),
                run.corpus
            ),
            Some(file) => println!("fuzz {target}: CRASHED after {:.0} s: {file}", run.seconds),
        }
        runs.push(run);
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::harness::{self, Auth, TARGETS, world};

    /// The seeds reach past the gates they are meant to pass (the bodies are accepted, the
    /// signed VNPay IPN settles its order, the signed MoMo IPN and ZaloPay callback are taken);
    /// then the seeds and every crash the fuzzers found (`fuzz/regressions/<target>/`) pass the
    /// same checks as under the fuzzer. One test: the two share the world's orders.
    #[test]
    fn seeds_are_accepted_and_found_crashes_pass_the_fuzz_checks() {
        let w = world();
        for seed in harness::seeds("bodies") {
            let (mode, body) = (seed[0], String::from_utf8_lossy(&seed[1..]).into_owned());
            let (method, path, ct) = harness::BODIES[usize::from(mode & 15)];
            if path.starts_with("/payments/momo") || path.starts_with("/payments/zalopay") {
                harness::bodies(&seed);
                continue;
            }
            let resp = w.call(method, path, harness::AUTHS[usize::from(mode >> 4) & 7], ct, body);
            assert!(
                resp.status().is_success(),
                "{method} {path}: {} {}",
                resp.status(),
                String::from_utf8_lossy(resp.body())
            );
        }
        harness::vnpay(&harness::seeds("vnpay")[0]);
        for order in ["ord_fuzz_0", "ord_fuzz_1", "ord_fuzz_2"] {
            let resp =
                w.call("GET", &format!("/payments/orders/{order}"), Auth::Citizen, "application/json", String::new());
            let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap_or_default();
            assert_eq!(v["state"], "paid", "{order}: {v}");
        }

        let mut replayed = 0;
        for (target, check) in TARGETS {
            for seed in harness::seeds(target) {
                check(&seed);
                replayed += 1;
            }
            let dir = super::dir("regressions", target);
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for file in files {
                eprintln!("replaying {}", file.display());
                check(&std::fs::read(&file).unwrap_or_default());
                replayed += 1;
            }
        }
        assert!(replayed >= 25, "{replayed}");
    }
}
