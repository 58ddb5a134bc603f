//! The admin read side over HTTP: an axum [`Router`] the application nests,
//! e.g. at `/audit-logs` (feature `http`).
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | `{"data": [event, …], "next_cursor": string \| null}`, newest first |
//! | `GET /{id}` | one event |
//! | `GET /{id}/proof?checkpoint=latest\|<tree size>` | the event with its [`EventProof`](crate::EventProof) against a signed checkpoint of its stream (the newest by default); 409 `not_checkpointed` while none covers it |
//! | `GET /export?format=csv\|ndjson&…` | every matching event, streamed (see [`ExportFormat`](crate::ExportFormat)); `with_proofs=true` (NDJSON only) makes each line its proof ([`ProofLine`](crate::ProofLine)) |
//! | `GET /actions` | `[{"action", "category", "count", "declared", "description"?, "severity"?}]`, most frequent first, then the actions the store's [catalogue](crate::CatalogueEntry) declares that no matching event has (count 0) |
//! | `GET /checkpoints?tenant_id&since&limit` | `{"data": [{"stream", "tree_size", "root", "signed_at", "checkpoint"}, …]}`: a stream's signed checkpoints, smallest tree first |
//! | `GET /consistency?tenant_id&from&to` | a [`ConsistencyProof`](crate::ConsistencyProof) `{"stream", "old_size", "new_size", "proof"}` |
//! | `GET /health` | the auditor's state (queue, spool, store reachable, oldest unwritten event, last error; [`AdminApi::health`]) and the stream sinks' (delivered, lag, failing; [`AdminApi::streams`]): the platform role `auditor` only, 503 when `down` |
//! | `GET /openapi.json` | the OpenAPI 3.1 description of these routes (public), with the catalogue's actions (`DeclaredAction`) and each one's metadata schema (`Metadata.<action>`) |
//! | `GET /ui` | the web page for admins and auditors (HTML; `/ui/` redirects to it) |
//! | `GET /ui/app.js`, `/ui/app.css`, `/ui/icon.svg` | the page's script, style sheet and icon |
//!
//! Events have the JSON shape of the event model. The list, export and
//! action routes take the [query parameters](crate::QUERY_PARAMETERS)
//! (export and actions without `limit`, `cursor` and `offset`; actions
//! without `action`); when a request names no time range (`since` or
//! `until`), the last 30 days are shown ([`AdminApi::default_window`]).
//! Anything unknown, empty, malformed or out of range is a 400 with
//! `{"error": {"code", "message", "param"}}` naming the parameter (leave a
//! parameter out to match any); a method other than `GET`/`HEAD` is a 405
//! with `Allow` and the code `method_not_allowed`.
//!
//! `/checkpoints` and `/consistency` name their stream with `tenant_id`;
//! left out, it is the reader's own tenant's stream, or for a platform
//! reader the `global` stream (events without a tenant). `since` and
//! `limit` are checked as on the list (no default window: every kept
//! checkpoint). `from` and `to` are any tree sizes with `1 ≤ from ≤ to ≤`
//! the stream's head, not only those of kept checkpoints (the proof is
//! only useful between two checkpoints the auditor holds, and proves
//! nothing the store could misuse otherwise); a `to` past the head is a 400
//! naming `to`, a stream whose tree is not kept a 409 (`no_tree`). An export
//! with proofs writes, for each event, its [`EventProof`](crate::EventProof)
//! against its stream's newest checkpoint (read once per stream), or
//! `{"event", "leaf_index", "checkpoint": null}` for an event that
//! checkpoint does not cover yet; `with_proofs` with CSV is a 400.
//!
//! `/openapi.json` needs no credentials. It names the nesting prefix as its
//! server, the [`AdminApi::security`] schemes, the 401/403/404/409/500/503 of
//! every operation with their error codes, and for every parameter exactly
//! what the parser checks (ranges, formats, patterns, lengths; see
//! [`ValueFormat`](crate::ValueFormat)).
//!
//! # Access
//!
//! The router must run behind `audit_tower::AuditLayer`, which identifies
//! the reader: the actor (with its roles) and tenant of the request. Put
//! your authentication on it with [`AdminApi::route_layer`]: it wraps the
//! data routes only, so the page and the document stay public and a wrong
//! method is a 405, not your 401. A
//! [`ReadPolicy`] decides what that reader may see; the [`DefaultPolicy`]
//! lets `owner` and `admin` read their own tenant and the platform role
//! `auditor` read every tenant, and refuses everyone else with a 403 that
//! says which roles may read. A `tenant_id` parameter never widens access:
//! naming another tenant is a 403 for a one-tenant reader. Another tenant's
//! event by id is a 404, exactly as an unknown id.
//!
//! # The web page
//!
//! `GET <prefix>/ui` serves a page for reading the log in a browser:
//! filters (time range, actions from `/actions` grouped by prefix with
//! counts, category, severity, outcome, actor id or email, resource, free
//! text) kept in the page's URL, each active one shown as a chip that
//! removes it; a "Hide log reads" toggle, on by default, that leaves the
//! log's own `audit_log.*` events out of the list, counts and exports
//! (`not_action=audit_log.*`; `reads=show` in the page's URL when off); a
//! table with keyset paging ("Load more"), row details (context, metadata, a
//! before/after diff, the integrity seq and hash), CSV and NDJSON export of
//! exactly the list shown, and clear states for empty results (offering to
//! remove the likely cause), signed out (401, with a link to
//! [`AdminApi::sign_in_url`]), refused (403, naming the roles, with "Switch
//! account" to that sign-in), a bad filter (400, its field marked) and failed
//! requests. It works under any nesting prefix: its URLs are relative to its
//! own path.
//!
//! The page is plain HTML, CSS and JavaScript embedded in the binary: no
//! build step, no network at run time. It is static, so it loads without
//! credentials (see [`is_page_route`] for exempting it from an
//! authentication layer) and opens no audit event; its data comes from the
//! API above, with the browser's own credentials, so the policy applies and
//! each of those reads is recorded as usual. Its answers carry a strict
//! `Content-Security-Policy` (`default-src 'none'; script-src 'self';
//! style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri
//! 'none'; form-action 'self'; frame-ancestors 'none'`),
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
//! `X-Frame-Options: DENY`, and an `ETag` with `Cache-Control: no-cache`.
//! Every recorded value is shown as text, never parsed as markup; the only
//! links built from data point at this API's `/{id}`.
//!
//! ## Verifying an event in the page
//!
//! An event's details have a **Verify** button. It fetches `{id}/proof`
//! and checks the proof in the browser, with nothing but the page's own
//! script and WebCrypto: it recomputes the event's canonical bytes (RFC
//! 8785 JCS of the event's JSON without `integrity.leaf_hash`) and its
//! leaf hash, `SHA-256(0x00 ‖ bytes)`, and compares it with the stored
//! `integrity.leaf_hash` (an event edited in the database fails here); it
//! checks that the checkpoint's origin ends in the event's stream, that its
//! tree size is the proof's and that the leaf index is the event's seq − 1;
//! and it walks the audit path to the root (RFC 9162 §2.1.3.2) and compares
//! it with the checkpoint's root. The mark then reads "Verified: in the
//! signed tree of N events", "Does not verify: …" naming the check that failed,
//! "Not covered by a checkpoint yet" (the 409), or says why it could not
//! check (the proof did not load; no WebCrypto, which browsers offer only
//! to HTTPS and loopback pages; integers beyond 2^53, which JavaScript
//! reads rounded, in an event whose hash then differs).
//!
//! What it does not check: the checkpoint's **signature**. A browser holds
//! no verifier key it could trust more than the server that sent the page.
//! With [`AdminApi::verifier_key`] the server checks every proof it hands
//! out ([`EventProof::verify`](crate::EventProof::verify)) and the page
//! shows "checked on the server with the key …" naming it, or the server's
//! reason as "Does not verify"; without it the page says the signature is
//! not checked. Either way a reader who trusts nothing of the server saves
//! the proof ("Open the proof as JSON") and runs `audit verify-event` with
//! the log's published verifier key, which also checks the signature.
//!
//! # Reads are audited
//!
//! Every request is itself an event in the reader's scope:
//! `audit_log.viewed` (list, single event, an event's proof, action counts) or
//! `audit_log.exported`, with the parameters in `metadata.filters` (a
//! cursor only as `true`), `metadata.via: "http"` and a description naming
//! what was read ("Viewed the audit log, filtered by action, q"; "Viewed the
//! proof of one audit event, against its stream's latest checkpoint";
//! "Exported the audit log as CSV"), in the shape of [`log_read`](crate::log_read)
//! that the `audit` command's reads share, recorded by the layer when the
//! response is ready — refused and failed reads included, with outcome
//! `denied` or `failure` and the reason.
//!
//! An export's event is completed when its body ends, with `metadata.events`
//! the number of events sent: `success` once the last one was handed to the
//! connection, `failure` when it stopped mid-way, with the reason ("stopped
//! after 1500 events: the audit store failed: …", "… the audit store did not
//! answer within 5 s", "… the connection closed before the end (the client
//! went away?)"). The client sees such an export as a broken transfer, never
//! as a short file that looks complete. (It is queued when the body ends,
//! after the layer has sent the response: the layer's confirmed delivery
//! cannot hold a response for it.)
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

