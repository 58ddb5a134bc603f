//! Fuzzing client-IP resolution (issue 18): the forwarding headers are
//! written by whoever connects, so `resolve_client_ip` must hold its rules
//! for any bytes in them. Whatever the bytes (not UTF-8, tens of thousands
//! of commas or quotes, brackets, ports, obfuscated identifiers), it does
//! not panic and names the peer or an address written in the header; an
//! untrusted peer, or no trusted proxy at all, is never given a header's
//! word; and for chains proxies write, the client is the one a plain
//! reference walk of the documented rules finds.
//!
//! Cases per property: `AUDIT_FUZZ_CASES` (see `support`).

mod support;

use std::net::IpAddr;

use audit_core::IpSource;
use audit_tower::{ClientIpSource, TrustedProxies, resolve_client_ip};
use http::{HeaderMap, HeaderValue};
use ipnet::IpNet;
use proptest::prelude::*;
use support::fuzz_cases;

const ALL_SOURCES: [ClientIpSource; 3] = [
    ClientIpSource::XForwardedFor,
    ClientIpSource::Forwarded,
    ClientIpSource::XRealIp,
];

fn ip(text: &str) -> IpAddr {
    text.parse().expect("a literal address")
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u16; 8]>().prop_map(IpAddr::from),
    ]
}

fn any_source() -> impl Strategy<Value = ClientIpSource> {
    proptest::sample::select(ALL_SOURCES.to_vec())
}

fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,80}",
        any_ip().prop_map(|ip| ip.to_string()),
        proptest::collection::vec(any_ip().prop_map(|ip| ip.to_string()), 0..6).prop_map(|v| v.join(", ")),
        proptest::collection::vec(any_ip().prop_map(|ip| format!("for=\"{ip}\"")), 0..6).prop_map(|v| v.join(",")),
    ]
}

/// `ip/len` with `len` brought within the family's bits, truncated as
/// `TrustedProxies` keeps it.
fn range(ip: IpAddr, len: u8) -> Option<IpNet> {
    let len = match ip {
        IpAddr::V4(_) => len % 33,
        IpAddr::V6(_) => len % 129,
    };
    IpNet::new(ip, len).ok().map(|range| range.trunc())
}

fn forwarding_headers(values: [Option<String>; 3]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (source, value) in ALL_SOURCES.into_iter().zip(values) {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.append(source.header_name(), value);
        }
    }
    headers
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases(6_000)))]

    #[test]
    fn untrusted_peer_can_never_change_its_client_ip(
        peer in any_ip(),
        source in any_source(),
        values in proptest::array::uniform3(proptest::option::of(header_text())),
        ranges in proptest::collection::vec((any_ip(), 0u8..=128), 0..4),
    ) {
        // Ranges holding the peer are left out rather than the case
        // rejected: long runs would exceed proptest's limit on rejections.
        let trusted = TrustedProxies::new(
            ranges.iter().filter_map(|&(ip, len)| range(ip, len)).filter(|range| !range.contains(&peer.to_canonical())),
        );
        prop_assert!(!trusted.contains(peer));
        let resolved = resolve_client_ip(peer, &forwarding_headers(values), &trusted, source);
        prop_assert_eq!(resolved.client_ip, peer.to_canonical());
        prop_assert_eq!(resolved.source, IpSource::Peer);
    }

    #[test]
    fn headers_other_than_the_configured_one_are_never_read(
        source in any_source(),
        mut values in proptest::array::uniform3(proptest::option::of(header_text())),
    ) {
        let configured = ALL_SOURCES.iter().position(|s| *s == source).unwrap();
        values[configured] = None;
        let trusted = TrustedProxies::new(["10.0.0.0/8".parse().unwrap()]);
        let resolved = resolve_client_ip(ip("10.0.0.2"), &forwarding_headers(values), &trusted, source);
        prop_assert_eq!(resolved.client_ip, ip("10.0.0.2"));
        prop_assert_eq!(resolved.source, IpSource::Peer);
    }
}

/// Pieces of forwarding headers that parsers trip on: separators, quotes
/// and escapes, brackets, ports in range and out, obfuscated identifiers,
/// zones, addresses, whitespace and bytes that are not UTF-8.
const HOSTILE_PIECES: &[&[u8]] = &[
    b",",
    b",,,,",
    b";",
    b"=",
    b"\"",
    b"\\",
    b"\\\"",
    b"[",
    b"]",
    b":",
    b"::",
    b" ",
    b"\t",
    b"for=",
    b"For=",
    b"FOR =",
    b"proto=https",
    b"by=",
    b"unknown",
    b"_hidden",
    b":_p1",
    b":0",
    b":65535",
    b":65536",
    b":99999999999999999999",
    b"%eth0",
    b"::ffff:",
    b"203.0.113.7",
    b"10.0.0.5",
    b"999.1.1.1",
    b"2001:db8::1",
    b"[2001:db8::1]:443",
    b"fe80::1%25eth0",
    b"example.com",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xae",
];

