//! PostgreSQL at scale (issue 19, point 4): the same queries as the queries
//! bench, an export, a purge and the database's size, on a store of
//! 1,000,000 and one of 10,000,000 events over the same two years (two tiers
//! in one run).
//!
//! The data: 1,000 tenants whose activity follows Zipf's law (exponent
//! 1.0: `tenant-00`, the busiest, has 13.4 % of the events, `tenant-999`
//! 0.013 %), 200 actions, 200 actors and 8 × 2,000 targets per tenant,
//! events otherwise the queries bench's (`common::Generator` with
//! `tenants_zipf(1000, 1.0)`, `actions(200)`, `days(730)`, seed 19).
//! Events come in time order, as a live trail receives them: `occurred_at`
//! rises evenly with the ids, from the first day of the month 730 days ago
//! (so the oldest month is whole: 730–760 days) to now. A stream's seqs
//! must rise with its times for a purge to remove a month (it removes a
//! prefix of each stream), which random times would defeat. Each tier is a
//! database of its own over the same span, so both have the same 27 month
//! partitions: the top tier is a service with ten times the traffic and
//! the same retention, and a ratio between the tiers measures the number
//! of events, not the number of partitions. (A store that grows into its
//! months has fewer partitions while young: a first run that compared the
//! 10M store with itself at 1M, 6 partitions then, measured mostly the
//! planner's cost per partition; BENCHMARKS.md, "Issue 19".) The base
//! tier's database is dropped before the top tier loads.
//!
//! Loading is the store's own write path (`write_batch`: seqs, leaf hashes,
//! Merkle nodes, `search_text`, the month partitions made as needed), in
//! chunks of 20,000 events split by tenant between `SCALE_BENCH_WRITERS`
//! concurrent writers (default 2; disjoint tenant sets balanced by
//! expected load, so each stream has one writer and stays in time order),
//! batches of up to 10,000; the next chunk is generated while one is
//! written. The load rate of each tier is printed (and every million).
//!
//! At each tier: `VACUUM ANALYZE audit_events` and `CHECKPOINT` (the work
//! autovacuum and the checkpointer would otherwise do during the queries:
//! see the queries bench's header), the sizes, `pg_prewarm` of every
//! partition and index (also as there: this VM evicts file pages idle for
//! a minute), then on the busiest tenant every kind of the queries bench
//! (`common::kinds`), `STORE_BENCH_RUNS` times (default 200) after 10
//! warm-up runs:
//!
//! | kind | query |
//! |---|---|
//! | tenant, 30 days | `tenant` + `since` = the tier's now − 30 days |
//! | tenant + action + range | one of the 200 actions, a 14-day window at a varying place |
//! | tenant + actor | one of the 200 actors |
//! | tenant + target | one of the 16,000 `(target_type, target_id)` |
//! | first page | `tenant` only |
//! | keyset page | `tenant` + the cursor after event 1,000,000 (top tier) or 100,000 (base tier): the deepest of 1,000,000 / 100,000 / 10,000 / 1,000 the tenant has |
//! | offset | `tenant` + `offset` at the same depth, at most 100,000 (at most 200 runs or 60 s) |
//! | free text, 30 days | `tenant` + 30 days + `q`: a word in ~1/8 of target names, an actor's full name, one target id |
//!
//! then an NDJSON export of the busiest tenant's last 365 days through
//! `store.scan` and `ExportFormat` (as `audit export` does) into
//! `io::sink()`: rows, seconds, rows/s and the peak RSS growth (VmHWM reset
//! through `/proc/self/clear_refs` before, against VmRSS before).
//!
//! At the top tier, last: `store.purge(&Purge::before(t))`, `t` the start
//! (UTC) of the second-oldest month, so the oldest month goes; then the
//! baseline, deleting the next month's rows as a row-by-row purge does
//! (one transaction on its own connection: every stream's base moved to
//! its head, `SET LOCAL audit.purge = 'on'`, the timed `DELETE … WHERE
//! occurred_at` in that month, `ROLLBACK`, so the store is unchanged);
//! then `verify` of the busiest stream and three others must find them
//! intact.
//!
//! Targets (issue 19): every index-backed kind's p99 at the top tier ≤ 1.5
//! × its p99 at the base tier (≤ 2 × when the top tier is 50M or more);
//! dropping a month ≥ 100 × faster than deleting its rows.
//!
//! ```text
//! cargo bench -p audit-store --all-features --bench scale
//! ```
//!
//! `SCALE_BENCH_EVENTS` (default 10,000,000) is the top tier and
//! `SCALE_BENCH_BASE` (default 1,000,000) the base tier; `STORE_BENCH_RUNS`
//! the runs per kind, `STORE_BENCH_KINDS=actor,text` only those kinds;
//! `AUDIT_BENCH_DATABASE_URL` a server to use instead of a throwaway
//! cluster, and `STORE_BENCH_KEEP=1` keeps the database (`bench_scale`)
//! for `EXPLAIN` afterwards. A quick check: `SCALE_BENCH_BASE=100000
//! SCALE_BENCH_EVENTS=500000 STORE_BENCH_RUNS=50`.
//!
//! The 100M run is `SCALE_BENCH_EVENTS=100000000`, on demand. It needs
//! disk: the database measured 2,168 bytes per event at 10M (2,067 MiB per
//! million events; 2,152 of them `audit_events`, 863 of those its
//! indexes), so 100M events take about 217 GB (202 GiB) for the database
//! alone, plus WAL. That does not fit the ~37 GB free on the machine the
//! 10M figures came from (the run prints its own estimate at its end). It
//! would also load for about 3.5 hours at the 10M run's ~8,000 events/s,
//! and its prewarm could not hold 200 GiB in memory: already at 10M the
//! 20 GiB database filled the ~22 GiB free, and the queries read evicted
//! pages back from disk (the report counts them).

