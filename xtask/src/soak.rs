//! `cargo xtask soak [--minutes N] [--runtime spin|workers|both] [--rate R]`: the services
//! under a mixed load for N minutes (default 60) at R requests a second per runtime (default
//! 20), the local host (Spin builds) and miniflare 4 (Workers builds) at the same time, all on
//! 127.0.0.1. Not part of `cargo xtask test`: a long measurement that checks, at the end,
//! that nothing was lost.
//!
//! **Runtimes.** Spin: civic-host over a temporary copy of the demo data, calling every
//! function's tick itself every [`TICK`] (`--tick`). Workers: one miniflare process per
//! function ([`SOAKED`]: chat is left out, its worker reaches the others through service
//! bindings that separate miniflare processes do not resolve); permit-status and
//! payment-callback share one miniflare process (one workerd, each routed its prefix), so that
//! they share their D1 databases as wrangler.toml binds them. Plain miniflare runs no cron
//! trigger, so the driver calls each function's `POST <base>/tick` with a `system` token every
//! [`TICK`], as a Spin deployment's scheduler would. Both runtimes get an SMS gateway stand-in
//! (`sms_gateway_url`) and a partner webhook receiver registered for every event of reports,
//! permits and payments ([`civic::testing::Receiver`] both), and a short outbox retry schedule
//! ([`RETRY_SCHEDULE`]).
//!
//! **Load.** Per runtime a fixed-interval scheduler hands one operation every 1/R s, drawn
//! from [`MIX`], to [`CLIENTS`] threads with keep-alive connections; an operation the clients
//! cannot take in time is skipped and counted, so the rate stays bounded. Every
//! [`STORM_EVERY`] the operation is a payment storm: an order for an unpaid dossier, then 10 to
//! 20 identical signed VNPay IPNs at once. Callers are many (each JWT subject, phone number or
//! chat user makes a few requests, under every limit of README "Rate limits and retention"),
//! but for one deliberate over-limit caller ([`Op::Abuse`]) whose 429s and silenced SMS are
//! counted as expected.
//!
//! **Fault.** The partner receiver answers 500 from second 60 to 105 of every 5 minutes
//! ([`fault_at`]), so deliveries are retried; the requests it refused are counted.
//!
//! **Report.** A line a minute per runtime; at the end a table per runtime per interval (5
//! minutes; 1 for runs under 15): throughput, p50/p99 latency, errors by kind, resident memory
//! (civic-host's VmRSS; on Workers the sum over each miniflare process group, node and
//! workerd), database and WAL file sizes.
//!
//! **Checks**, after the load stops, the receiver answers 200 and the outboxes are drained
//! (ticks until nothing is pending, at most [`DRAIN_LIMIT`]): every storm settled its order
//! exactly once and the order is `paid`; every report filed exists with the status it was last
//! moved to; the partner got every event (distinct `webhook-id`s: one `report.created` per
//! filed report, one `report.status_changed` per move, one `dossier.status_changed` per push,
//! one `payment.settled` per settled order), and no `webhook-id` with two bodies; the gateway
//! got every citizen's SMS (one per move, one per pushed dossier); no delivery is dead; no
//! unexpected status and no transport error. PASS/FAIL lines; a failed check fails the
//! command. Results go into BENCHMARKS.md, section "## Soak (cargo xtask soak)".

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use civic::demo::Rng;
use civic::testing::Receiver;
use serde_json::{Value, json};

use crate::load::{self, Conn, Host};
use crate::{FUNCTIONS, Function, build, root};

/// How often each function's tick runs (the host's `--tick`, the driver's calls on Workers).
const TICK: Duration = Duration::from_secs(10);

/// The outbox's waits after each failed attempt: together longer than a fault window
/// ([`fault_at`]), so no delivery dies of the injected fault.
const RETRY_SCHEDULE: &str = "5s,10s,30s,60s";

/// How long one delivery attempt waits for its receiver (seconds).
const DELIVERY_TIMEOUT: &str = "5";

/// Client threads per runtime.
const CLIENTS: usize = 6;

/// How often an operation of the mix is a payment storm.
const STORM_EVERY: Duration = Duration::from_secs(30);

/// The most ticking the outboxes get to deliver what is pending after the load.
const DRAIN_LIMIT: Duration = Duration::from_secs(180);

/// The functions served on Workers (all but chat: see the module docs).
const SOAKED: [&str; 4] = ["food-safety", "permit-status", "payment-callback", "report-submission"];

/// The agency part of the dossier codes the soak pushes (none of the demo data's).
const PUSHED_AGENCY: &str = "000.95.19.H57";

/// The demo dossier that always exists (with its fee paid).
const DEMO_DOSSIER: &str = "000.00.19.H57-241105-0012";

/// The over-limit caller's phone and subject.
const ABUSER_PHONE: &str = "84909999999";
const ABUSER_SUB: &str = "soak-abuser";

/// The runtimes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Spin,
    Workers,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Spin => "spin",
            Kind::Workers => "workers",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Spin => "Local host (Spin builds, civic-host)",
            Kind::Workers => "Workers builds on miniflare 4 (workerd, local D1)",
        }
    }
}

/// The operations of the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// `GET /food-safety/establishments?q=` of a misspelled demo name.
    FoodSearch,
    /// `GET /food-safety/establishments/{id}`.
    FoodPlace,
    /// `GET /permits/{code}` of a demo dossier, as a signed-in citizen.
    Dossier,
    /// `GET /reports/{code}` of a filed report.
    ReportView,
    /// `GET /reports?status=open` or `GET /reports/stats`.
    ReportList,
    /// `POST /reports` by a citizen, with a phone to be told on.
    ReportFile,
    /// `PATCH /reports/{code}` by an officer of its agency: in progress, then resolved.
    ReportMove,
    /// SMS `ATTP <name>` to food-safety.
    SmsAttp,
    /// SMS `HS <code>` to permit-status.
    SmsHs,
    /// SMS `PA <text>` to report-submission: a report filed by SMS.
    SmsPa,
    /// SMS `TT <code>` to report-submission.
    SmsTt,
    /// A Telegram update to chat (Spin only).
    Chat,
    /// `PUT /permits/{code}` by the one-stop-shop system: a new dossier with a fee.
    DossierPush,
    /// The over-limit caller: a dossier lookup or an SMS, always the same subject or phone.
    Abuse,
    /// An order, then 10-20 identical VNPay IPNs at once.
    Storm,
}

/// The mix, with weights (Workers leave chat out and the others share its part).
const MIX: &[(Op, u32)] = &[
    (Op::FoodSearch, 20),
    (Op::FoodPlace, 8),
    (Op::Dossier, 12),
    (Op::ReportView, 8),
    (Op::ReportList, 5),
    (Op::ReportFile, 6),
    (Op::ReportMove, 7),
    (Op::SmsAttp, 5),
    (Op::SmsHs, 5),
    (Op::SmsPa, 2),
    (Op::SmsTt, 4),
    (Op::Chat, 8),
    (Op::DossierPush, 2),
    (Op::Abuse, 2),
];

/// Whether the partner receiver refuses (500) at `second` of the run: from 60 to 105 of every
/// 300.
fn fault_at(second: u64) -> bool {
    (60..105).contains(&(second % 300))
}

struct Options {
    minutes: u64,
    kinds: Vec<Kind>,
    /// Requests a second per runtime.
    rate: f64,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options { minutes: 60, kinds: vec![Kind::Spin, Kind::Workers], rate: 20.0 };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--minutes" => {
                o.minutes =
                    value()?.parse().ok().filter(|m| (1..=24 * 60).contains(m)).context("--minutes: 1 to 1440")?;
            }
            "--rate" => {
                o.rate = value()?.parse().ok().filter(|r| (0.5..=500.0).contains(r)).context("--rate: 0.5 to 500")?;
            }
            "--runtime" => {
                o.kinds = match value()?.as_str() {
                    "spin" => vec![Kind::Spin],
                    "workers" => vec![Kind::Workers],
                    "both" => vec![Kind::Spin, Kind::Workers],
                    other => bail!("--runtime {other}: spin, workers or both"),
                }
            }
            other => bail!("unknown option {other} (soak [--minutes N] [--runtime spin|workers|both] [--rate R])"),
        }
    }
    Ok(o)
}

