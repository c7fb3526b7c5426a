//! Asymmetric signing keys (DESIGN.md §6): Ed25519 (`EdDSA`) and P-256
//! (`ES256`) key pairs that the service makes itself and keeps in the
//! store, the private half sealed with ChaCha20-Poly1305 under a key
//! derived from `secret_key` by HKDF, the public half as the JWK that
//! `/.well-known/jwks.json` publishes. A key's `kid` is its RFC 7638
//! thumbprint.
//!
//! The store hands a signing key over as `"<kid> <sealed private half>"`
//! and a verifying key as `"<alg> <public JWK>"`, one text column each, so
//! that the statements that already run can carry them.

use crate::token_self_check::SelfCheck;
use crate::tokens::{checked, claims_for, options, TokenError, TokenKey, UserClaims};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use jwt_simple::prelude::*;
use sha2::{Digest, Sha256};

/// What signs new access tokens (policy `token_signing_alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    /// HMAC with `secret_key`: the Flask service's tokens.
    Hs256,
    /// Ed25519.
    EdDsa,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl SigningAlg {
    pub const NAMES: [&'static str; 3] = ["HS256", "EdDSA", "ES256"];

    pub fn parse(text: &str) -> Option<SigningAlg> {
        match text {
            "HS256" => Some(SigningAlg::Hs256),
            "EdDSA" => Some(SigningAlg::EdDsa),
            "ES256" => Some(SigningAlg::Es256),
            _ => None,
        }
    }

    /// The JOSE name, as in a token's `alg` header and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Hs256 => "HS256",
            SigningAlg::EdDsa => "EdDSA",
            SigningAlg::Es256 => "ES256",
        }
    }

    /// Whether the store keeps key pairs for it.
    pub fn is_asymmetric(self) -> bool {
        self != SigningAlg::Hs256
    }
}

/// HKDF's `info` for the key that seals private halves.
const VAULT_LABEL: &[u8] = b"auth-service signing-key vault v1";
const NONCE_BYTES: usize = 12;

/// Seals and opens private halves. Its `Debug` shows nothing.
#[derive(Clone)]
pub struct KeyVault(ChaCha20Poly1305);

impl std::fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyVault([REDACTED])")
    }
}

impl KeyVault {
    /// Derived from `secret_key`; a different secret opens none of the
    /// sealed keys, and the service then makes a new key pair.
    pub fn derive(secret: &[u8]) -> KeyVault {
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 8,160.
        let _ = hkdf::Hkdf::<Sha256>::new(None, secret).expand(VAULT_LABEL, &mut okm);
        KeyVault(ChaCha20Poly1305::new(Key::from_slice(&okm)))
    }

    /// base64url(nonce ‖ ciphertext), bound to `kid` as associated data so
    /// a sealed half cannot be moved to another key's row.
    fn seal(&self, kid: &str, secret: &[u8]) -> Option<String> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).ok()?;
        let sealed = self.0.encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad: kid.as_bytes() }).ok()?;
        Base64UrlSafeNoPadding::encode_to_string([&nonce[..], &sealed].concat()).ok()
    }

    fn open(&self, kid: &str, sealed: &str) -> Option<Vec<u8>> {
        let mut raw = vec![0u8; sealed.len()];
        let raw = Base64UrlSafeNoPadding::decode(&mut raw, sealed, None).ok()?;
        if raw.len() <= NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_BYTES);
        self.0.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: kid.as_bytes() }).ok()
    }
}

/// A key pair just made, as the store keeps it.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub kid: String,
    pub alg: SigningAlg,
    /// The JWK that the JWKS document lists, `kid`, `alg` and `use` included.
    pub public_jwk: String,
    /// The private half, sealed by the [`KeyVault`].
    pub sealed_private: String,
}

fn b64(data: &[u8]) -> String {
    Base64UrlSafeNoPadding::encode_to_string(data).unwrap_or_default()
}

/// The RFC 7638 thumbprint of a JWK given by its required members, which
/// must come in lexicographic order.
fn thumbprint(members: &[(&str, &str)]) -> String {
    let canonical = serde_json::Value::Object(members.iter().map(|(k, v)| ((*k).to_owned(), (*v).into())).collect());
    b64(&Sha256::digest(canonical.to_string().as_bytes()))
}

