//! The OpenAPI 3.1 document, written from the same parameter table the
//! query parser uses, so the two cannot drift apart: every check the parser
//! makes (ranges, formats, patterns, lengths, "not empty") is stated as a
//! schema keyword.

use serde_json::{Map, Value, json};

use crate::CatalogueEntry;
use crate::query::MAX_VALUE_CHARS;
use crate::{CSV_COLUMNS, QUERY_PARAMETERS, QueryParameter, ValueFormat};

/// How readers authenticate, as an OpenAPI security scheme (see
/// [`AdminApi::security`](super::AdminApi::security)).
///
/// ```
/// use audit_store::http::SecurityScheme;
///
/// let scheme = SecurityScheme::cookie("session");
/// assert_eq!(scheme.name(), "cookie_session");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityScheme {
    name: String,
    scheme: Value,
}

impl SecurityScheme {
    /// `Authorization: Bearer <token>`.
    pub fn bearer() -> Self {
        Self {
            name: "bearer".to_owned(),
            scheme: json!({"type": "http", "scheme": "bearer"}),
        }
    }

    /// A session cookie named `cookie`.
    pub fn cookie(cookie: &str) -> Self {
        Self {
            name: format!("cookie_{cookie}"),
            scheme: json!({"type": "apiKey", "in": "cookie", "name": cookie}),
        }
    }

    /// An API key in the request header `header` (`X-Api-Key`).
    pub fn api_key_header(header: &str) -> Self {
        Self {
            name: format!("header_{}", header.to_ascii_lowercase().replace('-', "_")),
            scheme: json!({"type": "apiKey", "in": "header", "name": header}),
        }
    }

    /// Its key under `components.securitySchemes`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A value with at least one character that is neither white space nor a
/// control character, and no control character anywhere (values are
/// trimmed, and an empty one is refused; recorded values never hold a
/// control character).
const PRINTABLE: &str =
    r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

/// An action (two or more segments) or a prefix written `prefix.*`.
const ACTION: &str = r"^[a-z][a-z0-9_]*(?:(?:\.[a-z][a-z0-9_]*)+|(?:\.[a-z][a-z0-9_]*)*\.\*)$";

/// A SHA-256 hash in standard base64.
const BASE64_HASH: &str = "^[A-Za-z0-9+/]{43}=$";

/// The error codes the admin API answers with.
const ERROR_CODES: [&str; 8] = [
    "invalid_parameter",
    "no_tree",
    "forbidden",
    "not_found",
    "not_checkpointed",
    "method_not_allowed",
    "internal",
    "store_unavailable",
];

fn value_schema(p: &QueryParameter) -> Value {
    match p.format {
        ValueFormat::Enumeration => json!({"type": "string", "enum": p.values}),
        ValueFormat::Integer { minimum, maximum } => {
            let mut schema = json!({"type": "integer", "minimum": minimum, "maximum": maximum});
            if p.name == "limit" {
                schema["default"] = json!(crate::DEFAULT_LIMIT);
            }
            schema
        }
        ValueFormat::Time => json!({"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}]}),
        ValueFormat::Ip => json!({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}),
        ValueFormat::Action => json!({
            "type": "string",
            "maxLength": audit_core::MAX_ACTION_LEN + 1,
            "pattern": ACTION,
        }),
        ValueFormat::Cursor => json!({"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_-]+$"}),
        ValueFormat::Search => json!({
            "type": "string",
            "maxLength": crate::query::text::MAX_TEXT_CHARS,
            "pattern": PRINTABLE,
        }),
        // Text, and anything added later: printable, bounded.
        _ => json!({"type": "string", "maxLength": MAX_VALUE_CHARS, "pattern": PRINTABLE}),
    }
}

/// Query parameters, minus those a route does not take.
fn parameters(without: &[&str]) -> Vec<Value> {
    QUERY_PARAMETERS
        .iter()
        .filter(|p| !without.contains(&p.name))
        .map(|p| {
            let mut schema = value_schema(p);
            if p.repeatable {
                schema = json!({"type": "array", "items": schema});
            }
            let mut description = p.description.to_owned();
            if p.repeatable {
                description.push_str(" Repeat the parameter (or separate values with commas) to match any of several.");
            }
            description.push_str(" An empty value is refused; leave the parameter out to match any.");
            json!({
                "name": p.name,
                "in": "query",
                "required": false,
                "description": description,
                "schema": schema,
                "style": "form",
                "explode": true,
            })
        })
        .collect()
}

/// The schema the list gives `name` (one of [`QUERY_PARAMETERS`]), for a
/// route that parses it the same way.
fn shared_schema(name: &str) -> Value {
    QUERY_PARAMETERS
        .iter()
        .find(|p| p.name == name)
        .map_or_else(|| json!({"type": "string"}), value_schema)
}

/// A query parameter described for its route.
fn route_parameter(name: &str, required: bool, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": required, "description": description, "schema": schema})
}

/// `tenant_id` of `/checkpoints` and `/consistency`: which stream.
fn stream_parameter() -> Value {
    route_parameter(
        "tenant_id",
        false,
        "The tenant whose stream to read. Absent: your own tenant's stream, or, for a platform reader \
         (who reads every tenant), the `global` stream of events without a tenant. Naming another tenant \
         is a 403 for a one-tenant reader. An empty value is refused.",
        shared_schema("tenant_id"),
    )
}

/// A tree size of `/consistency`.
fn size_parameter(name: &str, description: &str) -> Value {
    route_parameter(
        name,
        true,
        description,
        json!({"type": "integer", "minimum": 1, "maximum": i64::MAX}),
    )
}

fn error_content() -> Value {
    json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}})
}

