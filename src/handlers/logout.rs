//! `POST /logout?scope=local|others|global`: ends the caller's session, the
//! user's other sessions, or all of them, at once (DESIGN.md §6).

use crate::errors::{ApiError, ApiResult};
use crate::events::Event;
use crate::http_io::Request;
use crate::response::Response;
use crate::store::{Bearer, Ended, LogoutScope};

pub fn post(req: &Request) -> ApiResult {
    let scope = match req.query_param("scope") {
        None => LogoutScope::Local,
        Some(text) => LogoutScope::parse(text)
            .ok_or(ApiError::bad_request("scope must be local, others or global"))?,
    };
    let claims = super::access_claims(req)?;
    let session_id = claims.sid.as_deref();
    if session_id.is_none() && scope != LogoutScope::Global {
        // The Flask service's tokens name no session; only `global` applies.
        // A well-formed request the token's state rules out: 409.
        return Err(ApiError::conflict("This token has no session: use scope=global"));
    }
    let event = Event::user_logged_out(&claims.user_id, session_id, scope.as_str());
    let bearer = Bearer { user_id: &claims.user_id, session_id };
    match super::open_store()?.logout(bearer, scope, &event)? {
        Ended::Done => {
            super::note_queued_event();
            Ok(Response::empty(204))
        }
        Ended::CallerRevoked | Ended::NotFound => Err(super::session_ended()),
    }
}
