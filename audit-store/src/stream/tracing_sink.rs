//! [`TracingSink`]: each stored event as a `tracing` event, for services
//! whose logs already go to the security team's pipeline.

use super::sink::{Batch, DeliverFuture, StreamSink};

/// Emits each event as a `tracing` event at target `audit`, level INFO,
/// with the event's fields (`id`, `action`, `tenant`, `actor`, `outcome`,
/// `stream`, `seq`) and its whole JSON as `event`. A subscriber filtering
/// on target `audit` (`RUST_LOG=audit=info`) routes them where the
/// service's logs go. Emitting never fails, so this sink never lags.
///
/// ```
/// use audit_store::stream::{Streamer, TracingSink};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = audit_store::connect("sqlite::memory:").await?;
/// let streams = Streamer::new(store).sink("tracing", TracingSink).start();
/// streams.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingSink;

impl StreamSink for TracingSink {
    fn deliver<'a>(&'a self, batch: &'a Batch) -> DeliverFuture<'a> {
        Box::pin(async move {
            for event in &batch.events {
                let json = serde_json::to_string(event).unwrap_or_default();
                let seq = event.integrity().map_or(0, |integrity| integrity.seq);
                tracing::info!(
                    target: "audit",
                    id = %event.id(),
                    action = %event.action(),
                    tenant = event.tenant_id(),
                    actor = %event.actor().id,
                    outcome = ?event.outcome(),
                    stream = %batch.stream,
                    seq,
                    event = %json,
                    "{}",
                    event.description().unwrap_or(event.action().as_str()),
                );
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        "tracing (target audit)".to_owned()
    }
}
