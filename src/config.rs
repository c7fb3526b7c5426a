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

impl DatabaseUrl {
    pub const VARIABLE: &'static str = "database_url";

    pub fn from_source(source: &dyn VariableSource) -> Result<DatabaseUrl, ConfigError> {
        DatabaseUrl::parse(&required(source, Self::VARIABLE)?)
    }

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

/// Spin's variables interface.
#[cfg(target_arch = "wasm32")]
pub struct SpinVariables;

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
    fn missing_or_blank_database_url_is_reported_as_not_set() {
        for source in [MapSource(HashMap::new()), MapSource(HashMap::from([("database_url", "  ")]))] {
            let err = DatabaseUrl::from_source(&source).unwrap_err();
            assert_eq!(err.to_string(), "configuration variable `database_url` is not set");
        }
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
