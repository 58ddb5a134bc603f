//! Persistent, append-only, tamper-evident stores for `audit-core` events.
//!
//! Two backends, each behind a cargo feature, with one logical schema and
//! migrations embedded in the binary (applied on connect):
//!
//! - [`SqliteStore`] (feature `sqlite`, on by default): one file in WAL mode,
//!   no server; the embedded default.
//! - [`PgStore`] (feature `postgres`): PostgreSQL 13 or newer, for production.
//!
//! [`connect`] picks the backend from the URL's scheme and returns a [`Store`].
//! Every store is an [`AuditSink`], so it plugs straight into an
//! [`Auditor`](audit_core::Auditor):
//!
#![cfg_attr(feature = "sqlite", doc = "```")]
#![cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
//! use audit_core::{Action, Actor, Auditor, Event};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = audit_store::connect("sqlite::memory:").await?;
//! let auditor = Auditor::builder().start(store.clone());
//! auditor.record(Event::builder(Action::new("app.created")?, Actor::user("u1")).tenant("acme")).await?;
//! auditor.shutdown(std::time::Duration::from_secs(5)).await?;
//! assert!(store.verify("tenant:acme").await?.is_intact());
//! # Ok(()) }
//! ```
//!
//! # What a store guarantees
//!
//! - **Append-only.** Database triggers reject every `UPDATE` and `DELETE` on
//!   `audit_events` (and `TRUNCATE` on PostgreSQL) with an error saying
//!   `audit_events is append-only`, and on SQLite every insert of an id or
//!   (stream, seq) already stored, which is how `INSERT OR REPLACE` would
//!   otherwise rewrite an event in place. A stream's row in `audit_streams`
//!   is never deleted, and its head and base only move forward. The one
//!   removal path is retention [`Purge`]: it moves the stream's base first,
//!   and the triggers let a `DELETE` through only for rows at or below the
//!   base, and only while the purge gate is open (a row of
//!   `audit_purge_gate` on SQLite, the `audit.purge` setting on PostgreSQL).
//!   Anyone who can run the purge's statements can move a base and delete
//!   below it, which `verify` reports ([`UnrecordedPurge`](Problem::UnrecordedPurge));
//!   the newest events cannot be deleted without dropping the triggers,
//!   which on PostgreSQL the application's role cannot do (see "Roles").
//! - **Idempotent writes.** An event whose id is already stored is skipped, and
//!   so is a second copy within one batch: a retried batch never duplicates.
//! - **Gapless sequence numbers.** Each stream — `tenant:<id>`, or `global`
//!   for events without a tenant — numbers its events 1, 2, 3, … The next
//!   number is taken from the stream's head row (`audit_streams`) under a lock
//!   inside the write transaction: SQLite's single writer
//!   (`BEGIN IMMEDIATE`), or `SELECT … FOR UPDATE` on PostgreSQL, where a
//!   batch locks its streams in sorted order so two writers never deadlock.
//!   Never a database sequence: a rolled-back transaction would leave a hole
//!   that looks exactly like a deleted event.
//! - **A leaf hash per event**: [`leaf_hash`] = `SHA-256(0x00 ‖ canonical
//!   bytes)` (the RFC 9162 leaf hash), where the canonical bytes are the
//!   event's RFC 8785 JSON ([`Event::canonical_bytes`](audit_core::Event::canonical_bytes)),
//!   covering its stream, seq and `recorded_at` too, so an event moved within
//!   or between streams no longer matches. Stored JSON may be reformatted by
//!   the database (PostgreSQL's `jsonb` reorders keys and rewrites numbers);
//!   the hash is over the canonical form, so it still verifies.
//! - **`verify(stream)`** reads the stream in seq order, recomputes every hash
//!   and reports the first [`Problem`]: [`HashMismatch`](Problem::HashMismatch)
//!   (a field was edited), [`Inconsistent`](Problem::Inconsistent) (a query
//!   column such as `actor_id` was edited to disagree with the event),
//!   [`Gap`](Problem::Gap) (a row was deleted), [`Moved`](Problem::Moved) (rows
//!   were swapped), [`MissingTail`](Problem::MissingTail) (the newest rows
//!   were deleted, caught through the stream's head),
//!   [`BeyondHead`](Problem::BeyondHead) (the head was moved back or its row
//!   deleted) or
//!   [`UnrecordedPurge`](Problem::UnrecordedPurge) (the oldest rows were
//!   deleted and the stream's base moved, with no purge event to say so).
//!
//! # Querying
//!
//! [`AuditQuery`] describes which events to list, and `query` returns a
//! [`Page`] of them, newest first (by `occurred_at`, then id). The same query
//! serves the JSON API, the CLI, export and the web page, and gives the same
//! answer on both backends: one conformance suite of query cases runs
//! against both and an in-memory oracle.
//!
//! - **Filters** for tenant, actions (exact or `prefix.*`), category, actor
//!   id/kind/email, primary target type/id, severity, outcome, time range,
//!   client IP, request id and free text; see [`AuditQuery`] for each.
//! - **Indexes.** The selective filters are served by composite indexes that
//!   start with the tenant and end with `(occurred_at, id)`, so a filtered
//!   page is an index range read in order: tenant; tenant + action; tenant +
//!   actor; tenant + target; request id; and `(occurred_at, id)` alone for
//!   queries across tenants. The low-cardinality filters (category,
//!   severity, outcome, actor kind) and email and IP are checked on the rows
//!   those indexes yield rather than indexed themselves: an index on a
//!   four-valued column does not narrow a tenant's events, and each index
//!   costs every write.
//! - **Free text** is a substring match: every word (or `"quoted phrase"`)
//!   must occur, case-insensitively, in the event's description or its
//!   actor's or targets' ids, emails, names and types (secondary targets
//!   included). The store keeps that text, lowercased in Rust, in a
//!   `search_text` column, so case folding is the same on both backends and
//!   `%`, `_`, `*` and `?` are plain characters; every term is checked on
//!   the rows themselves, and the indexes below only find candidates.
//!   **PostgreSQL**: a GIN index on `(tenant_id, search_text
//!   gin_trgm_ops)` (`pg_trgm` and `btree_gin`), so a tenant's search lists
//!   that tenant's candidates, not every tenant's; where `btree_gin` cannot
//!   be created the migration falls back to a `search_text`-only trigram
//!   index (same answers, slower on large multi-tenant tables). **SQLite**:
//!   a contentless FTS5 trigram index, used when a term has a rare trigram
//!   (fewer than 2,000 rows hold it: ids, unusual words); when every
//!   trigram is common, the tenant's newest rows are scanned instead,
//!   through the tenant-and-time index, which carries `search_text` so the
//!   scan reads no rows (2,000 rows first, then as far as the matches found
//!   suggest, up to 30,000); only if that does not fill the page does the
//!   FTS5 index list the rows holding the rarest trigrams (the rarest of
//!   each term first), ranked by how early each trigram's 2,000th row comes. **PostgreSQL** asks its
//!   trigram index for the few trigrams of the terms that together list the
//!   fewest rows at the least reading, chosen on a sample of about 1,000
//!   stored rows taken every 10 minutes; when the sample says the terms are
//!   common, it first checks the newest 2,000 events passing the other
//!   filters (a page of a common word fills there long before an index has
//!   listed its matches). The sample only decides speed, never answers. Terms shorter
//!   than three characters have no trigram and are found by scanning the
//!   filtered rows. The index is optional (`set_search_index(false)`, `audit
//!   migrate --search-index off`): appends get cheaper, and searches scan
//!   the filtered rows, with the same answers.
//! - **Pages.** `limit` is 1 to 200 (default 50). Each page carries a
//!   `next_cursor` while more events follow: a keyset position
//!   (`occurred_at`, id), so a page deep in the list costs what the first
//!   does, and events written meanwhile never shift or repeat a page. It is
//!   signed (HMAC-SHA256) with a key the store creates in its own database
//!   on first connect, together with the query's filters: a cursor that was
//!   edited, forged, or issued for other filters or another database is
//!   refused with an error naming `cursor`. `offset` (at most 100,000) is
//!   there for simple clients.
//! - **Action counts.** `action_counts` lists the actions of the events a
//!   query selects (ignoring its own action filter) with how many each has,
//!   for a filter drop-down.
//! - **Errors.** A bad parameter is [`StoreError::Query`], whose
//!   [`QueryError`] names the parameter and what is wrong with it. Every
//!   value reaches the database as a bound parameter.
//! - **PostgreSQL specifics.** The store's connections cache their
//!   prepared statements (no parse round trip per page) and set
//!   `plan_cache_mode = force_custom_plan`, so each execution is still
//!   planned for its own values (a generic plan cannot use the tenant's
//!   statistics or the offset), and turn JIT off, which only slows these
//!   short queries down. The `action` column uses the `"C"`
//!   collation, so `prefix.*` is an index range and actions sort by bytes
//!   whatever the database's locale. `pg_trgm` must be available (it ships
//!   with PostgreSQL's contrib and is a trusted extension, which the
//!   database owner may create); `btree_gin` (contrib, trusted too) is used
//!   when it can be created, and its absence is reported as a notice, not an
//!   error. Offset pages find the skipped rows by id alone and read only the
//!   page's rows in full.
//!
//! # Admin API and CLI
//!
//! With feature `http`, [`http::AdminApi`] is an axum router to nest behind
//! `audit_tower::AuditLayer`: list, single event, streamed CSV/NDJSON export
//! ([`ExportFormat`], [`Scan`]), action counts and an OpenAPI document, with
//! a read policy (tenant admins read their tenant; platform auditors read
//! all) and every read recorded as an event. With feature `cli`, the
//! `audit` binary queries, exports, verifies, migrates, purges and serves a
//! store, and keeps and runs its [stream](stream) destinations (`audit
//! stream add|list|remove|status` for webhook destinations, `audit stream
//! test URL` for one signed sample delivery, `audit stream run` to deliver
//! until SIGTERM); `audit --help` lists its exit codes (3: `verify` found tampering; 4: `verify-event`
//! found events no signed checkpoint covers yet; 5: `stream test`'s receiver
//! answered other than 2xx; 6: it did not answer). Its `query` and `export`
//! are recorded too, in the store they read and in the same shape
//! ([`log_read`]; `metadata.via` says `cli` or `http`), as the user
//! `--actor` names, else `$USER`, else `$LOGNAME`, else `unknown`; a read
//! that cannot be recorded fails the command.
//!
//! # Streaming to SIEMs
//!
//! [`stream::Streamer`] delivers the stored events to stream sinks — a
//! SIEM's or log pipeline's webhook ([`stream::WebhookSink`], feature
//! `http`, HTTPS with feature `tls`: signed, in the event's own JSON, OCSF,
//! CEF or syslog), the
//! application's `tracing` ([`stream::TracingSink`]), or your own
//! [`stream::StreamSink`] — each from its own position in the store, so a
//! slow or dead receiver holds nothing but its own lag, and catches up from
//! the store when it is back. Webhook [`stream::Destination`]s can be kept
//! in the store, one per tenant ([`Store::add_stream_destination`]; `audit
//! stream add`). The [`stream`] module has the guarantees, the table of
//! what each failure does, and the signature a receiver checks.
//!
//! # Merkle trees, signed checkpoints and offline proofs
//!
//! Each stream is an RFC 9162 Merkle tree ([`merkle`]) over its events'
//! leaf hashes in seq order, kept as events are written, in the same
//! transaction: the tree's frontier (its largest perfect subtrees, at most
//! 64 hashes) on the stream's head row, and every perfect subtree of 16,
//! 256, 4,096, … leaves in `audit_tree_nodes`, one row per 15 events. A
//! proof reads O(log n) rows: one tile of at most 16 hashes per stored
//! level it spans (in two statements: the leaves, and every node range),
//! the rest folded in memory.
//!
//! - `store.tree_head(stream, size)`: the size and root at the head or at
//!   any earlier size; `store.inclusion_proof(id, size)` and
//!   `store.audit_paths(stream, size, leaves)` (many at once, for exports);
//!   `store.consistency_proof(stream, old, new)`.
//! - `verify` rebuilds the tree from the recomputed leaves and checks the
//!   stored subtrees and frontier against it ([`Problem::TreeMismatch`]);
//!   `verify_against(stream, heads)` also checks the roots of signed
//!   checkpoints ([`Problem::CheckpointMismatch`],
//!   [`Problem::BehindCheckpoint`]): that catches a history rebuilt
//!   consistently by someone without the signing key.
//! - A [`Checkpointer`](checkpoint::Checkpointer) signs every moved head on
//!   a schedule (60 s by default, and once more on shutdown), keeps the
//!   checkpoint in the store (`store.checkpoints`, `store.latest_checkpoint`)
//!   and hands it to sinks ([`DirectorySink`](checkpoint::DirectorySink),
//!   [`WriterSink`](checkpoint::WriterSink), `HttpSink` with the `http`
//!   feature, or your own [`CheckpointSink`](checkpoint::CheckpointSink)).
//!   It refuses to sign a head below, or not provably extending, the
//!   stream's newest checkpoint: a database rolled back or rewritten. The
//!   log's name is its signing key's name.
//! - Purges keep what later proofs need of the removed leaves (their
//!   compact range, at most 4 hashes below the first stored level), so
//!   every remaining event keeps its inclusion proof and a checkpoint from
//!   before the purge is provably consistent with later ones. A stream
//!   purged before this version kept trees has none (`ProofError::NoTree`);
//!   every other stream gets its tree built on the first `connect`, and a
//!   stream written when the store kept only levels 8, 16, … gets the
//!   subtrees it lacks, once its leaves are checked against the stored
//!   frontier and subtrees.
//!
//! The formats are those of the transparency-log specifications, so other
//! tools read them too:
//!
//! - **Keys** ([`checkpoint`]): Ed25519, named (a schema-less URL such as
//!   `audit.example.com/log`). The [`SigningKey`] is the text
//!   `PRIVATE+KEY+<name>+<key hash>+<base64(0x01 ‖ seed)>`, read from a file
//!   or an environment variable and never shown; the [`VerifierKey`], to
//!   publish, is `<name>+<key hash>+<base64(0x01 ‖ public key)>`. The key
//!   hash is the first 4 bytes (big-endian, 8 hex digits) of
//!   `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`. These are the formats of
//!   golang.org/x/mod/sumdb/note.
//! - **Signed notes** ([`SignedNote`], C2SP signed-note): a text ending in a
//!   newline, a blank line, then lines `— <key name> <base64(key hash ‖
//!   signature)>`, each signature over the text.
//! - **Checkpoints** ([`Checkpoint`], C2SP tlog-checkpoint): the note text
//!   `<origin>\n<tree size>\n<base64 root>\n`, one per stream, whose origin
//!   is `<log name>/<stream, percent-encoded>` and whose root is that of the
//!   RFC 9162 tree ([`merkle`]) over the stream's leaf hashes in seq order.
//! - **Proofs** ([`proof`]): an [`EventProof`] is JSON holding the event, its
//!   leaf index (seq − 1), the tree size, the audit path (base64 hashes, as
//!   [`serde_hash`] writes them) and the signed checkpoint.
//!   [`EventProof::verify`] needs only the verifier key and the log's name,
//!   and tells apart a bad signature, another stream's or log's checkpoint,
//!   a wrong size or index, an edited event and a path that leads elsewhere
//!   ([`InvalidProof`]). A [`ConsistencyProof`] shows that a later
//!   checkpoint of a stream extends an earlier one.
//! - **Exports with proofs** ([`proof_export`]): `scan.with_proofs()` gives
//!   each event its [`EventProof`] against its stream's newest checkpoint,
//!   or, for an event that checkpoint does not cover yet, the line
//!   `{"event", "leaf_index", "checkpoint": null}`. The admin API serves
//!   them (`GET /export?format=ndjson&with_proofs=true`), with a stream's
//!   checkpoints (`GET /checkpoints`) and consistency proofs between them
//!   (`GET /consistency`).
//!
//! # Retention
//!
//! [`Purge`] is the only way to remove events: `purge(Purge::before(t))`
//! for every stream, or `.tenant(id)` for one. Per stream it removes the
//! oldest run of events up to the first one that occurred at or after `t`
//! (an event recorded late stays until a later purge passes it), records the
//! seq and leaf hash of the last removed event as the stream's base, and
//! appends an `audit.purged` event saying the same, all in one transaction
//! (shared by up to 64 streams: one commit for them all).
//! `verify` then checks the stream from its base on and requires the newest
//! `audit.purged` event to match the base, so what remains still verifies
//! and a deletion behind the store's back does not. A `before` in the future
//! is refused. Schedule it (from a cron job, or the `audit purge` command) to
//! match your retention policy; nothing is purged automatically.
//!
//! Tenants on different plans keep their trails for different periods:
//! `purge(Purge::by_policy(policy))` cuts each stream at its own period of
//! a [`RetentionPolicy`], counted back from the run. On PostgreSQL, months
//! whose every event is purged are dropped whole, and only the others lose
//! rows one by one; [`PurgeOutcome`] lists both.
//!
//! # Durability
//!
//! SQLite runs in WAL mode with `synchronous=FULL` by default
//! (`Durability::Full`): a committed batch survives a power loss.
//! `Durability::Normal` (`synchronous=NORMAL`, via
//! `SqliteStore::connect_with_durability`) is faster but may lose the last
//! transactions on power loss (never corrupting the file); opt in knowingly.
//! PostgreSQL commits follow the server's `synchronous_commit` and `fsync`
//! settings, which should stay on for an audit trail.
//!
//! **Batch size.** Each `write_batch` is one transaction, i.e. one commit
//! (an fsync). On SQLite a commit also writes every page the transaction
//! touched to the WAL, and a batch of events by many actors, on many
//! targets, touches pages all across the tenant-and-actor, -action and
//! -target indexes: the larger the table, the more pages each commit
//! rewrites, whatever the batch's size. So an auditor writing to SQLite
//! hands it batches of up to 10,000 events unless its builder sets a
//! `batch_size` (the store's `AuditSink::preferred_batch_size`; PostgreSQL
//! names none, so the auditor's 512 applies). The auditor's linger still
//! bounds the wait, and a batch only fills when that many events are
//! queued; a full batch holds SQLite's write lock for about a second, which
//! other writers of the same file (`record_in`) wait out under the busy
//! timeout. PostgreSQL, whose commits write only the WAL records of the
//! rows, writes as fast with any of these sizes. BENCHMARKS.md ("Ingest")
//! measures each size against raw rusqlite and `COPY`.
//!
//! **Memory.** Each SQLite connection (8 at most) caches up to 32 MiB of
//! pages, against SQLite's 2 MiB default: index pages of a large table stay
//! in memory between queries. The cache grows only as pages are read. Each
//! connection also reads the first 2 GiB of the file through a memory map
//! (`mmap_size`, SQLite's largest by default): no system call or copy per
//! page read. The pages it maps show in the process's resident memory as
//! file pages (the OS page cache, reclaimable), and an I/O error reading a
//! mapped page raises `SIGBUS` instead of returning an error, SQLite's
//! documented trade-off for memory-mapped I/O.
//!
//! # Roles
//!
//! Triggers stop SQL that goes through them; whoever owns the tables can
//! drop them. On PostgreSQL, run the application under a role that does not
//! own the schema: an owner role migrates (`audit migrate`, or the first
//! `connect`), and the application's role gets only what the store uses:
//!
//! ```sql
//! GRANT USAGE ON SCHEMA public TO audit_app;
//! GRANT SELECT, INSERT, DELETE ON audit_events TO audit_app;   -- DELETE: retention purge
//! GRANT SELECT, INSERT, UPDATE ON audit_streams TO audit_app;
//! GRANT SELECT, INSERT ON audit_store_keys TO audit_app;
//! GRANT SELECT, INSERT ON audit_tree_nodes, audit_checkpoints TO audit_app;
//! -- Stream sinks (see "Streaming to SIEMs"): positions move, destinations are read.
//! GRANT SELECT, INSERT, UPDATE ON audit_stream_cursors TO audit_app;
//! GRANT SELECT ON audit_stream_destinations TO audit_app;
//! -- The action catalogue the application publishes when it starts:
//! GRANT SELECT, INSERT, UPDATE ON audit_action_catalogue TO audit_app;
//! -- Personal data (see the `personal` module): keys are created and erased
//! -- (UPDATE only sets a key to NULL: a trigger refuses anything else);
//! -- legal holds are placed and released by whoever may erase.
//! GRANT SELECT, INSERT, UPDATE ON audit_subject_keys TO audit_app;
//! GRANT SELECT, INSERT, DELETE ON audit_legal_holds TO audit_app;
//! -- Retention drops a month whose every event is purged (the function checks):
//! GRANT EXECUTE ON FUNCTION audit_events_retire_partition(text) TO audit_app;
//! GRANT SELECT ON _sqlx_migrations TO audit_app;
//! ```
//!
//! `connect` applies migrations only when some are pending, so this role
//! connects to an up-to-date database; it cannot alter, disable or drop a
//! trigger, set `session_replication_role`, or `UPDATE`/`TRUNCATE` events
//! (tested in `tests/guards.rs`). A SQLite file has no roles: whoever can
//! write the file can do anything, so keep it readable and writable by the
//! service alone. Against the owner of the database itself, only a record
//! kept elsewhere helps: `audit verify --known FILE` remembers how far each
//! stream reached, and reports a stream that is gone or ends earlier on the
//! next run, and signed checkpoints kept off its host make every stream
//! verifiable by anyone with the verifier key (see "Signed checkpoints and
//! offline proofs").
//!
//! # Transactional mode
//!
//! `store.record_in(&mut transaction, &events)` (`SqliteStore::record_in`,
//! `PgStore::record_in`) writes events inside *your* sqlx transaction on the
//! store's pool, so the business change and its audit rows commit or roll
//! back together: a rolled-back change leaves no audit row and uses no seq.
//! On SQLite start that transaction with `begin_with("BEGIN IMMEDIATE")`: a
//! deferred transaction that read before it writes can fail to get the write
//! lock under concurrency. On PostgreSQL the streams' head rows stay locked
//! until your transaction ends, so keep it short.
//!
#![cfg_attr(feature = "sqlite", doc = "[`SqliteStore`]: crate::SqliteStore")]
#![cfg_attr(
    not(feature = "sqlite"),
    doc = "[`SqliteStore`]: https://docs.rs/audit-store/latest/audit_store/"
)]
#![cfg_attr(feature = "postgres", doc = "[`PgStore`]: crate::PgStore")]
#![cfg_attr(
    not(feature = "postgres"),
    doc = "[`PgStore`]: https://docs.rs/audit-store/latest/audit_store/"
)]

