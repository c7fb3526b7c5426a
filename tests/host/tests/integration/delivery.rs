//! Outbox delivery to a real RabbitMQ through the AMQP bridge component,
//! reached by service chaining.

use crate::on_both_stores;
use crate::support::broker::TestQueue;
use crate::support::broker_variables;
use crate::support::store::TestStore;
use crate::support::{ManifestCopy, TestApp};
use serde_json::json;
use std::time::Duration;

/// The app on `store` with events going to `queue` through `port`.
pub fn broker_app(store: &TestStore, queue: &TestQueue, port: &str) -> anyhow::Result<TestApp> {
    let mut env = store.variables();
    env.extend(broker_variables(queue, port));
    store.app_env(env)
}

on_both_stores! {
async fn login_event_reaches_the_queue_with_the_contract_body_and_properties(store) {
    let queue = TestQueue::new();
    let app = broker_app(store, &queue, "5672")?;
    let user_id = app.register("henry", "henry@example.com", "henry-password").await?;
    app.login("henry", "henry-password").await?;

    // Delivery runs after each response; the events arrive in outbox order.
    let got = queue.wait_for(3, Duration::from_secs(15)).await?;
    assert_eq!(got.len(), 3, "{got:?}\n{}", app.guest_output());
    let (registered, logged_in) = (&got[0], &got[2]);
    assert_eq!(got[1].body["event"], "EmailVerificationRequested");
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
    assert_eq!(store.pending_after_delivery().await?, 0);
    Ok(())
}

/// Every unit of work that queues an event has it delivered after its
/// response, whatever its status: a refused login, a logout's 204 and a
/// refresh refused because it caught a replay; refusals that queue
/// nothing leave nothing pending.
async fn each_event_writing_request_delivers_after_its_response(store) {
    let queue = TestQueue::new();
    let mut env = store.variables();
    env.extend(broker_variables(&queue, "5672"));
    env.extend(crate::support::variables(&[("policy", "refresh_reuse_grace_seconds=0")]));
    let app = store.app_env(env)?;
    app.register("ines", "ines@example.com", "ines-password").await?;
    let login = json!({"username": "ines", "password": "ines-password"});
    assert_eq!(app.post_json("/login", &json!({"username": "ines", "password": "wrong-one"})).await?.status, 401);
    let first = app.post_json("/login", &login).await?.json();
    let renewed = app.post_json("/token/refresh", &json!({"refresh_token": first["refresh_token"]})).await?;
    assert_eq!(renewed.status, 200);
    let replay = app.post_json("/token/refresh", &json!({"refresh_token": first["refresh_token"]})).await?;
    assert_eq!(replay.status, 401);
    let second = app.post_json("/login", &login).await?.json();
    let auth = format!("Bearer {}", second["access_token"].as_str().unwrap_or_default());
    assert_eq!(app.raw("POST", "/logout", &[("authorization", auth.as_bytes())], b"").await?.status, 204);
    assert_eq!(app.post_json("/token/refresh", &json!({"refresh_token": "not-a-token"})).await?.status, 401);

    let got = queue.wait_for(7, Duration::from_secs(15)).await?;
    let names: Vec<&str> = got.iter().filter_map(|m| m.body["event"].as_str()).collect();
    assert_eq!(
        names,
        [
            "UserRegistered",
            "EmailVerificationRequested",
            "UserLoginFailed",
            "UserLoggedIn",
            "RefreshTokenReused",
            "UserLoggedIn",
            "UserLoggedOut"
        ],
        "{}",
        app.guest_output()
    );
    assert_eq!(store.pending_after_delivery().await?, 0, "nothing waits for a flush");
    Ok(())
}

async fn test_event_answers_whether_it_was_delivered(store) {
    let queue = TestQueue::new();
    let app = broker_app(store, &queue, "5672")?;
    let reply = app.get("/test-event").await?;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["delivered"], true, "{body} {}", app.guest_output());
    let got = queue.wait_for(1, Duration::from_secs(5)).await?;
    assert_eq!(got[0].message_id().as_deref(), body["event_id"].as_str());
    assert_eq!(got[0].body["data"]["msg"], "Test event from the auth service");
    Ok(())
}

