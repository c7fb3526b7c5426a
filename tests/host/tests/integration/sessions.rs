//! Sessions and refresh tokens (DESIGN.md §6) through the real component,
//! on both stores: rotation, the grace window, replay detection, expiry,
//! logout scopes and the session list.

use crate::on_both_stores;
use crate::support::TestApp;
use anyhow::{Context, Result};
use base64::Engine as _;
use serde_json::{json, Value};

const PASSWORD: &str = "session-password";

/// Logs in with a user agent and returns the whole answer.
async fn login_pair(app: &TestApp, username: &str) -> Result<Value> {
    let body = serde_json::to_vec(&json!({"username": username, "password": PASSWORD}))?;
    // A client cannot pass for another address: Spin's own header, which
    // it appends after the client's, is the one the session records.
    let headers: [(&str, &[u8]); 3] =
        [("content-type", b"application/json"), ("user-agent", b"session-test/1.0"), ("spin-client-addr", b"203.0.113.9:4000")];
    let reply = app.raw("POST", "/login", &headers, &body).await?;
    anyhow::ensure!(reply.status == 200, "login: {} {}", reply.status, reply.text());
    anyhow::ensure!(reply.header("cache-control") == Some("no-store"), "login answers are not cached");
    Ok(reply.json())
}

async fn refresh(app: &TestApp, refresh_token: &Value) -> Result<crate::support::Reply> {
    app.post_json("/token/refresh", &json!({"refresh_token": refresh_token})).await
}

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap_or_default()
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

async fn profile_status(app: &TestApp, pair: &Value) -> Result<u16> {
    Ok(app.get_authorized("/profile", access(pair)).await?.status)
}

async fn logout(app: &TestApp, pair: &Value, query: &str) -> Result<crate::support::Reply> {
    let auth = format!("Bearer {}", access(pair));
    app.raw("POST", &format!("/logout{query}"), &[("authorization", auth.as_bytes())], b"").await
}

/// Event payloads of `name` in the outbox, oldest first.
async fn events(store: &crate::support::store::TestStore, name: &str) -> Result<Vec<Value>> {
    Ok(store.outbox().await?.into_iter().filter(|(n, _)| n == name).map(|(_, payload)| payload).collect())
}