mod checkpoints;
mod error;
mod handlers;
mod health;
mod openapi;
mod policy;
mod proof;
mod ui;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, Route, get};
use tower_layer::Layer;
use tower_service::Service;

pub use openapi::SecurityScheme;
pub use policy::{DefaultPolicy, ReadPolicy, ReadScope, Reader, Refusal};

use crate::Store;

/// How long one store read may take by default ([`AdminApi::read_timeout`]).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Wraps each data route's handlers in the layers of [`AdminApi::route_layer`].
type Guard = Arc<dyn Fn(MethodRouter<Arc<handlers::Api>>) -> MethodRouter<Arc<handlers::Api>> + Send + Sync>;

/// The admin API over a store: configure, then take its [`router`](Self::router).
pub struct AdminApi {
    store: Store,
    policy: Arc<dyn ReadPolicy>,
    default_window: Duration,
    read_timeout: Duration,
    sign_in_url: Option<String>,
    security: Vec<SecurityScheme>,
    guard: Option<Guard>,
    verifier_key: Option<crate::VerifierKey>,
    auditor: Option<audit_core::Auditor>,
    streams: Option<crate::stream::StreamerHandle>,
}

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApi")
            .field("store", &self.store)
            .field("default_window", &self.default_window)
            .field("read_timeout", &self.read_timeout)
            .field("sign_in_url", &self.sign_in_url)
            .field("security", &self.security)
            .field(
                "verifier_key",
                &self.verifier_key.as_ref().map(crate::VerifierKey::name),
            )
            .field("health", &self.auditor.is_some())
            .field("streams", &self.streams.is_some())
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
            read_timeout: DEFAULT_READ_TIMEOUT,
            sign_in_url: None,
            security: Vec::new(),
            guard: None,
            verifier_key: None,
            auditor: None,
            streams: None,
        }
    }

    /// Runs `layer` (your authentication) around the data routes only: the
    /// list, one event and its proof, export and action counts. The web page and
    /// `/openapi.json` stay public, and a method a route does not answer
    /// (`TRACE`, `POST`, …) is a `405 Method Not Allowed` with `Allow`, before
    /// the layer runs, where axum's `Router::route_layer` over the nested
    /// router would answer the layer's 401 first. Called twice, the second
    /// layer runs outside the first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use audit_store::http::AdminApi;
    /// use axum::http::StatusCode;
    /// use axum::middleware::{self, Next};
    /// use axum::extract::Request;
    /// use axum::response::{IntoResponse, Response};
    /// use tower::ServiceExt as _;
    ///
    /// async fn signed_in(request: Request, next: Next) -> Response {
    ///     if request.headers().contains_key("authorization") {
    ///         next.run(request).await
    ///     } else {
    ///         StatusCode::UNAUTHORIZED.into_response()
    ///     }
    /// }
    ///
    /// let store = audit_store::connect("sqlite::memory:").await?;
    /// let app = AdminApi::new(store).route_layer(middleware::from_fn(signed_in)).router();
    /// let call = |method: &str, uri: &str| {
    ///     let request = Request::builder().method(method).uri(uri).body(axum::body::Body::empty()).unwrap();
    ///     app.clone().oneshot(request)
    /// };
    /// assert_eq!(call("GET", "/").await?.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(call("TRACE", "/").await?.status(), StatusCode::METHOD_NOT_ALLOWED);
    /// assert_eq!(call("GET", "/openapi.json").await?.status(), StatusCode::OK);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn route_layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        let inner = self.guard.take();
        self.guard = Some(Arc::new(move |routes: MethodRouter<Arc<handlers::Api>>| {
            let routes = match &inner {
                Some(inner) => inner(routes),
                None => routes,
            };
            routes.route_layer(layer.clone())
        }));
        self
    }

    /// How readers authenticate, for the OpenAPI document's
    /// `securitySchemes`: every data operation then lists them as
    /// alternatives, with its 401. Without any, the document names an HTTP
    /// bearer token. It describes; your authentication layer decides.
    ///
    /// ```
    /// use audit_store::http::{AdminApi, SecurityScheme};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = audit_store::connect("sqlite::memory:").await?;
    /// let api = AdminApi::new(store)
    ///     .security(SecurityScheme::bearer())
    ///     .security(SecurityScheme::cookie("session"));
    /// assert!(format!("{api:?}").contains("session"));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn security(mut self, scheme: SecurityScheme) -> Self {
        self.security.push(scheme);
        self
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

    /// How long one read of the store may take before the request is
    /// answered `503 Service Unavailable` (`{"error": {"code":
    /// "store_unavailable", …}}`, with `Retry-After`) instead of waiting:
    /// 5 s by default. A store that cannot be reached at all (connection
    /// refused, no connection free) gets the same 503 at once; an export
    /// already streaming stops with a broken transfer.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use audit_store::http::AdminApi;
    ///
    /// let store = audit_store::connect("sqlite::memory:").await?;
    /// let api = AdminApi::new(store).read_timeout(Duration::from_secs(2));
    /// assert!(format!("{api:?}").contains("read_timeout: 2s"));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Where the web page sends a reader the API answered with a 401: the
    /// application's sign-in page (`"/login"`, or an absolute `https://`
    /// URL). The page adds `next=<the page's path and query>` so the sign-in
    /// can return there; only `http` and `https` URLs are linked. Without
    /// it, the page asks the reader to sign in to the application and reload.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use audit_store::http::AdminApi;
    ///
    /// let store = audit_store::connect("sqlite::memory:").await?;
    /// let api = AdminApi::new(store).sign_in_url("/login");
    /// assert!(format!("{api:?}").contains("/login"));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn sign_in_url(mut self, url: impl Into<String>) -> Self {
        self.sign_in_url = Some(url.into());
        self
    }

    /// The log's verifier key (the signing key's
    /// [`verifier_key`](crate::SigningKey::verifier_key)): `GET /{id}/proof`
    /// then checks each proof it hands out with [`EventProof::verify`](crate::EventProof::verify)
    /// and says so in the answer, `"signature_checked_by": "<key name>"` when
    /// the checkpoint's signature holds and `"server_verify_error":
    /// "<why>"` when any check fails. The web page shows both; a browser
    /// cannot check the signature itself. Without it, the answer is the
    /// proof alone, to check offline with `audit verify-event`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use audit_store::SigningKey;
    /// use audit_store::http::AdminApi;
    ///
    /// let store = audit_store::connect("sqlite::memory:").await?;
    /// let key = SigningKey::generate("audit.example.com/log")?;
    /// let api = AdminApi::new(store).verifier_key(key.verifier_key());
    /// assert!(format!("{api:?}").contains("audit.example.com/log"));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn verifier_key(mut self, key: crate::VerifierKey) -> Self {
        self.verifier_key = Some(key);
        self
    }

    /// Serves `GET /health`: `auditor`'s state, for readers the policy lets
    /// read every tenant (the platform role `auditor`); others get a 403.
    /// `{"status", "store_reachable", "queue_depth",
    /// "oldest_unwritten_age_ms", "spool": {"bytes", "pending_events",
    /// "writable"} | null, "last_error", "counters": {…}}`, from
    /// [`Auditor::stats`](audit_core::Auditor::stats) alone (no store query,
    /// so it answers while the store is down; it records no event). `status`
    /// is `ok`, `degraded` (the store is down and the spool holds the
    /// events) or `down` (events cannot be made durable: no spool and the
    /// store is down, or the spool cannot be written), the last with a 503.
    /// Without this, `/health` is a 404.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use audit_core::Auditor;
    /// use audit_store::http::AdminApi;
    ///
    /// let store = audit_store::connect("sqlite::memory:").await?;
    /// let auditor = Auditor::builder().start(store.clone());
    /// let api = AdminApi::new(store).health(auditor);
    /// assert!(format!("{api:?}").contains("health: true"));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn health(mut self, auditor: audit_core::Auditor) -> Self {
        self.auditor = Some(auditor);
        self
    }

    /// Adds the stream sinks of `streams` to `GET /health` (`streams`: each
    /// sink's [`SinkStats`](crate::stream::SinkStats)): a sink that is
    /// failing or behind makes the status `degraded`, never `down` (the
    /// store keeps its events, and requests do not wait for it).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use audit_core::Auditor;
    /// use audit_store::http::AdminApi;
    /// use audit_store::stream::{Streamer, TracingSink};
    ///
    /// let store = audit_store::connect("sqlite::memory:").await?;
    /// let auditor = Auditor::builder().start(store.clone());
    /// let streams = Streamer::new(store.clone()).sink("logs", TracingSink).start();
    /// let api = AdminApi::new(store).health(auditor).streams(streams.clone());
    /// assert!(format!("{api:?}").contains("streams: true"));
    /// # streams.shutdown().await;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn streams(mut self, streams: crate::stream::StreamerHandle) -> Self {
        self.streams = Some(streams);
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
        let parts = self.into_parts();
        let slash = Router::new()
            .route(&format!("{path}/"), parts.data(get(handlers::list)))
            .method_not_allowed_fallback(handlers::method_not_allowed)
            .with_state(parts.api.clone());
        app.merge(slash).nest(path, parts.routes())
    }

    /// The router, to nest where the API should live.
    pub fn router(self) -> Router {
        self.into_parts().routes()
    }

    fn into_parts(self) -> Parts {
        let page = Arc::new(ui::Page::new(self.sign_in_url.as_deref()));
        let api = Arc::new(handlers::Api {
            store: self.store,
            policy: self.policy,
            default_window: self.default_window,
            read_timeout: self.read_timeout,
            security: self.security,
            verifier_key: self.verifier_key,
            auditor: self.auditor,
            streams: self.streams,
        });
        Parts {
            api,
            page,
            guard: self.guard,
        }
    }
}

