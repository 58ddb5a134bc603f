//! How each stream sink is run: [`SinkOptions`] and [`StartAt`].

use std::time::Duration;

use audit_core::RetryPolicy;

/// Where a sink seen for the first time starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// With the oldest event the store keeps: a new SIEM receives the
    /// history (the default: nothing the store holds is left out).
    #[default]
    Beginning,
    /// With the events written after the sink was first started (or the
    /// destination added): the streams' heads at that moment are its
    /// starting positions. A stream that appears later is delivered whole.
    Heads,
}

/// How a [`Streamer`](super::Streamer) runs one sink.
///
/// ```
/// use std::time::Duration;
/// use audit_store::stream::{SinkOptions, StartAt};
///
/// let options = SinkOptions::default().batch_size(100).tenant("acme").start_at(StartAt::Heads);
/// assert_eq!(options.stream(), Some("tenant:acme"));
/// assert_eq!(SinkOptions::default().stream(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkOptions {
    pub(crate) batch_size: u32,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_lag: u64,
    pub(crate) start: StartAt,
    pub(crate) stream: Option<String>,
    pub(crate) hourly: bool,
}

/// Events per batch by default.
pub const DEFAULT_BATCH_SIZE: u32 = 500;

/// The lag beyond which a sink counts as behind, by default.
pub const DEFAULT_MAX_LAG: u64 = 10_000;

/// The longest `Retry-After` a sink's receiver is obeyed for; a longer one
/// is waited out in steps of this, re-trying in between.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

impl Default for SinkOptions {
    /// Batches of [`DEFAULT_BATCH_SIZE`]; retries from 500 ms doubling to
    /// 60 s, with jitter; behind beyond [`DEFAULT_MAX_LAG`] events; every
    /// stream, from the [`StartAt::Beginning`].
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
            retry: RetryPolicy {
                initial_backoff: Duration::from_millis(500),
                max_backoff: Duration::from_secs(60),
            },
            max_lag: DEFAULT_MAX_LAG,
            start: StartAt::Beginning,
            stream: None,
            hourly: false,
        }
    }
}

impl SinkOptions {
    /// At most `events` per batch (at least 1).
    #[must_use]
    pub fn batch_size(mut self, events: u32) -> Self {
        self.batch_size = events.max(1);
        self
    }

    /// Retries failed deliveries with `retry`'s backoff.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Counts the sink as behind (in its stats and `/health`) when more
    /// than `events` wait for it.
    #[must_use]
    pub fn max_lag(mut self, events: u64) -> Self {
        self.max_lag = events;
        self
    }

    /// Where the sink starts the first time it runs.
    #[must_use]
    pub fn start_at(mut self, start: StartAt) -> Self {
        self.start = start;
        self
    }

    /// Delivers only `tenant`'s events (its stream `tenant:<id>`).
    #[must_use]
    pub fn tenant(mut self, tenant: &str) -> Self {
        self.stream = Some(format!("tenant:{tenant}"));
        self
    }

    /// Delivers only the events with no tenant (the `global` stream).
    #[must_use]
    pub fn global_only(mut self) -> Self {
        self.stream = Some("global".to_owned());
        self
    }

    /// Delivers each stream's events an hour at a time (UTC, by when they
    /// happened), once the hour has ended: every batch holds consecutive
    /// events of one hour only (an hour with more than `batch_size` events
    /// comes in several; an event recorded after its hour ended comes in a
    /// batch of its own hour). For archives written as hourly objects.
    #[must_use]
    pub fn hourly(mut self) -> Self {
        self.hourly = true;
        self
    }

    /// The one stream the sink delivers, if it is limited to one.
    pub fn stream(&self) -> Option<&str> {
        self.stream.as_deref()
    }
}
