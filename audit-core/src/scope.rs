//! The request scope: who is acting, and the events being drafted.
//!
//! An [`AuditScope`] is a Tokio task-local. The HTTP layer opens one per
//! request (with the actor, tenant and request context); background jobs open
//! one with an explicit actor. Inside it, each audited operation opens a
//! [`Draft`]; the free functions [`before`], [`after`], [`target`], [`meta`],
//! [`outcome`], [`reason`] and [`description`] act on the innermost open
//! draft of the current task.
//!
//! Drafts are task-locals too, so two audited calls running concurrently in
//! one request (`tokio::join!`) each see their own draft. Work spawned off a
//! request keeps the scope and draft only through [`spawn`] or
//! [`carry_scope`]; a bare `tokio::spawn` starts outside any scope.
//!
//! Where the completed events go:
//! - **request scopes** ([`AuditScope::new`]) collect them; the HTTP layer
//!   takes them with [`AuditScope::take_completed`] after the response, sets
//!   the outcome from the status where the code set none, and records them;
//!   a draft completed after that (a streamed body's, or work spawned off
//!   the request) is queued to the layer's auditor as it completes, with
//!   the outcome its code gave it;
//! - **background scopes** ([`AuditScope::background`], [`AuditScope::system`])
//!   queue each one as it completes, to their own auditor or the global one;
//! - **outside any scope**, a completed draft goes to the global auditor with
//!   an anonymous actor, and if none is installed a warning is logged and
//!   [`unrouted_events`] counts it — never a silent drop.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio::task::futures::TaskLocalFuture;

use crate::action::Action;
use crate::auditor::{Auditor, Refused};
use crate::builder::{EventBuilder, RequestFill, SharedRequest};
use crate::event::{Actor, Outcome, Target};
use crate::request::RequestContext;
use crate::state::AuditState;

tokio::task_local! {
    static CURRENT_SCOPE: AuditScope;
    static CURRENT_DRAFT: Draft;
}

/// A task-local audit scope; see [Scopes and drafts](crate#scopes-and-drafts).
///
/// ```
/// use audit_core::{Action, Actor, AuditScope, Draft, RequestContext};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")).with_tenant("acme"));
/// scope
///     .run(async {
///         let draft = Draft::open(Action::from_static("app.deleted").unwrap());
///         draft.scoped(async { audit_core::meta("reason", "cleanup") }).await;
///         draft.complete();
///     })
///     .await;
/// let completed = scope.take_completed();
/// assert_eq!(completed.len(), 1);
/// let event = completed.into_iter().next().unwrap().into_builder(scope.request()).build();
/// assert_eq!(event.actor().id, "user_alice");
/// assert_eq!(event.metadata()["reason"], "cleanup");
/// # }
/// ```
#[derive(Clone)]
pub struct AuditScope {
    shared: Arc<ScopeShared>,
}

/// Also what the scope's events hold until they take its request in when
/// built (`RequestFill`, through `SharedRequest`).
struct ScopeShared {
    request: RequestContext,
    /// Set by [`AuditScope::identify`] once authentication has run.
    identified: Mutex<Option<(Actor, Option<String>)>>,
    delivery: Delivery,
    completed: Mutex<Completed>,
}

/// The drafts completed in a scope, oldest first. Most requests complete
/// one: it is kept inline, so collecting it allocates nothing.
#[derive(Default)]
struct Completed {
    first: Option<CompletedDraft>,
    rest: Vec<CompletedDraft>,
    /// Set once the owner has taken the events for good: where the drafts
    /// completed later go, and the response status they carry.
    late: Option<(Auditor, Option<u16>)>,
}

impl Completed {
    fn push(&mut self, draft: CompletedDraft) {
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(draft);
        } else {
            self.rest.push(draft);
        }
    }

    fn take(&mut self) -> CompletedDrafts {
        CompletedDrafts(self.first.take().into_iter().chain(std::mem::take(&mut self.rest)))
    }
}

/// The drafts taken out of a scope by [`AuditScope::drain_completed`], oldest first.
#[derive(Debug)]
pub struct CompletedDrafts(std::iter::Chain<std::option::IntoIter<CompletedDraft>, std::vec::IntoIter<CompletedDraft>>);

impl Iterator for CompletedDrafts {
    type Item = CompletedDraft;

