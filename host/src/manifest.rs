//! The Spin application manifest (`spin.toml`, `spin_manifest_version = 2`): the parts the
//! local host uses.
//!
//! Read: `[application]` (name), `[variables]`, `[[trigger.http]]` (`route`, `component` as a
//! string id), and `[component.<id>]` (`source`, `allowed_outbound_hosts`, `sqlite_databases`,
//! `[component.<id>.variables]`, `environment`). Every other key (`[component.x.build]`,
//! `description`, `files`, `[application.trigger.http]`, ...) is accepted and ignored, so a
//! manifest that real Spin runs loads here unchanged.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A parsed and checked manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// `[application] name`, empty when absent.
    pub name: String,
    /// `[variables]`: application variables by name.
    pub variables: BTreeMap<String, VariableDef>,
    /// `[[trigger.http]]` in file order.
    pub http_triggers: Vec<HttpTrigger>,
    /// `[component.<id>]` by id.
    pub components: BTreeMap<String, ComponentDef>,
}

/// One application variable: `{ default = "...", required = true, secret = true }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct VariableDef {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

/// One `[[trigger.http]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTrigger {
    /// The route pattern (`/x`, `/x/...`); `None` for `route = { private = true }`, which Spin
    /// never routes to from the network: the component is reached by service chaining only.
    pub route: Option<String>,
    /// The id of the `[component.<id>]` that serves it.
    pub component: String,
}

/// One `[component.<id>]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ComponentDef {
    /// The Wasm file, relative to the manifest's directory (already joined by [`parse`]).
    pub source: PathBuf,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    /// Component variables: name -> template over application variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Environment variables given to the component through WASI.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError(pub String);

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ManifestError {}

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: Option<toml::Value>,
    #[serde(default)]
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, VariableDef>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize, Default)]
struct RawApplication {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
}

#[derive(Deserialize)]
struct RawHttpTrigger {
    route: toml::Value,
    component: toml::Value,
}

#[derive(Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
}

/// Reads and parses the manifest at `path`; component sources are resolved against its directory.
pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ManifestError(format!("cannot read manifest {}: {e}", path.display())))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, dir).map_err(|e| ManifestError(format!("{}: {e}", path.display())))
}

/// Parses manifest text; `dir` is the directory relative sources are resolved against.
pub fn parse(text: &str, dir: &Path) -> Result<Manifest, ManifestError> {
    let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError(format!("invalid manifest: {e}")))?;
    match raw.spin_manifest_version {
        Some(toml::Value::Integer(2)) => {}
        Some(toml::Value::String(ref s)) if s == "2" => {}
        Some(other) => {
            return Err(ManifestError(format!("spin_manifest_version = {other} is not supported (only version 2)")));
        }
        None => return Err(ManifestError("spin_manifest_version = 2 is missing".into())),
    }

    for (name, def) in &raw.variables {
        crate::variables::validate_name(name).map_err(|e| ManifestError(format!("[variables] {e}")))?;
        if def.required && def.default.is_some() {
            return Err(ManifestError(format!("variable {name:?} cannot be both required and have a default")));
        }
    }

    let mut components = BTreeMap::new();
    for (id, rc) in raw.component {
        let source = match rc.source {
            toml::Value::String(s) => dir.join(s),
            _ => {
                return Err(ManifestError(format!(
                    "component {id:?}: only a local file path is supported as `source`"
                )));
            }
        };
        for name in rc.variables.keys() {
            crate::variables::validate_name(name)
                .map_err(|e| ManifestError(format!("component {id:?} variables: {e}")))?;
        }
        components.insert(
            id,
            ComponentDef {
                source,
                allowed_outbound_hosts: rc.allowed_outbound_hosts,
                sqlite_databases: rc.sqlite_databases,
                variables: rc.variables,
                environment: rc.environment,
            },
        );
    }

    let mut http_triggers = Vec::new();
    for (i, t) in raw.trigger.http.into_iter().enumerate() {
        let component = match t.component {
            toml::Value::String(s) => s,
            _ => {
                return Err(ManifestError(format!(
                    "trigger.http #{}: `component` must be the id of a [component.<id>] table",
                    i + 1
                )));
            }
        };
        if !components.contains_key(&component) {
            return Err(ManifestError(format!(
                "trigger.http #{}: component {component:?} is not defined ([component.{component}] is missing)",
                i + 1
            )));
        }
        let route = match t.route {
            toml::Value::String(s) => Some(s),
            toml::Value::Table(tbl) if tbl.get("private").and_then(toml::Value::as_bool) == Some(true) => None,
            _ => {
                return Err(ManifestError(format!(
                    "trigger.http #{} ({component}): `route` must be a string pattern or {{ private = true }}",
                    i + 1
                )));
            }
        };
        http_triggers.push(HttpTrigger { route, component });
    }

    Ok(Manifest { name: raw.application.name, variables: raw.variables, http_triggers, components })
}

