//! What the benchmarks share: paths, a throwaway database served by the
//! test host, requests and medians.
#![allow(dead_code)] // each benchmark uses part of it

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use std::path::PathBuf;
use std::time::Duration;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;

const ADMIN_DSN: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable";

/// The request body type the test host accepts.
pub type Body = BoxBody<Bytes, ErrorCode>;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A request with a JSON body and, optionally, a bearer token.
pub fn request(method: &str, path: &str, body: &str, bearer: Option<&str>) -> hyper::Request<Body> {
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json");
    if let Some(token) = bearer {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder
        .body(Full::new(Bytes::from(body.to_owned())).map_err(|never| match never {}).boxed())
        .expect("valid request")
}

pub fn get(path: &str, bearer: Option<&str>) -> hyper::Request<Body> {
    request("GET", path, "", bearer)
}

async fn admin() -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(ADMIN_DSN, tokio_postgres::NoTls).await.context("PostgreSQL")?;
    tokio::spawn(conn);
    Ok(client)
}

/// A database of its own for one benchmark, dropped at the end.
pub struct Database {
    name: String,
}

impl Database {
    pub async fn create(label: &str) -> Result<Database> {
        let name = format!("auth_bench_{label}_{}", std::process::id());
        admin().await?.batch_execute(&format!("CREATE DATABASE {name}")).await?;
        Ok(Database { name })
    }

    /// The app on this database, with the given `SPIN_VARIABLE_*` settings
    /// and the guest's output captured.
    pub fn app(&self, variables: &[(&str, &str)]) -> Result<spin_test_host::App> {
        let url = format!("postgres://postgres@127.0.0.1:5432/{}?sslmode=disable", self.name);
        let env = [("DATABASE_URL", url.as_str()), ("SECRET_KEY", "benchmark-secret-key-0123456789abcdef")]
            .iter()
            .chain(variables)
            .map(|(k, v)| (format!("SPIN_VARIABLE_{k}"), v.to_string()))
            .collect();
        let options = spin_test_host::HostOptions {
            env: spin_test_host::variables::EnvProvider::new(env),
            output: spin_test_host::GuestOutput::Capture(wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(1 << 20)),
            state_dir: spin_test_host::StateDir::Unset,
            ..Default::default()
        };
        spin_test_host::App::load(&root().join("spin.toml"), options)
    }

    pub async fn drop(self) -> Result<()> {
        admin().await?.batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name)).await?;
        Ok(())
    }
}
