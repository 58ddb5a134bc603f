//! Client IP resolution behind trusted proxies; the rules are on [`resolve_client_ip`].

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use audit_core::IpSource;
use http::HeaderMap;
use http::header::{FORWARDED, HeaderName};
use ipnet::IpNet;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The proxy ranges whose forwarding headers are believed. Empty by default.
///
/// ```
/// use audit_tower::TrustedProxies;
/// let trusted = TrustedProxies::new(["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]);
/// assert!(trusted.contains("10.1.2.3".parse().unwrap()));
/// assert!(trusted.contains("::ffff:10.1.2.3".parse().unwrap()), "IPv4-mapped addresses match their IPv4 range");
/// assert!(!TrustedProxies::none().contains("10.1.2.3".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<IpNet>,
}

impl TrustedProxies {
    /// Trusts nobody: the peer is always the client.
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts the given CIDR ranges.
    pub fn new(ranges: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            ranges: ranges.into_iter().map(|range| range.trunc()).collect(),
        }
    }

    /// Whether `ip` lies inside a trusted range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.ranges.iter().any(|range| range.contains(&ip))
    }

    /// Whether no range is trusted.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// The outcome of [`resolve_client_ip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedIp {
    /// The client, as far as it can be verified.
    pub client_ip: IpAddr,
    /// The socket peer (normalised).
    pub peer_ip: IpAddr,
    /// Which header `client_ip` came from, or the peer itself.
    pub source: IpSource,
}

/// Resolves the client address of a request from its peer and headers.
///
/// The socket peer is the only address nobody can forge. Headers that name
/// the client (`Forwarded`, `X-Forwarded-For`) are believed only when the
/// peer is a proxy you trust, and then only as far as the chain of trusted
/// proxies goes:
///
/// 1. Normalise the peer (an IPv4-mapped IPv6 address becomes IPv4). If it is
///    not inside a trusted range, it is the client (`ip_source = peer`),
///    whatever the headers say.
/// 2. Otherwise read `Forwarded` (RFC 7239) if present, else
///    `X-Forwarded-For`, every line of the header joined in order.
/// 3. Walk the addresses from the right (the hop nearest to us), skipping
///    those inside trusted ranges; the first untrusted address is the client.
/// 4. An entry that is not a usable address (`unknown`, an obfuscated
///    `_identifier`, a host name, garbage, an IPv6 zone) stops the walk: what
///    lies left of it cannot be verified. Then, or when every entry is a
///    trusted proxy, or the header is absent, the peer is used and
///    `ip_source = peer` says so.
///
/// Nothing is trusted by default. Accepted address forms: `192.0.2.1`,
/// `192.0.2.1:8080`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:8080`, and
/// in `Forwarded` the same quoted (`for="[2001:db8::1]:8080"`), with ports
/// 0–65535 or obfuscated (`_p1`).
///
/// ```
/// use audit_core::IpSource;
/// use audit_tower::{resolve_client_ip, TrustedProxies};
/// use http::HeaderMap;
///
/// let trusted = TrustedProxies::new(["10.0.0.0/8".parse().unwrap()]);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "198.51.100.9, 203.0.113.7, 10.0.0.5".parse().unwrap());
///
/// // From a trusted proxy: the right-most untrusted address.
/// let behind_proxy = resolve_client_ip("10.0.0.2".parse().unwrap(), &headers, &trusted);
/// assert_eq!(behind_proxy.client_ip.to_string(), "203.0.113.7");
/// assert_eq!(behind_proxy.source, IpSource::XForwardedFor);
///
/// // From anyone else: the headers are ignored.
/// let direct = resolve_client_ip("192.0.2.1".parse().unwrap(), &headers, &trusted);
/// assert_eq!(direct.client_ip.to_string(), "192.0.2.1");
/// assert_eq!(direct.source, IpSource::Peer);
/// ```
pub fn resolve_client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> ResolvedIp {
    let peer_ip = peer.to_canonical();
    let from_peer = ResolvedIp {
        client_ip: peer_ip,
        peer_ip,
        source: IpSource::Peer,
    };
    if !trusted.contains(peer_ip) {
        return from_peer;
    }
    let (chain, source) = if headers.contains_key(FORWARDED) {
        (forwarded_chain(headers), IpSource::Forwarded)
    } else if headers.contains_key(X_FORWARDED_FOR) {
        (x_forwarded_for_chain(headers), IpSource::XForwardedFor)
    } else {
        return from_peer;
    };
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) if trusted.contains(*ip) => {}
            Some(ip) => {
                return ResolvedIp {
                    client_ip: *ip,
                    peer_ip,
                    source,
                };
            }
            None => break,
        }
    }
    from_peer
}

/// Every `X-Forwarded-For` entry in order; `None` for an unusable one.
fn x_forwarded_for_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut chain = Vec::new();
    for line in headers.get_all(X_FORWARDED_FOR) {
        let Ok(line) = line.to_str() else {
            chain.push(None);
            continue;
        };
        chain.extend(line.split(',').map(|entry| parse_node(entry.trim())));
    }
    chain
}

