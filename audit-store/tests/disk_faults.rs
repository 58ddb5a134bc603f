//! A SQLite store and a spool on a disk that fails: one that fills up and
//! then frees space (the real `SQLITE_FULL` and `ENOSPC` paths, on a small
//! tmpfs), and one the kernel turns read-only after an I/O error (an ext4
//! image on a loop device, mounted `errors=remount-ro`, failed through
//! ext4's own `trigger_fs_error`). Mounting needs root; elsewhere the tests
//! skip, saying why, unless `AUDIT_REQUIRE_MOUNT=1` (set by `.ci/run`).

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
                skip_unmountable("a small tmpfs to fill", &why);
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
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Says why a disk could not be mounted; a failure where mounting is
/// required.
fn skip_unmountable(what: &str, why: &str) {
    assert!(
        std::env::var_os("AUDIT_REQUIRE_MOUNT").is_none(),
        "AUDIT_REQUIRE_MOUNT is set but {what} cannot be mounted: {why}"
    );
    eprintln!("skipped: cannot mount {what} ({why}); run as root");
}

/// Runs a command, returning its stderr when it fails.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    match Command::new(program).args(args).output() {
        Ok(output) if output.status.success() => Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned()),
        Ok(output) => Err(format!("{program}: {}", String::from_utf8_lossy(&output.stderr).trim())),
        Err(error) => Err(format!("{program}: {error}")),
    }
}

/// An ext4 filesystem in an image file on a loop device, mounted with
/// `errors=remount-ro`: after an I/O error the kernel turns it read-only
/// under the open files, which then fail every write with `EROFS`. Only an
/// unmount (once every file is closed) and a new mount make it writable
/// again, as on a real server.
struct FailingDisk {
    dir: PathBuf,
    image: PathBuf,
    device: String,
}

impl FailingDisk {
    fn mount() -> Option<Self> {
        let base = std::env::temp_dir().join(format!("audit-ro-{}", uuid::Uuid::now_v7()));
        let dir = base.join("mnt");
        let image = base.join("disk.img");
        std::fs::create_dir_all(&dir).unwrap();
        let set_up = || -> Result<String, String> {
            std::fs::File::create(&image)
                .and_then(|file| file.set_len(32 << 20))
                .map_err(|error| error.to_string())?;
            run("mkfs.ext4", &["-q", "-F", image.to_str().unwrap()])?;
            let device = run("losetup", &["--find", "--show", image.to_str().unwrap()])?;
            if let Err(why) = run("mount", &["-o", "errors=remount-ro", &device, dir.to_str().unwrap()]) {
                let _ = run("losetup", &["-d", &device]);
                return Err(why);
            }
            Ok(device)
        };
        match set_up() {
            Ok(device) => Some(Self { dir, image, device }),
            Err(why) => {
                let _ = std::fs::remove_dir_all(&base);
                skip_unmountable("an ext4 image on a loop device", &why);
                None
            }
        }
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.join("audit.db").display())
    }

    /// Fails the filesystem the way a disk error does: ext4 records the
    /// error and remounts itself read-only.
    fn fail(&self) {
        let name = self.device.trim_start_matches("/dev/");
        std::fs::write(
            format!("/sys/fs/ext4/{name}/trigger_fs_error"),
            "audit test: simulated I/O error",
        )
        .expect("ext4 takes a simulated error");
        let options = run("findmnt", &["-no", "OPTIONS", self.dir.to_str().unwrap()]).unwrap();
        assert!(options.contains("ro"), "the kernel turned it read-only: {options}");
    }

    /// What an operator does: unmount once nothing holds a file open, check
    /// the filesystem, mount it again. Polls for the last files to close
    /// (aborted tasks and pool connections let go of them asynchronously).
    fn repair(&self) {
        let dir = self.dir.to_str().unwrap();
        let mut waited = Duration::ZERO;
        while let Err(why) = run("umount", &[dir]) {
            assert!(waited < Duration::from_secs(30), "still busy after 30 s: {why}");
            std::thread::sleep(Duration::from_millis(20));
            waited += Duration::from_millis(20);
        }
        // e2fsck exits 1 when it fixed something: the simulated error.
        let checked = Command::new("e2fsck").args(["-fy", &self.device]).output().unwrap();
        assert!(checked.status.code().is_some_and(|code| code <= 1), "{checked:?}");
        run("mount", &["-o", "errors=remount-ro", &self.device, dir]).unwrap();
    }
}

impl Drop for FailingDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
        let _ = std::fs::remove_file(&self.image);
        let _ = std::fs::remove_dir_all(self.dir.parent().unwrap());
    }
}

/// Behind the layer, a spooled request is refused before its handler acts,
/// and the 503 says why.
async fn assert_spooled_requests_are_refused_before_acting(auditor: &Auditor) {
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
}

/// Polls `condition` until it holds; fails naming `what` after 30 s.
async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let mut waited = Duration::ZERO;
    while !condition() {
        assert!(waited < Duration::from_secs(30), "{what} after 30 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
        waited += Duration::from_millis(5);
    }
}

/// An auditor that spools to `spool_dir` before writing to `store`,
/// retrying quickly so that the tests see recovery soon after the fault.
/// Small segments: the spool writes zeros ahead of its appends up to a
/// segment's size, which a test's events must outgrow to meet the fault.
fn spooled_auditor(spool_dir: &Path, store: SqliteStore) -> Auditor {
    let config = audit_core::SpoolConfig::new(spool_dir).segment_bytes(64 << 10);
    let spool = audit_core::Spool::open(config).unwrap();
    Auditor::builder()
        .lifecycle_events(false)
        .linger(Duration::ZERO)
        .retry(RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        })
        .spool(spool)
        .start(store)
}