mod common;

use std::io::Write as _;
use std::time::{Duration, Instant};

use audit_core::{AuditSink, Event, Timestamp};
use audit_store::{AuditQuery, ExportFormat, PgStore, Purge, Store};
use chrono::{DateTime, Datelike as _, TimeZone as _, Utc};
use common::kinds::{KINDS, Measured, QuerySet, measure, thousands};
use common::{BIG_TENANT, BoxError, CpuMeter, DAY, Generator, env_usize, file_refaults, load_average, met, ms};
use sqlx::{Connection as _, PgConnection, PgPool};

const TENANTS: usize = 1_000;
const ZIPF_EXPONENT: f64 = 1.0;
const ACTIONS: usize = 200;
const SPAN_DAYS: i64 = 730;
const SEED: u64 = 19;
/// Events generated at a time, split between the writers.
const CHUNK: usize = 20_000;
/// The most events one `write_batch` takes.
const BATCH: usize = 10_000;
/// A load progress line every this many events.
const PROGRESS: usize = 1_000_000;
/// Keyset depths, deepest first: each tier uses the deepest its busiest
/// tenant has.
const DEPTHS: [usize; 4] = [1_000_000, 100_000, 10_000, 1_000];
/// The p99 target: top tier ≤ this × base tier …
const P99_FACTOR: f64 = 1.5;
/// … or this when the top tier is [`LARGE_TIER`] or more.
const P99_FACTOR_LARGE: f64 = 2.0;
const LARGE_TIER: usize = 50_000_000;
const DROP_FACTOR: f64 = 100.0;
const DATABASE: &str = "bench_scale";
const MIB: f64 = 1024.0 * 1024.0;

fn main() -> Result<(), BoxError> {
    common::block_on(run())
}

/// What one tier measured.
#[derive(Debug)]
struct Tier {
    events: usize,
    load: Load,
    sizes: Sizes,
    tenant_rows: usize,
    set: QuerySet,
    measured: Vec<Measured>,
    export: Exported,
}

/// The events loaded for a tier (on top of the tier before), and how long
/// that took.
#[derive(Debug, Clone, Copy)]
struct Load {
    events: usize,
    took: Duration,
}

impl Load {
    fn rate(self) -> f64 {
        self.events as f64 / self.took.as_secs_f64()
    }
}

