//! Fuzzing client-IP resolution (issue 18): the forwarding headers are
//! written by whoever connects, so `resolve_client_ip` must hold its rules
//! for any bytes in them.
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
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases(256)))]

    #[test]
    fn untrusted_peer_can_never_change_its_client_ip(
        peer in any_ip(),
        source in any_source(),
        values in proptest::array::uniform3(proptest::option::of(header_text())),
        ranges in proptest::collection::vec((any_ip(), 0u8..=128), 0..4),
    ) {
        let trusted = TrustedProxies::new(ranges.iter().filter_map(|(ip, len)| {
            let len = match ip { IpAddr::V4(_) => len % 33, IpAddr::V6(_) => *len };
            IpNet::new(*ip, len).ok()
        }));
        prop_assume!(!trusted.contains(peer));
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

    #[test]
    fn resolution_never_panics_on_arbitrary_header_bytes(
        source in any_source(),
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            for name in ALL_SOURCES.map(ClientIpSource::header_name) {
                headers.append(name, value.clone());
            }
        }
        let trusted = TrustedProxies::new(["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()]);
        let resolved = resolve_client_ip(ip("10.0.0.1"), &headers, &trusted, source);
        // Everything is trusted, so the walk ends at the peer; X-Real-Ip
        // is believed as it stands, so it may name any address.
        if source != ClientIpSource::XRealIp {
            prop_assert_eq!(resolved.client_ip, ip("10.0.0.1"));
        }
    }
}