/// The answers every data operation may give besides its success.
fn error_responses(not_found: bool) -> Map<String, Value> {
    let mut responses = Map::new();
    let mut add = |status: &str, description: &str| {
        responses.insert(
            status.to_owned(),
            json!({"description": description, "content": error_content()}),
        );
    };
    add(
        "400",
        "A parameter is unknown, empty, given twice, malformed or out of range: `param` names it (code `invalid_parameter`).",
    );
    add(
        "403",
        "The reader may not read this audit log, or names another tenant (code `forbidden`); the message says which roles may read.",
    );
    if not_found {
        add(
            "404",
            "No such event for this reader: another tenant's event answers exactly as a missing one (code `not_found`).",
        );
    }
    add(
        "500",
        "The store failed to answer (code `internal`); the server's log has the details.",
    );
    responses.insert(
        "503".to_owned(),
        json!({
            "description": "The store did not answer in time or cannot be reached (code `store_unavailable`): retry later.",
            "headers": {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
            "content": error_content(),
        }),
    );
    responses.insert(
        "401".to_owned(),
        json!({"description": "No credentials, or credentials the application does not accept. This answer comes \
            from the application's authentication, before the audit log sees the request; its body is the application's."}),
    );
    responses
}

/// A data operation: its parameters, its success, its errors, its security.
fn operation(id: &str, summary: &str, parameters: Value, ok: Value, not_found: bool, security: &Value) -> Value {
    let mut responses = error_responses(not_found);
    responses.insert("200".to_owned(), ok);
    json!({
        "operationId": id,
        "summary": summary,
        "parameters": parameters,
        "responses": responses,
        "security": security,
    })
}

/// `GET /health`: the auditor's state; its 503 carries the same body with
/// `status: down`, and it is a 404 where no auditor is attached.
fn health_operation(security: &Value) -> Value {
    let count = json!({"type": "integer", "minimum": 0});
    let body = json!({"application/json": {"schema": {
    "type": "object",
    "required": ["status", "streams"],
    "description": "The auditor's fields are present when an auditor is attached (`AdminApi::health`); `streams` is null unless a streamer is (`AdminApi::streams`).",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded", "down"],
            "description": "`degraded`: the store is down and the spool holds the events, or a stream sink is failing or behind; `down`: events cannot be made durable."},
        "streams": {"oneOf": [{"type": "null"}, {"type": "array", "items": {"type": "object",
            "required": ["name", "sink", "delivered", "batches", "retried", "skipped", "lag", "behind", "failing", "last_error", "last_delivered_at"],
            "properties": {
                "name": {"type": "string", "description": "The name its positions are kept under (`destination:<name>` for the store's destinations)."},
                "sink": {"type": "string", "description": "The sink, as it describes itself (no credentials)."},
                "delivered": count, "batches": count, "retried": count,
                "skipped": {"type": "integer", "minimum": 0, "description": "Events a retention purge removed before this sink delivered them."},
                "lag": {"type": "integer", "minimum": 0, "description": "Events stored and not delivered yet."},
                "behind": {"type": "boolean", "description": "The lag is beyond the sink's max_lag."},
                "failing": {"type": "boolean"},
                "last_error": {"type": ["string", "null"]},
                "last_delivered_at": {"type": ["string", "null"], "format": "date-time"}}}}]},
        "store_reachable": {"type": "boolean"},
        "queue_depth": count,
        "oldest_unwritten_age_ms": {"type": ["integer", "null"], "minimum": 0,
            "description": "How long ago the oldest event the store is being asked to write happened, while a write is under way."},
        "spool": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["bytes", "pending_events", "writable"],
            "properties": {"bytes": count, "pending_events": count, "writable": {"type": "boolean"}}}]},
        "last_error": {"type": ["string", "null"]},
        "counters": {"type": "object",
            "required": ["queued", "written", "replayed", "spooled", "retried", "dropped", "refused", "rejected"],
            "properties": {"queued": count, "written": count, "replayed": count, "spooled": count,
                "retried": count, "dropped": count, "refused": count, "rejected": count}},
    }}}});
    let mut operation = operation(
        "getHealth",
        "The audit pipeline's state: queue, spool, store reachable, oldest unwritten event, last error, stream sinks (platform role `auditor` only; records no event)",
        json!([]),
        json!({"description": "`ok` or `degraded`.", "content": body.clone()}),
        false,
        security,
    );
    operation["responses"]["503"] =
        json!({"description": "`status` is `down`: new events cannot be made durable.", "content": body});
    operation["responses"]["404"] = json!({"description": "No auditor or streamer is attached to this admin API (code `not_found`).", "content": error_content()});
    operation
}

