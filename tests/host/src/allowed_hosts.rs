//! `allowed_outbound_hosts` entries and the permission check Spin applies to
//! PostgreSQL connections and `wasi:sockets` connects.
//!
//! Entries are `scheme://host[:port]`; `*` matches any scheme, host or port;
//! `A..B` is a half-open port range; a missing port means the scheme's
//! well-known port. Host names are compared literally (no DNS), so a socket
//! connect, which only knows an IP, matches only IP entries.

use anyhow::{bail, Context, Result};
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Ip(IpAddr),
    Name(String),
    /// `*.example.com`: any subdomain, not the apex.
    Subdomains(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Exact(u16),
    /// Half-open, as Spin's `A..B`.
    Range(u16, u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

/// The default port Spin assumes for a scheme written without one.
pub fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHost {
    pub fn parse(entry: &str) -> Result<AllowedHost> {
        let entry = entry.trim();
        let Some((scheme, rest)) = entry.split_once("://") else {
            bail!("{entry:?} does not contain a scheme (e.g., 'http://' or '*://')");
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            bail!("{entry:?} has a path but is not allowed to");
        }
        let scheme = match scheme {
            "*" => None,
            s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) => Some(s.to_owned()),
            s => bail!("Invalid allowed host scheme {s:?}: only alphabetic characters are allowed"),
        };
        let (host, port) = split_host_port(rest);
        let host = match host {
            "*" => HostPattern::Any,
            h if h.starts_with("*.") => HostPattern::Subdomains(h[1..].to_ascii_lowercase()),
            h if h.contains('*') => bail!("Invalid allowed host {h:?}: wildcards are allowed only as subdomains"),
            h if h.is_empty() => bail!("Invalid allowed host {entry:?}: no host"),
            h => match h.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                Ok(ip) => HostPattern::Ip(ip),
                Err(_) => HostPattern::Name(h.to_ascii_lowercase()),
            },
        };
        let port = match port {
            None => match scheme.as_deref().and_then(well_known_port) {
                Some(p) => PortPattern::Exact(p),
                None => bail!(
                    "no port was provided and the scheme {:?} does not have a known default port number",
                    scheme.as_deref().unwrap_or("*")
                ),
            },
            Some("*") => PortPattern::Any,
            Some(p) => match p.split_once("..") {
                Some((lo, hi)) => PortPattern::Range(parse_port(lo)?, parse_port(hi)?),
                None => PortPattern::Exact(parse_port(p)?),
            },
        };
        Ok(AllowedHost { scheme, host, port })
    }

    /// Whether a connection to `host:port` with `scheme` is allowed. `host`
    /// is the literal name or IP the guest used.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        if self.scheme.as_deref().is_some_and(|s| s != scheme) {
            return false;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host_ok = match (&self.host, host.parse::<IpAddr>()) {
            (HostPattern::Any, _) => true,
            (HostPattern::Ip(allowed), Ok(ip)) => *allowed == ip,
            (HostPattern::Name(name), Err(_)) => name.eq_ignore_ascii_case(host),
            (HostPattern::Subdomains(suffix), Err(_)) => host.to_ascii_lowercase().ends_with(suffix.as_str()),
            _ => false,
        };
        let port = port.or_else(|| well_known_port(scheme));
        let port_ok = match (&self.port, port) {
            (PortPattern::Any, _) => true,
            (PortPattern::Exact(p), Some(port)) => *p == port,
            (PortPattern::Range(lo, hi), Some(port)) => (*lo..*hi).contains(&port),
            _ => false,
        };
        host_ok && port_ok
    }
}

fn split_host_port(rest: &str) -> (&str, Option<&str>) {
    if let Some(end) = rest.strip_prefix('[').and_then(|r| r.find(']')) {
        let (host, after) = rest.split_at(end + 2);
        return (host, after.strip_prefix(':'));
    }
    match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    }
}

fn parse_port(text: &str) -> Result<u16> {
    text.parse().with_context(|| format!("Invalid allowed host port {text:?}"))
}

/// A component's resolved list of allowed hosts.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Vec<AllowedHost>);

impl AllowedHosts {
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<AllowedHosts> {
        entries.into_iter().map(AllowedHost::parse).collect::<Result<_>>().map(AllowedHosts)
    }

    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        self.0.iter().any(|h| h.allows(scheme, host, port))
    }
}

/// What Spin prints when it refuses a destination.
pub fn log_denied(component: &str, scheme: &str, authority: &str) {
    let pattern = format!("{scheme}://{authority}");
    eprintln!("Outbound network destination not allowed: {pattern} (component {component})");
    eprintln!("Warning: A component tried to make an outbound network connection to disallowed destination '{pattern}'.");
    eprintln!("To allow this request, add 'allowed_outbound_hosts = [\"{pattern}\"]' to the manifest component section.");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entry: &str, scheme: &str, host: &str, port: Option<u16>) -> bool {
        AllowedHost::parse(entry).unwrap().allows(scheme, host, port)
    }

    #[test]
    fn postgres_entry_without_port_means_5432() {
        assert!(allows("postgres://127.0.0.1", "postgres", "127.0.0.1", None));
        assert!(allows("postgres://127.0.0.1", "postgres", "127.0.0.1", Some(5432)));
        assert!(!allows("postgres://127.0.0.1", "postgres", "127.0.0.1", Some(5433)));
    }

    #[test]
    fn host_names_are_compared_literally() {
        assert!(!allows("postgres://127.0.0.1:5432", "postgres", "localhost", Some(5432)));
        assert!(!allows("tcp://localhost:5672", "tcp", "127.0.0.1", Some(5672)));
        assert!(allows("postgres://DB.internal", "postgres", "db.internal", None));
    }

    #[test]
    fn scheme_must_match_unless_wildcard() {
        assert!(!allows("postgres://127.0.0.1:5672", "tcp", "127.0.0.1", Some(5672)));
        assert!(allows("*://127.0.0.1:5672", "tcp", "127.0.0.1", Some(5672)));
    }

    #[test]
    fn wildcards_and_half_open_ranges() {
        assert!(allows("tcp://*:*", "tcp", "10.1.2.3", Some(1)));
        assert!(allows("tcp://127.0.0.1:5000..5673", "tcp", "127.0.0.1", Some(5672)));
        assert!(!allows("tcp://127.0.0.1:5000..5672", "tcp", "127.0.0.1", Some(5672)));
        assert!(allows("postgres://*.example.com", "postgres", "db.example.com", None));
        assert!(!allows("postgres://*.example.com", "postgres", "example.com", None));
    }

    #[test]
    fn malformed_entries_are_rejected() {
        for bad in ["127.0.0.1:5432", "tcp://127.0.0.1", "tcp://h:port", "http://h/path", "tcp://a*b:1"] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_literals_parse_and_match() {
        assert!(allows("tcp://[::1]:5672", "tcp", "::1", Some(5672)));
        assert!(!allows("tcp://[::1]:5672", "tcp", "127.0.0.1", Some(5672)));
    }
}
