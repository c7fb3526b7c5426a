//! Password hashes written by other systems (DESIGN.md §7), verified so that
//! users migrated from them can log in, then upgraded by the caller to this
//! service's PBKDF2 PHC string: Werkzeug's `pbkdf2:<digest>:<n>$salt$hex`
//! and `scrypt:<n>:<r>:<p>$salt$hex`, Django's
//! `pbkdf2_sha256$<n>$salt$base64`, bcrypt (`$2a$`, `$2b$`, `$2y$`) and
//! Argon2 (`$argon2id$`, `$argon2i$`) PHC strings.
//!
//! Each format's work parameters are read from the stored string, so a row
//! could ask for any amount of work; parameters over the caps below are
//! refused as [`Parsed::TooCostly`] and never computed.

use argon2::{Argon2, PasswordVerifier};
use ct_codecs::{Base64, Decoder};
use password_hash::PasswordHash;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

/// bcrypt's cost is a power of two; 13 is twice the common default of 12.
pub const MAX_BCRYPT_COST: u32 = 13;
/// scrypt's memory, 128·N·r bytes (Werkzeug's default N=32768, r=8 is 32 MiB).
pub const MAX_SCRYPT_MEMORY_BYTES: u64 = 64 << 20;
/// scrypt's work, N·r·p (Werkzeug's default is 2^18).
pub const MAX_SCRYPT_WORK: u64 = 1 << 19;
/// Argon2's memory in KiB (argon2-cffi's default is 65,536).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 64 * 1024;
/// Argon2's work, memory × passes (argon2-cffi's default is 65,536 × 3);
/// its lanes run one after another in a component.
pub const MAX_ARGON2_WORK: u64 = 64 * 1024 * 4;
/// Argon2's lanes.
pub const MAX_ARGON2_LANES: u32 = 16;

/// The digest of a Werkzeug PBKDF2 hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Sha256,
    Sha512,
}

/// A stored hash from another system, parameters within the caps.
#[derive(Debug)]
pub enum Imported<'a> {
    /// Werkzeug's and Django's PBKDF2: `hash` is the derived key.
    Pbkdf2 { digest: Digest, iterations: u32, salt: &'a str, hash: Vec<u8> },
    /// Werkzeug's scrypt, 64-byte key.
    Scrypt { log_n: u8, r: u32, p: u32, salt: &'a str, hash: Vec<u8> },
    Bcrypt(&'a str),
    Argon2(PasswordHash<'a>),
}

/// What [`parse`] found.
#[derive(Debug)]
pub enum Parsed<'a> {
    Usable(Imported<'a>),
    /// A well-formed hash whose parameters exceed the caps.
    TooCostly,
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

fn within<'a>(fits: bool, imported: Imported<'a>) -> Parsed<'a> {
    if fits {
        Parsed::Usable(imported)
    } else {
        Parsed::TooCostly
    }
}

/// Recognises a hash of another system; `None` for anything else.
/// `max_pbkdf2_iterations` caps the PBKDF2 formats as the service's own.
pub fn parse(stored: &str, max_pbkdf2_iterations: u64) -> Option<Parsed<'_>> {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        let cost = stored.parse::<bcrypt::HashParts>().ok()?.get_cost();
        return Some(within(cost <= MAX_BCRYPT_COST, Imported::Bcrypt(stored)));
    }
    if stored.starts_with("$argon2id$") || stored.starts_with("$argon2i$") {
        let hash = PasswordHash::new(stored).ok()?;
        hash.hash?;
        let params = argon2::Params::try_from(&hash).ok()?;
        let (m, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
        let fits = m <= MAX_ARGON2_MEMORY_KIB && u64::from(m) * u64::from(t) <= MAX_ARGON2_WORK && p <= MAX_ARGON2_LANES;
        return Some(within(fits, Imported::Argon2(hash)));
    }
    if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
        // Django: iterations$salt$base64(key).
        let mut parts = rest.splitn(3, '$');
        let iterations: u32 = parts.next()?.parse().ok()?;
        let salt = parts.next()?;
        let encoded = parts.next()?;
        let mut buf = vec![0u8; encoded.len()];
        let hash = Base64::decode(&mut buf, encoded, None).ok()?.to_vec();
        let fits = u64::from(iterations) <= max_pbkdf2_iterations;
        return Some(within(fits && iterations > 0, Imported::Pbkdf2 { digest: Digest::Sha256, iterations, salt, hash }));
    }
    // Werkzeug: method$salt$hex(key).
    let (method, rest) = stored.split_once('$')?;
    let (salt, key) = rest.split_once('$')?;
    let hash = hex(key)?;
    let fields: Vec<&str> = method.split(':').collect();
    match fields.as_slice() {
        ["pbkdf2", digest, iterations] => {
            let digest = match *digest {
                "sha256" => Digest::Sha256,
                "sha512" => Digest::Sha512,
                _ => return None,
            };
            let iterations: u32 = iterations.parse().ok()?;
            let fits = iterations > 0 && u64::from(iterations) <= max_pbkdf2_iterations;
            Some(within(fits, Imported::Pbkdf2 { digest, iterations, salt, hash }))
        }
        ["scrypt", n, r, p] => {
            let (n, r, p): (u64, u32, u32) = (n.parse().ok()?, r.parse().ok()?, p.parse().ok()?);
            if !n.is_power_of_two() || n < 2 || r == 0 || p == 0 {
                return None;
            }
            let log_n = u8::try_from(n.trailing_zeros()).ok()?;
            let memory = 128u64.saturating_mul(n).saturating_mul(r.into());
            let work = n.saturating_mul(r.into()).saturating_mul(p.into());
            Some(within(memory <= MAX_SCRYPT_MEMORY_BYTES && work <= MAX_SCRYPT_WORK, Imported::Scrypt { log_n, r, p, salt, hash }))
        }
        _ => None,
    }
}

