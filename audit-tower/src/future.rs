//! [`ResponseFuture`]: runs the handler in the scope, then finishes the audit work.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use audit_core::{AuditScope, Auditor, Durability, RecordError, Reservation, TryReserveError};
use http::{HeaderValue, Response};
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;

use crate::config::Config;
use crate::finalize::{Ending, Finalizer};
use crate::unavailable::Unavailable;

type Delivering = Pin<Box<dyn Future<Output = Result<(), Unavailable>> + Send>>;
type Reserving = Pin<Box<dyn Future<Output = Result<Option<Reservation>, Unavailable>> + Send>>;

/// Whether a request may run its handler: only once its first event has
/// room in the auditor's queue, so that an action the trail cannot record
/// is refused before it happens, not after.
pub(crate) enum Admission {
    /// Room was reserved at once (or the fail-open policy lets it go ahead).
    Admitted(Option<Reservation>),
    /// The queue is full: wait for room under the overflow policy (boxed:
    /// the slow path).
    Waiting(Reserving),
    /// The auditor is shut down, or the delivery cannot confirm now (the
    /// store or spool is failing): the request is answered 503 without
    /// running.
    Refused(Unavailable),
}

/// Why a confirming delivery cannot vouch for a request now: the store is
/// failing (or, for a spooled one with a spool, the spool is).
fn unconfirmable(auditor: &Auditor, durability: Durability) -> Option<Unavailable> {
    if durability == Durability::Spooled && auditor.has_spool() {
        return auditor.is_spool_down().then_some(Unavailable::SpoolDown);
    }
    auditor.is_sink_down().then_some(Unavailable::StoreDown)
}

/// Decides a request's [`Admission`] before its handler runs.
pub(crate) fn admit(config: &Config) -> Admission {
    let auditor = &config.auditor;
    // A confirming request would act and then wait for a store (or spool)
    // known to be failing: refuse it while nothing has happened yet.
    let confirmation = config.delivery.confirmation();
    if let Some(reason) = confirmation.and_then(|(durability, _)| unconfirmable(auditor, durability)) {
        return Admission::Refused(reason);
    }
    match auditor.try_reserve() {
        Ok(reservation) => Admission::Admitted(Some(reservation)),
        Err(TryReserveError::Full) => {
            let auditor = auditor.clone();
            let confirming = confirmation.is_some();
            Admission::Waiting(Box::pin(async move {
                match auditor.reserve().await {
                    // `DropAndCount` lets a buffered request go ahead without
                    // room; a confirming one would only find its event
                    // dropped after acting.
                    Ok(None) if confirming => Err(Unavailable::QueueFull),
                    Ok(reservation) => Ok(reservation),
                    Err(RecordError::Overflow { .. }) => Err(Unavailable::QueueFull),
                    Err(_) => Err(Unavailable::ShutDown),
                }
            }))
        }
        Err(_) => Admission::Refused(Unavailable::ShutDown),
    }
}

enum State<B> {
    /// Waiting for room in the queue before the handler may run.
    Admitting(Reserving),
    /// Answering 503 without having run the handler.
    Refused(Unavailable),
    Running,
    /// Waiting for room in the queue, or for confirmation (boxed: the slow path).
    Delivering(Box<Waiting<B>>),
    Done,
}

struct Waiting<B> {
    response: Option<Response<B>>,
    delivery: Delivering,
    /// For the 503, should delivery fail.
    config: Arc<Config>,
    request_id: HeaderValue,
}

/// Finishes the audit work of a request whose response future is dropped
/// early (client gone) — after the handler's own future, so its drafts have
/// been handed back to the scope by then.
struct AbandonGuard(Option<Finalizer>);

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        if let Some(finalizer) = self.0.take() {
            finalizer.abandon(Ending::Cancelled);
        }
    }
}