mod backend;
mod catalogue;
pub mod checkpoint;
mod error;
mod export;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
mod http_client;
mod integrity;
pub mod log_read;
pub mod merkle;
mod migrations;
pub mod personal;
#[cfg(feature = "postgres")]
mod postgres;
pub mod proof;
pub mod proof_export;
mod query;
mod retention;
mod row;
mod scan;
pub mod serde_hash;
#[cfg(feature = "sqlite")]
mod sqlite;
pub mod stream;
mod tree;

use audit_core::{Actor, AuditSink, Event, SinkError};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use backend::Backend as _;

pub use catalogue::CatalogueEntry;
pub use checkpoint::{Checkpoint, CheckpointError, SignedNote, SigningKey, VerifierKey};
pub use error::StoreError;
pub use export::{CSV_COLUMNS, ExportFormat};
pub use integrity::{Problem, VerifyReport, leaf_hash};
#[cfg(feature = "postgres")]
pub use postgres::{PartitionUnit, PgStore};
pub use proof::{ConsistencyProof, EventProof, InvalidProof};
pub use proof_export::{ProofLine, ProofScan, UncoveredEvent};
pub use query::{
    ActionCount, ActionFilter, AuditQuery, DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, MAX_VALUE_CHARS, Page,
    QUERY_PARAMETERS, QueryError, QueryParameter, ValueFormat,
};
pub use retention::{PURGE_ACTION, Purge, PurgeOutcome, PurgeReport, RetentionPolicy};
pub use scan::Scan;
#[cfg(feature = "sqlite")]
pub use sqlite::{Durability, SqliteStore};
pub use tree::{InclusionProof, SignedCheckpoint, TreeHead};

