//! The auditor's side of a [`Spool`]: the writer appends each prepared batch
//! to it ([`SpoolWriter`]), and a drainer task writes what was spooled to
//! the sink in order and deletes it once stored ([`Drainer`]).
//!
//! The drainer gets the writer's batches through a channel, as they were
//! appended, so a store that keeps up never reads the spool back (reading
//! back costs a read and a JSON decode per event). The channel holds up to
//! one store batch of events: what piles up there while the store commits
//! goes into the next commit together, as the buffered writer's queue does.
//! When it is full (the store is down or slow), the writer stops sending
//! and the drainer reads the records back from disk from the first one it
//! was not sent, until it has caught up; records an earlier run left are
//! read back the same way, first.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, mpsc, oneshot};

use super::ack::{Ack, Durability, NotStored};
use super::deliver::Deliverer;
use super::stats::Counters;
use crate::RetryPolicy;
use crate::event::Event;
use crate::spool::{Cursor, Spool, SpoolFiles};

/// Records read back from the spool at once, at most.
const READ_BACK: usize = 1_000;

/// A batch handed from the writer to the drainer: its first record's
/// number, the events, and the bytes they take in the spool.
struct Spooled {
    first_seq: u64,
    events: Vec<Event>,
    bytes: u64,
}

/// Who waits for a record number to be stored.
enum Waiter {
    Ack(Ack),
    Flush(oneshot::Sender<()>),
}

/// What the writer and the drainer share, under one lock.
struct State {
    /// The number of the next record to be appended: everything below is
    /// durable.
    durable_next: u64,
    /// The number of the next record to be stored: everything below is
    /// stored (or rejected).
    stored_next: u64,
    /// Set while the drainer reads back from the spool: the first number
    /// it was not sent. The writer sends nothing while it is set.
    read_back_from: Option<u64>,
    /// Events sent to the drainer and not yet received: at most
    /// `handoff_limit` (or one batch), which bounds the memory they take.
    handed_off: usize,
    handoff_limit: usize,
    /// Bytes appended and not yet stored: what the spool's bound counts.
    unstored_bytes: u64,
    /// Waiters, in the order of their numbers.
    waiters: VecDeque<(u64, Waiter)>,
}

struct Shared {
    files: Arc<Mutex<SpoolFiles>>,
    state: Mutex<State>,
    /// Wakes the drainer: records to read back.
    more: Notify,
    /// Wakes the writer: the drainer stored records, the spool has room.
    room: Notify,
    counters: Arc<Counters>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_pending(&self, state: &State) {
        self.counters
            .spool_pending
            .store(state.durable_next - state.stored_next, Relaxed);
    }
}

/// Starts the drainer and returns the writer's end.
pub(super) fn start(
    spool: &Spool,
    deliverer: Deliverer,
    batch_size: usize,
    retry: RetryPolicy,
) -> (SpoolWriter, tokio::task::JoinHandle<()>) {
    let counters = Arc::clone(&deliverer.counters);
    let files = spool.files();
    let durable_next = lock(files).next_seq();
    let replay = spool.replay();
    let stored_next = replay.map_or(durable_next, |(first, _)| first);
    counters.spool_bytes.store(lock(files).bytes(), Relaxed);
    let shared = Arc::new(Shared {
        files: Arc::clone(files),
        state: Mutex::new(State {
            durable_next,
            stored_next,
            read_back_from: replay.map(|(first, _)| first),
            handed_off: 0,
            handoff_limit: batch_size,
            // Unknown until read back: the bound counts the files instead.
            unstored_bytes: lock(files).bytes(),
            waiters: VecDeque::new(),
        }),
        more: Notify::new(),
        room: Notify::new(),
        counters,
    });
    shared.set_pending(&shared.state());
    let (tx, rx) = mpsc::unbounded_channel();
    let drainer = Drainer {
        shared: Arc::clone(&shared),
        rx,
        deliverer,
        batch_size,
        linger: spool.store_linger(),
        replay_end: durable_next,
        cursor: Some(Cursor::default()),
    };
    let handle = tokio::spawn(drainer.run());
    let max_bytes = spool.max_bytes();
    let writer = SpoolWriter {
        shared,
        tx: Some(tx),
        max_bytes,
        retry,
        in_flight: None,
        payloads: Payloads::default(),
    };
    (writer, handle)
}

