//! `POST /login`: username or e-mail and password → JWT, refresh token and
//! a new session.

use crate::accounts::MAX_PASSWORD_CHARS;
use crate::client_throttle::ClientTerms;
use crate::config::{self, SpinVariables};
use crate::errors::{ApiError, ApiResult};
use crate::events::Event;
use crate::http_io::Request;
use crate::json_body::{json_object, string_field};
use crate::passwords::Verdict;
use crate::policy::Policy;
use crate::store::{LoginLookup, NewSession, Store, Throttle, ThrottleTerms};

/// Longest login name worth looking up (an e-mail is at most 120 here).
const MAX_LOGIN_CHARS: usize = 320;

pub fn post(req: &Request) -> ApiResult {
    let body = json_object(req)?;
    let login = string_field(&body, "username", MAX_LOGIN_CHARS)?;
    let password = string_field(&body, "password", MAX_PASSWORD_CHARS)?;

    let policy = super::policy()?;
    let hasher = policy.hasher()?;
    let keys = config::session_keys(&SpinVariables)?;
    let store = super::open_store()?;

    let client = super::client_terms(req)?;
    let LoginLookup { throttle, user: found, email_verified, .. } = reserve_attempt(store.as_ref(), &login, &policy, client.as_ref())?;
    let stored_hash = found.as_ref().and_then(|(u, _)| u.password.as_deref());
    let (user, signing_key, upgrade) = match (hasher.verify(&password, stored_hash), found) {
        (Verdict::Valid { upgrade }, Some((user, signing_key))) => (user, signing_key, upgrade),
        (_, found) => return Err(refuse_attempt(store.as_ref(), &login, found.as_ref().map(|(u, _)| u.id.as_str()), &throttle, &policy)),
    };

    if policy.require_verified_email && !email_verified {
        // The password was right: the attempt does not count against the name.
        store.refund_attempt(&login)?;
        return Err(ApiError::forbidden("Email not verified"));
    }
    // A legacy or weaker hash is replaced in the same statement as the login.
    let new_hash = match upgrade {
        true => Some(hasher.hash(&password).map_err(|_| ApiError::Internal("no randomness for a salt"))?),
        false => None,
    };
    let event = Event::user_logged_in(&user.id, &user.username, &user.email);
    let session_id = uuid::Uuid::new_v4().to_string();
    let ip = client_ip(req);
    let session = NewSession {
        login: &login,
        id: &session_id,
        idle_seconds: super::seconds(policy.session_idle_seconds),
        max_seconds: super::seconds(policy.session_max_seconds),
        user_agent: req.header("user-agent").map(|agent| truncate(agent, MAX_USER_AGENT_CHARS)),
        ip: ip.as_deref(),
    };
    // Written only while the account still holds the hash just checked: a
    // reset that committed during the hashing wins over this login.
    let verified = user.password.as_deref().unwrap_or_default();
    if !store.login_succeeded(&user.id, verified, new_hash.as_deref(), &session, &event)? {
        return Err(ApiError::invalid_credentials());
    }
    super::note_queued_event();
    let signer = super::access_signer(&policy, &keys, signing_key.as_deref())?;
    super::token_pair(user, &session_id, 0, &policy, &signer, &keys.refresh)
}

/// Takes the client's token, then counts a password attempt against
/// `login` before any hashing (DESIGN.md §7), the same way whether or not
/// the name is an account's, and finds the account, all in the store's
/// first statement; an empty bucket or a locked name is refused here with
/// 429.
pub(crate) fn reserve_attempt(store: &dyn Store, login: &str, policy: &Policy, client: Option<&ClientTerms>)
    -> Result<LoginLookup, ApiError> {
    let terms = ThrottleTerms {
        threshold: i64::try_from(policy.lockout_threshold).unwrap_or(i64::MAX),
        base_seconds: super::seconds(policy.lockout_base_seconds),
        max_seconds: super::seconds(policy.lockout_max_seconds),
    };
    let lookup = store.find_login_user(login, policy.token_signing_alg, terms, client)?;
    super::admitted(lookup.client)?;
    if lookup.throttle.refused {
        let retry_after = lookup.throttle.retry_after.and_then(|s| u64::try_from(s).ok()).unwrap_or(1);
        return Err(ApiError::TooManyAttempts { retry_after });
    }
    Ok(lookup)
}

/// A wrong password for `login`: the failure's event, and `UserLockedOut`
/// when this attempt's reservation locked the name (one per lock); answers
/// 401 `Invalid credentials`.
pub(crate) fn refuse_attempt(store: &dyn Store, login: &str, user_id: Option<&str>, throttle: &Throttle, policy: &Policy) -> ApiError {
    let recorded = store.login_failed(user_id, &Event::user_login_failed(login)).and_then(|()| {
        match (throttle.failures >= i64::try_from(policy.lockout_threshold).unwrap_or(i64::MAX), throttle.locked_until.as_deref()) {
            (true, Some(until)) => store.insert_event(&Event::user_locked_out(login, until, throttle.failures)),
            _ => Ok(()),
        }
    });
    match recorded {
        Ok(()) => {
            super::note_queued_event();
            ApiError::invalid_credentials()
        }
        Err(unavailable) => unavailable.into(),
    }
}

/// The longest user agent a session keeps.
const MAX_USER_AGENT_CHARS: usize = 256;

fn truncate(text: &str, max_chars: usize) -> &str {
    text.char_indices().nth(max_chars).map_or(text, |(end, _)| &text[..end])
}

/// The client's address as Spin reports it (`spin-client-addr`, an
/// address and port), without the port. Spin appends the header after the
/// client's own, so the last one is Spin's.
fn client_ip(req: &Request) -> Option<String> {
    let addr: std::net::SocketAddr = req.last_header("spin-client-addr")?.parse().ok()?;
    Some(addr.ip().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_io::Method;

    #[test]
    fn user_agents_are_cut_at_a_character_boundary() {
        assert_eq!(truncate("curl/8.5.0", 256), "curl/8.5.0");
        assert_eq!(truncate("ééé", 2), "éé");
        assert_eq!(truncate(&"x".repeat(300), MAX_USER_AGENT_CHARS).len(), 256);
    }

    #[test]
    fn the_client_address_loses_its_port() {
        let mut req = Request::new(Method::Post, "/login");
        assert_eq!(client_ip(&req), None);
        req.headers.push(("spin-client-addr".into(), b"[2001:db8::1]:40000".to_vec()));
        assert_eq!(client_ip(&req).as_deref(), Some("2001:db8::1"));
        req.headers[0].1 = b"127.0.0.1:5000".to_vec();
        assert_eq!(client_ip(&req).as_deref(), Some("127.0.0.1"));
        req.headers[0].1 = b"not an address".to_vec();
        assert_eq!(client_ip(&req), None);
        // A client's own header comes first; Spin's, appended, wins.
        req.headers[0].1 = b"203.0.113.9:1".to_vec();
        req.headers.push(("spin-client-addr".into(), b"127.0.0.1:5000".to_vec()));
        assert_eq!(client_ip(&req).as_deref(), Some("127.0.0.1"));
    }
}
