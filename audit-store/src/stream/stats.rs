//! What each stream sink has done, for [`Streamer::stats`](super::StreamerHandle::stats)
//! and the admin API's `/health`.

use std::sync::{Arc, Mutex, PoisonError};

use audit_core::Timestamp;
use serde::Serialize;
use tokio::sync::watch;

/// One stream sink's progress, as [`StreamerHandle::stats`](super::StreamerHandle::stats)
/// reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SinkStats {
    /// The name its positions are kept under.
    pub name: String,
    /// The sink, as it describes itself.
    pub sink: String,
    /// Events delivered (counting each redelivery).
    pub delivered: u64,
    /// Batches delivered.
    pub batches: u64,
    /// Deliveries that failed and were retried.
    pub retried: u64,
    /// Events a retention purge removed before this sink delivered them:
    /// the one way a sink misses events (warned as it happens).
    pub skipped: u64,
    /// Events stored but not delivered yet, over its streams, as of its
    /// last look at the store.
    pub lag: u64,
    /// Whether the lag is beyond the sink's `max_lag`: it is falling
    /// behind (nothing is lost while the store keeps the events).
    pub behind: bool,
    /// Whether its last delivery failed.
    pub failing: bool,
    /// The last failure, while failing.
    pub last_error: Option<String>,
    /// When it last delivered a batch.
    pub last_delivered_at: Option<Timestamp>,
}

/// The stats one sink task updates and readers copy, with a signal for
/// readers that wait on progress.
#[derive(Debug, Clone)]
pub(crate) struct SharedStats(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    stats: Mutex<SinkStats>,
    changed: watch::Sender<u64>,
    /// The one stream the sink delivers, if limited to one.
    stream: Option<String>,
}

impl SharedStats {
    pub(crate) fn new(name: &str, sink: String, stream: Option<String>) -> Self {
        Self(Arc::new(Shared {
            stats: Mutex::new(SinkStats {
                name: name.to_owned(),
                sink,
                ..SinkStats::default()
            }),
            changed: watch::Sender::new(0),
            stream,
        }))
    }

    /// Updates the stats (a panic elsewhere while holding the lock leaves
    /// counters that are still worth reading) and wakes waiting readers.
    pub(crate) fn update(&self, change: impl FnOnce(&mut SinkStats)) {
        change(&mut self.0.stats.lock().unwrap_or_else(PoisonError::into_inner));
        self.0.changed.send_modify(|version| *version = version.wrapping_add(1));
    }

    pub(crate) fn read(&self) -> SinkStats {
        self.0.stats.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Told after every update.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.changed.subscribe()
    }

    /// The one stream the sink delivers, if limited to one.
    pub(crate) fn stream(&self) -> Option<String> {
        self.0.stream.clone()
    }
}
