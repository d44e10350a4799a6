//! Command-line arguments of `civic-host`.
//!
//! ```text
//! civic-host [--manifest PATH] [--runtime-config PATH] [--listen ADDR] [--data DIR]
//!            [--migrations DIR] [--tick SECONDS] [--cache DIR|off]
//! ```
//! Each flag also accepts `--flag=value`. Defaults: `spin.toml`; `runtime-config.toml` next to
//! the manifest when that file exists; `127.0.0.1:3000`; `.data`; `<manifest dir>/migrations`;
//! no ticks; the compilation cache of [`default_cache_dir`] (`CIVIC_HOST_CACHE` overrides it).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use crate::app::Paths;

/// Usage text for `--help`.
pub const USAGE: &str = "\
civic-host: serve a Spin application (spin.toml) locally on wasmtime, with SQLite databases

USAGE:
    civic-host [OPTIONS]

OPTIONS:
    --manifest PATH         Spin manifest [default: spin.toml]
    --runtime-config PATH   Spin runtime config [default: runtime-config.toml next to the
                            manifest, if it exists]
    --listen ADDR           address to listen on [default: 127.0.0.1:3000]; port 0 picks a
                            free port
    --data DIR              directory of the SQLite files [default: .data]
    --migrations DIR        migrations, one folder per database label
                            [default: <manifest dir>/migrations]
    --tick SECONDS          call each component's POST <base>/tick every SECONDS, as a
                            deployment's scheduler would [default: 0, never]
    --cache DIR|off         wasmtime's compilation cache: a component compiled once is loaded
                            from DIR at the next start, keyed by its contents (a changed
                            component is compiled again); `off` compiles every time
                            [default: $CIVIC_HOST_CACHE, else $XDG_CACHE_HOME/civic/wasmtime,
                            else ~/.cache/civic/wasmtime]
    -h, --help              print this help

Application variables come from SPIN_VARIABLE_<NAME> environment variables, else their
defaults in the manifest. When ready the host prints `Serving http://ADDR`, then one line per
request: `METHOD PATH STATUS DURATIONus`.
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Run { paths: Paths, listen: SocketAddr, tick: Option<std::time::Duration> },
}

/// The environment variable that sets the compilation cache directory (`off`: no cache)
/// when `--cache` is not given.
pub const CACHE_ENV: &str = "CIVIC_HOST_CACHE";

/// Parses the arguments (without the program name), the cache directory's default read from
/// the process environment.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    parse_with_env(args, |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from))
}

/// The default compilation cache directory: `$CIVIC_HOST_CACHE` (`off`: none), else
/// `$XDG_CACHE_HOME/civic/wasmtime`, else `$HOME/.cache/civic/wasmtime`; `None` when none of
/// them is set. `env` looks up an environment variable (unset or empty: `None`).
pub fn default_cache_dir(env: impl Fn(&str) -> Option<PathBuf>) -> Option<PathBuf> {
    if let Some(dir) = env(CACHE_ENV) {
        return (dir.as_os_str() != "off").then_some(dir);
    }
    env("XDG_CACHE_HOME")
        .map(|d| d.join("civic/wasmtime"))
        .or_else(|| env("HOME").map(|h| h.join(".cache/civic/wasmtime")))
}

/// [`parse`] with the environment looked up through `env` (unset or empty: `None`).
pub fn parse_with_env(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<PathBuf>,
) -> Result<Command, String> {
    let mut manifest: Option<PathBuf> = None;
    let mut runtime_config: Option<PathBuf> = None;
    let mut listen: Option<String> = None;
    let mut data: Option<PathBuf> = None;
    let mut migrations: Option<PathBuf> = None;
    let mut tick: Option<String> = None;
    let mut cache: Option<PathBuf> = None;

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let known = ["--manifest", "--runtime-config", "--listen", "--data", "--migrations", "--tick", "--cache"];
        if !known.contains(&flag.as_str()) {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
        };
        if value.is_empty() {
            return Err(format!("{flag} needs a non-empty value"));
        }
        let slot_taken = match flag.as_str() {
            "--manifest" => manifest.replace(value.into()).is_some(),
            "--runtime-config" => runtime_config.replace(value.into()).is_some(),
            "--listen" => listen.replace(value).is_some(),
            "--data" => data.replace(value.into()).is_some(),
            "--tick" => tick.replace(value).is_some(),
            "--cache" => cache.replace(value.into()).is_some(),
            _ => migrations.replace(value.into()).is_some(),
        };
        if slot_taken {
            return Err(format!("{flag} given twice"));
        }
    }

    let manifest = manifest.unwrap_or_else(|| PathBuf::from("spin.toml"));
    let manifest_dir = manifest_dir(&manifest);
    let runtime_config = match runtime_config {
        Some(p) => Some(p),
        None => {
            let next_to = manifest_dir.join("runtime-config.toml");
            next_to.is_file().then_some(next_to)
        }
    };
    let listen = parse_listen(listen.as_deref().unwrap_or("127.0.0.1:3000"))?;
    let tick = match tick.as_deref().map(str::parse::<u64>) {
        None | Some(Ok(0)) => None,
        Some(Ok(seconds)) => Some(std::time::Duration::from_secs(seconds)),
        Some(Err(_)) => return Err("--tick needs a whole number of seconds".to_owned()),
    };
    let cache = match cache {
        Some(dir) if dir.as_os_str() == "off" => None,
        Some(dir) => Some(dir),
        None => default_cache_dir(env),
    };
    Ok(Command::Run {
        paths: Paths {
            migrations: migrations.unwrap_or_else(|| manifest_dir.join("migrations")),
            manifest,
            runtime_config,
            data: data.unwrap_or_else(|| PathBuf::from(".data")),
            cache,
        },
        listen,
        tick,
    })
}

