//! [`PgStore`]: the production backend.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use audit_core::{AuditSink, Event, SinkError, Timestamp};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::{Connection, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::error::{StoreError, redact_url};
use crate::integrity::{Verifier, VerifyReport, seal};
use crate::migrations;
use crate::query::sql::{self, Dialect};
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
}

/// Rows per INSERT statement. UNNEST binds one array per column, so the
/// 65,535-parameter limit does not apply; this only bounds message size.
const INSERT_CHUNK: usize = 2_000;

/// Rows per page when verifying.
const VERIFY_PAGE: i64 = 1_000;

/// The columns of `audit_events` as read back: JSON columns as their text.
const SELECT_COLUMNS: &str = "id, stream, seq, leaf_hash, occurred_at, recorded_at, tenant_id, action, category, \
    severity, outcome, reason, actor_kind, actor_id, actor_email, actor_name, target_type, target_id, target_name, \
    description, client_ip, request_id, truncated, lossy_utf8, actor::text AS actor, target::text AS target, \
    targets::text AS targets, context::text AS context, changes::text AS changes, metadata::text AS metadata, \
    search_text";

/// One INSERT of a chunk of one stream's rows: a typed array per column
/// (stream and `recorded_at` are the same for every row), unnested into rows.
/// JSON travels as text and is cast to `jsonb` here.
static INSERT_SQL: LazyLock<String> = LazyLock::new(|| {
    debug_assert_eq!(COLUMNS.split(',').count(), COLUMN_COUNT);
    format!("INSERT INTO audit_events ({COLUMNS}) {INSERT_SELECT}")
});

/// The rows for [`INSERT_SQL`], in the order of [`COLUMNS`].
const INSERT_SELECT: &str = "SELECT id, $2::text, seq, leaf_hash, occurred_at, $6::timestamptz, tenant_id, action, \
    category, severity, outcome, reason, actor_kind, actor_id, actor_email, actor_name, target_type, target_id, \
    target_name, description, client_ip, request_id, truncated, lossy_utf8, actor::jsonb, target::jsonb, \
    targets::jsonb, context::jsonb, changes::jsonb, metadata::jsonb, search_text \
    FROM UNNEST($1::uuid[], $3::int8[], $4::text[], $5::timestamptz[], $7::text[], $8::text[], $9::text[], \
    $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], \
    $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::bool[], $24::bool[], $25::text[], \
    $26::text[], $27::text[], $28::text[], $29::text[], $30::text[], $31::text[]) \
    AS r(id, seq, leaf_hash, occurred_at, tenant_id, action, category, severity, outcome, reason, actor_kind, \
    actor_id, actor_email, actor_name, target_type, target_id, target_name, description, client_ip, request_id, \
    truncated, lossy_utf8, actor, target, targets, context, changes, metadata, search_text)";

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
        let options = options.options([("jit", "off")]);
        let pool = PgPoolOptions::new().connect_with(options).await?;
        migrations::migrator(migrations::POSTGRES).await?.run(&pool).await?;
        let cursor_key = cursor_key(&pool).await?;
        Ok(Self { pool, cursor_key })
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
    pub(crate) async fn fetch(&self, plan: &Plan) -> Result<Vec<Event>, StoreError> {
        let mut select = sql::page::<PgDialect>(plan, SELECT_COLUMNS);
        // Not a cached prepared statement: a generic plan (which PostgreSQL
        // settles on after five executions) cannot see the tenant or the
        // offset and was 8× slower on deep offsets in the benchmarks.
        let rows = select.build().persistent(false).fetch_all(&self.pool).await?;
        rows.iter().map(|row| read_row(row)?.into_event()).collect()
    }

    /// The actions of the events `query` selects (ignoring its action filter
    /// and page), with how many events each has, most frequent first.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    pub async fn action_counts(&self, query: &AuditQuery) -> Result<Vec<ActionCount>, StoreError> {
        let plan = query.plan(&self.cursor_key)?;
        let mut select = sql::action_counts::<PgDialect>(&plan);
        let rows: Vec<(String, String, i64)> = select.build_query_as().persistent(false).fetch_all(&self.pool).await?;
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
        let mut tx = self.pool.begin().await?;
        append(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl AuditSink for PgStore {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        self.write(batch).await.map_err(SinkError::from)
    }
}