fn lock(files: &Mutex<SpoolFiles>) -> MutexGuard<'_, SpoolFiles> {
    files.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The writer's end: appends batches, answers `Spooled` receipts, hands the
/// rest to the drainer.
///
/// A batch is appended by a task of its own, so the writer prepares the
/// next batch while this one's `fdatasync` runs: the sync is disk time, the
/// preparation CPU time, and doing them one after the other made every
/// spooled request wait for both. One batch is in flight at a time, which
/// keeps the spool's records in the writer's order.
pub(super) struct SpoolWriter {
    shared: Arc<Shared>,
    /// `None` once the writer has shut down: the drainer then stops when
    /// everything is stored.
    tx: Option<mpsc::UnboundedSender<Spooled>>,
    max_bytes: u64,
    retry: RetryPolicy,
    /// The batch being appended, which hands back its payload buffers.
    in_flight: Option<tokio::task::JoinHandle<Payloads>>,
    payloads: Payloads,
}

/// A batch's events as JSON, one after the other in one buffer that is
/// reused from batch to batch: no allocation per event.
#[derive(Default)]
struct Payloads {
    bytes: Vec<u8>,
    /// Where each event's JSON ends in `bytes`.
    ends: Vec<usize>,
}

impl Payloads {
    /// The buffer kept between batches, at most: a burst's batch should
    /// not hold its memory for the life of the auditor.
    const KEPT_BYTES: usize = 4 << 20;

    fn encode(&mut self, events: &[Event]) {
        self.bytes.clear();
        self.ends.clear();
        for event in events {
            // An event serialises without fail: its fields are strings,
            // numbers and JSON values.
            let _ = serde_json::to_writer(&mut self.bytes, event);
            self.ends.push(self.bytes.len());
        }
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(start, &end)| &self.bytes[start..end])
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn shrink(&mut self) {
        self.bytes.shrink_to(Self::KEPT_BYTES);
        self.ends.shrink_to(Self::KEPT_BYTES / 256);
    }
}

impl SpoolWriter {
    /// Starts appending `events` (durable once the append's task is done,
    /// see [`settle`](Self::settle)): that task answers the `Spooled` acks
    /// among `acks` (indices into `events`) once the batch is synced and
    /// registers the `Stored` ones with the drainer. It waits while the
    /// spool is full, and retries while appending fails (a full or
    /// read-only disk), logging one line when it starts failing and one
    /// when it recovers. Returns once the previous batch is durable.
    pub(super) async fn append(&mut self, events: &mut Vec<Event>, acks: &mut Vec<(usize, Ack)>) {
        if events.is_empty() {
            return;
        }
        self.settle().await;
        let append = Append {
            shared: Arc::clone(&self.shared),
            tx: self.tx.clone(),
            max_bytes: self.max_bytes,
            retry: self.retry,
            events: std::mem::take(events),
            acks: std::mem::take(acks),
        };
        self.in_flight = Some(tokio::spawn(append.run(std::mem::take(&mut self.payloads))));
    }

    /// Waits until the batch in flight, if any, is durable and handed on.
    pub(super) async fn settle(&mut self) {
        // Awaited in place, not taken out: a writer aborted while it waits
        // here must still find the task in `Drop`, to abort it.
        if let Some(in_flight) = &mut self.in_flight {
            let payloads = in_flight
                .await
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()));
            self.in_flight = None;
            self.payloads = payloads;
        }
    }

    /// Answers `done` once everything appended so far is stored.
    pub(super) async fn flush(&mut self, done: oneshot::Sender<()>) {
        self.settle().await;
        let mut state = self.shared.state();
        if state.stored_next >= state.durable_next {
            let _ = done.send(());
            return;
        }
        let last = state.durable_next - 1;
        state.waiters.push_back((last, Waiter::Flush(done)));
        drop(state);
        // The drainer may be lingering for more: it should not, now.
        self.shared.more.notify_one();
    }

    /// No more batches: the drainer stops once everything is stored.
    pub(super) async fn close(&mut self) {
        self.settle().await;
        self.tx = None;
        self.shared.more.notify_one();
    }
}

