//! [`AuditLayer`]: its builder and the tower `Layer`.

use std::fmt;
use std::sync::Arc;

use audit_core::Auditor;
use http::{HeaderName, HeaderValue};
use tower_layer::Layer;

use crate::actor::{ActorFromExtension, ExtractActor};
use crate::client_ip::{ClientIpSource, TrustedProxies};
use crate::config::{Config, Delivery};
use crate::denied::{DeniedCounter, DeniedLimit};
use crate::service::AuditService;
use crate::tenant::{ClaimTenant, TenantFromPrincipal};

/// Wraps a service so every request runs inside an [`AuditScope`](audit_core::AuditScope)
/// that knows who acts, for which tenant, from where; after the response, the
/// request's events get their outcome and context and go to the [`Auditor`].
///
/// See the [crate docs](crate) for the whole picture.
///
/// ```
/// use std::time::Duration;
/// use audit_core::{Auditor, MemorySink};
/// use audit_tower::{AuditLayer, ClientIpSource, Delivery, TenantFromHeader};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let auditor = Auditor::builder().start(MemorySink::new());
/// let layer = AuditLayer::new(auditor)
///     .trusted_proxies(["10.0.0.0/8".parse().unwrap()])
///     .client_ip_source(ClientIpSource::Forwarded)
///     .tenant(TenantFromHeader::new("x-tenant-id"))
///     .request_id_header("x-correlation-id")
///     .record_denied(true)
///     .record_mutations(true)
///     .delivery(Delivery::Confirmed { timeout: Duration::from_secs(2) });
/// let app: axum::Router = axum::Router::new().layer(layer);
/// # let _ = app;
/// # }
/// ```
pub struct AuditLayer<A = ActorFromExtension, T = TenantFromPrincipal> {
    pub(crate) config: Arc<Config>,
    pub(crate) actor: Arc<A>,
    pub(crate) tenant: Arc<T>,
}

impl<A, T> Clone for AuditLayer<A, T> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
            actor: Arc::clone(&self.actor),
            tenant: Arc::clone(&self.tenant),
        }
    }
}

impl<A, T> fmt::Debug for AuditLayer<A, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLayer")
            .field("trusted_proxies", &self.config.trusted_proxies)
            .field("client_ip_source", &self.config.client_ip_source)
            .field("request_id_header", &self.config.request_id_header)
            .field("record_denied", &self.config.record_denied)
            .field("denied_limit", &self.config.denied.limit())
            .field("record_mutations", &self.config.record_mutations)
            .field("delivery", &self.config.delivery)
            .finish_non_exhaustive()
    }
}

impl AuditLayer {
    /// A layer recording to `auditor`, with the defaults: actor from the
    /// request extensions, tenant from the actor, no trusted proxies (and
    /// `X-Forwarded-For` behind any you add), `x-request-id`, no automatic
    /// events, buffered delivery.
    pub fn new(auditor: Auditor) -> Self {
        Self {
            config: Arc::new(Config::new(auditor)),
            actor: Arc::new(ActorFromExtension),
            tenant: Arc::new(TenantFromPrincipal),
        }
    }
}

impl<A, T> AuditLayer<A, T> {
    fn configure(mut self, edit: impl FnOnce(&mut Config)) -> Self {
        edit(Arc::make_mut(&mut self.config));
        self
    }

    /// How the actor is found (default [`ActorFromExtension`]).
    pub fn actor<A2: ExtractActor>(self, actor: A2) -> AuditLayer<A2, T> {
        AuditLayer {
            config: self.config,
            actor: Arc::new(actor),
            tenant: self.tenant,
        }
    }

    /// How the request claims a tenant (default: it does not; the actor's tenant is used).
    pub fn tenant<T2: ClaimTenant>(self, tenant: T2) -> AuditLayer<A, T2> {
        AuditLayer {
            config: self.config,
            actor: self.actor,
            tenant: Arc::new(tenant),
        }
    }

