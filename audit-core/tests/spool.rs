//! The durable spool: acknowledged events survive a killed process and a
//! store outage, a torn tail loses nothing before it, and a full spool
//! falls back on the overflow policy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use audit_core::{
    Action, Actor, Auditor, DamageKind, Durability, Event, EventBuilder, MemorySink, NotStored, OverflowPolicy,
    RecordError, RetryPolicy, Spool, SpoolConfig,
};
use uuid::Uuid;

fn event(n: usize) -> EventBuilder {
    Event::builder(
        Action::from_static("app.created").unwrap(),
        Actor::user(format!("user_{n}")),
    )
    .tenant("acme")
    .metadata("n", &n)
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
    }
}

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("audit-spool-{name}-{}-{}", std::process::id(), Uuid::now_v7()));
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn numbers(sink: &MemorySink) -> Vec<u64> {
    sink.events()
        .iter()
        .filter_map(|e| e.metadata().get("n").and_then(serde_json::Value::as_u64))
        .collect()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "spool"))
        .collect();
    found.sort();
    found
}

/// Records `count` events on a spool whose sink never stores anything,
/// waits until every one is acknowledged as spooled, then kills the
/// runtime without a shutdown: what a SIGKILL leaves behind.
fn spool_and_kill(dir: &Path, count: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sink = MemorySink::new();
        sink.pause();
        let spool = Spool::open(SpoolConfig::new(dir)).unwrap();
        let auditor = Auditor::builder()
            .lifecycle_events(false)
            .retry(fast_retry())
            .spool(spool)
            .start(sink.clone());
        let mut receipts = Vec::new();
        for n in 0..count {
            receipts.push(
                auditor
                    .record_with_receipt(event(n), Durability::Spooled)
                    .await
                    .unwrap(),
            );
        }
        for receipt in receipts {
            receipt.await.unwrap();
        }
        assert_eq!(sink.len(), 0, "the store is down: nothing stored");
        assert_eq!(auditor.stats().spooled, count as u64);
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
}

/// Starts an auditor on the spool in `dir`, stores what it replays, and
/// shuts down cleanly.
fn replay(dir: &Path) -> (MemorySink, audit_core::AuditorStats) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sink = MemorySink::new();
        let spool = Spool::open(SpoolConfig::new(dir)).unwrap();
        let auditor = Auditor::builder()
            .lifecycle_events(false)
            .retry(fast_retry())
            .spool(spool)
            .start(sink.clone());
        let stats = auditor.shutdown(Duration::from_secs(10)).await.unwrap();
        (sink, stats)
    })
}

#[test]
fn acknowledged_events_survive_a_kill_and_are_stored_in_order_at_the_next_start() {
    let dir = TempDir::new("kill");
    spool_and_kill(&dir.0, 300);
    assert_eq!(Spool::open(SpoolConfig::new(&dir.0)).unwrap().pending(), 300);
    let (sink, stats) = replay(&dir.0);
    assert_eq!(numbers(&sink), (0..300).collect::<Vec<_>>());
    assert_eq!((stats.replayed, stats.written, stats.spool_pending), (300, 0, 0));
    // Stored: a third start has nothing to replay, and no segment is left
    // holding records.
    assert_eq!(Spool::open(SpoolConfig::new(&dir.0)).unwrap().pending(), 0);
    let (again, _) = replay(&dir.0);
    assert_eq!(again.len(), 0);
}

#[test]
fn a_replay_that_the_store_partly_has_stores_nothing_twice() {
    let dir = TempDir::new("idempotent");
    spool_and_kill(&dir.0, 50);
    // The same spool replayed twice into one sink (a kill after the commit,
    // before the segment was deleted): the sink's idempotency by id keeps
    // one copy of each.
    let copy = TempDir::new("idempotent-copy");
    std::fs::create_dir_all(&copy.0).unwrap();
    for segment in segments(&dir.0) {
        std::fs::copy(&segment, copy.0.join(segment.file_name().unwrap())).unwrap();
    }
    let (first, _) = replay(&dir.0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let auditor = Auditor::builder()
            .lifecycle_events(false)
            .spool(Spool::open(SpoolConfig::new(&copy.0)).unwrap())
            .start(first.clone());
        auditor.shutdown(Duration::from_secs(10)).await.unwrap();
    });
    assert_eq!(numbers(&first), (0..50).collect::<Vec<_>>());
}

