//! How the service recognises its own EdDSA and ES256 tokens without
//! verifying their signature: Ed25519 verification costs about 300 µs of
//! CPU in wasm32 (no 64-bit multiply with a 128-bit result), which cut
//! `/profile` to a quarter of its HS256 throughput (README, Performance).
//!
//! Each such token's `jti` is a 12-byte nonce and a 16-byte HMAC-SHA256
//! tag, keyed by HKDF from `secret_key`, over the header's `alg` and `kid`
//! and every claim the service reads. A token whose tag checks was minted
//! here, so its claims are the service's own; any other (one minted before
//! `secret_key` changed, or a forgery) goes through the full signature
//! check against the stored public key. This trusts nothing HS256 does not
//! already trust: whoever holds `secret_key` can mint HS256 tokens anyway,
//! and a tagged token with a wrong signature can only be made from one of
//! the service's own tokens, which its bearer could present as it is.
//! Other verifiers see an opaque, unique `jti` and check the signature.

use crate::tokens::{TokenError, UserClaims, LEEWAY_SECONDS};
use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use hmac::{Hmac, Mac};
use jwt_simple::prelude::JWTClaims;
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// HKDF's `info` for the tag's key.
const KEY_LABEL: &[u8] = b"auth-service access-token self-check v1";
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
/// Ed25519's and ES256's (r ‖ s) signature length.
const SIGNATURE_BYTES: usize = 64;

/// The tag's key. Its `Debug` shows nothing.
#[derive(Clone)]
pub struct SelfCheck(Hmac<Sha256>);

impl std::fmt::Debug for SelfCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SelfCheck([REDACTED])")
    }
}

/// The claims the tag covers, as a token carries them.
#[derive(Deserialize)]
struct Payload {
    user_id: String,
    username: String,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    jti: Option<String>,
}

