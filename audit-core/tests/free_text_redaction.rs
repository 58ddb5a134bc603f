//! Secret-shaped text in an event's free-text fields is masked when the event
//! is prepared: through the auditor into a sink, following the auditor's
//! redactor, before the strings are capped.

use audit_core::{
    Action, Actor, Auditor, Event, EventBuilder, EventContext, EventPolicy, Limits, MemorySink, Outcome, REDACTED,
    Redactor,
};

fn event() -> EventBuilder {
    Event::builder(Action::from_static("app.deleted").unwrap(), Actor::user("u1"))
}

async fn record_one(policy: EventPolicy, builder: EventBuilder) -> Event {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .policy(policy)
        .start(sink.clone());
    auditor.record(builder).await.unwrap();
    auditor.flush().await.unwrap();
    let mut events = sink.events();
    assert_eq!(events.len(), 1);
    events.remove(0)
}

#[tokio::test]
async fn reason_with_a_bearer_header_arrives_in_the_sink_masked() {
    let stored = record_one(
        EventPolicy::default(),
        event()
            .outcome(Outcome::Failure)
            .reason("upstream refused Authorization: Bearer abc.def.ghi"),
    )
    .await;
    assert_eq!(stored.reason(), Some("upstream refused Authorization: [REDACTED]"));
    let json = serde_json::to_string(&stored).unwrap();
    assert!(!json.contains("abc.def.ghi"), "{json}");
}

#[test]
fn description_user_agent_and_client_request_id_are_masked() {
    let context = EventContext {
        user_agent: Some("deploy-bot/2 (token=ghp_0123456789abcdefghijABCDEFGHIJ012345)".into()),
        client_request_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        ..EventContext::default()
    };
    let event = event()
        .description("Deleted app; DSN was postgres://app:hunter2@db/main")
        .context(context)
        .build();
    assert_eq!(
        event.description(),
        Some("Deleted app; DSN was postgres://app:[REDACTED]@db/main")
    );
    assert_eq!(
        event.context().user_agent.as_deref(),
        Some("deploy-bot/2 (token=[REDACTED])")
    );
    assert_eq!(event.context().client_request_id.as_deref(), Some(REDACTED));
}

#[tokio::test]
async fn the_auditors_redactor_decides_which_pairs_are_masked() {
    let policy = EventPolicy {
        redactor: Redactor::new().allow("token_count").deny("iban"),
        ..EventPolicy::default()
    };
    let stored = record_one(
        policy,
        event().reason("quota: token_count=5 token=t-1 payout_iban=DE89370400440532013000"),
    )
    .await;
    assert_eq!(
        stored.reason(),
        Some("quota: token_count=5 token=[REDACTED] payout_iban=[REDACTED]")
    );
}

#[test]
fn a_per_event_redact_key_applies_to_pairs_too() {
    let event = event().redact_key("pin").reason("wrong pin=1234").build();
    assert_eq!(event.reason(), Some("wrong pin=[REDACTED]"));
}

#[test]
fn a_secret_across_the_size_cap_is_masked_before_the_cut() {
    let limits = Limits {
        text_bytes: 32,
        ..Limits::default()
    };
    let policy = EventPolicy {
        limits,
        ..EventPolicy::default()
    };
    // The key starts at byte 20: cut at 32 first, its first 12 bytes would
    // no longer be key-shaped and would be kept.
    let event = event()
        .reason(format!("{}AKIAIOSFODNN7EXAMPLE", "x ".repeat(10)))
        .build_with(&policy);
    let reason = event.reason().unwrap();
    assert_eq!(reason, format!("{}{REDACTED}", "x ".repeat(10)));
    assert!(!event.truncated());
}

#[test]
fn secrets_that_masking_brings_under_the_cap_are_masked_and_the_rest_is_cut() {
    let limits = Limits {
        text_bytes: 64,
        ..Limits::default()
    };
    let policy = EventPolicy {
        limits,
        ..EventPolicy::default()
    };
    // Three 40-byte GitHub tokens: 120 bytes that mask to 30, so the AWS key
    // at raw byte 123 lands inside the 64 kept bytes and must be masked; the
    // tail of 100 KB past it is cut, whatever secrets it holds.
    let github = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let aws = "AKIAIOSFODNN7EXAMPLE";
    let tail = format!(" password=hunter2 {}", "\u{1b}x".repeat(50_000));
    let event = event()
        .description(format!("{github} {github} {github} {aws}{tail}"))
        .build_with(&policy);
    let description = event.description().unwrap();
    assert!(
        description.starts_with(&format!("{REDACTED} {REDACTED} {REDACTED} {REDACTED}")),
        "{description}"
    );
    assert!(
        !description.contains("AKIA") && !description.contains("ghp_"),
        "{description}"
    );
    assert!(!description.contains("hunter2"), "{description}");
    assert!(description.len() <= 64 + '…'.len_utf8(), "{}", description.len());
    assert!(event.truncated());
}
