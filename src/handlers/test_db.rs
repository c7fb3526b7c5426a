//! `GET /test-db`: proves the database connection with its clock.

use crate::errors::ApiResult;
use crate::response::Response;
use serde_json::json;

pub fn get() -> ApiResult {
    let now = super::open_store()?.now()?;
    Ok(Response::json(200, &json!({"message": "Successful connection", "timestamp": now})))
}
