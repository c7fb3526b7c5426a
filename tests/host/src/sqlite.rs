//! `spin:sqlite/sqlite@3.0.0` over rusqlite with its bundled SQLite, as
//! Spin 4.0.2 implements it (`crates/factor-sqlite`, `crates/sqlite-inproc`,
//! `crates/sqlite`): a component opens only the labels its manifest lists in
//! `sqlite_databases` (`access-denied` otherwise), a label must have a
//! database behind it (`no-such-database`), and every `open` is a new
//! connection to the file, made at its first statement. Spin sets nothing on
//! those connections, so they have rusqlite's defaults: a 5 s busy timeout
//! and the database file's own journal mode.

use crate::bindings::spin::sqlite::sqlite::{self as v3, Error, QueryResult, RowResult, Value};
use crate::runtime::RequestState;
use anyhow::{bail, Context, Result};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::component::Resource;

/// The file the `default` label uses inside the state directory.
pub const DEFAULT_DATABASE_FILE: &str = "sqlite_db.db";
/// Spin buffers at most this much of a result in the host.
const MAX_RESULT_BYTES: usize = 128 << 20;
/// Spin's per-instance table of open connections holds this many.
const MAX_OPEN_CONNECTIONS: usize = 256;

/// Where a label's database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A fresh, empty database per connection (the default label when the
    /// state directory is unset).
    InMemory,
    Path(PathBuf),
}

/// A file database's connections that guests have dropped, warm for the
/// next `open`. Spin opens a new connection for every `open`; the test host
/// keeps them, as it keeps PostgreSQL connections without Spin's reset, so
/// that benchmarks time the component rather than the file's open and
/// schema read (README, "The test host").
#[derive(Clone, Default)]
struct IdleConnections(Arc<Mutex<Vec<rusqlite::Connection>>>);

/// Idle connections kept per database at the most.
const MAX_IDLE_CONNECTIONS: usize = 64;

impl IdleConnections {
    fn take(&self) -> Option<rusqlite::Connection> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Keeps `conn` unless it is in a transaction (a guest that began one
    /// and never ended it) or the pool is full; restores the busy timeout
    /// a guest may have changed.
    fn put(&self, conn: rusqlite::Connection) {
        if !conn.is_autocommit() || conn.busy_timeout(std::time::Duration::from_secs(5)).is_err() {
            return;
        }
        let mut idle = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(conn);
        }
    }
}

impl std::fmt::Debug for IdleConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdleConnections")
    }
}

/// The pool is not part of what a label is.
impl PartialEq for IdleConnections {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for IdleConnections {}

/// How a label's connections are made.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Creator {
    location: Location,
    idle: IdleConnections,
    /// The parent directory is created per connection (the default label)
    /// rather than once at startup (a runtime-config entry).
    create_dir_per_connection: bool,
    allow_attach_file: bool,
}

/// The databases of an app, by label: the runtime config's
/// `[sqlite_database.<label>]` entries plus `default`.
#[derive(Debug, Clone, Default)]
pub struct SqliteDatabases {
    creators: HashMap<String, Creator>,
}

/// A `[sqlite_database.<label>]` entry of `type = "spin"`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InProcEntry {
    path: Option<PathBuf>,
    #[serde(default)]
    allow_attach_file: bool,
}

impl SqliteDatabases {
    /// Resolves the runtime config's entries (relative paths from `cwd`, as
    /// Spin does) and adds `default` at `<state_dir>/sqlite_db.db`, in memory
    /// when there is no state directory, unless an entry names it.
    pub fn resolve(entries: Option<&toml::Value>, state_dir: Option<&Path>, cwd: &Path) -> Result<SqliteDatabases> {
        let mut creators = HashMap::new();
        if let Some(entries) = entries {
            let table = entries.as_table().context("`sqlite_database` must be a table of labels")?;
            for (label, entry) in table {
                let kind = entry.get("type").and_then(toml::Value::as_str).unwrap_or_default();
                let creator = match kind {
                    "spin" => {
                        let mut config = entry.as_table().cloned().unwrap_or_default();
                        config.remove("type");
                        let config: InProcEntry = toml::Value::Table(config)
                            .try_into()
                            .with_context(|| format!("[sqlite_database.{label}]"))?;
                        let location = match config.path {
                            Some(path) => {
                                let path = if path.is_absolute() { path } else { cwd.join(path) };
                                create_parent(&path)?;
                                Location::Path(path)
                            }
                            None => Location::InMemory,
                        };
                        Creator {
                            location,
                            idle: IdleConnections::default(),
                            create_dir_per_connection: false,
                            allow_attach_file: config.allow_attach_file,
                        }
                    }
                    "libsql" => bail!(
                        "[sqlite_database.{label}]: the test host has no libSQL client; use type = \"spin\" here (Spin itself supports libsql)"
                    ),
                    other => bail!("Unknown database kind: {other}"),
                };
                creators.insert(label.clone(), creator);
            }
        }
        creators.entry("default".to_owned()).or_insert_with(|| Creator {
            location: state_dir.map_or(Location::InMemory, |dir| Location::Path(dir.join(DEFAULT_DATABASE_FILE))),
            idle: IdleConnections::default(),
            create_dir_per_connection: true,
            allow_attach_file: false,
        });
        Ok(SqliteDatabases { creators })
    }

