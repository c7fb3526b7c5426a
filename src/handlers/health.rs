//! `GET /auth/health`: a database ping for load balancers, and the outbox
//! backlog for whoever asks for it with `?outbox`.

use crate::errors::{ApiResult, Unavailable};
use crate::http_io::Request;
use crate::response::Response;
use serde_json::json;

/// One statement either way. Without `?outbox` it is a ping, `SELECT 1`:
/// load balancers call it most, and under Spin, which plans every
/// statement anew, a statement on a table cost PostgreSQL 100-160 µs more
/// per request (README, Performance). A new database is migrated by the
/// first request that needs the schema, as always. With `?outbox` (or
/// `?outbox=1`) it reads the backlog instead (migrating a new database
/// first), and a broker outage shows there as a growing backlog, not as
/// unhealthy.
pub fn get(req: &Request) -> ApiResult {
    let with_outbox = req.query_param("outbox").is_some_and(|v| !matches!(v, "0" | "false"));
    let store = match super::open_store() {
        Ok(store) => store,
        Err(why) => return Ok(unhealthy(&why)),
    };
    if !with_outbox {
        return Ok(match store.ping() {
            Ok(()) => Response::json(200, &json!({"status": "healthy"})),
            Err(why) => unhealthy(&why),
        });
    }
    Ok(match store.backlog() {
        Ok(backlog) => Response::json(
            200,
            &json!({
                "status": "healthy",
                "outbox": {"pending": backlog.pending, "oldest_pending_seconds": backlog.oldest_seconds},
            }),
        ),
        Err(why) => unhealthy(&why),
    })
}

/// The contract's failure shape: `{"status":"unhealthy","error":<code>}`.
pub fn unhealthy(why: &Unavailable) -> Response {
    let mut body = json!({"status": "unhealthy", "error": why.code()});
    if let Some(detail) = why.detail() {
        body["message"] = detail.into();
    }
    Response::json(503, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhealthy_has_the_contract_shape() {
        let resp = unhealthy(&Unavailable::DatabaseUnreachable);
        assert_eq!(resp.status, 503);
        assert_eq!(resp.json_body(), json!({"status": "unhealthy", "error": "database_unreachable"}));
    }
}