on_both_stores! {
async fn login_opens_a_session_and_each_refresh_rotates(store) {
    let app = store.app()?;
    let user_id = app.register("sam", "sam@example.com", PASSWORD).await?;
    let pair = login_pair(&app, "sam").await?;
    assert_eq!(pair["token"], pair["access_token"], "the Flask field and the OAuth one are the same JWT");
    assert_eq!((pair["token_type"].as_str(), pair["expires_in"].as_u64()), (Some("Bearer"), Some(3600)));
    let first = pair["refresh_token"].clone();
    assert_eq!(first.as_str().map(str::len), Some(70));
    let token_claims = claims(access(&pair));
    let session_id = token_claims["sid"].as_str().context("sid")?.to_owned();
    assert_eq!(token_claims["iss"], "auth-service");
    assert_eq!(token_claims["user_id"], json!(user_id));

    let reply = refresh(&app, &first).await?;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let renewed = reply.json();
    assert_ne!(renewed["refresh_token"], first, "every refresh rotates");
    assert_ne!(renewed["access_token"], pair["access_token"]);
    assert_eq!(claims(access(&renewed))["sid"], json!(session_id), "the same session");
    assert_eq!(profile_status(&app, &renewed).await?, 200);
    let third = refresh(&app, &renewed["refresh_token"]).await?;
    assert_eq!(third.status, 200, "{}", third.text());

    let sessions = app.get_authorized("/sessions", access(&third.json())).await?;
    assert_eq!(sessions.status, 200, "{}", sessions.text());
    let listed = sessions.json()["sessions"].clone();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!((listed[0]["id"].as_str(), listed[0]["current"].as_bool()), (Some(session_id.as_str()), Some(true)));
    assert_eq!((listed[0]["user_agent"].as_str(), listed[0]["ip"].as_str()), (Some("session-test/1.0"), Some("127.0.0.1")));
    assert_eq!(store.count("SELECT count(*) FROM auth_session").await?, 1);
    assert_eq!(store.count("SELECT refresh_generation FROM auth_session").await?, 2);
    // Only the generation is stored, never a token.
    let row = store.rows("SELECT id, user_id, user_agent, ip, refresh_generation, revoked_reason, revoked_event_id FROM auth_session").await?;
    assert!(!format!("{row:?}").contains(first.as_str().unwrap_or("-")), "{row:?}");
    Ok(())
}

async fn parallel_refreshes_with_one_token_share_one_successor(store) {
    let app = store.app()?;
    app.register("tabs", "tabs@example.com", PASSWORD).await?;
    let pair = login_pair(&app, "tabs").await?;
    let token = pair["refresh_token"].clone();
    let (a, b) = tokio::join!(refresh(&app, &token), refresh(&app, &token));
    let (a, b) = (a?, b?);
    assert_eq!((a.status, b.status), (200, 200), "{} / {}", a.text(), b.text());
    assert_eq!(a.json()["refresh_token"], b.json()["refresh_token"], "no fork: both tabs hold the same successor");
    assert_eq!(claims(access(&a.json()))["sid"], claims(access(&b.json()))["sid"]);
    // Within the grace window a late tab gets that successor too.
    let late = refresh(&app, &token).await?;
    assert_eq!(late.status, 200, "{}", late.text());
    assert_eq!(late.json()["refresh_token"], a.json()["refresh_token"]);
    assert_eq!(store.count("SELECT count(*) FROM auth_session").await?, 1);
    assert_eq!(store.count("SELECT refresh_generation FROM auth_session").await?, 1, "one rotation, not three");
    assert_eq!(store.count("SELECT count(*) FROM auth_session WHERE revoked_at IS NOT NULL").await?, 0);
    let next = refresh(&app, &a.json()["refresh_token"]).await?;
    assert_eq!(next.status, 200, "the successor rotates on");
    Ok(())
}

async fn a_replay_revokes_the_whole_session(store) {
    // No grace: the token just rotated counts as replayed at once.
    let app = store.app_with(&[("policy", "refresh_reuse_grace_seconds=0")])?;
    let user_id = app.register("rita", "rita@example.com", PASSWORD).await?;
    let pair = login_pair(&app, "rita").await?;
    let session_id = claims(access(&pair))["sid"].clone();
    let renewed = refresh(&app, &pair["refresh_token"]).await?.json();
    let replay = refresh(&app, &pair["refresh_token"]).await?;
    assert_eq!(replay.status, 401);
    assert_eq!(replay.json(), json!({"message": "Invalid refresh token"}));
    // Every token of the session is refused from now on.
    assert_eq!(refresh(&app, &renewed["refresh_token"]).await?.status, 401);
    assert_eq!(profile_status(&app, &pair).await?, 401);
    assert_eq!(profile_status(&app, &renewed).await?, 401);
    let reused = events(store, "RefreshTokenReused").await?;
    assert_eq!(reused.len(), 1, "one event for the replay, none for the refusals after it");
    assert_eq!(reused[0]["data"], json!({"user_id": user_id, "session_id": session_id}));
    assert_eq!(reused[0]["event"], "RefreshTokenReused");
    assert!(reused[0]["id"].as_str().is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()));
    assert!(chrono::DateTime::parse_from_rfc3339(reused[0]["timestamp"].as_str().unwrap_or("")).is_ok());
    let reason = store.scalar("SELECT revoked_reason FROM auth_session").await?;
    assert_eq!(reason, json!("refresh_token_reused"));
    // Another session of the same user is untouched.
    let other = login_pair(&app, "rita").await?;
    assert_eq!(profile_status(&app, &other).await?, 200);
    Ok(())
}

async fn an_older_token_is_a_replay_even_within_the_window(store) {
    let app = store.app()?;
    app.register("olga", "olga@example.com", PASSWORD).await?;
    let pair = login_pair(&app, "olga").await?;
    let second = refresh(&app, &pair["refresh_token"]).await?.json();
    let third = refresh(&app, &second["refresh_token"]).await?.json();
    // Two generations back: no concurrent tab holds it.
    assert_eq!(refresh(&app, &pair["refresh_token"]).await?.status, 401);
    assert_eq!(refresh(&app, &third["refresh_token"]).await?.status, 401);
    assert_eq!(profile_status(&app, &third).await?, 401);
    assert_eq!(events(store, "RefreshTokenReused").await?.len(), 1);
    Ok(())
}

