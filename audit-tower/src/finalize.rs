//! What the layer does after the response: outcomes, automatic events, delivery.

// Events are kept in the box their draft was made in, which the auditor's
// queue takes as it is: unboxing them into a `Vec` would copy ~600 bytes each
// and box them again.
#![expect(clippy::vec_box, reason = "the boxes are the auditor's queue entries")]

use std::sync::Arc;

use audit_core::{
    Action, AuditScope, Category, CompletedDraft, Event, EventBuilder, Outcome, OutcomeSource, RecordError,
    RequestContext, Severity, TryRecordError,
};
use http::{HeaderValue, Method, StatusCode};

use crate::layer::{Config, Delivery};

/// Everything needed to finish a request's audit work.
pub(crate) struct Finalizer {
    pub(crate) scope: AuditScope,
    pub(crate) config: Arc<Config>,
    pub(crate) request_id: HeaderValue,
    pub(crate) method: Method,
    pub(crate) early_events: Vec<Box<EventBuilder>>,
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

fn apply(builder: EventBuilder, outcome: Option<(Outcome, Option<String>)>) -> EventBuilder {
    match outcome {
        Some((outcome, Some(reason))) => builder.outcome(outcome).reason(reason),
        Some((outcome, None)) => builder.outcome(outcome),
        None => builder,
    }
}

/// [`apply`] for a draft the handler completed: when the response's status
/// overrides the outcome the handler returned (a 403 behind an `Err`), the
/// handler's reason says more than the status and is kept.
fn apply_to_draft(builder: EventBuilder, source: OutcomeSource, ending: Ending) -> EventBuilder {
    let decided = outcome_for(source, ending);
    let keep_reason = source == OutcomeSource::Returned
        && matches!(ending, Ending::Responded(_))
        && builder.current_reason().is_some();
    match decided {
        Some((outcome, _)) if keep_reason => builder.outcome(outcome),
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

impl Finalizer {
    /// The request's events, each with its outcome and the request context.
    pub(crate) fn events(&mut self, ending: Ending) -> Vec<Box<EventBuilder>> {
        let status = ending.status().map(|s| s.as_u16());
        let completed: Vec<CompletedDraft> = self.scope.take_completed();
        let handlers_recorded = !completed.is_empty();

        let mut events = std::mem::take(&mut self.early_events);
        for draft in completed {
            let source = draft.outcome_source();
            // The scope's actor and context are copied into the event on the
            // auditor's writer, not here on the request's path.
            let mut builder = draft.into_builder_deferred(&self.scope, status);
            // Edited in its box, which the auditor's queue takes as it is.
            *builder = apply_to_draft(*builder, source, ending);
            events.push(builder);
        }
        let config = &self.config;
        if let Ending::Responded(status_code) = ending {
            if config.record_denied && matches!(status_code.as_u16(), 401 | 403) {
                let request = self.scope.effective_request();
                let builder = automatic("auth.denied", &request, status).severity(Severity::Notice);
                events.push(Box::new(apply(builder, Some(outcome_of_status(status_code)))));
            }
            if config.record_mutations
                && !handlers_recorded
                && let Some((action, category)) = mutation(&self.method)
            {
                let request = self.scope.effective_request();
                let route = request.context.route.as_deref().unwrap_or("(unmatched route)");
                let builder = automatic(action, &request, status)
                    .category(category)
                    .description(format!("{} {route}", self.method));
                events.push(Box::new(apply(builder, Some(outcome_of_status(status_code)))));
            }
        }
        events
    }

    /// Queues what fits now; returns the events that must wait for room (or
    /// be confirmed), or `Err` when the auditor is closed.
    pub(crate) fn queue_now(&self, events: Vec<Box<EventBuilder>>) -> Result<Vec<Box<EventBuilder>>, ()> {
        if let Delivery::Confirmed { .. } = self.config.delivery {
            return Ok(events);
        }
        let mut waiting = Vec::new();
        for event in events {
            match self.config.auditor.try_record(event) {
                Ok(()) => {}
                Err(TryRecordError::Full(event)) => waiting.push(event),
                Err(TryRecordError::Closed(_)) => return Err(()),
            }
        }
        Ok(waiting)
    }

    /// Queues `waiting` under the overflow policy and, in confirmed mode,
    /// waits for the sink. `false` means the client must get a 503.
    pub(crate) fn deliver(&self, waiting: Vec<Box<EventBuilder>>) -> impl Future<Output = bool> + Send + 'static {
        let auditor = self.config.auditor.clone();
        let delivery = self.config.delivery;
        async move {
            for event in waiting {
                match auditor.record(event).await {
                    Ok(()) | Err(RecordError::Dropped) => {}
                    Err(_) => return false,
                }
            }
            match delivery {
                Delivery::Buffered => true,
                Delivery::Confirmed { timeout } => {
                    matches!(tokio::time::timeout(timeout, auditor.flush()).await, Ok(Ok(())))
                }
            }
        }
    }

    /// Delivers without a response to hold: after an error, a panic or a
    /// cancellation. Waits for room off the request's path if need be.
    pub(crate) fn abandon(mut self, ending: Ending) {
        let events = self.events(ending);
        let waiting = match self.queue_now(events) {
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
                    if !delivery.await {
                        tracing::error!("audit events of an abandoned request were not recorded: queue full");
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
        let given = builder()
            .outcome(Outcome::Failure)
            .reason("only owners may change roles");
        let event = apply_to_draft(given, OutcomeSource::Returned, forbidden).build();
        assert_eq!(event.outcome(), Outcome::Denied);
        assert_eq!(event.reason(), Some("only owners may change roles"));
        let event = apply_to_draft(builder(), OutcomeSource::Returned, forbidden).build();
        assert_eq!(event.reason(), Some("HTTP 403 Forbidden"));
        // A cancelled request says so, whatever reason was there.
        let given = builder().reason("abandoned");
        let event = apply_to_draft(given, OutcomeSource::Returned, Ending::Cancelled).build();
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
