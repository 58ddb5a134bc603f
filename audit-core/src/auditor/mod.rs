//! [`Auditor`]: the delivery pipeline that never loses an event silently.
//!
//! ```text
//! record() ─► bounded queue ─► background writer ─► AuditSink::write_batch
//!   │            (capacity)      batches by count       retried with backoff,
//!   │                            and by time (linger),  idempotent by event id
//!   └─ queue full: OverflowPolicy   prepares each event
//!      Block{timeout} → Overflow    (sanitise, redact, diff)
//!      DropAndCount  → Dropped
//! ```
//!
//! Every event handed to [`Auditor::record`] is accounted for in
//! [`AuditorStats`]: written, refused (the caller got an error), dropped
//! (counted and logged) or rejected by the sink (logged with the event).

mod ack;
mod config;
mod deliver;
mod spooling;
mod stats;
mod writer;

use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use ack::{Durability, NotStored, Receipt};
pub use config::{AuditorBuilder, DEFAULT_BATCH_SIZE, OverflowPolicy, RetryPolicy};
pub use stats::AuditorStats;

use self::ack::Ack;
use self::deliver::Deliverer;
use self::stats::Counters;
use self::writer::{Command, PREPARE_EVERY, Target, Writer};
use crate::action::Action;
use crate::builder::{EventBuilder, EventPolicy};
use crate::event::{Actor, Event, Severity};
use crate::sink::AuditSink;

/// A cheap-to-clone handle to the audit pipeline.
///
/// Start one per process with [`Auditor::builder`], hand clones to whatever
/// records events (the HTTP layer, background jobs), and call
/// [`shutdown`](Self::shutdown) before exit so the queue is drained.
///
/// ```
/// use std::time::Duration;
/// use audit_core::{Action, Actor, Auditor, Event, MemorySink};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sink = MemorySink::new();
/// let auditor = Auditor::builder().start(sink.clone());
/// auditor
///     .record(Event::builder(Action::from_static("app.created").unwrap(), Actor::user("u1")))
///     .await
///     .unwrap();
/// let stats = auditor.shutdown(Duration::from_secs(5)).await.unwrap();
/// assert_eq!(sink.actions(), ["audit.started", "app.created", "audit.stopped"]);
/// assert_eq!(stats.written, 3);
/// # }
/// ```
#[derive(Clone)]
pub struct Auditor {
    shared: Arc<Shared>,
}

struct Shared {
    tx: mpsc::Sender<Command>,
    /// Wakes the writer while it lingers: see [`Shared::queued`].
    wake: Arc<Notify>,
    /// Queue depth from which a full batch is waiting.
    wake_at: usize,
    /// Queue depth from which a writer on the sender's own thread is woken
    /// to prepare what waits (see [`PREPARE_EVERY`]).
    prepare_at: usize,
    /// The thread the writer last ran on ([`writer::this_thread`]).
    writer_thread: Arc<AtomicUsize>,
    counters: Arc<Counters>,
    overflow: OverflowPolicy,
    /// The writer's policy too, for events built elsewhere
    /// ([`Auditor::policy`]).
    policy: Arc<EventPolicy>,
    lifecycle_events: bool,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The spool's drainer, when there is a spool.
    drainer: Mutex<Option<JoinHandle<()>>>,
    spooled: bool,
}

impl fmt::Debug for Auditor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auditor")
            .field("overflow", &self.shared.overflow)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Why an event was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The queue stayed full for the whole block timeout. The event is not
    /// recorded; answer 503 (the HTTP layer does).
    #[error("audit queue is full: waited {waited:?} for room; the event was not recorded")]
    Overflow {
        /// How long the caller waited.
        waited: Duration,
    },
    /// The queue was full and the policy is `DropAndCount`: the event was
    /// dropped and counted. Callers treat this as success (fail-open).
    #[error("audit queue is full: the event was dropped (DropAndCount policy)")]
    Dropped,
    /// The auditor was shut down.
    #[error("the auditor has shut down; the event was not recorded")]
    Closed,
}

