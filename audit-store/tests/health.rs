//! `GET <prefix>/health` over real loopback HTTP: the state of an auditor
//! writing to a real store, with and without a spool, for the platform
//! role `auditor` only; and, on PostgreSQL, through a real outage (the
//! database refuses connections, its sessions are terminated) and back.

#![cfg(feature = "http")]

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::time::Duration;

use audit_core::{Action, Actor, Auditor, Event, RetryPolicy, Spool, SpoolConfig};
use audit_store::http::AdminApi;
use http::StatusCode;
use serde_json::Value;
use support::TestDb;
use support::loopback::Loopback;

on_both_backends!(health_is_for_platform_auditors_and_reports_the_pipeline);

const AUDITOR: &str = "u_audit auditor";
const OWNER: &str = "u_owner owner acme";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
    }
}

fn spool_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("audit-health-{}", uuid::Uuid::now_v7()))
}

async fn health(server: &Loopback) -> (StatusCode, Value) {
    let (status, _, body) = server.get(AUDITOR, "/health").await;
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")),
    )
}

async fn health_is_for_platform_auditors_and_reports_the_pipeline(db: TestDb) {
    let store = db.connect().await;
    let dir = spool_dir();
    let pipeline = Auditor::builder()
        .lifecycle_events(false)
        .spool(Spool::open(SpoolConfig::new(&dir)).unwrap())
        .start(store.clone());
    for n in 0..5 {
        pipeline
            .record(
                Event::builder(
                    Action::from_static("app.created").unwrap(),
                    Actor::user(format!("u{n}")),
                )
                .tenant("acme"),
            )
            .await
            .unwrap();
    }
    pipeline.flush().await.unwrap();
    let server = Loopback::serve(AdminApi::new(store.clone()).health(pipeline.clone())).await;

    let (status, _, body) = server.get(OWNER, "/health").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("platform role `auditor`"), "{body}");

    let (status, body) = health(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store_reachable"], true);
    assert_eq!(body["counters"]["written"], 5);
    assert_eq!(body["counters"]["spooled"], 5);
    assert_eq!(body["spool"]["pending_events"], 0);
    assert_eq!(body["spool"]["writable"], true);
    assert_eq!(body["oldest_unwritten_age_ms"], Value::Null);
    // Reading the health is not reading the log: nothing is recorded.
    assert!(server.recorded().await.is_empty());

    // An admin API without an auditor has no health to tell.
    let bare = Loopback::start(store.clone()).await;
    let (status, _, body) = bare.get(AUDITOR, "/health").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    pipeline.shutdown(Duration::from_secs(10)).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Makes the PostgreSQL database refuse new connections and ends the ones
/// it has: to the store, a database that went away.
async fn take_down(db: &TestDb, allow: bool) {
    let support::TestDb::Postgres(pg) = db else {
        unreachable!()
    };
    // `postgres://user@host:port/NAME?host=/socket/dir`: the path's one segment.
    let after_scheme = &pg.url[pg.url.find("://").unwrap() + 3..];
    let path = &after_scheme[after_scheme.find('/').unwrap() + 1..];
    let name = path.split('?').next().unwrap().to_owned();
    let admin_url = pg.url.replacen(&format!("/{name}"), "/postgres", 1);
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    sqlx::raw_sql(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allow}"))
        .execute(&mut admin)
        .await
        .unwrap();
    if !allow {
        sqlx::raw_sql(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .execute(&mut admin)
        .await
        .unwrap();
    }
}

/// The store goes away: with a spool the pipeline is `degraded` (events
/// wait on disk, the oldest one's age shows), without one it is `down`
/// (a 503); both are `ok` again once the store is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_a_postgres_outage() {
    let Some(db) = TestDb::postgres().await else { return };
    let store = db.connect().await;
    let dir = spool_dir();
    let spooled = Auditor::builder()
        .lifecycle_events(false)
        .retry(fast_retry())
        .spool(Spool::open(SpoolConfig::new(&dir)).unwrap())
        .start(store.clone());
    let unspooled = Auditor::builder()
        .lifecycle_events(false)
        .retry(fast_retry())
        .start(store.clone());
    let with_spool = Loopback::serve(AdminApi::new(store.clone()).health(spooled.clone())).await;
    let without = Loopback::serve(AdminApi::new(store.clone()).health(unspooled.clone())).await;

    take_down(&db, false).await;
    let event = || Event::builder(Action::from_static("app.created").unwrap(), Actor::user("u1")).tenant("acme");
    spooled.record(event()).await.unwrap();
    unspooled.record(event()).await.unwrap();
    let started = std::time::Instant::now();
    while !(spooled.is_sink_down() && unspooled.is_sink_down()) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the writers never saw the outage"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, body) = health(&with_spool).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("degraded")),
        "{body}"
    );
    assert_eq!(body["store_reachable"], false);
    assert_eq!(body["spool"]["pending_events"], 1);
    assert!(body["oldest_unwritten_age_ms"].is_u64(), "{body}");
    assert!(body["last_error"].is_string(), "{body}");
    let (status, body) = health(&without).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("down")),
        "{body}"
    );
    assert_eq!(body["spool"], Value::Null);

    take_down(&db, true).await;
    spooled.flush().await.unwrap();
    unspooled.flush().await.unwrap();
    for server in [&with_spool, &without] {
        let (status, body) = health(server).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("ok")),
            "{body}"
        );
        assert_eq!(body["counters"]["written"], 1);
        assert!(body["counters"]["retried"].as_u64().unwrap() > 0);
    }
    spooled.shutdown(Duration::from_secs(10)).await.unwrap();
    unspooled.shutdown(Duration::from_secs(10)).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
