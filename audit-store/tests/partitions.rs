//! PostgreSQL's `audit_events` is partitioned by month of `occurred_at`:
//! events land in their month's partition (made on demand for a month never
//! seen), a query with a time window reads only its months, a database
//! written before partitioning is migrated keeping every event and its
//! integrity, and a partition cannot be truncated around the guards.

#![cfg(feature = "postgres")]

#[path = "support/postgres.rs"]
mod postgres;

use audit_core::{Action, Actor, AuditSink, Event, Timestamp};
use audit_store::{AuditQuery, PgStore, Store};
use chrono::{TimeZone, Utc};
use sqlx::PgPool;

/// `n` events of `tenant`, one every `step_days` days from `from`.
fn events(tenant: &str, from: (i32, u32, u32), step_days: i64, n: usize) -> Vec<Event> {
    let start = Utc.with_ymd_and_hms(from.0, from.1, from.2, 12, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let at = start + chrono::Duration::days(step_days * i as i64);
            Event::builder(Action::new("invoice.paid").unwrap(), Actor::user(format!("u{i}")))
                .tenant(tenant)
                .occurred_at(Timestamp::from_datetime(at))
                .metadata("i", &i)
                .build()
        })
        .collect()
}

async fn partitions(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn assert_every_stream_verifies(store: &PgStore, expected_events: u64) {
    let mut checked = 0;
    for stream in store.streams().await.unwrap() {
        let report = store.verify(&stream).await.unwrap();
        assert!(report.is_intact(), "{stream}: {report:?}");
        checked += report.checked;
    }
    assert_eq!(checked, expected_events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_land_in_their_months_partition_and_a_window_reads_only_its_months() {
    let Some(db) = postgres::fresh_database().await else {
        return;
    };
    let store = PgStore::connect(&db.url).await.unwrap();
    let made_ahead = partitions(store.pool()).await;
    assert_eq!(made_ahead.len(), 3, "this month and the next two: {made_ahead:?}");

    // Two years back, a month apart, in one batch: each month gets its
    // partition in the append; none for the months between far-apart events.
    let mut batch = events("acme", (2024, 1, 15), 31, 12);
    batch.extend(events("globex", (2019, 6, 1), 0, 1));
    store.write_batch(&batch).await.unwrap();
    let made = partitions(store.pool()).await;
    assert!(made.contains(&"audit_events_y2024m01".to_owned()), "{made:?}");
    assert!(made.contains(&"audit_events_y2024m12".to_owned()), "{made:?}");
    assert!(made.contains(&"audit_events_y2019m06".to_owned()), "{made:?}");
    assert!(!made.contains(&"audit_events_y2020m01".to_owned()), "{made:?}");
    let in_march: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events_y2024m03")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(in_march, 1);
    // The same batch again (a retry) is stored once.
    store.write_batch(&batch).await.unwrap();
    assert_every_stream_verifies(&store, 13).await;

    // A window of one month plans a scan of that month's partition alone.
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT id FROM audit_events WHERE tenant_id = 'acme' \
         AND occurred_at >= '2024-03-01' AND occurred_at < '2024-04-01'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("audit_events_y2024m03"), "{plan}");
    assert!(!plan.contains("audit_events_y2024m04"), "{plan}");
    let page = Store::Postgres(store.clone())
        .query(
            &AuditQuery::new()
                .tenant("acme")
                .since(Timestamp::from_datetime(
                    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap(),
                ))
                .until(Timestamp::from_datetime(
                    Utc.with_ymd_and_hms(2024, 4, 1, 0, 0, 0).unwrap(),
                )),
        )
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_cannot_be_truncated_or_changed_behind_the_guards() {
    let Some(db) = postgres::fresh_database().await else {
        return;
    };
    let store = PgStore::connect(&db.url).await.unwrap();
    store.write_batch(&events("acme", (2024, 5, 2), 1, 3)).await.unwrap();
    for sql in [
        "TRUNCATE audit_events_y2024m05",
        "TRUNCATE audit_events",
        "DELETE FROM audit_events_y2024m05",
        "UPDATE audit_events_y2024m05 SET outcome = 'denied'",
    ] {
        let error = sqlx::raw_sql(sql).execute(store.pool()).await.expect_err(sql);
        assert!(error.to_string().contains("append-only"), "{sql}: {error}");
    }
    assert_every_stream_verifies(&store, 3).await;
}

/// A database as the release before partitioning left it (migrations 1–5,
/// its events, trees and checkpoints copied row for row from a store), is
/// migrated on connect: every event is kept, in its month's partition, and
/// every stream verifies against the checkpoint signed before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_written_before_partitioning_is_migrated_keeping_every_event() {
    let Some(source) = postgres::fresh_database().await else {
        return;
    };
    let Some(target) = postgres::fresh_database().await else {
        return;
    };
    let store = PgStore::connect(&source.url).await.unwrap();
    let mut written = 0;
    for (tenant, from) in [
        ("acme", (2025, 1, 3)),
        ("globex", (2025, 6, 20)),
        ("initech", (2026, 2, 1)),
    ] {
        let batch = events(tenant, from, 9, 40);
        written += batch.len() as u64;
        store.write_batch(&batch).await.unwrap();
    }
    let before = store.tree_head("tenant:acme", None).await.unwrap();

    // The earlier release's schema: the migrations before partitioning.
    let old = tempdir_with_migrations(|version| version < 6);
    let target_pool = PgPool::connect(&target.url).await.unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&target_pool)
        .await
        .unwrap();
    for table in ["audit_streams", "audit_tree_nodes", "audit_checkpoints", "audit_events"] {
        copy_table(store.pool(), &target_pool, table).await;
    }
    let unpartitioned: bool =
        sqlx::query_scalar("SELECT relkind = 'r' FROM pg_class WHERE oid = 'audit_events'::regclass")
            .fetch_one(&target_pool)
            .await
            .unwrap();
    assert!(unpartitioned, "the copy starts as a plain table");

    let migrated = PgStore::connect(&target.url).await.unwrap();
    let made = partitions(migrated.pool()).await;
    for month in [
        "audit_events_y2025m01",
        "audit_events_y2025m06",
        "audit_events_y2026m02",
    ] {
        assert!(made.contains(&month.to_owned()), "{month}: {made:?}");
    }
    assert_every_stream_verifies(&migrated, written).await;
    let after = migrated.tree_head("tenant:acme", None).await.unwrap();
    assert_eq!((after.size, after.root), (before.size, before.root));
    // And it takes new events where the old ones left off.
    migrated
        .write_batch(&events("acme", (2026, 11, 1), 1, 5))
        .await
        .unwrap();
    assert_every_stream_verifies(&migrated, written + 5).await;
    let _ = std::fs::remove_dir_all(&old);
}

/// A directory holding the store's PostgreSQL migrations whose version
/// `keep` accepts.
fn tempdir_with_migrations(keep: impl Fn(i64) -> bool) -> std::path::PathBuf {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let dir = std::env::temp_dir().join(format!("audit-migrations-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let version: i64 = name.split('_').next().unwrap().parse().unwrap();
        if keep(version) {
            std::fs::copy(&path, dir.join(&name)).unwrap();
        }
    }
    dir
}

/// Copies every row of `table` from one database to the other, as text.
async fn copy_table(from: &PgPool, to: &PgPool, table: &str) {
    let mut out = from.acquire().await.unwrap();
    let mut rows = out
        .copy_out_raw(&format!("COPY (SELECT * FROM {table}) TO STDOUT"))
        .await
        .unwrap();
    let mut data = Vec::new();
    use futures_util::StreamExt as _;
    while let Some(chunk) = rows.next().await {
        data.extend_from_slice(&chunk.unwrap());
    }
    drop(rows);
    let mut into = to.acquire().await.unwrap();
    let mut copy = into.copy_in_raw(&format!("COPY {table} FROM STDIN")).await.unwrap();
    copy.send(data).await.unwrap();
    copy.finish().await.unwrap();
}
