//! What the layer does after the response: outcomes, automatic events, delivery.

// Events are kept in the box their draft was made in, which the auditor's
// queue takes as it is: unboxing them into a `Vec` would copy ~600 bytes each
// and box them again.
#![expect(clippy::vec_box, reason = "the boxes are the auditor's queue entries")]

use std::sync::Arc;

use audit_core::{
    Action, AuditScope, Category, Event, EventBuilder, NotStored, Outcome, OutcomeSource, RecordError, RequestContext,
    Reservation, Severity, TryRecordError,
};
use http::{HeaderValue, Method, StatusCode};

use crate::config::Config;
use crate::unavailable::Unavailable;

/// Everything needed to finish a request's audit work.
pub(crate) struct Finalizer {
    /// Taken when the events are finished (the last one may take it over).
    pub(crate) scope: Option<AuditScope>,
    pub(crate) config: Arc<Config>,
    pub(crate) request_id: HeaderValue,
    pub(crate) method: Method,
    pub(crate) early_events: Vec<Box<EventBuilder>>,
    /// Room in the auditor's queue taken before the handler ran: the
    /// request's first event goes there and cannot be refused.
    pub(crate) reservation: Option<Reservation>,
}

/// How the request ended, as far as the audit trail is concerned.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ending {
    Responded(StatusCode),
    /// The inner service returned an error instead of a response.
    ServiceError,
    Panicked,
    /// The response future was dropped before it finished (client gone).
    Cancelled,
}

impl Ending {
    fn status(self) -> Option<StatusCode> {
        match self {
            Self::Responded(status) => Some(status),
            _ => None,
        }
    }
}

/// The outcome a status implies where nobody set one.
fn outcome_of_status(status: StatusCode) -> (Outcome, Option<String>) {
    let reason = || Some(format!("HTTP {status}"));
    match status.as_u16() {
        401 | 403 => (Outcome::Denied, reason()),
        100..=399 => (Outcome::Success, None),
        _ => (Outcome::Failure, reason()),
    }
}

fn outcome_for(source: OutcomeSource, ending: Ending) -> Option<(Outcome, Option<String>)> {
    match (source, ending) {
        (OutcomeSource::Explicit, _) => None,
        (_, Ending::ServiceError) => Some((Outcome::Failure, Some("the service failed before responding".into()))),
        (_, Ending::Panicked) => Some((Outcome::Failure, Some("panicked".into()))),
        (_, Ending::Cancelled) => Some((
            Outcome::Failure,
            Some("cancelled: the client went away before the response".into()),
        )),
        (OutcomeSource::Returned, Ending::Responded(status)) => {
            matches!(status.as_u16(), 401 | 403).then(|| outcome_of_status(status))
        }
        (OutcomeSource::Unset, Ending::Responded(status)) => Some(outcome_of_status(status)),
    }
}

// Both edit the builder where it is (its box is the queue entry), not by value.
fn apply(builder: &mut EventBuilder, outcome: Option<(Outcome, Option<String>)>) {
    if let Some((outcome, reason)) = outcome {
        builder.set_outcome(outcome);
        if let Some(reason) = reason {
            builder.set_reason(reason);
        }
    }
}

/// [`apply`] for a draft the handler completed: when the response's status
/// overrides the outcome the handler returned (a 403 behind an `Err`), the
/// handler's reason says more than the status and is kept.
fn apply_to_draft(builder: &mut EventBuilder, source: OutcomeSource, ending: Ending) {
    let decided = outcome_for(source, ending);
    let keep_reason = source == OutcomeSource::Returned
        && matches!(ending, Ending::Responded(_))
        && builder.current_reason().is_some();
    match decided {
        Some((outcome, _)) if keep_reason => builder.set_outcome(outcome),
        other => apply(builder, other),
    }
}

