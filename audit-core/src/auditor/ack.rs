//! Receipts: how a caller learns that its own events were stored, not only
//! queued (the `Confirmed` and `Spooled` deliveries of the HTTP layer).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

/// How durable an event must be before its [`Receipt`] resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Committed by the sink (the store).
    Stored,
    /// Made durable in the auditor's [`Spool`](crate::Spool), or committed
    /// by the sink when the auditor has no spool: it survives a process
    /// kill either way.
    Spooled,
}

/// Why an event with a [`Receipt`] was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotStored {
    /// The sink refused the event for good (it is logged with the event).
    #[error("the audit store rejected the event: {reason}")]
    Rejected {
        /// What the sink said.
        reason: String,
    },
    /// The auditor stopped before the event was stored.
    #[error("the auditor stopped before the event was stored")]
    ShutDown,
}

/// Resolves once its event is as durable as asked ([`Durability`]), or
/// with why it never will be.
///
/// ```
/// use audit_core::{Action, Actor, Auditor, Durability, Event, MemorySink};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sink = MemorySink::new();
/// let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
/// let event = Event::builder(Action::from_static("app.deleted").unwrap(), Actor::user("u1"));
/// let receipt = auditor.record_with_receipt(event, Durability::Stored).await.unwrap();
/// receipt.await.unwrap();
/// assert_eq!(sink.actions(), ["app.deleted"]);
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a receipt does nothing unless awaited"]
pub struct Receipt(oneshot::Receiver<Result<(), NotStored>>);

impl Future for Receipt {
    type Output = Result<(), NotStored>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.unwrap_or(Err(NotStored::ShutDown)))
    }
}

/// The writer's end of a [`Receipt`].
#[derive(Debug)]
pub(crate) struct Ack {
    pub(crate) durability: Durability,
    tx: oneshot::Sender<Result<(), NotStored>>,
}

impl Ack {
    pub(crate) fn new(durability: Durability) -> (Self, Receipt) {
        let (tx, rx) = oneshot::channel();
        (Self { durability, tx }, Receipt(rx))
    }

    pub(crate) fn answer(self, outcome: Result<(), NotStored>) {
        // The caller may have stopped waiting (timed out): nothing to tell.
        let _ = self.tx.send(outcome);
    }
}
