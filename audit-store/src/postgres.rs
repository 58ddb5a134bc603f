//! [`PgStore`]: the production backend.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use audit_core::{AuditSink, Event, SinkError, Timestamp};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::{Connection, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::error::{StoreError, redact_url};
use crate::integrity::{Verifier, VerifyReport, seal};
use crate::migrations;
use crate::query::sql::{self, Dialect};
use crate::query::trigram_sample::{Narrowing, TrigramSample};
use crate::query::{ActionCount, AuditQuery, CURSOR_KEY_NAME, CursorKey, Page, Plan, text};
use crate::retention::{Purge, PurgeReport};
use crate::row::{COLUMN_COUNT, COLUMNS, EventRow};

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
}

/// A [`TrigramSample`] and when it was taken.
#[derive(Debug)]
struct TakenSample {
    sample: Arc<TrigramSample>,
    taken: Instant,
}

/// Rows sampled to rank the trigrams of searches (see
/// [`PgStore::search_sample`]).
const SAMPLE_ROWS: u32 = 1_000;

/// How long a sample serves before a search takes a fresh one.
const SAMPLE_TTL: Duration = Duration::from_secs(600);

/// As [`SAMPLE_TTL`], for a sample of fewer than [`SAMPLE_ROWS`] rows: a
/// young table changes fast.
const YOUNG_SAMPLE_TTL: Duration = Duration::from_secs(10);

/// Bytes of COPY data gathered before they are sent: the server inserts
/// one piece while the next is sealed and encoded.
const COPY_CHUNK: usize = 256 * 1024;

/// Rows per page when verifying.
const VERIFY_PAGE: i64 = 1_000;

/// The columns of `audit_events` as read back: JSON columns as their text.
const SELECT_COLUMNS: &str = "id, stream, seq, leaf_hash, occurred_at, recorded_at, tenant_id, action, category, \
    severity, outcome, reason, actor_kind, actor_id, actor_email, actor_name, target_type, target_id, target_name, \
    description, client_ip, request_id, truncated, lossy_utf8, actor::text AS actor, target::text AS target, \
    targets::text AS targets, context::text AS context, changes::text AS changes, metadata::text AS metadata, \
    search_text";