#[test]
fn a_torn_last_record_is_reported_and_every_record_before_it_is_replayed() {
    let dir = TempDir::new("torn");
    spool_and_kill(&dir.0, 5);
    let segment = segments(&dir.0)
        .into_iter()
        .find(|p| std::fs::metadata(p).unwrap().len() > 0)
        .unwrap();
    let whole = std::fs::read(&segment).unwrap();
    // Where each record starts, and where the fifth ends: zeros written
    // ahead of the appends follow it.
    let starts: Vec<usize> = (0..=5)
        .scan(0, |offset, _| {
            let start = *offset;
            if let Some(len) = whole.get(start..start + 4) {
                *offset += 8 + u32::from_le_bytes(len.try_into().unwrap()) as usize;
            }
            Some(start)
        })
        .collect();
    let (last_start, records_end) = (starts[4], starts[5]);
    assert!(
        whole[records_end..].iter().all(|&byte| byte == 0),
        "only zeros follow the records"
    );
    // Cut the file at every byte of the last record: four records replay,
    // the cut one is reported as torn, nothing panics.
    for cut in last_start + 1..records_end {
        std::fs::write(&segment, &whole[..cut]).unwrap();
        let spool = Spool::open(SpoolConfig::new(&dir.0)).unwrap();
        assert_eq!(spool.pending(), 4, "cut at {cut}");
        assert_eq!(spool.damage().len(), 1, "cut at {cut}");
        assert_eq!(spool.damage()[0].kind, DamageKind::Torn);
        assert_eq!(spool.damage()[0].offset, last_start as u64);
    }
    // The same write torn inside the zeros ahead (the file keeps its
    // length, the end of the record never reached the disk): torn too.
    for zeroed_from in last_start + 8..records_end {
        let mut torn = whole.clone();
        torn[zeroed_from..records_end].fill(0);
        std::fs::write(&segment, &torn).unwrap();
        let spool = Spool::open(SpoolConfig::new(&dir.0)).unwrap();
        assert_eq!(spool.pending(), 4, "zeroed from {zeroed_from}");
        assert_eq!(
            spool.damage().iter().map(|d| (d.kind, d.offset)).collect::<Vec<_>>(),
            [(DamageKind::Torn, last_start as u64)],
            "zeroed from {zeroed_from}"
        );
    }
    // Its header never reached the disk: the zeros are the end, no damage.
    let mut unwritten = whole.clone();
    unwritten[last_start..records_end].fill(0);
    std::fs::write(&segment, &unwritten).unwrap();
    let spool = Spool::open(SpoolConfig::new(&dir.0)).unwrap();
    assert_eq!((spool.pending(), spool.damage().len()), (4, 0));
    drop(spool);
    // A cut right at the record boundary is no damage at all.
    std::fs::write(&segment, &whole[..last_start]).unwrap();
    let spool = Spool::open(SpoolConfig::new(&dir.0)).unwrap();
    assert_eq!((spool.pending(), spool.damage().len()), (4, 0));
    drop(spool);
    // A damaged byte inside the third record: two replay, the rest of the
    // segment is skipped and reported as corrupt.
    let mut damaged = whole.clone();
    let third = {
        let first_len = u32::from_le_bytes(whole[0..4].try_into().unwrap()) as usize;
        let second_len = u32::from_le_bytes(whole[8 + first_len..12 + first_len].try_into().unwrap()) as usize;
        16 + first_len + second_len
    };
    damaged[third + 20] ^= 0x40;
    std::fs::write(&segment, &damaged).unwrap();
    let (sink, _) = replay(&dir.0);
    assert_eq!(numbers(&sink), [0, 1]);
}

