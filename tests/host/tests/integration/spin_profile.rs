//! The test host's `Spin` profile: the app served the way Spin 4.0.2 serves
//! it answers as under the default profile, and does Spin's per-instance
//! variable work (every application variable resolved on an instance's
//! first outbound connection, each `variables::get` resolved anew).

use crate::support::manifest_path;
use crate::support::store::{Backend, TestStore};
use serde_json::json;
use spin_test_host::manifest::LoadedManifest;
use spin_test_host::Profile;

/// Waits until no request's work after its response (a login's delivery)
/// is still making lookups.
async fn settle(app: &crate::support::TestApp) {
    let mut last = app.app.provider_lookups();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let now = app.app.provider_lookups();
        if now == last {
            return;
        }
        last = now;
    }
}

/// Provider lookups a request made.
async fn lookups_of(app: &crate::support::TestApp, method: &str, path: &str, token: Option<&str>) -> anyhow::Result<u64> {
    settle(app).await;
    let before = app.app.provider_lookups();
    let reply = match token {
        Some(token) => app.get_authorized(path, token).await?,
        None => app.send(method, path).await?,
    };
    anyhow::ensure!(reply.status == 200, "{method} {path}: {} {}", reply.status, reply.text());
    Ok(app.app.provider_lookups() - before)
}

// Multi-threaded, as Spin's runtime is: the lookups run on `block_in_place`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spin_profile_serves_the_app_and_resolves_every_variable_per_instance() -> anyhow::Result<()> {
    let declared = LoadedManifest::load(&manifest_path())?.manifest.variables.len() as u64;
    assert!(declared >= 2, "spin.toml declares {declared} variables");
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let store = TestStore::create(backend).await?;
        let app = store.app_profile(Profile::Spin)?;
        app.register("spinlike", "spinlike@example.com", "spinlike-password").await?;
        let token = app.login("spinlike", "spinlike-password").await?;
        let profile = app.get_authorized("/profile", &token).await?;
        assert_eq!(profile.status, 200, "{backend:?}: {}", profile.text());
        assert_eq!(profile.json()["username"], "spinlike");
        assert_eq!(app.get("/auth/health").await?.json(), json!({"status": "healthy"}));

        // /auth/health reads `database_url`; /profile reads it and
        // `secret_key` (README, host calls per endpoint). PostgreSQL is an
        // outbound connection, so its first one resolves every declared
        // variable; Spin's SQLite is not.
        let outbound = if backend == Backend::Postgres { declared } else { 0 };
        assert_eq!(lookups_of(&app, "GET", "/auth/health", None).await?, 1 + outbound, "{backend:?}");
        assert_eq!(lookups_of(&app, "GET", "/profile", Some(&token)).await?, 2 + outbound, "{backend:?}");

        // The default profile resolved them once, at startup.
        let fast = store.app()?;
        let token = fast.login("spinlike", "spinlike-password").await?;
        assert_eq!(lookups_of(&fast, "GET", "/profile", Some(&token)).await?, 0, "{backend:?}");
    }
    Ok(())
}
