//! `spin:postgres/postgres@4.0.0` over tokio-postgres, one deadpool pool per
//! address, with Spin 4.0.2's permission check, TLS rule and error variants.

use crate::allowed_hosts::log_denied;
use crate::bindings::spin::postgres4_0_0::postgres::{
    self as pg, Column, DbError, Error as PgError, ParameterValue, QueryError, RowSet,
};
use crate::pg_types;
use crate::profile::Profile;
use crate::runtime::{ComponentEnv, RequestState};
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Pool, RecyclingMethod};
use std::future::Future;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::Statement;
use wasmtime::component::Resource;

/// What a guest gets when a query returns no rows. Spin 4.0.0–4.0.2 never
/// return from such a call, so the test host fails it loudly instead.
pub const ZERO_ROWS_MESSAGE: &str = "test host: this query returned zero rows; under Spin 4.0.0-4.0.2 \
     such a query never returns and the request hangs for good (spinframework/spin#3671). \
     Make every statement run through `query` return at least one row.";

/// Spin keeps at most this many connections per address.
const POOL_SIZE: usize = 64;

/// A guest's open connection: a pooled client, returned to the pool on drop.
pub struct Connection(pub deadpool_postgres::Object);

/// Connection pools of one component, keyed by connection string.
#[derive(Default)]
pub struct PgPools {
    pools: Mutex<HashMap<String, Pool>>,
}

impl PgPools {
    fn pool_for(&self, address: &str, config: tokio_postgres::Config, profile: Profile) -> Result<Pool, PgError> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = pools.get(address) {
            return Ok(pool.clone());
        }
        // Spin resets each connection's session with a query at every
        // checkout (deadpool's `Clean`); the `Fast` profile skips that round
        // trip, so that benchmarks time the component, not the reset.
        let recycling_method = match profile {
            Profile::Fast => RecyclingMethod::Fast,
            Profile::Spin => RecyclingMethod::Clean,
        };
        let manager_config = ManagerConfig { recycling_method };
        let manager = if config.get_ssl_mode() == SslMode::Disable {
            Manager::from_config(config, tokio_postgres::NoTls, manager_config)
        } else {
            let tls = native_tls::TlsConnector::new()
                .map_err(|e| PgError::ConnectionFailed(format!("{e:?}")))?;
            Manager::from_config(config, postgres_native_tls::MakeTlsConnector::new(tls), manager_config)
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| PgError::ConnectionFailed(format!("establishing PostgreSQL connection pool: {e:?}")))?;
        pools.insert(address.to_owned(), pool.clone());
        Ok(pool)
    }
}

/// Spin's check: every host named in the connection string must be allowed
/// by name, as written, with 5432 when no port is given.
fn ensure_allowed(env: &ComponentEnv, config: &tokio_postgres::Config) -> Result<(), PgError> {
    let ports = config.get_ports();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let name = match host {
            Host::Tcp(name) => name,
            #[allow(unreachable_patterns)]
            _ => return Err(PgError::ConnectionFailed("Unix sockets are not supported on WebAssembly".into())),
        };
        let port = ports.get(i).or(if ports.len() == 1 { ports.first() } else { None }).copied();
        if !env.allowed_hosts.allows("postgres", name, port) {
            let authority = port.map_or_else(|| name.clone(), |p| format!("{name}:{p}"));
            log_denied(&env.id, "postgres", &authority);
            return Err(PgError::ConnectionFailed(format!("address postgres://{authority} is not permitted")));
        }
    }
    Ok(())
}

pub async fn open(env: &ComponentEnv, address: &str, prepared: &tokio::sync::OnceCell<()>) -> Result<Connection, PgError> {
    let config: tokio_postgres::Config =
        address.parse().map_err(|e: tokio_postgres::Error| PgError::ConnectionFailed(e.to_string()))?;
    env.before_outbound(prepared).await;
    ensure_allowed(env, &config)?;
    let pool = env.pg.pool_for(address, config, env.profile)?;
    let client = pool
        .get()
        .await
        .map_err(|e| PgError::ConnectionFailed(format!("{:?}", anyhow::Error::new(e))))?;
    Ok(Connection(client))
}

