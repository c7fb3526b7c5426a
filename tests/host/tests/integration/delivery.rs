//! Outbox delivery to a real RabbitMQ through the composed AMQP bridge.

use crate::support::broker::TestQueue;
use crate::support::{broker_variables, variables, TestApp, TestDb};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn login_event_reaches_the_queue_with_the_contract_body_and_properties() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let queue = TestQueue::new();
    let app = TestApp::load(broker_variables(&db, &queue, "5672"))?;
    let user_id = app.register("henry", "henry@example.com", "henry-password").await?;
    app.login("henry", "henry-password").await?;

    // Delivery runs after each response; both events arrive in outbox order.
    let got = queue.wait_for(2, Duration::from_secs(15)).await?;
    assert_eq!(got.len(), 2, "{got:?}\n{}", app.guest_output());
    let (registered, logged_in) = (&got[0], &got[1]);
    assert_eq!(registered.body["event"], "UserRegistered");
    assert_eq!(logged_in.body["event"], "UserLoggedIn");
    assert_eq!(logged_in.body["data"], json!({"user_id": user_id, "username": "henry", "email": "henry@example.com"}));
    let id = logged_in.body["id"].as_str().unwrap();
    let p = &logged_in.properties;
    assert_eq!(logged_in.message_id().as_deref(), Some(id));
    assert_eq!(p.kind().as_ref().map(|s| s.as_str()), Some("UserLoggedIn"));
    assert_eq!(p.content_type().as_ref().map(|s| s.as_str()), Some("application/json"));
    assert_eq!(p.app_id().as_ref().map(|s| s.as_str()), Some("auth-service"));
    assert_eq!(*p.delivery_mode(), Some(2), "persistent");
    let stamp = p.timestamp().expect("timestamp property");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    assert!(now.abs_diff(stamp) < 120, "timestamp {stamp} vs now {now}");

    // The rows are marked published.
    let pending: i64 =
        db.client().await?.query_one("SELECT count(*) FROM auth_outbox WHERE published_at IS NULL", &[]).await?.get(0);
    assert_eq!(pending, 0);
    Ok(())
}

#[tokio::test]
async fn test_event_answers_whether_it_was_delivered() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let queue = TestQueue::new();
    let app = TestApp::load(broker_variables(&db, &queue, "5672"))?;
    let reply = app.get("/test-event").await?;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["delivered"], true, "{body} {}", app.guest_output());
    let got = queue.wait_for(1, Duration::from_secs(5)).await?;
    assert_eq!(got[0].message_id().as_deref(), body["event_id"].as_str());
    assert_eq!(got[0].body["data"]["msg"], "Test event from the auth service");
    Ok(())
}

#[tokio::test]
async fn wrong_credentials_are_a_typed_error_and_rows_stay_pending() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let queue = TestQueue::new();
    let mut env = broker_variables(&db, &queue, "5672");
    env.extend(variables(&[("rabbitmq_password", "not-the-password")]));
    let app = TestApp::load(env)?;
    let reply = app.get("/test-event").await?;
    let body = reply.json();
    assert_eq!(body["delivered"], false);
    let error = body["delivery_error"].as_str().unwrap_or_default();
    assert!(error.starts_with("authentication refused"), "{body}");
    assert!(!reply.text().contains("not-the-password") && !app.guest_output().contains("not-the-password"));
    let row = db.client().await?.query_one("SELECT published_at IS NULL, attempts, last_error FROM auth_outbox", &[]).await?;
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, i32>(1), 1);
    assert!(row.get::<_, String>(2).starts_with("authentication refused"));
    Ok(())
}

#[tokio::test]
async fn health_reports_the_outbox_backlog() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    // The default variables send events nowhere: they wait.
    let app = TestApp::load(crate::support::default_variables(&db))?;
    for _ in 0..3 {
        app.get("/test-event").await?;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reply = app.get("/auth/health").await?;
    assert_eq!(reply.status, 200, "a broker outage is reported, not fatal");
    let body = reply.json();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["outbox"]["pending"], 3);
    assert!(body["outbox"]["oldest_pending_seconds"].as_f64().unwrap() >= 1.0, "{body}");
    Ok(())
}

#[tokio::test]
async fn flush_needs_the_admin_token_and_delivers_everything() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let queue = TestQueue::new();
    let offline = TestApp::load(crate::support::default_variables(&db))?;
    for _ in 0..5 {
        offline.get("/test-event").await?;
    }
    let app = TestApp::load(broker_variables(&db, &queue, "5672"))?;
    let anonymous = app.raw("POST", "/admin/outbox/flush", &[], b"").await?;
    assert_eq!(anonymous.status, 401);
    let flushed = app.flush().await?;
    assert_eq!(flushed, json!({"published": 5, "pending": 0}));
    assert_eq!(queue.wait_for(5, Duration::from_secs(5)).await?.len(), 5);
    Ok(())
}

#[tokio::test]
async fn dependency_without_inherited_configuration_cannot_open_sockets() -> anyhow::Result<()> {
    // The same app, with `dependencies_inherit_configuration` removed.
    let root = crate::support::workspace_root();
    let manifest = std::fs::read_to_string(root.join("spin.toml"))?
        .replace("dependencies_inherit_configuration = true", "")
        .replace("\"target/", &format!("\"{}/target/", root.display()));
    let dir = std::env::temp_dir().join(crate::support::unique_name("manifest"));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("spin.toml"), manifest)?;
    let db = TestDb::create().await?;
    let queue = TestQueue::new();
    let mut env = broker_variables(&db, &queue, "5672");
    env.extend(variables(&[("rabbitmq_password", "distinctive-broker-password")]));
    let app = TestApp::load_manifest(&dir.join("spin.toml"), env)?;
    let body = app.get("/test-event").await?.json();
    std::fs::remove_dir_all(&dir)?;
    assert_eq!(body["delivered"], false);
    let error = body["delivery_error"].as_str().unwrap_or_default();
    assert!(error.starts_with("connection refused"), "{body}");
    assert!(!app.guest_output().contains("distinctive-broker-password"), "no credentials in logs");
    Ok(())
}
