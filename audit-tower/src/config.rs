//! What an [`AuditLayer`](crate::AuditLayer) was configured with: the
//! [`Delivery`] mode and the settings its services share. Apart from the
//! layer so that capturing and finalising a request need not know the layer.

use std::sync::Arc;
use std::time::Duration;

use audit_core::Auditor;
use http::{HeaderName, HeaderValue};

use crate::client_ip::{ClientIpSource, TrustedProxies};
use crate::denied::{DeniedCounter, DeniedLimit};

/// When a response may leave, relative to its events being stored.
///
/// In both modes the layer first takes room in the auditor's queue for the
/// request's first event ([`Auditor::try_reserve`], waiting as the
/// auditor's overflow policy says), and only then runs the handler: when
/// there is no room (the store is down or behind and the queue is full),
/// the request is answered with the 503 "audit unavailable" response
/// *before* anything happens. The handler's future is created by the
/// inner service's `call` and polled only once the request is admitted;
/// a service that acts inside `call` itself (not axum's handlers) acts
/// before admission.
///
/// Neither mode makes the action and its record atomic: a handler that
/// changed something has changed it, whatever happens to its event after.
/// Only recording the event in the business transaction does
/// (`audit_core::complete_for_transaction` with the store's `record_in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// The response leaves once the request's events are queued (default).
    /// Fast; an event can be lost only if the process dies before the queue
    /// drains (graceful shutdown drains it).
    #[default]
    Buffered,
    /// The response waits until the auditor has handed the request's events
    /// to the sink ([`Auditor::flush`]); if that takes longer than `timeout`,
    /// the client gets the 503 "audit unavailable" response instead (the
    /// events stay queued and are written when the sink recovers). While the
    /// sink is known to be failing ([`Auditor::is_sink_down`]), requests are
    /// refused with that 503 before their handler runs.
    Confirmed {
        /// How long a response may wait for its events.
        timeout: Duration,
    },
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) auditor: Auditor,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) client_ip_source: ClientIpSource,
    pub(crate) request_id_header: HeaderName,
    pub(crate) record_denied: bool,
    /// Shared by every service of the layer (and its clones).
    pub(crate) denied: Arc<DeniedCounter>,
    pub(crate) record_mutations: bool,
    pub(crate) delivery: Delivery,
    pub(crate) unavailable_content_type: HeaderValue,
    pub(crate) unavailable_body: String,
}

pub(crate) const DEFAULT_UNAVAILABLE_BODY: &str = r#"{"error":{"code":"audit_unavailable","message":"The audit trail could not record this request, so it was not confirmed. Retry later."}}"#;

impl Config {
    /// The defaults of [`AuditLayer::new`](crate::AuditLayer::new).
    pub(crate) fn new(auditor: Auditor) -> Self {
        Self {
            denied: DeniedCounter::new(DeniedLimit::default(), auditor.clone()),
            auditor,
            trusted_proxies: TrustedProxies::none(),
            client_ip_source: ClientIpSource::default(),
            request_id_header: HeaderName::from_static("x-request-id"),
            record_denied: false,
            record_mutations: false,
            delivery: Delivery::Buffered,
            unavailable_content_type: HeaderValue::from_static("application/json"),
            unavailable_body: DEFAULT_UNAVAILABLE_BODY.to_owned(),
        }
    }
}
