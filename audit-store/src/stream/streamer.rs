//! [`Streamer`]: one task per stream sink, each reading the store from its
//! own position and delivering in seq order.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use audit_core::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::options::{MAX_RETRY_AFTER, SinkOptions, StartAt};
use super::sink::{Batch, StreamSink};
use super::stats::{SharedStats, SinkStats};
use crate::Store;

/// How often a sink looks at the store when nothing in this process told
/// it of new events (they may come from another process), by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Delivers the store's events to stream sinks: a SIEM's webhook, a log
/// pipeline, an archive. Each sink runs in its own task, reading the store
/// from its own position (kept in the store, by the sink's name) and
/// delivering batches of one stream in seq order, so a slow or dead sink
/// never holds a request, the store or another sink: the store is its
/// queue. A sink that was down catches up from where it stopped.
///
/// Delivery is at least once; see [`StreamSink`] for de-duplication.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use audit_core::{Action, Actor, AuditSink, Event};
/// use audit_store::stream::{Batch, DeliverFuture, StreamSink, Streamer};
///
/// #[derive(Debug, Default, Clone)]
/// struct Collect(Arc<Mutex<Vec<u64>>>);
///
/// impl StreamSink for Collect {
///     fn deliver<'a>(&'a self, batch: &'a Batch) -> DeliverFuture<'a> {
///         Box::pin(async move {
///             let seqs = batch.events.iter().map(|event| event.integrity().unwrap().seq);
///             self.0.lock().unwrap().extend(seqs);
///             Ok(())
///         })
///     }
///
///     fn describe(&self) -> String {
///         "memory".to_owned()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = audit_store::connect("sqlite::memory:").await?;
/// let event = |n: u32| Event::builder(Action::new("app.created").unwrap(), Actor::user(format!("u{n}"))).tenant("acme").build();
/// store.write_batch(&[event(1), event(2)]).await?;
///
/// let collected = Collect::default();
/// let streams = Streamer::new(store.clone()).sink("memory", collected.clone()).start();
/// store.write_batch(&[event(3)]).await?;
/// streams.delivered_all().await?;
/// assert_eq!(*collected.0.lock().unwrap(), [1, 2, 3]);
/// assert_eq!(streams.stats()[0].delivered, 3);
/// streams.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Streamer {
    store: Store,
    sinks: Vec<(String, Arc<dyn StreamSink>, SinkOptions)>,
    poll: Duration,
    #[cfg(feature = "http")]
    destinations: Option<Duration>,
}

impl Streamer {
    /// A streamer of `store`'s events, with no sink yet.
    pub fn new(store: impl Into<Store>) -> Self {
        Self {
            store: store.into(),
            sinks: Vec::new(),
            poll: DEFAULT_POLL_INTERVAL,
            #[cfg(feature = "http")]
            destinations: None,
        }
    }

    /// Adds `sink` under `name`, with the default [`SinkOptions`]. The name
    /// keeps its positions in the store: keep it stable across restarts,
    /// and give each sink its own.
    ///
    /// # Panics
    /// When `name` is empty, longer than 200 bytes, holds a control
    /// character, starts with `destination:` (the names of
    /// [destinations](super::Destination)), or was given before.
    #[must_use]
    pub fn sink(self, name: &str, sink: impl StreamSink) -> Self {
        self.sink_with(name, sink, SinkOptions::default())
    }

    /// As [`sink`](Self::sink), with `options`.
    ///
    /// # Panics
    /// As [`sink`](Self::sink).
    #[must_use]
    pub fn sink_with(mut self, name: &str, sink: impl StreamSink, options: SinkOptions) -> Self {
        if let Err(reason) = check_sink_name(name) {
            panic!("stream sink name {name:?}: {reason}");
        }
        assert!(
            !name.starts_with(super::SINK_PREFIX),
            "stream sink name {name:?}: `{}` names the store's destinations",
            super::SINK_PREFIX
        );
        assert!(
            self.sinks.iter().all(|(taken, ..)| taken != name),
            "stream sink name {name:?} is given twice: each sink keeps its own positions"
        );
        self.sinks.push((name.to_owned(), Arc::new(sink), options));
        self
    }

