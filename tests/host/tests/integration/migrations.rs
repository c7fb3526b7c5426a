//! Schema migrations: applied on demand, safe alongside Flask's rows, and
//! safe when many instances race to apply them.

use crate::flask_compat::flask_table_with_user;
use crate::on_both_stores;
use crate::support::store::TestStore;
use crate::support::TestApp;
use serde_json::json;

fn with_admin_token(store: &TestStore) -> anyhow::Result<TestApp> {
    store.app_with(&[("admin_token", "admin-secret-token")])
}

async fn migrate(app: &TestApp, token: Option<&str>) -> anyhow::Result<crate::support::Reply> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &[u8])> = auth.iter().map(|a| ("authorization", a.as_bytes())).collect();
    app.raw("POST", "/admin/migrate", &headers, b"").await
}

on_both_stores! {
async fn admin_migrate_applies_once_and_keeps_flask_rows(store) {
    flask_table_with_user(store, "id-1", "old", "old@example.com", "old-password").await?;
    let app = with_admin_token(store)?;
    let first = migrate(&app, Some("admin-secret-token")).await?;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json(), json!({"applied": [1, 2, 3, 4, 5, 6, 7, 8, 9], "version": 9}));
    let second = migrate(&app, Some("admin-secret-token")).await?;
    assert_eq!(second.json(), json!({"applied": [], "version": 9}));
    let versions = store.rows("SELECT version, name FROM auth_schema_migrations ORDER BY version").await?;
    let expected = [(1, "flask_user_table"), (2, "user_account_columns"), (3, "event_outbox"), (4, "sessions"), (5, "signing_keys"), (6, "login_throttle"), (7, "password_lifecycle"), (8, "client_throttle"), (9, "session_user_function")];
    assert_eq!(versions, expected.map(|(v, n)| vec![json!(v), json!(n)]));

    let row = store
        .rows(
            r#"SELECT username, email, failed_login_count, CASE WHEN locked_until IS NULL THEN 1 ELSE 0 END,
                CASE WHEN created_at IS NOT NULL THEN 1 ELSE 0 END FROM "user""#,
        )
        .await?;
    assert_eq!(row, [vec![json!("old"), json!("old@example.com"), json!(0), json!(1), json!(1)]]);
    assert_eq!(store.scalar(r#"SELECT password FROM "user""#).await?, crate::flask_compat::flask_peer(&["legacy-hash", "old-password"])?.as_str());
    // The Flask service can still insert rows the way it always did.
    let sql = r#"INSERT INTO "user" (id, username, password, email) VALUES ('id-2', 'new', 'h', 'n@example.com')"#;
    assert_eq!(store.execute(sql).await?, 1);
    Ok(())
}

/// A database a version-3 service left (no sessions, keys, throttle or
/// e-mail verification yet) gains them at the first login, whose lookup
/// finds a table or column missing.
async fn a_version_3_database_gains_sessions_at_the_first_login(store) {
    let app = store.app()?;
    app.register("early", "early@example.com", "early-password").await?;
    store.execute("DROP TABLE auth_session").await?;
    store.execute("DROP TABLE auth_signing_key").await?;
    store.execute("DROP TABLE auth_login_throttle").await?;
    store.execute("DELETE FROM auth_schema_migrations WHERE version >= 4").await?;
    store.execute("DROP TABLE auth_user_token").await?;
    store.execute("DROP TABLE auth_client_bucket").await?;
    if matches!(store, crate::support::store::TestStore::Sqlite(_)) {
        // Migration 7's views, its registration's among them, go too: they
        // name the table and column it adds.
        for view in ["auth_login_session", "auth_logout", "auth_signing_key_added", "auth_password_change", "auth_register",
            "auth_password_forgot", "auth_password_reset", "auth_email_verify", "auth_email_resend"]
        {
            store.execute(&format!("DROP VIEW {view}")).await?;
        }
    }
    store.execute(r#"ALTER TABLE "user" DROP COLUMN email_verified_at"#).await?;
    let token = app.login("early", "early-password").await?;
    assert_eq!(app.get_authorized("/profile", &token).await?.status, 200);
    assert_eq!(store.count("SELECT max(version) FROM auth_schema_migrations").await?, 9);
    assert_eq!(store.count("SELECT count(*) FROM auth_session").await?, 1);
    Ok(())
}

/// A database a version-8 service left (no function for /profile's
/// session check on PostgreSQL) gains it at the first profile; SQLite's
/// version 9 changes nothing, so a SQLite profile has nothing to migrate.
async fn a_version_8_database_gains_the_session_lookup_at_the_first_profile(store) {
    let app = store.app()?;
    app.register("profiled", "profiled@example.com", "profiled-password").await?;
    let token = app.login("profiled", "profiled-password").await?;
    let postgres = matches!(store, crate::support::store::TestStore::Postgres(_));
    if postgres {
        store.execute("DROP FUNCTION auth_session_user").await?;
    }
    store.execute("DELETE FROM auth_schema_migrations WHERE version = 9").await?;
    let profile = app.get_authorized("/profile", &token).await?;
    assert_eq!((profile.status, &profile.json()["username"]), (200, &json!("profiled")), "{}", profile.text());
    let version = store.count("SELECT max(version) FROM auth_schema_migrations").await?;
    assert_eq!(version, if postgres { 9 } else { 8 });
    let auth = format!("Bearer {token}");
    assert_eq!(app.raw("POST", "/logout", &[("authorization", auth.as_bytes())], b"").await?.status, 204);
    assert_eq!(app.get_authorized("/profile", &token).await?.status, 401, "the function still sees a revoked session");
    Ok(())
}

async fn admin_migrate_needs_the_admin_token(store) {
    let app = with_admin_token(store)?;
    let none = migrate(&app, None).await?;
    assert_eq!((none.status, none.json()), (401, json!({"message": "Token is missing"})));
    let wrong = migrate(&app, Some("admin-secret-tokex")).await?;
    assert_eq!((wrong.status, wrong.json()), (403, json!({"message": "Invalid admin token"})));

    let disabled = store.app()?;
    let reply = migrate(&disabled, Some("anything")).await?;
    assert_eq!((reply.status, reply.json()), (404, json!({"message": "Not found"})));
    Ok(())
}

async fn concurrent_first_requests_migrate_once(store) {
    let app = std::sync::Arc::new(store.app()?);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.get("/test-event").await })
        })
        .collect();
    for task in tasks {
        let reply = task.await??;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let versions = store.rows("SELECT version FROM auth_schema_migrations ORDER BY version").await?;
    assert_eq!(versions, [[json!(1)], [json!(2)], [json!(3)], [json!(4)], [json!(5)], [json!(6)], [json!(7)], [json!(8)], [json!(9)]]);
    assert_eq!(store.outbox().await?.len(), 8);
    Ok(())
}
}

/// A reset on a PostgreSQL database that a version-6 service left (no
/// token table yet): its transaction, which holds the account's row
/// first, finds the table missing, rolls back, migrates and runs again.
#[tokio::test]
async fn a_transaction_that_finds_a_table_missing_migrates_and_runs_again() -> anyhow::Result<()> {
    let store = TestStore::create(crate::support::store::Backend::Postgres).await?;
    let app = store.app()?;
    app.get("/auth/health?outbox").await?; // migrated
    store.execute("DROP TABLE auth_user_token").await?;
    store.execute("DELETE FROM auth_schema_migrations WHERE version >= 7").await?;
    let body = json!({"token": "a".repeat(43), "new_password": "a-new-password"});
    let reply = app.post_json("/password/reset", &body).await?;
    assert_eq!((reply.status, reply.json()), (400, json!({"message": "Invalid or expired token"})), "{}", app.guest_output());
    assert!(app.guest_output().contains("resetting a password: schema is missing"), "{}", app.guest_output());
    assert_eq!(store.count("SELECT max(version) FROM auth_schema_migrations").await?, 9);
    assert_eq!(store.count("SELECT count(*) FROM auth_user_token").await?, 0);
    Ok(())
}
