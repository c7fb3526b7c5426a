//! The `policy` variable: the settings whose defaults nearly everyone keeps,
//! as `name=value` fields in one Spin variable.
//!
//! Spin resolves every application variable on each instance's first
//! outbound connection (README, "Settings"), so each declared variable costs
//! every request that touches the database; one variable for all of these
//! costs what one costs. Fields are separated by `;` or whitespace:
//! `SPIN_VARIABLE_POLICY="token_ttl_seconds=900; registration_enabled=false"`.
//! Every field has a default, an unknown or malformed one is an error that
//! names it, and a field given twice is refused rather than guessed at.

use crate::client_throttle::Network;
use crate::config::ConfigError;
use crate::passwords::{Hasher, MIN_ITERATIONS};
use crate::signing_keys::SigningAlg;

/// The variable's name.
pub const VARIABLE: &str = "policy";

/// Origins allowed by CORS: `*` or a comma-separated list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    Any,
    List(Vec<String>),
}

/// The service's tunable settings, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Access-token lifetime, 60 s to 30 days (default one hour, the Flask
    /// service's).
    pub token_ttl_seconds: u64,
    /// PBKDF2 iterations for new hashes, never below OWASP's 600,000.
    pub password_iterations: u32,
    /// Whether `POST /register` is open.
    pub registration_enabled: bool,
    pub cors_allowed_origins: AllowedOrigins,
    /// The `iss` claim of the tokens issued here.
    pub token_issuer: String,
    /// A session ends this long after its last refresh (default 7 days)...
    pub session_idle_seconds: u64,
    /// ...and this long after its login at most (default 30 days).
    pub session_max_seconds: u64,
    /// How long the refresh token just rotated still gets the session's
    /// newest pair (a concurrent refresh from another tab) rather than
    /// revoking the session as a replay (default 10 s).
    pub refresh_reuse_grace_seconds: u64,
    /// What signs new access tokens (default HS256, the Flask contract).
    pub token_signing_alg: SigningAlg,
    /// How long a key made by `POST /admin/keys/rotate` is published
    /// before it signs (default 300 s, one JWKS cache lifetime).
    pub key_activation_seconds: u64,
    /// Consecutive failed logins that lock a login name (default 5)...
    pub lockout_threshold: u64,
    /// ...for this long (default 60 s), doubling with each further
    /// failure...
    pub lockout_base_seconds: u64,
    /// ...up to this (default 900 s).
    pub lockout_max_seconds: u64,
    /// Whether a login needs a verified e-mail address (default false, the
    /// Flask service's behaviour).
    pub require_verified_email: bool,
    /// How long a password-reset token lives (default one hour).
    pub reset_token_ttl_seconds: u64,
    /// How long an e-mail verification token lives (default one day).
    pub email_verification_ttl_seconds: u64,
    /// Costly POSTs a client may send at once (default 30); 0 switches
    /// throttling by client off, for a deployment whose proxy does it...
    pub client_burst: u64,
    /// ...and how many its bucket regains a minute (default 30).
    pub client_refill_per_minute: u64,
    /// Proxies whose `X-Forwarded-For` is believed (default none).
    pub trusted_proxies: Vec<Network>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            token_ttl_seconds: 3600,
            password_iterations: MIN_ITERATIONS,
            registration_enabled: true,
            cors_allowed_origins: AllowedOrigins::Any,
            token_issuer: "auth-service".into(),
            session_idle_seconds: 7 * DAY,
            session_max_seconds: 30 * DAY,
            refresh_reuse_grace_seconds: 10,
            token_signing_alg: SigningAlg::Hs256,
            key_activation_seconds: 300,
            lockout_threshold: 5,
            lockout_base_seconds: 60,
            lockout_max_seconds: 900,
            require_verified_email: false,
            reset_token_ttl_seconds: 3600,
            email_verification_ttl_seconds: DAY,
            client_burst: 30,
            client_refill_per_minute: 30,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Every field, for error messages and the README.
pub const FIELDS: &[&str] = &[
    "token_ttl_seconds",
    "password_iterations",
    "registration_enabled",
    "cors_allowed_origins",
    "token_issuer",
    "session_idle_seconds",
    "session_max_seconds",
    "refresh_reuse_grace_seconds",
    "token_signing_alg",
    "key_activation_seconds",
    "lockout_threshold",
    "lockout_base_seconds",
    "lockout_max_seconds",
    "require_verified_email",
    "reset_token_ttl_seconds",
    "email_verification_ttl_seconds",
    "client_burst",
    "client_refill_per_minute",
    "trusted_proxies",
];