    /// Looks at the store every `interval` when this process wrote nothing
    /// new (events written through this process's store wake the sinks at
    /// once); default [`DEFAULT_POLL_INTERVAL`].
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// Also runs a [`WebhookSink`](super::WebhookSink) for each
    /// [destination](super::Destination) kept in the store, re-reading them
    /// every `refresh`: added ones start, removed ones stop.
    #[cfg(feature = "http")]
    #[must_use]
    pub fn destinations_from_store(mut self, refresh: Duration) -> Self {
        self.destinations = Some(refresh);
        self
    }

    /// Starts a task per sink (on the current tokio runtime).
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(self) -> StreamerHandle {
        let (stop, stopped) = watch::channel(false);
        let handle = StreamerHandle {
            inner: Arc::new(Inner {
                stop,
                tasks: Mutex::new(Vec::new()),
                stats: Arc::new(Mutex::new(Vec::new())),
                store: self.store.clone(),
            }),
        };
        for (name, sink, options) in self.sinks {
            let task = SinkTask::new(self.store.clone(), name, sink, options, self.poll, stopped.clone());
            handle.inner.stats().push(task.stats.clone());
            handle.inner.tasks().push(tokio::spawn(task.run()));
        }
        #[cfg(feature = "http")]
        if let Some(refresh) = self.destinations {
            let supervisor =
                super::destination::supervise(self.store, refresh, self.poll, stopped, Arc::clone(&handle.inner.stats));
            handle.inner.tasks().push(tokio::spawn(supervisor));
        }
        handle
    }
}

/// The running sinks of a [`Streamer`]: their stats, and how to stop
/// them. Clones share the sinks.
#[derive(Debug, Clone)]
pub struct StreamerHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stats: Arc<Mutex<Vec<SharedStats>>>,
    store: Store,
}

impl Inner {
    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, Vec<SharedStats>> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl StreamerHandle {
    /// Each sink's progress, in the order they were added (then the
    /// store's destinations).
    pub fn stats(&self) -> Vec<SinkStats> {
        self.inner.stats().iter().map(SharedStats::read).collect()
    }

    /// Waits until every sink has delivered every event the store holds
    /// now (for tests and orderly shutdowns; a sink that keeps failing
    /// keeps this waiting). Then [`stats`](Self::stats) counts those
    /// deliveries.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn delivered_all(&self) -> Result<(), crate::StoreError> {
        let mut targets = Vec::new();
        for stats in self.inner.stats().iter() {
            targets.push(stats.clone());
        }
        for stats in targets {
            let name = stats.read().name;
            let only = stats.stream();
            let wanted = self.inner.store.stream_positions(&name, only.as_deref()).await?;
            let mut changes = stats.subscribe();
            loop {
                let now = self.inner.store.stream_positions(&name, only.as_deref()).await?;
                let done = wanted.iter().all(|want| {
                    now.iter()
                        .find(|position| position.stream == want.stream)
                        .is_some_and(|position| position.delivered.max(position.base) >= want.head)
                });
                if done {
                    break;
                }
                let mut stopped = self.inner.stop.subscribe();
                tokio::select! {
                    _ = changes.changed() => {}
                    _ = stopped.wait_for(|stop| *stop) => break,
                }
            }
        }
        Ok(())
    }

    /// Stops every sink after the delivery it is making (a sink waiting to
    /// retry stops at once) and waits for them. What was not delivered is
    /// delivered after the next start.
    pub async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.inner.tasks());
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// Why `name` cannot name a sink.
pub(crate) fn check_sink_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("it is empty")
    } else if name.len() > 200 {
        Err("it is longer than 200 bytes")
    } else if name.chars().any(char::is_control) {
        Err("it holds a control character")
    } else {
        Ok(())
    }
}

/// One sink's task.
pub(crate) struct SinkTask {
    store: Store,
    name: String,
    sink: Arc<dyn StreamSink>,
    options: SinkOptions,
    poll: Duration,
    stopped: watch::Receiver<bool>,
    pub(crate) stats: SharedStats,
}

impl SinkTask {
    pub(crate) fn new(
        store: Store,
        name: String,
        sink: Arc<dyn StreamSink>,
        options: SinkOptions,
        poll: Duration,
        stopped: watch::Receiver<bool>,
    ) -> Self {
        let stats = SharedStats::new(&name, sink.describe(), options.stream.clone());
        Self {
            store,
            name,
            sink,
            options,
            poll,
            stopped,
            stats,
        }
    }

