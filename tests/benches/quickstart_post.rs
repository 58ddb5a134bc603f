//! End-to-end load benchmark: the quickstart's `POST /apps` with its audit
//! trail recorded into SQLite and into PostgreSQL, buffered and confirmed,
//! against the same app with auditing disabled, in the same run.
//!
//! `cargo bench -p audit-tests --bench quickstart_post` (about seven minutes
//! on an idle machine; `QUICKSTART_BENCH_QUICK=1` does one short round, to
//! check the set-up; `QUICKSTART_BENCH_VARIANTS=disabled,postgres` only
//! those; `QUICKSTART_BENCH_SEARCH_INDEX=off` with the stores' free-text
//! index off). It needs `wrk` and `taskset` and two CPUs, and for the
//! PostgreSQL variants `initdb` and `pg_ctl` (without them those variants
//! are left out, and the bench says so).
//!
//! Variants, each the quickstart's own router (`Quickstart::router`: the
//! demo authentication, the `#[audited]` handler, the `AuditLayer`, the
//! admin read side), served by `axum::serve` on a current-thread Tokio
//! runtime pinned to CPU 0:
//! - `disabled` (the baseline): the events go to a sink that discards them
//!   (`Quickstart::build_recording_to`). The layer stays, because the app's
//!   authentication runs inside it, as it would in an application; what this
//!   variant leaves out is storing the trail. What the layer itself costs is
//!   `audit-tower`'s `layer_overhead` bench;
//! - `sqlite`: the quickstart as `cargo run -p quickstart` runs it: the
//!   auditor with its defaults (batches of up to 512, 10 ms linger) writing
//!   into a fresh SQLite file on disk with the store's defaults (WAL,
//!   `synchronous=FULL`). The store's connections run on their own threads,
//!   which inherit the pinning: the whole service shares CPU 0.
//! - `sqlite-confirmed`: as `sqlite`, with `Delivery::Confirmed`: every
//!   `201` waits until the store has committed its event.
//! - `postgres`: as `sqlite`, into a fresh database on a throwaway
//!   PostgreSQL cluster the bench starts (`audit-store/benches/common/pg.rs`:
//!   PostgreSQL's durability defaults, a Unix socket). Its processes are
//!   pinned to CPU 0 as well and their CPU time counts as the server's: the
//!   whole service, its database included, shares one CPU, as with SQLite.
//!   A database on its own machine would leave the service its CPU; this is
//!   the harder case.
//! - `postgres-confirmed`: as `postgres`, with `Delivery::Confirmed`.
//! - `spooled`: as `sqlite`, with the auditor writing through a spool on
//!   the same disk and `Delivery::Spooled`: every `201` waits until its
//!   event is `fdatasync`ed in the spool (the quickstart binary's default).
//!   Issue 18's target: at least 0.8 × the throughput of `sqlite` (the
//!   buffered mode), measured in the same run. Group commit keeps the fsync
//!   off the per-request path: one `fdatasync` per writer round, shared by
//!   every request whose event is in it.
//! - `spool-only`: `disabled` with the spool and `Delivery::Spooled`: the
//!   events are `fdatasync`ed in the spool before each `201`, then
//!   discarded. Against `disabled` it is the spool's own cost, without
//!   SQLite's commits sharing CPU 0 (which `spooled` against `sqlite`
//!   includes: `sqlite`'s queue of 65,536 events absorbs a run's backlog,
//!   so most of its commits fall after the measured seconds, while the
//!   spool drainer commits what it spooled as it goes).
//!
//! - `sqlite-dead-stream`: as `sqlite`, with a stream sink
//!   (`Config::stream_to`, OCSF, signed) whose receiver is dead: nothing
//!   listens on its port, so every delivery is refused and retried with
//!   backoff while its lag grows. Issue 21's target: at least 0.95 × the
//!   throughput of `sqlite`, same run: a dead SIEM must not slow the
//!   service (the sink reads the store, never the request path).
//!
//! `QUICKSTART_BENCH_SUSTAINED=1` measures after 20 s of load instead of 1
//! (three rounds): by then `sqlite`'s queue is full and buffered delivery
//! runs at the rate the store keeps up with, which is what a service under
//! sustained load gets; the short run measures mostly how fast that queue
//! fills (its oldest event waits about 5 s at hand-off by the end).
//!
//! Issue 20's target: `sqlite` and `postgres` each at least 0.8 × the
//! throughput of `disabled`, same run.
//!
//! Load: `taskset -c 1 wrk -t1 -c32 -d10s --latency` with a script that
//! sends `POST /apps {"name":"Billing"}` as `Bearer acme-owner`; medians of
//! five runs, variants interleaved, the plumbing (idle-machine wait,
//! disturbed-run repeats, `/proc` accounting) shared with `layer_overhead`.
//! After each run `GET /__stats` flushes the auditor and compares the
//! events written with the `201 Created` answers counted, so every request
//! is shown to have produced its event (in the store, for `sqlite`).