pin_project! {
    /// The response future of [`AuditService`](crate::AuditService).
    pub struct ResponseFuture<F, B> {
        // Declared before `guard`: dropped first, so drafts it still holds
        // are completed before the guard finishes the request.
        #[pin]
        inner: TaskLocalFuture<AuditScope, F>,
        state: State<B>,
        guard: AbandonGuard,
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn new(inner: TaskLocalFuture<AuditScope, F>, mut finalizer: Finalizer, admission: Admission) -> Self {
        let state = match admission {
            Admission::Admitted(reservation) => {
                finalizer.reservation = reservation;
                State::Running
            }
            Admission::Waiting(reserving) => State::Admitting(reserving),
            Admission::Refused(reason) => State::Refused(reason),
        };
        Self {
            inner,
            state,
            guard: AbandonGuard(Some(finalizer)),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: From<String>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state {
                State::Admitting(reserving) => match ready!(reserving.as_mut().poll(cx)) {
                    Ok(reservation) => {
                        if let Some(finalizer) = this.guard.0.as_mut() {
                            finalizer.reservation = reservation;
                        }
                        *this.state = State::Running;
                    }
                    Err(reason) => *this.state = State::Refused(reason),
                },
                State::Refused(reason) => {
                    // The handler never ran: there is nothing to record but
                    // what the layer captured, which has no room either.
                    let Some(finalizer) = this.guard.0.take() else {
                        panic!("ResponseFuture polled after completion");
                    };
                    if !finalizer.early_events.is_empty() {
                        tracing::warn!(
                            events = finalizer.early_events.len(),
                            "a refused request's captured audit events were not recorded: the audit trail is unavailable"
                        );
                    }
                    let response = reason.response(&finalizer.config, &finalizer.request_id);
                    *this.state = State::Done;
                    return Poll::Ready(Ok(response));
                }
                State::Running => {
                    let polled = catch_unwind(AssertUnwindSafe(|| this.inner.as_mut().poll(cx)));
                    let result = match polled {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(result)) => result,
                        Err(panic) => {
                            // Record the failure, then let the panic go on (e.g. to CatchPanic).
                            if let Some(finalizer) = this.guard.0.take() {
                                finalizer.abandon(Ending::Panicked);
                            }
                            resume_unwind(panic);
                        }
                    };
                    let Some(mut finalizer) = this.guard.0.take() else {
                        panic!("ResponseFuture polled after completion");
                    };
                    // The handler is done: let go of the task-local's handle
                    // on the scope, so the request's last event can take the
                    // scope over (`Finalizer::queue_events`).
                    drop(this.inner.as_mut().take_value());
                    let mut response = match result {
                        Ok(response) => response,
                        Err(error) => {
                            finalizer.abandon(Ending::ServiceError);
                            *this.state = State::Done;
                            return Poll::Ready(Err(error));
                        }
                    };
                    response
                        .headers_mut()
                        .insert(finalizer.config.request_id_header.clone(), finalizer.request_id.clone());
                    let queued = finalizer.queue_events(Ending::Responded(response.status()));
                    let buffered = finalizer.config.delivery.confirmation().is_none();
                    let delivery: Delivering = match queued {
                        Ok(waiting) if waiting.is_empty() && buffered => {
                            *this.state = State::Done;
                            return Poll::Ready(Ok(response));
                        }
                        Ok(waiting) => Box::pin(finalizer.deliver(waiting)),
                        Err(()) => Box::pin(std::future::ready(Err(Unavailable::ShutDown))),
                    };
                    *this.state = State::Delivering(Box::new(Waiting {
                        response: Some(response),
                        delivery,
                        config: Arc::clone(&finalizer.config),
                        request_id: finalizer.request_id.clone(),
                    }));
                }
                State::Delivering(waiting) => {
                    let delivered = ready!(waiting.delivery.as_mut().poll(cx));
                    let answer = match delivered {
                        Ok(()) => waiting
                            .response
                            .take()
                            .unwrap_or_else(|| unreachable!("set when entering Delivering")),
                        Err(reason) => reason.response(&waiting.config, &waiting.request_id),
                    };
                    *this.state = State::Done;
                    return Poll::Ready(Ok(answer));
                }
                State::Done => panic!("ResponseFuture polled after completion"),
            }
        }
    }
}
