//! The auditor's counters.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) queued: AtomicU64,
    pub(super) written: AtomicU64,
    pub(super) retried: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) batches: AtomicU64,
    pub(super) last_batch_micros: AtomicU64,
}

impl Counters {
    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}

/// A snapshot of an auditor's counters.
///
/// Every event handed to [`Auditor::record`](super::Auditor::record) ends up
/// in exactly one of `queued` (then `written` or `rejected`, or `dropped` if
/// a shutdown deadline passed first), `refused` or `dropped`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditorStats {
    /// Events accepted into the queue (lifecycle events included).
    pub queued: u64,
    /// Events the sink confirmed.
    pub written: u64,
    /// Failed sink calls that were retried.
    pub retried: u64,
    /// Events lost on purpose: overflow under [`OverflowPolicy::DropAndCount`](super::OverflowPolicy::DropAndCount),
    /// or still undelivered when a shutdown deadline passed.
    pub dropped: u64,
    /// Events not accepted because the queue stayed full past the block
    /// timeout; the caller got [`RecordError::Overflow`](super::RecordError::Overflow).
    pub refused: u64,
    /// Events the sink refused permanently (logged at error level with the event).
    pub rejected: u64,
    /// Batches written.
    pub batches: u64,
    /// Events waiting in the queue now.
    pub queue_depth: u64,
    /// How long the last successful batch took, retries included.
    pub last_batch_latency: Duration,
}

impl Counters {
    pub(super) fn snapshot(&self, queue_depth: u64) -> AuditorStats {
        AuditorStats {
            queued: self.queued.load(Relaxed),
            written: self.written.load(Relaxed),
            retried: self.retried.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            refused: self.refused.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            batches: self.batches.load(Relaxed),
            queue_depth,
            last_batch_latency: Duration::from_micros(self.last_batch_micros.load(Relaxed)),
        }
    }
}
