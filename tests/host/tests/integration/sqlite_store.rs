//! What only the embedded store has: where its file lives, Spin's grant and
//! runtime configuration, the writer lock under concurrent clients, and the
//! publishing lease that stands in for PostgreSQL's advisory lock.

use crate::delivery::broker_app;
use crate::support::broker::TestQueue;
use crate::support::store::{Backend, TestStateDir, TestStore};
use crate::support::{variables, ManifestCopy, TestApp, SECRET_KEY};
use serde_json::json;
use spin_test_host::StateDir;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn sqlite_dir(store: &TestStore) -> &TestStateDir {
    match store {
        TestStore::Sqlite(dir) => dir,
        TestStore::Postgres(_) => unreachable!("an SQLite test made a PostgreSQL store"),
    }
}

#[tokio::test]
async fn empty_database_url_keeps_users_in_the_state_dirs_sqlite_file() -> anyhow::Result<()> {
    let store = TestStore::create(Backend::Sqlite).await?;
    let app = store.app_with(&[("database_url", "")])?;
    let user_id = app.register("sam", "sam@example.com", "sam-password").await?;
    assert!(sqlite_dir(&store).database_file().is_file(), "the default database is <state dir>/sqlite_db.db");
    assert_eq!(store.scalar(r#"SELECT id FROM "user""#).await?, json!(user_id));
    assert_eq!(store.scalar("PRAGMA journal_mode").await?, json!("wal"), "migrations switch on write-ahead logging");
    let stamps = store.rows(r#"SELECT created_at, updated_at FROM "user""#).await?;
    for stamp in &stamps[0] {
        let text = stamp.as_str().unwrap_or_default();
        assert!(chrono::DateTime::parse_from_rfc3339(text).is_ok() && text.ends_with('Z'), "ISO-8601 UTC: {stamp}");
    }
    let (_, payload) = &store.outbox().await?[0];
    assert_eq!(payload["data"]["user_id"], json!(user_id), "the event is stored as JSON text");
    Ok(())
}

#[tokio::test]
async fn with_no_state_dir_given_the_database_is_dot_spin_beside_the_manifest() -> anyhow::Result<()> {
    // `spin up` with nothing but secret_key: the file is .spin/sqlite_db.db
    // in the directory that holds spin.toml.
    let manifest = ManifestCopy::edited(|m| m)?;
    let env = variables(&[("secret_key", SECRET_KEY), ("rabbitmq_port", "1")]);
    let app = TestApp::load_with(&manifest.path(), env, StateDir::Default)?;
    let user_id = app.register("dora", "dora@example.com", "dora-password").await?;
    let file = manifest.path().with_file_name(".spin").join("sqlite_db.db");
    assert!(file.is_file(), "{} holds the database", file.display());
    let stored: String = rusqlite::Connection::open(&file)?.query_row(r#"SELECT id FROM "user""#, [], |r| r.get(0))?;
    assert_eq!(stored, user_id);
    Ok(())
}

#[tokio::test]
async fn runtime_config_moves_the_default_database_to_a_file() -> anyhow::Result<()> {
    let state = TestStateDir::create()?;
    let elsewhere = TestStateDir::create()?;
    let file = elsewhere.path.join("data/auth.db");
    let config = elsewhere.path.join("runtime-config.toml");
    std::fs::write(&config, format!("[sqlite_database.default]\ntype = \"spin\"\npath = {:?}\n", file.display().to_string()))?;
    let env = variables(&[("secret_key", SECRET_KEY), ("rabbitmq_port", "1")]);
    let app = TestApp::load_options(&crate::support::manifest_path(), env, StateDir::Provided(state.path.clone()), Some(config))?;
    app.register("tess", "tess@example.com", "tess-password").await?;
    assert!(file.is_file(), "the runtime config's path holds the database");
    assert!(!state.database_file().exists(), "the state directory's default file is not used");
    let users: i64 = rusqlite::Connection::open(&file)?.query_row(r#"SELECT count(*) FROM "user""#, [], |r| r.get(0))?;
    assert_eq!(users, 1);
    Ok(())
}

#[tokio::test]
async fn without_the_sqlite_grant_the_store_answers_503_database_not_allowed() -> anyhow::Result<()> {
    let manifest = ManifestCopy::edited(|m| m.replace("sqlite_databases = [\"default\"]", ""))?;
    let state = TestStateDir::create()?;
    let env = variables(&[("secret_key", SECRET_KEY)]);
    let app = TestApp::load_with(&manifest.path(), env, StateDir::Provided(state.path.clone()))?;
    let reply = app.get("/auth/health").await?;
    assert_eq!((reply.status, reply.json()), (503, json!({"status": "unhealthy", "error": "database_not_allowed"})));
    assert!(app.guest_output().contains("sqlite_databases"), "the log says what to fix: {}", app.guest_output());
    Ok(())
}

#[tokio::test]
async fn an_unconfigured_database_label_stops_startup_like_spin() {
    let manifest = ManifestCopy::edited(|m| m.replace("sqlite_databases = [\"default\"]", "sqlite_databases = [\"default\", \"analytics\"]"))
        .expect("manifest copy");
    let err = TestApp::load_manifest(&manifest.path(), variables(&[("secret_key", SECRET_KEY)])).err();
    let text = format!("{:#}", err.expect("startup must fail"));
    assert!(text.contains("One or more components use SQLite databases which are not defined."), "{text}");
    assert!(text.contains("- Component auth uses database 'analytics'"), "{text}");
}

#[tokio::test]
async fn an_unusable_state_dir_gets_503_database_unreachable() -> anyhow::Result<()> {
    // A regular file where the state directory should be: no database file
    // can be made under it.
    let parent = TestStateDir::create()?;
    let blocked = parent.path.join("not-a-directory");
    std::fs::write(&blocked, b"")?;
    let env = variables(&[("secret_key", SECRET_KEY)]);
    let app = TestApp::load_with(&crate::support::manifest_path(), env, StateDir::Provided(blocked.join("state")))?;
    let health = app.get("/auth/health").await?;
    assert_eq!((health.status, health.json()), (503, json!({"status": "unhealthy", "error": "database_unreachable"})));
    let login = app.post_json("/login", &json!({"username": "a", "password": "b"})).await?;
    assert_eq!((login.status, login.json()), (503, json!({"error": "database_unreachable"})));
    Ok(())
}

#[tokio::test]
async fn a_writer_waits_for_the_lock_instead_of_failing() -> anyhow::Result<()> {
    let store = TestStore::create(Backend::Sqlite).await?;
    let app = store.app()?;
    app.get("/auth/health?outbox").await?; // migrated
    let file = sqlite_dir(&store).database_file();
    // Another writer holds the lock for 1.5 s.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || -> rusqlite::Result<Instant> {
        let conn = rusqlite::Connection::open(file)?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        locked_tx.send(()).ok();
        std::thread::sleep(Duration::from_millis(1500));
        let released = Instant::now();
        conn.execute_batch("COMMIT")?;
        Ok(released)
    });
    locked_rx.recv()?;
    let reply = app
        .post_json("/register", &json!({"username": "wanda", "email": "wanda@example.com", "password": "wanda-password"}))
        .await?;
    let finished = Instant::now();
    let released = holder.join().expect("lock holder")?;
    assert_eq!(reply.status, 201, "{}", reply.text());
    // It writes, so it can only have finished once the lock was let go.
    assert!(finished > released, "the registration finished before the lock was released");
    Ok(())
}

/// 32 clients at once, each registering, logging in (right and wrong) and
/// reading its profile: every writer waits its turn, none gets a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_clients_get_no_server_error() -> anyhow::Result<()> {
    const CLIENTS: usize = 32;
    let store = TestStore::create(Backend::Sqlite).await?;
    let app = Arc::new(store.app()?);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let name = format!("client{i}");
                // Each client from its own address, as 32 clients would be.
                let addr = format!("192.0.2.{}:5000", i + 1);
                let mut statuses = Vec::new();
                let body = json!({"username": name, "email": format!("{name}@example.com"), "password": "client-password"});
                statuses.push(app.post_json_from(&addr, "/register", &body).await?.status);
                let wrong = app.post_json_from(&addr, "/login", &json!({"username": name, "password": "not-the-password"})).await?;
                statuses.push(wrong.status);
                let login = app.post_json_from(&addr, "/login", &json!({"username": name, "password": "client-password"})).await?;
                statuses.push(login.status);
                let token = login.json()["token"].as_str().unwrap_or_default().to_owned();
                for _ in 0..5 {
                    statuses.push(app.get_authorized("/profile", &token).await?.status);
                    statuses.push(app.get("/auth/health").await?.status);
                }
                anyhow::Ok(statuses)
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let expected: Vec<u16> = [201, 401, 200].into_iter().chain([200; 10]).collect();
    assert_eq!(all.len(), CLIENTS * expected.len());
    for (i, statuses) in all.chunks(expected.len()).enumerate() {
        assert_eq!(statuses, expected, "client {i}\n{}", app.guest_output());
    }
    assert_eq!(store.count(r#"SELECT count(*) FROM "user""#).await?, CLIENTS as i64);
    let per_event = store
        .rows("SELECT event, count(*), count(DISTINCT id) FROM auth_outbox GROUP BY event ORDER BY event")
        .await?;
    let n = CLIENTS as i64;
    assert_eq!(
        per_event,
        [
            [json!("EmailVerificationRequested"), json!(n), json!(n)],
            [json!("UserLoggedIn"), json!(n), json!(n)],
            [json!("UserLoginFailed"), json!(n), json!(n)],
            [json!("UserRegistered"), json!(n), json!(n)],
        ],
        "every event stored exactly once"
    );
    let distinct_users = store.count("SELECT count(DISTINCT json_extract(payload, '$.data.username')) FROM auth_outbox").await?;
    assert_eq!(distinct_users, n, "each client's own events");
    Ok(())
}

#[tokio::test]
async fn a_publishing_lease_left_by_a_crashed_instance_expires() -> anyhow::Result<()> {
    let store = TestStore::create(Backend::Sqlite).await?;
    let queue = TestQueue::new();
    let app = broker_app(&store, &queue, "5672")?;
    app.get("/auth/health?outbox").await?; // migrated
    // An instance took the lease and died.
    store.execute("UPDATE auth_outbox_publisher SET holder = 'crashed', expires_at = CAST(strftime('%s', 'now') AS INTEGER) + 3600").await?;
    let held = app.get("/test-event").await?.json();
    assert_eq!(held["delivered"], false, "another publisher holds the turn: {held}");
    assert!(held.get("delivery_error").is_none(), "waiting for the turn is not an error: {held}");
    assert_eq!(store.pending().await?, 1);

    store.execute("UPDATE auth_outbox_publisher SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) - 1").await?;
    let next = app.get("/test-event").await?.json();
    assert_eq!(next["delivered"], true, "{next}");
    assert_eq!(store.pending().await?, 0, "the expired lease's backlog went out too");
    assert_eq!(queue.wait_for(2, Duration::from_secs(5)).await?.len(), 2);
    assert_eq!(store.rows("SELECT holder FROM auth_outbox_publisher").await?, [[serde_json::Value::Null]], "given back");
    Ok(())
}
