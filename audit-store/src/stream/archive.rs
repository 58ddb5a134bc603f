//! [`ArchiveSink`]: the trail as hourly gzipped NDJSON objects in an object
//! store, each line with its proof against a signed checkpoint (feature
//! `archive`). Its docs tell the layout, how to verify an archive offline,
//! and how to archive to S3, GCS or Azure.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use audit_core::format::{EventFormat, FormatOptions};
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, ObjectStoreScheme, PutPayload};

use super::options::SinkOptions;
use super::sink::{Batch, DeliverFuture, StreamError, StreamSink};
use crate::proof_export::{self, ProofLine};
use crate::{SignedCheckpoint, Store};

/// How long a delivery waits for a signed checkpoint that covers its batch,
/// by default.
pub const DEFAULT_CHECKPOINT_WAIT: Duration = Duration::from_secs(300);

/// How often a waiting delivery reads the stream's newest checkpoint again.
const CHECKPOINT_POLL: Duration = Duration::from_secs(2);

/// Microseconds in an hour.
const HOUR_MICROS: i64 = 3_600_000_000;

/// Writes each batch as one gzipped NDJSON object in an object store, each
/// event with its proof against a signed checkpoint, and that checkpoint
/// beside it: an hourly archive of the trail in S3, GCS, Azure Blob Storage
/// or a directory, that an auditor verifies offline with `audit
/// verify-event`.
///
/// Run it with [`ArchiveSink::options`] (`SinkOptions::default().hourly()`):
/// the [`Streamer`](super::Streamer) then hands it one ended hour (UTC, by
/// `occurred_at`) of one stream at a time, and each batch becomes one
/// object.
///
/// # Layout
///
/// ```text
/// <prefix>/<stream>/<YYYY>/<MM>/<DD>/<HH>/<first seq>-<last seq>.ndjson.gz
/// <prefix>/<stream>/<YYYY>/<MM>/<DD>/<HH>/<first seq>-<last seq>.checkpoint
/// ```
///
/// `<stream>` is `global` or `tenant:<id>` with every byte but
/// `A-Z a-z 0-9 . _ -` percent-encoded (`tenant%3Aacme`), as
/// [`DirectorySink`](crate::checkpoint::DirectorySink) names its folders;
/// the hour is the one the batch's events happened in; the seqs are 20
/// digits, so names sort in seq order. An hour of more than the batch size
/// (500 events by default) comes as several objects.
///
/// `.ndjson.gz` is gzip of NDJSON: one line per event, in seq order, each
/// the line `audit export --with-proofs` writes for it (a [`ProofLine`]:
/// `{"event", "leaf_index", "tree_size", "audit_path", "checkpoint"}`)
/// against the batch's covering checkpoint, the stream's newest signed
/// checkpoint when the batch is delivered (it covers the batch's last seq).
/// `.checkpoint` is that checkpoint's signed note, the one each line
/// carries. It is written first: once a `.ndjson.gz` exists, its
/// `.checkpoint` does.
///
/// # Verifying an archive offline
///
/// With the log's verifier key (`audit keygen` printed it) and no database:
///
/// ```text
/// gunzip -c 00000000000000000001-00000000000000000042.ndjson.gz > hour.ndjson
/// audit verify-event hour.ndjson --key "$(cat verifier.key)"
/// ```
///
/// Each line's proof is checked as [`EventProof::verify`](crate::EventProof::verify)
/// checks it: the checkpoint's signature, that it is of the event's stream
/// in this log, that the event still hashes to its leaf, and the audit path
/// to the signed root. Keep the `.checkpoint` notes too: a later checkpoint
/// of the stream must extend them (`audit verify --checkpoints`).
///
/// # Waiting for a checkpoint
///
/// A [`Checkpointer`](crate::checkpoint::Checkpointer) signs every 60 s by
/// default, so the checkpoint covering an hour that just ended usually comes
/// a minute later. Until it does, a delivery waits, reading the stream's
/// newest checkpoint again every few seconds, up to
/// [`checkpoint_wait`](ArchiveSink::checkpoint_wait) (default
/// [`DEFAULT_CHECKPOINT_WAIT`], 5 minutes); then it fails naming the
/// stream and seq it waits for, and the streamer retries it with backoff
/// (the sink shows as failing in its stats and `/health`). A streamer's
/// shutdown waits for a delivery under way, so for at most that long.
///
/// A store that signs no checkpoints archives with
/// [`without_proofs`](ArchiveSink::without_proofs): each line is then the
/// event in the chosen [`EventFormat`] (default the event's own JSON), and
/// no `.checkpoint` is written.
///
/// # Redelivery and lateness
///
/// Names depend only on the batch, so a redelivered batch (delivery is at
/// least once) rewrites the same objects: with the same bytes (gzip
/// without a timestamp or file name) while the stream's newest checkpoint is
/// the same; after a newer one was signed, with the same events proved
/// against that newer checkpoint, which verifies as well.
///
/// An event that happened in an hour that had ended when it was recorded
/// (a batch from a device that was offline) is archived under that hour, in
/// an object of its own: its seqs come after the hour's first objects, so
/// its name does not clash with theirs.
///
/// # S3, GCS and Azure
///
/// This crate builds `object_store` with only its local filesystem, so that
/// no HTTP or TLS stack is compiled for those who do not need one. An
/// application that archives to a cloud enables the store it needs in its
/// own `Cargo.toml`, with the same `object_store` version as this crate;
/// Cargo builds one `object_store` with both sets of features:
///
/// ```toml
/// [dependencies]
/// audit-store = { version = "0.1", features = ["postgres", "archive"] }
/// object_store = { version = "0.14", features = ["aws"] } # or "gcp", "azure"
/// ```
///
/// Then [`ArchiveSink::from_url`] takes `s3://bucket/prefix`,
/// `gs://bucket/prefix` or `az://container/prefix`, configured through
/// `object_store::parse_url_opts` by the options given (such as
/// `std::env::vars()`: `AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...). Or build the
/// store with `object_store`'s builders (`AmazonS3Builder::from_env()`, ...)
/// and give it to [`ArchiveSink::new`], which takes any
/// [`ObjectStore`].
///
/// # Running it
///
/// Beside a [`Checkpointer`](crate::checkpoint::Checkpointer), archiving to
/// a directory:
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// use std::sync::Arc;
/// use audit_store::SigningKey;
/// use audit_store::checkpoint::Checkpointer;
/// use audit_store::stream::{ArchiveSink, Streamer};
/// use object_store::local::LocalFileSystem;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("archive-doc-{}", uuid::Uuid::now_v7()));
/// # std::fs::create_dir_all(&dir)?;
/// let store = audit_store::connect("sqlite::memory:").await?;
/// let key = SigningKey::generate("audit.example.com")?;
/// // Signs each stream's checkpoint every 60 s: what the archive proves against.
/// tokio::spawn(Checkpointer::new(store.clone(), key).run(std::future::pending::<()>()));
///
/// let bucket = Arc::new(LocalFileSystem::new_with_prefix(&dir)?);
/// let archive = ArchiveSink::new(store.clone(), bucket, "audit/trail");
/// let streams = Streamer::new(store.clone())
///     .sink_with("archive", archive, ArchiveSink::options())
///     .start();
/// # streams.shutdown().await;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
///
/// # What it says about itself
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// use std::sync::Arc;
/// use audit_core::format::EventFormat;
/// use audit_store::stream::{ArchiveSink, StreamSink};
/// use object_store::memory::InMemory;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = audit_store::connect("sqlite::memory:").await?;
/// let sink = ArchiveSink::new(store.clone(), Arc::new(InMemory::new()), "audit");
/// assert_eq!(sink.describe(), "archive InMemory under `audit` (proofs)");
/// let sink = sink.without_proofs().format(EventFormat::Ocsf);
/// assert_eq!(sink.describe(), "archive InMemory under `audit` (ocsf, no proofs)");
///
/// // A cloud store this build lacks says which feature brings it.
/// let error = ArchiveSink::from_url(store, "s3://bucket/audit", std::iter::empty::<(&str, &str)>()).unwrap_err();
/// assert!(error.to_string().contains(r#"features = ["aws"]"#), "{error}");
/// # Ok(()) }
/// ```
pub struct ArchiveSink {
    store: Store,
    objects: Arc<dyn ObjectStore>,
    prefix: Path,
    proofs: bool,
    format: EventFormat,
    format_options: FormatOptions,
    checkpoint_wait: Duration,
}

