//! [`SqliteStore`]: the embedded default.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use audit_core::{AuditSink, Event, SinkError, Timestamp};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqlitePool};
use uuid::Uuid;

use crate::error::{StoreError, redact_url};
use crate::integrity::{Verifier, VerifyReport, seal};
use crate::migrations;
use crate::query::sql::{self, Dialect};
use crate::query::{ActionCount, AuditQuery, CURSOR_KEY_NAME, CursorKey, Page, Plan, text};
use crate::retention::{Purge, PurgeReport};
use crate::row::{COLUMN_COUNT, COLUMNS, EventRow};

/// How hard SQLite works to keep a committed event through a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL` (default): a committed batch survives an OS crash
    /// or power loss. The right default for an audit trail.
    #[default]
    Full,
    /// `synchronous=NORMAL`: in WAL mode a power loss can roll back the last
    /// transactions (never corrupt the file); faster. Opt in knowingly.
    Normal,
}

/// The SQLite store: one file in WAL mode, append-only, integrity-chained.
///
/// ```
/// use audit_core::{Action, Actor, AuditSink, Event};
/// use audit_store::SqliteStore;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// let event = Event::builder(Action::new("app.created")?, Actor::user("u1")).tenant("acme").build();
/// store.write_batch(&[event.clone(), event]).await?; // a retried event is stored once
/// let report = store.verify("tenant:acme").await?;
/// assert!(report.is_intact());
/// assert_eq!(report.checked, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    cursor_key: CursorKey,
}

/// A trigram fewer rows than this hold is rare: the search index lists its
/// rows instead of a scan looking for them (see `SqliteStore::fetch_text`).
const RARE_TRIGRAM: i64 = 2_000;

/// How many trigrams (the rarest) the search index is asked for when no
/// trigram is rare: the rows holding all of them are few, and each more
/// common one would add the cost of reading its list.
const FTS_TRIGRAMS: usize = 3;

/// Page cache per connection, in KiB (SQLite's `cache_size` as a negative
/// number).
const CACHE_KIB: u32 = 32 * 1024;

/// How much of the database file each connection reads through a memory
/// map instead of `read` calls: the most SQLite allows by default (just
/// under 2 GiB; a larger file reads the rest the usual way). Reads are
/// reads of the OS page cache either way; the map saves a system call and
/// a copy per page, and the pages stay mapped while the connection lives,
/// which kernels reclaim last (the benchmark machine proactively drops
/// file cache left idle for a minute, unless mapped). In the query
/// benchmarks (1M events, a 2 GB file) index-backed pages took 0.8
/// instead of 1.4 ms at p50, 1.3 instead of 2.7 ms at p99.
/// Writes still go through the WAL. The mapped pages count towards the
/// process's resident memory (as file pages the kernel can reclaim), and
/// an I/O error while reading a mapped page is a `SIGBUS`, not an error
/// return: SQLite's documented trade-off of memory-mapped I/O.
const MMAP_BYTES: u64 = 0x7fff_0000;

/// Rows per INSERT statement: 30 columns × 500 rows stays well under SQLite's
/// 32,766 bound parameters.
const INSERT_CHUNK: usize = 500;