#[path = "../../audit-tower/benches/loadgen/mod.rs"]
mod loadgen;
#[path = "../../audit-store/benches/common/pg.rs"]
#[allow(dead_code)] // The store benches' helpers this bench has no use for.
mod pg;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use audit_core::{AuditSink, Event, SinkError};
use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use loadgen::{Bench, BoxError};
use quickstart::{Config, Quickstart};

const DISABLED: &str = "disabled";
const SQLITE: &str = "sqlite";
const SQLITE_CONFIRMED: &str = "sqlite-confirmed";
const POSTGRES: &str = "postgres";
const POSTGRES_CONFIRMED: &str = "postgres-confirmed";
const SPOOLED: &str = "spooled";
const SPOOL_ONLY: &str = "spool-only";
const SQLITE_DEAD_STREAM: &str = "sqlite-dead-stream";
/// Every variant; the first is the baseline.
const VARIANTS: &[&str] = &[
    DISABLED,
    SQLITE,
    SQLITE_CONFIRMED,
    POSTGRES,
    POSTGRES_CONFIRMED,
    SPOOLED,
    SPOOL_ONLY,
    SQLITE_DEAD_STREAM,
];
/// The throughput `sqlite` and `postgres` keep of `disabled` (issue 20).
const STORE_TARGET: f64 = 0.8;
/// The throughput `sqlite-dead-stream` keeps of `sqlite` (issue 21).
const DEAD_STREAM_TARGET: f64 = 0.95;
/// Where `sqlite-dead-stream`'s webhook points: a loopback port nothing
/// listens on (every delivery is refused).
const DEAD_RECEIVER: &str = "http://127.0.0.1:1/events";
/// The PostgreSQL server's admin URL, for the server process.
const POSTGRES_ADMIN_ENV: &str = "QUICKSTART_BENCH_POSTGRES_ADMIN";
/// The URL of the database the server process makes afresh and records into.
const POSTGRES_URL_ENV: &str = "QUICKSTART_BENCH_POSTGRES_URL";
const POSTGRES_DATABASE: &str = "quickstart_bench";

/// The request: the tour's first curl line.
const WRK_SCRIPT: &str = r#"wrk.method = "POST"
wrk.body = '{"name":"Billing"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer acme-owner"
"#;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        let (Some(variant), Some(port_file)) = (args.get(2), args.get(3)) else {
            eprintln!("usage: quickstart_post --serve {} <port-file>", VARIANTS.join("|"));
            return ExitCode::FAILURE;
        };
        return match serve(variant, Path::new(port_file)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("quickstart_post server ({variant}): {error}");
                ExitCode::FAILURE
            }
        };
    }
    // `cargo bench` passes `--bench`; a load test has no place in a test run.
    if !args.iter().any(|arg| arg == "--bench") {
        println!("quickstart_post: a load benchmark; run it with `cargo bench -p audit-tests --bench quickstart_post`");
        return ExitCode::SUCCESS;
    }
    match orchestrate() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("quickstart_post: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `201 Created` answers: apps created.
static CREATED: AtomicU64 = AtomicU64::new(0);

async fn count_created(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() == http::StatusCode::CREATED {
        CREATED.fetch_add(1, Relaxed);
    }
    response
}

/// Auditing disabled: accepts every batch and keeps nothing.
#[derive(Debug)]
struct DiscardSink;

impl AuditSink for DiscardSink {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        std::hint::black_box(batch.len());
        Ok(())
    }
}

