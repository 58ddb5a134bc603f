#![doc = include_str!("../README.md")]

#[macro_use]
mod macros;

mod action;
mod auditable;
mod auditor;
mod builder;
mod canonical;
pub mod catalogue;
mod diff;
mod event;
mod event_canonical;
pub mod format;
mod redact;
mod request;
mod sanitize;
mod scope;
mod sink;
mod spool;
mod state;
mod timestamp;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use action::{Action, ActionError, Category, MAX_ACTION_LEN};
pub use audit_macros::{Auditable, audited, catalogue};
pub use auditable::Auditable;
pub use auditor::{
    AlreadyInstalled, Auditor, AuditorBuilder, AuditorStats, DEFAULT_BATCH_SIZE, Durability, FlushError, NotStored,
    OverflowPolicy, Receipt, RecordError, Reservation, RetryPolicy, ShutdownError, TryRecordError, TryReserveError,
};
pub use builder::{EventBuilder, EventPolicy};
pub use canonical::{CANONICAL_ENCODING, canonical_json, write_canonical_json};
pub use diff::{DiffEntry, diff};
pub use event::{
    Actor, ActorKind, Changes, Event, EventContext, Integrity, IpSource, Outcome, SealableParts, Severity, Target,
};
pub use format::{EventFormat, FormatOptions};
pub use redact::{DEFAULT_DENIED_KEYS, REDACTED, Redactor};
pub use request::RequestContext;
pub use sanitize::{Limits, decode_lossy, sanitize_str};
pub use scope::{
    AuditScope, CompletedDraft, CompletedDrafts, Draft, NoOpenDraft, OutcomeSource, after, before, carry_scope,
    complete_for_transaction, description, identify, meta, outcome, reason, spawn, target, unrouted_events,
};
pub use sink::{AuditSink, JsonLinesSink, MemorySink, SinkError};
pub use spool::{Damage, DamageKind, Spool, SpoolConfig, SpoolError};
pub use state::{AuditState, Snapshot};
pub use timestamp::{Timestamp, new_event_id};

/// A string did not name a known value of an enum (`severity=loud`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{found}`; expected one of: {}", expected.join(", "))]
pub struct ParseEnumError {
    what: &'static str,
    found: String,
    expected: &'static [&'static str],
}

impl ParseEnumError {
    /// The values that would have been accepted.
    pub fn expected(&self) -> &'static [&'static str] {
        self.expected
    }
}
