//! Streaming the store's events to the tools security teams already run:
//! a SIEM's webhook, a log pipeline, the application's own `tracing`.
//!
//! A [`Streamer`] runs one task per [`StreamSink`]. Each task reads the
//! store from its own position (the last seq it delivered in each stream,
//! kept in the store under the sink's name) and delivers batches of one
//! stream in seq order; it is woken by every batch this process writes,
//! and looks again every poll interval for batches other processes wrote.
//! So the store is every sink's queue:
//!
//! - a slow or dead sink never holds a request, the store, or another sink;
//!   while it fails it is retried with jittered backoff (obeying a
//!   receiver's `Retry-After`), its `lag` grows, and beyond its `max_lag`
//!   it counts as `behind` in [`StreamerHandle::stats`] and the admin
//!   API's `/health`;
//! - nothing is lost while the store keeps the events: a sink catches up
//!   from its position after an outage or a restart. The one way a sink
//!   misses events is a retention purge removing them first; that is
//!   counted (`skipped`) and warned.
//! - delivery is at least once: a batch whose success was not recorded
//!   (the process stopped between the receiver's answer and the position's
//!   update, or the answer never came) is delivered again. Receivers drop
//!   repeats by event `id` (or by `integrity.stream` and `integrity.seq`).
//!
//! Sinks this crate ships: [`WebhookSink`] (feature `http`: signed HTTP
//! POSTs of NDJSON or a JSON array, in the event's own JSON, OCSF, CEF or
//! syslog form), [`TracingSink`] (each event as a `tracing` event at
//! target `audit`) and [`ArchiveSink`] (feature `archive`: an hour of a
//! stream per gzipped NDJSON object in S3, GCS, Azure Blob Storage or a
//! directory, through `object_store`, each event with its proof and the
//! signed checkpoint beside it). Webhook [destinations](Destination) can
//! also be kept in the store, one per tenant: a tenant's events go only to
//! its own endpoint.
//!
//! | what happens | what the sink sees |
//! |---|---|
//! | receiver down, erroring or slow | retried with backoff; lag grows; requests and the store unaffected |
//! | `429`/`503` with `Retry-After` | waits as asked (up to [`MAX_RETRY_AFTER`]) |
//! | process restarts | resumes from its stored position; at most the batch in flight is repeated |
//! | retention purges undelivered events | skipped, counted and warned |
//! | new sink | starts at the beginning (default) or at the heads ([`StartAt`]) |

#[cfg(feature = "archive")]
mod archive;
#[cfg(feature = "http")]
mod destination;
mod options;
mod signature;
mod sink;
mod stats;
mod streamer;
mod tracing_sink;
#[cfg(feature = "http")]
mod webhook;

use std::sync::Arc;

use tokio::sync::watch;

#[cfg(feature = "http")]
pub use crate::http_client::redact_url;
#[cfg(feature = "archive")]
pub use archive::{ArchiveSink, DEFAULT_CHECKPOINT_WAIT};
#[cfg(feature = "http")]
pub use destination::{Destination, DestinationError, MIN_SECRET_LEN};
pub use options::{DEFAULT_BATCH_SIZE, DEFAULT_MAX_LAG, MAX_RETRY_AFTER, SinkOptions, StartAt};
pub use signature::{SIGNATURE_HEADER, SignatureError, sign, verify_signature};
pub use sink::{Batch, DeliverFuture, StreamError, StreamSink};
pub use stats::SinkStats;
pub use streamer::{DEFAULT_POLL_INTERVAL, Streamer, StreamerHandle};
pub use tracing_sink::TracingSink;
#[cfg(feature = "http")]
pub use webhook::{DEFAULT_WEBHOOK_TIMEOUT, SEQS_HEADER, STREAM_HEADER, WebhookAnswer, WebhookBody, WebhookSink};

/// The prefix of the sink names destinations keep their positions under.
pub(crate) const SINK_PREFIX: &str = "destination:";

/// Where a stream sink stands in one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamPosition {
    /// The stream: `tenant:<id>` or `global`.
    pub stream: String,
    /// The seq a retention purge has removed events up to (0 when none).
    pub base: u64,
    /// The seq of the stream's newest event.
    pub head: u64,
    /// The seq of the last event the sink delivered (0 before its first).
    pub delivered: u64,
}

impl StreamPosition {
    /// Events stored and not delivered yet.
    ///
    /// ```
    /// # use audit_store::stream::StreamPosition;
    /// # fn position(base: u64, head: u64, delivered: u64) -> u64 {
    /// #     let mut p = audit_store::stream::StreamPosition::new("global", base, head, delivered);
    /// #     p.lag()
    /// # }
    /// assert_eq!(position(0, 10, 4), 6);
    /// assert_eq!(position(8, 10, 4), 2); // 5..=8 were purged
    /// ```
    pub fn lag(&self) -> u64 {
        self.head.saturating_sub(self.delivered.max(self.base))
    }

    /// A position (for tests and sinks kept elsewhere).
    pub fn new(stream: impl Into<String>, base: u64, head: u64, delivered: u64) -> Self {
        Self {
            stream: stream.into(),
            base,
            head,
            delivered,
        }
    }
}

/// Told after every batch a store (and its clones) wrote.
#[derive(Debug, Clone)]
pub(crate) struct Appended(Arc<watch::Sender<u64>>);

impl Default for Appended {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }
}

impl Appended {
    /// Wakes every subscriber.
    pub(crate) fn notify(&self) {
        self.0.send_modify(|version| *version = version.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// A destination as its row holds it.
#[derive(Clone)]
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) struct DestinationRow {
    pub(crate) name: String,
    pub(crate) tenant: Option<String>,
    pub(crate) url: String,
    pub(crate) format: String,
    pub(crate) body: String,
    pub(crate) secret: String,
}