async fn wrong_credentials_are_a_typed_error_and_rows_stay_pending(store) {
    let queue = TestQueue::new();
    let mut env = store.variables();
    env.extend(broker_variables(&queue, "5672"));
    env.extend(crate::support::variables(&[("rabbitmq_url", "amqp://guest:not-the-password@127.0.0.1:5672/%2F")]));
    let app = store.app_env(env)?;
    let reply = app.get("/test-event").await?;
    let body = reply.json();
    assert_eq!(body["delivered"], false);
    let error = body["delivery_error"].as_str().unwrap_or_default();
    assert!(error.starts_with("authentication refused"), "{body}");
    assert!(!reply.text().contains("not-the-password") && !app.guest_output().contains("not-the-password"));
    let rows = store.rows("SELECT CASE WHEN published_at IS NULL THEN 1 ELSE 0 END, attempts, last_error FROM auth_outbox").await?;
    assert_eq!(rows[0][..2], [json!(1), json!(1)], "still pending after one attempt");
    assert!(rows[0][2].as_str().unwrap_or_default().starts_with("authentication refused"), "{rows:?}");
    Ok(())
}

async fn health_reports_the_outbox_backlog(store) {
    // The standard variables send events nowhere: they wait.
    let app = store.app()?;
    for _ in 0..3 {
        app.get("/test-event").await?;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reply = app.get("/auth/health?outbox").await?;
    assert_eq!(reply.status, 200, "a broker outage is reported, not fatal");
    let body = reply.json();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["outbox"]["pending"], 3);
    assert!(body["outbox"]["oldest_pending_seconds"].as_f64().unwrap() >= 1.0, "{body}");
    Ok(())
}

async fn flush_needs_the_admin_token_and_delivers_everything(store) {
    let queue = TestQueue::new();
    let offline = store.app()?;
    for _ in 0..5 {
        offline.get("/test-event").await?;
    }
    let app = broker_app(store, &queue, "5672")?;
    let anonymous = app.raw("POST", "/admin/outbox/flush", &[], b"").await?;
    assert_eq!(anonymous.status, 401);
    let flushed = app.flush().await?;
    assert_eq!(flushed, json!({"published": 5, "pending": 0}));
    assert_eq!(queue.wait_for(5, Duration::from_secs(5)).await?.len(), 5);
    Ok(())
}

async fn concurrent_publishers_deliver_in_outbox_order(store) {
    let queue = TestQueue::new();
    let app = std::sync::Arc::new(broker_app(store, &queue, "5672")?);
    // Eight clients at once, each event delivered by whichever request
    // holds the publishing turn.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    anyhow::ensure!(app.get("/test-event").await?.status == 200);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    app.flush().await?;
    let got = queue.wait_for(40, Duration::from_secs(15)).await?;
    let mut seen = std::collections::HashSet::new();
    let received: Vec<String> = got.iter().filter_map(|m| m.message_id()).filter(|id| seen.insert(id.clone())).collect();
    let in_outbox: Vec<String> = store
        .rows("SELECT id FROM auth_outbox ORDER BY seq")
        .await?
        .into_iter()
        .filter_map(|r| r[0].as_str().map(str::to_owned))
        .collect();
    assert_eq!(received, in_outbox, "events arrive in outbox order");
    Ok(())
}
}

/// PostgreSQL hands out `seq` at insert and shows the row at commit, so a
/// publisher can see seq n+1 while n is still in flight: it waits at such
/// a young gap, and passes it once it is old (a rolled-back insert).
#[tokio::test]
async fn publisher_waits_at_a_young_gap_in_the_outbox_and_passes_an_old_one() -> anyhow::Result<()> {
    let store = TestStore::create(crate::support::store::Backend::Postgres).await?;
    let queue = TestQueue::new();
    let app = broker_app(&store, &queue, "5672")?;
    let first = app.get("/test-event").await?.json();
    assert_eq!(first["delivered"], true, "{first}");
    // A number taken by a writer that has not committed yet.
    store.execute("SELECT nextval(pg_get_serial_sequence('auth_outbox', 'seq'))").await?;
    let held = app.get("/test-event").await?.json();
    assert_eq!(held["delivered"], false, "a young gap holds the row back: {held}");
    assert_eq!(store.pending().await?, 1);
    // Older than the wait: the missing number was rolled back.
    store.execute("UPDATE auth_outbox SET created_at = created_at - interval '1 minute'").await?;
    app.flush().await?;
    assert_eq!(store.pending().await?, 0);
    let got = queue.wait_for(2, Duration::from_secs(15)).await?;
    let ids: Vec<_> = got.iter().filter_map(|m| m.message_id()).collect();
    assert_eq!(ids, [first["event_id"].as_str().unwrap(), held["event_id"].as_str().unwrap()]);
    Ok(())
}