fn automatic(action: &'static str, request: &RequestContext, status: Option<u16>) -> EventBuilder {
    let action = Action::from_static(action).unwrap_or_else(|e| unreachable!("{e}"));
    let mut context = request.context.clone();
    context.status = status;
    let mut builder = Event::builder(action, request.actor.clone()).context(context);
    if let Some(tenant) = &request.tenant_id {
        builder = builder.tenant(tenant.clone());
    }
    if request.lossy_utf8 {
        builder = builder.mark_lossy_utf8();
    }
    builder
}

fn mutation(method: &Method) -> Option<(&'static str, Category)> {
    Some(match *method {
        Method::POST => ("http.post", Category::Create),
        Method::PUT => ("http.put", Category::Update),
        Method::PATCH => ("http.patch", Category::Update),
        Method::DELETE => ("http.delete", Category::Delete),
        _ => return None,
    })
}

/// Where a request's finished events go: queued at once while there is room
/// (a buffered layer), or kept for [`Finalizer::deliver`].
struct Outbox<'a> {
    auditor: &'a audit_core::Auditor,
    /// The room reserved before the handler ran, for the first event.
    reservation: Option<Reservation>,
    /// Confirmed or spooled delivery: every event is kept, to be recorded
    /// with a receipt (the first in the reservation).
    keep_all: bool,
    /// Events that found the queue full (or all of them, when `keep_all`).
    waiting: Vec<Box<EventBuilder>>,
    closed: bool,
}

impl Outbox<'_> {
    fn push(&mut self, event: Box<EventBuilder>) {
        if self.keep_all {
            return self.waiting.push(event);
        }
        if let Some(reservation) = self.reservation.take() {
            return reservation.record(event);
        }
        if self.closed {
            return;
        }
        match self.auditor.try_record(event) {
            Ok(()) => {}
            Err(TryRecordError::Full(event)) => self.waiting.push(event),
            Err(TryRecordError::Closed(_)) => self.closed = true,
        }
    }
}

impl Finalizer {
    /// Finishes the request's events (each with its outcome and the request
    /// context) and queues each one as it is finished, while there is room:
    /// no list of them is built on the way. Returns the events that must
    /// wait for room (or, in confirmed mode, be confirmed), or `Err` when the
    /// auditor is closed.
    pub(crate) fn queue_events(&mut self, ending: Ending) -> Result<Vec<Box<EventBuilder>>, ()> {
        let early_events = std::mem::take(&mut self.early_events);
        let Some(scope) = self.scope.take() else {
            // Finished already: nothing is left to queue.
            return Ok(Vec::new());
        };
        let mut outbox = Outbox {
            auditor: &self.config.auditor,
            reservation: self.reservation.take(),
            keep_all: self.config.delivery.confirmation().is_some(),
            waiting: Vec::new(),
            closed: false,
        };
        for event in early_events {
            outbox.push(event);
        }
        self.finish_events(scope, ending, &mut outbox);
        // Kept for the first event's receipt (`deliver`).
        self.reservation = outbox.reservation.take();
        if outbox.closed {
            return Err(());
        }
        Ok(outbox.waiting)
    }

    fn finish_events(&self, scope: AuditScope, ending: Ending, outbox: &mut Outbox<'_>) {
        let status = ending.status().map(|s| s.as_u16());
        // Drafts still open (a streamed body's) go to the auditor when they complete.
        let mut drafts = scope
            .drain_completed_then_forward(&self.config.auditor, status)
            .peekable();
        // The automatic events read the scope, which the last draft takes
        // over: they are made first, and queued after the drafts as before.
        let automatic = self.automatic_events(&scope, ending, drafts.peek().is_some());
        while let Some(draft) = drafts.next() {
            let source = draft.outcome_source();
            // The scope's actor and context are copied into the event on the
            // auditor's writer, not here on the request's path; the last
            // event takes the scope over and, when no one else holds it any
            // more, moves them in at once (see `into_builder_taking`).
            let mut builder = if drafts.peek().is_some() {
                draft.into_builder_deferred(&scope, status)
            } else {
                let mut builder = draft.into_builder_taking(scope, status);
                apply_to_draft(&mut builder, source, ending);
                outbox.push(builder);
                break;
            };
            apply_to_draft(&mut builder, source, ending);
            outbox.push(builder);
        }
        for builder in automatic.into_iter().flatten() {
            outbox.push(builder);
        }
    }

