//! `rabbitmq_url`: an AMQP URI as RabbitMQ's URI specification writes it,
//! `amqp://user:password@host:port/vhost`, split into what the bridge needs.
//!
//! Parsed by hand: the grammar is small, and a general URL crate would bring
//! IDNA tables into the component's data segment, which every instance
//! under Spin pays for (README, "Performance").

use crate::config::ConfigError;
use std::fmt;
use std::net::IpAddr;

pub const VARIABLE: &str = "rabbitmq_url";
pub const DEFAULT_PORT: u16 = 5672;

/// The parts of an AMQP URI. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUrl {
    pub host: IpAddr,
    pub port: u16,
    /// `None` when the URI names no user (the broker's default applies).
    pub username: Option<String>,
    pub(crate) password: Option<String>,
    /// `None` when the URI has no path: the default vhost `/`.
    pub vhost: Option<String>,
}

impl fmt::Debug for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("vhost", &self.vhost)
            .finish()
    }
}

fn malformed(problem: &str) -> ConfigError {
    ConfigError { variable: VARIABLE, problem: format!("is malformed: {problem}") }
}

/// `%XX` escapes decoded; the result must be UTF-8.
fn percent_decode(text: &str, part: &str) -> Result<String, ConfigError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(byte.ok_or_else(|| malformed(&format!("a bad %-escape in the {part}")))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| malformed(&format!("the {part} is not UTF-8 once decoded")))
}

impl AmqpUrl {
    /// Errors name the variable and the part that is wrong, never the
    /// value (it holds the password).
    pub fn parse(raw: &str) -> Result<AmqpUrl, ConfigError> {
        let raw = raw.trim();
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(malformed("expected amqp://user:password@host:port/vhost"));
        };
        if scheme.eq_ignore_ascii_case("amqps") {
            return Err(ConfigError {
                variable: VARIABLE,
                problem: "uses amqps://, which the bridge does not speak: use amqp:// (a TLS-terminating \
                          proxy can sit in front of RabbitMQ)"
                    .into(),
            });
        }
        if !scheme.eq_ignore_ascii_case("amqp") {
            return Err(malformed("the scheme must be amqp://"));
        }
        // Query parameters (heartbeat, connection_timeout, ...) tune other
        // clients; the bridge has its own timeouts.
        let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
        let (authority, path) = match rest.split_once('/') {
            Some((authority, path)) => (authority, Some(path)),
            None => (rest, None),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => match info.split_once(':') {
                Some((user, pass)) => (Some(percent_decode(user, "user")?), Some(percent_decode(pass, "password")?)),
                None => (Some(percent_decode(info, "user")?), None),
            },
        };
        let (host, port) = split_host_port(hostport)?;
        let host: IpAddr = host.parse().map_err(|_| ConfigError {
            variable: VARIABLE,
            problem: "must name the broker by IP address: Spin gives components no DNS".into(),
        })?;
        let vhost = match path {
            None => None,
            Some(p) if p.contains('/') => return Err(malformed("a vhost containing `/` must be written %2F")),
            Some(p) => Some(percent_decode(p, "vhost")?),
        };
        Ok(AmqpUrl { host, port, username, password, vhost })
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(text: &str) -> Result<(&str, u16), ConfigError> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| malformed("an unclosed `[` in the host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(malformed("it names no host"));
    }
    let port = match port {
        None | Some("") => DEFAULT_PORT,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| malformed("the port is not a port number"))?,
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_forms_parse() {
        let url = AmqpUrl::parse("amqp://events:s%40cret@10.0.0.5:5673/prod").unwrap();
        assert_eq!(url.host, "10.0.0.5".parse::<IpAddr>().unwrap());
        assert_eq!(url.port, 5673);
        assert_eq!(url.username.as_deref(), Some("events"));
        assert_eq!(url.password.as_deref(), Some("s@cret"));
        assert_eq!(url.vhost.as_deref(), Some("prod"));

        let bare = AmqpUrl::parse("amqp://127.0.0.1").unwrap();
        assert_eq!((bare.port, bare.username, bare.vhost), (5672, None, None));
        let root = AmqpUrl::parse("amqp://guest:guest@127.0.0.1:5672/%2f?heartbeat=30").unwrap();
        assert_eq!(root.vhost.as_deref(), Some("/"));
        let v6 = AmqpUrl::parse("AMQP://[::1]:5672/").unwrap();
        assert_eq!((v6.host, v6.vhost.as_deref()), ("::1".parse::<IpAddr>().unwrap(), Some("")));
    }

    #[test]
    fn errors_name_the_variable_but_never_the_password() {
        for raw in [
            "amqps://u:hunter2@10.0.0.5/",
            "http://u:hunter2@10.0.0.5/",
            "amqp://u:hunter2@rabbit.svc:5672/",
            "amqp://u:hunter2@10.0.0.5:port/",
            "amqp://u:hunter2@:5672/",
            "amqp://u:hunter2@10.0.0.5/a/b",
            "amqp://u:hunter2%zz@10.0.0.5/",
            "u:hunter2@10.0.0.5",
        ] {
            let err = AmqpUrl::parse(raw).unwrap_err();
            assert_eq!(err.variable, "rabbitmq_url", "{raw}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        let err = AmqpUrl::parse("amqp://u:p@rabbit.svc/").unwrap_err();
        assert!(err.problem.contains("IP address"), "{}", err.problem);
    }

    #[test]
    fn debug_hides_the_password() {
        let url = AmqpUrl::parse("amqp://u:hunter2@10.0.0.5/").unwrap();
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
