//! `#[audited]` and `#[derive(Auditable)]` end to end: what reaches the event,
//! the outcome rules, panics and cancellation, nesting and concurrency, every
//! kind of function the attribute goes on.
//!
//! Request scopes are read back with `take_completed` (what the HTTP layer
//! does); anything that goes through an `Auditor` is read from a `MemorySink`
//! after `flush`, never after a sleep.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use audit_core as audit;
use audit_core::{
    Action, Actor, AuditScope, AuditState, Auditable, Auditor, Category, Draft, Event, MemorySink, Outcome,
    OutcomeSource, REDACTED, RequestContext, Severity, Target, audited,
};
use serde::Serialize;
use serde_json::json;

/// Runs `operation` in a request scope of `user_alice` in tenant `acme`;
/// returns its output and the events it drafted, oldest completion first.
async fn in_request<F: Future>(operation: F) -> (F::Output, Vec<(Event, OutcomeSource)>) {
    let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")).with_tenant("acme"));
    let output = scope.run(operation).await;
    (output, completed(&scope))
}

fn completed(scope: &AuditScope) -> Vec<(Event, OutcomeSource)> {
    scope
        .take_completed()
        .into_iter()
        .map(|draft| {
            let source = draft.outcome_source();
            (draft.into_builder(scope.request()).build(), source)
        })
        .collect()
}

fn only(mut events: Vec<(Event, OutcomeSource)>) -> (Event, OutcomeSource) {
    assert_eq!(events.len(), 1, "expected exactly one event: {events:#?}");
    events.remove(0)
}

/// Polls a future once, outside any runtime.
fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

#[derive(Debug, PartialEq)]
struct AppError(&'static str);

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "app error: {}", self.0)
    }
}

impl std::error::Error for AppError {}

// ---------------------------------------------------------------- outcomes

#[audited(action = "app.deleted")]
async fn delete(fail: bool) -> Result<u32, AppError> {
    if fail {
        Err(AppError("still has members"))
    } else {
        Ok(7)
    }
}

#[tokio::test]
async fn ok_is_a_success_the_layer_may_still_turn_into_denied() {
    let (output, events) = in_request(delete(false)).await;
    assert_eq!(output, Ok(7));
    let (event, source) = only(events);
    assert_eq!(event.outcome(), Outcome::Success);
    assert_eq!(event.reason(), None);
    assert_eq!(source, OutcomeSource::Returned);
}

#[tokio::test]
async fn err_is_a_failure_whose_reason_is_the_error_text() {
    let (output, events) = in_request(delete(true)).await;
    assert_eq!(output, Err(AppError("still has members")));
    let (event, source) = only(events);
    assert_eq!(event.outcome(), Outcome::Failure);
    assert_eq!(event.reason(), Some("app error: still has members"));
    assert_eq!(source, OutcomeSource::Returned);
}

#[derive(Debug)]
#[allow(dead_code)] // read through `Debug` only
struct DebugOnly {
    code: u16,
}

struct Opaque;

#[audited(action = "app.exported")]
fn export_debug() -> Result<(), DebugOnly> {
    Err(DebugOnly { code: 503 })
}

#[audited(action = "app.exported")]
fn export_opaque() -> Result<(), Opaque> {
    Err(Opaque)
}

#[tokio::test]
async fn an_error_without_display_is_described_with_debug_or_a_fixed_text() {
    let (_, events) = in_request(async { (export_debug().is_err(), export_opaque().is_err()) }).await;
    let reasons: Vec<_> = events.iter().map(|(e, _)| e.reason().map(str::to_owned)).collect();
    assert_eq!(
        reasons,
        [
            Some("DebugOnly { code: 503 }".to_owned()),
            Some("returned an error".to_owned())
        ]
    );
    assert!(events.iter().all(|(e, _)| e.outcome() == Outcome::Failure));
}

#[audited(action = "report.viewed")]
async fn render_report() -> String {
    "<html>".to_owned()
}

