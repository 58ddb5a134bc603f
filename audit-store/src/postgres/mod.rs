//! [`PgStore`]: the production backend. Only what is PostgreSQL's own
//! lives here (connecting, appending, the column types); `copy.rs` encodes
//! rows for `COPY`, `search.rs` holds its free-text strategy, and everything
//! else is [`Backend`]'s.

mod columns;
mod copy;
mod partitions;

pub use self::partitions::PartitionUnit;
mod search;
mod trigram_sample;
mod walk;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use audit_core::{AuditSink, Event, SinkError, Timestamp};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use self::search::TakenSample;
use self::trigram_sample::Narrowing;
use crate::backend::{Backend, Dialect, store_methods};
use crate::error::{StoreError, redact_url};
use crate::integrity::seal;
use crate::migrations;
use crate::personal::PersonalData;
use crate::query::{CursorKey, Plan};
use crate::retention::PurgeOutcome;
use crate::row::{COLUMNS, EventRow, JSON_COLUMNS};
use crate::stream::Appended;
use crate::tree::StreamTree;

/// The PostgreSQL store: append-only, integrity-chained, for production.
///
/// Needs PostgreSQL 13 or newer and a database whose encoding is UTF-8.
/// [`connect`](Self::connect) applies the embedded migrations (under sqlx's
/// advisory lock, so several processes may start at once).
///
/// ```no_run
/// use audit_core::{Action, Actor, AuditSink, Event};
/// use audit_store::PgStore;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PgStore::connect("postgres://audit:secret@localhost/audit").await?;
/// let event = Event::builder(Action::new("app.created")?, Actor::user("u1")).tenant("acme").build();
/// store.write_batch(&[event.clone(), event]).await?; // a retried event is stored once
/// assert!(store.verify("tenant:acme").await?.is_intact());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    cursor_key: CursorKey,
    /// What free-text searches rank trigrams by (shared by clones).
    search_sample: Arc<Mutex<Option<TakenSample>>>,
    /// Where page queries split their time window (shared by clones).
    partition_starts: Arc<walk::PartitionStarts>,
    /// Wakes this process's stream sinks (shared by clones).
    appended: Appended,
    /// What it seals as personal data (`with_personal_data`).
    personal: Option<Arc<PersonalData>>,
}

/// The column list of a `SELECT` of whole events: [`COLUMNS`], with the
/// JSON columns read back as their text.
static SELECT_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    COLUMNS
        .split(", ")
        .map(|column| {
            let column = column.trim();
            if JSON_COLUMNS.contains(&column) {
                format!("{column}::text AS {column}")
            } else {
                column.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
});

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host/db`,
    /// or `postgres://user@localhost/db?host=/run/postgresql` for a Unix
    /// socket) and applies migrations.
    ///
    /// # Errors
    /// When the URL is invalid, the server cannot be reached, or a migration
    /// fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(|e| StoreError::UnsupportedUrl {
            url: format!("{} ({e})", redact_url(url)),
            expected: "postgres://USER:PASSWORD@HOST/DATABASE",
        })?;
        // JIT compilation costs more than it saves on these short, indexed
        // queries. Statements are prepared once per connection and cached
        // (no parse round trip per page), but planned for each execution's
        // own values: a generic plan, which PostgreSQL settles on after five
        // executions, cannot see the tenant or the offset (BENCHMARKS.md,
        // "Issue 5, closing", measured each).
        let options = options.options([("jit", "off"), ("plan_cache_mode", "force_custom_plan")]);
        let pool = PgPoolOptions::new().connect_with(options).await?;
        Self::migrate(&pool).await?;
        partitions::create_ahead(&pool).await?;
        let cursor_key = Self::load_cursor_key(&pool).await?;
        Ok(Self {
            pool,
            cursor_key,
            search_sample: Arc::default(),
            partition_starts: Arc::default(),
            appended: Appended::default(),
            personal: None,
        })
    }
}

