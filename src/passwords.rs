//! Password hashing: PBKDF2-HMAC-SHA256 stored as PHC strings, plus the Flask
//! service's legacy format and the formats of other systems
//! ([`crate::imported_hashes`]), verified and flagged for upgrade.
//!
//! Every verification does the same PBKDF2 work whether or not the account
//! exists and whatever format its hash is in, so the time a login takes does
//! not tell an attacker which usernames are real.

// pbkdf2 0.12 and sha2 0.10 rather than 0.13 and 0.11: sha2 0.11 reads
// SHA-256's round constants with volatile loads on every target but x86, so
// in wasm32 its PBKDF2 ran 8 % slower (README, Performance).
use crate::imported_hashes::Parsed;
use password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use pbkdf2::{pbkdf2_hmac, Algorithm, Params, Pbkdf2};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// OWASP's figure for PBKDF2-HMAC-SHA256 (Password Storage Cheat Sheet, 2023).
pub const MIN_ITERATIONS: u32 = Params::RECOMMENDED_ROUNDS as u32;
const SALT_BYTES: usize = 16;
const OUTPUT_BYTES: usize = 32;
/// A stored PBKDF2 hash may cost at most this many times a new hash's work
/// (iterations × SHA-256 output blocks); a costlier one is refused as
/// invalid without being computed. Seen under real Spin: one stored string
/// with `i=100000000` made a single login attempt run 38 s.
pub const MAX_STORED_COST_FACTOR: u64 = 4;

/// The Flask service's scheme: one fixed salt, 1,000 iterations, 64 bytes, hex.
mod legacy {
    pub const SALT: &[u8] = b"salt";
    pub const ITERATIONS: u32 = 1000;
    pub const BYTES: usize = 64;
}

/// A stored password hash in one of the formats this service reads.
#[derive(Debug)]
pub enum StoredHash<'a> {
    /// `$pbkdf2-sha256$i=...,l=...$salt$hash`.
    Pbkdf2(PasswordHash<'a>),
    /// `hex(PBKDF2-HMAC-SHA256(password, b"salt", 1000, 64))` from the Flask service.
    LegacyFlask([u8; legacy::BYTES]),
    /// Werkzeug, Django, bcrypt or Argon2.
    Imported(crate::imported_hashes::Parsed<'a>),
}

impl StoredHash<'_> {
    /// `max_pbkdf2_iterations` caps the other systems' PBKDF2 formats.
    pub fn parse(stored: &str, max_pbkdf2_iterations: u64) -> Option<StoredHash<'_>> {
        if stored.starts_with("$pbkdf2-sha256$") {
            return PasswordHash::new(stored).ok().map(StoredHash::Pbkdf2);
        }
        // Hex digits only: `from_str_radix` alone would also take a `+`.
        if stored.len() == legacy::BYTES * 2 && stored.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut bytes = [0u8; legacy::BYTES];
            for (i, pair) in stored.as_bytes().chunks(2).enumerate() {
                let hex = std::str::from_utf8(pair).ok()?;
                bytes[i] = u8::from_str_radix(hex, 16).ok()?;
            }
            return Some(StoredHash::LegacyFlask(bytes));
        }
        crate::imported_hashes::parse(stored, max_pbkdf2_iterations).map(StoredHash::Imported)
    }
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Right password; `upgrade` when the stored hash is weaker than the
    /// current policy and should be replaced.
    Valid { upgrade: bool },
    Invalid,
}

/// Hashes and verifies passwords at a fixed iteration count.
#[derive(Debug, Clone)]
pub struct Hasher {
    params: Params,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakIterations(pub u32);

impl Hasher {
    /// Refuses iteration counts below [`MIN_ITERATIONS`].
    pub fn new(iterations: u32) -> Result<Hasher, WeakIterations> {
        if iterations < MIN_ITERATIONS {
            return Err(WeakIterations(iterations));
        }
        Ok(Hasher { params: Params { rounds: iterations, output_length: OUTPUT_BYTES } })
    }

