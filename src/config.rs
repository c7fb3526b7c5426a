//! Configuration from Spin variables, read only where an endpoint needs it.
//!
//! Each setting has a parser that names its variable in every error and never
//! repeats a secret value back.

use std::fmt;

/// Where variable values come from: Spin's `variables` interface in the
/// component, a map in unit tests.
pub trait VariableSource {
    /// `Ok(None)` when the variable is not defined or has no value.
    fn get(&self, name: &str) -> Result<Option<String>, String>;
}

/// A setting that is missing or unusable. Carries the variable's name and
/// what is wrong with it, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration variable `{}` {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn required(source: &dyn VariableSource, variable: &'static str) -> Result<String, ConfigError> {
    match source.get(variable) {
        Ok(Some(value)) if !value.trim().is_empty() => Ok(value),
        Ok(_) => Err(ConfigError { variable, problem: "is not set".into() }),
        Err(provider) => Err(ConfigError {
            variable,
            problem: format!("could not be read: {provider}"),
        }),
    }
}

/// A PostgreSQL connection string in a form `spin:postgres` accepts. Its
/// `Debug` is redacted because it usually holds a password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatabaseUrl([REDACTED])")
    }
}

/// Which store the service uses, from `database_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// A PostgreSQL server, through `spin:postgres`.
    Postgres(DatabaseUrl),
    /// Spin's SQLite database with this label (`sqlite_databases` in spin.toml).
    Sqlite { label: &'static str },
}

/// The SQLite database the service uses when `database_url` is empty.
pub const SQLITE_LABEL: &str = "default";

/// `database_url` set selects PostgreSQL; empty or unset, Spin's SQLite
/// database `default`.
pub fn store_config(source: &dyn VariableSource) -> Result<StoreConfig, ConfigError> {
    match optional(source, DatabaseUrl::VARIABLE)? {
        None => Ok(StoreConfig::Sqlite { label: SQLITE_LABEL }),
        Some(raw) => DatabaseUrl::parse(&raw).map(StoreConfig::Postgres),
    }
}

impl DatabaseUrl {
    pub const VARIABLE: &'static str = "database_url";

    /// Accepts `postgres://`, `postgresql://`, SQLAlchemy's
    /// `postgresql+<driver>://` (the driver part is dropped) and libpq's
    /// `key=value` form.
    pub fn parse(raw: &str) -> Result<DatabaseUrl, ConfigError> {
        let malformed = |problem: &str| ConfigError {
            variable: Self::VARIABLE,
            problem: problem.to_owned(),
        };
        let raw = raw.trim();
        let Some((scheme, rest)) = raw.split_once("://") else {
            return if raw.contains('=') {
                Ok(DatabaseUrl(raw.to_owned()))
            } else {
                Err(malformed("is malformed: expected postgres://user:password@host:port/database or key=value pairs"))
            };
        };
        let driverless = scheme.split_once('+').map_or(scheme, |(base, _)| base);
        if driverless.eq_ignore_ascii_case("sqlite") {
            return Err(malformed(
                "names an SQLite file, which a component cannot open: leave it empty to use Spin's SQLite \
                 database `default` (a runtime-config `[sqlite_database.default]` entry moves it to a file \
                 or a libSQL server)",
            ));
        }
        if !matches!(driverless, "postgres" | "postgresql") {
            return Err(malformed(
                "has an unsupported scheme: expected postgres://, postgresql:// or postgresql+psycopg2://",
            ));
        }
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host.is_empty() {
            return Err(malformed("is malformed: it names no host"));
        }
        Ok(DatabaseUrl(format!("postgres://{rest}")))
    }

    /// The connection string to hand to `spin:postgres`. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Removes this URL from a message that may quote it (host error text).
    pub fn redact(&self, message: &str) -> String {
        if self.0.is_empty() {
            return message.to_owned();
        }
        let mut out = message.replace(&self.0, "[database_url]");
        if let Some(rest) = self.0.strip_prefix("postgres://") {
            out = out.replace(rest, "[database_url]");
        }
        out
    }
}

