//! axum extractors for the audit context.

use std::net::IpAddr;

use audit_core::{Actor, AuditScope, RequestContext};
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::actor::Principal;

/// The audit context of the current request, for handlers.
///
/// Read who is acting and from where, or name the actor once your own
/// authentication has run ([`identify`](Self::identify)).
///
/// ```
/// use audit_tower::AuditContext;
///
/// async fn whoami(audit: AuditContext) -> String {
///     format!("{} from {:?}", audit.actor().id, audit.client_ip())
/// }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(whoami));
/// ```
///
/// It is the request's [`AuditScope`], which the layer runs the handler in
/// (so any scope the handler runs in counts). In handler tests without the
/// layer, insert a [`MockAuditContext`] extension instead (as axum's
/// `MockConnectInfo` does for `ConnectInfo`).
#[derive(Debug, Clone)]
pub struct AuditContext {
    scope: AuditScope,
}

impl AuditContext {
    fn new(scope: AuditScope) -> Self {
        Self { scope }
    }

    /// The request context with any identity applied since the request began.
    pub fn request(&self) -> RequestContext {
        self.scope.effective_request()
    }

    /// Who is acting (`anonymous` until someone authenticates).
    pub fn actor(&self) -> Actor {
        self.request().actor
    }

    /// The tenant of the request's events.
    pub fn tenant_id(&self) -> Option<String> {
        self.request().tenant_id
    }

    /// The resolved client address.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.scope.request().context.client_ip
    }

    /// The request id the layer generated (also echoed on the response); the
    /// client's own, if it sent one, is `request().context.client_request_id`.
    pub fn request_id(&self) -> Option<String> {
        self.scope.request().context.request_id.clone()
    }

    /// Names who is acting, for every event of this request.
    pub fn identify(&self, principal: Principal) {
        self.scope.identify(principal.actor, principal.tenant_id);
    }

    /// The request's audit scope.
    pub fn scope(&self) -> &AuditScope {
        &self.scope
    }
}

/// Stands in for the layer's context in handler tests.
///
/// ```
/// use audit_core::{Actor, RequestContext};
/// use audit_tower::{AuditContext, MockAuditContext};
/// use axum::{Extension, Router, routing::get};
///
/// async fn handler(audit: AuditContext) -> String { audit.actor().id }
/// let app: Router = Router::new()
///     .route("/", get(handler))
///     .layer(Extension(MockAuditContext(RequestContext::new(Actor::user("test-user")))));
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct MockAuditContext(pub RequestContext);

/// [`AuditContext`] was asked for, but neither the layer nor a mock provided one.
#[derive(Debug, Clone, Copy)]
pub struct MissingAuditContext;

impl IntoResponse for MissingAuditContext {
    fn into_response(self) -> Response {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "AuditContext needs AuditLayer on this route (or a MockAuditContext extension in tests)",
        )
            .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuditContext {
    type Rejection = MissingAuditContext;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // The layer runs the handler (extractors included) inside the request's
        // scope; reading it from there spares every request an extension.
        if let Some(scope) = AuditScope::current() {
            return Ok(Self::new(scope));
        }
        match parts.extensions.get::<MockAuditContext>() {
            Some(MockAuditContext(request)) => Ok(Self::new(AuditScope::new(request.clone()))),
            None => Err(MissingAuditContext),
        }
    }
}