/// The URL schemes this build accepts, for error messages.
const SUPPORTED_SCHEMES: &str = match (cfg!(feature = "sqlite"), cfg!(feature = "postgres")) {
    (true, true) => "a sqlite: URL (sqlite://PATH, sqlite::memory:) or a postgres:// / postgresql:// URL",
    (true, false) => "a sqlite: URL (sqlite://PATH, sqlite::memory:); enable the `postgres` feature for postgres://",
    (false, true) => "a postgres:// / postgresql:// URL; enable the `sqlite` feature for sqlite:",
    (false, false) => "nothing: enable the `sqlite` or `postgres` feature of audit-store",
};

/// A store of either backend, as chosen by [`connect`].
///
/// It is an [`AuditSink`] and forwards [`verify`](Self::verify) and
/// [`streams`](Self::streams); match on it for the backend's own API (its
/// pool, `record_in`).
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// use audit_core::{Action, Actor, AuditSink, Event};
/// use audit_store::Store;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = audit_store::connect("sqlite::memory:").await?;
/// assert!(matches!(store, Store::Sqlite(_)));
/// let event = Event::builder(Action::new("app.created")?, Actor::user("u1")).tenant("acme").build();
/// store.write_batch(&[event.clone(), event]).await?; // stored once
/// assert_eq!(store.streams().await?, ["tenant:acme"]);
/// let report = store.verify("tenant:acme").await?;
/// assert!(report.is_intact());
/// assert_eq!(report.checked, 1);
///
/// let error = audit_store::connect("mysql://audit:s3cret@db/audit").await.unwrap_err().to_string();
/// assert!(error.contains("sqlite:") && !error.contains("s3cret"), "{error}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub enum Store {
    /// The embedded SQLite store.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    /// The PostgreSQL store.
    #[cfg(feature = "postgres")]
    Postgres(PgStore),
}

