//! The guards behind "append-only", attacked the way someone with SQL access
//! to the store's database would: REPLACE and upserts of stored events, the
//! purge gate opened by hand, stream heads lowered or deleted, and (on
//! PostgreSQL) the documented role layout, under which the application's role
//! can neither disable nor drop the triggers.

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use audit_core::{Action, Actor, AuditSink, Event};
use audit_store::{Problem, Purge, Store};
use support::TestDb;

on_both_backends!(
    replace_and_upsert_cannot_rewrite_a_stored_event,
    an_opened_purge_gate_lets_no_event_above_the_base_go,
    stream_heads_only_move_forward_and_stay,
    moving_a_base_by_hand_to_delete_events_is_reported_by_verify,
    a_head_moved_back_or_deleted_behind_the_triggers_is_reported,
);

fn event(n: usize) -> Event {
    Event::builder(Action::new("app.updated").unwrap(), Actor::user(format!("user_{n}")))
        .tenant("acme")
        .build()
}

/// A store holding five verified events of `tenant:acme`.
async fn five_events(db: &TestDb) -> Store {
    let store = db.connect().await;
    let events: Vec<Event> = (0..5).map(event).collect();
    store.write_batch(&events).await.unwrap();
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
    store
}

/// Runs `sql` and asserts it was refused with a message containing `says`.
async fn refused(db: &TestDb, sql: &str, says: &str) {
    match db.exec(sql).await {
        Ok(()) => panic!("`{sql}` was allowed"),
        Err(error) => assert!(error.to_string().contains(says), "`{sql}`: {error}"),
    }
}

/// The columns of `audit_events` an attacker would copy (not SQLite's
/// internal row key).
async fn event_columns(db: &TestDb) -> Vec<String> {
    let sql = if db.is_postgres() {
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_name = 'audit_events' ORDER BY ordinal_position"
    } else {
        "SELECT name FROM pragma_table_info('audit_events') WHERE name <> 'pk' ORDER BY cid"
    };
    db.strings(sql).await
}

/// `columns` with `column` replaced by `value`: a copy of a stored row with
/// one field rewritten.
fn columns_with(columns: &[String], column: &str, value: &str) -> String {
    columns
        .iter()
        .map(|c| if c == column { value.to_owned() } else { c.clone() })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn replace_and_upsert_cannot_rewrite_a_stored_event(db: TestDb) {
    let store = five_events(&db).await;
    let names = event_columns(&db).await;
    let columns = names.join(", ");
    let rewritten = columns_with(&names, "outcome", "'denied'");
    if db.is_postgres() {
        // An upsert is an UPDATE, which the trigger refuses (the key is
        // (id, occurred_at): the table is partitioned by occurred_at).
        refused(
            &db,
            &format!(
                "INSERT INTO audit_events ({columns}) SELECT {rewritten} FROM audit_events WHERE seq = 3 \
                 ON CONFLICT (id, occurred_at) DO UPDATE SET outcome = excluded.outcome"
            ),
            "append-only: UPDATE is not allowed",
        )
        .await;
    } else {
        // REPLACE deletes the conflicting row without firing DELETE triggers.
        for verb in ["INSERT OR REPLACE INTO", "REPLACE INTO"] {
            refused(
                &db,
                &format!("{verb} audit_events ({columns}) SELECT {rewritten} FROM audit_events WHERE seq = 3"),
                "append-only: an event with this id or (stream, seq) is already stored",
            )
            .await;
        }
        // Another id at a stored seq, or the stored id at a new seq.
        let other_id = columns_with(&names, "id", "'00000000-0000-7000-8000-000000000000'");
        refused(
            &db,
            &format!(
                "INSERT OR REPLACE INTO audit_events ({columns}) SELECT {other_id} FROM audit_events WHERE seq = 3"
            ),
            "already stored",
        )
        .await;
        let moved = columns_with(&names, "seq", "99");
        refused(
            &db,
            &format!("INSERT OR REPLACE INTO audit_events ({columns}) SELECT {moved} FROM audit_events WHERE seq = 3"),
            "already stored",
        )
        .await;
    }
    assert_eq!(db.count().await, 5, "nothing already recorded was lost");
    assert_eq!(
        db.strings("SELECT outcome FROM audit_events WHERE seq = 3").await,
        ["success"]
    );
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
}

async fn an_opened_purge_gate_lets_no_event_above_the_base_go(db: TestDb) {
    let store = five_events(&db).await;
    let open_and_delete = if db.is_postgres() {
        "BEGIN; SET LOCAL audit.purge = 'on'; DELETE FROM audit_events WHERE seq = 5; COMMIT;"
    } else {
        "UPDATE audit_purge_gate SET open = 1 WHERE id = 1; DELETE FROM audit_events WHERE seq = 5;"
    };
    refused(
        &db,
        open_and_delete,
        "append-only: DELETE is only allowed through retention purge",
    )
    .await;
    assert_eq!(db.count().await, 5);
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
}

async fn stream_heads_only_move_forward_and_stay(db: TestDb) {
    let store = five_events(&db).await;
    for sql in [
        "UPDATE audit_streams SET head_seq = 4 WHERE stream = 'tenant:acme'",
        "UPDATE audit_streams SET head_hash = 'forged' WHERE stream = 'tenant:acme'",
        "UPDATE audit_streams SET base_seq = 9 WHERE stream = 'tenant:acme'",
        "UPDATE audit_streams SET stream = 'tenant:other' WHERE stream = 'tenant:acme'",
    ] {
        refused(&db, sql, "audit_streams only moves forward").await;
    }
    refused(
        &db,
        "DELETE FROM audit_streams WHERE stream = 'tenant:acme'",
        "audit_streams is append-only: DELETE is not allowed",
    )
    .await;
    if db.is_postgres() {
        refused(&db, "TRUNCATE audit_streams", "audit_streams is append-only: TRUNCATE").await;
    } else {
        refused(
            &db,
            "INSERT OR REPLACE INTO audit_streams (stream, head_seq, head_hash) VALUES ('tenant:acme', 4, '')",
            "audit_streams is append-only: this stream already has its row",
        )
        .await;
    }
    assert_eq!(
        db.integers("SELECT head_seq, base_seq FROM audit_streams WHERE stream = 'tenant:acme'")
            .await,
        [5, 0]
    );
    // The store itself still moves heads and bases forward.
    store.write_batch(&[event(5)]).await.unwrap();
    let reports = store
        .purge(&Purge::before(audit_core::Timestamp::now()).tenant("acme"))
        .await
        .unwrap()
        .streams;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].removed, 6);
    let report = store.verify("tenant:acme").await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(store.streams().await.unwrap(), ["tenant:acme"]);
}

