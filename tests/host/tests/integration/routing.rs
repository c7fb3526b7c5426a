//! Paths and methods the component does not serve.

use crate::support::store::{Backend, TestStore};
use serde_json::json;

#[tokio::test]
async fn unknown_path_gets_a_json_404() -> anyhow::Result<()> {
    let store = TestStore::create(Backend::Sqlite).await?;
    let app = store.app()?;
    for path in ["/", "/nope", "/auth/health/extra", "/auth", "/login/extra?next=/x", "/LOGIN"] {
        let reply = app.get(path).await?;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.json(), json!({"message": "Not found"}), "{path}");
        assert_eq!(reply.header("content-type"), Some("application/json"), "{path}");
    }
    Ok(())
}

#[tokio::test]
async fn wrong_method_gets_405_with_allow() -> anyhow::Result<()> {
    let store = TestStore::create(Backend::Sqlite).await?;
    let app = store.app()?;
    for method in ["POST", "DELETE", "PUT", "PATCH"] {
        let reply = app.send(method, "/auth/health").await?;
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS"), "every path answers the preflight");
        assert_eq!(reply.json(), json!({"message": "Method not allowed"}));
    }
    Ok(())
}
