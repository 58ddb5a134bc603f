//! The query parameters, described once: [`AuditQuery::from_params`]
//! parses them, and the HTTP API's OpenAPI document and the CLI's help are
//! written from this table.
//!
//! [`AuditQuery::from_params`]: super::AuditQuery::from_params

/// One parameter of [`AuditQuery::from_params`](super::AuditQuery::from_params).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryParameter {
    /// Its name in a query string.
    pub name: &'static str,
    /// What it does, one sentence.
    pub description: &'static str,
    /// Whether several values are allowed (repeated, or comma-separated).
    pub repeatable: bool,
    /// Its JSON Schema type: `string` or `integer`.
    pub schema_type: &'static str,
    /// The values it takes, when it is an enumeration.
    pub values: &'static [&'static str],
}

const fn param(name: &'static str, description: &'static str) -> QueryParameter {
    QueryParameter {
        name,
        description,
        repeatable: false,
        schema_type: "string",
        values: &[],
    }
}

const fn many(name: &'static str, description: &'static str, values: &'static [&'static str]) -> QueryParameter {
    QueryParameter {
        name,
        description,
        repeatable: true,
        schema_type: "string",
        values,
    }
}

const fn integer(name: &'static str, description: &'static str) -> QueryParameter {
    QueryParameter {
        name,
        description,
        repeatable: false,
        schema_type: "integer",
        values: &[],
    }
}

/// Every parameter an [`AuditQuery`](super::AuditQuery) takes from a query string.
///
/// ```
/// use audit_store::QUERY_PARAMETERS;
/// assert!(QUERY_PARAMETERS.iter().any(|p| p.name == "cursor"));
/// ```
pub const QUERY_PARAMETERS: &[QueryParameter] = &[
    param("tenant_id", "Only this tenant's events."),
    many(
        "action",
        "An exact action (`member.invited`) or every action under a prefix (`billing.*`).",
        &[],
    ),
    many(
        "category",
        "The kind of change.",
        &["create", "update", "delete", "access", "auth", "other"],
    ),
    param("actor_id", "Only events by this actor id."),
    many(
        "actor_kind",
        "The kind of actor.",
        &["user", "api_key", "service", "system", "anonymous"],
    ),
    param(
        "actor_email",
        "Only events by an actor with this email (exact, case-sensitive).",
    ),
    param("target_type", "Only events whose primary target has this type."),
    param("target_id", "Only events whose primary target has this id."),
    many(
        "severity",
        "How much the event matters.",
        &["info", "notice", "warning", "critical"],
    ),
    many(
        "outcome",
        "Whether the action went through.",
        &["success", "failure", "denied"],
    ),
    param(
        "since",
        "Events that occurred at or after this time: RFC 3339, or a date (midnight UTC).",
    ),
    param(
        "until",
        "Events that occurred before this time: RFC 3339, or a date (midnight UTC).",
    ),
    param(
        "ip",
        "Only events from this client IP (IPv4-mapped IPv6 matches its IPv4 form).",
    ),
    param("request_id", "Only events of this request."),
    param(
        "q",
        "Free text: every word or \"quoted phrase\" must occur, case-insensitively, in the description or an actor or target id, email, name or type.",
    ),
    integer("limit", "Page size, 1 to 200 (default 50)."),
    param("cursor", "The `next_cursor` of the previous page."),
    integer("offset", "Events to skip, at most 100000; not with `cursor`."),
];

/// The parameter names, in table order.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    QUERY_PARAMETERS.iter().map(|p| p.name)
}
