//! PostgreSQL's free-text strategy: a trigram index asked for the few
//! trigrams a sample of rows says narrow a search most, after a scan of the
//! newest rows when the terms are common.

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder};

use super::PgStore;
use super::trigram_sample::{Narrowing, TrigramSample};
use crate::backend::Backend;
use crate::error::StoreError;
use crate::query::{Plan, sql, text};

/// A [`TrigramSample`] and when it was taken.
#[derive(Debug)]
pub(super) struct TakenSample {
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

impl PgStore {
    /// Whether the trigram index exists. Searches need not know: the same
    /// conditions are checked on the rows either way.
    pub(super) async fn search_indexed(&self) -> Result<bool, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT to_regclass('audit_events_search') IS NOT NULL")
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Drops the trigram index (from every partition), or makes it again
    /// as migrations 0002 and 0006 made it: scoped by tenant where
    /// `btree_gin` is installed, with the small pending list of 0003.
    pub(super) async fn set_search_indexed(&self, on: bool) -> Result<(), StoreError> {
        if !on {
            sqlx::query("DROP INDEX IF EXISTS audit_events_search")
                .execute(self.pool())
                .await?;
            return Ok(());
        }
        let scoped: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin')")
            .fetch_one(self.pool())
            .await?;
        let columns = if scoped {
            "tenant_id, search_text gin_trgm_ops"
        } else {
            "search_text gin_trgm_ops"
        };
        sqlx::query(&format!(
            "CREATE INDEX IF NOT EXISTS audit_events_search ON audit_events USING gin ({columns}) \
             WITH (gin_pending_list_limit = 256)"
        ))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The rows of one free-text page of `plan` (up to `limit + 1`).
    ///
    /// Found one of two ways. When the sample says the terms are common
    /// enough (see [`scan_first`]), the newest rows passing the other
    /// filters are scanned first ([`sql::page_scan`]): a common term fills
    /// the page within them, long before the trigram index has listed every
    /// match in the table. Otherwise, or when that scan did not fill the
    /// page, the trigram index lists the rows holding the trigrams the
    /// sample chose (see [`TrigramSample::narrowing`]) and the terms are
    /// checked on those.
    pub(super) async fn search_page(&self, plan: &Plan) -> Result<Vec<PgRow>, StoreError> {
        let narrowing = self.search_sample().await?.narrowing(&plan.terms);
        let mut rows = Vec::new();
        if scan_first(plan, narrowing.as_ref()) {
            rows = sql::page_scan::<PgStore>(plan, PgStore::select_columns(), sql::TEXT_SCAN_ROWS)
                .build()
                .fetch_all(self.pool())
                .await?;
        }
        if rows.len() <= plan.limit as usize {
            rows = sql::page_from::<PgStore>(plan, PgStore::select_columns(), |query| {
                push_search_source(query, &plan.terms, narrowing.as_ref());
            })
            .build()
            .fetch_all(self.pool())
            .await?;
        }
        Ok(rows)
    }

    /// The sample that free-text searches rank trigrams by: the
    /// `search_text` of about [`SAMPLE_ROWS`] rows from random pages of the
    /// table (`TABLESAMPLE SYSTEM`, sized from the planner's row count), taken
    /// by the first search and again by the first one after
    /// [`SAMPLE_TTL`]. A stale sample can make a search slower, never wrong.
    pub(super) async fn search_sample(&self) -> Result<Arc<TrigramSample>, StoreError> {
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
        // The partitions' row counts (the partitioned parent has none of
        // its own). -1 (or 0 before PostgreSQL 14) until a partition is
        // first analyzed: with none known every page is sampled, and the
        // LIMIT stops the read early.
        let rows: f32 = sqlx::query_scalar(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float4 FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_events'::regclass",
        )
        .fetch_one(self.pool())
        .await?;
        let percent = (100.0 * f64::from(SAMPLE_ROWS) / f64::from(rows).max(1.0)).clamp(0.0001, 100.0);
        let texts: Vec<String> =
            sqlx::query_scalar("SELECT search_text FROM audit_events TABLESAMPLE SYSTEM ($1::float8) LIMIT $2")
                .bind(percent)
                .bind(i64::from(SAMPLE_ROWS) * 2)
                .fetch_all(self.pool())
                .await?;
        let sample = Arc::new(TrigramSample::from_texts(texts.iter().map(String::as_str)));
        *self.search_sample.lock().unwrap_or_else(PoisonError::into_inner) = Some(TakenSample {
            sample: Arc::clone(&sample),
            taken: Instant::now(),
        });
        Ok(sample)
    }
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
/// [`SCAN_MARGIN`] times denser among them. A rarer search skips it (a
/// fifth of the time of a search for an actor's name, in BENCHMARKS.md's
/// "Issue 5, continued"): the index lists its rows.
fn scan_first(plan: &Plan, narrowing: Option<&Narrowing>) -> bool {
    narrowing.is_none_or(|n| n.share * sql::TEXT_SCAN_ROWS as f64 * SCAN_MARGIN >= f64::from(plan.limit) + 1.0)
}

/// ` FROM audit_events WHERE …` with the conditions the trigram index
/// serves: `search_text LIKE` each trigram of `narrowing`, or without one
/// each whole term. The filters then check every whole term on the rows
/// this lists.
pub(super) fn push_search_source(
    query: &mut QueryBuilder<'static, Postgres>,
    terms: &[String],
    narrowing: Option<&Narrowing>,
) {
    query.push(" FROM audit_events WHERE TRUE");
    let patterns = narrowing.map_or(terms, |n| &n.trigrams);
    for pattern in patterns {
        query.push(" AND search_text LIKE ");
        query.push_bind(text::like_contains(pattern));
    }
}