/// The batch an auditor writing to SQLite asks for by default. A commit
/// costs an fsync plus every page it touched rewritten to the WAL, and a
/// batch by many actors on many targets touches pages across every index
/// whatever its size, so fewer, larger commits write faster: in the ingest
/// bench 10,000 wrote at about 0.65 × raw rusqlite's single transaction,
/// 512 at 0.30 ×. It holds SQLite's write lock for about a second per full
/// batch, which a full batch only takes when that many events are queued.
const PREFERRED_BATCH: usize = 10_000;

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://audit.db`,
    /// `sqlite::memory:`), with [`Durability::Full`], and applies migrations.
    ///
    /// # Errors
    /// When the URL is invalid, the file cannot be opened, or a migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_durability(url, Durability::Full).await
    }

    /// As [`connect`](Self::connect), choosing the durability.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with_durability(url: &str, durability: Durability) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::UnsupportedUrl {
                url: format!("{} ({e})", redact_url(url)),
                expected: "sqlite://PATH or sqlite::memory:",
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            // Up to 32 MiB of pages per connection, against SQLite's 2 MiB:
            // a page of a 1M-event table reads index pages that 2 MiB
            // keeps evicting (free text 10 % faster in the benchmarks).
            // Memory only, not durability; grows only as pages are read.
            .pragma("cache_size", format!("-{CACHE_KIB}"))
            .pragma("mmap_size", MMAP_BYTES.to_string());
        // An in-memory database exists per connection: keep exactly one.
        let max_connections = if url.contains(":memory:") { 1 } else { 8 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            // The database is in-process: a connection cannot have gone
            // away, and the ping cost 10–60 µs of every query.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        migrations::SQLITE.run(&pool).await?;
        let cursor_key = cursor_key(&pool).await?;
        Ok(Self { pool, cursor_key })
    }

    /// The connection pool, for your own queries and transactions.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Appends `events` inside the caller's own transaction, so the business
    /// change and its audit rows commit or roll back together. Returns the
    /// events as stored (with `recorded_at` and integrity).
    ///
    /// Start that transaction with `begin_with("BEGIN IMMEDIATE")`: a
    /// deferred transaction that has read before it writes can fail to get
    /// the write lock under concurrency.
    ///
    /// # Errors
    /// Any database error; the caller's transaction should then be rolled back.
    pub async fn record_in(conn: &mut SqliteConnection, events: &[Event]) -> Result<Vec<Event>, StoreError> {
        append(conn, events).await
    }

    /// Recomputes every hash of `stream` and checks that its seqs run from 1
    /// without a gap up to the stream's head.
    ///
    /// # Errors
    /// Database errors, or a row that cannot be read back as an event.
    pub async fn verify(&self, stream: &str) -> Result<VerifyReport, StoreError> {
        let mut conn = self.pool.acquire().await?;
        // One read transaction: WAL gives it a snapshot, so rows written
        // meanwhile neither appear past the head nor count as missing.
        let mut tx = conn.begin().await?;
        let head: Option<(i64, i64, String)> =
            sqlx::query_as("SELECT head_seq, base_seq, base_hash FROM audit_streams WHERE stream = ?")
                .bind(stream)
                .fetch_optional(&mut *tx)
                .await?;
        let (head, base_seq, base_hash) = head.unwrap_or((0, 0, String::new()));
        let mut verifier = Verifier::new(stream, u64::try_from(base_seq).unwrap_or(0), base_hash);
        let mut after = base_seq;
        'pages: loop {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM audit_events WHERE stream = ? AND seq > ? ORDER BY seq LIMIT 1000"
            ))
            .bind(stream)
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let row = read_row(row)?;
                after = row.seq;
                if !verifier.check_row(row)? {
                    break 'pages;
                }
            }
        }
        tx.commit().await?;
        Ok(verifier.finish(u64::try_from(head).unwrap_or(0)))
    }

    /// One page of the events `query` selects, newest first.
    ///
    /// # Errors
    /// [`StoreError::Query`] naming the parameter at fault (a limit out of
    /// range, a cursor that is malformed or not this query's, …); database
    /// errors.
    pub async fn query(&self, query: &AuditQuery) -> Result<Page, StoreError> {
        let plan = query.plan(&self.cursor_key)?;
        let events = self.fetch(&plan).await?;
        Ok(plan.page(events, &self.cursor_key))
    }

    /// The event with this id, if stored (whatever its tenant: callers that
    /// serve one tenant check [`Event::tenant_id`]).
    ///
    /// # Errors
    /// Database errors, or a stored row that cannot be read back.
    pub async fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM audit_events WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| read_row(&row)?.into_event()).transpose()
    }

    pub(crate) fn cursor_key(&self) -> &CursorKey {
        &self.cursor_key
    }

    /// The rows of one page of `plan` (up to `limit + 1`), as events.
    pub(crate) async fn fetch(&self, plan: &Plan) -> Result<Vec<Event>, StoreError> {
        let rows = if plan.terms.is_empty() {
            sql::page::<SqliteDialect>(plan, COLUMNS)
                .build()
                .fetch_all(&self.pool)
                .await?
        } else {
            self.fetch_text(plan).await?
        };
        rows.iter().map(|row| read_row(row)?.into_event()).collect()
    }

    /// A free-text page, the cheapest of three ways:
    ///
    /// 1. When a term has a rare trigram (fewer than [`RARE_TRIGRAM`] rows
    ///    hold it, which the index tells after reading at most that many
    ///    entries per trigram, see [`Self::rank_trigrams`]), the search
    ///    index lists the rows holding the rare trigrams (all of them) and
    ///    those rows are checked: a handful of rows for an id or an unusual
    ///    word, whatever the tenant or time.
    /// 2. Otherwise every term is common, and a scan of the newest rows
    ///    passing the other filters fills the page early. It reads
    ///    [`sql::TEXT_SCAN_ROWS`] rows; if that found some matches but not a
    ///    page, and the tenant-and-time index (which holds `search_text`)
    ///    covers the filters, it reads again as far as the matches found
    ///    suggest (see [`sql::second_scan`]). A full page from a scan is the
    ///    right page.
    /// 3. Otherwise (common words that seldom occur together in the
    ///    filtered rows) the index lists the rows holding the
    ///    [`FTS_TRIGRAMS`] rarest trigrams.
    async fn fetch_text(&self, plan: &Plan) -> Result<Vec<SqliteRow>, StoreError> {
        let trigrams = text::trigrams(&plan.terms);
        let ranked = if trigrams.is_empty() {
            Vec::new()
        } else {
            self.rank_trigrams(&trigrams).await?
        };
        let rare: Vec<&str> = ranked
            .iter()
            .filter(|&&(estimate, _)| estimate < RARE_TRIGRAM)
            .map(|&(_, trigram)| trigram)
            .collect();
        if !rare.is_empty() {
            return Ok(fts_page(plan, &rare).build().fetch_all(&self.pool).await?);
        }
        let rows = sql::page_scan::<SqliteDialect>(plan, COLUMNS, sql::TEXT_SCAN_ROWS)
            .build()
            .fetch_all(&self.pool)
            .await?;
        if rows.len() > plan.limit as usize {
            return Ok(rows);
        }
        if let Some(budget) = sql::second_scan(plan, rows.len()) {
            let rows = sql::page_scan::<SqliteDialect>(plan, COLUMNS, budget)
                .build()
                .fetch_all(&self.pool)
                .await?;
            if rows.len() > plan.limit as usize {
                return Ok(rows);
            }
        }
        let mut query = if ranked.is_empty() {
            sql::page::<SqliteDialect>(plan, COLUMNS)
        } else {
            fts_page(plan, &fallback_trigrams(&plan.terms, &ranked))
        };
        Ok(query.build().fetch_all(&self.pool).await?)
    }

    /// `trigrams` with how many rows hold each, rarest first, in one
    /// statement that reads at most [`RARE_TRIGRAM`] index entries for each:
    /// exact below that (reported as `RARE_TRIGRAM - 1`), otherwise
    /// estimated from the key of the trigram's `RARE_TRIGRAM`th row (the
    /// index lists rows in key order, so a trigram that keeps turning up
    /// reaches it early). An estimate only ranks trigrams; answers never
    /// depend on it.
    async fn rank_trigrams<'t>(&self, trigrams: &'t [String]) -> Result<Vec<(i64, &'t str)>, StoreError> {
        // Scalar subqueries, not an aggregate over audit_events: with other
        // columns beside them, min and max would read the whole table.
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT (SELECT min(pk) FROM audit_events), (SELECT max(pk) FROM audit_events)",
        );
        for trigram in trigrams {
            query.push(", (SELECT rowid FROM audit_events_search WHERE audit_events_search MATCH ");
            query.push_bind(text::fts_match(&[trigram]));
            query.push(" ORDER BY rowid LIMIT 1 OFFSET ");
            query.push_bind(RARE_TRIGRAM - 1);
            query.push(")");
        }
        let row = query.build().fetch_one(&self.pool).await?;
        let first: i64 = row.try_get::<Option<i64>, _>(0)?.unwrap_or(0);
        let last: i64 = row.try_get::<Option<i64>, _>(1)?.unwrap_or(0);
        let mut ranked = Vec::with_capacity(trigrams.len());
        for (i, trigram) in trigrams.iter().enumerate() {
            let nth: Option<i64> = row.try_get(i + 2)?;
            let estimate = match nth {
                None => RARE_TRIGRAM - 1,
                Some(key) => {
                    let span = (last - first + 1).max(1) as f64;
                    let reached = (key - first + 1).max(1) as f64;
                    ((RARE_TRIGRAM as f64 * span / reached) as i64).max(RARE_TRIGRAM)
                }
            };
            ranked.push((estimate, trigram.as_str()));
        }
        ranked.sort_by_key(|&(estimate, _)| estimate);
        Ok(ranked)
    }

    /// The actions of the events `query` selects (ignoring its action filter
    /// and page), with how many events each has, most frequent first.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    pub async fn action_counts(&self, query: &AuditQuery) -> Result<Vec<ActionCount>, StoreError> {
        let plan = query.plan(&self.cursor_key)?;
        let trigrams = text::trigrams(&plan.terms);
        let mut select = sql::action_counts::<SqliteDialect>(&plan, |query| push_fts_source(query, &trigrams));
        let rows: Vec<(String, String, i64)> = select.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(ActionCount::from_row).collect()
    }

    /// Removes the events `purge` selects, stream by stream, each stream in
    /// one transaction that also records an `audit.purged` event; see
    /// [`Purge`] for what is removed and how the rest still verifies.
    /// Streams with nothing to remove are left alone and not reported.
    ///
    /// # Errors
    /// [`StoreError::Query`] when `before` is in the future; database errors
    /// (streams purged before the error stay purged).
    pub async fn purge(&self, purge: &Purge) -> Result<Vec<PurgeReport>, StoreError> {
        purge.check()?;
        let mut reports = Vec::new();
        for stream in purge.streams(self.streams().await?) {
            let mut conn = self.pool.acquire().await?;
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            let (head, base): (i64, i64) =
                sqlx::query_as("SELECT head_seq, base_seq FROM audit_streams WHERE stream = ?")
                    .bind(&stream)
                    .fetch_one(&mut *tx)
                    .await?;
            let first_kept: Option<i64> = sqlx::query_scalar(
                "SELECT seq FROM audit_events WHERE stream = ? AND seq > ? AND occurred_at >= ? ORDER BY seq LIMIT 1",
            )
            .bind(&stream)
            .bind(base)
            .bind(purge.before.unix_micros())
            .fetch_optional(&mut *tx)
            .await?;
            let cut = first_kept.map_or(head, |seq| seq - 1);
            if cut <= base {
                continue;
            }
            let through_hash: String =
                sqlx::query_scalar("SELECT leaf_hash FROM audit_events WHERE stream = ? AND seq = ?")
                    .bind(&stream)
                    .bind(cut)
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query("UPDATE audit_purge_gate SET open = 1 WHERE id = 1")
                .execute(&mut *tx)
                .await?;
            let removed = sqlx::query("DELETE FROM audit_events WHERE stream = ? AND seq <= ?")
                .bind(&stream)
                .bind(cut)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("UPDATE audit_purge_gate SET open = 0 WHERE id = 1")
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE audit_streams SET base_seq = ?, base_hash = ? WHERE stream = ?")
                .bind(cut)
                .bind(&through_hash)
                .bind(&stream)
                .execute(&mut *tx)
                .await?;
            let through_seq = u64::try_from(cut).unwrap_or(0);
            let event = purge.event(&stream, removed, through_seq, &through_hash);
            let event = append(&mut tx, &[event]).await?.pop();
            tx.commit().await?;
            reports.extend(event.map(|event| PurgeReport::new(stream, removed, through_seq, through_hash, event)));
        }
        Ok(reports)
    }

    /// Every stream that has events.
    ///
    /// # Errors
    /// Database errors.
    pub async fn streams(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT stream FROM audit_streams ORDER BY stream")
            .fetch_all(&self.pool)
            .await?)
    }

    async fn write(&self, batch: &[Event]) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let written = write_in(&mut conn, batch).await;
        if written.is_err() {
            // SQLite rolls a transaction back by itself on some errors
            // (SQLITE_FULL, SQLITE_IOERR); sqlx's ROLLBACK then fails and
            // leaves the connection believing a transaction is still open,
            // so every later BEGIN on it failed without touching the disk.
            // A connection that saw a failed write is closed, not pooled.
            conn.close_on_drop();
        }
        written
    }
}