    fn next(&mut self) -> Option<CompletedDraft> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

enum Delivery {
    /// Keep completed drafts for the owner (the HTTP layer) to take.
    Collect,
    /// Queue each completed draft at once (background jobs).
    Immediate(Option<Auditor>),
}

impl SharedRequest for ScopeShared {
    fn request(&self) -> &RequestContext {
        &self.request
    }

    fn into_request(self: Arc<Self>) -> Result<RequestContext, Arc<dyn SharedRequest>> {
        match Arc::try_unwrap(self) {
            Ok(shared) => Ok(shared.request),
            Err(shared) => Err(shared),
        }
    }
}

impl fmt::Debug for AuditScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditScope")
            .field("request", &self.shared.request)
            .field("collects", &matches!(self.shared.delivery, Delivery::Collect))
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Our critical sections never leave the data half-updated, so a panic
    // elsewhere while holding the lock is no reason to lose events.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AuditScope {
    fn with_delivery(request: RequestContext, delivery: Delivery) -> Self {
        Self {
            shared: Arc::new(ScopeShared {
                request,
                identified: Mutex::new(None),
                delivery,
                completed: Mutex::new(Completed::default()),
            }),
        }
    }

    /// A request scope: completed drafts are collected for
    /// [`take_completed`](Self::take_completed).
    pub fn new(request: RequestContext) -> Self {
        Self::with_delivery(request, Delivery::Collect)
    }

    /// A background scope: each completed draft is queued at once to the
    /// global auditor (see [`with_auditor`](Self::with_auditor)).
    pub fn background(request: RequestContext) -> Self {
        Self::with_delivery(request, Delivery::Immediate(None))
    }

    /// A background scope acting as `Actor::system(name)`, e.g. `"billing-cron"`.
    pub fn system(name: impl Into<String>) -> Self {
        Self::background(RequestContext::new(Actor::system(name)))
    }

    /// The same actor, tenant and context, as a scope that queues each
    /// completed draft at once to `auditor` (instead of collecting them, or
    /// using the global auditor). Drafts completed in the old scope stay there.
    #[must_use]
    pub fn with_auditor(self, auditor: Auditor) -> Self {
        let scope = Self::with_delivery(self.shared.request.clone(), Delivery::Immediate(Some(auditor)));
        *lock(&scope.shared.identified) = lock(&self.shared.identified).clone();
        scope
    }

    /// The scope of the current task, if any.
    pub fn current() -> Option<Self> {
        CURRENT_SCOPE.try_with(Clone::clone).ok()
    }

    /// The actor, tenant and context this scope was opened with.
    pub fn request(&self) -> &RequestContext {
        &self.shared.request
    }

    /// Names who is acting once authentication has run, for every event of
    /// the scope, including drafts completed before the call. For
    /// authentication that runs *inside* the audit layer (so that its 401s
    /// are audited too): the layer opened the scope as anonymous.
    ///
    /// ```
    /// use audit_core::{Actor, AuditScope, RequestContext};
    /// let scope = AuditScope::new(RequestContext::new(Actor::anonymous()));
    /// scope.identify(Actor::user("user_alice"), Some("acme".into()));
    /// let effective = scope.effective_request();
    /// assert_eq!(effective.actor.id, "user_alice");
    /// assert_eq!(effective.tenant_id.as_deref(), Some("acme"));
    /// ```
    pub fn identify(&self, actor: Actor, tenant_id: Option<String>) {
        *lock(&self.shared.identified) = Some((actor, tenant_id));
    }

    /// The request context with the identity from [`identify`](Self::identify) applied.
    pub fn effective_request(&self) -> RequestContext {
        let mut request = self.shared.request.clone();
        if let Some((actor, tenant_id)) = lock(&self.shared.identified).clone() {
            request.actor = actor;
            if tenant_id.is_some() {
                request.tenant_id = tenant_id;
            }
        }
        request
    }

    /// Wraps `future` so it runs inside this scope. For the HTTP layer, whose
    /// response future must be nameable; most code wants [`run`](Self::run).
    pub fn scoped<F: Future>(&self, future: F) -> TaskLocalFuture<AuditScope, F> {
        CURRENT_SCOPE.scope(self.clone(), future)
    }

