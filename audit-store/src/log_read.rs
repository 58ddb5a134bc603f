//! The events that record reads of the audit log itself.
//!
//! The admin API ([`http`](crate::http), feature `http`) and the `audit`
//! command (feature `cli`) record their reads in one shape, so a reviewer
//! reads one: the action [`VIEWED`] or [`EXPORTED`], a description naming
//! what was read and the filters it named ("Viewed the audit log, filtered
//! by action, q"), the parameters in `metadata.filters` (repeated ones as
//! arrays; a cursor only as `true`: it says nothing a reviewer needs and is
//! long) and where the read came from in `metadata.via` (`http` or `cli`).

use audit_core::EventBuilder;
use serde_json::{Map, Value};

use crate::ExportFormat;

/// `audit_log.viewed`: a list, one event, an event's proof, action counts
/// or checkpoints were read.
pub const VIEWED: &str = "audit_log.viewed";

/// `audit_log.exported`: matching events were exported as CSV or NDJSON.
pub const EXPORTED: &str = "audit_log.exported";

/// What reading a page of the list is described as.
pub const LISTED: &str = "Viewed the audit log";

/// Where a read came from, as `metadata.via` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The admin API (its events carry the request's context too).
    Http,
    /// The `audit` command.
    Cli,
}

impl Via {
    /// `http` or `cli`.
    ///
    /// ```
    /// assert_eq!(audit_store::log_read::Via::Cli.as_str(), "cli");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Cli => "cli",
        }
    }
}

/// `builder` as the record of a read made `via` a channel: `what` it was
/// and the filters it named as its description (see [`description`]), the
/// parameters `params` as `metadata.filters`, and `metadata.via`.
///
/// ```
/// use audit_core::{Action, Actor, Event};
/// use audit_store::log_read::{self, Via};
///
/// let params = [("action", "app.*"), ("action", "member.*"), ("cursor", "opaque")]
///     .map(|(name, value)| (name.to_owned(), value.to_owned()));
/// let event = log_read::describe(
///     Event::builder(Action::new(log_read::VIEWED)?, Actor::user("alice")),
///     Via::Cli,
///     log_read::LISTED,
///     &params,
/// )
/// .build();
/// assert_eq!(event.description(), Some("Viewed the audit log, filtered by action (a further page)"));
/// assert_eq!(event.metadata()["filters"], serde_json::json!({"action": ["app.*", "member.*"], "cursor": true}));
/// assert_eq!(event.metadata()["via"], "cli");
/// # Ok::<(), audit_core::ActionError>(())
/// ```
pub fn describe(builder: EventBuilder, via: Via, what: &str, params: &[(String, String)]) -> EventBuilder {
    let mut filters = Map::new();
    for (name, value) in params {
        let value = if name == "cursor" {
            Value::Bool(true)
        } else {
            Value::String(value.clone())
        };
        match filters.get_mut(name) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                filters.insert(name.clone(), value);
            }
        }
    }
    builder
        .metadata("filters", &filters)
        .metadata("via", via.as_str())
        .description(description(what, params))
}

/// What a read event says it was: `what`, then the filters it named
/// ("Viewed the audit log, filtered by action, q"), so a list of reads is
/// readable without opening each one's metadata. Paging parameters and an
/// export's `format` and `with_proofs` are not filters; a cursor or offset
/// adds "(a further page)".
///
/// ```
/// let params = [("q", "refund"), ("limit", "5"), ("format", "csv")].map(|(n, v)| (n.to_owned(), v.to_owned()));
/// assert_eq!(audit_store::log_read::description("Exported", &params), "Exported, filtered by q");
/// ```
pub fn description(what: &str, params: &[(String, String)]) -> String {
    let mut named: Vec<&str> = Vec::new();
    for (name, _) in params {
        let paging = matches!(name.as_str(), "limit" | "cursor" | "offset" | "format" | "with_proofs");
        if !paging && !named.contains(&name.as_str()) {
            named.push(name);
        }
    }
    let mut description = what.to_owned();
    if !named.is_empty() {
        description.push_str(", filtered by ");
        description.push_str(&named.join(", "));
    }
    if params.iter().any(|(name, _)| name == "cursor" || name == "offset") {
        description.push_str(" (a further page)");
    }
    description
}

/// What an export is described as, before its filters.
///
/// ```
/// use audit_store::{ExportFormat, log_read};
///
/// assert_eq!(log_read::exported(ExportFormat::Csv, false), "Exported the audit log as CSV");
/// assert_eq!(log_read::exported(ExportFormat::Ndjson, true), "Exported the audit log as NDJSON with proofs");
/// ```
pub fn exported(format: ExportFormat, with_proofs: bool) -> String {
    let mut what = format!("Exported the audit log as {}", format.extension().to_uppercase());
    if with_proofs {
        what.push_str(" with proofs");
    }
    what
}

/// The reason of an export that stopped after `sent` events because of `why`.
///
/// ```
/// let reason = audit_store::log_read::stopped(500, "the audit store failed: disk I/O error");
/// assert_eq!(reason, "stopped after 500 events: the audit store failed: disk I/O error");
/// ```
pub fn stopped(sent: u64, why: &str) -> String {
    format!("stopped after {sent} events: {why}")
}

/// `builder` saying how many events an export wrote (`metadata.events`):
/// all that matched once it succeeded, those written before it stopped
/// when it failed.
///
/// ```
/// use audit_core::{Action, Actor, Event};
///
/// let builder = Event::builder(Action::new(audit_store::log_read::EXPORTED)?, Actor::user("alice"));
/// let event = audit_store::log_read::counted(builder, 1200).build();
/// assert_eq!(event.metadata()["events"], 1200);
/// # Ok::<(), audit_core::ActionError>(())
/// ```
pub fn counted(builder: EventBuilder, events: u64) -> EventBuilder {
    builder.metadata("events", &events)
}