impl Imported<'_> {
    /// Whether `password` matches, in constant time where the comparison is ours.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Imported::Pbkdf2 { digest, iterations, salt, hash } => {
                if hash.is_empty() || hash.len() > 64 {
                    return false;
                }
                let mut out = vec![0u8; hash.len()];
                match digest {
                    Digest::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt.as_bytes(), *iterations, &mut out),
                    Digest::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt.as_bytes(), *iterations, &mut out),
                }
                bool::from(out.ct_eq(hash))
            }
            Imported::Scrypt { log_n, r, p, salt, hash } => {
                // Werkzeug's scrypt keys are 64 bytes.
                let Ok(params) = scrypt::Params::new(*log_n, *r, *p, 64) else { return false };
                let mut out = [0u8; 64];
                hash.len() == 64 && scrypt::scrypt(password, salt.as_bytes(), &params, &mut out).is_ok() && bool::from(out.ct_eq(hash.as_slice()))
            }
            Imported::Bcrypt(stored) => bcrypt::verify(password, stored).unwrap_or(false),
            Imported::Argon2(hash) => Argon2::default().verify_password(password, hash).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: u64 = 2_400_000;

    fn usable(stored: &str) -> Imported<'_> {
        match parse(stored, CAP) {
            Some(Parsed::Usable(imported)) => imported,
            other => panic!("{stored}: {other:?}"),
        }
    }

    /// Made by Werkzeug 3.1.9, bcrypt 5.0.0 and argon2-cffi 25.1.0 for the
    /// password "pw" (the integration tests make fresh ones each run).
    #[test]
    fn known_answers_from_the_original_libraries() {
        let vectors = [
            "pbkdf2:sha256:1000$Qsjg4yYM4HJ0nHh2$8ed8d2b2b5a9d3abec2dc295b25576f62fdca804f6ffdcdba05cdcd8186ba022",
            "scrypt:1024:8:1$epxpAdx50zfkLXDt$ee8eb9a19a9fad35643a0db84eae7a6c4487d626d7fb3e5539935480d70b0b9b4c453e24146adc947c47dd92b0f4d0287c98ef02a9bee3275cb9705f30a10170",
            "$2b$04$uZfUa19ARVZxiRVdopHb4u9116FyHFwtXPDA1IwJbyBFdQKe4WnmK",
            "$argon2id$v=19$m=1024,t=1,p=1$KvrGt/ksEIo2nQrralUAyA$8CiOols8Okgw1caQmKAUfkVev+2U7Cbb0sCJPR3l2Pc",
            "$argon2i$v=19$m=1024,t=1,p=1$A4kNRUbmGgl9C7b37EU3XA$29jrR/Xx3ogECfdLNWueA2YAbqZV7mbzYmpNKwDpxsw",
        ];
        for stored in vectors {
            assert!(usable(stored).verify(b"pw"), "{stored}");
            assert!(!usable(stored).verify(b"pW"), "{stored}");
        }
    }

    /// Django's algorithm, computed with Python's hashlib:
    /// `base64.b64encode(hashlib.pbkdf2_hmac("sha256", b"pw", b"seasalt", 1000))`.
    #[test]
    fn django_pbkdf2_sha256() {
        let stored = "pbkdf2_sha256$1000$seasalt$ViJRF1xdpQtYimadedSuBt5uOSSLWsYR5FEclFydhH0=";
        assert!(matches!(parse(stored, CAP), Some(Parsed::Usable(Imported::Pbkdf2 { iterations: 1000, .. }))));
        assert!(usable(stored).verify(b"pw"));
        assert!(!usable(stored).verify(b"pw "));
    }

    #[test]
    fn costly_parameters_are_refused_before_any_work() {
        let costly = [
            "pbkdf2:sha256:100000000$salt$00",
            "pbkdf2_sha256$100000000$salt$AAAA",
            "scrypt:1048576:8:1$salt$00",
            "scrypt:16384:8:64$salt$00",
            "$2b$31$uZfUa19ARVZxiRVdopHb4u9116FyHFwtXPDA1IwJbyBFdQKe4WnmK",
            "$argon2id$v=19$m=4194304,t=1,p=1$KvrGt/ksEIo2nQrralUAyA$8CiOols8Okgw1caQmKAUfkVev+2U7Cbb0sCJPR3l2Pc",
            "$argon2id$v=19$m=65536,t=10,p=1$KvrGt/ksEIo2nQrralUAyA$8CiOols8Okgw1caQmKAUfkVev+2U7Cbb0sCJPR3l2Pc",
        ];
        for stored in costly {
            assert!(matches!(parse(stored, CAP), Some(Parsed::TooCostly)), "{stored}: {:?}", parse(stored, CAP));
        }
    }

    #[test]
    fn malformed_hashes_are_not_recognised() {
        for stored in ["", "plain", "pbkdf2:md5:1000$s$00", "pbkdf2:sha256$s$00", "scrypt:1000:8:1$s$00", "pbkdf2:sha256:x$s$00", "pbkdf2:sha256:1000$s$zz", "$2b$", "$argon2id$nonsense", "pbkdf2_sha256$x$s$AAAA"] {
            assert!(parse(stored, CAP).is_none(), "{stored}");
        }
    }
}
