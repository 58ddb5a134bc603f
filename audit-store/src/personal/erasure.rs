//! What an erasure asks for and what it did; legal holds.

use audit_core::{Action, Actor, Event, Target, Timestamp};
use serde::Serialize;

use crate::error::StoreError;

/// The action recorded for every erasure.
pub const SUBJECT_ERASED: &str = "audit.subject_erased";
/// The action recorded when a legal hold is placed.
pub const LEGAL_HOLD_PLACED: &str = "audit.legal_hold.placed";
/// The action recorded when a legal hold is released.
pub const LEGAL_HOLD_RELEASED: &str = "audit.legal_hold.released";

/// The longest subject id an erasure accepts (the store's field cap).
const MAX_SUBJECT_BYTES: usize = 1024;

/// A request to erase one subject's personal data
/// ([`Store::erase_subject`](crate::Store::erase_subject)).
///
/// ```
/// use audit_core::Actor;
/// use audit_store::personal::Erasure;
///
/// let erasure = Erasure::new("user_bob", Actor::user("dpo_carol")).reason("GDPR Art. 17 request #4711");
/// assert_eq!(erasure.subject(), "user_bob");
/// ```
#[derive(Debug, Clone)]
pub struct Erasure {
    subject: String,
    requested_by: Actor,
    reason: Option<String>,
}

impl Erasure {
    /// Erase `subject` (an actor or target id), as asked by `requested_by`.
    pub fn new(subject: impl Into<String>, requested_by: Actor) -> Self {
        Self {
            subject: subject.into(),
            requested_by,
            reason: None,
        }
    }

    /// Why (a ticket, the legal basis); recorded with the erasure.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The subject to erase.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if self.subject.trim().is_empty() {
            return Err(StoreError::InvalidSubject("the subject id is empty".into()));
        }
        if self.subject.len() > MAX_SUBJECT_BYTES {
            return Err(StoreError::InvalidSubject(format!(
                "the subject id is longer than {MAX_SUBJECT_BYTES} bytes"
            )));
        }
        Ok(())
    }

    /// The `audit.subject_erased` event for `tenant` (the global stream
    /// when `None`).
    pub(crate) fn event(&self, tenant: Option<&str>, report: &ErasureReport) -> Event {
        let action = Action::from_static(SUBJECT_ERASED).unwrap_or_else(|e| unreachable!("a valid action: {e}"));
        let mut builder = Event::builder(action, self.requested_by.clone())
            .target(Target::new("subject", self.subject.clone()))
            .severity(audit_core::Severity::Critical)
            .description(format!("Erased the personal data of {}", self.subject))
            .metadata("key_destroyed", &report.key_destroyed)
            .metadata("tenants", &report.tenants);
        if let Some(reason) = &self.reason {
            builder = builder.metadata("reason", reason);
        }
        if let Some(tenant) = tenant {
            builder = builder.tenant(tenant);
        }
        builder.build()
    }
}

/// What [`Store::erase_subject`](crate::Store::erase_subject) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureReport {
    /// The subject erased.
    pub subject: String,
    /// Whether a live key was destroyed (`false` when the subject had
    /// none: never sealed, or erased before).
    pub key_destroyed: bool,
    /// The tenants whose events name the subject as actor or main target
    /// (sorted; `null` stands for events without a tenant).
    pub tenants: Vec<Option<String>>,
    /// The ids of the `audit.subject_erased` events recorded.
    pub events: Vec<uuid::Uuid>,
}

/// A tenant whose subjects cannot be erased (litigation, an
/// investigation): [`Store::place_legal_hold`](crate::Store::place_legal_hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegalHold {
    /// The held tenant.
    pub tenant: String,
    /// Why.
    pub reason: String,
    /// Who placed it (the actor id).
    pub placed_by: String,
    /// When.
    pub placed_at: Timestamp,
}

impl LegalHold {
    /// The event recording that this hold was placed (or, with
    /// `released`, released by `by`).
    pub(crate) fn event(&self, by: &Actor, released: bool) -> Event {
        let name = if released {
            LEGAL_HOLD_RELEASED
        } else {
            LEGAL_HOLD_PLACED
        };
        let action = Action::from_static(name).unwrap_or_else(|e| unreachable!("a valid action: {e}"));
        let verb = if released { "Released" } else { "Placed" };
        Event::builder(action, by.clone())
            .tenant(self.tenant.clone())
            .target(Target::new("tenant", self.tenant.clone()))
            .severity(audit_core::Severity::Critical)
            .description(format!("{verb} a legal hold on tenant {}", self.tenant))
            .metadata("reason", &self.reason)
            .build()
    }
}
