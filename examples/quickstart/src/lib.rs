//! The quickstart: a small multi-tenant axum service with a full audit trail.
//!
//! Apps and members live in memory; the audit trail is the persistent part,
//! in an embedded SQLite file (or PostgreSQL). Every mutating route is an
//! `#[audited]` handler, the [`AuditLayer`](audit_tower::AuditLayer) names
//! the actor from the demo credentials (bearer token, session cookie or API
//! key), and the admin read side is nested at `/audit-logs`.
//!
//! | route | answer | event |
//! |---|---|---|
//! | `POST /apps {"name"}` | 201 `{"id","name"}` | `app.created` |
//! | `GET /apps/{id}` | 200 `{"id","name"}` | — |
//! | `PATCH /apps/{id} {"name"}` | 200 `{"id","name"}` | `app.updated`, before/after |
//! | `DELETE /apps/{id}` | 204 | `app.deleted`, critical, before |
//! | `POST /members {"email","role"}` | 201 `{"id","email","role"}` | `member.invited` |
//! | `PATCH /members/{id}/role {"role"}` | 200 `{"id","email","role"}`; 403 unless owner/admin | `member.role_changed`, before/after |
//! | `POST /login {"email","password","next"?}` | 200 `{"token","next"}` + session cookie; 401 | `auth.login` in the account's tenant |
//! | `GET /login[?next=/path]` | a sign-in form that returns to `next`, its script and style at `/login/login.js` and `/login/login.css`; all three under a strict Content-Security-Policy (no inline script or style, no framing) | — |
//! | `GET /audit-logs…` | the admin API (`audit_store::http`) | `audit_log.viewed` / `audit_log.exported` |
//! | `GET /audit-logs/ui` | the audit log's web page (loads signed out; its data needs an owner or admin) | — (its API reads are recorded) |
//! | `GET /audit-logs/openapi.json` | the admin API's OpenAPI document (public), naming the three credentials below | — |
//!
//! Resources belong to the caller's tenant: another tenant's id is a 404.
//! Requests without known credentials get a 401 (recorded as `auth.denied`:
//! the first 10 per client per minute in full, then one event with the count).
//! A method a route does not answer (`TRACE /apps`) is a 405 with `Allow`,
//! whoever asks: the sign-in check wraps each route's handlers.
//!
//! Tests (and other programs) build the exact service with
//! [`Quickstart::build`] and serve it with [`Quickstart::serve`]:
//!
//! ```no_run
//! # async fn run() -> Result<(), quickstart::Error> {
//! let quickstart = quickstart::Quickstart::build(quickstart::Config::new("sqlite://quickstart-audit.db")).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! let stats = quickstart.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! println!("{} events written", stats.written);
//! # Ok(()) }
//! ```

/// Every action the quickstart records, from its `audit.toml`: the
/// `#[audited]` handlers are checked against the same file at compile time,
/// and events built by hand (the demo seed) name these constants.
pub mod actions {
    audit_core::catalogue!();
}
pub mod app;
mod apps;
pub mod auth;
pub mod login;
mod members;
pub mod seed;

use std::net::SocketAddr;
use std::time::Duration;

use audit_core::format::EventFormat;
use audit_core::{AuditSink, Auditor, AuditorBuilder, AuditorStats, Spool, SpoolConfig};
use audit_store::Store;
use audit_store::checkpoint::{Checkpointer, DirectorySink, SigningKey};
use audit_store::stream::{Streamer, StreamerHandle, WebhookSink};
use audit_tower::{ClientIpSource, Delivery};

pub use app::{AppState, router};

/// Any error of the quickstart, with a message fit for a terminal.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The default store: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://quickstart-audit.db";

/// How long shutdown waits for the audit queue to drain.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// What the service is built from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The audit store: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`.
    pub database_url: String,
    /// Proxies whose client-address header is believed (none by default).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How the auditor is started: queue capacity, batching, overflow
    /// policy, retries (the library's defaults by default).
    pub auditor: AuditorBuilder,
    /// How long one read of the audit log may wait for the store before the
    /// admin API answers 503 (`AdminApi::read_timeout`; 5 s by default).
    pub read_timeout: Duration,
    /// The one header those proxies name the client in (`X-Forwarded-For` by default).
    pub client_ip_source: ClientIpSource,
    /// Signed checkpoints of the store's streams, if any (none by default).
    pub checkpoints: Option<Checkpoints>,
    /// When a response may leave relative to its events (`Buffered` by
    /// default here; the `quickstart` binary defaults to `Spooled`).
    pub delivery: Delivery,
    /// The durable spool the auditor writes through, if any (none by
    /// default here; the `quickstart` binary keeps one in
    /// `quickstart-audit-spool/` unless told `--no-spool`).
    pub spool: Option<SpoolConfig>,
    /// Where the stored events are streamed besides (none by default here;
    /// the `quickstart` binary delivers to the destinations kept in the
    /// store, and to `--stream-url`).
    pub streams: Streams,
    /// Personal data the store seals, so that `audit erase` can erase a
    /// person (none by default here; the `quickstart` binary seals unless
    /// told `--no-sealing`).
    pub personal_data: Option<audit_store::personal::PersonalData>,
}