/// `IP:PORT`, or `name:PORT` resolved (first address).
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    s.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("--listen {s:?} is not an address like 127.0.0.1:3000"))
}

/// The directory of a manifest path (`.` for a bare file name).
pub fn manifest_dir(manifest: &Path) -> PathBuf {
    match manifest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    /// [`parse_with_env`] with `HOME=/home/u` and nothing else set.
    fn parse(a: Vec<String>) -> Result<Command, String> {
        parse_with_env(a, |name| (name == "HOME").then(|| PathBuf::from("/home/u")))
    }

    #[test]
    fn cache_dirs() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| PathBuf::from(v))
        };
        const HOME: &[(&str, &str)] = &[("HOME", "/home/u")];
        assert_eq!(default_cache_dir(env(HOME)), Some("/home/u/.cache/civic/wasmtime".into()));
        const XDG: &[(&str, &str)] = &[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg")];
        assert_eq!(default_cache_dir(env(XDG)), Some("/xdg/civic/wasmtime".into()));
        const SET: &[(&str, &str)] = &[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg"), (CACHE_ENV, "/c")];
        assert_eq!(default_cache_dir(env(SET)), Some("/c".into()));
        assert_eq!(default_cache_dir(env(&[("HOME", "/home/u"), (CACHE_ENV, "off")])), None);
        assert_eq!(default_cache_dir(env(&[])), None);

        let cache = |a: &str| match parse(args(a)) {
            Ok(Command::Run { paths, .. }) => Ok(paths.cache),
            Ok(Command::Help) => Err("help".to_owned()),
            Err(e) => Err(e),
        };
        assert_eq!(cache(""), Ok(Some("/home/u/.cache/civic/wasmtime".into())));
        assert_eq!(cache("--cache /tmp/c"), Ok(Some("/tmp/c".into())));
        assert_eq!(cache("--cache=off"), Ok(None));
        assert!(cache("--cache a --cache b").is_err());
    }

    #[test]
    fn ticks() {
        let every = |a: &str| match parse(args(a)) {
            Ok(Command::Run { tick, .. }) => Ok(tick.map(|d| d.as_secs())),
            Ok(Command::Help) => Err("help".to_owned()),
            Err(e) => Err(e),
        };
        assert_eq!(every("--tick 5"), Ok(Some(5)));
        assert_eq!(every("--tick=0"), Ok(None));
        assert!(every("--tick soon").is_err());
        assert!(every("--tick 1 --tick 2").is_err());
    }

    #[test]
    fn defaults() {
        let Ok(Command::Run { paths, listen, tick: None }) = parse(args("")) else { panic!("parses") };
        assert_eq!(paths.manifest, PathBuf::from("spin.toml"));
        assert_eq!(paths.data, PathBuf::from(".data"));
        assert_eq!(paths.migrations, PathBuf::from("./migrations"));
        assert_eq!(listen, "127.0.0.1:3000".parse::<SocketAddr>().expect("addr"));
    }

    #[test]
    fn flags() {
        let Ok(Command::Run { paths, listen, tick: None }) = parse(args(
            "--manifest /app/spin.toml --runtime-config=/etc/rc.toml --listen 127.0.0.1:0 --data /d --migrations /m",
        )) else {
            panic!("parses")
        };
        assert_eq!(
            paths,
            Paths {
                manifest: "/app/spin.toml".into(),
                runtime_config: Some("/etc/rc.toml".into()),
                data: "/d".into(),
                migrations: "/m".into(),
                cache: Some("/home/u/.cache/civic/wasmtime".into()),
            }
        );
        assert_eq!(listen.port(), 0);
        let Ok(Command::Run { paths, .. }) = parse(args("--manifest /nonexistent/spin.toml")) else { panic!("parses") };
        assert_eq!(paths.migrations, PathBuf::from("/nonexistent/migrations"));
        assert_eq!(paths.runtime_config, None);
    }

    #[test]
    fn help_and_errors() {
        assert_eq!(parse(args("--help")), Ok(Command::Help));
        assert_eq!(parse(args("--data x -h")), Ok(Command::Help));
        for bad in ["--nope", "--listen", "--listen nowhere", "--data a --data b", "stray", "--data="] {
            assert!(parse(args(bad)).is_err(), "{bad:?}");
        }
    }
}
