//! Schema migrations: applied on demand, safe alongside Flask's rows, and
//! safe when many instances race to apply them.

use crate::support::{default_variables, variables, TestApp, TestDb};
use serde_json::json;

fn with_admin_token(db: &TestDb) -> std::collections::HashMap<String, String> {
    let mut env = default_variables(db);
    env.extend(variables(&[("admin_token", "admin-secret-token")]));
    env
}

async fn migrate(app: &TestApp, token: Option<&str>) -> anyhow::Result<crate::support::Reply> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &[u8])> = auth.iter().map(|a| ("authorization", a.as_bytes())).collect();
    app.raw("POST", "/admin/migrate", &headers, b"").await
}

#[tokio::test]
async fn admin_migrate_applies_once_and_keeps_flask_rows() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let client = db.client().await?;
    client
        .batch_execute(
            r#"CREATE TABLE "user" (id VARCHAR(36) PRIMARY KEY, username VARCHAR(80) NOT NULL UNIQUE,
                password VARCHAR(200) NOT NULL, email VARCHAR(120) NOT NULL UNIQUE);
               INSERT INTO "user" VALUES ('id-1', 'old', 'hash', 'old@example.com');"#,
        )
        .await?;
    let app = TestApp::load(with_admin_token(&db))?;
    let first = migrate(&app, Some("admin-secret-token")).await?;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json(), json!({"applied": [1, 2, 3], "version": 3}));
    let second = migrate(&app, Some("admin-secret-token")).await?;
    assert_eq!(second.json(), json!({"applied": [], "version": 3}));

    let row = client
        .query_one(r#"SELECT username, password, email, failed_login_count, locked_until IS NULL FROM "user""#, &[])
        .await?;
    assert_eq!(row.get::<_, String>(0), "old");
    assert_eq!(row.get::<_, String>(1), "hash");
    assert_eq!(row.get::<_, String>(2), "old@example.com");
    assert_eq!(row.get::<_, i32>(3), 0);
    assert!(row.get::<_, bool>(4));
    // The Flask service can still insert rows the way it always did.
    client.execute(r#"INSERT INTO "user" (id, username, password, email) VALUES ('id-2', 'new', 'h', 'n@example.com')"#, &[]).await?;
    Ok(())
}

#[tokio::test]
async fn admin_migrate_needs_the_admin_token() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let app = TestApp::load(with_admin_token(&db))?;
    let none = migrate(&app, None).await?;
    assert_eq!((none.status, none.json()), (401, json!({"message": "Token is missing"})));
    let wrong = migrate(&app, Some("admin-secret-tokex")).await?;
    assert_eq!((wrong.status, wrong.json()), (403, json!({"message": "Invalid admin token"})));

    let disabled = TestApp::load(default_variables(&db))?;
    let reply = migrate(&disabled, Some("anything")).await?;
    assert_eq!((reply.status, reply.json()), (404, json!({"message": "Not found"})));
    Ok(())
}

#[tokio::test]
async fn concurrent_first_requests_migrate_once() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let app = std::sync::Arc::new(TestApp::load(default_variables(&db))?);
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
    let versions: Vec<i32> = db
        .client()
        .await?
        .query("SELECT version FROM auth_schema_migrations ORDER BY version", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(db.outbox().await?.len(), 8);
    Ok(())
}