#[tokio::test]
async fn a_non_result_return_leaves_the_outcome_to_the_layer() {
    let (output, events) = in_request(render_report()).await;
    assert_eq!(output, "<html>");
    let (event, source) = only(events);
    assert_eq!(
        source,
        OutcomeSource::Unset,
        "the HTTP layer derives it from the status"
    );
    assert_eq!(
        event.outcome(),
        Outcome::Success,
        "without a layer the builder default stands"
    );
}

#[audited(action = "member.invited")]
async fn invite(email: &str) -> Result<(), AppError> {
    if email.ends_with("@blocked.test") {
        audit::outcome(Outcome::Denied);
        audit::reason("domain is blocked");
        return Err(AppError("blocked"));
    }
    Ok(())
}

#[tokio::test]
async fn an_outcome_set_in_the_body_wins_over_the_returned_error() {
    let (_, events) = in_request(invite("mallory@blocked.test")).await;
    let (event, source) = only(events);
    assert_eq!(event.outcome(), Outcome::Denied);
    assert_eq!(event.reason(), Some("domain is blocked"));
    assert_eq!(source, OutcomeSource::Explicit);
}

// ------------------------------------------------------- panics, cancellation

#[audited(action = "app.deleted")]
async fn delete_then_panic() -> Result<(), AppError> {
    audit::meta("step", &"before the panic");
    tokio::task::yield_now().await;
    panic!("invariant broken");
}

#[tokio::test]
async fn a_panicking_async_fn_records_a_failure_and_the_panic_goes_on() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")));
    let task = tokio::spawn(scope.scoped(delete_then_panic()));
    let error = task.await.expect_err("the panic reaches the task's owner");
    assert!(error.is_panic());
    let (event, source) = only(completed(&scope));
    assert_eq!(event.outcome(), Outcome::Failure);
    assert_eq!(event.reason(), Some("panicked"));
    assert_eq!(
        source,
        OutcomeSource::Explicit,
        "no response status can turn a panic into a success"
    );
    assert_eq!(event.metadata()["step"], "before the panic");
}

#[test]
fn a_panic_is_recorded_while_unwinding_whoever_polls_the_future() {
    // No runtime: the panic unwinds out of `poll` into `catch_unwind`, and
    // the future itself is dropped only afterwards.
    let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")));
    let mut future = Box::pin(scope.scoped(delete_then_panic()));
    assert!(poll_once(future.as_mut()).is_pending(), "yielded once");
    let unwound = std::panic::catch_unwind(AssertUnwindSafe(|| poll_once(future.as_mut())));
    assert!(unwound.is_err());
    let (event, _) = only(completed(&scope));
    assert_eq!(
        event.reason(),
        Some("panicked"),
        "recorded before the future is dropped"
    );
    drop(future);
    assert!(completed(&scope).is_empty(), "and only once");
}

#[audited(action = "cache.purged")]
fn purge_then_panic(entries: u32) -> u32 {
    audit::outcome(Outcome::Success);
    assert!(entries < 100, "too many entries");
    entries
}

#[test]
fn a_panicking_sync_fn_records_a_failure_even_after_an_explicit_success() {
    let scope = AuditScope::new(RequestContext::new(Actor::system("janitor")));
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| scope.run_sync(|| purge_then_panic(500))));
    let message = *result.expect_err("the panic continues").downcast::<&str>().unwrap();
    assert_eq!(message, "too many entries");
    let (event, _) = only(completed(&scope));
    assert_eq!(event.outcome(), Outcome::Failure);
    assert_eq!(event.reason(), Some("panicked"));
    assert_eq!(event.metadata()["entries"], 500);
}

#[audited(action = "upload.imported")]
async fn import(rows: tokio::sync::oneshot::Receiver<u32>) -> Result<u32, AppError> {
    audit::meta("stage", &"waiting");
    let rows = rows.await.map_err(|_| AppError("sender gone"))?;
    Ok(rows)
}