/// The COPY that writes a batch's rows, in the order of [`COLUMNS`] (text
/// format: JSON as text, cast to `jsonb` by the server).
static COPY_SQL: LazyLock<String> = LazyLock::new(|| {
    debug_assert_eq!(COLUMNS.split(',').count(), COLUMN_COUNT);
    format!("COPY audit_events ({COLUMNS}) FROM STDIN")
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
        // queries (it doubled their latency in this crate's benchmarks).
        // Statements are prepared once per connection and cached (no parse
        // round trip per page: 0.3–0.5 ms of a 1.3–1.8 ms page in the
        // benchmarks), but planned for each execution's own values: a
        // generic plan, which PostgreSQL settles on after five executions,
        // cannot see the tenant or the offset and was 8× slower on deep
        // offsets.
        let options = options.options([("jit", "off"), ("plan_cache_mode", "force_custom_plan")]);
        let pool = PgPoolOptions::new().connect_with(options).await?;
        migrations::POSTGRES.run(&pool).await?;
        let cursor_key = cursor_key(&pool).await?;
        Ok(Self {
            pool,
            cursor_key,
            search_sample: Arc::default(),
        })
    }

    /// The connection pool, for your own queries and transactions.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Appends `events` inside the caller's own transaction, so the business
    /// change and its audit rows commit or roll back together. Returns the
    /// events as stored (with `recorded_at` and integrity).
    ///
    /// The heads of the events' streams stay locked until that transaction
    /// ends, so keep it short. Under `REPEATABLE READ` or `SERIALIZABLE` a
    /// concurrent writer to the same stream makes this fail with a
    /// serialization error: retry the transaction, as for any other.
    ///
    /// # Errors
    /// Any database error; the caller's transaction should then be rolled back.
    pub async fn record_in(conn: &mut PgConnection, events: &[Event]) -> Result<Vec<Event>, StoreError> {
        append(conn, events).await
    }

    /// Recomputes every hash of `stream` and checks that its seqs run from 1
    /// without a gap up to the stream's head. Reads one consistent snapshot.
    ///
    /// # Errors
    /// Database errors, or a row that cannot be read back as an event.
    pub async fn verify(&self, stream: &str) -> Result<VerifyReport, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let head: Option<(i64, i64, String)> =
            sqlx::query_as("SELECT head_seq, base_seq, base_hash FROM audit_streams WHERE stream = $1")
                .bind(stream)
                .fetch_optional(&mut *tx)
                .await?;
        let (head, base_seq, base_hash) = head.unwrap_or((0, 0, String::new()));
        let mut verifier = Verifier::new(stream, u64::try_from(base_seq).unwrap_or(0), base_hash);
        let mut after = base_seq;
        'pages: loop {
            let rows = sqlx::query(&format!(
                "SELECT {SELECT_COLUMNS} FROM audit_events WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ))
            .bind(stream)
            .bind(after)
            .bind(VERIFY_PAGE)
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
        let row = sqlx::query(&format!("SELECT {SELECT_COLUMNS} FROM audit_events WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| read_row(&row)?.into_event()).transpose()
    }

    pub(crate) fn cursor_key(&self) -> &CursorKey {
        &self.cursor_key
    }

    /// The rows of one page of `plan` (up to `limit + 1`), as events.
    ///
    /// A free-text page is found one of two ways. When the sample says the
    /// terms are common enough (see [`scan_first`]), the newest rows passing
    /// the other filters are scanned first ([`sql::page_scan`]): a common
    /// term fills the page within them, long before the trigram index has
    /// listed every match in the table. Otherwise, or when that scan did not
    /// fill the page, the trigram index lists the rows holding the trigrams
    /// the sample chose (see [`TrigramSample::narrowing`]) and the terms are
    /// checked on those.
    pub(crate) async fn fetch(&self, plan: &Plan) -> Result<Vec<Event>, StoreError> {
        let rows = if plan.terms.is_empty() {
            sql::page::<PgDialect>(plan, SELECT_COLUMNS)
                .build()
                .fetch_all(&self.pool)
                .await?
        } else {
            let narrowing = self.search_sample().await?.narrowing(&plan.terms);
            let mut rows = Vec::new();
            if scan_first(plan, narrowing.as_ref()) {
                rows = sql::page_scan::<PgDialect>(plan, SELECT_COLUMNS, sql::TEXT_SCAN_ROWS)
                    .build()
                    .fetch_all(&self.pool)
                    .await?;
            }
            if rows.len() <= plan.limit as usize {
                rows = sql::page_from::<PgDialect>(plan, SELECT_COLUMNS, |query| {
                    push_search_source(query, &plan.terms, narrowing.as_ref());
                })
                .build()
                .fetch_all(&self.pool)
                .await?;
            }
            rows
        };
        rows.iter().map(|row| read_row(row)?.into_event()).collect()
    }

    /// The sample that free-text searches rank trigrams by: the
    /// `search_text` of about [`SAMPLE_ROWS`] rows from random pages of the
    /// table (`TABLESAMPLE SYSTEM`, sized from the planner's row count), taken
    /// by the first search and again by the first one after
    /// [`SAMPLE_TTL`]. A stale sample can make a search slower, never wrong.
    async fn search_sample(&self) -> Result<Arc<TrigramSample>, StoreError> {
        if let Some(taken) = &*self.search_sample.lock().unwrap_or_else(PoisonError::into_inner) {
            let ttl = if taken.sample.rows() < SAMPLE_ROWS {
                YOUNG_SAMPLE_TTL
            } else {
                SAMPLE_TTL
            };
            if taken.taken.elapsed() < ttl {
                return Ok(Arc::clone(&taken.sample));
            }
        }
        // -1 (or 0 before PostgreSQL 14) until the table is first analyzed:
        // then every page is sampled, and the LIMIT stops the read early.
        let rows: f32 = sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'audit_events'::regclass")
            .fetch_one(&self.pool)
            .await?;
        let percent = (100.0 * f64::from(SAMPLE_ROWS) / f64::from(rows).max(1.0)).clamp(0.0001, 100.0);
        let texts: Vec<String> =
            sqlx::query_scalar("SELECT search_text FROM audit_events TABLESAMPLE SYSTEM ($1::float8) LIMIT $2")
                .bind(percent)
                .bind(i64::from(SAMPLE_ROWS) * 2)
                .fetch_all(&self.pool)
                .await?;
        let sample = Arc::new(TrigramSample::from_texts(texts.iter().map(String::as_str)));
        *self.search_sample.lock().unwrap_or_else(PoisonError::into_inner) = Some(TakenSample {
            sample: Arc::clone(&sample),
            taken: Instant::now(),
        });
        Ok(sample)
    }

    /// The actions of the events `query` selects (ignoring its action filter
    /// and page), with how many events each has, most frequent first.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    pub async fn action_counts(&self, query: &AuditQuery) -> Result<Vec<ActionCount>, StoreError> {
        let plan = query.plan(&self.cursor_key)?;
        let narrowing = if plan.terms.is_empty() {
            None
        } else {
            self.search_sample().await?.narrowing(&plan.terms)
        };
        let mut select = sql::action_counts::<PgDialect>(&plan, |query| {
            push_search_source(query, &plan.terms, narrowing.as_ref());
        });
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
            let mut tx = self.pool.begin().await?;
            let (head, base): (i64, i64) =
                sqlx::query_as("SELECT head_seq, base_seq FROM audit_streams WHERE stream = $1 FOR UPDATE")
                    .bind(&stream)
                    .fetch_one(&mut *tx)
                    .await?;
            let first_kept: Option<i64> = sqlx::query_scalar(
                "SELECT seq FROM audit_events WHERE stream = $1 AND seq > $2 AND occurred_at >= $3 \
                 ORDER BY seq LIMIT 1",
            )
            .bind(&stream)
            .bind(base)
            .bind(purge.before.as_datetime())
            .fetch_optional(&mut *tx)
            .await?;
            let cut = first_kept.map_or(head, |seq| seq - 1);
            if cut <= base {
                continue;
            }
            let through_hash: String =
                sqlx::query_scalar("SELECT leaf_hash FROM audit_events WHERE stream = $1 AND seq = $2")
                    .bind(&stream)
                    .bind(cut)
                    .fetch_one(&mut *tx)
                    .await?;
            // The trigger lets a DELETE through only with this setting on, and
            // SET LOCAL ends with the transaction.
            sqlx::query("SET LOCAL audit.purge = 'on'").execute(&mut *tx).await?;
            let removed = sqlx::query("DELETE FROM audit_events WHERE stream = $1 AND seq <= $2")
                .bind(&stream)
                .bind(cut)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("SET LOCAL audit.purge = 'off'").execute(&mut *tx).await?;
            sqlx::query("UPDATE audit_streams SET base_seq = $2, base_hash = $3 WHERE stream = $1")
                .bind(&stream)
                .bind(cut)
                .bind(&through_hash)
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
        Ok(
            sqlx::query_scalar("SELECT stream FROM audit_streams WHERE head_seq > 0 ORDER BY stream COLLATE \"C\"")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn write(&self, batch: &[Event]) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let written = async {
            let mut tx = conn.begin().await?;
            append(&mut tx, batch).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if written.is_err() {
            // A connection that saw a failed write (a server restart, a
            // broken socket, a rollback that did not run) is closed rather
            // than handed to the next write.
            conn.close_on_drop();
        }
        written
    }
}

impl AuditSink for PgStore {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        self.write(batch).await.map_err(SinkError::from)
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
    let heads: HashMap<String, i64> = sqlx::query_as(
        "SELECT stream, head_seq FROM audit_streams WHERE stream = ANY($1) \
         ORDER BY stream COLLATE \"C\" FOR UPDATE",
    )
    .bind(&streams)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    // Under the locks: a concurrent attempt at the same events has committed
    // by now, and its rows are visible to this statement.
    let ids: Vec<Uuid> = batch.iter().map(Event::id).collect();
    let existing: HashSet<Uuid> = sqlx::query_scalar("SELECT id FROM audit_events WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();

    let mut firsts = Vec::with_capacity(by_stream.len());
    for (stream, events) in &by_stream {
        let head = heads.get(stream).copied().ok_or_else(|| StoreError::Corrupt {
            id: stream.clone(),
            reason: "the stream's head row is missing although it was just ensured".to_owned(),
        })?;
        let fresh: Vec<&Event> = events.iter().copied().filter(|e| !existing.contains(&e.id())).collect();
        if !fresh.is_empty() {
            firsts.push((stream.as_str(), u64::try_from(head).unwrap_or(0), fresh));
        }
    }
    if firsts.is_empty() {
        return Ok(Vec::new());
    }

    let recorded_at = Timestamp::now();
    let mut stored = Vec::with_capacity(seen.len());
    let mut new_heads: (Vec<&str>, Vec<i64>, Vec<String>) = Default::default();
    let mut copy = conn.copy_in_raw(&COPY_SQL).await?;
    let mut buffer = Vec::with_capacity(COPY_CHUNK + 4096);
    let mut rows = 0u64;
    for (stream, head, events) in firsts {
        let mut seq = head;
        let mut head_hash = String::new();
        for event in events {
            let mut sealed = event.clone();
            sealed.set_recorded_at(recorded_at);
            seq += 1;
            seal(&mut sealed, stream, seq);
            let row = EventRow::from_event(&sealed);
            copy_row(&mut buffer, &row);
            rows += 1;
            head_hash = row.leaf_hash;
            stored.push(sealed);
            if buffer.len() >= COPY_CHUNK {
                copy.send(std::mem::replace(&mut buffer, Vec::with_capacity(COPY_CHUNK + 4096)))
                    .await?;
            }
        }
        new_heads.0.push(stream);
        new_heads.1.push(i64::try_from(seq).unwrap_or(i64::MAX));
        new_heads.2.push(head_hash);
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
            id: new_heads.0.first().map(|s| (*s).to_owned()).unwrap_or_default(),
            reason: format!("COPY stored {copied} rows of {rows}"),
        });
    }
    sqlx::query(
        "UPDATE audit_streams AS s SET head_seq = h.seq, head_hash = h.hash \
         FROM UNNEST($1::text[], $2::int8[], $3::text[]) AS h(stream, seq, hash) WHERE s.stream = h.stream",
    )
    .bind(&new_heads.0)
    .bind(&new_heads.1)
    .bind(&new_heads.2)
    .execute(&mut *conn)
    .await?;
    Ok(stored)
}

/// Appends `row` to `out` as one line of `COPY … FROM STDIN` text format, in
/// the order of [`COLUMNS`].
fn copy_row(out: &mut Vec<u8>, row: &EventRow) {
    fn text(out: &mut Vec<u8>, value: &str) {
        for &byte in value.as_bytes() {
            match byte {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                _ => out.push(byte),
            }
        }
    }
    fn optional(out: &mut Vec<u8>, value: Option<&str>) {
        match value {
            Some(value) => text(out, value),
            None => out.extend_from_slice(b"\\N"),
        }
    }
    fn display(out: &mut Vec<u8>, value: impl std::fmt::Display) {
        use std::io::Write as _;
        let _ = write!(out, "{value}");
    }
    let tab = |out: &mut Vec<u8>| out.push(b'\t');
    text(out, &row.id);
    tab(out);
    text(out, &row.stream);
    tab(out);
    display(out, row.seq);
    tab(out);
    text(out, &row.leaf_hash);
    tab(out);
    // RFC 3339 with microseconds and `Z`, which timestamptz reads exactly.
    display(out, row.occurred_at);
    tab(out);
    display(out, row.recorded_at);
    tab(out);
    optional(out, row.tenant_id.as_deref());
    for value in [&row.action, &row.category, &row.severity, &row.outcome] {
        tab(out);
        text(out, value);
    }
    tab(out);
    optional(out, row.reason.as_deref());
    tab(out);
    text(out, &row.actor_kind);
    tab(out);
    text(out, &row.actor_id);
    for value in [
        &row.actor_email,
        &row.actor_name,
        &row.target_type,
        &row.target_id,
        &row.target_name,
        &row.description,
        &row.client_ip,
        &row.request_id,
    ] {
        tab(out);
        optional(out, value.as_deref());
    }
    for flag in [row.truncated, row.lossy_utf8] {
        tab(out);
        out.push(if flag { b't' } else { b'f' });
    }
    tab(out);
    text(out, &row.actor);
    tab(out);
    optional(out, row.target.as_deref());
    tab(out);
    text(out, &row.targets);
    tab(out);
    text(out, &row.context);
    tab(out);
    optional(out, row.changes.as_deref());
    tab(out);
    text(out, &row.metadata);
    tab(out);
    text(out, &row.search_text);
    out.push(b'\n');
}

fn read_row(row: &PgRow) -> Result<EventRow, StoreError> {
    let id: Uuid = row.try_get("id")?;
    let occurred_at: DateTime<Utc> = row.try_get("occurred_at")?;
    let recorded_at: DateTime<Utc> = row.try_get("recorded_at")?;
    Ok(EventRow {
        id: id.to_string(),
        occurred_at: Timestamp::from_datetime(occurred_at),
        recorded_at: Timestamp::from_datetime(recorded_at),
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
    })
}

/// The store's cursor key, made on first use.
async fn cursor_key(pool: &PgPool) -> Result<CursorKey, StoreError> {
    let fresh = CursorKey::generate().map_err(|e| StoreError::Corrupt {
        id: CURSOR_KEY_NAME.to_owned(),
        reason: format!("no randomness for a new cursor key: {e}"),
    })?;
    sqlx::query("INSERT INTO audit_store_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(CURSOR_KEY_NAME)
        .bind(fresh)
        .execute(pool)
        .await?;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key FROM audit_store_keys WHERE name = $1")
        .bind(CURSOR_KEY_NAME)
        .fetch_one(pool)
        .await?;
    CursorKey::from_stored(&stored).ok_or_else(|| StoreError::Corrupt {
        id: CURSOR_KEY_NAME.to_owned(),
        reason: format!("the stored cursor key has {} bytes, not 32", stored.len()),
    })
}

/// How much denser than in the whole table a search's matches may be among
/// the rows passing its other filters (a tenant's, a time range's) before a
/// scan of the newest of those rows would fill a page the sample says it
/// will not.
const SCAN_MARGIN: f64 = 4.0;

/// Whether a free-text page should first scan the newest
/// [`sql::TEXT_SCAN_ROWS`] rows passing the other filters: when no trigram
/// narrows the search, or when the sampled share of rows holding the chosen
/// trigrams says such a scan could fill the page even with matches
/// [`SCAN_MARGIN`] times denser among them. A rarer search skips it (3 ms
/// of a 15 ms search for an actor's name on 1M events): the index lists its
/// rows.
fn scan_first(plan: &Plan, narrowing: Option<&Narrowing>) -> bool {
    narrowing.is_none_or(|n| n.share * sql::TEXT_SCAN_ROWS as f64 * SCAN_MARGIN >= f64::from(plan.limit) + 1.0)
}

/// PostgreSQL's side of the shared query SQL: `timestamptz` and `uuid`
/// columns, search by `LIKE` on the trigram-indexed `search_text`.
#[derive(Debug)]
struct PgDialect;

impl Dialect for PgDialect {
    type Db = Postgres;

    fn bind_text(query: &mut QueryBuilder<'static, Postgres>, value: String) {
        query.push_bind(value);
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
    /// what [`push_search_source`] chose, not for every trigram of every term.
    fn push_contains(query: &mut QueryBuilder<'static, Postgres>, term: &str) {
        query.push("strpos(search_text, ");
        query.push_bind(term.to_owned());
        query.push(") > 0");
    }
}

/// ` FROM audit_events WHERE …` with the conditions the trigram index
/// serves: `search_text LIKE` each trigram of `narrowing`, or without one
/// each whole term. The filters then check every whole term on the rows
/// this lists.
fn push_search_source(query: &mut QueryBuilder<'static, Postgres>, terms: &[String], narrowing: Option<&Narrowing>) {
    query.push(" FROM audit_events WHERE TRUE");
    let patterns = narrowing.map_or(terms, |n| &n.trigrams);
    for pattern in patterns {
        query.push(" AND search_text LIKE ");
        query.push_bind(text::like_contains(pattern));
    }
}