impl Drop for SpoolWriter {
    /// An aborted writer (a shutdown past its deadline) takes its batch in
    /// flight with it: that batch's receipts are answered "not stored", as
    /// the writer's own were, and it stops retrying a disk that is down.
    fn drop(&mut self) {
        if let Some(in_flight) = self.in_flight.take() {
            in_flight.abort();
        }
    }
}

/// One batch on its way into the spool.
struct Append {
    shared: Arc<Shared>,
    tx: Option<mpsc::UnboundedSender<Spooled>>,
    max_bytes: u64,
    retry: RetryPolicy,
    events: Vec<Event>,
    acks: Vec<(usize, Ack)>,
}

impl Append {
    /// Encodes, appends and syncs the batch, then answers and hands it on;
    /// gives back the payload buffers for the next batch.
    async fn run(self, mut payloads: Payloads) -> Payloads {
        payloads.encode(&self.events);
        let bytes = SpoolFiles::encoded_len(payloads.iter());
        self.wait_for_room(bytes).await;
        let (first_seq, mut payloads) = self.append_with_retry(payloads).await;
        payloads.shrink();
        let Self {
            shared,
            tx,
            events,
            acks,
            ..
        } = self;
        let count = events.len() as u64;
        Counters::add(&shared.counters.spooled, count);
        let mut state = shared.state();
        state.durable_next = first_seq + count;
        state.unstored_bytes += bytes;
        for (index, ack) in acks {
            match ack.durability {
                Durability::Spooled => ack.answer(Ok(())),
                _ => state.waiters.push_back((first_seq + index as u64, Waiter::Ack(ack))),
            }
        }
        shared.set_pending(&state);
        shared.counters.spool_bytes.store(lock(&shared.files).bytes(), Relaxed);
        if state.read_back_from.is_none() {
            let Some(tx) = &tx else { return payloads };
            let count = events.len();
            // The drainer is behind, or gone: it reads these back from the spool.
            let has_room = state.handed_off == 0 || state.handed_off + count <= state.handoff_limit;
            if has_room
                && tx
                    .send(Spooled {
                        first_seq,
                        events,
                        bytes,
                    })
                    .is_ok()
            {
                state.handed_off += count;
                return payloads;
            }
            state.read_back_from = Some(first_seq);
        }
        drop(state);
        shared.more.notify_one();
        payloads
    }

    /// Waits until the records not yet stored leave room for `bytes` more
    /// (a batch larger than the whole spool goes in once it is empty).
    async fn wait_for_room(&self, bytes: u64) {
        loop {
            let room = self.shared.room.notified();
            {
                let state = self.shared.state();
                if state.unstored_bytes == 0 || state.unstored_bytes + bytes <= self.max_bytes {
                    return;
                }
            }
            room.await;
        }
    }

