//! Asymmetric signing (DESIGN.md §6) through the real component on both
//! stores: EdDSA and ES256 tokens verified by PyJWT's `PyJWKClient` against
//! the served JWKS, a key rotation end to end, HS256 tokens that keep
//! verifying, and forged tokens refused.

use crate::flask_compat::flask_peer;
use crate::on_both_stores;
use crate::support::store::TestStore;
use crate::support::{TestApp, ADMIN_TOKEN};
use anyhow::{Context, Result};
use base64::Engine as _;
use serde_json::{json, Value};

const PASSWORD: &str = "signing-password";

fn app_signing(store: &TestStore, policy: &str) -> Result<TestApp> {
    store.app_with(&[("policy", policy), ("admin_token", ADMIN_TOKEN)])
}

/// The app on the same store under another `secret_key`: it cannot
/// recognise the first one's tokens by their `jti` tag, nor open its keys.
pub fn under_another_secret(store: &TestStore, policy: &str) -> Result<TestApp> {
    store.app_with(&[("policy", policy), ("secret_key", "another-integration-secret-key-0123456789")])
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn part(token: &str, index: usize) -> Value {
    let text = token.split('.').nth(index).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// The token's `alg` and `kid` headers.
fn header(token: &str) -> (String, String) {
    let h = part(token, 0);
    (h["alg"].as_str().unwrap_or_default().to_owned(), h["kid"].as_str().unwrap_or_default().to_owned())
}

async fn jwks(app: &TestApp) -> Result<Vec<Value>> {
    let reply = app.get("/.well-known/jwks.json").await?;
    anyhow::ensure!(reply.status == 200, "jwks: {} {}", reply.status, reply.text());
    anyhow::ensure!(reply.header("cache-control") == Some("public, max-age=300"), "{:?}", reply.header("cache-control"));
    Ok(reply.json()["keys"].as_array().cloned().unwrap_or_default())
}

fn kids(keys: &[Value]) -> Vec<&str> {
    keys.iter().filter_map(|k| k["kid"].as_str()).collect()
}

async fn rotate(app: &TestApp) -> Result<crate::support::Reply> {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    app.raw("POST", "/admin/keys/rotate", &[("authorization", auth.as_bytes())], b"").await
}

/// Verifies `token` as another service would: PyJWT's `PyJWKClient`
/// fetching this app's JWKS over HTTP.
async fn verified_by_pyjwk_client(app: &TestApp, token: &str) -> Result<Value> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr()?);
    let server = tokio::spawn(spin_test_host::server::serve(app.app.clone(), listener));
    let token = token.to_owned();
    let out = tokio::task::spawn_blocking(move || flask_peer(&["jwks-decode", &url, &token])).await?;
    server.abort();
    Ok(serde_json::from_str(&out?)?)
}

