//! The admin read side over HTTP: an axum [`Router`] the application nests,
//! e.g. at `/audit-logs` (feature `http`).
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | `{"data": [event, …], "next_cursor": string \| null}`, newest first |
//! | `GET /{id}` | one event |
//! | `GET /export?format=csv\|ndjson&…` | every matching event, streamed (see [`ExportFormat`](crate::ExportFormat)) |
//! | `GET /actions` | `[{"action", "category", "count"}]`, most frequent first |
//! | `GET /openapi.json` | the OpenAPI 3.1 description of these routes |
//!
//! Events have the JSON shape of the event model. The list, export and
//! action routes take the [query parameters](crate::QUERY_PARAMETERS)
//! (export and actions without `limit`, `cursor` and `offset`; actions
//! without `action`); when a request names no time range (`since` or
//! `until`), the last 30 days are shown ([`AdminApi::default_window`]).
//! Anything unknown, malformed or out of range is a 400 with
//! `{"error": {"code", "message", "param"}}` naming the parameter.
//!
//! # Access
//!
//! The router must run behind `audit_tower::AuditLayer`, which identifies
//! the reader: the actor (with its roles) and tenant of the request. A
//! [`ReadPolicy`] decides what that reader may see; the [`DefaultPolicy`]
//! lets `owner` and `admin` read their own tenant and the platform role
//! `auditor` read every tenant, and refuses everyone else with a 403 that
//! says which roles may read. A `tenant_id` parameter never widens access:
//! naming another tenant is a 403 for a one-tenant reader. Another tenant's
//! event by id is a 404, exactly as an unknown id.
//!
//! # Reads are audited
//!
//! Every request is itself an event in the reader's scope:
//! `audit_log.viewed` (list, single event, action counts) or
//! `audit_log.exported`, with the parameters in `metadata.filters` (a
//! cursor only as `true`), recorded by the layer when the response is
//! ready — refused and failed reads included, with outcome `denied` or
//! `failure` and the reason. An export is recorded when it starts.
//!
//! ```
//! use audit_core::{Actor, Auditor, MemorySink};
//! use audit_store::http::AdminApi;
//! use audit_tower::{AuditLayer, Principal};
//! use axum::Router;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = audit_store::connect("sqlite::memory:").await?;
//! let auditor = Auditor::builder().start(store.clone());
//! let app: Router = Router::new();
//! let app = AdminApi::new(store)
//!     .nest_into(app, "/audit-logs")
//!     // Your authentication names the principal; the layer records it.
//!     .layer(AuditLayer::new(auditor));
//! # let _ = app;
//! # Ok(()) }
//! ```

mod error;
mod handlers;
mod openapi;
mod policy;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;

pub use policy::{DefaultPolicy, ReadPolicy, ReadScope, Reader, Refusal};

use crate::Store;

/// The admin API over a store: configure, then take its [`router`](Self::router).
pub struct AdminApi {
    store: Store,
    policy: Arc<dyn ReadPolicy>,
    default_window: Duration,
}

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApi")
            .field("store", &self.store)
            .field("default_window", &self.default_window)
            .finish_non_exhaustive()
    }
}

impl AdminApi {
    /// The API over `store`, with the [`DefaultPolicy`] and a 30-day default window.
    pub fn new(store: impl Into<Store>) -> Self {
        Self {
            store: store.into(),
            policy: Arc::new(DefaultPolicy),
            default_window: Duration::from_secs(30 * 86_400),
        }
    }

    /// Decides who reads what (see [`ReadPolicy`]).
    #[must_use]
    pub fn policy(mut self, policy: impl ReadPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// How far back a request that names no time range looks (30 days by default).
    #[must_use]
    pub fn default_window(mut self, window: Duration) -> Self {
        self.default_window = window;
        self
    }

    /// Nests the API into `app` at `path` (`"/audit-logs"`), answering the
    /// list both at `path` and at `path/` (axum's `nest` alone answers only
    /// the former).
    ///
    /// # Panics
    /// As [`Router::nest`]: when `path` is empty, `/`, or has a wildcard.
    pub fn nest_into(self, app: Router, path: &str) -> Router {
        let path = path.trim_end_matches('/');
        let api = self.api();
        app.route(&format!("{path}/"), get(handlers::list).with_state(api.clone()))
            .nest(path, Self::routes(api))
    }

    /// The router, to nest where the API should live.
    pub fn router(self) -> Router {
        Self::routes(self.api())
    }

    fn api(self) -> Arc<handlers::Api> {
        Arc::new(handlers::Api {
            store: self.store,
            policy: self.policy,
            default_window: self.default_window,
        })
    }

    fn routes(api: Arc<handlers::Api>) -> Router {
        Router::new()
            .route("/", get(handlers::list))
            .route("/export", get(handlers::export))
            .route("/actions", get(handlers::actions))
            .route("/openapi.json", get(handlers::openapi))
            .route("/{id}", get(handlers::one))
            .with_state(api)
    }
}

/// The OpenAPI 3.1 document of the admin API, as served at `/openapi.json`.
///
/// ```
/// let doc = audit_store::http::openapi();
/// assert_eq!(doc["openapi"], "3.1.0");
/// assert!(doc["paths"]["/export"]["get"]["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "format"));
/// ```
pub fn openapi() -> serde_json::Value {
    openapi::document()
}
