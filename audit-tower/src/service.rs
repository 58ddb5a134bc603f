//! [`AuditService`]: the middleware itself.

use std::fmt;
use std::task::{Context, Poll};

use audit_core::AuditScope;
use http::{Request, Response};
use tower_service::Service;

use crate::actor::ExtractActor;
use crate::capture::capture;
use crate::finalize::Finalizer;
use crate::future::{ResponseFuture, admit};
use crate::layer::AuditLayer;
use crate::tenant::ClaimTenant;

/// The service made by [`AuditLayer`].
pub struct AuditService<S, A, T> {
    pub(crate) inner: S,
    pub(crate) layer: AuditLayer<A, T>,
}

impl<S: Clone, A, T> Clone for AuditService<S, A, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, A, T> fmt::Debug for AuditService<S, A, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, A, T, ReqBody, ResBody> Service<Request<ReqBody>> for AuditService<S, A, T>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
    A: ExtractActor,
    T: ClaimTenant,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let layer = &self.layer;
        let captured = capture(&mut parts, &layer.config, &*layer.actor, &*layer.tenant);
        // No `AuditContext` extension: the handler runs inside the scope, where
        // the extractor finds it (`AuditScope::current`).
        let scope = AuditScope::new(captured.request);
        let method = parts.method.clone();
        let request = Request::from_parts(parts, body);
        // `call` itself may run application code (routing, sync work): give it the scope too.
        let inner = scope.run_sync(|| self.inner.call(request));
        let admission = admit(&layer.config);
        let finalizer = Finalizer {
            scope: Some(scope.clone()),
            config: layer.config.clone(),
            request_id: captured.request_id,
            method,
            early_events: captured.early_events,
            reservation: None,
        };
        // The inner future is made here but polled (the handler run) only
        // once the request is admitted.
        ResponseFuture::new(scope.scoped(inner), finalizer, admission)
    }
}
