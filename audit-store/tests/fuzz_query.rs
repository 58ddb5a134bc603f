//! Fuzzing the query parameters (issue 18): `AuditQuery::from_params` reads
//! pairs a client chose, through the admin API's query string. Whatever the
//! names, values or raw query string, it answers without a panic; an error
//! names a parameter the request gave, its text quoting nothing raw; and a
//! query it accepts renders (`to_params`, and as a query string) to pairs
//! that parse back to the same query. Over HTTP (feature `http`), the admin
//! API answers any query string with a page or a 400 naming one of its
//! parameters.
//!
//! Cases per property: `AUDIT_FUZZ_CASES` (see `support`).

#[allow(
    dead_code,
    unused_macros,
    reason = "each test binary uses a part of the shared support"
)]
mod support;

use std::net::{IpAddr, Ipv4Addr};

use audit_store::{AuditQuery, QUERY_PARAMETERS, QueryError, ValueFormat};
use proptest::prelude::*;
use support::fuzz_cases;

/// Names: every parameter, near misses of them, and any string.
fn name() -> impl Strategy<Value = String> {
    let known: Vec<&str> = QUERY_PARAMETERS.iter().map(|p| p.name).collect();
    prop_oneof![
        4 => prop::sample::select(known).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["format", "sort", "", " limit", "LIMIT", "q\0", "tenant_id\n", "ac%74ion"])
            .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// A time as clients write one: a date, or RFC 3339 with or without a
/// fraction and any offset, in one of `years`.
fn time(years: impl Strategy<Value = u32>) -> impl Strategy<Value = String> {
    (
        years,
        prop_oneof![1..=12u32, Just(1), Just(12)],
        prop_oneof![1..=31u32, Just(1), Just(31)],
        (0..24u32, 0..60u32, 0..60u32),
        prop::option::of("[0-9]{1,9}"),
        prop_oneof![
            Just("Z".to_owned()),
            Just("z".to_owned()),
            (-1439..=1439i32).prop_map(offset)
        ],
        any::<bool>(),
    )
        .prop_map(
            |(year, month, day, (hour, minute, second), fraction, offset, date_only)| {
                let day = day.min(days_in(year, month));
                if date_only {
                    format!("{year:04}-{month:02}-{day:02}")
                } else {
                    let fraction = fraction.map(|digits| format!(".{digits}")).unwrap_or_default();
                    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}{offset}")
                }
            },
        )
}

/// Days in a month of the proleptic Gregorian calendar.
fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn offset(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60)
}

/// An action or a `prefix.*`.
fn action_filter() -> impl Strategy<Value = String> {
    ("[a-z][a-z0-9_]{0,8}(\\.[a-z][a-z0-9_]{0,8}){0,3}", any::<bool>()).prop_map(|(name, prefix)| {
        if prefix || !name.contains('.') {
            format!("{name}.*")
        } else {
            name
        }
    })
}

/// Several values the way clients list them: comma-separated, spaced.
fn listed(value: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop::collection::vec((value, prop::sample::select(vec![",", ", ", " ,"])), 1..4).prop_map(|items| {
        let mut list = String::new();
        for (i, (item, separator)) in items.iter().enumerate() {
            if i > 0 {
                list.push_str(separator);
            }
            list.push_str(item);
        }
        list
    })
}

/// A value this parameter's format accepts.
fn valid_value(format: ValueFormat, values: &'static [&'static str]) -> BoxedStrategy<String> {
    match format {
        ValueFormat::Text => prop_oneof!["[!-~]([ -~]{0,30}[!-~])?", "[a-zé中😀,\\-]{1,8}"].boxed(),
        ValueFormat::Search => prop_oneof![
            "[a-z0-9é,]{1,6}( [a-z0-9é]{1,6}){0,7}",
            "\"[a-z ,]{0,12}[a-z]\"( [a-z]{1,5}){0,3}",
        ]
        .boxed(),
        ValueFormat::Enumeration => listed(prop::sample::select(values.to_vec()).prop_map(str::to_owned)).boxed(),
        ValueFormat::Integer { minimum, maximum } => prop_oneof![
            (minimum..=maximum).prop_map(|n| n.to_string()),
            (minimum..=maximum).prop_map(|n| format!("+{n:03}")),
        ]
        .boxed(),
        // Years an offset cannot carry out of 0000 to 9999.
        ValueFormat::Time => time(1..=9998u32).boxed(),
        ValueFormat::Ip => prop_oneof![
            any::<[u8; 4]>().prop_map(|ip| IpAddr::from(ip).to_string()),
            any::<[u16; 8]>().prop_map(|ip| IpAddr::from(ip).to_string()),
            any::<[u8; 4]>().prop_map(|ip| Ipv4Addr::from(ip).to_ipv6_mapped().to_string()),
        ]
        .boxed(),
        ValueFormat::Action => listed(action_filter()).boxed(),
        _ => "[A-Za-z0-9_-]{1,60}".boxed(),
    }
}

