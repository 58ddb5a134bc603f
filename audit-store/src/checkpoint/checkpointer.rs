//! [`Checkpointer`]: signs the head of every stream on a schedule and hands
//! each checkpoint to the store and to its sinks.

use std::sync::Arc;
use std::time::Duration;

use audit_core::Timestamp;

use super::sinks::CheckpointSink;
use super::{Checkpoint, CheckpointError, SigningKey};
use crate::merkle::{self, ProofError};
use crate::{SignedCheckpoint, Store, StoreError};

/// How often a [`Checkpointer`] signs by default.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);

/// Signs the tree head of every stream whose head moved since its last
/// checkpoint, keeps the signed checkpoint in the store and hands it to each
/// sink: a directory of files, any `AsyncWrite`, an HTTP endpoint (a
/// witness), or your own [`CheckpointSink`].
///
/// Before signing it proves, from the store, that the new head extends the
/// stream's last checkpoint (RFC 9162 consistency): a database whose
/// history was rewritten, or rolled back below a signed size, is refused
/// ([`CheckpointerError::Rewritten`], [`CheckpointerError::RolledBack`])
/// rather than signed over.
///
/// ```
/// use audit_core::{Action, Actor, AuditSink, Event};
/// use audit_store::checkpoint::{Checkpoint, Checkpointer, SigningKey};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = audit_store::connect("sqlite::memory:").await?;
/// let event = Event::builder(Action::new("app.created")?, Actor::user("u1")).tenant("acme").build();
/// store.write_batch(&[event]).await?;
///
/// let key = SigningKey::generate("audit.example.com")?;
/// let checkpointer = Checkpointer::new(store.clone(), key.clone());
/// let run = checkpointer.checkpoint_now().await?;
/// assert_eq!(run.signed.len(), 1);
/// let opened = Checkpoint::open(&run.signed[0].note, &key.verifier_key())?;
/// assert_eq!((opened.origin.as_str(), opened.size), ("audit.example.com/tenant:acme", 1));
/// // Nothing moved since: nothing to sign.
/// assert!(checkpointer.checkpoint_now().await?.signed.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Checkpointer {
    store: Store,
    key: Arc<SigningKey>,
    sinks: Vec<Arc<dyn CheckpointSink>>,
    interval: Duration,
}

/// What one signing round did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct CheckpointRun {
    /// The checkpoints signed (and kept in the store), one per stream whose
    /// head moved.
    pub signed: Vec<SignedCheckpoint>,
    /// Streams that were not signed, and why.
    pub refused: Vec<CheckpointerError>,
    /// Sinks that failed to take a checkpoint (it is kept in the store
    /// regardless, and the next one covers it).
    pub sink_failures: Vec<SinkFailure>,
}

/// A sink that failed to take a checkpoint.
#[derive(Debug)]
pub struct SinkFailure {
    /// The sink, as it describes itself.
    pub sink: String,
    /// The stream of the checkpoint.
    pub stream: String,
    /// The tree size of the checkpoint.
    pub size: u64,
    /// What went wrong.
    pub error: std::io::Error,
}

/// Why a stream's head was not signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The checkpoint could not be written (a key name the origin cannot
    /// hold, say).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The stream's head is below its newest checkpoint: the database was
    /// rolled back (restored from an older backup, or its newest events
    /// removed).
    #[error(
        "stream {stream}: its head ({head}) is below its newest checkpoint ({checkpoint}): the database was rolled back; not signing"
    )]
    RolledBack {
        /// The stream.
        stream: String,
        /// Its size now.
        head: u64,
        /// The size its newest checkpoint commits to.
        checkpoint: u64,
    },
    /// The stream's tree no longer extends its newest checkpoint: its
    /// history was rewritten.
    #[error(
        "stream {stream}: its tree of {head} events does not extend its checkpoint of {checkpoint}: its history was rewritten; not signing"
    )]
    Rewritten {
        /// The stream.
        stream: String,
        /// Its size now.
        head: u64,
        /// The size of the checkpoint it does not extend.
        checkpoint: u64,
    },
}

impl Checkpointer {
    /// A checkpointer of `store`'s streams, signing with `key` every
    /// [`DEFAULT_CHECKPOINT_INTERVAL`], with no sink but the store.
    pub fn new(store: impl Into<Store>, key: SigningKey) -> Self {
        Self {
            store: store.into(),
            key: Arc::new(key),
            sinks: Vec::new(),
            interval: DEFAULT_CHECKPOINT_INTERVAL,
        }
    }