#[test]
fn a_future_dropped_mid_await_records_a_cancellation_failure() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")));
    let (_keep_sender, rows) = tokio::sync::oneshot::channel();
    {
        let mut future = pin!(scope.scoped(import(rows)));
        assert!(poll_once(future.as_mut()).is_pending(), "waiting for rows");
        assert!(scope.take_completed().is_empty(), "nothing is complete yet");
        // Dropped here, as when a client disconnects.
    }
    let (event, source) = only(completed(&scope));
    assert_eq!(event.outcome(), Outcome::Failure);
    assert_eq!(
        event.reason(),
        Some("cancelled: the future was dropped before the operation completed")
    );
    assert_eq!(source, OutcomeSource::Explicit);
    assert_eq!(event.metadata()["stage"], "waiting");
}

#[test]
fn a_future_never_polled_records_nothing() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")));
    let (_sender, rows) = tokio::sync::oneshot::channel();
    drop(scope.scoped(import(rows)));
    assert!(completed(&scope).is_empty(), "an async fn does nothing until polled");
}

// ------------------------------------------------------ nesting, concurrency

#[audited(action = "member.removed", target = "member", target_id = member)]
async fn remove_member(member: &str) -> Result<(), AppError> {
    tokio::task::yield_now().await;
    audit::meta("seat_freed", &true);
    Ok(())
}

#[audited(action = "team.deleted", target = "team", target_id = team)]
async fn delete_team(team: &str, members: &[&str]) -> Result<(), AppError> {
    for member in members {
        remove_member(member).await?;
    }
    audit::meta("members_removed", &members.len());
    Ok(())
}

#[tokio::test]
async fn nested_audited_calls_record_one_event_each_inner_first() {
    let (_, events) = in_request(delete_team("team_1", &["m_1", "m_2"])).await;
    let summary: Vec<_> = events
        .iter()
        .map(|(e, _)| (e.action().as_str(), e.target().unwrap().id.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("member.removed", "m_1"),
            ("member.removed", "m_2"),
            ("team.deleted", "team_1")
        ],
        "events are in completion order: an inner call completes before its caller"
    );
    // Each draft saw only its own free-function calls.
    assert_eq!(events[0].0.metadata().get("members_removed"), None);
    assert_eq!(events[2].0.metadata()["members_removed"], 2);
    assert_eq!(events[2].0.metadata().get("seat_freed"), None);
    assert!(events.iter().all(|(e, _)| e.actor().id == "user_alice"));
}

#[audited(action = "doc.updated", target = "doc", target_id = doc, fields(request = request))]
async fn update_doc(request: usize, doc: String) -> Result<(), AppError> {
    for round in 0..3 {
        audit::meta(format!("round_{round}"), &request);
        tokio::task::yield_now().await;
    }
    audit::after(&json!({"owner": request}));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_never_mix_drafts() {
    let requests: Vec<_> = (0..200)
        .map(|request| {
            tokio::spawn(async move {
                let scope = AuditScope::new(RequestContext::new(Actor::user(format!("user_{request}"))));
                scope
                    .run(async move {
                        let (a, b) = tokio::join!(
                            update_doc(request, format!("doc_{request}_a")),
                            update_doc(request, format!("doc_{request}_b")),
                        );
                        a.and(b).unwrap();
                    })
                    .await;
                (request, completed(&scope))
            })
        })
        .collect();
    for handle in requests {
        let (request, events) = handle.await.unwrap();
        assert_eq!(events.len(), 2, "request {request}");
        let mut docs: Vec<_> = events.iter().map(|(e, _)| e.target().unwrap().id.clone()).collect();
        docs.sort();
        assert_eq!(docs, [format!("doc_{request}_a"), format!("doc_{request}_b")]);
        for (event, _) in &events {
            assert_eq!(event.actor().id, format!("user_{request}"));
            let metadata = event.metadata();
            assert_eq!(metadata["request"], request);
            assert!((0..3).all(|round| metadata[&format!("round_{round}")] == request));
            assert_eq!(event.changes().unwrap().after.as_ref().unwrap()["owner"], request);
        }
    }
}

// --------------------------------------------------------- the arguments

/// A resource as an application would have it, with a secret and a cache.
#[derive(Debug, Clone, Serialize, Auditable)]
#[audit(target = "app")]
struct App {
    #[audit(id)]
    id: u64,
    #[audit(name)]
    name: String,
    plan: String,
    #[audit(redact)]
    webhook_secret: String,
    #[audit(skip)]
    #[serde(skip)]
    #[allow(dead_code)] // held, never audited: that is the point
    icon_cache: Vec<u8>,
}

fn billing() -> App {
    App {
        id: 42,
        name: "Billing".into(),
        plan: "pro".into(),
        webhook_secret: "whsec_live_0123".into(),
        icon_cache: vec![0xff; 16],
    }
}

#[audited(
    action = "app.plan_changed",
    target = "app",
    target_id = app_id,
    severity = "notice",
    category = "update",
    description = "Moved app {app_id} to {plan} for {org.name}",
    tenant = org.tenant,
    fields(ticket = ticket.number, org = org.name.as_str()),
    redact("iban"),
)]
async fn change_plan(org: &Org, app_id: u64, plan: &str, ticket: Ticket, payout_iban: &str) -> Result<(), AppError> {
    audit::meta("ticket_seen_in_body", &ticket.number);
    // `redact("iban")` masks what the body records too.
    audit::after(&json!({"plan": plan, "payout": {"iban": payout_iban}}));
    Ok(())
}