    /// Runs `future` inside this scope. A background scope then queues, with
    /// the auditor's overflow policy, any event that found the queue full.
    pub async fn run<F: Future>(&self, future: F) -> F::Output {
        let output = self.scoped(future).await;
        if let Delivery::Immediate(auditor) = &self.shared.delivery {
            let auditor = auditor.as_ref().or_else(|| Auditor::global());
            let request = self.effective_request();
            for completed in self.drain_completed() {
                let builder = completed.into_boxed_builder(&request);
                match auditor {
                    Some(auditor) => {
                        if let Err(error) = auditor.record(builder).await {
                            tracing::error!(%error, "audit event from a background scope was not recorded");
                        }
                    }
                    None => unrouted(builder.action()),
                }
            }
        }
        output
    }

    /// Runs `f` inside this scope, synchronously.
    pub fn run_sync<R>(&self, f: impl FnOnce() -> R) -> R {
        CURRENT_SCOPE.sync_scope(self.clone(), f)
    }

    /// Takes the drafts completed so far, oldest first.
    pub fn take_completed(&self) -> Vec<CompletedDraft> {
        self.drain_completed().collect()
    }

    /// [`take_completed`](Self::take_completed) without collecting them into
    /// a `Vec`: nothing is allocated for a scope that completed one draft.
    pub fn drain_completed(&self) -> CompletedDrafts {
        lock(&self.shared.completed).take()
    }

    /// Support for the HTTP layer, not a stable API: [`drain_completed`]
    /// for the last time. Every draft the scope completes afterwards (one
    /// still open when the response left, such as a streamed body's, or
    /// work spawned off the request) is queued to `auditor` as it completes,
    /// with `status` in its context and the outcome its code gave it,
    /// instead of being kept for an owner who will not come back for it.
    ///
    /// ```
    /// use audit_core::{Action, Actor, AuditScope, Auditor, Draft, MemorySink, Outcome, RequestContext};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sink = MemorySink::new();
    /// let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    /// let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")));
    /// let streaming = scope.run_sync(|| Draft::open(Action::from_static("report.exported").unwrap()));
    /// assert_eq!(scope.drain_completed_then_forward(&auditor, Some(200)).count(), 0);
    /// // The body fails after the response left: the event still arrives.
    /// streaming.set_outcome(Outcome::Failure);
    /// streaming.complete();
    /// auditor.flush().await.unwrap();
    /// let event = &sink.events()[0];
    /// assert_eq!((event.actor().id.as_str(), event.outcome()), ("user_alice", Outcome::Failure));
    /// assert_eq!(event.context().status, Some(200));
    /// # }
    /// ```
    ///
    /// [`drain_completed`]: Self::drain_completed
    #[doc(hidden)]
    pub fn drain_completed_then_forward(&self, auditor: &Auditor, status: Option<u16>) -> CompletedDrafts {
        let mut completed = lock(&self.shared.completed);
        completed.late = Some((auditor.clone(), status));
        completed.take()
    }

    fn accept(&self, completed: CompletedDraft) {
        let Delivery::Immediate(auditor) = &self.shared.delivery else {
            let mut collected = lock(&self.shared.completed);
            let Some((auditor, status)) = collected.late.clone() else {
                return collected.push(completed);
            };
            drop(collected);
            return queue_soon(&auditor, completed.into_builder_deferred(self, status));
        };
        let Some(auditor) = auditor.as_ref().or_else(|| Auditor::global()) else {
            return unrouted(completed.builder.action());
        };
        let source = completed.outcome_source;
        match auditor.try_enqueue(completed.into_boxed_builder(&self.effective_request())) {
            Ok(()) => {}
            // No room: keep it; `run` queues it with the overflow policy when the job ends.
            Err(Refused::Full(builder)) => lock(&self.shared.completed).push(CompletedDraft {
                builder,
                outcome_source: source,
            }),
            Err(Refused::Closed(builder)) => closed(builder.action()),
        }
    }

    /// Fills `builder` from the scope's effective request as
    /// [`EventBuilder::fill_from_scope`] would (then sets `status`, if given,
    /// on its context), deferring every copy it can to when it is built.
    fn defer_fill(&self, builder: &mut EventBuilder, status: Option<Option<u16>>) {
        // A second fill sees the first one done, as the eager form would.
        builder.apply_request_fill();
        // What identify() named is read now, as effective_request() would; it
        // is small and rare, so it is copied at once.
        if let Some((actor, tenant_id)) = &*lock(&self.shared.identified) {
            if builder.actor.is_none() {
                builder.actor = Some(actor.clone());
            }
            if builder.tenant_id.is_none() && tenant_id.is_some() {
                builder.tenant_id.clone_from(tenant_id);
            }
        }
        RequestFill::defer(builder, self.shared.clone(), status);
    }
}

