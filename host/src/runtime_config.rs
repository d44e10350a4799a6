//! The Spin runtime config file (`runtime-config.toml`): which SQLite file backs each database
//! label.
//!
//! Spin reads `[sqlite_database.<label>] type = "spin", path = "..."`. The local host keeps all
//! its data under one directory (`--data`), so only the *file name* of `path` is used:
//! the database of a label is `<data>/<file name>`, and a label that the runtime config does not
//! mention is `<data>/<label>.db`. Other sections (`[key_value_store.*]`, `[variables_provider]`,
//! ...) are ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::manifest::ManifestError;

/// The parsed runtime config: the file name configured for each SQLite label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// label -> file name (just the last component of the configured `path`).
    pub sqlite_files: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    sqlite_database: BTreeMap<String, RawSqlite>,
}

#[derive(Deserialize)]
struct RawSqlite {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: Option<String>,
}

/// Reads a runtime config file.
pub fn load(path: &Path) -> Result<RuntimeConfig, ManifestError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ManifestError(format!("cannot read runtime config {}: {e}", path.display())))?;
    parse(&text).map_err(|e| ManifestError(format!("{}: {e}", path.display())))
}

/// Parses runtime config text.
pub fn parse(text: &str) -> Result<RuntimeConfig, ManifestError> {
    let raw: Raw = toml::from_str(text).map_err(|e| ManifestError(format!("invalid runtime config: {e}")))?;
    let mut sqlite_files = BTreeMap::new();
    for (label, db) in raw.sqlite_database {
        if db.kind != "spin" {
            return Err(ManifestError(format!(
                "[sqlite_database.{label}]: type = {:?} is not supported by the local host (only \"spin\")",
                db.kind
            )));
        }
        let file = match db.path.as_deref() {
            Some(p) => Path::new(p)
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
                .ok_or_else(|| ManifestError(format!("[sqlite_database.{label}]: path {p:?} names no file")))?,
            None => format!("{label}.db"),
        };
        sqlite_files.insert(label, file);
    }
    Ok(RuntimeConfig { sqlite_files })
}

impl RuntimeConfig {
    /// The database file of `label` under the data directory.
    pub fn database_file(&self, data_dir: &Path, label: &str) -> PathBuf {
        match self.sqlite_files.get(label) {
            Some(file) => data_dir.join(file),
            None => data_dir.join(format!("{label}.db")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_labels_to_files_under_the_data_dir() {
        let rc = parse(
            r#"
[sqlite_database.default]
type = "spin"
path = ".spin/sqlite_db.db"

[sqlite_database.food]
type = "spin"
path = "/var/lib/civic/food.sqlite"

[sqlite_database.reports]
type = "spin"

[key_value_store.default]
type = "spin"
path = ".spin/kv.db"
"#,
        )
        .expect("parses");
        let data = Path::new("/tmp/data");
        assert_eq!(rc.database_file(data, "default"), data.join("sqlite_db.db"));
        assert_eq!(rc.database_file(data, "food"), data.join("food.sqlite"));
        assert_eq!(rc.database_file(data, "reports"), data.join("reports.db"));
        assert_eq!(rc.database_file(data, "permits"), data.join("permits.db"));
    }

    #[test]
    fn refuses_other_backends_and_bad_text() {
        let e =
            parse("[sqlite_database.x]\ntype = \"libsql\"\nurl = \"https://t\"\ntoken = \"t\"\n").expect_err("libsql");
        assert!(e.0.contains("not supported"), "{e}");
        assert!(parse("[sqlite_database.x]\npath = \"a.db\"\n").is_err());
        assert!(parse("[[[").is_err());
        assert_eq!(parse("").expect("empty is fine"), RuntimeConfig::default());
    }
}
