//! Loading an application: manifest, runtime config, variables, databases (with migrations) and
//! the compiled components, ready to serve. Compiled code goes through wasmtime's compilation
//! cache ([`open_cache`], `--cache`): a second start loads each unchanged component in
//! milliseconds instead of compiling it again with Cranelift (seconds).
//!
//! Everything that can be wrong with the configuration is found here, before the host listens:
//! a required variable without a value, a template naming an unknown variable, a bad
//! `allowed_outbound_hosts` entry, a migration that fails, a component that does not compile or
//! imports something the host does not provide.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Cache, CacheConfig, Config, Engine};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::manifest::{self, Manifest};
use crate::outbound::AllowedHosts;
use crate::routes::Router;
use crate::runtime_config::{self, RuntimeConfig};
use crate::server::RequestState;
use crate::sqlite::{Database, Databases};
use crate::variables;

/// Where the application and its data are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub manifest: PathBuf,
    /// `None`: no runtime config (every database is `<data>/<label>.db`).
    pub runtime_config: Option<PathBuf>,
    pub data: PathBuf,
    pub migrations: PathBuf,
    /// wasmtime's compilation cache directory (`None`: every start compiles every component).
    pub cache: Option<PathBuf>,
}

/// What a component may do, resolved from the manifest at start.
#[derive(Debug)]
pub struct ComponentConfig {
    pub id: String,
    /// `environment` of the component, given to it through WASI.
    pub environment: Vec<(String, String)>,
    /// `[component.<id>.variables]`, templates resolved.
    pub variables: BTreeMap<String, String>,
    /// `sqlite_databases`: the labels it may open.
    pub sqlite_databases: HashSet<String>,
    /// `allowed_outbound_hosts`, parsed.
    pub allowed_hosts: Arc<AllowedHosts>,
}

/// A compiled component, pre-instantiated.
pub struct LoadedComponent {
    pub config: Arc<ComponentConfig>,
    pub pre: ProxyPre<RequestState>,
}

/// A loaded application.
pub struct App {
    pub name: String,
    pub engine: Engine,
    pub router: Router,
    pub components: HashMap<String, LoadedComponent>,
    pub databases: Arc<Databases>,
}

/// How often a running guest yields to the other requests (see [`spawn_epoch_ticker`]).
pub const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// How many guest instances may be alive at once (requests in flight); the pooling allocator
/// keeps a slot ready for each.
pub const MAX_INSTANCES: u32 = 1_000;

/// The wasmtime engine used for every component: component model, async host functions,
/// epoch interruption so that a long-running guest yields to other requests, and the pooling
/// instance allocator: every request gets a fresh instance, and the pool hands it memory and
/// tables already mapped (reset by the kernel after use) instead of an mmap and munmap per
/// request. `CIVIC_HOST_ALLOCATOR=on-demand` turns it off, to measure what it buys.
///
/// With `cache` (a wasmtime [`Cache`]), compiled code is stored under its directory keyed by a
/// SHA-256 of the component's bytes, the wasmtime version and this engine's compilation
/// settings, and loaded from there when all of them match: a changed component, another
/// wasmtime or other settings compile again.
pub fn engine(cache: Option<Cache>) -> anyhow::Result<Engine> {
    engine_with(std::env::var("CIVIC_HOST_ALLOCATOR").as_deref() != Ok("on-demand"), cache)
}

/// The engine of [`engine`], with the pooling allocator or wasmtime's default (on demand).
pub fn engine_with(pooling: bool, cache: Option<Cache>) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cache(cache);
    if pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(MAX_INSTANCES)
            .total_core_instances(MAX_INSTANCES * 4)
            .total_memories(MAX_INSTANCES * 2)
            .total_tables(MAX_INSTANCES * 4)
            .max_memory_size(1 << 30);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).map_err(|e| anyhow!("cannot create the wasmtime engine: {e}"))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a background thread, for the life of
/// the process. Each request's store yields to the async runtime when the epoch moves, so a
/// busy guest cannot hold a worker thread (and the other requests) for longer than a tick.
pub fn spawn_epoch_ticker(engine: &Engine) {
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .map(drop)
        .unwrap_or_else(|e| eprintln!("cannot start the epoch ticker ({e}); busy guests will not yield"));
}