async fn moving_a_base_by_hand_to_delete_events_is_reported_by_verify(db: TestDb) {
    // What the triggers cannot tell apart from a purge (the same statements
    // in the same order) leaves a base no audit.purged event records.
    let store = five_events(&db).await;
    let purge_by_hand = if db.is_postgres() {
        "BEGIN; UPDATE audit_streams SET base_seq = 2, base_hash = 'x' WHERE stream = 'tenant:acme'; \
         SET LOCAL audit.purge = 'on'; DELETE FROM audit_events WHERE seq <= 2; COMMIT;"
    } else {
        "UPDATE audit_streams SET base_seq = 2, base_hash = 'x' WHERE stream = 'tenant:acme'; \
         UPDATE audit_purge_gate SET open = 1 WHERE id = 1; DELETE FROM audit_events WHERE seq <= 2; \
         UPDATE audit_purge_gate SET open = 0 WHERE id = 1;"
    };
    db.exec(purge_by_hand).await.unwrap();
    assert_eq!(
        store.verify("tenant:acme").await.unwrap().problem,
        Some(Problem::UnrecordedPurge {
            base_seq: 2,
            recorded: None
        })
    );
}

async fn a_head_moved_back_or_deleted_behind_the_triggers_is_reported(db: TestDb) {
    let store = five_events(&db).await;
    db.drop_append_only_triggers().await;
    db.exec("UPDATE audit_streams SET head_seq = 3 WHERE stream = 'tenant:acme'")
        .await
        .unwrap();
    let problem = store.verify("tenant:acme").await.unwrap().problem.unwrap();
    assert_eq!(
        problem,
        Problem::BeyondHead {
            last_stored: 5,
            head: 3
        }
    );
    assert!(
        problem.to_string().contains("head was moved back or deleted"),
        "{problem}"
    );
    db.exec("DELETE FROM audit_streams WHERE stream = 'tenant:acme'")
        .await
        .unwrap();
    assert_eq!(
        store.verify("tenant:acme").await.unwrap().problem,
        Some(Problem::BeyondHead {
            last_stored: 5,
            head: 0
        })
    );
}

#[cfg(feature = "postgres")]
mod roles {
    use audit_core::{Action, Actor, AuditSink, Event};
    use audit_store::{PgStore, Purge};
    use sqlx::{Connection, PgConnection};

    use super::{event, support::TestDb};

    /// `url` with `role` (and a password, for servers that ask) as its user.
    fn as_role(url: &str, role: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let after_user = rest.rfind('@').map_or(rest, |at| &rest[at + 1..]);
        format!("{scheme}://{role}:{role}@{after_user}")
    }

    async fn run(url: &str, sql: &str) -> Result<(), sqlx::Error> {
        let mut conn = PgConnection::connect(url).await?;
        let result = sqlx::raw_sql(sql).execute(&mut conn).await.map(drop);
        conn.close().await?;
        result
    }

