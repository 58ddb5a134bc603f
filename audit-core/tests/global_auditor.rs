//! Events outside any scope: the process-wide auditor, or a loud warning.
//! One test in its own binary, because the global auditor is process-wide.

use audit_core::{Action, ActorKind, Auditor, Draft, MemorySink, unrouted_events};

#[tokio::test]
async fn events_outside_any_scope_go_to_the_global_auditor_or_are_counted_as_unrouted() {
    // No global auditor yet: the event has nowhere to go, and says so.
    let before = unrouted_events();
    Draft::open(Action::from_static("cache.purged").unwrap()).complete();
    assert_eq!(unrouted_events(), before + 1);

    let sink = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    auditor.install_global().unwrap();
    assert!(auditor.install_global().is_err(), "the global auditor is set once");

    let draft = Draft::open(Action::from_static("cache.purged").unwrap());
    draft.run_sync(|| audit_core::meta("entries", &1200));
    draft.complete();
    Auditor::global().unwrap().flush().await.unwrap();

    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor().kind, ActorKind::Anonymous);
    assert_eq!(events[0].metadata()["entries"], 1200);
    assert_eq!(unrouted_events(), before + 1, "nothing more went unrouted");
}