const DAY: u64 = 24 * 3600;
const MAX_TOKEN_TTL_SECONDS: u64 = 30 * DAY;
const MAX_SESSION_SECONDS: u64 = 400 * DAY;
const MAX_GRACE_SECONDS: u64 = 300;
const MAX_ACTIVATION_SECONDS: u64 = DAY;
const MAX_LOCKOUT_THRESHOLD: u64 = 1000;
const MAX_LOCKOUT_SECONDS: u64 = 7 * DAY;
const MAX_ISSUER_CHARS: usize = 200;
const MAX_EMAIL_TOKEN_SECONDS: u64 = 30 * DAY;
const MAX_CLIENT_RATE: u64 = 1_000_000;
const MAX_PASSWORD_ITERATIONS: u64 = 10_000_000;

fn field_error(field: &str, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError { variable: VARIABLE, problem: format!("has field `{field}` {problem}") }
}

fn integer(field: &str, raw: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    let value: u64 = raw.parse().map_err(|_| field_error(field, "malformed: expected a whole number"))?;
    if !(min..=max).contains(&value) {
        return Err(field_error(field, format!("out of range: must be between {min} and {max}, found {value}")));
    }
    Ok(value)
}

fn flag(field: &str, raw: &str) -> Result<bool, ConfigError> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(field_error(field, "malformed: expected true or false")),
    }
}

fn issuer(raw: &str) -> Result<String, ConfigError> {
    if raw.is_empty() || raw.chars().count() > MAX_ISSUER_CHARS || raw.chars().any(char::is_control) {
        return Err(field_error("token_issuer", format!("must be 1 to {MAX_ISSUER_CHARS} printable characters")));
    }
    Ok(raw.to_owned())
}

/// A comma-separated list of addresses and networks; empty means none.
fn networks(raw: &str) -> Result<Vec<Network>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            Network::parse(entry).ok_or_else(|| {
                field_error("trusted_proxies", format!("malformed: `{}` is no address or network (10.0.0.0/8, ::1)", printable(entry)))
            })
        })
        .collect()
}

fn origins(raw: &str) -> AllowedOrigins {
    if raw == "*" {
        return AllowedOrigins::Any;
    }
    let list = raw
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    AllowedOrigins::List(list)
}

impl Policy {
    /// Parses the variable's value; empty or absent means every default.
    pub fn parse(raw: Option<&str>) -> Result<Policy, ConfigError> {
        let mut policy = Policy::default();
        let mut seen: Vec<&str> = Vec::new();
        let fields = raw.unwrap_or("").split(|c: char| c == ';' || c.is_whitespace()).filter(|f| !f.is_empty());
        for entry in fields {
            let Some((name, value)) = entry.split_once('=') else {
                return Err(ConfigError {
                    variable: VARIABLE,
                    problem: format!("is malformed: expected name=value fields, found `{}`", printable(entry)),
                });
            };
            let Some(&field) = FIELDS.iter().find(|f| **f == name) else {
                return Err(ConfigError {
                    variable: VARIABLE,
                    problem: format!("has an unknown field `{}`; the fields are {}", printable(name), FIELDS.join(", ")),
                });
            };
            if seen.contains(&field) {
                return Err(field_error(field, "more than once"));
            }
            seen.push(field);
            match field {
                "token_ttl_seconds" => policy.token_ttl_seconds = integer(field, value, 60, MAX_TOKEN_TTL_SECONDS)?,
                "password_iterations" => {
                    let n = integer(field, value, MIN_ITERATIONS.into(), MAX_PASSWORD_ITERATIONS)?;
                    // Within u32: the maximum above is.
                    policy.password_iterations = n as u32;
                }
                "registration_enabled" => policy.registration_enabled = flag(field, value)?,
                "cors_allowed_origins" => policy.cors_allowed_origins = origins(value),
                "token_issuer" => policy.token_issuer = issuer(value)?,
                "session_idle_seconds" => policy.session_idle_seconds = integer(field, value, 1, MAX_SESSION_SECONDS)?,
                "session_max_seconds" => policy.session_max_seconds = integer(field, value, 1, MAX_SESSION_SECONDS)?,
                "refresh_reuse_grace_seconds" => {
                    policy.refresh_reuse_grace_seconds = integer(field, value, 0, MAX_GRACE_SECONDS)?
                }
                "token_signing_alg" => {
                    policy.token_signing_alg = SigningAlg::parse(value).ok_or_else(|| {
                        field_error(field, format!("malformed: expected one of {}", SigningAlg::NAMES.join(", ")))
                    })?
                }
                "key_activation_seconds" => policy.key_activation_seconds = integer(field, value, 0, MAX_ACTIVATION_SECONDS)?,
                "lockout_threshold" => policy.lockout_threshold = integer(field, value, 1, MAX_LOCKOUT_THRESHOLD)?,
                "lockout_base_seconds" => policy.lockout_base_seconds = integer(field, value, 1, MAX_LOCKOUT_SECONDS)?,
                "lockout_max_seconds" => policy.lockout_max_seconds = integer(field, value, 1, MAX_LOCKOUT_SECONDS)?,
                "require_verified_email" => policy.require_verified_email = flag(field, value)?,
                "reset_token_ttl_seconds" => policy.reset_token_ttl_seconds = integer(field, value, 60, DAY)?,
                "email_verification_ttl_seconds" => {
                    policy.email_verification_ttl_seconds = integer(field, value, 60, MAX_EMAIL_TOKEN_SECONDS)?
                }
                "client_burst" => policy.client_burst = integer(field, value, 0, MAX_CLIENT_RATE)?,
                "client_refill_per_minute" => policy.client_refill_per_minute = integer(field, value, 1, MAX_CLIENT_RATE)?,
                _ => policy.trusted_proxies = networks(value)?,
            }
        }
        Ok(policy)
    }

