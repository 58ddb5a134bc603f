//! [`JsonLinesSink`]: one JSON event per line to any `AsyncWrite`.

use std::fmt;
use std::io;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::{AuditSink, SinkError};
use crate::event::Event;

/// Writes each event as one line of JSON (NDJSON) to a file, a socket or stdout.
///
/// A line is never split by hostile content: JSON escapes CR and LF inside
/// strings, and this sink also escapes U+0085, U+2028 and U+2029, which some
/// line readers treat as line breaks. Each batch is written with one
/// `write_all` and flushed.
///
/// Delivery is at least once: if a write fails half-way the auditor retries
/// the batch, so a reader may see an event twice; deduplicate on `id`.
///
/// ```
/// use audit_core::{Action, Actor, AuditSink, Event, JsonLinesSink};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sink = JsonLinesSink::new(Vec::<u8>::new());
/// let event = Event::builder(Action::from_static("app.created").unwrap(), Actor::user("u1"))
///     .description("line one\nline two\u{2028}")
///     .build();
/// sink.write_batch(&[event]).await.unwrap();
/// let out = String::from_utf8(sink.into_inner()).unwrap();
/// assert_eq!(out.lines().count(), 1);
/// # }
/// ```
pub struct JsonLinesSink<W> {
    writer: Mutex<W>,
}

impl<W> fmt::Debug for JsonLinesSink<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesSink").finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> JsonLinesSink<W> {
    /// Writes to `writer`.
    pub fn new(writer: W) -> Self {
        Self {
            writer: Mutex::new(writer),
        }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.writer.into_inner()
    }
}

/// Writes one event as a line into `out`.
pub(crate) fn write_line(event: &Event, out: &mut Vec<u8>) -> serde_json::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, LineSafe);
    serde::Serialize::serialize(event, &mut serializer)?;
    out.push(b'\n');
    Ok(())
}

/// Compact JSON that also escapes the Unicode line breaks.
struct LineSafe;

impl serde_json::ser::Formatter for LineSafe {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(at) = rest.find(['\u{85}', '\u{2028}', '\u{2029}']) {
            writer.write_all(&rest.as_bytes()[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(writer, "\\u{:04x}", u32::from(c))?;
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> AuditSink for JsonLinesSink<W> {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        let mut buffer = Vec::with_capacity(batch.len() * 512);
        for event in batch {
            write_line(event, &mut buffer).map_err(SinkError::rejected)?;
        }
        let mut writer = self.writer.lock().await;
        writer.write_all(&buffer).await.map_err(SinkError::transient)?;
        writer.flush().await.map_err(SinkError::transient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, Actor};

    #[test]
    fn unicode_line_breaks_are_escaped_and_the_json_still_parses() {
        let mut event = Event::builder(Action::from_static("a.created").unwrap(), Actor::user("u")).build();
        // Bypass the builder's sanitiser, as an event read back from elsewhere could.
        event.description = Some("a\u{2028}b\u{2029}c\u{85}d\ne".into());
        let mut out = Vec::new();
        write_line(&event, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.ends_with('\n'));
        for c in ['\u{2028}', '\u{2029}', '\u{85}'] {
            assert!(!text.contains(c));
        }
        let back: Event = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(back.description(), Some("a\u{2028}b\u{2029}c\u{85}d\ne"));
    }
}