/// The stream sinks the service runs beside itself (see
/// [`audit_store::stream`]): they read the store, so a slow or dead
/// receiver never holds a request.
#[derive(Debug, Clone, Default)]
pub struct Streams {
    /// A webhook every stored event goes to (a SIEM, a log pipeline).
    pub webhook: Option<StreamWebhook>,
    /// Also deliver to the webhook destinations kept in the store (`audit
    /// stream add`), re-read this often.
    pub destinations: Option<Duration>,
}

/// A webhook every stored event goes to, kept as the sink `quickstart-webhook`.
#[derive(Debug, Clone)]
pub struct StreamWebhook {
    /// An `http://` URL.
    pub url: String,
    /// Signs each delivery (`Audit-Signature`) when given.
    pub secret: Option<String>,
    /// The records' format.
    pub format: EventFormat,
}

/// The sink name of [`Streams::webhook`]: its positions are kept under it.
pub const WEBHOOK_SINK_NAME: &str = "quickstart-webhook";

/// Where and how often the service signs checkpoints of its audit trail.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    /// The log's signing key (its name is the log's name).
    pub key: SigningKey,
    /// The directory each checkpoint is written to (what `audit verify
    /// --checkpoints` reads); keep it, or a copy of it, off this host.
    pub dir: std::path::PathBuf,
    /// How often heads that moved are signed.
    pub interval: Duration,
}

impl Config {
    /// The store at `database_url`, no trusted proxies.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            trusted_proxies: Vec::new(),
            auditor: Auditor::builder(),
            read_timeout: audit_store::http::DEFAULT_READ_TIMEOUT,
            client_ip_source: ClientIpSource::default(),
            checkpoints: None,
            delivery: Delivery::default(),
            spool: None,
            streams: Streams::default(),
            personal_data: None,
        }
    }

    /// Answers requests as `delivery` says (see [`Delivery`]'s table of what
    /// each mode survives).
    #[must_use]
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// Writes every event through a durable spool in `spool`'s directory
    /// before the store (see [`audit_core::Spool`]).
    #[must_use]
    pub fn spool(mut self, spool: SpoolConfig) -> Self {
        self.spool = Some(spool);
        self
    }

    /// Signs checkpoints of every stream with `key` every `interval` (and
    /// once more on shutdown), written under `dir`.
    #[must_use]
    pub fn checkpoints(mut self, key: SigningKey, dir: impl Into<std::path::PathBuf>, interval: Duration) -> Self {
        self.checkpoints = Some(Checkpoints {
            key,
            dir: dir.into(),
            interval,
        });
        self
    }

    /// Seals personal data as `personal` says (see `audit_store::personal`):
    /// names, emails and descriptions readable until their person is
    /// erased (`audit erase --subject user_bob`).
    #[must_use]
    pub fn seal_personal_data(mut self, personal: audit_store::personal::PersonalData) -> Self {
        self.personal_data = Some(personal);
        self
    }

    /// Streams the stored events to `webhook` too.
    #[must_use]
    pub fn stream_to(mut self, webhook: StreamWebhook) -> Self {
        self.streams.webhook = Some(webhook);
        self
    }

    /// Delivers to the webhook destinations kept in the store (`audit
    /// stream add`), re-reading them every `refresh`.
    #[must_use]
    pub fn stream_destinations(mut self, refresh: Duration) -> Self {
        self.streams.destinations = Some(refresh);
        self
    }

    /// Starts the auditor from `auditor` instead of the defaults.
    #[must_use]
    pub fn auditor(mut self, auditor: AuditorBuilder) -> Self {
        self.auditor = auditor;
        self
    }

    /// Sets how long one audit-log read may wait for the store.
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Adds trusted proxy ranges.
    #[must_use]
    pub fn trusted_proxies(mut self, ranges: impl IntoIterator<Item = ipnet::IpNet>) -> Self {
        self.trusted_proxies.extend(ranges);
        self
    }

    /// Which header the trusted proxies name the client in; no other is read.
    ///
    /// ```
    /// use audit_tower::ClientIpSource;
    /// let config = quickstart::Config::new("sqlite://audit.db").client_ip_source(ClientIpSource::XRealIp);
    /// assert_eq!(config.client_ip_source, ClientIpSource::XRealIp);
    /// assert_eq!(quickstart::Config::new("sqlite://audit.db").client_ip_source, ClientIpSource::XForwardedFor);
    /// ```
    #[must_use]
    pub fn client_ip_source(mut self, source: ClientIpSource) -> Self {
        self.client_ip_source = source;
        self
    }
}