    /// The proxy ranges whose client-address header (the one
    /// [`client_ip_source`](Self::client_ip_source) names) is believed.
    #[must_use]
    pub fn trusted_proxies(self, ranges: impl IntoIterator<Item = ipnet::IpNet>) -> Self {
        let trusted = TrustedProxies::new(ranges);
        self.configure(|config| config.trusted_proxies = trusted)
    }

    /// The one header a trusted proxy names the client in (default
    /// [`ClientIpSource::XForwardedFor`]); no other is ever read. See
    /// [`resolve_client_ip`](crate::resolve_client_ip) for the rules.
    ///
    /// ```
    /// use audit_core::{Auditor, MemorySink};
    /// use audit_tower::{AuditLayer, ClientIpSource};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let layer = AuditLayer::new(Auditor::builder().start(MemorySink::new()))
    ///     .trusted_proxies(["10.0.0.0/8".parse().unwrap()])
    ///     .client_ip_source(ClientIpSource::XRealIp);
    /// assert!(format!("{layer:?}").contains("client_ip_source: XRealIp"));
    /// # }
    /// ```
    #[must_use]
    pub fn client_ip_source(self, source: ClientIpSource) -> Self {
        self.configure(|config| config.client_ip_source = source)
    }

    /// The header carrying the request id (default `x-request-id`). Every
    /// request gets a fresh id (a UUIDv7) as its events' `request_id`, set on
    /// the request for the handlers and echoed on the response; a
    /// well-formed id the client sent in this header is recorded beside it
    /// as `client_request_id`, never in its place, so a client cannot link
    /// its events to anyone else's.
    ///
    /// # Panics
    /// If `header` is not a valid header name (a programming error).
    #[must_use]
    pub fn request_id_header(self, header: &str) -> Self {
        let header =
            HeaderName::try_from(header).unwrap_or_else(|e| panic!("invalid request id header {header:?}: {e}"));
        self.configure(|config| config.request_id_header = header)
    }

    /// Records `auth.denied` for 401 and 403 responses (default off): the
    /// first ones of each client per window in full, the rest counted into
    /// one summary event per window (see [`DeniedLimit`]).
    #[must_use]
    pub fn record_denied(self, enabled: bool) -> Self {
        self.configure(|config| config.record_denied = enabled)
    }

    /// How many `auth.denied` events one client may cause per window before
    /// the rest are summarised (default [`DeniedLimit::default`]: 10 per
    /// minute).
    #[must_use]
    pub fn denied_limit(self, limit: DeniedLimit) -> Self {
        self.configure(|config| config.denied = DeniedCounter::new(limit, config.auditor.clone()))
    }

    /// Records `http.post`, `http.put`, `http.patch` or `http.delete` for
    /// mutating requests whose handlers recorded no event (default off).
    #[must_use]
    pub fn record_mutations(self, enabled: bool) -> Self {
        self.configure(|config| config.record_mutations = enabled)
    }

    /// Buffered (default) or confirmed delivery.
    #[must_use]
    pub fn delivery(self, delivery: Delivery) -> Self {
        self.configure(|config| config.delivery = delivery)
    }

    /// The body (and its content type) of the 503 answered when the audit
    /// trail cannot take the request's events, instead of the default JSON
    /// error (which names the reason in `error.reason`). The reason is in
    /// the `audit-unavailable-reason` header either way (see [`Delivery`]).
    ///
    /// # Panics
    /// If `content_type` is not a valid header value (a programming error).
    #[must_use]
    pub fn unavailable_body(self, content_type: &str, body: impl Into<String>) -> Self {
        let content_type = HeaderValue::try_from(content_type)
            .unwrap_or_else(|e| panic!("invalid content type {content_type:?}: {e}"));
        let body = body.into();
        self.configure(|config| {
            config.unavailable_content_type = content_type;
            config.unavailable_body = Some(body);
        })
    }
}

impl<S, A, T> Layer<S> for AuditLayer<A, T> {
    type Service = AuditService<S, A, T>;

    fn layer(&self, inner: S) -> Self::Service {
        AuditService {
            inner,
            layer: self.clone(),
        }
    }
}
