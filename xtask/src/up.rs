//! `cargo xtask up`: serve every function locally on the Spin-compatible host.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use civic::Platform;
use civic::platform::native::{NativePlatform, block_on};

use crate::build;
use crate::{FUNCTIONS, demo, root};

/// How often the local host calls each function's tick (seconds).
const TICK_SECONDS: &str = "5";

struct Options {
    listen: String,
    data: PathBuf,
    demo: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options { listen: "127.0.0.1:3000".into(), data: root().join(".data"), demo: true };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--listen" => o.listen = it.next().context("--listen needs ADDR")?.clone(),
            "--data" => o.data = PathBuf::from(it.next().context("--data needs DIR")?),
            "--no-demo" => o.demo = false,
            other => bail!("unknown option {other} (up [--listen ADDR] [--data DIR] [--no-demo])"),
        }
    }
    Ok(o)
}

/// Creates `<data>/<label>.db` for every database with its migrations applied.
fn migrate_all(data: &std::path::Path) -> Result<NativePlatform> {
    let mut labels: Vec<&str> = FUNCTIONS.iter().flat_map(|f| f.dbs.iter().copied()).collect();
    labels.sort_unstable();
    labels.dedup();
    NativePlatform::open_dir(data, &labels, &root().join("migrations")).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `cargo xtask migrate [--data DIR] [--demo]`: the database files without serving.
pub fn migrate(args: &[String]) -> Result<()> {
    let mut data = root().join(".data");
    let mut demo = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--data" => data = PathBuf::from(it.next().context("--data needs DIR")?),
            "--demo" => demo = true,
            other => bail!("unknown option {other} (migrate [--data DIR] [--demo])"),
        }
    }
    let p = migrate_all(&data)?;
    if demo {
        load_demo(&p)?;
    }
    eprintln!("xtask: databases in {} are migrated", data.display());
    Ok(())
}

fn is_empty(p: &NativePlatform, db: &str, table: &str) -> Result<bool> {
    let rows = block_on(p.query(db, &format!("SELECT EXISTS (SELECT 1 FROM {table}) AS any"), &[]))
        .map_err(|e| anyhow::anyhow!("{db}: {e}"))?;
    Ok(rows.first().map(|r| r.i64("any")).transpose().map_err(|e| anyhow::anyhow!("{e}"))? != Some(1))
}

/// Loads demo data into each of its databases that has none yet, through the functions' own
/// code.
pub fn load_demo(p: &NativePlatform) -> Result<()> {
    let fail = |e: civic::Error| anyhow::anyhow!("{e}");
    if p.has_db("food") && is_empty(p, "food", "establishments")? {
        let all = serde_json::Value::Array(food_safety::demo::establishments(food_safety::demo::COUNT));
        let items = food_safety::import::parse_batch(&all).map_err(|e| anyhow::anyhow!("demo data invalid: {e}"))?;
        block_on(food_safety::store::upsert(p, &items, food_safety::store::Violations::Replace)).map_err(fail)?;
        eprintln!("xtask: loaded {} demo establishments", items.len());
    }
    let today = civic::web::vn_today(chrono::Utc::now());
    let dossiers = demo::permits::dossiers(demo::permits::COUNT, today);
    if p.has_db("permits") && is_empty(p, "permits", "dossiers")? {
        for d in &dossiers {
            let code = permit_status::dossier::Code::parse(&d.code).context("demo dossier code")?;
            for push in &d.pushes {
                let update = permit_status::push::parse(push).map_err(fail)?;
                block_on(permit_status::store::apply(p, &code, &update)).map_err(fail)?;
            }
        }
        eprintln!("xtask: loaded {} demo dossiers", dossiers.len());
    }
    if p.has_db("payments") && p.has_db("permits") && is_empty(p, "payments", "orders")? {
        // The fees of the demo dossiers marked paid, paid through payment-callback's own
        // ledger: an order, then a (trusted) successful callback that settles it.
        use payment_callback::ledger::{self, Callback, Order, OrderState, Provider};
        let now = civic::web::stamp(chrono::Utc::now());
        let paid: Vec<&demo::permits::Demo> = dossiers.iter().filter(|d| d.paid).collect();
        for (i, d) in paid.iter().enumerate() {
            let provider = [Provider::Vnpay, Provider::Momo, Provider::Zalopay][i % 3];
            let txn_ref = format!("{}_DEMO{i:08}", today.format("%y%m%d"));
            let order = Order {
                order_id: format!("ord_demo_{i:04}"),
                txn_ref: txn_ref.clone(),
                dossier_code: d.code.clone(),
                owner: "demo".into(),
                provider: provider.as_str().into(),
                amount_vnd: d.fee_vnd,
                state: OrderState::Pending,
                payment_url: None,
                created_at: now.clone(),
                expires_at: now.clone(),
                paid_at: None,
                provider_txn_id: None,
            };
            block_on(ledger::insert(p, &order)).map_err(fail)?;
            let callback = Callback {
                provider,
                raw: "demo data".into(),
                signature_valid: true,
                txn_ref: Some(txn_ref),
                provider_txn_id: Some(format!("DEMO{i:08}")),
                amount_vnd: Some(d.fee_vnd),
                success: true,
            };
            block_on(ledger::process(p, &callback)).map_err(fail)?;
        }
        eprintln!("xtask: loaded {} demo paid orders", paid.len());
    }
    if p.has_db("reports") && is_empty(p, "reports", "categories")? {
        let catalogue: report_submission::category::Catalogue = serde_json::from_value(demo::reports::catalogue())?;
        block_on(report_submission::category::save(p, &catalogue)).map_err(fail)?;
        let filings = demo::reports::filings(40);
        for (i, f) in filings.iter().enumerate() {
            let filing = report_submission::report::parse(f, true, |_| false).map_err(fail)?;
            // Each demo report by a citizen of its own, as the rate limit counts them.
            let citizen = civic::limit::Caller::Subject(format!("demo-{i}"));
            let counted = report_submission::report::FILING.count(p, &citizen).map_err(fail)?;
            block_on(report_submission::report::file(p, &filing, None, "app", None, &counted))
                .and_then(report_submission::report::Stored::code)
                .map_err(fail)?;
        }
        eprintln!("xtask: loaded {} demo categories and {} demo reports", catalogue.categories.len(), filings.len());
    }
    Ok(())
}

