//! Ingest benchmark: 200,000 realistic events through the store's own
//! `AuditSink::write_batch` on both backends, each against a raw baseline
//! inserting the *same rows* into the same schema on the same machine, in
//! the same run.
//!
//! - **SQLite store**: `SqliteStore::connect` on a fresh file (WAL,
//!   `synchronous=FULL`: the documented default), then `write_batch` of the
//!   events in batches of `STORE_BENCH_BATCH` (default 10,000, the batch
//!   size the crate docs recommend for the auditor writing to SQLite), one
//!   after the other, as the auditor's writer does. Each batch is one
//!   `BEGIN IMMEDIATE` transaction: duplicate check, seqs, leaf hashes, rows,
//!   stream heads.
//! - **SQLite baseline**: raw `rusqlite` on another fresh file whose schema
//!   the store's own migrations made (same indexes and triggers, the FTS5
//!   trigger included), WAL, `synchronous=FULL`, inserting the rows the
//!   store wrote in the first round (read back column by column), all in
//!   one transaction, twice: with one prepared single-row `INSERT`, and with
//!   a prepared 500-row `INSERT` (the store's own statement size). The
//!   faster of the two is the baseline: with the FTS5 trigger, each
//!   statement ends with a flush of the FTS index, so single-row statements
//!   are the slower by about 2 ×.
//! - **PostgreSQL store**: `PgStore::connect` on a fresh database, then
//!   `write_batch` as above.
//! - **PostgreSQL baseline**: `COPY audit_events (…) FROM STDIN` (text
//!   format) of the rows the store wrote in the first round, taken with
//!   `COPY … TO STDOUT`, into a fresh database that the store's migrations
//!   made, in one statement.
//!
//! The events happen one after the other over 90 days, as a live trail
//! receives them (ids and times rising together). With times drawn at
//! random instead, every batch would land all over each time-ordered
//! index, and SQLite, which writes each page a transaction touched to its
//! WAL, would rewrite most of those indexes on every commit.
//!
//! Both SQLite sides use the store's page cache and memory map sizes
//! (`PRAGMA cache_size` and `mmap_size`, read from the store's connection).
//!
//! The clock covers only the writes (connecting and migrating are outside
//! it). The events are built before the first round and reused: building
//! them is the auditor's cost, not the store's. Rounds alternate store and
//! baseline (`STORE_BENCH_ROUNDS`, default 3); the summary gives the median
//! of each and the median of the per-round ratios.
//!
//! ```text
//! cargo bench -p audit-store --all-features --bench ingest
//! ```
//!
//! `STORE_BENCH_INGEST=20000` for a quick check; `STORE_BENCH_SEARCH_INDEX=off`
//! measures both stores and their baselines with the free-text search index
//! off (`set_search_index(false)`). PostgreSQL: see
//! `common/pg.rs` (`AUDIT_BENCH_DATABASE_URL`, or a throwaway cluster).

mod common;

use std::time::{Duration, Instant};

use audit_core::Timestamp;
use audit_store::{PgStore, SqliteStore};
use common::raw_rows::{
    RAW_ROWS_PER_STATEMENT, check_pg_count, check_sqlite_count, copy_rows_in, copy_rows_out, make_pg_partitions,
    pg_schema, raw_sqlite_insert, read_sqlite_rows, search_index, sqlite_schema, write_all,
};
use common::{BoxError, CpuMeter, Generator, SqliteDir, env_usize, load_average, median, met};
use rusqlite::types::Value;
use sqlx::{Connection as _, PgConnection};

const SQLITE_TARGET: f64 = 0.6;
const PG_TARGET: f64 = 0.8;

fn main() -> Result<(), BoxError> {
    common::block_on(run())
}

