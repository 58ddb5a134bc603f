//! One suite, both backends: every case runs against a real SQLite file and a
//! real PostgreSQL database (see `support/postgres.rs` for where that comes
//! from), with identical assertions. Only the SQL a case sends behind the
//! store's back differs, and lives in `support`.

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use audit_core::{Action, Actor, AuditSink, Auditor, Event, Outcome};
use audit_store::{Problem, Store, StoreError};
use serde_json::json;
use support::{End, TestDb};

on_both_backends!(
    events_round_trip_and_verify_intact,
    a_retried_batch_never_duplicates,
    a_large_batch_spanning_streams_is_stored_whole,
    direct_update_and_delete_are_rejected,
    an_edited_field_is_detected_and_named,
    an_edited_query_column_is_detected_even_though_the_json_is_intact,
    a_deleted_middle_row_is_detected_and_named,
    a_deleted_newest_row_is_detected_through_the_stream_head,
    rows_deleted_across_whole_pages_are_one_gap_named_at_its_start,
    two_swapped_rows_are_detected_and_named,
    a_thousand_concurrent_writes_from_two_pools_leave_no_gap_and_no_duplicate,
    concurrent_retries_in_any_order_store_each_event_once,
    transactional_mode_commits_and_rolls_back_with_the_business_change,
    the_store_is_a_sink_for_the_auditor,
    connect_picks_the_backend_by_scheme,
    the_stores_connections_have_the_documented_settings,
);

/// An event full of what storage tends to mangle: astral-plane emoji, a
/// right-to-left override, combining characters, NUL, and numbers that only
/// survive an exact round trip (`0.1 + 0.2`, `1e-7`, `u64::MAX`).
fn event(tenant: &str, n: usize) -> Event {
    Event::builder(
        Action::new("app.updated").unwrap(),
        Actor::user(format!("user_{n}")).with_email("u@acme.test"),
    )
    .tenant(tenant)
    .description(format!("Renamed app {n} — naïve café ✓ 🚀 \u{202e}rtl cafe\u{301} 𝕬"))
    .before(&json!({"name": format!("old {n}"), "price": 0.1 + 0.2, "big": u64::MAX, "tiny": 1e-7}))
    .after(&json!({"name": format!("new\0{n} 👩‍👩‍👧 e\u{301}\u{302}"), "price": 1e-7, "big": u64::MAX, "half": 0.5}))
    .metadata("n", &n)
    .metadata("emoji_🚀", &"\u{202e}evil\u{202c} ok")
    .metadata(
        "numbers",
        &json!([0.1 + 0.2, 1e-7, u64::MAX, -0.0, 1e300, 123_456_789_012_345_680_000.0]),
    )
    .build()
}

async fn events_round_trip_and_verify_intact(db: TestDb) {
    let store = db.connect().await;
    let events: Vec<Event> = (0..10)
        .map(|n| event(if n % 2 == 0 { "acme" } else { "globex" }, n))
        .collect();
    store.write_batch(&events).await.unwrap();

    assert_eq!(store.streams().await.unwrap(), ["tenant:acme", "tenant:globex"]);
    // verify rebuilds each event from its row and recomputes its hash, so an
    // intact report means every field came back exactly as it was sealed.
    for stream in ["tenant:acme", "tenant:globex"] {
        let report = store.verify(stream).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.checked, 5);
    }
    let report = store.verify("tenant:nobody").await.unwrap();
    assert!(report.is_intact());
    assert_eq!(report.checked, 0);

    #[cfg(feature = "sqlite")]
    #[allow(irrefutable_let_patterns, reason = "refutable when PostgreSQL is built too")]
    if let Store::Sqlite(sqlite) = &store {
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(sqlite.pool())
            .await
            .unwrap();
        assert_eq!(journal, "wal");
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(sqlite.pool())
            .await
            .unwrap();
        assert_eq!(synchronous, 2, "FULL by default");
    }
}

async fn a_retried_batch_never_duplicates(db: TestDb) {
    let store = db.connect().await;
    let events: Vec<Event> = (0..50).map(|n| event("acme", n)).collect();
    store.write_batch(&events[..30]).await.unwrap();
    store.write_batch(&events).await.unwrap();
    store.write_batch(&events).await.unwrap();
    let doubled: Vec<Event> = events.iter().chain(&events).cloned().collect();
    store.write_batch(&doubled).await.unwrap();
    assert_eq!(db.count().await, 50);
    let report = store.verify("tenant:acme").await.unwrap();
    assert!(report.is_intact());
    assert_eq!(report.checked, 50);
}