/// Why [`Auditor::shutdown`] did not deliver everything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownError {
    /// The deadline passed with events still undelivered; they are counted as
    /// dropped and were logged at error level.
    #[error(
        "audit shutdown deadline passed with {undelivered} events undelivered \
         ({kept_in_spool} more kept in the spool, stored at the next start)"
    )]
    DeadlineExceeded {
        /// How many events were lost.
        undelivered: u64,
        /// How many events are durable in the spool but not yet stored:
        /// not lost, the next auditor on the spool stores them first.
        kept_in_spool: u64,
        /// The counters at the end.
        stats: Box<AuditorStats>,
    },
    /// Shutdown had already been called.
    #[error("the auditor was already shut down")]
    AlreadyShutDown,
}

/// [`Auditor::flush`] could not complete because the auditor has shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the auditor has shut down; nothing to flush")]
pub struct FlushError;

/// An auditor was already installed as the process-wide default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a process-wide default auditor is already installed")]
pub struct AlreadyInstalled;

impl Shared {
    /// Counts a queued event. The writer lingers for a batch without being
    /// woken per event; it is woken early once a full batch waits, or, when
    /// it runs on this very thread (a current-thread runtime, or the same
    /// worker), once [`PREPARE_EVERY`] events wait: there a wake costs one
    /// task poll, and preparing a few events at a time keeps the requests
    /// from waiting behind a whole batch. A writer on another thread would
    /// cost a thread wake-up and two context switches each time.
    fn queued(&self) {
        Counters::add(&self.counters.queued, 1);
        let depth = self.tx.max_capacity().saturating_sub(self.tx.capacity());
        if depth >= self.wake_at
            || (depth >= self.prepare_at && self.writer_thread.load(Relaxed) == writer::this_thread())
        {
            self.wake.notify_one();
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle is gone: the writer need not linger to find out.
        self.wake.notify_one();
    }
}

static GLOBAL: OnceLock<Auditor> = OnceLock::new();

fn lifecycle_action(name: &'static str) -> Action {
    Action::from_static(name).unwrap_or_else(|e| unreachable!("lifecycle action {name}: {e}"))
}

impl Auditor {
    /// Starts configuring an auditor.
    pub fn builder() -> AuditorBuilder {
        AuditorBuilder::default()
    }

    /// Queues `event`, waiting for room as the [`OverflowPolicy`] says.
    ///
    /// Returns once the event is queued, not written: call
    /// [`flush`](Self::flush) to wait for the sink.
    ///
    /// # Errors
    /// [`RecordError`] when the event is not queued: overflow (block timed
    /// out), dropped (fail-open policy) or closed.
    pub async fn record(&self, event: impl Into<Box<EventBuilder>>) -> Result<(), RecordError> {
        // Fast path: room in the queue, no timer to arm.
        let event = match self.try_enqueue(event.into()) {
            Ok(()) => return Ok(()),
            Err(Refused::Closed(_)) => return Err(RecordError::Closed),
            Err(Refused::Full(event)) => event,
        };
        match self.shared.overflow {
            OverflowPolicy::Block { timeout } => {
                self.wait_for_room(timeout).await?.record(event);
                Ok(())
            }
            OverflowPolicy::DropAndCount => {
                self.count_drop();
                Err(RecordError::Dropped)
            }
        }
    }

    fn count_drop(&self) {
        let dropped = self.shared.counters.dropped.fetch_add(1, Relaxed) + 1;
        // Warn on the first drop and then every thousandth, so a flood of
        // drops is visible without flooding the log.
        if dropped == 1 || dropped.is_multiple_of(1000) {
            tracing::warn!(
                dropped_total = dropped,
                "audit queue full: event dropped (DropAndCount policy)"
            );
        }
    }