/// One batch in one IMMEDIATE transaction: the write lock is taken up
/// front, so reading the stream heads and writing the events cannot race
/// another writer.
async fn write_in(conn: &mut SqliteConnection, batch: &[Event]) -> Result<(), StoreError> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    append(&mut tx, batch).await?;
    tx.commit().await?;
    Ok(())
}

impl AuditSink for SqliteStore {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        self.write(batch).await.map_err(SinkError::from)
    }

    /// 10,000 events: see the crate docs' "Batch size".
    fn preferred_batch_size(&self) -> Option<usize> {
        Some(PREFERRED_BATCH)
    }
}

/// Appends the events not stored yet, assigning each stream's next seqs.
async fn append(conn: &mut SqliteConnection, batch: &[Event]) -> Result<Vec<Event>, StoreError> {
    let existing = existing_ids(conn, batch).await?;
    let mut seen = HashSet::new();
    let mut by_stream: BTreeMap<String, Vec<&Event>> = BTreeMap::new();
    for event in batch {
        let id = event.id().to_string();
        if !existing.contains(&id) && seen.insert(id) {
            by_stream.entry(event.stream()).or_default().push(event);
        }
    }
    let recorded_at = Timestamp::now();
    let mut stored = Vec::with_capacity(seen.len());
    let mut rows = Vec::with_capacity(seen.len());
    let mut heads = Vec::with_capacity(by_stream.len());
    for (stream, events) in by_stream {
        let head: Option<i64> = sqlx::query_scalar("SELECT head_seq FROM audit_streams WHERE stream = ?")
            .bind(&stream)
            .fetch_optional(&mut *conn)
            .await?;
        let mut seq = head.and_then(|h| u64::try_from(h).ok()).unwrap_or(0);
        for event in events {
            let mut sealed = event.clone();
            sealed.set_recorded_at(recorded_at);
            seq += 1;
            seal(&mut sealed, &stream, seq);
            rows.push(EventRow::from_event(&sealed));
            stored.push(sealed);
        }
        let head_hash = rows.last().map(|r| r.leaf_hash.clone()).unwrap_or_default();
        heads.push((stream, seq, head_hash));
    }
    // Every stream's rows together, in full-size statements: one prepared
    // statement serves them all, and each statement is one flush of the
    // FTS index (a batch spread over many streams would otherwise make many
    // small statements of many different sizes).
    for chunk in rows.chunks(INSERT_CHUNK) {
        insert(conn, chunk).await?;
    }
    for (stream, seq, head_hash) in heads {
        sqlx::query(
            "INSERT INTO audit_streams (stream, head_seq, head_hash) VALUES (?, ?, ?) \
             ON CONFLICT (stream) DO UPDATE SET head_seq = excluded.head_seq, head_hash = excluded.head_hash",
        )
        .bind(&stream)
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .bind(head_hash)
        .execute(&mut *conn)
        .await?;
    }
    Ok(stored)
}

