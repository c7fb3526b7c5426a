//! The contract with the Flask service: its table, its password hashes and
//! PyJWT tokens both ways, produced by the Flask service's own libraries
//! (`tests/flask_peer.py`; `scripts/test` installs PyJWT).

use crate::on_both_stores;
use crate::support::store::TestStore;
use crate::support::{workspace_root, SECRET_KEY};
use anyhow::{bail, Context};
use serde_json::json;

/// Runs the Flask peer (`tests/flask_peer.py`) with `AUTH_TEST_PYTHON`
/// (set by `scripts/test`) or `python3`.
pub fn flask_peer(args: &[&str]) -> anyhow::Result<String> {
    let python = std::env::var("AUTH_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = workspace_root().join("tests/host/tests/flask_peer.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .args(args)
        .output()
        .with_context(|| format!("running {python} (run the tests through scripts/test)"))?;
    if !out.status.success() {
        bail!("flask_peer {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// The table as SQLAlchemy created it, with a row written by the Flask
/// service: through psycopg2's SQL on PostgreSQL, with Python's sqlite3 in
/// the store's file on SQLite.
pub async fn flask_table_with_user(store: &TestStore, id: &str, username: &str, email: &str, password: &str) -> anyhow::Result<()> {
    match store {
        TestStore::Postgres(db) => {
            let client = db.client().await?;
            client
                .batch_execute(
                    r#"CREATE TABLE "user" (
                        id VARCHAR(36) NOT NULL, username VARCHAR(80) NOT NULL, password VARCHAR(200) NOT NULL,
                        email VARCHAR(120) NOT NULL, PRIMARY KEY (id), UNIQUE (username), UNIQUE (email))"#,
                )
                .await?;
            let hash = flask_peer(&["legacy-hash", password])?;
            let sql = r#"INSERT INTO "user" (id, username, password, email) VALUES ($1, $2, $3, $4)"#;
            client.execute(sql, &[&id, &username, &hash, &email]).await?;
        }
        TestStore::Sqlite(dir) => {
            let file = dir.database_file();
            flask_peer(&["sqlite-user", &file.display().to_string(), id, username, email, password])?;
        }
    }
    Ok(())
}

on_both_stores! {
async fn legacy_hash_is_upgraded_on_login(store) {
    let id = "0b6f3f0e-2f1d-4a57-9a63-3c1d7f4a2b10";
    flask_table_with_user(store, id, "flaskuser", "Flask.User@Example.com", "old-password").await?;
    let app = store.app()?;

    // The first login also finds the schema incomplete and migrates it.
    let token = app.login("flaskuser", "old-password").await?;
    let stored = store.scalar(r#"SELECT password FROM "user""#).await?;
    assert!(stored.as_str().unwrap().starts_with("$pbkdf2-sha256$i=600000,l=32$"), "upgraded: {stored}");

    // The upgraded hash works, by username and by e-mail in any case.
    app.login("flaskuser", "old-password").await?;
    app.login("flask.user@example.com", "old-password").await?;
    let wrong = app.post_json("/login", &json!({"username": "flaskuser", "password": "wrong-password"})).await?;
    assert_eq!(wrong.status, 401);
    let profile = app.get_authorized("/profile", &token).await?;
    assert_eq!(profile.json(), json!({"username": "flaskuser", "email": "Flask.User@Example.com", "user_id": id}));
    // The Flask service can still write its rows the way it always did.
    let sql = r#"INSERT INTO "user" (id, username, password, email) VALUES ('id-2', 'new', 'h', 'n@example.com')"#;
    assert_eq!(store.execute(sql).await?, 1);
    Ok(())
}

async fn wrong_password_leaves_a_legacy_hash_alone(store) {
    flask_table_with_user(store, "id-1", "legacy", "legacy@example.com", "right-password").await?;
    let app = store.app()?;
    let reply = app.post_json("/login", &json!({"username": "legacy", "password": "wrong-password"})).await?;
    assert_eq!(reply.status, 401);
    let stored = store.scalar(r#"SELECT password FROM "user""#).await?;
    assert_eq!(stored, flask_peer(&["legacy-hash", "right-password"])?.as_str());
    Ok(())
}

async fn tokens_issued_here_verify_with_pyjwt(store) {
    let app = store.app()?;
    let user_id = app.register("frank", "frank@example.com", "frank-password").await?;
    let token = app.login("frank", "frank-password").await?;
    let claims: serde_json::Value = serde_json::from_str(&flask_peer(&["decode", SECRET_KEY, &token])?)?;
    assert_eq!(claims["user_id"], user_id.as_str());
    assert_eq!(claims["username"], "frank");
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    assert!(claims.get("nbf").is_none() && claims.get("aud").is_none(), "{claims}");
    Ok(())
}

async fn tokens_minted_by_pyjwt_are_accepted(store) {
    let app = store.app()?;
    let user_id = app.register("grace", "grace@example.com", "grace-password").await?;
    let token = flask_peer(&["encode", SECRET_KEY, &user_id, "grace", "600"])?;
    let reply = app.get_authorized("/profile", &token).await?;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["user_id"], user_id.as_str());
    let other_key = flask_peer(&["encode", "a-different-secret-key-of-enough-length", &user_id, "grace", "600"])?;
    let reply = app.get_authorized("/profile", &other_key).await?;
    assert_eq!((reply.status, reply.json()), (401, json!({"message": "Invalid token"})));
    Ok(())
}
}
