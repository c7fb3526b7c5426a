//! `GET /profile`: the bearer's account, in one statement; a token of a
//! session that has ended is refused at once. An EdDSA or ES256 token that
//! is not recognised as the service's own by its `jti` tag brings its key
//! in the same statement, and nothing the statement found is used before
//! the signature is checked with it.

use crate::errors::{ApiError, ApiResult};
use crate::http_io::Request;
use crate::response::Response;
use crate::tokens::TokenError;
use serde_json::json;

pub fn get(req: &Request) -> ApiResult {
    let token = super::required_bearer(req)?;
    let claims = match super::stored_key_id(token) {
        None => super::secret_key_claims(token)?,
        // The service's own EdDSA or ES256 token costs what an HS256 one does.
        Some((alg, kid)) => match super::own_token_claims(token, &alg, &kid)? {
            Some(claims) => claims,
            None => return with_stored_key(token, &kid),
        },
    };
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
    Ok(profile(&user))
}

fn with_stored_key(token: &str, kid: &str) -> ApiResult {
    let invalid = || super::token_refused(TokenError::Invalid);
    let unverified = crate::tokens::unverified_claims(token).ok_or_else(invalid)?;
    // Every token signed by a stored key names its session.
    let sid = unverified.sid.as_deref().ok_or_else(invalid)?;
    let found = super::open_store()?.find_session_user_and_key(&unverified.user_id, sid, kid)?;
    let key = found.verifying_key.ok_or_else(invalid)?;
    let claims = crate::signing_keys::verify(token, &key).map_err(super::token_refused)?;
    if claims != unverified {
        return Err(invalid());
    }
    if !found.live {
        return Err(super::session_ended());
    }
    let user = found.user.ok_or(ApiError::missing("User not found"))?;
    Ok(profile(&user))
}

fn profile(user: &crate::store::User) -> crate::response::Response {
    Response::json(200, &json!({"username": user.username, "email": user.email, "user_id": user.id}))
}
