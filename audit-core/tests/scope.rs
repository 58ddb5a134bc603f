//! Request scopes and drafts.

use std::time::Duration;

use audit_core::{
    Action, Actor, AuditScope, Auditor, Draft, Event, MemorySink, Outcome, OutcomeSource, RequestContext, Target,
};
use serde_json::json;

fn action(name: &'static str) -> Action {
    Action::from_static(name).unwrap()
}

fn built(scope: &AuditScope) -> Vec<Event> {
    scope
        .take_completed()
        .into_iter()
        .map(|c| c.into_builder(scope.request()).build())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_scopes_never_see_each_others_drafts() {
    let tasks: Vec<_> = (0..100)
        .map(|task| {
            tokio::spawn(async move {
                let scope = AuditScope::new(
                    RequestContext::new(Actor::user(format!("user_{task}"))).with_tenant(format!("tenant_{task}")),
                );
                scope
                    .run(async move {
                        for round in 0..3 {
                            let draft = Draft::open(action("app.updated"));
                            draft
                                .scoped(async move {
                                    audit_core::meta("task", &task);
                                    tokio::task::yield_now().await;
                                    audit_core::before(&json!({"owner": task, "round": round}));
                                    tokio::task::yield_now().await;
                                    audit_core::after(&json!({"owner": task, "round": round + 1}));
                                    audit_core::target(Target::new("app", format!("app_{task}")));
                                })
                                .await;
                            draft.complete();
                        }
                    })
                    .await;
                (task, built(&scope))
            })
        })
        .collect();

    for handle in tasks {
        let (task, events) = handle.await.unwrap();
        assert_eq!(events.len(), 3, "task {task} sees exactly its own three drafts");
        for event in events {
            assert_eq!(event.actor().id, format!("user_{task}"));
            assert_eq!(event.tenant_id(), Some(format!("tenant_{task}").as_str()));
            assert_eq!(event.metadata()["task"], json!(task));
            assert_eq!(event.target().unwrap().id, format!("app_{task}"));
            let changes = event.changes().unwrap();
            assert_eq!(changes.before.as_ref().unwrap()["owner"], json!(task));
            assert_eq!(changes.after.as_ref().unwrap()["owner"], json!(task));
        }
    }
}

#[tokio::test]
async fn concurrent_drafts_in_one_request_stay_apart() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u1")));
    scope
        .run(async {
            let left = Draft::open(action("app.created"));
            let right = Draft::open(action("member.invited"));
            tokio::join!(
                left.scoped(async {
                    tokio::task::yield_now().await;
                    audit_core::meta("side", "left");
                }),
                right.scoped(async {
                    audit_core::meta("side", "right");
                    tokio::task::yield_now().await;
                }),
            );
            left.complete();
            right.complete();
        })
        .await;
    let events = built(&scope);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].metadata()["side"], "left");
    assert_eq!(events[1].metadata()["side"], "right");
    assert_eq!(events[0].metadata().len(), 1);
}

#[tokio::test]
async fn nested_drafts_act_on_the_innermost() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u1")));
    scope
        .run(async {
            let outer = Draft::open(action("app.deleted"));
            outer
                .scoped(async {
                    audit_core::meta("level", "outer");
                    let inner = Draft::open(action("api_key.revoked"));
                    inner.scoped(async { audit_core::meta("level", "inner") }).await;
                    inner.complete();
                    audit_core::description("after the inner one");
                })
                .await;
            outer.complete();
        })
        .await;
    let events = built(&scope);
    assert_eq!(events[0].action().as_str(), "api_key.revoked");
    assert_eq!(events[0].metadata()["level"], "inner");
    assert_eq!(events[1].metadata()["level"], "outer");
    assert_eq!(events[1].description(), Some("after the inner one"));
}

#[tokio::test]
async fn outcome_sources_tell_the_layer_what_it_may_override() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u1")));
    scope
        .run(async {
            Draft::open(action("a.created")).complete();
            Draft::open(action("b.created")).complete_returned(Outcome::Failure, Some("no such plan".into()));
            let explicit = Draft::open(action("c.created"));
            explicit.scoped(async { audit_core::outcome(Outcome::Denied) }).await;
            explicit.complete_returned(Outcome::Success, None);
        })
        .await;
    let completed = scope.take_completed();
    let sources: Vec<_> = completed.iter().map(|c| c.outcome_source()).collect();
    assert_eq!(
        sources,
        [OutcomeSource::Unset, OutcomeSource::Returned, OutcomeSource::Explicit]
    );
    let events: Vec<_> = completed
        .into_iter()
        .map(|c| c.into_builder(scope.request()).build())
        .collect();
    assert_eq!(events[1].outcome(), Outcome::Failure);
    assert_eq!(events[1].reason(), Some("no such plan"));
    assert_eq!(
        events[2].outcome(),
        Outcome::Denied,
        "an explicit outcome wins over the returned one"
    );
}

