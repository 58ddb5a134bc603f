//! Pages read partition by partition, newest first.
//!
//! A page query whose time window spans many partitions (no `since`, or a
//! long one) makes PostgreSQL plan every partition in the window before it
//! returns a row: at 1M events over 27 monthly partitions planning alone
//! took ~2 ms of a 2.6 ms first page, where one partition plans in
//! ~0.25 ms. Most pages are filled by the newest partitions, so the page
//! is read in windows instead, each asking only for the rows the page
//! still lacks:
//!
//! 1. the newest partition that can hold a row of the page (with the one
//!    before it when it has only just begun);
//! 2. then back as far as the rows found so far say the page needs, at
//!    their rate per unit of time, with half as much again to spare;
//! 3. and when a window found nothing, or after [`MAX_WINDOWS`],
//!    everything left in one query: a filter that matches little pays one
//!    extra small query, not one per window.
//!
//! Pages of one target or one request, whose events are usually few, are
//! read in one query from the start.
//!
//! The windows are disjoint time ranges taken newest first and each is
//! read in the page's order, so their rows, concatenated, are exactly the
//! page one query would return.
//!
//! The cut points come from the `audit_partitions` registry, read at most
//! every [`STARTS_TTL`]. They only decide where the windows split, never
//! what a window holds: the first window has no upper bound of its own
//! and the last no lower one, so a partition made or dropped since the
//! registry was read changes how many queries a page takes, not its rows.
//!
//! Pages with an offset (the offset counts rows across every window) and
//! free-text pages (their own search plan) are read in one query.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use audit_core::Timestamp;
use sqlx::postgres::PgRow;

use super::PgStore;
use crate::backend::Backend;
use crate::error::StoreError;
use crate::query::{Plan, sql};

/// How long the partitions' start times read from the registry are used
/// before they are read again.
pub(super) const STARTS_TTL: Duration = Duration::from_secs(30);

/// The partitions' start times, newest first, and when they were read
/// (shared by a store's clones).
#[derive(Debug, Default)]
pub(super) struct PartitionStarts {
    read: Mutex<Option<(Instant, Arc<[Timestamp]>)>>,
}

impl PartitionStarts {
    async fn get(&self, store: &PgStore) -> Result<Arc<[Timestamp]>, StoreError> {
        if let Some((read, starts)) = &*self.read.lock().unwrap_or_else(PoisonError::into_inner)
            && read.elapsed() < STARTS_TTL
        {
            return Ok(Arc::clone(starts));
        }
        let micros: Vec<i64> = sqlx::query_scalar(
            "SELECT (extract(epoch FROM starts) * 1000000)::int8 FROM audit_partitions ORDER BY starts DESC",
        )
        .fetch_all(store.pool())
        .await?;
        let starts: Arc<[Timestamp]> = micros.into_iter().filter_map(Timestamp::from_unix_micros).collect();
        *self.read.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), Arc::clone(&starts)));
        Ok(starts)
    }
}

/// Windows read before the rest of a page is read in one query.
pub(super) const MAX_WINDOWS: usize = 3;

impl PgStore {
    /// The rows (up to `limit + 1`) of one page of `plan`, which has no
    /// search terms: window by window where that plans fewer partitions.
    pub(super) async fn walk_page(&self, plan: &Plan) -> Result<Vec<PgRow>, StoreError> {
        let walk = if Walk::may_help(plan) {
            Walk::new(plan, &self.partition_starts.get(self).await?, Timestamp::now())
        } else {
            None
        };
        let Some(walk) = walk else {
            return self.fetch_built(sql::page::<Self>(plan, Self::select_columns())).await;
        };
        let wanted = plan.limit as usize + 1;
        let mut rows = Vec::with_capacity(wanted);
        let mut upper = plan.filter.until;
        let mut cut = walk.first();
        for windows in 1.. {
            let mut window = plan.clone();
            window.filter.since = cut.map(|k| walk.starts[k]).or(plan.filter.since);
            window.filter.until = upper;
            // `limit + 1` rows are read: the rows still missing.
            window.limit = u32::try_from(wanted - rows.len() - 1).unwrap_or(plan.limit);
            rows.extend(
                self.fetch_built(sql::page::<Self>(&window, Self::select_columns()))
                    .await?,
            );
            let Some(k) = cut.filter(|_| rows.len() < wanted) else {
                break;
            };
            upper = Some(walk.starts[k]);
            cut = if windows < MAX_WINDOWS {
                walk.next(k, rows.len(), wanted)
            } else {
                None
            };
        }
        Ok(rows)
    }
}

/// Where the windows of one page may start: the starts of the partitions
/// that can hold its rows, newest first, and the newest time a row of the
/// page can have.
#[derive(Debug)]
struct Walk {
    starts: Vec<Timestamp>,
    newest: Timestamp,
}

impl Walk {
    /// Whether windows may beat one query, before the partitions are
    /// known: not with an offset (it counts rows across every window), nor
    /// for a page of one target or one request, whose events are usually
    /// too few to fill a page from the newest partitions (walking cost such
    /// pages ~0.6 ms more at 1M events).
    fn may_help(plan: &Plan) -> bool {
        plan.offset == 0 && plan.filter.target_id.is_none() && plan.filter.request_id.is_none()
    }

