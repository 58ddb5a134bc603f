//! [`SqliteStore`]: the embedded default. Only what is SQLite's own lives
//! here (connecting, appending, the column types); `search.rs` holds its
//! free-text strategy, and everything else is [`Backend`]'s.

mod columns;
mod search;

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use audit_core::{AuditSink, Event, SinkError, Timestamp};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use uuid::Uuid;

use crate::backend::{Backend, Dialect, store_methods};
use crate::error::{StoreError, redact_url};
use crate::integrity::seal;
use crate::migrations;
use crate::personal::PersonalData;
use crate::query::{CursorKey, Plan, text};
use crate::row::{COLUMN_COUNT, COLUMNS, EventRow};
use crate::stream::Appended;
use crate::tree::StreamTree;

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
    /// Wakes this process's stream sinks (shared by clones).
    appended: Appended,
    /// What it seals as personal data (`with_personal_data`).
    personal: Option<Arc<PersonalData>>,
}

/// Page cache per connection, in KiB (SQLite's `cache_size` as a negative
/// number).
const CACHE_KIB: u32 = 32 * 1024;

/// How much of the database file each connection reads through a memory
/// map instead of `read` calls: the most SQLite allows by default (just
/// under 2 GiB; a larger file reads the rest the usual way). Reads are
/// reads of the OS page cache either way; the map saves a system call and
/// a copy per page, and the pages stay mapped while the connection lives,
/// which kernels reclaim last (BENCHMARKS.md, "Issue 5, closing", has the
/// figures). Writes still go through the WAL. The mapped pages count towards the
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
/// whatever its size, so fewer, larger commits write faster (BENCHMARKS.md,
/// "Ingest", compares batch sizes). A full batch holds SQLite's write lock
/// longest, and only fills when that many events are queued.
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
            // a page of a large table reads index pages that 2 MiB keeps
            // evicting. Memory only, not durability; grows only as pages
            // are read.
            .pragma("cache_size", format!("-{CACHE_KIB}"))
            .pragma("mmap_size", MMAP_BYTES.to_string())
            // Freed bytes are zeroed where that costs no extra I/O: an
            // erased subject key leaves no copy in its page (personal data).
            .pragma("secure_delete", "fast");
        // An in-memory database exists per connection: keep exactly one.
        let max_connections = if url.contains(":memory:") { 1 } else { 8 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            // The database is in-process: a connection cannot have gone
            // away, and the ping cost a measurable share of every query.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Self::migrate(&pool).await?;
        let cursor_key = Self::load_cursor_key(&pool).await?;
        Ok(Self {
            pool,
            cursor_key,
            appended: Appended::default(),
            personal: None,
        })
    }
}

store_methods!(
    SqliteStore,
    SqlitePool,
    SqliteConnection,
    /// Start that transaction with `begin_with("BEGIN IMMEDIATE")`: a
    /// deferred transaction that has read before it writes can fail to get
    /// the write lock under concurrency.
);

impl AuditSink for SqliteStore {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        self.write(batch).await.map_err(SinkError::from)
    }

    /// 10,000 events: see the crate docs' "Batch size".
    fn preferred_batch_size(&self) -> Option<usize> {
        Some(PREFERRED_BATCH)
    }
}

/// SQLite's side: times as Unix microseconds, ids as text, the write lock
/// taken up front (`BEGIN IMMEDIATE`), so reading the stream heads and
/// writing the events cannot race another writer; search through the FTS5
/// trigram index.
impl Dialect for SqliteStore {
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

impl Backend for SqliteStore {
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    // WAL gives a read transaction its snapshot.
    const BEGIN_READ: &'static str = "BEGIN";
    // BEGIN IMMEDIATE holds the database's one write lock already.
    const LOCK_HEAD: &'static str = "";
    const OPEN_PURGE_GATE: &'static str = "UPDATE audit_purge_gate SET open = 1 WHERE id = 1";
    const CLOSE_PURGE_GATE: &'static str = "UPDATE audit_purge_gate SET open = 0 WHERE id = 1";
    // Text compares by bytes unless a collation says otherwise.
    const PLAN_PURGE_ONCE: Option<&'static str> = None;
    const BY_BYTES: &'static str = "";
    const MIGRATOR: &'static Migrator = &migrations::SQLITE;