/// The length HS256 secrets must have (RFC 7518 §3.2); `civic::auth` refuses shorter ones.
const MIN_HS256_SECRET: usize = 32;

pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    if let Ok(secret) = std::env::var("SPIN_VARIABLE_JWT_HS256_SECRET")
        && !secret.is_empty()
        && secret.len() < MIN_HS256_SECRET
    {
        bail!(
            "SPIN_VARIABLE_JWT_HS256_SECRET is {} bytes; HS256 secrets must have at least {MIN_HS256_SECRET} \
             (RFC 7518 §3.2), or every HS256 token would be refused. Try: $(openssl rand -hex 32)",
            secret.len()
        );
    }
    build::spin_all()?;
    let host = build::host()?;
    if o.demo {
        load_demo(&migrate_all(&o.data)?)?;
    }
    if let Ok(token) = demo_token(&["admin"]) {
        eprintln!("xtask: a demo admin token (24 h, demo secret only):\n{token}");
    }
    let mut host = Command::new(host);
    // Photo URLs and Open311 discovery are built on public_base_url: where `up` listens,
    // unless the caller says otherwise.
    if std::env::var_os("SPIN_VARIABLE_PUBLIC_BASE_URL").is_none() {
        host.env("SPIN_VARIABLE_PUBLIC_BASE_URL", format!("http://{}", o.listen));
    }
    let status = host
        .current_dir(root())
        .args(["--manifest", "spin.toml", "--runtime-config", "runtime-config.toml", "--listen", &o.listen])
        .arg("--data")
        .arg(&o.data)
        // Spin has no timer: the host calls each function's POST <base>/tick itself (deliveries,
        // retries, order expiry, overdue reports), as a deployment's scheduler would.
        .args(["--tick", TICK_SECONDS])
        .status()
        .context("starting civic-host")?;
    if !status.success() {
        bail!("civic-host exited: {status}");
    }
    Ok(())
}

/// The demo configuration: every `[variables]` default of spin.toml, each overridden by its
/// `SPIN_VARIABLE_<NAME>` as the local host does.
pub fn demo_variables() -> Result<std::collections::BTreeMap<String, String>> {
    let manifest = std::fs::read_to_string(root().join("spin.toml"))?;
    let mut vars = std::collections::BTreeMap::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[variables]";
            continue;
        }
        if let (true, Some((name, rest))) = (inside, line.split_once(" = "))
            && let Some(start) = rest.find("default = \"")
        {
            let name = name.trim();
            let value = std::env::var(format!("SPIN_VARIABLE_{}", name.to_uppercase())).unwrap_or_else(|_| {
                rest[start + "default = \"".len()..].split('"').next().unwrap_or_default().to_owned()
            });
            vars.insert(name.to_owned(), value);
        }
    }
    Ok(vars)
}

/// A bearer token signed with the demo HS256 secret of spin.toml (or
/// `SPIN_VARIABLE_JWT_HS256_SECRET`, issuer and audience likewise), valid 24 hours.
pub fn demo_token(roles: &[&str]) -> Result<String> {
    let vars = demo_variables()?;
    let var =
        |name: &str| -> Result<String> { vars.get(name).cloned().with_context(|| format!("{name} not in spin.toml")) };
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "iss": var("jwt_issuer")?, "aud": var("jwt_audience")?, "sub": "demo-admin",
        "roles": roles, "iat": now, "nbf": now, "exp": now + 24 * 3600,
    });
    let key = jsonwebtoken::EncodingKey::from_secret(var("jwt_hs256_secret")?.as_bytes());
    Ok(jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &key)?)
}
