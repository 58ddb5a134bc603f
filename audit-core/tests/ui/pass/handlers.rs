//! The forms a service uses, compiled with every warning denied and unsafe
//! code forbidden: the generated code must add neither.
#![deny(warnings, unused, rust_2018_idioms, missing_docs)]
#![forbid(unsafe_code)]

use std::future::Future;

use audit_core as audit;
use audit_core::{Actor, AuditScope, Auditable, RequestContext, audited};

/// An application.
#[derive(Debug, Clone, Auditable, serde::Serialize)]
#[audit(target = "app")]
pub struct App {
    /// Its id.
    #[audit(id)]
    pub id: u64,
    /// Its name.
    #[audit(name)]
    pub name: String,
    /// Signs webhooks.
    #[audit(redact)]
    pub webhook_secret: String,
}

/// What can go wrong.
#[derive(Debug)]
pub enum ApiError {
    /// No such app.
    NotFound,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not found")
    }
}

/// Deletes an app.
///
/// # Errors
/// When there is no such app.
#[audited(
    action = "app.deleted",
    target = app,
    severity = "critical",
    description = "Deleted {app.name}",
    fields(reason = reason.trim()),
)]
pub async fn delete_app(app: &App, reason: String) -> Result<(), ApiError> {
    audit::before(app);
    if app.id == 0 {
        return Err(ApiError::NotFound);
    }
    drop(reason);
    Ok(())
}

/// Renames an app.
#[audited(action = "app.renamed", target = "app", target_id = app.id, tenant = "acme")]
pub fn rename<'a>(app: &'a mut App, name: &str) -> &'a str {
    app.name = name.to_owned();
    &app.name
}

/// A repository with async methods.
trait Apps {
    /// Archives an app.
    fn archive(&self, id: u64) -> impl Future<Output = Result<u64, ApiError>> + Send;

    /// Counts apps.
    #[audited(action = "app.counted")]
    async fn count(&self) -> usize {
        0
    }
}

/// Apps in memory.
struct Memory;

impl Apps for Memory {
    #[audited(action = "app.archived", target = "app", target_id = id)]
    fn archive(&self, id: u64) -> impl Future<Output = Result<u64, ApiError>> + Send {
        async move { if id == 0 { Err(ApiError::NotFound) } else { Ok(id) } }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")));
    let mut app = App {
        id: 7,
        name: "Billing".into(),
        webhook_secret: "whsec".into(),
    };
    runtime.block_on(scope.run(async {
        delete_app(&app, " cleanup ".into()).await.unwrap();
        assert_eq!(Memory.archive(7).await.unwrap(), 7);
        assert_eq!(Memory.count().await, 0);
    }));
    assert_eq!(scope.run_sync(|| rename(&mut app, "Payments")), "Payments");
    assert_eq!(scope.take_completed().len(), 4);
}