    /// `auth.denied` (unless counted into a summary, with the summary of the
    /// client's previous window when it is due) and `http.<method>` when
    /// configured and called for.
    fn automatic_events(
        &self,
        scope: &AuditScope,
        ending: Ending,
        handlers_recorded: bool,
    ) -> [Option<Box<EventBuilder>>; 3] {
        let mut events = [None, None, None];
        let Ending::Responded(status_code) = ending else {
            return events;
        };
        let config = &self.config;
        let status = Some(status_code.as_u16());
        if config.record_denied && matches!(status_code.as_u16(), 401 | 403) {
            let request = scope.effective_request();
            let mut builder = automatic("auth.denied", &request, status).severity(Severity::Notice);
            apply(&mut builder, Some(outcome_of_status(status_code)));
            let admitted = config.denied.admit(request.context.client_ip, Box::new(builder));
            events[0] = admitted.summary;
            events[1] = admitted.event;
        }
        if config.record_mutations
            && !handlers_recorded
            && let Some((action, category)) = mutation(&self.method)
        {
            let request = scope.effective_request();
            let route = request.context.route.as_deref().unwrap_or("(unmatched route)");
            let mut builder = automatic(action, &request, status)
                .category(category)
                .description(format!("{} {route}", self.method));
            apply(&mut builder, Some(outcome_of_status(status_code)));
            events[2] = Some(Box::new(builder));
        }
        events
    }

