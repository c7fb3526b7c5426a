//! `POST /login`: username or e-mail and password → JWT.

use crate::accounts::MAX_PASSWORD_CHARS;
use crate::config::{self, SpinVariables};
use crate::errors::{ApiError, ApiResult};
use crate::events::Event;
use crate::http_io::Request;
use crate::json_body::{json_object, string_field};
use crate::passwords::Verdict;
use crate::response::Response;
use crate::tokens::UserClaims;
use serde_json::json;

/// Longest login name worth looking up (an e-mail is at most 120 here).
const MAX_LOGIN_CHARS: usize = 320;

pub fn post(req: &Request) -> ApiResult {
    let body = json_object(req)?;
    let login = string_field(&body, "username", MAX_LOGIN_CHARS)?;
    let password = string_field(&body, "password", MAX_PASSWORD_CHARS)?;

    let policy = config::policy(&SpinVariables)?;
    let hasher = policy.hasher()?;
    let key = config::token_key(&SpinVariables)?;
    let ttl = policy.token_ttl_seconds;
    let store = super::open_store()?;

    let user = store.find_login_user(&login)?;
    let stored_hash = user.as_ref().and_then(|u| u.password.as_deref());
    let (user, upgrade) = match (hasher.verify(&password, stored_hash), user) {
        (Verdict::Valid { upgrade }, Some(user)) => (user, upgrade),
        (_, user) => {
            store.login_failed(user.as_ref().map(|u| u.id.as_str()), &Event::user_login_failed(&login))?;
            return Err(ApiError::invalid_credentials());
        }
    };

    // A legacy or weaker hash is replaced in the same statement as the login.
    let new_hash = match upgrade {
        true => Some(hasher.hash(&password).map_err(|_| ApiError::Internal("no randomness for a salt"))?),
        false => None,
    };
    let event = Event::user_logged_in(&user.id, &user.username, &user.email);
    if !store.login_succeeded(&user.id, new_hash.as_deref(), &event)? {
        return Err(ApiError::invalid_credentials());
    }
    let claims = UserClaims { user_id: user.id, username: user.username };
    let token = key
        .issue(claims, ttl, uuid::Uuid::new_v4().to_string())
        .map_err(|_| ApiError::Internal("signing a token failed"))?;
    Ok(Response::json(200, &json!({"token": token})))
}
