//! Load benchmark: what [`AuditLayer`] costs a hello-world axum app.
//!
//! The method: a hello-world axum app with and without `AuditLayer`
//! (the handler records one event per request into a no-op sink), measured
//! in the same run by a load generator on loopback. The server is pinned to
//! CPU 0 with one Tokio worker (a current-thread runtime), `wrk -t1 -c32
//! -d10s --latency` is pinned to CPU 1 (`taskset`), and the figures are the
//! medians of five runs. Targets: throughput ratio (audit / bare) ≥ 0.95 and
//! added p99 latency ≤ 50 µs.
//!
//! Variants:
//! - `bare`: `GET /` answers `Hello, World!`;
//! - `audit`: the same app inside `AuditLayer::new(auditor)`; the handler
//!   records `hello.viewed` with `Draft::open(..).complete()`, and the layer
//!   finalises and queues it. The auditor has the default capacity and
//!   batching, lifecycle events off, and a sink that only counts. Its writer
//!   task runs on the same single worker: the honest cost on one core;
//! - `audit-writer-thread` (secondary figure): the same, but the auditor's
//!   writer runs on a second current-thread runtime in its own thread, which
//!   inherits the server's pinning, so it shares CPU 0;
//! - two references from the issue, measured here in the same run so that
//!   the target can be judged against this machine, both a hand-written
//!   tower layer: `headers-only` reads what the audit layer reads (peer
//!   address, forwarding headers, user agent, request id, route) and
//!   records nothing; `channel` also sends a typed struct with a UUIDv7, a
//!   timestamp, the peer and the status down a bounded Tokio mpsc channel
//!   per response, drained by a task that counts: about the least an event
//!   per request can cost.
//!
//! This binary is its own orchestrator (the plumbing is in `loadgen/`, shared
//! with the end-to-end quickstart bench). `cargo bench -p audit-tower --bench
//! layer_overhead` interleaves the variants over five rounds; each run starts
//! `taskset -c 0 <this binary> --serve <variant> <port-file>` as a child,
//! warms it up, measures it with `wrk`, asks it for `GET /__stats` (which
//! flushes the auditor, then counts requests served and events the sink
//! received, so every request is shown to have produced its event) and kills
//! it. The machine may be shared (other engineers compiling): each run waits
//! for the machine to be idle first, the CPU time other processes take during
//! the measured ten seconds is read from `/proc` and printed, and a run they
//! disturbed (more than 3% of the machine) is repeated, up to three attempts,
//! keeping the least disturbed.
//!
//! `wrk` is a closed loop: 32 connections, each sending its next request
//! when the last response arrives, so the latency is about 32 / throughput
//! and an added p99 follows from a throughput loss.
//!
//! It needs `wrk` and `taskset` (Debian: `apt-get install wrk util-linux`)
//! and at least two CPUs. The run takes about three minutes on an idle
//! machine (about five with the references); `LAYER_OVERHEAD_QUICK=1` does one short round, to check the
//! set-up.

#[path = "loadgen/mod.rs"]
mod loadgen;

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::SystemTime;

use audit_core::{Action, AuditSink, Auditor, Draft, Event, SinkError};
use audit_tower::AuditLayer;
use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath};
use axum::response::Response;
use axum::routing::get;
use loadgen::{Bench, BoxError};
use tokio::sync::mpsc;

/// The targets.
const TARGET_RATIO: f64 = 0.95;
const TARGET_ADDED_P99_MICROS: f64 = 50.0;

const BARE: &str = "bare";
const HEADERS_ONLY: &str = "headers-only";
const CHANNEL: &str = "channel";
const AUDIT: &str = "audit";
const AUDIT_WRITER_THREAD: &str = "audit-writer-thread";
/// Every variant; the first is the baseline.
const VARIANTS: &[&str] = &[BARE, HEADERS_ONLY, CHANNEL, AUDIT, AUDIT_WRITER_THREAD];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        let (Some(variant), Some(port_file)) = (args.get(2), args.get(3)) else {
            eprintln!("usage: layer_overhead --serve {} <port-file>", VARIANTS.join("|"));
            return ExitCode::FAILURE;
        };
        return match serve(variant, Path::new(port_file)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("layer_overhead server ({variant}): {error}");
                ExitCode::FAILURE
            }
        };
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // a load test of several minutes has no place in a test run.
    if !args.iter().any(|arg| arg == "--bench") {
        println!("layer_overhead: a load benchmark; run it with `cargo bench -p audit-tower --bench layer_overhead`");
        return ExitCode::SUCCESS;
    }
    match orchestrate() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("layer_overhead: {error}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------
// The servers
// ---------------------------------------------------------------------------

/// Requests answered by `GET /` (every variant counts, so they do the same work).
static SERVED: AtomicU64 = AtomicU64::new(0);

/// A sink that accepts every batch and only counts it.
#[derive(Debug)]
struct NoopSink {
    received: Arc<AtomicU64>,
}

impl AuditSink for NoopSink {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        std::hint::black_box(batch.len());
        self.received.fetch_add(batch.len() as u64, Relaxed);
        Ok(())
    }
}

