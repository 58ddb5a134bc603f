//! `#[audited]` functions called outside any scope (a CLI command, a test, a
//! task spawned without `audit_core::spawn`): with no global auditor the event
//! is logged as a warning and counted; once one is installed, it goes there.
//! In its own binary, because the global auditor is process-wide.

use std::sync::{Arc, Mutex};

use audit_core::{ActorKind, Auditor, MemorySink, Outcome, audited, unrouted_events};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Metadata, Subscriber};

/// Collects the text of warnings; enough of a subscriber for this test.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl Subscriber for Warnings {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == Level::WARN {
            let mut text = String::new();
            event.record(&mut Text(&mut text));
            self.0.lock().unwrap().push(text);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[audited(action = "cache.purged", fields(entries = entries))]
fn purge_cache(entries: u32) -> Result<u32, String> {
    Ok(entries)
}

#[audited(action = "report.generated", target = "report", target_id = id)]
async fn generate_report(id: u64) -> Result<(), String> {
    tokio::task::yield_now().await;
    Err(format!("report {id} has no data"))
}

#[tokio::test]
async fn audited_calls_outside_any_scope_go_to_the_global_auditor_or_are_warned_about() {
    // No scope and no global auditor: a warning and the counter, never silence.
    let warnings = Warnings::default();
    let unrouted = unrouted_events();
    tracing::subscriber::with_default(warnings.clone(), || assert_eq!(purge_cache(3), Ok(3)));
    assert_eq!(unrouted_events(), unrouted + 1);
    let logged = warnings.0.lock().unwrap().clone();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].contains("nowhere to go") && logged[0].contains("cache.purged"),
        "{logged:?}"
    );

    // With a global auditor installed, the same calls are recorded there.
    let sink = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    auditor.install_global().unwrap();
    assert_eq!(purge_cache(5), Ok(5));
    assert!(generate_report(9).await.is_err());
    auditor.flush().await.unwrap();

    let events = sink.events();
    assert_eq!(sink.actions(), ["cache.purged", "report.generated"]);
    assert!(events.iter().all(|e| e.actor().kind == ActorKind::Anonymous));
    assert_eq!(events[0].metadata()["entries"], 5);
    assert_eq!(events[1].outcome(), Outcome::Failure);
    assert_eq!(events[1].reason(), Some("report 9 has no data"));
    assert_eq!(events[1].target().unwrap().id, "9");
    assert_eq!(unrouted_events(), unrouted + 1, "nothing more went unrouted");
}
