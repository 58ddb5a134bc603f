//! Client IP resolution behind trusted proxies; the rules are on [`resolve_client_ip`].

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use audit_core::IpSource;
use http::HeaderMap;
use http::header::{FORWARDED, HeaderName};
use ipnet::IpNet;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

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

/// The one header your trusted proxy writes the client's address into.
///
/// Exactly one header is read, never a fallback to another: a proxy
/// overwrites or appends to the header it is configured for and passes every
/// other header through from the client untouched, so any second header is
/// the client's to forge. Pick the one your proxy sets (nginx:
/// `proxy_add_x_forwarded_for` → [`XForwardedFor`](Self::XForwardedFor),
/// `proxy_set_header X-Real-IP $remote_addr` → [`XRealIp`](Self::XRealIp)).
///
/// ```
/// use audit_core::IpSource;
/// use audit_tower::{ClientIpSource, TrustedProxies, resolve_client_ip};
/// use http::HeaderMap;
///
/// let trusted = TrustedProxies::new(["10.0.0.0/8".parse().unwrap()]);
/// let mut headers = HeaderMap::new();
/// headers.insert("forwarded", "for=6.6.6.6".parse().unwrap()); // sent by the client
/// headers.insert("x-forwarded-for", "203.0.113.7".parse().unwrap()); // appended by the proxy
///
/// assert_eq!(ClientIpSource::default(), ClientIpSource::XForwardedFor);
/// let resolved = resolve_client_ip("10.0.0.2".parse().unwrap(), &headers, &trusted, ClientIpSource::default());
/// assert_eq!(resolved.client_ip.to_string(), "203.0.113.7", "the client's Forwarded is never read");
/// assert_eq!(resolved.source, IpSource::XForwardedFor);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ClientIpSource {
    /// `X-Forwarded-For`, a comma-separated list the proxy appends the
    /// peer it saw to; the right-most untrusted entry is the client (default).
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239), the `for=` of each element, read like
    /// `X-Forwarded-For`.
    Forwarded,
    /// `X-Real-Ip`, one address the proxy sets (replacing any the client
    /// sent); believed as it stands, so it must hold exactly one address.
    XRealIp,
}

