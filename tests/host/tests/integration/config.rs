//! Configuration errors: caught at startup as Spin does, or named by the
//! component when a value is unusable.

use crate::on_both_stores;
use crate::support::{variables, TestApp, SECRET_KEY};
use serde_json::json;

#[tokio::test]
async fn missing_secret_key_stops_startup_naming_it() {
    for env in [variables(&[]), variables(&[("database_url", "postgres://x@127.0.0.1/db")])] {
        let err = TestApp::load(env).err().expect("startup must fail");
        let text = format!("{err:#}");
        assert!(text.contains("no provider resolved required variable(s): [Key(\"secret_key\")]"), "{text}");
        assert!(text.contains("SPIN_VARIABLE_SECRET_KEY"), "{text}");
    }
}

#[tokio::test]
async fn sqlalchemy_sqlite_url_is_named_with_a_pointer_to_the_embedded_store() -> anyhow::Result<()> {
    let app = TestApp::load(variables(&[("database_url", "sqlite:///instance/app.db"), ("secret_key", SECRET_KEY)]))?;
    let reply = app.get("/test-db").await?;
    assert_eq!(reply.status, 503);
    let message = reply.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("`database_url`") && message.contains("leave it empty"), "{message}");
    Ok(())
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

on_both_stores! {
async fn an_unusable_setting_is_named_on_either_store_without_its_value(store) {
    let app = store.app_with(&[("secret_key", "short-secret-value")])?;
    app.register("cora", "cora@example.com", "cora-password").await?;
    let login = app.post_json("/login", &json!({"username": "cora", "password": "cora-password"})).await?;
    assert_eq!(login.status, 503, "{}", login.text());
    assert_eq!(login.json()["error"], "misconfigured");
    let message = login.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("`secret_key` is too short"), "{message}");
    assert!(!login.text().contains("short-secret-value"), "{}", login.text());
    assert_eq!(app.get("/auth/health").await?.status, 200, "the store itself is fine");
    Ok(())
}
}

on_both_stores! {
async fn a_bad_policy_field_is_named_and_other_endpoints_keep_working(store) {
    let app = store.app_with(&[("policy", "token_ttl_seconds=5; registration_enabled=false")])?;
    let reply = app
        .post_json("/register", &json!({"username": "pat", "email": "pat@example.com", "password": "pat-password"}))
        .await?;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"error": "misconfigured", "message": "configuration variable `policy` has field `token_ttl_seconds` out of range: must be between 60 and 2592000, found 5"})
    );
    assert_eq!(app.get("/auth/health").await?.status, 200);
    let closed = store.app_with(&[("policy", "registration_enabled=false; token_ttl_seconds=120")])?;
    let reply = closed
        .post_json("/register", &json!({"username": "pat", "email": "pat@example.com", "password": "pat-password"}))
        .await?;
    assert_eq!((reply.status, reply.json()), (403, json!({"message": "Registration is disabled"})));
    Ok(())
}
}

#[tokio::test]
async fn a_rabbitmq_url_for_another_address_is_refused_naming_both() -> anyhow::Result<()> {
    let store = crate::support::store::TestStore::create(crate::support::store::Backend::Sqlite).await?;
    let app = store.app_with(&[("rabbitmq_url", "amqp://events:url-secret-pw@10.9.9.9:5672/%2F")])?;
    let body = app.get("/test-event").await?.json();
    assert_eq!(body["delivered"], false, "{body}");
    let error = body["delivery_error"].as_str().unwrap_or_default();
    assert!(error.contains("`rabbitmq_url`") && error.contains("10.9.9.9:5672"), "{body}");
    assert!(!app.guest_output().contains("url-secret-pw") && !body.to_string().contains("url-secret-pw"));
    Ok(())
}
