//! Fixtures: a fresh PostgreSQL database per test and the real app under the
//! test host, with guest output printed when a test fails.

pub mod broker;
pub mod openapi;
pub mod proxy;
pub mod store;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use spin_test_host::variables::EnvProvider;
use spin_test_host::{App, GuestOutput, HostOptions, Profile, StateDir};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;

/// The maintenance connection the fixtures use (trust auth on loopback).
pub const ADMIN_DSN: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable";

/// A key long enough for the service's 32-byte minimum.
pub const SECRET_KEY: &str = "integration-test-secret-key-0123456789abcdef";

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

pub fn manifest_path() -> PathBuf {
    workspace_root().join("spin.toml")
}

/// An edited copy of the repository's `spin.toml` in a directory of its
/// own (its `.wasm` paths made absolute), removed on drop.
pub struct ManifestCopy {
    dir: PathBuf,
}

impl ManifestCopy {
    pub fn edited(edit: impl FnOnce(String) -> String) -> Result<ManifestCopy> {
        let root = workspace_root();
        let text = std::fs::read_to_string(root.join("spin.toml"))?;
        let text = edit(text).replace("\"target/", &format!("\"{}/target/", root.display()));
        let dir = std::env::temp_dir().join(unique_name("manifest"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("spin.toml"), text)?;
        Ok(ManifestCopy { dir })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("spin.toml")
    }
}

impl Drop for ManifestCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A unique name per test and process, safe as a SQL identifier.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

async fn admin() -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(ADMIN_DSN, tokio_postgres::NoTls)
        .await
        .context("connecting to PostgreSQL on 127.0.0.1:5432 (is it running?)")?;
    tokio::spawn(conn);
    Ok(client)
}

/// A database created for one test and dropped (forcibly) when it ends.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub async fn create() -> Result<TestDb> {
        let name = unique_name("auth_test");
        admin().await?.batch_execute(&format!("CREATE DATABASE {name}")).await.context("CREATE DATABASE")?;
        Ok(TestDb { name })
    }

    /// The Flask-style URL of this database, as users would set it.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}?sslmode=disable", self.name)
    }

    pub async fn client(&self) -> Result<tokio_postgres::Client> {
        let dsn = format!("host=127.0.0.1 port=5432 user=postgres dbname={} sslmode=disable", self.name);
        let (client, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls).await.context("connect test db")?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// Returns once a statement in this database waits for a row or a
    /// transaction (one that a test's own open transaction holds), within
    /// 6 s; publishers waiting for their advisory lock do not count.
    /// Watched from a connection of its own: inside a transaction
    /// pg_stat_activity stays as it first read it.
    pub async fn until_a_statement_waits(&self) -> Result<()> {
        let watcher = self.client().await?;
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
            AND wait_event_type = 'Lock' AND wait_event IN ('transactionid', 'tuple')";
        for _ in 0..300 {
            if watcher.query_one(waiting, &[]).await?.get::<_, i64>(0) > 0 {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        anyhow::bail!("no statement came to wait for the held lock")
    }

    /// A connection as the test host's pool hands it to a guest.
    pub async fn host_client(&self) -> Result<deadpool_postgres::ClientWrapper> {
        let dsn = format!("host=127.0.0.1 port=5432 user=postgres dbname={} sslmode=disable", self.name);
        let (client, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls).await.context("connect test db")?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(deadpool_postgres::ClientWrapper::new(client, task))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime, so clean up on a thread of its own.
        let result = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async { admin().await?.batch_execute(&sql).await.map_err(anyhow::Error::from) })
        })
        .join();
        if !matches!(result, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}: {result:?}", self.name);
        }
    }
}

/// The app's variables as `SPIN_VARIABLE_*` entries.
pub fn variables(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (format!("SPIN_VARIABLE_{}", k.to_ascii_uppercase()), v.to_string())).collect()
}

/// The standard variables for a test database. Events go nowhere (port 1
/// on loopback refuses at once) and wait in the outbox, so tests never touch
/// a shared queue; delivery tests use [`broker_variables`].
pub fn default_variables(db: &TestDb) -> HashMap<String, String> {
    variables(&[("database_url", &db.url()), ("secret_key", SECRET_KEY), ("rabbitmq_port", "1")])
}

/// Variables that send events to `queue` through `port` (RabbitMQ's 5672,
/// or a fault proxy's) and open the admin endpoints.
pub fn broker_variables(queue: &broker::TestQueue, port: &str) -> HashMap<String, String> {
    variables(&[("rabbitmq_port", port), ("rabbitmq_queue", &queue.name), ("admin_token", ADMIN_TOKEN)])
}

pub const ADMIN_TOKEN: &str = "integration-admin-token";

/// The app loaded from the real `spin.toml` and `.wasm`.
pub struct TestApp {
    pub app: Arc<App>,
    output: MemoryOutputPipe,
    /// The repository's own manifest is served: every answer must be in
    /// openapi.json (support/openapi.rs).
    documented: bool,
}

