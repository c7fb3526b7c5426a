//! Per-request cost of the auth component (not a test). Under a host whose
//! calls return at once (canned PostgreSQL or SQLite rows, variables from a
//! map, no network), so only the component and wasmtime's own per-request
//! work are timed, on each store: instantiating the composed component, answering `/auth/health`,
//! `/profile` and `/login`, and the linear memory each request reaches. Then
//! `/auth/health` through the real test host and PostgreSQL, for contrast,
//! and the `.wasm` sizes. Run: `cargo bench -p spin-test-host --bench
//! component` after `spin-test-host build`.

mod support;

use anyhow::{anyhow, Context, Result};
use http_body_util::BodyExt;
use spin_test_host::bindings::fermyon::spin2_0_0::variables as spin_variables;
use spin_test_host::bindings::spin::postgres4_0_0::postgres::{
    self as pg, Column, DbDataType, DbValue, Error as PgError, ParameterValue, RowSet,
};
use spin_test_host::bindings::spin::sqlite::sqlite::{
    self as sq, Error as SqError, QueryResult, RowResult, Value as SqValue,
};
use spin_test_host::postgres::Connection;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{median, root, Database};
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::{WasiHttpCtxView, WasiHttpView};
use wasmtime_wasi_http::WasiHttpCtx;

const USER_ID: &str = "6f1c2a9e-5a0b-4d8e-9a77-0c7f1f0b2c11";
const SECRET: &str = "benchmark-secret-key-0123456789abcdef";
const PASSWORD: &str = "correct horse battery";

/// Which store the component is configured for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    Postgres,
    Sqlite,
}

impl StoreKind {
    fn name(self) -> &'static str {
        match self {
            StoreKind::Postgres => "PostgreSQL",
            StoreKind::Sqlite => "SQLite",
        }
    }
}

/// What the instant host answers: the component's variables and the one
/// user row every lookup finds.
struct Canned {
    variables: HashMap<String, String>,
    password_hash: String,
}

/// Linear memory the request's instances reached (initial sizes plus growth).
#[derive(Default)]
struct MemoryReached {
    bytes: usize,
}

impl ResourceLimiter for MemoryReached {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.bytes += desired - current;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

struct InstantHost {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    canned: Arc<Canned>,
    memory: MemoryReached,
    host_calls: usize,
    /// When the login's user lookup returned and its first write began: the
    /// password check runs between the two.
    lookup_returned: Option<Instant>,
    write_started: Option<Instant>,
}

impl WasiView for InstantHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for InstantHost {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: Default::default() }
    }
}

impl spin_variables::Host for InstantHost {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, spin_variables::Error>> {
        self.host_calls += 1;
        Ok(self.canned.variables.get(&name).cloned().ok_or(spin_variables::Error::Undefined(name)))
    }
}

fn column(name: &str, data_type: DbDataType) -> Column {
    Column { name: name.into(), data_type }
}

fn text(value: &str) -> DbValue {
    DbValue::Str(value.into())
}

