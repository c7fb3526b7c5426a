//! JWT issuing and checking: HS256 with the shared secret key, the Flask
//! service's claims (`user_id`, `username`, `exp`) plus `sub`, `iat`, `jti`,
//! `iss` and the session's `sid`.
//! No `aud` and no `nbf`, which PyJWT peers would trip over (DESIGN.md §1).

use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use jwt_simple::prelude::*;
use jwt_simple::JWTError;
use std::fmt;

/// The shortest key this service signs with.
pub const MIN_KEY_BYTES: usize = 32;
/// Clock drift tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: u64 = 5;
/// Tokens longer than this are refused unparsed.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The claims this service puts in a token beside the registered ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    pub user_id: String,
    pub username: String,
    /// The session the token belongs to; the Flask service's have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Why a token was refused, mapped to the contract's two 401 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

/// The HS256 key and its `kid`. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct TokenKey(HS256Key);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey([REDACTED])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTooShort(pub usize);

/// HKDF's `info` for the HS256 key's `kid`, which names the secret without
/// revealing anything of it.
const KID_LABEL: &[u8] = b"auth-service hs256 key id v1";

/// Refuses secrets shorter than [`MIN_KEY_BYTES`].
pub fn check_length(secret: &[u8]) -> Result<(), KeyTooShort> {
    match secret.len() < MIN_KEY_BYTES {
        true => Err(KeyTooShort(secret.len())),
        false => Ok(()),
    }
}

impl TokenKey {
    /// Refuses keys shorter than [`MIN_KEY_BYTES`].
    pub fn new(secret: &[u8]) -> Result<TokenKey, KeyTooShort> {
        check_length(secret)?;
        Ok(TokenKey(HS256Key::from_bytes(secret)))
    }

    /// The `kid` this key's tokens carry. Derived when a token is issued,
    /// not on every verification, which needs none.
    pub fn kid(&self) -> String {
        let mut id = [0u8; 12];
        // 12 bytes is far below HKDF-SHA256's limit.
        let _ = hkdf::Hkdf::<sha2::Sha256>::new(None, &self.0.to_bytes()).expand(KID_LABEL, &mut id);
        format!("hs256-{}", Base64UrlSafeNoPadding::encode_to_string(id).unwrap_or_default())
    }

    /// A signed token for `claims` from `issuer`, valid `ttl_seconds` from now.
    pub fn issue(&self, claims: UserClaims, ttl_seconds: u64, jwt_id: String, issuer: &str) -> Result<String, jwt_simple::Error> {
        self.0.clone().with_key_id(&self.kid()).authenticate(claims_for(claims, ttl_seconds, jwt_id, issuer))
    }

    /// Verifies signature, algorithm (HS256 only) and times, and requires
    /// `exp` and the user claims. Any `kid`, or none (the Flask service's
    /// tokens have none), is taken: the signature decides.
    pub fn verify(&self, token: &str) -> Result<UserClaims, TokenError> {
        self.verify_at(token, None)
    }

    fn verify_at(&self, token: &str, now: Option<UnixTimeStamp>) -> Result<UserClaims, TokenError> {
        checked(self.0.verify_token::<UserClaims>(token, Some(options(now))))
    }
}

/// The registered claims this service puts around `claims` (no `nbf`).
pub fn claims_for(claims: UserClaims, ttl_seconds: u64, jwt_id: String, issuer: &str) -> JWTClaims<UserClaims> {
    let subject = claims.user_id.clone();
    let mut claims = Claims::with_custom_claims(claims, Duration::from_secs(ttl_seconds))
        .with_subject(subject)
        .with_jwt_id(jwt_id)
        .with_issuer(issuer);
    claims.invalid_before = None;
    claims
}

/// The checks every verification makes, whatever the algorithm.
pub fn options(now: Option<UnixTimeStamp>) -> VerificationOptions {
    VerificationOptions {
        time_tolerance: Some(Duration::from_secs(LEEWAY_SECONDS)),
        max_token_length: Some(MAX_TOKEN_BYTES),
        artificial_time: now,
        ..Default::default()
    }
}

