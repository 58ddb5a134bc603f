//! A durable spool: events reach disk before the request is answered, and
//! leave it only once the store has committed them.
//!
//! ```text
//! writer ─► append + fdatasync ─► acknowledged (Durability::Spooled)
//!              (one per batch)          │
//!                                       ▼
//!                         drainer ─► AuditSink::write_batch ─► segments
//!                         (in order)   (retried while down)     deleted
//! ```
//!
//! An [`Auditor`](crate::Auditor) started with a spool
//! ([`AuditorBuilder::spool`](crate::AuditorBuilder::spool)) prepares each
//! batch as before and appends it to the spool as one group of records made
//! durable by one `fdatasync`: every request whose events are in the batch
//! is acknowledged by that one sync (group commit). A second task writes
//! the spooled events to the sink in order, retrying while it is down, and
//! deletes a segment file once every record in it is stored. While the
//! store is down the spool fills instead of the queue. Since spooled events
//! are durable already, that task gathers them for up to
//! [`SpoolConfig::store_linger`] into larger store batches, unless someone
//! waits for them to be stored. Once the spool holds
//! [`SpoolConfig::max_bytes`] the writer stops taking events off the queue
//! and the auditor's [`OverflowPolicy`](crate::OverflowPolicy) applies, as
//! without a spool.
//!
//! # Restart
//!
//! [`Spool::open`] reads every segment left in the directory: the records
//! in them are written to the sink first, before anything recorded since.
//! Records the store already has (the process was killed after the commit,
//! before the segment was deleted) are written again; stores are idempotent
//! by event id ([`AuditSink`](crate::AuditSink)'s contract), so nothing is
//! stored twice.
//!
//! # Damage
//!
//! Each record carries a CRC-32C of its length and payload. A record cut
//! short (the process died mid-append: that record was never acknowledged)
//! or damaged on disk ends what is read of its segment: the records before
//! it are replayed, the damage is logged at error level and listed in
//! [`Spool::damage`], and reading goes on with the next segment. Appends
//! always go to a new segment after an open, never after a damaged tail.
//!
//! # Format and why it is hand-written
//!
//! A segment is a sequence of records `[len: u32 LE][crc32c(len ‖ payload):
//! u32 LE][payload]`, the payload an event as JSON. The segment being
//! appended to has up to 1 MiB of zeros written ahead of its records, so an
//! append inside them changes no file size and its `fdatasync` writes the
//! data alone; a zero header is the end of the records (a record's checksum
//! covers its length, so eight zero bytes are never a record), and a record
//! whose end never left the zeros is reported as torn. The write-ahead log
//! crates we looked at did not fit: `okaywal` (the closest: group commit,
//! checksums, segment recycling) calls itself early in development with an
//! unstable file format, and hands stored entries back through a blocking
//! checkpoint callback rather than deleting after an asynchronous commit;
//! disk-queue crates (`yaque`) sync per operation or not at all. The framing
//! above is a few dozen lines over the `crc` crate (already in the tree
//! through sqlx), is fuzzed for any input, and its cut-at-every-offset
//! behaviour is tested.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use audit_core::{Action, Actor, Auditor, Event, MemorySink, Spool, SpoolConfig};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let dir = std::env::temp_dir().join(format!("audit-spool-doc-{}", std::process::id()));
//! let spool = Spool::open(SpoolConfig::new(&dir)).unwrap();
//! let sink = MemorySink::new();
//! let auditor = Auditor::builder().lifecycle_events(false).spool(spool).start(sink.clone());
//! auditor
//!     .record(Event::builder(Action::from_static("app.created").unwrap(), Actor::user("u1")))
//!     .await
//!     .unwrap();
//! auditor.shutdown(Duration::from_secs(5)).await.unwrap();
//! assert_eq!(sink.actions(), ["app.created"]);
//! // Everything stored: nothing is left to replay.
//! assert_eq!(Spool::open(SpoolConfig::new(&dir)).unwrap().pending(), 0);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # }
//! ```

mod files;
mod frame;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) use files::{Cursor, SpoolFiles};

/// Where a spool lives and how much it may hold.
///
/// ```
/// use audit_core::SpoolConfig;
/// let config = SpoolConfig::new("/var/lib/app/audit-spool").max_bytes(64 << 20);
/// assert_eq!(config.max_bytes_value(), 64 << 20);
/// assert_eq!(SpoolConfig::new("spool").max_bytes_value(), 1 << 30);
/// ```
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    pub(crate) dir: PathBuf,
    pub(crate) max_bytes: u64,
    pub(crate) segment_bytes: u64,
    pub(crate) store_linger: Duration,
}