/// The document, for an API nested at `prefix` (`/audit-logs`; empty or
/// `/` at the root) whose readers authenticate with `security` (an HTTP
/// bearer token when empty), enumerating the store's `catalogue`.
pub(crate) fn document(prefix: &str, security: &[super::SecurityScheme], catalogue: &[CatalogueEntry]) -> Value {
    let bearer = [super::SecurityScheme::bearer()];
    let security = if security.is_empty() { &bearer[..] } else { security };
    let schemes: Map<String, Value> = security.iter().map(|s| (s.name.clone(), s.scheme.clone())).collect();
    // Alternatives: any one of them suffices.
    let requirement = Value::Array(security.iter().map(|s| json!({ s.name.clone(): [] })).collect());
    let server = if prefix.is_empty() { "/" } else { prefix };

    let mut export_parameters = parameters(&["limit", "cursor", "offset"]);
    export_parameters.insert(
        0,
        json!({"name": "format", "in": "query", "required": true, "description": "csv or ndjson.",
            "schema": {"type": "string", "enum": ["csv", "ndjson"]}}),
    );
    export_parameters.insert(
        1,
        route_parameter(
            "with_proofs",
            false,
            "true: each NDJSON line is the event's proof against its stream's newest signed checkpoint \
             ({\"event\", \"leaf_index\", \"tree_size\", \"audit_path\", \"checkpoint\"}, as `audit verify-event` \
             checks it), or, for an event no checkpoint covers yet, {\"event\", \"leaf_index\", \"checkpoint\": null}. \
             Only with format=ndjson (with csv: a 400 naming `with_proofs`).",
            json!({"type": "string", "enum": ["true", "false"], "default": "false"}),
        ),
    );
    let mut consistency = operation(
        "getConsistencyProof",
        "The proof that a stream's tree of `to` events extends its tree of `from` events",
        json!([
            stream_parameter(),
            size_parameter("from", "The older tree size (normally a kept checkpoint's): 1 to `to`."),
            size_parameter(
                "to",
                "The newer tree size (normally a kept checkpoint's): at most the stream's head."
            ),
        ]),
        json!({"description": "An RFC 9162 consistency proof (empty when the sizes are equal); check it with \
                ConsistencyProof::verify against the two checkpoints, opened with the verifier key.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ConsistencyProof"}}}}),
        false,
        &requirement,
    );
    consistency["responses"]["409"] = json!({
        "description": "The stream's tree is not kept (it was purged before the store kept Merkle trees): \
            nothing can be proved (code `no_tree`).",
        "content": error_content(),
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Audit log",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Read the audit log: who did what, to what, when, from where, and what changed. \
                Every read is itself recorded (`audit_log.viewed`, `audit_log.exported`; leave them out with \
                `not_action=audit_log.*`). Without `since` or `until`, the last 30 days are shown. \
                Errors are `{\"error\": {\"code\", \"message\", \"param\"}}`; a method a route does not \
                answer is a 405 with `Allow`.",
        },
        "servers": [{"url": server, "description": "Where the application nests the audit log."}],
        "security": requirement,
        "paths": {
            "/": {"get": operation("listEvents", "Events, newest first, one page at a time",
                json!(parameters(&[])),
                json!({"description": "A page of events.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}},
                    "links": {
                        "FirstEvent": {"operationId": "getEvent", "parameters": {"id": "$response.body#/data/0/id"},
                            "description": "The first event of the page, by its id."},
                        "FirstEventProof": {"operationId": "getEventProof", "parameters": {"id": "$response.body#/data/0/id"},
                            "description": "The proof of the page's first event against its stream's newest signed checkpoint."},
                        "NextPage": {"operationId": "listEvents", "parameters": {"cursor": "$response.body#/next_cursor"},
                            "description": "The next page: the same filters, with this cursor."},
                    }}),
                false, &requirement)},
            "/{id}": {"get": operation("getEvent", "One event",
                json!([{"name": "id", "in": "path", "required": true, "description": "The event id.",
                    "schema": {"type": "string", "format": "uuid"}}]),
                json!({"description": "The event.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Event"}}}}),
                true, &requirement)},
            "/{id}/proof": {"get": proof_operation(&requirement)},
            "/export": {"get": operation("exportEvents", "Every matching event, streamed as CSV or NDJSON",
                json!(export_parameters),
                json!({
                    "description": format!("Every matching event (the same filters as the list, without paging). \
                        CSV columns: {}. Cells starting with =, +, -, @, tab or CR are prefixed with '.", CSV_COLUMNS.join(", ")),
                    "headers": {"Content-Disposition": {"description": "attachment; filename=\"audit-log-<tenant>-<time>.<format>\"",
                        "schema": {"type": "string"}}},
                    "content": {"text/csv": {"schema": {"type": "string"}},
                        "application/x-ndjson": {"schema": {"type": "string",
                            "description": "One Event object (see components) per line."}}},
                }),
                false, &requirement)},
            "/actions": {"get": operation("listActions", "The actions of the matching events, with counts",
                json!(parameters(&["action", "limit", "cursor", "offset"])),
                json!({"description": "Most frequent first, then the actions the store's catalogue declares that no \
                    matching event has (count 0), by name.",
                    "content": {"application/json": {"schema": {"type": "array", "items": {
                        "type": "object", "required": ["action", "category", "count", "declared"],
                        "properties": {"action": {"type": "string"},
                            "category": {"$ref": "#/components/schemas/Category"},
                            "count": {"type": "integer", "minimum": 0},
                            "declared": {"type": "boolean", "description": "Whether the catalogue declares it."},
                            "description": {"type": "string", "description": "The catalogue's description."},
                            "severity": {"type": "string", "enum": ["info", "notice", "warning", "critical"],
                                "description": "The catalogue's default severity."}}}}}}}),
                false, &requirement)},
            "/checkpoints": {"get": operation("listCheckpoints", "A stream's signed checkpoints, smallest tree first",
                json!([
                    stream_parameter(),
                    route_parameter("since", false, "Checkpoints signed at or after this time: RFC 3339, or a date \
                        (midnight UTC). For the next page, pass the last `signed_at` (that checkpoint comes again). \
                        An empty value is refused.", shared_schema("since")),
                    route_parameter("limit", false, "How many checkpoints, 1 to 200 (default 50).", shared_schema("limit")),
                ]),
                json!({"description": "The checkpoints kept for the stream.",
                    "content": {"application/json": {"schema": {"type": "object", "required": ["data"], "properties": {
                        "data": {"type": "array", "items": {"$ref": "#/components/schemas/Checkpoint"}}}}}}}),
                false, &requirement)},
            "/consistency": {"get": consistency},
            "/health": {"get": health_operation(&requirement)},
            "/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document (public: no credentials needed)",
                "security": [],
                "responses": {
                    "200": {"description": "OpenAPI 3.1.", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "400": {"description": "The document takes no parameters.", "content": error_content()},
                },
            }},
        },
        "components": {
            "securitySchemes": schemes,
            "schemas": with_catalogue(schemas(), catalogue),
        },
    })
}