    /// Signs every `interval` instead.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Also hands every checkpoint to `sink`.
    pub fn sink(mut self, sink: impl CheckpointSink + 'static) -> Self {
        self.sinks.push(Arc::new(sink));
        self
    }

    /// Signs every stream whose head moved since its newest checkpoint, now.
    /// A stream that cannot be signed is reported in
    /// [`CheckpointRun::refused`] (and logged) without stopping the others.
    ///
    /// # Errors
    /// When the store cannot list its streams.
    pub async fn checkpoint_now(&self) -> Result<CheckpointRun, StoreError> {
        let mut run = CheckpointRun::default();
        for stream in self.store.streams().await? {
            match self.sign_stream(&stream).await {
                Ok(Some(checkpoint)) => {
                    self.deliver(&checkpoint, &mut run.sink_failures).await;
                    run.signed.push(checkpoint);
                }
                Ok(None) => {}
                // A stream purged before trees were kept has none to sign.
                Err(CheckpointerError::Store(StoreError::Proof {
                    error: ProofError::NoTree,
                    ..
                })) => {}
                Err(error) => {
                    tracing::error!(%error, "checkpoint refused");
                    run.refused.push(error);
                }
            }
        }
        Ok(run)
    }

    /// Signs `stream`'s head if it moved; `None` when it did not.
    async fn sign_stream(&self, stream: &str) -> Result<Option<SignedCheckpoint>, CheckpointerError> {
        let head = self.store.tree_head(stream, None).await?;
        if let Some(last) = self.store.latest_checkpoint(stream).await? {
            if last.size == head.size && last.root == head.root {
                return Ok(None);
            }
            if last.size > head.size {
                return Err(CheckpointerError::RolledBack {
                    stream: stream.to_owned(),
                    head: head.size,
                    checkpoint: last.size,
                });
            }
            let rewritten = || CheckpointerError::Rewritten {
                stream: stream.to_owned(),
                head: head.size,
                checkpoint: last.size,
            };
            let proof = self
                .store
                .consistency_proof(stream, last.size, head.size)
                .await
                .map_err(|_| rewritten())?;
            merkle::verify_consistency(last.size, head.size, &last.root, &head.root, &proof)
                .map_err(|_| rewritten())?;
        }
        let origin = Checkpoint::origin(self.key.name(), stream);
        let note = Checkpoint::new(origin, head.size, head.root).sign(&self.key)?;
        let checkpoint = SignedCheckpoint {
            stream: stream.to_owned(),
            size: head.size,
            root: head.root,
            note,
            signed_at: Timestamp::now(),
        };
        self.store.save_checkpoint(&checkpoint).await?;
        Ok(Some(checkpoint))
    }

    async fn deliver(&self, checkpoint: &SignedCheckpoint, failures: &mut Vec<SinkFailure>) {
        for sink in &self.sinks {
            if let Err(error) = sink.send(checkpoint).await {
                let sink = sink.describe();
                tracing::warn!(%sink, stream = %checkpoint.stream, size = checkpoint.size, %error, "checkpoint sink failed");
                failures.push(SinkFailure {
                    sink,
                    stream: checkpoint.stream.clone(),
                    size: checkpoint.size,
                    error,
                });
            }
        }
    }

    /// Signs every interval until `shutdown` completes, then once more (so
    /// the last events written before shutdown are covered). Spawn it next
    /// to your server, with the same shutdown signal.
    ///
    /// ```no_run
    /// # use audit_store::checkpoint::{Checkpointer, SigningKey, DirectorySink};
    /// # async fn run(store: audit_store::Store) -> Result<(), Box<dyn std::error::Error>> {
    /// let key = SigningKey::from_env("AUDIT_SIGNING_KEY")?;
    /// let checkpointer = Checkpointer::new(store, key).sink(DirectorySink::new("checkpoints"));
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let task = tokio::spawn(checkpointer.run(async { let _ = stopped.await; }));
    /// // … serve until asked to stop, then:
    /// let _ = stop.send(());
    /// task.await?;
    /// # Ok(()) }
    /// ```
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick completes at once; the first round waits a period.
        ticks.tick().await;
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticks.tick() => self.round().await,
            }
        }
        self.round().await;
    }

    async fn round(&self) {
        if let Err(error) = self.checkpoint_now().await {
            tracing::error!(%error, "checkpointing failed");
        }
    }
}
