//! `POST /register`: a new account, a `UserRegistered` event, and an
//! `EmailVerificationRequested` event carrying the account's first
//! verification token (DESIGN.md §7).

use crate::accounts::{password_acceptable, Email, Username, MAX_PASSWORD_CHARS, PASSWORD_RULE};
use crate::errors::{ApiError, ApiResult};
use crate::events::Event;
use crate::http_io::Request;
use crate::json_body::{json_object, string_field};
use crate::response::Response;
use crate::store::{IssuedToken, NewUser, Registration};
use crate::user_tokens;
use serde_json::json;

pub fn post(req: &Request) -> ApiResult {
    let policy = super::policy()?;
    if !policy.registration_enabled {
        return Err(ApiError::forbidden("Registration is disabled"));
    }
    let body = json_object(req)?;
    let username = string_field(&body, "username", 1024)?;
    let email = string_field(&body, "email", 1024)?;
    let password = string_field(&body, "password", MAX_PASSWORD_CHARS)?;
    let username = Username::parse(&username).ok_or(ApiError::bad_request(Username::RULE))?;
    let email = Email::parse(&email).ok_or(ApiError::bad_request(Email::RULE))?;
    if !password_acceptable(&password) {
        return Err(ApiError::bad_request(PASSWORD_RULE));
    }

    let hasher = policy.hasher()?;
    let store = super::open_store()?;
    let password_hash = hasher.hash(&password).map_err(|_| ApiError::Internal("no randomness for a salt"))?;
    let id = uuid::Uuid::new_v4().to_string();
    let event = Event::user_registered(&id, username.as_str(), email.as_str());
    let user = NewUser { id: &id, username: username.as_str(), email: email.as_str(), password_hash: &password_hash };
    let token =
        user_tokens::issue(policy.email_verification_ttl_seconds).ok_or(ApiError::Internal("no randomness for a token"))?;
    let verify_event = Event::email_verification_requested(&id, email.as_str(), &token);
    let verification = IssuedToken { hash: &token.hash, expires_at: &token.expires_at, event: &verify_event };
    match store.register(&user, &event, &verification)? {
        Registration::Created => {
            super::note_queued_event();
            Ok(Response::json(201, &json!({"user_id": id, "username": username.as_str(), "email": email.as_str()})))
        }
        Registration::UsernameTaken => Err(ApiError::conflict("Username already taken")),
        Registration::EmailTaken => Err(ApiError::conflict("Email already registered")),
    }
}
