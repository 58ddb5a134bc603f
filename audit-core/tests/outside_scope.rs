//! The free functions outside any draft do nothing harmful and say so once.
//! In its own binary: the "once" is per process.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Counts warnings; enough of a subscriber for this test.
struct WarningCounter(Arc<AtomicUsize>);

impl Subscriber for WarningCounter {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if *event.metadata().level() == Level::WARN {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn free_functions_outside_a_draft_are_harmless_and_warn_once() {
    let warnings = Arc::new(AtomicUsize::new(0));
    tracing::subscriber::with_default(WarningCounter(Arc::clone(&warnings)), || {
        audit_core::before(&"x");
        audit_core::after(&"y");
        audit_core::meta("k", &1);
        audit_core::outcome(audit_core::Outcome::Denied);
        audit_core::reason("r");
        audit_core::description("d");
        audit_core::target(audit_core::Target::new("app", "1"));
    });
    assert_eq!(warnings.load(Ordering::SeqCst), 1, "one warning for the whole process");
}
