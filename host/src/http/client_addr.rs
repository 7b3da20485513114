//! The client's address, for keying anonymous callers: the peer's address,
//! unless the peer is a trusted proxy; then `X-Forwarded-For` is read from
//! the right, skipping trusted proxies, and the first address that is not
//! one is the client's. Whatever a client writes at the left of the header
//! is never believed.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// The client address of a request from `peer` with `headers`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    // Several headers are one list, in order.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Garbage from here leftwards: the last trusted hop's word is
            // all there is.
            return client;
        };
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

/// An address as proxies write it: `1.2.3.4`, `::1`, `[::1]`,
/// `1.2.3.4:5678` or `[::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_peers_are_believed_and_only_from_the_right() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let spoofed = xff(&["6.6.6.6"]);
        assert_eq!(client_ip(ip("8.8.8.8"), &spoofed, &trusted), ip("8.8.8.8"));
        assert_eq!(client_ip(ip("8.8.8.8"), &spoofed, &[]), ip("8.8.8.8"));
        assert_eq!(client_ip(ip("10.0.0.1"), &spoofed, &trusted), ip("6.6.6.6"));
        // The client wrote 6.6.6.6, the proxy appended the real 1.2.3.4.
        let appended = xff(&["6.6.6.6, 1.2.3.4"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &appended, &trusted),
            ip("1.2.3.4")
        );
        // Two proxies of ours in a row.
        let chain = xff(&["6.6.6.6, 1.2.3.4", "10.0.0.7"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &chain, &trusted), ip("1.2.3.4"));
        // Garbage to the right of real hops stops the walk.
        let junk = xff(&["1.2.3.4, not-an-ip"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &junk, &trusted), ip("10.0.0.1"));
        // No header: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &xff(&["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
    }
}