/// What the routes are built from.
struct Parts {
    api: Arc<handlers::Api>,
    page: Arc<ui::Page>,
    guard: Option<Guard>,
}

impl Parts {
    /// A data route, inside the [`AdminApi::route_layer`] layers.
    fn data(&self, routes: MethodRouter<Arc<handlers::Api>>) -> MethodRouter<Arc<handlers::Api>> {
        match &self.guard {
            Some(guard) => guard(routes),
            None => routes,
        }
    }

    fn routes(self) -> Router {
        let page = Router::new()
            .route("/ui", get(ui::index))
            .route("/ui/", get(ui::slash))
            .route("/ui/app.js", get(ui::script))
            .route("/ui/app.css", get(ui::style))
            .route("/ui/icon.svg", get(ui::icon))
            .with_state(self.page.clone());
        Router::new()
            .route("/", self.data(get(handlers::list)))
            .route("/export", self.data(get(handlers::export)))
            .route("/actions", self.data(get(handlers::actions)))
            .route("/checkpoints", self.data(get(checkpoints::checkpoints)))
            .route("/consistency", self.data(get(checkpoints::consistency)))
            .route("/health", self.data(get(health::health)))
            .route("/openapi.json", get(handlers::openapi))
            .route("/{id}", self.data(get(handlers::one)))
            .route("/{id}/proof", self.data(get(proof::event_proof)))
            .with_state(self.api)
            .merge(page)
            .method_not_allowed_fallback(handlers::method_not_allowed)
    }
}

