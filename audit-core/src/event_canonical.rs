//! The canonical bytes of an [`Event`], written straight from the struct.
//!
//! Equal, byte for byte, to RFC 8785 applied to the event's JSON without
//! `integrity.leaf_hash` (a test pins that), but without building and freeing
//! a `serde_json::Value` copy of the whole event: the keys of an event are
//! fixed, so their canonical order (UTF-16 order, which for these ASCII names
//! is byte order) is written out here once.

use std::io::Write as _;
use std::net::IpAddr;

use crate::canonical::{write_f64, write_object, write_string, write_value};
use crate::diff::DiffEntry;
use crate::event::{Actor, Event, EventContext, Target};

/// Writes `"key":` — every key below is a plain ASCII name.
fn key(out: &mut Vec<u8>, name: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

fn opt_str(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(text) => write_string(text, out),
        None => out.extend_from_slice(b"null"),
    }
}

fn opt_ip(out: &mut Vec<u8>, ip: Option<IpAddr>) {
    match ip {
        Some(ip) => {
            // An address's text is digits, hex letters, `.` and `:`, which
            // need no escaping, so it is written straight into the output
            // rather than through a `String`.
            out.push(b'"');
            // Writing into a `Vec` cannot fail.
            let _ = write!(out, "{ip}");
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn boolean(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

fn actor(out: &mut Vec<u8>, actor: &Actor) {
    out.push(b'{');
    key(out, "email", true);
    opt_str(out, actor.email.as_deref());
    key(out, "id", false);
    write_string(&actor.id, out);
    key(out, "kind", false);
    write_string(actor.kind.as_str(), out);
    key(out, "name", false);
    opt_str(out, actor.name.as_deref());
    key(out, "roles", false);
    out.push(b'[');
    for (i, role) in actor.roles.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(role, out);
    }
    out.extend_from_slice(b"]}");
}

fn target(out: &mut Vec<u8>, target: &Target) {
    out.push(b'{');
    key(out, "id", true);
    write_string(&target.id, out);
    key(out, "name", false);
    opt_str(out, target.name.as_deref());
    key(out, "type", false);
    write_string(&target.target_type, out);
    out.push(b'}');
}

fn context(out: &mut Vec<u8>, context: &EventContext) {
    out.push(b'{');
    key(out, "client_ip", true);
    opt_ip(out, context.client_ip);
    // Absent rather than null when unset, as in the JSON: events sealed
    // before the field existed keep their hash.
    if let Some(client_request_id) = &context.client_request_id {
        key(out, "client_request_id", false);
        write_string(client_request_id, out);
    }
    key(out, "ip_source", false);
    opt_str(out, context.ip_source.map(|s| s.as_str()));
    key(out, "method", false);
    opt_str(out, context.method.as_deref());
    key(out, "peer_ip", false);
    opt_ip(out, context.peer_ip);
    key(out, "request_id", false);
    opt_str(out, context.request_id.as_deref());
    key(out, "route", false);
    opt_str(out, context.route.as_deref());
    if let Some(span_id) = &context.span_id {
        key(out, "span_id", false);
        write_string(span_id, out);
    }
    key(out, "status", false);
    match context.status {
        Some(status) => write_f64(f64::from(status), out),
        None => out.extend_from_slice(b"null"),
    }
    if let Some(trace_id) = &context.trace_id {
        key(out, "trace_id", false);
        write_string(trace_id, out);
    }
    key(out, "user_agent", false);
    opt_str(out, context.user_agent.as_deref());
    out.push(b'}');
}

fn diff_entry(out: &mut Vec<u8>, entry: &DiffEntry) {
    out.push(b'{');
    let mut first = true;
    if let Some(new) = &entry.new {
        key(out, "new", first);
        write_value(new, out);
        first = false;
    }
    if let Some(old) = &entry.old {
        key(out, "old", first);
        write_value(old, out);
        first = false;
    }
    key(out, "path", first);
    write_string(&entry.path, out);
    out.push(b'}');
}

fn opt_value(out: &mut Vec<u8>, value: Option<&serde_json::Value>) {
    match value {
        Some(value) => write_value(value, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends the canonical bytes of `event` (everything but `integrity.leaf_hash`).
pub(crate) fn write_event(event: &Event, out: &mut Vec<u8>) {
    out.push(b'{');
    key(out, "action", true);
    write_string(event.action.as_str(), out);
    key(out, "actor", false);
    actor(out, &event.actor);
    key(out, "category", false);
    write_string(event.category.as_str(), out);
    key(out, "changes", false);
    match &event.changes {
        Some(changes) => {
            out.push(b'{');
            key(out, "after", true);
            opt_value(out, changes.after.as_ref());
            key(out, "before", false);
            opt_value(out, changes.before.as_ref());
            key(out, "diff", false);
            out.push(b'[');
            for (i, entry) in changes.diff.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                diff_entry(out, entry);
            }
            out.extend_from_slice(b"]}");
        }
        None => out.extend_from_slice(b"null"),
    }
    key(out, "context", false);
    context(out, &event.context);
    key(out, "description", false);
    opt_str(out, event.description.as_deref());
    key(out, "id", false);
    let mut buffer = uuid::Uuid::encode_buffer();
    write_string(event.id.hyphenated().encode_lower(&mut buffer), out);
    key(out, "integrity", false);
    match &event.integrity {
        Some(integrity) => {
            out.push(b'{');
            key(out, "seq", true);
            // JCS numbers are doubles, as in the generic path.
            #[allow(clippy::cast_precision_loss)]
            write_f64(integrity.seq as f64, out);
            key(out, "stream", false);
            write_string(&integrity.stream, out);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    key(out, "lossy_utf8", false);
    boolean(out, event.lossy_utf8);
    key(out, "metadata", false);
    write_object(&event.metadata, out);
    key(out, "occurred_at", false);
    event.occurred_at.write_json(out);
    key(out, "outcome", false);
    write_string(event.outcome.as_str(), out);
    key(out, "reason", false);
    opt_str(out, event.reason.as_deref());
    key(out, "recorded_at", false);
    match event.recorded_at {
        Some(at) => at.write_json(out),
        None => out.extend_from_slice(b"null"),
    }
    key(out, "severity", false);
    write_string(event.severity.as_str(), out);
    key(out, "target", false);
    match &event.target {
        Some(t) => target(out, t),
        None => out.extend_from_slice(b"null"),
    }
    key(out, "targets", false);
    out.push(b'[');
    for (i, t) in event.targets.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        target(out, t);
    }
    out.push(b']');
    key(out, "tenant_id", false);
    opt_str(out, event.tenant_id.as_deref());
    key(out, "truncated", false);
    boolean(out, event.truncated);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, Actor, EventContext, Integrity, IpSource, Target, Timestamp};
    use serde_json::{Value, json};

    /// The definition: RFC 8785 over the event's JSON minus the leaf hash.
    fn reference(event: &Event) -> Vec<u8> {
        let mut value = serde_json::to_value(event).unwrap();
        if let Some(integrity) = value.get_mut("integrity").and_then(Value::as_object_mut) {
            integrity.remove("leaf_hash");
        }
        crate::canonical::canonical_json(&value)
    }

    fn fast(event: &Event) -> Vec<u8> {
        let mut out = Vec::new();
        write_event(event, &mut out);
        out
    }

    #[test]
    fn equals_the_generic_encoding_for_a_bare_event() {
        let event = Event::builder(Action::new("app.created").unwrap(), Actor::anonymous()).build();
        assert_eq!(
            String::from_utf8(fast(&event)).unwrap(),
            String::from_utf8(reference(&event)).unwrap()
        );
    }

    #[test]
    fn equals_the_generic_encoding_for_a_full_hostile_event() {
        for text in ["plain", "a\"b\\c\r\n\u{1b}\u{202e}é🚀\u{7f}", ""] {
            let mut event = Event::builder(
                Action::new("member.role_changed").unwrap(),
                Actor::user(text).with_name(text).with_email(text).with_role(text).with_role("owner"),
            )
            .tenant(text)
            .target(Target::new(text, text).with_name(text))
            .add_target(Target::new("user", text))
            .description(text)
            .reason(text)
            .context(EventContext {
                client_ip: Some("2001:db8::1".parse().unwrap()),
                peer_ip: Some("10.0.0.1".parse().unwrap()),
                ip_source: Some(IpSource::XForwardedFor),
                user_agent: Some(text.into()),
                request_id: Some(text.into()),
                client_request_id: Some(text.into()),
                method: Some("PATCH".into()),
                route: Some("/m/{id}".into()),
                status: Some(403),
                trace_id: Some(text.into()),
                span_id: Some(text.into()),
            })
            .before(&json!({"role": "member", "n": 0.1 + 0.2, "big": u64::MAX, "neg": -0.0, "z": {"b": [1, null, true]}, text: 1}))
            .after(&json!({"role": "admin", "password": "x", "list": [1e21, 1e-7], "added": {"é": "🚀"}}))
            .metadata(text, &json!({"b": 1, "a": [text]}))
            .metadata("zeta", &5)
            .mark_lossy_utf8()
            .occurred_at(Timestamp::from_unix_micros(1_795_000_000_123_456).unwrap())
            .build();
            event.set_recorded_at(Timestamp::from_unix_micros(1_795_000_000_200_000).unwrap());
            assert_eq!(fast(&event), reference(&event), "unsealed, text {text:?}");
            event.set_integrity(Integrity {
                stream: format!("tenant:{text}"),
                seq: 9_007_199_254_740_993,
                leaf_hash: "ab".into(),
            });
            assert_eq!(fast(&event), reference(&event), "sealed, text {text:?}");
        }
    }

    #[test]
    fn diff_entries_with_absent_sides_match() {
        let event = Event::builder(Action::new("doc.updated").unwrap(), Actor::system("s"))
            .before(&json!({"gone": 1, "same": 2}))
            .after(&json!({"new": null, "same": 2}))
            .build();
        assert_eq!(event.changes().unwrap().diff.len(), 2);
        assert_eq!(fast(&event), reference(&event));
    }
}