    /// Where `label`'s database lives, if it is configured.
    pub fn location(&self, label: &str) -> Option<&Location> {
        self.creators.get(label).map(|c| &c.location)
    }

    /// Spin refuses to start an app whose components name unconfigured labels.
    pub fn ensure_configured<'a>(&self, uses: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Result<()> {
        let mut errors: Vec<String> = Vec::new();
        for (component, labels) in uses {
            for label in labels.iter().filter(|l| !self.creators.contains_key(l.as_str())) {
                errors.push(format!("- Component {component} uses database '{label}'"));
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        let mut lines = vec![
            "One or more components use SQLite databases which are not defined.".to_owned(),
            "Check the spelling, or pass a runtime configuration file that defines these stores.".to_owned(),
            "See https://spinframework.dev/dynamic-configuration#sqlite-storage-runtime-configuration".to_owned(),
            "Details:".to_owned(),
        ];
        lines.extend(errors);
        bail!(lines.join("\n"))
    }
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("failed to create sqlite database directory '{}'", parent.display()))?;
    }
    Ok(())
}

/// One component's access: the labels it may open and the app's databases.
#[derive(Debug, Clone, Default)]
pub struct SqliteAccess {
    pub allowed: HashSet<String>,
    pub databases: Arc<SqliteDatabases>,
    /// Hand dropped file connections to the next `open` (the `Fast`
    /// profile); Spin opens a new one every time.
    pub warm: bool,
}

/// A guest's connection: the rusqlite connection is opened at first use.
pub struct Connection {
    creator: Creator,
    inner: OnceLock<Arc<Mutex<rusqlite::Connection>>>,
    warm: bool,
}

impl Connection {
    fn db(&self) -> Result<Arc<Mutex<rusqlite::Connection>>, Error> {
        if let Some(conn) = self.inner.get() {
            return Ok(conn.clone());
        }
        if let Some(warm) = self.warm.then(|| self.creator.idle.take()).flatten() {
            return Ok(self.inner.get_or_init(|| Arc::new(Mutex::new(warm))).clone());
        }
        let conn = match &self.creator.location {
            Location::InMemory => rusqlite::Connection::open_in_memory(),
            Location::Path(path) => rusqlite::Connection::open(path),
        }
        .map_err(|e| Error::Io(e.to_string()))?;
        if !self.creator.allow_attach_file {
            conn.authorizer(Some(|ctx: rusqlite::hooks::AuthContext<'_>| {
                use rusqlite::hooks::{AuthAction, Authorization};
                match ctx.action {
                    AuthAction::Attach { filename } if !matches!(filename, "" | ":memory:") => Authorization::Deny,
                    _ => Authorization::Allow,
                }
            }));
        }
        Ok(self.inner.get_or_init(|| Arc::new(Mutex::new(conn))).clone())
    }
}

/// A file database's connection goes back warm (in-memory ones are
/// databases of their own, and end with their connection).
impl Drop for Connection {
    fn drop(&mut self) {
        let (Location::Path(_), Some(shared), true) = (&self.creator.location, self.inner.take(), self.warm) else { return };
        if let Ok(mutex) = Arc::try_unwrap(shared) {
            self.creator.idle.put(mutex.into_inner().unwrap_or_else(|e| e.into_inner()));
        }
    }
}

/// Opens `label` for a component, with Spin's checks in Spin's order.
pub fn open(access: &SqliteAccess, label: &str) -> Result<Connection, Error> {
    if !access.allowed.contains(label) {
        return Err(Error::AccessDenied);
    }
    let creator = access.databases.creators.get(label).ok_or(Error::NoSuchDatabase)?;
    if creator.create_dir_per_connection {
        if let Location::Path(path) = &creator.location {
            // Spin's connection factory fails with this variant, whatever the cause.
            create_parent(path).map_err(|_| Error::InvalidConnection)?;
        }
    }
    Ok(Connection { creator: creator.clone(), inner: OnceLock::new(), warm: access.warm })
}

