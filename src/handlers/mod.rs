//! One module per endpoint.

pub mod admin;
pub mod email_verification;
pub mod health;
pub mod jwks;
pub mod login;
pub mod logout;
pub mod openapi;
pub mod password;
pub mod password_reset;
pub mod profile;
pub mod refresh;
pub mod register;
pub mod sessions;
pub mod test_db;
pub mod test_event;

use crate::client_throttle::{Admission, ClientTerms};
use crate::config::{self, SpinVariables};
use crate::errors::Unavailable;
use crate::store::Store;
use std::rc::Rc;

thread_local! {
    /// The request's database connection. Spin runs one request per
    /// instance, so this lives exactly as long as the request; delivery
    /// after the response reuses the handler's connection instead of
    /// reading `database_url` and opening another.
    static STORE: std::cell::RefCell<Option<Rc<dyn Store>>> = const { std::cell::RefCell::new(None) };
}

thread_local! {
    /// Set when a handler's unit of work queued an event in the outbox, so
    /// that the outbox is delivered after the response. The handler says
    /// so: its status does not tell (a refused login queued one, a refused
    /// refresh only when it caught a replay).
    static QUEUED_EVENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub(crate) fn note_queued_event() {
    QUEUED_EVENT.set(true);
}

/// Whether [`note_queued_event`] was called in this request (and forgets it).
pub(crate) fn take_queued_event() -> bool {
    QUEUED_EVENT.replace(false)
}

thread_local! {
    /// Work a handler leaves for after its response (see [`defer`]).
    static DEFERRED: std::cell::RefCell<Option<Box<dyn FnOnce()>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `work` after the response has gone out, so that how long it takes
/// cannot show in the answer: a reset request does more for an account
/// than for an unknown address, and must not tell them apart.
pub(crate) fn defer(work: impl FnOnce() + 'static) {
    DEFERRED.set(Some(Box::new(work)));
}

/// Runs the deferred work, if any; whether it queued an event. Only the
/// wasm entry point, after its response, calls it.
#[cfg(target_arch = "wasm32")]
pub(crate) fn run_deferred() -> bool {
    if let Some(work) = DEFERRED.take() {
        work();
    }
    take_queued_event()
}

thread_local! {
    /// The request's `policy`, read once however many steps need it (each
    /// read is a host call).
    static POLICY: std::cell::RefCell<Option<Rc<crate::policy::Policy>>> = const { std::cell::RefCell::new(None) };
}

/// The `policy` variable, parsed on first use in a request.
pub(crate) fn policy() -> Result<Rc<crate::policy::Policy>, config::ConfigError> {
    if let Some(policy) = POLICY.with_borrow(Clone::clone) {
        return Ok(policy);
    }
    let policy = Rc::new(config::policy(&SpinVariables)?);
    POLICY.set(Some(policy.clone()));
    Ok(policy)
}

/// Throttling by client (DESIGN.md §7): the request's client and its
/// bucket's terms, or `None` when throttling by client is off or Spin gave
/// no address. One request in 256 also purges idle throttle rows.
pub(crate) fn client_terms(req: &crate::http_io::Request) -> Result<Option<ClientTerms>, crate::errors::ApiError> {
    let policy = policy()?;
    if policy.client_burst == 0 {
        return Ok(None);
    }
    let Some(client) = crate::client_throttle::client_key(req, &policy.trusted_proxies) else { return Ok(None) };
    let terms = ClientTerms { client, burst: policy.client_burst as f64, per_second: policy.client_refill_per_minute as f64 / 60.0 };
    let mut dice = [0u8; 1];
    if getrandom::fill(&mut dice).is_ok() && dice[0] == 0 {
        // A bucket idle until it is full again says nothing.
        let idle = (terms.burst / terms.per_second).ceil() as i64 + 1;
        if let Err(err) = open_store()?.purge_throttles(idle) {
            eprintln!("auth: purging idle throttle rows: {err:?}");
        }
    }
    Ok(Some(terms))
}

/// 429 `Too many requests` for a client whose bucket was empty.
pub(crate) fn admitted(admission: Admission) -> Result<(), crate::errors::ApiError> {
    match admission {
        Admission::Admitted => Ok(()),
        Admission::Refused { retry_after } => Err(crate::errors::ApiError::TooManyRequests { retry_after }),
    }
}

/// Takes a token from the client's bucket before a costly POST does
/// anything else, for the routes whose first statement does not take it
/// itself (`Route::client_token_first`).
pub(crate) fn admit_client(req: &crate::http_io::Request) -> Result<(), crate::errors::ApiError> {
    match client_terms(req)? {
        Some(terms) => admitted(open_store()?.take_client_token(&terms)?),
        None => Ok(()),
    }
}

/// The store `database_url` names (PostgreSQL, or Spin's SQLite when it is
/// empty), opened on first use in a request.
pub(crate) fn open_store() -> Result<Rc<dyn Store>, Unavailable> {
    if let Some(store) = STORE.with_borrow(Clone::clone) {
        return Ok(store);
    }
    let choice = config::store_config(&SpinVariables).map_err(Unavailable::Misconfigured)?;
    let store: Rc<dyn Store> = Rc::from(crate::store::open(choice)?);
    STORE.set(Some(store.clone()));
    Ok(store)
}

/// Delivers pending outbox rows (after a response, or for a flush); every
/// failure is logged and left for a later attempt.
pub(crate) fn deliver_outbox(max_batches: usize) -> crate::outbox::DrainReport {
    let skipped = |error: String| {
        eprintln!("auth: outbox delivery skipped: {error}");
        crate::outbox::DrainReport { error: Some(error), ..Default::default() }
    };
    let broker = match crate::broker::BrokerConfig::from_source(&SpinVariables) {
        Ok(broker) => broker,
        Err(err) => return skipped(err.to_string()),
    };
    match open_store() {
        Ok(store) => crate::outbox::drain(store.as_ref(), &broker, max_batches),
        Err(why) => skipped(format!("database: {}", why.code())),
    }
}

/// The claims of the request's access token, with the contract's answers
/// for a missing (403), expired or invalid (401) one. Whether its session
/// is still live is for the handler's own statement to say. A token signed
/// by a stored key costs a statement to fetch that key.
pub(crate) fn access_claims(req: &crate::http_io::Request) -> Result<crate::tokens::UserClaims, crate::errors::ApiError> {
    let token = required_bearer(req)?;
    let Some((alg, kid)) = stored_key_id(token) else {
        return secret_key_claims(token);
    };
    if let Some(claims) = own_token_claims(token, &alg, &kid)? {
        return Ok(claims);
    }
    match open_store()?.verifying_key(&kid)? {
        Some(key) => crate::signing_keys::verify(token, &key).map_err(token_refused),
        None => Err(token_refused(crate::tokens::TokenError::Invalid)),
    }
}

/// The claims of an EdDSA or ES256 token that this service minted under
/// the current `secret_key`, recognised by its `jti` tag without the cost
/// of the signature (src/token_self_check.rs); `None` for any other token.
pub(crate) fn own_token_claims(token: &str, alg: &str, kid: &str) -> Result<Option<crate::tokens::UserClaims>, crate::errors::ApiError> {
    let check = config::self_check(&SpinVariables)?;
    check.open(token, alg, kid).transpose().map_err(token_refused)
}

/// The bearer token, or the contract's 403 when there is none.
pub(crate) fn required_bearer(req: &crate::http_io::Request) -> Result<&str, crate::errors::ApiError> {
    bearer_token(req).ok_or(crate::errors::ApiError::forbidden("Token is missing"))
}

/// The claims of an HS256 token signed with `secret_key`.
pub(crate) fn secret_key_claims(token: &str) -> Result<crate::tokens::UserClaims, crate::errors::ApiError> {
    config::token_key(&SpinVariables)?.verify(token).map_err(token_refused)
}

/// The `alg` and `kid` of a token signed by a stored key pair (any
/// algorithm but HS256, whose key is `secret_key`); `None` for every other
/// token.
pub(crate) fn stored_key_id(token: &str) -> Option<(String, String)> {
    match crate::tokens::header(token)? {
        (alg, Some(kid)) if alg != "HS256" => Some((alg, kid)),
        _ => None,
    }
}

/// The contract's answer for a refused access token.
pub(crate) fn token_refused(error: crate::tokens::TokenError) -> crate::errors::ApiError {
    match error {
        crate::tokens::TokenError::Expired => crate::errors::ApiError::unauthorized("Token expired"),
        crate::tokens::TokenError::Invalid => crate::errors::ApiError::unauthorized("Invalid token"),
    }
}

/// What signs this request's tokens: `secret_key` for HS256; otherwise the
/// stored key that signs now (`stored`, from the statement that already
/// ran), or, when there is none yet or it was sealed under another
/// `secret_key`, a key pair made and stored now, signing at once.
pub(crate) fn access_signer(
    policy: &crate::policy::Policy,
    keys: &config::SessionKeys,
    stored: Option<&str>,
) -> Result<crate::signing_keys::AccessSigner, crate::errors::ApiError> {
    use crate::signing_keys::AccessSigner;
    let alg = policy.token_signing_alg;
    if !alg.is_asymmetric() {
        return Ok(AccessSigner::Hmac(keys.token.clone()));
    }
    let open = |stored: &str| AccessSigner::open(alg, stored, &keys.vault, &keys.self_check);
    if let Some(signer) = stored.and_then(open) {
        return Ok(signer);
    }
    // No key signs yet: the first one, or a racing instance's.
    if stored.is_none() {
        if let Some(signer) = open(&first_signing_key(policy, keys)?) {
            return Ok(signer);
        }
    }
    // The key that signs was sealed under another secret_key: a new pair
    // replaces it.
    let key = new_signing_key(policy, keys, 0)?;
    open(&format!("{} {}", key.kid, key.sealed_private)).ok_or(crate::errors::ApiError::Internal("a new signing key does not open"))
}

/// The key that signs the policy's algorithm from now on, none doing yet:
/// a new pair, unless another instance stored one first (then theirs, so
/// that instances racing on a new store agree), as `"<kid> <sealed private
/// half>"`.
pub(crate) fn first_signing_key(policy: &crate::policy::Policy, keys: &config::SessionKeys) -> Result<String, crate::errors::ApiError> {
    let key = crate::signing_keys::generate(policy.token_signing_alg, &keys.vault)
        .ok_or(crate::errors::ApiError::Internal("no randomness for a key pair"))?;
    let grace = policy.token_ttl_seconds + crate::tokens::LEEWAY_SECONDS;
    let signing = open_store()?
        .add_first_signing_key(&key, seconds(grace))?
        .ok_or(crate::errors::ApiError::Internal("no key signs after one was added"))?;
    if signing.split_once(' ').is_some_and(|(kid, _)| kid == key.kid) {
        eprintln!("auth: new {} signing key {}, signing now", key.alg.as_str(), key.kid);
    }
    Ok(signing)
}

/// Makes and stores a key pair for the policy's algorithm, signing
/// `activation_seconds` from now; the keys it replaces verify until every
/// token they signed has expired.
pub(crate) fn new_signing_key(
    policy: &crate::policy::Policy,
    keys: &config::SessionKeys,
    activation_seconds: u64,
) -> Result<crate::signing_keys::NewKey, crate::errors::ApiError> {
    let key = crate::signing_keys::generate(policy.token_signing_alg, &keys.vault)
        .ok_or(crate::errors::ApiError::Internal("no randomness for a key pair"))?;
    let grace = policy.token_ttl_seconds + crate::tokens::LEEWAY_SECONDS;
    open_store()?.add_signing_key(&key, seconds(activation_seconds), seconds(grace))?;
    eprintln!("auth: new {} signing key {}, signing in {activation_seconds} s", key.alg.as_str(), key.kid);
    Ok(key)
}

/// A policy duration for the store (policy bounds them far below
/// `i64::MAX`).
pub(crate) fn seconds(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The answer for an access token whose session has ended.
pub(crate) fn session_ended() -> crate::errors::ApiError {
    crate::errors::ApiError::unauthorized("Invalid token")
}

/// A login's or a refresh's answer (DESIGN.md §6): the Flask service's
/// `token` and the same JWT as `access_token`, with the session's refresh
/// token of `generation`. Never cached.
pub(crate) fn token_pair(
    user: crate::store::User,
    session_id: &str,
    generation: u32,
    policy: &crate::policy::Policy,
    signer: &crate::signing_keys::AccessSigner,
    refresh_key: &crate::sessions::RefreshKey,
) -> crate::errors::ApiResult {
    use crate::errors::ApiError;
    let claims = crate::tokens::UserClaims { user_id: user.id, username: user.username, sid: Some(session_id.to_owned()) };
    let access = signer
        .issue(claims, policy.token_ttl_seconds, &policy.token_issuer)
        .map_err(|_| ApiError::Internal("signing a token failed"))?;
    let refresh = refresh_key.token(session_id, generation).ok_or(ApiError::Internal("a session id that is not a UUID"))?;
    let body = serde_json::json!({
        "token": access,
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": policy.token_ttl_seconds,
        "refresh_token": refresh,
    });
    Ok(crate::response::Response::json(200, &body).with_header("cache-control", "no-store").with_header("pragma", "no-cache"))
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any
/// case); `None` when the header is absent, not UTF-8, another scheme or empty.
pub(crate) fn bearer_token(req: &crate::http_io::Request) -> Option<&str> {
    let value = req.header("authorization")?.trim();
    let (scheme, token) = value.split_once(char::is_whitespace)?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_io::{Method, Request};

    fn with_auth(value: &[u8]) -> Request {
        let mut req = Request::new(Method::Get, "/profile");
        req.headers.push(("authorization".into(), value.to_vec()));
        req
    }

    #[test]
    fn bearer_token_needs_the_scheme_and_a_token() {
        assert_eq!(bearer_token(&with_auth(b"Bearer abc.def.ghi")), Some("abc.def.ghi"));
        assert_eq!(bearer_token(&with_auth(b"bearer   abc ")), Some("abc"));
        for bad in [&b"Basic dXNlcjpwdw=="[..], b"Bearer", b"Bearer   ", b"abc.def.ghi", b"", b"Bearer \xff\xfe"] {
            assert_eq!(bearer_token(&with_auth(bad)), None, "{bad:?}");
        }
        assert_eq!(bearer_token(&Request::new(Method::Get, "/profile")), None);
    }
}