impl InstantHost {
    /// The row the real database would return for each statement the
    /// component runs on the timed paths.
    fn answer(&self, statement: &str) -> Result<RowSet> {
        if statement == "SELECT 1" {
            return Ok(RowSet { columns: vec![column("?column?", DbDataType::Int32)], rows: vec![vec![DbValue::Int32(1)]] });
        }
        if statement.contains("auth_login_throttle") && statement.contains("u.password") {
            // The login lookup: the user, no signing key (HS256), the
            // attempt's reservation taken (not refused, no failures), the
            // address verified, no client bucket (the bench sends no address).
            let names = ["id", "username", "email", "password", "key", "refused", "failures", "retry_after", "locked_until", "email_verified"];
            let mut columns: Vec<Column> = names.iter().map(|n| column(n, DbDataType::Str)).collect();
            columns[5].data_type = DbDataType::Boolean;
            columns[6].data_type = DbDataType::Int64;
            columns[9].data_type = DbDataType::Boolean;
            let row = vec![
                text(USER_ID),
                text("alice"),
                text("alice@example.com"),
                text(&self.canned.password_hash),
                DbValue::DbNull,
                DbValue::Boolean(false),
                DbValue::Int64(0),
                DbValue::DbNull,
                DbValue::DbNull,
                DbValue::Boolean(true),
            ];
            return Ok(RowSet { columns, rows: vec![row] });
        }
        if statement.contains("FROM auth_schema_migrations") {
            let columns = vec![column("coalesce", DbDataType::Int32)];
            return Ok(RowSet { columns, rows: vec![vec![DbValue::Int32(3)]] });
        }
        if statement.contains("FROM auth_outbox WHERE published_at IS NULL") {
            let columns = vec![column("count", DbDataType::Int64), column("coalesce", DbDataType::Floating64)];
            return Ok(RowSet { columns, rows: vec![vec![DbValue::Int64(0), DbValue::Floating64(0.0)]] });
        }
        if statement.contains(r#"LEFT JOIN "user" u"#) {
            let mut columns = vec![column("id", DbDataType::Str), column("username", DbDataType::Str), column("email", DbDataType::Str)];
            let mut row = vec![text(USER_ID), text("alice"), text("alice@example.com")];
            if statement.contains("u.password") {
                columns.push(column("password", DbDataType::Str));
                row.push(text(&self.canned.password_hash));
            }
            return Ok(RowSet { columns, rows: vec![row] });
        }
        if statement.contains("FOR UPDATE SKIP LOCKED") {
            // No pending events: one row of nulls, as the real query returns.
            let names = ["seq", "id", "event", "payload", "created"];
            let columns = names.iter().map(|n| column(n, DbDataType::Str)).collect();
            return Ok(RowSet { columns, rows: vec![vec![DbValue::DbNull; names.len()]] });
        }
        Err(anyhow!("the instant host has no answer for {statement:?}"))
    }
}

impl pg::Host for InstantHost {}

impl pg::HostConnection for InstantHost {
    async fn open(&mut self, _address: String) -> wasmtime::Result<Result<Resource<Connection>, PgError>> {
        self.host_calls += 1;
        Ok(Ok(Resource::new_own(0)))
    }

