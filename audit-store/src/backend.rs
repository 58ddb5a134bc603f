//! What differs between the two stores, and everything else written once
//! over it.
//!
//! A store is a [`Backend`]: SQLite and PostgreSQL each supply only what is
//! specific to their database (how a batch is appended, how a write
//! transaction begins, how the purge gate opens, how free text is found,
//! how values are bound), and [`Backend`]'s provided methods do the rest
//! once: writing a batch, `verify`, `purge`, `get`, `query`, `streams`,
//! `action_counts` and the cursor key. Fixed statements use `$1`-style
//! placeholders, which both databases read (sqlx's SQLite driver takes
//! `$N` as the Nth argument); statements assembled from a query's filters
//! are built with [`QueryBuilder`].
//!
//! This module sits below both backends and knows neither; the
//! [`Store`](crate::Store) enum sits above them. The public methods of
//! `SqliteStore`, `PgStore` and `Store` are stamped out by
//! [`store_methods!`], so they, too, are written once.

use std::collections::HashMap;
use std::sync::Arc;

use audit_core::{Event, Timestamp};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{
    ColumnIndex, Connection, Database, Decode, Encode, Executor, FromRow, IntoArguments, Pool, QueryBuilder, Row, Type,
};
use uuid::Uuid;

use crate::catalogue::CatalogueRow;
use crate::error::StoreError;
use crate::integrity::{PreparedRow, Problem, Verifier, VerifyReport, from_hex, prepare_rows};
use crate::merkle::{self, Hash, Node, ProofError};
use crate::personal::{
    self, Erasure, ErasureReport, KeyState, Keys, LegalHold, PersonalData, SubjectKey, Subjects, sealed_subjects,
};
use crate::query::{ActionCount, AuditQuery, CURSOR_KEY_NAME, CursorKey, Page, Plan, sql};
use crate::retention::{Purge, PurgeOutcome, PurgeReport};
use crate::row::{EventRow, StoredId};
use crate::stream::{Appended, DestinationRow, StreamPosition};
use crate::tree::tiles::{self, Hashes, Read};
use crate::tree::{
    CHECKPOINT_COLUMNS, CheckpointRow, Frontier, InclusionProof, Replay, SignedCheckpoint, StoredNode, StreamTree,
    TILE_HEIGHT, TreeHead,
};

/// Rows per page when verifying (and building a tree from stored leaves).
const VERIFY_PAGE: i64 = 1_000;

/// A row of `audit_legal_holds` (tenant_id, reason, placed_by, placed_at).
fn legal_hold_of<'r, R: Row>(row: &'r R) -> Result<LegalHold, StoreError>
where
    (String, String, String, i64): FromRow<'r, R>,
{
    let (tenant, reason, placed_by, placed_at) = <(String, String, String, i64)>::from_row(row)?;
    Ok(LegalHold {
        tenant,
        reason,
        placed_by,
        placed_at: Timestamp::from_unix_micros(placed_at).unwrap_or_else(Timestamp::now),
    })
}

/// Subjects per key-table statement.
const KEY_CHUNK: usize = 500;

/// Tree nodes per `INSERT`: 4 values each.
const TREE_INSERT_CHUNK: usize = 1_000;

