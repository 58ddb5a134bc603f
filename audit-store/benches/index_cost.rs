//! Index cost benchmark: what each secondary index and the search trigger
//! of `audit_events` cost at ingest, on both backends, so that the project
//! can tell which are worth making optional (issue 20, point 4: the store's
//! ingest targets, and the cost of each index if the full search index
//! rules them out).
//!
//! 200,000 realistic events (`STORE_BENCH_INGEST`), one after the other
//! over 90 days as in the ingest bench, are written once through
//! `SqliteStore` and once through `PgStore`; the rows they stored are read
//! back and inserted raw, as the ingest bench's baselines insert them, into
//! a fresh database that the store's own migrations made, once per variant
//! of the schema:
//!
//! - **full schema**: as the store has it; the reference.
//! - **without INDEX**, for each secondary index of `audit_events` the
//!   catalog lists at run time (SQLite `PRAGMA index_list`, leaving out the
//!   `sqlite_autoindex_*` of the unique constraints; PostgreSQL
//!   `pg_indexes` on the parent table, leaving out the primary key's and
//!   unique constraints'): the full schema with that one index dropped.
//!   PostgreSQL's free-text search is one of them (`audit_events_search`,
//!   the pg_trgm GIN index).
//! - **without audit_events_search_insert** (SQLite): the trigger that
//!   feeds the FTS5 trigram table dropped, so nothing is indexed for
//!   free-text search.
//! - **no secondary index, no search**: only the primary key and the unique
//!   constraints.
//!
//! The guard triggers stay in every variant (the store never runs without
//! them); the bench lists them and marks those that fire on INSERT, whose
//! cost is in every figure.
//!
//! - **SQLite**: rusqlite, 500-row `INSERT`s (the store's own statement
//!   size) in one transaction, WAL, `synchronous=FULL` and the store's page
//!   cache and memory map sizes (read from its connection).
//! - **PostgreSQL**: one `COPY audit_events (…) FROM STDIN` of the rows the
//!   store wrote, taken with `COPY … TO STDOUT`, with the server's
//!   durability defaults (see `common/pg.rs`).
//!
//! What a variant drops is dropped before the clock starts, and on
//! PostgreSQL the rows' partitions are made then too (the store makes them
//! ahead). Each round (`STORE_BENCH_ROUNDS`, default 3) runs every variant
//! of both backends, starting one variant further on each round, so that no
//! variant always follows the same one (on PostgreSQL the previous
//! variant's WAL brings checkpoints closer).
//!
//! Per variant: the median rows/s; `x full`, the median of the per-round
//! ratios of its rate to the full schema's; `cost`, the share of the full
//! schema's time per row that dropping what the variant drops saves,
//! (t_full − t_variant) / t_full per round, median; `size`, the database
//! after the insert (SQLite: every page of the file; PostgreSQL: the
//! partitions of `audit_events` with their indexes and TOAST).
//!
//! The summary line per backend holds the full schema's raw rate against
//! the issue's targets for the store (SQLite 50,000 events/s, PostgreSQL
//! 40,000): a raw insert is the most the store can do on that schema (the
//! ingest bench measures the store itself), so MISSED means the schema
//! alone rules the target out, and the bare variant's rate shows how far
//! dropping indexes could take it.
//!
//! ```text
//! cargo bench -p audit-store --all-features --bench index_cost
//! ```
//!
//! `STORE_BENCH_INGEST=20000 STORE_BENCH_ROUNDS=1` for a quick check.
//! PostgreSQL: see `common/pg.rs` (`AUDIT_BENCH_DATABASE_URL`, or a
//! throwaway cluster).

mod common;

use std::time::{Duration, Instant};

use audit_core::Timestamp;
use audit_store::{PgStore, SqliteStore};
use common::kinds::thousands;
use common::raw_rows::{
    RAW_ROWS_PER_STATEMENT, check_pg_count, check_sqlite_count, copy_rows_in, copy_rows_out, make_pg_partitions,
    pg_schema, raw_sqlite_insert, read_sqlite_rows, sqlite_schema, write_all,
};
use common::{BoxError, CpuMeter, Generator, SqliteDir, env_usize, load_average, median, met};
use rusqlite::types::Value;
use sqlx::{Connection as _, PgConnection};

const SQLITE_TARGET: f64 = 50_000.0;
const PG_TARGET: f64 = 40_000.0;
/// Only makes the rows (not timed): the batch the crate docs recommend.
const STORE_BATCH: usize = 10_000;
const SEARCH_TRIGGER: &str = "audit_events_search_insert";
const PG_DATABASE: &str = "bench_index_cost";

fn main() -> Result<(), BoxError> {
    common::block_on(run())
}

