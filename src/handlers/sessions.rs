//! `GET /sessions` (the caller's user's live sessions) and
//! `DELETE /sessions/{id}` (ends one of them).

use crate::errors::{ApiError, ApiResult};
use crate::events::Event;
use crate::http_io::Request;
use crate::response::Response;
use crate::store::{Bearer, Ended};
use serde_json::json;

/// The prefix of `/sessions/{id}`.
pub const ONE_SESSION_PREFIX: &str = "/sessions/";

pub fn list(req: &Request) -> ApiResult {
    let claims = super::access_claims(req)?;
    let bearer = Bearer { user_id: &claims.user_id, session_id: claims.sid.as_deref() };
    let sessions = super::open_store()?.list_sessions(bearer)?.ok_or_else(super::session_ended)?;
    let listed: Vec<serde_json::Value> = sessions
        .into_iter()
        .map(|s| {
            let current = claims.sid.as_deref() == Some(s.id.as_str());
            json!({"id": s.id, "created_at": s.created_at, "last_used_at": s.last_used_at,
                   "user_agent": s.user_agent, "ip": s.ip, "current": current})
        })
        .collect();
    Ok(Response::json(200, &json!({"sessions": listed})).with_header("cache-control", "no-store"))
}

pub fn delete(req: &Request) -> ApiResult {
    let claims = super::access_claims(req)?;
    let not_found = || ApiError::missing("Session not found");
    // Session ids are UUIDs; anything else names no session.
    let id = req.path().strip_prefix(ONE_SESSION_PREFIX).and_then(|id| uuid::Uuid::parse_str(id).ok()).ok_or_else(not_found)?;
    let id = id.to_string();
    let event = Event::user_logged_out(&claims.user_id, Some(&id), "session");
    let bearer = Bearer { user_id: &claims.user_id, session_id: claims.sid.as_deref() };
    match super::open_store()?.end_session(bearer, &id, &event)? {
        Ended::Done => {
            super::note_queued_event();
            Ok(Response::empty(204))
        }
        Ended::NotFound => Err(not_found()),
        Ended::CallerRevoked => Err(super::session_ended()),
    }
}
