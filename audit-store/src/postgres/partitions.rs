//! `audit_events` is partitioned by `occurred_at`: one partition per
//! calendar month in UTC by default (migration 0006), or per day, week or
//! year ([`PartitionUnit`], migration 0008). A query with a time window
//! reads only its partitions (a page with a long one or none is read
//! newest partitions first: `walk.rs`), and each partition carries the
//! parent's indexes. `audit_partitions` lists every partition with its range.
//!
//! Partitions are made by the database function
//! `audit_events_partition_for(timestamptz)` (it creates the partition of
//! the unit's period holding that time, clipped to the partitions already
//! there, with its `TRUNCATE` guard; it runs as the tables' owner and is
//! safe to call from several processes at once). The store calls it
//! - on connect (so also in `audit migrate`), for the next
//!   [`MONTHS_AHEAD`] months: a running service rarely meets a missing one;
//! - in every append, for the batch's days, before taking any lock: an
//!   event from a period never seen (a back-dated import, a clock far off)
//!   gets its partition instead of failing the batch. Creating one takes a
//!   brief exclusive lock on `audit_events` inside that transaction, which
//!   the partitions made ahead keep off the usual path.
//!
//! Retention drops them: a purge deletes each stream's rows only from the
//! partition its cut falls in and later ones ([`delete_purged`]), then
//! [`retire_before`] drops every older partition whose rows are all at or
//! below their stream's base, and deletes the purged rows of the others.

use std::collections::BTreeSet;
use std::str::FromStr;

use audit_core::{Event, Timestamp};
use chrono::{DateTime, Datelike, Utc};
use sqlx::{Acquire, PgConnection, PgPool};

use crate::error::StoreError;
use crate::retention::PurgeOutcome;

/// How far ahead of now, in months, partitions exist before any event
/// needs them.
pub(crate) const MONTHS_AHEAD: i32 = 2;

/// The period one partition of `audit_events` covers (UTC).
///
/// A month by default. A service writing hundreds of millions of events a
/// month may want a week or a day (smaller indexes per partition, finer
/// retention); one writing few, a year. A change applies to the periods
/// not made yet: partitions already made keep their ranges, and a new one
/// is clipped so that no two overlap.
///
/// ```
/// use audit_store::PartitionUnit;
///
/// let unit: PartitionUnit = "week".parse().unwrap();
/// assert_eq!(unit, PartitionUnit::Week);
/// assert_eq!(unit.to_string(), "week");
/// assert!("fortnight".parse::<PartitionUnit>().unwrap_err().contains("day, week, month or year"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionUnit {
    /// One calendar day.
    Day,
    /// One ISO week, from Monday.
    Week,
    /// One calendar month (the default).
    #[default]
    Month,
    /// One calendar year.
    Year,
}

impl PartitionUnit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

impl std::fmt::Display for PartitionUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PartitionUnit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            "year" => Ok(Self::Year),
            other => Err(format!(
                "unknown partition unit {other:?}: expected day, week, month or year"
            )),
        }
    }
}

/// The unit new partitions are made with.
pub(super) async fn unit(pool: &PgPool) -> Result<PartitionUnit, StoreError> {
    let unit: String = sqlx::query_scalar("SELECT unit FROM audit_partition_settings")
        .fetch_one(pool)
        .await?;
    unit.parse().map_err(|reason| StoreError::Corrupt {
        id: "audit_partition_settings".to_owned(),
        reason,
    })
}

/// Makes `unit` the unit of the partitions made from now on, and makes the
/// next months' partitions with it.
pub(super) async fn set_unit(pool: &PgPool, unit: PartitionUnit) -> Result<(), StoreError> {
    sqlx::query("UPDATE audit_partition_settings SET unit = $1")
        .bind(unit.as_str())
        .execute(pool)
        .await?;
    create_ahead(pool).await
}

/// Creates the partitions from now to [`MONTHS_AHEAD`] months ahead.
pub(super) async fn create_ahead(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("SELECT audit_events_partitions_ahead(now(), now() + $1 * interval '1 month')")
        .bind(MONTHS_AHEAD)
        .execute(pool)
        .await?;
    Ok(())
}