    pub fn iterations(&self) -> u32 {
        self.params.rounds
    }

    /// A new PHC string with a random 16-byte salt.
    pub fn hash(&self, password: &str) -> Result<String, getrandom::Error> {
        let mut salt = [0u8; SALT_BYTES];
        getrandom::fill(&mut salt)?;
        Ok(hash_with(self.params, password.as_bytes(), &salt))
    }

    /// Checks `password` against `stored` (`None` when the account does not
    /// exist). A miss always costs at least one full-strength PBKDF2
    /// computation, and a hit below full strength asks for the re-hash that
    /// costs one, so every login does the same work.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> Verdict {
        self.verify_counting(password.as_bytes(), stored).0
    }

    /// [`Hasher::verify`], also returning the PBKDF2 iterations it ran.
    fn verify_counting(&self, password: &[u8], stored: Option<&str>) -> (Verdict, u32) {
        let cap = MAX_STORED_COST_FACTOR * u64::from(self.params.rounds);
        let (verdict, iterations) = match stored.and_then(|s| StoredHash::parse(s, cap)) {
            Some(StoredHash::Pbkdf2(hash)) => {
                let params = Params::try_from(&hash).unwrap_or(Params { rounds: 0, output_length: 0 });
                let rounds = params.rounds;
                if self.too_costly(params) {
                    (Verdict::Invalid, 0)
                } else if Pbkdf2.verify_password(password, &hash).is_err() {
                    (Verdict::Invalid, rounds)
                } else {
                    (Verdict::Valid { upgrade: rounds < self.params.rounds }, rounds)
                }
            }
            Some(StoredHash::LegacyFlask(expected)) => {
                let mut actual = [0u8; legacy::BYTES];
                pbkdf2_hmac::<Sha256>(password, legacy::SALT, legacy::ITERATIONS, &mut actual);
                // A hit is re-hashed at full strength by the caller.
                let verdict = if bool::from(actual.ct_eq(&expected)) { Verdict::Valid { upgrade: true } } else { Verdict::Invalid };
                (verdict, legacy::ITERATIONS)
            }
            // Other systems' work does not count towards the PBKDF2 a miss
            // must cost; a hit is re-hashed at full strength.
            Some(StoredHash::Imported(Parsed::Usable(imported))) => match imported.verify(password) {
                true => (Verdict::Valid { upgrade: true }, 0),
                false => (Verdict::Invalid, 0),
            },
            Some(StoredHash::Imported(Parsed::TooCostly)) | None => (Verdict::Invalid, 0),
        };
        // A wrong password against a weaker hash, a garbage hash or no
        // account at all would otherwise answer sooner than a real miss.
        if verdict == Verdict::Invalid && iterations < self.params.rounds {
            self.decoy_work(password);
            return (verdict, iterations + self.params.rounds);
        }
        (verdict, iterations)
    }

    /// Whether checking a stored hash with `params` would cost more than
    /// [`MAX_STORED_COST_FACTOR`] new hashes.
    fn too_costly(&self, params: Params) -> bool {
        let blocks = |p: Params| u64::from(p.rounds) * (p.output_length as u64).div_ceil(OUTPUT_BYTES as u64).max(1);
        blocks(params) > MAX_STORED_COST_FACTOR * blocks(self.params)
    }

    /// The work of verifying against a real hash at the current strength,
    /// with nothing to compare: a miss then costs what a wrong password does.
    fn decoy_work(&self, password: &[u8]) {
        let mut out = [0u8; OUTPUT_BYTES];
        pbkdf2_hmac::<Sha256>(password, &[0x5a; SALT_BYTES], self.params.rounds, &mut out);
        std::hint::black_box(out);
    }
}