    async fn query(
        &mut self,
        _conn: Resource<Connection>,
        statement: String,
        _params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, PgError>> {
        self.host_calls += 1;
        let rows = self.answer(&statement).map_err(wasmtime::Error::from_anyhow)?;
        if statement.contains("u.password") {
            self.lookup_returned = Some(Instant::now());
        }
        Ok(Ok(rows))
    }

    async fn execute(
        &mut self,
        _conn: Resource<Connection>,
        _statement: String,
        _params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, PgError>> {
        self.host_calls += 1;
        self.write_started.get_or_insert_with(Instant::now);
        Ok(Ok(1))
    }

    async fn drop(&mut self, _conn: Resource<Connection>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl InstantHost {
    /// The SQLite rows the real database would return on the timed paths.
    fn answer_sqlite(&self, statement: &str) -> Result<QueryResult> {
        let rows = |columns: &[&str], values: Vec<Vec<SqValue>>| QueryResult {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: values.into_iter().map(|values| RowResult { values }).collect(),
        };
        let text = |v: &str| SqValue::Text(v.into());
        if statement == "SELECT 1" {
            return Ok(rows(&["1"], vec![vec![SqValue::Integer(1)]]));
        }
        if statement.starts_with("INSERT INTO auth_login_throttle") {
            // The login lookup: the reservation taken, not refused, and the
            // account as its JSON array (no signing key, address verified).
            let account = serde_json::json!([USER_ID, "alice", "alice@example.com", self.canned.password_hash, null, "verified"]);
            let row = vec![SqValue::Integer(0), SqValue::Integer(0), SqValue::Null, SqValue::Null, text(&account.to_string())];
            return Ok(rows(&["refused", "failures", "locked_until", "retry_after", "account"], vec![row]));
        }
        if statement.contains("FROM auth_schema_migrations") {
            return Ok(rows(&["version"], vec![vec![SqValue::Integer(3)]]));
        }
        if statement.contains("FROM auth_outbox WHERE published_at IS NULL") && statement.contains("count(*)") {
            return Ok(rows(&["count", "age"], vec![vec![SqValue::Integer(0), SqValue::Real(0.0)]]));
        }
        if statement.starts_with(r#"SELECT id, username, email, password FROM "user""#) {
            let row = vec![text(USER_ID), text("alice"), text("alice@example.com"), text(&self.canned.password_hash)];
            return Ok(rows(&["id", "username", "email", "password"], vec![row]));
        }
        if statement.starts_with(r#"SELECT id, username, email FROM "user""#) {
            return Ok(rows(&["id", "username", "email"], vec![vec![text(USER_ID), text("alice"), text("alice@example.com")]]));
        }
        if statement.starts_with("INSERT INTO") {
            return Ok(rows(&[], vec![]));
        }
        if statement.contains("FROM auth_outbox WHERE id = ?1") {
            return Ok(rows(&["queued"], vec![vec![SqValue::Integer(1)]]));
        }
        if statement.starts_with("UPDATE auth_outbox_publisher SET holder = ?1") {
            return Ok(rows(&["holder"], vec![vec![text("bench")]]));
        }
        if statement.starts_with("SELECT seq, id, event, payload") {
            return Ok(rows(&["seq", "id", "event", "payload", "created"], vec![]));
        }
        if statement.starts_with("UPDATE auth_outbox_publisher SET holder = NULL") {
            return Ok(rows(&["more"], vec![vec![SqValue::Integer(0)]]));
        }
        Err(anyhow!("the instant host has no SQLite answer for {statement:?}"))
    }
}

impl sq::Host for InstantHost {}

impl sq::HostConnection for InstantHost {
    async fn open(&mut self, _database: String) -> wasmtime::Result<Result<Resource<spin_test_host::sqlite::Connection>, SqError>> {
        self.host_calls += 1;
        Ok(Ok(Resource::new_own(0)))
    }

    async fn execute(
        &mut self,
        _conn: Resource<spin_test_host::sqlite::Connection>,
        statement: String,
        _params: Vec<SqValue>,
    ) -> wasmtime::Result<Result<QueryResult, SqError>> {
        self.host_calls += 1;
        let result = self.answer_sqlite(&statement).map_err(wasmtime::Error::from_anyhow)?;
        if statement.contains("password FROM \"user\"") {
            self.lookup_returned = Some(Instant::now());
        } else if statement.starts_with("INSERT INTO auth_login") {
            self.write_started.get_or_insert_with(Instant::now);
        }
        Ok(Ok(result))
    }

    async fn last_insert_rowid(&mut self, _conn: Resource<spin_test_host::sqlite::Connection>) -> wasmtime::Result<i64> {
        self.host_calls += 1;
        Ok(0)
    }

    async fn changes(&mut self, _conn: Resource<spin_test_host::sqlite::Connection>) -> wasmtime::Result<u64> {
        self.host_calls += 1;
        Ok(0)
    }

    async fn drop(&mut self, _conn: Resource<spin_test_host::sqlite::Connection>) -> wasmtime::Result<()> {
        Ok(())
    }
}

struct Bench {
    pre: ProxyPre<InstantHost>,
    canned: Arc<Canned>,
}

/// One request's cost under the instant host.
struct Sample {
    to_response: Duration,
    to_guest_end: Duration,
    memory: usize,
    host_calls: usize,
    /// From the password lookup's return to the next write (logins only).
    password_check: Option<Duration>,
}

impl Bench {
    fn new(store: StoreKind) -> Result<Bench> {
        let engine = spin_test_host::runtime::shared_engine()?;
        let component = spin_test_host::runtime::load_component(&root().join("spin.toml"), "auth")?;
        let mut linker: Linker<InstantHost> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        pg::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        sq::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        spin_variables::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
        let database_url = match store {
            StoreKind::Postgres => "postgres://postgres@127.0.0.1:5432/bench?sslmode=disable",
            StoreKind::Sqlite => "",
        };
        let variables = [
            ("database_url", database_url),
            ("secret_key", SECRET),
            ("rabbitmq_host", "127.0.0.1"),
            ("rabbitmq_port", "5672"),
            ("rabbitmq_queue", "bench"),
            ("rabbitmq_url", ""),
        ];
        let hasher = auth::passwords::Hasher::new(auth::passwords::MIN_ITERATIONS).map_err(|e| anyhow!("{e:?}"))?;
        let canned = Canned {
            variables: variables.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            password_hash: hasher.hash(PASSWORD)?,
        };
        Ok(Bench { pre, canned: Arc::new(canned) })
    }

    fn store(&self) -> Store<InstantHost> {
        let state = InstantHost {
            wasi: WasiCtxBuilder::new().stderr(MemoryOutputPipe::new(1 << 16)).build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            canned: self.canned.clone(),
            memory: MemoryReached::default(),
            host_calls: 0,
            lookup_returned: None,
            write_started: None,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.memory);
        store
    }

    async fn instantiate(&self) -> Result<Duration> {
        let started = Instant::now();
        let mut store = self.store();
        self.pre.instantiate_async(&mut store).await?;
        drop(store);
        Ok(started.elapsed())
    }

    async fn request(&self, req: hyper::Request<support::Body>) -> Result<Sample> {
        let started = Instant::now();
        let mut store = self.store();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
        let outparam = store.data_mut().http().new_response_outparam(sender)?;
        let proxy = self.pre.instantiate_async(&mut store).await?;
        let guest = proxy.wasi_http_incoming_handler().call_handle(&mut store, incoming, outparam);
        // The guest runs on this task; the response arrives while it does.
        // A guest that fails before answering leaves the response's sender
        // in the store it still holds: bound the wait, so the failure shows.
        let (done, response) = tokio::join!(guest, async {
            let response = tokio::time::timeout(Duration::from_secs(10), receiver)
                .await
                .map_err(|_| anyhow!("no response within 10 s"))?
                .map_err(|_| anyhow!("no response"))?
                .map_err(|e| anyhow!("{e:?}"))?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|e| anyhow!("{e:?}"))?.to_bytes();
            anyhow::ensure!(status.is_success(), "{status}: {}", String::from_utf8_lossy(&body));
            Ok::<_, anyhow::Error>(started.elapsed())
        });
        done.map_err(|e| anyhow!("the guest failed: {e:?}"))?;
        let to_response = response?;
        let to_guest_end = started.elapsed();
        let state = store.data();
        let password_check = match (state.lookup_returned, state.write_started) {
            (Some(lookup), Some(write)) => Some(write.saturating_duration_since(lookup)),
            _ => None,
        };
        Ok(Sample { to_response, to_guest_end, memory: state.memory.bytes, host_calls: state.host_calls, password_check })
    }
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// Prints one table row; returns the samples.
async fn row(bench: &Bench, name: &str, n: usize, make: impl Fn() -> hyper::Request<support::Body>) -> Result<Vec<Sample>> {
    bench.request(make()).await.with_context(|| name.to_owned())?; // warm-up
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        samples.push(bench.request(make()).await.with_context(|| name.to_owned())?);
    }
    let response = median(samples.iter().map(|s| s.to_response).collect());
    let end = median(samples.iter().map(|s| s.to_guest_end).collect());
    let memory = samples.iter().map(|s| s.memory).max().unwrap_or(0);
    let calls = samples[0].host_calls;
    println!("| {name} | {} | {} | {calls} | {} KiB |", short(response), short(end), memory / 1024);
    Ok(samples)
}

fn short(d: Duration) -> String {
    if d > Duration::from_millis(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        micros(d)
    }
}

/// `/auth/health` through the real test host, pooling and PostgreSQL.
async fn real_health(n: usize) -> Result<Duration> {
    let db = Database::create("component").await?;
    let app = db.app(&[("ADMIN_TOKEN", "bench-admin")])?;
    let addr = "127.0.0.1:1".parse()?;
    let migrate = support::request("POST", "/admin/migrate", "", Some("bench-admin"));
    app.handle(migrate, addr).await?.into_body().collect().await.map_err(|e| anyhow!("{e:?}"))?;
    let mut times = Vec::with_capacity(n);
    for i in 0..=n {
        let started = Instant::now();
        let response = app.handle(support::get("/auth/health", None), addr).await?;
        anyhow::ensure!(response.status() == 200, "health answered {}", response.status());
        response.into_body().collect().await.map_err(|e| anyhow!("{e:?}"))?;
        if i > 0 {
            times.push(started.elapsed());
        }
    }
    drop(app);
    db.drop().await?;
    Ok(median(times))
}

/// A valid token for the canned user.
fn token() -> Result<String> {
    auth::tokens::TokenKey::new(SECRET.as_bytes())
        .map_err(|e| anyhow!("{e:?}"))?
        // Session-less, as the Flask service minted them: the canned store has no session rows.
        .issue(auth::tokens::UserClaims { user_id: USER_ID.into(), username: "alice".into(), sid: None }, 3600, "bench".into(), "auth-service")
        .map_err(|e| anyhow!("{e:?}"))
}

/// The table rows of one store; returns the medians of health and profile.
async fn store_rows(bench: &Bench, store: StoreKind, n: usize) -> Result<(Duration, Duration)> {
    let name = store.name();
    let to_response = |samples: Vec<Sample>| median(samples.iter().map(|s| s.to_response).collect());
    let health = to_response(row(bench, &format!("GET /auth/health ({name})"), n, || support::get("/auth/health", None)).await?);
    let token = token()?;
    let profile = to_response(row(bench, &format!("GET /profile ({name})"), n, || support::get("/profile", Some(&token))).await?);
    let login_body = format!(r#"{{"username":"alice","password":"{PASSWORD}"}}"#);
    let login_name = format!("POST /login ({name}, PBKDF2 600,000 included)");
    let logins = row(bench, &login_name, 9, || support::request("POST", "/login", &login_body, None)).await?;
    let check = median(logins.iter().map(|s| s.password_check.unwrap_or_default()).collect());
    let beyond = median(logins.iter().map(|s| s.to_response.saturating_sub(s.password_check.unwrap_or_default())).collect());
    println!("| ({name} login: password check {}, the rest of the request {}) | | | | |", short(check), short(beyond));
    Ok((health, profile))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let n = 2000;
    let args: Vec<String> = std::env::args().collect();
    // `--store postgres|sqlite`: only that store's rows, or the store of
    // `--profile` (PostgreSQL unless given).
    let only = match args.iter().position(|a| a == "--store").and_then(|i| args.get(i + 1)).map(String::as_str) {
        None => None,
        Some("postgres") => Some(StoreKind::Postgres),
        Some("sqlite") => Some(StoreKind::Sqlite),
        Some(other) => anyhow::bail!("--store: unknown store {other:?} (postgres or sqlite)"),
    };
    let bench = Bench::new(only.unwrap_or(StoreKind::Postgres))?;
    // `--profile instantiate|health|profile N`: only N such requests (or
    // bare instantiations), for perf or callgrind.
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        let count: usize = args.get(i + 2).and_then(|c| c.parse().ok()).context("--profile needs a route and a count")?;
        let token = token()?;
        let (path, bearer) = match args.get(i + 1).map(String::as_str) {
            Some("instantiate") => {
                for _ in 0..count {
                    bench.instantiate().await?;
                }
                return Ok(());
            }
            Some("health") => ("/auth/health", None),
            Some("profile") => ("/profile", Some(token.as_str())),
            other => anyhow::bail!("--profile: unknown route {other:?} (instantiate, health or profile)"),
        };
        for _ in 0..count {
            bench.request(support::get(path, bearer)).await?;
        }
        return Ok(());
    }
    let mut instantiate = Vec::with_capacity(n);
    for _ in 0..n {
        instantiate.push(bench.instantiate().await?);
    }
    let instantiate = median(instantiate);

    println!("Instant host: every host call returns at once; median of {n} requests, one at a time.\n");
    println!("| request | to response | to guest end | host calls | linear memory reached |");
    println!("|---|---|---|---|---|");
    println!("| instantiate only | {} | | 0 | |", micros(instantiate));
    if only == Some(StoreKind::Sqlite) {
        store_rows(&bench, StoreKind::Sqlite, n).await?;
        return Ok(());
    }
    let (health, profile) = store_rows(&bench, StoreKind::Postgres, n).await?;
    if only.is_none() {
        store_rows(&Bench::new(StoreKind::Sqlite)?, StoreKind::Sqlite, n).await?;
    }
    println!();
    println!(
        "beyond instantiation (the component, wasmtime's HTTP types and this host, PostgreSQL): /auth/health {}, /profile {}",
        micros(health.saturating_sub(instantiate)),
        micros(profile.saturating_sub(instantiate))
    );

    let real = real_health(n).await?;
    println!("GET /auth/health through the test host and PostgreSQL, one at a time: {} (median of {n})", micros(real));
    println!("  of which a PostgreSQL connection and one query: {} (the real host less the instant one)", micros(real.saturating_sub(health)));
    println!();
    for name in ["auth", "amqp_bridge"] {
        let path = root().join(format!("target/wasm32-wasip2/release/{name}.wasm"));
        let size = std::fs::metadata(&path).with_context(|| format!("{} (run spin-test-host build)", path.display()))?.len();
        println!("{name}.wasm: {:.0} KiB", size as f64 / 1024.0);
    }
    Ok(())
}