async fn a_large_batch_spanning_streams_is_stored_whole(db: TestDb) {
    // More rows per stream than one INSERT statement takes on either backend.
    let store = db.connect().await;
    let plain = |tenant: Option<&str>, n: usize| {
        let builder = Event::builder(Action::new("app.viewed").unwrap(), Actor::user(format!("u{n}")));
        match tenant {
            Some(tenant) => builder.tenant(tenant).build(),
            None => builder.build(),
        }
    };
    let mut events: Vec<Event> = (0..2_100).map(|n| plain(Some("acme"), n)).collect();
    events.extend((0..600).map(|n| plain(Some(["globex", "initech"][n % 2]), n)));
    events.extend((0..10).map(|n| plain(None, n)));
    events.push(events[7].clone());
    events.push(event("acme", 1));
    store.write_batch(&events).await.unwrap();
    assert_eq!(db.count().await, 2_711);
    assert_eq!(
        store.streams().await.unwrap(),
        ["global", "tenant:acme", "tenant:globex", "tenant:initech"]
    );
    for (stream, expected) in [
        ("global", 10),
        ("tenant:acme", 2_101),
        ("tenant:globex", 300),
        ("tenant:initech", 300),
    ] {
        let report = store.verify(stream).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.checked, expected, "{stream}");
    }
}

async fn direct_update_and_delete_are_rejected(db: TestDb) {
    let store = db.connect().await;
    store.write_batch(&[event("acme", 1)]).await.unwrap();
    let update = db
        .exec("UPDATE audit_events SET outcome = 'failure'")
        .await
        .unwrap_err();
    assert!(
        update.to_string().contains("append-only: UPDATE is not allowed"),
        "{update}"
    );
    let delete = db.exec("DELETE FROM audit_events").await.unwrap_err();
    assert!(delete.to_string().contains("append-only: DELETE"), "{delete}");
    if db.is_postgres() {
        let truncate = db.exec("TRUNCATE audit_events").await.unwrap_err();
        assert!(
            truncate.to_string().contains("append-only: TRUNCATE is not allowed"),
            "{truncate}"
        );
    }
    assert_eq!(db.count().await, 1, "nothing already recorded was lost");
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
}

/// A store holding five events of `tenant:acme` that verify, with the
/// append-only triggers dropped so the test can tamper as an attacker with
/// database access would.
async fn five_events_unprotected(db: &TestDb) -> Store {
    let store = db.connect().await;
    let events: Vec<Event> = (0..5).map(|n| event("acme", n)).collect();
    store.write_batch(&events).await.unwrap();
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
    db.drop_append_only_triggers().await;
    store
}

/// Runs `sql` behind the store's back and returns what verify finds first.
async fn problem_after(db: &TestDb, store: &Store, sql: &str) -> Problem {
    db.exec(sql).await.unwrap();
    let report = store.verify("tenant:acme").await.unwrap();
    report
        .problem
        .unwrap_or_else(|| panic!("tampering with `{sql}` went unnoticed"))
}

async fn tampered(db: TestDb, sql: &str) -> Problem {
    let store = five_events_unprotected(&db).await;
    problem_after(&db, &store, sql).await
}

async fn an_edited_field_is_detected_and_named(db: TestDb) {
    let store = five_events_unprotected(&db).await;
    let problem = problem_after(&db, &store, "UPDATE audit_events SET outcome = 'denied' WHERE seq = 3").await;
    assert!(matches!(problem, Problem::HashMismatch { seq: 3, .. }), "{problem:?}");
    assert!(problem.to_string().contains("at seq 3 was altered"), "{problem}");

    // An earlier edit of a JSON column is now the first problem.
    let problem = problem_after(
        &db,
        &store,
        "UPDATE audit_events SET metadata = '{\"n\":99}' WHERE seq = 2",
    )
    .await;
    assert!(matches!(problem, Problem::HashMismatch { seq: 2, .. }), "{problem:?}");
}

