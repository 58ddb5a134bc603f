//! Raw identifiers and keyword-like names in arguments and fields.
#![deny(warnings)]

use audit_core::{Actor, AuditScope, AuditState, Auditable, RequestContext, audited};

#[derive(Auditable)]
struct Plugin {
    #[audit(id)]
    r#type: String,
    r#async: bool,
}

#[audited(action = "plugin.loaded", fields(r#type, "match" = r#match), skip(r#ref))]
fn load(r#type: &str, r#match: u8, r#ref: u8, r#in: u8) -> u8 {
    let _ = r#type;
    r#match + r#ref + r#in
}

fn main() {
    let plugin = Plugin {
        r#type: "webhook".into(),
        r#async: true,
    };
    assert_eq!(plugin.audit_id(), "webhook");
    assert_eq!(plugin.audit_state()["async"], true);

    let scope = AuditScope::new(RequestContext::new(Actor::user("u")));
    assert_eq!(scope.run_sync(|| load("x", 1, 2, 3)), 6);
    let event = scope.take_completed().pop().unwrap().into_builder(scope.request()).build();
    assert_eq!(event.metadata()["type"], "x");
    assert_eq!(event.metadata()["match"], 1);
    assert_eq!(event.metadata()["in"], 3);
    assert!(event.metadata().get("ref").is_none());
}