/// A parameter with a value of its own format.
fn well_formed_pair() -> impl Strategy<Value = (String, String)> {
    prop::sample::select(QUERY_PARAMETERS.to_vec()).prop_flat_map(|parameter| {
        (
            Just(parameter.name.to_owned()),
            valid_value(parameter.format, parameter.values),
        )
    })
}

/// Distinct parameters, each with a value of its own format: a query that
/// is accepted unless two of them disagree (`since` not before `until`,
/// `cursor` with `offset`).
fn well_formed_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::sample::subsequence(QUERY_PARAMETERS.to_vec(), 0..=QUERY_PARAMETERS.len()).prop_flat_map(|parameters| {
        parameters
            .into_iter()
            .map(|parameter| {
                (
                    Just(parameter.name.to_owned()),
                    valid_value(parameter.format, parameter.values),
                )
            })
            .collect::<Vec<_>>()
    })
}

/// Any value: any string, blanks, stray commas, values past every limit,
/// and values of every format given to whichever parameter.
fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::sample::select(vec![
            "", " ", "\t", ",", "a,", ",a", "a,,b", " , ", "\0", "\"", "%", "*", ".*"
        ])
        .prop_map(str::to_owned),
        any::<u32>().prop_map(|n| n.to_string()),
        "[a-z]{1025}",
        "[a-z ]{195,205}",
        "[a-z]{1,3}( [a-z]{1,3}){7,9}",
        // Times at the ends of the years RFC 3339 can write.
        time(prop::sample::select(vec![0, 9999])),
        prop::sample::select(QUERY_PARAMETERS.to_vec()).prop_flat_map(|p| valid_value(p.format, p.values)),
    ]
}

/// Pairs mostly well-formed, some named or valued anyhow, repeats allowed.
fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(prop_oneof![3 => well_formed_pair(), 1 => (name(), any_value())], 0..8)
}

/// A raw query string: any text, and text dense in what query strings are
/// made of (separators, `+`, percent escapes of any byte, commas, quotes).
fn raw_query() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "&", "=", "+", ",", "%", "%2", "%2C", "%00", "%FF", "%C3", "\"", "*", ";"
        ])
        .prop_map(str::to_owned),
        any::<u8>().prop_map(|byte| format!("%{byte:02X}")),
        name(),
        any_value(),
    ];
    prop_oneof![
        any::<String>(),
        prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat()),
        pairs().prop_map(|pairs| query_string(&pairs)),
    ]
}

/// Pairs as a browser or client library would put them in a URL.
fn query_string<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name.as_ref(), value.as_ref());
    }
    serializer.finish()
}

/// What the admin API does with a query string (`http/handlers.rs`).
fn parse_query_string(raw: &str) -> (Vec<(String, String)>, Result<AuditQuery, QueryError>) {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
    let query = AuditQuery::from_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    (pairs, query)
}