static UNROUTED: AtomicU64 = AtomicU64::new(0);

/// How many events had nowhere to go (no scope auditor, no global auditor,
/// or an auditor already shut down). Each was also logged as a warning.
pub fn unrouted_events() -> u64 {
    UNROUTED.load(Relaxed)
}

fn unrouted(action: &Action) {
    UNROUTED.fetch_add(1, Relaxed);
    tracing::warn!(%action, "audit event has nowhere to go: no auditor for this scope and no global auditor installed; it is NOT recorded");
}

fn closed(action: &Action) {
    UNROUTED.fetch_add(1, Relaxed);
    tracing::error!(%action, "audit event completed after its auditor shut down; it is NOT recorded");
}

/// Where an event's outcome came from, so the HTTP layer knows what it may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeSource {
    /// Nobody said: the layer derives it from the response status.
    Unset,
    /// From the audited function's return value (`Err` → failure); a 401/403
    /// response still turns it into `denied`.
    Returned,
    /// Set in code with [`outcome`]; nothing overrides it.
    Explicit,
}

/// A draft that was completed inside a request scope.
#[derive(Debug)]
pub struct CompletedDraft {
    // Boxed once when the draft opens, and queued in that box.
    builder: Box<EventBuilder>,
    outcome_source: OutcomeSource,
}

impl CompletedDraft {
    /// Where the outcome came from.
    pub fn outcome_source(&self) -> OutcomeSource {
        self.outcome_source
    }

    /// The event as drafted, before the scope's actor and context are added.
    pub fn builder(&self) -> &EventBuilder {
        &self.builder
    }

    /// The builder with the scope's actor, tenant and context filled in where
    /// the draft did not set its own.
    pub fn into_builder(self, request: &RequestContext) -> EventBuilder {
        *self.into_boxed_builder(request)
    }

    /// [`into_builder`](Self::into_builder), still in its box.
    fn into_boxed_builder(self, request: &RequestContext) -> Box<EventBuilder> {
        let mut builder = self.builder;
        builder.fill_from_scope(
            &request.actor,
            request.tenant_id.as_deref(),
            &request.context,
            request.lossy_utf8,
        );
        builder
    }

    /// Support for the HTTP layer, not a stable API: what
    /// `into_builder(&scope.effective_request())` followed by setting the
    /// context's `status` gives, except that the scope's actor, tenant and
    /// context are copied into the event only when it is built (on the
    /// auditor's writer), and moved rather than copied when the scope is gone
    /// by then. Until then the builder's accessors do not show them. Boxed
    /// as the draft was, ready for [`Auditor::try_record`].
    #[doc(hidden)]
    pub fn into_builder_deferred(self, scope: &AuditScope, status: Option<u16>) -> Box<EventBuilder> {
        let mut builder = self.builder;
        scope.defer_fill(&mut builder, Some(status));
        builder
    }

    /// Support for the HTTP layer, not a stable API: [`into_builder_deferred`]
    /// for a request's last event, given the layer's own handle on the scope.
    /// When no other handle is left, the scope's actor, tenant and context
    /// are moved into the event now and the scope is freed here, on the
    /// thread that allocated it (whose allocator hands the memory straight
    /// to the next request), instead of later on the auditor's writer.
    /// Otherwise the same as `into_builder_deferred`.
    ///
    /// [`into_builder_deferred`]: Self::into_builder_deferred
    #[doc(hidden)]
    pub fn into_builder_taking(self, scope: AuditScope, status: Option<u16>) -> Box<EventBuilder> {
        let mut builder = self.builder;
        scope.defer_fill(&mut builder, Some(status));
        // The fill holds a handle too: two handles mean nobody else has one,
        // and so nobody can make another.
        if builder.request_fill.is_some() && Arc::strong_count(&scope.shared) == 2 {
            drop(scope);
            // The fill's handle is now the last one: its parts are moved.
            builder.apply_request_fill();
        }
        builder
    }
}

/// One event being drafted by an audited operation.
///
/// `#[audited]` manages drafts for you; this is the manual form. Open one,
/// run the operation inside [`scoped`](Self::scoped) so the free functions
/// reach it, then [`complete`](Self::complete) it. A draft dropped without
/// being completed (its task was cancelled or panicked) is still delivered,
/// with outcome `failure`.
#[derive(Clone)]
pub struct Draft {
    state: Arc<Mutex<DraftState>>,
    event_id: uuid::Uuid,
}