fn serve(variant: &str, port_file: &Path) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        // A fresh store next to the port file: on disk, not in memory.
        let database = port_file.with_extension("db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
        }
        let config = Config::new(format!("sqlite://{}", database.display()));
        let confirmed = audit_tower::Delivery::Confirmed {
            timeout: std::time::Duration::from_secs(5),
        };
        let quickstart = match variant {
            DISABLED => Quickstart::build_recording_to(config, DiscardSink).await?,
            SQLITE => Quickstart::build(config).await?,
            SQLITE_CONFIRMED => Quickstart::build(config.delivery(confirmed)).await?,
            SQLITE_DEAD_STREAM => {
                let dead = quickstart::StreamWebhook {
                    url: DEAD_RECEIVER.to_owned(),
                    secret: Some("whsec_bench_dead_receiver".to_owned()),
                    format: audit_core::format::EventFormat::Ocsf,
                };
                Quickstart::build(config.stream_to(dead)).await?
            }
            POSTGRES | POSTGRES_CONFIRMED => {
                let mut config = config;
                config.database_url = fresh_postgres_database().await?;
                let config = if variant == POSTGRES_CONFIRMED {
                    config.delivery(confirmed)
                } else {
                    config
                };
                Quickstart::build(config).await?
            }
            SPOOLED | SPOOL_ONLY => {
                let spool = port_file.with_extension("spool");
                let _ = std::fs::remove_dir_all(&spool);
                let config = config
                    .spool(audit_core::SpoolConfig::new(spool))
                    .delivery(audit_tower::Delivery::Spooled {
                        timeout: std::time::Duration::from_secs(5),
                    });
                if variant == SPOOL_ONLY {
                    Quickstart::build_recording_to(config, DiscardSink).await?
                } else {
                    Quickstart::build(config).await?
                }
            }
            other => return Err(format!("unknown variant {other:?}; one of {}", VARIANTS.join(", ")).into()),
        };
        // QUICKSTART_BENCH_SEARCH_INDEX=off: the stores without their
        // free-text index (issue 20's lever), before the first request.
        if std::env::var("QUICKSTART_BENCH_SEARCH_INDEX").is_ok_and(|value| value.trim() == "off") {
            quickstart.store().set_search_index(false).await?;
        }
        let auditor = quickstart.auditor().clone();
        let stats = move || {
            let auditor = auditor.clone();
            async move {
                let flushed = auditor.flush().await.is_ok();
                let stats = auditor.stats();
                format!(
                    "served={} events={} dropped={} refused={} flushed={} batches={} oldest_age_p99_us={} oldest_age_max_us={} write_p99_us={}\n",
                    CREATED.load(Relaxed),
                    stats.written,
                    stats.dropped,
                    stats.refused,
                    u8::from(flushed),
                    stats.batches,
                    stats.oldest_event_age_p99.as_micros(),
                    stats.oldest_event_age_max.as_micros(),
                    stats.write_latency_p99.as_micros(),
                )
            }
        };
        let app = quickstart
            .router()
            .layer(middleware::from_fn(count_created))
            .merge(Router::new().route("/__stats", get(stats)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        loadgen::publish_port(port_file, listener.local_addr()?.port())?;
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
        Ok(())
    })
}

