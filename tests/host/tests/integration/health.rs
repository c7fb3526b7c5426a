//! `/auth/health` and `/test-db` against a real database.

use crate::on_both_stores;
use crate::support::{variables, TestApp, TestDb, SECRET_KEY};
use serde_json::json;

on_both_stores! {
async fn health_is_healthy_with_a_reachable_database(store) {
    let app = store.app()?;
    let reply = app.get("/auth/health").await?;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"status": "healthy"}), "the Flask service's body: a ping");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let with_outbox = app.get("/auth/health?outbox").await?;
    assert_eq!(with_outbox.json(), json!({"status": "healthy", "outbox": {"pending": 0, "oldest_pending_seconds": 0.0}}));
    assert_eq!(app.get("/auth/health?outbox=1").await?.json()["outbox"]["pending"], 0);
    assert_eq!(app.get("/auth/health?outbox=0").await?.json(), json!({"status": "healthy"}));
    Ok(())
}

/// The ping needs no schema and touches none; the outbox view migrates a
/// new database like any first request that needs the schema.
async fn the_ping_needs_no_schema_and_the_outbox_view_migrates(store) {
    let app = store.app()?;
    assert_eq!(app.get("/auth/health").await?.status, 200);
    assert!(store.count("SELECT count(*) FROM auth_schema_migrations").await.is_err(), "the ping migrated");
    assert_eq!(app.get("/auth/health?outbox").await?.status, 200);
    assert_eq!(store.count("SELECT count(*) FROM auth_schema_migrations").await?, 9);
    Ok(())
}

async fn test_db_returns_the_database_time(store) {
    let app = store.app()?;
    let reply = app.get("/test-db").await?;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["message"], "Successful connection");
    let stamp = body["timestamp"].as_str().expect("timestamp is a string");
    let db_time = chrono::DateTime::parse_from_rfc3339(stamp)?;
    let skew = (chrono::Utc::now() - db_time.with_timezone(&chrono::Utc)).num_seconds().abs();
    assert!(skew < 60, "database time {stamp} is {skew}s away from now");
    assert!(stamp.ends_with('Z'), "{stamp}");
    Ok(())
}
}

#[tokio::test]
async fn unreachable_database_gets_503_with_a_short_code_and_no_url() -> anyhow::Result<()> {
    // Port 1 on loopback is closed: the connection is refused at once.
    let url = "postgresql://postgres:hunter2secret@127.0.0.1:1/app?sslmode=disable";
    let env = variables(&[("database_url", url), ("database_port", "1"), ("secret_key", SECRET_KEY)]);
    let app = TestApp::load(env)?;

    let health = app.get("/auth/health").await?;
    assert_eq!(health.status, 503);
    assert_eq!(health.json(), json!({"status": "unhealthy", "error": "database_unreachable"}));

    let test_db = app.get("/test-db").await?;
    assert_eq!(test_db.status, 503);
    assert_eq!(test_db.json(), json!({"error": "database_unreachable"}));

    for text in [health.text(), test_db.text(), app.guest_output()] {
        assert!(!text.contains("hunter2secret"), "password leaked: {text}");
    }
    Ok(())
}

#[tokio::test]
async fn default_sslmode_fails_against_an_untrusted_certificate_like_spin() -> anyhow::Result<()> {
    // The local server offers TLS with a self-signed certificate: Spin tries
    // TLS unless sslmode=disable, and the handshake fails.
    let db = TestDb::create().await?;
    let url = db.url().replace("?sslmode=disable", "");
    let app = TestApp::load(variables(&[("database_url", &url), ("secret_key", SECRET_KEY)]))?;
    let reply = app.get("/auth/health").await?;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.json()["error"], "database_unreachable");
    Ok(())
}

#[tokio::test]
async fn sqlalchemy_style_url_works() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let url = db.url().replace("postgres://", "postgresql+psycopg2://");
    let app = TestApp::load(variables(&[("database_url", &url), ("secret_key", SECRET_KEY)]))?;
    let reply = app.get("/auth/health").await?;
    assert_eq!(reply.status, 200, "{} / {}", reply.text(), app.guest_output());
    Ok(())
}