impl PgStore {
    /// The period each new partition of `audit_events` covers (a month
    /// unless [`set_partition_unit`](Self::set_partition_unit) changed it).
    ///
    /// # Errors
    /// Database errors.
    pub async fn partition_unit(&self) -> Result<PartitionUnit, StoreError> {
        partitions::unit(&self.pool).await
    }

    /// Makes `unit` the period of the partitions made from now on (for
    /// every process on this database), and makes the next months'
    /// partitions with it. Partitions already made keep their ranges; a
    /// new one is clipped to its neighbours, so none overlap. Needs a role
    /// that may update `audit_partition_settings` (the owner's: `audit
    /// migrate --partition-unit week`).
    ///
    /// ```no_run
    /// use audit_store::{PartitionUnit, PgStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = PgStore::connect("postgres://owner:secret@localhost/audit").await?;
    /// store.set_partition_unit(PartitionUnit::Week).await?;
    /// assert_eq!(store.partition_unit().await?, PartitionUnit::Week);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Database errors (a role without `UPDATE` on the settings table).
    pub async fn set_partition_unit(&self, unit: PartitionUnit) -> Result<(), StoreError> {
        partitions::set_unit(&self.pool, unit).await
    }
}

store_methods!(
    PgStore,
    PgPool,
    PgConnection,
    /// The heads of the events' streams stay locked until that transaction
    /// ends, so keep it short. Under `REPEATABLE READ` or `SERIALIZABLE` a
    /// concurrent writer to the same stream makes this fail with a
    /// serialization error: retry the transaction, as for any other.
);

impl AuditSink for PgStore {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        self.write(batch).await.map_err(SinkError::from)
    }
}

/// PostgreSQL's side: `timestamptz` and `uuid` columns, search by `LIKE` on
/// the trigram-indexed `search_text`.
impl Dialect for PgStore {
    type Db = Postgres;

    fn bind_text(query: &mut QueryBuilder<'static, Postgres>, value: String) {
        query.push_bind(value);
    }

    fn push_text_in(query: &mut QueryBuilder<'static, Postgres>, column: &str, values: &[String]) {
        query.push(format_args!("{column} = ANY("));
        query.push_bind(values.to_vec());
        query.push(")");
    }

    fn bind_int(query: &mut QueryBuilder<'static, Postgres>, value: i64) {
        query.push_bind(value);
    }

    fn bind_time(query: &mut QueryBuilder<'static, Postgres>, at: Timestamp) {
        query.push_bind(at.as_datetime());
    }

    fn bind_id(query: &mut QueryBuilder<'static, Postgres>, id: Uuid) {
        query.push_bind(id);
    }

    /// `strpos`, which no index serves: the trigram index is asked only for
    /// what [`search::push_search_source`] chose, not for every trigram of every term.
    fn push_contains(query: &mut QueryBuilder<'static, Postgres>, term: &str) {
        query.push("strpos(search_text, ");
        query.push_bind(term.to_owned());
        query.push(") > 0");
    }
}

impl Backend for PgStore {
    const BEGIN_WRITE: &'static str = "BEGIN";
    const BEGIN_READ: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
    const LOCK_HEAD: &'static str = " FOR UPDATE";
    // The trigger lets a DELETE through only with this setting on, and SET
    // LOCAL ends with the transaction.
    const OPEN_PURGE_GATE: &'static str = "SET LOCAL audit.purge = 'on'";
    const CLOSE_PURGE_GATE: &'static str = "SET LOCAL audit.purge = 'off'";
    // SET LOCAL: the connection's force_custom_plan is back at commit.
    const PLAN_PURGE_ONCE: Option<&'static str> = Some("SET LOCAL plan_cache_mode = force_generic_plan");
    const BY_BYTES: &'static str = " COLLATE \"C\"";
    const MIGRATOR: &'static Migrator = &migrations::POSTGRES;

    /// The trigrams the sample chose for the search terms, if any.
    type TextSource = Option<Narrowing>;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn cursor_key(&self) -> &CursorKey {
        &self.cursor_key
    }

    fn personal(&self) -> Option<&Arc<PersonalData>> {
        self.personal.as_ref()
    }