async fn hello() -> &'static str {
    SERVED.fetch_add(1, Relaxed);
    "Hello, World!"
}

async fn hello_audited() -> &'static str {
    SERVED.fetch_add(1, Relaxed);
    Draft::open(Action::from_static("hello.viewed").expect("a valid action")).complete();
    "Hello, World!"
}

async fn served_stats() -> String {
    format!("served={}\n", SERVED.load(Relaxed))
}

/// What the reference layers read: what the audit layer needs to know
/// about a request.
fn read_request<B>(request: &http::Request<B>) -> (Option<SocketAddr>, usize) {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let headers = request.headers();
    let mut bytes = 0;
    for name in ["forwarded", "x-forwarded-for", "user-agent", "x-request-id"] {
        bytes += headers.get_all(name).iter().map(|value| value.len()).sum::<usize>();
    }
    bytes += request
        .extensions()
        .get::<MatchedPath>()
        .map_or(0, |path| path.as_str().len());
    (peer, bytes)
}

/// The `channel` reference's event: typed, no JSON.
#[derive(Debug)]
struct MinimalEvent {
    id: uuid::Uuid,
    at: SystemTime,
    peer: Option<SocketAddr>,
    status: u16,
}

/// The references, as a hand-written tower layer (as lean as middleware
/// gets; axum's `from_fn` would add its own boxing): it reads the request,
/// and with a channel, sends one [`MinimalEvent`] per response.
#[derive(Clone)]
struct ReferenceLayer {
    events: Option<mpsc::Sender<MinimalEvent>>,
    dropped: Arc<AtomicU64>,
}

impl<S> tower_layer::Layer<S> for ReferenceLayer {
    type Service = Reference<S>;