async fn refresh_tokens_that_were_never_minted_are_refused(store) {
    let app = store.app()?;
    app.register("nina", "nina@example.com", PASSWORD).await?;
    let pair = login_pair(&app, "nina").await?;
    let good = pair["refresh_token"].as_str().context("refresh_token")?.to_owned();
    let mut flipped = good.clone().into_bytes();
    flipped[30] = if flipped[30] == b'A' { b'B' } else { b'A' };
    for bad in [json!("x"), json!(String::from_utf8(flipped)?), json!(format!("{good}A")), json!(&good[..69])] {
        let reply = refresh(&app, &bad).await?;
        assert_eq!(reply.status, 401, "{bad}");
        assert_eq!(reply.json(), json!({"message": "Invalid refresh token"}));
    }
    for (body, message) in [
        (json!({}), "Missing field: refresh_token"),
        (json!({"refresh_token": ""}), "Missing field: refresh_token"),
        (json!({"refresh_token": 7}), "Field refresh_token must be a string"),
        (json!({"refresh_token": "a".repeat(513)}), "Field refresh_token is longer than 512 characters"),
    ] {
        let reply = app.post_json("/token/refresh", &body).await?;
        assert_eq!((reply.status, reply.json()), (400, json!({"message": message})), "{body}");
    }
    // A token minted under another secret key does not open here.
    let other = store.app_with(&[("secret_key", "another-secret-key-0123456789abcdef-xyz")])?;
    assert_eq!(refresh(&other, &json!(good)).await?.status, 401);
    assert_eq!(refresh(&app, &json!(good)).await?.status, 200, "nothing above spent the real token");
    assert!(events(store, "RefreshTokenReused").await?.is_empty());
    Ok(())
}

async fn sessions_end_when_idle_and_at_their_limit(store) {
    let idle = store.app_with(&[("policy", "session_idle_seconds=1")])?;
    idle.register("ivan", "ivan@example.com", PASSWORD).await?;
    let pair = login_pair(&idle, "ivan").await?;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(refresh(&idle, &pair["refresh_token"]).await?.status, 401, "idle past session_idle_seconds");

    let capped = store.app_with(&[("policy", "session_max_seconds=3")])?;
    let pair = login_pair(&capped, "ivan").await?;
    let renewed = refresh(&capped, &pair["refresh_token"]).await?;
    assert_eq!(renewed.status, 200, "{}", renewed.text());
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    assert_eq!(refresh(&capped, &renewed.json()["refresh_token"]).await?.status, 401, "past session_max_seconds");
    assert_eq!(profile_status(&capped, &renewed.json()).await?, 401, "its access tokens end with it");
    Ok(())
}

async fn each_logout_scope_takes_effect_at_once(store) {
    let app = store.app()?;
    let user_id = app.register("lou", "lou@example.com", PASSWORD).await?;
    let [a, b, c, d] = [login_pair(&app, "lou").await?, login_pair(&app, "lou").await?, login_pair(&app, "lou").await?, login_pair(&app, "lou").await?];

    let reply = logout(&app, &a, "").await?;
    assert_eq!((reply.status, reply.body.len()), (204, 0), "{}", reply.text());
    assert_eq!(profile_status(&app, &a).await?, 401, "local: this session at once");
    assert_eq!(refresh(&app, &a["refresh_token"]).await?.status, 401);
    assert_eq!(profile_status(&app, &b).await?, 200);
    assert_eq!(logout(&app, &a, "?scope=global").await?.status, 401, "an ended session cannot log out");

    assert_eq!(logout(&app, &b, "?scope=others").await?.status, 204);
    assert_eq!((profile_status(&app, &c).await?, profile_status(&app, &d).await?), (401, 401));
    assert_eq!(profile_status(&app, &b).await?, 200, "others: not this one");

    let e = login_pair(&app, "lou").await?;
    assert_eq!(logout(&app, &b, "?scope=global").await?.status, 204);
    assert_eq!((profile_status(&app, &b).await?, profile_status(&app, &e).await?), (401, 401));

    let logged_out = events(store, "UserLoggedOut").await?;
    let scopes: Vec<&Value> = logged_out.iter().map(|e| &e["data"]["scope"]).collect();
    assert_eq!(scopes, [&json!("local"), &json!("others"), &json!("global")]);
    assert_eq!(logged_out[0]["data"], json!({"user_id": user_id, "session_id": claims(access(&a))["sid"], "scope": "local"}));

    let f = login_pair(&app, "lou").await?;
    let reply = logout(&app, &f, "?scope=everything").await?;
    assert_eq!((reply.status, reply.json()), (400, json!({"message": "scope must be local, others or global"})));
    assert_eq!(profile_status(&app, &f).await?, 200, "a refused logout ends nothing");
    Ok(())
}