/// Appends the events not stored yet, assigning each stream's next seqs.
///
/// Streams are handled in sorted order, each under a lock on its head row, so
/// two writers never deadlock and seqs are gapless; which events are already
/// stored is decided under that lock, so a retried batch racing its first
/// attempt is still stored once.
async fn append(conn: &mut PgConnection, batch: &[Event]) -> Result<Vec<Event>, StoreError> {
    // Duplicates within the batch: the first occurrence wins.
    let mut seen = HashSet::new();
    let mut by_stream: BTreeMap<String, Vec<&Event>> = BTreeMap::new();
    for event in batch {
        if seen.insert(event.id()) {
            by_stream.entry(event.stream()).or_default().push(event);
        }
    }
    let recorded_at = Timestamp::now();
    let mut stored = Vec::with_capacity(seen.len());
    for (stream, events) in by_stream {
        sqlx::query(
            "INSERT INTO audit_streams (stream, head_seq, head_hash) VALUES ($1, 0, '') \
             ON CONFLICT (stream) DO NOTHING",
        )
        .bind(&stream)
        .execute(&mut *conn)
        .await?;
        let head: i64 = sqlx::query_scalar("SELECT head_seq FROM audit_streams WHERE stream = $1 FOR UPDATE")
            .bind(&stream)
            .fetch_one(&mut *conn)
            .await?;
        // Under the lock: a concurrent attempt at the same events has
        // committed by now, and its rows are visible to this statement.
        let ids: Vec<Uuid> = events.iter().map(|e| e.id()).collect();
        let existing: HashSet<Uuid> = sqlx::query_scalar("SELECT id FROM audit_events WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        let mut seq = u64::try_from(head).unwrap_or(0);
        let mut rows = Vec::with_capacity(events.len());
        for event in events.into_iter().filter(|e| !existing.contains(&e.id())) {
            let mut sealed = event.clone();
            sealed.set_recorded_at(recorded_at);
            seq += 1;
            seal(&mut sealed, &stream, seq);
            rows.push(EventRow::from_event(&sealed));
            stored.push(sealed);
        }
        let Some(last) = rows.last() else { continue };
        let head_hash = last.leaf_hash.clone();
        for chunk in rows.chunks(INSERT_CHUNK) {
            insert(conn, &stream, recorded_at, chunk).await?;
        }
        sqlx::query("UPDATE audit_streams SET head_seq = $2, head_hash = $3 WHERE stream = $1")
            .bind(&stream)
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .bind(head_hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(stored)
}

/// One array per column of [`INSERT_SQL`].
#[derive(Default)]
struct Columns {
    id: Vec<Uuid>,
    seq: Vec<i64>,
    leaf_hash: Vec<String>,
    occurred_at: Vec<DateTime<Utc>>,
    tenant_id: Vec<Option<String>>,
    action: Vec<String>,
    category: Vec<String>,
    severity: Vec<String>,
    outcome: Vec<String>,
    reason: Vec<Option<String>>,
    actor_kind: Vec<String>,
    actor_id: Vec<String>,
    actor_email: Vec<Option<String>>,
    actor_name: Vec<Option<String>>,
    target_type: Vec<Option<String>>,
    target_id: Vec<Option<String>>,
    target_name: Vec<Option<String>>,
    description: Vec<Option<String>>,
    client_ip: Vec<Option<String>>,
    request_id: Vec<Option<String>>,
    truncated: Vec<bool>,
    lossy_utf8: Vec<bool>,
    actor: Vec<String>,
    target: Vec<Option<String>>,
    targets: Vec<String>,
    context: Vec<String>,
    changes: Vec<Option<String>>,
    metadata: Vec<String>,
    search_text: Vec<String>,
}

impl Columns {
    fn push(&mut self, row: &EventRow) -> Result<(), StoreError> {
        self.id.push(Uuid::parse_str(&row.id).map_err(|e| StoreError::Corrupt {
            id: row.id.clone(),
            reason: format!("not a UUID: {e}"),
        })?);
        self.seq.push(row.seq);
        self.leaf_hash.push(row.leaf_hash.clone());
        self.occurred_at.push(row.occurred_at.as_datetime());
        self.tenant_id.push(row.tenant_id.clone());
        self.action.push(row.action.clone());
        self.category.push(row.category.clone());
        self.severity.push(row.severity.clone());
        self.outcome.push(row.outcome.clone());
        self.reason.push(row.reason.clone());
        self.actor_kind.push(row.actor_kind.clone());
        self.actor_id.push(row.actor_id.clone());
        self.actor_email.push(row.actor_email.clone());
        self.actor_name.push(row.actor_name.clone());
        self.target_type.push(row.target_type.clone());
        self.target_id.push(row.target_id.clone());
        self.target_name.push(row.target_name.clone());
        self.description.push(row.description.clone());
        self.client_ip.push(row.client_ip.clone());
        self.request_id.push(row.request_id.clone());
        self.truncated.push(row.truncated);
        self.lossy_utf8.push(row.lossy_utf8);
        self.actor.push(row.actor.clone());
        self.target.push(row.target.clone());
        self.targets.push(row.targets.clone());
        self.context.push(row.context.clone());
        self.changes.push(row.changes.clone());
        self.metadata.push(row.metadata.clone());
        self.search_text.push(row.search_text.clone());
        Ok(())
    }
}

async fn insert(
    conn: &mut PgConnection,
    stream: &str,
    recorded_at: Timestamp,
    rows: &[EventRow],
) -> Result<(), StoreError> {
    let mut c = Columns::default();
    for row in rows {
        c.push(row)?;
    }
    // No ON CONFLICT: under the stream lock only an event id already used in
    // another stream can collide, and that must fail the batch rather than
    // advance the head past a row that was not written.
    sqlx::query(&INSERT_SQL)
        .bind(c.id)
        .bind(stream)
        .bind(c.seq)
        .bind(c.leaf_hash)
        .bind(c.occurred_at)
        .bind(recorded_at.as_datetime())
        .bind(c.tenant_id)
        .bind(c.action)
        .bind(c.category)
        .bind(c.severity)
        .bind(c.outcome)
        .bind(c.reason)
        .bind(c.actor_kind)
        .bind(c.actor_id)
        .bind(c.actor_email)
        .bind(c.actor_name)
        .bind(c.target_type)
        .bind(c.target_id)
        .bind(c.target_name)
        .bind(c.description)
        .bind(c.client_ip)
        .bind(c.request_id)
        .bind(c.truncated)
        .bind(c.lossy_utf8)
        .bind(c.actor)
        .bind(c.target)
        .bind(c.targets)
        .bind(c.context)
        .bind(c.changes)
        .bind(c.metadata)
        .bind(c.search_text)
        .execute(&mut *conn)
        .await?;
    Ok(())
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

    fn push_contains(query: &mut QueryBuilder<'static, Postgres>, term: &str) {
        query.push("search_text LIKE ");
        query.push_bind(text::like_contains(term));
    }
}