/// `cargo xtask soak`: see the module docs.
pub fn run(args: &[String]) -> Result<()> {
    let o = options(args)?;
    let runtimes: Vec<Runtime> = o.kinds.iter().map(|k| Runtime::start(*k)).collect::<Result<_>>()?;
    let started = chrono::Utc::now();
    println!("soak: {} min at {} req/s per runtime ({})", o.minutes, o.rate, names(&runtimes));
    let clock = Instant::now();
    for rt in &runtimes {
        rt.stats().begin(clock, o.minutes);
    }
    let end = clock + Duration::from_secs(o.minutes * 60);
    std::thread::scope(|s| {
        for (i, rt) in runtimes.iter().enumerate() {
            load(s, rt, o.rate, end, i as u64);
        }
        monitor(&runtimes, clock, o.minutes);
    });
    println!("soak: load stopped; the receivers answer 200; draining the outboxes");
    let results: Vec<(String, Vec<Check>)> = std::thread::scope(|s| {
        let handles: Vec<_> = runtimes.iter().map(|rt| s.spawn(move || finish(rt, o.minutes))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| (String::new(), vec![Check::fail("panicked")])))
            .collect()
    });
    let mut md = format!(
        "`cargo xtask soak --minutes {} --runtime {} --rate {}`, {}: {}.\n\n",
        o.minutes,
        if o.kinds.len() == 2 { "both" } else { o.kinds[0].name() },
        o.rate,
        started.format("%Y-%m-%d %H:%M UTC"),
        machine()
    );
    md.push_str(&method_notes());
    let mut failed = 0;
    for (rt, (table, checks)) in runtimes.iter().zip(&results) {
        println!("\n== {}\n\n{table}", rt.kind.title());
        let _ = writeln!(md, "### {}\n\n{table}", rt.kind.title());
        for c in checks {
            println!("{}", c.line());
            let _ = writeln!(md, "- {}", c.line());
            failed += usize::from(!c.pass);
        }
        md.push('\n');
    }
    write_benchmarks(&md)?;
    drop(runtimes);
    if failed > 0 {
        bail!("{failed} soak check(s) failed");
    }
    Ok(())
}

fn names(runtimes: &[Runtime]) -> String {
    runtimes.iter().map(|r| r.kind.name()).collect::<Vec<_>>().join(" and ")
}

/// Starts one runtime's scheduler, clients and (on Workers) ticker in scope `s`, until `end`.
fn load<'scope>(s: &'scope std::thread::Scope<'scope, '_>, rt: &'scope Runtime, rate: f64, end: Instant, seed: u64) {
    let (tx, rx) = mpsc::sync_channel::<Op>(CLIENTS * 2);
    let rx = std::sync::Arc::new(Mutex::new(rx));
    s.spawn(move || dispatch(rt, &tx, rate, end, seed));
    for i in 0..CLIENTS {
        let rx = std::sync::Arc::clone(&rx);
        s.spawn(move || {
            let mut client = Client::new(rt, seed * 100 + i as u64 + 1);
            loop {
                let op = lock(&rx).recv();
                match op {
                    Ok(op) => client.run(op),
                    Err(_) => break,
                }
            }
        });
    }
    if rt.kind == Kind::Workers {
        s.spawn(move || ticker(rt, end));
    }
}

/// Hands one operation every 1/`rate` s to the clients until `end`; skips (and counts) one
/// they cannot take.
fn dispatch(rt: &Runtime, tx: &mpsc::SyncSender<Op>, rate: f64, end: Instant, seed: u64) {
    let mix: Vec<(Op, u32)> = MIX.iter().filter(|(op, _)| rt.kind == Kind::Spin || *op != Op::Chat).copied().collect();
    let total: u32 = mix.iter().map(|(_, w)| w).sum();
    let mut rng = Rng(0x50A4_0000_0000_0001 + seed);
    let step = Duration::from_secs_f64(1.0 / rate);
    let (mut next, mut storm) = (Instant::now(), Instant::now() + Duration::from_secs(5));
    while next < end {
        sleep_until(next);
        let op = if Instant::now() >= storm {
            storm += STORM_EVERY;
            Op::Storm
        } else {
            pick(&mix, u32::try_from(rng.below(total as usize)).unwrap_or(0))
        };
        if tx.try_send(op).is_err() {
            rt.stats().minute().skipped += 1;
        }
        next += step;
    }
}

/// The operation at `at` (below the sum of the weights) of `mix`.
fn pick(mix: &[(Op, u32)], mut at: u32) -> Op {
    for (op, weight) in mix {
        if at < *weight {
            return *op;
        }
        at -= weight;
    }
    Op::FoodSearch
}

/// Workers: every function's `POST <base>/tick` with a `system` token every [`TICK`].
fn ticker(rt: &Runtime, end: Instant) {
    let mut client = Client::new(rt, 7);
    let mut next = Instant::now();
    while next < end {
        sleep_until(next);
        for base in ["/food-safety", "/permits", "/payments", "/reports"] {
            let auth = bearer(&json!({"sub": "soak-scheduler", "roles": ["system"]}));
            client.call("tick", "POST", &format!("{base}/tick"), &[auth], b"", &[200]);
        }
        next += TICK;
    }
}

/// The main thread during the load: the fault windows, and a line a minute per runtime with
/// its resources sampled.
fn monitor(runtimes: &[Runtime], clock: Instant, minutes: u64) {
    for second in 1..=minutes * 60 {
        sleep_until(clock + Duration::from_secs(second));
        for rt in runtimes {
            rt.set_fault(fault_at(second));
        }
        if second % 60 == 0 {
            for rt in runtimes {
                let m = usize::try_from(second / 60 - 1).unwrap_or(0);
                rt.sample(m);
                println!("[{}] {}", rt.kind.name(), rt.stats().minute_line(m));
            }
        }
    }
}

fn sleep_until(t: Instant) {
    if let Some(wait) = t.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
}

/// A mutex's guard, also after a panic elsewhere (the data stays usable for the report).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------
// Runtimes

/// The processes of a runtime, stopped (and their temporary folder removed) on drop.
enum Procs {
    Spin { host: Option<Host>, data: PathBuf },
    Workers { children: Vec<Child>, dir: PathBuf },
}

