//! Broker faults injected through a proxy the test controls: logins keep
//! working, nothing is lost, everything arrives once the broker is back.

use crate::support::broker::TestQueue;
use crate::support::proxy::FaultProxy;
use crate::support::{broker_variables, TestApp, TestDb};
use std::collections::HashSet;
use std::time::{Duration, Instant};

async fn pending(db: &TestDb) -> anyhow::Result<i64> {
    Ok(db.client().await?.query_one("SELECT count(*) FROM auth_outbox WHERE published_at IS NULL", &[]).await?.get(0))
}

async fn all_ids(db: &TestDb) -> anyhow::Result<HashSet<String>> {
    let rows = db.client().await?.query("SELECT id FROM auth_outbox", &[]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Flushes until the outbox is empty (a flush stops at the first failure).
async fn flush_until_empty(app: &TestApp, db: &TestDb) -> anyhow::Result<usize> {
    let mut flushes = 0;
    while pending(db).await? > 0 {
        flushes += 1;
        anyhow::ensure!(flushes <= 200, "outbox still not empty after 200 flushes");
        app.flush().await?;
    }
    Ok(flushes)
}

#[tokio::test]
async fn broker_down_logins_still_work_and_everything_arrives_later() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let queue = TestQueue::new();
    let proxy = FaultProxy::start().await?;
    let app = TestApp::load(broker_variables(&db, &queue, &proxy.port()))?;
    app.register("ivan", "ivan@example.com", "ivan-password").await?;
    proxy.refuse();

    let started = Instant::now();
    for _ in 0..3 {
        app.login("ivan", "ivan-password").await?;
    }
    let per_login = started.elapsed() / 3;
    let test_event = app.get("/test-event").await?.json();
    assert_eq!(test_event["delivered"], false);
    let health = app.get("/auth/health").await?;
    assert_eq!(health.status, 200);
    assert!(health.json()["outbox"]["pending"].as_i64().unwrap() >= 4, "{}", health.text());
    println!("login with the broker down: {per_login:?} each (PBKDF2 included)");

    proxy.forward();
    flush_until_empty(&app, &db).await?;
    let got = queue.wait_for(all_ids(&db).await?.len(), Duration::from_secs(10)).await?;
    let ids: HashSet<String> = got.iter().filter_map(|m| m.message_id()).collect();
    assert_eq!(ids, all_ids(&db).await?, "every event arrived");
    Ok(())
}

#[tokio::test]
async fn connection_cut_mid_batch_loses_nothing() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let queue = TestQueue::new();
    let proxy = FaultProxy::start().await?;
    let app = TestApp::load(broker_variables(&db, &queue, &proxy.port()))?;
    proxy.refuse();
    for _ in 0..250 {
        app.get("/test-event").await?;
    }
    // Every connection breaks after 20 KB towards the broker: about 50
    // messages into a batch of 100.
    proxy.cut_after(20_000);
    for _ in 0..3 {
        let report = app.flush().await?;
        assert!(report["error"].is_string(), "the cut batch reports its error: {report}");
    }
    let cuts = proxy.random_cuts();
    proxy.forward();
    flush_until_empty(&app, &db).await?;
    let got = queue.wait_for(250, Duration::from_secs(10)).await?;
    let ids: HashSet<String> = got.iter().filter_map(|m| m.message_id()).collect();
    assert_eq!(ids, all_ids(&db).await?);
    println!("250 events, {cuts} connections cut, {} duplicates", got.len() - ids.len());
    assert!(cuts > 0, "the proxy cut no connection: the test proved nothing");
    Ok(())
}

#[tokio::test]
async fn broker_restart_cuts_open_connections_and_the_next_request_recovers() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let queue = TestQueue::new();
    let proxy = FaultProxy::start().await?;
    let app = TestApp::load(broker_variables(&db, &queue, &proxy.port()))?;
    assert_eq!(app.get("/test-event").await?.json()["delivered"], true);
    proxy.refuse();
    assert_eq!(app.get("/test-event").await?.json()["delivered"], false);
    proxy.forward();
    let third = app.get("/test-event").await?.json();
    assert_eq!(third["delivered"], true, "{third}");
    assert_eq!(pending(&db).await?, 0, "the next request delivered the backlog too");
    let got = queue.wait_for(3, Duration::from_secs(5)).await?;
    assert_eq!(got.iter().filter_map(|m| m.message_id()).collect::<HashSet<_>>(), all_ids(&db).await?);
    Ok(())
}

/// 1,000 events (test events and some logins) while the proxy drops
/// connections at random: every one arrives.
#[tokio::test]
async fn a_thousand_events_through_random_connection_drops_all_arrive() -> anyhow::Result<()> {
    const EVENTS: usize = 1000;
    const LOGINS: usize = 10;
    let db = TestDb::create().await?;
    let queue = TestQueue::new();
    let proxy = FaultProxy::start().await?;
    let app = TestApp::load(broker_variables(&db, &queue, &proxy.port()))?;
    app.register("judy", "judy@example.com", "judy-password").await?;
    proxy.cut_randomly(0.02);
    let mut written = 1; // the registration
    while written < EVENTS {
        if written % (EVENTS / LOGINS) == 0 {
            app.login("judy", "judy-password").await?;
        } else {
            app.get("/test-event").await?;
        }
        written += 1;
    }
    let cuts = proxy.random_cuts();
    proxy.forward();
    flush_until_empty(&app, &db).await?;
    let got = queue.wait_for(EVENTS, Duration::from_secs(30)).await?;
    let ids: HashSet<String> = got.iter().filter_map(|m| m.message_id()).collect();
    let expected = all_ids(&db).await?;
    assert_eq!(expected.len(), EVENTS);
    assert_eq!(ids.len(), EVENTS, "distinct message ids received");
    assert_eq!(ids, expected);
    println!("{EVENTS} events, {cuts} connections cut at random, {} duplicates delivered", got.len() - ids.len());
    assert!(cuts > 0, "the proxy cut no connection: the test proved nothing");
    Ok(())
}