/// Whether `route`, relative to where the admin router is nested, is one
/// of the web page's own routes (`/ui`, `/ui/`, `/ui/app.js`, …).
///
/// The page is static and must load without credentials, so it can tell a
/// signed-out reader to sign in; the data behind it stays behind the API's
/// policy. [`AdminApi::route_layer`] leaves them out by itself; an
/// application whose authentication layer refuses anonymous requests to the
/// whole nest exempts these, e.g. by the route axum matched:
///
/// ```
/// use audit_store::http::is_page_route;
///
/// let matched = "/audit-logs/ui/app.js"; // axum::extract::MatchedPath::as_str()
/// assert!(matched.strip_prefix("/audit-logs").is_some_and(is_page_route));
/// assert!(is_page_route("/ui") && is_page_route("/ui/"));
/// assert!(!is_page_route("/export") && !is_page_route("/{id}") && !is_page_route("/ui/other"));
/// ```
pub fn is_page_route(route: &str) -> bool {
    ui::ROUTES.contains(&route)
}

/// The OpenAPI 3.1 document of the admin API for a router at the root with
/// bearer tokens; `<prefix>/openapi.json` serves it with the prefix as its
/// server and the [`AdminApi::security`] schemes.
///
/// ```
/// let doc = audit_store::http::openapi();
/// assert_eq!(doc["openapi"], "3.1.0");
/// assert!(doc["paths"]["/export"]["get"]["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "format"));
/// ```
pub fn openapi() -> serde_json::Value {
    openapi::document("", &[], &[])
}