    /// Takes room for one event in the queue now, without waiting, so that
    /// an action can be refused *before* it happens when its event could not
    /// be recorded. [`Reservation::record`] then queues the event without
    /// fail; dropping the reservation gives the room back. The HTTP layer
    /// reserves before it runs the handler.
    ///
    /// ```
    /// use audit_core::{Action, Actor, Auditor, Event, MemorySink, TryReserveError};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sink = MemorySink::new();
    /// let auditor = Auditor::builder().capacity(2).lifecycle_events(false).start(sink.clone());
    /// let first = auditor.try_reserve().unwrap();
    /// let second = auditor.try_reserve().unwrap();
    /// // The queue is spoken for: a third action would be refused before it runs.
    /// assert!(matches!(auditor.try_reserve(), Err(TryReserveError::Full)));
    /// drop(second);
    /// first.record(Event::builder(Action::from_static("app.deleted").unwrap(), Actor::user("u1")));
    /// auditor.flush().await.unwrap();
    /// assert_eq!(sink.actions(), ["app.deleted"]);
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`TryReserveError::Full`] when the queue has no room now,
    /// [`TryReserveError::Closed`] after shutdown.
    pub fn try_reserve(&self) -> Result<Reservation, TryReserveError> {
        match self.shared.tx.clone().try_reserve_owned() {
            Ok(permit) => Ok(Reservation {
                permit,
                shared: Arc::clone(&self.shared),
            }),
            Err(mpsc::error::TrySendError::Full(_)) => Err(TryReserveError::Full),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(TryReserveError::Closed),
        }
    }

    /// Takes room for one event under the [`OverflowPolicy`]: with
    /// `Block { timeout }` it waits up to `timeout` for room and then fails
    /// (counted in [`AuditorStats::refused`]); with `DropAndCount` it never
    /// waits and answers `Ok(None)` when the queue is full (fail-open: the
    /// action goes ahead, and its event is dropped and counted if there is
    /// still no room when it is recorded).
    ///
    /// # Errors
    /// [`RecordError::Overflow`] when no room came within the block
    /// timeout, [`RecordError::Closed`] after shutdown.
    pub async fn reserve(&self) -> Result<Option<Reservation>, RecordError> {
        match self.try_reserve() {
            Ok(reservation) => return Ok(Some(reservation)),
            Err(TryReserveError::Closed) => return Err(RecordError::Closed),
            Err(TryReserveError::Full) => {}
        }
        let OverflowPolicy::Block { timeout } = self.shared.overflow else {
            return Ok(None);
        };
        self.wait_for_room(timeout).await.map(Some)
    }

    /// Waits up to `timeout` for room in the queue (the `Block` policy);
    /// a refusal is counted and logged.
    async fn wait_for_room(&self, timeout: Duration) -> Result<Reservation, RecordError> {
        let started = Instant::now();
        match tokio::time::timeout(timeout, self.shared.tx.clone().reserve_owned()).await {
            Ok(Ok(permit)) => Ok(Reservation {
                permit,
                shared: Arc::clone(&self.shared),
            }),
            Ok(Err(_)) => Err(RecordError::Closed),
            Err(_) => {
                Counters::add(&self.shared.counters.refused, 1);
                let waited = started.elapsed();
                tracing::error!(?waited, "audit queue full: event refused; the request should fail");
                Err(RecordError::Overflow { waited })
            }
        }
    }

    /// The limits and redaction this auditor applies to every event, for
    /// events built outside it (see [`complete_for_transaction`](crate::complete_for_transaction)).
    pub fn policy(&self) -> &EventPolicy {
        &self.shared.policy
    }

    /// Whether the sink is failing now (its last write failed and is being
    /// retried); see [`AuditorStats::sink_down`]. The HTTP layer refuses
    /// confirmed requests up front while it is.
    pub fn is_sink_down(&self) -> bool {
        self.shared.counters.sink_down.load(Relaxed)
    }