/// Connects to the store at `url`, choosing the backend by its scheme:
/// `sqlite:` (`SqliteStore`, with `Durability::Full`) or `postgres:` /
/// `postgresql:` (`PgStore`), as far as this build's features allow. Applies
/// the embedded migrations.
///
/// # Errors
/// [`StoreError::UnsupportedUrl`] for any other scheme, naming the schemes this
/// build accepts (any password in the URL is never shown); otherwise as the
/// backend's own `connect`.
pub async fn connect(url: &str) -> Result<Store, StoreError> {
    let scheme = url.split_once(':').map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        #[cfg(feature = "sqlite")]
        Some("sqlite") => Ok(Store::Sqlite(SqliteStore::connect(url).await?)),
        #[cfg(feature = "postgres")]
        Some("postgres" | "postgresql") => Ok(Store::Postgres(PgStore::connect(url).await?)),
        _ => Err(StoreError::UnsupportedUrl {
            url: error::redact_url(url),
            expected: SUPPORTED_SCHEMES,
        }),
    }
}

/// Runs `$call` on the store inside a [`Store`], whichever backend it is.
macro_rules! on_backend {
    ($store:expr, |$backend:ident| $call:expr) => {
        match *$store {
            #[cfg(feature = "sqlite")]
            Store::Sqlite(ref $backend) => $call,
            #[cfg(feature = "postgres")]
            Store::Postgres(ref $backend) => $call,
        }
    };
}