#[tokio::test]
async fn a_store_outage_is_waited_out_on_disk_and_receipts_tell_spooled_from_stored() {
    let dir = TempDir::new("outage");
    let sink = MemorySink::new();
    sink.pause();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        // A queue of 8: without the spool, the ninth event would wait.
        .capacity(8)
        .retry(fast_retry())
        .spool(Spool::open(SpoolConfig::new(&dir.0)).unwrap())
        .start(sink.clone());
    let mut stored = Vec::new();
    for n in 0..200 {
        let spooled = auditor
            .record_with_receipt(event(n), Durability::Spooled)
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), spooled)
            .await
            .expect("acknowledged once on disk, with the store down")
            .unwrap();
        if n % 50 == 0 {
            stored.push(
                auditor
                    .record_with_receipt(event(1000 + n), Durability::Stored)
                    .await
                    .unwrap(),
            );
        }
    }
    let stats = auditor.stats();
    assert_eq!(sink.len(), 0);
    assert_eq!(stats.spool_pending, 204);
    assert!(stats.spool_bytes > 0);
    // The drainer is stuck writing the first batch to the paused store.
    assert!(stats.oldest_unwritten_age.is_some(), "{stats:?}");
    let first = stored.remove(0);
    tokio::pin!(first);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut first)
            .await
            .is_err(),
        "a stored receipt waits for the store"
    );
    sink.resume();
    first.await.unwrap();
    for receipt in stored {
        receipt.await.unwrap();
    }
    auditor.flush().await.unwrap();
    assert_eq!(sink.len(), 204);
    let stats = auditor.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!((stats.written, stats.spool_pending, stats.spool_bytes), (204, 0, 0));
    assert_eq!(stats.oldest_unwritten_age, None);
}

#[tokio::test]
async fn a_rejected_event_fails_its_receipt_with_the_reason() {
    let dir = TempDir::new("rejected");
    for spool in [None, Some(Spool::open(SpoolConfig::new(&dir.0)).unwrap())] {
        let sink = MemorySink::new();
        let mut builder = Auditor::builder().lifecycle_events(false).retry(fast_retry());
        if let Some(spool) = spool {
            builder = builder.spool(spool);
        }
        let auditor = builder.start(sink.clone());
        sink.reject_next(1);
        let receipt = auditor.record_with_receipt(event(1), Durability::Stored).await.unwrap();
        let Err(NotStored::Rejected { reason }) = receipt.await else {
            panic!("a rejected event must not be confirmed");
        };
        assert!(reason.contains("reject_next"), "{reason}");
        let receipt = auditor.record_with_receipt(event(2), Durability::Stored).await.unwrap();
        receipt.await.unwrap();
        assert_eq!(numbers(&sink), [2]);
        auditor.shutdown(Duration::from_secs(5)).await.unwrap();
    }
}

