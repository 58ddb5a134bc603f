//! ArcSight Common Event Format (CEF) version 0 records.

use std::fmt::Write as _;

use super::{FormatOptions, epoch_millis, person_target, severity_row, target_ref, visible_controls};
use crate::event::Event;

/// A header field: `\` and `|` escaped with a backslash; line breaks, which
/// the header may not hold, and other control characters as visible `\u{…}`.
fn header(text: &str) -> String {
    let text = visible_controls(text, |_| false);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An extension value: `\` and `=` escaped with a backslash, CR and LF
/// written `\r` and `\n`, other control characters as visible `\u{…}`.
fn extension_value(text: &str) -> String {
    let text = visible_controls(text, |c| matches!(c, '\n' | '\r'));
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out
}

/// The event as one CEF:0 record: the header and extension keys of the
/// [module docs](super), no trailing newline.
///
/// ```
/// use audit_core::{Action, Actor, Event, Outcome, format::{FormatOptions, cef}};
///
/// let event = Event::builder(Action::new("invoice.sent")?, Actor::user("u1").with_name("Alice"))
///     .tenant("acme")
///     .description("Sent invoice 7 | overdue")
///     .outcome(Outcome::Failure)
///     .reason("smtp code=550")
///     .build();
/// let record = cef(&event, &FormatOptions::default());
/// assert!(record.starts_with("CEF:0|audit|audit-trail|"));
/// assert!(record.contains("|invoice.sent|Sent invoice 7 \\| overdue|1|rt="));
/// assert!(record.contains(" outcome=failure reason=smtp code\\=550 suser=Alice suid=u1 "));
/// assert!(record.ends_with(" cs1Label=tenant cs1=acme cs4Label=actor_kind cs4=user"));
/// # Ok::<(), audit_core::ActionError>(())
/// ```
pub fn cef(event: &Event, options: &FormatOptions) -> String {
    let (_, _, severity, _) = severity_row(event.severity());
    let action = event.action().as_str();
    let mut out = String::with_capacity(512);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "CEF:0|{}|{}|{}|{}|{}|{severity}|",
        header(&options.product_vendor),
        header(&options.product_name),
        header(&options.product_version),
        header(action),
        header(event.description().unwrap_or(action)),
    );

    let context = event.context();
    let actor = event.actor();
    let person = person_target(event);
    let roles = (!actor.roles.is_empty()).then(|| actor.roles.join(","));
    let dvchost = (options.hostname != "-").then_some(options.hostname.as_str());
    let integrity = event.integrity();
    // (key, label of a custom key, value), in the order written.
    let fields = [
        ("rt", None, Some(epoch_millis(event.occurred_at()).to_string())),
        ("externalId", None, Some(event.id().to_string())),
        ("cat", None, Some(event.category().as_str().to_owned())),
        ("outcome", None, Some(event.outcome().as_str().to_owned())),
        ("reason", None, event.reason().map(str::to_owned)),
        ("suser", None, actor.name.clone()),
        ("suid", None, Some(actor.id.clone())),
        ("spriv", None, roles),
        ("duser", None, person.and_then(|target| target.name.clone())),
        ("duid", None, person.map(|target| target.id.clone())),
        ("src", None, context.client_ip.map(|ip| ip.to_string())),
        ("requestMethod", None, context.method.clone()),
        ("request", None, context.route.clone()),
        ("requestClientApplication", None, context.user_agent.clone()),
        ("dvchost", None, dvchost.map(str::to_owned)),
        ("cs1", Some("tenant"), event.tenant_id().map(str::to_owned)),
        ("cs2", Some("request_id"), context.request_id.clone()),
        ("cs3", Some("target"), event.target().map(target_ref)),
        ("cs4", Some("actor_kind"), Some(actor.kind.as_str().to_owned())),
        ("cs5", Some("trace_id"), context.trace_id.clone()),
        ("cs6", Some("leaf_hash"), integrity.map(|i| i.leaf_hash.clone())),
        ("cn1", Some("seq"), integrity.map(|i| i.seq.to_string())),
        (
            "cn2",
            Some("http_status"),
            context.status.map(|status| status.to_string()),
        ),
    ];
    let mut separator = "";
    for (key, label, value) in fields {
        let Some(value) = value else { continue };
        if let Some(label) = label {
            let _ = write!(out, "{separator}{key}Label={label}");
            separator = " ";
        }
        let _ = write!(out, "{separator}{key}={}", extension_value(&value));
        separator = " ";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_escapes_pipes_and_backslashes_only() {
        assert_eq!(header(r"a|b\c=d"), r"a\|b\\c=d");
        assert_eq!(header("line\nbreak\r"), r"line\\u{a}break\\u{d}");
        assert_eq!(header("tab\there"), r"tab\\u{9}here");
    }

    #[test]
    fn extension_values_escape_per_the_spec() {
        assert_eq!(extension_value(r"a=b\c|d"), r"a\=b\\c|d");
        assert_eq!(extension_value("one\ntwo\r\nthree"), r"one\ntwo\r\nthree");
        assert_eq!(extension_value("esc\u{1b}[31m"), r"esc\\u{1b}[31m");
        assert_eq!(extension_value("spaces stay é"), "spaces stay é");
    }
}
