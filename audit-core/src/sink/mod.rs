//! Where events go: the [`AuditSink`] trait and the sinks shipped with the core.
//!
//! Stores (`audit-store`) implement [`AuditSink`] too. The [`Auditor`](crate::Auditor)
//! calls [`AuditSink::write_batch`] from its single background writer, so a sink
//! sees one batch at a time.

mod json_lines;
mod memory;

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;

pub use json_lines::JsonLinesSink;
pub use memory::MemorySink;

use crate::event::Event;

/// A destination for batches of prepared events.
///
/// # Contract
/// - **Idempotent by [`Event::id`]**: the auditor retries a failed batch
///   whole, so writing an event that is already stored must not store it twice.
/// - **All or nothing is not required**, idempotency makes partial writes safe.
/// - Return a [`SinkError::transient`] for failures worth retrying (I/O,
///   connection loss, lock timeouts) and a [`SinkError::rejected`] when retrying
///   cannot help (the data itself is refused); the auditor then writes the
///   batch one event at a time and reports the refused events loudly.
///
/// ```
/// use audit_core::{AuditSink, Event, SinkError};
///
/// struct Stdout;
/// impl AuditSink for Stdout {
///     async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
///         for event in batch {
///             println!("{}", serde_json::to_string(event).map_err(SinkError::rejected)?);
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait AuditSink: Send + Sync + 'static {
    /// Persists `batch`; see the trait docs for the contract.
    fn write_batch(&self, batch: &[Event]) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// The largest batch this sink writes best, if it knows one. An
    /// [`Auditor`](crate::Auditor) whose builder sets no
    /// [`batch_size`](crate::AuditorBuilder::batch_size) hands the sink
    /// batches of up to this many events (default `None`: the auditor's own
    /// default, 512). A store whose cost is mostly per commit (SQLite:
    /// an fsync and every touched page rewritten to the WAL) says so here,
    /// so that an application under load gets its throughput without tuning.
    ///
    /// ```
    /// use audit_core::{AuditSink, Event, SinkError};
    ///
    /// struct Commits;
    /// impl AuditSink for Commits {
    ///     async fn write_batch(&self, _batch: &[Event]) -> Result<(), SinkError> {
    ///         Ok(())
    ///     }
    ///     fn preferred_batch_size(&self) -> Option<usize> {
    ///         Some(10_000)
    ///     }
    /// }
    /// assert_eq!(Commits.preferred_batch_size(), Some(10_000));
    /// ```
    fn preferred_batch_size(&self) -> Option<usize> {
        None
    }
}

/// Object-safe twin of [`AuditSink`], so the auditor can hold any sink.
pub(crate) trait DynSink: Send + Sync + 'static {
    fn write_batch_dyn<'a>(
        &'a self,
        batch: &'a [Event],
    ) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;
}

impl<S: AuditSink> DynSink for S {
    fn write_batch_dyn<'a>(
        &'a self,
        batch: &'a [Event],
    ) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>> {
        Box::pin(self.write_batch(batch))
    }
}

/// Why a sink could not write a batch.
///
/// ```
/// use audit_core::SinkError;
/// let err = SinkError::transient(std::io::Error::other("connection reset"));
/// assert!(err.is_retryable());
/// assert_eq!(err.to_string(), "connection reset");
/// assert!(!SinkError::rejected("value too long").is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    message: String,
    retryable: bool,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl SinkError {
    /// A failure worth retrying: I/O, a lost connection, a lock timeout.
    pub fn transient(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(error.into(), true)
    }

    /// A refusal that retrying cannot fix: the data itself is rejected.
    pub fn rejected(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(error.into(), false)
    }

    fn new(error: Box<dyn StdError + Send + Sync>, retryable: bool) -> Self {
        Self {
            message: error.to_string(),
            retryable,
            source: Some(error),
        }
    }

    /// A copy with the same message (the source is not cloneable).
    pub(crate) fn clone_message(&self) -> Self {
        Self {
            message: self.message.clone(),
            retryable: self.retryable,
            source: None,
        }
    }

    /// Whether the auditor should retry.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}