/// The `for=` node of every `Forwarded` element in order; `None` for an
/// element without one or with an unusable one.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut chain = Vec::new();
    for line in headers.get_all(FORWARDED) {
        let Ok(line) = line.to_str() else {
            chain.push(None);
            continue;
        };
        for element in split_outside_quotes(line, ',') {
            let node = split_outside_quotes(element, ';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then(|| value.trim())
            });
            chain.push(node.and_then(|value| parse_node(unquote(value)?)));
        }
    }
    chain
}

/// Splits on `separator` except inside double quotes.
fn split_outside_quotes(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    text.split(move |c: char| {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            return true;
        }
        false
    })
}

/// A token, or a quoted string without escapes (node values never need them).
fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"').filter(|inner| !inner.contains(['"', '\\'])),
        None => Some(value),
    }
}

/// One node: an address with an optional port; anything else is unusable.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (address, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(valid_port)) {
            return None;
        }
        return address.parse::<Ipv6Addr>().ok().map(|ip| IpAddr::V6(ip).to_canonical());
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = node.parse::<SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    // IPv4 with an obfuscated port (RFC 7239 §6.3): `192.0.2.1:_p1`.
    let (address, port) = node.rsplit_once(':')?;
    if port.starts_with('_') && valid_port(port) {
        return address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
    }
    None
}