struct Org {
    name: String,
    tenant: Option<String>,
}

/// Not `Clone`, not `Copy`: the attribute may only borrow it.
struct Ticket {
    number: u32,
}

#[tokio::test]
async fn every_argument_of_the_attribute_reaches_the_stored_event() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    let org = Org {
        name: "Acme".into(),
        tenant: Some("acme_eu".into()),
    };
    AuditScope::background(RequestContext::new(Actor::user("user_alice")).with_tenant("acme"))
        .with_auditor(auditor.clone())
        .run(change_plan(&org, 42, "enterprise", Ticket { number: 981 }, "DE89 3704"))
        .await
        .unwrap();
    auditor.flush().await.unwrap();

    let events = sink.events();
    let event = &events[0];
    assert_eq!(event.action().as_str(), "app.plan_changed");
    assert_eq!(event.target(), Some(&Target::new("app", "42")));
    assert_eq!(event.severity(), Severity::Notice);
    assert_eq!(event.category(), Category::Update);
    assert_eq!(event.description(), Some("Moved app 42 to enterprise for Acme"));
    assert_eq!(
        event.tenant_id(),
        Some("acme_eu"),
        "`tenant` overrides the scope's tenant"
    );
    assert_eq!(
        event.metadata(),
        json!({
            "ticket": 981,
            "org": "Acme",
            "plan": "enterprise",
            "payout_iban": REDACTED,
            "ticket_seen_in_body": 981,
        })
        .as_object()
        .unwrap(),
        "fields, default-captured plan, masked iban (from `redact`); not `org` (a field key), \
         `app_id` (the target id), nor `ticket` (not Serialize, and named by a field)"
    );
    let after = event.changes().unwrap().after.as_ref().unwrap();
    assert_eq!(after["payout"]["iban"], REDACTED);
    assert!(!serde_json::to_string(&sink.events()).unwrap().contains("DE89"));
}

#[audited(action = "app.viewed", tenant = tenant)]
fn view_in(tenant: Option<&str>) {}

#[test]
fn a_tenant_expression_that_is_none_keeps_the_scopes_tenant() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u")).with_tenant("acme"));
    scope.run_sync(|| {
        view_in(None);
        view_in(Some("globex"));
    });
    let tenants: Vec<_> = completed(&scope)
        .iter()
        .map(|(e, _)| e.tenant_id().map(str::to_owned))
        .collect();
    assert_eq!(tenants, [Some("acme".to_owned()), Some("globex".to_owned())]);
}

