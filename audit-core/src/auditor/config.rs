//! How an [`Auditor`](super::Auditor) behaves: queue size, batching, overflow, retries.

use std::time::Duration;

use crate::builder::EventPolicy;
use crate::sink::AuditSink;
use crate::spool::Spool;

/// The batch size of an auditor whose builder sets none, on a sink that
/// prefers none.
pub const DEFAULT_BATCH_SIZE: usize = 512;

/// What [`Auditor::record`](super::Auditor::record) does when the queue is full.
///
/// ```
/// use std::time::Duration;
/// use audit_core::OverflowPolicy;
/// assert_eq!(OverflowPolicy::default(), OverflowPolicy::Block { timeout: Duration::from_secs(2) });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Wait up to `timeout` for room, then give up with
    /// [`RecordError::Overflow`](super::RecordError::Overflow), which the HTTP
    /// layer turns into a 503. Fail-closed: nothing is lost without the caller
    /// knowing. The default, with a 2 s timeout.
    Block {
        /// How long a caller may wait for room in the queue.
        timeout: Duration,
    },
    /// Drop the event at once, count it in
    /// [`AuditorStats::dropped`](super::AuditorStats::dropped), log a warning
    /// and return [`RecordError::Dropped`](super::RecordError::Dropped), which
    /// callers treat as success. Fail-open: the service keeps answering while
    /// the audit trail has gaps you can see in the counters and logs.
    DropAndCount,
}

impl Default for OverflowPolicy {
    fn default() -> Self {
        Self::Block {
            timeout: Duration::from_secs(2),
        }
    }
}

/// How failed batches are retried: exponential backoff with jitter, forever,
/// until the batch is written or the auditor is shut down past its deadline.
///
/// Retrying forever is deliberate: while the sink is down the queue fills up
/// and the [`OverflowPolicy`] decides what callers see, so trouble surfaces
/// as backpressure instead of silently discarded events.
///
/// ```
/// use std::time::Duration;
/// use audit_core::RetryPolicy;
/// let retry = RetryPolicy { initial_backoff: Duration::from_millis(10), ..Default::default() };
/// assert!(retry.backoff(0) <= Duration::from_millis(10));
/// assert!(retry.backoff(60) <= retry.max_backoff);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first delay (default 100 ms).
    pub initial_backoff: Duration,
    /// The longest delay (default 10 s).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (from 0): the doubled backoff,
    /// capped, with "equal jitter" (half fixed, half random) so that many
    /// processes do not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        let ceiling = self.initial_backoff.saturating_mul(factor).min(self.max_backoff);
        let half = ceiling / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(fastrand::u64(0..=jitter_nanos))
    }
}

/// Configures and starts an [`Auditor`](super::Auditor).
///
/// ```
/// use std::time::Duration;
/// use audit_core::{Auditor, MemorySink, OverflowPolicy};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let auditor = Auditor::builder()
///     .capacity(10_000)
///     .batch_size(256)
///     .linger(Duration::from_millis(5))
///     .overflow(OverflowPolicy::DropAndCount)
///     .start(MemorySink::new());
/// assert_eq!(auditor.stats().dropped, 0);
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "call .start(sink) to run the auditor"]
pub struct AuditorBuilder {
    pub(super) capacity: usize,
    /// `None`: the sink's [`AuditSink::preferred_batch_size`], else
    /// [`DEFAULT_BATCH_SIZE`].
    pub(super) batch_size: Option<usize>,
    pub(super) linger: Duration,
    pub(super) overflow: OverflowPolicy,
    pub(super) retry: RetryPolicy,
    pub(super) policy: EventPolicy,
    pub(super) lifecycle_events: bool,
    pub(super) spool: Option<Spool>,
}

impl Default for AuditorBuilder {
    fn default() -> Self {
        Self {
            capacity: 65_536,
            batch_size: None,
            linger: Duration::from_millis(10),
            overflow: OverflowPolicy::default(),
            retry: RetryPolicy::default(),
            policy: EventPolicy::default(),
            lifecycle_events: true,
            spool: None,
        }
    }
}

impl AuditorBuilder {
    /// How many events may wait in the queue (default 65,536; at least 1).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// The most events handed to the sink at once (at least 1). Default: the
    /// sink's [`AuditSink::preferred_batch_size`] where it names one (the
    /// SQLite store: 10,000), else 512. A batch fills only while that many
    /// events are queued; otherwise the [`linger`](Self::linger) bounds the
    /// wait.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = Some(batch_size.max(1));
        self
    }

    /// The batch size an auditor started with this builder on `sink` uses.
    ///
    /// ```
    /// use audit_core::{Auditor, MemorySink};
    /// assert_eq!(Auditor::builder().batch_size_for(&MemorySink::new()), 512);
    /// assert_eq!(Auditor::builder().batch_size(64).batch_size_for(&MemorySink::new()), 64);
    /// ```
    #[must_use]
    pub fn batch_size_for(&self, sink: &impl AuditSink) -> usize {
        self.batch_size
            .or_else(|| sink.preferred_batch_size())
            .unwrap_or(DEFAULT_BATCH_SIZE)
            .max(1)
    }

    /// How long a partial batch waits for more events before it is written
    /// (default 10 ms; zero writes whatever is there at once).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// What happens when the queue is full (default: block 2 s, then fail).
    pub fn overflow(mut self, overflow: OverflowPolicy) -> Self {
        self.overflow = overflow;
        self
    }

    /// How failed batches are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Limits and redaction applied to every event.
    pub fn policy(mut self, policy: EventPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Makes every batch durable in `spool` before it counts as recorded,
    /// and writes it to the sink from there (see [`Spool`]): events survive
    /// a killed process and wait out a store outage on disk. Off by default.
    ///
    /// # Panics
    /// [`start`](Self::start) panics when another auditor already runs on
    /// this spool.
    pub fn spool(mut self, spool: Spool) -> Self {
        self.spool = Some(spool);
        self
    }

    /// Whether to record `audit.started` at start and `audit.stopped` at
    /// shutdown (default true: an auditor can prove when it was running).
    pub fn lifecycle_events(mut self, enabled: bool) -> Self {
        self.lifecycle_events = enabled;
        self
    }
}