async fn existing_ids(conn: &mut SqliteConnection, batch: &[Event]) -> Result<HashSet<String>, StoreError> {
    let mut existing = HashSet::new();
    for chunk in batch.chunks(INSERT_CHUNK) {
        let mut query = QueryBuilder::<Sqlite>::new("SELECT id FROM audit_events WHERE id IN (");
        let mut ids = query.separated(", ");
        for event in chunk {
            ids.push_bind(event.id().to_string());
        }
        query.push(")");
        let found: Vec<String> = query.build_query_scalar().fetch_all(&mut *conn).await?;
        existing.extend(found);
    }
    Ok(existing)
}

async fn insert(conn: &mut SqliteConnection, rows: &[EventRow]) -> Result<(), StoreError> {
    debug_assert_eq!(COLUMNS.split(',').count(), COLUMN_COUNT);
    let mut query = QueryBuilder::<Sqlite>::new(format!("INSERT INTO audit_events ({COLUMNS}) "));
    query.push_values(rows, |mut values, row| {
        values
            .push_bind(&row.id)
            .push_bind(&row.stream)
            .push_bind(row.seq)
            .push_bind(&row.leaf_hash)
            .push_bind(row.occurred_at.unix_micros())
            .push_bind(row.recorded_at.unix_micros())
            .push_bind(&row.tenant_id)
            .push_bind(&row.action)
            .push_bind(&row.category)
            .push_bind(&row.severity)
            .push_bind(&row.outcome)
            .push_bind(&row.reason)
            .push_bind(&row.actor_kind)
            .push_bind(&row.actor_id)
            .push_bind(&row.actor_email)
            .push_bind(&row.actor_name)
            .push_bind(&row.target_type)
            .push_bind(&row.target_id)
            .push_bind(&row.target_name)
            .push_bind(&row.description)
            .push_bind(&row.client_ip)
            .push_bind(&row.request_id)
            .push_bind(row.truncated)
            .push_bind(row.lossy_utf8)
            .push_bind(&row.actor)
            .push_bind(&row.target)
            .push_bind(&row.targets)
            .push_bind(&row.context)
            .push_bind(&row.changes)
            .push_bind(&row.metadata)
            .push_bind(&row.search_text);
    });
    query.push(" ON CONFLICT (id) DO NOTHING");
    query.build().execute(&mut *conn).await?;
    Ok(())
}