/// A buffered response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    /// The app with exactly `env` and no state directory, so nothing is
    /// written beside the repository's spin.toml (tests on the SQLite store
    /// use [`store::TestStore::app`]).
    pub fn load(env: HashMap<String, String>) -> Result<TestApp> {
        Self::load_with(&manifest_path(), env, StateDir::Unset)
    }

    pub fn load_manifest(manifest: &std::path::Path, env: HashMap<String, String>) -> Result<TestApp> {
        Self::load_with(manifest, env, StateDir::Unset)
    }

    pub fn load_with(manifest: &std::path::Path, env: HashMap<String, String>, state_dir: StateDir) -> Result<TestApp> {
        Self::load_options(manifest, env, state_dir, None)
    }

    /// The app with a runtime configuration file as well.
    pub fn load_options(
        manifest: &std::path::Path,
        env: HashMap<String, String>,
        state_dir: StateDir,
        runtime_config: Option<PathBuf>,
    ) -> Result<TestApp> {
        Self::load_profile(manifest, env, state_dir, runtime_config, Profile::Fast)
    }

    /// The app served in a given profile of the host.
    pub fn load_profile(
        manifest: &std::path::Path,
        env: HashMap<String, String>,
        state_dir: StateDir,
        runtime_config: Option<PathBuf>,
        profile: Profile,
    ) -> Result<TestApp> {
        let output = MemoryOutputPipe::new(16 << 20);
        let options = HostOptions {
            env: EnvProvider::new(env),
            output: GuestOutput::Capture(output.clone()),
            runtime_config,
            state_dir,
            profile,
        };
        let app = App::load(manifest, options)?;
        let documented = manifest == manifest_path();
        Ok(TestApp { app: Arc::new(app), output, documented })
    }

    /// What the guest printed so far.
    pub fn guest_output(&self) -> String {
        String::from_utf8_lossy(&self.output.contents()).into_owned()
    }

    pub async fn request(&self, req: hyper::Request<Full<Bytes>>) -> Result<Reply> {
        self.request_from(req, "127.0.0.1:40000".parse()?).await
    }

    /// The request as if it came from `client` (Spin's `spin-client-addr`).
    pub async fn request_from(&self, mut req: hyper::Request<Full<Bytes>>, client: std::net::SocketAddr) -> Result<Reply> {
        // As an HTTP/1.1 client does: Spin refuses a routed request without one.
        if !req.headers().contains_key(hyper::header::HOST) && req.uri().authority().is_none() {
            req.headers_mut().insert(hyper::header::HOST, hyper::header::HeaderValue::from_static("localhost:3000"));
        }
        let req = req.map(|body| body.map_err(|never| -> ErrorCode { match never {} }));
        let (method, path) = (req.method().to_string(), req.uri().path_and_query().map_or("/".to_owned(), |p| p.to_string()));
        let response = self.app.handle(req, client).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| anyhow::anyhow!("reading body: {e:?}"))?.to_bytes();
        if self.documented {
            if let Err(undocumented) = openapi::check(&method, &path, parts.status.as_u16()) {
                panic!("{undocumented}; body: {}", String::from_utf8_lossy(&body));
            }
        }
        Ok(Reply { status: parts.status.as_u16(), headers: parts.headers, body })
    }

    pub async fn send(&self, method: &str, path: &str) -> Result<Reply> {
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost:3000")
            .body(Full::new(Bytes::new()))?;
        self.request(req).await
    }

    pub async fn get(&self, path: &str) -> Result<Reply> {
        self.send("GET", path).await
    }

    /// A request with any method, headers and raw body.
    pub async fn raw(&self, method: &str, path: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Result<Reply> {
        self.raw_from("127.0.0.1:40000", method, path, headers, body).await
    }

    /// [`TestApp::raw`] from client address `client` (`ip:port`).
    pub async fn raw_from(&self, client: &str, method: &str, path: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Result<Reply> {
        let mut builder = hyper::Request::builder().method(method).uri(path).header("host", "localhost:3000");
        for (name, value) in headers {
            builder = builder.header(*name, hyper::header::HeaderValue::from_bytes(value)?);
        }
        self.request_from(builder.body(Full::new(Bytes::copy_from_slice(body)))?, client.parse()?).await
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<Reply> {
        self.post_json_from("127.0.0.1:40000", path, body).await
    }

    /// [`TestApp::post_json`] from client address `client` (`ip:port`),
    /// which has its own bucket of costly POSTs (DESIGN.md §7).
    pub async fn post_json_from(&self, client: &str, path: &str, body: &serde_json::Value) -> Result<Reply> {
        let body = serde_json::to_vec(body)?;
        self.raw_from(client, "POST", path, &[("content-type", b"application/json")], &body).await
    }

    /// `POST /admin/outbox/flush` with the test admin token.
    pub async fn flush(&self) -> Result<serde_json::Value> {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let reply = self.raw("POST", "/admin/outbox/flush", &[("authorization", auth.as_bytes())], b"").await?;
        anyhow::ensure!(reply.status == 200, "flush: {} {}", reply.status, reply.text());
        Ok(reply.json())
    }

    pub async fn get_authorized(&self, path: &str, token: &str) -> Result<Reply> {
        self.raw("GET", path, &[("authorization", format!("Bearer {token}").as_bytes())], b"").await
    }

    /// Registers an account and returns its user id.
    pub async fn register(&self, username: &str, email: &str, password: &str) -> Result<String> {
        let reply = self
            .post_json("/register", &serde_json::json!({"username": username, "email": email, "password": password}))
            .await?;
        anyhow::ensure!(reply.status == 201, "register {username}: {} {}", reply.status, reply.text());
        Ok(reply.json()["user_id"].as_str().context("user_id")?.to_owned())
    }

    /// Logs in and returns the token.
    pub async fn login(&self, username: &str, password: &str) -> Result<String> {
        let reply = self.post_json("/login", &serde_json::json!({"username": username, "password": password})).await?;
        anyhow::ensure!(reply.status == 200, "login {username}: {} {}", reply.status, reply.text());
        Ok(reply.json()["token"].as_str().context("token")?.to_owned())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- guest output ---\n{}--- end of guest output ---", self.guest_output());
        }
    }
}