    /// The password hasher for new hashes.
    pub fn hasher(&self) -> Result<Hasher, ConfigError> {
        Hasher::new(self.password_iterations)
            .map_err(|weak| field_error("password_iterations", format!("below {MIN_ITERATIONS}: {}", weak.0)))
    }
}

/// A field name or entry as it may be quoted in an error: short, and only
/// printable ASCII (the value of `policy` holds no secrets, but a client
/// never sees it either way; this keeps logs readable).
fn printable(text: &str) -> String {
    text.chars().take(40).map(|c| if c.is_ascii_graphic() { c } else { '?' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each `field=value` is refused with an error naming its field.
    fn each_names_its_field(bad: &[&str]) {
        for bad in bad {
            let field = bad.split('=').next().unwrap();
            let text = Policy::parse(Some(bad)).unwrap_err().to_string();
            assert!(text.contains(&format!("field `{field}`")), "{bad}: {text}");
        }
    }

    #[test]
    fn empty_or_absent_means_every_default() {
        for raw in [None, Some(""), Some("  ;  ")] {
            assert_eq!(Policy::parse(raw).unwrap(), Policy::default(), "{raw:?}");
        }
        let defaults = Policy::default();
        assert_eq!((defaults.token_ttl_seconds, defaults.password_iterations), (3600, 600_000));
        assert!(defaults.registration_enabled);
        assert_eq!(defaults.cors_allowed_origins, AllowedOrigins::Any);
        assert_eq!(defaults.token_issuer, "auth-service");
        assert_eq!((defaults.session_idle_seconds, defaults.session_max_seconds), (604_800, 2_592_000));
        assert_eq!(defaults.refresh_reuse_grace_seconds, 10);
        assert_eq!((defaults.token_signing_alg, defaults.key_activation_seconds), (SigningAlg::Hs256, 300));
        assert_eq!((defaults.lockout_threshold, defaults.lockout_base_seconds, defaults.lockout_max_seconds), (5, 60, 900));
    }

    #[test]
    fn session_fields() {
        let policy = Policy::parse(Some(
            "token_issuer=https://auth.example session_idle_seconds=120 session_max_seconds=600 refresh_reuse_grace_seconds=0",
        ))
        .unwrap();
        assert_eq!(policy.token_issuer, "https://auth.example");
        assert_eq!((policy.session_idle_seconds, policy.session_max_seconds, policy.refresh_reuse_grace_seconds), (120, 600, 0));
        each_names_its_field(&["token_issuer=", "session_idle_seconds=0", "session_max_seconds=34560001", "refresh_reuse_grace_seconds=301"]);
    }

    #[test]
    fn lockout_fields() {
        let policy = Policy::parse(Some("lockout_threshold=3 lockout_base_seconds=1 lockout_max_seconds=4")).unwrap();
        assert_eq!((policy.lockout_threshold, policy.lockout_base_seconds, policy.lockout_max_seconds), (3, 1, 4));
        each_names_its_field(&["lockout_threshold=0", "lockout_base_seconds=0", "lockout_max_seconds=604801", "lockout_threshold=x"]);
    }

    #[test]
    fn password_lifecycle_fields() {
        let defaults = Policy::default();
        assert!(!defaults.require_verified_email);
        assert_eq!((defaults.reset_token_ttl_seconds, defaults.email_verification_ttl_seconds), (3600, 86_400));
        let policy =
            Policy::parse(Some("require_verified_email=true reset_token_ttl_seconds=60 email_verification_ttl_seconds=2592000")).unwrap();
        assert!(policy.require_verified_email);
        assert_eq!((policy.reset_token_ttl_seconds, policy.email_verification_ttl_seconds), (60, 2_592_000));
        each_names_its_field(&[
            "require_verified_email=sometimes",
            "reset_token_ttl_seconds=59",
            "reset_token_ttl_seconds=86401",
            "email_verification_ttl_seconds=2592001",
        ]);
    }

    #[test]
    fn client_throttling_fields() {
        let defaults = Policy::default();
        assert_eq!((defaults.client_burst, defaults.client_refill_per_minute), (30, 30));
        assert!(defaults.trusted_proxies.is_empty());
        let policy = Policy::parse(Some("client_burst=0 client_refill_per_minute=600 trusted_proxies=10.0.0.0/8,::1")).unwrap();
        assert_eq!((policy.client_burst, policy.client_refill_per_minute), (0, 600));
        assert_eq!(policy.trusted_proxies, [Network::parse("10.0.0.0/8").unwrap(), Network::parse("::1").unwrap()]);
        assert!(Policy::parse(Some("trusted_proxies=")).unwrap().trusted_proxies.is_empty());
        each_names_its_field(&["client_burst=-1", "client_refill_per_minute=0", "trusted_proxies=10.0.0.0/33", "trusted_proxies=proxy.local"]);
    }

    #[test]
    fn signing_fields() {
        for (raw, alg) in [("EdDSA", SigningAlg::EdDsa), ("ES256", SigningAlg::Es256), ("HS256", SigningAlg::Hs256)] {
            let policy = Policy::parse(Some(&format!("token_signing_alg={raw} key_activation_seconds=0"))).unwrap();
            assert_eq!((policy.token_signing_alg, policy.key_activation_seconds), (alg, 0));
        }
        each_names_its_field(&["token_signing_alg=RS256", "token_signing_alg=eddsa", "token_signing_alg=", "key_activation_seconds=86401"]);
    }

    #[test]
    fn fields_are_separated_by_semicolons_or_whitespace() {
        let policy = Policy::parse(Some(
            "token_ttl_seconds=900; registration_enabled=false\npassword_iterations=650000 cors_allowed_origins=https://a.example,https://b.example/",
        ))
        .unwrap();
        assert_eq!(policy.token_ttl_seconds, 900);
        assert_eq!(policy.password_iterations, 650_000);
        assert!(!policy.registration_enabled);
        assert_eq!(
            policy.cors_allowed_origins,
            AllowedOrigins::List(vec!["https://a.example".into(), "https://b.example".into()])
        );
        assert_eq!(policy.hasher().unwrap().iterations(), 650_000);
    }

    /// Every field is documented where users look: the README's table
    /// (with its default), spin.toml's comment and `.env.example`.
    #[test]
    fn every_field_is_documented() {
        let readme = include_str!("../README.md");
        let manifest = include_str!("../spin.toml");
        let example = include_str!("../.env.example");
        for field in FIELDS {
            assert!(readme.contains(&format!("| `{field}` | ")), "README's policy table lacks {field}");
            assert!(manifest.contains(&format!("{field} (")), "spin.toml's comment lacks {field}");
            assert!(example.contains(&format!("{field}=")), ".env.example lacks {field}");
        }
    }

    #[test]
    fn a_bad_field_is_named() {
        let cases = [
            ("token_ttl_seconds=soon", "field `token_ttl_seconds` malformed"),
            ("token_ttl_seconds=5", "field `token_ttl_seconds` out of range: must be between 60 and 2592000, found 5"),
            ("password_iterations=1000", "field `password_iterations` out of range: must be between 600000"),
            ("registration_enabled=maybe", "field `registration_enabled` malformed: expected true or false"),
            ("token_ttl=60", "unknown field `token_ttl`; the fields are token_ttl_seconds,"),
            ("token_ttl_seconds", "expected name=value fields, found `token_ttl_seconds`"),
            ("token_ttl_seconds=60;token_ttl_seconds=90", "field `token_ttl_seconds` more than once"),
        ];
        for (raw, expected) in cases {
            let err = Policy::parse(Some(raw)).unwrap_err();
            assert_eq!(err.variable, "policy");
            let text = err.to_string();
            assert!(text.starts_with("configuration variable `policy` "), "{text}");
            assert!(text.contains(expected), "{raw}: {text}");
        }
    }
}