/// Bytes of one `source` header line: any bytes, runs of hostile pieces,
/// one piece repeated up to tens of thousands of times (commas, quotes,
/// brackets), or hostile pieces left of a last entry well-formed for
/// `source`, which a trusted peer's header is then believed for. Bytes
/// `http` refuses in a header value (controls other than tab) are dropped,
/// so every case reaches the parser.
fn hostile_line(source: ClientIpSource) -> impl Strategy<Value = HeaderValue> {
    let piece = prop::sample::select(HOSTILE_PIECES);
    let last_entry = match source {
        ClientIpSource::Forwarded => prop::sample::select(vec![
            ("for=", ""),
            ("for=\"", "\""),
            ("For=", ";proto=https"),
            ("proto=http;for=", ""),
        ]),
        _ => prop::sample::select(vec![("", ""), (" ", "\t")]),
    };
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..300),
        1 => "[ -~]{0,300}".prop_map(String::into_bytes),
        1 => prop::collection::vec(piece.clone(), 0..200).prop_map(|pieces| pieces.concat()),
        1 => (piece.clone(), 0..20_000usize).prop_map(|(piece, times)| piece.repeat(times)),
        3 => (
            prop_oneof![Just(Vec::new()), prop::collection::vec(piece, 1..50)],
            last_entry,
            chain_ip(),
            spelling()
        )
            .prop_map(|(pieces, (open, close), ip, spelling)| {
                let last = format!("{open}{}{close}", spell_address(ip, &spelling));
                if pieces.is_empty() {
                    last.into_bytes()
                } else {
                    [pieces.concat(), b",".to_vec(), last.into_bytes()].concat()
                }
            }),
    ]
    .prop_map(|mut bytes| {
        bytes.retain(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        HeaderValue::from_bytes(&bytes).expect("only bytes http accepts are left")
    })
}

/// A source and up to three lines of its header.
fn hostile_header() -> impl Strategy<Value = (ClientIpSource, Vec<HeaderValue>)> {
    any_source().prop_flat_map(|source| (Just(source), prop::collection::vec(hostile_line(source), 0..4)))
}

/// Whether `client` is written in `lines`: some run of the characters
/// addresses are written with, without a trailing `:port`, is that address
/// (IPv4-mapped IPv6 counting as its IPv4 form, as everywhere).
fn written_in(lines: &[HeaderValue], client: IpAddr) -> bool {
    let is_address_char = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
    lines.iter().any(|line| {
        String::from_utf8_lossy(line.as_bytes())
            .split(|c: char| !is_address_char(c))
            .any(|run| {
                let without_port = run.rsplit_once(':').map(|(address, _)| address);
                [Some(run), without_port]
                    .into_iter()
                    .flatten()
                    .filter_map(|text| text.parse::<IpAddr>().ok())
                    .any(|ip| ip.to_canonical() == client)
            })
    })
}

/// One hop of a generated chain: an address a proxy wrote, or an entry
/// that is not a usable address (the walk stops there).
#[derive(Debug, Clone)]
enum Hop {
    Address(IpAddr),
    Unusable(&'static str),
}

/// How one hop is written: which spelling of the address, its port,
/// quoting and parameters in `Forwarded`, whitespace, and whether the
/// header line ends after it.
#[derive(Debug, Clone)]
struct Spelling {
    form: u8,
    port: u16,
    quoted: bool,
    for_name: &'static str,
    extras: Vec<&'static str>,
    for_position: prop::sample::Index,
    padding: (&'static str, &'static str),
    line_ends: bool,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    let pad = || prop::sample::select(vec!["", "", " ", "  ", "\t"]);
    (
        any::<u8>(),
        any::<u16>(),
        any::<bool>(),
        prop::sample::select(vec!["for", "For", "FOR"]),
        prop::collection::vec(
            prop::sample::select(vec![
                "proto=https",
                "by=\"[2001:db8::9]:80\"",
                "host=\"a,b;c=d\"",
                "by=_proxy",
            ]),
            0..3,
        ),
        any::<prop::sample::Index>(),
        (pad(), pad()),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(form, port, quoted, for_name, extras, for_position, padding, line_ends)| Spelling {
                form,
                port,
                quoted,
                for_name,
                extras,
                for_position,
                padding,
                line_ends,
            },
        )
}

/// Addresses of both families, IPv4-mapped IPv6 among them, drawn from a
/// few small networks so that trusted ranges often hold several hops.
fn chain_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (
            prop::sample::select(vec![[10, 0], [203, 0], [198, 51]]),
            any::<[u8; 2]>()
        )
            .prop_map(|(net, host)| IpAddr::from([net[0], net[1], host[0] % 4, host[1]])),
        any::<[u8; 4]>().prop_map(IpAddr::from),
        (any::<u16>(), any::<u8>()).prop_map(|(net, host)| IpAddr::from([
            0x2001,
            0xdb8,
            net % 4,
            0,
            0,
            0,
            0,
            u16::from(host)
        ])),
        any::<[u16; 8]>().prop_map(IpAddr::from),
        any::<[u8; 4]>().prop_map(|v4| IpAddr::V6(std::net::Ipv4Addr::from(v4).to_ipv6_mapped())),
    ]
}

