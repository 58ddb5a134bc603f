//! A stream's checkpoint origin: `<log name>/<stream, percent-encoded>`.
//!
//! Each stream is its own tree, so its checkpoints need their own origin,
//! and a checkpoint of one tenant must never pass for another's. Stream
//! names hold any printable Unicode (`tenant:<id>`), while an origin should
//! hold no spaces and no `+` (C2SP tlog-checkpoint). So the stream is
//! percent-encoded: printable ASCII stays as it is (`tenant:acme` reads
//! plainly), and every other byte of its UTF-8, plus `%`, `+` and `/`, is
//! written `%XX`. Escaping all of non-ASCII rather than only spaces keeps
//! invisible characters (zero-width, bidi controls) from making two origins
//! look alike; escaping `/` makes the stream the origin's last segment
//! whatever the log's name holds.

use std::fmt::Write as _;

use super::Checkpoint;

/// Whether `byte` of a stream's UTF-8 is written as it is.
fn is_kept(byte: u8) -> bool {
    byte.is_ascii_graphic() && !matches!(byte, b'%' | b'+' | b'/')
}

fn encode_stream(stream: &str) -> String {
    let mut encoded = String::with_capacity(stream.len());
    for byte in stream.bytes() {
        if is_kept(byte) {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// The stream `encoded` stands for, if it is exactly how
/// [`encode_stream`] writes one (so each stream has one origin).
fn decode_stream(encoded: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        if byte == b'%' {
            let hex = after.get(..2)?;
            bytes.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            rest = &after[2..];
        } else {
            bytes.push(byte);
            rest = after;
        }
    }
    let stream = String::from_utf8(bytes).ok()?;
    (encode_stream(&stream) == encoded).then_some(stream)
}

/// The stream of `origin`, from its last segment, whatever the log name.
pub(crate) fn origin_stream(origin: &str) -> Option<String> {
    decode_stream(origin.rsplit_once('/')?.1)
}

impl Checkpoint {
    /// The origin of the checkpoints of `stream` in the log `log_name`:
    /// `<log_name>/<stream, percent-encoded>`. Give the log a name without
    /// spaces or `+`, such as the signing key's name
    /// (`audit.example.com/log`).
    ///
    /// ```
    /// use audit_store::checkpoint::Checkpoint;
    ///
    /// assert_eq!(Checkpoint::origin("audit.example.com/log", "tenant:acme"), "audit.example.com/log/tenant:acme");
    /// assert_eq!(Checkpoint::origin("log", "tenant:a b+c/d%"), "log/tenant:a%20b%2Bc%2Fd%25");
    /// assert_eq!(Checkpoint::origin("log", "tenant:café"), "log/tenant:caf%C3%A9");
    /// ```
    pub fn origin(log_name: &str, stream: &str) -> String {
        format!("{log_name}/{}", encode_stream(stream))
    }

    /// The stream whose checkpoints in the log `log_name` have `origin`: the
    /// inverse of [`origin`](Self::origin), `None` for an origin it would not
    /// have written.
    ///
    /// ```
    /// use audit_store::checkpoint::Checkpoint;
    ///
    /// let origin = Checkpoint::origin("log", "tenant:café");
    /// assert_eq!(Checkpoint::stream_of_origin("log", &origin).as_deref(), Some("tenant:café"));
    /// assert_eq!(Checkpoint::stream_of_origin("other", &origin), None);
    /// assert_eq!(Checkpoint::stream_of_origin("log", "log/tenant:caf%c3%a9"), None, "not as written");
    /// ```
    pub fn stream_of_origin(log_name: &str, origin: &str) -> Option<String> {
        decode_stream(origin.strip_prefix(log_name)?.strip_prefix('/')?)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn every_stream_round_trips_through_an_origin_without_spaces_or_plus(stream in any::<String>()) {
            let origin = Checkpoint::origin("audit.example.com/log", &stream);
            prop_assert!(!origin.contains(|c: char| c.is_whitespace() || c == '+' || c.is_control()), "{}", origin);
            prop_assert!(origin.is_ascii());
            prop_assert_eq!(Checkpoint::stream_of_origin("audit.example.com/log", &origin), Some(stream.clone()));
            prop_assert_eq!(origin_stream(&origin), Some(stream));
        }
    }

    #[test]
    fn origins_not_written_by_origin_have_no_stream() {
        for origin in [
            "log/a%2", "log/a%zz", "log/a%41", "log/a b", "log/a/b", "log/%FF", "log",
        ] {
            assert_eq!(Checkpoint::stream_of_origin("log", origin), None, "{origin}");
        }
        assert_eq!(Checkpoint::stream_of_origin("log", "logx/global"), None);
        assert_eq!(
            Checkpoint::stream_of_origin("log", "log/global").as_deref(),
            Some("global")
        );
    }
}
