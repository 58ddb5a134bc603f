//! [`RequestFill`]: a scope's actor, tenant and request context, filled into
//! an event only when it is built.

use std::fmt;
use std::sync::Arc;

use crate::event::EventContext;
use crate::request::RequestContext;

use super::EventBuilder;

/// What a [`RequestFill`] takes the request from: the scope's shared state.
///
/// A trait, so that the builder does not depend on the scope runtime (which
/// depends on the builder), and implemented by the scope's own allocation
/// rather than by an `Arc<RequestContext>` of its own: a request then costs
/// one allocation for the scope and its events' fills, not two.
pub(crate) trait SharedRequest: Send + Sync {
    /// The actor, tenant and context the scope was opened with.
    fn request(&self) -> &RequestContext;

    /// The request, moved out when this was the last handle on the shared
    /// state; otherwise the handle back.
    fn into_request(self: Arc<Self>) -> Result<RequestContext, Arc<dyn SharedRequest>>;
}

/// The scope's share of an event (actor, tenant, request context), not
/// copied yet: the event holds the scope's shared state (one reference
/// count) and takes the parts when it is built. Every event of a request
/// shares them, and the last one built after the request has finished moves
/// them out.
#[derive(Clone)]
pub(crate) struct RequestFill {
    shared: Arc<dyn SharedRequest>,
    actor: bool,
    tenant: bool,
    context: bool,
    /// The response status to set on the scope's context once it is taken.
    status: Option<Option<u16>>,
}

impl fmt::Debug for RequestFill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestFill")
            .field("request", self.shared.request())
            .field("actor", &self.actor)
            .field("tenant", &self.tenant)
            .field("context", &self.context)
            .field("status", &self.status)
            .finish()
    }
}

impl RequestFill {
    /// Fills `builder` from `shared`'s request as
    /// [`EventBuilder::fill_from_scope`] would (then sets `status`, if given,
    /// on its context), deferring every copy it can to [`apply`](Self::apply).
    /// The caller has applied any fill deferred earlier, and set the identity
    /// the scope was given since it opened (`AuditScope::identify`).
    pub(crate) fn defer(builder: &mut EventBuilder, shared: Arc<dyn SharedRequest>, status: Option<Option<u16>>) {
        debug_assert!(builder.request_fill.is_none(), "an earlier fill is applied first");
        let request = shared.request();
        builder.lossy_utf8 |= request.lossy_utf8;
        let context = builder.context == EventContext::default();
        if !context && let Some(status) = status {
            builder.context.status = status;
        }
        let actor = builder.actor.is_none();
        let tenant = builder.tenant_id.is_none() && request.tenant_id.is_some();
        if actor || tenant || context {
            builder.request_fill = Some(Self {
                shared,
                actor,
                tenant,
                context,
                status,
            });
        }
    }

    /// Copies (or moves, when this was the last handle on the shared state)
    /// the parts still missing into `builder`. A part set on the builder since stays.
    pub(crate) fn apply(self, builder: &mut EventBuilder) {
        let actor = self.actor && builder.actor.is_none();
        let tenant = self.tenant && builder.tenant_id.is_none();
        let context = self.context && builder.context == EventContext::default();
        match self.shared.into_request() {
            Ok(request) => {
                if actor {
                    builder.actor = Some(request.actor);
                }
                if tenant {
                    builder.tenant_id = request.tenant_id;
                }
                if context {
                    builder.context = request.context;
                }
            }
            Err(shared) => {
                let request = shared.request();
                if actor {
                    builder.actor = Some(request.actor.clone());
                }
                if tenant {
                    builder.tenant_id.clone_from(&request.tenant_id);
                }
                if context {
                    builder.context = request.context.clone();
                }
            }
        }
        if context && let Some(status) = self.status {
            builder.context.status = status;
        }
    }
}