    /// Whether this auditor writes through a [`Spool`](crate::Spool).
    pub fn has_spool(&self) -> bool {
        self.shared.spooled
    }

    /// Whether appending to the spool fails now (a full or read-only disk);
    /// see [`AuditorStats::spool_down`]. The HTTP layer refuses spooled
    /// requests up front while it is.
    pub fn is_spool_down(&self) -> bool {
        self.shared.counters.spool_down.load(Relaxed)
    }

    /// Queues `event` only if there is room now, without waiting and
    /// without applying the overflow policy; hands the event back otherwise,
    /// so the caller can fall back to [`record`](Self::record). The HTTP
    /// layer's fast path. A boxed builder is queued in its box.
    ///
    /// # Errors
    /// [`TryRecordError`] with the event, when the queue is full or closed.
    pub fn try_record(&self, event: impl Into<Box<EventBuilder>>) -> Result<(), TryRecordError> {
        self.try_enqueue(event.into()).map_err(|refused| match refused {
            Refused::Full(event) => TryRecordError::Full(event),
            Refused::Closed(event) => TryRecordError::Closed(event),
        })
    }

    /// Queues without waiting; hands the event back when there is no room.
    pub(crate) fn try_enqueue(&self, event: Box<EventBuilder>) -> Result<(), Refused> {
        match self.shared.tx.try_send(Command::Record(event, Instant::now(), None)) {
            Ok(()) => {
                self.shared.queued();
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(Command::Record(event, ..))) => Err(Refused::Full(event)),
            Err(mpsc::error::TrySendError::Closed(Command::Record(event, ..))) => Err(Refused::Closed(event)),
            Err(_) => unreachable!("try_enqueue only sends Record"),
        }
    }

    /// Queues `event` like [`record`](Self::record) (waiting for room under
    /// the overflow policy) and returns a [`Receipt`] that resolves once the
    /// event is as durable as `durability` asks, or with why it never will
    /// be ([`NotStored`]). The HTTP layer's `Confirmed` and `Spooled`
    /// deliveries answer a request only once its receipts resolve.
    ///
    /// # Errors
    /// [`RecordError`] when the event is not queued. Under `DropAndCount`
    /// a full queue gives [`RecordError::Dropped`]: the event is lost, and a
    /// caller that asked for a receipt must not treat that as success.
    pub async fn record_with_receipt(
        &self,
        event: impl Into<Box<EventBuilder>>,
        durability: Durability,
    ) -> Result<Receipt, RecordError> {
        match self.reserve().await? {
            Some(reservation) => Ok(reservation.record_with_receipt(event, durability)),
            None => {
                self.count_drop();
                Err(RecordError::Dropped)
            }
        }
    }

    /// Resolves when every event queued before the call has been handed to
    /// the sink (written, or rejected and logged).
    ///
    /// # Errors
    /// [`FlushError`] when the auditor has shut down.
    pub async fn flush(&self) -> Result<(), FlushError> {
        let (done, flushed) = oneshot::channel();
        self.shared
            .tx
            .send(Command::Flush(done))
            .await
            .map_err(|_| FlushError)?;
        // A lingering writer would otherwise see the flush only at its deadline.
        self.shared.wake.notify_one();
        flushed.await.map_err(|_| FlushError)
    }

