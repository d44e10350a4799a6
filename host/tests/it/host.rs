//! Building the test guest, and running `civic-host` on it as a child process.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use tempfile::TempDir;

/// How long to wait for output the host must print; a hang guard, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(180);

/// Builds the guest (once per test binary) and returns the path of its `.wasm`.
pub fn guest_wasm() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = Command::new(env!("CARGO"))
            .current_dir(&workspace)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "-p",
                "civic-host-test-guest",
                "--message-format=json-render-diagnostics",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build for the test guest");
        assert!(out.status.success(), "building the test guest failed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "civic_host_test_guest")
            .flat_map(|m| {
                m["filenames"]
                    .as_array()
                    .map(|f| f.iter().filter_map(|v| v.as_str().map(PathBuf::from)).collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .find(|p| p.extension().is_some_and(|e| e == "wasm"))
            .expect("cargo reported no .wasm for the test guest")
    })
    .clone()
}

/// The test application: the guest under several routes and permissions.
pub fn manifest_for(wasm: &Path) -> String {
    let source = wasm.display().to_string().replace('\\', "\\\\");
    format!(
        r#"spin_manifest_version = 2

[application]
name = "host-it"

[variables]
greeting = {{ default = "xin chào" }}
secret = {{ required = true, secret = true }}

[[trigger.http]]
route = "/guest/..."
component = "guest"

[[trigger.http]]
route = "/limited/..."
component = "limited"

[[trigger.http]]
route = "/exact"
component = "exact"

[[trigger.http]]
route = "/named/:dossier_code/..."
component = "named"

[component.guest]
source = "{source}"
sqlite_databases = ["main", "default"]
allowed_outbound_hosts = ["http://127.0.0.1:*"]
environment = {{ CIVIC_TEST_ENV = "env-ok" }}
[component.guest.variables]
greeting = "{{{{ greeting }}}}"
secret = "{{{{ secret }}}}"
mixed = "<{{{{ greeting }}}}|{{{{ secret }}}}>"
literal = "just text"
[component.guest.build]
command = "cargo build --release --target wasm32-wasip2 -p civic-host-test-guest"

[component.limited]
source = "{source}"

[component.exact]
source = "{source}"

[component.named]
source = "{source}"
"#
    )
}

/// The application of the service-chaining tests: components that call each other through
/// `http://<id>.spin.internal`, each with its own permissions and configuration.
pub fn chaining_manifest_for(wasm: &Path) -> String {
    let source = wasm.display().to_string().replace('\\', "\\\\");
    format!(
        r#"spin_manifest_version = 2

[application]
name = "host-chaining-it"

[variables]
greeting = {{ default = "xin chào" }}

[[trigger.http]]
route = "/guest/..."
component = "guest"

[[trigger.http]]
route = "/limited/..."
component = "limited"

[[trigger.http]]
route = "/narrow/..."
component = "narrow"

[[trigger.http]]
route = "/loose/..."
component = "loose"

[[trigger.http]]
route = {{ private = true }}
component = "target"

[component.guest]
source = "{source}"
allowed_outbound_hosts = ["http://*.spin.internal"]
environment = {{ CIVIC_TEST_ENV = "guest-env" }}

[component.limited]
source = "{source}"

[component.narrow]
source = "{source}"
allowed_outbound_hosts = ["http://target.spin.internal"]

[component.loose]
source = "{source}"
allowed_outbound_hosts = ["*://*:*"]

[component.target]
source = "{source}"
sqlite_databases = ["main"]
environment = {{ CIVIC_TEST_ENV = "target-env" }}
[component.target.variables]
greeting = "{{{{ greeting }}}}"

[component.unrouted]
source = "{source}"
"#
    )
}

const RUNTIME_CONFIG: &str = r#"
[sqlite_database.main]
type = "spin"
path = "/somewhere/else/main-file.db"
"#;

const MIGRATION: &str = "CREATE TABLE migrated (x INTEGER); INSERT INTO migrated VALUES (1);";

/// Output of the host collected by a reader thread.
#[derive(Default)]
struct Collected {
    text: Mutex<(String, bool)>,
    changed: Condvar,
}

impl Collected {
    fn spawn_reader(self: &Arc<Self>, stream: impl Read + Send + 'static) {
        let me = self.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            loop {
                line.clear();
                let done = !matches!(reader.read_line(&mut line), Ok(n) if n > 0);
                let mut guard = me.text.lock().expect("lock");
                if done {
                    guard.1 = true;
                } else {
                    guard.0.push_str(&line);
                }
                drop(guard);
                me.changed.notify_all();
                if done {
                    break;
                }
            }
        });
    }

    /// Waits until `pred` holds for the text so far; panics if the stream ends first.
    fn wait<T>(&self, what: &str, mut pred: impl FnMut(&str) -> Option<T>) -> T {
        let mut guard = self.text.lock().expect("lock");
        let mut waited = Duration::ZERO;
        loop {
            if let Some(v) = pred(&guard.0) {
                return v;
            }
            assert!(!guard.1, "the host's output ended before {what}:\n{}", guard.0);
            assert!(waited < PATIENCE, "gave up waiting for {what}:\n{}", guard.0);
            let step = Duration::from_millis(200);
            guard = self.changed.wait_timeout(guard, step).expect("lock").0;
            waited += step;
        }
    }

    fn snapshot(&self) -> String {
        self.text.lock().map(|g| g.0.clone()).unwrap_or_default()
    }
}