fn valid_port(port: &str) -> bool {
    match port.strip_prefix('_') {
        Some(obfuscated) => {
            !obfuscated.is_empty()
                && obfuscated
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        }
        None => {
            !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusted(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|r| r.parse().unwrap()))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn resolve(peer: &str, pairs: &[(&'static str, &str)], ranges: &[&str]) -> (String, IpSource) {
        let resolved = resolve_client_ip(ip(peer), &headers(pairs), &trusted(ranges));
        (resolved.client_ip.to_string(), resolved.source)
    }

    #[test]
    fn nothing_is_trusted_by_default() {
        let (client, source) = resolve("192.0.2.1", &[("x-forwarded-for", "203.0.113.7")], &[]);
        assert_eq!((client.as_str(), source), ("192.0.2.1", IpSource::Peer));
    }

    #[test]
    fn spoofed_forwarded_header_from_untrusted_peer_is_ignored() {
        let pairs = [("forwarded", "for=1.1.1.1"), ("x-forwarded-for", "1.1.1.1")];
        let (client, source) = resolve("192.0.2.1", &pairs, &["10.0.0.0/8"]);
        assert_eq!((client.as_str(), source), ("192.0.2.1", IpSource::Peer));
    }

    #[test]
    fn rightmost_untrusted_address_wins_over_a_spoofed_left_entry() {
        // The client sent "X-Forwarded-For: 6.6.6.6"; our proxy appended the real address.
        let (client, source) = resolve(
            "10.0.0.2",
            &[("x-forwarded-for", "6.6.6.6, 203.0.113.7")],
            &["10.0.0.0/8"],
        );
        assert_eq!((client.as_str(), source), ("203.0.113.7", IpSource::XForwardedFor));
    }

    #[test]
    fn multi_proxy_chain_skips_every_trusted_hop() {
        let pairs = [("x-forwarded-for", "203.0.113.7, 172.16.0.9, 10.0.0.5")];
        let (client, _) = resolve("10.0.0.2", &pairs, &["10.0.0.0/8", "172.16.0.0/12"]);
        assert_eq!(client, "203.0.113.7");
    }

    #[test]
    fn several_header_lines_are_joined_in_order() {
        let pairs = [
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-for", "198.51.100.1, 10.0.0.5"),
        ];
        let (client, _) = resolve("10.0.0.2", &pairs, &["10.0.0.0/8"]);
        assert_eq!(client, "198.51.100.1");
    }

    #[test]
    fn forwarded_is_preferred_and_parsed_per_rfc_7239() {
        let pairs = [
            ("x-forwarded-for", "9.9.9.9"),
            (
                "forwarded",
                r#"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711""#,
            ),
        ];
        let (client, source) = resolve("10.0.0.2", &pairs, &["10.0.0.0/8"]);
        assert_eq!((client.as_str(), source), ("2001:db8:cafe::17", IpSource::Forwarded));
    }

    #[test]
    fn forwarded_quoted_values_may_contain_separators() {
        let pairs = [("forwarded", r#"for=203.0.113.7;ext="a,b;c", for=10.0.0.5"#)];
        let (client, _) = resolve("10.0.0.2", &pairs, &["10.0.0.0/8"]);
        assert_eq!(client, "203.0.113.7");
    }

    #[test]
    fn ports_and_bracketed_ipv6_are_accepted() {
        for node in [
            "203.0.113.7:8080",
            "[2001:db8::1]:443",
            "[2001:db8::1]",
            "2001:db8::1",
            "203.0.113.7:_p1",
        ] {
            assert!(parse_node(node).is_some(), "{node}");
        }
        assert_eq!(parse_node("[2001:db8::1]:443"), Some(ip("2001:db8::1")));
    }

    #[test]
    fn ipv4_mapped_ipv6_is_normalised() {
        let (client, _) = resolve(
            "::ffff:10.0.0.2",
            &[("x-forwarded-for", "::ffff:203.0.113.7")],
            &["10.0.0.0/8"],
        );
        assert_eq!(client, "203.0.113.7");
        let resolved = resolve_client_ip(ip("::ffff:192.0.2.1"), &HeaderMap::new(), &TrustedProxies::none());
        assert_eq!(resolved.peer_ip, ip("192.0.2.1"));
    }

    #[test]
    fn unknown_and_obfuscated_nodes_stop_the_walk() {
        for node in ["unknown", "_hidden", "\"_gazonk\""] {
            let pairs = [("forwarded", format!("for=203.0.113.7, for={node}, for=10.0.0.5"))];
            let pairs: Vec<(&'static str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let (client, source) = resolve("10.0.0.2", &pairs, &["10.0.0.0/8"]);
            assert_eq!((client.as_str(), source), ("10.0.0.2", IpSource::Peer), "{node}");
        }
    }

    #[test]
    fn garbage_falls_back_to_the_peer() {
        for garbage in [
            "not-an-ip",
            "203.0.113.7 198.51.100.1",
            "203.0.113.7:99999",
            "[2001:db8::1",
            "2001:db8::1]:80",
            "fe80::1%eth0",
            "999.1.1.1",
            "example.com",
            "",
            "[203.0.113.7]",
        ] {
            let (client, source) = resolve("10.0.0.2", &[("x-forwarded-for", garbage)], &["10.0.0.0/8"]);
            assert_eq!((client.as_str(), source), ("10.0.0.2", IpSource::Peer), "{garbage:?}");
        }
    }

    #[test]
    fn forwarded_element_without_for_is_unusable() {
        let (client, source) = resolve("10.0.0.2", &[("forwarded", "proto=https;by=10.0.0.5")], &["10.0.0.0/8"]);
        assert_eq!((client.as_str(), source), ("10.0.0.2", IpSource::Peer));
    }

    #[test]
    fn chain_of_only_trusted_proxies_falls_back_to_the_peer() {
        let (client, source) = resolve(
            "10.0.0.2",
            &[("x-forwarded-for", "10.0.0.7, 10.0.0.5")],
            &["10.0.0.0/8"],
        );
        assert_eq!((client.as_str(), source), ("10.0.0.2", IpSource::Peer));
    }

    #[test]
    fn non_utf8_header_bytes_are_unusable() {
        let mut map = HeaderMap::new();
        map.append("x-forwarded-for", HeaderValue::from_bytes(b"203.0.113.7\xff").unwrap());
        let resolved = resolve_client_ip(ip("10.0.0.2"), &map, &trusted(&["10.0.0.0/8"]));
        assert_eq!(resolved.source, IpSource::Peer);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_ip() -> impl Strategy<Value = IpAddr> {
            prop_oneof![
                any::<[u8; 4]>().prop_map(IpAddr::from),
                any::<[u16; 8]>().prop_map(IpAddr::from),
            ]
        }

        fn header_text() -> impl Strategy<Value = String> {
            prop_oneof![
                "[ -~]{0,80}",
                proptest::collection::vec(any_ip().prop_map(|ip| ip.to_string()), 0..6).prop_map(|v| v.join(", ")),
                proptest::collection::vec(any_ip().prop_map(|ip| format!("for=\"{ip}\"")), 0..6)
                    .prop_map(|v| v.join(",")),
            ]
        }

        proptest! {
            #[test]
            fn untrusted_peer_can_never_change_its_client_ip(
                peer in any_ip(),
                forwarded in proptest::option::of(header_text()),
                xff in proptest::option::of(header_text()),
                ranges in proptest::collection::vec((any_ip(), 0u8..=128), 0..4),
            ) {
                let trusted = TrustedProxies::new(ranges.iter().filter_map(|(ip, len)| {
                    let len = match ip { IpAddr::V4(_) => len % 33, IpAddr::V6(_) => *len };
                    IpNet::new(*ip, len).ok()
                }));
                prop_assume!(!trusted.contains(peer));
                let mut headers = HeaderMap::new();
                for (name, value) in [("forwarded", forwarded), ("x-forwarded-for", xff)] {
                    if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                        headers.append(name, value);
                    }
                }
                let resolved = resolve_client_ip(peer, &headers, &trusted);
                prop_assert_eq!(resolved.client_ip, peer.to_canonical());
                prop_assert_eq!(resolved.source, IpSource::Peer);
            }

            #[test]
            fn resolution_never_panics_on_arbitrary_header_bytes(
                bytes in proptest::collection::vec(any::<u8>(), 0..200),
            ) {
                let mut headers = HeaderMap::new();
                if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                    headers.append("forwarded", value.clone());
                    headers.append("x-forwarded-for", value);
                }
                let trusted = TrustedProxies::new(["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()]);
                let resolved = resolve_client_ip(ip("10.0.0.1"), &headers, &trusted);
                // Everything is trusted, so the walk always ends at the peer.
                prop_assert_eq!(resolved.client_ip, ip("10.0.0.1"));
            }
        }
    }
}