/// What the catalog of a fresh schema says about `audit_events`.
#[derive(Debug)]
struct Catalog {
    /// Secondary indexes: name and definition.
    indexes: Vec<(String, String)>,
    /// Triggers kept in every variant: name, and whether it fires on INSERT.
    guards: Vec<(String, bool)>,
    /// SQLite: the FTS5 insert trigger is there.
    search_trigger: bool,
}

#[derive(Debug)]
struct Variant {
    name: String,
    /// Run on the fresh schema before the clock starts.
    drops: Vec<String>,
    /// Seconds for all the rows, per round.
    seconds: Vec<f64>,
    bytes: Vec<f64>,
}

impl Variant {
    fn new(name: impl Into<String>, drops: Vec<String>) -> Self {
        Self {
            name: name.into(),
            drops,
            seconds: Vec::new(),
            bytes: Vec::new(),
        }
    }

    fn record(&mut self, elapsed: Duration, bytes: f64) {
        self.seconds.push(elapsed.as_secs_f64());
        self.bytes.push(bytes);
    }
}

/// The full schema first: the others are compared with it.
fn variants(catalog: &Catalog) -> Vec<Variant> {
    let drop_index = |name: &str| format!("DROP INDEX \"{name}\"");
    let mut variants = vec![Variant::new("full schema", Vec::new())];
    let mut bare = Vec::new();
    for (name, _) in &catalog.indexes {
        variants.push(Variant::new(format!("without {name}"), vec![drop_index(name)]));
        bare.push(drop_index(name));
    }
    if catalog.search_trigger {
        let drop_trigger = format!("DROP TRIGGER \"{SEARCH_TRIGGER}\"");
        variants.push(Variant::new(
            format!("without {SEARCH_TRIGGER}"),
            vec![drop_trigger.clone()],
        ));
        bare.push(drop_trigger);
    }
    variants.push(Variant::new("no secondary index, no search", bare));
    variants
}

async fn run() -> Result<(), BoxError> {
    let n = env_usize("STORE_BENCH_INGEST", 200_000);
    let rounds = env_usize("STORE_BENCH_ROUNDS", 3).max(1);
    println!(
        "audit-store index_cost: {n} events, {rounds} rounds; load average {}",
        load_average()
    );
    let started = Instant::now();
    let events = Generator::new(1, Timestamp::now()).in_order(n).events(n);
    println!("built {n} events in {:.1} s", started.elapsed().as_secs_f64());
    let server = common::pg::Server::start()?;
    println!("PostgreSQL: {}", server.describe());

    // The rows as each store writes them (seqs, leaf hashes, search text).
    let dir = SqliteDir::new("index-cost-store");
    let store = SqliteStore::connect(&dir.url()).await?;
    let elapsed = write_all(&store, &events, STORE_BATCH).await?;
    store.pool().close().await;
    check_sqlite_count(&dir, n)?;
    let (sqlite_rows, row_bytes) = read_sqlite_rows(&dir)?;
    drop(dir);
    println!(
        "SQLite store wrote the rows at {} rows/s (write_batch({STORE_BATCH}), one pass, not compared); {row_bytes:.0} \
         B a row",
        thousands(rate(n, elapsed) as usize)
    );
    let url = server.create_database(PG_DATABASE).await?;
    let store = PgStore::connect(&url).await?;
    let elapsed = write_all(&store, &events, STORE_BATCH).await?;
    store.pool().close().await;
    let mut conn = PgConnection::connect(&url).await?;
    check_pg_count(&mut conn, n).await?;
    let copy_text = copy_rows_out(&mut conn).await?;
    conn.close().await?;
    server.drop_database(PG_DATABASE).await?;
    println!(
        "PostgreSQL store wrote the rows at {} rows/s (write_batch({STORE_BATCH}), one pass, not compared)",
        thousands(rate(n, elapsed) as usize)
    );

    let dir = SqliteDir::new("index-cost-catalog");
    sqlite_schema(&dir).await?;
    let sqlite_catalog = sqlite_catalog(&dir)?;
    drop(dir);
    let url = pg_schema(&server, PG_DATABASE).await?;
    let mut conn = PgConnection::connect(&url).await?;
    let pg_catalog = pg_catalog(&mut conn).await?;
    conn.close().await?;
    server.drop_database(PG_DATABASE).await?;
    describe("SQLite", &sqlite_catalog);
    describe("PostgreSQL", &pg_catalog);

    let mut sqlite = variants(&sqlite_catalog);
    let mut pg = variants(&pg_catalog);
    let mut checkpoints = Checkpoints::default();
    let mut busy = Vec::new();
    let mut meter = CpuMeter::start();
    for round in 1..=rounds {
        meter.busy_percent();
        for k in rotated(sqlite.len(), round) {
            let variant = &mut sqlite[k];
            let (elapsed, bytes) = sqlite_variant(&variant.drops, &sqlite_rows).await?;
            variant.record(elapsed, bytes);
            progress(round, "SQLite", &variant.name, rate(n, elapsed));
        }
        for k in rotated(pg.len(), round) {
            let variant = &mut pg[k];
            let (elapsed, bytes) = pg_variant(&server, &variant.drops, &events, &copy_text, &mut checkpoints).await?;
            variant.record(elapsed, bytes);
            progress(round, "PostgreSQL", &variant.name, rate(n, elapsed));
        }
        let round_busy = meter.busy_percent();
        busy.push(round_busy);
        println!(
            "round {round}: CPU busy {round_busy:.0} % of 2, load {}",
            load_average()
        );
    }

    println!();
    table(
        &format!(
            "SQLite: {} rows, {RAW_ROWS_PER_STATEMENT}-row INSERTs in one transaction (WAL, synchronous=FULL)",
            thousands(n)
        ),
        &sqlite,
        n,
        rounds,
    );
    let pg_copy = if checkpoints.refused.is_some() {
        "one COPY FROM STDIN"
    } else {
        "one COPY FROM STDIN, after a CHECKPOINT"
    };
    table(&format!("PostgreSQL: {} rows, {pg_copy}", thousands(n)), &pg, n, rounds);
    if let Some(error) = &checkpoints.refused {
        println!("(no CHECKPOINT before the COPYs: {error})");
        println!();
    }
    summary("SQLite", &sqlite, n, SQLITE_TARGET);
    summary("PostgreSQL", &pg, n, PG_TARGET);
    println!(
        "machine: load average {}, CPU busy {:.0} % of 2 (median of the rounds)",
        load_average(),
        median(busy)
    );
    Ok(())
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// The variants' indexes, `round` − 1 places on.
fn rotated(len: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..len).map(move |i| (i + round - 1) % len)
}

