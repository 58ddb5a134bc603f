//! Error responses: `{"error": {"code", "message", "param"}}`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::merkle::ProofError;
use crate::{QueryError, StoreError};

/// An error the admin API answers with.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    param: Option<String>,
}

impl ApiError {
    pub(crate) fn invalid(error: &QueryError) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_parameter",
            message: error.to_string(),
            param: Some(error.parameter().to_owned()),
        }
    }

    pub(crate) fn forbidden(message: String, param: Option<&str>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message,
            param: param.map(str::to_owned),
        }
    }

    pub(crate) fn not_found(message: String) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message,
            param: None,
        }
    }

    pub(crate) fn method_not_allowed(method: &axum::http::Method) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
            message: format!("{method} is not allowed here; the audit log is read with GET (see the Allow header)"),
            param: None,
        }
    }

    pub(crate) fn internal(message: &str) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: message.to_owned(),
            param: None,
        }
    }

    /// No signed checkpoint covers the event yet: a 409 the client may
    /// retry once the checkpointer has run.
    pub(crate) fn not_checkpointed(message: String) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "not_checkpointed",
            message,
            param: None,
        }
    }

    /// The store did not answer (in time): a 503 the client may retry.
    pub(crate) fn unavailable(message: String) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "store_unavailable",
            message,
            param: None,
        }
    }

    /// A proof the store cannot give for the value of `param`: a 400
    /// naming it, or a 409 when the sizes are fine but the stream cannot
    /// answer (`not_checkpointed`: no signed checkpoint covers it yet;
    /// `no_tree`: its tree is not kept).
    pub(crate) fn proof(stream: &str, error: &ProofError, param: &str) -> Self {
        let message = format!("{stream}: {error}");
        let conflict = |code| Self {
            status: StatusCode::CONFLICT,
            code,
            message: message.clone(),
            param: Some(param.to_owned()),
        };
        match error {
            ProofError::NotCheckpointed { .. } => conflict("not_checkpointed"),
            ProofError::NoTree => conflict("no_tree"),
            _ => Self::invalid(&QueryError::new(
                param.to_owned(),
                format!("cannot be proved: {message}"),
            )),
        }
    }

    /// The message, for the audit event's `reason`.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Query(error) => Self::invalid(&error),
            StoreError::Proof {
                error: error @ ProofError::NotCheckpointed { .. },
                ..
            } => Self::not_checkpointed(error.to_string()),
            StoreError::Database(error) if is_unreachable(&error) => {
                tracing::warn!(%error, "audit admin API: the store is unreachable");
                Self::unavailable("the audit store is unreachable; retry later".to_owned())
            }
            other => {
                // Details (SQL, paths) stay in the server's log.
                tracing::error!(error = %other, "audit admin API: store error");
                Self::internal("the audit store failed to answer; the server log has the details")
            }
        }
    }
}

/// Whether the database could not be reached at all (down, restarting,
/// every connection busy), as opposed to failing the query.
fn is_unreachable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed
    )
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        Self::invalid(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message, "param": self.param}});
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        response
    }
}
