//! Login throttling by login name (DESIGN.md §7) through the real
//! component on both stores: the lockout sequence with `Retry-After`, the
//! same answers for a known and an unknown name, parallel guesses that
//! cannot race past the limit, a correct password refused during a lock
//! and taken after it, and the lock doubling with each further failure.

use crate::on_both_stores;
use crate::support::store::TestStore;
use crate::support::TestApp;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const PASSWORD: &str = "throttle-password";

async fn attempt(app: &TestApp, username: &str, password: &str) -> anyhow::Result<(u16, Value, Option<u64>)> {
    let reply = app.post_json("/login", &json!({"username": username, "password": password})).await?;
    let retry_after = reply.header("retry-after").and_then(|v| v.parse().ok());
    Ok((reply.status, reply.json(), retry_after))
}

async fn events(store: &TestStore, name: &str, username: &str) -> anyhow::Result<Vec<Value>> {
    let all = store.outbox().await?;
    Ok(all.into_iter().filter(|(n, p)| n == name && p["data"]["username"] == json!(username)).map(|(_, p)| p["data"].clone()).collect())
}

on_both_stores! {
async fn a_locked_name_answers_429_and_a_known_name_looks_like_an_unknown_one(store) {
    let app = store.app_with(&[("policy", "lockout_threshold=3 lockout_base_seconds=60")])?;
    app.register("alice", "alice@example.com", PASSWORD).await?;
    let mut sequences = Vec::new();
    for name in ["alice", "nobody"] {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(attempt(&app, name, "wrong guess").await?);
        }
        // Locked now: even the right password is refused, without hashing.
        for _ in 0..2 {
            seen.push(attempt(&app, name, PASSWORD).await?);
        }
        for (status, body, retry) in &seen[..3] {
            assert_eq!((*status, body, *retry), (401, &json!({"message": "Invalid credentials"}), None), "{name}");
        }
        for (status, body, retry) in &seen[3..] {
            assert_eq!((*status, body), (429, &json!({"message": "Too many attempts"})), "{name}");
            assert!(matches!(retry, Some(55..=60)), "{name}: Retry-After {retry:?}");
        }
        sequences.push(seen.into_iter().map(|(status, body, retry)| (status, body, retry.is_some())).collect::<Vec<_>>());

        let failed = events(store, "UserLoginFailed", name).await?;
        assert_eq!(failed.len(), 3, "{name}: no UserLoginFailed while locked");
        let locked = events(store, "UserLockedOut", name).await?;
        assert_eq!(locked.len(), 1, "{name}: one UserLockedOut per lock: {locked:?}");
        assert_eq!(locked[0]["failures"], json!(3));
        assert!(locked[0]["locked_until"].as_str().is_some_and(|t| t.ends_with('Z')), "{locked:?}");
    }
    assert_eq!(sequences[0], sequences[1], "a known name and an unknown one answer alike");
    // Case-folded: the same name in capitals is the same locked name.
    assert_eq!(attempt(&app, "ALICE", PASSWORD).await?.0, 429);
    Ok(())
}

async fn parallel_guesses_cannot_race_past_the_threshold(store) {
    let app = Arc::new(store.app_with(&[("policy", "lockout_threshold=5")])?);
    app.register("target", "target@example.com", PASSWORD).await?;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { attempt(&app, "target", &format!("guess {i}")).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await??.0);
    }
    let hashed = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(hashed, 5, "only the reserved attempts hash: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 15, "{statuses:?}");
    assert_eq!(events(store, "UserLoginFailed", "target").await?.len(), 5);
    assert_eq!(events(store, "UserLockedOut", "target").await?.len(), 1);
    Ok(())
}

async fn a_lock_ends_then_doubles_with_the_next_failure_and_a_good_login_clears_it(store) {
    // Locks of 2 s and 4 s: long enough that a failure's hashing on a
    // busy machine ends well inside them.
    let app = store.app_with(&[("policy", "lockout_threshold=2 lockout_base_seconds=2 lockout_max_seconds=6")])?;
    app.register("bob", "bob@example.com", PASSWORD).await?;
    assert_eq!(attempt(&app, "bob", "wrong").await?.0, 401);
    assert_eq!(attempt(&app, "bob", "wrong").await?.0, 401);
    let (status, _, retry) = attempt(&app, "bob", PASSWORD).await?;
    assert_eq!(status, 429, "the right password during the lock");
    assert!(matches!(retry, Some(1..=2)), "Retry-After {retry:?}");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // One more failure after the lock: locked again, twice as long.
    assert_eq!(attempt(&app, "bob", "wrong").await?.0, 401);
    let (status, body, retry) = attempt(&app, "bob", PASSWORD).await?;
    assert_eq!((status, body), (429, json!({"message": "Too many attempts"})));
    assert!(matches!(retry, Some(3..=4)), "twice as long: Retry-After {retry:?}");
    tokio::time::sleep(Duration::from_millis(4200)).await;
    assert_eq!(attempt(&app, "bob", PASSWORD).await?.0, 200, "the right password after the lock");
    assert_eq!(store.count("SELECT count(*) FROM auth_login_throttle").await?, 0, "a good login refunds");
    // The count starts again from nothing.
    assert_eq!(attempt(&app, "bob", "wrong").await?.0, 401);
    assert_eq!(attempt(&app, "bob", PASSWORD).await?.0, 200);
    Ok(())
}
}