#[derive(Debug, Default)]
struct Figures {
    sqlite_store: Vec<f64>,
    /// The faster of the two raw variants, per round.
    sqlite_raw: Vec<f64>,
    sqlite_raw_single: Vec<f64>,
    pg_store: Vec<f64>,
    pg_copy: Vec<f64>,
    busy: Vec<f64>,
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

async fn run() -> Result<(), BoxError> {
    let n = env_usize("STORE_BENCH_INGEST", 200_000);
    let batch = env_usize("STORE_BENCH_BATCH", 10_000).max(1);
    let rounds = env_usize("STORE_BENCH_ROUNDS", 3).max(1);
    println!(
        "audit-store ingest: {n} events, write_batch of {batch}, {rounds} rounds; free-text search index {}; load \
         average {}",
        if search_index() { "on" } else { "off" },
        load_average()
    );
    let started = Instant::now();
    let events = Generator::new(1, Timestamp::now()).in_order(n).events(n);
    println!("built {n} events in {:.1} s", started.elapsed().as_secs_f64());
    let server = common::pg::Server::start()?;
    println!("PostgreSQL: {}", server.describe());

    let mut figures = Figures::default();
    let mut sqlite_rows: Vec<Vec<Value>> = Vec::new();
    let mut copy_text: Vec<u8> = Vec::new();
    let mut sizes = (0.0, 0.0);
    let mut meter = CpuMeter::start();
    for round in 1..=rounds {
        meter.busy_percent();
        // SQLite, through the store.
        let dir = SqliteDir::new("ingest-store");
        let store = SqliteStore::connect(&dir.url()).await?;
        store.set_search_index(search_index()).await?;
        let elapsed = write_all(&store, &events, batch).await?;
        store.pool().close().await;
        figures.sqlite_store.push(rate(n, elapsed));
        if sqlite_rows.is_empty() {
            (sqlite_rows, sizes.0) = read_sqlite_rows(&dir)?;
        }
        check_sqlite_count(&dir, n)?;
        drop(dir);

        // SQLite, raw rusqlite, one transaction: single-row statements, and
        // 500-row statements; the faster is the baseline.
        let mut raw = [0.0; 2];
        for (slot, per_statement) in raw.iter_mut().zip([1, RAW_ROWS_PER_STATEMENT]) {
            let dir = SqliteDir::new("ingest-raw");
            // The store's own page cache and memory map sizes, so that the
            // baseline differs only in how it writes.
            let caches = sqlite_schema(&dir).await?;
            let elapsed = tokio::task::block_in_place(|| raw_sqlite_insert(&dir, &sqlite_rows, per_statement, caches))?;
            *slot = rate(sqlite_rows.len(), elapsed);
            check_sqlite_count(&dir, n)?;
        }
        figures.sqlite_raw_single.push(raw[0]);
        figures.sqlite_raw.push(raw[0].max(raw[1]));

        // PostgreSQL, through the store.
        let url = server.create_database("bench_ingest_store").await?;
        let store = PgStore::connect(&url).await?;
        store.set_search_index(search_index()).await?;
        let elapsed = write_all(&store, &events, batch).await?;
        store.pool().close().await;
        figures.pg_store.push(rate(n, elapsed));
        let mut conn = PgConnection::connect(&url).await?;
        if copy_text.is_empty() {
            copy_text = copy_rows_out(&mut conn).await?;
            sizes.1 = sqlx::query_scalar::<_, f64>("SELECT avg(pg_column_size(e.*))::float8 FROM audit_events e")
                .fetch_one(&mut conn)
                .await?;
        }
        check_pg_count(&mut conn, n).await?;
        conn.close().await?;
        server.drop_database("bench_ingest_store").await?;

        // PostgreSQL, COPY FROM STDIN of the same rows.
        let url = pg_schema(&server, "bench_ingest_copy").await?;
        let mut conn = PgConnection::connect(&url).await?;
        // The rows go into their months' partitions, made before the clock
        // starts (the store makes a missing one inside its append).
        make_pg_partitions(&mut conn, &events).await?;
        let (copied, elapsed) = copy_rows_in(&mut conn, &copy_text).await?;
        figures.pg_copy.push(rate(copied, elapsed));
        check_pg_count(&mut conn, n).await?;
        conn.close().await?;
        server.drop_database("bench_ingest_copy").await?;

        let busy = meter.busy_percent();
        figures.busy.push(busy);
        println!(
            "round {round}: SQLite store {:>7.0} rows/s, rusqlite {:>7.0} rows/s ({:.2} x; single-row statements \
             {:.0} rows/s) | PostgreSQL store {:>7.0} \
             rows/s, COPY {:>7.0} rows/s ({:.2} x) | CPU busy {busy:.0} % of 2, load {}",
            figures.sqlite_store[round - 1],
            figures.sqlite_raw[round - 1],
            figures.sqlite_store[round - 1] / figures.sqlite_raw[round - 1],
            figures.sqlite_raw_single[round - 1],
            figures.pg_store[round - 1],
            figures.pg_copy[round - 1],
            figures.pg_store[round - 1] / figures.pg_copy[round - 1],
            load_average()
        );
    }

    let ratio = |a: &[f64], b: &[f64]| median(a.iter().zip(b).map(|(a, b)| a / b).collect());
    let sqlite_ratio = ratio(&figures.sqlite_store, &figures.sqlite_raw);
    let pg_ratio = ratio(&figures.pg_store, &figures.pg_copy);
    println!();
    println!(
        "average row: SQLite {:.0} B (sum of the column values), PostgreSQL {:.0} B (pg_column_size, jsonb)",
        sizes.0, sizes.1
    );
    println!("summary (medians of {rounds} rounds, ratio = median of per-round ratios):");
    println!(
        "  SQLite     store write_batch({batch}) {:>7.0} rows/s | raw rusqlite, one transaction {:>7.0} rows/s (single-row \
         statements {:.0}) | \
         ratio {sqlite_ratio:.2} | target >= {SQLITE_TARGET} | {}",
        median(figures.sqlite_store.clone()),
        median(figures.sqlite_raw.clone()),
        median(figures.sqlite_raw_single.clone()),
        met(sqlite_ratio >= SQLITE_TARGET)
    );
    println!(
        "  PostgreSQL store write_batch({batch}) {:>7.0} rows/s | COPY FROM STDIN {:>7.0} rows/s | ratio \
         {pg_ratio:.2} | target >= {PG_TARGET} | {}",
        median(figures.pg_store.clone()),
        median(figures.pg_copy.clone()),
        met(pg_ratio >= PG_TARGET)
    );
    Ok(())
}