/// Makes a key pair for `alg`; `None` for HS256 or when there is no
/// randomness.
pub fn generate(alg: SigningAlg, vault: &KeyVault) -> Option<NewKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).ok()?;
    let (private, members): (Vec<u8>, Vec<(&str, String)>) = match alg {
        SigningAlg::Hs256 => return None,
        SigningAlg::EdDsa => {
            let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
            (pair.to_vec(), vec![("crv", "Ed25519".into()), ("kty", "OKP".into()), ("x", b64(pair.pk.as_ref()))])
        }
        SigningAlg::Es256 => {
            // Any 32 bytes below the group order is a key; the odds of
            // drawing one above it are about 2^-32.
            let pair = ES256KeyPair::from_bytes(&seed).ok()?;
            let point = pair.public_key().public_key().to_bytes_uncompressed();
            let (x, y) = point.get(1..33).zip(point.get(33..65))?;
            (pair.to_bytes(), vec![("crv", "P-256".into()), ("kty", "EC".into()), ("x", b64(x)), ("y", b64(y))])
        }
    };
    let pairs: Vec<(&str, &str)> = members.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let kid = thumbprint(&pairs);
    let mut jwk: serde_json::Map<String, serde_json::Value> = members.into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
    jwk.insert("kid".into(), kid.clone().into());
    jwk.insert("alg".into(), alg.as_str().into());
    jwk.insert("use".into(), "sig".into());
    let sealed_private = vault.seal(&kid, &private)?;
    Some(NewKey { kid, alg, public_jwk: serde_json::Value::Object(jwk).to_string(), sealed_private })
}

/// What signs this request's access tokens.
pub enum AccessSigner {
    Hmac(TokenKey),
    /// A stored key pair, and the key of the `jti` tag by which the service
    /// recognises its own tokens (src/token_self_check.rs).
    Pair(Box<StoredPair>, SelfCheck),
}

pub enum StoredPair {
    Ed25519(Ed25519KeyPair),
    P256(ES256KeyPair),
}

impl AccessSigner {
    /// The store's `"<kid> <sealed>"` for `alg`, opened; `None` when it is
    /// malformed or was sealed under another `secret_key`.
    pub fn open(alg: SigningAlg, stored: &str, vault: &KeyVault, self_check: &SelfCheck) -> Option<AccessSigner> {
        let (kid, sealed) = stored.split_once(' ')?;
        let private = vault.open(kid, sealed)?;
        let pair = match alg {
            SigningAlg::Hs256 => return None,
            SigningAlg::EdDsa => StoredPair::Ed25519(Ed25519KeyPair::from_bytes(&private).ok()?.with_key_id(kid)),
            SigningAlg::Es256 => StoredPair::P256(ES256KeyPair::from_bytes(&private).ok()?.with_key_id(kid)),
        };
        Some(AccessSigner::Pair(Box::new(pair), self_check.clone()))
    }

    /// A signed token for `claims` from `issuer`, valid `ttl_seconds` from
    /// now, with a unique `jti`.
    pub fn issue(&self, claims: UserClaims, ttl_seconds: u64, issuer: &str) -> Result<String, jwt_simple::Error> {
        let (pair, self_check) = match self {
            AccessSigner::Hmac(key) => return key.issue(claims, ttl_seconds, uuid::Uuid::new_v4().to_string(), issuer),
            AccessSigner::Pair(pair, self_check) => (pair, self_check),
        };
        let claims = claims_for(claims, ttl_seconds, String::new(), issuer);
        let unsealed = || jwt_simple::Error::msg("no randomness for a token id");
        match pair.as_ref() {
            StoredPair::Ed25519(pair) => {
                let kid = pair.key_id().as_deref().unwrap_or_default();
                pair.sign(self_check.seal("EdDSA", kid, claims).ok_or_else(unsealed)?)
            }
            StoredPair::P256(pair) => {
                let kid = pair.key_id().as_deref().unwrap_or_default();
                pair.sign(self_check.seal("ES256", kid, claims).ok_or_else(unsealed)?)
            }
        }
    }
}

/// The members of a stored public JWK that verification needs.
#[derive(Deserialize)]
struct PublicJwk {
    x: String,
    #[serde(default)]
    y: Option<String>,
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let mut raw = vec![0u8; text.len()];
    Base64UrlSafeNoPadding::decode(&mut raw, text, None).ok().map(<[u8]>::to_vec)
}