impl ClientIpSource {
    /// The header this source reads.
    ///
    /// ```
    /// use audit_tower::ClientIpSource;
    /// assert_eq!(ClientIpSource::XRealIp.header_name(), "x-real-ip");
    /// ```
    pub fn header_name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => X_FORWARDED_FOR,
            Self::Forwarded => FORWARDED,
            Self::XRealIp => X_REAL_IP,
        }
    }

    /// What an event records as `ip_source` when the address came from this header.
    ///
    /// ```
    /// use audit_core::IpSource;
    /// use audit_tower::ClientIpSource;
    /// assert_eq!(ClientIpSource::Forwarded.ip_source(), IpSource::Forwarded);
    /// ```
    pub fn ip_source(self) -> IpSource {
        match self {
            Self::XForwardedFor => IpSource::XForwardedFor,
            Self::Forwarded => IpSource::Forwarded,
            Self::XRealIp => IpSource::XRealIp,
        }
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
/// The socket peer is the only address nobody can forge. The header named by
/// `source` is believed only when the peer is a proxy you trust, and then
/// only as far as the chain of trusted proxies goes:
///
/// 1. Normalise the peer (an IPv4-mapped IPv6 address becomes IPv4). If it is
///    not inside a trusted range, it is the client (`ip_source = peer`),
///    whatever the headers say.
/// 2. Otherwise read the one header `source` names, every line of it joined
///    in order. No other header is looked at, present or not: the proxy
///    passes the others through from the client.
/// 3. `X-Forwarded-For` and `Forwarded` (RFC 7239, the `for=` of each
///    element): walk the addresses from the right (the hop nearest to us),
///    skipping those inside trusted ranges; the first untrusted address is
///    the client. `X-Real-Ip`: the proxy sets one address, which is the
///    client as it stands; more than one address (or line) means the proxy
///    did not replace what the client sent, so none is believed.
/// 4. An entry that is not a usable address (`unknown`, an obfuscated
///    `_identifier`, a host name, garbage, an IPv6 zone, a `Forwarded`
///    element without `for=`) stops the walk: what lies left of it cannot be
///    verified. Then, or when every entry is a trusted proxy, or the header
///    is absent, the peer is used and `ip_source = peer` says so.
///
/// Nothing is trusted by default. Accepted address forms: `192.0.2.1`,
/// `192.0.2.1:8080`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:8080`, and
/// in `Forwarded` the same quoted (`for="[2001:db8::1]:8080"`), with ports
/// 0–65535 or obfuscated (`_p1`).
///
/// ```
/// use audit_core::IpSource;
/// use audit_tower::{ClientIpSource, resolve_client_ip, TrustedProxies};
/// use http::HeaderMap;
///
/// let trusted = TrustedProxies::new(["10.0.0.0/8".parse().unwrap()]);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "198.51.100.9, 203.0.113.7, 10.0.0.5".parse().unwrap());
///
/// // From a trusted proxy: the right-most untrusted address.
/// let behind_proxy = resolve_client_ip("10.0.0.2".parse().unwrap(), &headers, &trusted, ClientIpSource::XForwardedFor);
/// assert_eq!(behind_proxy.client_ip.to_string(), "203.0.113.7");
/// assert_eq!(behind_proxy.source, IpSource::XForwardedFor);
///
/// // From anyone else: the headers are ignored.
/// let direct = resolve_client_ip("192.0.2.1".parse().unwrap(), &headers, &trusted, ClientIpSource::XForwardedFor);
/// assert_eq!(direct.client_ip.to_string(), "192.0.2.1");
/// assert_eq!(direct.source, IpSource::Peer);
///
/// // Configured for another header: this one is not read at all.
/// let other = resolve_client_ip("10.0.0.2".parse().unwrap(), &headers, &trusted, ClientIpSource::Forwarded);
/// assert_eq!(other.client_ip.to_string(), "10.0.0.2");
/// assert_eq!(other.source, IpSource::Peer);
/// ```
pub fn resolve_client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
    source: ClientIpSource,
) -> ResolvedIp {
    let peer_ip = peer.to_canonical();
    let from_peer = ResolvedIp {
        client_ip: peer_ip,
        peer_ip,
        source: IpSource::Peer,
    };
    if !trusted.contains(peer_ip) {
        return from_peer;
    }
    let client_ip = match source {
        ClientIpSource::XForwardedFor => rightmost_untrusted(&x_forwarded_for_chain(headers), trusted),
        ClientIpSource::Forwarded => rightmost_untrusted(&forwarded_chain(headers), trusted),
        ClientIpSource::XRealIp => x_real_ip(headers),
    };
    match client_ip {
        Some(client_ip) => ResolvedIp {
            client_ip,
            peer_ip,
            source: source.ip_source(),
        },
        None => from_peer,
    }
}

/// The right-most address not inside a trusted range, unless an unusable
/// entry comes first (right to left) or there is none.
fn rightmost_untrusted(chain: &[Option<IpAddr>], trusted: &TrustedProxies) -> Option<IpAddr> {
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) if trusted.contains(*ip) => {}
            Some(ip) => return Some(*ip),
            None => return None,
        }
    }
    None
}

