//! The CSV row an export should hold for an event, in the event's JSON
//! shape: what the HTTP and the fuzz tests compare exports with.

use serde_json::Value;

/// The CSV row the export should hold for `event`, formulas neutralised.
pub(crate) fn expected_row(event: &Value) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let json = |v: &Value| if v.is_null() { String::new() } else { v.to_string() };
    let cells = [
        text(&event["id"]),
        text(&event["occurred_at"]),
        text(&event["action"]),
        text(&event["category"]),
        text(&event["severity"]),
        text(&event["outcome"]),
        text(&event["actor"]["kind"]),
        text(&event["actor"]["id"]),
        text(&event["actor"]["name"]),
        text(&event["actor"]["email"]),
        text(&event["tenant_id"]),
        text(&event["target"]["type"]),
        text(&event["target"]["id"]),
        text(&event["target"]["name"]),
        text(&event["description"]),
        text(&event["context"]["client_ip"]),
        text(&event["context"]["user_agent"]),
        text(&event["context"]["request_id"]),
        json(&event["metadata"]),
        json(&event["changes"]),
    ];
    cells
        .into_iter()
        .map(|cell| {
            if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{cell}")
            } else {
                cell
            }
        })
        .collect()
}