/// Verifies `token` with the store's `"<alg> <public JWK>"`: signature (of
/// that algorithm only), times and the user claims.
pub fn verify(token: &str, stored: &str) -> Result<UserClaims, TokenError> {
    let (alg, jwk) = stored.split_once(' ').ok_or(TokenError::Invalid)?;
    let jwk: PublicJwk = serde_json::from_str(jwk).map_err(|_| TokenError::Invalid)?;
    let x = decode(&jwk.x).ok_or(TokenError::Invalid)?;
    match (SigningAlg::parse(alg), jwk.y.as_deref().map(decode)) {
        (Some(SigningAlg::EdDsa), None) => {
            let key = Ed25519PublicKey::from_bytes(&x).map_err(|_| TokenError::Invalid)?;
            checked(key.verify_token::<UserClaims>(token, Some(options(None))))
        }
        (Some(SigningAlg::Es256), Some(Some(y))) => {
            let key = ES256PublicKey::from_bytes(&[&[4u8][..], &x, &y].concat()).map_err(|_| TokenError::Invalid)?;
            checked(key.verify_token::<UserClaims>(token, Some(options(None))))
        }
        _ => Err(TokenError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> KeyVault {
        KeyVault::derive(b"unit-test-secret-key-0123456789abcdef")
    }

    fn check() -> SelfCheck {
        SelfCheck::derive(b"unit-test-secret-key-0123456789abcdef")
    }

    fn claims() -> UserClaims {
        UserClaims { user_id: "u-1".into(), username: "alice".into(), sid: Some("s-1".into()) }
    }

    fn stored_public(key: &NewKey) -> String {
        format!("{} {}", key.alg.as_str(), key.public_jwk)
    }

    #[test]
    fn each_algorithm_signs_with_its_kid_and_verifies_from_the_published_jwk() {
        for alg in [SigningAlg::EdDsa, SigningAlg::Es256] {
            let key = generate(alg, &vault()).unwrap();
            let jwk: serde_json::Value = serde_json::from_str(&key.public_jwk).unwrap();
            assert_eq!((jwk["kid"].as_str(), jwk["alg"].as_str(), jwk["use"].as_str()), (Some(key.kid.as_str()), Some(alg.as_str()), Some("sig")));
            assert!(jwk.get("d").is_none(), "no private member: {jwk}");
            let signer = AccessSigner::open(alg, &format!("{} {}", key.kid, key.sealed_private), &vault(), &check()).unwrap();
            let token = signer.issue(claims(), 600, "auth-service").unwrap();
            assert_eq!(crate::tokens::header(&token), Some((alg.as_str().to_owned(), Some(key.kid.clone()))));
            assert_eq!(verify(&token, &stored_public(&key)), Ok(claims()));
            let other = generate(alg, &vault()).unwrap();
            assert_ne!(other.kid, key.kid);
            assert_eq!(verify(&token, &stored_public(&other)), Err(TokenError::Invalid), "another key of {alg:?}");
        }
    }

    #[test]
    fn the_kid_is_the_rfc7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key.
        let members = [("crv", "Ed25519"), ("kty", "OKP"), ("x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")];
        assert_eq!(thumbprint(&members), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn a_token_of_another_algorithm_or_a_forged_key_is_refused() {
        let ed = generate(SigningAlg::EdDsa, &vault()).unwrap();
        let es = generate(SigningAlg::Es256, &vault()).unwrap();
        let ed_signer = AccessSigner::open(SigningAlg::EdDsa, &format!("{} {}", ed.kid, ed.sealed_private), &vault(), &check()).unwrap();
        let token = ed_signer.issue(claims(), 600, "i").unwrap();
        assert_eq!(verify(&token, &stored_public(&es)), Err(TokenError::Invalid), "an ES256 key for an EdDSA token");
        assert_eq!(verify(&token, &format!("ES256 {}", ed.public_jwk)), Err(TokenError::Invalid));
        assert_eq!(verify(&token, "EdDSA {}"), Err(TokenError::Invalid));
        assert_eq!(verify(&token, "garbage"), Err(TokenError::Invalid));
        let hmac = TokenKey::new(b"unit-test-secret-key-0123456789abcdef").unwrap().issue(claims(), 600, "j".into(), "i").unwrap();
        assert_eq!(verify(&hmac, &stored_public(&ed)), Err(TokenError::Invalid), "HS256 against a public key");
    }

    #[test]
    fn a_sealed_half_opens_only_under_its_secret_and_its_kid() {
        let key = generate(SigningAlg::EdDsa, &vault()).unwrap();
        assert!(!key.public_jwk.contains(&key.sealed_private));
        let other_vault = KeyVault::derive(b"another-secret-key-that-is-long-enough");
        assert!(AccessSigner::open(SigningAlg::EdDsa, &format!("{} {}", key.kid, key.sealed_private), &other_vault, &check()).is_none());
        assert!(AccessSigner::open(SigningAlg::EdDsa, &format!("other-kid {}", key.sealed_private), &vault(), &check()).is_none());
        assert!(AccessSigner::open(SigningAlg::EdDsa, "kid AAAA", &vault(), &check()).is_none());
        assert!(AccessSigner::open(SigningAlg::EdDsa, "no-space", &vault(), &check()).is_none());
        assert_eq!(format!("{:?}", vault()), "KeyVault([REDACTED])");
    }
}
