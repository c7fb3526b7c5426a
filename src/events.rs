//! Domain events in the Flask service's message shape, plus an `id`:
//! `{"event","data","timestamp","id"}`.

use serde::Serialize;
use serde_json::{json, Value};

pub const USER_LOGGED_IN: &str = "UserLoggedIn";
pub const USER_LOGIN_FAILED: &str = "UserLoginFailed";
pub const USER_REGISTERED: &str = "UserRegistered";
pub const TEST_EVENT: &str = "TestEvent";
pub const USER_LOGGED_OUT: &str = "UserLoggedOut";
/// Built by the stores in the refresh's own statement (only the session
/// row knows its user): `{"user_id","session_id"}`.
pub const REFRESH_TOKEN_REUSED: &str = "RefreshTokenReused";
pub const USER_LOCKED_OUT: &str = "UserLockedOut";
pub const PASSWORD_CHANGED: &str = "PasswordChanged";
pub const EMAIL_VERIFICATION_REQUESTED: &str = "EmailVerificationRequested";
pub const USER_EMAIL_VERIFIED: &str = "UserEmailVerified";
pub const PASSWORD_RESET_REQUESTED: &str = "PasswordResetRequested";
pub const PASSWORD_RESET: &str = "PasswordReset";

/// An event ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub name: &'static str,
    /// The message body, as published.
    pub body: Vec<u8>,
}

#[derive(Serialize)]
struct Body<'a> {
    event: &'a str,
    data: &'a Value,
    timestamp: &'a str,
    id: &'a str,
}

impl Event {
    pub fn new(name: &'static str, data: Value) -> Event {
        let id = uuid::Uuid::new_v4().to_string();
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let body = Body { event: name, data: &data, timestamp: &timestamp, id: &id };
        // Serialising a struct of strings and a JSON value cannot fail.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        Event { id, name, body }
    }

    pub fn user_logged_in(user_id: &str, username: &str, email: &str) -> Event {
        Event::new(USER_LOGGED_IN, json!({"user_id": user_id, "username": username, "email": email}))
    }

    pub fn user_login_failed(username: &str) -> Event {
        Event::new(USER_LOGIN_FAILED, json!({"username": username, "reason": "Invalid credentials"}))
    }

    /// One per lock: the failed login that locked `username` (the login
    /// name as sent, whether or not it names an account).
    pub fn user_locked_out(username: &str, locked_until: &str, failures: i64) -> Event {
        Event::new(USER_LOCKED_OUT, json!({"username": username, "locked_until": locked_until, "failures": failures}))
    }

    pub fn password_changed(user_id: &str) -> Event {
        Event::new(PASSWORD_CHANGED, json!({"user_id": user_id}))
    }

    /// For a mailer: the token goes to `email` (DESIGN.md §7). The stores
    /// fill in the fields left empty here from the account they find.
    pub fn email_verification_requested(user_id: &str, email: &str, token: &crate::user_tokens::UserToken) -> Event {
        let data = json!({"user_id": user_id, "email": email, "token": token.token, "expires_at": token.expires_at});
        Event::new(EMAIL_VERIFICATION_REQUESTED, data)
    }

    /// `user_id` and `email` are filled in by the store.
    pub fn user_email_verified() -> Event {
        Event::new(USER_EMAIL_VERIFIED, json!({"user_id": "", "email": ""}))
    }

    /// `user_id` and `email` are filled in by the store, for the account
    /// the address belongs to.
    pub fn password_reset_requested(token: &crate::user_tokens::UserToken) -> Event {
        let data = json!({"user_id": "", "email": "", "token": token.token, "expires_at": token.expires_at});
        Event::new(PASSWORD_RESET_REQUESTED, data)
    }

    /// `user_id` is filled in by the store.
    pub fn password_reset() -> Event {
        Event::new(PASSWORD_RESET, json!({"user_id": ""}))
    }

    pub fn user_registered(user_id: &str, username: &str, email: &str) -> Event {
        Event::new(USER_REGISTERED, json!({"user_id": user_id, "username": username, "email": email}))
    }

    /// `scope` is local, others or global (`POST /logout`), or session
    /// (`DELETE /sessions/{id}`, which names the session ended).
    pub fn user_logged_out(user_id: &str, session_id: Option<&str>, scope: &str) -> Event {
        Event::new(USER_LOGGED_OUT, json!({"user_id": user_id, "session_id": session_id, "scope": scope}))
    }

    pub fn test_event(msg: &str) -> Event {
        Event::new(TEST_EVENT, json!({"msg": msg}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_flask_shape_and_the_id() {
        let e = Event::user_logged_in("u1", "alice", "a@example.com");
        let body: Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(body["event"], "UserLoggedIn");
        assert_eq!(body["data"], json!({"user_id": "u1", "username": "alice", "email": "a@example.com"}));
        assert_eq!(body["id"], e.id.as_str());
        assert!(uuid::Uuid::parse_str(&e.id).is_ok());
        let stamp = body["timestamp"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok() && stamp.ends_with('Z'), "{stamp}");
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn failed_login_and_test_event_payloads() {
        let body: Value = serde_json::from_slice(&Event::user_login_failed("mallory").body).unwrap();
        assert_eq!(body["data"], json!({"username": "mallory", "reason": "Invalid credentials"}));
        let body: Value = serde_json::from_slice(&Event::test_event("hi").body).unwrap();
        assert_eq!(body["data"], json!({"msg": "hi"}));
    }
}
