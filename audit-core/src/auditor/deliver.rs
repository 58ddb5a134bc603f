//! Writing prepared events to the sink: retried while it fails, refused
//! events found one by one. Used by the writer, or by the spool's drainer
//! when the auditor has a spool.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use tokio::time::Instant;

use super::stats::Counters;
use crate::RetryPolicy;
use crate::event::Event;
use crate::sink::{DynSink, SinkError};

pub(super) struct Deliverer {
    pub(super) sink: Arc<dyn DynSink>,
    pub(super) counters: Arc<Counters>,
    pub(super) retry: RetryPolicy,
}

/// An event the sink refused for good: its index in the batch and why.
pub(super) type Rejection = (usize, String);

impl Deliverer {
    /// Writes `batch`, retrying while the sink fails transiently; returns the
    /// events it refused for good (each logged with the event). Counts
    /// batches, latency and rejections; the caller counts what was written.
    pub(super) async fn deliver(&self, batch: &[Event]) -> Vec<Rejection> {
        if batch.is_empty() {
            return Vec::new();
        }
        let started = Instant::now();
        let oldest = batch.iter().map(|e| e.occurred_at().unix_micros()).min().unwrap_or(0);
        self.counters.writing_since.store(oldest, Relaxed);
        let written = self.write_with_retry(batch).await;
        self.counters.writing_since.store(0, Relaxed);
        let error = match written {
            Ok(()) => {
                Counters::add(&self.counters.batches, 1);
                let took = started.elapsed();
                self.counters.write_latency.record(took);
                let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                self.counters.last_batch_micros.store(micros, Relaxed);
                return Vec::new();
            }
            Err(error) => error,
        };
        // The sink refused the batch for good: find out which events it
        // refuses by writing them one at a time.
        let mut rejected = Vec::new();
        for (index, event) in batch.iter().enumerate() {
            let outcome = if batch.len() == 1 {
                Err(error.clone_message())
            } else {
                self.write_with_retry(std::slice::from_ref(event)).await
            };
            if let Err(error) = outcome {
                Counters::add(&self.counters.rejected, 1);
                self.counters.set_last_error(&error);
                tracing::error!(
                    event_id = %event.id(),
                    action = %event.action(),
                    error = %error,
                    event = %serde_json::to_string(event).unwrap_or_default(),
                    "audit sink permanently rejected an event; it is NOT stored",
                );
                rejected.push((index, error.to_string()));
            }
        }
        rejected
    }

    async fn write_with_retry(&self, batch: &[Event]) -> Result<(), SinkError> {
        let mut attempt = 0;
        let mut down_since: Option<Instant> = None;
        loop {
            match self.sink.write_batch_dyn(batch).await {
                Ok(()) => {
                    if self.counters.sink_down.swap(false, Relaxed) {
                        // One line when the sink comes back, whoever saw it go.
                        tracing::warn!(
                            down_for = ?down_since.map(|since| since.elapsed()),
                            retries = attempt,
                            "audit sink recovered: writes succeed again",
                        );
                    }
                    return Ok(());
                }
                Err(error) if error.is_retryable() => {
                    Counters::add(&self.counters.retried, 1);
                    self.counters.set_last_error(&error);
                    down_since.get_or_insert_with(Instant::now);
                    let delay = self.retry.backoff(attempt);
                    if self.counters.sink_down.swap(true, Relaxed) {
                        tracing::debug!(
                            attempt = attempt + 1,
                            events = batch.len(),
                            retry_in = ?delay,
                            error = %error,
                            "audit sink write failed again; retrying",
                        );
                    } else {
                        // One line when the sink goes down: the retries that
                        // follow are at debug level, the recovery is one line.
                        tracing::error!(
                            events = batch.len(),
                            error = %error,
                            "audit sink is down: writes fail; events wait and are retried \
                             until it recovers (requests are refused once there is no room)",
                        );
                    }
                    tokio::time::sleep(delay).await;
                    attempt = attempt.saturating_add(1);
                }
                Err(error) => return Err(error),
            }
        }
    }
}
