//! W3C Trace Context: the `traceparent` header a traced request carries,
//! read so that an audit event names the trace it happened in.
//!
//! Only a header that follows the specification is read: a caller can
//! send anything, and a malformed or all-zero id would link the event to
//! nothing, or to every other request that sent the same junk. The header
//! is the caller's claim, like a client's request id: it links an event
//! to a trace for an investigation; it proves nothing.

use http::HeaderMap;

/// The trace a request belongs to, from its `traceparent` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceParent {
    /// 32 lowercase hex digits.
    pub(crate) trace_id: String,
    /// The caller's span that sent the request: 16 lowercase hex digits.
    pub(crate) parent_id: String,
}

/// The request's `traceparent`, when there is exactly one and it is valid
/// (version `00`, or a later version's first four fields, as the
/// specification asks of a reader that does not know that version).
pub(crate) fn trace_parent(headers: &HeaderMap) -> Option<TraceParent> {
    let mut values = headers.get_all("traceparent").iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    parse(value.to_str().ok()?)
}

fn parse(header: &str) -> Option<TraceParent> {
    let header = header.trim_matches([' ', '\t']);
    // `00-` + 32 + `-` + 16 + `-` + 2: 55 ASCII characters (so every slice
    // below falls between characters). Version 00 has nothing after them;
    // a later version may, after a dash.
    let bytes = header.as_bytes();
    if bytes.len() < 55 || !bytes[..55].is_ascii() {
        return None;
    }
    let (version, rest) = (&header[..2], &header[55..]);
    if !is_lower_hex(version) || version == "ff" || (version == "00" && !rest.is_empty()) {
        return None;
    }
    if !rest.is_empty() && !rest.starts_with('-') {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let trace_id = &header[3..35];
    let parent_id = &header[36..52];
    let flags = &header[53..55];
    let nonzero = |id: &str| id.bytes().any(|b| b != b'0');
    (is_lower_hex(trace_id)
        && is_lower_hex(parent_id)
        && is_lower_hex(flags)
        && nonzero(trace_id)
        && nonzero(parent_id))
    .then(|| TraceParent {
        trace_id: trace_id.to_owned(),
        parent_id: parent_id.to_owned(),
    })
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("traceparent", HeaderValue::from_bytes(value.as_bytes()).unwrap());
        }
        headers
    }

    #[test]
    fn reads_the_trace_and_the_callers_span() {
        let parent = trace_parent(&headers(&[VALID])).expect("valid");
        assert_eq!(parent.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.parent_id, "00f067aa0ba902b7");
        // A later version: its first four fields, whatever follows a dash.
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-comes-next";
        assert_eq!(trace_parent(&headers(&[later])), Some(parent));
    }

    #[test]
    fn refuses_what_the_specification_refuses() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-é1",
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
        ] {
            assert_eq!(trace_parent(&headers(&[bad])), None, "{bad:?}");
        }
        assert_eq!(trace_parent(&HeaderMap::new()), None);
        // Two headers: which one is the trace is not for the server to guess.
        assert_eq!(trace_parent(&headers(&[VALID, VALID])), None);
        assert_eq!(
            trace_parent(&headers(&[&format!(" {VALID}\t")])).map(|p| p.trace_id.len()),
            Some(32)
        );
    }
}
