//! `POST /password/forgot` and `POST /password/reset` (DESIGN.md §7). The
//! service sends no e-mail: a reset token leaves in
//! `PasswordResetRequested`, for a mailer that consumes the events.

use crate::accounts::{password_acceptable, Email, MAX_PASSWORD_CHARS, PASSWORD_RULE};
use crate::errors::{ApiError, ApiResult};
use crate::events::Event;
use crate::http_io::Request;
use crate::json_body::{json_object, string_field};
use crate::response::Response;
use crate::store::IssuedToken;
use crate::user_tokens;
use serde_json::json;

/// The one answer of `/password/forgot`, whether the address is known or not.
pub const FORGOT_ANSWER: &str = "If the account exists, a reset link is on its way";
/// A reset or verification token that is unknown, spent or expired.
pub const BAD_TOKEN: &str = "Invalid or expired token";

/// Always 202 with the same body, and the same statement runs for a known
/// and an unknown address (it stores the token and queues the event only
/// for an account) after the answer has gone: neither the answer nor its
/// timing tells them apart. The store is opened first, so an unreachable
/// database is still a 503.
pub fn forgot(req: &Request) -> ApiResult {
    let body = json_object(req)?;
    let email = string_field(&body, "email", 1024)?;
    let email = Email::parse(&email).ok_or(ApiError::bad_request(Email::RULE))?;
    let policy = super::policy()?;
    let token = user_tokens::issue(policy.reset_token_ttl_seconds).ok_or(ApiError::Internal("no randomness for a token"))?;
    let event = Event::password_reset_requested(&token);
    let store = super::open_store()?;
    let email = email.as_str().to_owned();
    super::defer(move || {
        let issued = IssuedToken { hash: &token.hash, expires_at: &token.expires_at, event: &event };
        match store.request_password_reset(&email, &issued) {
            Ok(true) => super::note_queued_event(),
            Ok(false) => {}
            Err(err) => eprintln!("auth: a password-reset request was not stored: {err:?}"),
        }
    });
    Ok(Response::json(202, &json!({"message": FORGOT_ANSWER})))
}

/// 204: the new password is set, every session of the user ended, the
/// token spent, `PasswordReset` queued.
pub fn reset(req: &Request) -> ApiResult {
    let body = json_object(req)?;
    let token = string_field(&body, "token", 1024)?;
    let new = string_field(&body, "new_password", MAX_PASSWORD_CHARS)?;
    if !password_acceptable(&new) {
        return Err(ApiError::bad_request(PASSWORD_RULE));
    }
    if !user_tokens::well_formed(&token) {
        return Err(ApiError::bad_request(BAD_TOKEN));
    }
    let policy = super::policy()?;
    let hasher = policy.hasher()?;
    let store = super::open_store()?;
    let new_hash = hasher.hash(&new).map_err(|_| ApiError::Internal("no randomness for a salt"))?;
    if !store.reset_password(&user_tokens::hash(&token), &new_hash, &Event::password_reset())? {
        return Err(ApiError::bad_request(BAD_TOKEN));
    }
    super::note_queued_event();
    Ok(Response::empty(204))
}