fn hop() -> impl Strategy<Value = Hop> {
    prop_oneof![
        6 => chain_ip().prop_map(Hop::Address),
        1 => prop::sample::select(vec![
            "unknown",
            "_hidden",
            "example.com",
            "",
            "fe80::1%eth0",
            "300.1.1.1",
            "203.0.113.7:99999",
            "[203.0.113.7]",
        ])
        .prop_map(Hop::Unusable),
    ]
}

/// The address as a proxy may write it: bare, with a port or an obfuscated
/// one, IPv6 bracketed or not, upper or lower case.
fn spell_address(ip: IpAddr, spelling: &Spelling) -> String {
    let port = spelling.port;
    match (ip, spelling.form % 5) {
        (IpAddr::V4(v4), 0 | 1) => v4.to_string(),
        (IpAddr::V4(v4), 2 | 3) => format!("{v4}:{port}"),
        (IpAddr::V4(v4), _) => format!("{v4}:_p{port}"),
        (IpAddr::V6(v6), 0) => v6.to_string(),
        (IpAddr::V6(v6), 1) => v6.to_string().to_uppercase(),
        (IpAddr::V6(v6), 2) => format!("[{v6}]"),
        (IpAddr::V6(v6), 3) => format!("[{v6}]:{port}"),
        (IpAddr::V6(v6), _) => format!("[{v6}]:_p{port}"),
    }
}

/// One `X-Forwarded-For` entry (or the one `X-Real-Ip` value).
fn x_forwarded_for_entry(hop: &Hop, spelling: &Spelling) -> String {
    match hop {
        Hop::Address(ip) => spell_address(*ip, spelling),
        Hop::Unusable(text) => (*text).to_owned(),
    }
}

/// One `Forwarded` element: `for=` among other parameters, the node quoted
/// or not; an unusable empty hop is an element without `for=`.
fn forwarded_element(hop: &Hop, spelling: &Spelling) -> String {
    let node = x_forwarded_for_entry(hop, spelling);
    let mut parameters = spelling
        .extras
        .clone()
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    if node.is_empty() {
        if parameters.is_empty() {
            parameters.push("proto=https".to_owned());
        }
    } else {
        let node = if spelling.quoted { format!("\"{node}\"") } else { node };
        let at = spelling.for_position.index(parameters.len() + 1);
        parameters.insert(at, format!("{}={node}", spelling.for_name));
    }
    parameters.join(";")
}

/// The header lines a proxy chain wrote for `hops`, as `source` reads them.
fn render(source: ClientIpSource, hops: &[(Hop, Spelling)]) -> Vec<HeaderValue> {
    let mut lines = Vec::new();
    let mut line: Vec<String> = Vec::new();
    for (i, (hop, spelling)) in hops.iter().enumerate() {
        let entry = match source {
            ClientIpSource::Forwarded => forwarded_element(hop, spelling),
            _ => x_forwarded_for_entry(hop, spelling),
        };
        let (before, after) = spelling.padding;
        line.push(format!("{before}{entry}{after}"));
        if spelling.line_ends || i + 1 == hops.len() {
            lines.push(HeaderValue::from_str(&line.join(",")).expect("generated lines are visible ASCII"));
            line.clear();
        }
    }
    lines
}

