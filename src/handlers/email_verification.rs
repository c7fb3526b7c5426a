//! `POST /email/verify` and `POST /email/verify/resend` (DESIGN.md §7).
//! Registration queues the first `EmailVerificationRequested`; a mailer
//! that consumes the events sends its token.

use super::password_reset::BAD_TOKEN;
use crate::errors::{ApiError, ApiResult};
use crate::events::Event;
use crate::http_io::Request;
use crate::json_body::{json_object, string_field};
use crate::response::Response;
use crate::store::{Bearer, IssuedToken, Resend};
use crate::user_tokens;
use serde_json::json;

/// 204: the address is verified, the token spent, `UserEmailVerified` queued.
pub fn verify(req: &Request) -> ApiResult {
    let body = json_object(req)?;
    let token = string_field(&body, "token", 1024)?;
    if !user_tokens::well_formed(&token) {
        return Err(ApiError::bad_request(BAD_TOKEN));
    }
    let store = super::open_store()?;
    if !store.verify_email(&user_tokens::hash(&token), &Event::user_email_verified())? {
        return Err(ApiError::bad_request(BAD_TOKEN));
    }
    super::note_queued_event();
    Ok(Response::empty(204))
}

/// 202 with a new token on its way (the earlier ones stop working); 409
/// when the bearer's address is verified already.
pub fn resend(req: &Request) -> ApiResult {
    let claims = super::access_claims(req)?;
    let policy = super::policy()?;
    let token =
        user_tokens::issue(policy.email_verification_ttl_seconds).ok_or(ApiError::Internal("no randomness for a token"))?;
    let event = Event::email_verification_requested(&claims.user_id, "", &token);
    let store = super::open_store()?;
    let bearer = Bearer { user_id: &claims.user_id, session_id: claims.sid.as_deref() };
    let issued = IssuedToken { hash: &token.hash, expires_at: &token.expires_at, event: &event };
    match store.resend_verification(bearer, &issued)? {
        Resend::Sent => {
            super::note_queued_event();
            Ok(Response::json(202, &json!({"message": "A verification link is on its way"})))
        }
        Resend::AlreadyVerified => Err(ApiError::conflict("Email already verified")),
        Resend::CallerRevoked => Err(super::session_ended()),
    }
}