    fn appended(&self) -> &Appended {
        &self.appended
    }

    fn select_columns() -> &'static str {
        &SELECT_COLUMNS
    }

    async fn fetch_built_in(
        conn: &mut PgConnection,
        mut query: QueryBuilder<'static, Postgres>,
    ) -> Result<Vec<PgRow>, StoreError> {
        Ok(query.build().fetch_all(conn).await?)
    }

    async fn append(conn: &mut PgConnection, batch: &[Event]) -> Result<Vec<Event>, StoreError> {
        append(conn, batch).await
    }

    async fn delete_purged(
        conn: &mut PgConnection,
        stream: &str,
        cut: i64,
        before: Timestamp,
    ) -> Result<(), StoreError> {
        partitions::delete_purged(conn, stream, cut, before).await
    }

    async fn retire_before(&self, latest_cut: Timestamp, outcome: &mut PurgeOutcome) -> Result<(), StoreError> {
        partitions::retire_before(&self.pool, latest_cut, outcome).await
    }

    async fn fetch_page(&self, plan: &Plan) -> Result<Vec<PgRow>, StoreError> {
        self.walk_page(plan).await
    }

    async fn fetch_text(&self, plan: &Plan) -> Result<Vec<PgRow>, StoreError> {
        self.search_page(plan).await
    }

    async fn search_index(&self) -> Result<bool, StoreError> {
        self.search_indexed().await
    }

    async fn set_search_index(&self, on: bool) -> Result<(), StoreError> {
        self.set_search_indexed(on).await
    }

    async fn text_source(&self, plan: &Plan) -> Result<Option<Narrowing>, StoreError> {
        if plan.terms.is_empty() {
            return Ok(None);
        }
        Ok(self.search_sample().await?.narrowing(&plan.terms))
    }

    fn push_text_source(query: &mut QueryBuilder<'static, Postgres>, plan: &Plan, narrowing: &Option<Narrowing>) {
        search::push_search_source(query, &plan.terms, narrowing.as_ref());
    }
}

/// The heads a batch moves, as the columns of one `UPDATE … FROM UNNEST`.
#[derive(Default)]
struct NewHeads {
    streams: Vec<String>,
    seqs: Vec<i64>,
    hashes: Vec<String>,
    frontiers: Vec<Option<Vec<u8>>>,
}

impl NewHeads {
    fn push(&mut self, tree: StreamTree, head_hash: String) {
        self.seqs.push(i64::try_from(tree.head).unwrap_or(i64::MAX));
        self.hashes.push(head_hash);
        self.frontiers.push(tree.encoded_frontier());
        self.streams.push(tree.stream);
    }
}