/// The documented rules, written plainly: behind a trusted peer, walk the
/// hops from the right, skipping trusted addresses; the first untrusted
/// address is the client, an unusable hop stops the walk. `X-Real-Ip` is
/// believed only as one address. Anything else: the peer.
fn expected_client(source: ClientIpSource, peer: IpAddr, hops: &[Hop], trusted: &[IpNet]) -> (IpAddr, IpSource) {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(&ip.to_canonical()));
    let peer = peer.to_canonical();
    if !is_trusted(peer) {
        return (peer, IpSource::Peer);
    }
    let client = match (source, hops) {
        (ClientIpSource::XRealIp, [Hop::Address(ip)]) => Some(*ip),
        (ClientIpSource::XRealIp, _) => None,
        _ => hops
            .iter()
            .rev()
            .find(|hop| !matches!(hop, Hop::Address(ip) if is_trusted(*ip)))
            .and_then(|hop| match hop {
                Hop::Address(ip) => Some(*ip),
                Hop::Unusable(_) => None,
            }),
    };
    match client {
        Some(ip) => (ip.to_canonical(), source.ip_source()),
        None => (peer, IpSource::Peer),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases(6_000)))]

    #[test]
    fn any_header_bytes_resolve_to_the_peer_or_an_address_written_in_the_header(
        (source, lines) in hostile_header(),
        peer in any_ip(),
        ranges in prop::collection::vec((any_ip(), any::<u8>()), 0..4),
        trust_the_peer in prop::bool::weighted(0.8),
    ) {
        let mut ranges: Vec<IpNet> = ranges.into_iter().filter_map(|(ip, len)| range(ip, len)).collect();
        if trust_the_peer {
            ranges.extend(range(peer.to_canonical(), 128));
        }
        let trusted = TrustedProxies::new(ranges);
        let mut headers = HeaderMap::new();
        for line in &lines {
            headers.append(source.header_name(), line.clone());
        }

        let resolved = resolve_client_ip(peer, &headers, &trusted, source);
        prop_assert_eq!(resolved.peer_ip, peer.to_canonical());
        if resolved.source == IpSource::Peer {
            prop_assert_eq!(resolved.client_ip, peer.to_canonical());
        } else {
            prop_assert_eq!(resolved.source, source.ip_source());
            prop_assert!(!trusted.is_empty(), "believed a header with no proxy trusted");
            prop_assert!(trusted.contains(peer), "believed a header from an untrusted peer");
            prop_assert!(
                written_in(&lines, resolved.client_ip),
                "{} is not written in {:?}", resolved.client_ip, lines
            );
        }
    }

    #[test]
    fn with_no_trusted_proxy_no_header_is_ever_believed(
        (source, lines) in hostile_header(),
        peer in any_ip(),
    ) {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(source.header_name(), line);
        }
        let resolved = resolve_client_ip(peer, &headers, &TrustedProxies::none(), source);
        prop_assert_eq!(resolved.client_ip, peer.to_canonical());
        prop_assert_eq!(resolved.source, IpSource::Peer);
    }

    #[test]
    fn a_well_formed_chain_resolves_as_the_reference_walk_does(
        source in any_source(),
        hops in prop::collection::vec((hop(), spelling()), 0..8),
        peer_pick in any::<prop::sample::Index>(),
        picks in prop::collection::vec((any::<prop::sample::Index>(), prop_oneof![Just(128u8), 96u8..=128, 0u8..=128]), 0..4),
        peer_is_a_proxy in prop::bool::weighted(0.9),
    ) {
        // Trusted ranges around some of the chain's own addresses, and a
        // peer that is (usually) one of the trusted proxies.
        let addresses: Vec<IpAddr> = hops
            .iter()
            .filter_map(|(hop, _)| match hop { Hop::Address(ip) => Some(ip.to_canonical()), Hop::Unusable(_) => None })
            .chain([ip("10.0.0.2")])
            .collect();
        let mut trusted: Vec<IpNet> = picks
            .iter()
            .filter_map(|(pick, len)| range(*pick.get(&addresses), *len))
            .collect();
        let peer = *peer_pick.get(&addresses);
        if peer_is_a_proxy {
            trusted.extend(range(peer, 128));
        }
        let chain: Vec<Hop> = hops.iter().map(|(hop, _)| hop.clone()).collect();
        let mut headers = HeaderMap::new();
        for line in render(source, &hops) {
            headers.append(source.header_name(), line);
        }

        let resolved = resolve_client_ip(peer, &headers, &TrustedProxies::new(trusted.clone()), source);
        let expected = expected_client(source, peer, &chain, &trusted);
        prop_assert_eq!((resolved.client_ip, resolved.source), expected, "{:?}", headers);
    }
}