/// A running host; killed (by PID) when dropped.
pub struct Host {
    pub addr: SocketAddr,
    child: Child,
    stdout: Arc<Collected>,
    stderr: Arc<Collected>,
    dir: TempDir,
}

fn write_app(manifest: &str) -> TempDir {
    write_app_with(manifest, MIGRATION)
}

fn write_app_with(manifest: &str, migration: &str) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("spin.toml"), manifest).expect("write spin.toml");
    std::fs::write(dir.path().join("runtime-config.toml"), RUNTIME_CONFIG).expect("write runtime config");
    let migrations = dir.path().join("migrations").join("main");
    std::fs::create_dir_all(&migrations).expect("mkdir migrations");
    std::fs::write(migrations.join("0001_init.sql"), migration).expect("write migration");
    dir
}

fn command(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_civic-host"));
    // The runtime config and migrations are found next to the manifest (the defaults).
    cmd.arg("--manifest")
        .arg(dir.join("spin.toml"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("data"))
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    cmd
}

impl Host {
    /// Starts the host on a free port and waits for its `Serving` line.
    pub fn start(manifest: &str, env: &[(&str, &str)]) -> Host {
        let dir = write_app(manifest);
        let mut child =
            command(dir.path(), env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start civic-host");
        let stdout = Arc::new(Collected::default());
        let stderr = Arc::new(Collected::default());
        if let Some(out) = child.stdout.take() {
            stdout.spawn_reader(out);
        }
        if let Some(err) = child.stderr.take() {
            stderr.spawn_reader(err);
        }
        let mut host = Host { addr: SocketAddr::from(([127, 0, 0, 1], 0)), child, stdout, stderr, dir };
        let serving = host.stdout.wait("the Serving line", |text| {
            text.lines().find_map(|l| l.strip_prefix("Serving http://").map(str::to_owned))
        });
        host.addr = serving.parse().unwrap_or_else(|e| panic!("bad address in Serving line {serving:?}: {e}"));
        host
    }

    /// Runs the host with the given manifest until it exits (for start-up failures).
    pub fn run_to_exit(manifest: &str, env: &[(&str, &str)]) -> Output {
        Host::run_to_exit_with(manifest, env, MIGRATION)
    }

    /// Same, with another migration for the `main` database.
    pub fn run_to_exit_with(manifest: &str, env: &[(&str, &str)], migration: &str) -> Output {
        let dir = write_app_with(manifest, migration);
        command(dir.path(), env).output().expect("run civic-host")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Everything the host printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.snapshot()
    }

    /// Waits for a stdout line satisfying `pred` and returns it.
    pub fn wait_for_line(&self, pred: impl Fn(&str) -> bool) -> String {
        self.stdout.wait("the expected log line", |text| text.lines().find(|l| pred(l)).map(str::to_owned))
    }

    /// Waits until stderr contains `needle`.
    pub fn wait_for_stderr(&self, needle: &str) {
        self.stderr.wait(needle, |text| text.contains(needle).then_some(()));
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        self.child.wait().expect("wait for civic-host")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Kills exactly this child (by its PID); harmless if it already exited.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
