//! Refresh tokens (DESIGN.md §6).
//!
//! A refresh token names its session and its generation and carries an
//! HMAC-SHA256 over both, keyed from `secret_key` by HKDF. The store keeps
//! only each session's newest generation and when it was handed out, never
//! a token: a copy of the database cannot be turned into one, any token the
//! service ever minted is recognised (so a replay of an old one is caught
//! and revokes its session), and the token a rotation just handed out can be
//! handed out again to a concurrent refresh within the grace window instead
//! of forking the session.

use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// HKDF's `info` for the refresh-token key: a new purpose gets a new label.
const KEY_LABEL: &[u8] = b"auth-service refresh-token v1";
/// Session id (a UUID's 16 bytes), generation (4 bytes), HMAC (32 bytes).
const TOKEN_BYTES: usize = 16 + 4 + 32;
/// The length of a token's base64url text.
pub const TOKEN_CHARS: usize = 70;

/// The key refresh tokens are signed with. Its `Debug` shows nothing.
#[derive(Clone)]
pub struct RefreshKey(Hmac<Sha256>);

impl std::fmt::Debug for RefreshKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshKey([REDACTED])")
    }
}

/// What a well-formed, authentic refresh token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshClaim {
    pub session_id: String,
    pub generation: u32,
}

impl RefreshKey {
    /// Derived from `secret_key` (HKDF-SHA256, no salt); changing the secret
    /// key ends every session at its next refresh.
    pub fn derive(secret: &[u8]) -> RefreshKey {
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 8,160.
        let _ = hkdf::Hkdf::<Sha256>::new(None, secret).expand(KEY_LABEL, &mut okm);
        // HMAC takes a key of any length.
        RefreshKey(<Hmac<Sha256> as Mac>::new_from_slice(&okm).expect("HMAC takes any key length"))
    }

    fn tag(&self, id: &[u8; 16], generation: u32) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(id);
        mac.update(&generation.to_be_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The token of `session_id`'s `generation`; `None` when the id is not
    /// a UUID (the service makes every session id itself).
    pub fn token(&self, session_id: &str, generation: u32) -> Option<String> {
        let id = *uuid::Uuid::parse_str(session_id).ok()?.as_bytes();
        let mut raw = [0u8; TOKEN_BYTES];
        raw[..16].copy_from_slice(&id);
        raw[16..20].copy_from_slice(&generation.to_be_bytes());
        raw[20..].copy_from_slice(&self.tag(&id, generation));
        Base64UrlSafeNoPadding::encode_to_string(raw).ok()
    }

    /// The session and generation of a token this key minted; `None` for
    /// anything else, checked in constant time.
    pub fn open(&self, token: &str) -> Option<RefreshClaim> {
        if token.len() != TOKEN_CHARS {
            return None;
        }
        let mut raw = [0u8; TOKEN_BYTES];
        let decoded = Base64UrlSafeNoPadding::decode(&mut raw, token, None).ok()?;
        if decoded.len() != TOKEN_BYTES {
            return None;
        }
        let id: [u8; 16] = raw[..16].try_into().ok()?;
        let generation = u32::from_be_bytes(raw[16..20].try_into().ok()?);
        if !bool::from(self.tag(&id, generation).ct_eq(&raw[20..])) {
            return None;
        }
        Some(RefreshClaim { session_id: uuid::Uuid::from_bytes(id).to_string(), generation })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"unit-test-secret-key-0123456789abcdef";
    const SESSION: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    #[test]
    fn a_token_opens_to_its_session_and_generation() {
        let key = RefreshKey::derive(SECRET);
        for generation in [0, 1, 77, u32::MAX] {
            let token = key.token(SESSION, generation).unwrap();
            assert_eq!(token.len(), TOKEN_CHARS);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
            assert_eq!(key.open(&token), Some(RefreshClaim { session_id: SESSION.into(), generation }));
        }
        assert_ne!(key.token(SESSION, 1), key.token(SESSION, 2), "every generation has its own token");
        assert_eq!(key.token("not-a-uuid", 0), None);
    }

    #[test]
    fn only_this_key_opens_its_tokens() {
        let key = RefreshKey::derive(SECRET);
        let token = key.token(SESSION, 3).unwrap();
        let other = RefreshKey::derive(b"another-secret-key-0123456789abcdef!!");
        assert_eq!(other.open(&token), None);
        // Every single-character change, the session id's and the
        // generation's included, is refused.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            assert_eq!(key.open(std::str::from_utf8(&bytes).unwrap()), None, "position {i}");
        }
        for bad in ["", "x", &token[1..], &format!("{token}A"), &token.replace(&token[..4], "!!!!")] {
            assert_eq!(key.open(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_key_is_hkdf_of_the_secret() {
        // RFC 5869's construction spelled out with HMAC: PRK = HMAC(zeros, secret),
        // OKM = HMAC(PRK, info || 0x01); the token's tag is HMAC(OKM, id || generation).
        let hmac = |key: &[u8], parts: &[&[u8]]| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
            parts.iter().for_each(|p| mac.update(p));
            mac.finalize().into_bytes().to_vec()
        };
        let prk = hmac(&[0u8; 32], &[SECRET]);
        let okm = hmac(&prk, &[KEY_LABEL, &[1]]);
        let id = uuid::Uuid::parse_str(SESSION).unwrap();
        let tag = hmac(&okm, &[id.as_bytes(), &5u32.to_be_bytes()]);
        let token = RefreshKey::derive(SECRET).token(SESSION, 5).unwrap();
        let raw = Base64UrlSafeNoPadding::decode_to_vec(&token, None).unwrap();
        assert_eq!(&raw[20..], tag.as_slice());
        assert!(!format!("{:?}", RefreshKey::derive(SECRET)).contains("0x"));
    }
}
