//! Transactional recording from an `#[audited]` handler, over real HTTP on
//! loopback: the business change and its audit event are written in one
//! SQLite transaction (`complete_for_transaction` + `record_in`), so they
//! commit or roll back together and the layer queues nothing more.

#![cfg(feature = "sqlite")]

use std::net::SocketAddr;

use audit_core::{Actor, Auditor, MemorySink, audited};
use audit_store::{AuditQuery, SqliteStore, Store};
use audit_tower::{AuditLayer, Principal};
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::patch;
use http_body_util::BodyExt as _;

#[derive(Clone)]
struct App {
    store: SqliteStore,
    auditor: Auditor,
}

#[audited(action = "member.role_changed", description = "Made {id} an admin")]
async fn promote(State(app): State<App>, Path(id): Path<String>) -> Result<StatusCode, StatusCode> {
    let failed = |_| StatusCode::INTERNAL_SERVER_ERROR;
    let mut tx = app.store.pool().begin_with("BEGIN IMMEDIATE").await.map_err(failed)?;
    sqlx::query("UPDATE roles SET role = 'admin' WHERE user_id = ?")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    audit_core::meta("role", "admin");
    let event = audit_core::complete_for_transaction(app.auditor.policy()).map_err(|_| StatusCode::CONFLICT)?;
    app.store
        .record_in(&mut tx, &[event])
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    if id == "user_carol" {
        // A later step of the business change fails: both roll back.
        tx.rollback().await.map_err(failed)?;
        return Err(StatusCode::UNPROCESSABLE_ENTITY);
    }
    tx.commit().await.map_err(failed)?;
    Ok(StatusCode::OK)
}

async fn as_alice(mut request: Request, next: Next) -> Response {
    request
        .extensions_mut()
        .insert(Principal::new(Actor::user("user_alice").with_role("owner")).in_tenant("acme"));
    next.run(request).await
}

async fn role_of(store: &SqliteStore, user: &str) -> String {
    sqlx::query_scalar("SELECT role FROM roles WHERE user_id = ?")
        .bind(user)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audited_handler_commits_its_change_and_its_event_together() {
    let dir = std::env::temp_dir().join(format!("audit-tx-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::connect(&format!("sqlite://{}", dir.join("audit.db").display()))
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE roles (user_id TEXT PRIMARY KEY, role TEXT NOT NULL); \
         INSERT INTO roles VALUES ('user_bob', 'member'), ('user_carol', 'member');",
    )
    .execute(store.pool())
    .await
    .unwrap();
    // The layer's auditor writes somewhere else: whatever it queues would
    // show there, and the transactional event must not be queued again.
    let queued = MemorySink::new();
    let auditor = Auditor::builder().lifecycle_events(false).start(queued.clone());
    let app = Router::new()
        .route("/members/{id}/promote", patch(promote))
        .with_state(App {
            store: store.clone(),
            auditor: auditor.clone(),
        })
        .layer(AuditLayer::new(auditor.clone()))
        .layer(middleware::from_fn(as_alice));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap();
    });
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let send = |user: &str| {
        let request = http::Request::patch(format!("http://{address}/members/{user}/promote"))
            .body(String::new())
            .unwrap();
        client.request(request)
    };

    let response = send("user_bob").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let _ = response.into_body().collect().await;
    // Stored when the response left, in the business transaction: no flush.
    assert_eq!(role_of(&store, "user_bob").await, "admin");
    let store_view = Store::Sqlite(store.clone());
    let events = store_view
        .query(&AuditQuery::new().request_id(request_id.as_str()))
        .await
        .unwrap()
        .events;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.action().as_str(), "member.role_changed");
    assert_eq!(event.actor().id, "user_alice");
    assert_eq!(event.tenant_id(), Some("acme"));
    assert_eq!(event.description(), Some("Made user_bob an admin"));
    assert_eq!(event.metadata()["role"], "admin");
    assert_eq!(event.context().method.as_deref(), Some("PATCH"));
    assert!(event.integrity().is_some(), "sealed by the store in the transaction");

    // Rolled back: neither the change nor its event.
    let response = send("user_carol").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(role_of(&store, "user_carol").await, "member");
    auditor.flush().await.unwrap();
    assert!(
        queued.is_empty(),
        "the layer queued nothing more: {:?}",
        queued.actions()
    );
    assert_eq!(store_view.query(&AuditQuery::new()).await.unwrap().events.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
