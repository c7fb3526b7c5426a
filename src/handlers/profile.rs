//! `GET /profile`: the bearer's account, in one statement; a token of a
//! session that has ended is refused at once.

use crate::errors::{ApiError, ApiResult};
use crate::http_io::Request;
use crate::response::Response;
use serde_json::json;

pub fn get(req: &Request) -> ApiResult {
    let claims = super::access_claims(req)?;
    let store = super::open_store()?;
    let user = match claims.sid.as_deref() {
        // The Flask service's tokens name no session.
        None => store.find_user(&claims.user_id)?,
        Some(sid) => match store.find_session_user(&claims.user_id, sid)? {
            Some((_, false)) => return Err(super::session_ended()),
            found => found.map(|(user, _)| user),
        },
    };
    let user = user.ok_or(ApiError::missing("User not found"))?;
    Ok(Response::json(200, &json!({"username": user.username, "email": user.email, "user_id": user.id})))
}