impl Store {
    /// Verifies one stream; see `SqliteStore::verify` / `PgStore::verify`.
    ///
    /// # Errors
    /// Database errors, or a row that cannot be read back as an event.
    pub async fn verify(&self, stream: &str) -> Result<VerifyReport, StoreError> {
        on_backend!(self, |store| store.verify(stream).await)
    }

    /// Verifies one stream against tree heads from signed checkpoints; see
    /// `SqliteStore::verify_against` / `PgStore::verify_against`.
    ///
    /// # Errors
    /// As [`verify`](Self::verify); [`StoreError::Proof`] when the store
    /// keeps no tree for the stream.
    pub async fn verify_against(&self, stream: &str, checkpoints: &[TreeHead]) -> Result<VerifyReport, StoreError> {
        on_backend!(self, |store| store.verify_against(stream, checkpoints).await)
    }

    /// Every stream that has events, sorted.
    ///
    /// # Errors
    /// Database errors.
    pub async fn streams(&self) -> Result<Vec<String>, StoreError> {
        on_backend!(self, |store| store.streams().await)
    }

    /// One page of the events `query` selects; see `SqliteStore::query` /
    /// `PgStore::query`.
    ///
    /// # Errors
    /// [`StoreError::Query`] naming the parameter at fault; database errors.
    pub async fn query(&self, query: &AuditQuery) -> Result<Page, StoreError> {
        on_backend!(self, |store| store.query(query).await)
    }

