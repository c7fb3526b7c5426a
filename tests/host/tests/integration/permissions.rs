//! `allowed_outbound_hosts` is enforced as Spin enforces it.

use crate::support::{variables, TestApp, TestDb, SECRET_KEY};
use serde_json::json;
use spin_test_host::allowed_hosts::AllowedHosts;
use spin_test_host::bindings::spin::postgres4_0_0::postgres::Error as PgError;
use spin_test_host::postgres::{open, PgPools};
use spin_test_host::runtime::ComponentEnv;
use spin_test_host::variables::{ComponentVariables, EnvProvider, Resolver};
use std::collections::BTreeMap;

fn env_allowing(hosts: &[&str]) -> ComponentEnv {
    let resolver = Resolver::new(&BTreeMap::new(), &EnvProvider::default()).unwrap();
    ComponentEnv {
        id: "probe".into(),
        variables: ComponentVariables::new("probe", &BTreeMap::new(), &resolver),
        allowed_hosts: AllowedHosts::parse(hosts.iter().copied()).unwrap(),
        pg: PgPools::default(),
        sqlite: Default::default(),
        dependencies_isolated: false,
        profile: Default::default(),
        resolver: std::sync::Arc::new(resolver),
        lookups: Default::default(),
    }
}

#[tokio::test]
async fn disallowed_database_host_is_refused_with_spins_error() -> anyhow::Result<()> {
    let env = env_allowing(&["postgres://127.0.0.1:5432"]);
    for (address, expected) in [
        ("postgres://postgres@localhost:5432/postgres?sslmode=disable", "address postgres://localhost:5432 is not permitted"),
        ("host=localhost user=postgres sslmode=disable", "address postgres://localhost is not permitted"),
        ("postgres://postgres@127.0.0.1:5433/postgres", "address postgres://127.0.0.1:5433 is not permitted"),
    ] {
        match open(&env, address, &Default::default()).await {
            Err(PgError::ConnectionFailed(msg)) => assert_eq!(msg, expected, "{address}"),
            Err(other) => panic!("{address}: expected connection-failed, got {other:?}"),
            Ok(_) => panic!("{address}: connection should have been refused"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn allowed_database_host_connects_in_both_string_forms() -> anyhow::Result<()> {
    let env = env_allowing(&["postgres://127.0.0.1"]);
    for address in [
        "postgres://postgres@127.0.0.1/postgres?sslmode=disable",
        "host=127.0.0.1 user=postgres dbname=postgres sslmode=disable",
    ] {
        assert!(open(&env, address, &Default::default()).await.is_ok(), "{address}");
    }
    Ok(())
}

#[tokio::test]
async fn component_sees_not_allowed_when_database_host_differs_from_manifest() -> anyhow::Result<()> {
    // database_host stays 127.0.0.1 while the URL says localhost: Spin's
    // literal check refuses it, and the component reports it as such.
    let db = TestDb::create().await?;
    let url = db.url().replace("127.0.0.1", "localhost");
    let app = TestApp::load(variables(&[("database_url", &url), ("secret_key", SECRET_KEY)]))?;
    let reply = app.get("/auth/health").await?;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json(), json!({"status": "unhealthy", "error": "database_not_allowed"}));
    let log = app.guest_output();
    assert!(log.contains("address postgres://localhost:5432 is not permitted"), "{log}");
    Ok(())
}