    /// The role layout of the crate docs ("Roles"): an owner that migrates,
    /// and an application role that writes, reads and purges but cannot
    /// change the schema, disable a trigger or replicate around them.
    #[tokio::test]
    async fn the_application_role_cannot_get_past_the_triggers() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        let TestDb::Postgres(pg) = &db else { unreachable!() };
        let path = pg.url.split_once("://").unwrap().1.split('?').next().unwrap();
        let database = path.rsplit('/').next().unwrap().to_owned();
        let (owner, app) = (format!("{database}_owner"), format!("{database}_app"));
        run(
            &pg.url,
            &format!(
                "CREATE ROLE {owner} LOGIN PASSWORD '{owner}'; CREATE ROLE {app} LOGIN PASSWORD '{app}'; \
                 GRANT CREATE ON DATABASE {database} TO {owner}; GRANT ALL ON SCHEMA public TO {owner};"
            ),
        )
        .await
        .unwrap();
        // The owner migrates, then grants the application what the docs list.
        PgStore::connect(&as_role(&pg.url, &owner)).await.unwrap();
        run(
            &as_role(&pg.url, &owner),
            &format!(
                "GRANT USAGE ON SCHEMA public TO {app}; \
                 GRANT SELECT, INSERT, DELETE ON audit_events TO {app}; \
                 GRANT SELECT, INSERT, UPDATE ON audit_streams TO {app}; \
                 GRANT SELECT, INSERT ON audit_store_keys TO {app}; \
                 GRANT SELECT, INSERT ON audit_tree_nodes, audit_checkpoints TO {app}; \
                 GRANT SELECT ON _sqlx_migrations TO {app};"
            ),
        )
        .await
        .unwrap();

        let app_url = as_role(&pg.url, &app);
        let store = PgStore::connect(&app_url).await.expect("the application role connects");
        let events: Vec<_> = (0..5).map(event).collect();
        store.write_batch(&events).await.unwrap();
        assert_eq!(store.verify("tenant:acme").await.unwrap().checked, 5);

        for (sql, says) in [
            ("ALTER TABLE audit_events DISABLE TRIGGER ALL", "must be owner"),
            (
                "DROP TRIGGER audit_events_reject_update_delete ON audit_events",
                "must be owner",
            ),
            ("DROP FUNCTION audit_events_reject_change() CASCADE", "must be owner"),
            ("SET session_replication_role = replica", "permission denied"),
            ("UPDATE audit_events SET outcome = 'denied'", "permission denied"),
            ("TRUNCATE audit_events", "permission denied"),
            ("ALTER TABLE audit_streams DISABLE TRIGGER ALL", "must be owner"),
            ("DELETE FROM audit_streams", "permission denied"),
        ] {
            match run(&app_url, sql).await {
                Ok(()) => panic!("the application role could run `{sql}`"),
                Err(error) => assert!(error.to_string().contains(says), "`{sql}`: {error}"),
            }
        }
        // Retention still works for it, through the store.
        let reports = store
            .purge(&Purge::before(audit_core::Timestamp::now()).tenant("acme"))
            .await
            .unwrap()
            .streams;
        assert_eq!(reports[0].removed, 5);
        let report = store.verify("tenant:acme").await.unwrap();
        assert!(report.is_intact(), "{report:?}");

        // A month never seen gets its partition from the application role,
        // through the function that runs as the owner (a new tenant's
        // stream: a purge cuts a stream's oldest run only).
        let old = audit_core::Timestamp::from_unix_micros(1_700_000_000_000_000).unwrap(); // November 2023
        let back_dated: Vec<_> = (5..8)
            .map(|n| {
                Event::builder(Action::new("app.updated").unwrap(), Actor::user(format!("user_{n}")))
                    .tenant("initech")
                    .occurred_at(old)
                    .build()
            })
            .collect();
        store.write_batch(&back_dated).await.unwrap();
        let before = audit_core::Timestamp::from_unix_micros(1_710_000_000_000_000).unwrap(); // March 2024
        // Without the grant, the month's purged rows are deleted row by row.
        let outcome = store.purge(&Purge::before(before)).await.unwrap();
        assert_eq!(outcome.streams[0].removed, 3);
        assert!(outcome.dropped_partitions.is_empty(), "{outcome:?}");
        assert_eq!(outcome.deleted_from_partitions, ["audit_events_y2023m11"]);
        // With it, the emptied month is dropped; dropping one that holds an
        // event above its base is refused by the function itself.
        run(
            &as_role(&pg.url, &owner),
            &format!("GRANT EXECUTE ON FUNCTION audit_events_retire_partition(text) TO {app};"),
        )
        .await
        .unwrap();
        let outcome = store.purge(&Purge::before(before)).await.unwrap();
        assert_eq!(outcome.dropped_partitions, ["audit_events_y2023m11"]);
        store.write_batch(&[event(9)]).await.unwrap();
        let this_month: String = sqlx::query_scalar("SELECT audit_events_partition_for(now())")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let dropped: bool = sqlx::query_scalar("SELECT audit_events_retire_partition($1)")
            .bind(&this_month)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(!dropped, "a month with unpurged events is not dropped");
        let error = sqlx::query("SELECT audit_events_retire_partition('audit_streams')")
            .execute(store.pool())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("not a partition of audit_events"), "{error}");
        for stream in ["tenant:acme", "tenant:initech"] {
            let report = store.verify(stream).await.unwrap();
            assert!(report.is_intact(), "{stream}: {report:?}");
        }
    }
}