/// The app, on a new PostgreSQL database, with events going to `queue`,
/// from the manifest `edit` makes of `spin.toml`.
async fn edited_app(edit: impl Fn(String) -> String, queue: &TestQueue) -> anyhow::Result<(TestApp, crate::support::TestDb, ManifestCopy)> {
    let manifest = ManifestCopy::edited(edit)?;
    let db = crate::support::TestDb::create().await?;
    let mut env = crate::support::default_variables(&db);
    env.extend(broker_variables(queue, "5672"));
    env.extend(crate::support::variables(&[("rabbitmq_url", "amqp://guest:distinctive-broker-password@127.0.0.1:5672")]));
    let app = TestApp::load_manifest(&manifest.path(), env)?;
    Ok((app, db, manifest))
}

#[tokio::test]
async fn a_bridge_not_allowed_the_broker_cannot_open_its_socket() -> anyhow::Result<()> {
    // The bridge's permission for the broker's socket removed.
    let queue = TestQueue::new();
    let (app, _db, _manifest) =
        edited_app(|m| m.replace(r#"allowed_outbound_hosts = ["tcp://{{ rabbitmq_host }}:{{ rabbitmq_port }}"]"#, ""), &queue).await?;
    let body = app.get("/test-event").await?.json();
    assert_eq!(body["delivered"], false);
    let error = body["delivery_error"].as_str().unwrap_or_default();
    assert!(error.starts_with("connection refused") && error.contains("PermissionDenied"), "{body}");
    assert!(!app.guest_output().contains("distinctive-broker-password"), "no credentials in logs");
    Ok(())
}

#[tokio::test]
async fn an_auth_component_not_allowed_to_chain_to_the_bridge_keeps_its_events() -> anyhow::Result<()> {
    let queue = TestQueue::new();
    let (app, db, _manifest) = edited_app(|m| m.replace(r#""http://amqp-bridge.spin.internal","#, ""), &queue).await?;
    let body = app.get("/test-event").await?.json();
    assert_eq!(body["delivered"], false);
    let error = body["delivery_error"].as_str().unwrap_or_default();
    assert!(error.contains("amqp-bridge component did not answer") && error.contains("HttpRequestDenied"), "{body}");
    let pending: i64 = db.client().await?.query_one("SELECT count(*) FROM auth_outbox WHERE published_at IS NULL", &[]).await?.get(0);
    assert_eq!(pending, 1, "the event waits for a later delivery");
    assert!(!app.guest_output().contains("distinctive-broker-password"), "no credentials in logs");
    Ok(())
}

/// The bridge's route is private: its path reaches the auth component's
/// catch-all route, and a client naming its chaining host is answered
/// nothing at all (Spin 4.0.2 drops such a `Host`, then refuses a request
/// without one by closing the connection); nothing is published.
#[tokio::test]
async fn the_bridge_is_not_reachable_from_outside_the_app() -> anyhow::Result<()> {
    let store = TestStore::create(crate::support::store::Backend::Postgres).await?;
    let queue = TestQueue::new();
    let app = broker_app(&store, &queue, "5672")?;
    let call = json!({
        "broker": {"host": "127.0.0.1", "port": 5672, "username": "guest", "password": "guest", "vhost": "/",
                   "connect_timeout_ms": 1000, "io_timeout_ms": 1000},
        "destination": {"exchange": "", "routing_key": queue.name, "declare_durable_queue": queue.name},
        "messages": [{"body": "{}", "message_id": null, "kind": null, "content_type": null, "timestamp": null,
                      "app_id": null, "persistent": true}]
    });
    let post = |host: &str| {
        hyper::Request::builder()
            .method("POST")
            .uri("/publish")
            .header("host", host)
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(call.to_string())))
    };
    let reply = app.request(post("localhost:3000")?).await?;
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert_eq!(reply.json()["message"], "Not found", "the auth component's own 404: {}", reply.text());
    let refused = app.request(post("amqp-bridge.spin.internal")?).await;
    assert!(refused.is_err(), "no answer to a client naming the chaining host: {:?}", refused.map(|r| r.status));
    assert!(queue.drain().await?.is_empty(), "nothing was published");
    Ok(())
}