impl SpoolConfig {
    /// A spool in `dir` (created if missing), holding up to 1 GiB in
    /// segments of 8 MiB.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
            max_bytes: 1 << 30,
            segment_bytes: 8 << 20,
            store_linger: Duration::from_millis(250),
        }
    }

    /// The most bytes the spool holds (at least one segment). Once it holds
    /// this much, events wait in the queue, and the overflow policy applies
    /// when that fills too.
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes.max(1);
        self
    }

    /// The size at which a segment file is closed and a new one started
    /// (default 8 MiB). Space is given back a segment at a time, and a
    /// restart after a kill replays at most the segments not yet deleted.
    #[must_use]
    pub fn segment_bytes(mut self, segment_bytes: u64) -> Self {
        self.segment_bytes = segment_bytes.max(1);
        self
    }

    /// How long spooled events wait for more before they are written to the
    /// store together (default 250 ms), unless a `Stored` receipt or a
    /// flush waits for them, or a store batch is full.
    ///
    /// Spooled events are durable already: what the wait buys is larger
    /// store batches, and a store commit costs far less per event in a
    /// large batch (SQLite: about half at 10,000 events what it costs at
    /// 500). What it costs is that the read side sees events up to this
    /// much later. `Duration::ZERO` writes each batch as soon as it is
    /// spooled.
    ///
    /// ```
    /// use std::time::Duration;
    /// use audit_core::SpoolConfig;
    /// let config = SpoolConfig::new("spool").store_linger(Duration::from_millis(50));
    /// assert_eq!(config.store_linger_value(), Duration::from_millis(50));
    /// assert_eq!(SpoolConfig::new("spool").store_linger_value(), Duration::from_millis(250));
    /// ```
    #[must_use]
    pub fn store_linger(mut self, linger: Duration) -> Self {
        self.store_linger = linger;
        self
    }

    /// The configured [`store_linger`](Self::store_linger).
    pub fn store_linger_value(&self) -> Duration {
        self.store_linger
    }

    /// The configured [`max_bytes`](Self::max_bytes).
    pub fn max_bytes_value(&self) -> u64 {
        self.max_bytes
    }
}

/// Why a spool could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// Another process (or auditor) holds the spool directory.
    #[error("the audit spool {} is in use by another process", dir.display())]
    Locked {
        /// The directory.
        dir: PathBuf,
    },
    /// The directory or a segment could not be created or read.
    #[error("audit spool {}: {error}", dir.display())]
    Io {
        /// The directory.
        dir: PathBuf,
        /// What the system said.
        #[source]
        error: std::io::Error,
    },
}

/// What was wrong with a record found when the spool was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DamageKind {
    /// The segment ends inside a record: a write cut short by a crash. That
    /// record was never acknowledged.
    Torn,
    /// A record's checksum or length is wrong: the file was damaged.
    Corrupt,
}

/// A damaged record found when the spool was opened: the rest of its
/// segment is skipped, the records before it are replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The segment file.
    pub segment: PathBuf,
    /// Where in it the damaged record starts.
    pub offset: u64,
    /// How it is damaged.
    pub kind: DamageKind,
    /// The number the damaged record would have had (records are numbered
    /// from the spool's oldest segment).
    pub after_record: u64,
}

/// An open spool directory, to hand to
/// [`AuditorBuilder::spool`](crate::AuditorBuilder::spool). Cloning it
/// clones the handle, not the directory: one auditor at a time runs on it.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

struct Inner {
    files: Arc<Mutex<SpoolFiles>>,
    config: SpoolConfig,
    /// The first and last number of the records left by an earlier run.
    replay: Option<(u64, u64)>,
    pending: u64,
    damage: Vec<Damage>,
    /// Set by the auditor that runs on it.
    claimed: AtomicBool,
}

impl fmt::Debug for Spool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.inner.config.dir)
            .field("pending", &self.inner.pending)
            .field("damage", &self.inner.damage)
            .finish_non_exhaustive()
    }
}

impl Spool {
    /// Opens (creating if need be) and locks the spool directory, and reads
    /// what an earlier run left in it. Blocking file I/O: call it at
    /// startup, before serving.
    ///
    /// # Errors
    /// [`SpoolError::Locked`] when another process holds it,
    /// [`SpoolError::Io`] when it cannot be created or read.
    pub fn open(config: SpoolConfig) -> Result<Self, SpoolError> {
        // A segment never holds more than the bound: the segment being
        // appended to is only deleted once it is full and stored.
        let config = SpoolConfig {
            segment_bytes: config.segment_bytes.min(config.max_bytes / 4).max(1),
            ..config
        };
        let (files, recovered) = SpoolFiles::open(&config)?;
        for damage in &recovered.damage {
            tracing::error!(
                segment = %damage.segment.display(),
                offset = damage.offset,
                kind = ?damage.kind,
                "audit spool: damaged record skipped; the records before it are replayed",
            );
        }
        if recovered.records > 0 {
            tracing::info!(
                records = recovered.records,
                dir = %config.dir.display(),
                "audit spool: replaying events left by an earlier run",
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                files: Arc::new(Mutex::new(files)),
                replay: recovered.pending,
                pending: recovered.records,
                damage: recovered.damage,
                config,
                claimed: AtomicBool::new(false),
            }),
        })
    }

    /// How many records an earlier run left to store.
    pub fn pending(&self) -> u64 {
        self.inner.pending
    }

    /// The damaged records found on opening.
    pub fn damage(&self) -> &[Damage] {
        &self.inner.damage
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.inner.config.dir
    }

    /// Claims the spool for one auditor; `false` when one has it already.
    pub(crate) fn claim(&self) -> bool {
        !self.inner.claimed.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn files(&self) -> &Arc<Mutex<SpoolFiles>> {
        &self.inner.files
    }

    pub(crate) fn max_bytes(&self) -> u64 {
        self.inner.config.max_bytes
    }

    pub(crate) fn store_linger(&self) -> Duration {
        self.inner.config.store_linger
    }

    pub(crate) fn replay(&self) -> Option<(u64, u64)> {
        self.inner.replay
    }
}
