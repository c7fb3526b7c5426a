//! Users migrated from other systems log in with the hashes those systems
//! stored, made here by the systems' own libraries (`flask_peer.py
//! foreign-hashes`: Werkzeug, Django's algorithm, bcrypt, argon2-cffi), and
//! their hashes are upgraded to the service's PBKDF2 on the first good
//! login; hashes whose parameters would cost without bound are refused.

use crate::flask_compat::flask_peer;
use crate::on_both_stores;
use crate::support::store::TestStore;
use anyhow::Context;
use serde_json::{json, Value};

const PASSWORD: &str = "migrated password";

async fn insert_user(store: &TestStore, id: &str, username: &str, hash: &str) -> anyhow::Result<()> {
    let sql = format!(r#"INSERT INTO "user" (id, username, password, email) VALUES ('{id}', '{username}', '{hash}', '{username}@example.com')"#);
    anyhow::ensure!(store.execute(&sql).await? == 1);
    Ok(())
}

async fn stored_hash(store: &TestStore, id: &str) -> anyhow::Result<String> {
    Ok(store.scalar(&format!(r#"SELECT password FROM "user" WHERE id = '{id}'"#)).await?.as_str().unwrap_or_default().to_owned())
}

on_both_stores! {
async fn hashes_from_other_systems_log_in_and_are_upgraded(store) {
    let app = store.app()?;
    // The schema, before rows go in behind the service's back.
    app.get("/auth/health?outbox").await?;
    let hashes: serde_json::Map<String, Value> = serde_json::from_str(&flask_peer(&["foreign-hashes", PASSWORD])?)?;
    assert_eq!(hashes.len(), 9);
    for (i, (format, hash)) in hashes.iter().enumerate() {
        let hash = hash.as_str().context("hash")?;
        let (id, username) = (format!("imported-{i}"), format!("imported{i}"));
        insert_user(store, &id, &username, hash).await?;

        let wrong = app.post_json("/login", &json!({"username": username, "password": "not it"})).await?;
        assert_eq!((wrong.status, wrong.json()), (401, json!({"message": "Invalid credentials"})), "{format}");
        assert_eq!(stored_hash(store, &id).await?, hash, "{format}: a miss changes nothing");

        let good = app.post_json("/login", &json!({"username": username, "password": PASSWORD})).await?;
        assert_eq!(good.status, 200, "{format}: {}", good.text());
        let upgraded = stored_hash(store, &id).await?;
        assert!(upgraded.starts_with("$pbkdf2-sha256$i=600000,l=32$"), "{format}: {upgraded}");
        let again = app.post_json("/login", &json!({"username": username, "password": PASSWORD})).await?;
        assert_eq!(again.status, 200, "{format}: the upgraded hash verifies");
    }
    Ok(())
}

async fn hashes_over_the_cost_caps_are_refused(store) {
    let app = store.app()?;
    app.get("/auth/health?outbox").await?;
    let costly = [
        "$pbkdf2-sha256$i=100000000,l=32$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
        "pbkdf2:sha256:100000000$salt$8ed8d2b2b5a9d3abec2dc295b25576f62fdca804f6ffdcdba05cdcd8186ba022",
        "scrypt:4194304:8:1$salt$00",
        "$2b$31$uZfUa19ARVZxiRVdopHb4u9116FyHFwtXPDA1IwJbyBFdQKe4WnmK",
        "$argon2id$v=19$m=4194304,t=3,p=4$KvrGt/ksEIo2nQrralUAyA$8CiOols8Okgw1caQmKAUfkVev+2U7Cbb0sCJPR3l2Pc",
    ];
    for (i, hash) in costly.iter().enumerate() {
        let (id, username) = (format!("costly-{i}"), format!("costly{i}"));
        insert_user(store, &id, &username, hash).await?;
        let reply = app.post_json("/login", &json!({"username": username, "password": PASSWORD})).await?;
        assert_eq!((reply.status, reply.json()), (401, json!({"message": "Invalid credentials"})), "{hash}");
        assert_eq!(stored_hash(store, &id).await?, *hash);
    }
    Ok(())
}
}
