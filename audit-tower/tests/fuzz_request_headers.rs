//! Fuzzing the request headers the layer turns into strings (issue 18):
//! `User-Agent` and `X-Request-Id` are the client's, so any bytes `http`
//! lets through must reach the event without a panic, escaped and within
//! their limits. The user agent is the header decoded lossily, masked and
//! sanitised, as the public functions of audit-core do it; the client's
//! request id is kept only when well-formed, as request_id.rs documents;
//! the request id itself is always the layer's own UUIDv7.
//!
//! Cases: `AUDIT_FUZZ_CASES` (see `support`); each is one request through
//! the layer, so the default is lower than for the pure parsers.

mod support;

use audit_core::{Action, Auditor, Draft, Event, Limits, MemorySink, Redactor, decode_lossy, sanitize_str};
use audit_tower::AuditLayer;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderValue, Request};
use proptest::prelude::*;
use support::fuzz_cases;
use tower::ServiceExt;

/// The characters a client request id may hold, as request_id.rs documents.
const REQUEST_ID_CHARS: &str = "-_.:/+=@";

/// The longest client request id kept, as request_id.rs documents.
const MAX_CLIENT_REQUEST_ID: usize = 128;

/// Whether a client's `X-Request-Id` is kept: 1–128 letters, digits and
/// `-_.:/+=@`.
fn documented_well_formed(bytes: &[u8]) -> bool {
    (1..=MAX_CLIENT_REQUEST_ID).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || REQUEST_ID_CHARS.as_bytes().contains(b))
}

/// Any bytes `http` accepts in a header value: visible ASCII, space, tab and
/// obs-text (0x80–0xFF, often not UTF-8).
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        any::<String>().prop_map(String::into_bytes),
        "[ -~]{0,200}".prop_map(String::into_bytes),
        // Around the request id's length limit, and one odd byte in an otherwise good id.
        "[a-zA-Z0-9_.:/+=@-]{1,140}".prop_map(String::into_bytes),
        ("[a-zA-Z0-9_.:/+=@-]{0,64}", any::<u8>(), "[a-zA-Z0-9_.:/+=@-]{0,63}").prop_map(|(before, odd, after)| [
            before.as_bytes(),
            &[odd],
            after.as_bytes()
        ]
        .concat()),
        // Secret-shaped values, which are masked before the cap.
        prop::sample::select(vec!["AKIAIOSFODNN7EXAMPLE", "Bearer abc.def-123", "api_key=k-live-123"])
            .prop_map(|secret| secret.as_bytes().to_vec()),
        // A long agent, cut at the text limit.
        ("[ -~é\u{202e}]{1,8}", 1..2_000usize).prop_map(|(chunk, times)| chunk.repeat(times).into_bytes()),
    ]
    .prop_map(|mut bytes| {
        bytes.retain(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        bytes
    })
}

/// What the event should say for header text: masked, then escaped and cut
/// to `limit`, as the builder documents.
fn masked_and_sanitised(text: &str, limit: usize) -> String {
    let (masked, _) = Redactor::new().redact_text(text);
    sanitize_str(&masked, limit).0.into_owned()
}

/// Sends one request with these headers through the layer; returns the
/// event the handler recorded and the request id the response carried.
async fn recorded_for(user_agent: Option<&[u8]>, client_request_id: Option<&[u8]>) -> (Event, String) {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                Draft::open(Action::from_static("page.viewed").expect("a valid action")).complete();
            }),
        )
        .layer(AuditLayer::new(auditor.clone()));
    let mut request = Request::get("/");
    for (name, bytes) in [("user-agent", user_agent), ("x-request-id", client_request_id)] {
        if let Some(bytes) = bytes {
            request = request.header(name, HeaderValue::from_bytes(bytes).expect("bytes http accepts"));
        }
    }
    let response = app
        .oneshot(request.body(Body::empty()).expect("a valid request"))
        .await
        .expect("the router is infallible");
    auditor.flush().await.expect("the memory sink accepts every event");
    let mut events = sink.events();
    assert_eq!(events.len(), 1, "one event per request");
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("a generated id is ASCII")
        .to_owned();
    (events.remove(0), request_id)
}

#[test]
fn header_strings_reach_the_event_escaped_capped_and_the_request_id_only_when_well_formed() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let limits = Limits::default();
    proptest!(
        ProptestConfig::with_cases(fuzz_cases(5_000)),
        |(user_agent in prop::option::of(header_bytes()), client_request_id in prop::option::of(header_bytes()))| {
            let (event, request_id) = runtime.block_on(recorded_for(user_agent.as_deref(), client_request_id.as_deref()));
            let context = event.context();

            let (agent, lossy) = match &user_agent {
                Some(bytes) => {
                    let (text, lossy) = decode_lossy(bytes);
                    (Some(masked_and_sanitised(&text, limits.text_bytes)), lossy)
                }
                None => (None, false),
            };
            prop_assert_eq!(&context.user_agent, &agent);
            prop_assert_eq!(event.lossy_utf8(), lossy);
            if let Some(agent) = &context.user_agent {
                prop_assert!(agent.len() <= limits.text_bytes);
                prop_assert!(!agent.chars().any(char::is_control), "{:?}", agent);
            }

            let kept = client_request_id
                .as_deref()
                .filter(|bytes| documented_well_formed(bytes))
                .map(|bytes| masked_and_sanitised(std::str::from_utf8(bytes).expect("well-formed ids are ASCII"), limits.field_bytes));
            prop_assert_eq!(&context.client_request_id, &kept);

            // The request id is the layer's, never the client's.
            prop_assert_eq!(context.request_id.as_deref(), Some(request_id.as_str()));
            let generated = uuid::Uuid::parse_str(&request_id);
            prop_assert_eq!(generated.map(|id| id.get_version_num()), Ok(7));
        }
    );
}
