//! The password lifecycle of DESIGN.md §7 through the real component on
//! both stores: a reset driven by the `PasswordResetRequested` a consumer
//! read from RabbitMQ, forgot's one answer for known and unknown
//! addresses, spent, replaced and expired tokens, e-mail verification and
//! `require_verified_email`.

use crate::delivery::broker_app;
use crate::on_both_stores;
use crate::support::broker::TestQueue;
use crate::support::store::TestStore;
use crate::support::{Reply, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

const OLD: &str = "old-password-1";
const NEW: &str = "new-password-2";
const FORGOT_ANSWER: &str = "If the account exists, a reset link is on its way";

fn bad_token() -> Value {
    json!({"message": "Invalid or expired token"})
}

async fn reset(app: &TestApp, token: &Value, password: &str) -> anyhow::Result<Reply> {
    app.post_json("/password/reset", &json!({"token": token, "new_password": password})).await
}

/// `POST /password` from `OLD` to `new` by `token`'s bearer, to be spawned.
fn change(app: &std::sync::Arc<TestApp>, token: String, new: &'static str) -> impl std::future::Future<Output = anyhow::Result<Reply>> + Send + 'static {
    let app = app.clone();
    async move {
        let auth = format!("Bearer {token}");
        let body = json!({"current_password": OLD, "new_password": new}).to_string();
        app.raw("POST", "/password", &[("authorization", auth.as_bytes()), ("content-type", b"application/json")], body.as_bytes()).await
    }
}

/// The events named `name` in the outbox, oldest first, as their `data`.
async fn queued(store: &TestStore, name: &str) -> anyhow::Result<Vec<Value>> {
    Ok(store.outbox().await?.into_iter().filter(|(n, _)| n == name).map(|(_, body)| body["data"].clone()).collect())
}

/// [`queued`] once `count` such events are there: a reset request is
/// stored after its answer has gone (so that its timing tells nothing).
async fn queued_eventually(store: &TestStore, name: &str, count: usize) -> anyhow::Result<Vec<Value>> {
    for _ in 0..100 {
        let events = queued(store, name).await?;
        if events.len() >= count {
            return Ok(events);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("fewer than {count} {name} queued after 5 s")
}

async fn newest_token(store: &TestStore, name: &str) -> anyhow::Result<Value> {
    let events = queued(store, name).await?;
    let newest = events.last().ok_or_else(|| anyhow::anyhow!("no {name} queued"))?;
    Ok(newest["token"].clone())
}

on_both_stores! {
async fn a_reset_driven_by_the_event_a_consumer_read(store) {
    let queue = TestQueue::new();
    let app = broker_app(store, &queue, "5672")?;
    let user_id = app.register("forgetful", "Forgetful@Example.com", OLD).await?;
    let session = app.login("forgetful", OLD).await?;

    let asked = app.post_json("/password/forgot", &json!({"email": "forgetful@example.COM"})).await?;
    assert_eq!((asked.status, asked.json()), (202, json!({"message": FORGOT_ANSWER})));
    let received = queue.wait_for(4, Duration::from_secs(10)).await?;
    let names: Vec<&str> = received.iter().map(|m| m.body["event"].as_str().unwrap_or("")).collect();
    assert_eq!(names, ["UserRegistered", "EmailVerificationRequested", "UserLoggedIn", "PasswordResetRequested"]);
    let request = &received[3].body["data"];
    assert_eq!((&request["user_id"], &request["email"]), (&json!(user_id), &json!("forgetful@example.com")));
    let token = request["token"].as_str().unwrap_or_default();
    assert_eq!(token.len(), 43, "256 bits in base64url: {token}");
    let expires = chrono::DateTime::parse_from_rfc3339(request["expires_at"].as_str().unwrap_or_default())?;
    let left = expires.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((3500..=3600).contains(&left), "the default hour: {left} s");
    // The store keeps only the token's hash.
    let stored: Value = store.scalar("SELECT token_hash FROM auth_user_token WHERE purpose = 'password_reset'").await?;
    assert!(stored.as_str().is_some_and(|hash| hash.len() == 64 && !hash.contains(token)), "{stored}");

    let done = reset(&app, &json!(token), NEW).await?;
    assert_eq!(done.status, 204, "{}", done.text());
    let ended = app.get_authorized("/profile", &session).await?;
    assert_eq!((ended.status, ended.json()), (401, json!({"message": "Invalid token"})), "every session ends");
    assert_eq!(app.post_json("/login", &json!({"username": "forgetful", "password": OLD})).await?.status, 401);
    app.login("forgetful", NEW).await?;
    let again = reset(&app, &json!(token), "a-third-password").await?;
    assert_eq!((again.status, again.json()), (400, bad_token()), "a token is spent by its use");

    let later = queue.wait_for(3, Duration::from_secs(10)).await?;
    let names: Vec<&str> = later.iter().map(|m| m.body["event"].as_str().unwrap_or("")).collect();
    assert_eq!(names, ["PasswordReset", "UserLoginFailed", "UserLoggedIn"]);
    assert_eq!(later[0].body["data"], json!({"user_id": user_id}));
    // Once published, the outbox keeps no token: only the hash is stored.
    let carried_tokens = || async {
        let events = store.outbox().await?;
        anyhow::Ok(events.iter().filter(|(_, body)| !body["data"]["token"].is_null()).count())
    };
    let mut left = carried_tokens().await?;
    for _ in 0..50 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = carried_tokens().await?;
    }
    assert_eq!(left, 0, "published events still carry their tokens");
    assert_eq!(queued(store, "PasswordResetRequested").await?.len(), 1);
    Ok(())
}

async fn forgot_answers_the_same_for_unknown_addresses(store) {
    let app = store.app()?;
    app.register("known", "known@example.com", OLD).await?;
    let before = store.outbox().await?.len();
    let unknown = app.post_json("/password/forgot", &json!({"email": "nobody@example.com"})).await?;
    assert_eq!((unknown.status, unknown.json()), (202, json!({"message": FORGOT_ANSWER})));
    let known = app.post_json("/password/forgot", &json!({"email": "known@example.com"})).await?;
    assert_eq!((known.status, known.json()), (202, json!({"message": FORGOT_ANSWER})));
    queued_eventually(store, "PasswordResetRequested", 1).await?;
    // Both requests' work is done by now; the unknown address's left nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.outbox().await?.len(), before + 1);
    assert_eq!(store.count("SELECT count(*) FROM auth_user_token WHERE purpose = 'password_reset'").await?, 1);
    for (body, message) in [
        (json!({"email": "not an address"}), "Email must be a valid address"),
        (json!({}), "Missing field: email"),
        (json!({"email": 7}), "Field email must be a string"),
    ] {
        let reply = app.post_json("/password/forgot", &body).await?;
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.json()["message"].as_str().unwrap_or("").starts_with(message), "{body}: {}", reply.text());
    }
    Ok(())
}

async fn replaced_expired_and_malformed_reset_tokens_are_refused(store) {
    let app = store.app()?;
    app.register("twice", "twice@example.com", OLD).await?;
    // One after the other: each request's statement runs after its answer.
    for count in 1..=2 {
        assert_eq!(app.post_json("/password/forgot", &json!({"email": "twice@example.com"})).await?.status, 202);
        queued_eventually(store, "PasswordResetRequested", count).await?;
    }
    let requests = queued(store, "PasswordResetRequested").await?;
    let tokens: Vec<Value> = requests.into_iter().map(|d| d["token"].clone()).collect();
    assert_eq!(tokens.len(), 2);
    let replaced = reset(&app, &tokens[0], NEW).await?;
    assert_eq!((replaced.status, replaced.json()), (400, bad_token()), "a newer request replaces the older token");
    // Past its end: the same string is a time on both stores.
    store.execute("UPDATE auth_user_token SET expires_at = '2000-01-01T00:00:00.000Z'").await?;
    let expired = reset(&app, &tokens[1], NEW).await?;
    assert_eq!((expired.status, expired.json()), (400, bad_token()));
    for token in [json!("x".repeat(43)), json!("short"), json!(format!("{}=", "a".repeat(42)))] {
        let reply = reset(&app, &token, NEW).await?;
        assert_eq!((reply.status, reply.json()), (400, bad_token()), "{token}");
    }
    let weak = reset(&app, &tokens[1], "short").await?;
    assert_eq!((weak.status, weak.json()), (400, json!({"message": "Password must be 8 to 1024 characters long"})));
    app.login("twice", OLD).await?;
    assert!(queued(store, "PasswordReset").await?.is_empty());
    Ok(())
}

async fn racing_requests_leave_one_live_token(store) {
    let app = std::sync::Arc::new(store.app()?);
    app.register("racer", "racer@example.com", OLD).await?;
    let asked: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.post_json("/password/forgot", &json!({"email": "racer@example.com"})).await })
        })
        .collect();
    for task in asked {
        assert_eq!(task.await??.status, 202);
    }
    let tokens: Vec<Value> = queued_eventually(store, "PasswordResetRequested", 8).await?.into_iter().map(|d| d["token"].clone()).collect();
    assert_eq!(store.count("SELECT count(*) FROM auth_user_token WHERE purpose = 'password_reset'").await?, 1);
    let mut statuses = Vec::new();
    for token in &tokens {
        statuses.push(reset(&app, token, NEW).await?.status);
    }
    statuses.sort();
    assert_eq!(statuses, [204, 400, 400, 400, 400, 400, 400, 400], "exactly one of the racing tokens lives");
    app.login("racer", NEW).await?;
    Ok(())
}

