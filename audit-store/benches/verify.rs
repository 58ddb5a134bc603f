//! Verify benchmark: `store.verify_against(stream, heads)` in events/s on both backends,
//! against raw SHA-256 over the same events' canonical bytes, in the same
//! run.
//!
//! One stream (`tenant:tenant-00`) of `STORE_BENCH_VERIFY` realistic events
//! (default 200,000), written with `record_in` in transactions of 5,000 so
//! the events come back as stored (with `recorded_at` and integrity). Their
//! canonical bytes are then computed once and kept in memory.
//!
//! - **verify**: `verify_against("tenant:tenant-00", heads)`, what `audit
//!   verify --checkpoints` runs once it has checked the checkpoints'
//!   signatures: reads the stream in seq order in pages of 1,000, rebuilds
//!   each event from its row, recomputes its canonical bytes and leaf hash,
//!   checks seq continuity and that every query column agrees with the
//!   event, rebuilds the Merkle tree and checks it against the stored
//!   subtrees and against two checkpointed tree heads (at half the stream
//!   and at its head).
//! - **baseline**: `SHA-256(0x00 ‖ canonical bytes)` of every event, from
//!   the bytes already in memory: the hashing verify cannot avoid.
//! - for reference, **hash from events**: `audit_store::leaf_hash` of every
//!   in-memory event (canonical bytes + SHA-256 + hex), i.e. verify's
//!   per-event work without the database and without decoding rows.
//! - for reference, **read the rows**: the stream's rows in seq order in
//!   pages of 1,000 (`SELECT *`, keyset on seq, one read transaction), as
//!   the driver hands them over, nothing decoded: the floor of any verify
//!   that reads the database, on each backend.
//!
//! Three rounds alternate them; the summary gives medians.
//!
//! ```text
//! cargo bench -p audit-store --all-features --bench verify
//! ```

mod common;

use std::hint::black_box;
use std::time::Instant;

use audit_core::{Event, Timestamp};
use audit_store::{PgStore, SqliteStore};
use common::{BIG_TENANT, BoxError, Generator, SqliteDir, env_usize, load_average, median, met};
use sha2::{Digest, Sha256};
use sqlx::Connection as _;

/// Issue 17: offline verification at half the rate of raw SHA-256 over the
/// same bytes, at least.
const TARGET: f64 = 0.5;

fn main() -> Result<(), BoxError> {
    common::block_on(run())
}