/// The linker with everything a Spin http component may import from this host.
pub fn linker(engine: &Engine) -> anyhow::Result<Linker<RequestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow!("linking WASI: {e}"))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|e| anyhow!("linking wasi:http: {e}"))?;
    // Chaining to an unknown component traps, as on Spin (see `crate::outbound`).
    crate::outbound::add_outgoing_handler_to_linker(&mut linker)
        .map_err(|e| anyhow!("linking wasi:http/outgoing-handler: {e}"))?;
    crate::bindings::CivicHost::add_to_linker::<RequestState, HasSelf<RequestState>>(&mut linker, |s| s)
        .map_err(|e| anyhow!("linking fermyon:spin: {e}"))?;
    Ok(linker)
}

/// Loads the application; progress lines (migrations applied, warnings) go to `out`.
/// `env` looks up environment variables (for `SPIN_VARIABLE_*`).
pub fn load(paths: &Paths, env: impl Fn(&str) -> Option<String>, out: &mut dyn Write) -> anyhow::Result<App> {
    let manifest = manifest::load(&paths.manifest)?;
    let runtime = match &paths.runtime_config {
        Some(p) => runtime_config::load(p)?,
        None => RuntimeConfig::default(),
    };

    let app_vars = variables::resolve_app_variables(&manifest.variables, env)
        .map_err(|e| anyhow!("{}: {e}", paths.manifest.display()))?;

    let routes = manifest.http_triggers.iter().filter_map(|t| Some((t.route.as_deref()?, t.component.as_str())));
    let (router, duplicates) = Router::build(routes)?;
    for d in duplicates {
        writeln!(
            out,
            "Warning: route {:?} is listed for components {:?} and {:?}; {:?} serves it",
            d.route, d.replaced, d.effective, d.effective
        )?;
    }

    let configs = component_configs(&manifest, &app_vars)?;
    let databases = open_databases(&manifest, &runtime, paths, out)?;

    let cache = paths.cache.as_deref().and_then(|dir| match open_cache(dir) {
        Ok(cache) => {
            writeln!(out, "Compilation cache: {}", cache.directory().display()).ok();
            Some(cache)
        }
        Err(e) => {
            writeln!(out, "Warning: no compilation cache ({e:#}); every component is compiled").ok();
            None
        }
    });
    let engine = engine(cache.clone())?;
    let linker = linker(&engine)?;
    let mut components = HashMap::new();
    // Components sharing a source file share its compiled code.
    let mut compiled: HashMap<PathBuf, ProxyPre<RequestState>> = HashMap::new();
    for id in manifest.triggered_components() {
        let def = manifest.components.get(id).ok_or_else(|| anyhow!("component {id:?} is not defined"))?;
        let config = configs.get(id).cloned().ok_or_else(|| anyhow!("component {id:?} has no configuration"))?;
        let key = std::fs::canonicalize(&def.source).unwrap_or_else(|_| def.source.clone());
        let pre = match compiled.get(&key) {
            Some(pre) => pre.clone(),
            None => {
                let hits = cache.as_ref().map_or(0, Cache::cache_hits);
                let started = std::time::Instant::now();
                let pre = compile(&engine, &linker, id, &def.source)?;
                let ms = started.elapsed().as_secs_f64() * 1e3;
                // `Component "chat": compiled in 64 ms (target/.../chat.wasm, from the cache)`
                let how = if cache.as_ref().map_or(0, Cache::cache_hits) > hits { ", from the cache" } else { "" };
                writeln!(out, "Component {id:?}: compiled in {ms:.0} ms ({}{how})", def.source.display())?;
                compiled.insert(key, pre.clone());
                pre
            }
        };
        components.insert(id.to_owned(), LoadedComponent { config, pre });
    }

    Ok(App { name: manifest.name, engine, router, components, databases: Arc::new(databases) })
}

/// wasmtime's compilation cache in `dir` (created if missing; a relative path is taken from
/// the current directory), with wasmtime's default limits (soft limits of 65,536 files and
/// 512 MiB, the least recently used files removed past them).
pub fn open_cache(dir: &Path) -> anyhow::Result<Cache> {
    let dir = std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let mut config = CacheConfig::new();
    config.with_directory(&dir);
    Cache::new(config).map_err(|e| anyhow!("cache directory {}: {e:#}", dir.display()))
}

