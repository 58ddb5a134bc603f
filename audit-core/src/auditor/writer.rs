//! The background writer: batches, prepares and delivers events.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use super::ack::{Ack, NotStored};
use super::deliver::Deliverer;
use super::spooling::SpoolWriter;
use super::stats::Counters;
use crate::builder::{EventBuilder, EventPolicy};
use crate::event::Event;

pub(super) enum Command {
    // Boxed: a builder is ~600 bytes and the queue holds thousands. The
    // instant it was queued bounds how long it may wait for its batch.
    Record(Box<EventBuilder>, Instant, Option<Ack>),
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
    pub(super) target: Target,
    pub(super) counters: Arc<Counters>,
    pub(super) policy: Arc<EventPolicy>,
    pub(super) batch_size: usize,
    pub(super) linger: Duration,
}

/// Where the writer's batches go.
pub(super) enum Target {
    /// Straight to the sink.
    Sink(Deliverer),
    /// To the spool, from which a drainer task writes them to the sink.
    Spool(SpoolWriter),
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
    /// The receipts to answer, by index into `events`: few, most requests
    /// wait for none.
    acks: Vec<(usize, Ack)>,
}

impl Batch {
    fn push(&mut self, event: Event, queued_at: Instant, ack: Option<Ack>) {
        // The queue is first in, first out: the first event is the oldest.
        self.oldest.get_or_insert(queued_at);
        if let Some(ack) = ack {
            self.acks.push((self.events.len(), ack));
        }
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
            acks: Vec::new(),
        };
        let mut commands: Vec<Command> = Vec::with_capacity(self.batch_size);
        loop {
            if self.rx.recv_many(&mut commands, self.batch_size).await == 0 {
                // Every Auditor handle is gone: write what is left and stop.
                self.write(&mut batch).await;
                self.settle().await;
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
                    self.settle().await;
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
                Command::Record(builder, queued_at, ack) => {
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
                    batch.push(builder.build_with(&self.policy), queued_at, ack);
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
                    self.flushed(done).await;
                }
                Command::Shutdown(done) => {
                    // Refuse new work, then drain what was queued before we closed.
                    self.rx.close();
                    while let Some(late) = self.rx.recv().await {
                        match late {
                            Command::Record(builder, queued_at, ack) => {
                                batch.push(builder.build_with(&self.policy), queued_at, ack);
                                if batch.events.len() >= self.batch_size {
                                    self.write(batch).await;
                                }
                            }
                            Command::Flush(done) | Command::Shutdown(done) => {
                                self.write(batch).await;
                                self.flushed(done).await;
                            }
                        }
                    }
                    self.write(batch).await;
                    self.flushed(done).await;
                    if let Target::Spool(spool) = &mut self.target {
                        spool.close().await;
                    }
                    return Next::Stop;
                }
            }
        }
        // Someone waits for a receipt: write what this round took off the
        // queue now instead of lingering. Every receipt taken in the round
        // shares that one write (one commit, or one spool fsync).
        if !batch.acks.is_empty() {
            self.write(batch).await;
        }
        Next::Continue
    }

    /// Whether the batch's oldest event has waited the linger.
    fn batch_is_due(&self, batch: &Batch) -> bool {
        batch.oldest.is_some_and(|oldest| oldest.elapsed() >= self.linger)
    }

    /// Waits for the spool's batch in flight, if any: the writer stops
    /// only once its last batch is durable and handed to the drainer.
    async fn settle(&mut self) {
        if let Target::Spool(spool) = &mut self.target {
            spool.settle().await;
        }
    }

    /// Answers a flush once what was written before it is stored.
    async fn flushed(&mut self, done: oneshot::Sender<()>) {
        match &mut self.target {
            Target::Sink(_) => {
                let _ = done.send(());
            }
            Target::Spool(spool) => spool.flush(done).await,
        }
    }

    /// Delivers `batch` (to the sink, or durably to the spool) and empties
    /// it, keeping its allocation.
    async fn write(&mut self, batch: &mut Batch) {
        let Some(oldest) = batch.oldest.take() else {
            return;
        };
        self.counters
            .batch_age
            .record(Instant::now().saturating_duration_since(oldest));
        match &mut self.target {
            Target::Sink(deliverer) => {
                let mut rejected = deliverer.deliver(&batch.events).await.into_iter().peekable();
                let stored = batch.events.len() - rejected.len();
                Counters::add(&self.counters.written, stored as u64);
                for (index, ack) in batch.acks.drain(..) {
                    // Both lists are in index order.
                    while rejected.next_if(|(refused, _)| *refused < index).is_some() {}
                    let outcome = match rejected.next_if(|(refused, _)| *refused == index) {
                        Some((_, reason)) => Err(NotStored::Rejected { reason }),
                        None => Ok(()),
                    };
                    ack.answer(outcome);
                }
                batch.events.clear();
            }
            Target::Spool(spool) => spool.append(&mut batch.events, &mut batch.acks).await,
        }
    }
}
