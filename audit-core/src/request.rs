//! [`RequestContext`]: who acts, for which tenant, from where.
//!
//! A module of its own, apart from the scope runtime (`scope.rs`), so that
//! what fills an event from it (the builder's deferred fill) need not depend
//! on the scope runtime, which depends on the builder.

use crate::event::{Actor, EventContext};

/// Who acts, for which tenant, from where: what a scope adds to every event.
///
/// ```
/// use audit_core::{Actor, RequestContext};
/// let request = RequestContext::new(Actor::user("user_alice")).with_tenant("acme");
/// assert_eq!(request.tenant_id.as_deref(), Some("acme"));
/// ```
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The actor every event of the scope is attributed to (unless overridden).
    pub actor: Actor,
    /// The tenant every event of the scope belongs to (unless overridden).
    pub tenant_id: Option<String>,
    /// Client IP, user agent, request id, method, route, status.
    pub context: EventContext,
    /// Whether any header was decoded from invalid UTF-8.
    pub lossy_utf8: bool,
}

impl RequestContext {
    /// A context with `actor` and nothing else.
    pub fn new(actor: Actor) -> Self {
        Self {
            actor,
            tenant_id: None,
            context: EventContext::default(),
            lossy_utf8: false,
        }
    }

    /// Sets the tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Sets the request context.
    #[must_use]
    pub fn with_context(mut self, context: EventContext) -> Self {
        self.context = context;
        self
    }
}