async fn a_token_without_a_session_logs_out_only_globally(store) {
    let app = store.app()?;
    let user_id = app.register("flo", "flo@example.com", PASSWORD).await?;
    let pair = login_pair(&app, "flo").await?;
    // A token as the Flask service minted it: no sid.
    let minted = crate::flask_compat::flask_peer(&["encode", crate::support::SECRET_KEY, &user_id, "flo", "600"])?;
    let flask = json!({"access_token": minted});
    assert_eq!(profile_status(&app, &flask).await?, 200);
    let reply = logout(&app, &flask, "").await?;
    assert_eq!((reply.status, reply.json()), (409, json!({"message": "This token has no session: use scope=global"})));
    assert_eq!(logout(&app, &flask, "?scope=global").await?.status, 204);
    assert_eq!(profile_status(&app, &pair).await?, 401, "every session ended");
    assert_eq!(profile_status(&app, &flask).await?, 200, "tokens without sid stay valid until they expire");
    Ok(())
}

async fn sessions_are_listed_and_ended_one_by_one(store) {
    let app = store.app()?;
    app.register("una", "una@example.com", PASSWORD).await?;
    app.register("vic", "vic@example.com", PASSWORD).await?;
    let (first, second) = (login_pair(&app, "una").await?, login_pair(&app, "una").await?);
    let theirs = login_pair(&app, "vic").await?;
    let listed = app.get_authorized("/sessions", access(&second)).await?.json()["sessions"].clone();
    let ids: Vec<&str> = listed.as_array().context("sessions")?.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], claims(access(&second))["sid"].as_str().unwrap_or(""), "newest first");
    assert_eq!(listed[0]["current"], true);
    assert_eq!(listed[1]["current"], false);

    let delete = |pair: &Value, id: String| {
        let auth = format!("Bearer {}", access(pair));
        let app = &app;
        async move { app.raw("DELETE", &format!("/sessions/{id}"), &[("authorization", auth.as_bytes())], b"").await }
    };
    let their_id = claims(access(&theirs))["sid"].as_str().unwrap_or("").to_owned();
    for id in [their_id, uuid::Uuid::new_v4().to_string(), "not-a-session".to_owned()] {
        let reply = delete(&second, id.clone()).await?;
        assert_eq!((reply.status, reply.json()), (404, json!({"message": "Session not found"})), "{id}");
    }
    assert_eq!(profile_status(&app, &theirs).await?, 200, "another user's session is out of reach");
    let first_id = claims(access(&first))["sid"].as_str().unwrap_or("").to_owned();
    assert_eq!(delete(&second, first_id.clone()).await?.status, 204);
    assert_eq!(profile_status(&app, &first).await?, 401);
    assert_eq!(delete(&second, first_id.clone()).await?.status, 404, "an ended session is gone from the list");
    let left = app.get_authorized("/sessions", access(&second)).await?.json();
    assert_eq!(left["sessions"].as_array().map(Vec::len), Some(1));
    let ended = events(store, "UserLoggedOut").await?;
    assert_eq!(ended.len(), 1);
    assert_eq!((ended[0]["data"]["session_id"].as_str(), ended[0]["data"]["scope"].as_str()), (Some(first_id.as_str()), Some("session")));
    assert_eq!(app.get_authorized("/sessions", access(&first)).await?.status, 401, "an ended session lists nothing");
    Ok(())
}
}