fn hash_with(params: Params, password: &[u8], salt: &[u8]) -> String {
    // Salt length and parameters are fixed and valid by construction.
    let salt = SaltString::encode_b64(salt).expect("a 16-byte salt encodes");
    Pbkdf2
        .hash_password_customized(password, Some(Algorithm::Pbkdf2Sha256.ident()), None, params, &salt)
        .expect("PBKDF2 parameters are valid")
        .to_string()
}

/// The Flask service's hash of `password`, for tests and migrations.
pub fn legacy_flask_hash(password: &str) -> String {
    let mut out = [0u8; legacy::BYTES];
    pbkdf2_hmac::<Sha256>(password.as_bytes(), legacy::SALT, legacy::ITERATIONS, &mut out);
    out.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Few iterations keep the unit tests fast; production refuses them.
    fn fast_hasher() -> Hasher {
        Hasher { params: Params { rounds: 1000, output_length: OUTPUT_BYTES } }
    }

    /// RFC 7914 §11 / widely published PBKDF2-HMAC-SHA256 vectors.
    macro_rules! kat {
        ($($name:ident: $pw:expr, $salt:expr, $iter:expr, $hex:expr;)*) => {$(
            #[test]
            fn $name() {
                let mut out = vec![0u8; $hex.len() / 2];
                pbkdf2_hmac::<Sha256>($pw, $salt, $iter, &mut out);
                let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(hex, $hex);
            }
        )*};
    }

    kat! {
        kat_one_iteration: b"password", b"salt", 1, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b";
        kat_two_iterations: b"password", b"salt", 2, "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43";
        kat_4096_iterations: b"password", b"salt", 4096, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a";
        kat_rfc7914: b"passwd", b"salt", 1, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783";
    }

    /// Computed independently with Python:
    /// `hashlib.pbkdf2_hmac("sha256", b"flask-password", b"salt", 1000, 64).hex()`.
    const FLASK_HASH_OF_FLASK_PASSWORD: &str = "bd3264be972767e6157587ebeeb1f8d8b79366f63be107ab949bae26de122419\
                                                ee242b069d100afc8c7b789cc2f1c29b8adc01305ff41bdd933a9dec853ef088";

    #[test]
    fn legacy_flask_hash_matches_python() {
        assert_eq!(legacy_flask_hash("flask-password"), FLASK_HASH_OF_FLASK_PASSWORD);
    }

    #[test]
    fn new_hash_is_a_phc_string_that_verifies() {
        let hasher = Hasher::new(MIN_ITERATIONS).unwrap();
        let stored = hasher.hash("correct horse").unwrap();
        assert!(stored.starts_with("$pbkdf2-sha256$i=600000,l=32$"), "{stored}");
        assert!(stored.len() <= 200, "fits varchar(200): {}", stored.len());
        assert_eq!(hasher.verify("correct horse", Some(&stored)), Verdict::Valid { upgrade: false });
        assert_eq!(hasher.verify("wrong horse", Some(&stored)), Verdict::Invalid);
    }

    /// The PHC string this service has always stored, computed independently
    /// with Python: `hashlib.pbkdf2_hmac("sha256", b"correct horse",
    /// bytes(range(16)), 1000, 32)`, salt and hash in unpadded base64.
    #[test]
    fn phc_strings_written_before_verify() {
        let stored = "$pbkdf2-sha256$i=1000,l=32$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ";
        assert_eq!(fast_hasher().verify("correct horse", Some(stored)), Verdict::Valid { upgrade: false });
        assert_eq!(fast_hasher().verify("correct horsE", Some(stored)), Verdict::Invalid);
        let params = Params { rounds: 1000, output_length: 32 };
        assert_eq!(hash_with(params, b"correct horse", &(0..16).collect::<Vec<u8>>()), stored);
    }

    #[test]
    fn salts_are_random() {
        let hasher = fast_hasher();
        assert_ne!(hasher.hash("same").unwrap(), hasher.hash("same").unwrap());
    }

    #[test]
    fn legacy_hash_verifies_and_asks_for_upgrade() {
        let hasher = fast_hasher();
        let stored = legacy_flask_hash("flask-password");
        assert_eq!(hasher.verify("flask-password", Some(&stored)), Verdict::Valid { upgrade: true });
        assert_eq!(hasher.verify("Flask-password", Some(&stored)), Verdict::Invalid);
        assert_eq!(hasher.verify("flask-password", Some(&stored.to_uppercase())), Verdict::Valid { upgrade: true });
    }

    #[test]
    fn weaker_phc_hash_asks_for_upgrade() {
        let weak = hash_with(Params { rounds: 1000, output_length: 32 }, b"pw", &[7; 16]);
        let hasher = Hasher::new(MIN_ITERATIONS).unwrap();
        assert_eq!(hasher.verify("pw", Some(&weak)), Verdict::Valid { upgrade: true });
    }

    /// Whatever is stored, a login costs a full-strength computation: in the
    /// check itself, or in the re-hash an upgrade asks for.
    #[test]
    fn every_outcome_costs_full_strength_work() {
        let hasher = fast_hasher();
        let full = hasher.iterations();
        let weak = hash_with(Params { rounds: 500, output_length: 32 }, b"pw", &[7; 16]);
        let strong = hash_with(Params { rounds: 2000, output_length: 32 }, b"pw", &[7; 16]);
        let legacy = legacy_flask_hash("pw");
        let cases = [None, Some(""), Some("$pbkdf2-sha256$broken"), Some(weak.as_str()), Some(strong.as_str()), Some(legacy.as_str())];
        for stored in cases {
            for password in ["pw", "wrong"] {
                let (verdict, iterations) = hasher.verify_counting(password.as_bytes(), stored);
                let rehashed = verdict == Verdict::Valid { upgrade: true };
                assert!(iterations >= full || rehashed, "{password} against {stored:?}: {verdict:?} after {iterations}");
            }
        }
        // The weak hash's miss is the case that used to answer early.
        assert_eq!(hasher.verify_counting(b"wrong", Some(&weak)), (Verdict::Invalid, 500 + full));
    }

    /// Parameters that would cost without bound are refused before any
    /// work on them: the miss costs the decoy alone.
    #[test]
    fn stored_hashes_over_the_cost_cap_are_refused_uncomputed() {
        let hasher = fast_hasher();
        let full = hasher.iterations();
        let costly = "$pbkdf2-sha256$i=100000000,l=32$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ";
        // Two output blocks per iteration: 4,002 blocks against a cap of 4,000.
        let long_output = "$pbkdf2-sha256$i=2001,l=64$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ";
        for stored in [costly, long_output] {
            assert_eq!(hasher.verify_counting(b"pw", Some(stored)), (Verdict::Invalid, full), "{stored}");
        }
        // At the cap it is still computed.
        let at_cap = hash_with(Params { rounds: 4000, output_length: 32 }, b"pw", &[7; 16]);
        assert_eq!(hasher.verify_counting(b"pw", Some(&at_cap)), (Verdict::Valid { upgrade: false }, 4000));
    }

    #[test]
    fn unknown_account_and_garbage_hashes_are_invalid() {
        let hasher = fast_hasher();
        assert_eq!(hasher.verify("pw", None), Verdict::Invalid);
        for garbage in ["", "plain", "$pbkdf2-sha256$broken", &"zz".repeat(64)] {
            assert_eq!(hasher.verify("pw", Some(garbage)), Verdict::Invalid, "{garbage}");
        }
    }

    #[test]
    fn iterations_below_the_owasp_minimum_are_refused() {
        assert_eq!(Hasher::new(599_999).unwrap_err(), WeakIterations(599_999));
        assert_eq!(Hasher::new(700_000).unwrap().iterations(), 700_000);
    }
}