struct DraftState {
    // Boxed once here and moved as a pointer from then on: into the scope,
    // the layer's list and the auditor's queue.
    builder: Option<Box<EventBuilder>>,
    outcome_source: OutcomeSource,
    scope: Option<AuditScope>,
}

impl fmt::Debug for Draft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Draft")
            .field("action", &state.builder.as_ref().map(|builder| builder.action()))
            .field("completed", &state.builder.is_none())
            .finish_non_exhaustive()
    }
}

impl Draft {
    /// Opens a draft of `action` in the current scope (if any).
    pub fn open(action: Action) -> Self {
        Self::open_in(action, AuditScope::current())
    }

    fn open_in(action: Action, scope: Option<AuditScope>) -> Self {
        let builder = Box::new(EventBuilder::without_actor(action));
        Self {
            event_id: builder.id(),
            state: Arc::new(Mutex::new(DraftState {
                builder: Some(builder),
                outcome_source: OutcomeSource::Unset,
                scope,
            })),
        }
    }

    /// The innermost open draft of the current task, if any.
    pub fn current() -> Option<Self> {
        CURRENT_DRAFT.try_with(Clone::clone).ok()
    }

    /// Wraps `future` so the free functions inside it act on this draft.
    pub fn scoped<F: Future>(&self, future: F) -> TaskLocalFuture<Draft, F> {
        CURRENT_DRAFT.scope(self.clone(), future)
    }

    /// Runs `f` with this draft current, synchronously.
    pub fn run_sync<R>(&self, f: impl FnOnce() -> R) -> R {
        CURRENT_DRAFT.sync_scope(self.clone(), f)
    }

    /// The id the event will have (fixed when the draft opened), so code can
    /// correlate it, e.g. in a response header.
    pub fn event_id(&self) -> uuid::Uuid {
        self.event_id
    }

    /// Edits the drafted event; does nothing once the draft is completed.
    pub fn update(&self, edit: impl FnOnce(EventBuilder) -> EventBuilder) {
        let mut state = lock(&self.state);
        if let Some(mut builder) = state.builder.take() {
            // Edited in its box: no new allocation per edit.
            *builder = edit(*builder);
            state.builder = Some(builder);
        }
    }

    /// Sets the outcome in code; nothing overrides it afterwards.
    pub fn set_outcome(&self, outcome: Outcome) {
        let mut state = lock(&self.state);
        if let Some(builder) = &mut state.builder {
            builder.outcome = outcome;
            state.outcome_source = OutcomeSource::Explicit;
        }
    }

    /// Completes the draft, leaving the outcome to whoever set it (or to the
    /// HTTP layer, from the response status).
    pub fn complete(self) {
        self.finish(None);
    }

    /// Completes the draft with the outcome the operation returned (`Err` →
    /// failure with `reason`), unless code already set one explicitly.
    pub fn complete_returned(self, outcome: Outcome, reason: Option<String>) {
        self.finish(Some((outcome, reason)));
    }

    fn finish(&self, returned: Option<(Outcome, Option<String>)>) {
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        if let (Some((outcome, reason)), Some(builder)) = (returned, &mut state.builder)
            && state.outcome_source != OutcomeSource::Explicit
        {
            builder.outcome = outcome;
            if reason.is_some() {
                builder.reason = reason;
            }
            state.outcome_source = OutcomeSource::Returned;
        }
        state.deliver();
    }
}

impl DraftState {
    fn deliver(&mut self) {
        let Some(builder) = self.builder.take() else { return };
        let completed = CompletedDraft {
            builder,
            outcome_source: self.outcome_source,
        };
        match self.scope.take() {
            Some(scope) => scope.accept(completed),
            None => deliver_unscoped(completed.builder),
        }
    }
}

impl Drop for DraftState {
    fn drop(&mut self) {
        if let Some(builder) = &mut self.builder {
            builder.outcome = Outcome::Failure;
            builder.reason = Some("abandoned: the operation was cancelled or panicked before it completed".into());
            self.outcome_source = OutcomeSource::Returned;
            self.deliver();
        }
    }
}

fn deliver_unscoped(builder: Box<EventBuilder>) {
    match Auditor::global() {
        Some(auditor) => queue_soon(auditor, builder),
        None => unrouted(builder.action()),
    }
}

