//! The background writer: batches, prepares and delivers events.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use super::stats::Counters;
use crate::RetryPolicy;
use crate::builder::{EventBuilder, EventPolicy};
use crate::event::Event;
use crate::sink::{DynSink, SinkError};

pub(super) enum Command {
    // Boxed: a builder is ~600 bytes and the queue holds thousands. The
    // instant it was queued bounds how long it may wait for its batch.
    Record(Box<EventBuilder>, Instant),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

pub(super) struct Writer {
    pub(super) rx: mpsc::Receiver<Command>,
    /// Signalled by senders once a full batch is queued (or [`PREPARE_EVERY`]
    /// events, by a sender on the writer's thread), on flush and shutdown,
    /// and when the last handle goes.
    pub(super) wake: Arc<Notify>,
    /// The thread this task last ran on, for the senders ([`this_thread`]).
    pub(super) thread: Arc<AtomicUsize>,
    pub(super) sink: Arc<dyn DynSink>,
    pub(super) counters: Arc<Counters>,
    pub(super) policy: Arc<EventPolicy>,
    pub(super) batch_size: usize,
    pub(super) linger: Duration,
    pub(super) retry: RetryPolicy,
}

/// How many events the writer prepares before letting other tasks run.
const YIELD_EVERY: usize = 16;

/// How long the writer prepares at one go, between yields, while it is
/// behind (the events it prepares have waited the linger already). The
/// requests sharing its thread wait at most this long for it; without it,
/// the writer prepared 16 events per round of busy connections while more
/// than that arrived each round, and queued events waited for seconds.
const CATCH_UP_SLICE: Duration = Duration::from_millis(1);

/// How many queued events wake a lingering writer that runs on the sender's
/// thread, to prepare them. Waiting for a whole batch (512 by default) made
/// that thread prepare hundreds of events at one go, with the requests
/// queued behind (16 at a time between yields): on one core, the p99
/// latency. 32 events cost one task poll per 32 requests. Batches are still
/// written by count and linger as configured.
pub(super) const PREPARE_EVERY: usize = 32;

/// A number that tells this thread from every other running one: the
/// address of a thread-local.
pub(super) fn this_thread() -> usize {
    thread_local! {
        static MARK: u8 = const { 0 };
    }
    MARK.with(|mark| std::ptr::from_ref(mark) as usize)
}

/// The events prepared for the next write, and when the oldest was queued.
struct Batch {
    events: Vec<Event>,
    oldest: Option<Instant>,
}

impl Batch {
    fn push(&mut self, event: Event, queued_at: Instant) {
        // The queue is first in, first out: the first event is the oldest.
        self.oldest.get_or_insert(queued_at);
        self.events.push(event);
    }
}

/// Whether the writer keeps going after a command.
enum Next {
    Continue,
    Stop,
}

impl Writer {
    pub(super) async fn run(mut self) {
        let mut batch = Batch {
            events: Vec::with_capacity(self.batch_size),
            oldest: None,
        };
        let mut commands: Vec<Command> = Vec::with_capacity(self.batch_size);
        loop {
            if self.rx.recv_many(&mut commands, self.batch_size).await == 0 {
                // Every Auditor handle is gone: write what is left and stop.
                self.write(&mut batch).await;
                return;
            }
            self.thread.store(this_thread(), Relaxed);
            if let Next::Stop = self.handle_all(&mut commands, &mut batch).await {
                return;
            }
            // The batch is written once its oldest event has waited the
            // linger, however busy the queue: the deadline counts from when
            // that event was queued, not from when the writer saw it.
            while let Some(oldest) = batch.oldest
                && batch.events.len() < self.batch_size
            {
                let deadline = oldest + self.linger;
                if Instant::now() >= deadline {
                    break;
                }
                // Sleep until the deadline instead of waiting on the queue,
                // which would wake this task for every event (on a busy
                // server, once per request); senders wake it early when
                // `PREPARE_EVERY` events are queued (it prepares them and
                // lingers on), a flush or shutdown is asked for, or the last
                // handle goes. The deadline is polled first: under steady
                // arrivals a wake-up is nearly always pending, and letting it
                // win every time kept batches open until they were full.
                let lingered = tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(deadline) => true,
                    () = self.wake.notified() => false,
                };
                self.thread.store(this_thread(), Relaxed);
                let open = self.take_queued(&mut commands, self.batch_size - batch.events.len());
                if let Next::Stop = self.handle_all(&mut commands, &mut batch).await {
                    return;
                }
                if !open {
                    self.write(&mut batch).await;
                    return;
                }
                if lingered {
                    break;
                }
            }
            self.write(&mut batch).await;
        }
    }

