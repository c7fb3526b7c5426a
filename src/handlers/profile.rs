//! `GET /profile`: the bearer's account.

use crate::config::{self, SpinVariables};
use crate::errors::{ApiError, ApiResult};
use crate::http_io::Request;
use crate::response::Response;
use crate::tokens::TokenError;
use serde_json::json;

pub fn get(req: &Request) -> ApiResult {
    let token = super::bearer_token(req).ok_or(ApiError::forbidden("Token is missing"))?;
    let key = config::token_key(&SpinVariables)?;
    let claims = key.verify(token).map_err(|e| match e {
        TokenError::Expired => ApiError::unauthorized("Token expired"),
        TokenError::Invalid => ApiError::unauthorized("Invalid token"),
    })?;
    let user = super::open_store()?.find_user(&claims.user_id)?.ok_or(ApiError::missing("User not found"))?;
    Ok(Response::json(200, &json!({"username": user.username, "email": user.email, "user_id": user.id})))
}