pub(crate) fn optional(source: &dyn VariableSource, variable: &'static str) -> Result<Option<String>, ConfigError> {
    match source.get(variable) {
        Ok(value) => Ok(value.filter(|v| !v.trim().is_empty())),
        Err(provider) => Err(ConfigError { variable, problem: format!("could not be read: {provider}") }),
    }
}

fn malformed(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { variable, problem: problem.into() }
}

/// The JWT signing key (`secret_key`), at least 32 bytes.
pub fn token_key(source: &dyn VariableSource) -> Result<crate::tokens::TokenKey, ConfigError> {
    signing_key(&required(source, SECRET_KEY)?)
}

/// The keys derived from `secret_key`, from one read of it.
pub struct SessionKeys {
    /// The HS256 key: the Flask service's tokens, and ours while
    /// `token_signing_alg` is HS256.
    pub token: crate::tokens::TokenKey,
    pub refresh: crate::sessions::RefreshKey,
    /// Seals the private halves of stored key pairs.
    pub vault: crate::signing_keys::KeyVault,
    /// Tags the `jti` of the service's own EdDSA and ES256 tokens.
    pub self_check: crate::token_self_check::SelfCheck,
}

pub fn session_keys(source: &dyn VariableSource) -> Result<SessionKeys, ConfigError> {
    let secret = required(source, SECRET_KEY)?;
    Ok(SessionKeys {
        token: signing_key(&secret)?,
        refresh: crate::sessions::RefreshKey::derive(secret.as_bytes()),
        vault: crate::signing_keys::KeyVault::derive(secret.as_bytes()),
        self_check: crate::token_self_check::SelfCheck::derive(secret.as_bytes()),
    })
}

/// The key of the `jti` tag of the service's own EdDSA and ES256 tokens.
pub fn self_check(source: &dyn VariableSource) -> Result<crate::token_self_check::SelfCheck, ConfigError> {
    let secret = required(source, SECRET_KEY)?;
    crate::tokens::check_length(secret.as_bytes()).map_err(too_short)?;
    Ok(crate::token_self_check::SelfCheck::derive(secret.as_bytes()))
}

const SECRET_KEY: &str = "secret_key";

fn signing_key(secret: &str) -> Result<crate::tokens::TokenKey, ConfigError> {
    crate::tokens::TokenKey::new(secret.as_bytes()).map_err(too_short)
}

fn too_short(short: crate::tokens::KeyTooShort) -> ConfigError {
    malformed(SECRET_KEY, format!("is too short: {} bytes, at least {} required", short.0, crate::tokens::MIN_KEY_BYTES))
}

/// The tunable settings (`policy`), defaults filled in.
pub fn policy(source: &dyn VariableSource) -> Result<crate::policy::Policy, ConfigError> {
    crate::policy::Policy::parse(optional(source, crate::policy::VARIABLE)?.as_deref())
}

/// The bearer token for admin endpoints (`admin_token`); `None` disables them.
pub fn admin_token(source: &dyn VariableSource) -> Result<Option<String>, ConfigError> {
    optional(source, "admin_token")
}

/// Spin's variables interface (natively, where there is no Spin host, every
/// read fails).
pub struct SpinVariables;

#[cfg(not(target_arch = "wasm32"))]
impl VariableSource for SpinVariables {
    fn get(&self, _name: &str) -> Result<Option<String>, String> {
        Err("no Spin host".into())
    }
}

