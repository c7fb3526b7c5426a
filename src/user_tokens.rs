//! Single-use tokens sent to a user's address (DESIGN.md §7): password
//! reset and e-mail verification. A token is 32 random bytes in base64url;
//! the event a mailer consumes carries it, and the store keeps only its
//! SHA-256, so a copy of the database resets no password. The token is
//! random, not chosen, so a plain hash suffices: there is nothing to guess
//! that a salt or stretching would protect.

use ct_codecs::{Base64UrlSafeNoPadding, Encoder, Hex};
use sha2::{Digest, Sha256};

/// The length of every token handed out: 256 bits in unpadded base64url.
pub const TOKEN_CHARS: usize = 43;

/// A new token, with what the store keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    /// For the event only.
    pub token: String,
    /// SHA-256 of the token, lowercase hex.
    pub hash: String,
    /// The end of its life, ISO-8601 UTC with milliseconds (the SQLite
    /// store's time format, which PostgreSQL also reads).
    pub expires_at: String,
}

/// A token living `ttl_seconds`; `None` without a source of randomness.
pub fn issue(ttl_seconds: u64) -> Option<UserToken> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    let token = Base64UrlSafeNoPadding::encode_to_string(bytes).ok()?;
    let ttl = chrono::Duration::seconds(i64::try_from(ttl_seconds).ok()?);
    let expires_at = (chrono::Utc::now() + ttl).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Some(UserToken { hash: hash(&token), token, expires_at })
}

/// What the store looks a presented token up by.
pub fn hash(token: &str) -> String {
    // A 32-byte digest always fits Hex's output.
    Hex::encode_to_string(Sha256::digest(token.as_bytes())).unwrap_or_default()
}

/// Whether `text` could be a token this service issued; anything else is
/// refused before the store is asked.
pub fn well_formed(text: &str) -> bool {
    text.len() == TOKEN_CHARS && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_kept_as_their_hash() {
        let a = issue(3600).unwrap();
        let b = issue(3600).unwrap();
        assert_ne!(a.token, b.token);
        assert!(well_formed(&a.token) && well_formed(&b.token), "{}", a.token);
        assert_eq!(a.hash, hash(&a.token));
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.token));
        let end = chrono::DateTime::parse_from_rfc3339(&a.expires_at).unwrap();
        let left = end.signed_duration_since(chrono::Utc::now()).num_seconds();
        assert!((3590..=3600).contains(&left), "{left}");
        assert!(a.expires_at.ends_with('Z') && a.expires_at.len() == "2026-01-01T00:00:00.000Z".len(), "{}", a.expires_at);
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        // FIPS 180-2's "abc" vector.
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn only_the_issued_shape_is_well_formed() {
        for bad in ["", "short", &"a".repeat(42), &"a".repeat(44), &format!("{}=", "a".repeat(42)), &format!("{}+", "a".repeat(42))] {
            assert!(!well_formed(bad), "{bad}");
        }
        assert!(well_formed(&format!("{}-_", "A".repeat(41))));
    }
}