/// A verification's outcome as the contract's two refusals; `exp` is required.
pub fn checked(result: Result<JWTClaims<UserClaims>, jwt_simple::Error>) -> Result<UserClaims, TokenError> {
    match result {
        Ok(claims) if claims.expires_at.is_some() => Ok(claims.custom),
        Ok(_) => Err(TokenError::Invalid),
        Err(err) => match err.downcast_ref::<JWTError>() {
            Some(JWTError::TokenHasExpired) => Err(TokenError::Expired),
            _ => Err(TokenError::Invalid),
        },
    }
}

/// A token's `alg` and `kid`, unverified; `None` for anything that is not
/// a JWT of a sane size.
pub fn header(token: &str) -> Option<(String, Option<String>)> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let metadata = Token::decode_metadata(token).ok()?;
    Some((metadata.algorithm().to_owned(), metadata.key_id().map(str::to_owned)))
}

/// The user claims of a token before its signature is checked, so that
/// `/profile` can fetch the user, the session and the verifying key in one
/// statement; nothing read here is trusted until the signature is.
pub fn unverified_claims(token: &str) -> Option<UserClaims> {
    let payload = token.split('.').nth(1)?;
    if payload.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let mut raw = vec![0u8; payload.len()];
    let raw = Base64UrlSafeNoPadding::decode(&mut raw, payload, None).ok()?;
    serde_json::from_slice(raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    const SECRET: &[u8] = b"unit-test-secret-key-0123456789abcdef";

    fn key() -> TokenKey {
        TokenKey::new(SECRET).unwrap()
    }

    fn claims() -> UserClaims {
        UserClaims { user_id: "6f1c2a9e-5a0b-4d8e-9a77-0c7f1f0b2c11".into(), username: "alice".into(), sid: None }
    }

    fn b64(data: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
    }

    fn payload_of(token: &str) -> serde_json::Value {
        let part = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    /// An HS256 token signed with `SECRET` over any header and payload, the
    /// way PyJWT builds one.
    fn sign_raw(header: &str, payload: &str) -> String {
        use hmac::Mac;
        let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(signing_input.as_bytes());
        format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
    }

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn issued_token_round_trips_with_the_contract_claims() {
        let token = key().issue(claims(), 3600, "jti-1".into(), "auth-service").unwrap();
        assert_eq!(key().verify(&token), Ok(claims()));
        let payload = payload_of(&token);
        assert_eq!(payload["user_id"], claims().user_id);
        assert_eq!(payload["username"], "alice");
        assert_eq!(payload["sub"], claims().user_id);
        assert_eq!(payload["jti"], "jti-1");
        assert_eq!(payload["iss"], "auth-service");
        assert!(payload.get("sid").is_none(), "no session, no sid: {payload}");
        assert_eq!(payload["exp"].as_u64().unwrap() - payload["iat"].as_u64().unwrap(), 3600);
        assert!(payload.get("nbf").is_none(), "no nbf: {payload}");
        assert!(payload.get("aud").is_none(), "no aud: {payload}");
    }

    #[test]
    fn a_session_token_carries_its_sid() {
        let with_session = UserClaims { sid: Some("0f8fad5b-d9cb-469f-a165-70867728950e".into()), ..claims() };
        let token = key().issue(with_session.clone(), 600, "j".into(), "https://auth.example").unwrap();
        assert_eq!(key().verify(&token), Ok(with_session));
        let payload = payload_of(&token);
        assert_eq!((payload["sid"].as_str(), payload["iss"].as_str()), (Some("0f8fad5b-d9cb-469f-a165-70867728950e"), Some("https://auth.example")));
        let exp = now() + 600;
        let numeric_sid = format!(r#"{{"user_id":"u","username":"a","exp":{exp},"sid":7}}"#);
        assert_eq!(key().verify(&sign_raw(r#"{"alg":"HS256"}"#, &numeric_sid)), Err(TokenError::Invalid));
    }

    #[test]
    fn pyjwt_style_token_is_accepted() {
        let payload = format!(r#"{{"user_id":"{}","username":"alice","exp":{}}}"#, claims().user_id, now() + 600);
        let token = sign_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &payload);
        assert_eq!(key().verify(&token), Ok(claims()));
    }

    #[test]
    fn expired_token_is_reported_as_expired() {
        let token = key().issue(claims(), 3600, "j".into(), "auth-service").unwrap();
        let later = UnixTimeStamp::from_secs(now() + 3600 + LEEWAY_SECONDS + 1);
        assert_eq!(key().verify_at(&token, Some(later)), Err(TokenError::Expired));
        let payload = format!(r#"{{"user_id":"u","username":"a","exp":{}}}"#, now() - 60);
        assert_eq!(key().verify(&sign_raw(r#"{"alg":"HS256"}"#, &payload)), Err(TokenError::Expired));
    }

    #[test]
    fn rejected_tokens_are_invalid() {
        let exp = now() + 600;
        let good_payload = format!(r#"{{"user_id":"u","username":"a","exp":{exp}}}"#);
        let valid = key().issue(claims(), 3600, "j".into(), "auth-service").unwrap();
        let mut tampered = valid.clone();
        tampered.pop();
        tampered.push(if valid.ends_with('A') { 'B' } else { 'A' });
        let other_key = TokenKey::new(b"another-secret-key-that-is-long-enough").unwrap();
        let cases = [
            ("alg none", format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(good_payload.as_bytes()))),
            ("alg HS512", sign_raw(r#"{"alg":"HS512"}"#, &good_payload)),
            ("alg RS256", sign_raw(r#"{"alg":"RS256"}"#, &good_payload)),
            ("tampered signature", tampered),
            ("other key", other_key.issue(claims(), 3600, "j".into(), "auth-service").unwrap()),
            ("future nbf", sign_raw(r#"{"alg":"HS256"}"#, &format!(r#"{{"user_id":"u","username":"a","exp":{exp},"nbf":{}}}"#, now() + 300))),
            ("no exp", sign_raw(r#"{"alg":"HS256"}"#, r#"{"user_id":"u","username":"a"}"#)),
            ("no user_id", sign_raw(r#"{"alg":"HS256"}"#, &format!(r#"{{"username":"a","exp":{exp}}}"#))),
            ("user_id not a string", sign_raw(r#"{"alg":"HS256"}"#, &format!(r#"{{"user_id":7,"username":"a","exp":{exp}}}"#))),
            ("garbage", "not.a.token".to_owned()),
            ("empty", String::new()),
            ("two parts", "abc.def".to_owned()),
            ("huge", "a".repeat(20_000)),
        ];
        for (name, token) in cases {
            assert_eq!(key().verify(&token), Err(TokenError::Invalid), "{name}");
        }
    }

    #[test]
    fn tokens_carry_the_kid_of_the_secret_and_tokens_without_one_verify() {
        let token = key().issue(claims(), 600, "j".into(), "auth-service").unwrap();
        let kid = key().kid();
        assert!(kid.starts_with("hs256-") && kid.len() == 22, "{kid}");
        assert_eq!(header(&token), Some(("HS256".to_owned(), Some(kid.clone()))));
        let other = TokenKey::new(b"another-secret-key-that-is-long-enough").unwrap();
        assert_ne!(other.kid(), kid);
        let payload = format!(r#"{{"user_id":"u","username":"a","exp":{}}}"#, now() + 600);
        let flask = sign_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &payload);
        assert_eq!(header(&flask), Some(("HS256".to_owned(), None)));
        assert_eq!(key().verify(&flask).map(|c| c.user_id), Ok("u".to_owned()));
        assert_eq!(unverified_claims(&flask).map(|c| c.username), Some("a".to_owned()));
        assert_eq!(unverified_claims("a.%%%.c"), None);
    }

    #[test]
    fn short_keys_are_refused_and_debug_is_redacted() {
        assert_eq!(TokenKey::new(b"short").unwrap_err(), KeyTooShort(5));
        assert_eq!(format!("{:?}", key()), "TokenKey([REDACTED])");
    }
}