    async fn append_with_retry(&self, payloads: Payloads) -> (u64, Payloads) {
        let counters = &self.shared.counters;
        let mut payloads = payloads;
        let mut attempt = 0;
        loop {
            let files = Arc::clone(&self.shared.files);
            let (result, back) = tokio::task::spawn_blocking(move || {
                let result = lock(&files).append(payloads.iter());
                (result, payloads)
            })
            .await
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()));
            payloads = back;
            match result {
                Ok(first_seq) => {
                    if counters.spool_down.swap(false, Relaxed) {
                        tracing::warn!(retries = attempt, "audit spool recovered: appends succeed again");
                    }
                    return (first_seq, payloads);
                }
                Err(error) => {
                    counters.set_last_error(&format!("audit spool: {error}"));
                    let delay = self.retry.backoff(attempt);
                    if counters.spool_down.swap(true, Relaxed) {
                        tracing::debug!(%error, retry_in = ?delay, "audit spool append failed again; retrying");
                    } else {
                        tracing::error!(
                            %error,
                            events = payloads.len(),
                            "audit spool cannot be written (disk full or read-only?): events wait in the \
                             queue and are retried; requests are refused once it is full",
                        );
                    }
                    tokio::time::sleep(delay).await;
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }
}

struct Drainer {
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Spooled>,
    deliverer: Deliverer,
    batch_size: usize,
    /// How long a batch waits for more before it is stored.
    linger: std::time::Duration,
    /// Records numbered below this were left by an earlier run.
    replay_end: u64,
    /// Taken into the blocking read and put back.
    cursor: Option<Cursor>,
}

impl Drainer {
    async fn run(mut self) {
        let mut open = true;
        loop {
            // What the writer sent comes first: it precedes anything it
            // left for reading back.
            match self.try_receive() {
                Ok(batch) => {
                    let batch = self.gather(batch).await;
                    let seqs = (batch.first_seq..).take(batch.events.len()).collect();
                    self.store(seqs, batch.events, batch.bytes).await;
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => open = false,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            if self.read_back().await {
                continue;
            }
            if !open {
                break;
            }
            tokio::select! {
                batch = self.rx.recv() => match batch.map(|batch| self.received(batch)) {
                    Some(batch) => {
                        let batch = self.gather(batch).await;
                        let seqs = (batch.first_seq..).take(batch.events.len()).collect();
                        self.store(seqs, batch.events, batch.bytes).await;
                    }
                    None => open = false,
                },
                () = self.shared.more.notified() => {}
            }
        }
        // A clean stop leaves nothing to replay.
        let stored_next = self.shared.state().stored_next;
        let files = Arc::clone(&self.shared.files);
        let retired = tokio::task::spawn_blocking(move || {
            let mut files = lock(&files);
            let retired = match stored_next.checked_sub(1) {
                Some(through) => files.delete_through(through).and_then(|_| files.retire_active(through)),
                None => Ok(()),
            };
            (retired, files.bytes())
        })
        .await;
        if let Ok((retired, bytes)) = retired {
            self.deliverer.counters.spool_bytes.store(bytes, Relaxed);
            if let Err(error) = retired {
                tracing::warn!(%error, "audit spool: stored segments could not be removed; they are replayed at the next start");
            }
        }
    }

    fn try_receive(&mut self) -> Result<Spooled, mpsc::error::TryRecvError> {
        self.rx.try_recv().map(|batch| self.received(batch))
    }

    /// Gives a received batch's room in the handoff back to the writer.
    fn received(&self, batch: Spooled) -> Spooled {
        self.shared.state().handed_off -= batch.events.len();
        batch
    }

    /// `batch` and what the writer sends while the drainer lingers for
    /// more (see [`SpoolConfig::store_linger`](crate::SpoolConfig::store_linger)):
    /// until the batch is full, the linger is over, or
    /// [somebody waits](Self::nobody_waits).
    async fn gather(&mut self, batch: Spooled) -> Spooled {
        let mut batch = self.merge_waiting(batch);
        let deadline = tokio::time::Instant::now() + self.linger;
        while batch.events.len() < self.batch_size && self.nobody_waits() {
            tokio::select! {
                // A flush or a receipt waiting (the writer wakes the drainer).
                () = self.shared.more.notified() => {}
                next = self.rx.recv() => match next {
                    Some(next) => {
                        let next = self.received(next);
                        batch.events.extend(next.events);
                        batch.bytes += next.bytes;
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        batch
    }

    /// Nobody waits for what the drainer holds: no receipt or flush waits
    /// for a record to be stored, and the writer is not leaving records to
    /// be read back (the handoff is full: nothing more comes through it).
    fn nobody_waits(&self) -> bool {
        let state = self.shared.state();
        state.waiters.is_empty() && state.read_back_from.is_none()
    }

    /// Appends the batches already waiting in the channel to `batch`, up
    /// to the batch size: while the store is slow, the writer's small
    /// batches pile up, and one write for all of them costs one commit
    /// (and its round trips) instead of one each.
    fn merge_waiting(&mut self, mut batch: Spooled) -> Spooled {
        while batch.events.len() < self.batch_size {
            let Ok(next) = self.try_receive() else { break };
            // The writer sends in order, each batch right after the last.
            debug_assert_eq!(next.first_seq, batch.first_seq + batch.events.len() as u64);
            batch.events.extend(next.events);
            batch.bytes += next.bytes;
        }
        batch
    }

    /// Reads back and stores the next records the writer did not send;
    /// `false` when there are none.
    async fn read_back(&mut self) -> bool {
        let (from, through) = {
            let mut state = self.shared.state();
            let Some(from) = state.read_back_from else {
                return false;
            };
            if from >= state.durable_next {
                // Caught up: the writer sends again from here on.
                state.read_back_from = None;
                return false;
            }
            (from, state.durable_next - 1)
        };
        let files = Arc::clone(&self.shared.files);
        let mut cursor = self.cursor.take().unwrap_or_default();
        let max = self.batch_size.min(READ_BACK);
        let (cursor, read) = tokio::task::spawn_blocking(move || {
            let read = cursor.read(&files, from, through, max);
            (cursor, read)
        })
        .await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()));
        self.cursor = Some(cursor);
        let records = match read {
            Ok(records) => records,
            Err(error) => {
                // Could not read it now (the files are still there): try again.
                self.deliverer.counters.set_last_error(&format!("audit spool: {error}"));
                tracing::error!(%error, "audit spool: reading back failed; retrying");
                tokio::time::sleep(self.deliverer.retry.backoff(3)).await;
                return true;
            }
        };
        let next = records.last().map_or(through + 1, |(seq, _)| seq + 1);
        let mut seqs = Vec::with_capacity(records.len());
        let mut events = Vec::with_capacity(records.len());
        let mut bytes = 0;
        for (seq, payload) in records {
            bytes += SpoolFiles::encoded_len([payload.as_slice()]);
            match serde_json::from_slice::<Event>(&payload) {
                Ok(event) => {
                    seqs.push(seq);
                    events.push(event);
                }
                Err(error) => {
                    // Its checksum held, so these are the bytes that were
                    // written, and they are not an event this version reads.
                    Counters::add(&self.deliverer.counters.rejected, 1);
                    tracing::error!(seq, %error, "audit spool: a record is not a readable event; it is NOT stored");
                }
            }
        }
        if events.is_empty() {
            // Nothing whole in the range (lost to damage, or unreadable):
            // account for it as stored so waiters and the bound move on.
            let mut state = self.shared.state();
            state.read_back_from = Some(next);
            self.mark_stored(&mut state, next, bytes, &HashMap::new());
            return true;
        }
        self.store(seqs, events, bytes).await;
        let mut state = self.shared.state();
        if state.read_back_from.is_some() {
            state.read_back_from = Some(next);
        }
        true
    }

    /// Writes `events` (numbered `seqs`, in order) to the sink, then lets
    /// their waiters go and deletes the segments that are all stored.
    async fn store(&mut self, seqs: Vec<u64>, events: Vec<Event>, bytes: u64) {
        let rejected = self.deliverer.deliver(&events).await;
        let rejected: HashMap<u64, String> = rejected.into_iter().map(|(i, why)| (seqs[i], why)).collect();
        let counters = &self.deliverer.counters;
        for seq in &seqs {
            if rejected.contains_key(seq) {
                continue;
            }
            if *seq < self.replay_end {
                Counters::add(&counters.replayed, 1);
            } else {
                Counters::add(&counters.written, 1);
            }
        }
        let Some(&last) = seqs.last() else { return };
        {
            let mut state = self.shared.state();
            self.mark_stored(&mut state, last + 1, bytes, &rejected);
        }
        let files = Arc::clone(&self.shared.files);
        let deleted = tokio::task::spawn_blocking(move || {
            let mut files = lock(&files);
            files.delete_through(last).map(|_| files.bytes())
        })
        .await;
        match deleted {
            Ok(Ok(bytes)) => counters.spool_bytes.store(bytes, Relaxed),
            Ok(Err(error)) => {
                tracing::warn!(%error, "audit spool: a stored segment could not be removed; retried later")
            }
            Err(_) => {}
        }
    }

    /// Everything below `stored_next` is stored (or rejected): answers its
    /// waiters and gives its bytes back to the bound.
    fn mark_stored(&self, state: &mut State, stored_next: u64, bytes: u64, rejected: &HashMap<u64, String>) {
        state.stored_next = state.stored_next.max(stored_next);
        state.unstored_bytes = state.unstored_bytes.saturating_sub(bytes);
        while let Some((seq, _)) = state.waiters.front()
            && *seq < state.stored_next
        {
            let Some((seq, waiter)) = state.waiters.pop_front() else {
                break;
            };
            match waiter {
                Waiter::Flush(done) => {
                    let _ = done.send(());
                }
                Waiter::Ack(ack) => ack.answer(match rejected.get(&seq) {
                    Some(reason) => Err(NotStored::Rejected { reason: reason.clone() }),
                    None => Ok(()),
                }),
            }
        }
        self.shared.set_pending(state);
        self.shared.room.notify_one();
    }
}