/// The trigrams to ask the search index for when none is rare: the rarest
/// of each term (so that the terms narrow each other down), then the
/// rarest others, [`FTS_TRIGRAMS`] in all at least. Reading a trigram's
/// list costs its length, so the most common ones would cost most and
/// narrow least.
fn fallback_trigrams<'t>(terms: &[String], ranked: &[(i64, &'t str)]) -> Vec<&'t str> {
    let mut chosen: Vec<&str> = Vec::new();
    for term in terms {
        let own = text::trigrams(std::slice::from_ref(term));
        let rarest = ranked.iter().find(|(_, trigram)| own.iter().any(|t| t == trigram));
        if let Some(&(_, trigram)) = rarest
            && !chosen.contains(&trigram)
        {
            chosen.push(trigram);
        }
    }
    for &(_, trigram) in ranked {
        if chosen.len() >= FTS_TRIGRAMS {
            break;
        }
        if !chosen.contains(&trigram) {
            chosen.push(trigram);
        }
    }
    chosen
}

/// A page whose rows come from the search index: those holding every one
/// of `trigrams`, each then checked against all the filters.
fn fts_page(plan: &Plan, trigrams: &[impl AsRef<str>]) -> QueryBuilder<'static, Sqlite> {
    sql::page_from::<SqliteDialect>(plan, COLUMNS, |query| push_fts_source(query, trigrams))
}