/// Appends the events not stored yet, assigning each stream's next seqs.
///
/// The batch's streams are locked in sorted order (their head rows, created
/// first where missing), so two writers never deadlock and seqs are gapless;
/// which events are already stored is decided under those locks, so a
/// retried batch racing its first attempt is still stored once. The rows
/// then go in with one `COPY … FROM STDIN`, sealed and encoded while the
/// server is already inserting the ones sent before, and the heads move in
/// one `UPDATE`: a handful of round trips per batch, whatever its size.
async fn append(conn: &mut PgConnection, batch: &[Event]) -> Result<Vec<Event>, StoreError> {
    // Duplicates within the batch: the first occurrence wins.
    let mut seen = HashSet::new();
    let mut by_stream: BTreeMap<String, Vec<&Event>> = BTreeMap::new();
    for event in batch {
        if seen.insert(event.id()) {
            by_stream.entry(event.stream()).or_default().push(event);
        }
    }
    if by_stream.is_empty() {
        return Ok(Vec::new());
    }
    // Before any lock of this batch's: a missing month's partition is
    // created here (see `partitions`).
    let span = partitions::ensure_for(conn, batch).await?;
    // Sorted by bytes, as the BTreeMap is: the order locks are taken in.
    let streams: Vec<&str> = by_stream.keys().map(String::as_str).collect();
    sqlx::query(
        "INSERT INTO audit_streams (stream, head_seq, head_hash) \
         SELECT stream, 0, '' FROM UNNEST($1::text[]) AS s(stream) ORDER BY stream COLLATE \"C\" \
         ON CONFLICT (stream) DO NOTHING",
    )
    .bind(&streams)
    .execute(&mut *conn)
    .await?;
    // ORDER BY is applied before the locking clause: rows are locked in order.
    let mut heads: HashMap<String, (i64, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT stream, head_seq, tree_frontier FROM audit_streams WHERE stream = ANY($1) \
         ORDER BY stream COLLATE \"C\" FOR UPDATE",
    )
    .bind(&streams)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(stream, head, frontier): (String, i64, Option<Vec<u8>>)| (stream, (head, frontier)))
    .collect();
    // Under the locks: a concurrent attempt at the same events has committed
    // by now, and its rows are visible to this statement.
    let ids: Vec<Uuid> = batch.iter().map(Event::id).collect();
    // An event's occurred_at never changes: only the batch's months are read.
    let existing: HashSet<Uuid> =
        sqlx::query_scalar("SELECT id FROM audit_events WHERE id = ANY($1) AND occurred_at BETWEEN $2 AND $3")
            .bind(&ids)
            .bind(span.0)
            .bind(span.1)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();

    let mut firsts = Vec::with_capacity(by_stream.len());
    for (stream, events) in &by_stream {
        let head = heads.remove(stream).ok_or_else(|| StoreError::Corrupt {
            id: stream.clone(),
            reason: "the stream's head row is missing although it was just ensured".to_owned(),
        })?;
        let fresh: Vec<&Event> = events.iter().copied().filter(|e| !existing.contains(&e.id())).collect();
        if !fresh.is_empty() {
            firsts.push((StreamTree::from_head(stream, Some(head))?, fresh));
        }
    }
    if firsts.is_empty() {
        return Ok(Vec::new());
    }

    let recorded_at = Timestamp::now();
    let mut stored = Vec::with_capacity(seen.len());
    let mut new_heads = NewHeads::default();
    let mut nodes = Vec::new();
    let mut copy = conn.copy_in_raw(&copy::COPY_SQL).await?;
    let mut buffer = Vec::with_capacity(copy::CHUNK + 4096);
    let mut rows = 0u64;
    for (mut tree, events) in firsts {
        let mut head_hash = String::new();
        for event in events {
            let mut sealed = event.clone();
            sealed.set_recorded_at(recorded_at);
            let leaf = seal(&mut sealed, &tree.stream, tree.head + 1);
            tree.push(leaf, &mut nodes);
            let row = EventRow::from_event(&sealed);
            copy::push_row(&mut buffer, &row);
            rows += 1;
            head_hash = row.leaf_hash;
            stored.push(sealed);
            if buffer.len() >= copy::CHUNK {
                copy.send(std::mem::replace(&mut buffer, Vec::with_capacity(copy::CHUNK + 4096)))
                    .await?;
            }
        }
        new_heads.push(tree, head_hash);
    }
    if !buffer.is_empty() {
        copy.send(buffer).await?;
    }
    // No ON CONFLICT (COPY has none): under the stream locks only an event
    // id already used in another stream can collide, and that must fail the
    // batch rather than advance a head past a row that was not written.
    let copied = copy.finish().await?;
    if copied != rows {
        return Err(StoreError::Corrupt {
            id: new_heads.streams.first().cloned().unwrap_or_default(),
            reason: format!("COPY stored {copied} rows of {rows}"),
        });
    }
    PgStore::insert_tree_nodes(conn, &nodes).await?;
    sqlx::query(
        "UPDATE audit_streams AS s SET head_seq = h.seq, head_hash = h.hash, tree_frontier = h.frontier \
         FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::bytea[]) AS h(stream, seq, hash, frontier) \
         WHERE s.stream = h.stream",
    )
    .bind(&new_heads.streams)
    .bind(&new_heads.seqs)
    .bind(&new_heads.hashes)
    .bind(&new_heads.frontiers)
    .execute(&mut *conn)
    .await?;
    Ok(stored)
}