    /// Records `audit.stopped`, drains the queue into the sink and stops the
    /// writer, all within `deadline`.
    ///
    /// Events recorded after shutdown starts get [`RecordError::Closed`].
    ///
    /// # Errors
    /// [`ShutdownError::DeadlineExceeded`] when events were still undelivered
    /// at the deadline (they are counted as dropped and logged);
    /// [`ShutdownError::AlreadyShutDown`] on a second call.
    pub async fn shutdown(&self, deadline: Duration) -> Result<AuditorStats, ShutdownError> {
        let shared = &*self.shared;
        let until = Instant::now() + deadline;
        let Some(writer) = shared
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        else {
            return Err(ShutdownError::AlreadyShutDown);
        };
        if shared.lifecycle_events {
            let stats = self.stats();
            let stopped = Event::builder(lifecycle_action("audit.stopped"), Actor::system("audit"))
                .severity(Severity::Notice)
                .description("Audit pipeline stopped")
                .metadata(
                    "stats",
                    &json!({
                        "queued": stats.queued,
                        "written": stats.written,
                        "dropped": stats.dropped,
                        "refused": stats.refused,
                        "rejected": stats.rejected,
                    }),
                );
            if let Ok(()) = tokio::time::timeout_at(
                until,
                shared.tx.send(Command::Record(Box::new(stopped), Instant::now(), None)),
            )
            .await
            .unwrap_or(Ok(()))
            {
                Counters::add(&shared.counters.queued, 1);
            }
        }
        let (done, drained) = oneshot::channel();
        let drained_in_time = match tokio::time::timeout_at(until, shared.tx.send(Command::Shutdown(done))).await {
            Ok(Ok(())) => {
                shared.wake.notify_one();
                tokio::time::timeout_at(until, drained).await.is_ok_and(|r| r.is_ok())
            }
            _ => false,
        };
        let drainer = shared
            .drainer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if drained_in_time {
            let _ = writer.await;
            if let Some(drainer) = drainer {
                // It stops once it has stored what the flush waited for.
                let _ = drainer.await;
            }
            return Ok(self.stats());
        }
        writer.abort();
        let _ = writer.await;
        if let Some(drainer) = drainer {
            drainer.abort();
            let _ = drainer.await;
        }
        let stats = self.stats();
        // With a spool, what reached it is kept there; only what never left
        // the queue is lost.
        let (undelivered, kept_in_spool) = if shared.spooled {
            (stats.queued.saturating_sub(stats.spooled), stats.spool_pending)
        } else {
            (stats.queued.saturating_sub(stats.written + stats.rejected), 0)
        };
        Counters::add(&shared.counters.dropped, undelivered);
        tracing::error!(
            undelivered,
            kept_in_spool,
            ?deadline,
            "audit shutdown deadline passed; undelivered events are lost (those kept in the spool are stored at the \
             next start)"
        );
        Err(ShutdownError::DeadlineExceeded {
            undelivered,
            kept_in_spool,
            stats: Box::new(self.stats()),
        })
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> AuditorStats {
        let tx = &self.shared.tx;
        let depth = tx.max_capacity().saturating_sub(tx.capacity()) as u64;
        self.shared.counters.snapshot(depth)
    }

    /// Makes this auditor the process-wide default, used by code that runs
    /// outside any [`AuditScope`](crate::AuditScope). Can be done once.
    ///
    /// # Errors
    /// [`AlreadyInstalled`] when a default exists already.
    pub fn install_global(&self) -> Result<(), AlreadyInstalled> {
        GLOBAL.set(self.clone()).map_err(|_| AlreadyInstalled)
    }

    /// The process-wide default auditor, if one was installed.
    pub fn global() -> Option<&'static Auditor> {
        GLOBAL.get()
    }
}

/// Why [`Auditor::try_record`] handed the event back.
#[derive(Debug)]
pub enum TryRecordError {
    /// No room in the queue right now.
    Full(Box<EventBuilder>),
    /// The auditor has shut down.
    Closed(Box<EventBuilder>),
}

impl TryRecordError {
    /// The event that was not queued.
    pub fn into_event(self) -> EventBuilder {
        match self {
            Self::Full(event) | Self::Closed(event) => *event,
        }
    }
}

/// Room for one event in an [`Auditor`]'s queue, taken before the action
/// the event records ([`Auditor::try_reserve`], [`Auditor::reserve`]).
/// Dropping it unused gives the room back.
pub struct Reservation {
    permit: mpsc::OwnedPermit<Command>,
    shared: Arc<Shared>,
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation").finish_non_exhaustive()
    }
}