/// ` FROM … WHERE …` of the rows holding every one of `trigrams`: the
/// search index read first, then each row it lists looked up by key
/// (`CROSS JOIN` fixes that order; SQLite would otherwise build the list in
/// full and probe it from another index). Without trigrams, every row.
fn push_fts_source(query: &mut QueryBuilder<'static, Sqlite>, trigrams: &[impl AsRef<str>]) {
    if trigrams.is_empty() {
        query.push(" FROM audit_events WHERE TRUE");
    } else {
        query.push(
            " FROM audit_events_search CROSS JOIN audit_events ON audit_events.pk = audit_events_search.rowid \
             WHERE audit_events_search MATCH ",
        );
        query.push_bind(text::fts_match(trigrams));
    }
}

fn timestamp(micros: i64, column: &str, id: &str) -> Result<Timestamp, StoreError> {
    Timestamp::from_unix_micros(micros).ok_or_else(|| StoreError::Corrupt {
        id: id.to_owned(),
        reason: format!("{column} {micros} is out of range"),
    })
}

pub(crate) fn read_row(row: &SqliteRow) -> Result<EventRow, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(EventRow {
        occurred_at: timestamp(row.try_get("occurred_at")?, "occurred_at", &id)?,
        recorded_at: timestamp(row.try_get("recorded_at")?, "recorded_at", &id)?,
        stream: row.try_get("stream")?,
        seq: row.try_get("seq")?,
        leaf_hash: row.try_get("leaf_hash")?,
        tenant_id: row.try_get("tenant_id")?,
        action: row.try_get("action")?,
        category: row.try_get("category")?,
        severity: row.try_get("severity")?,
        outcome: row.try_get("outcome")?,
        reason: row.try_get("reason")?,
        actor_kind: row.try_get("actor_kind")?,
        actor_id: row.try_get("actor_id")?,
        actor_email: row.try_get("actor_email")?,
        actor_name: row.try_get("actor_name")?,
        target_type: row.try_get("target_type")?,
        target_id: row.try_get("target_id")?,
        target_name: row.try_get("target_name")?,
        description: row.try_get("description")?,
        client_ip: row.try_get("client_ip")?,
        request_id: row.try_get("request_id")?,
        truncated: row.try_get("truncated")?,
        lossy_utf8: row.try_get("lossy_utf8")?,
        actor: row.try_get("actor")?,
        target: row.try_get("target")?,
        targets: row.try_get("targets")?,
        context: row.try_get("context")?,
        changes: row.try_get("changes")?,
        metadata: row.try_get("metadata")?,
        search_text: row.try_get("search_text")?,
        id,
    })
}