/// Drops and makes the database the PostgreSQL variants record into;
/// returns its URL.
async fn fresh_postgres_database() -> Result<String, BoxError> {
    use sqlx::Connection as _;
    let admin = std::env::var(POSTGRES_ADMIN_ENV).map_err(|_| format!("{POSTGRES_ADMIN_ENV} is not set"))?;
    let mut conn = sqlx::PgConnection::connect(&admin).await?;
    // Two statements: neither may run inside a transaction block.
    for statement in [
        format!("DROP DATABASE IF EXISTS {POSTGRES_DATABASE} WITH (FORCE)"),
        format!("CREATE DATABASE {POSTGRES_DATABASE}"),
    ] {
        sqlx::raw_sql(&statement).execute(&mut conn).await?;
    }
    conn.close().await?;
    Ok(std::env::var(POSTGRES_URL_ENV).map_err(|_| format!("{POSTGRES_URL_ENV} is not set"))?)
}

/// The variants to run: `QUICKSTART_BENCH_VARIANTS` (comma-separated, the
/// baseline always first), without the PostgreSQL ones when there is no
/// server for them.
fn chosen_variants(postgres: bool) -> Result<Vec<&'static str>, BoxError> {
    let wanted = std::env::var("QUICKSTART_BENCH_VARIANTS").unwrap_or_default();
    let wanted: Vec<&str> = wanted
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    if let Some(unknown) = wanted.iter().find(|name| !VARIANTS.contains(name)) {
        return Err(format!(
            "QUICKSTART_BENCH_VARIANTS: unknown variant {unknown:?}; one of {}",
            VARIANTS.join(", ")
        )
        .into());
    }
    Ok(VARIANTS
        .iter()
        .copied()
        .filter(|variant| *variant == DISABLED || wanted.is_empty() || wanted.contains(variant))
        .filter(|variant| postgres || !variant.starts_with(POSTGRES))
        .collect())
}