on_both_stores! {
async fn eddsa_and_es256_tokens_verify_with_pyjwk_client_against_the_served_jwks(store) {
    for (alg, kty, crv) in [("EdDSA", "OKP", "Ed25519"), ("ES256", "EC", "P-256")] {
        let app = app_signing(store, &format!("token_signing_alg={alg}"))?;
        let name = format!("signer-{}", alg.to_ascii_lowercase());
        let user_id = app.register(&name, &format!("{name}@example.com"), PASSWORD).await?;
        let pair = app.post_json("/login", &json!({"username": name, "password": PASSWORD})).await?.json();
        let token = pair["access_token"].as_str().context("access_token")?;
        let (token_alg, kid) = header(token);
        assert_eq!(token_alg, alg);
        let keys = jwks(&app).await?;
        let key = keys.iter().find(|k| k["kid"] == json!(kid)).with_context(|| format!("{kid} in {keys:?}"))?;
        assert_eq!((key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str(), key["use"].as_str()), (Some(kty), Some(crv), Some(alg), Some("sig")));
        assert!(key.get("d").is_none() && key.get("k").is_none(), "no private or symmetric member: {key}");
        assert_eq!(key.get("y").is_some(), alg == "ES256");

        let claims = verified_by_pyjwk_client(&app, token).await?;
        assert_eq!((claims["user_id"].as_str(), claims["username"].as_str()), (Some(user_id.as_str()), Some(name.as_str())));
        assert_eq!(app.get_authorized("/profile", token).await?.json()["user_id"], json!(user_id));

        // A refresh signs with the same key; a logout ends its tokens at once.
        let renewed = app.post_json("/token/refresh", &json!({"refresh_token": pair["refresh_token"]})).await?;
        assert_eq!(renewed.status, 200, "{}", renewed.text());
        let renewed_token = renewed.json()["access_token"].as_str().unwrap_or_default().to_owned();
        assert_eq!(header(&renewed_token), (alg.to_owned(), kid.clone()));
        assert_eq!(app.get_authorized("/sessions", &renewed_token).await?.status, 200);
        let auth = format!("Bearer {renewed_token}");
        assert_eq!(app.raw("POST", "/logout", &[("authorization", auth.as_bytes())], b"").await?.status, 204);
        let refused = app.get_authorized("/profile", &renewed_token).await?;
        assert_eq!((refused.status, refused.json()), (401, json!({"message": "Invalid token"})));
    }
    Ok(())
}

async fn a_rotation_publishes_first_signs_after_activation_and_old_tokens_verify_until_they_expire(store) {
    let app = app_signing(store, "token_signing_alg=EdDSA key_activation_seconds=4")?;
    app.register("rotor", "rotor@example.com", PASSWORD).await?;
    let old_token = app.login("rotor", PASSWORD).await?;
    let (_, old_kid) = header(&old_token);

    let reply = rotate(&app).await?;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rotated = reply.json();
    let new_kid = rotated["kid"].as_str().context("kid")?.to_owned();
    assert_eq!((rotated["alg"].as_str(), rotated["activates_in"].as_u64()), (Some("EdDSA"), Some(4)));
    assert_ne!(new_kid, old_kid);
    // Published at once, so that caching verifiers know it before it signs...
    assert_eq!(kids(&jwks(&app).await?), [old_kid.as_str(), new_kid.as_str()]);
    let before = app.login("rotor", PASSWORD).await?;
    assert_eq!(header(&before).1, old_kid, "the new key does not sign before its activation");
    // ...and signing after it.
    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    let after = app.login("rotor", PASSWORD).await?;
    assert_eq!(header(&after).1, new_kid);
    assert_eq!(app.get_authorized("/profile", &old_token).await?.status, 200, "the old key still verifies");
    assert_eq!(kids(&jwks(&app).await?), [old_kid.as_str(), new_kid.as_str()]);
    let claims = verified_by_pyjwk_client(&app, &old_token).await?;
    assert_eq!(claims["username"], "rotor");
    // The same store under another secret_key, which cannot recognise the
    // token by its jti tag: only the signature and the stored key decide.
    let by_signature = under_another_secret(store, "token_signing_alg=EdDSA")?;
    assert_eq!(by_signature.get_authorized("/profile", &old_token).await?.status, 200);

    // Once every token it signed has expired, the old key is gone.
    let past = match store {
        TestStore::Postgres(_) => "now() - interval '1 second'",
        TestStore::Sqlite(_) => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 seconds')",
    };
    store.execute(&format!("UPDATE auth_signing_key SET verifies_until = {past} WHERE kid = '{old_kid}'")).await?;
    assert_eq!(kids(&jwks(&app).await?), [new_kid.as_str()]);
    let refused = by_signature.get_authorized("/profile", &old_token).await?;
    assert_eq!((refused.status, refused.json()), (401, json!({"message": "Invalid token"})));
    // (The service's own tokens, recognised by their tag, stay valid until
    // their exp, which a key's retirement never precedes.)
    assert_eq!(app.get_authorized("/profile", &after).await?.status, 200);
    Ok(())
}

async fn hs256_tokens_carry_a_kid_and_keep_verifying_whatever_signs(store) {
    let hs = app_signing(store, "")?;
    assert_eq!(jwks(&hs).await?, Vec::<Value>::new(), "never an HMAC key");
    let rotate_hs = rotate(&hs).await?;
    assert_eq!((rotate_hs.status, rotate_hs.json()), (409, json!({"message": "token_signing_alg is HS256: there is no key pair to rotate"})));
    hs.register("switcher", "switcher@example.com", PASSWORD).await?;
    let hs_token = hs.login("switcher", PASSWORD).await?;
    let (alg, kid) = header(&hs_token);
    assert_eq!(alg, "HS256");
    assert!(kid.starts_with("hs256-"), "{kid}");

    let es = app_signing(store, "token_signing_alg=ES256")?;
    assert_eq!(es.get_authorized("/profile", &hs_token).await?.status, 200, "HS256 verifies while secret_key is set");
    let es_token = es.login("switcher", PASSWORD).await?;
    assert_eq!(header(&es_token).0, "ES256");
    assert!(jwks(&es).await?.iter().all(|k| k["kty"] == "EC"));

    // Keys sealed under another secret_key cannot sign: a new pair does.
    let other_secret = under_another_secret(store, "token_signing_alg=ES256")?;
    let fresh = other_secret.login("switcher", PASSWORD).await?;
    assert_ne!(header(&fresh).1, header(&es_token).1);
    assert_eq!(other_secret.get_authorized("/profile", &fresh).await?.status, 200);
    // Its jti tag is not under this secret_key, so the service checks its
    // signature against the stored public key instead.
    assert_eq!(es.get_authorized("/profile", &fresh).await?.status, 200);
    assert_eq!(es.get_authorized("/sessions", &fresh).await?.status, 200);
    Ok(())
}

async fn forged_tokens_for_a_stored_key_are_refused(store) {
    let app = app_signing(store, "token_signing_alg=EdDSA")?;
    app.register("forger", "forger@example.com", PASSWORD).await?;
    let token = app.login("forger", PASSWORD).await?;
    let (_, kid) = header(&token);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = part(&token, 1);
    claims["username"] = json!("someone-else");
    let forged = [
        ("unknown kid", format!("{}.{}.{}", b64(json!({"alg": "EdDSA", "kid": "no-such-key"}).to_string().as_bytes()), parts[1], parts[2])),
        ("other algorithm", format!("{}.{}.{}", b64(json!({"alg": "ES256", "kid": kid}).to_string().as_bytes()), parts[1], parts[2])),
        ("alg none", format!("{}.{}.", b64(json!({"alg": "none", "kid": kid}).to_string().as_bytes()), parts[1])),
        ("changed claims", format!("{}.{}.{}", parts[0], b64(claims.to_string().as_bytes()), parts[2])),
        ("no signature", format!("{}.{}.", parts[0], parts[1])),
        ("payload not JSON", format!("{}.{}.{}", parts[0], b64(b"[1,2"), parts[2])),
    ];
    for (what, bad) in forged {
        let reply = app.get_authorized("/profile", &bad).await?;
        assert_eq!((reply.status, reply.json()), (401, json!({"message": "Invalid token"})), "{what}");
        let sessions = app.get_authorized("/sessions", &bad).await?;
        assert_eq!(sessions.status, 401, "{what}");
    }
    assert_eq!(app.get_authorized("/profile", &token).await?.status, 200);
    Ok(())
}

/// On a new store, first logins and JWKS requests at once each find no key
/// and make one; they agree on one: the one stored first signs every
/// token, and it is the only key published.
async fn first_uses_racing_on_a_new_store_agree_on_one_key(store) {
    let app = std::sync::Arc::new(app_signing(store, "token_signing_alg=EdDSA")?);
    for i in 0..4 {
        app.register(&format!("first{i}"), &format!("first{i}@example.com"), PASSWORD).await?;
    }
    let logins: Vec<_> = (0..4)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { app.login(&format!("first{i}"), PASSWORD).await })
        })
        .collect();
    let published: Vec<_> = (0..2)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { jwks(&app).await })
        })
        .collect();
    let mut signed_by = std::collections::BTreeSet::new();
    for login in logins {
        signed_by.insert(header(&login.await??).1);
    }
    assert_eq!(signed_by.len(), 1, "one key signs: {signed_by:?}");
    for keys in published {
        let keys = keys.await??;
        assert!(kids(&keys).len() <= 1, "{keys:?}");
    }
    assert_eq!(store.count("SELECT count(*) FROM auth_signing_key").await?, 1);
    assert_eq!(kids(&jwks(&app).await?), signed_by.iter().map(String::as_str).collect::<Vec<_>>());
    Ok(())
}
}
