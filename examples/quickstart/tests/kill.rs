//! Fault injection with real processes: the quickstart binary is killed
//! with SIGKILL in the middle of a load of concurrent `POST /apps` from two
//! tenants, and restarted on the same store and spool, again and again.
//!
//! - `spooled` and `confirmed` lose no acknowledged event (a `201` means
//!   the event was on disk: in the spool, or committed in the store);
//! - every stream verifies after every kill;
//! - `buffered` loses what was queued in memory: counted and printed, as
//!   its row of the delivery table says.
//!
//! `AUDIT_FAULT_KILLS` sets the number of kills per case (default 50).

mod support;

use support::{Load, Service, TestStore, assert_every_stream_verifies, stored_request_ids};

fn kills() -> usize {
    std::env::var("AUDIT_FAULT_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50)
}

/// Kills the quickstart `kills()` times mid-load, then stops it gracefully
/// once more; returns (acknowledged, acknowledged but not stored).
async fn kill_repeatedly(store: &TestStore, delivery: &str) -> (usize, usize) {
    let db = store.connect().await;
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for round in 0..kills() {
        let service = Service::start(store, &["--delivery", delivery]).await;
        let (load, tasks) = Load::start(&service.base, 8);
        // A different point of the load each round: after 3 to 40 answers.
        load.wait_for(3 + (round * 7) % 38).await;
        service.kill().await;
        let seen = load.finish(tasks).await;
        refused += seen.refused();
        acknowledged.extend(seen.acknowledged);
        // At rest between the kill and the restart: the trail is intact.
        assert_every_stream_verifies(&db).await;
    }
    // The last restart stores what the last kill left in the spool.
    let service = Service::start(store, &["--delivery", delivery]).await;
    let status = service.terminate().await;
    assert!(status.success(), "{status}: {}", store.stderr());
    assert_every_stream_verifies(&db).await;
    let stored = stored_request_ids(&db).await;
    let lost = acknowledged.iter().filter(|id| !stored.contains(*id)).count();
    eprintln!(
        "{} {delivery}: {} kills, {} requests acknowledged, {lost} of them not stored, {refused} refused (503)",
        store.backend(),
        kills(),
        acknowledged.len(),
    );
    (acknowledged.len(), lost)
}

async fn no_acknowledged_event_is_lost(store: TestStore, delivery: &str) {
    let (acknowledged, lost) = kill_repeatedly(&store, delivery).await;
    assert!(acknowledged >= kills() * 3, "the load was acknowledged");
    assert_eq!(lost, 0, "{delivery} lost acknowledged events");
}

async fn buffered_loss_is_counted(store: TestStore) {
    let (acknowledged, lost) = kill_repeatedly(&store, "buffered").await;
    assert!(acknowledged >= kills() * 3);
    // Buffered promises nothing across a kill: its loss is what the
    // delivery table warns of, reported rather than asserted.
    assert!(lost <= acknowledged);
}

macro_rules! on_both_backends {
    ($($name:ident => $case:expr),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let run = $case;
                    run(TestStore::sqlite()).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let run = $case;
                    if let Some(store) = TestStore::postgres().await {
                        run(store).await;
                    }
                }
            )*
        }
    };
}

on_both_backends! {
    spooled_loses_no_acknowledged_event => |store| no_acknowledged_event_is_lost(store, "spooled"),
    confirmed_loses_no_acknowledged_event => |store| no_acknowledged_event_is_lost(store, "confirmed"),
    buffered_counts_what_a_kill_loses => buffered_loss_is_counted,
}
