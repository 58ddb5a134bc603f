//! The quickstart: today a tour of the audit pipeline on stdout.
//!
//! This example will become an axum service with a full audit trail in an
//! embedded SQLite file (see the README's roadmap). Until the HTTP layer and
//! the stores land, it records a few events through the real pipeline and
//! prints them as JSON lines, so a newcomer sees what an audit event is.

use std::time::Duration;

use audit_core::{Action, Actor, AuditScope, Auditor, Draft, JsonLinesSink, RequestContext, Severity, Target};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    eprintln!("audit quickstart: recording three events through the pipeline, printed as JSON lines.");
    eprintln!("(This example will grow into an axum service with a SQLite audit trail and an admin page.)\n");

    let auditor = Auditor::builder().start(JsonLinesSink::new(tokio::io::stdout()));

    // What the HTTP layer will do for every request: a scope with who and for which tenant.
    let request = RequestContext::new(
        Actor::user("user_alice")
            .with_email("alice@acme.test")
            .with_role("owner"),
    )
    .with_tenant("acme");
    let scope = AuditScope::new(request).with_auditor(auditor.clone());
    scope
        .run(async {
            // What #[audited(action = "member.role_changed")] will do for a handler.
            let draft = Draft::open(Action::new("member.role_changed")?);
            draft
                .scoped(async {
                    audit_core::target(Target::new("member", "mem_42").with_name("bob@acme.test"));
                    audit_core::before(&json!({"role": "member", "api_token": "tok_live_123"}));
                    audit_core::after(&json!({"role": "admin", "api_token": "tok_live_123"}));
                    audit_core::description("Changed Bob's role from member to admin");
                })
                .await;
            draft.update(|event| event.severity(Severity::Notice));
            draft.complete();
            Ok::<_, audit_core::ActionError>(())
        })
        .await?;

    auditor.shutdown(Duration::from_secs(5)).await?;
    eprintln!("\nNote the redacted api_token, the diff, the UUIDv7 ids and the lifecycle events.");
    Ok(())
}