/// Queues `builder` now if there is room, else waits for room off the
/// caller's path, under the overflow policy: a draft completes in code that
/// cannot wait (a `Drop`, a stream's poll).
fn queue_soon(auditor: &Auditor, builder: Box<EventBuilder>) {
    match auditor.try_enqueue(builder) {
        Ok(()) => {}
        Err(Refused::Full(builder)) => match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let auditor = auditor.clone();
                runtime.spawn(async move {
                    if let Err(error) = auditor.record(builder).await {
                        tracing::error!(%error, "audit event was not recorded: no room in the queue for it in time");
                    }
                });
            }
            Err(_) => closed(builder.action()),
        },
        Err(Refused::Closed(builder)) => closed(builder.action()),
    }
}

/// Completes the current audited operation's event now and hands it back
/// built (with `policy`'s limits and redaction, and the scope's actor,
/// tenant and request context), instead of leaving it to be queued: for
/// writing it in the operation's own database transaction with the store's
/// `record_in`, so that the change and its record commit or roll back
/// together. This is the only mode in which an action cannot happen
/// without its record.
///
/// The event's outcome is `success` unless the code set one; its context
/// has no response status yet (none exists). Once taken, the draft
/// delivers nothing else: if the transaction rolls back, no event of this
/// call is recorded.
///
/// ```
/// use audit_core::{Action, Draft, EventPolicy, Outcome};
///
/// let draft = Draft::open(Action::from_static("member.role_changed").unwrap());
/// let event = draft.run_sync(|| {
///     audit_core::meta("role", "admin");
///     audit_core::complete_for_transaction(&EventPolicy::default())
/// });
/// let event = event.unwrap();
/// assert_eq!(event.outcome(), Outcome::Success);
/// assert_eq!(event.metadata()["role"], "admin");
/// // Write `event` with the store's `record_in(&mut tx, ..)`, then commit.
/// draft.complete(); // what #[audited] does on return: nothing left to deliver
/// ```
///
/// # Errors
/// [`NoOpenDraft`] outside an audited operation, or when its event was
/// completed already.
pub fn complete_for_transaction(policy: &crate::EventPolicy) -> Result<crate::Event, NoOpenDraft> {
    let draft = CURRENT_DRAFT.try_with(Clone::clone).map_err(|_| NoOpenDraft)?;
    let mut guard = lock(&draft.state);
    let state = &mut *guard;
    let mut builder = state.builder.take().ok_or(NoOpenDraft)?;
    if state.outcome_source != OutcomeSource::Explicit {
        builder.outcome = crate::Outcome::Success;
        state.outcome_source = OutcomeSource::Explicit;
    }
    if let Some(scope) = state.scope.take() {
        let request = scope.effective_request();
        builder.fill_from_scope(
            &request.actor,
            request.tenant_id.as_deref(),
            &request.context,
            request.lossy_utf8,
        );
    }
    Ok(builder.build_with(policy))
}

/// [`complete_for_transaction`] was called with no open draft to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no audited operation is open here (or its event was completed already)")]
pub struct NoOpenDraft;

static WARNED_OUTSIDE_DRAFT: AtomicBool = AtomicBool::new(false);

fn with_draft(function: &'static str, edit: impl FnOnce(EventBuilder) -> EventBuilder) {
    if CURRENT_DRAFT.try_with(|draft| draft.update(edit)).is_err() && !WARNED_OUTSIDE_DRAFT.swap(true, Relaxed) {
        tracing::warn!(
            function,
            "audit_core::{function} was called outside any audited operation and does nothing \
             (logged once per process; open a Draft or use #[audited])",
        );
    }
}

/// Sets the state before the change on the current draft; a resource
/// (`#[derive(Auditable)]`) also becomes the target unless one is set. Wrap
/// other `Serialize` values in [`Snapshot`](crate::Snapshot).
///
/// ```
/// # use audit_core::{Action, Draft};
/// # let draft = Draft::open(Action::from_static("app.updated").unwrap());
/// draft.run_sync(|| audit_core::before(&serde_json::json!({"name": "old"})));
/// ```
pub fn before<T: AuditState + ?Sized>(state: &T) {
    with_draft("before", |b| b.before(state));
}

/// Sets the state after the change on the current draft; see [`before`].
pub fn after<T: AuditState + ?Sized>(state: &T) {
    with_draft("after", |b| b.after(state));
}

