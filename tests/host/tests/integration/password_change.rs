//! `POST /password` (DESIGN.md §7) through the real component on both
//! stores: the change, its effect on the user's sessions, its event, and
//! a wrong current password counted by the login throttle.

use crate::on_both_stores;
use crate::support::TestApp;
use serde_json::{json, Value};

const OLD: &str = "old-password-1";
const NEW: &str = "new-password-2";

async fn change(app: &TestApp, token: &str, body: &Value) -> anyhow::Result<crate::support::Reply> {
    let auth = format!("Bearer {token}");
    let body = serde_json::to_vec(body)?;
    app.raw("POST", "/password", &[("authorization", auth.as_bytes()), ("content-type", b"application/json")], &body).await
}

on_both_stores! {
async fn a_password_change_ends_the_other_sessions_and_the_old_password(store) {
    let app = store.app()?;
    let user_id = app.register("changer", "changer@example.com", OLD).await?;
    let here = app.login("changer", OLD).await?;
    let elsewhere = app.login("changer", OLD).await?;

    let reply = change(&app, &here, &json!({"current_password": OLD, "new_password": NEW})).await?;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert_eq!(app.get_authorized("/profile", &here).await?.status, 200, "the caller's session stays");
    let ended = app.get_authorized("/profile", &elsewhere).await?;
    assert_eq!((ended.status, ended.json()), (401, json!({"message": "Invalid token"})), "other sessions end at once");
    let old = app.post_json("/login", &json!({"username": "changer", "password": OLD})).await?;
    assert_eq!(old.status, 401);
    assert_eq!(app.post_json("/login", &json!({"username": "changer", "password": NEW})).await?.status, 200);
    let changed: Vec<_> = store.outbox().await?.into_iter().filter(|(name, _)| name == "PasswordChanged").collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].1["data"], json!({"user_id": user_id}));
    Ok(())
}

async fn a_wrong_current_password_is_refused_and_counted(store) {
    let app = store.app_with(&[("policy", "lockout_threshold=2")])?;
    app.register("guesser", "guesser@example.com", OLD).await?;
    let token = app.login("guesser", OLD).await?;
    let hash: Value = store.scalar(r#"SELECT password FROM "user" WHERE username = 'guesser'"#).await?;
    for _ in 0..2 {
        let reply = change(&app, &token, &json!({"current_password": "not it", "new_password": NEW})).await?;
        assert_eq!((reply.status, reply.json()), (401, json!({"message": "Invalid credentials"})));
    }
    // The name is locked now, for the change and for logins alike.
    let locked = change(&app, &token, &json!({"current_password": OLD, "new_password": NEW})).await?;
    assert_eq!((locked.status, locked.json()), (429, json!({"message": "Too many attempts"})));
    assert_eq!(app.post_json("/login", &json!({"username": "guesser", "password": OLD})).await?.status, 429);
    assert_eq!(store.scalar(r#"SELECT password FROM "user" WHERE username = 'guesser'"#).await?, hash, "nothing changed");
    assert_eq!(app.get_authorized("/profile", &token).await?.status, 200);
    Ok(())
}

async fn bad_requests_change_nothing(store) {
    let app = store.app()?;
    app.register("careful", "careful@example.com", OLD).await?;
    let token = app.login("careful", OLD).await?;
    let short = change(&app, &token, &json!({"current_password": OLD, "new_password": "short"})).await?;
    assert_eq!((short.status, short.json()), (400, json!({"message": "Password must be 8 to 1024 characters long"})));
    let missing = change(&app, &token, &json!({"current_password": OLD})).await?;
    assert_eq!((missing.status, missing.json()), (400, json!({"message": "Missing field: new_password"})));
    let anonymous = app.post_json("/password", &json!({"current_password": OLD, "new_password": NEW})).await?;
    assert_eq!((anonymous.status, anonymous.json()), (403, json!({"message": "Token is missing"})));
    // A logged-out session's token cannot change the password.
    let auth = format!("Bearer {token}");
    assert_eq!(app.raw("POST", "/logout", &[("authorization", auth.as_bytes())], b"").await?.status, 204);
    let revoked = change(&app, &token, &json!({"current_password": OLD, "new_password": NEW})).await?;
    assert_eq!((revoked.status, revoked.json()), (401, json!({"message": "Invalid token"})));
    assert_eq!(app.post_json("/login", &json!({"username": "careful", "password": OLD})).await?.status, 200);
    Ok(())
}
}
