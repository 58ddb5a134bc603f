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
    // Boxed: a builder is ~600 bytes and the queue holds thousands.
    Record(Box<EventBuilder>),
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
    pub(super) policy: EventPolicy,
    pub(super) batch_size: usize,
    pub(super) linger: Duration,
    pub(super) retry: RetryPolicy,
}

/// How many events the writer prepares before letting other tasks run.
const YIELD_EVERY: usize = 16;

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

/// Whether the writer keeps going after a command.
enum Next {
    Continue,
    Stop,
}

impl Writer {
    pub(super) async fn run(mut self) {
        let mut batch: Vec<Event> = Vec::with_capacity(self.batch_size);
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
            if !batch.is_empty() && !self.linger.is_zero() {
                // One timer for the whole linger, however often the writer is woken in it.
                let linger = tokio::time::sleep_until(Instant::now() + self.linger);
                tokio::pin!(linger);
                while !batch.is_empty() && batch.len() < self.batch_size {
                    // Sleep through the linger instead of waiting on the queue,
                    // which would wake this task for every event (on a busy
                    // server, once per request); senders wake it early when
                    // `PREPARE_EVERY` events are queued (it prepares them and
                    // lingers on), a flush or shutdown is asked for, or the
                    // last handle goes.
                    let lingered = tokio::select! {
                        biased;
                        () = self.wake.notified() => false,
                        () = &mut linger => true,
                    };
                    self.thread.store(this_thread(), Relaxed);
                    let open = self.take_queued(&mut commands, self.batch_size - batch.len());
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

    async fn handle_all(&mut self, commands: &mut Vec<Command>, batch: &mut Vec<Event>) -> Next {
        for (n, command) in commands.drain(..).enumerate() {
            match command {
                Command::Record(builder) => {
                    // The writer may share its runtime (even its one thread)
                    // with the requests: preparing a lingered batch in one go
                    // would hold them up for milliseconds, so let them run
                    // every few events.
                    if n % YIELD_EVERY == YIELD_EVERY - 1 {
                        tokio::task::yield_now().await;
                    }
                    batch.push(builder.build_with(&self.policy));
                    if batch.len() >= self.batch_size {
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
                            Command::Record(builder) => {
                                batch.push(builder.build_with(&self.policy));
                                if batch.len() >= self.batch_size {
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

    /// Delivers `batch` and empties it (keeping its allocation).
    async fn write(&self, batch: &mut Vec<Event>) {
        if batch.is_empty() {
            return;
        }
        let started = Instant::now();
        match self.write_with_retry(batch).await {
            Ok(()) => {
                Counters::add(&self.counters.written, batch.len() as u64);
                Counters::add(&self.counters.batches, 1);
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.counters
                    .last_batch_micros
                    .store(micros, std::sync::atomic::Ordering::Relaxed);
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
        loop {
            match self.sink.write_batch_dyn(batch).await {
                Ok(()) => return Ok(()),
                Err(error) if error.is_retryable() => {
                    Counters::add(&self.counters.retried, 1);
                    let delay = self.retry.backoff(attempt);
                    tracing::warn!(
                        attempt = attempt + 1,
                        events = batch.len(),
                        retry_in = ?delay,
                        error = %error,
                        "audit sink write failed; retrying",
                    );
                    tokio::time::sleep(delay).await;
                    attempt = attempt.saturating_add(1);
                }
                Err(error) => return Err(error),
            }
        }
    }
}
