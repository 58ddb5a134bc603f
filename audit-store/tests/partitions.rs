//! PostgreSQL's `audit_events` is partitioned by month of `occurred_at`:
//! events land in their month's partition (made on demand for a month never
//! seen), a query with a time window reads only its months, a database
//! written before partitioning is migrated keeping every event and its
//! integrity, and a partition cannot be truncated around the guards.
//! Retention drops a month whose every event is purged, and deletes row by
//! row only where a stream keeps events or the month is held.

#![cfg(feature = "postgres")]

#[path = "support/postgres.rs"]
mod postgres;

use audit_core::{Action, Actor, AuditSink, Event, Timestamp};
use audit_store::{AuditQuery, PartitionUnit, PgStore, Purge, PurgeOutcome, RetentionPolicy, Store};
use chrono::{Datelike, TimeZone, Utc};
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

/// Events of acme, globex and initech, ten a month from January to April
/// 2026 (every third day from the 1st), and one late-recorded January
/// event of initech written after its April ones.
async fn four_months(store: &PgStore) -> u64 {
    let mut written = 0;
    for tenant in ["acme", "globex", "initech"] {
        for month in 1..=4 {
            let batch = events(tenant, (2026, month, 1), 3, 10);
            written += batch.len() as u64;
            store.write_batch(&batch).await.unwrap();
        }
    }
    store
        .write_batch(&events("initech", (2026, 1, 20), 1, 1))
        .await
        .unwrap();
    written + 1
}

fn at(year: i32, month: u32, day: u32) -> Timestamp {
    Timestamp::from_datetime(Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).unwrap())
}

