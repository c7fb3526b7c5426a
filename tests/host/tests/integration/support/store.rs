//! A store of its own for one test, on either backend: a fresh PostgreSQL
//! database, or a fresh state directory whose `sqlite_db.db` is Spin's
//! `default` SQLite database. Both are removed when the test ends. Tests
//! read what the service wrote with plain SQL that both dialects accept.

use super::{unique_name, variables, TestApp, TestDb, SECRET_KEY};
use anyhow::{Context, Result};
use serde_json::Value;
use spin_test_host::StateDir;
use std::collections::HashMap;
use std::path::PathBuf;

/// Which store the service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A state directory for one test, deleted on drop.
pub struct TestStateDir {
    pub path: PathBuf,
}

impl TestStateDir {
    pub fn create() -> Result<TestStateDir> {
        let path = std::env::temp_dir().join(unique_name("auth_state"));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TestStateDir { path })
    }

    /// Spin's default database file in this directory.
    pub fn database_file(&self) -> PathBuf {
        self.path.join(spin_test_host::sqlite::DEFAULT_DATABASE_FILE)
    }
}

impl Drop for TestStateDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            eprintln!("warning: could not remove {}: {e}", self.path.display());
        }
    }
}

pub enum TestStore {
    Postgres(TestDb),
    Sqlite(TestStateDir),
}

impl TestStore {
    pub async fn create(backend: Backend) -> Result<TestStore> {
        Ok(match backend {
            Backend::Postgres => TestStore::Postgres(TestDb::create().await?),
            Backend::Sqlite => TestStore::Sqlite(TestStateDir::create()?),
        })
    }

    /// The standard variables: this store, the test key, and events going
    /// nowhere (port 1 refuses at once), so they wait in the outbox.
    pub fn variables(&self) -> HashMap<String, String> {
        let mut env = variables(&[("secret_key", SECRET_KEY), ("rabbitmq_port", "1")]);
        if let TestStore::Postgres(db) = self {
            env.extend(variables(&[("database_url", &db.url())]));
        }
        env
    }

    /// Where the host keeps state: this store's directory, or none.
    pub fn state_dir(&self) -> StateDir {
        match self {
            TestStore::Postgres(_) => StateDir::Unset,
            TestStore::Sqlite(dir) => StateDir::Provided(dir.path.clone()),
        }
    }

    /// The app on this store with the standard variables.
    pub fn app(&self) -> Result<TestApp> {
        self.app_with(&[])
    }

    /// The app on this store, with `extra` variables over the standard ones.
    pub fn app_with(&self, extra: &[(&str, &str)]) -> Result<TestApp> {
        let mut env = self.variables();
        env.extend(variables(extra));
        self.app_env(env)
    }

    /// The app on this store with exactly `env`.
    pub fn app_env(&self, env: HashMap<String, String>) -> Result<TestApp> {
        TestApp::load_with(&super::manifest_path(), env, self.state_dir())
    }

    /// The app on this store with the standard variables, served in `profile`.
    pub fn app_profile(&self, profile: spin_test_host::Profile) -> Result<TestApp> {
        TestApp::load_profile(&super::manifest_path(), self.variables(), self.state_dir(), None, profile)
    }

    /// Runs `sql` (no parameters) and returns every row as JSON values.
    pub async fn rows(&self, sql: &str) -> Result<Vec<Vec<Value>>> {
        match self {
            TestStore::Postgres(db) => {
                let rows = db.client().await?.query(sql, &[]).await.with_context(|| sql.to_owned())?;
                rows.iter().map(pg_row).collect()
            }
            TestStore::Sqlite(dir) => {
                let path = dir.database_file();
                let sql = sql.to_owned();
                tokio::task::spawn_blocking(move || sqlite_rows(&path, &sql)).await?
            }
        }
    }

    /// The single value of a one-row, one-column query.
    pub async fn scalar(&self, sql: &str) -> Result<Value> {
        let rows = self.rows(sql).await?;
        rows.into_iter().next().and_then(|r| r.into_iter().next()).with_context(|| format!("no value from {sql}"))
    }

    pub async fn count(&self, sql: &str) -> Result<i64> {
        self.scalar(sql).await?.as_i64().with_context(|| format!("{sql} is not a number"))
    }