#[derive(Debug)]
struct Sizes {
    database: u64,
    /// `audit_events`' partitions with their indexes (and TOAST) …
    events_table: u64,
    /// … of which their indexes.
    events_indexes: u64,
    partitions: usize,
}

#[derive(Debug)]
struct Exported {
    rows: u64,
    took: Duration,
    /// VmRSS before and VmHWM after, in KiB (`None` where unreadable).
    rss_before: Option<u64>,
    peak: Option<u64>,
    /// Whether the high-water mark was reset before the export.
    reset: bool,
}

impl Exported {
    fn growth_mib(&self) -> Option<f64> {
        Some(self.peak?.saturating_sub(self.rss_before?) as f64 / 1024.0)
    }
}

#[derive(Debug)]
struct Purged {
    month: DateTime<Utc>,
    rows: i64,
    streams: i64,
    took: Duration,
    left: i64,
    partition_dropped: bool,
    baseline_month: DateTime<Utc>,
    baseline_rows: u64,
    baseline: Duration,
    /// Dropping the baseline's month, its rows all purged (rolled back).
    drop_alone: Duration,
    verified: Vec<(String, u64)>,
    verify_took: Duration,
}

async fn run() -> Result<(), BoxError> {
    let top = env_usize("SCALE_BENCH_EVENTS", 10_000_000).max(1);
    let base = env_usize("SCALE_BENCH_BASE", 1_000_000).clamp(1, top);
    let runs = env_usize("STORE_BENCH_RUNS", 200).max(1);
    let writers = env_usize("SCALE_BENCH_WRITERS", 2).clamp(1, 8);
    let now_ts = Timestamp::now();
    let now = now_ts.unix_micros();
    let start = month_start(at(now - SPAN_DAYS * DAY));
    println!(
        "audit-store scale: PostgreSQL, {} then {} events, {TENANTS} tenants (Zipf {ZIPF_EXPONENT:.1}), {ACTIONS} \
         actions, in time order from {} to now; {writers} writers; {runs} runs per kind; load average {}",
        thousands(base),
        thousands(top),
        start.format("%Y-%m-%d"),
        load_average()
    );
    let server = common::pg::Server::start()?;
    println!("PostgreSQL: {}", server.describe());
    let mut tiers: Vec<Tier> = Vec::new();
    // Each tier is its own database over the same two years: the same
    // partitions, ten times the events (a service with ten times the
    // traffic and the same retention), so a ratio measures the events, not
    // the number of partitions a younger trail would have.
    let sizes = if base < top { vec![base, top] } else { vec![top] };
    let mut last = None;
    for (k, &events) in sizes.iter().enumerate() {
        let database = format!("{DATABASE}_{k}");
        let url = server.create_database(&database).await?;
        let pg = PgStore::connect(&url).await?;
        let store = Store::from(pg.clone());
        let generator = Generator::new(SEED, now_ts)
            .tenants_zipf(TENANTS, ZIPF_EXPONENT)
            .actions(ACTIONS)
            .days(SPAN_DAYS)
            .in_order_from(start.timestamp_micros(), events);
        let mut loader = Loader {
            generator: Some(generator),
            loaded: 0,
            newest: start.timestamp_micros(),
            writer_of: writer_of(writers),
            writers,
        };
        let load = Load {
            took: loader.load_to(&store, events).await?,
            events,
        };
        println!(
            "tier {}: loaded {} events in {:.0} s ({:.0} events/s)",
            thousands(events),
            thousands(load.events),
            load.took.as_secs_f64(),
            load.rate()
        );
        let tier_now = loader.newest + 1;
        tiers.push(measure_tier(&store, pg.pool(), events, load, tier_now, 90, runs).await?);
        if k + 1 < sizes.len() {
            // Its disk is the next tier's.
            pg.pool().close().await;
            server.drop_database(&database).await?;
        } else {
            last = Some((store, pg, url, database));
        }
    }
    let (store, pg, url, database) = last.ok_or("no tier was measured")?;
    let purged = purge_oldest_month(&store, pg.pool(), &url).await?;

    summary(&tiers, &purged, top, runs, writers);
    pg.pool().close().await;
    if std::env::var_os("STORE_BENCH_KEEP").is_some() {
        println!("kept: PostgreSQL {url}");
    } else {
        server.drop_database(&database).await?;
    }
    Ok(())
}

