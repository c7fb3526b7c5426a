//! `GET /auth/health`: a database ping for load balancers.

use crate::errors::{ApiResult, Unavailable};
use crate::response::Response;
use serde_json::json;

/// One query: it proves the database answers and reads the outbox backlog.
/// A broker outage shows as a growing backlog, not as unhealthy.
pub fn get() -> ApiResult {
    Ok(match super::open_store().and_then(|store| store.backlog()) {
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