#[tokio::test]
async fn a_full_spool_falls_back_on_the_overflow_policy_and_drains_when_the_store_returns() {
    let dir = TempDir::new("full");
    let sink = MemorySink::new();
    sink.pause();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .capacity(4)
        .batch_size(1)
        .linger(Duration::ZERO)
        .overflow(OverflowPolicy::Block {
            timeout: Duration::from_millis(100),
        })
        .retry(fast_retry())
        .spool(Spool::open(SpoolConfig::new(&dir.0).max_bytes(16 * 1024)).unwrap())
        .start(sink.clone());
    let mut accepted = 0;
    let refused = loop {
        match auditor.record(event(accepted)).await {
            Ok(()) => accepted += 1,
            Err(error) => break error,
        }
        assert!(accepted < 10_000, "a 16 KiB spool never filled");
    };
    assert!(matches!(refused, RecordError::Overflow { .. }), "{refused:?}");
    let stats = auditor.stats();
    assert_eq!(stats.refused, 1);
    assert!(stats.spool_pending > 0 && stats.spool_pending < accepted as u64);
    sink.resume();
    let stats = auditor.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!(stats.written, accepted as u64);
    assert_eq!(numbers(&sink), (0..accepted as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_second_process_cannot_open_a_spool_in_use() {
    let dir = TempDir::new("locked");
    let spool = Spool::open(SpoolConfig::new(&dir.0)).unwrap();
    let error = Spool::open(SpoolConfig::new(&dir.0)).unwrap_err();
    assert!(error.to_string().contains("in use"), "{error}");
    drop(spool);
    Spool::open(SpoolConfig::new(&dir.0)).unwrap();
}

/// While the store is slow the drainer reads records back from disk, at
/// times up to the zeros written ahead of the appends, which later appends
/// write over: every event is stored once, in order, none read as zeros.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_read_back_while_appends_continue_are_stored_once_and_in_order() {
    let dir = TempDir::new("read-back");
    let sink = MemorySink::new();
    sink.pause();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        // Small store batches: the handoff holds one, the rest is read back.
        .batch_size(16)
        .linger(Duration::ZERO)
        .retry(fast_retry())
        .spool(Spool::open(SpoolConfig::new(&dir.0).store_linger(Duration::ZERO)).unwrap())
        .start(sink.clone());
    let mut receipts = Vec::new();
    for n in 0..100 {
        receipts.push(
            auditor
                .record_with_receipt(event(n), Durability::Spooled)
                .await
                .unwrap(),
        );
    }
    for receipt in receipts.drain(..) {
        receipt.await.unwrap();
    }
    sink.resume();
    for n in 100..1_000 {
        receipts.push(
            auditor
                .record_with_receipt(event(n), Durability::Spooled)
                .await
                .unwrap(),
        );
        if n % 7 == 0 {
            // Let the drainer catch up with the appender now and then.
            tokio::task::yield_now().await;
        }
    }
    for receipt in receipts {
        receipt.await.unwrap();
    }
    let stats = auditor.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!(numbers(&sink), (0..1_000).collect::<Vec<_>>());
    assert_eq!(
        (stats.written, stats.spool_pending, stats.rejected),
        (1_000, 0, 0),
        "{stats:?}"
    );
}

/// Spooled events wait for more before they are stored (larger store
/// batches), but never while someone waits for them: a `Stored` receipt
/// and a flush end the wait, even a very long one.
#[tokio::test]
async fn the_store_linger_holds_spooled_events_back_but_not_a_flush_or_a_stored_receipt() {
    let dir = TempDir::new("store-linger");
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .linger(Duration::ZERO)
        .spool(Spool::open(SpoolConfig::new(&dir.0).store_linger(Duration::from_secs(3_600))).unwrap())
        .start(sink.clone());
    for n in 0..10 {
        let spooled = auditor
            .record_with_receipt(event(n), Durability::Spooled)
            .await
            .unwrap();
        spooled.await.unwrap();
    }
    // Durable, and held back: no write yet.
    assert_eq!((auditor.stats().spooled, sink.len()), (10, 0));
    tokio::time::timeout(Duration::from_secs(10), auditor.flush())
        .await
        .expect("a flush ends the linger")
        .unwrap();
    assert_eq!(numbers(&sink), (0..10).collect::<Vec<_>>());

    for n in 10..20 {
        let spooled = auditor
            .record_with_receipt(event(n), Durability::Spooled)
            .await
            .unwrap();
        spooled.await.unwrap();
    }
    let stored = auditor
        .record_with_receipt(event(20), Durability::Stored)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), stored)
        .await
        .expect("a Stored receipt ends the linger")
        .unwrap();
    assert_eq!(numbers(&sink), (0..21).collect::<Vec<_>>());
    auditor.shutdown(Duration::from_secs(10)).await.unwrap();
}