impl Reservation {
    /// Queues `event` in the reserved room: it cannot be refused.
    pub fn record(self, event: impl Into<Box<EventBuilder>>) {
        let Self { permit, shared } = self;
        permit.send(Command::Record(event.into(), Instant::now(), None));
        shared.queued();
    }

    /// Queues `event` in the reserved room and returns a [`Receipt`] that
    /// resolves once it is as durable as `durability` asks.
    pub fn record_with_receipt(self, event: impl Into<Box<EventBuilder>>, durability: Durability) -> Receipt {
        let Self { permit, shared } = self;
        let (ack, receipt) = Ack::new(durability);
        permit.send(Command::Record(event.into(), Instant::now(), Some(ack)));
        shared.queued();
        // A receipt is waited for: the writer should not linger on it.
        shared.wake.notify_one();
        receipt
    }
}

/// Why [`Auditor::try_reserve`] found no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryReserveError {
    /// The queue has no room now.
    #[error("audit queue is full")]
    Full,
    /// The auditor has shut down.
    #[error("the auditor has shut down")]
    Closed,
}

/// An event handed back by [`Auditor::try_enqueue`].
pub(crate) enum Refused {
    Full(Box<EventBuilder>),
    Closed(Box<EventBuilder>),
}

impl AuditorBuilder {
    /// Spawns the background writer on the current Tokio runtime and returns
    /// the handle. Records `audit.started` unless lifecycle events are off.
    ///
    /// # Panics
    /// Outside a Tokio runtime, like `tokio::spawn`.
    pub fn start(self, sink: impl AuditSink) -> Auditor {
        let batch_size = self.batch_size_for(&sink);
        let (tx, rx) = mpsc::channel(self.capacity);
        let counters = Arc::new(Counters::default());
        if self.lifecycle_events {
            let started = Event::builder(lifecycle_action("audit.started"), Actor::system("audit"))
                .severity(Severity::Notice)
                .description("Audit pipeline started")
                .metadata("version", env!("CARGO_PKG_VERSION"))
                .metadata("capacity", &self.capacity)
                .metadata("overflow", &format!("{:?}", self.overflow));
            if tx
                .try_send(Command::Record(Box::new(started), Instant::now(), None))
                .is_ok()
            {
                Counters::add(&counters.queued, 1);
            }
        }
        let wake = Arc::new(Notify::new());
        let writer_thread = Arc::new(AtomicUsize::new(0));
        let policy = Arc::new(self.policy);
        let deliverer = Deliverer {
            sink: Arc::new(sink),
            counters: Arc::clone(&counters),
            retry: self.retry,
        };
        let spooled = self.spool.is_some();
        let (target, drainer) = match &self.spool {
            Some(spool) => {
                assert!(spool.claim(), "another auditor already runs on this spool");
                let (writer, drainer) = spooling::start(spool, deliverer, batch_size, self.retry);
                (Target::Spool(writer), Some(drainer))
            }
            None => (Target::Sink(deliverer), None),
        };
        let writer = Writer {
            rx,
            wake: Arc::clone(&wake),
            thread: Arc::clone(&writer_thread),
            target,
            counters: Arc::clone(&counters),
            policy: Arc::clone(&policy),
            batch_size,
            linger: self.linger,
        };
        let handle = tokio::spawn(writer.run());
        Auditor {
            shared: Arc::new(Shared {
                tx,
                wake,
                wake_at: batch_size.min(self.capacity),
                prepare_at: PREPARE_EVERY.min(batch_size).min(self.capacity),
                writer_thread,
                counters,
                overflow: self.overflow,
                policy,
                lifecycle_events: self.lifecycle_events,
                writer: Mutex::new(Some(handle)),
                drainer: Mutex::new(drainer),
                spooled,
            }),
        }
    }
}