fn at(micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(micros).expect("in range")
}

/// The start (UTC) of the month `at` falls in.
fn month_start(at: Timestamp) -> DateTime<Utc> {
    let at = at.as_datetime();
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists")
}

fn next_month(month: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = match month.month() {
        12 => (month.year() + 1, 1),
        m => (month.year(), m + 1),
    };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists")
}

/// Which writer takes each tenant: greedily, the busiest tenants first to
/// the least loaded writer, by their expected share.
fn writer_of(writers: usize) -> Vec<usize> {
    let mut loads = vec![0.0_f64; writers];
    common::zipf_weights(TENANTS, ZIPF_EXPONENT)
        .into_iter()
        .map(|weight| {
            let lightest = (0..writers).min_by(|&a, &b| loads[a].total_cmp(&loads[b])).unwrap_or(0);
            loads[lightest] += weight;
            lightest
        })
        .collect()
}

/// Loads the generator's events through the store, chunk by chunk.
struct Loader {
    /// `None` while a chunk is being generated.
    generator: Option<Generator>,
    loaded: usize,
    /// The `occurred_at` of the newest event loaded.
    newest: i64,
    writer_of: Vec<usize>,
    writers: usize,
}

type Chunk = tokio::task::JoinHandle<(Generator, Vec<Event>)>;

impl Loader {
    /// The next chunk towards `target`, generated on the blocking pool.
    fn generate(&mut self, target: usize) -> Option<Chunk> {
        let n = target.saturating_sub(self.loaded).min(CHUNK);
        if n == 0 {
            return None;
        }
        let mut generator = self.generator.take()?;
        Some(tokio::task::spawn_blocking(move || {
            let chunk = generator.events(n);
            (generator, chunk)
        }))
    }

    /// Loads up to `target` events in all; returns how long it took.
    async fn load_to(&mut self, store: &Store, target: usize) -> Result<Duration, BoxError> {
        let started = Instant::now();
        let mut since_progress = (Instant::now(), self.loaded);
        let mut pending = self.generate(target);
        while let Some(chunk) = pending.take() {
            let (generator, chunk) = chunk.await?;
            self.generator = Some(generator);
            self.loaded += chunk.len();
            self.newest = chunk.last().map_or(self.newest, |e| e.occurred_at().unix_micros());
            pending = self.generate(target);
            self.write(store, chunk).await?;
            if self.loaded / PROGRESS > since_progress.1 / PROGRESS {
                let (t, n) = since_progress;
                println!(
                    "  {} events loaded, {:.0} s; the last {} at {:.0} events/s; load average {}",
                    thousands(self.loaded),
                    started.elapsed().as_secs_f64(),
                    thousands(self.loaded - n),
                    (self.loaded - n) as f64 / t.elapsed().as_secs_f64(),
                    load_average()
                );
                since_progress = (Instant::now(), self.loaded);
            }
        }
        Ok(started.elapsed())
    }

