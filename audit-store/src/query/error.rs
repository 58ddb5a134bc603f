//! [`QueryError`].

use std::borrow::Cow;

/// A query parameter that cannot be used, and why.
///
/// [`parameter`](Self::parameter) is the name the parameter has in
/// [`AuditQuery::from_params`](crate::AuditQuery::from_params) (and in the
/// HTTP API), so a client can be told exactly which input to fix.
///
/// ```
/// use audit_store::AuditQuery;
///
/// let error = AuditQuery::from_params([("limit", "500")]).unwrap_err();
/// assert_eq!(error.parameter(), "limit");
/// assert_eq!(error.to_string(), "`limit` must be between 1 and 200, got 500");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{parameter}` {message}")]
pub struct QueryError {
    parameter: Cow<'static, str>,
    message: String,
}

impl QueryError {
    pub(crate) fn new(parameter: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            parameter: parameter.into(),
            message: message.into(),
        }
    }

    /// The parameter at fault (`limit`, `cursor`, `action`, …).
    pub fn parameter(&self) -> &str {
        &self.parameter
    }

    /// What is wrong with it, without the parameter's name.
    pub fn message(&self) -> &str {
        &self.message
    }
}