async fn run() -> Result<(), BoxError> {
    let n = env_usize("STORE_BENCH_VERIFY", 200_000);
    let rounds = env_usize("STORE_BENCH_ROUNDS", 3).max(1);
    let stream = format!("tenant:{BIG_TENANT}");
    println!(
        "audit-store verify: one stream of {n} events, {rounds} rounds; load average {}",
        load_average()
    );
    let events = Generator::new(3, Timestamp::now()).only_tenant(0).events(n);
    let server = common::pg::Server::start()?;
    println!("PostgreSQL: {}", server.describe());

    let dir = SqliteDir::new("verify");
    let sqlite = SqliteStore::connect(&dir.url()).await?;
    let mut stored = Vec::with_capacity(n);
    for chunk in events.chunks(5_000) {
        let mut conn = sqlite.pool().acquire().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        stored.extend(sqlite.record_in(&mut tx, chunk).await?);
        tx.commit().await?;
    }
    let pg_url = server.create_database("bench_verify").await?;
    let pg = PgStore::connect(&pg_url).await?;
    for chunk in events.chunks(5_000) {
        let mut tx = pg.pool().begin().await?;
        pg.record_in(&mut tx, chunk).await?;
        tx.commit().await?;
    }
    drop(events);
    // The tree heads two signed checkpoints would hold (their signatures are
    // checked before verify runs, once per checkpoint, not per event).
    let (mut sqlite_heads, mut pg_heads) = (Vec::new(), Vec::new());
    for size in [n as u64 / 2, n as u64] {
        sqlite_heads.push(sqlite.tree_head(&stream, Some(size)).await?);
        pg_heads.push(pg.tree_head(&stream, Some(size)).await?);
    }
    // The canonical bytes as SQLite stored them (PostgreSQL's differ only in
    // `recorded_at`, which is the same size).
    let canonical: Vec<Vec<u8>> = stored.iter().map(Event::canonical_bytes).collect();
    let average = canonical.iter().map(Vec::len).sum::<usize>() as f64 / n as f64;
    println!("canonical bytes: {average:.0} B per event on average");

    let (mut raw, mut from_events, mut sqlite_rate, mut pg_rate) = (vec![], vec![], vec![], vec![]);
    let (mut sqlite_rows, mut pg_rows) = (vec![], vec![]);
    for round in 1..=rounds {
        let t = Instant::now();
        for bytes in &canonical {
            black_box(Sha256::new().chain_update([0x00]).chain_update(bytes).finalize());
        }
        raw.push(n as f64 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        for event in &stored {
            black_box(audit_store::leaf_hash(event));
        }
        from_events.push(n as f64 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        assert_eq!(read_rows(sqlite.pool(), &stream).await?, n);
        sqlite_rows.push(n as f64 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        assert_eq!(read_rows(pg.pool(), &stream).await?, n);
        pg_rows.push(n as f64 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        let report = sqlite.verify_against(&stream, &sqlite_heads).await?;
        sqlite_rate.push(n as f64 / t.elapsed().as_secs_f64());
        assert!(report.is_intact() && report.checked == n as u64, "{report:?}");
        assert_eq!(report.checkpoints_met, 2, "{report:?}");

        let t = Instant::now();
        let report = pg.verify_against(&stream, &pg_heads).await?;
        pg_rate.push(n as f64 / t.elapsed().as_secs_f64());
        assert!(report.is_intact() && report.checked == n as u64, "{report:?}");
        assert_eq!(report.checkpoints_met, 2, "{report:?}");
        println!(
            "round {round}: raw SHA-256 {:.0}/s, leaf_hash from events {:.0}/s, rows read {:.0}/s and {:.0}/s, SQLite \
             verify {:.0}/s, PostgreSQL verify {:.0}/s; load {}",
            raw[round - 1],
            from_events[round - 1],
            sqlite_rows[round - 1],
            pg_rows[round - 1],
            sqlite_rate[round - 1],
            pg_rate[round - 1],
            load_average()
        );
    }
    let raw_median = median(raw);
    println!();
    println!("summary (medians of {rounds} rounds), events/s over one stream of {n}:");
    println!("  raw SHA-256 over the canonical bytes (baseline) {raw_median:>10.0}/s");
    let from_events = median(from_events);
    println!(
        "  leaf_hash of in-memory events                   {from_events:>10.0}/s  ({:.3} x baseline)",
        from_events / raw_median
    );
    for (name, rates) in [
        ("SQLite: read the rows", sqlite_rows),
        ("PostgreSQL: read the rows", pg_rows),
    ] {
        let rate = median(rates);
        println!("  {name:<48}{rate:>10.0}/s  ({:.3} x baseline)", rate / raw_median);
    }
    for (name, rates) in [("SQLite verify", sqlite_rate), ("PostgreSQL verify", pg_rate)] {
        let rate = median(rates);
        let ratio = rate / raw_median;
        println!(
            "  {name:<48}{rate:>10.0}/s  ({ratio:.3} x baseline) | target >= {TARGET} x | {}",
            met(ratio >= TARGET)
        );
    }
    sqlite.pool().close().await;
    pg.pool().close().await;
    server.drop_database("bench_verify").await?;
    drop(dir);
    Ok(())
}

/// Reads `stream`'s rows the way verify pages through them, decoding
/// nothing; returns how many there were.
async fn read_rows<DB>(pool: &sqlx::Pool<DB>, stream: &str) -> Result<usize, BoxError>
where
    DB: sqlx::Database,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'s> &'s str: sqlx::ColumnIndex<DB::Row>,
{
    use sqlx::Row as _;
    let mut conn = pool.acquire().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let (mut after, mut count) = (0_i64, 0);
    loop {
        let rows =
            sqlx::query::<DB>("SELECT * FROM audit_events WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT 1000")
                .bind(stream.to_owned())
                .bind(after)
                .fetch_all(&mut *tx)
                .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get::<i64, _>("seq")?;
        count += rows.len();
        black_box(rows);
    }
    tx.commit().await?;
    Ok(count)
}
