//! Admin endpoints, behind the `admin_token` bearer token; they do not exist
//! (404) while no token is configured.

use crate::config::{self, SpinVariables};
use crate::errors::{ApiError, ApiResult};
use crate::http_io::Request;
use crate::response::Response;
use serde_json::json;
use subtle::ConstantTimeEq;

fn authorize(req: &Request) -> Result<(), ApiError> {
    let Some(expected) = config::admin_token(&SpinVariables)? else {
        return Err(ApiError::NotFound);
    };
    let given = super::bearer_token(req).ok_or(ApiError::unauthorized("Token is missing"))?;
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::forbidden("Invalid admin token"))
    }
}

/// `POST /admin/migrate`: applies pending schema migrations.
pub fn migrate(req: &Request) -> ApiResult {
    authorize(req)?;
    let applied = super::open_store()?.migrate()?;
    let version = crate::migrations::latest_version();
    Ok(Response::json(200, &json!({"applied": applied, "version": version})))
}

/// `POST /admin/outbox/flush`: delivers the outbox now, for a scheduler such
/// as a SpinKube CronJob.
pub fn flush(req: &Request) -> ApiResult {
    authorize(req)?;
    let report = super::deliver_outbox(crate::outbox::FLUSH_BATCHES);
    let pending = super::open_store()?.backlog()?.pending;
    let mut body = json!({"published": report.published.len(), "pending": pending});
    if let Some(error) = report.error {
        body["error"] = error.into();
    }
    Ok(Response::json(200, &body))
}

/// `POST /admin/keys/rotate`: a new key pair for `token_signing_alg`,
/// published at once and signing after `key_activation_seconds`; the key it
/// replaces signs until then and verifies until its last token expires.
pub fn rotate_keys(req: &Request) -> ApiResult {
    authorize(req)?;
    let policy = super::policy()?;
    if !policy.token_signing_alg.is_asymmetric() {
        return Err(ApiError::conflict("token_signing_alg is HS256: there is no key pair to rotate"));
    }
    let keys = config::session_keys(&SpinVariables)?;
    let key = super::new_signing_key(&policy, &keys, policy.key_activation_seconds)?;
    let body = json!({"kid": key.kid, "alg": key.alg.as_str(), "activates_in": policy.key_activation_seconds});
    Ok(Response::json(200, &body))
}