impl Config {
    /// The streamer of `store` the configuration asks for, started.
    fn start_streams(&self, store: &Store) -> Result<Option<StreamerHandle>, Error> {
        let Streams { webhook, destinations } = &self.streams;
        if webhook.is_none() && destinations.is_none() {
            return Ok(None);
        }
        let mut streamer = Streamer::new(store.clone());
        if let Some(webhook) = webhook {
            let mut sink = WebhookSink::new(&webhook.url)?.format(webhook.format);
            if let Some(secret) = &webhook.secret {
                sink = sink.secret(secret);
            }
            streamer = streamer.sink(WEBHOOK_SINK_NAME, sink);
        }
        if let Some(refresh) = destinations {
            streamer = streamer.destinations_from_store(*refresh);
        }
        Ok(Some(streamer.start()))
    }

    /// The auditor's builder, with the spool opened when one is configured.
    fn auditor_builder(&self) -> Result<AuditorBuilder, Error> {
        let mut builder = self.auditor.clone();
        if let Some(spool) = &self.spool {
            builder = builder.spool(Spool::open(spool.clone())?);
        }
        Ok(builder)
    }
}

/// The built service: its router, the auditor its requests record to, and the store.
#[derive(Debug)]
pub struct Quickstart {
    router: axum::Router,
    auditor: Auditor,
    store: Store,
    state: AppState,
    checkpointer: Option<Checkpointer>,
    streams: Option<StreamerHandle>,
}

impl Quickstart {
    /// Connects to the store (applying its migrations), publishes the
    /// quickstart's action catalogue there ([`actions::CATALOGUE`], for
    /// the admin API, the web page and `audit catalogue`), starts the
    /// auditor writing to it, and builds the router.
    ///
    /// # Errors
    /// When the store cannot be reached or migrated, or the spool cannot
    /// be opened (another process holds it, or the directory is not
    /// writable).
    pub async fn build(config: Config) -> Result<Self, Error> {
        let store = Self::connect(&config).await?;
        let auditor = config.auditor_builder()?.start(store.clone());
        Self::assemble(&config, store, auditor)
    }

    /// As [`build`](Self::build), but the requests' events go to `sink`
    /// instead of the store (the read side still reads the store). The
    /// end-to-end benchmark measures the app with a sink that discards
    /// everything against the app recording into SQLite.
    ///
    /// # Errors
    /// When the store cannot be reached or migrated.
    pub async fn build_recording_to(config: Config, sink: impl AuditSink) -> Result<Self, Error> {
        let store = Self::connect(&config).await?;
        let auditor = config.auditor_builder()?.start(sink);
        Self::assemble(&config, store, auditor)
    }

    /// The store, migrated, with the quickstart's catalogue published.
    async fn connect(config: &Config) -> Result<Store, Error> {
        let mut store = audit_store::connect(&config.database_url).await?;
        if let Some(personal) = &config.personal_data {
            store = store.with_personal_data(personal.clone());
        }
        store.publish_catalogue(&actions::CATALOGUE).await?;
        Ok(store)
    }

    fn assemble(config: &Config, store: Store, auditor: Auditor) -> Result<Self, Error> {
        let state = AppState::with_demo_data();
        let streams = config.start_streams(&store)?;
        let router = app::router(state.clone(), auditor.clone(), store.clone(), config, streams.as_ref());
        let checkpointer = config.checkpoints.clone().map(|checkpoints| {
            Checkpointer::new(store.clone(), checkpoints.key)
                .interval(checkpoints.interval)
                .sink(DirectorySink::new(checkpoints.dir))
        });
        Ok(Self {
            router,
            auditor,
            store,
            state,
            checkpointer,
            streams,
        })
    }

    /// The router (serve it with `into_make_service_with_connect_info::<SocketAddr>()`).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// The auditor the service records to.
    pub fn auditor(&self) -> &Auditor {
        &self.auditor
    }

    /// The audit store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The running stream sinks, if any are configured.
    pub fn streams(&self) -> Option<&StreamerHandle> {
        self.streams.as_ref()
    }

    /// The in-memory application state (apps, members, sessions).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves on `listener` until `shutdown` resolves, then finishes the
    /// requests in flight, and drains the auditor: when this returns, every
    /// event of every answered request is in the store.
    ///
    /// # Errors
    /// When serving fails, or the auditor cannot drain within [`SHUTDOWN_DEADLINE`].
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<AuditorStats, Error> {
        let (stop_signing, signing_stopped) = tokio::sync::oneshot::channel::<()>();
        let signing = self.checkpointer.map(|checkpointer| {
            tokio::spawn(checkpointer.run(async {
                let _ = signing_stopped.await;
            }))
        });
        let served = axum::serve(
            listener,
            self.router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        // Drain the audit queue even when serving failed.
        let stats = self.auditor.shutdown(SHUTDOWN_DEADLINE).await;
        // Then the last checkpoints, over every event the queue held.
        let _ = stop_signing.send(());
        if let Some(signing) = signing {
            let _ = signing.await;
        }
        // The stream sinks stop after the delivery in flight; what they
        // have not delivered waits in the store for the next start.
        if let Some(streams) = self.streams {
            streams.shutdown().await;
        }
        let stats = stats?;
        served?;
        Ok(stats)
    }
}
