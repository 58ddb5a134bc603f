//! The layer as a tower service, without a network: cancellation, service
//! errors, and the test helpers.

use std::time::Duration;

use audit_core::{Action, Actor, Auditor, Draft, MemorySink, Outcome, RequestContext};
use audit_tower::{AuditContext, AuditLayer, MockAuditContext};
use axum::body::Body;
use axum::routing::{delete, get};
use axum::{Extension, Router};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt};

#[tokio::test]
async fn a_request_whose_client_went_away_is_recorded_as_a_failure() {
    async fn slow_delete() -> StatusCode {
        let draft = Draft::open(Action::from_static("app.deleted").unwrap());
        draft.scoped(std::future::pending::<()>()).await;
        draft.complete();
        StatusCode::NO_CONTENT
    }
    let sink = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    let app = Router::new()
        .route("/apps/{id}", delete(slow_delete))
        .layer(AuditLayer::new(auditor.clone()));
    let request = Request::delete("/apps/app_1").body(Body::empty()).unwrap();
    // Poll until the handler is waiting, then drop the response future: what hyper does on disconnect.
    assert!(
        tokio::time::timeout(Duration::ZERO, app.oneshot(request))
            .await
            .is_err()
    );
    auditor.flush().await.unwrap();
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome(), Outcome::Failure);
    assert!(
        events[0].reason().unwrap().starts_with("cancelled"),
        "{:?}",
        events[0].reason()
    );
    assert_eq!(events[0].context().status, None, "no response was sent");
}

#[tokio::test]
async fn a_draft_a_streamed_body_completes_after_the_response_is_recorded_with_its_outcome() {
    // The body holds the draft and fails it when its stream breaks, long
    // after the layer took the request's events.
    async fn streamed() -> Body {
        let draft = Draft::open(Action::from_static("report.exported").unwrap());
        let chunks = futures_util::stream::iter([Ok(axum::body::Bytes::from("first")), Err("store went away")]);
        Body::from_stream(futures_util::StreamExt::inspect(chunks, move |chunk| {
            if let Err(reason) = chunk {
                draft.update(|builder| builder.reason(*reason));
                draft.set_outcome(Outcome::Failure);
                draft.clone().complete();
            }
        }))
    }
    let sink = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    let app = Router::new().route("/report", get(streamed)).layer(
        AuditLayer::new(auditor.clone())
            .actor(|_: &http::request::Parts| Some(audit_tower::Principal::new(Actor::user("user_alice")))),
    );
    let response = app
        .oneshot(Request::get("/report").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    auditor.flush().await.unwrap();
    assert!(sink.is_empty(), "still open when the response left");
    assert!(response.into_body().collect().await.is_err());
    auditor.flush().await.unwrap();
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome(), Outcome::Failure);
    assert_eq!(events[0].reason(), Some("store went away"));
    assert_eq!(events[0].actor().id, "user_alice");
    assert_eq!(events[0].context().status, Some(200));
    assert_eq!(events[0].context().route.as_deref(), Some("/report"));
}

#[tokio::test]
async fn a_service_error_is_recorded_as_a_failure_and_passed_on() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    let failing = tower::service_fn(|_: Request<String>| async {
        Draft::open(Action::from_static("upload.imported").unwrap()).complete();
        Err::<Response<String>, _>(std::io::Error::other("disk full"))
    });
    let service = AuditLayer::new(auditor.clone()).layer(failing);
    let error = service.oneshot(Request::new(String::new())).await.unwrap_err();
    assert_eq!(error.to_string(), "disk full");
    auditor.flush().await.unwrap();
    let events = sink.events();
    assert_eq!(events[0].outcome(), Outcome::Failure);
    assert_eq!(events[0].reason(), Some("the service failed before responding"));
}

#[tokio::test]
async fn handlers_can_be_tested_with_a_mock_audit_context() {
    async fn whoami(audit: AuditContext) -> String {
        format!("{}@{}", audit.actor().id, audit.tenant_id().unwrap_or_default())
    }
    let mock = RequestContext::new(Actor::user("test-user")).with_tenant("acme");
    let app = Router::new()
        .route("/", get(whoami))
        .layer(Extension(MockAuditContext(mock)));
    let response = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "test-user@acme");
}

#[tokio::test]
async fn under_the_layer_the_extractor_is_the_requests_scope_even_with_a_mock() {
    async fn sign_in(audit: AuditContext) -> String {
        audit.identify(audit_tower::Principal::new(Actor::user("user_alice")).in_tenant("acme"));
        Draft::open(Action::from_static("app.viewed").unwrap()).complete();
        format!("{}@{}", audit.actor().id, audit.tenant_id().unwrap_or_default())
    }
    let sink = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    let mock = RequestContext::new(Actor::user("test-user")).with_tenant("mock");
    let app = Router::new()
        .route("/", get(sign_in))
        .layer(Extension(MockAuditContext(mock)))
        .layer(AuditLayer::new(auditor.clone()));
    let response = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "user_alice@acme");
    auditor.flush().await.unwrap();
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor().id, "user_alice");
    assert_eq!(events[0].tenant_id(), Some("acme"));
}

#[tokio::test]
async fn without_layer_or_mock_the_extractor_says_what_is_missing() {
    let app = Router::new().route("/", get(|_: AuditContext| async { "unreachable" }));
    let response = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("needs AuditLayer"));
}

#[tokio::test]
async fn a_shut_down_auditor_fails_closed_with_503() {
    let auditor = Auditor::builder().lifecycle_events(false).start(MemorySink::new());
    auditor.shutdown(Duration::from_secs(1)).await.unwrap();
    let app = Router::new()
        .route(
            "/apps/{id}",
            delete(|| async {
                Draft::open(Action::from_static("app.deleted").unwrap()).complete();
                StatusCode::NO_CONTENT
            }),
        )
        .layer(AuditLayer::new(auditor));
    let response = app
        .oneshot(Request::delete("/apps/1").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}
