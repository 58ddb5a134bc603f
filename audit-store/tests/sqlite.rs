//! The SQLite store against real database files.
#![cfg(feature = "sqlite")]

use std::path::PathBuf;

use audit_core::{Action, Actor, AuditSink, Auditor, Event, Outcome};
use audit_store::{Problem, SqliteStore};
use serde_json::json;

/// A fresh database file in the system temp directory, removed on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("audit-store-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn url(&self) -> String {
        format!("sqlite://{}", self.0.join("audit.db").display())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn event(tenant: &str, n: usize) -> Event {
    Event::builder(
        Action::new("app.updated").unwrap(),
        Actor::user(format!("user_{n}")).with_email("u@acme.test"),
    )
    .tenant(tenant)
    .description(format!("Renamed app {n} — naïve café ✓ 🚀 \u{202e}rtl"))
    .before(&json!({"name": format!("old {n}"), "price": 0.1 + 0.2, "big": u64::MAX}))
    .after(&json!({"name": format!("new\0{n}"), "price": 1e-7, "big": u64::MAX}))
    .metadata("n", &n)
    .build()
}

async fn count(store: &SqliteStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn events_written_to_a_real_file_verify_and_read_back_identically() {
    let db = TempDb::new();
    let store = SqliteStore::connect(&db.url()).await.unwrap();
    let events: Vec<Event> = (0..10)
        .map(|n| event(if n % 2 == 0 { "acme" } else { "globex" }, n))
        .collect();
    store.write_batch(&events).await.unwrap();

    assert_eq!(store.streams().await.unwrap(), ["tenant:acme", "tenant:globex"]);
    for stream in ["tenant:acme", "tenant:globex"] {
        let report = store.verify(stream).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.checked, 5);
    }
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(synchronous, 2, "FULL by default");
}

#[tokio::test]
async fn a_retried_batch_never_duplicates() {
    let db = TempDb::new();
    let store = SqliteStore::connect(&db.url()).await.unwrap();
    let events: Vec<Event> = (0..50).map(|n| event("acme", n)).collect();
    store.write_batch(&events[..30]).await.unwrap();
    store.write_batch(&events).await.unwrap();
    store.write_batch(&events).await.unwrap();
    assert_eq!(count(&store).await, 50);
    let report = store.verify("tenant:acme").await.unwrap();
    assert!(report.is_intact());
    assert_eq!(report.checked, 50);
}

#[tokio::test]
async fn direct_update_and_delete_are_rejected() {
    let db = TempDb::new();
    let store = SqliteStore::connect(&db.url()).await.unwrap();
    store.write_batch(&[event("acme", 1)]).await.unwrap();
    let update = sqlx::query("UPDATE audit_events SET outcome = 'failure'")
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(
        update.to_string().contains("append-only: UPDATE is not allowed"),
        "{update}"
    );
    let delete = sqlx::query("DELETE FROM audit_events")
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(delete.to_string().contains("append-only: DELETE"), "{delete}");
    assert_eq!(count(&store).await, 1, "nothing already recorded was lost");
}