#[audited(action = "queue.drained", fields(depth_before = queue.len(), first = queue.first()))]
fn drain(queue: &mut Vec<String>) -> usize {
    let drained = queue.len();
    queue.clear();
    drained
}

#[test]
fn field_expressions_are_evaluated_by_reference_before_the_body() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u")));
    let mut queue = vec!["a".to_owned(), "b".to_owned()];
    assert_eq!(scope.run_sync(|| drain(&mut queue)), 2);
    assert!(queue.is_empty());
    let (event, _) = only(completed(&scope));
    assert_eq!(
        event.metadata()["depth_before"],
        2,
        "measured before the body emptied it"
    );
    assert_eq!(event.metadata()["first"], "a");
}

#[audited(action = "app.archived", target = app)]
async fn archive(app: &App, reason: String) -> Result<String, AppError> {
    // `reason` was read by default capture and is still ours to move.
    let owned: String = reason;
    Ok(owned)
}

#[tokio::test]
async fn a_resource_target_names_the_event_target() {
    let app = billing();
    let (output, events) = in_request(archive(&app, "unused".into())).await;
    assert_eq!(output.unwrap(), "unused");
    let (event, _) = only(events);
    assert_eq!(event.target(), Some(&Target::new("app", "42").with_name("Billing")));
    assert_eq!(
        event.metadata().get("app"),
        None,
        "the target argument is not captured again"
    );
    assert_eq!(event.metadata()["reason"], "unused");
}

#[audited(action = "member.role_changed", description = "set by the attribute")]
async fn change_role(member: &str, role: &str) -> Result<(), AppError> {
    audit::target(Target::new("member", member));
    audit::before(&json!({"role": "member"}));
    audit::after(&json!({"role": role}));
    audit::description(format!("{member} is now {role}"));
    audit::meta("approved_by", &"user_bob");
    audit::reason("requested in ticket 12");
    Ok(())
}

#[tokio::test]
async fn the_free_functions_in_the_body_reach_the_calls_draft() {
    let (_, events) = in_request(change_role("m_1", "admin")).await;
    let (event, _) = only(events);
    assert_eq!(event.target(), Some(&Target::new("member", "m_1")));
    assert_eq!(
        event.description(),
        Some("m_1 is now admin"),
        "the body overrides the attribute"
    );
    assert_eq!(event.metadata()["approved_by"], "user_bob");
    assert_eq!(event.reason(), Some("requested in ticket 12"));
    let diff = &event.changes().unwrap().diff;
    assert_eq!(diff.len(), 1);
    assert_eq!(diff[0].new, Some(json!("admin")));
}

// ------------------------------------------------- default argument capture

struct Pool;

#[derive(Serialize)]
struct Patch {
    plan: String,
    api_token: String,
}

#[audited(action = "app.updated", skip(note))]
#[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)]
async fn update_app(
    _pool: &Pool,
    app: &App,
    patch: Patch,
    (x, y): (u32, u32),
    note: String,
    password: String,
    count: u64,
    labels: Vec<&'static str>,
) -> Result<(), AppError> {
    let _ = (patch, x, y, note, password);
    Ok(())
}

#[audited(action = "app.patched", fields(patch))]
#[allow(clippy::needless_pass_by_value)]
fn apply(patch: Patch) {}

