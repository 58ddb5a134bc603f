//! The 503 a request gets when the audit trail cannot vouch for it, and
//! why: each refusal names its reason, in the `audit-unavailable-reason`
//! header and (with the default body) in the JSON error.

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderName, HeaderValue, Response, StatusCode};

use crate::config::Config;

/// The header naming why a request was answered 503.
pub(crate) const REASON_HEADER: HeaderName = HeaderName::from_static("audit-unavailable-reason");

/// Why the audit trail could not take (or confirm) a request's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// The queue stayed full for the block timeout, or, in a confirming
    /// mode under `DropAndCount`, had no room (the event would be dropped).
    QueueFull,
    /// Confirmed delivery while the store is known to be failing.
    StoreDown,
    /// Spooled delivery while the spool cannot be written.
    SpoolDown,
    /// Under `DropAndCount` the event was dropped: not stored.
    Dropped,
    /// The store refused the event for good.
    Rejected,
    /// The events were not confirmed within the delivery's timeout (they
    /// stay queued and are written when the store or spool recovers).
    Timeout,
    /// The auditor has shut down.
    ShutDown,
}

impl Unavailable {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::StoreDown => "store_down",
            Self::SpoolDown => "spool_down",
            Self::Dropped => "dropped",
            Self::Rejected => "rejected",
            Self::Timeout => "timeout",
            Self::ShutDown => "shut_down",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::QueueFull => "The audit queue is full, so this request was not carried out. Retry later.",
            Self::StoreDown => "The audit store is unavailable, so this request was not carried out. Retry later.",
            Self::SpoolDown => "The audit spool cannot be written, so this request was not carried out. Retry later.",
            Self::Dropped => "The audit trail dropped this request's record, so it was not confirmed.",
            Self::Rejected => "The audit store refused this request's record, so it was not confirmed.",
            Self::Timeout => "The audit trail did not confirm this request's record in time. Retry later.",
            Self::ShutDown => "The service is shutting down and could not record this request.",
        }
    }

    /// The default body: `{"error":{"code":"audit_unavailable","reason":…,"message":…}}`.
    pub(crate) fn default_body(self) -> String {
        serde_json::json!({
            "error": {
                "code": "audit_unavailable",
                "reason": self.code(),
                "message": self.message(),
            }
        })
        .to_string()
    }

    /// The 503 response: the configured body (or the default one for this
    /// reason), the reason header, `Retry-After` and the request id.
    pub(crate) fn response<B: From<String>>(self, config: &Config, request_id: &HeaderValue) -> Response<B> {
        let body = config.unavailable_body.clone().unwrap_or_else(|| self.default_body());
        let mut response = Response::new(B::from(body));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, config.unavailable_content_type.clone());
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        headers.insert(REASON_HEADER, HeaderValue::from_static(self.code()));
        headers.insert(config.request_id_header.clone(), request_id.clone());
        response
    }
}