    /// Runs a statement; returns the rows it changed.
    pub async fn execute(&self, sql: &str) -> Result<u64> {
        match self {
            TestStore::Postgres(db) => Ok(db.client().await?.execute(sql, &[]).await.with_context(|| sql.to_owned())?),
            TestStore::Sqlite(dir) => {
                let path = dir.database_file();
                let sql = sql.to_owned();
                tokio::task::spawn_blocking(move || -> Result<u64> {
                    let conn = rusqlite::Connection::open(&path)?;
                    Ok(conn.execute(&sql, []).with_context(|| sql.clone())? as u64)
                })
                .await?
            }
        }
    }

    /// Outbox rows as (event name, payload), oldest first.
    pub async fn outbox(&self) -> Result<Vec<(String, Value)>> {
        let rows = self.rows("SELECT event, payload FROM auth_outbox ORDER BY seq").await?;
        rows.into_iter()
            .map(|row| {
                let name = row[0].as_str().context("event name")?.to_owned();
                let payload = match &row[1] {
                    Value::String(text) => serde_json::from_str(text)?,
                    other => other.clone(),
                };
                Ok((name, payload))
            })
            .collect()
    }

    /// Outbox rows not yet published.
    pub async fn pending(&self) -> Result<i64> {
        self.count("SELECT count(*) FROM auth_outbox WHERE published_at IS NULL").await
    }

    /// [`Self::pending`] once delivery after a response has had up to 5 s
    /// to mark its rows: the broker confirms (and a consumer may see the
    /// message) before the publisher's statement marks them published.
    pub async fn pending_after_delivery(&self) -> Result<i64> {
        for _ in 0..50 {
            let pending = self.pending().await?;
            if pending == 0 {
                return Ok(0);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.pending().await
    }

    /// Every event id in the outbox.
    pub async fn event_ids(&self) -> Result<std::collections::HashSet<String>> {
        let rows = self.rows("SELECT id FROM auth_outbox").await?;
        Ok(rows.into_iter().filter_map(|r| r[0].as_str().map(str::to_owned)).collect())
    }
}

fn pg_row(row: &tokio_postgres::Row) -> Result<Vec<Value>> {
    use tokio_postgres::types::Type;
    (0..row.len())
        .map(|i| {
            let ty = row.columns()[i].type_();
            Ok(match *ty {
                Type::BOOL => row.get::<_, Option<bool>>(i).map_or(Value::Null, Value::from),
                Type::INT2 => row.get::<_, Option<i16>>(i).map_or(Value::Null, Value::from),
                Type::INT4 => row.get::<_, Option<i32>>(i).map_or(Value::Null, Value::from),
                Type::INT8 => row.get::<_, Option<i64>>(i).map_or(Value::Null, Value::from),
                Type::FLOAT8 => row.get::<_, Option<f64>>(i).map_or(Value::Null, Value::from),
                Type::JSON | Type::JSONB => row.get::<_, Option<Value>>(i).unwrap_or(Value::Null),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                    row.get::<_, Option<String>>(i).map_or(Value::Null, Value::from)
                }
                _ => anyhow::bail!("column {i} has type {ty}, which the fixture does not read"),
            })
        })
        .collect()
}

fn sqlite_rows(path: &std::path::Path, sql: &str) -> Result<Vec<Vec<Value>>> {
    use rusqlite::types::ValueRef;
    let conn = rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut statement = conn.prepare(sql).with_context(|| sql.to_owned())?;
    let width = statement.column_count();
    let mut rows = statement.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..width)
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::from(n),
                    ValueRef::Real(f) => Value::from(f),
                    ValueRef::Text(t) => Value::from(std::str::from_utf8(t)?),
                    ValueRef::Blob(_) => anyhow::bail!("column {i} is a blob"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(values);
    }
    Ok(out)
}

/// Declares an async test body that runs once on each store, as
/// `<name>::postgres` and `<name>::sqlite`.
#[macro_export]
macro_rules! on_both_stores {
    ($(#[$meta:meta])* async fn $name:ident($store:ident) $body:block $($rest:tt)*) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($store: &$crate::support::store::TestStore) -> anyhow::Result<()> $body

            #[tokio::test]
            async fn postgres() -> anyhow::Result<()> {
                let store = $crate::support::store::TestStore::create($crate::support::store::Backend::Postgres).await?;
                body(&store).await
            }

            #[tokio::test]
            async fn sqlite() -> anyhow::Result<()> {
                let store = $crate::support::store::TestStore::create($crate::support::store::Backend::Sqlite).await?;
                body(&store).await
            }
        }
        $crate::on_both_stores!($($rest)*);
    };
    () => {};
}