async fn verification_gates_login_under_require_verified_email(store) {
    let app = store.app_with(&[("policy", "require_verified_email=true lockout_threshold=3")])?;
    let user_id = app.register("unverified", "Unverified@example.com", OLD).await?;
    let requested = queued(store, "EmailVerificationRequested").await?;
    assert_eq!(requested.len(), 1);
    assert_eq!((&requested[0]["user_id"], &requested[0]["email"]), (&json!(user_id), &json!("unverified@example.com")));
    // A right password is refused without counting against the name...
    for _ in 0..4 {
        let refused = app.post_json("/login", &json!({"username": "unverified", "password": OLD})).await?;
        assert_eq!((refused.status, refused.json()), (403, json!({"message": "Email not verified"})));
    }
    // ...and a wrong one is still a wrong one.
    let wrong = app.post_json("/login", &json!({"username": "unverified", "password": "not-the-one"})).await?;
    assert_eq!(wrong.status, 401);

    let verified = app.post_json("/email/verify", &json!({"token": requested[0]["token"]})).await?;
    assert_eq!(verified.status, 204, "{}", verified.text());
    assert_eq!(queued(store, "UserEmailVerified").await?, [json!({"user_id": user_id, "email": "unverified@example.com"})]);
    let token = app.login("unverified", OLD).await?;
    let spent = app.post_json("/email/verify", &json!({"token": requested[0]["token"]})).await?;
    assert_eq!((spent.status, spent.json()), (400, bad_token()));
    let resend = app.raw("POST", "/email/verify/resend", &[("authorization", format!("Bearer {token}").as_bytes())], b"").await?;
    assert_eq!((resend.status, resend.json()), (409, json!({"message": "Email already verified"})));
    Ok(())
}