/// `schemas` with `DeclaredAction`, the enumeration of the catalogue's
/// actions, and `Metadata.<action>`, each declared action's metadata (what
/// a SIEM team maps fields from). Not referenced by the event schemas: a
/// store also holds actions no catalogue declares (`audit.*`, older ones).
fn with_catalogue(mut schemas: Value, catalogue: &[CatalogueEntry]) -> Value {
    if catalogue.is_empty() {
        return schemas;
    }
    let Some(schemas_map) = schemas.as_object_mut() else {
        return schemas;
    };
    let names: Vec<&str> = catalogue.iter().map(|entry| entry.action.as_str()).collect();
    let descriptions: Vec<String> = catalogue
        .iter()
        .map(|entry| format!("- `{}`: {}", entry.action, entry.description))
        .collect();
    schemas_map.insert(
        "DeclaredAction".to_owned(),
        json!({"type": "string", "enum": names,
            "description": format!("The actions the store's catalogue declares:\n{}", descriptions.join("\n"))}),
    );
    for entry in catalogue {
        let mut schema = entry.metadata_schema();
        if let Some(schema) = schema.as_object_mut() {
            // A component, not a document of its own.
            schema.remove("$schema");
        }
        schemas_map.insert(format!("Metadata.{}", entry.action), schema);
    }
    schemas
}