    /// The actions of the events `query` selects, with counts; see
    /// `SqliteStore::action_counts` / `PgStore::action_counts`.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    pub async fn action_counts(&self, query: &AuditQuery) -> Result<Vec<ActionCount>, StoreError> {
        on_backend!(self, |store| store.action_counts(query).await)
    }

    /// The event with this id, if stored, whatever its tenant.
    ///
    /// # Errors
    /// Database errors, or a stored row that cannot be read back.
    pub async fn get(&self, id: uuid::Uuid) -> Result<Option<Event>, StoreError> {
        on_backend!(self, |store| store.get(id).await)
    }

    /// A stream's tree head; see `SqliteStore::tree_head` / `PgStore::tree_head`.
    ///
    /// # Errors
    /// [`StoreError::Proof`] when `size` is past the head; database errors.
    pub async fn tree_head(&self, stream: &str, size: Option<u64>) -> Result<TreeHead, StoreError> {
        on_backend!(self, |store| store.tree_head(stream, size).await)
    }

    /// An event's inclusion proof; see `SqliteStore::inclusion_proof` /
    /// `PgStore::inclusion_proof`.
    ///
    /// # Errors
    /// [`StoreError::Proof`] for sizes the stream cannot answer; database errors.
    pub async fn inclusion_proof(
        &self,
        id: uuid::Uuid,
        tree_size: Option<u64>,
    ) -> Result<Option<InclusionProof>, StoreError> {
        on_backend!(self, |store| store.inclusion_proof(id, tree_size).await)
    }

    /// The audit paths of several leaves of a stream's tree; see
    /// `SqliteStore::audit_paths` / `PgStore::audit_paths`.
    ///
    /// # Errors
    /// [`StoreError::Proof`] for sizes the stream cannot answer; database errors.
    pub async fn audit_paths(
        &self,
        stream: &str,
        tree_size: Option<u64>,
        leaf_indexes: &[u64],
    ) -> Result<(u64, Vec<Vec<merkle::Hash>>), StoreError> {
        on_backend!(self, |store| store.audit_paths(stream, tree_size, leaf_indexes).await)
    }

    /// A consistency proof between two sizes of a stream's tree; see
    /// `SqliteStore::consistency_proof` / `PgStore::consistency_proof`.
    ///
    /// # Errors
    /// [`StoreError::Proof`] for sizes the stream cannot answer; database errors.
    pub async fn consistency_proof(&self, stream: &str, old: u64, new: u64) -> Result<Vec<merkle::Hash>, StoreError> {
        on_backend!(self, |store| store.consistency_proof(stream, old, new).await)
    }

    /// Keeps a signed checkpoint; see `SqliteStore::save_checkpoint` /
    /// `PgStore::save_checkpoint`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn save_checkpoint(&self, checkpoint: &SignedCheckpoint) -> Result<bool, StoreError> {
        on_backend!(self, |store| store.save_checkpoint(checkpoint).await)
    }

    /// The checkpoints kept for a stream; see `SqliteStore::checkpoints` /
    /// `PgStore::checkpoints`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn checkpoints(
        &self,
        stream: &str,
        since: Option<audit_core::Timestamp>,
        limit: u32,
    ) -> Result<Vec<SignedCheckpoint>, StoreError> {
        on_backend!(self, |store| store.checkpoints(stream, since, limit).await)
    }

    /// The newest checkpoint kept for a stream.
    ///
    /// # Errors
    /// Database errors.
    pub async fn latest_checkpoint(&self, stream: &str) -> Result<Option<SignedCheckpoint>, StoreError> {
        on_backend!(self, |store| store.latest_checkpoint(stream).await)
    }

    /// The checkpoint kept for `stream` at tree size `size`, if any.
    ///
    /// # Errors
    /// Database errors.
    pub async fn checkpoint_at(&self, stream: &str, size: u64) -> Result<Option<SignedCheckpoint>, StoreError> {
        on_backend!(self, |store| store.checkpoint_at(stream, size).await)
    }

    /// Event `id` with the proof that it is in a signed checkpoint of its
    /// stream: the checkpoint kept at tree size `checkpoint`, or the newest
    /// one when `None`. What `audit prove`, `GET /{id}/proof` and exports
    /// with proofs hand out; [`EventProof::verify`] checks it offline.
    /// `None` when there is no such event.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use audit_core::{Action, Actor, AuditSink, Event};
    /// use audit_store::SigningKey;
    /// use audit_store::checkpoint::Checkpointer;
    ///
    /// let store = audit_store::connect("sqlite::memory:").await?;
    /// let event = Event::builder(Action::new("app.created")?, Actor::user("u1")).build();
    /// store.write_batch(&[event.clone()]).await?;
    /// let key = SigningKey::generate("audit.example.com")?;
    /// Checkpointer::new(store.clone(), key.clone()).checkpoint_now().await?;
    ///
    /// let proof = store.event_proof(event.id(), None).await?.expect("stored");
    /// let verified = proof.verify(&key.verifier_key(), "audit.example.com")?;
    /// assert_eq!((verified.seq, verified.checkpoint.size), (1, 1));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`StoreError::Proof`] with [`ProofError::NotCheckpointed`](merkle::ProofError::NotCheckpointed)
    /// when no such checkpoint covers the event (none signed yet, the newest
    /// is older than the event, or none kept at that size); database errors.
    pub async fn event_proof(&self, id: uuid::Uuid, checkpoint: Option<u64>) -> Result<Option<EventProof>, StoreError> {
        let Some(event) = self.get_sealed(id).await? else {
            return Ok(None);
        };
        let Some(integrity) = event.integrity() else {
            return Err(StoreError::Corrupt {
                id: id.to_string(),
                reason: "the stored event has no stream or seq".to_owned(),
            });
        };
        let stream = integrity.stream.clone();
        let seq = integrity.seq;
        let signed = match checkpoint {
            None => self.latest_checkpoint(&stream).await?,
            Some(size) => self.checkpoint_at(&stream, size).await?,
        };
        let Some(signed) = signed.filter(|signed| signed.size >= seq) else {
            return Err(StoreError::Proof {
                stream,
                error: merkle::ProofError::NotCheckpointed { seq, size: checkpoint },
            });
        };
        // The event is read already: only its path is left to read.
        let leaf_index = seq.saturating_sub(1);
        let (tree_size, mut paths) = self.audit_paths(&stream, Some(signed.size), &[leaf_index]).await?;
        let proof = InclusionProof {
            event,
            leaf_index,
            tree_size,
            audit_path: paths.pop().unwrap_or_default(),
        };
        Ok(Some(proof.with_checkpoint(signed.note)))
    }

    /// Seals personal data as `personal` says from now on; see
    /// [`personal`] for what is sealed and how reading opens it.
    pub fn with_personal_data(self, personal: personal::PersonalData) -> Self {
        match self {
            #[cfg(feature = "sqlite")]
            Store::Sqlite(store) => Store::Sqlite(store.with_personal_data(personal)),
            #[cfg(feature = "postgres")]
            Store::Postgres(store) => Store::Postgres(store.with_personal_data(personal)),
        }
    }

    /// Erases a subject's personal data by destroying its key: every value
    /// sealed under it (its name and email as actor, its name as target,
    /// descriptions and marked fields of its events) becomes unreadable
    /// everywhere, shown as [`ERASED`](personal::ERASED), while every
    /// event, hash, proof and signed checkpoint stays as it was. Records
    /// `audit.subject_erased` (who asked, why, the tenants concerned) in
    /// each tenant stream whose events name the subject (the global stream
    /// when none does). Erasing a subject again destroys nothing more and
    /// is recorded again.
    ///
    #[cfg_attr(feature = "sqlite", doc = "```")]
    #[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
    /// use audit_core::{Action, Actor, AuditSink as _, Event};
    /// use audit_store::personal::{ERASED, Erasure, PersonalData};
    /// use audit_store::AuditQuery;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = audit_store::connect("sqlite::memory:").await?.with_personal_data(PersonalData::new());
    /// let bob = Actor::user("user_bob").with_email("bob@example.com");
    /// store.write_batch(&[Event::builder(Action::new("app.created")?, bob).tenant("acme").build()]).await?;
    /// let read = |page: audit_store::Page| page.events[0].actor().email.clone();
    /// let query = AuditQuery::new().tenant("acme").action(Action::new("app.created")?);
    /// assert_eq!(read(store.query(&query).await?).as_deref(), Some("bob@example.com"));
    ///
    /// let report = store.erase_subject(&Erasure::new("user_bob", Actor::user("dpo"))).await?;
    /// assert!(report.key_destroyed);
    /// assert_eq!(read(store.query(&query).await?).as_deref(), Some(ERASED));
    /// assert!(store.verify("tenant:acme").await?.is_intact());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`StoreError::LegalHold`] when a tenant whose events name the
    /// subject is held (nothing is erased); [`StoreError::InvalidSubject`]
    /// for an empty or oversized id; database or key store errors.
    pub async fn erase_subject(&self, erasure: &personal::Erasure) -> Result<personal::ErasureReport, StoreError> {
        on_backend!(self, |store| backend::Backend::erase_subject(store, erasure).await)
    }

    /// Places a legal hold on `tenant`: no subject its events name can be
    /// erased until it is released. Records `audit.legal_hold.placed` in
    /// the tenant's stream. Returns the hold in force (the earlier one,
    /// unchanged and not recorded again, when the tenant was held already).
    ///
    /// # Errors
    /// [`StoreError::InvalidSubject`] for an empty tenant or reason;
    /// database errors.
    pub async fn place_legal_hold(
        &self,
        tenant: &str,
        reason: &str,
        by: &Actor,
    ) -> Result<personal::LegalHold, StoreError> {
        if tenant.trim().is_empty() || reason.trim().is_empty() {
            return Err(StoreError::InvalidSubject(
                "a legal hold needs a tenant and a reason".to_owned(),
            ));
        }
        let hold = personal::LegalHold {
            tenant: tenant.to_owned(),
            reason: reason.to_owned(),
            placed_by: by.id.clone(),
            placed_at: audit_core::Timestamp::now(),
        };
        if on_backend!(self, |store| backend::Backend::place_legal_hold(store, &hold).await)? {
            let event = hold.event(by, false);
            on_backend!(self, |store| backend::Backend::write(
                store,
                std::slice::from_ref(&event)
            )
            .await)?;
            return Ok(hold);
        }
        let holds = self.legal_holds().await?;
        Ok(holds.into_iter().find(|held| held.tenant == tenant).unwrap_or(hold))
    }

    /// Releases the legal hold on `tenant`, recording
    /// `audit.legal_hold.released`; `None` (nothing recorded) when it was
    /// not held.
    ///
    /// # Errors
    /// Database errors.
    pub async fn release_legal_hold(
        &self,
        tenant: &str,
        by: &Actor,
    ) -> Result<Option<personal::LegalHold>, StoreError> {
        let released = on_backend!(self, |store| backend::Backend::release_legal_hold(store, tenant).await)?;
        if let Some(hold) = &released {
            let event = hold.event(by, true);
            on_backend!(self, |store| backend::Backend::write(
                store,
                std::slice::from_ref(&event)
            )
            .await)?;
        }
        Ok(released)
    }

    /// Every legal hold in force, by tenant.
    ///
    /// # Errors
    /// Database errors.
    pub async fn legal_holds(&self) -> Result<Vec<personal::LegalHold>, StoreError> {
        on_backend!(self, |store| backend::Backend::legal_holds(store).await)
    }

    /// Opens the sealed personal values of `events` for a reader.
    pub(crate) async fn open_events(&self, events: &mut [Event]) -> Result<(), StoreError> {
        on_backend!(self, |store| backend::Backend::open_events(store, events).await)
    }

    /// The event with this id as stored, personal values sealed as hashed.
    pub(crate) async fn get_sealed(&self, id: uuid::Uuid) -> Result<Option<Event>, StoreError> {
        on_backend!(self, |store| backend::Backend::get_sealed(store, id).await)
    }

    /// Every event `query` selects, in batches; see [`Scan`].
    ///
    /// # Errors
    /// [`StoreError::Query`] naming a parameter that cannot be used.
    pub fn scan(&self, query: &AuditQuery) -> Result<Scan, StoreError> {
        Scan::new(self.clone(), query)
    }

    pub(crate) fn cursor_key(&self) -> &query::CursorKey {
        on_backend!(self, |store| store.cursor_key())
    }

    pub(crate) async fn fetch(&self, plan: &query::Plan) -> Result<Vec<Event>, StoreError> {
        on_backend!(self, |store| store.fetch(plan).await)
    }

    /// Whether new events are indexed for free-text search; see
    /// [`SqliteStore::set_search_index`].
    ///
    /// # Errors
    /// Database errors.
    pub async fn search_index(&self) -> Result<bool, StoreError> {
        on_backend!(self, |store| store.search_index().await)
    }

    /// Turns the free-text search index off or on; see
    /// [`SqliteStore::set_search_index`].
    ///
    /// # Errors
    /// Database errors.
    pub async fn set_search_index(&self, on: bool) -> Result<(), StoreError> {
        on_backend!(self, |store| store.set_search_index(on).await)
    }

    /// Retention purge; see [`Purge`].
    ///
    /// # Errors
    /// [`StoreError::Query`] when `before` is in the future; database errors.
    pub async fn purge(&self, purge: &Purge) -> Result<PurgeOutcome, StoreError> {
        on_backend!(self, |store| store.purge(purge).await)
    }

    /// Where the stream sink `sink` stands in each stream with events (only
    /// `stream`, when given); see [`stream`].
    ///
    /// # Errors
    /// Database errors.
    pub async fn stream_positions(
        &self,
        sink: &str,
        stream: Option<&str>,
    ) -> Result<Vec<stream::StreamPosition>, StoreError> {
        on_backend!(self, |store| store.stream_positions(sink, stream).await)
    }

    /// Moves the stream sink `sink` to the head of every stream (only
    /// `stream`, when given): it delivers only events written from now
    /// on. What it skips stays in the store.
    ///
    /// # Errors
    /// Database errors.
    pub async fn seek_stream_sink_to_heads(&self, sink: &str, stream: Option<&str>) -> Result<(), StoreError> {
        on_backend!(self, |store| store.seek_stream_sink(sink, stream, false).await).map(drop)
    }

    /// As [`seek_stream_sink_to_heads`](Self::seek_stream_sink_to_heads),
    /// only for a sink the store has not seen; `false` when it had.
    pub(crate) async fn seek_stream_sink(
        &self,
        sink: &str,
        stream: Option<&str>,
        only_if_new: bool,
    ) -> Result<bool, StoreError> {
        on_backend!(self, |store| store.seek_stream_sink(sink, stream, only_if_new).await)
    }

    /// Up to `limit` events of `stream` after seq `after`, in seq order.
    pub(crate) async fn events_after(&self, stream: &str, after: u64, limit: u32) -> Result<Vec<Event>, StoreError> {
        on_backend!(self, |store| store.events_after(stream, after, limit).await)
    }

    /// Records that `sink` delivered `stream` up to seq `delivered`.
    pub(crate) async fn save_stream_position(
        &self,
        sink: &str,
        stream: &str,
        delivered: u64,
    ) -> Result<(), StoreError> {
        on_backend!(self, |store| store.save_stream_position(sink, stream, delivered).await)
    }

    /// Keeps a webhook `destination` (see [`stream::Destination`]); a
    /// [`Streamer`](stream::Streamer) with
    /// [`destinations_from_store`](stream::Streamer::destinations_from_store)
    /// starts delivering to it. With [`StartAt::Heads`](stream::StartAt::Heads)
    /// it receives only events written from now on; with
    /// [`StartAt::Beginning`](stream::StartAt::Beginning), also every event
    /// the store keeps of its streams.
    ///
    /// # Errors
    /// [`DestinationError::Invalid`](stream::DestinationError::Invalid)
    /// naming the field; [`DestinationError::Exists`](stream::DestinationError::Exists);
    /// database errors.
    #[cfg(feature = "http")]
    pub async fn add_stream_destination(
        &self,
        destination: &stream::Destination,
        start: stream::StartAt,
    ) -> Result<(), stream::DestinationError> {
        destination.check()?;
        let sink = destination.sink_name();
        let stream = destination.stream();
        let at_heads = start == stream::StartAt::Heads;
        let row = destination.to_row();
        let added = on_backend!(self, |store| store
            .insert_destination(&row, &sink, stream.as_deref(), at_heads)
            .await)?;
        if added {
            Ok(())
        } else {
            Err(stream::DestinationError::Exists(destination.name().to_owned()))
        }
    }

    /// The webhook destinations kept, by name.
    ///
    /// # Errors
    /// Database errors; [`StoreError::Corrupt`] for a row naming an
    /// unknown format.
    #[cfg(feature = "http")]
    pub async fn stream_destinations(&self) -> Result<Vec<stream::Destination>, StoreError> {
        let rows = on_backend!(self, |store| store.destinations().await)?;
        rows.into_iter().map(stream::Destination::from_row).collect()
    }

    /// Removes the destination `name` and its positions (a streamer stops
    /// delivering to it at its next refresh); `false` when there was none.
    ///
    /// # Errors
    /// Database errors.
    #[cfg(feature = "http")]
    pub async fn remove_stream_destination(&self, name: &str) -> Result<bool, StoreError> {
        let sink = format!("{}{name}", stream::SINK_PREFIX);
        on_backend!(self, |store| store.remove_destination(name, &sink).await)
    }

    /// Publishes the application's action catalogue (its `audit.toml`, as
    /// [`audit_core::catalogue!`] compiled it) into the store, where the
    /// admin API, the web page and `audit catalogue` read it. Call it when
    /// the application starts; each action's entry is written over, the
    /// other entries are kept (see [`CatalogueEntry`]).
    ///
    #[cfg_attr(feature = "sqlite", doc = "```")]
    #[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
    /// # mod example { pub mod actions { audit_core::catalogue!("../tests/fixtures/catalogue.toml"); } }
    /// # use example::actions;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = audit_store::connect("sqlite::memory:").await?;
    /// store.publish_catalogue(&actions::CATALOGUE).await?;
    /// let entries = store.catalogue().await?;
    /// assert_eq!(entries[0].action, "app.created");
    /// assert_eq!(entries[0].metadata_schema()["properties"]["plan"]["type"], "string");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Database errors.
    pub async fn publish_catalogue(&self, catalogue: &audit_core::catalogue::Catalogue) -> Result<(), StoreError> {
        let rows = catalogue::rows_of(catalogue, audit_core::Timestamp::now());
        on_backend!(self, |store| store.publish_catalogue(&rows).await)
    }

    /// Every action of the store's catalogue, by name.
    ///
    /// # Errors
    /// Database errors; [`StoreError::Corrupt`] for an entry that cannot be
    /// read back.
    pub async fn catalogue(&self) -> Result<Vec<CatalogueEntry>, StoreError> {
        let rows = on_backend!(self, |store| store.catalogue().await)?;
        rows.into_iter().map(catalogue::CatalogueRow::into_entry).collect()
    }

    /// Told after each batch written through this store (or a clone).
    pub(crate) fn subscribe_appended(&self) -> tokio::sync::watch::Receiver<u64> {
        on_backend!(self, |store| store.appended().subscribe())
    }
}

impl AuditSink for Store {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        on_backend!(self, |store| store.write_batch(batch).await)
    }

    fn preferred_batch_size(&self) -> Option<usize> {
        on_backend!(self, |store| store.preferred_batch_size())
    }
}

#[cfg(feature = "sqlite")]
impl From<SqliteStore> for Store {
    fn from(store: SqliteStore) -> Self {
        Self::Sqlite(store)
    }
}

#[cfg(feature = "postgres")]
impl From<PgStore> for Store {
    fn from(store: PgStore) -> Self {
        Self::Postgres(store)
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn unknown_schemes_are_rejected_without_the_password() {
        for url in ["mysql://user:pw@h/db", "h/db", "MYSQL://user:pw@h/db"] {
            let error = super::connect(url).await.unwrap_err();
            let message = error.to_string();
            assert!(matches!(error, super::StoreError::UnsupportedUrl { .. }), "{error:?}");
            assert!(!message.contains(":pw@"), "{message}");
            #[cfg(feature = "sqlite")]
            assert!(message.contains("sqlite:"), "{message}");
            #[cfg(feature = "postgres")]
            assert!(
                message.contains("postgres://") && message.contains("postgresql://"),
                "{message}"
            );
        }
    }
}
