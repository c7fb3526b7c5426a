//! `POST /password`: the bearer changes its password (DESIGN.md §7). The
//! current password is checked like a login's, counted against the
//! user's name by the login throttle; a good change ends every other
//! session of the user and queues `PasswordChanged`.

use crate::accounts::{password_acceptable, MAX_PASSWORD_CHARS, PASSWORD_RULE};
use crate::errors::{ApiError, ApiResult};
use crate::events::Event;
use crate::http_io::Request;
use crate::json_body::{json_object, string_field};
use crate::passwords::Verdict;
use crate::response::Response;
use crate::store::{Bearer, LoginLookup};

pub fn post(req: &Request) -> ApiResult {
    let claims = super::access_claims(req)?;
    let body = json_object(req)?;
    let current = string_field(&body, "current_password", MAX_PASSWORD_CHARS)?;
    let new = string_field(&body, "new_password", MAX_PASSWORD_CHARS)?;
    if !password_acceptable(&new) {
        return Err(ApiError::bad_request(PASSWORD_RULE));
    }
    let policy = super::policy()?;
    let hasher = policy.hasher()?;
    let store = super::open_store()?;
    let client = super::client_terms(req)?;
    let LoginLookup { throttle, user, .. } = super::login::reserve_attempt(store.as_ref(), &claims.username, &policy, client.as_ref())?;
    // The token's user, found by its name: gone or renamed, the token is void.
    let user = user.map(|(user, _)| user).filter(|user| user.id == claims.user_id);
    let Some(user) = user else { return Err(super::session_ended()) };
    if hasher.verify(&current, user.password.as_deref()) == Verdict::Invalid {
        return Err(super::login::refuse_attempt(store.as_ref(), &claims.username, Some(&user.id), &throttle, &policy));
    }
    let new_hash = hasher.hash(&new).map_err(|_| ApiError::Internal("no randomness for a salt"))?;
    let bearer = Bearer { user_id: &user.id, session_id: claims.sid.as_deref() };
    let verified = user.password.as_deref().unwrap_or_default();
    if !store.change_password(bearer, verified, &new_hash, &claims.username, &Event::password_changed(&user.id))? {
        return Err(super::session_ended());
    }
    super::note_queued_event();
    Ok(Response::empty(204))
}