fn progress(round: usize, backend: &str, variant: &str, rows_per_second: f64) {
    println!(
        "round {round} {backend:<10} {variant:<44} {:>9} rows/s",
        thousands(rows_per_second as usize)
    );
}

fn describe(backend: &str, catalog: &Catalog) {
    println!("{backend} secondary indexes of audit_events:");
    for (name, definition) in &catalog.indexes {
        println!("  {name} {definition}");
    }
    if catalog.search_trigger {
        println!("{backend} free-text search trigger: {SEARCH_TRIGGER} (FTS5 trigram)");
    }
    let guards: Vec<String> = catalog
        .guards
        .iter()
        .map(|(name, on_insert)| {
            if *on_insert {
                format!("{name} (fires on INSERT)")
            } else {
                name.clone()
            }
        })
        .collect();
    println!("{backend} triggers kept in every variant: {}", guards.join(", "));
}

/// The full schema's per-round seconds against `variant`'s.
fn per_round(full: &Variant, variant: &Variant) -> impl Iterator<Item = (f64, f64)> {
    full.seconds.iter().copied().zip(variant.seconds.iter().copied())
}

fn table(title: &str, variants: &[Variant], n: usize, rounds: usize) {
    println!("{title}; medians of {rounds} rounds");
    println!(
        "  {:<44} {:>9} {:>7} {:>8} {:>10}",
        "variant", "rows/s", "x full", "cost", "size"
    );
    let full = &variants[0];
    for variant in variants {
        let rows_per_second = median(variant.seconds.iter().map(|s| n as f64 / s).collect());
        let ratio = median(per_round(full, variant).map(|(f, v)| f / v).collect());
        let cost = if std::ptr::eq(variant, full) {
            "-".to_owned()
        } else {
            format!(
                "{:.1} %",
                100.0 * median(per_round(full, variant).map(|(f, v)| (f - v) / f).collect())
            )
        };
        println!(
            "  {:<44} {:>9} {:>7.2} {:>8} {:>7.1} MB",
            variant.name,
            thousands(rows_per_second as usize),
            ratio,
            cost,
            median(variant.bytes.clone()) / 1e6
        );
    }
    println!();
}

fn summary(backend: &str, variants: &[Variant], n: usize, target: f64) {
    let (Some(full), Some(bare)) = (variants.first(), variants.last()) else {
        return;
    };
    let full_rate = median(full.seconds.iter().map(|s| n as f64 / s).collect());
    let bare_rate = median(bare.seconds.iter().map(|s| n as f64 / s).collect());
    let ratio = median(per_round(full, bare).map(|(f, v)| f / v).collect());
    println!(
        "{backend}: full schema {} rows/s; without any secondary index or search: {} rows/s ({ratio:.2} x); target \
         >= {} rows/s for the store: {}",
        thousands(full_rate as usize),
        thousands(bare_rate as usize),
        thousands(target as usize),
        met(full_rate >= target)
    );
}