/// Records each event as `Spooled` and returns the receipts unawaited.
async fn record_spooled(auditor: &Auditor, events: Vec<EventBuilder>) -> Vec<audit_core::Receipt> {
    let mut receipts = Vec::new();
    for event in events {
        receipts.push(
            auditor
                .record_with_receipt(event, audit_core::Durability::Spooled)
                .await
                .unwrap(),
        );
    }
    receipts
}

/// Records each event as `Spooled` and waits until it is acknowledged.
async fn record_acknowledged(auditor: &Auditor, events: Vec<EventBuilder>) {
    for receipt in record_spooled(auditor, events).await {
        receipt.await.unwrap();
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
    wait_until("the writer never hit the full disk", || auditor.stats().sink_down).await;
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
    let auditor = spooled_auditor(&disk.dir.join("spool"), store.clone());
    record_acknowledged(&auditor, builders(20, "before")).await;
    auditor.flush().await.unwrap();

    let filler = disk.fill();
    let receipts = record_spooled(&auditor, builders(200, "full")).await;
    wait_until("the spool never hit the full disk", || auditor.is_spool_down()).await;
    let stats = auditor.stats();
    let error = stats.last_error.clone().unwrap_or_default();
    // The spool's append or the store's commit, whichever failed last:
    // either way the error names the full disk.
    assert!(
        error.contains("No space left") || error.contains("disk is full"),
        "a clear error: {error}"
    );
    assert_spooled_requests_are_refused_before_acting(&auditor).await;
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

/// The SQLite file's disk turns read-only under the store: writes fail with
/// a clear error (no panic), what was committed before stays, and once the
/// disk is repaired a store opened on the file writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_refuses_writes_on_a_disk_turned_read_only_and_keeps_what_it_had() {
    let Some(disk) = FailingDisk::mount() else { return };
    let store = SqliteStore::connect(&disk.url()).await.unwrap();
    store.write_batch(&events(10, "before")).await.unwrap();

    disk.fail();
    for _ in 0..5 {
        let error = store
            .write_batch(&events(10, "read-only"))
            .await
            .expect_err("the disk is read-only");
        let message = error.to_string();
        assert!(
            message.contains("readonly") || message.contains("read-only") || message.contains("I/O"),
            "a clear error: {message}"
        );
    }
    drop(store);

    disk.repair();
    let store = SqliteStore::connect(&disk.url()).await.unwrap();
    assert_eq!(stored(&store).await, 10, "what was committed before the fault is kept");
    store.write_batch(&events(10, "after")).await.unwrap();
    let report = store.verify("tenant:acme").await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 20);
}

/// The spool's disk (the SQLite file's too) turns read-only mid-run: every
/// event acknowledged as spooled before is kept, new events are refused
/// with a clear error (the layer answers 503 `spool_down` before the
/// handler acts), nothing panics, and a shutdown past its deadline says how
/// many it could not write. After the repair, the next auditor on the
/// spool stores every acknowledged event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_turned_read_only_refuses_new_events_and_keeps_every_acknowledged_one() {
    let Some(disk) = FailingDisk::mount() else { return };
    let spool_dir = disk.dir.join("spool");
    let store = SqliteStore::connect(&disk.url()).await.unwrap();
    let auditor = spooled_auditor(&spool_dir, store.clone());
    record_acknowledged(&auditor, builders(20, "acknowledged")).await;

    disk.fail();
    let receipts = record_spooled(&auditor, builders(30, "refused")).await;
    wait_until("the spool never hit the read-only disk", || auditor.is_spool_down()).await;
    let error = auditor.stats().last_error.unwrap_or_default();
    // The spool's append or the store's commit, whichever failed last:
    // either way the error names the failing disk.
    assert!(
        ["Read-only file system", "readonly", "disk I/O error"]
            .iter()
            .any(|clear| error.contains(clear)),
        "a clear error: {error}"
    );
    assert_spooled_requests_are_refused_before_acting(&auditor).await;

    // Nothing more is acknowledged, and a shutdown cannot wait forever.
    let stopped = auditor.shutdown(Duration::from_millis(500)).await;
    let Err(audit_core::ShutdownError::DeadlineExceeded { stats, .. }) = stopped else {
        panic!("the read-only spool cannot take the refused events: {stopped:?}");
    };
    assert_eq!(stats.spooled, 20, "{stats:?}");
    for receipt in receipts {
        assert!(receipt.await.is_err(), "no refused event is acknowledged");
    }
    drop((auditor, store));

    disk.repair();
    let store = SqliteStore::connect(&disk.url()).await.unwrap();
    let auditor = spooled_auditor(&spool_dir, store.clone());
    auditor.shutdown(Duration::from_secs(30)).await.unwrap();
    let mut scan = audit_store::Store::Sqlite(store.clone())
        .scan(&AuditQuery::new())
        .unwrap();
    let mut kept = Vec::new();
    while let Some(batch) = scan.next_batch().await.unwrap() {
        kept.extend(batch.into_iter().map(|event| event.metadata()["padding"].to_string()));
    }
    for i in 0..20 {
        let tag = format!("acknowledged-{i}-");
        assert!(
            kept.iter().any(|padding| padding.contains(&tag)),
            "acknowledged event {i} was lost: {kept:?}"
        );
    }
    assert!(kept.iter().all(|padding| padding.contains("acknowledged-")), "{kept:?}");
    let report = store.verify("tenant:acme").await.unwrap();
    assert!(report.is_intact(), "{report:?}");
}
