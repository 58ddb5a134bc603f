//! The auditor's counters.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
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
    /// Set by the writer when a write fails, cleared when one succeeds.
    pub(super) sink_down: AtomicBool,
    /// How long the oldest event of each batch had waited when the batch
    /// was handed to the sink.
    pub(super) batch_age: AgeHistogram,
    /// How long each successful batch write took, retries included.
    pub(super) write_latency: AgeHistogram,
    /// Events made durable in the spool.
    pub(super) spooled: AtomicU64,
    /// Events left in the spool by an earlier run and stored by this one.
    pub(super) replayed: AtomicU64,
    /// Bytes in the spool's segment files.
    pub(super) spool_bytes: AtomicU64,
    /// Records in the spool not yet stored.
    pub(super) spool_pending: AtomicU64,
    /// Set while appending to the spool fails (a full or read-only disk).
    pub(super) spool_down: AtomicBool,
    /// The last write error, of the sink or the spool.
    pub(super) last_error: Mutex<Option<String>>,
    /// When the oldest event of the batch being written to the sink now
    /// happened (Unix microseconds; 0: no write under way).
    pub(super) writing_since: AtomicI64,
}

impl Counters {
    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(super) fn set_last_error(&self, error: &dyn std::fmt::Display) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error.to_string());
    }
}

/// Sub-buckets per power of two: a recorded age is reported at most 25 %
/// above its true value, which is enough to tell a 10 ms linger from a
/// batch that waited seconds.
const SUB_BUCKETS: u32 = 4;
const BUCKETS: usize = 64 * SUB_BUCKETS as usize;

/// A lock-free log-linear histogram of durations in microseconds: one
/// relaxed increment per batch, no allocation.
#[derive(Debug)]
pub(super) struct AgeHistogram {
    counts: [AtomicU64; BUCKETS],
    max_micros: AtomicU64,
}

impl Default for AgeHistogram {
    fn default() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            max_micros: AtomicU64::new(0),
        }
    }
}

impl AgeHistogram {
    fn bucket(micros: u64) -> usize {
        let sub = u64::from(SUB_BUCKETS);
        if micros < sub {
            return usize::try_from(micros).unwrap_or(0);
        }
        let log = 63 - micros.leading_zeros(); // ≥ 2
        let offset = (micros >> (log - 2)) & (sub - 1);
        ((log - 1) * SUB_BUCKETS) as usize + usize::try_from(offset).unwrap_or(0)
    }

    /// The largest value that falls in `bucket`.
    fn upper_bound(bucket: usize) -> u64 {
        let sub = SUB_BUCKETS as usize;
        if bucket < sub {
            return bucket as u64;
        }
        let log = (bucket / sub + 1) as u32;
        let offset = (bucket % sub) as u64;
        let width = 1u64 << (log - 2);
        (u64::from(SUB_BUCKETS) + offset)
            .saturating_mul(width)
            .saturating_add(width - 1)
    }

    pub(super) fn record(&self, age: Duration) {
        let micros = u64::try_from(age.as_micros()).unwrap_or(u64::MAX);
        self.counts[Self::bucket(micros)].fetch_add(1, Relaxed);
        self.max_micros.fetch_max(micros, Relaxed);
    }

    /// The value below which `quantile` of the recorded ages lie (the
    /// upper edge of its bucket), or zero when nothing was recorded.
    pub(super) fn quantile(&self, quantile: f64) -> Duration {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Duration::ZERO;
        }
        // The rank of the quantile, rounded up: p99 of 100 values is the 99th.
        #[expect(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((total as f64 * quantile).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (bucket, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let max = self.max_micros.load(Relaxed);
                return Duration::from_micros(Self::upper_bound(bucket).min(max));
            }
        }
        Duration::from_micros(self.max_micros.load(Relaxed))
    }

    pub(super) fn max(&self) -> Duration {
        Duration::from_micros(self.max_micros.load(Relaxed))
    }
}