    /// The trigrams of the search terms, for the FTS5 index.
    type TextSource = Vec<String>;

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn cursor_key(&self) -> &CursorKey {
        &self.cursor_key
    }

    fn personal(&self) -> Option<&Arc<PersonalData>> {
        self.personal.as_ref()
    }

    async fn after_erasure(&self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn appended(&self) -> &Appended {
        &self.appended
    }

    fn select_columns() -> &'static str {
        COLUMNS
    }

    async fn fetch_built_in(
        conn: &mut SqliteConnection,
        mut query: QueryBuilder<'static, Sqlite>,
    ) -> Result<Vec<SqliteRow>, StoreError> {
        Ok(query.build().fetch_all(conn).await?)
    }

    async fn append(conn: &mut SqliteConnection, batch: &[Event]) -> Result<Vec<Event>, StoreError> {
        append(conn, batch).await
    }

    async fn fetch_text(&self, plan: &Plan) -> Result<Vec<SqliteRow>, StoreError> {
        self.search_page(plan).await
    }

    async fn text_source(&self, plan: &Plan) -> Result<Vec<String>, StoreError> {
        // No trigrams: every row, the terms checked on each.
        if plan.terms.is_empty() || !self.search_indexed().await? {
            return Ok(Vec::new());
        }
        Ok(text::trigrams(&plan.terms))
    }

    async fn search_index(&self) -> Result<bool, StoreError> {
        self.search_indexed().await
    }

    async fn set_search_index(&self, on: bool) -> Result<(), StoreError> {
        self.set_search_indexed(on).await
    }

    fn push_text_source(query: &mut QueryBuilder<'static, Sqlite>, _plan: &Plan, trigrams: &Vec<String>) {
        search::push_fts_source(query, trigrams);
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
    let mut nodes = Vec::new();
    for (stream, events) in by_stream {
        let head: Option<(i64, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT head_seq, tree_frontier FROM audit_streams WHERE stream = ?")
                .bind(&stream)
                .fetch_optional(&mut *conn)
                .await?;
        let known = head.is_some();
        let mut tree = StreamTree::from_head(&stream, head)?;
        for event in events {
            let mut sealed = event.clone();
            sealed.set_recorded_at(recorded_at);
            let leaf = seal(&mut sealed, &stream, tree.head + 1);
            tree.push(leaf, &mut nodes);
            rows.push(EventRow::from_event(&sealed));
            stored.push(sealed);
        }
        let head_hash = rows.last().map(|r| r.leaf_hash.clone()).unwrap_or_default();
        heads.push((known, tree, head_hash));
    }
    // Every stream's rows together, in full-size statements: one prepared
    // statement serves them all, and each statement is one flush of the
    // FTS index (a batch spread over many streams would otherwise make many
    // small statements of many different sizes).
    for chunk in rows.chunks(INSERT_CHUNK) {
        insert(conn, chunk).await?;
    }
    SqliteStore::insert_tree_nodes(conn, &nodes).await?;
    for (known, tree, head_hash) in heads {
        // An UPDATE of a known stream, an INSERT of a new one: the triggers
        // refuse an INSERT for a stream that has its row (see 0003_guards).
        let statement = if known {
            "UPDATE audit_streams SET head_seq = $2, head_hash = $3, tree_frontier = $4 WHERE stream = $1"
        } else {
            "INSERT INTO audit_streams (stream, head_seq, head_hash, tree_frontier) VALUES ($1, $2, $3, $4)"
        };
        sqlx::query(statement)
            .bind(&tree.stream)
            .bind(i64::try_from(tree.head).unwrap_or(i64::MAX))
            .bind(head_hash)
            .bind(tree.encoded_frontier())
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
    // No ON CONFLICT: the ids already stored were left out under the write
    // lock, and the triggers refuse any other (see 0003_guards).
    query.build().execute(&mut *conn).await?;
    Ok(())
}