/// Sets the target of the current draft.
pub fn target(target: Target) {
    with_draft("target", |b| b.target(target));
}

/// Adds a metadata entry to the current draft.
pub fn meta<T: Serialize + ?Sized>(key: impl Into<String>, value: &T) {
    with_draft("meta", |b| b.metadata(key, value));
}

/// Sets the outcome of the current draft; nothing overrides it afterwards.
pub fn outcome(outcome: Outcome) {
    if CURRENT_DRAFT.try_with(|draft| draft.set_outcome(outcome)).is_err() {
        with_draft("outcome", |b| b);
    }
}

/// Sets why the current draft's operation failed or was denied.
pub fn reason(text: impl Into<String>) {
    with_draft("reason", |b| b.reason(text));
}

/// Sets the human sentence of the current draft.
pub fn description(text: impl Into<String>) {
    with_draft("description", |b| b.description(text));
}

/// Names who is acting in the current scope; see [`AuditScope::identify`].
/// Returns false (and does nothing) outside any scope.
pub fn identify(actor: Actor, tenant_id: Option<String>) -> bool {
    CURRENT_SCOPE.try_with(|scope| scope.identify(actor, tenant_id)).is_ok()
}

/// Wraps `future` so it runs in the current task's audit scope and draft.
pub fn carry_scope<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let scope = AuditScope::current();
    let draft = Draft::current();
    async move {
        match (scope, draft) {
            (Some(scope), Some(draft)) => scope.scoped(draft.scoped(future)).await,
            (Some(scope), None) => scope.scoped(future).await,
            (None, Some(draft)) => draft.scoped(future).await,
            (None, None) => future.await,
        }
    }
}