/// `GET /{id}/proof`: one event's proof, and the 409 while no checkpoint
/// covers it.
fn proof_operation(security: &Value) -> Value {
    let parameters = json!([
        {"name": "id", "in": "path", "required": true, "description": "The event id.",
            "schema": {"type": "string", "format": "uuid"}},
        {"name": "checkpoint", "in": "query", "required": false,
            "description": "Which signed checkpoint of the event's stream to prove against: `latest` (the default) \
                or the tree size of a kept checkpoint. Given once.",
            "schema": {"anyOf": [{"type": "string", "enum": ["latest"]},
                {"type": "integer", "minimum": 1, "maximum": u64::MAX}]}},
    ]);
    let ok = json!({"description": "The event with its inclusion proof and the signed checkpoint: what \
            `audit verify-event` checks.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventProof"}}}});
    let mut operation = operation(
        "getEventProof",
        "One event with the proof that it is in a signed checkpoint",
        parameters,
        ok,
        true,
        security,
    );
    operation["responses"]["409"] = json!({
        "description": "No kept signed checkpoint covers the event yet, or none is kept at the size asked for \
            (code `not_checkpointed`): retry after the next checkpoint.",
        "content": error_content(),
    });
    operation
}

fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}

fn schemas() -> Value {
    json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": ERROR_CODES,
                    "description": "What kind of error: stable, for programs."},
                "message": {"type": "string", "description": "What is wrong, for people."},
                "param": {"type": ["string", "null"], "description": "The parameter at fault, when there is one."}}}}},
        "Page": {"type": "object", "required": ["data", "next_cursor"], "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
            "next_cursor": {"type": ["string", "null"], "description":
                "Opaque: pass it as `cursor` with the same filters for the next page; null on the last page."}}},
        "Checkpoint": {"type": "object", "required": ["stream", "tree_size", "root", "signed_at", "checkpoint"],
            "properties": {
                "stream": {"type": "string", "description": "`tenant:<id>`, or `global`."},
                "tree_size": {"type": "integer", "minimum": 1},
                "root": {"type": "string", "pattern": BASE64_HASH, "description": "The RFC 9162 root, base64."},
                "signed_at": {"type": "string", "format": "date-time"},
                "checkpoint": {"type": "string", "description":
                    "The C2SP signed note (tlog-checkpoint), exactly as signed: open it with the verifier key."}}},
        "ConsistencyProof": {"type": "object", "required": ["stream", "old_size", "new_size", "proof"], "properties": {
            "stream": {"type": "string"},
            "old_size": {"type": "integer", "minimum": 1},
            "new_size": {"type": "integer", "minimum": 1},
            "proof": {"type": "array", "items": {"type": "string", "pattern": BASE64_HASH}}}},
        "Category": {"type": "string", "enum": ["create", "update", "delete", "access", "auth", "other"]},
        "Actor": {"type": "object", "required": ["kind", "id", "name", "email", "roles"], "properties": {
            "kind": {"type": "string", "enum": ["user", "api_key", "service", "system", "anonymous"]},
            "id": {"type": "string"},
            "name": nullable_string(),
            "email": nullable_string(),
            "roles": {"type": "array", "items": {"type": "string"}}}},
        "Target": {"type": "object", "required": ["type", "id", "name"], "properties": {
            "type": {"type": "string"},
            "id": {"type": "string"},
            "name": nullable_string()}},
        "Context": {"type": "object",
            "required": ["client_ip", "peer_ip", "ip_source", "user_agent", "request_id", "method", "route", "status"],
            "properties": {
                "client_ip": {"type": ["string", "null"], "description": "After trusted-proxy resolution."},
                "peer_ip": nullable_string(),
                "ip_source": {"type": ["string", "null"], "enum": ["peer", "x-forwarded-for", "forwarded", "x-real-ip", null]},
                "user_agent": nullable_string(),
                "request_id": nullable_string(),
                "client_request_id": {"type": "string", "description": "The client's own request id, when it sent one."},
                "trace_id": {"type": "string", "description": "The W3C trace id of the request's traceparent header, when it carried one."},
                "span_id": {"type": "string", "description": "The caller's span id (the traceparent header's parent id), with trace_id."},
                "method": nullable_string(),
                "route": {"type": ["string", "null"], "description": "The route template (`/apps/{id}`), not the raw path."},
                "status": {"type": ["integer", "null"], "minimum": 100, "maximum": 999}}},
        "Changes": {"type": "object", "required": ["before", "after", "diff"], "properties": {
            "before": {"description": "The state before (null for creations); redacted."},
            "after": {"description": "The state after (null for deletions); redacted."},
            "diff": {"type": "array", "items": {"type": "object", "required": ["path"], "properties": {
                "path": {"type": "string", "description": "RFC 6901 JSON Pointer."},
                "old": {"description": "Absent when the location was added."},
                "new": {"description": "Absent when the location was removed."}}}}}},
        "Integrity": {"type": "object", "required": ["stream", "seq", "leaf_hash"], "properties": {
            "stream": {"type": "string", "description": "`tenant:<id>`, or `global`."},
            "seq": {"type": "integer", "minimum": 1},
            "leaf_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}},
        "EventProof": {"type": "object", "required": ["event", "leaf_index", "tree_size", "audit_path", "checkpoint"],
            "properties": {
                "event": {"$ref": "#/components/schemas/Event"},
                "leaf_index": {"type": "integer", "minimum": 0, "description": "The event's seq − 1."},
                "tree_size": {"type": "integer", "minimum": 1, "description": "The size of the tree the checkpoint signs."},
                "audit_path": {"type": "array", "items": {"type": "string", "contentEncoding": "base64"},
                    "description": "The RFC 9162 inclusion proof, bottom-up: SHA-256 hashes in standard base64."},
                "checkpoint": {"type": "string", "description": "The stream's signed checkpoint (C2SP signed note of a \
                    tlog-checkpoint: origin, tree size, base64 root, a blank line, signature lines)."},
                "signature_checked_by": {"type": "string", "description": "Present when the server holds the log's \
                    verifier key and the checkpoint's signature by it holds: the key's name."},
                "server_verify_error": {"type": "string", "description": "Present when the server holds the log's \
                    verifier key and the proof does not verify under it: why."}}},
        "Event": {"type": "object", "required": ["id", "occurred_at", "recorded_at", "tenant_id", "action",
            "category", "severity", "outcome", "reason", "actor", "target", "targets", "description",
            "context", "changes", "metadata", "truncated", "lossy_utf8", "integrity"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "occurred_at": {"type": "string", "format": "date-time"},
                "recorded_at": {"type": ["string", "null"], "format": "date-time"},
                "tenant_id": nullable_string(),
                "action": {"type": "string"},
                "category": {"$ref": "#/components/schemas/Category"},
                "severity": {"type": "string", "enum": ["info", "notice", "warning", "critical"]},
                "outcome": {"type": "string", "enum": ["success", "failure", "denied"]},
                "reason": nullable_string(),
                "actor": {"$ref": "#/components/schemas/Actor"},
                "target": {"oneOf": [{"$ref": "#/components/schemas/Target"}, {"type": "null"}]},
                "targets": {"type": "array", "items": {"$ref": "#/components/schemas/Target"}},
                "description": nullable_string(),
                "context": {"$ref": "#/components/schemas/Context"},
                "changes": {"oneOf": [{"$ref": "#/components/schemas/Changes"}, {"type": "null"}]},
                "metadata": {"type": "object"},
                "truncated": {"type": "boolean"},
                "lossy_utf8": {"type": "boolean"},
                "integrity": {"oneOf": [{"$ref": "#/components/schemas/Integrity"}, {"type": "null"}]},
            }},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{MAX_LIMIT, MAX_OFFSET};

    #[test]
    fn every_parameter_states_what_the_parser_checks() {
        let doc = document("/audit-logs", &[], &[]);
        let list = doc["paths"]["/"]["get"]["parameters"].as_array().unwrap();
        let schema = |name: &str| list.iter().find(|p| p["name"] == name).unwrap()["schema"].clone();
        assert_eq!(schema("limit")["maximum"], MAX_LIMIT);
        assert_eq!(schema("offset")["maximum"], MAX_OFFSET);
        assert_eq!(schema("since")["anyOf"][0]["format"], "date-time");
        assert_eq!(schema("ip")["anyOf"][1]["format"], "ipv6");
        assert_eq!(schema("outcome")["items"]["enum"][0], "success");
        assert_eq!(schema("not_action")["items"]["pattern"], ACTION);
        assert_eq!(schema("actor_id")["pattern"], PRINTABLE);
        assert_eq!(doc["servers"][0]["url"], "/audit-logs");
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        for path in [
            "/",
            "/{id}",
            "/{id}/proof",
            "/export",
            "/actions",
            "/checkpoints",
            "/consistency",
            "/health",
        ] {
            let responses = &doc["paths"][path]["get"]["responses"];
            assert!(responses["401"].is_object() && responses["403"].is_object(), "{path}");
        }
        assert_eq!(doc["paths"]["/openapi.json"]["get"]["security"], json!([]));
    }
}
