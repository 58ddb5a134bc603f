//! CSV and NDJSON renderings of events, for exports.

use std::str::FromStr;

use audit_core::Event;

use crate::QueryError;

/// The columns of a CSV export, in order.
///
/// `id` is the event's UUID (to find it again with `GET /{id}`);
/// `occurred_at` is RFC 3339 UTC with microseconds; `metadata` and `changes`
/// are the event's JSON (`changes` empty when the event has none); every
/// other column is the event field of that name (`actor_*` of the actor,
/// `target_*` of the primary target, `client_ip`, `user_agent` and
/// `request_id` of the context), empty when absent.
pub const CSV_COLUMNS: [&str; 20] = [
    "id",
    "occurred_at",
    "action",
    "category",
    "severity",
    "outcome",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_email",
    "tenant_id",
    "target_type",
    "target_id",
    "target_name",
    "description",
    "client_ip",
    "user_agent",
    "request_id",
    "metadata",
    "changes",
];

/// How an export renders events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportFormat {
    /// RFC 4180 CSV with [`CSV_COLUMNS`] and a header row; cells that a
    /// spreadsheet would run as a formula are neutralised.
    Csv,
    /// One event per line in the event JSON shape.
    Ndjson,
}

impl ExportFormat {
    /// The media type to serve it as.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Ndjson => "application/x-ndjson",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
        }
    }

    /// What comes before the first event: the CSV header row.
    pub fn header(self) -> Vec<u8> {
        match self {
            Self::Csv => csv_line(CSV_COLUMNS.iter().map(|c| (*c).to_owned())),
            Self::Ndjson => Vec::new(),
        }
    }

    /// Appends `events` to `out` in this format.
    ///
    /// ```
    /// use audit_core::{Action, Actor, Event};
    /// use audit_store::ExportFormat;
    ///
    /// let event = Event::builder(Action::new("app.renamed").unwrap(), Actor::user("u1"))
    ///     .description("=HYPERLINK(\"http://evil\")")
    ///     .build();
    /// let mut csv = ExportFormat::Csv.header();
    /// ExportFormat::Csv.write(&[event], &mut csv);
    /// let text = String::from_utf8(csv).unwrap();
    /// assert!(text.starts_with("id,occurred_at,action,"));
    /// assert!(text.contains(",\"'=HYPERLINK(\"\"http://evil\"\")\","), "{text}");
    /// ```
    pub fn write(self, events: &[Event], out: &mut Vec<u8>) {
        for event in events {
            match self {
                Self::Csv => out.extend(csv_line(csv_row(event))),
                Self::Ndjson => {
                    serde_json::to_writer(&mut *out, event).unwrap_or_else(|e| unreachable!("events serialise: {e}"));
                    out.push(b'\n');
                }
            }
        }
    }
}

impl FromStr for ExportFormat {
    type Err = QueryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Self::Csv),
            "ndjson" => Ok(Self::Ndjson),
            other => Err(QueryError::new(
                "format",
                format!("must be csv or ndjson; got `{}`", other.escape_debug()),
            )),
        }
    }
}

fn csv_row(event: &Event) -> [String; 20] {
    let actor = event.actor();
    let target = event.target();
    let context = event.context();
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    [
        event.id().to_string(),
        event.occurred_at().to_string(),
        event.action().as_str().to_owned(),
        event.category().as_str().to_owned(),
        event.severity().as_str().to_owned(),
        event.outcome().as_str().to_owned(),
        actor.kind.as_str().to_owned(),
        actor.id.clone(),
        text(actor.name.as_deref()),
        text(actor.email.as_deref()),
        text(event.tenant_id()),
        text(target.map(|t| t.target_type.as_str())),
        text(target.map(|t| t.id.as_str())),
        text(target.and_then(|t| t.name.as_deref())),
        text(event.description()),
        context.client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        text(context.user_agent.as_deref()),
        text(context.request_id.as_deref()),
        serde_json::to_string(event.metadata()).unwrap_or_default(),
        event
            .changes()
            .map(|c| serde_json::to_string(c).unwrap_or_default())
            .unwrap_or_default(),
    ]
}

/// One RFC 4180 record (CRLF-terminated), each cell neutralised against
/// formula injection first.
fn csv_line(cells: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer
        .write_record(cells.into_iter().map(neutralise))
        .unwrap_or_else(|e| unreachable!("writing to memory cannot fail: {e}"));
    writer
        .into_inner()
        .unwrap_or_else(|e| unreachable!("writing to memory cannot fail: {e}"))
}

/// A cell starting with `=`, `+`, `-`, `@`, tab or CR is read as a formula
/// by spreadsheets; a leading `'` makes it text (OWASP's advice). The
/// original value stays readable after the quote.
fn neutralise(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_openers_are_neutralised_and_nothing_else() {
        for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(cell.to_owned()), format!("'{cell}"));
        }
        for cell in ["", "1", "a=b", " =x", "'x", "{\"a\":1}"] {
            assert_eq!(neutralise(cell.to_owned()), cell);
        }
    }

    #[test]
    fn quotes_commas_and_line_breaks_stay_inside_their_cell() {
        let line = csv_line(["a,b".to_owned(), "say \"hi\"".to_owned(), "x\r\ny".to_owned()]);
        assert_eq!(line, b"\"a,b\",\"say \"\"hi\"\"\",\"x\r\ny\"\r\n");
    }

    #[test]
    fn unknown_formats_name_the_parameter() {
        let error = "xml".parse::<ExportFormat>().unwrap_err();
        assert_eq!(error.parameter(), "format");
        assert_eq!("ndjson".parse::<ExportFormat>().unwrap(), ExportFormat::Ndjson);
    }
}