    fn layer(&self, inner: S) -> Reference<S> {
        Reference {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Reference<S> {
    inner: S,
    layer: ReferenceLayer,
}

impl<S, B> tower_service::Service<http::Request<B>> for Reference<S>
where
    S: tower_service::Service<http::Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ReferenceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let (peer, bytes) = read_request(&request);
        std::hint::black_box(bytes);
        ReferenceFuture {
            inner: self.inner.call(request),
            peer,
            layer: self.layer.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    struct ReferenceFuture<F> {
        #[pin]
        inner: F,
        peer: Option<SocketAddr>,
        layer: ReferenceLayer,
    }
}

impl<F, E> Future for ReferenceFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let (Some(events), Ok(response)) = (&this.layer.events, &result) {
            let event = MinimalEvent {
                id: uuid::Uuid::now_v7(),
                at: SystemTime::now(),
                peer: *this.peer,
                status: response.status().as_u16(),
            };
            if events.try_send(event).is_err() {
                this.layer.dropped.fetch_add(1, Relaxed);
            }
        }
        Poll::Ready(result)
    }
}

fn serve(variant: &str, port_file: &Path) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let app = match variant {
            BARE => Router::new()
                .route("/", get(hello))
                .route("/__stats", get(served_stats)),
            HEADERS_ONLY => Router::new()
                .route("/", get(hello))
                .route("/__stats", get(served_stats))
                .layer(ReferenceLayer {
                    events: None,
                    dropped: Arc::default(),
                }),
            CHANNEL => {
                let (sender, mut receiver) = mpsc::channel::<MinimalEvent>(65_536);
                let received = Arc::new(AtomicU64::new(0));
                let dropped = Arc::new(AtomicU64::new(0));
                let counted = Arc::clone(&received);
                tokio::spawn(async move {
                    while let Some(event) = receiver.recv().await {
                        std::hint::black_box((event.id, event.at, event.peer, event.status));
                        counted.fetch_add(1, Relaxed);
                    }
                });
                let layer = ReferenceLayer {
                    events: Some(sender),
                    dropped: Arc::clone(&dropped),
                };
                let stats = move || {
                    let received = Arc::clone(&received);
                    let dropped = Arc::clone(&dropped);
                    async move {
                        // Queued events are counted once the drain task has run.
                        tokio::task::yield_now().await;
                        format!(
                            "served={} events={} dropped={}\n",
                            SERVED.load(Relaxed),
                            received.load(Relaxed),
                            dropped.load(Relaxed)
                        )
                    }
                };
                Router::new()
                    .route("/", get(hello))
                    .route("/__stats", get(stats))
                    .layer(layer)
            }
            AUDIT | AUDIT_WRITER_THREAD => {
                let received = Arc::new(AtomicU64::new(0));
                let sink = NoopSink {
                    received: Arc::clone(&received),
                };
                let auditor = if variant == AUDIT {
                    Auditor::builder().lifecycle_events(false).start(sink)
                } else {
                    start_on_writer_thread(sink)?
                };
                let stats_auditor = auditor.clone();
                let stats = move || {
                    let auditor = stats_auditor.clone();
                    let received = Arc::clone(&received);
                    async move {
                        let flushed = auditor.flush().await.is_ok();
                        let stats = auditor.stats();
                        format!(
                            "served={} events={} queued={} written={} dropped={} refused={} flushed={}\n",
                            SERVED.load(Relaxed),
                            received.load(Relaxed),
                            stats.queued,
                            stats.written,
                            stats.dropped,
                            stats.refused,
                            u8::from(flushed),
                        )
                    }
                };
                Router::new()
                    .route("/", get(hello_audited))
                    .route("/__stats", get(stats))
                    .layer(AuditLayer::new(auditor))
            }
            other => return Err(format!("unknown variant {other:?}; one of {}", VARIANTS.join(", ")).into()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        loadgen::publish_port(port_file, listener.local_addr()?.port())?;
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
        Ok(())
    })
}

/// Starts the auditor on a current-thread runtime of its own thread, so the
/// writer task does not run on the server's worker (the thread inherits the
/// process's CPU pinning).
fn start_on_writer_thread(sink: NoopSink) -> Result<Auditor, BoxError> {
    let (started, auditor) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("audit-writer".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => return eprintln!("audit writer runtime: {error}"),
            };
            runtime.block_on(async move {
                let _ = started.send(Auditor::builder().lifecycle_events(false).start(sink));
                std::future::pending::<()>().await;
            });
        })?;
    Ok(auditor.recv()?)
}

// ---------------------------------------------------------------------------
// The orchestrator
// ---------------------------------------------------------------------------

fn orchestrate() -> Result<ExitCode, BoxError> {
    if let Some(missing) = loadgen::missing_tools() {
        eprintln!("layer_overhead: `{missing}` was not found on PATH.");
        eprintln!("  This benchmark runs `wrk` (the HTTP load generator) and pins processes with `taskset`.");
        eprintln!("  Debian/Ubuntu: apt-get install -y wrk util-linux");
        return Ok(ExitCode::FAILURE);
    }
    let cpus = loadgen::cpus()?;
    let quick = std::env::var_os("LAYER_OVERHEAD_QUICK").is_some();
    let bench = Bench::standard("layer_overhead", VARIANTS, quick, "/", None);
    println!("layer_overhead: AuditLayer on a hello-world axum app, over loopback");
    let rows = loadgen::run_rounds(&bench, cpus)?;
    let (summaries, sane) = loadgen::summarise(&bench, &rows);
    for summary in summaries
        .iter()
        .filter(|s| [AUDIT, AUDIT_WRITER_THREAD].contains(&s.variant))
    {
        let met = |ok: bool| if ok { "met" } else { "NOT met" };
        println!(
            "target ({}): throughput ratio {:.3} >= {TARGET_RATIO}: {}; added p99 {:+.1} µs <= {TARGET_ADDED_P99_MICROS} µs: {}",
            summary.variant,
            summary.ratio,
            met(summary.ratio >= TARGET_RATIO),
            summary.added_p99_micros,
            met(summary.added_p99_micros <= TARGET_ADDED_P99_MICROS),
        );
    }
    Ok(if sane { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