#[tokio::test]
async fn default_capture_records_arguments_with_an_audit_view_and_masks_secret_names() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    let patch = Patch {
        plan: "pro".into(),
        api_token: "tok_live_9".into(),
    };
    AuditScope::system("ops")
        .with_auditor(auditor.clone())
        .run(update_app(
            &Pool,
            &billing(),
            patch,
            (1, 2),
            "private".into(),
            "hunter2".into(),
            3,
            vec!["a"],
        ))
        .await
        .unwrap();
    auditor.flush().await.unwrap();
    let event = &sink.events()[0];
    assert_eq!(
        event.metadata(),
        json!({
            "app": {"type": "app", "id": "42", "name": "Billing"},
            "password": REDACTED,
            "count": 3,
            "labels": ["a"],
        })
        .as_object()
        .unwrap(),
        "a resource as its reference; not `_pool` (underscore), `patch` (only `Serialize`: \
         its serde form has no masks), `(x, y)` (destructured) nor `note` (skipped)"
    );

    // Named in `fields`, a `Serialize` value is recorded, through the redactor.
    AuditScope::system("ops").with_auditor(auditor.clone()).run_sync(|| {
        apply(Patch {
            plan: "team".into(),
            api_token: "tok_live_9".into(),
        });
    });
    auditor.flush().await.unwrap();
    assert_eq!(
        sink.events()[1].metadata()["patch"],
        json!({"plan": "team", "api_token": REDACTED})
    );
    let stored = serde_json::to_string(&sink.events()).unwrap();
    for secret in ["hunter2", "tok_live_9", "whsec_live", "private"] {
        assert!(!stored.contains(secret), "{secret} reached the sink: {stored}");
    }
}

// ------------------------------------------------- derive-driven redaction

#[audited(action = "app.secret_rotated")]
async fn rotate_secret(app: &mut App) -> Result<(), AppError> {
    audit::before(&*app);
    app.webhook_secret = "whsec_live_4567".into();
    app.plan = "enterprise".into();
    audit::after(&*app);
    Ok(())
}

#[tokio::test]
async fn a_redacted_field_never_reaches_the_sink_and_a_skipped_one_is_left_out() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    let mut app = billing();
    AuditScope::system("ops")
        .with_auditor(auditor.clone())
        .run(rotate_secret(&mut app))
        .await
        .unwrap();
    auditor.flush().await.unwrap();

    let stored = serde_json::to_string(&sink.events()).unwrap();
    assert!(!stored.contains("whsec_live"), "{stored}");
    let event = &sink.events()[0];
    assert_eq!(
        event.target(),
        Some(&Target::new("app", "42").with_name("Billing")),
        "`before` names the target"
    );
    let changes = event.changes().unwrap();
    assert_eq!(
        changes.before,
        Some(json!({"id": 42, "name": "Billing", "plan": "pro", "webhook_secret": REDACTED}))
    );
    assert_eq!(changes.after.as_ref().unwrap()["plan"], "enterprise");
    assert!(
        !changes
            .before
            .as_ref()
            .unwrap()
            .as_object()
            .unwrap()
            .contains_key("icon_cache")
    );
    assert_eq!(
        changes.diff.len(),
        1,
        "only the plan visibly changed: {:?}",
        changes.diff
    );
    assert_eq!(
        event.metadata()["app"],
        json!({"type": "app", "id": "42", "name": "Billing"})
    );
}

#[derive(Auditable)]
struct ApiKey {
    #[audit(id)]
    public_id: String,
    #[audit(name)]
    label: Option<String>,
    owner: App,
}

#[test]
fn derive_defaults_and_nested_resources() {
    let key = ApiKey {
        public_id: "key_1".into(),
        label: None,
        owner: billing(),
    };
    assert_eq!(key.audit_target_type(), "api_key", "the type name in snake_case");
    assert_eq!(
        key.audit_target_ref(),
        Target::new("api_key", "key_1"),
        "no name when the label is None"
    );
    assert_eq!(
        key.audit_state()["owner"]["webhook_secret"],
        REDACTED,
        "a nested resource keeps its own masks"
    );
    let labelled = ApiKey {
        label: Some("CI".into()),
        ..key
    };
    assert_eq!(labelled.audit_name().as_deref(), Some("CI"));
}

// ----------------------------------------- every kind of function it goes on

struct Service {
    calls: u32,
}

impl Service {
    #[audited(action = "service.pinged", fields(calls = self.calls))]
    async fn ping(&self) -> Result<u32, AppError> {
        Ok(self.calls)
    }

    #[audited(action = "service.bumped", description = "Bumped from {self.calls}")]
    async fn bump(&mut self) -> &mut u32 {
        self.calls += 1;
        &mut self.calls
    }

    #[audited(action = "service.stopped")]
    async fn stop(self) -> u32 {
        self.calls
    }