/// A snapshot of an auditor's counters.
///
/// Every event handed to [`Auditor::record`](super::Auditor::record) ends up
/// in exactly one of `queued` (then `written` or `rejected`, or `dropped` if
/// a shutdown deadline passed first), `refused` or `dropped`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Events (or, through [`Auditor::reserve`](super::Auditor::reserve),
    /// requests) not accepted because the queue stayed full past the block
    /// timeout; the caller got [`RecordError::Overflow`](super::RecordError::Overflow).
    pub refused: u64,
    /// Events the sink refused permanently (logged at error level with the event).
    pub rejected: u64,
    /// Batches written.
    pub batches: u64,
    /// Events waiting in the queue now (with the room held by reservations).
    pub queue_depth: u64,
    /// How long the last successful batch took, retries included.
    pub last_batch_latency: Duration,
    /// Whether the sink is failing now: its last write failed and is being
    /// retried. Cleared by the next successful write.
    pub sink_down: bool,
    /// The 99th percentile, over every batch handed to the sink so far, of
    /// how long the batch's oldest event had waited since it was queued
    /// (bucketed: at most 25 % above the true value). The
    /// [`linger`](super::AuditorBuilder::linger) bounds it while the sink
    /// keeps up; a slow or failing sink shows here first.
    pub oldest_event_age_p99: Duration,
    /// The longest any batch's oldest event waited before it was handed to
    /// the sink.
    pub oldest_event_age_max: Duration,
    /// The 99th percentile of how long a successful batch write took
    /// (retries included; bucketed like `oldest_event_age_p99`). Events
    /// queued during a write wait for it: with a sink that commits one batch
    /// at a time, `oldest_event_age_p99` is at least about this plus the
    /// linger under steady load.
    pub write_latency_p99: Duration,
    /// Events made durable in the [`Spool`](crate::Spool) (zero without one).
    pub spooled: u64,
    /// Events an earlier run left in the spool, stored by this one (not
    /// counted in `queued` or `written`).
    pub replayed: u64,
    /// Bytes the spool's segment files take now.
    pub spool_bytes: u64,
    /// Events in the spool not yet stored.
    pub spool_pending: u64,
    /// Whether appending to the spool fails now (a full or read-only disk):
    /// the writer retries, events wait in the queue, and the overflow policy
    /// applies once it is full.
    pub spool_down: bool,
    /// The last write error seen, of the sink or the spool; kept after
    /// recovery, so an operator can tell what happened.
    pub last_error: Option<String>,
    /// How long ago the oldest event now being written to the sink
    /// happened (its `occurred_at`), while a write is under way: it grows
    /// while the store is down and the write is retried. `None` between
    /// writes. The queue's own wait is bounded by the linger
    /// (`oldest_event_age_p99`).
    pub oldest_unwritten_age: Option<Duration>,
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
            sink_down: self.sink_down.load(Relaxed),
            oldest_event_age_p99: self.batch_age.quantile(0.99),
            oldest_event_age_max: self.batch_age.max(),
            write_latency_p99: self.write_latency.quantile(0.99),
            spooled: self.spooled.load(Relaxed),
            replayed: self.replayed.load(Relaxed),
            spool_bytes: self.spool_bytes.load(Relaxed),
            spool_pending: self.spool_pending.load(Relaxed),
            spool_down: self.spool_down.load(Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            oldest_unwritten_age: match self.writing_since.load(Relaxed) {
                0 => None,
                since => {
                    let micros = crate::Timestamp::now().unix_micros().saturating_sub(since);
                    Some(Duration::from_micros(u64::try_from(micros).unwrap_or(0)))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_bound_their_values() {
        let mut previous = 0;
        for micros in 0..100_000u64 {
            let bucket = AgeHistogram::bucket(micros);
            assert!(bucket == previous || bucket == previous + 1, "{micros}");
            assert!(AgeHistogram::upper_bound(bucket) >= micros, "{micros}");
            previous = bucket;
        }
        assert!(AgeHistogram::bucket(u64::MAX) < BUCKETS);
        // Within 25 % above the value.
        for micros in [4u64, 10, 999, 10_000, 123_456, 9_876_543] {
            let upper = AgeHistogram::upper_bound(AgeHistogram::bucket(micros));
            assert!(upper * 4 <= micros * 5 + 4, "{micros} → {upper}");
        }
    }

    #[test]
    fn the_p99_ignores_one_outlier_in_a_hundred_but_not_two() {
        let histogram = AgeHistogram::default();
        for _ in 0..99 {
            histogram.record(Duration::from_millis(10));
        }
        histogram.record(Duration::from_secs(4));
        let p99 = histogram.quantile(0.99);
        assert!(
            p99 >= Duration::from_millis(10) && p99 <= Duration::from_micros(12_500),
            "{p99:?}"
        );
        assert_eq!(histogram.max(), Duration::from_secs(4));
        histogram.record(Duration::from_secs(4));
        assert!(histogram.quantile(0.99) >= Duration::from_secs(4));
        assert_eq!(AgeHistogram::default().quantile(0.99), Duration::ZERO);
    }
}
