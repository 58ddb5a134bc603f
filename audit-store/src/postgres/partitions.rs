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

use std::collections::BTreeMap;

use audit_core::{Event, Timestamp};
use chrono::{DateTime, Datelike, Utc};
use sqlx::{PgConnection, PgPool};

use crate::error::StoreError;

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
