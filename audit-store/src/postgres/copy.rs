//! Rows as `COPY … FROM STDIN` text, the way PostgreSQL takes a batch.

use std::sync::LazyLock;

use crate::row::{COLUMN_COUNT, COLUMNS, EventRow};

/// Bytes of COPY data gathered before they are sent: the server inserts
/// one piece while the next is sealed and encoded.
pub(super) const CHUNK: usize = 256 * 1024;

/// The COPY that writes a batch's rows, in the order of [`COLUMNS`] (text
/// format: JSON as text, cast to `jsonb` by the server).
pub(super) static COPY_SQL: LazyLock<String> = LazyLock::new(|| {
    debug_assert_eq!(COLUMNS.split(',').count(), COLUMN_COUNT);
    format!("COPY audit_events ({COLUMNS}) FROM STDIN")
});

/// Appends `row` to `out` as one line of `COPY … FROM STDIN` text format, in
/// the order of [`COLUMNS`].
pub(super) fn push_row(out: &mut Vec<u8>, row: &EventRow) {
    fn text(out: &mut Vec<u8>, value: &str) {
        for &byte in value.as_bytes() {
            match byte {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                _ => out.push(byte),
            }
        }
    }
    fn optional(out: &mut Vec<u8>, value: Option<&str>) {
        match value {
            Some(value) => text(out, value),
            None => out.extend_from_slice(b"\\N"),
        }
    }
    fn display(out: &mut Vec<u8>, value: impl std::fmt::Display) {
        use std::io::Write as _;
        let _ = write!(out, "{value}");
    }
    let tab = |out: &mut Vec<u8>| out.push(b'\t');
    text(out, &row.id);
    tab(out);
    text(out, &row.stream);
    tab(out);
    display(out, row.seq);
    tab(out);
    text(out, &row.leaf_hash);
    tab(out);
    // RFC 3339 with microseconds and `Z`, which timestamptz reads exactly.
    display(out, row.occurred_at);
    tab(out);
    display(out, row.recorded_at);
    tab(out);
    optional(out, row.tenant_id.as_deref());
    for value in [&row.action, &row.category, &row.severity, &row.outcome] {
        tab(out);
        text(out, value);
    }
    tab(out);
    optional(out, row.reason.as_deref());
    tab(out);
    text(out, &row.actor_kind);
    tab(out);
    text(out, &row.actor_id);
    for value in [
        &row.actor_email,
        &row.actor_name,
        &row.target_type,
        &row.target_id,
        &row.target_name,
        &row.description,
        &row.client_ip,
        &row.request_id,
    ] {
        tab(out);
        optional(out, value.as_deref());
    }
    for flag in [row.truncated, row.lossy_utf8] {
        tab(out);
        out.push(if flag { b't' } else { b'f' });
    }
    tab(out);
    text(out, &row.actor);
    tab(out);
    optional(out, row.target.as_deref());
    tab(out);
    text(out, &row.targets);
    tab(out);
    text(out, &row.context);
    tab(out);
    optional(out, row.changes.as_deref());
    tab(out);
    text(out, &row.metadata);
    tab(out);
    text(out, &row.search_text);
    out.push(b'\n');
}
