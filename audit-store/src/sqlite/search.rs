//! SQLite's free-text strategy: a contentless FTS5 trigram index for rare
//! trigrams, a scan of the newest rows for common ones; scans alone while
//! the index is off.

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::SqliteStore;
use crate::error::StoreError;
use crate::query::{Plan, sql, text};
use crate::row::COLUMNS;

/// A trigram fewer rows than this hold is rare: the search index lists its
/// rows instead of a scan looking for them (see `SqliteStore::search_page`).
const RARE_TRIGRAM: i64 = 2_000;

/// How many trigrams (the rarest) the search index is asked for when no
/// trigram is rare: the rows holding all of them are few, and each more
/// common one would add the cost of reading its list.
const FTS_TRIGRAMS: usize = 3;

/// The most rows a second free-text scan reads (see [`second_scan`]): the
/// index holding `search_text` makes a row cheap, and this bounds the scan
/// to a few times a first page's cost (BENCHMARKS.md, "Issue 5").
const TEXT_SCAN_ROWS_COVERED: i64 = 30_000;

/// After a first [`sql::page_scan`] of [`sql::TEXT_SCAN_ROWS`] rows found `found`
/// matches, too few for the page: how far a second scan should read, when
/// that is worth it. It is when there were some matches (none suggests a
/// rare combination, better found through the search index), no offset,
/// and the tenant-and-time index (which holds `search_text` on SQLite)
/// covers every filter, so the scan reads no rows: then twice as
/// far as the matches suggest a page needs, up to
/// [`TEXT_SCAN_ROWS_COVERED`]. Two common words that occur together in one
/// event in 200 fill a page within that.
fn second_scan(plan: &Plan, found: usize) -> Option<i64> {
    let f = &plan.filter;
    let covered = f.tenant.is_some()
        && f.actions.is_empty()
        && f.categories.is_empty()
        && f.actor_id.is_none()
        && f.actor_kinds.is_empty()
        && f.actor_email.is_none()
        && f.target_type.is_none()
        && f.target_id.is_none()
        && f.severities.is_empty()
        && f.outcomes.is_empty()
        && f.client_ip.is_none()
        && f.request_id.is_none();
    let found = i64::try_from(found).ok().filter(|&n| n > 0)?;
    if !covered || plan.offset > 0 {
        return None;
    }
    let wanted = i64::from(plan.limit) + 1;
    let budget = (sql::TEXT_SCAN_ROWS * wanted / found * 2).min(TEXT_SCAN_ROWS_COVERED);
    (budget > sql::TEXT_SCAN_ROWS).then_some(budget)
}

/// The triggers that keep the search index in step with the rows
/// (migration 0002 made them): while they exist, the index is on.
const INDEX_TRIGGERS: &str = "\
    CREATE TRIGGER audit_events_search_insert AFTER INSERT ON audit_events BEGIN \
        INSERT INTO audit_events_search (rowid, doc) VALUES (new.pk, new.search_text); \
    END; \
    CREATE TRIGGER audit_events_search_delete AFTER DELETE ON audit_events BEGIN \
        INSERT INTO audit_events_search (audit_events_search, rowid, doc) VALUES ('delete', old.pk, old.search_text); \
    END;";

/// Whether the search index is on: its insert trigger exists.
const INDEX_IS_ON: &str =
    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_events_search_insert')";

impl SqliteStore {
    /// Whether the search index is on: its insert trigger exists. Read for
    /// every search, not cached: another process may turn it off, and a
    /// search through an index that stopped growing would miss rows.
    pub(super) async fn search_indexed(&self) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(INDEX_IS_ON).fetch_one(self.pool()).await?)
    }

    /// Drops the index's triggers and empties it, or fills it from every
    /// row and makes the triggers again, in one write transaction.
    pub(super) async fn set_search_indexed(&self, on: bool) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        let now: bool = sqlx::query_scalar(INDEX_IS_ON).fetch_one(&mut *tx).await?;
        if now != on {
            // A contentless FTS5 table forgets everything with 'delete-all'.
            sqlx::query("INSERT INTO audit_events_search (audit_events_search) VALUES ('delete-all')")
                .execute(&mut *tx)
                .await?;
            if on {
                sqlx::query("INSERT INTO audit_events_search (rowid, doc) SELECT pk, search_text FROM audit_events")
                    .execute(&mut *tx)
                    .await?;
                sqlx::raw_sql(INDEX_TRIGGERS).execute(&mut *tx).await?;
            } else {
                sqlx::raw_sql("DROP TRIGGER audit_events_search_insert; DROP TRIGGER audit_events_search_delete;")
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
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
    ///    suggest (see [`second_scan`]). A full page from a scan is the
    ///    right page.
    /// 3. Otherwise (common words that seldom occur together in the
    ///    filtered rows) the index lists the rows holding the
    ///    [`FTS_TRIGRAMS`] rarest trigrams.
    ///
    /// While the index is off, 2 and then every row passing the other
    /// filters, checked one by one.
    pub(super) async fn search_page(&self, plan: &Plan) -> Result<Vec<SqliteRow>, StoreError> {
        let trigrams = text::trigrams(&plan.terms);
        let ranked = if trigrams.is_empty() || !self.search_indexed().await? {
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
            return Ok(fts_page(plan, &rare).build().fetch_all(self.pool()).await?);
        }
        let rows = sql::page_scan::<Self>(plan, COLUMNS, sql::TEXT_SCAN_ROWS)
            .build()
            .fetch_all(self.pool())
            .await?;
        if rows.len() > plan.limit as usize {
            return Ok(rows);
        }
        if let Some(budget) = second_scan(plan, rows.len()) {
            let rows = sql::page_scan::<Self>(plan, COLUMNS, budget)
                .build()
                .fetch_all(self.pool())
                .await?;
            if rows.len() > plan.limit as usize {
                return Ok(rows);
            }
        }
        let mut query = if ranked.is_empty() {
            sql::page::<Self>(plan, COLUMNS)
        } else {
            fts_page(plan, &fallback_trigrams(&plan.terms, &ranked))
        };
        Ok(query.build().fetch_all(self.pool()).await?)
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
        let row = query.build().fetch_one(self.pool()).await?;
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
    sql::page_from::<SqliteStore>(plan, COLUMNS, |query| push_fts_source(query, trigrams))
}

/// ` FROM … WHERE …` of the rows holding every one of `trigrams`: the
/// search index read first, then each row it lists looked up by key
/// (`CROSS JOIN` fixes that order; SQLite would otherwise build the list in
/// full and probe it from another index). Without trigrams, every row.
pub(super) fn push_fts_source(query: &mut QueryBuilder<'static, Sqlite>, trigrams: &[impl AsRef<str>]) {
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