    /// `None` when one query is as good: the page's window holds at most
    /// two partitions.
    fn new(plan: &Plan, all_starts: &[Timestamp], now: Timestamp) -> Option<Self> {
        // Partitions made ahead for the coming months hold nothing yet; a
        // row from the future is still read, by the first window, which
        // has no upper bound.
        let newest = [plan.filter.until, plan.after.map(|after| after.occurred_at), Some(now)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now);
        let starts: Vec<Timestamp> = all_starts
            .iter()
            .copied()
            .filter(|start| *start <= newest && plan.filter.since.is_none_or(|since| *start > since))
            .collect();
        (starts.len() > 2).then_some(Self { starts, newest })
    }

    /// Microseconds from the start at `k` to the newest row time.
    fn span(&self, k: usize) -> i64 {
        (self.newest.unix_micros() - self.starts[k].unix_micros()).max(1)
    }

    /// The first window's start: the newest partition's, or an older one
    /// when the newest partition has seen less than a quarter of a
    /// partition's usual length (the first days of a month).
    fn first(&self) -> Option<usize> {
        let last = self.starts.len() - 1;
        let usual = (self.starts[0].unix_micros() - self.starts[last].unix_micros()) / last as i64;
        (0..last).find(|&k| self.span(k) >= usual / 4)
    }

    /// The start of the window after the one that started at `k`, having
    /// found `found` of the `wanted` rows so far; `None` to read the rest
    /// at once.
    fn next(&self, k: usize, found: usize, wanted: usize) -> Option<usize> {
        if found == 0 {
            return None;
        }
        // At the rate found so far, with half as much again to spare.
        let needed = (self.span(k) as f64 * wanted as f64 / found as f64 * 1.5).min(i64::MAX as f64) as i64;
        let reach = self.newest.unix_micros().saturating_sub(needed);
        let last = self.starts.len() - 1;
        (k + 1..last).find(|&j| self.starts[j].unix_micros() <= reach)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{CursorKey, Position};

    const DAY: i64 = 86_400_000_000;

    fn at(days: i64) -> Timestamp {
        Timestamp::from_unix_micros(days * DAY).expect("in range")
    }

    /// Partitions of 10 days each starting at day 0, 10, …, 90, newest first.
    fn starts() -> Vec<Timestamp> {
        (0..10).rev().map(|k| at(k * 10)).collect()
    }

    fn plan() -> Plan {
        let key = CursorKey::from_stored(&[7; 32]).expect("32 bytes");
        crate::AuditQuery::new().plan(&key).expect("valid")
    }

    fn walk(plan: &Plan, now: Timestamp) -> Option<Walk> {
        Walk::new(plan, &starts(), now)
    }

    #[test]
    fn the_walk_starts_at_the_newest_partition_that_can_hold_a_row() {
        // Now is day 55: partitions from day 60 on are ahead of time.
        let walk = walk(&plan(), at(55)).expect("six partitions");
        assert_eq!(walk.starts, (0..6).rev().map(|k| at(k * 10)).collect::<Vec<_>>());
        assert_eq!(walk.first(), Some(0));
        // Day 51: day 50's partition has seen a tenth of its 10 days, so
        // the first window reaches back to day 40.
        assert_eq!(self::walk(&plan(), at(51)).expect("six").first(), Some(1));
    }

    #[test]
    fn the_walk_stays_between_the_plans_since_and_its_until_or_cursor() {
        let mut plan = plan();
        plan.filter.since = Some(at(5));
        plan.filter.until = Some(at(95));
        let starts = walk(&plan, at(1_000)).expect("nine partitions").starts;
        assert_eq!(starts, (1..10).rev().map(|k| at(k * 10)).collect::<Vec<_>>());
        plan.after = Some(Position {
            occurred_at: at(42),
            id: uuid::Uuid::nil(),
        });
        let walk = walk(&plan, at(1_000)).expect("four partitions");
        assert_eq!(walk.starts, vec![at(40), at(30), at(20), at(10)]);
        assert_eq!(walk.newest, at(42));
    }

    #[test]
    fn the_next_window_reaches_as_far_as_the_rows_found_say() {
        let walk = walk(&plan(), at(100)).expect("ten partitions");
        // 10 of 51 rows in days 90..100: 51 rows take ~51 days, 1.5 × that
        // ~77: the window from day 20 (the newest start at or before 23).
        assert_eq!(walk.starts[walk.next(0, 10, 51).expect("a window")], at(20));
        // 40 of 51 in days 90..100: ~19 days more to spare: from day 80.
        assert_eq!(walk.starts[walk.next(0, 40, 51).expect("a window")], at(80));
        // Nothing found, or more needed than the oldest start: the rest.
        assert_eq!(walk.next(0, 0, 51), None);
        assert_eq!(walk.next(0, 1, 51), None);
    }

    #[test]
    fn one_query_when_the_window_holds_at_most_two_partitions() {
        let mut plan = plan();
        plan.filter.since = Some(at(75));
        assert!(walk(&plan, at(1_000)).is_none());
        plan.filter.since = Some(at(65));
        assert!(walk(&plan, at(1_000)).is_some());
        assert!(Walk::may_help(&plan));
        plan.filter.target_id = Some("inv_1".to_owned());
        assert!(!Walk::may_help(&plan));
        plan.filter.target_id = None;
        plan.offset = 100;
        assert!(!Walk::may_help(&plan));
    }
}
