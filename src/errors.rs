//! The API's errors and their one mapping to status codes and JSON bodies.
//!
//! Client mistakes answer with what was wrong; internal failures answer with a
//! short code only and their detail goes to the log.

use crate::config::ConfigError;
use crate::http_io::Method;
use crate::response::Response;
use serde_json::json;
use std::borrow::Cow;

#[derive(Debug)]
pub enum ApiError {
    /// No such route.
    NotFound,
    MethodNotAllowed(&'static [Method]),
    /// A client error with the contract's `{"message": ...}` body.
    Client { status: u16, message: Cow<'static, str> },
    PayloadTooLarge,
    /// Too many attempts: 429 with `Retry-After` in seconds.
    TooManyAttempts { retry_after: u64 },
    /// The client's bucket is empty (throttling by client): 429 with
    /// `Retry-After` in seconds.
    TooManyRequests { retry_after: u64 },
    /// A dependency (database, configuration) is not usable: 503.
    Unavailable(Unavailable),
    /// A failure inside the service that no client input causes (the
    /// system's random source, a signing failure); logged, answered 500.
    Internal(&'static str),
}

pub type ApiResult = Result<Response, ApiError>;

/// Why the service cannot answer right now, as a short machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// A configuration variable is missing or malformed; the message names it.
    Misconfigured(ConfigError),
    /// The database could not be reached (refused, timed out, TLS failed).
    DatabaseUnreachable,
    /// `allowed_outbound_hosts` does not permit the database's address.
    DatabaseNotAllowed,
    /// The database answered with an error.
    DatabaseError,
    /// The embedded database stayed locked by other writers past every
    /// bounded wait.
    DatabaseBusy,
}

impl Unavailable {
    pub fn code(&self) -> &'static str {
        match self {
            Unavailable::Misconfigured(_) => "misconfigured",
            Unavailable::DatabaseUnreachable => "database_unreachable",
            Unavailable::DatabaseNotAllowed => "database_not_allowed",
            Unavailable::DatabaseError => "database_error",
            Unavailable::DatabaseBusy => "database_busy",
        }
    }

    /// Extra detail safe to show: only configuration problems, which name a
    /// variable and never hold its value.
    pub fn detail(&self) -> Option<String> {
        match self {
            Unavailable::Misconfigured(err) => Some(err.to_string()),
            _ => None,
        }
    }
}

impl From<ConfigError> for ApiError {
    fn from(err: ConfigError) -> Self {
        ApiError::Unavailable(Unavailable::Misconfigured(err))
    }
}

impl From<Unavailable> for ApiError {
    fn from(err: Unavailable) -> Self {
        ApiError::Unavailable(err)
    }
}

impl ApiError {
    fn client(status: u16, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::Client { status, message: message.into() }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::client(400, message)
    }

    pub fn unauthorized(message: &'static str) -> ApiError {
        ApiError::client(401, message)
    }

    pub fn forbidden(message: &'static str) -> ApiError {
        ApiError::client(403, message)
    }

    pub fn missing(message: &'static str) -> ApiError {
        ApiError::client(404, message)
    }

    pub fn conflict(message: &'static str) -> ApiError {
        ApiError::client(409, message)
    }

    pub fn invalid_credentials() -> ApiError {
        ApiError::unauthorized("Invalid credentials")
    }

    pub fn into_response(self) -> Response {
        /// A 429 with its `Retry-After`, never under a second.
        fn too_many(message: &str, retry_after: u64) -> Response {
            Response::json(429, &json!({"message": message})).with_header("retry-after", retry_after.max(1).to_string())
        }

        match self {
            ApiError::NotFound => Response::json(404, &json!({"message": "Not found"})),
            ApiError::MethodNotAllowed(allowed) => {
                Response::json(405, &json!({"message": "Method not allowed"})).with_header("allow", Method::allow_list(allowed))
            }
            ApiError::Client { status, message } => Response::json(status, &json!({"message": message})),
            ApiError::TooManyAttempts { retry_after } => too_many("Too many attempts", retry_after),
            ApiError::TooManyRequests { retry_after } => too_many("Too many requests", retry_after),
            ApiError::PayloadTooLarge => {
                Response::json(413, &json!({"message": "Request body too large"}))
            }
            ApiError::Unavailable(why) => {
                let mut body = json!({"error": why.code()});
                if let Some(detail) = why.detail() {
                    body["message"] = detail.into();
                }
                Response::json(503, &body)
            }
            ApiError::Internal(what) => {
                eprintln!("auth: internal error: {what}");
                Response::json(500, &json!({"message": "Internal server error"}))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_database_answers_503_with_only_a_short_code() {
        let resp = ApiError::from(Unavailable::DatabaseUnreachable).into_response();
        assert_eq!(resp.status, 503);
        assert_eq!(resp.json_body(), json!({"error": "database_unreachable"}));
        assert_eq!(resp.header("content-type"), Some("application/json"));
    }

    #[test]
    fn misconfiguration_names_the_variable() {
        let err = ConfigError { variable: "database_url", problem: "is not set".into() };
        let resp = ApiError::from(err).into_response();
        assert_eq!(resp.status, 503);
        assert_eq!(
            resp.json_body(),
            json!({"error": "misconfigured", "message": "configuration variable `database_url` is not set"})
        );
    }

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let resp = ApiError::MethodNotAllowed(&[Method::Get, Method::Post]).into_response();
        assert_eq!(resp.status, 405);
        assert_eq!(resp.header("allow"), Some("GET, POST, OPTIONS"));
    }
}