/// `tokio::spawn` that keeps the current audit scope and draft, so events
/// drafted by the spawned work are attributed to the same request.
///
/// ```
/// # use audit_core::{Actor, AuditScope, RequestContext};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let scope = AuditScope::new(RequestContext::new(Actor::user("u1")));
/// let seen = scope.run(async {
///     audit_core::spawn(async { AuditScope::current().map(|s| s.request().actor.id.clone()) }).await.unwrap()
/// }).await;
/// assert_eq!(seen.as_deref(), Some("u1"));
/// # }
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(carry_scope(future))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventContext};

    fn request() -> RequestContext {
        let context = EventContext {
            request_id: Some("req_1".into()),
            method: Some("GET".into()),
            route: Some("/apps/{id}".into()),
            user_agent: Some("curl".into()),
            ..EventContext::default()
        };
        let mut request = RequestContext::new(Actor::user("user_alice"))
            .with_tenant("acme")
            .with_context(context);
        request.lossy_utf8 = true;
        request
    }

    /// The event the eager form gives: fill from the effective request, then the status.
    fn eager(scope: &AuditScope, completed: CompletedDraft, status: Option<u16>) -> Event {
        let mut request = scope.effective_request();
        request.context.status = status;
        let mut builder = completed.into_builder(&request);
        builder.context_mut().status = status;
        builder.build()
    }

    fn drafts(scope: &AuditScope) -> Vec<CompletedDraft> {
        scope.run_sync(|| {
            let action = |name| Action::from_static(name).unwrap();
            Draft::open(action("app.viewed")).complete();
            let own = Draft::open(action("app.updated"));
            own.update(|b| {
                b.actor(Actor::service("svc")).tenant("other").context(EventContext {
                    route: Some("/own".into()),
                    status: Some(299),
                    ..EventContext::default()
                })
            });
            own.complete();
        });
        let mut completed = scope.take_completed();
        // The same drafts twice: once for each form (a builder is Clone).
        completed.extend(
            completed
                .iter()
                .map(|c| CompletedDraft {
                    builder: c.builder.clone(),
                    outcome_source: c.outcome_source,
                })
                .collect::<Vec<_>>(),
        );
        completed
    }

    fn same(a: &Event, b: &Event) {
        assert_eq!(a.actor(), b.actor());
        assert_eq!(a.tenant_id(), b.tenant_id());
        assert_eq!(a.context(), b.context());
        assert_eq!(a.lossy_utf8(), b.lossy_utf8());
        assert_eq!(a.action(), b.action());
    }

    #[test]
    fn a_deferred_fill_gives_the_eager_forms_event() {
        for identified in [
            None,
            Some((Actor::user("user_bob"), Some("beta".to_owned()))),
            Some((Actor::user("user_carol"), None)),
        ] {
            for status in [Some(200), None] {
                for scope_outlives_the_event in [true, false] {
                    let scope = AuditScope::new(request());
                    if let Some((actor, tenant)) = identified.clone() {
                        scope.identify(actor, tenant);
                    }
                    let mut completed = drafts(&scope);
                    let deferred: Vec<Box<EventBuilder>> = completed
                        .drain(2..)
                        .map(|c| c.into_builder_deferred(&scope, status))
                        .collect();
                    let eager: Vec<Event> = completed.into_iter().map(|c| eager(&scope, c, status)).collect();
                    // The taking form, on a scope of its own: the event that
                    // takes the last handle is filled at once; while another
                    // handle is out, it is deferred as before.
                    let own_scope = AuditScope::new(request());
                    if let Some((actor, tenant)) = identified.clone() {
                        own_scope.identify(actor, tenant);
                    }
                    let mut taken = drafts(&own_scope);
                    taken.truncate(2);
                    let (second, first) = (taken.pop().unwrap(), taken.pop().unwrap());
                    let kept = scope_outlives_the_event.then(|| own_scope.clone());
                    let second = second.into_builder_taking(own_scope.clone(), status);
                    let first = first.into_builder_taking(own_scope, status);
                    assert_eq!(first.request_fill.is_some(), kept.is_some());
                    if kept.is_none() {
                        assert_eq!(first.actor_ref(), Some(eager[0].actor()));
                    }
                    if !scope_outlives_the_event {
                        drop(scope);
                    }
                    let deferred: Vec<Event> = deferred.into_iter().map(|b| b.build()).collect();
                    let taken = [first.build(), second.build()];
                    drop(kept);
                    for ((a, b), c) in eager.iter().zip(&deferred).zip(&taken) {
                        same(a, b);
                        same(a, c);
                    }
                    assert_eq!(deferred[0].context().status, status);
                    assert_eq!(deferred[1].context().route.as_deref(), Some("/own"));
                    assert_eq!(deferred[1].actor().id, "svc");
                }
            }
        }
    }

    #[test]
    fn what_is_set_on_a_deferred_builder_stays_and_a_second_fill_sees_the_first() {
        let scope = AuditScope::new(request());
        let mut completed = drafts(&scope).into_iter();
        let builder = completed
            .next()
            .unwrap()
            .into_builder_deferred(&scope, Some(201))
            .actor(Actor::system("late"));
        let event = builder.build();
        assert_eq!(event.actor().id, "late");
        assert_eq!(event.tenant_id(), Some("acme"));
        assert_eq!(event.context().status, Some(201));

        // Filled again from another scope: the first fill counts as done.
        let other = AuditScope::new(RequestContext::new(Actor::user("user_zed")).with_tenant("zed"));
        let completed = CompletedDraft {
            builder: completed.nth(1).unwrap().into_builder_deferred(&scope, Some(202)),
            outcome_source: OutcomeSource::Unset,
        };
        let completed = CompletedDraft {
            builder: Box::new(completed.into_builder(other.request())),
            outcome_source: OutcomeSource::Unset,
        };
        let event = completed.builder.build();
        assert_eq!(event.actor().id, "user_alice", "the first scope's actor");
        assert_eq!(event.tenant_id(), Some("acme"));
        assert_eq!(event.context().status, Some(202));
    }

    #[test]
    fn the_last_event_stays_deferred_while_an_earlier_one_still_holds_the_request() {
        let scope = AuditScope::new(request());
        let action = || Action::from_static("app.viewed").unwrap();
        scope.run_sync(|| {
            Draft::open(action()).complete();
            Draft::open(action()).complete();
        });
        let mut completed = scope.take_completed().into_iter();
        let earlier = completed.next().unwrap().into_builder_deferred(&scope, Some(200));
        let last = completed.next().unwrap().into_builder_taking(scope, Some(200));
        // The layer's handle is gone, but the earlier event still holds the scope.
        assert!(last.request_fill.is_some());
        let earlier = earlier.build();
        // Built last, it takes what the earlier one left (moved, as the last handle).
        let last = last.build();
        for event in [&earlier, &last] {
            assert_eq!(event.actor().id, "user_alice");
            assert_eq!(event.tenant_id(), Some("acme"));
            assert_eq!(event.context().route.as_deref(), Some("/apps/{id}"));
            assert_eq!(event.context().status, Some(200));
            assert!(event.lossy_utf8());
        }
    }
}
