//! `audit_events` is partitioned by `occurred_at`, one partition per
//! calendar month in UTC (migration 0006): a query with a time window reads
//! only its months' partitions, and the indexes each partition carries are
//! the parent's.
//!
//! Partitions are made by the database function
//! `audit_events_partition_for(timestamptz)` (it creates the month's
//! partition and its `TRUNCATE` guard when missing, and is safe to call
//! from several processes at once). The store calls it
//! - on connect (so also in `audit migrate`), for this month and the next
//!   [`MONTHS_AHEAD`]: a running service rarely meets a missing one;
//! - in every append, for the batch's months, before taking any lock: an
//!   event from a month never seen (a back-dated import, a clock far off)
//!   gets its partition instead of failing the batch. Creating one takes a
//!   brief exclusive lock on `audit_events` inside that transaction, which
//!   the months made ahead keep off the usual path.
//!
//! Retention drops them: a purge deletes each stream's rows only from the
//! month its cut falls in and later ones ([`delete_purged`]), then
//! [`retire_before`] drops every older month whose rows are all at or below
//! their stream's base, and deletes the purged rows of the others.

use std::collections::BTreeMap;

use audit_core::{Event, Timestamp};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use sqlx::{Acquire, PgConnection, PgPool};

use crate::error::StoreError;
use crate::retention::PurgeOutcome;

/// Months after the current one whose partitions exist before any event
/// needs them.
pub(crate) const MONTHS_AHEAD: i32 = 2;

/// Creates this month's partition and the next [`MONTHS_AHEAD`] months'.
pub(super) async fn create_ahead(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query(
        "SELECT audit_events_partition_for(now() + months * interval '1 month') \
         FROM generate_series(0, $1) AS months",
    )
    .bind(MONTHS_AHEAD)
    .execute(pool)
    .await?;
    Ok(())
}

/// Makes sure the partitions of `batch`'s months exist; returns its first
/// and last `occurred_at` (the range an existing copy of its events can be
/// in). `batch` must not be empty.
pub(super) async fn ensure_for(
    conn: &mut PgConnection,
    batch: &[Event],
) -> Result<(DateTime<Utc>, DateTime<Utc>), StoreError> {
    // One time per month the batch has events in: one month, two at a
    // turn of the month; never the months between two far-apart events.
    let mut months: BTreeMap<(i32, u32), DateTime<Utc>> = BTreeMap::new();
    for event in batch {
        let at = event.occurred_at().as_datetime();
        months.entry((at.year(), at.month())).or_insert(at);
    }
    let first = batch
        .iter()
        .map(Event::occurred_at)
        .min()
        .unwrap_or_else(Timestamp::now);
    let last = batch
        .iter()
        .map(Event::occurred_at)
        .max()
        .unwrap_or_else(Timestamp::now);
    let months: Vec<DateTime<Utc>> = months.into_values().collect();
    sqlx::query("SELECT audit_events_partition_for(at) FROM UNNEST($1::timestamptz[]) AS months(at)")
        .bind(&months)
        .execute(&mut *conn)
        .await?;
    Ok((first.as_datetime(), last.as_datetime()))
}

/// The first instant of the UTC month `at` is in: where its partition starts.
fn month_start(at: Timestamp) -> DateTime<Utc> {
    let at = at.as_datetime();
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(at)
}

/// The year and month of a partition's name (`audit_events_y2025m01`); `None`
/// for a table the store did not name.
fn month_of(partition: &str) -> Option<(i32, u32)> {
    let rest = partition.strip_prefix("audit_events_y")?;
    let (year, month) = rest.split_once('m')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if year.len() != 4 || month.len() != 2 || !all_digits(year) || !all_digits(month) {
        return None;
    }
    Some((year.parse().ok()?, month.parse().ok()?))
}

/// Deletes `stream`'s rows at or below `cut` that occurred in `before`'s
/// month or later (the purge gate is open); the older ones are in months
/// wholly before the cut, which [`retire_before`] drops or empties.
pub(super) async fn delete_purged(
    conn: &mut PgConnection,
    stream: &str,
    cut: i64,
    before: Timestamp,
) -> Result<(), StoreError> {
    // A bound parameter, planned for its value: only those months' indexes
    // are probed.
    sqlx::query("DELETE FROM audit_events WHERE stream = $1 AND seq <= $2 AND occurred_at >= $3")
        .bind(stream)
        .bind(cut)
        .bind(month_start(before))
        .execute(conn)
        .await?;
    Ok(())
}

