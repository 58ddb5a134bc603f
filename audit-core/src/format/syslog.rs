//! RFC 5424 syslog messages with the event as JSON in the MSG.

use std::fmt::Write as _;

use super::{FormatOptions, native_json, severity_row, target_ref, visible_controls};
use crate::event::Event;

/// The syslog facility of every message: 13, "log audit".
///
/// ```
/// assert_eq!(audit_core::format::SYSLOG_FACILITY, 13);
/// ```
pub const SYSLOG_FACILITY: u8 = 13;

/// The UTF-8 byte order mark that marks a MSG as UTF-8 (RFC 5424 §6.4).
const BOM: char = '\u{feff}';

/// A header field (HOSTNAME, APP-NAME, MSGID): printable US-ASCII only
/// (other characters become `_`), at most `max` characters, `-` when empty.
fn header_field(text: &str, max: usize) -> String {
    let field: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    if field.is_empty() { "-".to_owned() } else { field }
}

/// An SD-ID (or SD-NAME): printable US-ASCII but `=`, space, `]` and `"`,
/// at most 32 characters.
fn sd_name(text: &str) -> String {
    let name: String = text
        .chars()
        .take(32)
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() { "_".to_owned() } else { name }
}

/// A PARAM-VALUE: `"`, `\` and `]` escaped with a backslash (RFC 5424
/// §6.3.3); control characters as visible `\u{…}` so the message stays on
/// one line.
fn param_value(text: &str) -> String {
    let text = visible_controls(text, |_| false);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The TIMESTAMP: RFC 3339 with microseconds and `Z`; `-` (the nil value)
/// for an instant RFC 5424 cannot write (a year outside 0000–9999, a leap second).
fn timestamp(event: &Event) -> String {
    let text = event.occurred_at().to_string();
    let bytes = text.as_bytes();
    let fits = bytes.len() == 27 && bytes[4] == b'-' && bytes[17] < b'6';
    if fits { text } else { "-".to_owned() }
}

/// The event as one RFC 5424 message: the parts of the [module docs](super),
/// no trailing newline (framing, such as RFC 6587 octet counting, is the
/// transport's).
///
/// ```
/// use audit_core::{Action, Actor, Event, Severity, Timestamp, format::{FormatOptions, syslog}};
///
/// let event = Event::builder(Action::new("app.deleted")?, Actor::user("u1"))
///     .tenant("acme")
///     .severity(Severity::Critical)
///     .occurred_at(Timestamp::from_unix_micros(1_795_000_000_123_456).unwrap())
///     .build();
/// let options = FormatOptions::default().with_hostname("api-1.acme.test").with_app_name("billing");
/// let message = syslog(&event, &options);
/// assert!(message.starts_with("<106>1 2026-11-18T11:06:40.123456Z api-1.acme.test billing - app.deleted [audit@32473 id=\""));
/// assert!(message.contains(" tenant=\"acme\" actor=\"u1\" "));
/// let json = message.split_once(" \u{feff}").unwrap().1;
/// assert_eq!(json, serde_json::to_string(&event).unwrap());
/// # Ok::<(), audit_core::ActionError>(())
/// ```
pub fn syslog(event: &Event, options: &FormatOptions) -> String {
    let (_, _, _, severity) = severity_row(event.severity());
    let priority = u16::from(SYSLOG_FACILITY) * 8 + u16::from(severity);
    let mut out = String::with_capacity(1024);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "<{priority}>1 {} {} {} - {} [{}",
        timestamp(event),
        header_field(&options.hostname, 255),
        header_field(&options.app_name, 48),
        header_field(event.action().as_str(), 32),
        sd_name(&options.sd_id),
    );
    let context = event.context();
    let integrity = event.integrity();
    let params = [
        ("id", Some(event.id().to_string())),
        ("action", Some(event.action().as_str().to_owned())),
        ("category", Some(event.category().as_str().to_owned())),
        ("severity", Some(event.severity().as_str().to_owned())),
        ("outcome", Some(event.outcome().as_str().to_owned())),
        ("tenant", event.tenant_id().map(str::to_owned)),
        ("actor", Some(event.actor().id.clone())),
        ("actor_kind", Some(event.actor().kind.as_str().to_owned())),
        ("target", event.target().map(target_ref)),
        ("client_ip", context.client_ip.map(|ip| ip.to_string())),
        ("request_id", context.request_id.clone()),
        ("trace_id", context.trace_id.clone()),
        ("stream", integrity.map(|i| i.stream.clone())),
        ("seq", integrity.map(|i| i.seq.to_string())),
    ];
    for (name, value) in params {
        if let Some(value) = value {
            let _ = write!(out, " {name}=\"{}\"", param_value(&value));
        }
    }
    out.push_str("] ");
    out.push(BOM);
    out.push_str(&native_json(event));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_printable_ascii_of_bounded_length() {
        assert_eq!(header_field("host name\n", 255), "host_name_");
        assert_eq!(header_field("hôst", 255), "h_st");
        assert_eq!(header_field("", 48), "-");
        assert_eq!(header_field(&"a".repeat(300), 255).len(), 255);
        assert_eq!(header_field(&"x".repeat(60), 48).len(), 48);
        let action = format!("a.{}", "b".repeat(100));
        assert_eq!(header_field(&action, 32), format!("a.{}", "b".repeat(30)));
    }

    #[test]
    fn sd_names_lose_the_characters_that_end_them() {
        assert_eq!(sd_name("audit@32473"), "audit@32473");
        assert_eq!(sd_name("a u=d]i\"t"), "a_u_d_i_t");
        assert_eq!(sd_name(&"n".repeat(40)).len(), 32);
        assert_eq!(sd_name(""), "_");
    }

    #[test]
    fn param_values_escape_quote_backslash_and_bracket() {
        assert_eq!(param_value(r#"say "hi" \ ] ["#), r#"say \"hi\" \\ \] ["#);
        assert_eq!(param_value("a\nb"), r"a\\u{a}b");
        assert_eq!(param_value("naïve"), "naïve");
    }

    #[test]
    fn timestamps_rfc_5424_cannot_write_are_nil() {
        let at = |micros| {
            Event::builder(crate::Action::new("a.b").unwrap(), crate::Actor::anonymous())
                .occurred_at(crate::Timestamp::from_unix_micros(micros).unwrap())
                .build()
        };
        assert_eq!(timestamp(&at(0)), "1970-01-01T00:00:00.000000Z");
        // The year 10000.
        assert_eq!(timestamp(&at(253_402_300_800_000_000)), "-");
        assert_eq!(timestamp(&at(-62_198_755_200_000_000)), "-", "before year 0");
    }

    #[test]
    fn priority_is_facility_13_times_8_plus_the_severity() {
        use crate::event::Severity;
        for (severity, pri) in [
            (Severity::Info, "<110>"),
            (Severity::Notice, "<109>"),
            (Severity::Warning, "<108>"),
            (Severity::Critical, "<106>"),
        ] {
            let event = Event::builder(crate::Action::new("a.b").unwrap(), crate::Actor::anonymous())
                .severity(severity)
                .build();
            let message = syslog(&event, &FormatOptions::default());
            assert!(message.starts_with(&format!("{pri}1 ")), "{severity}: {message}");
        }
    }
}