#[tokio::test]
async fn a_cancelled_operation_still_produces_a_failure_event() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u1")));
    let operation = scope.run(async {
        let draft = Draft::open(action("app.deleted"));
        draft.scoped(std::future::pending::<()>()).await;
        draft.complete();
    });
    // Poll once, then drop: what a client disconnect does to a handler.
    assert!(tokio::time::timeout(Duration::ZERO, operation).await.is_err());
    let events = built(&scope);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome(), Outcome::Failure);
    assert!(
        events[0].reason().unwrap().contains("cancelled"),
        "{:?}",
        events[0].reason()
    );
}

#[tokio::test]
async fn a_draft_can_set_its_own_actor_and_tenant() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u1")).with_tenant("acme"));
    scope
        .run(async {
            let draft = Draft::open(action("auth.login"));
            draft.update(|b| b.actor(Actor::user("u2")).tenant("globex"));
            draft.complete();
        })
        .await;
    let events = built(&scope);
    assert_eq!(events[0].actor().id, "u2");
    assert_eq!(events[0].tenant_id(), Some("globex"));
}

#[tokio::test]
async fn spawn_carries_the_scope_and_the_draft_but_tokio_spawn_does_not() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u1")));
    scope
        .run(async {
            let draft = Draft::open(action("report.exported"));
            draft
                .scoped(async {
                    audit_core::spawn(async { audit_core::meta("rows", &42) })
                        .await
                        .unwrap();
                    let bare = tokio::spawn(async { AuditScope::current().is_some() }).await.unwrap();
                    assert!(!bare, "a bare tokio::spawn starts outside the scope");
                })
                .await;
            draft.complete();
        })
        .await;
    let events = built(&scope);
    assert_eq!(events[0].metadata()["rows"], 42);
}

#[tokio::test]
async fn a_background_scope_delivers_to_its_auditor_as_a_system_actor() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    AuditScope::system("billing-cron")
        .with_auditor(auditor.clone())
        .run(async {
            for invoice in 0..3 {
                let draft = Draft::open(action("invoice.issued"));
                draft.update(|b| b.target(Target::new("invoice", format!("inv_{invoice}"))));
                draft.complete();
            }
        })
        .await;
    auditor.flush().await.unwrap();
    let events = sink.events();
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e.actor().id == "billing-cron" && e.actor().kind == audit_core::ActorKind::System)
    );
}

#[tokio::test]
async fn a_background_scope_whose_queue_is_full_delivers_when_the_job_ends() {
    let sink = MemorySink::new();
    sink.pause();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .capacity(1)
        .batch_size(1)
        .linger(Duration::ZERO)
        .start(sink.clone());
    let job = AuditScope::system("import").with_auditor(auditor.clone());
    let run = tokio::spawn({
        let job = job.clone();
        async move {
            job.run(async {
                for _ in 0..5 {
                    Draft::open(action("row.imported")).complete();
                }
            })
            .await;
        }
    });
    // The job is now waiting at its end for room in the queue.
    tokio::task::yield_now().await;
    sink.resume();
    run.await.unwrap();
    auditor.flush().await.unwrap();
    assert_eq!(
        sink.len(),
        5,
        "events that found the queue full are queued when the job ends"
    );
}

#[test]
fn sync_code_can_use_scopes_and_drafts() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u1")));
    scope.run_sync(|| {
        let draft = Draft::open(action("setting.changed"));
        draft.run_sync(|| audit_core::after(&json!({"theme": "dark"})));
        draft.complete();
    });
    let events = built(&scope);
    assert_eq!(events[0].changes().unwrap().after, Some(json!({"theme": "dark"})));
}

/// What `#[derive(Auditable)]` will generate, written by hand.
struct ApiKey {
    id: &'static str,
    secret: &'static str,
}

impl audit_core::AuditState for ApiKey {
    fn audit_state(&self) -> serde_json::Value {
        let _ = self.secret; // a marked field: never part of the state
        json!({"id": self.id, "secret": audit_core::REDACTED})
    }
    fn audit_target(&self) -> Option<Target> {
        Some(Target::new("api_key", self.id))
    }
}

#[test]
fn a_resource_state_names_its_target_unless_the_code_already_did() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u1")));
    scope.run_sync(|| {
        let first = Draft::open(action("api_key.rotated"));
        first.run_sync(|| {
            audit_core::before(&ApiKey {
                id: "key_1",
                secret: "sk_live_1",
            })
        });
        first.complete();
        let second = Draft::open(action("api_key.rotated"));
        second.run_sync(|| {
            audit_core::target(Target::new("project", "prj_9"));
            audit_core::after(&ApiKey {
                id: "key_2",
                secret: "sk_live_2",
            });
        });
        second.complete();
        let plain = Draft::open(action("plan.changed"));
        plain.run_sync(|| audit_core::after(&audit_core::Snapshot(&vec![("seats", 5)])));
        plain.complete();
    });
    let events = built(&scope);
    assert_eq!(events[0].target().unwrap().id, "key_1");
    assert_eq!(events[1].target().unwrap().id, "prj_9", "an explicit target wins");
    assert!(events[2].target().is_none());
    assert_eq!(events[2].changes().unwrap().after, Some(json!([["seats", 5]])));
    assert!(!serde_json::to_string(&events).unwrap().contains("sk_live"));
}
