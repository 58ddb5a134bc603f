//! The quickstart's exact service (`Quickstart::build`), served by
//! `Quickstart::serve` on a loopback port, and a real HTTP client for it:
//! what the end-to-end tests of the quickstart and of its web page share.

use audit_core::{Auditor, AuditorStats, Event};
use audit_store::{AuditQuery, Store};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use quickstart::{Config, Quickstart};
use serde_json::Value;

use super::TestDb;

/// The user agent of every request the client sends.
pub(crate) const USER_AGENT: &str = "quickstart-e2e/1.0 (+tests)";

/// A client of the running service; cheap to clone into tasks.
#[derive(Clone)]
pub(crate) struct Http {
    pub(crate) base: String,
    client: Client<HttpConnector, String>,
}

/// The quickstart, serving on a loopback port until [`stop`](Self::stop).
pub(crate) struct Running {
    pub(crate) http: Http,
    pub(crate) store: Store,
    pub(crate) auditor: Auditor,
    /// The application's in-memory state, to check what an action changed.
    pub(crate) state: quickstart::AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Result<AuditorStats, quickstart::Error>>,
}

/// One answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub(crate) fn request_id(&self) -> &str {
        self.headers["x-request-id"].to_str().unwrap()
    }
}

impl Http {
    pub(crate) async fn try_send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Reply, Box<dyn std::error::Error + Send + Sync>> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("user-agent", USER_AGENT);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let response = self.client.request(request.body(body)?).await?;
        let (parts, body) = response.into_parts();
        let body = String::from_utf8(body.collect().await?.to_bytes().to_vec())?;
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

impl Running {
    pub(crate) async fn start(db: &TestDb) -> Self {
        Self::start_with(Config::new(db.url())).await
    }

    pub(crate) async fn start_with(config: Config) -> Self {
        let quickstart = Quickstart::build(config).await.unwrap();
        let store = quickstart.store().clone();
        let auditor = quickstart.auditor().clone();
        let state = quickstart.state().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(quickstart.serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            http: Http {
                base,
                client: Client::builder(TokioExecutor::new()).build_http(),
            },
            store,
            auditor,
            state,
            stop,
            served,
        }
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        self.http.try_send(method, path, headers, body).await.unwrap()
    }

    /// The stored events of the request that got `reply`, oldest first.
    pub(crate) async fn events_of(&self, reply: &Reply) -> Vec<Event> {
        self.auditor.flush().await.unwrap();
        events_with_request_id(&self.store, reply.request_id()).await
    }

    /// The one stored event of `action` answering `reply`.
    pub(crate) async fn event_of(&self, reply: &Reply, action: &str) -> Event {
        let events = self.events_of(reply).await;
        let mut matching = events.into_iter().filter(|e| e.action().as_str() == action);
        let event = matching
            .next()
            .unwrap_or_else(|| panic!("no {action} event for request {}", reply.request_id()));
        assert!(matching.next().is_none(), "one {action} event per request");
        event
    }

    /// Shuts down as Ctrl-C would: finishes the requests in flight, drains the auditor.
    pub(crate) async fn stop(self) -> AuditorStats {
        drop(self.http);
        let _ = self.stop.send(());
        self.served.await.unwrap().unwrap()
    }
}

/// Every stored event, oldest first.
pub(crate) async fn all_events(store: &Store) -> Vec<Event> {
    let mut scan = store.scan(&AuditQuery::new()).unwrap();
    let mut events = Vec::new();
    while let Some(batch) = scan.next_batch().await.unwrap() {
        events.extend(batch);
    }
    events.sort_by_key(|e| (e.occurred_at(), e.id()));
    events
}

pub(crate) async fn events_with_request_id(store: &Store, request_id: &str) -> Vec<Event> {
    let mut events = store
        .query(&AuditQuery::new().request_id(request_id).limit(200))
        .await
        .unwrap()
        .events;
    events.reverse();
    events
}
