//! [`MemorySink`]: keeps events in memory, for tests.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::{AuditSink, SinkError};
use crate::event::Event;

/// Keeps written events in memory, for tests — yours and ours.
///
/// Cheap to clone: clones share the same events. Besides inspection it can
/// simulate trouble: [`fail_next`](Self::fail_next) makes the next writes
/// fail with a retryable error, [`reject_next`](Self::reject_next) with a
/// permanent one, and [`pause`](Self::pause) stalls every write until
/// [`resume`](Self::resume). Writes are idempotent by event id, as the
/// [`AuditSink`] contract requires.
///
/// ```
/// use audit_core::{Action, Actor, Auditor, Event, MemorySink};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sink = MemorySink::new();
/// let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
/// auditor.record(Event::builder(Action::from_static("app.created").unwrap(), Actor::user("u1"))).await.unwrap();
/// auditor.flush().await.unwrap();
/// assert_eq!(sink.actions(), ["app.created"]);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct MemorySink {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    written: Notify,
    paused: watch::Sender<bool>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            written: Notify::new(),
            paused: watch::Sender::new(false),
        }
    }
}

#[derive(Default)]
struct State {
    events: Vec<Event>,
    ids: HashSet<Uuid>,
    attempts: u64,
    fail_next: u64,
    reject_next: u64,
}

impl fmt::Debug for MemorySink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("MemorySink")
            .field("events", &state.events.len())
            .field("attempts", &state.attempts)
            .finish_non_exhaustive()
    }
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` inconsistent.
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every event written so far, in write order.
    pub fn events(&self) -> Vec<Event> {
        self.state().events.clone()
    }

    /// The actions written so far, in write order.
    pub fn actions(&self) -> Vec<String> {
        self.state()
            .events
            .iter()
            .map(|e| e.action().as_str().to_owned())
            .collect()
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.state().events.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times `write_batch` was called, failed calls included.
    pub fn write_attempts(&self) -> u64 {
        self.state().attempts
    }

    /// Makes the next `n` writes fail with a retryable error.
    pub fn fail_next(&self, n: u64) {
        self.state().fail_next = n;
    }

    /// Makes the next `n` writes fail with a permanent (non-retryable) error.
    pub fn reject_next(&self, n: u64) {
        self.state().reject_next = n;
    }

    /// Stalls every write until [`resume`](Self::resume).
    pub fn pause(&self) {
        self.shared.paused.send_replace(true);
    }

    /// Lets stalled writes go on.
    pub fn resume(&self) {
        self.shared.paused.send_replace(false);
    }

    /// Resolves once at least `n` events are stored. Pair it with a timeout
    /// in tests; prefer [`Auditor::flush`](crate::Auditor::flush) where you can.
    pub async fn wait_for(&self, n: usize) {
        loop {
            let written = self.shared.written.notified();
            if self.len() >= n {
                return;
            }
            written.await;
        }
    }
}

impl AuditSink for MemorySink {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        let mut paused = self.shared.paused.subscribe();
        // The sender lives in `self`, so this only errs if it was dropped, which it cannot be.
        let _ = paused.wait_for(|paused| !*paused).await;
        {
            let mut state = self.state();
            state.attempts += 1;
            if state.reject_next > 0 {
                state.reject_next -= 1;
                return Err(SinkError::rejected("memory sink: rejected on request (reject_next)"));
            }
            if state.fail_next > 0 {
                state.fail_next -= 1;
                return Err(SinkError::transient("memory sink: failed on request (fail_next)"));
            }
            for event in batch {
                if state.ids.insert(event.id()) {
                    state.events.push(event.clone());
                }
            }
        }
        self.shared.written.notify_waiters();
        Ok(())
    }
}