    #[audited(action = "service.peeked")]
    fn peek(&mut self) -> &mut u32 {
        &mut self.calls
    }
}

trait Repository {
    async fn remove(&self, id: u64) -> Result<(), AppError>;

    #[audited(action = "repository.cleared")]
    async fn clear(&self) -> Result<usize, AppError> {
        Ok(0)
    }
}

struct Memory;

impl Repository for Memory {
    #[audited(action = "record.removed", target = "record", target_id = id)]
    async fn remove(&self, id: u64) -> Result<(), AppError> {
        if id == 0 { Err(AppError("no record 0")) } else { Ok(()) }
    }
}

#[async_trait::async_trait]
trait Store: Send + Sync {
    async fn put(&self, key: &str, value: u32) -> Result<(), AppError>;

    #[audited(action = "store.flushed")]
    async fn flush(&self) -> Result<(), AppError> {
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for Memory {
    #[audited(action = "store.written", target = "key", target_id = key)]
    async fn put(&self, key: &str, value: u32) -> Result<(), AppError> {
        tokio::task::yield_now().await;
        audit::meta("in_body", &value);
        if value == 0 {
            Err(AppError("zero"))?
        }
        Ok(())
    }
}

#[audited(action = "job.scheduled")]
fn schedule(job: &'static str) -> impl Future<Output = Result<&'static str, AppError>> + Send {
    async move {
        tokio::task::yield_now().await;
        audit::meta("ran", &true);
        Ok(job)
    }
}

#[audited(action = "job.retried")]
#[allow(clippy::type_complexity)]
fn retry(job: &'static str) -> Pin<Box<dyn Future<Output = Result<u8, AppError>> + Send>> {
    Box::pin(async move {
        let attempts: u8 = "3".parse().map_err(|_| AppError("parse"))?;
        let _ = job;
        Ok(attempts)
    })
}

#[tokio::test]
async fn methods_trait_methods_async_trait_and_future_returning_fns_are_audited() {
    let (outputs, events) = in_request(async {
        let mut service = Service { calls: 1 };
        let pinged = service.ping().await.unwrap();
        *service.bump().await += 10;
        *service.peek() += 100;
        let stopped = service.stop().await;
        let removed = (Memory.remove(1).await, Memory.remove(0).await);
        let cleared = Memory.clear().await.unwrap();
        let put = (Memory.put("k1", 5).await, Memory.put("k2", 0).await);
        Store::flush(&Memory).await.unwrap();
        let scheduled = schedule("nightly").await.unwrap();
        let retried = retry("nightly").await.unwrap();
        (pinged, stopped, removed, cleared, put, scheduled, retried)
    })
    .await;
    assert_eq!(
        outputs,
        (
            1,
            112,
            (Ok(()), Err(AppError("no record 0"))),
            0,
            (Ok(()), Err(AppError("zero"))),
            "nightly",
            3
        )
    );
    let summary: Vec<_> = events
        .iter()
        .map(|(e, _)| format!("{} {}", e.action(), e.outcome()))
        .collect();
    assert_eq!(
        summary,
        [
            "service.pinged success",
            "service.bumped success",
            "service.peeked success",
            "service.stopped success",
            "record.removed success",
            "record.removed failure",
            "repository.cleared success",
            "store.written success",
            "store.written failure",
            "store.flushed success",
            "job.scheduled success",
            "job.retried success",
        ]
    );
    let by_action = |action: &'static str| events.iter().filter(move |(e, _)| e.action().as_str() == action);
    assert_eq!(by_action("service.pinged").next().unwrap().0.metadata()["calls"], 1);
    assert_eq!(
        by_action("service.bumped").next().unwrap().0.description(),
        Some("Bumped from 1")
    );
    let written: Vec<_> = by_action("store.written").map(|(e, _)| e.clone()).collect();
    assert_eq!(written[0].target(), Some(&Target::new("key", "k1")));
    assert_eq!(
        written[0].metadata()["in_body"],
        5,
        "the draft reaches into async_trait's boxed future"
    );
    assert_eq!(written[1].reason(), Some("app error: zero"));
    assert_eq!(by_action("job.scheduled").next().unwrap().0.metadata()["ran"], true);
}

#[test]
fn a_returned_future_opens_its_draft_when_called_so_dropping_it_records_a_cancellation() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")));
    scope.run_sync(|| drop(schedule("nightly")));
    let (event, _) = only(completed(&scope));
    assert_eq!(event.action().as_str(), "job.scheduled");
    assert_eq!(
        event.reason(),
        Some("cancelled: the future was dropped before the operation completed")
    );
}

// ------------------------------------------------------ types and inference

#[derive(Debug)]
struct DbError;

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("db down")
    }
}

