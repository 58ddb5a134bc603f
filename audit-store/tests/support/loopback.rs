//! The admin API on a real loopback server, behind the real `AuditLayer`,
//! read with a real HTTP client. The layer's auditor writes the API's own
//! `audit_log.*` events to a memory sink, apart from the store.

use std::net::SocketAddr;

use audit_core::{Actor, Auditor, Event, MemorySink};
use audit_store::Store;
use audit_store::http::AdminApi;
use audit_tower::{AuditLayer, Principal};
use axum::Router;
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The reader, as the app's own authentication would name it:
/// `x-test-actor: <id> <role> [tenant]`.
fn test_actor(parts: &Parts) -> Option<Principal> {
    let text = parts.headers.get("x-test-actor")?.to_str().ok()?;
    let mut words = text.split(' ');
    let (id, role, tenant) = (words.next()?, words.next()?, words.next());
    let mut principal = Principal::new(Actor::user(id).with_role(role));
    principal.tenant_id = tenant.map(str::to_owned);
    Some(principal)
}

/// `AdminApi` over a store, nested at `/audit-logs`, served on loopback.
pub(crate) struct Loopback {
    pub(crate) address: SocketAddr,
    pub(crate) client: Client<HttpConnector, String>,
    pub(crate) recorded: MemorySink,
    pub(crate) auditor: Auditor,
}

impl Loopback {
    pub(crate) async fn start(store: Store) -> Self {
        Self::serve(AdminApi::new(store)).await
    }

    /// `api`, configured by the test, nested and served the same way.
    pub(crate) async fn serve(api: AdminApi) -> Self {
        let recorded = MemorySink::new();
        let auditor = Auditor::builder().lifecycle_events(false).start(recorded.clone());
        let app = api
            .nest_into(Router::new(), "/audit-logs")
            .layer(AuditLayer::new(auditor.clone()).actor(test_actor));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .unwrap();
        });
        Self {
            address,
            client: Client::builder(TokioExecutor::new()).build_http(),
            recorded,
            auditor,
        }
    }

    /// GET `path` (under `/audit-logs`) as `actor`.
    pub(crate) async fn get(&self, actor: &str, path: &str) -> (StatusCode, http::HeaderMap, String) {
        let request = http::Request::get(format!("http://{}/audit-logs{path}", self.address))
            .header("x-test-actor", HeaderValue::from_str(actor).unwrap())
            .body(String::new())
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
        (parts.status, parts.headers, body)
    }

    /// The API's own events so far.
    pub(crate) async fn recorded(&self) -> Vec<Event> {
        self.auditor.flush().await.unwrap();
        self.recorded.events()
    }
}