impl Drop for Procs {
    fn drop(&mut self) {
        match self {
            Procs::Spin { host, data } => {
                drop(host.take());
                let _ = std::fs::remove_dir_all(data);
            }
            Procs::Workers { children, dir } => {
                children.iter_mut().for_each(load::stop_group);
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// One runtime under load: where its functions answer, its stand-ins, its processes and what
/// the load saw.
struct Runtime {
    kind: Kind,
    /// Route prefix (`/reports`) -> `host:port` serving it.
    addrs: BTreeMap<&'static str, String>,
    /// The partner's webhook endpoint (every event of reports, permits and payments).
    partner: Receiver,
    /// The SMS gateway the citizens' notifications go to.
    gateway: Receiver,
    procs: Procs,
    /// Numbers for distinct callers, message ids and Telegram updates.
    seq: AtomicU64,
    /// Dossiers pushed so far (their `NNNN`).
    pushes: AtomicU64,
    stats: Mutex<Stats>,
    ledger: Mutex<Ledger>,
    fault: Mutex<Fault>,
}

/// The injected fault of one runtime's partner receiver.
#[derive(Default)]
struct Fault {
    /// While refusing: how many requests the receiver had taken when it began.
    since: Option<usize>,
    /// Requests refused with 500.
    refused: usize,
    windows: usize,
}

/// The settings both runtimes get on top of the demo configuration.
fn settings(gateway: &Receiver) -> Vec<(String, String)> {
    [
        ("sms_gateway_url", format!("http://{}/sms", gateway.addr)),
        ("notify_allowed_hosts", "http://127.0.0.1:*".to_owned()),
        ("outbox_retry_schedule", RETRY_SCHEDULE.to_owned()),
        ("outbox_timeout_seconds", DELIVERY_TIMEOUT.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

impl Runtime {
    fn start(kind: Kind) -> Result<Runtime> {
        let partner = Receiver::start().context("partner receiver")?;
        let gateway = Receiver::start().context("SMS gateway stand-in")?;
        let (addrs, procs) = match kind {
            Kind::Spin => start_spin(&gateway)?,
            Kind::Workers => start_workers(&gateway)?,
        };
        let rt = Runtime {
            kind,
            addrs,
            partner,
            gateway,
            procs,
            seq: AtomicU64::new(1),
            pushes: AtomicU64::new(0),
            stats: Mutex::new(Stats::default()),
            ledger: Mutex::new(Ledger::new()),
            fault: Mutex::new(Fault::default()),
        };
        rt.register()?;
        Ok(rt)
    }

    /// Registers the partner receiver for every event of reports, permits and payments.
    fn register(&self) -> Result<()> {
        let offered: [(&str, &[civic::outbox::EventType]); 3] = [
            ("/reports", report_submission::notify::EVENTS),
            ("/permits", permit_status::EVENTS),
            ("/payments", payment_callback::EVENTS),
        ];
        for (base, events) in offered {
            let events: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
            let body = json!({"url": format!("http://{}/hook", self.partner.addr), "events": events});
            let (status, answer) = self.admin("POST", &format!("{base}/webhooks"), &body)?;
            if status != 201 {
                bail!("{}: registering the partner on {base}: {status} {answer}", self.kind.name());
            }
        }
        Ok(())
    }

    /// The address serving `path`.
    fn addr(&self, path: &str) -> &str {
        let end = path.get(1..).and_then(|p| p.find(['/', '?'])).map_or(path.len(), |i| i + 1);
        self.addrs.get(&path[..end]).map_or("", String::as_str)
    }

    /// One request as an admin on a fresh connection (setup and checks; not recorded).
    fn admin(&self, method: &str, path: &str, body: &Value) -> Result<(u16, Value)> {
        let auth = bearer(&json!({"sub": "soak-admin", "roles": ["admin"]}));
        let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        let headers = [auth, ("content-type".into(), "application/json".into())];
        let (status, answer) = Conn::open(self.addr(path)).exchange(method, path, &headers, &body)?;
        Ok((status, serde_json::from_slice(&answer).unwrap_or(Value::Null)))
    }

    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.stats)
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }

    /// Makes the partner receiver refuse (500) or accept (200), counting what it refused.
    fn set_fault(&self, on: bool) {
        let mut f = lock(&self.fault);
        match (on, f.since) {
            (true, None) => {
                f.since = Some(self.partner.received().len());
                f.windows += 1;
                self.partner.answer(500);
            }
            (false, Some(since)) => {
                self.partner.answer(200);
                f.refused += self.partner.received().len().saturating_sub(since);
                f.since = None;
            }
            _ => {}
        }
    }

    /// Records the resources at the end of minute `m`.
    fn sample(&self, m: usize) {
        let (rss_kb, anon_kb) = match &self.procs {
            Procs::Spin { host, .. } => host.as_ref().map_or((0, 0), |h| vm_rss_kb(h.pid())),
            Procs::Workers { children, .. } => {
                children.iter().map(|c| group_rss_kb(c.id())).fold((0, 0), |(r, a), (x, y)| (r + x, a + y))
            }
        };
        let dir = match &self.procs {
            Procs::Spin { data, .. } => data,
            Procs::Workers { dir, .. } => dir,
        };
        let (db, wal) = db_bytes(dir, 0);
        if let Some(minute) = self.stats().minutes.get_mut(m) {
            (minute.rss_kb, minute.anon_kb, minute.db_bytes, minute.wal_bytes) = (rss_kb, anon_kb, db, wal);
        }
    }
}

/// Spin: the components built, the demo data migrated into a temporary folder, civic-host
/// with `--tick` and the soak's settings as `SPIN_VARIABLE_<NAME>`.
fn start_spin(gateway: &Receiver) -> Result<(BTreeMap<&'static str, String>, Procs)> {
    build::spin_all()?;
    let data = std::env::temp_dir().join(format!("civic-soak-spin-{}", std::process::id()));
    crate::up::migrate(&["--data".into(), data.display().to_string(), "--demo".into()])?;
    let envs: Vec<(String, String)> =
        settings(gateway).into_iter().map(|(k, v)| (format!("SPIN_VARIABLE_{}", k.to_uppercase()), v)).collect();
    let tick = TICK.as_secs().to_string();
    let host = Host::start_with(&data, &["--tick", &tick], &envs)?;
    println!("spin: civic-host on {} (pid {}), ready in {:.1} s", host.addr, host.pid(), host.ready_in.as_secs_f64());
    let addrs = FUNCTIONS.iter().map(|f| (f.base, host.addr.clone())).collect();
    Ok((addrs, Procs::Spin { host: Some(host), data }))
}

/// Workers: each of [`SOAKED`] built and served by miniflare with the demo configuration and
/// the soak's settings; functions that share databases (permit-status and payment-callback)
/// in one miniflare process, so they share each D1 object as on Cloudflare.
fn start_workers(gateway: &Receiver) -> Result<(BTreeMap<&'static str, String>, Procs)> {
    let mut groups: Vec<Vec<&Function>> = Vec::new();
    for f in FUNCTIONS.iter().filter(|f| SOAKED.contains(&f.name)) {
        build::worker(f.name)?;
        match groups.iter_mut().find(|g| g[0].dbs.iter().any(|d| f.dbs.contains(d))) {
            Some(g) => g.push(f),
            None => groups.push(vec![f]),
        }
    }
    let mut vars = crate::up::demo_variables()?;
    vars.extend(settings(gateway));
    let dir = std::env::temp_dir().join(format!("civic-soak-workers-{}", std::process::id()));
    let mut procs = Procs::Workers { children: Vec::new(), dir: dir.clone() };
    let mut addrs = BTreeMap::new();
    for group in groups {
        let state = dir.join(group[0].name);
        load::prepare_d1(group[0], &state)?;
        let (child, addr) = load::serve_miniflare(group[0], &group[1..], &state, &vars)?;
        let names: Vec<&str> = group.iter().map(|f| f.name).collect();
        println!("workers: {} on miniflare at {addr} (process group {})", names.join(" and "), child.id());
        if let Procs::Workers { children, .. } = &mut procs {
            children.push(child);
        }
        addrs.extend(group.iter().map(|f| (f.base, addr.clone())));
    }
    Ok((addrs, procs))
}

/// Resident memory of a process (KiB; 0 when it is gone): `VmRSS` and its anonymous part
/// (`RssAnon`: the heap, not the page cache of mapped files such as memory-mapped databases
/// and the binary).
fn vm_rss_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

/// The summed resident memory (KiB, [`vm_rss_kb`]) of the processes of process group
/// `pgid` (miniflare: node and workerd).
fn group_rss_kb(pgid: u32) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir("/proc") else { return (0, 0) };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid pgrp ...`; comm may hold spaces, so read after the last ')'.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
        })
        .map(vm_rss_kb)
        .fold((0, 0), |(rss, anon), (r, a)| (rss + r, anon + a))
}

/// The bytes of the SQLite files under `dir` (`*.db`, `*.sqlite`) and of their WALs (`*-wal`).
fn db_bytes(dir: &Path, depth: usize) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else { return (0, 0) };
    let mut sum = (0, 0);
    for e in entries.flatten() {
        let (path, Ok(meta)) = (e.path(), e.metadata()) else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        if meta.is_dir() && depth < 6 {
            let (db, wal) = db_bytes(&path, depth + 1);
            sum = (sum.0 + db, sum.1 + wal);
        } else if name.ends_with("-wal") {
            sum.1 += meta.len();
        } else if name.ends_with(".db") || name.ends_with(".sqlite") {
            sum.0 += meta.len();
        }
    }
    sum
}

// ---------------------------------------------------------------------------------------
// What the load saw

/// One minute of load.
#[derive(Default)]
struct Minute {
    requests: u64,
    /// Every request's latency (µs).
    latencies: Vec<u32>,
    /// Unexpected answers by kind: `<class> <status>` or `<class> transport`, and failed
    /// expectations (`payment.ipn: 2 settlements`).
    errors: BTreeMap<String, u64>,
    /// Unexpected 5xx answers (of the services: the injected fault is the receiver's).
    server_errors: u64,
    transport: u64,
    /// Expected 429s of the over-limit caller.
    limited: u64,
    /// The over-limit caller's SMS answered with no reply.
    silenced: u64,
    /// Operations skipped because every client was busy.
    skipped: u64,
    /// At the minute's end: resident memory and its anonymous part (KiB), database and WAL
    /// files (bytes).
    rss_kb: u64,
    anon_kb: u64,
    db_bytes: u64,
    wal_bytes: u64,
}

#[derive(Default)]
struct Stats {
    started: Option<Instant>,
    minutes: Vec<Minute>,
    /// The first answer of each error kind (truncated), to see what it was.
    examples: BTreeMap<String, String>,
}

/// How a request ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// 429 where it was expected.
    Limited,
    Unexpected(u16),
    Transport,
}

impl Stats {
    fn begin(&mut self, clock: Instant, minutes: u64) {
        self.started = Some(clock);
        self.minutes = (0..minutes).map(|_| Minute::default()).collect();
    }

    /// The current minute (the last one after the end).
    fn minute(&mut self) -> &mut Minute {
        let at = self.started.map_or(0, |s| s.elapsed().as_secs() / 60);
        let last = self.minutes.len().saturating_sub(1);
        let i = usize::try_from(at).unwrap_or(last).min(last);
        if self.minutes.is_empty() {
            self.minutes.push(Minute::default());
        }
        &mut self.minutes[i]
    }

    fn record(&mut self, class: &str, outcome: Outcome, micros: u32, answer: &[u8]) {
        let m = self.minute();
        m.requests += 1;
        m.latencies.push(micros);
        let kind = match outcome {
            Outcome::Ok => return,
            Outcome::Limited => {
                m.limited += 1;
                return;
            }
            Outcome::Unexpected(status) => {
                m.server_errors += u64::from(status >= 500);
                format!("{class} {status}")
            }
            Outcome::Transport => {
                m.transport += 1;
                format!("{class} transport")
            }
        };
        *m.errors.entry(kind.clone()).or_default() += 1;
        let text: String = String::from_utf8_lossy(answer).chars().take(300).collect();
        self.examples.entry(kind).or_insert(text);
    }

    /// A failed expectation that is not one answer's status.
    fn error(&mut self, kind: String, detail: String) {
        *self.minute().errors.entry(kind.clone()).or_default() += 1;
        self.examples.entry(kind).or_insert(detail);
    }

    fn minute_line(&self, m: usize) -> String {
        let Some(x) = self.minutes.get(m) else { return String::new() };
        let row = Row::of(std::slice::from_ref(x), 60);
        format!(
            "minute {:>3}: {:>6.1} req/s, p50 {:>6.1} ms, p99 {:>7.1} ms, errors {}, 429 expected {}, skipped {}, \
             RSS {:.1} MB (anonymous {:.1}), DB {:.1} MB, WAL {:.1} MB",
            m + 1,
            row.rate,
            row.p50,
            row.p99,
            row.errors,
            x.limited,
            x.skipped,
            mb(x.rss_kb * 1024),
            mb(x.anon_kb * 1024),
            mb(x.db_bytes),
            mb(x.wal_bytes)
        )
    }
}

#[allow(clippy::cast_precision_loss)]
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// One line of the table: minutes merged.
struct Row {
    /// Requests a second.
    rate: f64,
    /// Latency percentiles (ms).
    p50: f64,
    p99: f64,
    /// Errors, `kind ×n` joined, or `none`.
    errors: String,
}

impl Row {
    #[allow(clippy::cast_precision_loss)]
    fn of(minutes: &[Minute], seconds: u64) -> Row {
        let mut lat: Vec<u32> = minutes.iter().flat_map(|m| m.latencies.iter().copied()).collect();
        lat.sort_unstable();
        let pct = |q: f64| {
            let i = ((lat.len().saturating_sub(1)) as f64 * q).round() as usize;
            f64::from(lat.get(i).copied().unwrap_or(0)) / 1000.0
        };
        let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
        for (k, n) in minutes.iter().flat_map(|m| m.errors.iter()) {
            *errors.entry(k).or_default() += n;
        }
        let errors = if errors.is_empty() {
            "none".to_owned()
        } else {
            errors.iter().map(|(k, n)| format!("{k} ×{n}")).collect::<Vec<_>>().join("; ")
        };
        let requests: u64 = minutes.iter().map(|m| m.requests).sum();
        Row { rate: requests as f64 / seconds as f64, p50: pct(0.5), p99: pct(0.99), errors }
    }
}

/// What the soak did that the checks account for.
struct Ledger {
    /// Filed reports by code.
    reports: BTreeMap<String, Filed>,
    /// Their codes, in filing order.
    codes: Vec<String>,
    /// Reports waiting for their next move.
    to_move: VecDeque<String>,
    /// Dossiers pushed (each tells its applicant by SMS and the partner by one event).
    pushed: Vec<String>,
    /// Dossiers with a fee no order has paid yet.
    unpaid: VecDeque<String>,
    storms: Vec<Storm>,
}

struct Filed {
    /// The agency answering it (read when first moved, for a report filed by SMS).
    agency: Option<String>,
    /// Its status after the last move that succeeded.
    status: &'static str,
    moves: u32,
    /// A move's answer was lost: its status is not known.
    uncertain: bool,
    by_sms: bool,
}

struct Storm {
    order_id: String,
    ipns: usize,
    /// IPNs answered `00` (settled); the rest must be `02` (already confirmed).
    settled: usize,
    other: usize,
}

impl Ledger {
    fn new() -> Ledger {
        let today = civic::web::vn_today(chrono::Utc::now());
        let unpaid = crate::demo::permits::dossiers(crate::demo::permits::COUNT, today)
            .into_iter()
            .filter(|d| d.fee_vnd > 0 && !d.paid)
            .map(|d| d.code)
            .collect();
        Ledger {
            reports: BTreeMap::new(),
            codes: Vec::new(),
            to_move: VecDeque::new(),
            pushed: Vec::new(),
            unpaid,
            storms: Vec::new(),
        }
    }

    fn filed(&mut self, code: String, agency: Option<String>, by_sms: bool) {
        let filed = Filed { agency, status: "received", moves: 0, uncertain: false, by_sms };
        if self.reports.insert(code.clone(), filed).is_none() {
            self.codes.push(code.clone());
            self.to_move.push_back(code);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The operations

/// Signs a bearer token with the demo configuration's HS256 secret, issuer and audience,
/// valid an hour; `claims` adds `sub`, `roles`, `agency`... Returns the header.
fn bearer(claims: &Value) -> (String, String) {
    let (secret, iss, aud) = (demo("jwt_hs256_secret"), demo("jwt_issuer"), demo("jwt_audience"));
    let now = chrono::Utc::now().timestamp();
    let mut all = json!({"iss": iss, "aud": aud, "iat": now, "nbf": now, "exp": now + 3600});
    if let (Some(a), Some(c)) = (all.as_object_mut(), claims.as_object()) {
        a.extend(c.clone());
    }
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &all, &key).unwrap_or_default();
    ("authorization".into(), format!("Bearer {token}"))
}

fn citizen(sub: &str) -> (String, String) {
    bearer(&json!({"sub": sub, "roles": ["citizen"]}))
}

fn json_type() -> (String, String) {
    ("content-type".into(), "application/json".into())
}

/// The `n`-th caller of a kind that makes `per` requests each (`soak-<kind>-<n/per>`).
fn subject(kind: &str, n: u64, per: u64) -> String {
    format!("soak-{kind}-{}", n / per)
}

/// A mobile number, international form (`8490` and seven digits).
fn phone(n: u64) -> String {
    format!("8490{:07}", n % 10_000_000)
}

/// Now in Vietnam time, RFC 3339 (`2026-07-01T09:00:00+07:00`), moved by `hours`.
fn vn(hours: i64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::hours(hours);
    let secs = chrono::SecondsFormat::Secs;
    chrono::FixedOffset::east_opt(7 * 3600)
        .map_or_else(|| at.to_rfc3339_opts(secs, true), |vn| at.with_timezone(&vn).to_rfc3339_opts(secs, false))
}

/// The search paths (misspelled demo names) and place ids the load goes round.
struct Food {
    searches: Vec<String>,
    names: Vec<String>,
    ids: Vec<String>,
}

fn food() -> &'static Food {
    static FOOD: std::sync::OnceLock<Food> = std::sync::OnceLock::new();
    FOOD.get_or_init(|| {
        let all = food_safety::demo::establishments(food_safety::demo::COUNT);
        let mut rng = Rng(2026);
        let names: Vec<String> = (0..500).map(|_| food_safety::demo::misspelled(&all, &mut rng).0).collect();
        let searches = names
            .iter()
            .map(|q| {
                format!(
                    "/food-safety/establishments?q={}&limit=10",
                    form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
                )
            })
            .collect();
        let ids = all.iter().filter_map(|e| e["id"].as_str().map(str::to_owned)).collect();
        Food { searches, names, ids }
    })
}

/// The demo dossiers' codes (lookups, `HS`).
fn dossiers() -> &'static [String] {
    static CODES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    CODES.get_or_init(|| {
        let today = civic::web::vn_today(chrono::Utc::now());
        crate::demo::permits::dossiers(crate::demo::permits::COUNT, today).into_iter().map(|d| d.code).collect()
    })
}

/// One client thread: its connections (one per address, kept alive) and its dice.
struct Client<'a> {
    rt: &'a Runtime,
    conns: HashMap<String, Conn>,
    rng: Rng,
}

impl<'a> Client<'a> {
    fn new(rt: &'a Runtime, seed: u64) -> Client<'a> {
        Client { rt, conns: HashMap::new(), rng: Rng(0x9E37_79B9_0000_0000 ^ seed) }
    }

    /// One request, timed and recorded under `class`; `ok` lists the right statuses (a 429
    /// among them counts as an expected limit). The status and body; `None` after a
    /// transport error.
    fn call(
        &mut self,
        class: &str,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
        ok: &[u16],
    ) -> Option<(u16, Vec<u8>)> {
        let addr = self.rt.addr(path).to_owned();
        let conn = self.conns.entry(addr.clone()).or_insert_with(|| Conn::open(&addr));
        let t = Instant::now();
        let answer = conn.exchange(method, path, headers, body);
        let micros = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
        let (outcome, text) = match &answer {
            Ok((429, b)) if ok.contains(&429) => (Outcome::Limited, b.clone()),
            Ok((s, b)) if ok.contains(s) => (Outcome::Ok, b.clone()),
            Ok((s, b)) => (Outcome::Unexpected(*s), b.clone()),
            Err(e) => (Outcome::Transport, format!("{e:#}").into_bytes()),
        };
        let text = if outcome == Outcome::Ok { &[][..] } else { &text[..] };
        self.rt.stats().record(class, outcome, micros, text);
        if answer.is_err() {
            self.conns.remove(&addr);
        }
        answer.ok()
    }

    fn get(&mut self, class: &str, path: &str, headers: &[(String, String)]) -> Option<(u16, Vec<u8>)> {
        self.call(class, "GET", path, headers, b"", &[200])
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::FoodSearch => {
                let path = self.rng.pick(&food().searches).clone();
                self.get("food.search", &path, &[]);
            }
            Op::FoodPlace => {
                let id = self.rng.pick(&food().ids).clone();
                self.get("food.place", &format!("/food-safety/establishments/{id}"), &[]);
            }
            Op::Dossier => {
                let code = self.rng.pick(dossiers()).clone();
                let auth = citizen(&subject("lookup", self.rt.next(), 50));
                self.get("permit.lookup", &format!("/permits/{code}"), &[auth]);
            }
            Op::ReportView => self.report_view(),
            Op::ReportList => {
                let path = if self.rng.below(2) == 0 { "/reports?status=open&limit=20" } else { "/reports/stats" };
                self.get("report.list", path, &[]);
            }
            Op::ReportFile => self.report_file(),
            Op::ReportMove => self.report_move(),
            Op::SmsAttp | Op::SmsHs | Op::SmsPa | Op::SmsTt => self.sms_command(op),
            Op::Chat => self.chat(),
            Op::DossierPush => self.dossier_push(),
            Op::Abuse => self.abuse(),
            Op::Storm => self.storm(),
        }
    }

    /// A filed report's code (or the demo's first report of the day when none is filed yet).
    fn some_report(&mut self) -> String {
        let l = self.rt.ledger();
        if l.codes.is_empty() {
            return format!("PA-{}-0001", civic::web::vn_today(chrono::Utc::now()).format("%y%m%d"));
        }
        let i = self.rng.below(l.codes.len());
        l.codes[i].clone()
    }

    fn report_view(&mut self) {
        let code = self.some_report();
        self.get("report.view", &format!("/reports/{code}"), &[]);
    }

    fn report_file(&mut self) {
        let n = self.rt.next();
        #[allow(clippy::cast_precision_loss)]
        let (lat, lng) = (15.95 + (n % 250) as f64 * 0.001, 108.0 + ((n / 250) % 300) as f64 * 0.001);
        let body = json!({"category": "road-damage", "description": format!("Ổ gà lớn, lần soak {n}"),
            "lat": lat, "lng": lng, "phone": format!("090{:07}", n % 10_000_000)});
        let headers = [citizen(&subject("reporter", n, 5)), json_type()];
        let answer = self.call("report.file", "POST", "/reports", &headers, body.to_string().as_bytes(), &[201]);
        if let Some((201, body)) = answer {
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            let agency = v["agency"]["code"].as_str().or(v["agency"].as_str()).map(str::to_owned);
            if let Some(code) = v["code"].as_str() {
                self.rt.ledger().filed(code.to_owned(), agency, false);
            }
        }
    }

    /// The next move of the report longest waiting: in progress, then resolved.
    fn report_move(&mut self) {
        let next = self.rt.ledger().to_move.pop_front();
        let Some(code) = next else { return self.report_view() };
        let known = self.rt.ledger().reports.get(&code).map(|f| (f.agency.clone(), f.status));
        let Some((agency, status)) = known else { return };
        let agency = match agency {
            Some(a) => a,
            None => {
                let Some((200, body)) = self.get("report.view", &format!("/reports/{code}"), &[]) else { return };
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                let a = v["agency"]["code"].as_str().unwrap_or_default().to_owned();
                if let Some(f) = self.rt.ledger().reports.get_mut(&code) {
                    f.agency = Some(a.clone());
                }
                a
            }
        };
        let next = if status == "received" { "in_progress" } else { "resolved" };
        let headers = [bearer(&json!({"sub": "soak-officer", "roles": ["officer"], "agency": agency})), json_type()];
        let body = json!({"status": next, "note": format!("soak: {next}")}).to_string();
        let answer = self.call("report.move", "PATCH", &format!("/reports/{code}"), &headers, body.as_bytes(), &[200]);
        let mut l = self.rt.ledger();
        let requeue = {
            let Some(f) = l.reports.get_mut(&code) else { return };
            match answer {
                Some((200, _)) => {
                    (f.status, f.moves) = (next, f.moves + 1);
                    next == "in_progress"
                }
                Some(_) => false,
                None => {
                    f.uncertain = true;
                    false
                }
            }
        };
        if requeue {
            l.to_move.push_back(code);
        }
    }

    /// A signed SMS from `from` to `path`; the reply (`Null` when none).
    fn sms(&mut self, class: &str, path: &str, from: &str, text: &str) -> Option<Value> {
        let id = format!("soak-{}-{}", self.rt.kind.name(), self.rt.next());
        let body = json!({"id": id, "from": from, "to": "8188", "text": text}).to_string();
        let secret = demo("sms_webhook_secret");
        let sig = civic::auth::hmac_sha256_hex(secret.as_bytes(), body.as_bytes());
        let headers = [("x-signature".to_owned(), sig), json_type()];
        let (_, answer) = self.call(class, "POST", path, &headers, body.as_bytes(), &[200]).filter(|a| a.0 == 200)?;
        Some(serde_json::from_slice::<Value>(&answer).unwrap_or_default()["reply"].clone())
    }

    fn sms_command(&mut self, op: Op) {
        let n = self.rt.next();
        let from = phone(n / 5);
        let (class, path, text) = match op {
            Op::SmsAttp => ("sms.attp", "/food-safety/sms", format!("ATTP {}", self.rng.pick(&food().names))),
            Op::SmsHs => ("sms.hs", "/permits/sms", format!("HS {}", self.rng.pick(dossiers()))),
            Op::SmsPa => {
                ("sms.pa", "/reports/sms", format!("PA o ga lon truoc nha {} Tran Phu, Hai Chau", n % 500 + 1))
            }
            _ => ("sms.tt", "/reports/sms", format!("TT {}", self.some_report())),
        };
        let reply = self.sms(class, path, &from, &text);
        if op == Op::SmsPa
            && let Some(reply) = reply
        {
            let text = reply.as_str().unwrap_or_default();
            match report_codes(text).into_iter().next() {
                Some(code) => self.rt.ledger().filed(code, None, true),
                None => self.rt.stats().error("sms.pa: no report code in the reply".into(), text.to_owned()),
            }
        }
    }

    /// A Telegram update from one of many chats: `ATTP`, `HS`, `TT` or a greeting.
    fn chat(&mut self) {
        let n = self.rt.next();
        let text = match n % 4 {
            0 => format!("ATTP {}", self.rng.pick(&food().names)),
            1 => format!("HS {}", self.rng.pick(dossiers())),
            2 => format!("TT {}", self.some_report()),
            _ => "xin chào".to_owned(),
        };
        let chat = 6_200_000_000 + i64::try_from(n / 10).unwrap_or(0);
        let now = chrono::Utc::now().timestamp();
        let update = json!({"update_id": 10_000_000 + n, "message": {"message_id": n,
            "from": {"id": chat, "is_bot": false, "first_name": "Lan", "language_code": "vi"},
            "chat": {"id": chat, "first_name": "Lan", "type": "private"}, "date": now, "text": text}});
        let secret = demo("telegram_secret_token").to_owned();
        let headers = [("x-telegram-bot-api-secret-token".to_owned(), secret), json_type()];
        self.call("chat.telegram", "POST", "/chat/telegram", &headers, update.to_string().as_bytes(), &[200]);
    }

    /// A new dossier with a fee from the one-stop-shop system: its applicant is told by SMS,
    /// the partner by `dossier.status_changed`; a later storm pays it.
    fn dossier_push(&mut self) {
        let k = self.rt.pushes.fetch_add(1, Ordering::Relaxed) + 1;
        if k > 9_999 {
            return self.report_view();
        }
        let today = civic::web::vn_today(chrono::Utc::now()).format("%y%m%d");
        let code = format!("{PUSHED_AGENCY}-{today}-{k:04}");
        let body = json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
            "field": "Xây dựng", "agency": "UBND quận Hải Châu",
            "applicant": {"name": "Nguyễn Văn An", "phone": phone(6_000_000 + k), "kind": "citizen"},
            "received_at": vn(-1), "due_at": vn(240), "status": 2, "status_at": vn(0), "note": null,
            "result_at": null, "fee_vnd": 50_000});
        let headers = [bearer(&json!({"sub": "soak-one-stop-shop", "roles": ["system"]})), json_type()];
        let answer = self.call(
            "permit.push",
            "PUT",
            &format!("/permits/{code}"),
            &headers,
            body.to_string().as_bytes(),
            &[200, 201],
        );
        if matches!(answer, Some((200 | 201, _))) {
            let mut l = self.rt.ledger();
            l.pushed.push(code.clone());
            l.unpaid.push_back(code);
        }
    }

    /// The over-limit caller: a dossier lookup (429 past `dossier_lookup`) or an SMS (no
    /// reply past `sms`), always the same subject or phone.
    fn abuse(&mut self) {
        if self.rt.next().is_multiple_of(2) {
            let path = format!("/permits/{DEMO_DOSSIER}");
            self.call("abuse.lookup", "GET", &path, &[citizen(ABUSER_SUB)], b"", &[200, 429]);
        } else if let Some(Value::Null) = self.sms("abuse.sms", "/food-safety/sms", ABUSER_PHONE, "ATTP pho ba hoa") {
            self.rt.stats().minute().silenced += 1;
        }
    }

    /// An order for an unpaid dossier, then 10-20 identical signed IPNs at once: exactly one
    /// must settle it (`00`), the rest be told it already is (`02`).
    fn storm(&mut self) {
        let next = self.rt.ledger().unpaid.pop_front();
        let Some(dossier) = next else { return self.report_view() };
        let n = self.rt.next();
        let headers = [citizen(&subject("payer", n, 5)), json_type()];
        let body = json!({"dossier_code": dossier, "provider": "vnpay"}).to_string();
        let Some((201, created)) =
            self.call("payment.order", "POST", "/payments/orders", &headers, body.as_bytes(), &[201])
        else {
            return;
        };
        let order: Value = serde_json::from_slice(&created).unwrap_or_default();
        let Ok(path) = load::vnpay_ipn_path(&order, usize::try_from(n).unwrap_or(0)) else { return };
        let width = 10 + self.rng.below(11);
        let codes = fire(self.rt, &path, width);
        let settled = codes.iter().filter(|c| *c == "00").count();
        let other = codes.iter().filter(|c| *c != "00" && *c != "02").count();
        let order_id = order["order_id"].as_str().unwrap_or_default().to_owned();
        if settled != 1 || other > 0 {
            let kind = format!("payment.storm: {settled} settled, {other} other answers");
            self.rt.stats().error(kind, format!("{order_id}: {codes:?}"));
        }
        self.rt.ledger().storms.push(Storm { order_id, ipns: width, settled, other });
    }
}

/// `width` identical IPNs at once, each on its own connection opened beforehand; their
/// `RspCode`s (`transport` for a lost one).
fn fire(rt: &Runtime, path: &str, width: usize) -> Vec<String> {
    let addr = rt.addr(path).to_owned();
    let barrier = std::sync::Barrier::new(width);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..width)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = Conn::open(&addr);
                    let _ = conn.exchange("GET", "/payments/health", &[], b"");
                    barrier.wait();
                    let t = Instant::now();
                    let answer = conn.exchange("GET", path, &[], b"");
                    let micros = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
                    match answer {
                        Ok((status, body)) => {
                            let outcome = if status == 200 { Outcome::Ok } else { Outcome::Unexpected(status) };
                            rt.stats().record("payment.ipn", outcome, micros, &body);
                            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                            v["RspCode"].as_str().unwrap_or("?").to_owned()
                        }
                        Err(e) => {
                            rt.stats().record("payment.ipn", Outcome::Transport, micros, format!("{e:#}").as_bytes());
                            "transport".to_owned()
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap_or_else(|_| "panicked".into())).collect()
    })
}

/// A setting of the demo configuration (`""` when unset), as both runtimes have it.
fn demo(name: &str) -> &'static str {
    static VARS: std::sync::OnceLock<BTreeMap<String, String>> = std::sync::OnceLock::new();
    let vars = VARS.get_or_init(|| crate::up::demo_variables().unwrap_or_default());
    vars.get(name).map_or("", String::as_str)
}

/// The report codes (`PA-YYMMDD-NNNN`) in a text.
fn report_codes(text: &str) -> Vec<String> {
    codes_after(text, "PA-")
}

/// The codes starting with `prefix` in `text`: the prefix and what follows of ASCII letters,
/// digits, `-` and `.`, without a trailing `-` or `.`.
fn codes_after(text: &str, prefix: &str) -> Vec<String> {
    text.match_indices(prefix)
        .map(|(at, _)| {
            let code: String =
                text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.').collect();
            code.trim_end_matches(['-', '.']).to_owned()
        })
        .filter(|c| c.len() > prefix.len() + 6)
        .collect()
}

// ---------------------------------------------------------------------------------------
// The end: drain, check, report

/// One PASS/FAIL (or INFO) line.
struct Check {
    pass: bool,
    /// A figure, not a check: never fails.
    info: bool,
    text: String,
}

impl Check {
    fn new(pass: bool, text: impl Into<String>) -> Check {
        Check { pass, info: false, text: text.into().trim_end().to_owned() }
    }

    fn fail(text: &str) -> Check {
        Check::new(false, text)
    }

    fn info(text: impl Into<String>) -> Check {
        Check { pass: true, info: true, text: text.into() }
    }

    fn line(&self) -> String {
        let label = match (self.info, self.pass) {
            (true, _) => "INFO",
            (false, true) => "PASS",
            (false, false) => "FAIL",
        };
        format!("{label} {}", self.text)
    }
}

/// After the load: the receiver answers 200, the outboxes drain, the checks run. The table
/// and the checks.
fn finish(rt: &Runtime, minutes: u64) -> (String, Vec<Check>) {
    rt.set_fault(false);
    let mut checks = vec![drain(rt)];
    checks.push(check_dead(rt));
    checks.push(check_payments(rt));
    checks.push(check_reports(rt));
    checks.extend(check_events(rt));
    checks.push(check_sms(rt));
    checks.extend(check_errors(rt));
    (table(rt, minutes), checks)
}

/// The bases whose functions have an outbox.
const OUTBOXES: [&str; 3] = ["/reports", "/permits", "/payments"];

/// Ticks every outbox until none has a pending delivery, for at most [`DRAIN_LIMIT`].
fn drain(rt: &Runtime) -> Check {
    let started = Instant::now();
    let system = bearer(&json!({"sub": "soak-scheduler", "roles": ["system"]}));
    let mut pending = 0;
    while started.elapsed() < DRAIN_LIMIT {
        pending = 0;
        for base in OUTBOXES {
            let _ =
                Conn::open(rt.addr(base)).exchange("POST", &format!("{base}/tick"), std::slice::from_ref(&system), b"");
            let list = rt.admin("GET", &format!("{base}/outbox?state=pending&limit=200"), &Value::Null);
            pending += list.map_or(1, |(_, v)| v.as_array().map_or(1, Vec::len));
        }
        if pending == 0 {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let secs = started.elapsed().as_secs();
    Check::new(pending == 0, format!("outboxes drained: {pending} deliveries pending after {secs} s of ticks"))
}

fn check_dead(rt: &Runtime) -> Check {
    let mut dead = Vec::new();
    for base in OUTBOXES {
        match rt.admin("GET", &format!("{base}/outbox?state=dead&limit=200"), &Value::Null) {
            Ok((200, v)) => dead.extend(v.as_array().cloned().unwrap_or_default()),
            other => return Check::fail(&format!("dead deliveries of {base}: {other:?}")),
        }
    }
    let f = lock(&rt.fault);
    let text = format!(
        "no delivery dead: {} dead; the injected fault refused {} partner requests (500) in {} fault window(s)",
        dead.len(),
        f.refused,
        f.windows
    );
    Check::new(dead.is_empty(), text)
}

/// Every storm settled its order exactly once, and every such order is `paid`.
fn check_payments(rt: &Runtime) -> Check {
    let storms: Vec<(String, usize, usize, usize)> =
        rt.ledger().storms.iter().map(|s| (s.order_id.clone(), s.ipns, s.settled, s.other)).collect();
    let ipns: usize = storms.iter().map(|s| s.1).sum();
    let not_once = storms.iter().filter(|s| s.2 != 1 || s.3 > 0).count();
    let mut not_paid = Vec::new();
    for (id, ..) in storms.iter().filter(|s| s.2 >= 1) {
        match rt.admin("GET", &format!("/payments/orders/{id}"), &Value::Null) {
            Ok((200, v)) if v["state"] == "paid" => {}
            other => not_paid.push(format!("{id}: {other:?}")),
        }
    }
    let text = format!(
        "payments: {} storms ({ipns} IPNs); settled other than exactly once: {not_once}; settled orders not paid: {} {}",
        storms.len(),
        not_paid.len(),
        not_paid.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
    );
    Check::new(not_once == 0 && not_paid.is_empty() && !storms.is_empty(), text)
}

/// Every report filed exists with the status it was last moved to.
fn check_reports(rt: &Runtime) -> Check {
    let reports: Vec<(String, &'static str, bool, bool)> =
        rt.ledger().reports.iter().map(|(c, f)| (c.clone(), f.status, f.uncertain, f.by_sms)).collect();
    let mut wrong = Vec::new();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    let mut conn = Conn::open(rt.addr("/reports"));
    for (code, status, uncertain, _) in &reports {
        *by_status.entry(status).or_default() += 1;
        match conn.exchange("GET", &format!("/reports/{code}"), &[], b"") {
            Ok((200, body)) => {
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                if !*uncertain && v["status"] != *status {
                    wrong.push(format!("{code}: {} (want {status})", v["status"]));
                }
            }
            Ok((s, body)) => wrong.push(format!("{code}: {s} {}", String::from_utf8_lossy(&body))),
            Err(e) => wrong.push(format!("{code}: {e:#}")),
        }
    }
    let by_sms = reports.iter().filter(|r| r.3).count();
    let text = format!(
        "reports: {} filed ({by_sms} by SMS), by last status {by_status:?}; missing or in another status: {} {}",
        reports.len(),
        wrong.len(),
        wrong.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
    );
    Check::new(wrong.is_empty() && !reports.is_empty(), text)
}

/// What the checks expect to have been told: (event type, subject) -> how many events.
fn expected_events(rt: &Runtime) -> BTreeMap<(&'static str, String), usize> {
    let l = rt.ledger();
    let mut want = BTreeMap::new();
    for (code, f) in &l.reports {
        want.insert(("report.created", code.clone()), 1);
        if f.moves > 0 && !f.uncertain {
            want.insert(("report.status_changed", code.clone()), f.moves as usize);
        }
    }
    for code in &l.pushed {
        want.insert(("dossier.status_changed", code.clone()), 1);
    }
    for s in l.storms.iter().filter(|s| s.settled >= 1) {
        want.insert(("payment.settled", s.order_id.clone()), 1);
    }
    want
}

/// The partner got every event, each under one `webhook-id` with one body.
fn check_events(rt: &Runtime) -> Vec<Check> {
    let got = rt.partner.received();
    let mut bodies: BTreeMap<&str, BTreeSet<&[u8]>> = BTreeMap::new();
    let mut ids: BTreeMap<(String, String), BTreeSet<&str>> = BTreeMap::new();
    for g in &got {
        let id = g.header("webhook-id");
        bodies.entry(id).or_default().insert(&g.body);
        let v = g.json();
        let subject = v["data"]["code"].as_str().or(v["data"]["order_id"].as_str()).unwrap_or_default();
        ids.entry((v["type"].as_str().unwrap_or_default().to_owned(), subject.to_owned())).or_default().insert(id);
    }
    let two_bodies = bodies.values().filter(|b| b.len() > 1).count();
    let want = expected_events(rt);
    let mut missing = Vec::new();
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for ((kind, subject), n) in &want {
        *by_type.entry(kind).or_default() += n;
        let found = ids.get(&((*kind).to_owned(), subject.clone())).map_or(0, BTreeSet::len);
        if found != *n {
            missing.push(format!("{kind} {subject}: {found} of {n}"));
        }
    }
    let total: usize = by_type.values().sum();
    vec![
        Check::new(
            missing.is_empty(),
            format!(
                "partner webhooks: {total} events expected {by_type:?}, {} deliveries taken ({} distinct ids); \
                 not delivered exactly once: {} {}",
                got.len(),
                bodies.len(),
                missing.len(),
                missing.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
            ),
        ),
        Check::new(two_bodies == 0, format!("no webhook-id delivered with two bodies: {two_bodies}")),
    ]
}

/// The gateway got every citizen's SMS: one per report move, one per pushed dossier.
fn check_sms(rt: &Runtime) -> Check {
    let got = rt.gateway.received();
    let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for g in &got {
        let v = g.json();
        let (id, text) = (v["id"].as_str().unwrap_or_default(), v["text"].as_str().unwrap_or_default());
        for code in report_codes(text).into_iter().chain(codes_after(text, PUSHED_AGENCY)) {
            ids.entry(code).or_default().insert(id.to_owned());
        }
    }
    let l = rt.ledger();
    let mut want: Vec<(&str, usize)> =
        l.reports.iter().filter(|(_, f)| !f.uncertain).map(|(c, f)| (c.as_str(), f.moves as usize)).collect();
    want.extend(l.pushed.iter().map(|c| (c.as_str(), 1)));
    let expected: usize = want.iter().map(|w| w.1).sum();
    let missing: Vec<String> = want
        .iter()
        .filter_map(|(code, n)| {
            let found = ids.get(*code).map_or(0, BTreeSet::len);
            (found != *n).then(|| format!("{code}: {found} of {n}"))
        })
        .collect();
    let text = format!(
        "citizens' SMS: {expected} expected ({} report moves, {} dossier pushes), {} taken by the gateway; \
         not sent exactly once: {} {}",
        expected - l.pushed.len(),
        l.pushed.len(),
        got.len(),
        missing.len(),
        missing.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
    );
    Check::new(missing.is_empty(), text)
}

/// No unexpected 5xx, no transport error, no other unexpected answer; and the over-limit
/// caller's count.
fn check_errors(rt: &Runtime) -> Vec<Check> {
    let s = rt.stats();
    let sum = |f: fn(&Minute) -> u64| -> u64 { s.minutes.iter().map(f).sum() };
    let (server, transport, limited, silenced, skipped) =
        (sum(|m| m.server_errors), sum(|m| m.transport), sum(|m| m.limited), sum(|m| m.silenced), sum(|m| m.skipped));
    let all: u64 = sum(|m| m.errors.values().sum());
    let examples = |pick: &dyn Fn(&str) -> bool| -> String {
        let e: Vec<String> =
            s.examples.iter().filter(|(k, _)| pick(k)).take(4).map(|(k, v)| format!("[{k}] {v}")).collect();
        e.join(" | ")
    };
    let is_5xx = |k: &str| k.rsplit(' ').next().is_some_and(|st| st.starts_with('5') && st.len() == 3);
    vec![
        Check::new(server == 0, format!("unexpected 5xx of the services: {server} {}", examples(&is_5xx))),
        Check::new(
            transport == 0,
            format!("transport errors: {transport} {}", examples(&|k| k.ends_with("transport"))),
        ),
        Check::new(
            all == server + transport,
            format!(
                "other unexpected answers: {} {}",
                all - server - transport,
                examples(&|k| !is_5xx(k) && !k.ends_with("transport"))
            ),
        ),
        Check::info(format!(
            "the over-limit caller got {limited} expected 429s and {silenced} silenced SMS; operations skipped \
                 (clients busy): {skipped}"
        )),
    ]
}

/// The table of a runtime: a row per interval (5 minutes; 1 for runs under 15).
fn table(rt: &Runtime, minutes: u64) -> String {
    let s = rt.stats();
    let per = if minutes >= 15 { 5 } else { 1 };
    let mut out = String::from(
        "| minutes | req/s | p50 ms | p99 ms | 429 expected | RSS MB | anon MB | DB MB | WAL MB | errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for (i, chunk) in s.minutes.chunks(per).enumerate() {
        let row = Row::of(chunk, 60 * chunk.len() as u64);
        let last = chunk.last().map_or((0, 0, 0, 0), |m| (m.rss_kb, m.anon_kb, m.db_bytes, m.wal_bytes));
        let _ = writeln!(
            out,
            "| {}-{} | {:.1} | {:.1} | {:.1} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            i * per,
            i * per + chunk.len(),
            row.rate,
            row.p50,
            row.p99,
            chunk.iter().map(|m| m.limited).sum::<u64>(),
            mb(last.0 * 1024),
            mb(last.1 * 1024),
            mb(last.2),
            mb(last.3),
            row.errors
        );
    }
    out
}

/// The CPU model and core count.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu.lines().find_map(|l| l.strip_prefix("model name")).map(|m| m.trim_start_matches([' ', '\t', ':']));
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!("{}, {cores} cores", model.unwrap_or("unknown CPU"))
}

/// What the section says about how the figures were made.
fn method_notes() -> String {
    let mix: Vec<String> = MIX.iter().map(|(op, w)| format!("{op:?} {w}")).collect();
    format!(
        "Mix (weights; Workers leave Chat out): {}; a payment storm (an order, then 10-20 identical VNPay IPNs at \
         once) every {} s. Ticks every {} s (Spin: civic-host `--tick`; Workers: the driver's `POST <base>/tick`, \
         plain miniflare running no cron trigger). The partner receiver answers 500 from second 60 to 105 of every 5 \
         minutes; outbox retries `{RETRY_SCHEDULE}`. Latencies in ms over every request of the interval (IPNs \
         included); RSS (and its anonymous part, RssAnon: not the page cache of mapped files), DB and WAL at the \
         interval's end (Workers: all miniflare processes, node and workerd).\n\n",
        mix.join(", "),
        STORM_EVERY.as_secs(),
        TICK.as_secs()
    )
}

/// Writes `md` into BENCHMARKS.md as the section "## Soak (cargo xtask soak)", replacing it
/// when present.
fn write_benchmarks(md: &str) -> Result<()> {
    const HEADING: &str = "## Soak (cargo xtask soak)";
    let path = root().join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, with_section(&old, HEADING, md))?;
    println!("\nwritten into {}", path.display());
    Ok(())
}

/// `doc` with the section under `heading` (to the next `## ` heading, or the end) replaced by
/// `heading` and `md`, or with them appended when there is none.
fn with_section(doc: &str, heading: &str, md: &str) -> String {
    let section = format!("{heading}\n\n{md}");
    match doc.find(heading) {
        Some(at) => {
            let rest = &doc[at + heading.len()..];
            let end = rest.find("\n## ").map_or(doc.len(), |i| at + heading.len() + i + 1);
            format!("{}{section}{}", &doc[..at], &doc[end..])
        }
        None => format!("{}\n\n{section}", doc.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_from_sms_texts() {
        let text = "Phan anh PA-260701-0012 da xu ly xong. Danh gia: DG PA-260701-0012 <1-5>.";
        assert_eq!(report_codes(text), ["PA-260701-0012", "PA-260701-0012"]);
        let text = "Ho so 000.95.19.H57-260701-0007: Dang xu ly. Hen tra 11/07/2026.";
        assert_eq!(codes_after(text, PUSHED_AGENCY), ["000.95.19.H57-260701-0007"]);
        assert!(report_codes("PA o ga lon").is_empty());
    }

    #[test]
    fn the_mix_is_drawn_by_weight() {
        let mix = [(Op::FoodSearch, 2), (Op::Chat, 1)];
        let drawn: Vec<Op> = (0..3).map(|at| pick(&mix, at)).collect();
        assert_eq!(drawn, [Op::FoodSearch, Op::FoodSearch, Op::Chat]);
    }

    #[test]
    fn the_fault_is_on_45_seconds_in_every_300() {
        assert_eq!((0..600).filter(|s| fault_at(*s)).count(), 90);
        assert!(!fault_at(59) && fault_at(60) && fault_at(104) && !fault_at(105) && fault_at(364));
    }

    #[test]
    fn the_section_is_replaced_or_appended() {
        let h = "## Soak (cargo xtask soak)";
        let doc = format!("# B\n\n## A\n\na\n\n{h}\n\nold\n\n## C\n\nc\n");
        assert_eq!(with_section(&doc, h, "new\n\n"), format!("# B\n\n## A\n\na\n\n{h}\n\nnew\n\n## C\n\nc\n"));
        assert_eq!(with_section("# B\n", h, "new\n"), format!("# B\n\n{h}\n\nnew\n"));
    }
}