impl From<DbError> for AppError {
    fn from(_: DbError) -> Self {
        AppError("storage")
    }
}

fn load(ok: bool) -> Result<u32, DbError> {
    if ok { Ok(1) } else { Err(DbError) }
}

#[audited(action = "app.loaded")]
async fn load_async(ok: bool) -> Result<u32, AppError> {
    let value = load(ok)?;
    if value > 10 {
        return Ok(0);
    }
    Ok(value)
}

#[audited(action = "app.loaded")]
fn load_sync(ok: bool) -> Result<u32, AppError> {
    Ok(load(ok)?)
}

#[audited(action = "app.listed")]
async fn list_async() -> impl Iterator<Item = u8> {
    [1, 2].into_iter()
}

#[audited(action = "app.listed")]
fn list_sync(fail: bool) -> Result<impl Iterator<Item = u8>, AppError> {
    if fail {
        Err(DbError)?;
    }
    Ok([3].into_iter())
}

#[audited(action = "app.parsed")]
fn parse_generic<E: fmt::Display>(result: Result<u8, E>) -> Result<u8, E> {
    result
}

#[tokio::test]
async fn question_mark_return_impl_trait_and_generic_errors_keep_working() {
    let (outputs, events) = in_request(async {
        (
            load_async(false).await,
            load_sync(true),
            list_async().await.collect::<Vec<_>>(),
            list_sync(false).unwrap().collect::<Vec<_>>(),
            list_sync(true).is_err(),
            parse_generic::<&str>(Err("bad digit")),
        )
    })
    .await;
    assert_eq!(
        outputs,
        (
            Err(AppError("storage")),
            Ok(1),
            vec![1, 2],
            vec![3],
            true,
            Err("bad digit")
        )
    );
    let reasons: Vec<_> = events
        .iter()
        .map(|(e, _)| e.reason().unwrap_or("-").to_owned())
        .collect();
    assert_eq!(
        reasons,
        ["app error: storage", "-", "-", "-", "app error: storage", "bad digit"]
    );
}

// ------------------------------------------------------------ correlation

#[audited(action = "invoice.issued")]
async fn issue_invoice() -> uuid::Uuid {
    Draft::current().expect("the body runs inside its draft").event_id()
}

#[tokio::test]
async fn the_body_sees_its_own_draft_so_it_can_return_the_event_id() {
    let (event_id, events) = in_request(issue_invoice()).await;
    assert_eq!(only(events).0.id(), event_id);
}

#[test]
fn the_action_is_checked_once_and_shared_by_every_call() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u")));
    scope.run_sync(|| {
        for ok in [true, false, true] {
            let _ = load_sync(ok);
        }
    });
    let actions: Vec<_> = completed(&scope).iter().map(|(e, _)| e.action().clone()).collect();
    assert_eq!(actions, vec![Action::from_static("app.loaded").unwrap(); 3]);
}

#[tokio::test]
async fn drafts_shared_across_threads_need_no_extra_bounds() {
    fn assert_send<T: Send>(_: &T) {}
    let future = delete(false);
    assert_send(&future);
    let shared = Arc::new(Memory);
    let handle = tokio::spawn(async move { shared.put("k", 1).await });
    handle.await.unwrap().unwrap();
}