async fn tamper(store: &SqliteStore, sql: &str) {
    sqlx::query("DROP TRIGGER IF EXISTS audit_events_reject_update")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER IF EXISTS audit_events_reject_delete")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

async fn tampered(sql: &str) -> Problem {
    let db = TempDb::new();
    let store = SqliteStore::connect(&db.url()).await.unwrap();
    let events: Vec<Event> = (0..5).map(|n| event("acme", n)).collect();
    store.write_batch(&events).await.unwrap();
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
    tamper(&store, sql).await;
    let report = store.verify("tenant:acme").await.unwrap();
    report
        .problem
        .unwrap_or_else(|| panic!("tampering with `{sql}` went unnoticed"))
}

#[tokio::test]
async fn an_edited_field_is_detected_and_named() {
    let problem = tampered("UPDATE audit_events SET outcome = 'denied' WHERE seq = 3").await;
    assert!(matches!(problem, Problem::HashMismatch { seq: 3, .. }), "{problem:?}");
    assert!(problem.to_string().contains("at seq 3 was altered"), "{problem}");

    let problem = tampered("UPDATE audit_events SET metadata = '{\"n\":99}' WHERE seq = 2").await;
    assert!(matches!(problem, Problem::HashMismatch { seq: 2, .. }), "{problem:?}");
}

#[tokio::test]
async fn an_edited_query_column_is_detected_even_though_the_json_is_intact() {
    let problem = tampered("UPDATE audit_events SET actor_id = 'someone_else' WHERE seq = 4").await;
    assert!(
        matches!(
            problem,
            Problem::Inconsistent {
                seq: 4,
                column: "actor_id",
                ..
            }
        ),
        "{problem:?}"
    );
}

#[tokio::test]
async fn a_deleted_middle_row_is_detected_and_named() {
    let problem = tampered("DELETE FROM audit_events WHERE seq = 3").await;
    assert!(
        matches!(
            problem,
            Problem::Gap {
                expected: 3,
                found: 4,
                ..
            }
        ),
        "{problem:?}"
    );
    assert!(problem.to_string().contains("seq 3 is missing"), "{problem}");
}

#[tokio::test]
async fn a_deleted_newest_row_is_detected_through_the_stream_head() {
    let problem = tampered("DELETE FROM audit_events WHERE seq = 5").await;
    assert_eq!(
        problem,
        Problem::MissingTail {
            last_stored: 4,
            head: 5
        }
    );
}

#[tokio::test]
async fn two_swapped_rows_are_detected_and_named() {
    // Swap seq 2 and 3 through a temporary value (seq is unique per stream).
    let problem = tampered(
        "UPDATE audit_events SET seq = -1 WHERE seq = 2; \
         UPDATE audit_events SET seq = 2 WHERE seq = 3; \
         UPDATE audit_events SET seq = 3 WHERE seq = -1;",
    )
    .await;
    assert!(
        matches!(
            problem,
            Problem::Moved {
                seq: 2,
                sealed_at: 3,
                ..
            }
        ),
        "{problem:?}"
    );
    assert!(problem.to_string().contains("swapped or moved"), "{problem}");
}

#[tokio::test]
async fn a_thousand_concurrent_writes_from_two_pools_leave_no_gap_and_no_duplicate() {
    let db = TempDb::new();
    let first = SqliteStore::connect(&db.url()).await.unwrap();
    let second = SqliteStore::connect(&db.url()).await.unwrap();
    let writers: Vec<_> = (0..1000)
        .map(|n| {
            let store = if n % 2 == 0 { first.clone() } else { second.clone() };
            tokio::spawn(async move {
                store
                    .write_batch(&[event(if n % 3 == 0 { "acme" } else { "globex" }, n)])
                    .await
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    assert_eq!(count(&first).await, 1000);
    for stream in ["tenant:acme", "tenant:globex"] {
        let report = first.verify(stream).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        let (rows, distinct, max): (i64, i64, i64) =
            sqlx::query_as("SELECT count(*), count(DISTINCT seq), max(seq) FROM audit_events WHERE stream = ?")
                .bind(stream)
                .fetch_one(first.pool())
                .await
                .unwrap();
        assert_eq!(
            (rows, distinct, max),
            (rows, rows, rows),
            "{stream}: seqs are exactly 1..=count"
        );
    }
}

#[tokio::test]
async fn transactional_mode_commits_and_rolls_back_with_the_business_change() {
    use sqlx::Connection;
    let db = TempDb::new();
    let store = SqliteStore::connect(&db.url()).await.unwrap();
    sqlx::query("CREATE TABLE apps (id TEXT PRIMARY KEY, name TEXT)")
        .execute(store.pool())
        .await
        .unwrap();

    let mut conn = store.pool().acquire().await.unwrap();
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
    sqlx::query("INSERT INTO apps VALUES ('app_1', 'Billing')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let rolled_back = event("acme", 1);
    SqliteStore::record_in(&mut tx, std::slice::from_ref(&rolled_back))
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
    sqlx::query("INSERT INTO apps VALUES ('app_2', 'Search')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let committed = event("acme", 2);
    let stored = SqliteStore::record_in(&mut tx, std::slice::from_ref(&committed))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    drop(conn);

    assert_eq!(
        stored[0].integrity().unwrap().seq,
        1,
        "the rolled-back event used no seq"
    );
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM audit_events")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(ids, [committed.id().to_string()]);
    let apps: Vec<String> = sqlx::query_scalar("SELECT id FROM apps")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(apps, ["app_2"]);
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
}

#[tokio::test]
async fn the_store_is_a_sink_for_the_auditor() {
    let db = TempDb::new();
    let store = SqliteStore::connect(&db.url()).await.unwrap();
    let auditor = Auditor::builder().start(store.clone());
    for n in 0..100 {
        auditor
            .record(
                Event::builder(Action::new("app.created").unwrap(), Actor::user(format!("u{n}")))
                    .outcome(Outcome::Success),
            )
            .await
            .unwrap();
    }
    auditor.shutdown(std::time::Duration::from_secs(10)).await.unwrap();
    assert_eq!(count(&store).await, 102, "100 events and the lifecycle events");
    assert!(store.verify("global").await.unwrap().is_intact());
}