fn from_params(pairs: &[(String, String)]) -> Result<AuditQuery, QueryError> {
    AuditQuery::from_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The error names a parameter the request gave, its text is that name in
/// backticks then the message, and the message quotes values escaped.
fn check_error(error: &QueryError, pairs: &[(String, String)]) -> Result<(), TestCaseError> {
    prop_assert!(
        pairs.iter().any(|(name, _)| name == error.parameter()),
        "`{}` is not among {:?}",
        error.parameter(),
        pairs
    );
    prop_assert_eq!(
        error.to_string(),
        format!("`{}` {}", error.parameter(), error.message())
    );
    prop_assert!(!error.message().is_empty());
    prop_assert!(!error.message().chars().any(char::is_control), "{:?}", error.message());
    Ok(())
}

/// An accepted query renders to pairs, and to a query string, that parse
/// back to it.
fn check_round_trip(query: &AuditQuery) -> Result<(), TestCaseError> {
    let rendered = query.to_params();
    let again = AuditQuery::from_params(rendered.iter().map(|(k, v)| (*k, v.as_str())));
    prop_assert_eq!(again.as_ref(), Ok(query), "{:?}", rendered);
    let (_, over_http) = parse_query_string(&query_string(&rendered));
    prop_assert_eq!(over_http.as_ref(), Ok(query), "{:?}", rendered);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases(30_000)))]

    #[test]
    fn any_pairs_give_a_query_that_round_trips_or_an_error_naming_one_of_them(pairs in pairs()) {
        match from_params(&pairs) {
            Ok(query) => check_round_trip(&query)?,
            Err(error) => check_error(&error, &pairs)?,
        }
    }

    #[test]
    fn well_formed_values_give_a_query_that_round_trips_unless_two_disagree(pairs in well_formed_pairs()) {
        match from_params(&pairs) {
            Ok(query) => check_round_trip(&query)?,
            Err(error) => {
                check_error(&error, &pairs)?;
                prop_assert!(["until", "offset"].contains(&error.parameter()), "{}", error);
            }
        }
    }

    #[test]
    fn any_raw_query_string_gives_a_query_that_round_trips_or_an_error_naming_one_of_its_parameters(
        raw in raw_query(),
    ) {
        let (pairs, query) = parse_query_string(&raw);
        match query {
            Ok(query) => check_round_trip(&query)?,
            Err(error) => check_error(&error, &pairs)?,
        }
    }
}

/// The same over HTTP: the admin API on loopback, over an empty SQLite
/// store, answers any query string with a page, or with a 400 whose
/// `param` is one of the parameters the string holds, never a 5xx.
#[cfg(all(feature = "http", feature = "sqlite"))]
mod over_http {
    use http::StatusCode;
    use proptest::prelude::*;
    use serde_json::Value;

    use super::support::TestDb;
    use super::support::loopback::Loopback;
    use super::{fuzz_cases, raw_query};

    /// A platform reader: every tenant, so no 403 hides a parameter error.
    const AUDITOR: &str = "u_auditor auditor";

    /// `raw` as it can travel in a request line: bytes a URI may not hold
    /// are percent-encoded, which the server decodes back to the same pairs.
    fn uri_safe(raw: &str) -> String {
        raw.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => char::from(byte).to_string(),
                b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';'
                | b'=' | b':' | b'@' | b'/' | b'?' | b'%' => char::from(byte).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    }

    #[test]
    fn any_query_string_is_a_page_or_a_400_naming_one_of_its_parameters() {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let db = TestDb::sqlite();
        let api = runtime.block_on(async { Loopback::start(db.connect().await).await });
        // One request over loopback per case: a tenth of the parsers' count.
        let cases = (fuzz_cases(30_000) / 10).max(1);
        proptest!(ProptestConfig::with_cases(cases), |(raw in raw_query())| {
            let query = uri_safe(&raw);
            let (status, _, body) = runtime.block_on(api.get(AUDITOR, &format!("?{query}")));
            let body: Value = serde_json::from_str(&body).expect("every answer is JSON");
            match status {
                StatusCode::OK => prop_assert!(body["data"].is_array(), "{}", body),
                StatusCode::BAD_REQUEST => {
                    let names: Vec<String> = form_urlencoded::parse(query.as_bytes()).map(|(name, _)| name.into_owned()).collect();
                    let param = body["error"]["param"].as_str().unwrap_or_default();
                    prop_assert!(names.iter().any(|name| name == param), "{} not among {:?}", body, names);
                }
                other => prop_assert!(false, "{} for ?{}: {}", other, query, body),
            }
        });
    }
}