    /// Moves up to `room` queued commands into `commands` without waiting;
    /// `false` once the queue is closed and empty.
    fn take_queued(&mut self, commands: &mut Vec<Command>, room: usize) -> bool {
        while commands.len() < room {
            match self.rx.try_recv() {
                Ok(command) => commands.push(command),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
        true
    }

    async fn handle_all(&mut self, commands: &mut Vec<Command>, batch: &mut Batch) -> Next {
        let mut slice_started = Instant::now();
        for (n, command) in commands.drain(..).enumerate() {
            match command {
                Command::Record(builder, queued_at) => {
                    // The writer may share its runtime (even its one thread)
                    // with the requests: preparing a lingered batch in one go
                    // would hold them up for milliseconds, so let them run
                    // every few events.
                    let checkpoint = n % YIELD_EVERY == YIELD_EVERY - 1;
                    // Behind (this event waited the linger already), a turn
                    // of 16 events is too little: on a runtime busy with many
                    // connections the writer gets one turn per round of them
                    // and would fall further behind with every round. It then
                    // prepares for up to `CATCH_UP_SLICE` before yielding.
                    // Read the clock only at checkpoints, not per event.
                    let fresh = checkpoint && queued_at.elapsed() < self.linger;
                    if checkpoint && (fresh || slice_started.elapsed() >= CATCH_UP_SLICE) {
                        tokio::task::yield_now().await;
                        slice_started = Instant::now();
                    }
                    batch.push(builder.build_with(&self.policy), queued_at);
                    // The deadline holds while preparing too: the writer gets
                    // one turn per round of the runtime's busy request tasks,
                    // and the batch would otherwise wait for all it took off
                    // the queue. Only while keeping up, though: behind (this
                    // event waited the linger already), the batch fills up,
                    // as writing it in slivers would only multiply commits.
                    if batch.events.len() >= self.batch_size || (fresh && self.batch_is_due(batch)) {
                        self.write(batch).await;
                    }
                }
                Command::Flush(done) => {
                    self.write(batch).await;
                    let _ = done.send(());
                }
                Command::Shutdown(done) => {
                    // Refuse new work, then drain what was queued before we closed.
                    self.rx.close();
                    while let Some(late) = self.rx.recv().await {
                        match late {
                            Command::Record(builder, queued_at) => {
                                batch.push(builder.build_with(&self.policy), queued_at);
                                if batch.events.len() >= self.batch_size {
                                    self.write(batch).await;
                                }
                            }
                            Command::Flush(done) | Command::Shutdown(done) => {
                                self.write(batch).await;
                                let _ = done.send(());
                            }
                        }
                    }
                    self.write(batch).await;
                    let _ = done.send(());
                    return Next::Stop;
                }
            }
        }
        Next::Continue
    }

    /// Whether the batch's oldest event has waited the linger.
    fn batch_is_due(&self, batch: &Batch) -> bool {
        batch.oldest.is_some_and(|oldest| oldest.elapsed() >= self.linger)
    }

    /// Delivers `batch` and empties it (keeping its allocation).
    async fn write(&self, batch: &mut Batch) {
        let Some(oldest) = batch.oldest.take() else {
            return;
        };
        let batch = &mut batch.events;
        let started = Instant::now();
        self.counters
            .batch_age
            .record(started.saturating_duration_since(oldest));
        match self.write_with_retry(batch).await {
            Ok(()) => {
                Counters::add(&self.counters.written, batch.len() as u64);
                Counters::add(&self.counters.batches, 1);
                let took = started.elapsed();
                self.counters.write_latency.record(took);
                let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                self.counters.last_batch_micros.store(micros, Relaxed);
            }
            Err(error) => {
                // The sink refused the batch for good: find out which events it
                // refuses by writing them one at a time.
                for event in batch.iter() {
                    let single = std::slice::from_ref(event);
                    let outcome = if batch.len() == 1 {
                        Err(error.clone_message())
                    } else {
                        self.write_with_retry(single).await
                    };
                    match outcome {
                        Ok(()) => Counters::add(&self.counters.written, 1),
                        Err(error) => {
                            Counters::add(&self.counters.rejected, 1);
                            tracing::error!(
                                event_id = %event.id(),
                                action = %event.action(),
                                error = %error,
                                event = %serde_json::to_string(event).unwrap_or_default(),
                                "audit sink permanently rejected an event; it is NOT stored",
                            );
                        }
                    }
                }
            }
        }
        batch.clear();
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
                            queued = self.rx.len(),
                            "audit sink recovered: writes succeed again",
                        );
                    }
                    return Ok(());
                }
                Err(error) if error.is_retryable() => {
                    Counters::add(&self.counters.retried, 1);
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
                            "audit sink is down: writes fail; events wait in the queue and are retried \
                             until it recovers (requests are refused once the queue is full)",
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