    fn stopping(&self) -> bool {
        *self.stopped.borrow()
    }

    /// Waits `delay`, or less if the streamer stops; `false` when it stops.
    async fn wait(&mut self, delay: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            _ = self.stopped.wait_for(|stop| *stop) => false,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut appended = self.store.subscribe_appended();
        let mut store_failures = 0;
        if self.options.start == StartAt::Heads {
            while let Err(error) = self
                .store
                .seek_stream_sink(&self.name, self.options.stream(), true)
                .await
            {
                self.store_failed(&error);
                store_failures += 1;
                if !self.wait(self.options.retry.backoff(store_failures)).await {
                    return;
                }
            }
        }
        while !self.stopping() {
            appended.borrow_and_update();
            match self.round().await {
                Ok(true) => store_failures = 0,
                Ok(false) if self.options.hourly => {
                    // New events belong to the hour under way: nothing to
                    // do before it ends (events from earlier hours that
                    // another process writes late wait for it too).
                    store_failures = 0;
                    let wait = until_next_hour(Timestamp::now()).max(self.poll);
                    if !self.wait(wait).await {
                        return;
                    }
                }
                Ok(false) => {
                    store_failures = 0;
                    tokio::select! {
                        _ = appended.changed() => {}
                        () = tokio::time::sleep(self.poll) => {}
                        _ = self.stopped.wait_for(|stop| *stop) => {}
                    }
                }
                Err(error) => {
                    self.store_failed(&error);
                    store_failures += 1;
                    if !self.wait(self.options.retry.backoff(store_failures)).await {
                        return;
                    }
                }
            }
        }
    }

    fn store_failed(&self, error: &crate::StoreError) {
        tracing::warn!(sink = %self.name, %error, "stream sink cannot read the store");
        self.stats
            .update(|stats| stats.last_error = Some(format!("reading the store: {error}")));
    }

    /// Delivers one batch of each stream that has events for this sink;
    /// `true` when it delivered any.
    async fn round(&mut self) -> Result<bool, crate::StoreError> {
        let positions = self.store.stream_positions(&self.name, self.options.stream()).await?;
        let lag = positions
            .iter()
            .map(|p| p.head.saturating_sub(p.delivered.max(p.base)))
            .sum();
        let max_lag = self.options.max_lag;
        self.stats.update(|stats| {
            stats.lag = lag;
            stats.behind = lag > max_lag;
        });
        let mut delivered_any = false;
        for position in positions {
            if self.stopping() {
                break;
            }
            let mut from = position.delivered;
            if from < position.base {
                self.skip(&position.stream, from, position.base).await?;
                from = position.base;
            }
            if from >= position.head {
                continue;
            }
            let mut events = self
                .store
                .events_after(&position.stream, from, self.options.batch_size)
                .await?;
            if self.options.hourly && !keep_closed_hour(&mut events, Timestamp::now()) {
                continue;
            }
            if !self.sink.wants_sealed() {
                self.store.open_events(&mut events).await?;
            }
            let Some(first) = events.first().and_then(|event| event.integrity()).map(|i| i.seq) else {
                continue;
            };
            if first > from + 1 {
                // Purged between reading the positions and the events.
                self.skip(&position.stream, from, first - 1).await?;
            }
            let batch = Batch::new(position.stream, events);
            if !self.deliver(&batch).await {
                break;
            }
            // Counted as delivered once the receiver has it, before the
            // position is saved: whoever sees the saved position
            // (`delivered_all`) sees the stats that go with it.
            let count = batch.events.len() as u64;
            self.stats.update(|stats| {
                stats.delivered += count;
                stats.batches += 1;
                stats.lag = stats.lag.saturating_sub(count);
                stats.behind = stats.lag > max_lag;
                stats.last_delivered_at = Some(Timestamp::now());
            });
            let (_, last) = batch.seqs();
            self.store.save_stream_position(&self.name, &batch.stream, last).await?;
            delivered_any = true;
        }
        Ok(delivered_any)
    }