/// The store's cursor key, made on first use.
async fn cursor_key(pool: &SqlitePool) -> Result<CursorKey, StoreError> {
    let fresh = CursorKey::generate().map_err(|e| StoreError::Corrupt {
        id: CURSOR_KEY_NAME.to_owned(),
        reason: format!("no randomness for a new cursor key: {e}"),
    })?;
    sqlx::query("INSERT INTO audit_store_keys (name, key) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
        .bind(CURSOR_KEY_NAME)
        .bind(fresh)
        .execute(pool)
        .await?;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key FROM audit_store_keys WHERE name = ?")
        .bind(CURSOR_KEY_NAME)
        .fetch_one(pool)
        .await?;
    CursorKey::from_stored(&stored).ok_or_else(|| StoreError::Corrupt {
        id: CURSOR_KEY_NAME.to_owned(),
        reason: format!("the stored cursor key has {} bytes, not 32", stored.len()),
    })
}

/// SQLite's side of the shared query SQL: times as Unix microseconds, ids as
/// text, search through the FTS5 trigram index (tenant-scoped).
#[derive(Debug)]
struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = Sqlite;

    fn bind_text(query: &mut QueryBuilder<'static, Sqlite>, value: String) {
        query.push_bind(value);
    }

    fn bind_int(query: &mut QueryBuilder<'static, Sqlite>, value: i64) {
        query.push_bind(value);
    }

    fn bind_time(query: &mut QueryBuilder<'static, Sqlite>, at: Timestamp) {
        query.push_bind(at.unix_micros());
    }

    fn bind_id(query: &mut QueryBuilder<'static, Sqlite>, id: Uuid) {
        query.push_bind(id.to_string());
    }

    fn push_contains(query: &mut QueryBuilder<'static, Sqlite>, term: &str) {
        query.push("search_text GLOB ");
        query.push_bind(text::glob_contains(term));
    }
}