    /// Writes a chunk: each writer its tenants' events, in order, at once.
    async fn write(&self, store: &Store, chunk: Vec<Event>) -> Result<(), BoxError> {
        let mut parts: Vec<Vec<Event>> = (0..self.writers)
            .map(|_| Vec::with_capacity(chunk.len() / self.writers + 1))
            .collect();
        for event in chunk {
            let tenant = event
                .tenant_id()
                .and_then(|t| t.strip_prefix("tenant-"))
                .and_then(|k| k.parse::<usize>().ok());
            let writer = tenant.and_then(|k| self.writer_of.get(k)).copied().unwrap_or(0);
            parts[writer].push(event);
        }
        let tasks: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let store = store.clone();
                tokio::spawn(async move {
                    for batch in part.chunks(BATCH) {
                        store.write_batch(batch).await?;
                    }
                    Ok::<(), BoxError>(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        Ok(())
    }
}

/// Everything measured at one tier but the load.
async fn measure_tier(
    store: &Store,
    pool: &PgPool,
    events: usize,
    load: Load,
    now: i64,
    range_days: i64,
    runs: usize,
) -> Result<Tier, BoxError> {
    let label = thousands(events);
    let t = Instant::now();
    sqlx::query("VACUUM ANALYZE audit_events").execute(pool).await?;
    sqlx::query("CHECKPOINT").execute(pool).await?;
    println!(
        "tier {label}: VACUUM ANALYZE, CHECKPOINT: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // After the VACUUM: its visibility map lets the count read an index.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(pool)
        .await?;
    if usize::try_from(count)? != events {
        return Err(format!("the store holds {count} events, expected {events}").into());
    }
    let sizes = sizes(pool).await?;
    println!(
        "tier {label}: database {:.0} MiB ({:.0} MiB per million events, {:.0} bytes/event); audit_events, {} \
         partitions with their indexes: {:.0} MiB ({:.0} bytes/event, of which indexes {:.0})",
        sizes.database as f64 / MIB,
        sizes.database as f64 / MIB * 1e6 / events as f64,
        sizes.database as f64 / events as f64,
        sizes.partitions,
        sizes.events_table as f64 / MIB,
        sizes.events_table as f64 / events as f64,
        sizes.events_indexes as f64 / events as f64
    );
    let tenant_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE tenant_id = $1")
        .bind(BIG_TENANT)
        .fetch_one(pool)
        .await?;
    let tenant_rows = usize::try_from(tenant_rows)?;
    let depth = DEPTHS
        .into_iter()
        .find(|&depth| tenant_rows >= depth + 50)
        .ok_or("the busiest tenant has too few events for a keyset page")?;
    let set = QuerySet {
        tenant: BIG_TENANT.to_owned(),
        actions: ACTIONS,
        range_days,
        now,
        keyset_depth: depth,
        offset_depth: depth.min(audit_store::MAX_OFFSET as usize),
    };

    let t = Instant::now();
    let warmed = common::pg::prewarm(pool).await?;
    println!(
        "tier {label}: {:.0} MiB read into the OS cache in {:.1} s (available memory {:.0} MiB)",
        warmed.unwrap_or(0) as f64 / MIB,
        t.elapsed().as_secs_f64(),
        available_memory_kib().unwrap_or(0) as f64 / 1024.0
    );
    let mut meter = CpuMeter::start();
    let refaults = file_refaults();
    let measured = measure(store, runs, &set).await?;
    let (busy, stolen) = meter.busy_and_stolen();
    println!(
        "tier {label}: {} has {} events; CPU busy {busy:.0} % of 2 during the queries (stolen {stolen:.1} %), load \
         {}; {} evicted file pages read again from disk",
        BIG_TENANT,
        thousands(tenant_rows),
        load_average(),
        file_refaults().saturating_sub(refaults)
    );
    for m in &measured {
        println!(
            "  {:<34} p50 {:>8.2} ms  p99 {:>8.2} ms",
            m.kind.label(&set),
            ms(m.latencies.p50()),
            ms(m.latencies.p99())
        );
    }
    let export = export_year(store, now).await?;
    println!(
        "tier {label}: export of {BIG_TENANT}'s last 365 days: {} rows in {:.1} s ({:.0} rows/s), peak RSS +{:.1} MiB",
        thousands(usize::try_from(export.rows)?),
        export.took.as_secs_f64(),
        export.rows as f64 / export.took.as_secs_f64(),
        export.growth_mib().unwrap_or(f64::NAN)
    );
    Ok(Tier {
        events,
        load,
        sizes,
        tenant_rows,
        set,
        measured,
        export,
    })
}

async fn sizes(pool: &PgPool) -> Result<Sizes, BoxError> {
    let (database, events_table, events_indexes, partitions): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT pg_database_size(current_database()), \
                coalesce(sum(pg_total_relation_size(relid)), 0)::bigint, \
                coalesce(sum(pg_indexes_size(relid)), 0)::bigint, count(*) \
         FROM pg_partition_tree('audit_events') WHERE isleaf",
    )
    .fetch_one(pool)
    .await?;
    Ok(Sizes {
        database: u64::try_from(database)?,
        events_table: u64::try_from(events_table)?,
        events_indexes: u64::try_from(events_indexes)?,
        partitions: usize::try_from(partitions)?,
    })
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

fn available_memory_kib() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The busiest tenant's last 365 days as NDJSON into `io::sink()`, the way
/// `audit export` writes a file.
async fn export_year(store: &Store, now: i64) -> Result<Exported, BoxError> {
    // "5" resets the peak RSS to the current RSS (proc(5), clear_refs).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = proc_status_kib("VmRSS");
    let started = Instant::now();
    let format = ExportFormat::Ndjson;
    let mut scan = store.scan(&AuditQuery::new().tenant(BIG_TENANT).since(at(now - 365 * DAY)))?;
    let mut out = std::io::sink();
    out.write_all(&format.header())?;
    let mut chunk = Vec::new();
    let mut rows = 0;
    while let Some(events) = scan.next_batch().await? {
        chunk.clear();
        format.write(&events, &mut chunk);
        out.write_all(&chunk)?;
        rows += events.len() as u64;
    }
    out.flush()?;
    let took = started.elapsed();
    Ok(Exported {
        rows,
        took,
        rss_before,
        peak: proc_status_kib("VmHWM"),
        reset,
    })
}

async fn count_between(pool: &PgPool, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<i64, BoxError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE occurred_at >= $1 AND occurred_at < $2")
            .bind(from)
            .bind(to)
            .fetch_one(pool)
            .await?,
    )
}

/// The purge of the oldest month, the row-by-row baseline on the next
/// month (rolled back), and `verify` of four streams.
async fn purge_oldest_month(store: &Store, pool: &PgPool, url: &str) -> Result<Purged, BoxError> {
    let oldest: DateTime<Utc> = sqlx::query_scalar("SELECT min(occurred_at) FROM audit_events")
        .fetch_one(pool)
        .await?;
    let month = month_start(at(oldest.timestamp_micros()));
    let cut = next_month(month);
    let after_cut = next_month(cut);
    let rows = count_between(pool, month, cut).await?;
    let partition = format!("audit_events_y{:04}m{:02}", month.year(), month.month());

    let purge_started = Timestamp::now();
    let t = Instant::now();
    // Whatever it returns (a list of reports, or an outcome saying which
    // months were dropped): the rows left and the partition tell.
    let _outcome = store.purge(&Purge::before(at(cut.timestamp_micros()))).await?;
    let took = t.elapsed();
    let left = count_between(pool, month, cut).await?;
    // One audit.purged event per stream purged, in this month's partition.
    let streams: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = $1 AND occurred_at >= $2")
        .bind(audit_store::PURGE_ACTION)
        .bind(purge_started.as_datetime())
        .fetch_one(pool)
        .await?;
    let partition_dropped = sqlx::query_scalar::<_, Option<String>>("SELECT to_regclass($1)::text")
        .bind(&partition)
        .fetch_one(pool)
        .await?
        .is_none();
    println!(
        "purge before {}: {:.2} s for {} rows of {} in {streams} streams ({:.1} ms per stream; partition \
         {partition} {}; {left} rows of it left)",
        cut.format("%Y-%m-%d"),
        took.as_secs_f64(),
        thousands(usize::try_from(rows)?),
        month.format("%Y-%m"),
        took.as_secs_f64() * 1e3 / streams.max(1) as f64,
        if partition_dropped { "dropped" } else { "kept" }
    );
    if left != 0 {
        return Err(format!("the purge left {left} events of {}", month.format("%Y-%m")).into());
    }

    // The baseline: the next month's rows deleted the way a row-by-row
    // purge deletes them (the triggers let a DELETE through only at or
    // below each stream's base, with the gate open), then rolled back.
    let mut conn = PgConnection::connect(url).await?;
    let mut tx = conn.begin().await?;
    sqlx::query("UPDATE audit_streams SET base_seq = head_seq, base_hash = head_hash")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL audit.purge = 'on'").execute(&mut *tx).await?;
    // The same month dropped whole, as the purge's last step does it
    // (the check that every row is at or below its base, then DROP TABLE),
    // undone to a savepoint so the DELETE finds the rows.
    let next_partition = format!("audit_events_y{:04}m{:02}", cut.year(), cut.month());
    sqlx::query("SAVEPOINT before_drop").execute(&mut *tx).await?;
    let t = Instant::now();
    let dropped: bool = sqlx::query_scalar("SELECT audit_events_retire_partition($1)")
        .bind(&next_partition)
        .fetch_one(&mut *tx)
        .await?;
    let drop_alone = t.elapsed();
    sqlx::query("ROLLBACK TO SAVEPOINT before_drop")
        .execute(&mut *tx)
        .await?;
    if !dropped {
        return Err(format!("{next_partition} was not dropped with every base at its head").into());
    }
    let t = Instant::now();
    let deleted = sqlx::query("DELETE FROM audit_events WHERE occurred_at >= $1 AND occurred_at < $2")
        .bind(cut)
        .bind(after_cut)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let baseline = t.elapsed();
    tx.rollback().await?;
    conn.close().await?;
    println!(
        "baseline: DELETE of {}'s {} rows: {:.2} s; dropping its partition instead: {:.1} ms (both rolled back)",
        cut.format("%Y-%m"),
        thousands(usize::try_from(deleted)?),
        baseline.as_secs_f64(),
        drop_alone.as_secs_f64() * 1e3
    );

    let t = Instant::now();
    let mut verified = Vec::new();
    for k in [0, 1, 100, TENANTS - 1] {
        let stream = format!("tenant:{}", common::tenant_name(k));
        let report = store.verify(&stream).await?;
        if !report.is_intact() {
            return Err(format!("{stream} is not intact after the purge: {report:?}").into());
        }
        verified.push((stream, report.checked));
    }
    let verify_took = t.elapsed();
    println!(
        "verify after the purge: {} intact in {:.1} s",
        verified
            .iter()
            .map(|(stream, checked)| format!(
                "{stream} ({} events)",
                thousands(usize::try_from(*checked).unwrap_or(0))
            ))
            .collect::<Vec<_>>()
            .join(", "),
        verify_took.as_secs_f64()
    );
    Ok(Purged {
        month,
        rows,
        streams,
        took,
        left,
        partition_dropped,
        baseline_month: cut,
        baseline_rows: deleted,
        baseline,
        drop_alone,
        verified,
        verify_took,
    })
}

fn summary(tiers: &[Tier], purged: &Purged, top: usize, runs: usize, writers: usize) {
    let factor = if top >= LARGE_TIER {
        P99_FACTOR_LARGE
    } else {
        P99_FACTOR
    };
    let (first, last) = (&tiers[0], &tiers[tiers.len() - 1]);
    let name = |tier: &Tier| thousands(tier.events);
    println!();
    println!(
        "summary: PostgreSQL, {TENANTS} tenants (Zipf {ZIPF_EXPONENT:.1}), {ACTIONS} actions, events in time order over \
         {SPAN_DAYS}+ days; busiest tenant {BIG_TENANT}; page size 50; {runs} runs per kind"
    );
    for tier in tiers {
        println!(
            "  tier {:>11}: loaded {:>11} events in {:>5.0} s: {:>6.0} events/s ({writers} writers); {BIG_TENANT} {} \
             events; database {:.0} MiB = {:.0} MiB per million events, {:.0} bytes/event (audit_events {:.0} \
             bytes/event, indexes {:.0} of them; {} partitions)",
            name(tier),
            thousands(tier.load.events),
            tier.load.took.as_secs_f64(),
            tier.load.rate(),
            thousands(tier.tenant_rows),
            tier.sizes.database as f64 / MIB,
            tier.sizes.database as f64 / MIB * 1e6 / tier.events as f64,
            tier.sizes.database as f64 / tier.events as f64,
            tier.sizes.events_table as f64 / tier.events as f64,
            tier.sizes.events_indexes as f64 / tier.events as f64,
            tier.sizes.partitions,
        );
    }
    println!(
        "  {:<40} {:>19}  {:>19}  p99 ratio",
        "p50 / p99 ms",
        format!("tier {}", name(first)),
        format!("tier {}", name(last))
    );
    for kind in KINDS {
        let find = |tier: &Tier| {
            tier.measured
                .iter()
                .find(|m| m.kind == kind)
                .map(|m| m.latencies.clone())
        };
        let (Some(small), Some(large)) = (find(first), find(last)) else {
            continue;
        };
        // The keyset (and offset) depth may differ between the tiers.
        let (small_label, large_label) = (kind.label(&first.set), kind.label(&last.set));
        let label = if small_label == large_label {
            large_label
        } else {
            format!("{small_label} / {}", large_label.rsplit(' ').next().unwrap_or(""))
        };
        let ratio = ms(large.p99()) / ms(small.p99());
        let verdict = if kind.index_backed() && tiers.len() > 1 {
            format!("target <= {factor} x: {}", met(ratio <= factor))
        } else {
            "(comparison)".to_owned()
        };
        println!(
            "  {label:<40} {:>8.2} / {:>8.2}  {:>8.2} / {:>8.2}  {ratio:>6.2} x  {verdict}",
            ms(small.p50()),
            ms(small.p99()),
            ms(large.p50()),
            ms(large.p99()),
        );
    }
    for tier in tiers {
        let e = &tier.export;
        println!(
            "  export, {BIG_TENANT}'s last 365 days, tier {:>11}: {:>9} rows in {:>6.1} s, {:>6.0} rows/s; peak RSS \
             +{:.1} MiB over {:.0} MiB{}",
            name(tier),
            thousands(usize::try_from(e.rows).unwrap_or(0)),
            e.took.as_secs_f64(),
            e.rows as f64 / e.took.as_secs_f64(),
            e.growth_mib().unwrap_or(f64::NAN),
            e.rss_before.unwrap_or(0) as f64 / 1024.0,
            if e.reset { "" } else { " (peak not reset: since start)" }
        );
    }
    // The issue's target: dropping a month against deleting the same
    // rows, both on the next month. The whole purge call adds each
    // stream's cut (its base, its audit.purged event): reported beside it.
    let ratio = purged.baseline.as_secs_f64() / purged.drop_alone.as_secs_f64();
    let whole = purged.baseline.as_secs_f64() / purged.took.as_secs_f64();
    let shown = |ratio: f64| {
        if ratio < 10.0 {
            format!("{ratio:.2}")
        } else {
            format!("{ratio:.0}")
        }
    };
    println!(
        "  drop of a month ({}, {} rows): {:.1} ms; DELETE of the same rows: {:.3} s; {} x; target >= {DROP_FACTOR} x: {}",
        purged.baseline_month.format("%Y-%m"),
        thousands(usize::try_from(purged.baseline_rows).unwrap_or(0)),
        purged.drop_alone.as_secs_f64() * 1e3,
        purged.baseline.as_secs_f64(),
        shown(ratio),
        met(ratio >= DROP_FACTOR)
    );
    println!(
        "  whole purge of the oldest month ({}, {} rows, {} streams, partition {}): {:.3} s ({:.2} ms per stream); \
         {} x the DELETE (comparison)",
        purged.month.format("%Y-%m"),
        thousands(usize::try_from(purged.rows).unwrap_or(0)),
        purged.streams,
        if purged.partition_dropped {
            "dropped"
        } else {
            "kept, rows deleted"
        },
        purged.took.as_secs_f64(),
        purged.took.as_secs_f64() * 1e3 / purged.streams.max(1) as f64,
        shown(whole),
    );
    println!(
        "  verify after the purge: {} streams intact ({} events, {:.1} s); rows of the purged month left: {}",
        purged.verified.len(),
        thousands(purged.verified.iter().map(|(_, n)| *n as usize).sum()),
        purged.verify_took.as_secs_f64(),
        purged.left
    );
    let per_event = last.sizes.database as f64 / last.events as f64;
    println!(
        "  disk: {per_event:.0} bytes/event at tier {}: 100,000,000 events need about {:.0} GB for the database",
        name(last),
        per_event * 1e8 / 1e9
    );
}
