//! The pipeline end to end into a real file: scope → draft → auditor → JSON lines on disk.

use std::time::Duration;

use audit_core::{Action, Actor, AuditScope, Auditor, Draft, Event, JsonLinesSink, RequestContext, Target};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_a_real_file_one_line_each_and_read_back_identical() {
    let dir = std::env::temp_dir().join(format!("audit-e2e-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.ndjson");
    let file = tokio::fs::File::create(&path).await.unwrap();
    let auditor = Auditor::builder().batch_size(7).start(JsonLinesSink::new(file));

    let mut expected_ids = Vec::new();
    for n in 0..50 {
        let scope = AuditScope::new(RequestContext::new(Actor::user(format!("user_{n}"))).with_tenant("acme"))
            .with_auditor(auditor.clone());
        let id = scope
            .run(async move {
                let draft = Draft::open(Action::new("app.renamed").unwrap());
                draft
                    .scoped(async move {
                        audit_core::target(Target::new("app", format!("app_{n}")));
                        audit_core::before(&json!({"name": format!("old\r\n{n}")}));
                        audit_core::after(&json!({"name": format!("new {n}"), "secret": "s3cr3t"}));
                    })
                    .await;
                let id = draft.event_id();
                draft.complete();
                id
            })
            .await;
        expected_ids.push(id);
    }
    let stats = auditor.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!(stats.written, 52, "50 events and the two lifecycle events");

    let text = tokio::fs::read_to_string(&path).await.unwrap();
    assert!(!text.contains("s3cr3t"), "the secret never reaches the file");
    let events: Vec<Event> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(events.len(), 52);
    let ids: Vec<_> = events
        .iter()
        .filter(|e| e.action().as_str() == "app.renamed")
        .map(Event::id)
        .collect();
    assert_eq!(ids, expected_ids, "written in order, each once");
    for event in &events[1..51] {
        let diff = &event.changes().unwrap().diff;
        assert!(diff.iter().any(|d| d.path == "/name"));
        assert!(
            diff.iter()
                .any(|d| d.path == "/secret" && d.new == Some(json!(audit_core::REDACTED)))
        );
        // What is read back hashes exactly as what was written.
        let again: Event = serde_json::from_str(&serde_json::to_string(event).unwrap()).unwrap();
        assert_eq!(again.canonical_bytes(), event.canonical_bytes());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
