//! [`StreamSink`]: where a [`Streamer`](super::Streamer) delivers the events
//! it reads from the store, and what a delivery is.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use audit_core::Event;

/// The future a sink's delivery returns.
pub type DeliverFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StreamError>> + Send + 'a>>;

/// Takes batches of stored events, in seq order, one stream at a time.
///
/// Delivery is at least once: a batch that failed, or whose success was
/// not recorded before the process stopped, is delivered again. Each event
/// carries its id and its `integrity` (stream and seq), so a receiver
/// drops what it has seen by event id (or by stream and seq).
///
/// ```
/// use std::sync::Mutex;
/// use audit_store::stream::{Batch, DeliverFuture, StreamSink};
///
/// /// Counts what it is given.
/// #[derive(Debug, Default)]
/// struct Count(Mutex<usize>);
///
/// impl StreamSink for Count {
///     fn deliver<'a>(&'a self, batch: &'a Batch) -> DeliverFuture<'a> {
///         Box::pin(async move {
///             *self.0.lock().unwrap() += batch.events.len();
///             Ok(())
///         })
///     }
///
///     fn describe(&self) -> String {
///         "a counter".to_owned()
///     }
/// }
/// # let _ = Count::default();
/// ```
pub trait StreamSink: Send + Sync + Debug + 'static {
    /// Delivers one batch. An error is retried with backoff (after its
    /// [`retry_after`](StreamError::retry_after), when it names one) until
    /// it succeeds: the store keeps the events meanwhile.
    fn deliver<'a>(&'a self, batch: &'a Batch) -> DeliverFuture<'a>;

    /// Names the sink in logs, stats and `/health` (never with
    /// credentials).
    fn describe(&self) -> String;

    /// Whether the sink takes events with their personal values still
    /// sealed, as hashed (an archive whose lines carry proofs). By
    /// default a sink gets them opened, as a reader of the store would
    /// (values of erased subjects shown as `[erased]`); see
    /// [`personal`](crate::personal).
    fn wants_sealed(&self) -> bool {
        false
    }
}

/// Consecutive events of one stream, as stored (each with its
/// `integrity`), oldest first.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Batch {
    /// The stream: `tenant:<id>` or `global`.
    pub stream: String,
    /// The events, in seq order.
    pub events: Vec<Event>,
}

impl Batch {
    /// A batch of `stream`'s `events`.
    pub fn new(stream: impl Into<String>, events: Vec<Event>) -> Self {
        Self {
            stream: stream.into(),
            events,
        }
    }

    /// The tenant whose stream this is; `None` for the global stream.
    ///
    /// ```
    /// use audit_store::stream::Batch;
    /// assert_eq!(Batch::new("tenant:acme", Vec::new()).tenant(), Some("acme"));
    /// assert_eq!(Batch::new("global", Vec::new()).tenant(), None);
    /// ```
    pub fn tenant(&self) -> Option<&str> {
        self.stream.strip_prefix("tenant:")
    }

    /// The seqs of the first and the last event (0 for events never
    /// stored).
    pub fn seqs(&self) -> (u64, u64) {
        let seq = |event: Option<&Event>| event.and_then(Event::integrity).map_or(0, |integrity| integrity.seq);
        (seq(self.events.first()), seq(self.events.last()))
    }
}

/// Why a delivery failed; the batch is delivered again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StreamError {
    message: String,
    retry_after: Option<Duration>,
}

impl StreamError {
    /// A failure described by `message` (never with credentials).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry_after: None,
        }
    }

    /// The receiver asked to be tried again no sooner than `delay` from
    /// now (HTTP `Retry-After`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use audit_store::stream::StreamError;
    /// let error = StreamError::new("answered 429").retry_after(Duration::from_secs(2));
    /// assert_eq!(error.to_string(), "answered 429");
    /// assert_eq!(error.retry_after_delay(), Some(Duration::from_secs(2)));
    /// ```
    #[must_use]
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// The delay the receiver asked for, if it did.
    pub fn retry_after_delay(&self) -> Option<Duration> {
        self.retry_after
    }
}