fn orchestrate() -> Result<ExitCode, BoxError> {
    if let Some(missing) = loadgen::missing_tools() {
        eprintln!("quickstart_post: `{missing}` was not found on PATH (Debian: apt-get install -y wrk util-linux).");
        return Ok(ExitCode::FAILURE);
    }
    let cpus = loadgen::cpus()?;
    let quick = std::env::var_os("QUICKSTART_BENCH_QUICK").is_some();
    let script = std::env::temp_dir().join(format!("quickstart_post-{}.lua", std::process::id()));
    // QUICKSTART_BENCH_DELAY_MS=N: each connection waits N ms between
    // requests (wrk's `delay`), a steady load below saturation, where the
    // linger (not the store's ingest rate) should bound how long events wait.
    let delay = std::env::var("QUICKSTART_BENCH_DELAY_MS").ok();
    let script_text = match &delay {
        Some(ms) => format!("{WRK_SCRIPT}function delay() return {} end\n", ms.parse::<u32>()?),
        None => WRK_SCRIPT.to_owned(),
    };
    std::fs::write(&script, script_text)?;
    // The PostgreSQL variants' server: started once, pinned to the server's
    // CPU, stopped when this process ends.
    let postgres = match pg::Server::start() {
        Ok(server) => Some(server),
        Err(error) => {
            println!("quickstart_post: the PostgreSQL variants are left out: {error}");
            None
        }
    };
    let variants: &'static [&'static str] = chosen_variants(postgres.is_some())?.leak();
    let mut bench = Bench::standard("quickstart_post", variants, quick, "/apps", Some(script.clone()));
    if let Some(server) = &postgres {
        let pid = server
            .postmaster_pid()
            .ok_or("the PostgreSQL variants need the bench's own cluster (AUDIT_BENCH_DATABASE_URL is set)")?;
        loadgen::pin_to_server_cpu(pid)?;
        bench.server.database_pid = Some(pid);
        bench.server.env = vec![
            (POSTGRES_ADMIN_ENV.to_owned(), server.url("postgres")),
            (POSTGRES_URL_ENV.to_owned(), server.url(POSTGRES_DATABASE)),
        ];
        println!(
            "PostgreSQL: {}; its processes pinned to the server's CPU, their CPU time counted as the server's",
            server.describe()
        );
    }
    // QUICKSTART_BENCH_SUSTAINED=1: measure after 20 s of load, once the
    // buffered queue (65,536 events) is full and buffered delivery runs at
    // the rate its store keeps up with, as it would under a sustained load;
    // a short run measures mostly how fast that queue fills.
    let sustained = std::env::var_os("QUICKSTART_BENCH_SUSTAINED").is_some();
    if sustained {
        bench.load.warm_up = "20s".to_owned();
        bench.rounds = bench.rounds.min(3);
    }
    println!("quickstart_post: POST /apps, auditing into each store against auditing disabled, over loopback");
    let rows = loadgen::run_rounds(&bench, cpus);
    let _ = std::fs::remove_file(&script);
    let rows = rows?;
    let (summaries, sane) = loadgen::summarise(&bench, &rows);
    // How long the oldest event of a batch waited for its write, per run:
    // the linger (10 ms) bounds it while the store keeps up.
    for row in rows.iter().filter(|row| row.variant == SQLITE) {
        let stat = |key: &str| row.run.stats.get(key).copied().unwrap_or_default();
        println!(
            "sqlite run: {} batches, oldest queued event at hand-off p99 {:.1} ms, max {:.1} ms; \
             reference, same run: linger 10 ms + batch write p99 {:.1} ms = {:.1} ms",
            stat("batches"),
            stat("oldest_age_p99_us") as f64 / 1000.0,
            stat("oldest_age_max_us") as f64 / 1000.0,
            stat("write_p99_us") as f64 / 1000.0,
            10.0 + stat("write_p99_us") as f64 / 1000.0,
        );
    }
    let summary = |variant: &str| summaries.iter().find(|summary| summary.variant == variant);
    for (variant, store, delivery) in [
        (SQLITE, "SQLite", "buffered"),
        (SQLITE_CONFIRMED, "SQLite", "confirmed"),
        (POSTGRES, "PostgreSQL", "buffered"),
        (POSTGRES_CONFIRMED, "PostgreSQL", "confirmed"),
    ] {
        let Some(recording) = summary(variant) else {
            continue;
        };
        let verdict = if delivery == "buffered" {
            format!(
                " (target ≥ {STORE_TARGET}: {})",
                if recording.ratio >= STORE_TARGET {
                    "met"
                } else {
                    "missed"
                }
            )
        } else {
            String::new()
        };
        println!(
            "recording into {store}, {delivery}, keeps {:.3} × the throughput of auditing disabled{verdict} and adds \
             {:+.1} µs to the p99",
            recording.ratio, recording.added_p99_micros
        );
    }
    if let (Some(sqlite), Some(spooled)) = (summary(SQLITE), summary(SPOOLED)) {
        let ratio = spooled.ratio / sqlite.ratio;
        println!(
            "spooled delivery (each 201 waits for its event's fdatasync in the spool) keeps {ratio:.3} × the \
             throughput of buffered delivery, same run, {} (target ≥ 0.8: {}); p99 {:+.1} µs against disabled",
            if sustained {
                "under sustained load"
            } else {
                "while the buffered queue fills"
            },
            if ratio >= 0.8 { "met" } else { "missed" },
            spooled.added_p99_micros
        );
    }
    if let (Some(sqlite), Some(dead)) = (summary(SQLITE), summary(SQLITE_DEAD_STREAM)) {
        let ratio = dead.ratio / sqlite.ratio;
        println!(
            "a stream sink whose receiver is dead (every POST refused, retried with backoff) keeps {ratio:.3} × the \
             throughput of sqlite without it, same run (target ≥ {DEAD_STREAM_TARGET}: {}); p99 {:+.1} µs against \
             sqlite's {:+.1} µs",
            if ratio >= DEAD_STREAM_TARGET { "met" } else { "missed" },
            dead.added_p99_micros,
            sqlite.added_p99_micros
        );
    }
    if let Some(spool_only) = summary(SPOOL_ONLY) {
        println!(
            "the spool alone (spooled delivery into the discarding sink) keeps {:.3} × the throughput of buffered \
             delivery into it (disabled) and adds {:+.1} µs to the p99",
            spool_only.ratio, spool_only.added_p99_micros
        );
    }
    Ok(if sane { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