async fn an_edited_query_column_is_detected_even_though_the_json_is_intact(db: TestDb) {
    let problem = tampered(db, "UPDATE audit_events SET actor_id = 'someone_else' WHERE seq = 4").await;
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

async fn a_deleted_middle_row_is_detected_and_named(db: TestDb) {
    let problem = tampered(db, "DELETE FROM audit_events WHERE seq = 3").await;
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

async fn a_deleted_newest_row_is_detected_through_the_stream_head(db: TestDb) {
    let problem = tampered(db, "DELETE FROM audit_events WHERE seq = 5").await;
    assert_eq!(
        problem,
        Problem::MissingTail {
            last_stored: 4,
            head: 5
        }
    );
}

/// Verify reads a stream in ranges of 1,000 seqs: a stream of several
/// ranges verifies intact, and rows removed across two whole ranges are
/// reported as one gap, at its first missing seq.
async fn rows_deleted_across_whole_pages_are_one_gap_named_at_its_start(db: TestDb) {
    let store = db.connect().await;
    let events: Vec<Event> = (0..2_600).map(|n| event("acme", n)).collect();
    store.write_batch(&events).await.unwrap();
    let report = store.verify("tenant:acme").await.unwrap();
    assert!(report.is_intact() && report.checked == 2_600, "{report:?}");
    db.drop_append_only_triggers().await;
    let problem = problem_after(&db, &store, "DELETE FROM audit_events WHERE seq BETWEEN 900 AND 2450").await;
    assert!(
        matches!(
            problem,
            Problem::Gap {
                expected: 900,
                found: 2_451,
                ..
            }
        ),
        "{problem:?}"
    );
}

async fn two_swapped_rows_are_detected_and_named(db: TestDb) {
    // Swap seq 2 and 3 through a temporary value (seq is unique per stream).
    let problem = tampered(
        db,
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

async fn a_thousand_concurrent_writes_from_two_pools_leave_no_gap_and_no_duplicate(db: TestDb) {
    let first = db.connect().await;
    let second = db.connect().await;
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
    assert_eq!(db.count().await, 1000);
    for stream in ["tenant:acme", "tenant:globex"] {
        let report = first.verify(stream).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        let found = db
            .integers(&format!(
                "SELECT count(*), count(DISTINCT seq), max(seq) FROM audit_events WHERE stream = '{stream}'"
            ))
            .await;
        let rows = found[0];
        assert_eq!(found, [rows, rows, rows], "{stream}: seqs are exactly 1..=count");
        assert_eq!(u64::try_from(rows).unwrap(), report.checked);
    }
}

async fn concurrent_retries_in_any_order_store_each_event_once(db: TestDb) {
    let first = db.connect().await;
    let second = db.connect().await;
    let events: Vec<Event> = (0..40)
        .map(|n| event(["acme", "globex", "initech"][n % 3], n))
        .collect();
    let reversed: Vec<Event> = events.iter().rev().cloned().collect();
    // The same batch, in opposite stream orders, from two pools at once: no
    // deadlock, and every event stored once.
    let writers: Vec<_> = (0..16)
        .map(|n| {
            let store = if n % 2 == 0 { first.clone() } else { second.clone() };
            let batch = if n % 4 < 2 { events.clone() } else { reversed.clone() };
            tokio::spawn(async move { store.write_batch(&batch).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    assert_eq!(db.count().await, 40);
    for (stream, expected) in [("tenant:acme", 14), ("tenant:globex", 13), ("tenant:initech", 13)] {
        let report = second.verify(stream).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.checked, expected, "{stream}");
    }
}

async fn transactional_mode_commits_and_rolls_back_with_the_business_change(db: TestDb) {
    let store = db.connect().await;
    db.exec("CREATE TABLE apps (id TEXT PRIMARY KEY, name TEXT)")
        .await
        .unwrap();

    let rolled_back = event("acme", 1);
    db.record_in(
        &store,
        "INSERT INTO apps VALUES ('app_1', 'Billing')",
        std::slice::from_ref(&rolled_back),
        End::Rollback,
    )
    .await;
    let committed = event("acme", 2);
    let stored = db
        .record_in(
            &store,
            "INSERT INTO apps VALUES ('app_2', 'Search')",
            std::slice::from_ref(&committed),
            End::Commit,
        )
        .await;

    assert_eq!(
        stored[0].integrity().unwrap().seq,
        1,
        "the rolled-back event used no seq"
    );
    let ids = db.strings("SELECT CAST(id AS TEXT) FROM audit_events").await;
    assert_eq!(ids, [committed.id().to_string()]);
    let apps = db.strings("SELECT id FROM apps").await;
    assert_eq!(apps, ["app_2"]);
    let report = store.verify("tenant:acme").await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 1);

    // A later ordinary write continues the stream right after it.
    store.write_batch(&[rolled_back]).await.unwrap();
    let report = store.verify("tenant:acme").await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 2);
}

async fn the_store_is_a_sink_for_the_auditor(db: TestDb) {
    let store = db.connect().await;
    // SQLite's cost is mostly per commit, so it asks for large batches;
    // PostgreSQL leaves the auditor's default.
    let expected = if db.is_postgres() { None } else { Some(10_000) };
    assert_eq!(store.preferred_batch_size(), expected);
    assert_eq!(
        Auditor::builder().batch_size_for(&store),
        expected.unwrap_or(audit_core::DEFAULT_BATCH_SIZE)
    );
    assert_eq!(Auditor::builder().batch_size(64).batch_size_for(&store), 64);
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
    assert_eq!(db.count().await, 102, "100 events and the lifecycle events");
    assert!(store.verify("global").await.unwrap().is_intact());
}

async fn connect_picks_the_backend_by_scheme(db: TestDb) {
    for url in db.urls() {
        let store = audit_store::connect(&url).await.unwrap();
        assert!(db.is_backend_of(&store), "{url} gave {store:?}");
    }
    let error = audit_store::connect("mysql://user:pw@h/db").await.unwrap_err();
    assert!(matches!(error, StoreError::UnsupportedUrl { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("mysql://user:***@h/db"), "{message}");
    assert!(!message.contains("pw"), "{message}");
    #[cfg(feature = "sqlite")]
    assert!(message.contains("sqlite:"), "{message}");
    #[cfg(feature = "postgres")]
    assert!(
        message.contains("postgres://") && message.contains("postgresql://"),
        "{message}"
    );
}

/// PostgreSQL text cannot hold NUL. The builder escapes it, but an event made
/// another way (deserialised, say) must be rejected for good, not retried.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_rejects_for_good_an_event_it_cannot_hold() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.connect().await;
    let mut value = serde_json::to_value(event("acme", 1)).unwrap();
    value["description"] = json!("raw \0 NUL, bypassing the builder");
    let raw: Event = serde_json::from_value(value).unwrap();
    let error = store.write_batch(&[raw, event("acme", 2)]).await.unwrap_err();
    assert!(!error.is_retryable(), "{error}");
    assert_eq!(db.count().await, 0, "the whole batch rolled back");
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
}

/// The settings the crate docs promise, read back from a pooled connection
/// of the store itself (not a connection the test opens).
async fn the_stores_connections_have_the_documented_settings(db: TestDb) {
    let store = db.connect().await;
    let settings: Vec<(String, String)> = match &store {
        #[cfg(feature = "sqlite")]
        Store::Sqlite(sqlite) => {
            let mut settings = Vec::new();
            for pragma in ["journal_mode", "synchronous", "cache_size", "mmap_size"] {
                let value: sqlx::sqlite::SqliteRow = sqlx::query(&format!("PRAGMA {pragma}"))
                    .fetch_one(sqlite.pool())
                    .await
                    .unwrap();
                let value = sqlx::Row::try_get::<String, _>(&value, 0)
                    .or_else(|_| sqlx::Row::try_get::<i64, _>(&value, 0).map(|n| n.to_string()))
                    .unwrap();
                settings.push((pragma.to_owned(), value));
            }
            settings
        }
        #[cfg(feature = "postgres")]
        Store::Postgres(pg) => {
            let mut settings = Vec::new();
            for name in ["jit", "plan_cache_mode"] {
                let value: String = sqlx::query_scalar(&format!("SHOW {name}"))
                    .fetch_one(pg.pool())
                    .await
                    .unwrap();
                settings.push((name.to_owned(), value));
            }
            settings
        }
    };
    let expected: &[(&str, &str)] = if db.is_postgres() {
        &[("jit", "off"), ("plan_cache_mode", "force_custom_plan")]
    } else {
        // synchronous 2 is FULL; cache_size in KiB when negative (32 MiB);
        // mmap_size SQLite's largest default, just under 2 GiB.
        &[
            ("journal_mode", "wal"),
            ("synchronous", "2"),
            ("cache_size", "-32768"),
            ("mmap_size", "2147418112"),
        ]
    };
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(settings, expected);
}