fn component_configs(
    manifest: &Manifest,
    app_vars: &BTreeMap<String, String>,
) -> anyhow::Result<HashMap<String, Arc<ComponentConfig>>> {
    let mut out = HashMap::new();
    // `http://*.spin.internal` allows chaining to every component of the application, as on Spin.
    let ids: Vec<&str> = manifest.components.keys().map(String::as_str).collect();
    for (id, def) in &manifest.components {
        let variables = variables::resolve_component_variables(id, &def.variables, app_vars).map_err(|e| anyhow!(e))?;
        let defaults: BTreeMap<String, String> =
            manifest.variables.iter().filter_map(|(k, d)| Some((k.clone(), d.default.clone()?))).collect();
        AllowedHosts::check_defaults(&def.allowed_outbound_hosts, &defaults)
            .map_err(|e| anyhow!("component {id:?} allowed_outbound_hosts: {e}"))?;
        let allowed_hosts = AllowedHosts::parse(&def.allowed_outbound_hosts, app_vars)
            .map_err(|e| anyhow!("component {id:?} allowed_outbound_hosts: {e}"))?
            .expand_service_chaining(&ids);
        out.insert(
            id.clone(),
            Arc::new(ComponentConfig {
                id: id.clone(),
                environment: def.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                variables,
                sqlite_databases: def.sqlite_databases.iter().cloned().collect(),
                allowed_hosts: Arc::new(allowed_hosts),
            }),
        );
    }
    Ok(out)
}

/// Opens every database a component uses under the data directory and applies its migrations.
fn open_databases(
    manifest: &Manifest,
    runtime: &RuntimeConfig,
    paths: &Paths,
    out: &mut dyn Write,
) -> anyhow::Result<Databases> {
    let mut databases = Databases::default();
    let labels = manifest.database_labels();
    if labels.is_empty() {
        return Ok(databases);
    }
    std::fs::create_dir_all(&paths.data)
        .with_context(|| format!("cannot create the data directory {}", paths.data.display()))?;
    for label in labels {
        let file = runtime.database_file(&paths.data, &label);
        let mut conn = civic::platform::native::open_db(&file)
            .with_context(|| format!("cannot open database {label:?} at {}", file.display()))?;
        let dir = paths.migrations.join(&label);
        let applied = civic::platform::native::migrate(&mut conn, &dir)
            .with_context(|| format!("migrating database {label:?} at {}", file.display()))?;
        if applied.is_empty() {
            writeln!(out, "Database {label:?} at {}: up to date", file.display())?;
        } else {
            writeln!(out, "Database {label:?} at {}: applied {}", file.display(), applied.join(", "))?;
        }
        let db = Database::new(&label, &file);
        db.checkin(conn);
        databases.insert(db);
    }
    Ok(databases)
}

/// Compiles one component and pre-instantiates it against the host's linker.
pub fn compile(
    engine: &Engine,
    linker: &Linker<RequestState>,
    id: &str,
    source: &Path,
) -> anyhow::Result<ProxyPre<RequestState>> {
    if !source.is_file() {
        bail!("component {id:?}: source {} does not exist (build it first)", source.display());
    }
    let component = Component::from_file(engine, source)
        .map_err(|e| anyhow!("component {id:?}: cannot compile {}: {e:#}", source.display()))?;
    let pre =
        linker.instantiate_pre(&component).map_err(|e| anyhow!("component {id:?} ({}): {e:#}", source.display()))?;
    ProxyPre::new(pre).map_err(|e| {
        anyhow!(
            "component {id:?} ({}) is not an HTTP component (it must export wasi:http/incoming-handler): {e}",
            source.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache is keyed by the component's contents: the same bytes are loaded from it, even
    /// by another engine (a second start), and changed bytes are compiled again.
    #[test]
    fn compilation_cache_is_keyed_by_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open_cache(dir.path()).expect("cache");
        let a = "(component (core module (func (export \"f\") (result i32) i32.const 1)))";
        let b = "(component (core module (func (export \"f\") (result i32) i32.const 2)))";
        let compile = |wat: &str| {
            let engine = engine_with(false, Some(cache.clone())).expect("engine");
            Component::new(&engine, wat).expect("compiles");
            (cache.cache_hits(), cache.cache_misses())
        };
        assert_eq!(compile(a), (0, 1), "first start: compiled and stored");
        assert_eq!(compile(a), (1, 1), "second start: loaded");
        assert_eq!(compile(b), (1, 2), "a changed component: compiled again");
        assert_eq!(compile(b), (2, 2));
    }
}