/// How a backend spells values and search terms in the SQL of a query,
/// which `query::sql` writes once for both.
pub(crate) trait Dialect {
    /// The sqlx database.
    type Db: Database;
    /// Binds a text value.
    fn bind_text(query: &mut QueryBuilder<'static, Self::Db>, value: String);
    /// Binds an integer.
    fn bind_int(query: &mut QueryBuilder<'static, Self::Db>, value: i64);
    /// Binds a time as the `occurred_at` column holds it.
    fn bind_time(query: &mut QueryBuilder<'static, Self::Db>, at: Timestamp);
    /// Binds an event id as the `id` column holds it.
    fn bind_id(query: &mut QueryBuilder<'static, Self::Db>, id: Uuid);
    /// A condition that holds when the row's `search_text` contains `term`
    /// (already lowercased).
    fn push_contains(query: &mut QueryBuilder<'static, Self::Db>, term: &str);
    /// `<column> IN (<values>)`, `values` not empty. PostgreSQL binds them
    /// as one array (`= ANY($1)`): one statement, planned once, whatever
    /// their number.
    fn push_text_in(query: &mut QueryBuilder<'static, Self::Db>, column: &str, values: &[String]) {
        query.push(format_args!("{column} IN ("));
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            Self::bind_text(query, value.clone());
        }
        query.push(")");
    }
}

/// The rows of a backend's database, as sqlx hands them over.
pub(crate) type RowOf<B> = <<B as Dialect>::Db as Database>::Row;

/// A connection of a backend's database.
pub(crate) type ConnectionOf<B> = <<B as Dialect>::Db as Database>::Connection;

/// How many streams one purge transaction cuts: the heads it locks wait
/// for its commit, and one commit (an fsync) serves them all.
pub(crate) const PURGE_STREAMS_PER_TRANSACTION: usize = 64;

/// Where a purge cut one stream.
pub(crate) struct StreamCut {
    /// How many events went.
    removed: u64,
    /// The stream's new base.
    through_seq: u64,
    /// The leaf hash at the new base.
    through_hash: String,
}

/// A store over one database: what differs, and the operations written once.
///
/// The `where` clauses say what sqlx must offer for the provided methods
/// (executing on a connection, decoding rows and the few scalar types);
/// both backends offer all of it. They are spelled here once: the trait is
/// only ever used with a concrete store, never as a generic bound.
pub(crate) trait Backend: Dialect + Sized + Send + Sync
where
    for<'c> &'c mut ConnectionOf<Self>: Executor<'c, Database = Self::Db>,
    for<'q> <Self::Db as Database>::Arguments<'q>: IntoArguments<'q, Self::Db>,
    for<'r> EventRow: FromRow<'r, RowOf<Self>>,
    for<'r> CheckpointRow: FromRow<'r, RowOf<Self>>,
    usize: ColumnIndex<RowOf<Self>>,
    &'static str: ColumnIndex<RowOf<Self>>,
    StoredId: Type<Self::Db> + for<'r> Decode<'r, Self::Db>,
    i64: Type<Self::Db> + for<'q> Encode<'q, Self::Db> + for<'r> Decode<'r, Self::Db>,
    String: Type<Self::Db> + for<'q> Encode<'q, Self::Db> + for<'r> Decode<'r, Self::Db>,
    Vec<u8>: Type<Self::Db> + for<'q> Encode<'q, Self::Db> + for<'r> Decode<'r, Self::Db>,
    ConnectionOf<Self>: Migrate,
{
    /// Begins a transaction that writes events: it must keep two writers
    /// from taking the same seqs (SQLite takes its write lock up front;
    /// PostgreSQL locks the streams' head rows as it goes).
    const BEGIN_WRITE: &'static str;
    /// Begins the transaction `verify` reads one consistent snapshot in.
    const BEGIN_READ: &'static str;
    /// Appended to the purge's read of a stream's head row, to lock it
    /// where the transaction has not locked everything already.
    const LOCK_HEAD: &'static str;
    /// Opens the gate the append-only triggers let a purge's `DELETE`
    /// through, for the rest of the transaction or until closed.
    const OPEN_PURGE_GATE: &'static str;
    /// Closes that gate again.
    const CLOSE_PURGE_GATE: &'static str;
    /// Run first in a purge's transaction, if any: PostgreSQL is told to
    /// plan each of the purge's per-stream statements once (a generic plan,
    /// its partitions pruned as it starts) instead of planning every
    /// partition again for every stream.
    const PLAN_PURGE_ONCE: Option<&'static str>;
    /// Appended to `ORDER BY stream` so streams sort by bytes whatever the
    /// database's locale.
    const BY_BYTES: &'static str;
    /// The backend's migrations.
    const MIGRATOR: &'static Migrator;

    /// What a free-text search needs to know before its SQL is written (a
    /// backend's choice of trigrams, say); built by [`text_source`](Self::text_source).
    type TextSource: Send + Sync;

    /// The store's connection pool.
    fn pool(&self) -> &Pool<Self::Db>;

    /// The key this store signs its cursors with.
    fn cursor_key(&self) -> &CursorKey;

    /// Told after each batch this store wrote, so stream sinks in this
    /// process deliver at once instead of at their next poll.
    fn appended(&self) -> &Appended;

    /// What this store seals as personal data, if anything
    /// ([`PersonalData`]); `None` stores events as they come.
    fn personal(&self) -> Option<&Arc<PersonalData>>;

    /// The column list of a `SELECT` that reads whole events, in the form
    /// [`EventRow`] decodes.
    fn select_columns() -> &'static str;

    /// Runs a statement built with [`QueryBuilder`] on `conn` and returns
    /// its rows. The one execution each backend spells out: a builder's
    /// arguments live as long as the builder, and only sqlx's concrete
    /// argument types let a shorter borrow of it run the statement.
    async fn fetch_built_in(
        conn: &mut ConnectionOf<Self>,
        query: QueryBuilder<'static, Self::Db>,
    ) -> Result<Vec<RowOf<Self>>, StoreError>;

    /// Appends the events of `batch` not stored yet, inside the caller's
    /// transaction, assigning each stream's next seqs; returns the events
    /// as stored.
    async fn append(conn: &mut ConnectionOf<Self>, batch: &[Event]) -> Result<Vec<Event>, StoreError>;

    /// The rows (up to `limit + 1`) of one page of a plan without search
    /// terms.
    async fn fetch_page(&self, plan: &Plan) -> Result<Vec<RowOf<Self>>, StoreError> {
        self.fetch_built(sql::page::<Self>(plan, Self::select_columns())).await
    }

    /// The rows (up to `limit + 1`) of one page of a plan with search
    /// terms, found the backend's cheapest way.
    async fn fetch_text(&self, plan: &Plan) -> Result<Vec<RowOf<Self>>, StoreError>;

    /// Whether new events are indexed for free-text search (see
    /// [`set_search_index`](Self::set_search_index)).
    async fn search_index(&self) -> Result<bool, StoreError>;

    /// Turns the free-text search index off (dropped: appends stop
    /// maintaining it) or on (rebuilt over every stored event in one
    /// statement, then maintained by appends again). Searches give the
    /// same answers either way; without the index they read the rows.
    async fn set_search_index(&self, on: bool) -> Result<(), StoreError>;

    /// Prepares [`push_text_source`](Self::push_text_source) for `plan`.
    async fn text_source(&self, plan: &Plan) -> Result<Self::TextSource, StoreError>;

    /// ` FROM … WHERE <condition>` naming `audit_events`: the rows that may
    /// hold `plan`'s search terms (every row when it has none), through the
    /// backend's search index. The terms are then checked on those rows.
    fn push_text_source(query: &mut QueryBuilder<'static, Self::Db>, plan: &Plan, source: &Self::TextSource);

    /// Decodes a row of [`select_columns`](Self::select_columns). A column
    /// that cannot be read back (a time out of range, say) is reported as
    /// [`StoreError::Corrupt`] naming the event, as any other unreadable
    /// row is.
    fn decode_row(row: &RowOf<Self>) -> Result<EventRow, StoreError> {
        EventRow::from_row(row).map_err(|error| match error {
            sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt {
                id: row.try_get::<StoredId, _>("id").map(String::from).unwrap_or_default(),
                reason: format!("column {index}: {source}"),
            },
            other => StoreError::Database(other),
        })
    }

    /// As [`fetch_built_in`](Self::fetch_built_in), on a pooled connection.
    async fn fetch_built(&self, query: QueryBuilder<'static, Self::Db>) -> Result<Vec<RowOf<Self>>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        Self::fetch_built_in(&mut conn, query).await
    }

    /// Writes `batch` in one transaction.
    async fn write(&self, batch: &[Event]) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        let written = async {
            let mut tx = conn.begin_with(Self::BEGIN_WRITE).await?;
            let sealed = self.seal_batch_in(&mut tx, batch).await?;
            Self::append(&mut tx, sealed.as_deref().unwrap_or(batch)).await?;
            tx.commit().await?;
            self.appended().notify();
            Ok(())
        }
        .await;
        if written.is_err() {
            // SQLite rolls a transaction back by itself on some errors
            // (SQLITE_FULL, SQLITE_IOERR); sqlx's ROLLBACK then fails and
            // leaves the connection believing a transaction is still open,
            // so every later BEGIN on it failed without touching the disk.
            // On PostgreSQL the server may have restarted or the socket
            // broken. A connection that saw a failed write is closed, not
            // handed to the next write.
            conn.close_on_drop();
        }
        written
    }

    /// Recomputes every hash of `stream`, checks its seqs and rebuilds its
    /// tree, in one read transaction: rows written meanwhile neither appear
    /// past the head nor count as missing. The rebuilt tree must have the
    /// root of each of `checkpoints` at its size.
    async fn verify(&self, stream: &str, checkpoints: &[TreeHead]) -> Result<VerifyReport, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin_with(Self::BEGIN_READ).await?;
        let head: Option<(i64, i64, String, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT head_seq, base_seq, base_hash, tree_frontier FROM audit_streams WHERE stream = $1")
                .bind(stream.to_owned())
                .fetch_optional(&mut *tx)
                .await?;
        let (head, base_seq, base_hash, frontier) = head.unwrap_or((0, 0, String::new(), Some(Vec::new())));
        let tree = StreamTree::from_head(stream, Some((head, frontier)))?;
        let base = u64::try_from(base_seq).unwrap_or(0);
        let replay = match tree.frontier {
            Some(_) => Some(Self::replay_from(&mut tx, stream, base, checkpoints).await?),
            None if checkpoints.is_empty() => None,
            None => return Err(tree.refuse(ProofError::NoTree)),
        };
        let mut verifier = Verifier::new(stream, base, base_hash, replay);
        // Pages are ranges of seqs, not "the next 1,000 after": with
        // `seq > $2 ... LIMIT` alone PostgreSQL may plan each page as a
        // bitmap scan of every later row and a sort (it did, on a table not
        // yet analysed), which makes verify quadratic. Past the head the
        // range is open, so rows that should not exist are still read (and
        // reported).
        let page = format!(
            "SELECT {} FROM audit_events WHERE stream = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
            Self::select_columns()
        );
        // Pipelined: while the blocking pool prepares one page (rebuilds
        // events, hashes them, across cores), the next one is read; the
        // verifier then takes the rows in seq order.
        let mut after = Some(base_seq);
        let mut preparing: Option<tokio::task::JoinHandle<Vec<Result<PreparedRow, StoreError>>>> = None;
        loop {
            let mut decoded = Vec::new();
            if let Some(from) = after {
                let upto = if from.saturating_add(VERIFY_PAGE) < head {
                    from + VERIFY_PAGE
                } else {
                    i64::MAX
                };
                let rows = sqlx::query(&page)
                    .bind(stream.to_owned())
                    .bind(from)
                    .bind(upto)
                    .bind(VERIFY_PAGE)
                    .fetch_all(&mut *tx)
                    .await?;
                decoded = rows
                    .iter()
                    .map(Self::decode_row)
                    .collect::<Vec<Result<EventRow, StoreError>>>();
                after = match decoded.last() {
                    // A row that cannot be read ends the reading; the
                    // verifier reports it in its turn.
                    Some(Err(_)) => None,
                    _ if upto < i64::MAX => Some(upto),
                    Some(Ok(row)) => Some(row.seq),
                    None => None,
                };
            }
            if let Some(prepared) = preparing.take() {
                let prepared = prepared
                    .await
                    .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
                for row in prepared {
                    if !verifier.check(row?) {
                        tx.commit().await?;
                        return Ok(verifier.finish(tree.head, tree.frontier.as_ref()));
                    }
                }
            }
            if decoded.is_empty() {
                if after.is_none() {
                    break;
                }
                // A range with no rows (removed behind the store's back):
                // the verifier sees the gap at the next row it gets.
                continue;
            }
            preparing = Some(tokio::task::spawn_blocking(move || prepare_rows(decoded)));
        }
        tx.commit().await?;
        Ok(verifier.finish(tree.head, tree.frontier.as_ref()))
    }

    /// What rebuilding `stream`'s tree from the events after `base` starts
    /// from: the tree of the purged leaves (folded from what the purges
    /// kept) and the subtrees the store keeps, to check.
    async fn replay_from(
        conn: &mut ConnectionOf<Self>,
        stream: &str,
        base: u64,
        checkpoints: &[TreeHead],
    ) -> Result<Replay, StoreError> {
        let start = match Self::frontier_at(conn, stream, base).await {
            Ok(start) => start,
            // The base was moved past leaves no purge kept the subtrees of.
            Err(StoreError::Corrupt { .. }) => {
                return Ok(Replay::unbuildable(Problem::TreeMismatch {
                    first_seq: 1,
                    last_seq: base,
                }));
            }
            Err(error) => return Err(error),
        };
        let stored = Self::stored_subtrees(conn, stream).await?;
        let checkpoints = checkpoints.iter().map(|head| (head.size, head.root)).collect();
        Ok(Replay::new(start, stored, checkpoints))
    }

    /// The subtrees `stream`'s tree keeps at stored levels (what purges
    /// kept below the first stored level left out). A malformed row reads
    /// as a node no tree has, or a zero hash, so it disagrees with any
    /// rebuilt tree rather than stopping the reading.
    async fn stored_subtrees(conn: &mut ConnectionOf<Self>, stream: &str) -> Result<HashMap<Node, Hash>, StoreError> {
        let stored: Vec<(i64, i64, Vec<u8>)> =
            sqlx::query_as("SELECT level, idx, hash FROM audit_tree_nodes WHERE stream = $1 AND level >= $2")
                .bind(stream.to_owned())
                .bind(i64::from(TILE_HEIGHT))
                .fetch_all(&mut *conn)
                .await?;
        Ok(stored
            .into_iter()
            .map(|(level, index, hash)| {
                let node = Node {
                    level: u8::try_from(level).unwrap_or(u8::MAX),
                    index: u64::try_from(index).unwrap_or(u64::MAX),
                };
                (node, Hash::try_from(hash.as_slice()).unwrap_or_default())
            })
            .collect())
    }

    /// The frontier of `stream`'s tree of its first `base` leaves, from
    /// the stored subtrees (and what purges kept of removed leaves).
    async fn frontier_at(conn: &mut ConnectionOf<Self>, stream: &str, base: u64) -> Result<Frontier, StoreError> {
        let nodes = merkle::frontier(base);
        let mut hashes = Self::tree_hashes(conn, stream, base, &nodes).await?;
        let start = nodes
            .into_iter()
            .map(|node| hashes.resolve(node).unwrap_or_default())
            .collect();
        Frontier::from_hashes(base, start).map_err(|error| StoreError::Corrupt {
            id: stream.to_owned(),
            reason: error.to_string(),
        })
    }

    /// One page of the events `query` selects, newest first.
    async fn query(&self, query: &AuditQuery) -> Result<Page, StoreError> {
        let plan = query.plan(self.cursor_key())?;
        let events = self.fetch(&plan).await?;
        let mut page = plan.page(events, self.cursor_key());
        self.open_events(&mut page.events).await?;
        Ok(page)
    }

    /// The rows of one page of `plan` (up to `limit + 1`), as events.
    async fn fetch(&self, plan: &Plan) -> Result<Vec<Event>, StoreError> {
        let rows = if plan.terms.is_empty() {
            self.fetch_page(plan).await?
        } else {
            self.fetch_text(plan).await?
        };
        rows.iter().map(|row| Self::decode_row(row)?.to_event()).collect()
    }

    /// The event with this id, if stored, whatever its tenant.
    async fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        let mut event = self.get_sealed(id).await?;
        if let Some(event) = &mut event {
            self.open_events(std::slice::from_mut(event)).await?;
        }
        Ok(event)
    }

    /// As [`get`](Self::get), personal values left sealed as hashed.
    async fn get_sealed(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        Self::get_in(&mut conn, id).await
    }

    /// As [`get`](Self::get), on the caller's connection.
    async fn get_in(conn: &mut ConnectionOf<Self>, id: Uuid) -> Result<Option<Event>, StoreError> {
        let mut query = QueryBuilder::new(format!(
            "SELECT {} FROM audit_events WHERE id = ",
            Self::select_columns()
        ));
        Self::bind_id(&mut query, id);
        let rows = Self::fetch_built_in(conn, query).await?;
        rows.first().map(|row| Self::decode_row(row)?.to_event()).transpose()
    }

    /// The actions of the events `query` selects (ignoring its action filter
    /// and page), with how many events each has, most frequent first.
    async fn action_counts(&self, query: &AuditQuery) -> Result<Vec<ActionCount>, StoreError> {
        let plan = query.plan(self.cursor_key())?;
        let source = self.text_source(&plan).await?;
        let select = sql::action_counts::<Self>(&plan, |query| Self::push_text_source(query, &plan, &source));
        let rows = self.fetch_built(select).await?;
        rows.iter()
            .map(|row| ActionCount::from_row(<(String, String, i64)>::from_row(row)?))
            .collect()
    }

    /// Every stream that has events, sorted by bytes.
    async fn streams(&self) -> Result<Vec<String>, StoreError> {
        let select = format!(
            "SELECT stream FROM audit_streams WHERE head_seq > 0 ORDER BY stream{}",
            Self::BY_BYTES
        );
        Ok(sqlx::query_scalar(&select).fetch_all(self.pool()).await?)
    }

    /// Removes the events `purge` selects, stream by stream, in
    /// transactions of up to [`PURGE_STREAMS_PER_TRANSACTION`] streams that
    /// also record each stream's `audit.purged` event (see [`Purge`]); then
    /// retires what is wholly older than the latest cut
    /// ([`retire_before`](Self::retire_before)). Streams with nothing to
    /// remove are left alone and not reported; streams purged before an
    /// error stay purged.
    async fn purge(&self, purge: &Purge) -> Result<PurgeOutcome, StoreError> {
        purge.check()?;
        let now = Timestamp::now();
        let streams: Vec<(String, Timestamp)> = purge
            .streams(self.streams().await?)
            .into_iter()
            .filter_map(|stream| purge.before_for(&stream, now).map(|before| (stream, before)))
            .collect();
        let mut outcome = PurgeOutcome::default();
        // Streams come sorted by bytes, the order appends lock heads in.
        for chunk in streams.chunks(PURGE_STREAMS_PER_TRANSACTION) {
            let mut conn = self.pool().acquire().await?;
            let mut tx = conn.begin_with(Self::BEGIN_WRITE).await?;
            if let Some(plan_once) = Self::PLAN_PURGE_ONCE {
                sqlx::query(plan_once).execute(&mut *tx).await?;
            }
            let mut cuts = Vec::new();
            for (stream, before) in chunk {
                if let Some(cut) = Self::cut_stream(&mut tx, stream, *before).await? {
                    cuts.push((stream, *before, cut));
                }
            }
            // Every purge event of the transaction in one append.
            let events: Vec<Event> = cuts
                .iter()
                .map(|(stream, before, cut)| {
                    purge.event(stream, *before, cut.removed, cut.through_seq, &cut.through_hash)
                })
                .collect();
            let mut stored: HashMap<String, Event> = Self::append(&mut tx, &events)
                .await?
                .into_iter()
                .map(|event| (event.stream(), event))
                .collect();
            tx.commit().await?;
            for (stream, _, cut) in cuts {
                if let Some(event) = stored.remove(stream.as_str()) {
                    outcome.streams.push(PurgeReport::new(
                        stream.clone(),
                        cut.removed,
                        cut.through_seq,
                        cut.through_hash,
                        event,
                    ));
                }
            }
        }
        if let Some(latest_cut) = streams.iter().map(|(_, before)| *before).max() {
            self.retire_before(latest_cut, &mut outcome).await?;
        }
        Ok(outcome)
    }

    /// Cuts `stream` before `before` inside the purge's transaction: moves
    /// its base past its oldest run of events that occurred before then,
    /// keeps what proofs need of them, and deletes them (or leaves them to
    /// [`retire_before`](Self::retire_before)); `None` when there is
    /// nothing to cut.
    async fn cut_stream(
        conn: &mut ConnectionOf<Self>,
        stream: &str,
        before: Timestamp,
    ) -> Result<Option<StreamCut>, StoreError> {
        let lock_head = format!(
            "SELECT head_seq, base_seq FROM audit_streams WHERE stream = $1{}",
            Self::LOCK_HEAD
        );
        let (head, base): (i64, i64) = sqlx::query_as(&lock_head)
            .bind(stream.to_owned())
            .fetch_one(&mut *conn)
            .await?;
        let mut first_kept = QueryBuilder::new("SELECT seq FROM audit_events WHERE stream = ");
        first_kept
            .push_bind(stream.to_owned())
            .push(" AND seq > ")
            .push_bind(base);
        first_kept.push(" AND occurred_at >= ");
        Self::bind_time(&mut first_kept, before);
        first_kept.push(" ORDER BY seq LIMIT 1");
        let first_kept = Self::fetch_built_in(conn, first_kept).await?;
        let first_kept: Option<i64> = first_kept.first().map(|row| row.try_get(0)).transpose()?;
        let cut = first_kept.map_or(head, |seq| seq - 1);
        if cut <= base {
            return Ok(None);
        }
        // Every event from the base to the cut occurred before `before`
        // (the first that did not is the first kept): a bound on the time
        // that spares PostgreSQL the later partitions.
        let mut through_hash = QueryBuilder::new("SELECT leaf_hash FROM audit_events WHERE stream = ");
        through_hash
            .push_bind(stream.to_owned())
            .push(" AND seq = ")
            .push_bind(cut);
        through_hash.push(" AND occurred_at < ");
        Self::bind_time(&mut through_hash, before);
        let through_hash = Self::fetch_built_in(conn, through_hash).await?;
        let through_hash: String = through_hash
            .first()
            .map(|row| row.try_get(0))
            .transpose()?
            .ok_or_else(|| StoreError::Corrupt {
                id: stream.to_owned(),
                reason: format!("the event at seq {cut}, where a purge cuts, is missing"),
            })?;
        Self::keep_purged_subtrees(conn, stream, u64::try_from(cut).unwrap_or(0)).await?;
        // The base moves first: the triggers let a DELETE through only
        // for rows at or below it, and only with the gate open.
        sqlx::query("UPDATE audit_streams SET base_seq = $2, base_hash = $3 WHERE stream = $1")
            .bind(stream.to_owned())
            .bind(cut)
            .bind(through_hash.clone())
            .execute(&mut *conn)
            .await?;
        sqlx::query(Self::OPEN_PURGE_GATE).execute(&mut *conn).await?;
        Self::delete_purged(conn, stream, cut, before).await?;
        sqlx::query(Self::CLOSE_PURGE_GATE).execute(&mut *conn).await?;
        // Seqs are gapless and every one above the old base was stored
        // (verify checks both): the cut removes exactly these, whether
        // deleted now or dropped with their partition later.
        Ok(Some(StreamCut {
            removed: u64::try_from(cut - base).unwrap_or(0),
            through_seq: u64::try_from(cut).unwrap_or(0),
            through_hash,
        }))
    }

    /// Deletes `stream`'s events at or below `cut`, in the purge's
    /// transaction with the gate open; a backend that drops whole
    /// partitions in [`retire_before`](Self::retire_before) leaves the rows
    /// of those that occurred before the partition `before` falls in.
    async fn delete_purged(
        conn: &mut ConnectionOf<Self>,
        stream: &str,
        cut: i64,
        _before: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM audit_events WHERE stream = $1 AND seq <= $2")
            .bind(stream.to_owned())
            .bind(cut)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// After a purge's streams: removes the events at or below their
    /// stream's base that [`delete_purged`](Self::delete_purged) left,
    /// which are all older than the partition `latest_cut` falls in, and
    /// says how in `outcome`. Nothing to do where every row was deleted.
    async fn retire_before(&self, _latest_cut: Timestamp, _outcome: &mut PurgeOutcome) -> Result<(), StoreError> {
        Ok(())
    }

    /// Stores perfect subtrees an append completed (new nodes: never
    /// stored before, so no conflict is possible).
    async fn insert_tree_nodes(conn: &mut ConnectionOf<Self>, nodes: &[StoredNode]) -> Result<(), StoreError> {
        for chunk in nodes.chunks(TREE_INSERT_CHUNK) {
            let mut insert = QueryBuilder::new("INSERT INTO audit_tree_nodes (stream, level, idx, hash) ");
            insert.push_values(chunk, |mut values, stored| {
                values
                    .push_bind(stored.stream.clone())
                    .push_bind(i64::from(stored.node.level))
                    .push_bind(i64::try_from(stored.node.index).unwrap_or(i64::MAX))
                    .push_bind(stored.hash.to_vec());
            });
            Self::fetch_built_in(conn, insert).await?;
        }
        Ok(())
    }

    /// The tree of `stream` as its head row records it.
    async fn stream_tree(conn: &mut ConnectionOf<Self>, stream: &str) -> Result<StreamTree, StoreError> {
        let head: Option<(i64, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT head_seq, tree_frontier FROM audit_streams WHERE stream = $1")
                .bind(stream.to_owned())
                .fetch_optional(&mut *conn)
                .await?;
        StreamTree::from_head(stream, head)
    }

    /// Reads the stored hashes `reads` name into `hashes`: each range of
    /// leaves in a statement of its own (a proof has at most two), every
    /// range of nodes in one statement (a UNION ALL of key ranges).
    async fn read_tree(
        conn: &mut ConnectionOf<Self>,
        stream: &str,
        reads: impl IntoIterator<Item = Read>,
        hashes: &mut Hashes,
    ) -> Result<(), StoreError> {
        let corrupt = |what: String| StoreError::Corrupt {
            id: stream.to_owned(),
            reason: what,
        };
        let int = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        // One SELECT per range joined by UNION ALL, not ranges OR'ed under
        // one WHERE: SQLite plans an OR of ranges as a scan of the whole
        // stream's nodes, but each SELECT of the union as a key range.
        let mut nodes = QueryBuilder::new("");
        let mut node_ranges = 0;
        for read in reads {
            match read {
                Read::Leaves { from, to } => {
                    let rows: Vec<(i64, String)> = sqlx::query_as(
                        "SELECT seq, leaf_hash FROM audit_events WHERE stream = $1 AND seq > $2 AND seq <= $3",
                    )
                    .bind(stream.to_owned())
                    .bind(int(from))
                    .bind(int(to))
                    .fetch_all(&mut *conn)
                    .await?;
                    for (seq, hex) in rows {
                        let hash =
                            from_hex(&hex).ok_or_else(|| corrupt(format!("seq {seq} has a malformed leaf hash")))?;
                        let index = u64::try_from(seq - 1).unwrap_or(0);
                        hashes.insert(Node { level: 0, index }, hash);
                    }
                }
                Read::Nodes { level, from, to } => {
                    if node_ranges > 0 {
                        nodes.push(" UNION ALL ");
                    }
                    node_ranges += 1;
                    nodes.push("SELECT level, idx, hash FROM audit_tree_nodes WHERE stream = ");
                    Self::bind_text(&mut nodes, stream.to_owned());
                    nodes.push(" AND level = ");
                    Self::bind_int(&mut nodes, i64::from(level));
                    nodes.push(" AND idx >= ");
                    Self::bind_int(&mut nodes, int(from));
                    nodes.push(" AND idx < ");
                    Self::bind_int(&mut nodes, int(to));
                }
            }
        }
        if node_ranges == 0 {
            return Ok(());
        }
        for row in Self::fetch_built_in(conn, nodes).await? {
            let (level, index, hash): (i64, i64, Vec<u8>) = sqlx::FromRow::from_row(&row)?;
            let level = u8::try_from(level).map_err(|_| corrupt(format!("tree node level {level} out of range")))?;
            let hash = Hash::try_from(hash.as_slice())
                .map_err(|_| corrupt(format!("tree node {level}/{index} is not 32 bytes")))?;
            let index = u64::try_from(index).unwrap_or(0);
            hashes.insert(Node { level, index }, hash);
        }
        Ok(())
    }

    /// The hashes of `nodes`, perfect subtrees of the tree of `stream`'s
    /// first `size` leaves, from the tiles under them (and what purges kept
    /// of removed leaves).
    async fn tree_hashes(
        conn: &mut ConnectionOf<Self>,
        stream: &str,
        size: u64,
        nodes: &[Node],
    ) -> Result<Hashes, StoreError> {
        let mut hashes = Hashes::default();
        Self::read_tree(conn, stream, tiles::reads(nodes, size), &mut hashes).await?;
        let missing = hashes.unresolved(nodes);
        if !missing.is_empty() {
            Self::read_tree(conn, stream, tiles::purged_reads(&missing, size), &mut hashes).await?;
            if let Some(node) = hashes.unresolved(&missing).first() {
                return Err(StoreError::Corrupt {
                    id: stream.to_owned(),
                    reason: format!(
                        "the stored tree lacks what hashes leaves {}..{}",
                        node.first_leaf(),
                        node.first_leaf() + node.leaves()
                    ),
                });
            }
        }
        Ok(hashes)
    }

    /// The root of the tree of `stream`'s first `size` leaves.
    async fn tree_root_in(conn: &mut ConnectionOf<Self>, tree: &StreamTree, size: u64) -> Result<Hash, StoreError> {
        tree.check_size(size)?;
        if size == tree.head {
            return Ok(tree.frontier()?.root());
        }
        let nodes = merkle::root_nodes(size);
        let mut hashes = Self::tree_hashes(conn, &tree.stream, size, &nodes).await?;
        Ok(merkle::root_of(size, |node| hashes.resolve(node).unwrap_or_default()))
    }

    /// The tree head of `stream` (its size and root), or of its first
    /// `size` leaves.
    async fn tree_head(&self, stream: &str, size: Option<u64>) -> Result<TreeHead, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin_with(Self::BEGIN_READ).await?;
        let tree = Self::stream_tree(&mut tx, stream).await?;
        let size = size.unwrap_or(tree.head);
        let root = Self::tree_root_in(&mut tx, &tree, size).await?;
        tx.commit().await?;
        Ok(TreeHead {
            stream: stream.to_owned(),
            size,
            root,
        })
    }

    /// The inclusion proof of event `id` in its stream's tree of
    /// `tree_size` leaves (the head's when `None`); `None` when no event
    /// has that id.
    async fn inclusion_proof(&self, id: Uuid, tree_size: Option<u64>) -> Result<Option<InclusionProof>, StoreError> {
        // One read transaction for the event and its path: a proof is a
        // handful of small reads, and each extra connection or transaction
        // would cost as much as one of them.
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin_with(Self::BEGIN_READ).await?;
        let Some(event) = Self::get_in(&mut tx, id).await? else {
            return Ok(None);
        };
        let Some(integrity) = event.integrity().cloned() else {
            return Err(StoreError::Corrupt {
                id: id.to_string(),
                reason: "the stored event has no stream or seq".to_owned(),
            });
        };
        let leaf_index = integrity.seq.saturating_sub(1);
        let (tree_size, mut paths) = Self::audit_paths_in(&mut tx, &integrity.stream, tree_size, &[leaf_index]).await?;
        tx.commit().await?;
        let audit_path = paths.pop().unwrap_or_default();
        Ok(Some(InclusionProof {
            event,
            leaf_index,
            tree_size,
            audit_path,
        }))
    }

    /// The audit paths of leaves `leaf_indexes` of `stream`'s tree of
    /// `tree_size` leaves (the head's when `None`), in one read transaction
    /// that reads each tile they share once; with the tree size used.
    async fn audit_paths(
        &self,
        stream: &str,
        tree_size: Option<u64>,
        leaf_indexes: &[u64],
    ) -> Result<(u64, Vec<Vec<Hash>>), StoreError> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin_with(Self::BEGIN_READ).await?;
        let paths = Self::audit_paths_in(&mut tx, stream, tree_size, leaf_indexes).await?;
        tx.commit().await?;
        Ok(paths)
    }

    /// As [`audit_paths`](Self::audit_paths), in the caller's transaction.
    async fn audit_paths_in(
        conn: &mut ConnectionOf<Self>,
        stream: &str,
        tree_size: Option<u64>,
        leaf_indexes: &[u64],
    ) -> Result<(u64, Vec<Vec<Hash>>), StoreError> {
        let tree = Self::stream_tree(conn, stream).await?;
        let tree_size = tree_size.unwrap_or(tree.head);
        tree.check_size(tree_size)?;
        if let Some(&index) = leaf_indexes.iter().find(|&&index| index >= tree_size) {
            return Err(tree.refuse(ProofError::LeafOutOfRange { index, size: tree_size }));
        }
        let mut nodes: Vec<Node> = leaf_indexes
            .iter()
            .flat_map(|&index| merkle::inclusion_nodes(index, tree_size))
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        let mut hashes = Self::tree_hashes(conn, stream, tree_size, &nodes).await?;
        let paths = leaf_indexes
            .iter()
            .map(|&index| {
                merkle::inclusion_proof(index, tree_size, |node| hashes.resolve(node).unwrap_or_default())
                    .map_err(|error| tree.refuse(error))
            })
            .collect::<Result<_, _>>()?;
        Ok((tree_size, paths))
    }

    /// The consistency proof of `stream`'s tree from `old` leaves to `new`.
    async fn consistency_proof(&self, stream: &str, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin_with(Self::BEGIN_READ).await?;
        let tree = Self::stream_tree(&mut tx, stream).await?;
        tree.check_size(new)?;
        // Checked before reading: the nodes of sizes out of order are none.
        merkle::consistency_proof(old, new, |_| [0; 32]).map_err(|error| tree.refuse(error))?;
        let nodes = merkle::consistency_nodes(old, new);
        let mut hashes = Self::tree_hashes(&mut tx, stream, new, &nodes).await?;
        tx.commit().await?;
        merkle::consistency_proof(old, new, |node| hashes.resolve(node).unwrap_or_default())
            .map_err(|error| tree.refuse(error))
    }

    /// Stores what proofs will still need of the leaves a purge removes,
    /// `[0, cut)`: its perfect subtrees below the first stored level (the
    /// rest of its compact range is stored already). Every node of a later
    /// proof that covers removed leaves folds from these, so events kept
    /// keep their inclusion proofs and a checkpoint from before the purge
    /// stays provably consistent with later ones.
    async fn keep_purged_subtrees(conn: &mut ConnectionOf<Self>, stream: &str, cut: u64) -> Result<(), StoreError> {
        if Self::stream_tree(conn, stream).await?.frontier.is_none() {
            return Ok(());
        }
        let kept: Vec<Node> = merkle::frontier(cut)
            .into_iter()
            .filter(|node| node.level < TILE_HEIGHT)
            .collect();
        let mut hashes = Self::tree_hashes(conn, stream, cut, &kept).await?;
        for node in kept {
            let hash = hashes.resolve(node).unwrap_or_default();
            // An earlier purge may have kept the same subtree.
            sqlx::query(
                "INSERT INTO audit_tree_nodes (stream, level, idx, hash) SELECT $1, $2, $3, $4 \
                 WHERE NOT EXISTS (SELECT 1 FROM audit_tree_nodes WHERE stream = $1 AND level = $2 AND idx = $3)",
            )
            .bind(stream.to_owned())
            .bind(i64::from(node.level))
            .bind(i64::try_from(node.index).unwrap_or(i64::MAX))
            .bind(hash.to_vec())
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Keeps a signed checkpoint; `false` when one of that stream and size
    /// is kept already (another process signed the same head).
    async fn save_checkpoint(&self, checkpoint: &SignedCheckpoint) -> Result<bool, StoreError> {
        let mut insert =
            QueryBuilder::new("INSERT INTO audit_checkpoints (stream, tree_size, root, note, signed_at) VALUES (");
        Self::bind_text(&mut insert, checkpoint.stream.clone());
        insert.push(", ");
        Self::bind_int(&mut insert, i64::try_from(checkpoint.size).unwrap_or(i64::MAX));
        insert.push(", ");
        insert.push_bind(checkpoint.root.to_vec());
        insert.push(", ");
        Self::bind_text(&mut insert, checkpoint.note.clone());
        insert.push(", ");
        Self::bind_time(&mut insert, checkpoint.signed_at);
        insert.push(") ON CONFLICT (stream, tree_size) DO NOTHING RETURNING tree_size");
        Ok(!self.fetch_built(insert).await?.is_empty())
    }

    /// The checkpoints kept for `stream`, oldest first: those signed at or
    /// after `since`, at most `limit`.
    async fn checkpoints(
        &self,
        stream: &str,
        since: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<SignedCheckpoint>, StoreError> {
        let mut select = QueryBuilder::new(format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE stream = "
        ));
        Self::bind_text(&mut select, stream.to_owned());
        if let Some(since) = since {
            select.push(" AND signed_at >= ");
            Self::bind_time(&mut select, since);
        }
        select.push(" ORDER BY tree_size LIMIT ");
        Self::bind_int(&mut select, i64::from(limit));
        let rows = self.fetch_built(select).await?;
        rows.iter()
            .map(|row| CheckpointRow::from_row(row)?.into_checkpoint())
            .collect()
    }

    /// The newest checkpoint kept for `stream`.
    async fn latest_checkpoint(&self, stream: &str) -> Result<Option<SignedCheckpoint>, StoreError> {
        let mut select = QueryBuilder::new(format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE stream = "
        ));
        Self::bind_text(&mut select, stream.to_owned());
        select.push(" ORDER BY tree_size DESC LIMIT 1");
        let rows = self.fetch_built(select).await?;
        rows.first()
            .map(|row| CheckpointRow::from_row(row)?.into_checkpoint())
            .transpose()
    }

    /// Where `sink` stands in each stream with events (only `stream`'s,
    /// when given): the stream's base and head, and the seq `sink`
    /// delivered last (0 before its first delivery).
    async fn stream_positions(&self, sink: &str, stream: Option<&str>) -> Result<Vec<StreamPosition>, StoreError> {
        let mut select = QueryBuilder::new(
            "SELECT s.stream, s.base_seq, s.head_seq, COALESCE(c.delivered_seq, 0) FROM audit_streams s \
             LEFT JOIN audit_stream_cursors c ON c.stream = s.stream AND c.sink = ",
        );
        Self::bind_text(&mut select, sink.to_owned());
        select.push(" WHERE s.head_seq > 0");
        if let Some(stream) = stream {
            select.push(" AND s.stream = ");
            Self::bind_text(&mut select, stream.to_owned());
        }
        select.push(format!(" ORDER BY s.stream{}", Self::BY_BYTES));
        let rows = self.fetch_built(select).await?;
        rows.iter()
            .map(|row| {
                let (stream, base, head, delivered) = <(String, i64, i64, i64)>::from_row(row)?;
                let seq = |value: i64| u64::try_from(value).unwrap_or(0);
                Ok(StreamPosition {
                    stream,
                    base: seq(base),
                    head: seq(head),
                    delivered: seq(delivered),
                })
            })
            .collect()
    }

    /// Up to `limit` events of `stream` after seq `after`, in seq order.
    async fn events_after(&self, stream: &str, after: u64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let mut select = QueryBuilder::new(format!(
            "SELECT {} FROM audit_events WHERE stream = ",
            Self::select_columns()
        ));
        Self::bind_text(&mut select, stream.to_owned());
        select.push(" AND seq > ");
        Self::bind_int(&mut select, i64::try_from(after).unwrap_or(i64::MAX));
        select.push(" ORDER BY seq LIMIT ");
        Self::bind_int(&mut select, i64::from(limit));
        let rows = self.fetch_built(select).await?;
        rows.iter().map(|row| Self::decode_row(row)?.to_event()).collect()
    }

    /// Records that `sink` delivered `stream` up to seq `delivered`. A
    /// position only moves forward: a slower copy of the same sink (in
    /// another process) never moves it back.
    async fn save_stream_position(&self, sink: &str, stream: &str, delivered: u64) -> Result<(), StoreError> {
        let mut upsert = QueryBuilder::new("INSERT INTO audit_stream_cursors (sink, stream, delivered_seq) VALUES (");
        Self::bind_text(&mut upsert, sink.to_owned());
        upsert.push(", ");
        Self::bind_text(&mut upsert, stream.to_owned());
        upsert.push(", ");
        Self::bind_int(&mut upsert, i64::try_from(delivered).unwrap_or(i64::MAX));
        upsert.push(
            ") ON CONFLICT (sink, stream) DO UPDATE SET delivered_seq = excluded.delivered_seq \
             WHERE audit_stream_cursors.delivered_seq < excluded.delivered_seq RETURNING sink",
        );
        self.fetch_built(upsert).await?;
        Ok(())
    }

    /// Moves `sink` to the head of every stream (only `stream`, when
    /// given), so it delivers only events written from now on, and marks
    /// the sink as seen; returns `false`, moving nothing, when it was seen
    /// before and `only_if_new` is set.
    async fn seek_stream_sink(&self, sink: &str, stream: Option<&str>, only_if_new: bool) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin_with(Self::BEGIN_WRITE).await?;
        let moved = Self::seek_stream_sink_in(&mut tx, sink, stream, only_if_new).await?;
        tx.commit().await?;
        Ok(moved)
    }

    /// As [`seek_stream_sink`](Self::seek_stream_sink), in the caller's
    /// transaction.
    async fn seek_stream_sink_in(
        conn: &mut ConnectionOf<Self>,
        sink: &str,
        stream: Option<&str>,
        only_if_new: bool,
    ) -> Result<bool, StoreError> {
        let mut mark = QueryBuilder::new("INSERT INTO audit_stream_cursors (sink, stream, delivered_seq) VALUES (");
        Self::bind_text(&mut mark, sink.to_owned());
        mark.push(", '', 0) ON CONFLICT (sink, stream) DO NOTHING RETURNING sink");
        let new = !Self::fetch_built_in(conn, mark).await?.is_empty();
        if !new && only_if_new {
            return Ok(false);
        }
        let mut seek = QueryBuilder::new("INSERT INTO audit_stream_cursors (sink, stream, delivered_seq) SELECT ");
        Self::bind_text(&mut seek, sink.to_owned());
        seek.push(", stream, head_seq FROM audit_streams WHERE head_seq > 0");
        if let Some(stream) = stream {
            seek.push(" AND stream = ");
            Self::bind_text(&mut seek, stream.to_owned());
        }
        seek.push(" ON CONFLICT (sink, stream) DO UPDATE SET delivered_seq = excluded.delivered_seq RETURNING sink");
        Self::fetch_built_in(conn, seek).await?;
        Ok(true)
    }

    /// Keeps a webhook destination, its sink `sink` starting at the heads
    /// of its streams (only `stream`, when given) if `at_heads`; `false`
    /// when one of that name is kept already (nothing is changed then).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    async fn insert_destination(
        &self,
        row: &DestinationRow,
        sink: &str,
        stream: Option<&str>,
        at_heads: bool,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin_with(Self::BEGIN_WRITE).await?;
        let mut insert = QueryBuilder::new(
            "INSERT INTO audit_stream_destinations (name, tenant_id, url, format, body, secret, headers) VALUES (",
        );
        Self::bind_text(&mut insert, row.name.clone());
        insert.push(", ");
        match &row.tenant {
            Some(tenant) => Self::bind_text(&mut insert, tenant.clone()),
            None => {
                insert.push("NULL");
            }
        }
        for value in [&row.url, &row.format, &row.body, &row.secret, &row.headers] {
            insert.push(", ");
            Self::bind_text(&mut insert, value.clone());
        }
        insert.push(") ON CONFLICT (name) DO NOTHING RETURNING name");
        if Self::fetch_built_in(&mut tx, insert).await?.is_empty() {
            return Ok(false);
        }
        // A destination of this name removed earlier left no positions
        // (removing forgets them), so the new one starts afresh.
        if at_heads {
            Self::seek_stream_sink_in(&mut tx, sink, stream, false).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Every webhook destination kept, by name.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    async fn destinations(&self) -> Result<Vec<DestinationRow>, StoreError> {
        let select = format!(
            "SELECT name, tenant_id, url, format, body, secret, headers FROM audit_stream_destinations ORDER BY name{}",
            Self::BY_BYTES
        );
        let rows = self.fetch_built(QueryBuilder::new(select)).await?;
        rows.iter()
            .map(|row| {
                let (name, tenant, url, format, body, secret, headers) =
                    <(String, Option<String>, String, String, String, String, String)>::from_row(row)?;
                Ok(DestinationRow {
                    name,
                    tenant,
                    url,
                    format,
                    body,
                    secret,
                    headers,
                })
            })
            .collect()
    }

    /// Removes the destination `name` and the positions of its sink
    /// `sink`; `false` when there was none.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    async fn remove_destination(&self, name: &str, sink: &str) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin_with(Self::BEGIN_WRITE).await?;
        let mut delete = QueryBuilder::new("DELETE FROM audit_stream_destinations WHERE name = ");
        Self::bind_text(&mut delete, name.to_owned());
        delete.push(" RETURNING name");
        let removed = !Self::fetch_built_in(&mut tx, delete).await?.is_empty();
        let mut forget = QueryBuilder::new("DELETE FROM audit_stream_cursors WHERE sink = ");
        Self::bind_text(&mut forget, sink.to_owned());
        forget.push(" RETURNING sink");
        Self::fetch_built_in(&mut tx, forget).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Writes each entry of a published catalogue over the one of the same
    /// action, in one transaction.
    async fn publish_catalogue(&self, entries: &[CatalogueRow]) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin_with(Self::BEGIN_WRITE).await?;
        // A statement per entry: a catalogue has tens of actions, published
        // once per start.
        for entry in entries {
            let mut upsert = QueryBuilder::new(
                "INSERT INTO audit_action_catalogue (action, category, severity, description, metadata, \
                 published_at) VALUES (",
            );
            Self::bind_text(&mut upsert, entry.action.clone());
            upsert.push(", ");
            Self::bind_text(&mut upsert, entry.category.clone());
            upsert.push(", ");
            match &entry.severity {
                Some(severity) => Self::bind_text(&mut upsert, severity.clone()),
                None => {
                    upsert.push("NULL");
                }
            }
            for value in [&entry.description, &entry.metadata] {
                upsert.push(", ");
                Self::bind_text(&mut upsert, value.clone());
            }
            upsert.push(", ");
            Self::bind_int(&mut upsert, entry.published_at);
            upsert.push(
                ") ON CONFLICT (action) DO UPDATE SET category = excluded.category, severity = excluded.severity, \
                 description = excluded.description, metadata = excluded.metadata, published_at = \
                 excluded.published_at RETURNING action",
            );
            Self::fetch_built_in(&mut tx, upsert).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `batch` with its personal values sealed, when this store seals
    /// personal data (`None`: store it as it is). Keys kept in the key
    /// table are read and created in the write's own transaction `conn`.
    async fn seal_batch_in(
        &self,
        conn: &mut ConnectionOf<Self>,
        batch: &[Event],
    ) -> Result<Option<Vec<Event>>, StoreError> {
        let Some(config) = self.personal() else {
            return Ok(None);
        };
        let named: Vec<Subjects> = batch.iter().map(|event| Subjects::of(event, config)).collect();
        let subjects: std::collections::BTreeSet<&String> = named.iter().flat_map(|s| s.all()).collect();
        let subjects: Vec<String> = subjects.into_iter().cloned().collect();
        let keys = match &config.key_store {
            _ if subjects.is_empty() => Keys::new(),
            Some(store) => store.keys(&subjects, true).await?,
            None => Self::table_keys_in(conn, &subjects, true).await?,
        };
        personal::seal_batch(config, keys, batch.iter().cloned().zip(named).collect())
            .await
            .map(Some)
    }

    /// The keys of `subjects` in the key table (erased ones as such),
    /// first creating a key for each subject without a row when `create`.
    async fn table_keys_in(
        conn: &mut ConnectionOf<Self>,
        subjects: &[String],
        create: bool,
    ) -> Result<Keys, StoreError> {
        let mut keys = Keys::with_capacity(subjects.len());
        for chunk in subjects.chunks(KEY_CHUNK) {
            Self::read_table_keys(conn, chunk, &mut keys).await?;
            if !create {
                continue;
            }
            let missing: Vec<&String> = chunk.iter().filter(|s| !keys.contains_key(*s)).collect();
            if missing.is_empty() {
                continue;
            }
            let now = Timestamp::now().unix_micros();
            let mut insert = QueryBuilder::new("INSERT INTO audit_subject_keys (subject, key, created_at) ");
            let mut generated = Vec::with_capacity(missing.len());
            for _ in &missing {
                generated.push(SubjectKey::generate().map_err(personal::randomness)?);
            }
            insert.push_values(missing.iter().zip(&generated), |mut row, (subject, key)| {
                row.push_bind((*subject).clone())
                    .push_bind(key.as_bytes().to_vec())
                    .push_bind(now);
            });
            // A concurrent writer may have created some meanwhile: its
            // key wins, read back below.
            insert.push(" ON CONFLICT (subject) DO NOTHING RETURNING subject");
            Self::fetch_built_in(conn, insert).await?;
            let missing: Vec<String> = missing.into_iter().cloned().collect();
            Self::read_table_keys(conn, &missing, &mut keys).await?;
        }
        Ok(keys)
    }

    /// Reads the key table's rows of `subjects` into `keys`.
    async fn read_table_keys(
        conn: &mut ConnectionOf<Self>,
        subjects: &[String],
        keys: &mut Keys,
    ) -> Result<(), StoreError> {
        let mut select = QueryBuilder::new("SELECT subject, key FROM audit_subject_keys WHERE ");
        Self::push_text_in(&mut select, "subject", subjects);
        for row in Self::fetch_built_in(conn, select).await? {
            let (subject, key) = <(String, Option<Vec<u8>>)>::from_row(&row)?;
            let state = match key.map(<[u8; 32]>::try_from) {
                Some(Ok(bytes)) => KeyState::Live(SubjectKey::from_bytes(bytes)),
                Some(Err(_)) => {
                    return Err(StoreError::Personal(format!(
                        "the key of subject {subject} in audit_subject_keys is not 32 bytes"
                    )));
                }
                None => KeyState::Erased,
            };
            keys.insert(subject, state);
        }
        Ok(())
    }

    /// The keys of `subjects`, from this store's key store or key table,
    /// without creating any.
    async fn subject_keys(&self, subjects: &[String]) -> Result<Keys, StoreError> {
        match self.personal().and_then(|config| config.key_store.as_ref()) {
            Some(store) => store.keys(subjects, false).await,
            None => {
                let mut conn = self.pool().acquire().await?;
                Self::table_keys_in(&mut conn, subjects, false).await
            }
        }
    }

    /// Opens the sealed values of `events` for a reader (see
    /// [`personal::open_page`]); one key lookup for all of them.
    async fn open_events(&self, events: &mut [Event]) -> Result<(), StoreError> {
        let (subjects, values) = sealed_subjects(events);
        if subjects.is_empty() {
            return Ok(());
        }
        let subjects: Vec<String> = subjects.into_iter().collect();
        let keys = self.subject_keys(&subjects).await?;
        personal::open_page(events, &keys, values);
        Ok(())
    }

    /// Destroys `subject`'s key in the key table (or the store's key
    /// store); `true` when a live key was destroyed. A subject without a
    /// row gets one marked erased, so it is never given a key later.
    async fn destroy_subject_key(&self, subject: &str) -> Result<bool, StoreError> {
        if let Some(store) = self.personal().and_then(|config| config.key_store.as_ref()) {
            return store.destroy(subject).await;
        }
        let now = Timestamp::now().unix_micros();
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin_with(Self::BEGIN_WRITE).await?;
        let mut erase = QueryBuilder::new("UPDATE audit_subject_keys SET key = NULL, erased_at = ");
        erase.push_bind(now);
        erase.push(" WHERE key IS NOT NULL AND subject = ");
        Self::bind_text(&mut erase, subject.to_owned());
        erase.push(" RETURNING subject");
        let destroyed = !Self::fetch_built_in(&mut tx, erase).await?.is_empty();
        let mut mark =
            QueryBuilder::new("INSERT INTO audit_subject_keys (subject, key, created_at, erased_at) VALUES (");
        Self::bind_text(&mut mark, subject.to_owned());
        mark.push(", NULL, ");
        mark.push_bind(now);
        mark.push(", ");
        mark.push_bind(now);
        mark.push(") ON CONFLICT (subject) DO NOTHING RETURNING subject");
        Self::fetch_built_in(&mut tx, mark).await?;
        tx.commit().await?;
        // Back to the pool first: the checkpoint takes a connection of its
        // own, and an in-memory database has only one.
        drop(conn);
        self.after_erasure().await?;
        Ok(destroyed)
    }

    /// Run after a key was erased from the key table: SQLite moves the
    /// write-ahead log into the database (whose freed bytes secure delete
    /// has zeroed) and truncates it, so no copy of the old page stays in
    /// the log. Nothing on PostgreSQL (see the personal module's notes on
    /// its WAL).
    async fn after_erasure(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The tenants whose events name `subject` as actor or main target
    /// (`None` for events without a tenant), sorted.
    async fn subject_tenants(&self, subject: &str) -> Result<Vec<Option<String>>, StoreError> {
        let mut select = QueryBuilder::new("SELECT DISTINCT tenant_id FROM audit_events WHERE actor_id = ");
        Self::bind_text(&mut select, subject.to_owned());
        select.push(" OR target_id = ");
        Self::bind_text(&mut select, subject.to_owned());
        let rows = self.fetch_built(select).await?;
        let mut tenants = rows
            .iter()
            .map(|row| <(Option<String>,)>::from_row(row).map(|(tenant,)| tenant))
            .collect::<Result<Vec<_>, _>>()?;
        tenants.sort();
        Ok(tenants)
    }

    /// Erases `erasure`'s subject (see [`Store::erase_subject`](crate::Store::erase_subject)).
    async fn erase_subject(&self, erasure: &Erasure) -> Result<ErasureReport, StoreError> {
        erasure.check()?;
        let subject = erasure.subject();
        let tenants = self.subject_tenants(subject).await?;
        let holds = self.legal_holds().await?;
        if let Some(hold) = holds
            .iter()
            .find(|hold| tenants.iter().flatten().any(|t| *t == hold.tenant))
        {
            return Err(StoreError::LegalHold {
                subject: subject.to_owned(),
                tenant: hold.tenant.clone(),
                reason: hold.reason.clone(),
            });
        }
        let key_destroyed = self.destroy_subject_key(subject).await?;
        let mut report = ErasureReport {
            subject: subject.to_owned(),
            key_destroyed,
            tenants,
            events: Vec::new(),
        };
        let mut streams: Vec<Option<&str>> = report.tenants.iter().map(Option::as_deref).collect();
        if streams.is_empty() {
            streams.push(None);
        }
        let events: Vec<Event> = streams
            .into_iter()
            .map(|tenant| erasure.event(tenant, &report))
            .collect();
        self.write(&events).await?;
        report.events = events.iter().map(Event::id).collect();
        Ok(report)
    }

    /// Every legal hold in force, by tenant.
    async fn legal_holds(&self) -> Result<Vec<LegalHold>, StoreError> {
        let select = format!(
            "SELECT tenant_id, reason, placed_by, placed_at FROM audit_legal_holds ORDER BY tenant_id{}",
            Self::BY_BYTES
        );
        let rows = self.fetch_built(QueryBuilder::new(select)).await?;
        rows.iter().map(legal_hold_of).collect()
    }

    /// Places `hold`; `false` when its tenant was held already (the
    /// earlier hold stays).
    async fn place_legal_hold(&self, hold: &LegalHold) -> Result<bool, StoreError> {
        let mut insert =
            QueryBuilder::new("INSERT INTO audit_legal_holds (tenant_id, reason, placed_by, placed_at) VALUES (");
        Self::bind_text(&mut insert, hold.tenant.clone());
        insert.push(", ");
        Self::bind_text(&mut insert, hold.reason.clone());
        insert.push(", ");
        Self::bind_text(&mut insert, hold.placed_by.clone());
        insert.push(", ");
        insert.push_bind(hold.placed_at.unix_micros());
        insert.push(") ON CONFLICT (tenant_id) DO NOTHING RETURNING tenant_id");
        Ok(!self.fetch_built(insert).await?.is_empty())
    }

    /// Releases the hold on `tenant`, returning it; `None` when there was
    /// none.
    async fn release_legal_hold(&self, tenant: &str) -> Result<Option<LegalHold>, StoreError> {
        let mut delete = QueryBuilder::new("DELETE FROM audit_legal_holds WHERE tenant_id = ");
        Self::bind_text(&mut delete, tenant.to_owned());
        delete.push(" RETURNING tenant_id, reason, placed_by, placed_at");
        let rows = self.fetch_built(delete).await?;
        rows.first().map(legal_hold_of).transpose()
    }

    /// Every catalogue entry published, by action.
    async fn catalogue(&self) -> Result<Vec<CatalogueRow>, StoreError> {
        let select = format!(
            "SELECT action, category, severity, description, metadata, published_at FROM audit_action_catalogue \
             ORDER BY action{}",
            Self::BY_BYTES
        );
        let rows = self.fetch_built(QueryBuilder::new(select)).await?;
        rows.iter()
            .map(|row| {
                let (action, category, severity, description, metadata, published_at) =
                    <(String, String, Option<String>, String, String, i64)>::from_row(row)?;
                Ok(CatalogueRow {
                    action,
                    category,
                    severity,
                    description,
                    metadata,
                    published_at,
                })
            })
            .collect()
    }

    /// The checkpoint kept for `stream` at tree size `size`, if any.
    async fn checkpoint_at(&self, stream: &str, size: u64) -> Result<Option<SignedCheckpoint>, StoreError> {
        let mut select = QueryBuilder::new(format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE stream = "
        ));
        Self::bind_text(&mut select, stream.to_owned());
        select.push(" AND tree_size = ");
        Self::bind_int(&mut select, i64::try_from(size).unwrap_or(i64::MAX));
        let rows = self.fetch_built(select).await?;
        rows.first()
            .map(|row| CheckpointRow::from_row(row)?.into_checkpoint())
            .transpose()
    }

    /// Builds the tree of every stream written before the store kept trees
    /// (each in its own write transaction), from its leaves. A stream
    /// purged before then keeps none: its removed leaves are gone.
    async fn build_missing_trees(pool: &Pool<Self::Db>) -> Result<(), StoreError> {
        let pending: Vec<String> =
            sqlx::query_scalar("SELECT stream FROM audit_streams WHERE tree_frontier IS NULL AND base_seq = 0")
                .fetch_all(pool)
                .await?;
        for stream in pending {
            Self::rebuild_tree(pool, &stream).await?;
        }
        Ok(())
    }

    /// Adds the subtrees a stream written by an earlier version of the
    /// store lacks: it kept levels 8, 16, …, this one keeps every
    /// [`TILE_HEIGHT`]-th level (4, 8, 12, …). Such a stream is known by
    /// its first whole tile of leaves past the base having no stored
    /// subtree.
    async fn add_missing_tiles(pool: &Pool<Self::Db>) -> Result<(), StoreError> {
        let width = 1_i64 << TILE_HEIGHT;
        let first_tile = format!("(s.base_seq + {}) / {width}", width - 1);
        let pending: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT s.stream FROM audit_streams s WHERE s.tree_frontier IS NOT NULL \
             AND ({first_tile} + 1) * {width} <= s.head_seq \
             AND NOT EXISTS (SELECT 1 FROM audit_tree_nodes n WHERE n.stream = s.stream \
             AND n.level = {TILE_HEIGHT} AND n.idx = {first_tile})"
        ))
        .fetch_all(pool)
        .await?;
        for stream in pending {
            Self::rebuild_tree(pool, &stream).await?;
        }
        Ok(())
    }

    /// Rebuilds `stream`'s tree from its leaves past the base, in one write
    /// transaction, and stores the subtrees and frontier it lacks. What is
    /// stored already must agree with the rebuilt tree; where it does not,
    /// nothing is written (verify then names the disagreement, and proofs
    /// are refused rather than built on rewritten leaves).
    async fn rebuild_tree(pool: &Pool<Self::Db>, stream: &str) -> Result<(), StoreError> {
        let lock_head = format!(
            "SELECT head_seq, base_seq, tree_frontier FROM audit_streams WHERE stream = $1{}",
            Self::LOCK_HEAD
        );
        let mut conn = pool.acquire().await?;
        let mut tx = conn.begin_with(Self::BEGIN_WRITE).await?;
        let (head, base, stored_frontier): (i64, i64, Option<Vec<u8>>) = sqlx::query_as(&lock_head)
            .bind(stream.to_owned())
            .fetch_one(&mut *tx)
            .await?;
        let (head, base) = (u64::try_from(head).unwrap_or(0), u64::try_from(base).unwrap_or(0));
        let start = match (&stored_frontier, base) {
            (None, 0) => Frontier::empty(),
            // Purged before trees were kept: nothing to build from.
            (None, _) => return Ok(()),
            (Some(_), _) => match Self::frontier_at(&mut tx, stream, base).await {
                Ok(start) => start,
                Err(StoreError::Corrupt { .. }) => return Ok(()),
                Err(error) => return Err(error),
            },
        };
        let mut tree = StreamTree {
            stream: stream.to_owned(),
            head: base,
            frontier: Some(start),
        };
        let mut nodes = Vec::new();
        while tree.head < head {
            let mut hashes = Hashes::default();
            let from = tree.head;
            let to = (from + VERIFY_PAGE as u64).min(head);
            Self::read_tree(&mut tx, stream, [Read::Leaves { from, to }], &mut hashes).await?;
            for index in from..to {
                let Some(leaf) = hashes.resolve(Node { level: 0, index }) else {
                    return Ok(());
                };
                tree.push(leaf, &mut nodes);
            }
        }
        let rebuilt = tree.frontier()?.encode();
        if stored_frontier.as_ref().is_some_and(|stored| *stored != rebuilt) {
            return Ok(());
        }
        let stored = Self::stored_subtrees(&mut tx, stream).await?;
        let mut missing = Vec::with_capacity(nodes.len());
        for node in nodes {
            match stored.get(&node.node) {
                None => missing.push(node),
                Some(hash) if *hash == node.hash => {}
                Some(_) => return Ok(()),
            }
        }
        Self::insert_tree_nodes(&mut tx, &missing).await?;
        if stored_frontier.is_none() {
            sqlx::query("UPDATE audit_streams SET tree_frontier = $2 WHERE stream = $1")
                .bind(stream.to_owned())
                .bind(rebuilt)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies the backend's pending migrations. When none is pending (each
    /// applied with the same checksum) the schema is left alone, so a role
    /// that may read the migration table but not change the schema connects
    /// to an up-to-date database (see the crate docs' "Roles"). Then builds
    /// the trees of streams written before the store kept them, and the
    /// subtrees of the levels an earlier tree layout did not keep.
    async fn migrate(pool: &Pool<Self::Db>) -> Result<(), StoreError> {
        let applied: Result<Vec<(i64, Vec<u8>)>, _> =
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
                .fetch_all(pool)
                .await;
        let up_to_date = applied.is_ok_and(|applied| {
            Self::MIGRATOR
                .iter()
                .filter(|migration| !migration.migration_type.is_down_migration())
                .all(|migration| {
                    applied
                        .iter()
                        .any(|(version, checksum)| *version == migration.version && **checksum == *migration.checksum)
                })
        });
        if !up_to_date {
            Self::MIGRATOR.run(pool).await?;
        }
        Self::build_missing_trees(pool).await?;
        Self::add_missing_tiles(pool).await
    }

    /// The store's cursor key, made on first use and kept in its database.
    async fn load_cursor_key(pool: &Pool<Self::Db>) -> Result<CursorKey, StoreError> {
        let fresh = CursorKey::generate().map_err(|e| StoreError::Corrupt {
            id: CURSOR_KEY_NAME.to_owned(),
            reason: format!("no randomness for a new cursor key: {e}"),
        })?;
        sqlx::query("INSERT INTO audit_store_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(CURSOR_KEY_NAME.to_owned())
            .bind(fresh)
            .execute(pool)
            .await?;
        let stored: Vec<u8> = sqlx::query_scalar("SELECT key FROM audit_store_keys WHERE name = $1")
            .bind(CURSOR_KEY_NAME.to_owned())
            .fetch_one(pool)
            .await?;
        CursorKey::from_stored(&stored).ok_or_else(|| StoreError::Corrupt {
            id: CURSOR_KEY_NAME.to_owned(),
            reason: format!("the stored cursor key has {} bytes, not 32", stored.len()),
        })
    }
}

/// The public methods of a store, forwarding to its [`Backend`]: written
/// once for `SqliteStore` and `PgStore`, so neither repeats the other's
/// signatures and docs.
macro_rules! store_methods {
    ($store:ty, $pool:ty, $connection:ty, $(#[doc = $record_in_note:literal])*) => {
        impl $store {
            /// The connection pool, for your own queries and transactions.
            pub fn pool(&self) -> &$pool {
                <Self as crate::backend::Backend>::pool(self)
            }

            /// Seals personal data as `personal` says from now on (see
            /// [`personal`](crate::personal)). Reading opens sealed values
            /// whether or not this was called.
            pub fn with_personal_data(mut self, personal: crate::personal::PersonalData) -> Self {
                self.personal = Some(Arc::new(personal));
                self
            }

            /// Appends `events` inside the caller's own transaction, so the
            /// business change and its audit rows commit or roll back
            /// together. Returns the events as stored (with `recorded_at` and
            /// integrity; personal values sealed when this store seals them,
            /// their keys created in the same transaction).
            ///
            $(#[doc = $record_in_note])*
            ///
            /// # Errors
            /// Any database error; the caller's transaction should then be
            /// rolled back.
            pub async fn record_in(
                &self,
                conn: &mut $connection,
                events: &[audit_core::Event],
            ) -> Result<Vec<audit_core::Event>, crate::StoreError> {
                let sealed = <Self as crate::backend::Backend>::seal_batch_in(self, conn, events).await?;
                <Self as crate::backend::Backend>::append(conn, sealed.as_deref().unwrap_or(events)).await
            }

            /// Recomputes every hash of `stream` and checks that its seqs run
            /// from its base without a gap up to the stream's head, reading one
            /// consistent snapshot; see [`Problem`](crate::Problem) for what it
            /// reports.
            ///
            /// # Errors
            /// Database errors, or a row that cannot be read back as an event.
            pub async fn verify(&self, stream: &str) -> Result<crate::VerifyReport, crate::StoreError> {
                <Self as crate::backend::Backend>::verify(self, stream, &[]).await
            }

            /// As [`verify`](Self::verify), and the stream's tree rebuilt from
            /// its events must have the root of each of `checkpoints` (tree
            /// heads of this stream, from signed checkpoints kept off the
            /// box) at its size: [`Problem::CheckpointMismatch`](crate::Problem::CheckpointMismatch)
            /// names the first it does not, and
            /// [`Problem::BehindCheckpoint`](crate::Problem::BehindCheckpoint)
            /// one past the stream's head.
            ///
            /// # Errors
            /// As [`verify`](Self::verify); [`StoreError::Proof`](crate::StoreError::Proof)
            /// when the store keeps no tree for the stream.
            pub async fn verify_against(
                &self,
                stream: &str,
                checkpoints: &[crate::TreeHead],
            ) -> Result<crate::VerifyReport, crate::StoreError> {
                <Self as crate::backend::Backend>::verify(self, stream, checkpoints).await
            }

            /// One page of the events `query` selects, newest first.
            ///
            /// # Errors
            /// [`StoreError::Query`](crate::StoreError::Query) naming the
            /// parameter at fault (a limit out of range, a cursor that is
            /// malformed or not this query's, …); database errors.
            pub async fn query(&self, query: &crate::AuditQuery) -> Result<crate::Page, crate::StoreError> {
                <Self as crate::backend::Backend>::query(self, query).await
            }

            /// The event with this id, if stored (whatever its tenant: callers
            /// that serve one tenant check `Event::tenant_id`).
            ///
            /// # Errors
            /// Database errors, or a stored row that cannot be read back.
            pub async fn get(&self, id: uuid::Uuid) -> Result<Option<audit_core::Event>, crate::StoreError> {
                <Self as crate::backend::Backend>::get(self, id).await
            }

            /// The actions of the events `query` selects (ignoring its action
            /// filter and page), with how many events each has, most frequent
            /// first.
            ///
            /// # Errors
            /// As [`query`](Self::query).
            pub async fn action_counts(
                &self,
                query: &crate::AuditQuery,
            ) -> Result<Vec<crate::ActionCount>, crate::StoreError> {
                <Self as crate::backend::Backend>::action_counts(self, query).await
            }

            /// Removes the events `purge` selects, stream by stream, in
            /// transactions of up to 64 streams that also record each one's
            /// `audit.purged` event (a stream's cut and its event commit
            /// together); see [`Purge`](crate::Purge) for what is removed and
            /// how the rest still verifies. Streams with nothing to remove are
            /// left alone and not reported. On PostgreSQL the partitions wholly
            /// older than the cuts are then dropped whole where every event in
            /// them was purged ([`PurgeOutcome`](crate::PurgeOutcome) lists
            /// them).
            ///
            /// # Errors
            /// [`StoreError::Query`](crate::StoreError::Query) when `before` is
            /// in the future; database errors (streams purged before the error
            /// stay purged).
            pub async fn purge(&self, purge: &crate::Purge) -> Result<crate::PurgeOutcome, crate::StoreError> {
                <Self as crate::backend::Backend>::purge(self, purge).await
            }

            /// Whether new events are indexed for free-text search: on unless
            /// [`set_search_index`](Self::set_search_index) turned it off.
            ///
            /// # Errors
            /// Database errors.
            pub async fn search_index(&self) -> Result<bool, crate::StoreError> {
                <Self as crate::backend::Backend>::search_index(self).await
            }

            /// Turns the free-text search index off or on, for every process
            /// on this database.
            ///
            /// The index is the largest cost of an append (BENCHMARKS.md,
            /// "Issue 20": 37 % of SQLite's insert time, 65 % of
            /// PostgreSQL's); a service that writes much and searches
            /// little may go without it. Off, it is dropped and appends no
            /// longer maintain it; searches still give the same answers,
            /// reading the rows that pass the other filters (fast within a
            /// tenant and a time window, slow for a rare word across a large
            /// tenant's years). On, it is rebuilt over every stored event in
            /// one statement, which takes a while on a large store and
            /// blocks appends meanwhile (SQLite's write lock, PostgreSQL's
            /// `CREATE INDEX`). Needs the schema owner's role on PostgreSQL
            /// (`audit migrate --search-index off`).
            ///
            /// # Errors
            /// Database errors.
            pub async fn set_search_index(&self, on: bool) -> Result<(), crate::StoreError> {
                <Self as crate::backend::Backend>::set_search_index(self, on).await
            }

            /// The tree head of `stream` (its size and RFC 9162 root), at its
            /// head or at its first `size` leaves. An empty or unknown stream
            /// has size 0 and the empty tree's root.
            ///
            /// # Errors
            /// [`StoreError::Proof`](crate::StoreError::Proof) when `size` is past
            /// the head or the stream's tree is not kept; database errors.
            pub async fn tree_head(&self, stream: &str, size: Option<u64>) -> Result<crate::TreeHead, crate::StoreError> {
                <Self as crate::backend::Backend>::tree_head(self, stream, size).await
            }

            /// The proof that event `id` is in its stream's tree of `tree_size`
            /// leaves (the head's when `None`), RFC 9162 §2.1.3; `None` when no
            /// event has that id. Reads O(log n) rows.
            ///
            /// # Errors
            /// [`StoreError::Proof`](crate::StoreError::Proof) when the tree is
            /// smaller than the event's seq or past the head; database errors.
            pub async fn inclusion_proof(
                &self,
                id: uuid::Uuid,
                tree_size: Option<u64>,
            ) -> Result<Option<crate::InclusionProof>, crate::StoreError> {
                <Self as crate::backend::Backend>::inclusion_proof(self, id, tree_size).await
            }

            /// The audit paths of several leaves of `stream`'s tree of
            /// `tree_size` leaves (the head's when `None`), aligned with
            /// `leaf_indexes` (an event's leaf index is its seq − 1): what an
            /// export with proofs needs, reading each tile they share once.
            /// Returns the tree size used, and the paths.
            ///
            /// # Errors
            /// As [`inclusion_proof`](Self::inclusion_proof).
            pub async fn audit_paths(
                &self,
                stream: &str,
                tree_size: Option<u64>,
                leaf_indexes: &[u64],
            ) -> Result<(u64, Vec<Vec<crate::merkle::Hash>>), crate::StoreError> {
                <Self as crate::backend::Backend>::audit_paths(self, stream, tree_size, leaf_indexes).await
            }

            /// The proof that `stream`'s tree of `new` leaves extends its tree
            /// of `old` (RFC 9162 §2.1.4): the hashes, empty when the sizes are
            /// equal.
            ///
            /// # Errors
            /// [`StoreError::Proof`](crate::StoreError::Proof) when `old` is 0 or
            /// larger than `new`, or `new` is past the head; database errors.
            pub async fn consistency_proof(
                &self,
                stream: &str,
                old: u64,
                new: u64,
            ) -> Result<Vec<crate::merkle::Hash>, crate::StoreError> {
                <Self as crate::backend::Backend>::consistency_proof(self, stream, old, new).await
            }

            /// Keeps a signed checkpoint (the [`Checkpointer`](crate::checkpoint::Checkpointer)
            /// does, after signing); `false` when one of that stream and size is
            /// kept already.
            ///
            /// # Errors
            /// Database errors.
            pub async fn save_checkpoint(&self, checkpoint: &crate::SignedCheckpoint) -> Result<bool, crate::StoreError> {
                <Self as crate::backend::Backend>::save_checkpoint(self, checkpoint).await
            }

            /// The checkpoints kept for `stream`, smallest tree first: those
            /// signed at or after `since`, at most `limit`.
            ///
            /// # Errors
            /// Database errors, or a kept checkpoint that cannot be read back.
            pub async fn checkpoints(
                &self,
                stream: &str,
                since: Option<audit_core::Timestamp>,
                limit: u32,
            ) -> Result<Vec<crate::SignedCheckpoint>, crate::StoreError> {
                <Self as crate::backend::Backend>::checkpoints(self, stream, since, limit).await
            }

            /// The newest checkpoint kept for `stream`.
            ///
            /// # Errors
            /// Database errors, or a kept checkpoint that cannot be read back.
            pub async fn latest_checkpoint(&self, stream: &str) -> Result<Option<crate::SignedCheckpoint>, crate::StoreError> {
                <Self as crate::backend::Backend>::latest_checkpoint(self, stream).await
            }

            /// The checkpoint kept for `stream` at tree size `size`, if any.
            ///
            /// # Errors
            /// Database errors, or a kept checkpoint that cannot be read back.
            pub async fn checkpoint_at(&self, stream: &str, size: u64) -> Result<Option<crate::SignedCheckpoint>, crate::StoreError> {
                <Self as crate::backend::Backend>::checkpoint_at(self, stream, size).await
            }

            /// Every stream that has events, sorted by bytes.
            ///
            /// # Errors
            /// Database errors.
            pub async fn streams(&self) -> Result<Vec<String>, crate::StoreError> {
                <Self as crate::backend::Backend>::streams(self).await
            }
        }
    };
}

pub(crate) use store_methods;
