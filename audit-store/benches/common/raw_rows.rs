//! The rows a store wrote, read back and inserted raw into another database
//! of the same schema: the ingest bench's baselines and the index cost
//! bench's variants insert exactly what the store would have.

use std::time::{Duration, Instant};

use audit_core::{AuditSink, Event};
use futures_util::StreamExt as _;
use rusqlite::types::Value;
use sqlx::PgConnection;

use super::{BoxError, SqliteDir, pg};

/// The columns of `audit_events` the store writes, in its order.
pub(crate) const COLUMNS: &str = "id, stream, seq, leaf_hash, occurred_at, recorded_at, tenant_id, action, category, \
    severity, outcome, reason, actor_kind, actor_id, actor_email, actor_name, target_type, target_id, target_name, \
    description, client_ip, request_id, truncated, lossy_utf8, actor, target, targets, context, changes, metadata, \
    search_text";
pub(crate) const COLUMN_COUNT: usize = 31;

/// Rows per raw SQLite `INSERT`: the store's own statement size.
pub(crate) const RAW_ROWS_PER_STATEMENT: usize = 500;

/// `events` through the store's `write_batch`, `batch` at a time, one
/// after the other as the auditor's writer does: how the rows this module
/// reads back are made (and the ingest bench's store figure).
pub(crate) async fn write_all<S: AuditSink>(store: &S, events: &[Event], batch: usize) -> Result<Duration, BoxError> {
    let t = Instant::now();
    for chunk in events.chunks(batch) {
        store.write_batch(chunk).await?;
    }
    Ok(t.elapsed())
}

/// `STORE_BENCH_SEARCH_INDEX=off`: the stores and schemas these benches
/// make have the free-text search index off (`set_search_index(false)`).
pub(crate) fn search_index() -> bool {
    std::env::var("STORE_BENCH_SEARCH_INDEX").map_or(true, |value| value.trim() != "off")
}

/// Makes the store's schema in `dir`'s fresh file with the store's own
/// migrations, and returns the store's page cache and memory map sizes
/// (`PRAGMA cache_size` and `mmap_size`, read from its connection) for a
/// raw writer to use the same.
#[cfg(feature = "sqlite")]
pub(crate) async fn sqlite_schema(dir: &SqliteDir) -> Result<(i64, i64), BoxError> {
    let schema = audit_store::SqliteStore::connect(&dir.url()).await?;
    schema.set_search_index(search_index()).await?;
    let cache_size: i64 = sqlx::query_scalar("PRAGMA cache_size").fetch_one(schema.pool()).await?;
    let mmap_size: i64 = sqlx::query_scalar("PRAGMA mmap_size").fetch_one(schema.pool()).await?;
    schema.pool().close().await;
    Ok((cache_size, mmap_size))
}

/// A fresh database `name` whose schema the store's own migrations made;
/// returns its URL.
pub(crate) async fn pg_schema(server: &pg::Server, name: &str) -> Result<String, BoxError> {
    let url = server.create_database(name).await?;
    let schema = audit_store::PgStore::connect(&url).await?;
    schema.set_search_index(search_index()).await?;
    schema.pool().close().await;
    Ok(url)
}

/// The rows as stored, and their average size (sum of the values' lengths).
pub(crate) fn read_sqlite_rows(dir: &SqliteDir) -> Result<(Vec<Vec<Value>>, f64), BoxError> {
    let conn = rusqlite::Connection::open(dir.file())?;
    let mut select = conn.prepare(&format!("SELECT {COLUMNS} FROM audit_events ORDER BY pk"))?;
    let mut rows = Vec::new();
    let mut bytes = [0usize; COLUMN_COUNT];
    let mut query = select.query([])?;
    while let Some(row) = query.next()? {
        let values = (0..COLUMN_COUNT)
            .map(|i| row.get::<_, Value>(i))
            .collect::<Result<Vec<_>, _>>()?;
        for (total, value) in bytes.iter_mut().zip(&values) {
            *total += match value {
                Value::Text(t) => t.len(),
                Value::Blob(b) => b.len(),
                Value::Integer(_) | Value::Real(_) => 8,
                Value::Null => 0,
            };
        }
        rows.push(values);
    }
    let count = rows.len().max(1) as f64;
    let per_row = |total: usize| total as f64 / count;
    let columns: Vec<String> = COLUMNS
        .split(',')
        .zip(bytes)
        .filter(|&(_, total)| per_row(total) >= 20.0)
        .map(|(name, total)| format!("{} {:.0}", name.trim(), per_row(total)))
        .collect();
    println!(
        "SQLite row bytes by column (those of 20 B or more): {}",
        columns.join(", ")
    );
    Ok((rows, per_row(bytes.iter().sum())))
}