impl fmt::Debug for ArchiveSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The object store's `Display`, not its `Debug`: that may hold
        // credentials.
        f.debug_struct("ArchiveSink")
            .field("objects", &self.objects.to_string())
            .field("prefix", &self.prefix.as_ref())
            .field("proofs", &self.proofs)
            .field("format", &self.format)
            .field("checkpoint_wait", &self.checkpoint_wait)
            .finish_non_exhaustive()
    }
}

impl ArchiveSink {
    /// A sink archiving `store`'s events (it reads their proofs there) to
    /// `objects` under `prefix` (`""` for the top), with proofs.
    pub fn new(store: impl Into<Store>, objects: Arc<dyn ObjectStore>, prefix: impl Into<Path>) -> Self {
        Self {
            store: store.into(),
            objects,
            prefix: prefix.into(),
            proofs: true,
            format: EventFormat::Native,
            format_options: FormatOptions::default(),
            checkpoint_wait: DEFAULT_CHECKPOINT_WAIT,
        }
    }

    /// A sink archiving to the object store and prefix `url` names
    /// (`file:///var/lib/audit/archive`, `memory:///`, and `s3://…`,
    /// `gs://…`, `az://…` when the application enables `object_store`'s
    /// `aws`, `gcp` or `azure` feature; see [`ArchiveSink`]),
    /// configured with `options` as `object_store::parse_url_opts` reads
    /// them (`[("aws_region", "eu-west-1")]`, `std::env::vars()`, ...).
    ///
    /// # Errors
    /// When `url` is no URL, names no object store, names one this build
    /// lacks (the error names the `object_store` feature that brings it), or
    /// the store refuses its options.
    pub fn from_url<I, K, V>(store: impl Into<Store>, url: &str, options: I) -> std::io::Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
        // The URL is not repeated in errors: it may hold credentials.
        let parsed = url::Url::parse(url).map_err(|error| invalid(format!("archive URL: {error}")))?;
        let (scheme, _) = ObjectStoreScheme::parse(&parsed)
            .map_err(|_| invalid(format!("archive URL: `{}:` names no object store", parsed.scheme())))?;
        let (objects, prefix) = object_store::parse_url_opts(&parsed, options).map_err(|error| match error {
            object_store::Error::Generic { store: "parse_url", .. } => {
                let feature = feature_of(&scheme);
                invalid(format!(
                    "archive URL `{}:` needs object_store's `{feature}` feature, which this build lacks: add \
                     `object_store = {{ version = \"0.14\", features = [\"{feature}\"] }}` to the application's \
                     Cargo.toml",
                    parsed.scheme()
                ))
            }
            other => std::io::Error::other(format!("archive store `{}:`: {other}", parsed.scheme())),
        })?;
        Ok(Self::new(store, Arc::from(objects), prefix))
    }

    /// The options to run the sink with: [`SinkOptions::default`] made
    /// [`hourly`](SinkOptions::hourly), so that each batch (and object) is
    /// one ended hour of one stream. Limit it to a tenant or change its
    /// batch size or retries as for any sink.
    ///
    /// ```
    /// use audit_store::stream::{ArchiveSink, SinkOptions};
    /// assert_eq!(ArchiveSink::options(), SinkOptions::default().hourly());
    /// ```
    pub fn options() -> SinkOptions {
        SinkOptions::default().hourly()
    }

    /// Waits up to `wait` for a signed checkpoint covering a batch before
    /// its delivery fails (and is retried); default
    /// [`DEFAULT_CHECKPOINT_WAIT`].
    #[must_use]
    pub fn checkpoint_wait(mut self, wait: Duration) -> Self {
        self.checkpoint_wait = wait;
        self
    }

    /// Archives the events alone, in the [`format`](Self::format) chosen,
    /// without proofs or `.checkpoint` objects: for stores that sign no
    /// checkpoints.
    #[must_use]
    pub fn without_proofs(mut self) -> Self {
        self.proofs = false;
        self
    }

    /// Without proofs, writes each event as `format` (default
    /// [`EventFormat::Native`]); CEF and syslog lines go to `.log.gz`
    /// objects. With proofs each line is a [`ProofLine`], whose event is in
    /// its own JSON, and this is not used.
    #[must_use]
    pub fn format(mut self, format: EventFormat) -> Self {
        self.format = format;
        self
    }

    /// The product names, host and app name the formats write.
    #[must_use]
    pub fn format_options(mut self, options: FormatOptions) -> Self {
        self.format_options = options;
        self
    }

    /// The name of the object `batch` is written to; `None` for an empty
    /// batch. The `.checkpoint` beside it has the same name up to its
    /// extension.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use audit_core::{Action, Actor, Event, Integrity, Timestamp};
    /// use audit_store::stream::{ArchiveSink, Batch};
    /// use object_store::memory::InMemory;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let at = |seq: u64| {
    ///     let mut event = Event::builder(Action::new("app.created").unwrap(), Actor::user("u1"))
    ///         .tenant("acme")
    ///         .occurred_at(Timestamp::from_unix_micros(1_767_261_600_000_000 + seq as i64).unwrap()) // 2026-01-01T10:00Z
    ///         .build();
    ///     event.set_integrity(Integrity { stream: "tenant:acme".into(), seq, leaf_hash: String::new() });
    ///     event
    /// };
    /// # let store = audit_store::connect("sqlite::memory:").await?;
    /// let sink = ArchiveSink::new(store, Arc::new(InMemory::new()), "audit/trail");
    /// let name = sink.object_name(&Batch::new("tenant:acme", vec![at(41), at(42)])).unwrap();
    /// assert_eq!(
    ///     name.as_ref(),
    ///     "audit/trail/tenant%3Aacme/2026/01/01/10/00000000000000000041-00000000000000000042.ndjson.gz"
    /// );
    /// # Ok(()) }
    /// ```
    pub fn object_name(&self, batch: &Batch) -> Option<Path> {
        let extension = if self.proofs || self.format.is_json() {
            "ndjson.gz"
        } else {
            "log.gz"
        };
        self.name_of(batch, extension)
    }

    /// `<prefix>/<stream>/<YYYY>/<MM>/<DD>/<HH>/<first>-<last>.<extension>`.
    fn name_of(&self, batch: &Batch, extension: &str) -> Option<Path> {
        let first = batch.events.first()?;
        let hour = DateTime::<Utc>::from_timestamp_micros(first.occurred_at().unix_micros())?;
        let (first, last) = batch.seqs();
        let name = format!(
            "{}/{}/{first:020}-{last:020}.{extension}",
            crate::checkpoint::stream_folder(&batch.stream),
            hour.format("%Y/%m/%d/%H"),
        );
        let name = if self.prefix.as_ref().is_empty() {
            name
        } else {
            format!("{}/{name}", self.prefix)
        };
        // Only `A-Z a-z 0-9 . _ - % /` and the prefix, which is a path.
        Path::parse(name).ok()
    }

    /// The object's content: gzip of its lines, and the checkpoint they are
    /// proved against (with proofs).
    async fn encode(&self, batch: &Batch) -> Result<(Vec<u8>, Option<SignedCheckpoint>), StreamError> {
        let mut lines = Vec::new();
        let checkpoint = if self.proofs {
            let (_, last) = batch.seqs();
            let checkpoint = self.covering_checkpoint(&batch.stream, last).await?;
            let proved =
                proof_export::stream_lines(&self.store, &batch.stream, Some(&checkpoint), batch.events.clone())
                    .await
                    .map_err(|error| self.failed(format!("proving the events of `{}`: {error}", batch.stream)))?;
            if let Some(line) = proved.iter().find(|line| !matches!(line, ProofLine::Covered(_))) {
                return Err(self.failed(format!(
                    "event {} of `{}` is not in the checkpoint of {} events",
                    line.event().id(),
                    batch.stream,
                    checkpoint.size
                )));
            }
            ProofLine::write_ndjson(&proved, &mut lines);
            Some(checkpoint)
        } else {
            for event in &batch.events {
                lines.extend_from_slice(self.format.encode(event, &self.format_options).as_bytes());
                lines.push(b'\n');
            }
            None
        };
        // No timestamp nor file name in the gzip header: the same lines
        // compress to the same bytes.
        let mut gzip = GzEncoder::new(Vec::with_capacity(lines.len() / 4), Compression::default());
        gzip.write_all(&lines)
            .and_then(|()| gzip.finish())
            .map(|bytes| (bytes, checkpoint))
            .map_err(|error| self.failed(format!("compressing: {error}")))
    }

    /// The stream's newest signed checkpoint once it covers `seq`, waiting
    /// up to `checkpoint_wait` for one.
    async fn covering_checkpoint(&self, stream: &str, seq: u64) -> Result<SignedCheckpoint, StreamError> {
        let deadline = tokio::time::Instant::now() + self.checkpoint_wait;
        loop {
            let newest = self
                .store
                .latest_checkpoint(stream)
                .await
                .map_err(|error| self.failed(format!("reading the checkpoints of `{stream}`: {error}")))?;
            let newest = match newest {
                Some(checkpoint) if checkpoint.size >= seq => return Ok(checkpoint),
                Some(checkpoint) => format!("its newest covers {} events", checkpoint.size),
                None => "it has none".to_owned(),
            };
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(self.failed(format!(
                    "waited {} for a signed checkpoint of stream `{stream}` covering seq {seq} ({newest}): is a \
                     Checkpointer signing this store? (a store that signs none archives without_proofs)",
                    duration_text(self.checkpoint_wait)
                )));
            }
            tokio::time::sleep(CHECKPOINT_POLL.min(deadline - now)).await;
        }
    }

    /// An error of this sink.
    fn failed(&self, message: String) -> StreamError {
        StreamError::new(format!("{}: {message}", self.describe()))
    }

    /// Writes `bytes` to `name`.
    async fn put(&self, name: &Path, bytes: Vec<u8>) -> Result<(), StreamError> {
        self.objects
            .put(name, PutPayload::from(bytes))
            .await
            .map(drop)
            .map_err(|error| self.failed(format!("writing {name}: {error}")))
    }
}