    /// Records that events `from + 1 ..= through` of `stream` were purged
    /// before this sink delivered them.
    async fn skip(&self, stream: &str, from: u64, through: u64) -> Result<(), crate::StoreError> {
        let missed = through - from;
        tracing::warn!(
            sink = %self.name, %stream, missed,
            "retention purged events this stream sink had not delivered yet"
        );
        self.stats.update(|stats| stats.skipped += missed);
        self.store.save_stream_position(&self.name, stream, through).await
    }

    /// Delivers `batch` until it succeeds; `false` when the streamer
    /// stopped first.
    async fn deliver(&mut self, batch: &Batch) -> bool {
        let mut attempt = 0;
        loop {
            match self.sink.deliver(batch).await {
                Ok(()) => {
                    self.stats.update(|stats| {
                        if stats.failing {
                            tracing::info!(sink = %stats.name, "stream sink recovered");
                        }
                        stats.failing = false;
                        stats.last_error = None;
                    });
                    return true;
                }
                Err(error) => {
                    tracing::warn!(sink = %self.name, stream = %batch.stream, %error, "stream delivery failed; retrying");
                    self.stats.update(|stats| {
                        stats.failing = true;
                        stats.retried += 1;
                        stats.last_error = Some(error.to_string());
                    });
                    let backoff = self.options.retry.backoff(attempt);
                    let delay = error
                        .retry_after_delay()
                        .map_or(backoff, |asked| asked.min(MAX_RETRY_AFTER));
                    attempt = attempt.saturating_add(1);
                    if !self.wait(delay).await {
                        return false;
                    }
                }
            }
        }
    }
}

/// Microseconds in an hour.
const HOUR_MICROS: i64 = 3_600_000_000;

/// The hour (since the Unix epoch, UTC) `event` happened in.
fn hour_of(event: &audit_core::Event) -> i64 {
    event.occurred_at().unix_micros().div_euclid(HOUR_MICROS)
}

/// Keeps the events of the first event's hour, when that hour ended before
/// `now`; `false` (keeping nothing) when it has not.
fn keep_closed_hour(events: &mut Vec<audit_core::Event>, now: Timestamp) -> bool {
    let Some(hour) = events.first().map(hour_of) else {
        return false;
    };
    if hour >= now.unix_micros().div_euclid(HOUR_MICROS) {
        events.clear();
        return false;
    }
    let same_hour = events.iter().take_while(|event| hour_of(event) == hour).count();
    events.truncate(same_hour);
    true
}

/// How long from `now` until the next hour starts (and a second, so the
/// hour that ended is seen as ended).
fn until_next_hour(now: Timestamp) -> Duration {
    let into_hour = now.unix_micros().rem_euclid(HOUR_MICROS);
    Duration::from_micros(u64::try_from(HOUR_MICROS - into_hour).unwrap_or(0)) + Duration::from_secs(1)
}

#[cfg(test)]
mod tests {
    use audit_core::{Action, Actor, Event};

    use super::*;

    fn occurred_at(micros: i64) -> Event {
        Event::builder(Action::new("app.created").unwrap(), Actor::user("u"))
            .occurred_at(Timestamp::from_unix_micros(micros).unwrap())
            .build()
    }

    #[test]
    fn an_hourly_batch_holds_one_ended_hour() {
        let ten = 10 * HOUR_MICROS;
        let now = Timestamp::from_unix_micros(ten + 5).unwrap();
        let mut events = vec![
            occurred_at(ten - HOUR_MICROS + 1),
            occurred_at(ten - 1),
            occurred_at(ten),
            occurred_at(ten + 1),
        ];
        assert!(keep_closed_hour(&mut events, now));
        assert_eq!(events.len(), 2);
        // The hour under way is not delivered.
        let mut current = vec![occurred_at(ten), occurred_at(ten + 1)];
        assert!(!keep_closed_hour(&mut current, now));
        assert!(current.is_empty());
        assert!(!keep_closed_hour(&mut Vec::new(), now));
    }

    #[test]
    fn the_next_hour_is_waited_for_past_its_start() {
        let at = Timestamp::from_unix_micros(10 * HOUR_MICROS + HOUR_MICROS - 2_000_000).unwrap();
        assert_eq!(until_next_hour(at), Duration::from_secs(3));
        let on_the_hour = Timestamp::from_unix_micros(10 * HOUR_MICROS).unwrap();
        assert_eq!(until_next_hour(on_the_hour), Duration::from_secs(3601));
    }
}
