//! The OpenAPI 3.1 document, written from the same parameter table the
//! query parser uses, so the two cannot drift apart.

use serde_json::{Value, json};

use crate::{CSV_COLUMNS, QUERY_PARAMETERS};

/// Query parameters, minus those a route does not take.
fn parameters(without: &[&str]) -> Vec<Value> {
    QUERY_PARAMETERS
        .iter()
        .filter(|p| !without.contains(&p.name))
        .map(|p| {
            let mut schema = json!({"type": p.schema_type});
            if !p.values.is_empty() {
                schema = json!({"type": "string", "enum": p.values});
            }
            if p.repeatable {
                schema = json!({"type": "array", "items": schema});
            }
            json!({
                "name": p.name,
                "in": "query",
                "required": false,
                "description": p.description,
                "schema": schema,
                "explode": true,
            })
        })
        .collect()
}

fn error_responses() -> Value {
    let error = json!({"description": "The error, naming the parameter at fault where there is one.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({"400": error, "403": error, "500": error})
}

fn with_errors(mut ok: Value) -> Value {
    if let (Some(responses), Value::Object(errors)) = (ok.as_object_mut(), error_responses()) {
        responses.extend(errors);
    }
    ok
}

pub(crate) fn document() -> Value {
    let mut export_parameters = parameters(&["limit", "cursor", "offset"]);
    export_parameters.insert(
        0,
        json!({"name": "format", "in": "query", "required": true, "description": "csv or ndjson.",
            "schema": {"type": "string", "enum": ["csv", "ndjson"]}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Audit log",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Read the audit log: who did what, to what, when, from where, and what changed. \
                Every read is itself recorded. Without `since` or `until`, the last 30 days are shown.",
        },
        "paths": {
            "/": {"get": {
                "operationId": "listEvents",
                "summary": "Events, newest first, one page at a time",
                "parameters": parameters(&[]),
                "responses": with_errors(json!({"200": {"description": "A page of events.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}}})),
            }},
            "/{id}": {"get": {
                "operationId": "getEvent",
                "summary": "One event",
                "parameters": [{"name": "id", "in": "path", "required": true, "description": "The event id.",
                    "schema": {"type": "string", "format": "uuid"}}],
                "responses": with_errors(json!({
                    "200": {"description": "The event.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Event"}}}},
                    "404": {"description": "No such event for this reader.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                })),
            }},
            "/export": {"get": {
                "operationId": "exportEvents",
                "summary": "Every matching event, streamed as CSV or NDJSON",
                "parameters": export_parameters,
                "responses": with_errors(json!({"200": {
                    "description": format!("CSV columns: {}. Cells starting with =, +, -, @, tab or CR are prefixed with '.", CSV_COLUMNS.join(", ")),
                    "content": {"text/csv": {"schema": {"type": "string"}},
                        "application/x-ndjson": {"schema": {"type": "string"}}},
                }})),
            }},
            "/actions": {"get": {
                "operationId": "listActions",
                "summary": "The actions of the matching events, with counts",
                "parameters": parameters(&["action", "limit", "cursor", "offset"]),
                "responses": with_errors(json!({"200": {"description": "Most frequent first.",
                    "content": {"application/json": {"schema": {"type": "array", "items": {
                        "type": "object", "required": ["action", "category", "count"],
                        "properties": {"action": {"type": "string"}, "category": {"type": "string"},
                            "count": {"type": "integer"}}}}}}}})),
            }},
            "/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1.", "content": {"application/json": {}}}},
            }},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message", "param"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                    "param": {"type": ["string", "null"]}}}}},
            "Page": {"type": "object", "required": ["data", "next_cursor"], "properties": {
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                "next_cursor": {"type": ["string", "null"]}}},
            "Event": {"type": "object", "required": ["id", "occurred_at", "recorded_at", "tenant_id", "action",
                "category", "severity", "outcome", "reason", "actor", "target", "targets", "description",
                "context", "changes", "metadata", "truncated", "lossy_utf8", "integrity"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "occurred_at": {"type": "string", "format": "date-time"},
                    "recorded_at": {"type": ["string", "null"], "format": "date-time"},
                    "tenant_id": {"type": ["string", "null"]},
                    "action": {"type": "string"},
                    "category": {"type": "string", "enum": ["create", "update", "delete", "access", "auth", "other"]},
                    "severity": {"type": "string", "enum": ["info", "notice", "warning", "critical"]},
                    "outcome": {"type": "string", "enum": ["success", "failure", "denied"]},
                    "reason": {"type": ["string", "null"]},
                    "actor": {"type": "object"},
                    "target": {"type": ["object", "null"]},
                    "targets": {"type": "array", "items": {"type": "object"}},
                    "description": {"type": ["string", "null"]},
                    "context": {"type": "object"},
                    "changes": {"type": ["object", "null"]},
                    "metadata": {"type": "object"},
                    "truncated": {"type": "boolean"},
                    "lossy_utf8": {"type": "boolean"},
                    "integrity": {"type": ["object", "null"]},
                }},
        }},
    })
}