/// The `object_store` feature that brings `scheme`'s store.
fn feature_of(scheme: &ObjectStoreScheme) -> &'static str {
    match scheme {
        ObjectStoreScheme::AmazonS3 => "aws",
        ObjectStoreScheme::GoogleCloudStorage => "gcp",
        ObjectStoreScheme::MicrosoftAzure => "azure",
        ObjectStoreScheme::Http => "http",
        _ => "fs",
    }
}

/// `5 min`, `30 s`, `250 ms`.
fn duration_text(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else if seconds > 0 {
        format!("{} s", duration.as_secs_f64())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// The hour (since the Unix epoch) `micros` falls in.
fn hour_of(micros: i64) -> i64 {
    micros.div_euclid(HOUR_MICROS)
}

impl StreamSink for ArchiveSink {
    fn deliver<'a>(&'a self, batch: &'a Batch) -> DeliverFuture<'a> {
        Box::pin(async move {
            let Some(name) = self.object_name(batch) else {
                return Ok(());
            };
            let hours = |event: &audit_core::Event| hour_of(event.occurred_at().unix_micros());
            let first_hour = batch.events.first().map(hours);
            if batch.events.iter().any(|event| Some(hours(event)) != first_hour) {
                return Err(self.failed(format!(
                    "a batch of `{}` spans more than one hour: run the sink with ArchiveSink::options() \
                     (SinkOptions::hourly)",
                    batch.stream
                )));
            }
            let (bytes, checkpoint) = self.encode(batch).await?;
            if let Some(checkpoint) = checkpoint {
                let beside = self
                    .name_of(batch, "checkpoint")
                    .ok_or_else(|| self.failed("no name for the checkpoint".to_owned()))?;
                self.put(&beside, checkpoint.note.into_bytes()).await?;
            }
            self.put(&name, bytes).await
        })
    }

    fn wants_sealed(&self) -> bool {
        // Each line carries its event's proof, which holds only for the
        // event as hashed; an archive thus never holds plaintext personal
        // data that erasure could not reach.
        true
    }

    fn describe(&self) -> String {
        let content = if self.proofs {
            "proofs".to_owned()
        } else {
            format!("{}, no proofs", self.format.as_str())
        };
        format!("archive {} under `{}` ({content})", self.objects, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_named_readably() {
        assert_eq!(duration_text(Duration::from_secs(300)), "5 min");
        assert_eq!(duration_text(Duration::from_secs(90)), "90 s");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(duration_text(Duration::from_millis(20)), "20 ms");
    }

    #[test]
    fn hours_are_utc_hours_since_the_epoch() {
        assert_eq!(hour_of(0), 0);
        assert_eq!(hour_of(HOUR_MICROS - 1), 0);
        assert_eq!(hour_of(HOUR_MICROS), 1);
        assert_eq!(hour_of(-1), -1);
    }
}