/// Makes sure the partitions of `batch`'s events exist; returns its first
/// and last `occurred_at` (the range an existing copy of its events can be
/// in). `batch` must not be empty.
pub(super) async fn ensure_for(
    conn: &mut PgConnection,
    batch: &[Event],
) -> Result<(DateTime<Utc>, DateTime<Utc>), StoreError> {
    // One time per day the batch has events in (a day is the smallest
    // unit): one day, two around midnight; never the days between two
    // far-apart events.
    let mut days = BTreeSet::new();
    let mut times = Vec::new();
    for event in batch {
        let at = event.occurred_at().as_datetime();
        if days.insert((at.year(), at.ordinal())) {
            times.push(at);
        }
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
    sqlx::query("SELECT audit_events_partition_for(at) FROM UNNEST($1::timestamptz[]) AS times(at)")
        .bind(&times)
        .execute(&mut *conn)
        .await?;
    Ok((first.as_datetime(), last.as_datetime()))
}

/// Deletes `stream`'s rows at or below `cut` that occurred in the partition
/// `before` falls in or later (the purge gate is open); the older ones are
/// in partitions wholly before the cut, which [`retire_before`] drops or
/// empties.
pub(super) async fn delete_purged(
    conn: &mut PgConnection,
    stream: &str,
    cut: i64,
    before: Timestamp,
) -> Result<(), StoreError> {
    // From where the partition holding `before` starts (`before` itself
    // when none does), in the same statement: no round trip per stream.
    // The purge plans it once (generic plan), its partitions pruned as it
    // runs: only `before`'s is probed, as every event up to the cut
    // occurred before `before`.
    sqlx::query(
        "DELETE FROM audit_events WHERE stream = $1 AND seq <= $2 AND occurred_at < $3 \
         AND occurred_at >= coalesce((SELECT starts FROM audit_partitions WHERE starts <= $3 AND $3 < ends), $3)",
    )
    .bind(stream)
    .bind(cut)
    .bind(before.as_datetime())
    .execute(conn)
    .await?;
    Ok(())
}

/// How long dropping a partition may wait for the table: the drop needs
/// every reader and writer of `audit_events` out of the way, and holds new
/// ones back while it waits, so a long export makes it give up instead (the
/// partition's purged rows are then deleted, which waits for no reader).
const DROP_LOCK_TIMEOUT: &str = "2s";

/// Retires the partitions that end at or before `latest_cut`: each one
/// whose rows are all at or below their stream's base is dropped; from the
/// others, the rows at or below the base are deleted.
pub(super) async fn retire_before(
    pool: &PgPool,
    latest_cut: Timestamp,
    outcome: &mut PurgeOutcome,
) -> Result<(), StoreError> {
    let partitions: Vec<(String, DateTime<Utc>, DateTime<Utc>)> =
        sqlx::query_as("SELECT name, starts, ends FROM audit_partitions WHERE ends <= $1 ORDER BY starts")
            .bind(latest_cut.as_datetime())
            .fetch_all(pool)
            .await?;
    for (partition, starts, ends) in partitions {
        retire(pool, &partition, (starts, ends), outcome).await?;
    }
    Ok(())
}

/// Drops `partition` if no row in it is above its stream's base, or else
/// deletes the rows that are not.
async fn retire(
    pool: &PgPool,
    partition: &str,
    (starts, ends): (DateTime<Utc>, DateTime<Utc>),
    outcome: &mut PurgeOutcome,
) -> Result<(), StoreError> {
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
            tracing::info!(partition, %error, "purge: deleting the purged rows of a partition it could not drop");
            attempt.rollback().await?;
        }
        Err(error) => return Err(error),
    }
    // Deleting waits for no reader: no time limit.
    sqlx::query("SET LOCAL lock_timeout = 0").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL audit.purge = 'on'").execute(&mut *tx).await?;
    // Through the parent, whose privileges the application role has (not
    // the partition's), and only the partition's range.
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
/// the database function's (migrations 0007, 0008), which runs as the
/// tables' owner: an application role that may not drop tables may call it.
async fn try_drop(conn: &mut PgConnection, partition: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT audit_events_retire_partition($1)")
        .bind(partition)
        .fetch_one(conn)
        .await?)
}

/// Whether a drop's failure leaves the partition to row deletes: it waited
/// too long for the table, lost a deadlock to a writer, or the role may not
/// call the function that drops them.
fn gives_way(error: &StoreError) -> bool {
    let StoreError::Database(sqlx::Error::Database(error)) = error else {
        return false;
    };
    matches!(error.code().as_deref(), Some("55P03" | "40P01" | "42501"))
}