fn sqlite_catalog(dir: &SqliteDir) -> Result<Catalog, BoxError> {
    let conn = rusqlite::Connection::open(dir.file())?;
    let mut names = Vec::new();
    let mut list = conn.prepare("PRAGMA index_list('audit_events')")?;
    let mut rows = list.query([])?;
    while let Some(row) = rows.next()? {
        let name: String = row.get("name")?;
        // The indexes SQLite makes for the unique constraints: not optional.
        if !name.starts_with("sqlite_autoindex_") {
            names.push(name);
        }
    }
    names.sort();
    let mut indexes = Vec::new();
    for name in names {
        let sql: String = conn.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
            [&name],
            |row| row.get(0),
        )?;
        let definition = sql.split_once(" ON audit_events ").map_or(sql.as_str(), |(_, on)| on);
        indexes.push((name.clone(), definition.to_owned()));
    }
    let mut guards = Vec::new();
    let mut search_trigger = false;
    let mut triggers = conn.prepare(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events' ORDER BY name",
    )?;
    let mut rows = triggers.query([])?;
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let sql: String = row.get(1)?;
        if name == SEARCH_TRIGGER {
            search_trigger = true;
        } else {
            guards.push((name, sql.to_uppercase().contains(" INSERT ON ")));
        }
    }
    Ok(Catalog {
        indexes,
        guards,
        search_trigger,
    })
}

async fn pg_catalog(conn: &mut PgConnection) -> Result<Catalog, BoxError> {
    // A partitioned index on the parent stands for its partitions' ones
    // (and DROP INDEX of it drops them).
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexname::text, i.indexdef FROM pg_indexes AS i \
         WHERE i.schemaname = current_schema() AND i.tablename = 'audit_events' \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c \
                           WHERE c.conrelid = 'audit_events'::regclass AND c.contype IN ('p', 'u', 'x') \
                             AND c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass) \
         ORDER BY i.indexname",
    )
    .fetch_all(&mut *conn)
    .await?;
    let indexes = indexes
        .into_iter()
        .map(|(name, definition)| {
            let using = definition
                .split_once(" USING ")
                .map_or(definition.as_str(), |(_, using)| using)
                .to_owned();
            (name, using)
        })
        .collect();
    let guards: Vec<(String, bool)> = sqlx::query_as(
        "SELECT tgname::text, (tgtype::int & 4) <> 0 FROM pg_trigger \
         WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal ORDER BY tgname",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Catalog {
        indexes,
        guards,
        search_trigger: false,
    })
}

/// One SQLite variant on a fresh file: the insert's time, and the size of
/// the database after it.
async fn sqlite_variant(drops: &[String], rows: &[Vec<Value>]) -> Result<(Duration, f64), BoxError> {
    let dir = SqliteDir::new("index-cost");
    let caches = sqlite_schema(&dir).await?;
    rusqlite::Connection::open(dir.file())?.execute_batch(&drops.join(";\n"))?;
    let elapsed = tokio::task::block_in_place(|| raw_sqlite_insert(&dir, rows, RAW_ROWS_PER_STATEMENT, caches))?;
    check_sqlite_count(&dir, rows.len())?;
    let conn = rusqlite::Connection::open(dir.file())?;
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0))?;
    Ok((elapsed, (pages * page_size) as f64))
}

/// Whether the server lets the bench checkpoint (an external server's role
/// may not be allowed to).
#[derive(Debug, Default)]
struct Checkpoints {
    refused: Option<String>,
}

/// One PostgreSQL variant in a fresh database: the COPY's time, and the
/// size of `audit_events` after it.
async fn pg_variant(
    server: &common::pg::Server,
    drops: &[String],
    events: &[audit_core::Event],
    copy_text: &[u8],
    checkpoints: &mut Checkpoints,
) -> Result<(Duration, f64), BoxError> {
    let url = pg_schema(server, PG_DATABASE).await?;
    let mut conn = PgConnection::connect(&url).await?;
    for sql in drops {
        sqlx::raw_sql(sql).execute(&mut conn).await?;
    }
    make_pg_partitions(&mut conn, events).await?;
    // The WAL of the previous variants (and of this schema) counts toward
    // the next checkpoint: without this, where a checkpoint lands would
    // depend on which variant ran before.
    if checkpoints.refused.is_none()
        && let Err(error) = sqlx::raw_sql("CHECKPOINT").execute(&mut conn).await
    {
        checkpoints.refused = Some(error.to_string());
    }
    let (copied, elapsed) = copy_rows_in(&mut conn, copy_text).await?;
    if copied != events.len() {
        return Err(format!("COPY took {copied} rows, expected {}", events.len()).into());
    }
    check_pg_count(&mut conn, copied).await?;
    let bytes: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint \
         FROM pg_partition_tree('audit_events') WHERE isleaf",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    server.drop_database(PG_DATABASE).await?;
    Ok((elapsed, bytes as f64))
}