async fn a_resent_token_replaces_the_first(store) {
    let app = store.app()?;
    app.register("resender", "resender@example.com", OLD).await?;
    let first = newest_token(store, "EmailVerificationRequested").await?;
    let token = app.login("resender", OLD).await?;
    let auth = format!("Bearer {token}");
    let resent = app.raw("POST", "/email/verify/resend", &[("authorization", auth.as_bytes())], b"").await?;
    assert_eq!((resent.status, resent.json()), (202, json!({"message": "A verification link is on its way"})));
    let second = newest_token(store, "EmailVerificationRequested").await?;
    assert_ne!(first, second);
    let old = app.post_json("/email/verify", &json!({"token": first})).await?;
    assert_eq!((old.status, old.json()), (400, bad_token()));
    assert_eq!(app.post_json("/email/verify", &json!({"token": second})).await?.status, 204);
    let verified = store.count(r#"SELECT count(*) FROM "user" WHERE username = 'resender' AND email_verified_at IS NOT NULL"#).await?;
    assert_eq!(verified, 1);
    // A logged-out session cannot ask; nor can nobody.
    assert_eq!(app.raw("POST", "/logout", &[("authorization", auth.as_bytes())], b"").await?.status, 204);
    let revoked = app.raw("POST", "/email/verify/resend", &[("authorization", auth.as_bytes())], b"").await?;
    assert_eq!((revoked.status, revoked.json()), (401, json!({"message": "Invalid token"})));
    let anonymous = app.raw("POST", "/email/verify/resend", &[], b"").await?;
    assert_eq!(anonymous.status, 403);
    Ok(())
}

async fn a_reset_verifies_the_address_it_reached(store) {
    let app = store.app_with(&[("policy", "require_verified_email=true")])?;
    app.register("resetter", "resetter@example.com", OLD).await?;
    assert_eq!(app.post_json("/password/forgot", &json!({"email": "resetter@example.com"})).await?.status, 202);
    queued_eventually(store, "PasswordResetRequested", 1).await?;
    let token = newest_token(store, "PasswordResetRequested").await?;
    assert_eq!(reset(&app, &token, NEW).await?.status, 204);
    app.login("resetter", NEW).await?;
    // The registration's verification token still verifies; the address already is.
    let first = newest_token(store, "EmailVerificationRequested").await?;
    assert_eq!(app.post_json("/email/verify", &json!({"token": first})).await?.status, 204);
    Ok(())
}
}

