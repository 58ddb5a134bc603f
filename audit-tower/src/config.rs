//! What an [`AuditLayer`](crate::AuditLayer) was configured with: the
//! [`Delivery`] mode and the settings its services share. Apart from the
//! layer so that capturing and finalising a request need not know the layer.

use std::sync::Arc;
use std::time::Duration;

use audit_core::{Auditor, Durability};
use http::{HeaderName, HeaderValue};

use crate::client_ip::{ClientIpSource, TrustedProxies};
use crate::denied::{DeniedCounter, DeniedLimit};

/// When a response may leave, relative to its events being stored.
///
/// In every mode the layer first takes room in the auditor's queue for the
/// request's first event ([`Auditor::try_reserve`], waiting as the
/// auditor's overflow policy says), and only then runs the handler: when
/// there is no room (the store is down or behind and the queue is full),
/// the request is answered with the 503 "audit unavailable" response
/// *before* anything happens. The handler's future is created by the
/// inner service's `call` and polled only once the request is admitted;
/// a service that acts inside `call` itself (not axum's handlers) acts
/// before admission.
///
/// | mode | a 2xx leaves once its events are | process crash / SIGKILL | store down for N s | disk full | power loss |
/// |---|---|---|---|---|---|
/// | `Buffered` | queued in memory | queued events lost (counted, not acknowledged as stored) | absorbed while the queue has room, then 503 before acting | the store's write fails and is retried; 503 once the queue is full | queued events lost |
/// | `Spooled` | `fdatasync`ed in the auditor's [`Spool`](audit_core::Spool) | nothing acknowledged is lost: replayed at the next start | absorbed while the spool has room (`max_bytes`), then 503 before acting | spool appends fail: 503 (`spool_down`) until space returns | nothing acknowledged is lost, as far as the disk honours `fdatasync` |
/// | `Confirmed` | committed in the store | nothing acknowledged is lost | 503 before acting (`store_down`) | 503 until the store writes again | nothing acknowledged is lost, as far as the store's commit is durable |
///
/// A 503 names its reason in the `audit-unavailable-reason` header and, with
/// the default body, in `error.reason`: `queue_full`, `store_down`,
/// `spool_down`, `dropped`, `rejected`, `timeout` or `shut_down`. In the
/// `Spooled` and `Confirmed` modes a request gets a 2xx only when every one
/// of its events is durable: an event the store rejects for good, or that
/// the `DropAndCount` policy would drop, turns the response into a 503.
///
/// None of the modes makes the action and its record atomic: a handler that
/// changed something has changed it, whatever happens to its event after.
/// Only recording the event in the business transaction does
/// (`audit_core::complete_for_transaction` with the store's `record_in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Delivery {
    /// The response leaves once the request's events are queued (default).
    /// Fast; an event can be lost only if the process dies before the queue
    /// drains (graceful shutdown drains it).
    #[default]
    Buffered,
    /// The response waits until the request's events are durable in the
    /// auditor's [`Spool`](audit_core::Spool) (one `fdatasync` shared by
    /// every request in the batch); an auditor without a spool waits for the
    /// store instead, like `Confirmed`. Past `timeout`, or while the spool
    /// cannot be written, the client gets the 503.
    Spooled {
        /// How long a response may wait for its events.
        timeout: Duration,
    },
    /// The response waits until the store has committed the request's
    /// events; if that takes longer than `timeout`, the client gets the 503
    /// "audit unavailable" response instead (the events stay queued and are
    /// written when the sink recovers). While the sink is known to be
    /// failing ([`Auditor::is_sink_down`]), requests are refused with that
    /// 503 before their handler runs.
    Confirmed {
        /// How long a response may wait for its events.
        timeout: Duration,
    },
}

impl Delivery {
    /// How durable the events must be before the response, and for how
    /// long to wait; `None` for `Buffered`.
    pub(crate) fn confirmation(self) -> Option<(Durability, Duration)> {
        match self {
            Self::Buffered => None,
            Self::Spooled { timeout } => Some((Durability::Spooled, timeout)),
            Self::Confirmed { timeout } => Some((Durability::Stored, timeout)),
        }
    }
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
    /// `None`: the default JSON body, which names the reason.
    pub(crate) unavailable_body: Option<String>,
}

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
            unavailable_body: None,
        }
    }
}
