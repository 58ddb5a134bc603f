//! Where signed checkpoints go besides the store: [`CheckpointSink`] and
//! the sinks this crate ships.
//!
//! A checkpoint is worth as much as the copies an attacker of the database
//! cannot reach: send them off the box (a directory on another volume or
//! mount, a log shipper's input, a witness over HTTP).

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::SignedCheckpoint;

/// The future a sink returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'a>>;

/// Takes each signed checkpoint a [`Checkpointer`](super::Checkpointer)
/// makes.
///
/// ```
/// use audit_store::SignedCheckpoint;
/// use audit_store::checkpoint::{CheckpointSink, SendFuture};
///
/// /// Prints each checkpoint's note.
/// #[derive(Debug)]
/// struct Print;
///
/// impl CheckpointSink for Print {
///     fn send<'a>(&'a self, checkpoint: &'a SignedCheckpoint) -> SendFuture<'a> {
///         Box::pin(async move {
///             print!("{}", checkpoint.note);
///             Ok(())
///         })
///     }
///
///     fn describe(&self) -> String {
///         "stdout".to_owned()
///     }
/// }
/// # let _ = Print;
/// ```
pub trait CheckpointSink: Send + Sync + Debug {
    /// Takes one checkpoint; an error is logged and reported in the run's
    /// [`sink_failures`](super::CheckpointRun::sink_failures).
    fn send<'a>(&'a self, checkpoint: &'a SignedCheckpoint) -> SendFuture<'a>;

    /// Names the sink in logs (never with credentials).
    fn describe(&self) -> String;
}

/// Writes each checkpoint to its own file,
/// `<dir>/<stream>/<tree size, 20 digits>.checkpoint` (the stream with
/// every byte but `A-Z a-z 0-9 . _ -` percent-encoded), atomically
/// (written aside, synced, linked into place), creating directories as
/// needed. The files are what `audit verify --checkpoints DIR` reads.
///
/// A file is never replaced. The same checkpoint again is a no-op; a
/// different one of the same size (a database restored from a backup and
/// grown again, signed by a checkpointer that lost its record) is kept
/// beside it as `<size>.fork-<n>.checkpoint` and reported as an error:
/// both are the evidence.
///
/// ```
/// use audit_store::checkpoint::DirectorySink;
/// let sink = DirectorySink::new("checkpoints");
/// assert_eq!(
///     sink.path_of("tenant:acme", 42),
///     std::path::Path::new("checkpoints/tenant%3Aacme/00000000000000000042.checkpoint")
/// );
/// ```
#[derive(Debug, Clone)]
pub struct DirectorySink {
    dir: PathBuf,
}

impl DirectorySink {
    /// A sink writing under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file a checkpoint of `stream` at `size` is written to.
    pub fn path_of(&self, stream: &str, size: u64) -> PathBuf {
        self.dir
            .join(stream_folder(stream))
            .join(format!("{size:020}.checkpoint"))
    }
}

/// `stream` as one folder (or object path segment): every byte but
/// `A-Z a-z 0-9 . _ -` percent-encoded (`tenant:acme` is `tenant%3Aacme`).
pub(crate) fn stream_folder(stream: &str) -> String {
    let mut folder = String::with_capacity(stream.len());
    for byte in stream.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            folder.push(char::from(byte));
        } else {
            folder.push_str(&format!("%{byte:02X}"));
        }
    }
    folder
}

impl CheckpointSink for DirectorySink {
    fn send<'a>(&'a self, checkpoint: &'a SignedCheckpoint) -> SendFuture<'a> {
        let path = self.path_of(&checkpoint.stream, checkpoint.size);
        let note = checkpoint.note.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || write_new(&path, note.as_bytes()))
                .await
                .map_err(io::Error::other)?
        })
    }

    fn describe(&self) -> String {
        format!("directory {}", self.dir.display())
    }
}

/// Writes `bytes` to `path` so that a reader sees the whole file or none,
/// never replacing another file there (see [`DirectorySink`]).
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    let aside = path.with_extension(format!("partial-{}", std::process::id()));
    let mut file = std::fs::File::create(&aside)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    let placed = place_without_replacing(&aside, path, bytes);
    let _ = std::fs::remove_file(&aside);
    // The link is durable once the folder is synced.
    std::fs::File::open(folder)?.sync_all()?;
    placed
}

/// Links `aside` in at `path`, which a hard link never replaces; beside it
/// when another checkpoint of the size is there.
fn place_without_replacing(aside: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    match std::fs::hard_link(aside, path) {
        Ok(()) => return Ok(()),
        Err(error) if error.kind() != io::ErrorKind::AlreadyExists => return Err(error),
        Err(_) => {}
    }
    if std::fs::read(path)? == bytes {
        return Ok(());
    }
    let stem = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or_default();
    for n in 1.. {
        let fork = path.with_file_name(format!("{stem}.fork-{n}.checkpoint"));
        match std::fs::hard_link(aside, &fork) {
            Ok(()) => {
                return Err(io::Error::other(format!(
                    "{} already holds a different checkpoint of this size: the log forked (a database restored \
                     and grown again?); the new one is kept as {}",
                    path.display(),
                    fork.display()
                )));
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                if std::fs::read(&fork)? == bytes {
                    return Ok(());
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Writes each checkpoint's note to any [`AsyncWrite`] (a file, a pipe to
/// a log shipper, a socket), notes separated by a blank line, flushed
/// after each.
///
/// ```
/// use audit_store::checkpoint::WriterSink;
/// let sink = WriterSink::new(tokio::io::sink(), "discarded");
/// # let _ = sink;
/// ```
#[derive(Debug)]
pub struct WriterSink<W> {
    writer: Mutex<W>,
    name: String,
}

impl<W: AsyncWrite + Unpin + Send + Debug> WriterSink<W> {
    /// A sink writing to `writer`, called `name` in logs.
    pub fn new(writer: W, name: impl Into<String>) -> Self {
        Self {
            writer: Mutex::new(writer),
            name: name.into(),
        }
    }
}

impl<W: AsyncWrite + Unpin + Send + Debug> CheckpointSink for WriterSink<W> {
    fn send<'a>(&'a self, checkpoint: &'a SignedCheckpoint) -> SendFuture<'a> {
        Box::pin(async move {
            let mut writer = self.writer.lock().await;
            writer.write_all(checkpoint.note.as_bytes()).await?;
            writer.write_all(b"\n").await?;
            writer.flush().await
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
