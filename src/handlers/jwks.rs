//! `GET /.well-known/jwks.json`: the public halves of the stored key pairs
//! that verify tokens (DESIGN.md §6), in one query. Never an HMAC key:
//! while `token_signing_alg` is HS256 and no key pair was ever made, the
//! set is empty.

use crate::config::{self, SpinVariables};
use crate::errors::ApiResult;
use crate::response::Response;

/// Verifiers may cache the set this long: one key-activation delay.
const CACHE_CONTROL: &str = "public, max-age=300";

pub fn get() -> ApiResult {
    let policy = super::policy()?;
    let store = super::open_store()?;
    let mut keys = store.published_keys()?;
    let alg = policy.token_signing_alg;
    let prefix = format!("{} ", alg.as_str());
    if alg.is_asymmetric() && !keys.iter().any(|k| k.starts_with(&prefix)) {
        // The first key pair is published before it signs anything.
        super::first_signing_key(&policy, &config::session_keys(&SpinVariables)?)?;
        keys = store.published_keys()?;
    }
    // The stored JWKs are this service's own JSON objects; joined as they are.
    let jwks: Vec<&str> = keys.iter().filter_map(|k| k.split_once(' ').map(|(_, jwk)| jwk)).collect();
    let body = format!(r#"{{"keys":[{}]}}"#, jwks.join(","));
    Ok(Response::new(200, "application/json", body.into_bytes()).with_header("cache-control", CACHE_CONTROL))
}
