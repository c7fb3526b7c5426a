//! Broker faults injected through a proxy the test controls: logins keep
//! working, nothing is lost, everything arrives once the broker is back.

use crate::delivery::broker_app;
use crate::on_both_stores;
use crate::support::broker::TestQueue;
use crate::support::proxy::FaultProxy;
use crate::support::store::TestStore;
use crate::support::TestApp;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Flushes until the outbox is empty (a flush stops at the first failure).
async fn flush_until_empty(app: &TestApp, store: &TestStore) -> anyhow::Result<usize> {
    let mut flushes = 0;
    while store.pending().await? > 0 {
        flushes += 1;
        anyhow::ensure!(flushes <= 200, "outbox still not empty after 200 flushes");
        app.flush().await?;
    }
    Ok(flushes)
}

on_both_stores! {
async fn broker_down_logins_still_work_and_everything_arrives_later(store) {
    let queue = TestQueue::new();
    let proxy = FaultProxy::start().await?;
    let app = broker_app(store, &queue, &proxy.port())?;
    app.register("ivan", "ivan@example.com", "ivan-password").await?;
    proxy.refuse();

    let started = Instant::now();
    for _ in 0..3 {
        app.login("ivan", "ivan-password").await?;
    }
    let per_login = started.elapsed() / 3;
    let test_event = app.get("/test-event").await?.json();
    assert_eq!(test_event["delivered"], false);
    let health = app.get("/auth/health?outbox").await?;
    assert_eq!(health.status, 200);
    assert!(health.json()["outbox"]["pending"].as_i64().unwrap() >= 4, "{}", health.text());
    println!("login with the broker down: {per_login:?} each (PBKDF2 included)");

    proxy.forward();
    flush_until_empty(&app, store).await?;
    let got = queue.wait_for(store.event_ids().await?.len(), Duration::from_secs(10)).await?;
    let ids: HashSet<String> = got.iter().filter_map(|m| m.message_id()).collect();
    assert_eq!(ids, store.event_ids().await?, "every event arrived");
    Ok(())
}

async fn connection_cut_mid_batch_loses_nothing(store) {
    let queue = TestQueue::new();
    let proxy = FaultProxy::start().await?;
    let app = broker_app(store, &queue, &proxy.port())?;
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
    flush_until_empty(&app, store).await?;
    let got = queue.wait_for(250, Duration::from_secs(10)).await?;
    let ids: HashSet<String> = got.iter().filter_map(|m| m.message_id()).collect();
    assert_eq!(ids, store.event_ids().await?);
    println!("250 events, {cuts} connections cut, {} duplicates", got.len() - ids.len());
    assert!(cuts > 0, "the proxy cut no connection: the test proved nothing");
    Ok(())
}

async fn broker_restart_cuts_open_connections_and_the_next_request_recovers(store) {
    let queue = TestQueue::new();
    let proxy = FaultProxy::start().await?;
    let app = broker_app(store, &queue, &proxy.port())?;
    assert_eq!(app.get("/test-event").await?.json()["delivered"], true);
    proxy.refuse();
    assert_eq!(app.get("/test-event").await?.json()["delivered"], false);
    proxy.forward();
    let third = app.get("/test-event").await?.json();
    assert_eq!(third["delivered"], true, "{third}");
    assert_eq!(store.pending().await?, 0, "the next request delivered the backlog too");
    let got = queue.wait_for(3, Duration::from_secs(5)).await?;
    assert_eq!(got.iter().filter_map(|m| m.message_id()).collect::<HashSet<_>>(), store.event_ids().await?);
    Ok(())
}

/// 1,000 events (test events and some logins) while the proxy drops
/// connections at random: every one arrives.
async fn a_thousand_events_through_random_connection_drops_all_arrive(store) {
    const EVENTS: usize = 1000;
    const LOGINS: usize = 10;
    let queue = TestQueue::new();
    let proxy = FaultProxy::start().await?;
    let app = broker_app(store, &queue, &proxy.port())?;
    app.register("judy", "judy@example.com", "judy-password").await?;
    proxy.cut_randomly(0.02);
    let mut written = 2; // the registration and its verification request
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
    flush_until_empty(&app, store).await?;
    let got = queue.wait_for(EVENTS, Duration::from_secs(30)).await?;
    let ids: HashSet<String> = got.iter().filter_map(|m| m.message_id()).collect();
    let expected = store.event_ids().await?;
    assert_eq!(expected.len(), EVENTS);
    assert_eq!(ids.len(), EVENTS, "distinct message ids received");
    assert_eq!(ids, expected);
    println!("{EVENTS} events, {cuts} connections cut at random, {} duplicates delivered", got.len() - ids.len());
    assert!(cuts > 0, "the proxy cut no connection: the test proved nothing");
    Ok(())
}
}