/// The one address of the one `X-Real-Ip` line.
fn x_real_ip(headers: &HeaderMap) -> Option<IpAddr> {
    let mut lines = headers.get_all(X_REAL_IP).iter();
    let line = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    parse_node(line.to_str().ok()?.trim())
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

    const ALL_SOURCES: [ClientIpSource; 3] = [
        ClientIpSource::XForwardedFor,
        ClientIpSource::Forwarded,
        ClientIpSource::XRealIp,
    ];

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

    /// Resolves with the default source, `X-Forwarded-For`.
    fn resolve(peer: &str, pairs: &[(&'static str, &str)], ranges: &[&str]) -> (String, IpSource) {
        resolve_from(ClientIpSource::default(), peer, pairs, ranges)
    }

    fn resolve_from(
        source: ClientIpSource,
        peer: &str,
        pairs: &[(&'static str, &str)],
        ranges: &[&str],
    ) -> (String, IpSource) {
        let resolved = resolve_client_ip(ip(peer), &headers(pairs), &trusted(ranges), source);
        (resolved.client_ip.to_string(), resolved.source)
    }

    /// Behind the proxy at 10.0.0.2, trusting 10.0.0.0/8.
    fn behind_proxy(source: ClientIpSource, pairs: &[(&'static str, &str)]) -> (String, IpSource) {
        resolve_from(source, "10.0.0.2", pairs, &["10.0.0.0/8"])
    }

    #[test]
    fn nothing_is_trusted_by_default() {
        let (client, source) = resolve("192.0.2.1", &[("x-forwarded-for", "203.0.113.7")], &[]);
        assert_eq!((client.as_str(), source), ("192.0.2.1", IpSource::Peer));
    }

    #[test]
    fn x_forwarded_for_is_the_default_source() {
        assert_eq!(ClientIpSource::default(), ClientIpSource::XForwardedFor);
    }

    #[test]
    fn spoofed_forwarded_header_from_untrusted_peer_is_ignored() {
        let pairs = [
            ("forwarded", "for=1.1.1.1"),
            ("x-forwarded-for", "1.1.1.1"),
            ("x-real-ip", "1.1.1.1"),
        ];
        for source in ALL_SOURCES {
            let (client, ip_source) = resolve_from(source, "192.0.2.1", &pairs, &["10.0.0.0/8"]);
            assert_eq!(
                (client.as_str(), ip_source),
                ("192.0.2.1", IpSource::Peer),
                "{source:?}"
            );
        }
    }

    #[test]
    fn client_sent_forwarded_does_not_beat_the_proxys_x_forwarded_for() {
        // nginx appends to X-Forwarded-For and passes Forwarded through from the client.
        let pairs = [("forwarded", "for=6.6.6.6"), ("x-forwarded-for", "203.0.113.7")];
        let (client, source) = behind_proxy(ClientIpSource::XForwardedFor, &pairs);
        assert_eq!((client.as_str(), source), ("203.0.113.7", IpSource::XForwardedFor));
    }

    #[test]
    fn proto_only_forwarded_does_not_hide_the_proxys_x_forwarded_for() {
        for forwarded in ["proto=https", "for=unknown", "garbage", ""] {
            let pairs = [("forwarded", forwarded), ("x-forwarded-for", "203.0.113.7")];
            let (client, source) = behind_proxy(ClientIpSource::XForwardedFor, &pairs);
            assert_eq!(
                (client.as_str(), source),
                ("203.0.113.7", IpSource::XForwardedFor),
                "{forwarded:?}"
            );
        }
    }

    #[test]
    fn client_sent_x_forwarded_for_does_not_beat_the_proxys_forwarded() {
        let pairs = [("x-forwarded-for", "6.6.6.6"), ("forwarded", "for=203.0.113.7")];
        let (client, source) = behind_proxy(ClientIpSource::Forwarded, &pairs);
        assert_eq!((client.as_str(), source), ("203.0.113.7", IpSource::Forwarded));
    }

    #[test]
    fn client_sent_x_real_ip_is_never_read_unless_configured() {
        let pairs = [("x-real-ip", "6.6.6.6"), ("x-forwarded-for", "203.0.113.7")];
        let (client, _) = behind_proxy(ClientIpSource::XForwardedFor, &pairs);
        assert_eq!(client, "203.0.113.7");
        let pairs = [("x-real-ip", "6.6.6.6"), ("forwarded", "for=203.0.113.7")];
        let (client, _) = behind_proxy(ClientIpSource::Forwarded, &pairs);
        assert_eq!(client, "203.0.113.7");
    }

    #[test]
    fn a_missing_configured_header_falls_back_to_the_peer_never_to_another_header() {
        let every_other = |source: ClientIpSource| -> Vec<(&'static str, &'static str)> {
            [
                ("x-forwarded-for", "6.6.6.6"),
                ("forwarded", "for=6.6.6.6"),
                ("x-real-ip", "6.6.6.6"),
            ]
            .into_iter()
            .filter(|(name, _)| *name != source.header_name().as_str())
            .collect()
        };
        for source in ALL_SOURCES {
            let (client, ip_source) = behind_proxy(source, &every_other(source));
            assert_eq!((client.as_str(), ip_source), ("10.0.0.2", IpSource::Peer), "{source:?}");
        }
    }

    #[test]
    fn x_real_ip_set_by_the_proxy_is_the_client_whatever_else_was_sent() {
        let pairs = [
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6"),
            ("x-real-ip", "203.0.113.7"),
        ];
        let (client, source) = behind_proxy(ClientIpSource::XRealIp, &pairs);
        assert_eq!((client.as_str(), source), ("203.0.113.7", IpSource::XRealIp));
        let (client, _) = behind_proxy(ClientIpSource::XRealIp, &[("x-real-ip", " [2001:db8::7]:443 ")]);
        assert_eq!(client, "2001:db8::7");
    }

    #[test]
    fn x_real_ip_with_more_than_one_address_is_not_believed() {
        // Two lines or a list mean the proxy appended instead of replacing
        // what the client sent: either address may be the forged one.
        for pairs in [
            &[("x-real-ip", "6.6.6.6"), ("x-real-ip", "203.0.113.7")][..],
            &[("x-real-ip", "6.6.6.6, 203.0.113.7")][..],
            &[("x-real-ip", "6.6.6.6 203.0.113.7")][..],
            &[("x-real-ip", "unknown")][..],
            &[("x-real-ip", "")][..],
            &[("x-real-ip", "for=203.0.113.7")][..],
        ] {
            let (client, source) = behind_proxy(ClientIpSource::XRealIp, pairs);
            assert_eq!((client.as_str(), source), ("10.0.0.2", IpSource::Peer), "{pairs:?}");
        }
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
    fn a_spoofed_trusted_hop_left_of_the_client_does_not_help_the_spoofer() {
        // The client pretends to be one of our proxies forwarding for 6.6.6.6.
        for source in [ClientIpSource::XForwardedFor, ClientIpSource::Forwarded] {
            let pairs: &[(&'static str, &str)] = match source {
                ClientIpSource::Forwarded => &[
                    ("forwarded", "for=6.6.6.6, for=10.0.0.9"),
                    ("forwarded", "for=203.0.113.7"),
                ],
                _ => &[
                    ("x-forwarded-for", "6.6.6.6, 10.0.0.9"),
                    ("x-forwarded-for", "203.0.113.7"),
                ],
            };
            let (client, _) = behind_proxy(source, pairs);
            assert_eq!(client, "203.0.113.7", "{source:?}");
        }
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
        let pairs = [
            ("forwarded", "for=6.6.6.6;proto=https"),
            ("forwarded", "for=203.0.113.7"),
        ];
        let (client, _) = behind_proxy(ClientIpSource::Forwarded, &pairs);
        assert_eq!(client, "203.0.113.7");
    }

    #[test]
    fn forwarded_is_parsed_per_rfc_7239() {
        let pairs = [
            ("x-forwarded-for", "9.9.9.9"),
            (
                "forwarded",
                r#"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711""#,
            ),
        ];
        let (client, source) = behind_proxy(ClientIpSource::Forwarded, &pairs);
        assert_eq!((client.as_str(), source), ("2001:db8:cafe::17", IpSource::Forwarded));
    }

    #[test]
    fn forwarded_quoted_values_may_contain_separators() {
        let pairs = [("forwarded", r#"for=203.0.113.7;ext="a,b;c", for=10.0.0.5"#)];
        let (client, _) = behind_proxy(ClientIpSource::Forwarded, &pairs);
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
        let (client, _) = behind_proxy(ClientIpSource::XRealIp, &[("x-real-ip", "::ffff:203.0.113.7")]);
        assert_eq!(client, "203.0.113.7");
        let resolved = resolve_client_ip(
            ip("::ffff:192.0.2.1"),
            &HeaderMap::new(),
            &TrustedProxies::none(),
            ClientIpSource::default(),
        );
        assert_eq!(resolved.peer_ip, ip("192.0.2.1"));
    }

    #[test]
    fn unknown_and_obfuscated_nodes_stop_the_walk() {
        for node in ["unknown", "_hidden", "\"_gazonk\""] {
            let forwarded = format!("for=203.0.113.7, for={node}, for=10.0.0.5");
            let (client, source) = behind_proxy(ClientIpSource::Forwarded, &[("forwarded", forwarded.as_str())]);
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
            let (client, source) = behind_proxy(ClientIpSource::XRealIp, &[("x-real-ip", garbage)]);
            assert_eq!((client.as_str(), source), ("10.0.0.2", IpSource::Peer), "{garbage:?}");
        }
    }

    #[test]
    fn forwarded_element_without_for_is_unusable() {
        let (client, source) = behind_proxy(ClientIpSource::Forwarded, &[("forwarded", "proto=https;by=10.0.0.5")]);
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
        for source in ALL_SOURCES {
            let mut map = HeaderMap::new();
            map.append(
                source.header_name(),
                HeaderValue::from_bytes(b"203.0.113.7\xff").unwrap(),
            );
            let resolved = resolve_client_ip(ip("10.0.0.2"), &map, &trusted(&["10.0.0.0/8"]), source);
            assert_eq!(resolved.source, IpSource::Peer, "{source:?}");
        }
    }
}