/// A tokio-postgres error as Spin reports it: structured when the server sent one.
fn query_failed(e: tokio_postgres::Error) -> PgError {
    let Some(db) = e.as_db_error() else {
        return PgError::QueryFailed(QueryError::Text(format!("{e:?}")));
    };
    let extras = [
        ("column", db.column().map(str::to_owned)),
        ("constraint", db.constraint().map(str::to_owned)),
        ("routine", db.routine().map(str::to_owned)),
        ("hint", db.hint().map(str::to_owned)),
        ("table", db.table().map(str::to_owned)),
        ("datatype", db.datatype().map(str::to_owned)),
        ("schema", db.schema().map(str::to_owned)),
        ("file", db.file().map(str::to_owned)),
        ("line", db.line().map(|l| l.to_string())),
        ("where_", db.where_().map(str::to_owned)),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
    .collect();
    PgError::QueryFailed(QueryError::DbError(DbError {
        as_text: format!("{e:?}"),
        severity: db.severity().to_owned(),
        code: db.code().code().to_owned(),
        message: db.message().to_owned(),
        detail: db.detail().map(str::to_owned),
        extras,
    }))
}

fn params(values: Vec<ParameterValue>) -> anyhow::Result<Vec<pg_types::SqlParam>> {
    values.into_iter().map(pg_types::to_sql).collect()
}

/// Statements one pooled connection keeps prepared; past this, statements
/// are prepared for one use, as Spin does for all of them.
const STATEMENT_CACHE_LIMIT: usize = 256;

async fn prepare(client: &ClientWrapper, sql: &str, profile: Profile) -> Result<Statement, tokio_postgres::Error> {
    if profile == Profile::Fast && client.statement_cache.size() < STATEMENT_CACHE_LIMIT {
        client.prepare_cached(sql).await
    } else {
        client.prepare(sql).await
    }
}

/// A cached statement the server no longer accepts: its result type changed
/// under a migration, or the guest deallocated it.
fn is_stale(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::INVALID_SQL_STATEMENT_NAME)
        || (e.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED)
            && e.as_db_error().is_some_and(|db| db.message().contains("cached plan")))
}

/// Runs `sql` as a statement prepared once per connection (one round trip
/// per call instead of Spin's two; the `Spin` profile prepares it on every
/// call), re-preparing it once if it went stale.
async fn run_prepared<T, F, Fut>(client: &ClientWrapper, sql: &str, profile: Profile, run: F) -> Result<T, tokio_postgres::Error>
where
    F: Fn(Statement) -> Fut,
    Fut: Future<Output = Result<T, tokio_postgres::Error>>,
{
    match run(prepare(client, sql, profile).await?).await {
        Err(e) if is_stale(&e) => {
            client.statement_cache.remove(sql, &[]);
            run(prepare(client, sql, profile).await?).await
        }
        other => other,
    }
}

type SqlRefs<'a> = Vec<&'a (dyn tokio_postgres::types::ToSql + Sync)>;

fn refs(values: &[pg_types::SqlParam]) -> SqlRefs<'_> {
    values.iter().map(|v| v.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)).collect()
}

pub async fn query(client: &ClientWrapper, profile: Profile, statement: &str, values: Vec<ParameterValue>) -> Result<RowSet, PgError> {
    let values = params(values).map_err(|e| PgError::BadParameter(format!("{e:?}")))?;
    let refs = &refs(&values);
    let rows = run_prepared(client, statement, profile, |st| async move { client.query(&st, refs).await })
        .await
        .map_err(query_failed)?;
    let Some(first) = rows.first() else {
        return Err(PgError::QueryFailed(QueryError::Text(ZERO_ROWS_MESSAGE.to_owned())));
    };
    let columns = first
        .columns()
        .iter()
        .map(|c| Column { name: c.name().to_owned(), data_type: pg_types::data_type(c.type_()) })
        .collect();
    let rows = rows
        .iter()
        .map(|row| (0..row.len()).map(|i| pg_types::value(row, i)).collect::<Result<Vec<_>, _>>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PgError::QueryFailed(QueryError::Text(format!("{:?}", anyhow::Error::new(e)))))?;
    Ok(RowSet { columns, rows })
}

pub async fn execute(client: &ClientWrapper, profile: Profile, statement: &str, values: Vec<ParameterValue>) -> Result<u64, PgError> {
    let values = params(values).map_err(|e| PgError::ValueConversionFailed(format!("{e:?}")))?;
    let refs = &refs(&values);
    run_prepared(client, statement, profile, |st| async move { client.execute(&st, refs).await })
        .await
        .map_err(query_failed)
}

impl pg::Host for RequestState {}

impl pg::HostConnection for RequestState {
    async fn open(&mut self, address: String) -> wasmtime::Result<Result<Resource<Connection>, PgError>> {
        let prepared = self.prepared.clone();
        Ok(match open(&self.component, &address, &prepared).await {
            Ok(conn) => Ok(self.table.push(conn)?),
            Err(e) => Err(e),
        })
    }

    async fn query(
        &mut self,
        conn: Resource<Connection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, PgError>> {
        let client = &self.table.get(&conn)?.0;
        Ok(query(client, self.component.profile, &statement, params).await)
    }

    async fn execute(
        &mut self,
        conn: Resource<Connection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, PgError>> {
        let client = &self.table.get(&conn)?.0;
        Ok(execute(client, self.component.profile, &statement, params).await)
    }

    async fn drop(&mut self, conn: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}