    /// Queues `waiting` under the overflow policy and, in the confirming
    /// modes, waits until every event is as durable as the mode asks:
    /// `Err` names why the client must get a 503 instead.
    pub(crate) fn deliver(
        &mut self,
        waiting: Vec<Box<EventBuilder>>,
    ) -> impl Future<Output = Result<(), Unavailable>> + Send + 'static {
        let auditor = self.config.auditor.clone();
        let confirmation = self.config.delivery.confirmation();
        let mut reservation = self.reservation.take();
        async move {
            let refused = |error| match error {
                RecordError::Overflow { .. } => Unavailable::QueueFull,
                RecordError::Dropped => Unavailable::Dropped,
                _ => Unavailable::ShutDown,
            };
            let Some((durability, timeout)) = confirmation else {
                for event in waiting {
                    match auditor.record(event).await {
                        // Buffered is fail-open under `DropAndCount`.
                        Ok(()) | Err(RecordError::Dropped) => {}
                        Err(error) => return Err(refused(error)),
                    }
                }
                return Ok(());
            };
            let mut receipts = Vec::with_capacity(waiting.len());
            for event in waiting {
                receipts.push(match reservation.take() {
                    Some(reservation) => reservation.record_with_receipt(event, durability),
                    None => auditor.record_with_receipt(event, durability).await.map_err(refused)?,
                });
            }
            let confirmed = async {
                for receipt in receipts {
                    receipt.await?;
                }
                Ok(())
            };
            match tokio::time::timeout(timeout, confirmed).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(NotStored::Rejected { .. })) => Err(Unavailable::Rejected),
                Ok(Err(_)) => Err(Unavailable::ShutDown),
                Err(_) => Err(Unavailable::Timeout),
            }
        }
    }

    /// Delivers without a response to hold: after an error, a panic or a
    /// cancellation. Waits for room off the request's path if need be.
    pub(crate) fn abandon(mut self, ending: Ending) {
        let waiting = match self.queue_events(ending) {
            Ok(waiting) if waiting.is_empty() => return,
            Ok(waiting) => waiting,
            Err(()) => {
                tracing::error!("audit events of an abandoned request were not recorded: the auditor has shut down");
                return;
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let delivery = self.deliver(waiting);
                runtime.spawn(async move {
                    if let Err(reason) = delivery.await {
                        tracing::error!(
                            reason = reason.code(),
                            "audit events of an abandoned request were not confirmed"
                        );
                    }
                });
            }
            Err(_) => tracing::error!(
                events = waiting.len(),
                "audit events of an abandoned request were not recorded: queue full and no runtime"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_decides_only_where_the_code_did_not() {
        let ok = Ending::Responded(StatusCode::OK);
        let forbidden = Ending::Responded(StatusCode::FORBIDDEN);
        let not_found = Ending::Responded(StatusCode::NOT_FOUND);
        assert_eq!(
            outcome_for(OutcomeSource::Unset, ok).map(|o| o.0),
            Some(Outcome::Success)
        );
        assert_eq!(
            outcome_for(OutcomeSource::Unset, Ending::Responded(StatusCode::FOUND)).map(|o| o.0),
            Some(Outcome::Success)
        );
        assert_eq!(
            outcome_for(OutcomeSource::Unset, forbidden).map(|o| o.0),
            Some(Outcome::Denied)
        );
        assert_eq!(
            outcome_for(OutcomeSource::Unset, Ending::Responded(StatusCode::UNAUTHORIZED)).map(|o| o.0),
            Some(Outcome::Denied)
        );
        assert_eq!(
            outcome_for(OutcomeSource::Unset, not_found).map(|o| o.0),
            Some(Outcome::Failure)
        );
        assert_eq!(
            outcome_for(
                OutcomeSource::Unset,
                Ending::Responded(StatusCode::INTERNAL_SERVER_ERROR)
            )
            .map(|o| o.0),
            Some(Outcome::Failure)
        );
        // A returned outcome stands, except that a denial wins.
        assert_eq!(outcome_for(OutcomeSource::Returned, not_found), None);
        assert_eq!(
            outcome_for(OutcomeSource::Returned, forbidden).map(|o| o.0),
            Some(Outcome::Denied)
        );
        // An explicit outcome always stands.
        assert_eq!(outcome_for(OutcomeSource::Explicit, forbidden), None);
        assert_eq!(outcome_for(OutcomeSource::Explicit, Ending::Panicked), None);
        assert_eq!(
            outcome_for(OutcomeSource::Returned, Ending::Panicked).map(|o| o.0),
            Some(Outcome::Failure)
        );
    }

    #[test]
    fn a_returned_reason_outlives_the_status_that_overrides_its_outcome() {
        let builder = || {
            Event::builder(
                Action::from_static("member.role_changed").unwrap(),
                audit_core::Actor::user("u1"),
            )
        };
        let forbidden = Ending::Responded(StatusCode::FORBIDDEN);
        let applied = |mut given: EventBuilder, ending| {
            apply_to_draft(&mut given, OutcomeSource::Returned, ending);
            given.build()
        };
        let given = builder()
            .outcome(Outcome::Failure)
            .reason("only owners may change roles");
        let event = applied(given, forbidden);
        assert_eq!(event.outcome(), Outcome::Denied);
        assert_eq!(event.reason(), Some("only owners may change roles"));
        let event = applied(builder(), forbidden);
        assert_eq!(event.reason(), Some("HTTP 403 Forbidden"));
        // A cancelled request says so, whatever reason was there.
        let event = applied(builder().reason("abandoned"), Ending::Cancelled);
        assert!(event.reason().unwrap().starts_with("cancelled"));
    }

    #[test]
    fn failure_reasons_name_the_status() {
        assert_eq!(
            outcome_of_status(StatusCode::NOT_FOUND).1.as_deref(),
            Some("HTTP 404 Not Found")
        );
    }
}
