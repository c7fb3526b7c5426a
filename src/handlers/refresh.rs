//! `POST /token/refresh`: a refresh token → a new pair for its session,
//! rotating the refresh token (DESIGN.md §6).

use crate::config::{self, SpinVariables};
use crate::errors::{ApiError, ApiResult};
use crate::http_io::Request;
use crate::json_body::{json_object, string_field};
use crate::store::{Refresh, RefreshAttempt, RefreshTerms};

/// Longer than any token this service mints; anything longer is a 400.
const MAX_TOKEN_CHARS: usize = 512;

fn invalid() -> ApiError {
    ApiError::unauthorized("Invalid refresh token")
}

pub fn post(req: &Request) -> ApiResult {
    let body = json_object(req)?;
    let token = string_field(&body, "refresh_token", MAX_TOKEN_CHARS)?;
    let keys = config::session_keys(&SpinVariables)?;
    // A token this service did not mint costs no database round trip.
    let claim = keys.refresh.open(&token).ok_or_else(invalid)?;
    let policy = super::policy()?;
    let terms = RefreshTerms {
        idle_seconds: super::seconds(policy.session_idle_seconds),
        grace_seconds: super::seconds(policy.refresh_reuse_grace_seconds),
    };
    let reuse_event_id = uuid::Uuid::new_v4().to_string();
    let client = super::client_terms(req)?;
    let store = super::open_store()?;
    let attempt = RefreshAttempt {
        session_id: &claim.session_id,
        generation: claim.generation,
        reuse_event_id: &reuse_event_id,
        signing_alg: policy.token_signing_alg,
        client: client.as_ref(),
    };
    match store.refresh(&attempt, terms)? {
        Refresh::Renewed { generation, user, signing_key } => {
            let signer = super::access_signer(&policy, &keys, signing_key.as_deref())?;
            super::token_pair(user, &claim.session_id, generation, &policy, &signer, &keys.refresh)
        }
        Refresh::Reused => {
            super::note_queued_event();
            eprintln!("auth: a used refresh token was replayed; session {} revoked", claim.session_id);
            Err(invalid())
        }
        Refresh::Invalid => Err(invalid()),
        Refresh::Throttled { retry_after } => Err(ApiError::TooManyRequests { retry_after }),
    }
}