impl Manifest {
    /// Every database label some component may open, sorted and without duplicates.
    pub fn database_labels(&self) -> Vec<String> {
        let mut labels: Vec<String> =
            self.components.values().flat_map(|c| c.sqlite_databases.iter().cloned()).collect();
        labels.sort();
        labels.dedup();
        labels
    }

    /// The ids of the components some trigger uses, in first-use order.
    pub fn triggered_components(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for t in &self.http_triggers {
            if !ids.contains(&t.component.as_str()) {
                ids.push(&t.component);
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL_LOOKING: &str = r#"
spin_manifest_version = 2

[application]
name = "civic"
version = "0.1.0"
authors = ["Province IT"]
description = "Citizen-service functions"

[application.trigger.http]
base = "/"

[variables]
jwt_issuer = { default = "https://id.example.gov.vn" }
jwt_secret = { required = true, secret = true }
sms_reply_limit = { default = "160" }

[[trigger.http]]
route = "/food-safety/..."
component = "food-safety"

[[trigger.http]]
route = "/food-safety/health"
component = "food-health"

[[trigger.http]]
route = { private = true }
component = "food-health"

[component.food-safety]
source = "target/wasm32-wasip2/release/food_safety.wasm"
allowed_outbound_hosts = ["https://openapi.zalo.me", "http://localhost:*"]
sqlite_databases = ["food"]
environment = { RUST_LOG = "info" }
[component.food-safety.variables]
jwt_issuer = "{{ jwt_issuer }}"
jwt_secret = "{{ jwt_secret }}"
greeting = "Xin chào"
[component.food-safety.build]
command = "cargo build --target wasm32-wasip2 --release -p food-safety"
watch = ["src/**/*.rs"]

[component.food-health]
source = "health.wasm"
sqlite_databases = ["food", "default"]
"#;

    #[test]
    fn parses_a_real_looking_manifest() {
        let m = parse(REAL_LOOKING, Path::new("/app")).expect("parses");
        assert_eq!(m.name, "civic");
        assert_eq!(m.variables.len(), 3);
        assert_eq!(m.variables["jwt_secret"], VariableDef { default: None, required: true, secret: true });
        assert_eq!(m.variables["jwt_issuer"].default.as_deref(), Some("https://id.example.gov.vn"));
        assert_eq!(
            m.http_triggers,
            vec![
                HttpTrigger { route: Some("/food-safety/...".into()), component: "food-safety".into() },
                HttpTrigger { route: Some("/food-safety/health".into()), component: "food-health".into() },
                HttpTrigger { route: None, component: "food-health".into() },
            ]
        );
        let c = &m.components["food-safety"];
        assert_eq!(c.source, Path::new("/app/target/wasm32-wasip2/release/food_safety.wasm"));
        assert_eq!(c.allowed_outbound_hosts, vec!["https://openapi.zalo.me", "http://localhost:*"]);
        assert_eq!(c.sqlite_databases, vec!["food"]);
        assert_eq!(c.variables["jwt_issuer"], "{{ jwt_issuer }}");
        assert_eq!(c.variables["greeting"], "Xin chào");
        assert_eq!(c.environment["RUST_LOG"], "info");
        assert_eq!(m.database_labels(), vec!["default", "food"]);
        assert_eq!(m.triggered_components(), vec!["food-safety", "food-health"]);
        let h = &m.components["food-health"];
        assert!(h.allowed_outbound_hosts.is_empty());
        assert!(h.variables.is_empty());
    }

    #[test]
    fn refuses_bad_manifests() {
        let cases: &[(&str, &str)] = &[
            ("", "spin_manifest_version = 2 is missing"),
            ("spin_manifest_version = 1", "not supported"),
            ("spin_manifest_version = 2\n[[trigger.http]]\nroute = \"/a\"\ncomponent = \"x\"\n", "not defined"),
            (
                "spin_manifest_version = 2\n[[trigger.http]]\nroute = \"/a\"\ncomponent = { source = \"a.wasm\" }\n",
                "must be the id",
            ),
            ("spin_manifest_version = 2\n[variables]\nBad = { default = \"x\" }\n", "invalid character"),
            (
                "spin_manifest_version = 2\n[variables]\na = { default = \"x\", required = true }\n",
                "both required and have a default",
            ),
            (
                "spin_manifest_version = 2\n[component.a]\nsource = { url = \"https://x\", digest = \"d\" }\n",
                "local file",
            ),
            ("spin_manifest_version = 2\n[component.a]\n", "source"),
            (
                "spin_manifest_version = 2\n[[trigger.http]]\nroute = 3\ncomponent = \"a\"\n[component.a]\nsource = \"a.wasm\"\n",
                "route",
            ),
            (
                "spin_manifest_version = 2\n[component.a]\nsource = \"a.wasm\"\n[component.a.variables]\n\"x-y\" = \"1\"\n",
                "invalid character",
            ),
            ("not toml [", "invalid manifest"),
        ];
        for (text, want) in cases {
            let err = parse(text, Path::new(".")).expect_err(text).0;
            assert!(err.contains(want), "{text:?}: {err:?} should contain {want:?}");
        }
    }
}
