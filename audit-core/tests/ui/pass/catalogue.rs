//! The catalogue's constants and `#[audited]` checked against it, with every
//! warning denied.
#![deny(warnings, unused, rust_2018_idioms, missing_docs)]
#![forbid(unsafe_code)]

use audit_core::{Actor, AuditScope, Category, Event, RequestContext, Severity, audited};

/// The constants of `apps.toml`.
pub mod actions {
    audit_core::catalogue!("../catalogues/apps.toml");
}

/// Declared `severity = "critical"`: the event gets it without the attribute saying so.
#[audited(action = "app.deleted", target = "app", target_id = id, catalogue = "../catalogues/apps.toml")]
async fn delete_app(id: u64) {}

/// The attribute's own severity wins over the catalogue's.
#[audited(action = "app.deleted", severity = "notice", catalogue = "../catalogues/apps.toml")]
fn delete_quietly() {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let by_hand = Event::builder(actions::APP_CREATED, Actor::user("user_alice")).build();
    assert_eq!(by_hand.action().as_str(), "app.created");
    assert_eq!(by_hand.category(), Category::Create);
    assert_eq!(actions::CATALOGUE.names().collect::<Vec<_>>(), ["app.created", "app.deleted"]);
    assert_eq!(actions::APP_CREATED.metadata().len(), 2);

    let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")));
    scope
        .run(async {
            delete_app(7).await;
            delete_quietly();
        })
        .await;
    let events: Vec<_> = scope
        .take_completed()
        .into_iter()
        .map(|draft| draft.into_builder(scope.request()).build())
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].action().as_str(), actions::APP_DELETED.name());
    assert_eq!(events[0].severity(), Severity::Critical);
    assert_eq!(events[1].severity(), Severity::Notice);
}
