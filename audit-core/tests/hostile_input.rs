//! Hostile input never breaks an event, a log line or a page.

use audit_core::{Action, Actor, AuditSink, Event, EventContext, JsonLinesSink, Limits, Target, decode_lossy};
use serde_json::{Value, json};

const HOSTILE: &[&str] = &[
    "line one\r\nFAKE 2026-01-01 admin deleted everything",
    "\u{1b}[2J\u{1b}[31mred alert\u{1b}[0m",
    "invoice_\u{202e}fdp.exe",
    "nul\0byte",
    "bell\u{7}tab\tvt\u{b}ff\u{c}del\u{7f}nel\u{85}ls\u{2028}ps\u{2029}",
];

fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' | '\u{61c}')
}

/// Every string anywhere in the event's JSON (keys included) is free of
/// control and bidi characters.
fn assert_inert(value: &Value) {
    match value {
        Value::String(text) => assert!(
            !text.chars().any(is_dangerous),
            "dangerous character survived in {text:?}"
        ),
        Value::Array(items) => items.iter().for_each(assert_inert),
        Value::Object(map) => {
            for (key, item) in map {
                assert!(
                    !key.chars().any(is_dangerous),
                    "dangerous character survived in key {key:?}"
                );
                assert_inert(item);
            }
        }
        _ => {}
    }
}

fn hostile_event(text: &str) -> Event {
    Event::builder(
        Action::new("app.updated").unwrap(),
        Actor::user(text).with_name(text).with_email(text).with_role(text),
    )
    .tenant(text)
    .target(Target::new(text, text).with_name(text))
    .add_target(Target::new("user", text))
    .description(text)
    .reason(text)
    .context(EventContext {
        user_agent: Some(text.into()),
        request_id: Some(text.into()),
        client_request_id: Some(text.into()),
        method: Some(text.into()),
        route: Some(text.into()),
        ..Default::default()
    })
    .before(&json!({ text: text, "nested": [text, {"deep": text}] }))
    .after(&json!({ text: "changed", "nested": [text] }))
    .metadata(text, text)
    .build()
}

#[test]
fn control_bidi_and_nul_characters_are_escaped_in_every_field() {
    for text in HOSTILE {
        let event = hostile_event(text);
        assert_inert(&serde_json::to_value(&event).unwrap());
        assert!(!event.truncated(), "escaping alone is not truncation");
    }
}

#[test]
fn escapes_are_visible_so_an_admin_sees_what_was_sent() {
    let event = hostile_event("a\r\nb\u{202e}c");
    assert_eq!(event.description(), Some("a\\u{d}\\u{a}b\\u{202e}c"));
}

#[test]
fn hundred_kilobyte_strings_are_capped_and_flagged() {
    let huge = "A".repeat(100 * 1024);
    let limits = Limits::default();
    let event = hostile_event(&huge);
    assert!(event.truncated());
    assert!(event.description().unwrap().len() <= limits.text_bytes);
    assert!(event.actor().id.len() <= limits.field_bytes);
    assert!(event.context().user_agent.as_ref().unwrap().len() <= limits.text_bytes);
    let value = serde_json::to_value(&event).unwrap();
    let total = value.to_string().len();
    assert!(
        total < 200 * 1024,
        "a 100 KB input in every field still yields a bounded event: {total} bytes"
    );
}

#[test]
fn oversized_metadata_is_replaced_by_a_marker() {
    let mut builder = Event::builder(Action::new("bulk.imported").unwrap(), Actor::system("import"));
    for n in 0..100 {
        builder = builder.metadata(format!("row_{n}"), &"x".repeat(2_000));
    }
    let event = builder.build();
    assert!(event.truncated());
    assert_eq!(event.metadata().len(), 1);
    assert!(
        event.metadata()["_truncated"]
            .as_str()
            .unwrap()
            .contains("exceeds the 65536-byte limit")
    );
}

#[test]
fn deeply_nested_state_is_cut_not_overflowing_the_stack() {
    // 1,000 levels: far deeper than serde_json's parser allows (128), as
    // code-built values can be, and as deep as serde_json itself can drop
    // comfortably on a test thread's stack.
    let mut deep = json!("bottom");
    for _ in 0..500 {
        deep = json!({ "child": [deep] });
    }
    let event = Event::builder(Action::new("doc.updated").unwrap(), Actor::anonymous())
        .metadata("doc", &deep)
        .before(&deep)
        .after(&json!({"child": []}))
        .build();
    assert!(event.truncated());
    let text = serde_json::to_string(&event).unwrap();
    assert!(text.contains("nested deeper than 32 levels"));
}

#[test]
fn invalid_utf8_header_bytes_are_decoded_lossily_and_flagged() {
    let (agent, lossy) = decode_lossy(b"curl/8.0 \xff\xfe\x1b[31m");
    assert!(lossy);
    let mut builder = Event::builder(Action::new("app.viewed").unwrap(), Actor::anonymous()).context(EventContext {
        user_agent: Some(agent.into_owned()),
        ..Default::default()
    });
    if lossy {
        builder = builder.mark_lossy_utf8();
    }
    let event = builder.build();
    assert!(event.lossy_utf8());
    assert_eq!(
        event.context().user_agent.as_deref(),
        Some("curl/8.0 \u{fffd}\u{fffd}\\u{1b}[31m")
    );
}

#[tokio::test]
async fn json_lines_are_never_split_by_hostile_content() {
    let sink = JsonLinesSink::new(Vec::<u8>::new());
    let events: Vec<Event> = HOSTILE.iter().map(|text| hostile_event(text)).collect();
    sink.write_batch(&events).await.unwrap();
    let output = String::from_utf8(sink.into_inner()).unwrap();
    let lines: Vec<&str> = output.split('\n').collect();
    assert_eq!(lines.len(), events.len() + 1, "one line per event and a final newline");
    assert_eq!(lines.last(), Some(&""));
    for (line, event) in lines.iter().zip(&events) {
        let back: Event = serde_json::from_str(line).unwrap();
        assert_eq!(&back, event);
    }
}
