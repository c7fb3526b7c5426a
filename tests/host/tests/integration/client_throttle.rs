//! Throttling by client (DESIGN.md §7) through the real component on both
//! stores: the bucket of each client address on the costly POSTs, its
//! refill, and `trusted_proxies` for `X-Forwarded-For`.

use crate::on_both_stores;
use crate::support::{Reply, TestApp};
use serde_json::json;
use std::time::Duration;

/// A costly POST that hashes nothing, so that the test's pace is its own:
/// a registration without fields (400, after the client's bucket was
/// asked; a login's body is read first, and one that cannot be read costs
/// nothing and is not counted).
async fn attempt(app: &TestApp, client: &str, forwarded: Option<&str>) -> anyhow::Result<Reply> {
    let mut headers: Vec<(&str, &[u8])> = vec![("content-type", b"application/json")];
    if let Some(chain) = forwarded {
        headers.push(("x-forwarded-for", chain.as_bytes()));
    }
    app.raw_from(client, "POST", "/register", &headers, b"{}").await
}

const ADMITTED: u16 = 400;

/// 429 `Too many requests`, with a `Retry-After` of at most `most` seconds.
fn assert_refused(reply: &Reply, most: u64) {
    assert_eq!((reply.status, reply.json()), (429, json!({"message": "Too many requests"})));
    let retry: u64 = reply.header("retry-after").and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!((1..=most).contains(&retry), "Retry-After {retry}");
}

on_both_stores! {
async fn each_client_has_its_own_bucket_and_it_refills(store) {
    // 3 at once, then one every 3 s.
    let app = store.app_with(&[("policy", "client_burst=3 client_refill_per_minute=20")])?;
    let account = json!({"username": "someone", "email": "someone@example.com", "password": "someone-password"});
    assert_eq!(app.post_json_from("198.51.100.9:1000", "/register", &account).await?.status, 201);
    let login = json!({"username": "someone", "password": "someone-password"});
    let pair = app.post_json_from("198.51.100.9:1000", "/login", &login).await?.json();
    for _ in 0..3 {
        assert_eq!(attempt(&app, "198.51.100.1:1000", None).await?.status, ADMITTED);
    }
    assert_refused(&attempt(&app, "198.51.100.1:1001", None).await?, 3);
    // Every costly POST draws on the same bucket.
    let refused_login = app.post_json_from("198.51.100.1:1002", "/login", &login).await?;
    assert_refused(&refused_login, 3);
    let counted = store.count("SELECT count(*) FROM auth_login_throttle WHERE login = 'someone'").await?;
    assert_eq!(counted, 0, "a refused client's attempt counts nothing against the name");
    let refresh = app.post_json_from("198.51.100.1:1003", "/token/refresh", &json!({"refresh_token": pair["refresh_token"]})).await?;
    assert_refused(&refresh, 3);
    let forgot = app.post_json_from("198.51.100.1:1003", "/password/forgot", &json!({"email": "someone@example.com"})).await?;
    assert_refused(&forgot, 3);
    // The refused refresh left the session alone: its token still rotates.
    let renewed = app.post_json_from("198.51.100.9:1000", "/token/refresh", &json!({"refresh_token": pair["refresh_token"]})).await?;
    assert_eq!(renewed.status, 200, "{}", renewed.text());
    // Another address has its own bucket; GETs are not counted.
    assert_eq!(attempt(&app, "198.51.100.2:1000", None).await?.status, ADMITTED);
    assert_eq!(app.get("/.well-known/jwks.json").await?.status, 200);
    // A token comes back every 3 s.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(attempt(&app, "198.51.100.1:1004", None).await?.status, ADMITTED);
    // A slow machine may have earned another meanwhile, not more.
    let mut next = attempt(&app, "198.51.100.1:1005", None).await?;
    if next.status == ADMITTED {
        next = attempt(&app, "198.51.100.1:1006", None).await?;
    }
    assert_refused(&next, 3);
    Ok(())
}

async fn forwarded_for_is_believed_only_from_trusted_proxies(store) {
    // One at once, then one a minute.
    let untrusted = store.app_with(&[("policy", "client_burst=1 client_refill_per_minute=1")])?;
    // Without trusted_proxies a header a client writes changes nothing.
    assert_eq!(attempt(&untrusted, "10.0.0.1:5000", Some("203.0.113.1")).await?.status, ADMITTED);
    assert_refused(&attempt(&untrusted, "10.0.0.1:5000", Some("203.0.113.2")).await?, 60);

    let proxied = store.app_with(&[("policy", "client_burst=1 client_refill_per_minute=1 trusted_proxies=10.0.0.0/8")])?;
    // Two clients behind the same proxy chain: one bucket each.
    assert_eq!(attempt(&proxied, "10.0.0.2:5000", Some("203.0.113.3, 10.0.0.9")).await?.status, ADMITTED);
    assert_eq!(attempt(&proxied, "10.0.0.2:5000", Some("203.0.113.4, 10.0.0.9")).await?.status, ADMITTED);
    assert_refused(&attempt(&proxied, "10.0.0.2:5000", Some("203.0.113.3, 10.0.0.9")).await?, 60);
    // What a client prepends itself is left of its own entry, where nobody reads.
    assert_refused(&attempt(&proxied, "10.0.0.2:5000", Some("198.51.100.9, 203.0.113.4")).await?, 60);
    // IPv6 clients count by their /64.
    assert_eq!(attempt(&proxied, "[2001:db8:0:1::1]:5000", None).await?.status, ADMITTED);
    assert_refused(&attempt(&proxied, "[2001:db8:0:1::ffff]:5000", None).await?, 60);
    Ok(())
}

async fn client_burst_zero_switches_it_off(store) {
    let app = store.app_with(&[("policy", "client_burst=0")])?;
    // The backlog view migrates the new database, so the table is there.
    assert_eq!(app.get("/auth/health?outbox").await?.status, 200);
    for _ in 0..31 {
        assert_eq!(attempt(&app, "198.51.100.1:1000", None).await?.status, ADMITTED);
    }
    assert_eq!(store.count("SELECT count(*) FROM auth_client_bucket").await?, 0);
    Ok(())
}
}