#[cfg(target_arch = "wasm32")]
impl VariableSource for SpinVariables {
    fn get(&self, name: &str) -> Result<Option<String>, String> {
        use spin_sdk::variables::{self, Error};
        match variables::get(name) {
            Ok(value) => Ok(Some(value)),
            Err(Error::Undefined(_)) => Ok(None),
            Err(Error::InvalidName(msg) | Error::Provider(msg) | Error::Other(msg)) => Err(msg),
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Variables from a map, for unit tests.
    pub struct MapSource(pub HashMap<&'static str, &'static str>);

    impl VariableSource for MapSource {
        fn get(&self, name: &str) -> Result<Option<String>, String> {
            Ok(self.0.get(name).map(|v| v.to_string()))
        }
    }

    #[test]
    fn database_url_accepts_the_flask_service_forms() {
        for raw in [
            "postgres://u:p@db:5432/app",
            "postgresql://u:p@db:5432/app",
            "postgresql+psycopg2://u:p@db:5432/app",
        ] {
            let url = DatabaseUrl::parse(raw).unwrap();
            assert_eq!(url.expose(), "postgres://u:p@db:5432/app", "{raw}");
        }
        let kv = DatabaseUrl::parse("host=127.0.0.1 user=postgres dbname=app").unwrap();
        assert_eq!(kv.expose(), "host=127.0.0.1 user=postgres dbname=app");
    }

    #[test]
    fn malformed_database_url_names_the_variable_but_not_the_value() {
        for raw in ["mysql://u:secretpw@db/app", "secretpw", "postgres://u:secretpw@/app"] {
            let err = DatabaseUrl::parse(raw).unwrap_err();
            assert_eq!(err.variable, "database_url");
            let text = err.to_string();
            assert!(text.contains("`database_url`"), "{text}");
            assert!(!text.contains("secretpw"), "{text}");
        }
    }

    #[test]
    fn missing_or_blank_database_url_selects_the_embedded_sqlite_store() {
        for source in [MapSource(HashMap::new()), MapSource(HashMap::from([("database_url", "  ")]))] {
            assert_eq!(store_config(&source).unwrap(), StoreConfig::Sqlite { label: "default" });
        }
        let pg = MapSource(HashMap::from([("database_url", "postgresql://u:p@db/app")]));
        assert!(matches!(store_config(&pg).unwrap(), StoreConfig::Postgres(url) if url.expose() == "postgres://u:p@db/app"));
    }

    #[test]
    fn sqlalchemy_sqlite_urls_get_a_pointer_to_the_embedded_store() {
        let err = store_config(&MapSource(HashMap::from([("database_url", "sqlite:///app.db")]))).unwrap_err();
        assert_eq!(err.variable, "database_url");
        assert!(err.problem.contains("leave it empty"), "{}", err.problem);
    }

    #[test]
    fn secret_key_must_have_32_bytes_and_is_never_echoed() {
        let short = MapSource(HashMap::from([("secret_key", "tooshortsecret")]));
        let err = token_key(&short).unwrap_err();
        assert_eq!(err.to_string(), "configuration variable `secret_key` is too short: 14 bytes, at least 32 required");
        let ok = MapSource(HashMap::from([("secret_key", "0123456789abcdef0123456789abcdef")]));
        assert!(token_key(&ok).is_ok());
        assert_eq!(token_key(&MapSource(HashMap::new())).unwrap_err().problem, "is not set");
    }

    #[test]
    fn policy_is_read_from_one_variable_and_admin_token_may_be_empty() {
        let src = |k, v| MapSource(HashMap::from([(k, v)]));
        assert_eq!(policy(&MapSource(HashMap::new())).unwrap(), crate::policy::Policy::default());
        assert_eq!(policy(&src("policy", "token_ttl_seconds=120")).unwrap().token_ttl_seconds, 120);
        assert_eq!(policy(&src("policy", "token_ttl_seconds=1")).unwrap_err().variable, "policy");
        assert_eq!(admin_token(&src("admin_token", "")).unwrap(), None);
    }

    #[test]
    fn database_url_debug_and_redact_hide_the_password() {
        let url = DatabaseUrl::parse("postgresql://u:hunter2@db/app").unwrap();
        assert!(!format!("{url:?}").contains("hunter2"));
        let msg = url.redact("cannot open postgres://u:hunter2@db/app: refused");
        assert_eq!(msg, "cannot open [database_url]: refused");
        let msg = url.redact("bad address u:hunter2@db/app");
        assert!(!msg.contains("hunter2"), "{msg}");
    }
}
