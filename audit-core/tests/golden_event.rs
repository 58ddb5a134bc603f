//! The JSON shape of an event is the public contract: this pins it.
//!
//! To accept an intended change of shape, run with `UPDATE_GOLDEN=1` and
//! review the diff of `tests/golden/event.json` like any API change.

use std::net::IpAddr;

use audit_core::{
    Action, Actor, Category, Event, EventContext, Integrity, IpSource, Outcome, Severity, Target, Timestamp,
};
use serde_json::{Value, json};

fn fully_populated_event() -> Event {
    let context = EventContext {
        client_ip: Some("203.0.113.7".parse::<IpAddr>().unwrap()),
        peer_ip: Some("10.0.0.2".parse::<IpAddr>().unwrap()),
        ip_source: Some(IpSource::XForwardedFor),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
        request_id: Some("0192f5e4-7c1a-7b3e-9f10-3d2c1b0a9e8f".into()),
        client_request_id: Some("req_01HZX".into()),
        method: Some("PATCH".into()),
        route: Some("/members/{id}/role".into()),
        status: Some(200),
        trace_id: None,
        span_id: None,
    };
    let mut event = Event::builder(
        Action::new("member.role_changed").unwrap(),
        Actor::user("user_alice")
            .with_name("Alice")
            .with_email("alice@acme.test")
            .with_role("owner"),
    )
    .tenant("acme")
    .target(Target::new("member", "mem_42").with_name("bob@acme.test"))
    .add_target(Target::new("user", "user_bob"))
    .description("Changed Bob's role from member to admin")
    .severity(Severity::Notice)
    .outcome(Outcome::Success)
    .context(context)
    .before(&json!({"role": "member", "password": "hunter2"}))
    .after(&json!({"role": "admin", "password": "hunter3"}))
    .metadata("via", "admin console")
    .occurred_at(Timestamp::from_unix_micros(1_795_000_000_123_456).unwrap())
    .build();
    event.set_recorded_at(Timestamp::from_unix_micros(1_795_000_000_200_000).unwrap());
    event.set_integrity(Integrity {
        stream: "tenant:acme".into(),
        seq: 7,
        leaf_hash: "00".repeat(32),
    });
    event
}

/// The id is random (UUIDv7); pin everything else.
fn with_fixed_id(mut value: Value) -> Value {
    value["id"] = json!("00000000-0000-7000-8000-000000000000");
    value
}

#[test]
fn event_json_matches_the_golden_file() {
    let event = fully_populated_event();
    assert_eq!(event.id().get_version_num(), 7, "ids are UUIDv7");
    assert_eq!(event.category(), Category::Update);
    let actual = serde_json::to_string_pretty(&with_fixed_id(serde_json::to_value(&event).unwrap())).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/event.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(path).expect("golden file exists (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        actual, expected,
        "the event JSON shape changed; if intended, rerun with UPDATE_GOLDEN=1"
    );
}

#[test]
fn golden_json_deserialises_to_the_same_event() {
    let event = fully_populated_event();
    let text = serde_json::to_string(&event).unwrap();
    let back: Event = serde_json::from_str(&text).unwrap();
    assert_eq!(back, event);
    assert_eq!(back.canonical_bytes(), event.canonical_bytes());
}

#[test]
fn absent_optional_fields_are_explicit_nulls() {
    let event = Event::builder(Action::new("app.created").unwrap(), Actor::anonymous()).build();
    let value = serde_json::to_value(&event).unwrap();
    for key in [
        "recorded_at",
        "tenant_id",
        "reason",
        "target",
        "description",
        "changes",
        "integrity",
    ] {
        assert_eq!(value[key], Value::Null, "{key} should be present and null");
    }
    assert_eq!(value["targets"], json!([]));
    assert_eq!(value["metadata"], json!({}));
    let context = value["context"].as_object().unwrap();
    for key in ["client_ip", "request_id"] {
        assert_eq!(
            context.get(key),
            Some(&Value::Null),
            "context.{key} should be present and null"
        );
    }
    // The exception: absent when unset, so that events sealed before the
    // field existed hash as they did (see the next test).
    assert!(!context.contains_key("client_request_id"));
}

/// The leaf hash of an event without a client request id is what it was
/// before the field existed: its canonical bytes do not mention it.
#[test]
fn an_event_without_a_client_request_id_hashes_as_before_the_field_existed() {
    let mut event = fully_populated_event();
    let mut context = event.context().clone();
    context.client_request_id = None;
    event = Event::builder(event.action().clone(), event.actor().clone())
        .context(context)
        .occurred_at(event.occurred_at())
        .build();
    let bytes = String::from_utf8(event.canonical_bytes()).unwrap();
    assert!(!bytes.contains("client_request_id"), "{bytes}");
    assert!(
        bytes.contains(r#""client_ip":"#),
        "the other context keys stay, as null or values"
    );
}

/// Events stored before `client_request_id` existed still read back.
#[test]
fn context_without_client_request_id_reads_as_none() {
    let mut value = serde_json::to_value(fully_populated_event()).unwrap();
    value["context"].as_object_mut().unwrap().remove("client_request_id");
    let event: Event = serde_json::from_value(value).unwrap();
    assert_eq!(event.context().client_request_id, None);
    assert_eq!(
        event.context().request_id.as_deref(),
        Some("0192f5e4-7c1a-7b3e-9f10-3d2c1b0a9e8f")
    );
}