/// The parts of a token the tag covers.
struct Covered<'a> {
    alg: &'a str,
    kid: &'a str,
    user_id: &'a str,
    username: &'a str,
    sid: Option<&'a str>,
    iss: Option<&'a str>,
    iat: Option<u64>,
    exp: Option<u64>,
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl SelfCheck {
    pub fn derive(secret: &[u8]) -> SelfCheck {
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 8,160.
        let _ = hkdf::Hkdf::<Sha256>::new(None, secret).expand(KEY_LABEL, &mut okm);
        SelfCheck(<Hmac<Sha256> as Mac>::new_from_slice(&okm).expect("HMAC takes any key length"))
    }

    /// Each part length-prefixed (absent ones as a distinct marker), so no
    /// two different tokens feed the MAC the same bytes.
    fn tag(&self, nonce: &[u8], covered: &Covered<'_>) -> [u8; TAG_BYTES] {
        let mut mac = self.0.clone();
        mac.update(nonce);
        let texts = [Some(covered.alg), Some(covered.kid), Some(covered.user_id), Some(covered.username), covered.sid, covered.iss];
        for text in texts {
            match text {
                Some(text) => {
                    mac.update(&[1]);
                    mac.update(&(text.len() as u64).to_be_bytes());
                    mac.update(text.as_bytes());
                }
                None => mac.update(&[0]),
            }
        }
        for number in [covered.iat, covered.exp] {
            mac.update(&number.map_or([0xff; 8], u64::to_be_bytes));
        }
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&mac.finalize().into_bytes()[..TAG_BYTES]);
        tag
    }

    /// `claims` with the tagged `jti`, for a token of `alg` signed by `kid`.
    pub fn seal(&self, alg: &str, kid: &str, claims: JWTClaims<UserClaims>) -> Option<JWTClaims<UserClaims>> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).ok()?;
        let covered = Covered {
            alg,
            kid,
            user_id: &claims.custom.user_id,
            username: &claims.custom.username,
            sid: claims.custom.sid.as_deref(),
            iss: claims.issuer.as_deref(),
            iat: claims.issued_at.map(|t| t.as_secs()),
            exp: claims.expires_at.map(|t| t.as_secs()),
        };
        let tag = self.tag(&nonce, &covered);
        let jti = Base64UrlSafeNoPadding::encode_to_string([&nonce[..], &tag].concat()).ok()?;
        Some(claims.with_jwt_id(jti))
    }

    /// The claims of a token this service minted with `alg` and `kid`
    /// (`Err(Expired)` once past `exp`); `None` when its tag does not check,
    /// and the signature must decide.
    pub fn open(&self, token: &str, alg: &str, kid: &str) -> Option<Result<UserClaims, TokenError>> {
        let mut parts = token.split('.');
        let (_, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        // A signature of the right shape (both algorithms' are 64 bytes):
        // one that is missing or malformed is for the full check to refuse.
        let mut raw_signature = [0u8; SIGNATURE_BYTES];
        if parts.next().is_some() || Base64UrlSafeNoPadding::decode(&mut raw_signature, signature, None).ok()?.len() != SIGNATURE_BYTES {
            return None;
        }
        let mut raw = vec![0u8; payload.len()];
        let raw = Base64UrlSafeNoPadding::decode(&mut raw, payload, None).ok()?;
        let claims: Payload = serde_json::from_slice(raw).ok()?;
        let mut jti = [0u8; NONCE_BYTES + TAG_BYTES];
        let jti = Base64UrlSafeNoPadding::decode(&mut jti, claims.jti.as_deref()?, None).ok()?;
        if jti.len() != NONCE_BYTES + TAG_BYTES || claims.nbf.is_some() {
            return None;
        }
        let (nonce, tag) = jti.split_at(NONCE_BYTES);
        let covered = Covered {
            alg,
            kid,
            user_id: &claims.user_id,
            username: &claims.username,
            sid: claims.sid.as_deref(),
            iss: claims.iss.as_deref(),
            iat: claims.iat,
            exp: claims.exp,
        };
        if !bool::from(self.tag(nonce, &covered).ct_eq(tag)) {
            return None;
        }
        let exp = claims.exp?;
        if now() > exp.saturating_add(LEEWAY_SECONDS) {
            return Some(Err(TokenError::Expired));
        }
        Some(Ok(UserClaims { user_id: claims.user_id, username: claims.username, sid: claims.sid }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing_keys::{generate, AccessSigner, KeyVault, SigningAlg};
    use crate::tokens::header;

    const SECRET: &[u8] = b"unit-test-secret-key-0123456789abcdef";

    fn claims() -> UserClaims {
        UserClaims { user_id: "u-1".into(), username: "alice".into(), sid: Some("s-1".into()) }
    }

    fn signed(ttl: u64) -> (String, String) {
        let vault = KeyVault::derive(SECRET);
        let key = generate(SigningAlg::EdDsa, &vault).unwrap();
        let signer = AccessSigner::open(SigningAlg::EdDsa, &format!("{} {}", key.kid, key.sealed_private), &vault, &SelfCheck::derive(SECRET)).unwrap();
        (signer.issue(claims(), ttl, "auth-service").unwrap(), key.kid)
    }

    /// A token's three parts and its decoded payload.
    fn split(token: &str) -> (Vec<&str>, serde_json::Value) {
        let parts: Vec<&str> = token.split('.').collect();
        let mut raw = vec![0u8; parts[1].len()];
        let payload = serde_json::from_slice(Base64UrlSafeNoPadding::decode(&mut raw, parts[1], None).unwrap()).unwrap();
        (parts, payload)
    }

    #[test]
    fn the_service_recognises_its_own_tokens() {
        let (token, kid) = signed(600);
        assert_eq!(header(&token).unwrap().1.as_deref(), Some(kid.as_str()));
        assert_eq!(SelfCheck::derive(SECRET).open(&token, "EdDSA", &kid), Some(Ok(claims())));
        // Under another secret_key, or named with another key or algorithm,
        // it is left to the signature.
        assert_eq!(SelfCheck::derive(b"another-secret-key-that-is-long-enough").open(&token, "EdDSA", &kid), None);
        assert_eq!(SelfCheck::derive(SECRET).open(&token, "EdDSA", "other-kid"), None);
        assert_eq!(SelfCheck::derive(SECRET).open(&token, "ES256", &kid), None);
    }

    #[test]
    fn a_changed_claim_or_jti_is_left_to_the_signature() {
        let (token, kid) = signed(600);
        let (parts, payload) = split(&token);
        let check = SelfCheck::derive(SECRET);
        let mut changes: Vec<serde_json::Value> = Vec::new();
        for (field, value) in [("username", "mallory".into()), ("user_id", "u-2".into()), ("sid", "s-2".into()), ("exp", 9_999_999_999u64.into()), ("jti", "AAAA".into())] {
            let mut changed = payload.clone();
            changed[field] = value;
            changes.push(changed);
        }
        assert_eq!(check.open(&format!("{}.{}.", parts[0], parts[1]), "EdDSA", &kid), None, "no signature");
        assert_eq!(check.open(&format!("{}.{}.{}.x", parts[0], parts[1], parts[2]), "EdDSA", &kid), None, "four parts");
        let mut with_nbf = payload.clone();
        with_nbf["nbf"] = 1.into();
        changes.push(with_nbf);
        for changed in changes {
            let body = Base64UrlSafeNoPadding::encode_to_string(changed.to_string()).unwrap();
            assert_eq!(check.open(&format!("{}.{body}.{}", parts[0], parts[2]), "EdDSA", &kid), None, "{changed}");
        }
    }

    #[test]
    fn an_expired_own_token_is_expired() {
        let (token, kid) = signed(60);
        let (parts, payload) = split(&token);
        // Re-tag the same claims with exp in the past, as a token minted an
        // hour ago would be.
        let check = SelfCheck::derive(SECRET);
        let nonce = [7u8; NONCE_BYTES];
        let exp = now() - 3600;
        let covered = Covered { alg: "EdDSA", kid: &kid, user_id: "u-1", username: "alice", sid: Some("s-1"), iss: Some("auth-service"), iat: payload["iat"].as_u64(), exp: Some(exp) };
        let jti = Base64UrlSafeNoPadding::encode_to_string([&nonce[..], &check.tag(&nonce, &covered)].concat()).unwrap();
        let mut old = payload.clone();
        old["exp"] = exp.into();
        old["jti"] = jti.into();
        let body = Base64UrlSafeNoPadding::encode_to_string(old.to_string()).unwrap();
        assert_eq!(check.open(&format!("{}.{body}.{}", parts[0], parts[2]), "EdDSA", &kid), Some(Err(TokenError::Expired)));
    }
}
