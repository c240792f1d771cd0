//! Which address a request came from: the connection's peer, unless the
//! peer is one of `[server] trusted_proxies`, when the proxies' own
//! `Forwarded` (RFC 7239) or `X-Forwarded-For` header says. Read from the
//! right, the nearest hop first: each trusted hop passes the question to
//! the one before it, and the first untrusted address is the client, so a
//! client cannot choose its address by sending the header itself. By
//! default no proxy is trusted and the headers are ignored.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client's address, or `None` when a trusted proxy's header does not
/// say it in a form that can be read (`unknown`, an obfuscated name, a
/// malformed entry): `allow_ips` then refuses the request.
pub(crate) fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops = forwarded_hops(headers);
    let mut client = peer;
    for hop in hops.iter().rev() {
        client = (*hop)?.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    Some(client)
}

/// The hops a request passed, first (the original client) to last, from
/// `Forwarded` if present, else `X-Forwarded-For`; `None` for an entry that
/// names no address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, node)| node_address(node.trim().trim_matches('"')))
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|entry| node_address(entry.trim()))
        .collect()
}

/// An address from a node as the headers write it: `192.0.2.1`,
/// `192.0.2.1:8080`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:80`.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("a name"),
                value.parse().expect("a value"),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("a network")).collect()
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &h, &[]),
            Some(ip("10.0.0.5"))
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("198.51.100.9"), &h, &trusted),
            Some(ip("198.51.100.9"))
        );
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client sent a forged entry first; the proxies appended the
        // real one and their own.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7, 10.0.0.9")]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &h, &trusted),
            Some(ip("203.0.113.7"))
        );
        // Two header lines read as one list.
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-for", "10.0.0.9"),
        ]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &h, &trusted),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn forwarded_is_read_before_x_forwarded_for_in_each_of_its_forms() {
        let trusted = nets(&["10.0.0.0/8", "fd00::/8"]);
        for (value, expected) in [
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("for=\"192.0.2.60:8443\"", "192.0.2.60"),
            ("for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("For=198.51.100.2, for=10.1.1.1", "198.51.100.2"),
        ] {
            let h = headers(&[("forwarded", value), ("x-forwarded-for", "9.9.9.9")]);
            assert_eq!(
                client_address(ip("fd00::1"), &h, &trusted),
                Some(ip(expected)),
                "{value}"
            );
        }
    }

    #[test]
    fn an_unreadable_hop_leaves_the_client_unknown() {
        let trusted = nets(&["10.0.0.0/8"]);
        for value in ["for=unknown", "for=_hidden", "for=\"[::1\""] {
            let h = headers(&[("forwarded", value)]);
            assert_eq!(
                client_address(ip("10.0.0.5"), &h, &trusted),
                None,
                "{value}"
            );
        }
        let h = headers(&[("x-forwarded-for", "not-an-address")]);
        assert_eq!(client_address(ip("10.0.0.5"), &h, &trusted), None);
    }

    #[test]
    fn a_chain_of_trusted_hops_only_ends_at_the_earliest() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "10.0.0.1, 10.0.0.2")]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &h, &trusted),
            Some(ip("10.0.0.1"))
        );
        // A trusted proxy that sent no header: the proxy itself.
        assert_eq!(
            client_address(ip("10.0.0.5"), &HeaderMap::new(), &trusted),
            Some(ip("10.0.0.5"))
        );
    }

    #[test]
    fn an_ipv4_mapped_peer_is_matched_as_ipv4() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(
            client_address(ip("::ffff:10.0.0.5"), &h, &trusted),
            Some(ip("203.0.113.7"))
        );
    }
}
