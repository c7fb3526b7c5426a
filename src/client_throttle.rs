//! Throttling by client (DESIGN.md §7): which address a request counts
//! against, for the token bucket the store keeps per address on the costly
//! POSTs (`Store::take_client_token`).
//!
//! The address is Spin's `spin-client-addr` (the last one: Spin appends
//! its header after the client's own). When that peer is one of the
//! `trusted_proxies`, the client is the `X-Forwarded-For` entry left of the
//! last trusted hop: entries are read right to left, trusted proxies
//! skipped, and the first other address is the client's. Entries a client
//! wrote itself sit left of that, where nobody reads them. IPv6 clients
//! count by their /64, which one subscriber usually holds whole.

use crate::http_io::Request;
use std::net::{IpAddr, Ipv6Addr};

/// A client's bucket: whose, how many at most, how many back a second.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientTerms {
    pub client: String,
    pub burst: f64,
    pub per_second: f64,
}

impl ClientTerms {
    /// Seconds until a bucket holding `tokens` (under one) holds one.
    pub fn retry_after(&self, tokens: f64) -> u64 {
        ((1.0 - tokens) / self.per_second).ceil().max(1.0) as u64
    }
}

/// What a client's bucket said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Admission {
    /// Not throttled, or a token was taken.
    #[default]
    Admitted,
    /// The bucket was empty: 429, with `Retry-After` seconds.
    Refused { retry_after: u64 },
}

/// An address or a network (`10.0.0.0/8`, `2001:db8::/32`, `127.0.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Option<Network> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr.parse::<IpAddr>().ok()?, Some(prefix.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => masked(u32::from(net).into(), 32, self.prefix) == masked(u32::from(ip).into(), 32, self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => masked(u128::from(net), 128, self.prefix) == masked(u128::from(ip), 128, self.prefix),
            _ => false,
        }
    }
}

fn masked(value: u128, bits: u32, prefix: u8) -> u128 {
    let keep = u32::from(prefix).min(bits);
    if keep == 0 {
        0
    } else {
        value >> (bits - keep) << (bits - keep)
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`) is the IPv4 one.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One hop's address: a bare IP, an IP with a port, or a bracketed IPv6
/// with or without one (RFC 7239's forms, which proxies also write into
/// `X-Forwarded-For`).
fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(socket) = text.parse::<std::net::SocketAddr>() {
        return Some(canonical(socket.ip()));
    }
    let inner = text.strip_prefix('[')?.split(']').next()?;
    inner.parse::<Ipv6Addr>().ok().map(|v6| canonical(IpAddr::V6(v6)))
}

/// The client's address as the bucket's key, or `None` when Spin gave no
/// usable peer address (then the request is not counted).
pub fn client_key(req: &Request, trusted: &[Network]) -> Option<String> {
    let peer = parse_hop(req.last_header("spin-client-addr")?)?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    if is_trusted(peer) {
        let forwarded: Vec<&str> = req.headers_named("x-forwarded-for").flat_map(|value| value.split(',')).collect();
        for hop in forwarded.iter().rev() {
            // An entry that is no address ends the chain: the hop that wrote
            // it is the client as far as anyone can tell.
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !is_trusted(ip) {
                break;
            }
        }
    }
    Some(key(client))
}

fn key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("{}/64", Ipv6Addr::from(masked(u128::from(v6), 128, 64))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_io::Method;

    fn request(peer: &str, forwarded: &[&str]) -> Request {
        let mut req = Request::new(Method::Post, "/login");
        for value in forwarded {
            req.headers.push(("x-forwarded-for".into(), value.as_bytes().to_vec()));
        }
        req.headers.push(("spin-client-addr".into(), peer.as_bytes().to_vec()));
        req
    }

    fn nets(list: &[&str]) -> Vec<Network> {
        list.iter().map(|n| Network::parse(n).unwrap()).collect()
    }

    #[test]
    fn networks_parse_and_match() {
        let net = Network::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()), "IPv4-mapped IPv6");
        assert!(Network::parse("0.0.0.0/0").unwrap().contains("203.0.113.1".parse().unwrap()));
        assert!(Network::parse("2001:db8::/32").unwrap().contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(Network::parse("127.0.0.1").unwrap().contains("127.0.0.1".parse().unwrap()));
        assert!(!Network::parse("127.0.0.1").unwrap().contains("127.0.0.2".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0/8", "proxy", "10.0.0.0/x", "10.0.0.0/"] {
            assert_eq!(Network::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let req = request("198.51.100.7:5000", &["203.0.113.9"]);
        assert_eq!(client_key(&req, &[]).as_deref(), Some("198.51.100.7"));
        assert_eq!(client_key(&req, &nets(&["10.0.0.0/8"])).as_deref(), Some("198.51.100.7"), "an untrusted peer's header is ignored");
        assert_eq!(client_key(&Request::new(Method::Post, "/login"), &[]), None);
    }

    #[test]
    fn behind_trusted_proxies_the_entry_left_of_the_last_trusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        // client 203.0.113.9 → proxy 10.0.0.2 → proxy 10.0.0.1 (the peer);
        // what the client wrote itself (1.2.3.4) is left of its own entry.
        let req = request("10.0.0.1:443", &["1.2.3.4, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(client_key(&req, &trusted).as_deref(), Some("203.0.113.9"));
        let req = request("10.0.0.1:443", &[]);
        assert_eq!(client_key(&req, &trusted).as_deref(), Some("10.0.0.1"), "no header: the proxy itself");
        let req = request("10.0.0.1:443", &["10.0.0.3"]);
        assert_eq!(client_key(&req, &trusted).as_deref(), Some("10.0.0.3"), "all trusted: the leftmost");
        let req = request("10.0.0.1:443", &["203.0.113.9, garbage"]);
        assert_eq!(client_key(&req, &trusted).as_deref(), Some("10.0.0.1"), "an unreadable hop ends the chain");
        let req = request("10.0.0.1:443", &["[2001:db8::1]:4711"]);
        assert_eq!(client_key(&req, &trusted).as_deref(), Some("2001:db8::/64"));
    }

    #[test]
    fn spins_own_header_wins_and_ipv6_counts_by_its_64() {
        let mut req = request("[2001:db8:1:2:3:4:5:6]:40000", &[]);
        assert_eq!(client_key(&req, &[]).as_deref(), Some("2001:db8:1:2::/64"));
        // A client's own spin-client-addr comes first; Spin's, appended, wins.
        req.headers.insert(0, ("spin-client-addr".into(), b"10.9.9.9:1".to_vec()));
        assert_eq!(client_key(&req, &[]).as_deref(), Some("2001:db8:1:2::/64"));
        assert_eq!(client_key(&request("[::ffff:192.0.2.1]:80", &[]), &[]).as_deref(), Some("192.0.2.1"));
    }
}
