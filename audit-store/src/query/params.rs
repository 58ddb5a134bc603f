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
    /// What the parser checks about each value.
    pub format: ValueFormat,
}

/// What [`AuditQuery::from_params`](super::AuditQuery::from_params) checks
/// about one value of a parameter, beyond "not empty": the OpenAPI document
/// states the same as `minimum`/`maximum`, `format`, `pattern` and
/// `maxLength`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueFormat {
    /// Text compared exactly: at most [`MAX_VALUE_CHARS`](super::MAX_VALUE_CHARS)
    /// characters, no control characters (recorded values never hold one).
    Text,
    /// Free text ([`AuditQuery::text`](super::AuditQuery::text)): no control
    /// characters and at least one word.
    Search,
    /// One of [`QueryParameter::values`].
    Enumeration,
    /// A whole number from `minimum` to `maximum`.
    Integer {
        /// The smallest value accepted.
        minimum: u32,
        /// The largest value accepted.
        maximum: u32,
    },
    /// An RFC 3339 time, or a date (midnight UTC), within the years 0000 to
    /// 9999 once in UTC (what RFC 3339 can write back).
    Time,
    /// An IPv4 or IPv6 address.
    Ip,
    /// An action, or a prefix written `prefix.*`.
    Action,
    /// A `next_cursor`: opaque, signed, and bound to the filters it was issued for.
    Cursor,
}

const fn param(name: &'static str, description: &'static str) -> QueryParameter {
    formatted(name, description, ValueFormat::Text)
}

const fn formatted(name: &'static str, description: &'static str, format: ValueFormat) -> QueryParameter {
    QueryParameter {
        name,
        description,
        repeatable: false,
        schema_type: "string",
        values: &[],
        format,
    }
}

const fn actions(name: &'static str, description: &'static str) -> QueryParameter {
    QueryParameter {
        repeatable: true,
        ..formatted(name, description, ValueFormat::Action)
    }
}

const fn many(name: &'static str, description: &'static str, values: &'static [&'static str]) -> QueryParameter {
    QueryParameter {
        name,
        description,
        repeatable: true,
        schema_type: "string",
        values,
        format: ValueFormat::Enumeration,
    }
}

const fn integer(name: &'static str, description: &'static str, minimum: u32, maximum: u32) -> QueryParameter {
    QueryParameter {
        schema_type: "integer",
        ..formatted(name, description, ValueFormat::Integer { minimum, maximum })
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
    actions(
        "action",
        "An exact action (`member.invited`) or every action under a prefix (`billing.*`).",
    ),
    actions(
        "not_action",
        "Leave out an exact action or every action under a prefix (`audit_log.*`: the log's own reads), whatever else matches.",
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
    formatted(
        "since",
        "Events that occurred at or after this time: RFC 3339, or a date (midnight UTC). \
         Without `since` and `until`, the last 30 days (the API's default window).",
        ValueFormat::Time,
    ),
    formatted(
        "until",
        "Events that occurred before this time: RFC 3339, or a date (midnight UTC); later than `since`. \
         Without `since` and `until`, the last 30 days (the API's default window).",
        ValueFormat::Time,
    ),
    formatted(
        "ip",
        "Only events from this client IP (IPv4-mapped IPv6 matches its IPv4 form).",
        ValueFormat::Ip,
    ),
    param("request_id", "Only events of this request."),
    formatted(
        "q",
        "Free text: every word or \"quoted phrase\" must occur, case-insensitively, in the description or an actor or target id, email, name or type.",
        ValueFormat::Search,
    ),
    integer("limit", "Page size, 1 to 200 (default 50).", 1, super::MAX_LIMIT),
    formatted(
        "cursor",
        "The `next_cursor` of the previous page: opaque, signed, and valid only with the same filters.",
        ValueFormat::Cursor,
    ),
    integer(
        "offset",
        "Events to skip, at most 100000; not with `cursor`.",
        0,
        super::MAX_OFFSET,
    ),
];

/// The parameter names, in table order.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    QUERY_PARAMETERS.iter().map(|p| p.name)
}