fn to_sql(value: Value) -> rusqlite::types::Value {
    match value {
        Value::Null => rusqlite::types::Value::Null,
        Value::Integer(i) => rusqlite::types::Value::Integer(i),
        Value::Real(r) => rusqlite::types::Value::Real(r),
        Value::Text(t) => rusqlite::types::Value::Text(t),
        Value::Blob(b) => rusqlite::types::Value::Blob(b),
    }
}

fn from_sql(value: rusqlite::types::ValueRef<'_>) -> Result<Value, Error> {
    use rusqlite::types::ValueRef;
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        // Spin unwraps this conversion; its blocking task then fails and
        // the guest sees an I/O error.
        ValueRef::Text(t) => Value::Text(
            String::from_utf8(t.to_vec()).map_err(|_| Error::Io("internal runtime error: text is not UTF-8".into()))?,
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

fn size_of_value(value: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match value {
            Value::Text(t) => t.len(),
            Value::Blob(b) => b.len(),
            _ => 0,
        }
}

/// Runs one statement on the connection's thread of the blocking pool, as
/// Spin does; rusqlite errors reach the guest as `io` with their text.
pub fn execute_blocking(conn: &Mutex<rusqlite::Connection>, sql: &str, params: Vec<Value>) -> Result<QueryResult, Error> {
    let io = |e: rusqlite::Error| Error::Io(e.to_string());
    let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
    let mut statement = conn.prepare_cached(sql).map_err(io)?;
    let columns: Vec<String> = statement.column_names().into_iter().map(str::to_owned).collect();
    let width = columns.len();
    let mut rows = statement.query(rusqlite::params_from_iter(params.into_iter().map(to_sql))).map_err(io)?;
    let mut result = Vec::new();
    let mut bytes = std::mem::size_of::<QueryResult>();
    while let Some(row) = rows.next().map_err(io)? {
        let values = (0..width).map(|i| from_sql(row.get_ref(i).map_err(io)?)).collect::<Result<Vec<_>, _>>()?;
        bytes += values.iter().map(size_of_value).sum::<usize>();
        if bytes > MAX_RESULT_BYTES {
            return Err(Error::Io(format!("query result exceeds limit of {MAX_RESULT_BYTES} bytes")));
        }
        result.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: result })
}

/// The per-request count of open connections, capped as Spin's table is.
#[derive(Default)]
pub struct SqliteInstance {
    open: usize,
}

impl v3::Host for RequestState {}

impl v3::HostConnection for RequestState {
    async fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        if self.sqlite.open >= MAX_OPEN_CONNECTIONS {
            return Ok(Err(Error::Io("too many connections opened".into())));
        }
        Ok(match open(&self.component.sqlite, &database) {
            Ok(conn) => {
                self.sqlite.open += 1;
                Ok(self.table.push(conn)?)
            }
            Err(e) => Err(e),
        })
    }

    async fn execute(
        &mut self,
        conn: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let Ok(conn) = self.table.get(&conn) else { return Ok(Err(Error::InvalidConnection)) };
        let db = match conn.db() {
            Ok(db) => db,
            Err(e) => return Ok(Err(e)),
        };
        let result = tokio::task::spawn_blocking(move || execute_blocking(&db, &statement, parameters)).await;
        Ok(result.unwrap_or_else(|e| Err(Error::Io(format!("internal runtime error: {e}")))))
    }

    async fn last_insert_rowid(&mut self, conn: Resource<Connection>) -> wasmtime::Result<i64> {
        let db = self.table.get(&conn)?.db().map_err(|e| wasmtime::format_err!("{e:?}"))?;
        let rowid = db.lock().unwrap_or_else(|e| e.into_inner()).last_insert_rowid();
        Ok(rowid)
    }

    async fn changes(&mut self, conn: Resource<Connection>) -> wasmtime::Result<u64> {
        let db = self.table.get(&conn)?.db().map_err(|e| wasmtime::format_err!("{e:?}"))?;
        let changes = db.lock().unwrap_or_else(|e| e.into_inner()).changes();
        Ok(changes)
    }

    async fn drop(&mut self, conn: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        self.sqlite.open = self.sqlite.open.saturating_sub(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sqlite-host-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn access(labels: &[&str], databases: SqliteDatabases) -> SqliteAccess {
        SqliteAccess { allowed: labels.iter().map(|l| l.to_string()).collect(), databases: Arc::new(databases), warm: true }
    }

    fn run(conn: &Connection, sql: &str, params: Vec<Value>) -> Result<QueryResult, Error> {
        execute_blocking(&*conn.db()?, sql, params)
    }

    #[test]
    fn default_database_is_sqlite_db_db_in_the_state_dir_or_in_memory() {
        let dbs = SqliteDatabases::resolve(None, Some(Path::new("/app/.spin")), Path::new("/cwd")).unwrap();
        assert_eq!(dbs.location("default"), Some(&Location::Path(PathBuf::from("/app/.spin/sqlite_db.db"))));
        let dbs = SqliteDatabases::resolve(None, None, Path::new("/cwd")).unwrap();
        assert_eq!(dbs.location("default"), Some(&Location::InMemory));
        assert_eq!(dbs.location("other"), None);
    }

    #[test]
    fn runtime_config_entries_resolve_relative_to_the_working_directory() {
        let dir = temp_dir("rc");
        let config: toml::Value = toml::from_str(
            "[default]\ntype = \"spin\"\npath = \"data/auth.db\"\n[scratch]\ntype = \"spin\"\n",
        )
        .unwrap();
        let dbs = SqliteDatabases::resolve(Some(&config), Some(Path::new("/unused")), &dir).unwrap();
        assert_eq!(dbs.location("default"), Some(&Location::Path(dir.join("data/auth.db"))));
        assert_eq!(dbs.location("scratch"), Some(&Location::InMemory));
        assert!(dir.join("data").is_dir(), "the parent directory is made at startup");
        std::fs::remove_dir_all(&dir).unwrap();

        let unknown: toml::Value = toml::from_str("[x]\ntype = \"mysql\"\n").unwrap();
        let err = SqliteDatabases::resolve(Some(&unknown), None, Path::new("/")).unwrap_err();
        assert_eq!(err.to_string(), "Unknown database kind: mysql");
        let extra: toml::Value = toml::from_str("[x]\ntype = \"spin\"\nfile = \"a.db\"\n").unwrap();
        assert!(SqliteDatabases::resolve(Some(&extra), None, Path::new("/")).is_err(), "unknown fields are refused");
    }

    #[test]
    fn unconfigured_label_stops_startup_with_spins_error() {
        let dbs = SqliteDatabases::resolve(None, None, Path::new("/")).unwrap();
        let labels = vec!["default".to_owned(), "analytics".to_owned()];
        let err = dbs.ensure_configured([("auth", labels.as_slice())]).unwrap_err().to_string();
        assert!(err.starts_with("One or more components use SQLite databases which are not defined."), "{err}");
        assert!(err.ends_with("- Component auth uses database 'analytics'"), "{err}");
        assert!(dbs.ensure_configured([("auth", &labels[..1])]).is_ok());
    }

    #[test]
    fn open_denies_ungranted_labels_before_looking_them_up() {
        let dbs = SqliteDatabases::resolve(None, None, Path::new("/")).unwrap();
        assert!(matches!(open(&access(&[], dbs.clone()), "default"), Err(Error::AccessDenied)));
        assert!(matches!(open(&access(&["default"], dbs.clone()), "nope"), Err(Error::AccessDenied)));
        assert!(matches!(open(&access(&["nope"], dbs.clone()), "nope"), Err(Error::NoSuchDatabase)));
        assert!(open(&access(&["default"], dbs), "default").is_ok());
    }

    #[test]
    fn values_round_trip_and_errors_are_io_with_sqlites_text() {
        let dbs = SqliteDatabases::resolve(None, None, Path::new("/")).unwrap();
        let conn = open(&access(&["default"], dbs), "default").unwrap();
        run(&conn, "CREATE TABLE t (i INTEGER, r REAL, s TEXT UNIQUE, b BLOB, n TEXT)", vec![]).unwrap();
        let params = vec![
            Value::Integer(-7),
            Value::Real(1.5),
            Value::Text("o'neil; DROP TABLE t --".into()),
            Value::Blob(vec![0, 255]),
            Value::Null,
        ];
        let inserted = run(&conn, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", params).unwrap();
        assert!(inserted.rows.is_empty() && inserted.columns.is_empty());
        let rows = run(&conn, "SELECT i, r, s, b, n FROM t", vec![]).unwrap();
        assert_eq!(rows.columns, ["i", "r", "s", "b", "n"]);
        let row = &rows.rows[0].values;
        assert!(matches!(row[0], Value::Integer(-7)));
        assert!(matches!(row[1], Value::Real(r) if r == 1.5));
        assert!(matches!(&row[2], Value::Text(s) if s == "o'neil; DROP TABLE t --"));
        assert!(matches!(&row[3], Value::Blob(b) if b == &[0, 255]));
        assert!(matches!(row[4], Value::Null));
        // Zero rows are an answer (Spin's SQLite has no zero-row hang).
        assert!(run(&conn, "SELECT i FROM t WHERE 0", vec![]).unwrap().rows.is_empty());

        let dup = run(&conn, "INSERT INTO t (s) VALUES (?)", vec![Value::Text("o'neil; DROP TABLE t --".into())]);
        assert!(matches!(&dup, Err(Error::Io(m)) if m == "UNIQUE constraint failed: t.s"), "{dup:?}");
        let missing = run(&conn, "SELECT * FROM nope", vec![]);
        assert!(matches!(&missing, Err(Error::Io(m)) if m.contains("no such table: nope")), "{missing:?}");
        let syntax = run(&conn, "SELEC 1", vec![]);
        assert!(matches!(&syntax, Err(Error::Io(m)) if m.contains("syntax error")), "{syntax:?}");
    }

    #[test]
    fn in_memory_connections_do_not_share_data() {
        let dbs = SqliteDatabases::resolve(None, None, Path::new("/")).unwrap();
        let a = open(&access(&["default"], dbs.clone()), "default").unwrap();
        let b = open(&access(&["default"], dbs), "default").unwrap();
        run(&a, "CREATE TABLE t (x)", vec![]).unwrap();
        assert!(run(&b, "SELECT x FROM t", vec![]).is_err());
    }

    #[test]
    fn file_connections_share_the_file_and_attach_is_refused() {
        let dir = temp_dir("file");
        let dbs = SqliteDatabases::resolve(None, Some(&dir), Path::new("/")).unwrap();
        let a = open(&access(&["default"], dbs.clone()), "default").unwrap();
        assert!(dir.is_dir(), "the state directory is made when a connection opens");
        run(&a, "CREATE TABLE t (x)", vec![]).unwrap();
        run(&a, "INSERT INTO t VALUES (1)", vec![]).unwrap();
        let b = open(&access(&["default"], dbs), "default").unwrap();
        let rows = run(&b, "SELECT x FROM t", vec![]).unwrap();
        assert!(matches!(rows.rows[0].values[0], Value::Integer(1)));
        let other = dir.join("other.db");
        let attach = run(&b, &format!("ATTACH DATABASE '{}' AS o", other.display()), vec![]);
        assert!(matches!(&attach, Err(Error::Io(m)) if m.contains("not authorized")), "{attach:?}");
        assert!(run(&b, "ATTACH DATABASE ':memory:' AS m", vec![]).is_ok());
        drop((a, b));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_dropped_file_connection_is_reused_unless_it_is_in_a_transaction() {
        let dir = temp_dir("warm");
        let dbs = SqliteDatabases::resolve(None, Some(&dir), Path::new("/")).unwrap();
        let first = open(&access(&["default"], dbs.clone()), "default").unwrap();
        run(&first, "CREATE TEMP TABLE marker (x)", vec![]).unwrap();
        drop(first);
        let warm = open(&access(&["default"], dbs.clone()), "default").unwrap();
        assert!(run(&warm, "SELECT x FROM marker", vec![]).is_ok(), "the same connection, warm");
        run(&warm, "BEGIN", vec![]).unwrap();
        drop(warm);
        let fresh = open(&access(&["default"], dbs), "default").unwrap();
        assert!(run(&fresh, "SELECT x FROM marker", vec![]).is_err(), "one left in a transaction is closed instead");
        drop(fresh);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_writer_waits_for_the_busy_timeout_then_gets_database_is_locked() {
        let dir = temp_dir("busy");
        let dbs = SqliteDatabases::resolve(None, Some(&dir), Path::new("/")).unwrap();
        let a = open(&access(&["default"], dbs.clone()), "default").unwrap();
        let b = open(&access(&["default"], dbs), "default").unwrap();
        run(&a, "CREATE TABLE t (x)", vec![]).unwrap();
        run(&a, "BEGIN IMMEDIATE", vec![]).unwrap();
        let started = std::time::Instant::now();
        let locked = run(&b, "BEGIN IMMEDIATE", vec![]);
        let waited = started.elapsed();
        assert!(matches!(&locked, Err(Error::Io(m)) if m == "database is locked"), "{locked:?}");
        // rusqlite's default busy timeout, which Spin keeps.
        assert!(waited >= std::time::Duration::from_millis(4500), "gave up after {waited:?}");
        run(&a, "COMMIT", vec![]).unwrap();
        assert!(run(&b, "BEGIN IMMEDIATE", vec![]).is_ok());
        run(&b, "ROLLBACK", vec![]).unwrap();
        drop((a, b));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