/// Runs `request` while the account `username`'s row is held, and once
/// the request's write waits for the row, gives the account the password
/// hash of `other` (as a reset committing at that moment would) and lets
/// go: the request read the old hash, checked a password against it, and
/// writes only now. Made this way on PostgreSQL, the race happens every
/// run. (SQLite serialises writes; the same guard is in its statements.)
async fn while_the_password_changes<F>(store: &TestStore, username: &str, other: &str, request: F) -> anyhow::Result<Reply>
where
    F: std::future::Future<Output = anyhow::Result<Reply>> + Send + 'static,
{
    let TestStore::Postgres(db) = store else { anyhow::bail!("rows are held on PostgreSQL") };
    let holder = db.client().await?;
    holder.batch_execute(&format!(r#"BEGIN; SELECT 1 FROM "user" WHERE username = '{username}' FOR UPDATE"#)).await?;
    let request = tokio::spawn(request);
    db.until_a_statement_waits().await?;
    holder
        .batch_execute(&format!(
            r#"UPDATE "user" SET password = (SELECT password FROM "user" WHERE username = '{other}') WHERE username = '{username}'; COMMIT"#
        ))
        .await?;
    request.await?
}

/// A login that checked the old password while it changed neither writes
/// its upgraded hash of it over the new one nor opens a session. It runs
/// under twice the iterations the account was hashed with, so that it also
/// asks to write an upgraded hash.
#[tokio::test]
async fn a_password_changed_while_a_login_hashes_wins() -> anyhow::Result<()> {
    let store = TestStore::create(crate::support::store::Backend::Postgres).await?;
    let app = store.app()?;
    app.register("raced", "raced@example.com", OLD).await?;
    app.register("other", "other@example.com", NEW).await?;
    let slow = store.app_with(&[("policy", "password_iterations=1200000")])?;
    let login = async move { slow.post_json("/login", &json!({"username": "raced", "password": OLD})).await };
    let raced = while_the_password_changes(&store, "raced", "other", login).await?;
    assert_eq!((raced.status, raced.json()), (401, json!({"message": "Invalid credentials"})));
    assert_eq!(store.count("SELECT count(*) FROM auth_session s JOIN \"user\" u ON u.id = s.user_id WHERE u.username = 'raced'").await?, 0);
    let old = app.post_json("/login", &json!({"username": "raced", "password": OLD})).await?;
    assert_eq!(old.status, 401, "the old password was written back: {}", old.text());
    app.login("raced", NEW).await?;
    Ok(())
}

/// A password change whose current password was checked against a hash
/// that changed meanwhile is refused and leaves the new password alone.
#[tokio::test]
async fn a_password_changed_while_a_change_hashes_wins() -> anyhow::Result<()> {
    let store = TestStore::create(crate::support::store::Backend::Postgres).await?;
    let app = std::sync::Arc::new(store.app()?);
    app.register("raced", "raced@example.com", OLD).await?;
    app.register("other", "other@example.com", NEW).await?;
    let token = app.login("raced", OLD).await?;
    let raced = while_the_password_changes(&store, "raced", "other", change(&app, token, "third-password-3")).await?;
    assert_eq!(raced.status, 401, "{}", raced.text());
    let third = app.post_json("/login", &json!({"username": "raced", "password": "third-password-3"})).await?;
    assert_eq!(third.status, 401, "the change overwrote the newer password");
    app.login("raced", NEW).await?;
    Ok(())
}

/// Runs `request` while another transaction holds account `username`'s
/// row and opens a session for it (as a login does in its last
/// statement), and commits that transaction once the request waits for
/// the row: the request must see the session when it ends the account's
/// sessions, though the session committed after the request began.
/// Returns the request's reply and whether that session ended.
async fn while_a_login_commits<F>(store: &TestStore, username: &str, request: F) -> anyhow::Result<(Reply, bool)>
where
    F: std::future::Future<Output = anyhow::Result<Reply>> + Send + 'static,
{
    let TestStore::Postgres(db) = store else { anyhow::bail!("rows are held on PostgreSQL") };
    let login = db.client().await?;
    login
        .batch_execute(&format!(
            r#"BEGIN; SELECT 1 FROM "user" WHERE username = '{username}' FOR UPDATE;
            INSERT INTO auth_session (id, user_id, idle_expires_at, expires_at)
                SELECT 'concurrent-login', id, now() + interval '1 hour', now() + interval '1 day' FROM "user" WHERE username = '{username}'"#
        ))
        .await?;
    let request = tokio::spawn(request);
    db.until_a_statement_waits().await?;
    login.batch_execute("COMMIT").await?;
    let reply = request.await??;
    let ended = store.count("SELECT count(*) FROM auth_session WHERE id = 'concurrent-login' AND revoked_at IS NOT NULL").await? == 1;
    Ok((reply, ended))
}

#[tokio::test]
async fn a_reset_ends_the_session_of_a_login_that_committed_while_it_waited() -> anyhow::Result<()> {
    let store = TestStore::create(crate::support::store::Backend::Postgres).await?;
    let app = std::sync::Arc::new(store.app()?);
    app.register("raced", "raced@example.com", OLD).await?;
    assert_eq!(app.post_json("/password/forgot", &json!({"email": "raced@example.com"})).await?.status, 202);
    let token = queued_eventually(&store, "PasswordResetRequested", 1).await?[0]["token"].clone();
    let resetter = app.clone();
    let (reply, ended) = while_a_login_commits(&store, "raced", async move { reset(&resetter, &token, NEW).await }).await?;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert!(ended, "the login's session outlived the reset");
    Ok(())
}

#[tokio::test]
async fn a_change_ends_the_session_of_a_login_that_committed_while_it_waited() -> anyhow::Result<()> {
    let store = TestStore::create(crate::support::store::Backend::Postgres).await?;
    let app = std::sync::Arc::new(store.app()?);
    app.register("raced", "raced@example.com", OLD).await?;
    let token = app.login("raced", OLD).await?;
    let (reply, ended) = while_a_login_commits(&store, "raced", change(&app, token, NEW)).await?;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert!(ended, "the login's session outlived the change");
    Ok(())
}
