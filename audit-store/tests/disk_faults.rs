//! A SQLite store on a disk that fills up and then frees space: the real
//! `SQLITE_FULL` path, on a small tmpfs mounted for the test (root only;
//! elsewhere the tests skip, saying why, unless `AUDIT_REQUIRE_TMPFS=1`).

#![cfg(feature = "sqlite")]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use audit_core::{Action, Actor, AuditSink, Auditor, Event, EventBuilder, RetryPolicy};
use audit_store::{AuditQuery, SqliteStore};

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("audit-full-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(Self { dir }),
            outcome => {
                let _ = std::fs::remove_dir(&dir);
                let why = match outcome {
                    Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                    Err(error) => error.to_string(),
                };
                assert!(
                    std::env::var_os("AUDIT_REQUIRE_TMPFS").is_none(),
                    "AUDIT_REQUIRE_TMPFS is set but a tmpfs cannot be mounted: {why}"
                );
                eprintln!("skipped: cannot mount a small tmpfs to fill ({why}); run as root");
                None
            }
        }
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.join("audit.db").display())
    }

    /// Writes a file until the disk is full; removing it frees the space.
    fn fill(&self) -> PathBuf {
        let filler = self.dir.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        loop {
            if file.write_all(&chunk).and_then(|()| file.sync_all()).is_err() {
                break;
            }
        }
        // Even the last partial chunk.
        while file.write_all(&[0u8; 512]).and_then(|()| file.sync_all()).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn builders(n: usize, tag: &str) -> Vec<EventBuilder> {
    (0..n)
        .map(|i| {
            Event::builder(Action::new("app.created").unwrap(), Actor::user("u1"))
                .tenant("acme")
                // Wide events, so a few fill pages quickly.
                .metadata("padding", &format!("{tag}-{i}-{}", "x".repeat(1500)))
        })
        .collect()
}

fn events(n: usize, tag: &str) -> Vec<Event> {
    builders(n, tag).into_iter().map(EventBuilder::build).collect()
}

async fn stored(store: &SqliteStore) -> usize {
    let mut scan = audit_store::Store::Sqlite(store.clone())
        .scan(&AuditQuery::new())
        .unwrap();
    let mut n = 0;
    while let Some(batch) = scan.next_batch().await.unwrap() {
        n += batch.len();
    }
    n
}

fn remove(path: &Path) {
    std::fs::remove_file(path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_writes_again_once_a_full_disk_has_room() {
    let Some(disk) = SmallDisk::mount("4m") else { return };
    let store = SqliteStore::connect(&disk.url()).await.unwrap();
    store.write_batch(&events(10, "before")).await.unwrap();

    let filler = disk.fill();
    let refused = store.write_batch(&events(200, "full")).await;
    let error = refused.expect_err("the disk is full");
    assert!(error.is_retryable(), "a full disk is worth retrying: {error}");
    // Every connection of the pool gets its turn at the full disk.
    for _ in 0..10 {
        assert!(store.write_batch(&events(50, "still-full")).await.is_err());
    }

    remove(&filler);
    store
        .write_batch(&events(200, "after"))
        .await
        .expect("space is back: the store must write again");
    assert_eq!(
        stored(&store).await,
        210,
        "nothing written before is lost, nothing half-written is kept"
    );
    let report = store.verify("tenant:acme").await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 210);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_queued_while_the_disk_is_full_are_written_once_it_has_room() {
    let Some(disk) = SmallDisk::mount("4m") else { return };
    let store = SqliteStore::connect(&disk.url()).await.unwrap();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .linger(Duration::ZERO)
        .retry(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        })
        .start(store.clone());
    let filler = disk.fill();
    for event in builders(300, "queued") {
        auditor.record(event).await.unwrap();
    }
    // The writer fails on the full disk and says so.
    let mut waited = Duration::ZERO;
    while !auditor.stats().sink_down {
        assert!(waited < Duration::from_secs(30), "the writer never hit the full disk");
        tokio::time::sleep(Duration::from_millis(5)).await;
        waited += Duration::from_millis(5);
    }
    assert!(auditor.stats().written < 300);

    remove(&filler);
    auditor.flush().await.unwrap();
    let stats = auditor.stats();
    assert_eq!(stats.written, 300, "{stats:?}");
    assert!(!stats.sink_down, "recovered: {stats:?}");
    assert_eq!(stored(&store).await, 300);
}

/// The spool and the SQLite file on one small disk that fills up: spool
/// appends fail with a clear error (no panic, no silent drop), the auditor
/// says the spool is down (the HTTP layer answers spooled requests 503
/// `spool_down` then), events wait in the queue, and once space returns
/// every one is spooled and stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_disk_holds_events_back_until_it_has_room() {
    let Some(disk) = SmallDisk::mount("4m") else { return };
    let store = SqliteStore::connect(&disk.url()).await.unwrap();
    let spool = audit_core::Spool::open(audit_core::SpoolConfig::new(disk.dir.join("spool"))).unwrap();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .linger(Duration::ZERO)
        .retry(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        })
        .spool(spool)
        .start(store.clone());
    for event in builders(20, "before") {
        let receipt = auditor
            .record_with_receipt(event, audit_core::Durability::Spooled)
            .await
            .unwrap();
        receipt.await.unwrap();
    }
    auditor.flush().await.unwrap();

    let filler = disk.fill();
    let mut receipts = Vec::new();
    for event in builders(200, "full") {
        receipts.push(
            auditor
                .record_with_receipt(event, audit_core::Durability::Spooled)
                .await
                .unwrap(),
        );
    }
    let mut waited = Duration::ZERO;
    while !auditor.is_spool_down() {
        assert!(waited < Duration::from_secs(30), "the spool never hit the full disk");
        tokio::time::sleep(Duration::from_millis(5)).await;
        waited += Duration::from_millis(5);
    }
    let stats = auditor.stats();
    let error = stats.last_error.clone().unwrap_or_default();
    // The spool's append or the store's commit, whichever failed last:
    // either way the error names the full disk.
    assert!(
        error.contains("No space left") || error.contains("disk is full"),
        "a clear error: {error}"
    );
    // Behind the layer, a spooled request is refused before it acts, and
    // the 503 says why.
    let acted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let app = {
        let acted = std::sync::Arc::clone(&acted);
        axum::Router::new()
            .route(
                "/apps",
                axum::routing::post(move || async move {
                    acted.store(true, std::sync::atomic::Ordering::SeqCst);
                    http::StatusCode::CREATED
                }),
            )
            .layer(
                audit_tower::AuditLayer::new(auditor.clone()).delivery(audit_tower::Delivery::Spooled {
                    timeout: Duration::from_secs(1),
                }),
            )
    };
    let request = http::Request::post("/apps").body(axum::body::Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["audit-unavailable-reason"], "spool_down");
    assert!(
        !acted.load(std::sync::atomic::Ordering::SeqCst),
        "refused before the handler ran"
    );
    assert!(
        stats.spooled < 220,
        "nothing more is acknowledged while full: {stats:?}"
    );

    remove(&filler);
    for receipt in receipts {
        tokio::time::timeout(Duration::from_secs(30), receipt)
            .await
            .expect("spooled once space is back")
            .unwrap();
    }
    assert!(!auditor.is_spool_down());
    let stats = auditor.shutdown(Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        (stats.spooled, stats.written, stats.dropped),
        (220, 220, 0),
        "{stats:?}"
    );
    assert_eq!(stored(&store).await, 220);
}