/// Raw rusqlite: every row in one transaction, `per_statement` rows per
/// prepared `INSERT` (1: the classic single-row statement), with the
/// store's durability (WAL, `synchronous=FULL`) and its page cache and
/// memory map sizes, so that only how the rows are written differs.
pub(crate) fn raw_sqlite_insert(
    dir: &SqliteDir,
    rows: &[Vec<Value>],
    per_statement: usize,
    (cache_size, mmap_size): (i64, i64),
) -> Result<Duration, BoxError> {
    let mut conn = rusqlite::Connection::open(dir.file())?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    assert_eq!(mode, "wal");
    conn.execute_batch(&format!(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = {cache_size};"
    ))?;
    let mapped: i64 = conn.query_row(&format!("PRAGMA mmap_size = {mmap_size}"), [], |row| row.get(0))?;
    assert_eq!(mapped, mmap_size);
    let one_row = format!("({})", vec!["?"; COLUMN_COUNT].join(", "));
    let sql = |k: usize| {
        format!(
            "INSERT INTO audit_events ({COLUMNS}) VALUES {}",
            vec![one_row.as_str(); k].join(", ")
        )
    };
    let t = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(&sql(per_statement))?;
        let mut chunks = rows.chunks_exact(per_statement);
        for chunk in &mut chunks {
            insert.execute(rusqlite::params_from_iter(chunk.iter().flatten()))?;
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            tx.prepare(&sql(rest.len()))?
                .execute(rusqlite::params_from_iter(rest.iter().flatten()))?;
        }
    }
    tx.commit()?;
    Ok(t.elapsed())
}

pub(crate) fn check_sqlite_count(dir: &SqliteDir, n: usize) -> Result<(), BoxError> {
    let conn = rusqlite::Connection::open(dir.file())?;
    let count: i64 = conn.query_row("SELECT count(*) FROM audit_events", [], |row| row.get(0))?;
    if usize::try_from(count)? != n {
        return Err(format!("SQLite holds {count} events, expected {n}").into());
    }
    Ok(())
}

/// The stored rows in COPY's text format (`COPY … TO STDOUT`).
pub(crate) async fn copy_rows_out(conn: &mut PgConnection) -> Result<Vec<u8>, BoxError> {
    let mut text = Vec::new();
    let mut out = conn
        .copy_out_raw(&format!("COPY (SELECT {COLUMNS} FROM audit_events) TO STDOUT"))
        .await?;
    while let Some(chunk) = out.next().await {
        text.extend_from_slice(&chunk?);
    }
    Ok(text)
}

/// Makes the partitions of `events`' days, so that a raw COPY of their rows
/// finds them (the store makes a missing one inside its append) and the
/// clock does not count making them.
pub(crate) async fn make_pg_partitions(conn: &mut PgConnection, events: &[Event]) -> Result<(), BoxError> {
    let first = events.iter().map(Event::occurred_at).min().map(|at| at.as_datetime());
    let last = events.iter().map(Event::occurred_at).max().map(|at| at.as_datetime());
    sqlx::query(
        "SELECT audit_events_partition_for(day) FROM (SELECT generate_series($1::timestamptz, \
         $2::timestamptz, interval '1 day') UNION SELECT $2::timestamptz) AS days(day)",
    )
    .bind(first)
    .bind(last)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `COPY audit_events (…) FROM STDIN` of `text` (from [`copy_rows_out`]) in
/// one statement: the rows copied and the time it took.
pub(crate) async fn copy_rows_in(conn: &mut PgConnection, text: &[u8]) -> Result<(usize, Duration), BoxError> {
    let t = Instant::now();
    let mut copy = conn
        .copy_in_raw(&format!("COPY audit_events ({COLUMNS}) FROM STDIN"))
        .await?;
    for chunk in copy_chunks(text, 1 << 20) {
        copy.send(chunk).await?;
    }
    let copied = copy.finish().await?;
    let elapsed = t.elapsed();
    Ok((usize::try_from(copied)?, elapsed))
}

pub(crate) async fn check_pg_count(conn: &mut PgConnection, n: usize) -> Result<(), BoxError> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&mut *conn)
        .await?;
    if usize::try_from(count)? != n {
        return Err(format!("PostgreSQL holds {count} events, expected {n}").into());
    }
    Ok(())
}

/// `text` in pieces of about `size` bytes (COPY data may be split anywhere).
pub(crate) fn copy_chunks(text: &[u8], size: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
    text.chunks(size).map(<[u8]>::to_vec)
}
