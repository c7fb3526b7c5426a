//! Configuration errors: caught at startup as Spin does, or named by the
//! component when a value is unusable.

use crate::support::{variables, TestApp, SECRET_KEY};
use serde_json::json;

#[tokio::test]
async fn missing_required_variable_stops_startup_naming_it() {
    let err = TestApp::load(variables(&[("secret_key", SECRET_KEY)])).err().expect("startup must fail");
    let text = format!("{err:#}");
    assert!(text.contains("no provider resolved required variable(s): [Key(\"database_url\")]"), "{text}");
    assert!(text.contains("SPIN_VARIABLE_DATABASE_URL"), "{text}");
}

#[tokio::test]
async fn missing_secret_key_also_stops_startup() {
    let err = TestApp::load(variables(&[("database_url", "postgres://x@127.0.0.1/db")])).err().expect("must fail");
    assert!(format!("{err:#}").contains("Key(\"secret_key\")"), "{err:#}");
}

#[tokio::test]
async fn malformed_database_url_is_named_without_echoing_it() -> anyhow::Result<()> {
    let app = TestApp::load(variables(&[("database_url", "mysql://root:topsecret@db/app"), ("secret_key", SECRET_KEY)]))?;
    let reply = app.get("/auth/health").await?;
    assert_eq!(reply.status, 503);
    let body = reply.json();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["error"], "misconfigured");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("`database_url`"), "{message}");
    assert!(!reply.text().contains("topsecret"), "{}", reply.text());

    let test_db = app.get("/test-db").await?;
    assert_eq!(test_db.status, 503);
    assert_eq!(test_db.json()["error"], json!("misconfigured"));
    Ok(())
}