/// How long dropping a month may wait for the table: the drop needs every
/// reader and writer of `audit_events` out of the way, and holds new ones
/// back while it waits, so a long export makes it give up instead (the
/// month's purged rows are then deleted, which waits for no reader).
const DROP_LOCK_TIMEOUT: &str = "2s";

/// Retires the months wholly before `latest_cut`'s: each one whose rows are
/// all at or below their stream's base is dropped; from the others, the
/// rows at or below the base are deleted.
pub(super) async fn retire_before(
    pool: &PgPool,
    latest_cut: Timestamp,
    outcome: &mut PurgeOutcome,
) -> Result<(), StoreError> {
    let cut = latest_cut.as_datetime();
    let mut partitions: Vec<((i32, u32), String)> = sqlx::query_scalar::<_, String>(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'audit_events'::regclass",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .filter_map(|name| Some((month_of(&name)?, name)))
    .filter(|(month, _)| *month < (cut.year(), cut.month()))
    .collect();
    partitions.sort();
    for ((year, month), partition) in partitions {
        retire(pool, &partition, (year, month), outcome).await?;
    }
    Ok(())
}

/// Drops `partition` if no row in it is above its stream's base, or else
/// deletes the rows that are.
async fn retire(
    pool: &PgPool,
    partition: &str,
    (year, month): (i32, u32),
    outcome: &mut PurgeOutcome,
) -> Result<(), StoreError> {
    let starts = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single();
    let ends = starts.and_then(|start| start.checked_add_months(chrono::Months::new(1)));
    let (Some(starts), Some(ends)) = (starts, ends) else {
        return Ok(());
    };
    let mut tx = pool.begin().await?;
    // One purge retires at a time: two would wait on each other's locks.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('audit_events retire'))")
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
        .execute(&mut *tx)
        .await?;
    let mut attempt = tx.begin().await?;
    match try_drop(&mut attempt, partition).await {
        Ok(true) => {
            attempt.commit().await?;
            tx.commit().await?;
            outcome.dropped_partitions.push(partition.to_owned());
            return Ok(());
        }
        Ok(false) => attempt.commit().await?,
        Err(error) if gives_way(&error) => {
            tracing::info!(partition, %error, "purge: deleting the purged rows of a month it could not drop");
            attempt.rollback().await?;
        }
        Err(error) => return Err(error),
    }
    // Deleting waits for no reader: no time limit.
    sqlx::query("SET LOCAL lock_timeout = 0").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL audit.purge = 'on'").execute(&mut *tx).await?;
    // Through the parent, whose privileges the application role has (not
    // the partition's), and only its month.
    let deleted = sqlx::query(
        "DELETE FROM audit_events AS e USING audit_streams AS s \
         WHERE e.occurred_at >= $1 AND e.occurred_at < $2 AND e.stream = s.stream AND e.seq <= s.base_seq",
    )
    .bind(starts)
    .bind(ends)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("SET LOCAL audit.purge = 'off'").execute(&mut *tx).await?;
    tx.commit().await?;
    if deleted > 0 {
        outcome.deleted_from_partitions.push(partition.to_owned());
    }
    Ok(())
}

/// Drops `partition` if every row in it is at or below its stream's base;
/// `false` when some stream keeps a row of it. The check and the drop are
/// the database function's (migration 0007), which runs as the tables'
/// owner: an application role that may not drop tables may call it.
async fn try_drop(conn: &mut PgConnection, partition: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT audit_events_retire_partition($1)")
        .bind(partition)
        .fetch_one(conn)
        .await?)
}

/// Whether a drop's failure leaves the month to row deletes: it waited too
/// long for the table, lost a deadlock to a writer, or the role may not
/// call the function that drops them.
fn gives_way(error: &StoreError) -> bool {
    let StoreError::Database(sqlx::Error::Database(error)) = error else {
        return false;
    };
    matches!(error.code().as_deref(), Some("55P03" | "40P01" | "42501"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_stores_own_partition_names_have_a_month() {
        assert_eq!(month_of("audit_events_y2025m01"), Some((2025, 1)));
        assert_eq!(month_of("audit_events_y2025m1"), None);
        assert_eq!(month_of("audit_events_y2025m01x"), None);
        assert_eq!(month_of("audit_events_y2025m0\""), None);
        assert_eq!(month_of("audit_events_default"), None);
    }

    #[test]
    fn a_month_starts_at_midnight_utc_on_the_first() {
        let at = Timestamp::from_datetime(Utc.with_ymd_and_hms(2025, 3, 31, 23, 59, 59).unwrap());
        assert_eq!(month_start(at), Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap());
    }
}
