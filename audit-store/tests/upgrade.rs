//! A database written by an earlier release opens, verifies and takes new
//! events: `fixtures/sqlite-before-migrate-macro.db` was made by the
//! quickstart of the release before `sqlx::migrate!` embedded the
//! migrations from their files and before `context.client_request_id`
//! existed (two migrations applied by the hand-written list;
//! `audit.started`, `audit.stopped`, and one `app.created` in tenant `acme`
//! whose request sent `X-Request-Id: req-old-1`).

#![cfg(feature = "sqlite")]

use audit_core::{Action, Actor, AuditSink, Event};
use audit_store::SqliteStore;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sqlite-before-migrate-macro.db"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_the_previous_release_opens_verifies_and_takes_new_events() {
    let dir = std::env::temp_dir().join(format!("audit-upgrade-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.db");
    std::fs::copy(FIXTURE, &path).unwrap();

    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("the applied migrations' checksums still match");
    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, description FROM _sqlx_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(
        applied,
        [
            (1, "events, streams, append-only triggers".to_owned()),
            (2, "free-text search, time index, cursor key".to_owned()),
            (3, "guards".to_owned()),
            (4, "merkle trees".to_owned()),
            (5, "stream sinks".to_owned()),
            (6, "action catalogue".to_owned()),
            (7, "personal data".to_owned()),
        ],
        "nothing applied again, nothing rewritten; the guards, trees, stream sinks, catalogue and key table added"
    );
    // The old streams got their trees on connect, from their stored leaves.
    let leaves: Vec<String> =
        sqlx::query_scalar("SELECT leaf_hash FROM audit_events WHERE stream = 'global' ORDER BY seq")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let leaves: Vec<audit_store::merkle::Hash> = leaves
        .iter()
        .map(|hex| std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()))
        .collect();
    let head = store.tree_head("global", None).await.unwrap();
    assert_eq!((head.size, head.root), (2, audit_store::merkle::root(&leaves)));
    let report = store.verify("global").await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 2);

    // The event with a request context hashes as it did: a context without
    // `client_request_id` is written without it.
    let report = store.verify("tenant:acme").await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 1);
    let old = audit_store::Store::Sqlite(store.clone())
        .query(&audit_store::AuditQuery::new().tenant("acme"))
        .await
        .unwrap()
        .events;
    assert_eq!(old[0].context().request_id.as_deref(), Some("req-old-1"));
    assert_eq!(old[0].context().client_request_id, None);

    let event = Event::builder(Action::new("app.created").unwrap(), Actor::user("u1")).build();
    store.write_batch(&[event]).await.unwrap();
    let report = store.verify("global").await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 3, "the new event continues the old stream");
    assert_eq!(store.tree_head("global", None).await.unwrap().size, 3);
    let _ = std::fs::remove_dir_all(&dir);
}