async fn rows_in(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

fn removed(outcome: &PurgeOutcome) -> Vec<(String, u64)> {
    outcome.streams.iter().map(|r| (r.stream.clone(), r.removed)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_drops_the_months_it_empties_and_deletes_rows_only_where_a_cut_falls() {
    let Some(db) = postgres::fresh_database().await else {
        return;
    };
    let store = PgStore::connect(&db.url).await.unwrap();
    let written = four_months(&store).await;
    let pool = store.pool();

    // Cut on 15 February. Initech's late January event (seq 41, after its
    // April ones) stays, as a purge removes a stream's oldest run only: so
    // January, where it is, is emptied of the purged rows row by row
    // instead of dropped. February holds the cut: its rows go one by one.
    let outcome = store.purge(&Purge::before(at(2026, 2, 15))).await.unwrap();
    assert_eq!(
        removed(&outcome),
        [
            ("tenant:acme".to_owned(), 15),
            ("tenant:globex".to_owned(), 15),
            ("tenant:initech".to_owned(), 15)
        ]
    );
    assert!(outcome.dropped_partitions.is_empty(), "{outcome:?}");
    assert_eq!(outcome.deleted_from_partitions, ["audit_events_y2026m01"]);
    assert_eq!(rows_in(pool, "audit_events_y2026m01").await, 1);
    // February keeps its second half (the 16th on); the purge events are
    // in this month's partition.
    assert_eq!(rows_in(pool, "audit_events_y2026m02").await, 3 * 5);
    assert_every_stream_verifies(&store, written - 45 + 3).await;

    // A cut in May passes the late event and every April one: January to
    // April hold only purged events, and are dropped whole.
    let outcome = store.purge(&Purge::before(at(2026, 5, 1))).await.unwrap();
    assert_eq!(
        removed(&outcome),
        [
            ("tenant:acme".to_owned(), 25),
            ("tenant:globex".to_owned(), 25),
            ("tenant:initech".to_owned(), 26)
        ]
    );
    assert_eq!(
        outcome.dropped_partitions,
        [
            "audit_events_y2026m01",
            "audit_events_y2026m02",
            "audit_events_y2026m03",
            "audit_events_y2026m04"
        ]
    );
    assert!(outcome.deleted_from_partitions.is_empty(), "{outcome:?}");
    let left = partitions(pool).await;
    assert!(!left.iter().any(|p| p.as_str() < "audit_events_y2026m05"), "{left:?}");
    // What is left is both purges' records, and it verifies.
    assert_every_stream_verifies(&store, 6).await;
    // Writing into a dropped month makes it again.
    store.write_batch(&events("acme", (2026, 1, 9), 1, 1)).await.unwrap();
    assert_eq!(rows_in(pool, "audit_events_y2026m01").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_keep_their_own_periods_and_a_month_a_tenant_keeps_is_not_dropped() {
    let Some(db) = postgres::fresh_database().await else {
        return;
    };
    let store = PgStore::connect(&db.url).await.unwrap();
    // One event a month for 24 months back from about now, per tenant.
    let now = Utc::now();
    let mut written = 0;
    for tenant in ["acme", "globex", "forever"] {
        let batch: Vec<Event> = (1..=24)
            .rev()
            .map(|months| {
                Event::builder(Action::new("invoice.paid").unwrap(), Actor::user("u1"))
                    .tenant(tenant)
                    .occurred_at(Timestamp::from_datetime(now - chrono::Duration::days(30 * months)))
                    .build()
            })
            .collect();
        written += batch.len() as u64;
        store.write_batch(&batch).await.unwrap();
    }
    const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);
    let policy = RetentionPolicy::keep_forever()
        .tenant("acme", 100 * DAY)
        .tenant("globex", 400 * DAY);
    let outcome = store.purge(&Purge::by_policy(policy)).await.unwrap();
    // 30-day steps: acme keeps the events of 30..90 days ago (3), globex
    // those of 30..390 days ago (13); `forever` has no period.
    assert_eq!(
        removed(&outcome),
        [("tenant:acme".to_owned(), 21), ("tenant:globex".to_owned(), 11)]
    );
    // Months older than 400 days held only purged events (forever's are in
    // them too, so none could go): each was emptied of acme's and globex's
    // rows, row by row, and kept.
    assert!(outcome.dropped_partitions.is_empty(), "{outcome:?}");
    assert!(outcome.deleted_from_partitions.len() >= 10, "{outcome:?}");
    let forever: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE tenant_id = 'forever'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(forever, 24);
    assert_every_stream_verifies(&store, written - 21 - 11 + 2).await;

    // With `forever` purged too, the oldest months hold nothing kept.
    let policy = RetentionPolicy::keep_forever().default_period(500 * DAY);
    let outcome = store.purge(&Purge::by_policy(policy)).await.unwrap();
    assert_eq!(removed(&outcome), [("tenant:forever".to_owned(), 8)]);
    assert!(outcome.dropped_partitions.len() >= 5, "{outcome:?}");
    assert_every_stream_verifies(&store, written - 21 - 11 - 8 + 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_a_reader_holds_is_emptied_row_by_row_instead_of_waiting() {
    let Some(db) = postgres::fresh_database().await else {
        return;
    };
    let store = PgStore::connect(&db.url).await.unwrap();
    let written = four_months(&store).await;
    // A long read (an export, say) holds the table in a transaction.
    let mut reader = store.pool().begin().await.unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    assert_eq!(seen as u64, written);
    let outcome = store.purge(&Purge::before(at(2026, 3, 15))).await.unwrap();
    // February's drop gave up waiting for the reader, and its rows were
    // deleted instead, which waits for no reader; January holds initech's
    // late event (kept), so it is emptied of the rest in any case.
    assert!(outcome.dropped_partitions.is_empty(), "{outcome:?}");
    assert_eq!(
        outcome.deleted_from_partitions,
        ["audit_events_y2026m01", "audit_events_y2026m02"]
    );
    assert_eq!(rows_in(store.pool(), "audit_events_y2026m01").await, 1);
    assert_eq!(rows_in(store.pool(), "audit_events_y2026m02").await, 0);
    reader.rollback().await.unwrap();
    assert_every_stream_verifies(&store, written - 3 * 25 + 3).await;
    // The next purge drops the emptied month.
    let outcome = store.purge(&Purge::before(at(2026, 3, 15))).await.unwrap();
    assert!(outcome.streams.is_empty());
    assert_eq!(outcome.dropped_partitions, ["audit_events_y2026m02"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unit_is_a_setting_a_change_never_overlaps_and_retention_drops_any_unit() {
    let Some(db) = postgres::fresh_database().await else {
        return;
    };
    let store = PgStore::connect(&db.url).await.unwrap();
    assert_eq!(store.partition_unit().await.unwrap(), PartitionUnit::Month);
    store.set_partition_unit(PartitionUnit::Week).await.unwrap();
    // Weeks from Monday: 2 March 2026 is one.
    let day = |month: u32, day: u32| events("acme", (2026, month, day), 0, 1);
    for (month, d) in [(3, 2), (3, 5), (3, 10)] {
        store.write_batch(&day(month, d)).await.unwrap();
    }
    let made = partitions(store.pool()).await;
    assert!(made.contains(&"audit_events_y2026m03d02_7d".to_owned()), "{made:?}");
    assert!(made.contains(&"audit_events_y2026m03d09_7d".to_owned()), "{made:?}");

    // Back to months: a new one is clipped to the weeks already there.
    store.set_partition_unit(PartitionUnit::Month).await.unwrap();
    for (month, d) in [(3, 20), (2, 27), (3, 1)] {
        store.write_batch(&day(month, d)).await.unwrap();
    }
    let made = partitions(store.pool()).await;
    for name in [
        "audit_events_y2026m03d16_16d", // 16 March to 1 April
        "audit_events_y2026m02",        // the whole of February
        "audit_events_y2026m03d01_1d",  // 1 March, before the first week
    ] {
        assert!(made.contains(&name.to_owned()), "{name}: {made:?}");
    }
    assert_eq!(rows_in(store.pool(), "audit_events_y2026m03d16_16d").await, 1);

    // Stream order is the order written: a cut on 16 March keeps 20 March
    // and the two late ones (27 February, 1 March) after it.
    let outcome = store.purge(&Purge::before(at(2026, 3, 16))).await.unwrap();
    assert_eq!(removed(&outcome), [("tenant:acme".to_owned(), 3)]);
    assert_eq!(
        outcome.dropped_partitions,
        ["audit_events_y2026m03d02_7d", "audit_events_y2026m03d09_7d"]
    );
    assert!(outcome.deleted_from_partitions.is_empty(), "{outcome:?}");
    let outcome = store.purge(&Purge::before(at(2026, 4, 1))).await.unwrap();
    assert_eq!(removed(&outcome), [("tenant:acme".to_owned(), 3)]);
    assert_eq!(
        outcome.dropped_partitions,
        [
            "audit_events_y2026m02",
            "audit_events_y2026m03d01_1d",
            "audit_events_y2026m03d16_16d"
        ]
    );
    assert_every_stream_verifies(&store, 2).await;
    let listed: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_partitions WHERE starts < '2026-04-01'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(listed, 0, "dropped partitions are no longer listed");
}

/// Every page of `query` (`limit` events each, cursor to cursor), joined.
async fn every_page(store: &PgStore, query: AuditQuery, limit: u32) -> Vec<Event> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let mut page_query = query.clone().limit(limit);
        if let Some(cursor) = cursor {
            page_query = page_query.cursor(cursor);
        }
        let page = store.query(&page_query).await.unwrap();
        assert!(page.events.len() <= limit as usize);
        all.extend(page.events);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

/// `events` that `keep` selects, in a page's order (newest first).
fn newest_first(events: &[Event], keep: impl Fn(&Event) -> bool) -> Vec<uuid::Uuid> {
    let mut kept: Vec<&Event> = events.iter().filter(|event| keep(event)).collect();
    kept.sort_by_key(|event| std::cmp::Reverse((event.occurred_at(), event.id())));
    kept.into_iter().map(Event::id).collect()
}

fn ids(events: &[Event]) -> Vec<uuid::Uuid> {
    events.iter().map(Event::id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_read_partition_by_partition_are_the_pages_one_query_returns() {
    let Some(db) = postgres::fresh_database().await else {
        return;
    };
    let store = PgStore::connect(&db.url).await.unwrap();
    // Two tenants over the 14 months up to now (some months hold nothing
    // of one), with many actors, and times that repeat (ties broken by
    // id): pages are read in several windows, and some find nothing.
    let day = |days_ago: i64| {
        let at = Utc::now() - chrono::Duration::days(days_ago);
        (at.year(), at.month(), at.day())
    };
    let mut written = events("a", day(430), 9, 48);
    written.extend(events("b", day(400), 31, 12));
    let twin_time = written[10].occurred_at();
    written.extend((0..3).map(|i| {
        Event::builder(Action::new("invoice.paid").unwrap(), Actor::user(format!("u{i}")))
            .tenant("a")
            .occurred_at(twin_time)
            .build()
    }));
    store.write_batch(&written).await.unwrap();
    let actor = |event: &Event| event.actor().id.clone();

    for limit in [1, 3, 7, 50] {
        let all = every_page(&store, AuditQuery::new().tenant("a"), limit).await;
        assert_eq!(
            ids(&all),
            newest_first(&written, |e| e.tenant_id() == Some("a")),
            "limit {limit}"
        );
    }
    for who in ["u1", "u3", "u40"] {
        let by_actor = every_page(&store, AuditQuery::new().tenant("a").actor_id(who), 2).await;
        assert_eq!(
            ids(&by_actor),
            newest_first(&written, |e| e.tenant_id() == Some("a") && actor(e) == who)
        );
    }
    let since = Timestamp::from_datetime(Utc::now() - chrono::Duration::days(380));
    let until = Timestamp::from_datetime(Utc::now() - chrono::Duration::days(60));
    let window = every_page(&store, AuditQuery::new().since(since).until(until), 4).await;
    assert_eq!(
        ids(&window),
        newest_first(&written, |e| e.occurred_at() >= since && e.occurred_at() < until)
    );
    // A page that finds nothing reads every window and says so.
    let nobody = store.query(&AuditQuery::new().actor_id("nobody")).await.unwrap();
    assert!(nobody.events.is_empty() && nobody.next_cursor.is_none());

    // Partitions made after the store last read where they start (an
    // import from years back, an event from a clock ahead) are still read:
    // the first window has no upper bound and the last no lower one.
    let mut late = events("a", (2019, 6, 1), 1, 1);
    late.extend(events("a", (2027, 1, 20), 1, 1));
    store.write_batch(&late).await.unwrap();
    written.extend(late);
    let all = every_page(&store, AuditQuery::new().tenant("a"), 5).await;
    assert_eq!(ids(&all), newest_first(&written, |e| e.tenant_id() == Some("a")));
}
