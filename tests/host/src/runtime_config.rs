//! The runtime configuration file (`--runtime-config-file`) and the state
//! directory, resolved as Spin 4.0.2 does (`crates/runtime-config`): the
//! `--state-dir` flag wins, then the file's `state_dir` key, then `.spin/`
//! beside `spin.toml`; an empty value unsets it. The test host reads the
//! file's `state_dir` and `[sqlite_database.<label>]` entries.

use crate::sqlite::SqliteDatabases;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Spin's default state directory, beside the manifest.
pub const DEFAULT_STATE_DIR: &str = ".spin";

/// The state directory as the user gave it (`--state-dir`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateDir {
    /// Not given: the file's `state_dir`, else `.spin/` beside the manifest.
    #[default]
    Default,
    Provided(PathBuf),
    /// Given as empty: no state directory (the default database is in memory).
    Unset,
}

impl StateDir {
    /// The meaning of a `--state-dir` value.
    pub fn from_flag(value: &str) -> StateDir {
        if value.is_empty() {
            StateDir::Unset
        } else {
            StateDir::Provided(PathBuf::from(value))
        }
    }
}

/// A parsed runtime configuration file (empty when none is given).
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    table: toml::Table,
}

impl RuntimeConfig {
    pub fn load(path: Option<&Path>) -> Result<RuntimeConfig> {
        let Some(path) = path else { return Ok(RuntimeConfig::default()) };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read runtime config file '{}'", path.display()))?;
        RuntimeConfig::parse(&text).with_context(|| format!("failed to parse runtime config file '{}' as toml", path.display()))
    }

    pub fn parse(text: &str) -> Result<RuntimeConfig> {
        Ok(RuntimeConfig { table: toml::from_str(text)? })
    }

    /// The resolved state directory, absolute, or `None` when unset.
    pub fn state_dir(&self, flag: &StateDir, app_dir: &Path) -> Result<Option<PathBuf>> {
        let mut chosen = flag.clone();
        if chosen == StateDir::Default {
            if let Some(value) = self.table.get("state_dir").and_then(toml::Value::as_str) {
                chosen = StateDir::from_flag(value);
            }
        }
        Ok(match chosen {
            StateDir::Provided(path) => Some(std::path::absolute(path)?),
            StateDir::Default => Some(std::path::absolute(app_dir.join(DEFAULT_STATE_DIR))?),
            StateDir::Unset => None,
        })
    }

    /// The app's SQLite databases: the file's entries plus `default`.
    pub fn sqlite_databases(&self, state_dir: Option<&Path>) -> Result<SqliteDatabases> {
        let cwd = std::env::current_dir().context("failed to get current working directory")?;
        SqliteDatabases::resolve(self.table.get("sqlite_database"), state_dir, &cwd)
            .context("failed to resolve sqlite runtime config")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::Location;

    #[test]
    fn state_dir_flag_beats_the_file_which_beats_the_default() {
        let app = Path::new("/srv/app");
        let none = RuntimeConfig::default();
        assert_eq!(none.state_dir(&StateDir::Default, app).unwrap(), Some(PathBuf::from("/srv/app/.spin")));
        assert_eq!(none.state_dir(&StateDir::from_flag("/data"), app).unwrap(), Some(PathBuf::from("/data")));
        assert_eq!(none.state_dir(&StateDir::from_flag(""), app).unwrap(), None);

        let file = RuntimeConfig::parse("state_dir = \"/var/lib/auth\"").unwrap();
        assert_eq!(file.state_dir(&StateDir::Default, app).unwrap(), Some(PathBuf::from("/var/lib/auth")));
        assert_eq!(file.state_dir(&StateDir::from_flag("/data"), app).unwrap(), Some(PathBuf::from("/data")));
        let unset = RuntimeConfig::parse("state_dir = \"\"").unwrap();
        assert_eq!(unset.state_dir(&StateDir::Default, app).unwrap(), None);
    }

    #[test]
    fn relative_state_dir_is_made_absolute_from_the_working_directory() {
        let dir = RuntimeConfig::default().state_dir(&StateDir::from_flag("state"), Path::new("/x")).unwrap().unwrap();
        assert!(dir.is_absolute() && dir.ends_with("state"), "{}", dir.display());
    }

    #[test]
    fn the_repositorys_runtime_config_keeps_the_default_database_in_the_state_dir() {
        let rc = RuntimeConfig::parse(include_str!("../../../runtime-config.toml")).unwrap();
        assert_eq!(rc.state_dir(&StateDir::Default, Path::new("/app")).unwrap(), Some(PathBuf::from("/app/.spin")));
        let dbs = rc.sqlite_databases(Some(Path::new("/app/.spin"))).unwrap();
        assert_eq!(dbs.location("default"), Some(&Location::Path(PathBuf::from("/app/.spin/sqlite_db.db"))));
    }

    #[test]
    fn sqlite_entries_come_from_the_file() {
        let dir = std::env::temp_dir().join(format!("runtime-config-test-{}", std::process::id()));
        let path = dir.join("auth.db");
        let rc = RuntimeConfig::parse(&format!("[sqlite_database.default]\ntype = \"spin\"\npath = {:?}\n", path)).unwrap();
        let dbs = rc.sqlite_databases(Some(Path::new("/state"))).unwrap();
        assert_eq!(dbs.location("default"), Some(&Location::Path(path)));
        std::fs::remove_dir_all(&dir).unwrap();
        let dbs = RuntimeConfig::default().sqlite_databases(Some(Path::new("/state"))).unwrap();
        assert_eq!(dbs.location("default"), Some(&Location::Path(PathBuf::from("/state/sqlite_db.db"))));
        assert!(RuntimeConfig::parse("state_dir = ").is_err());
    }
}
