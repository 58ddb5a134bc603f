//! Fault injection with real processes: SIGTERM in the middle of a load.
//! The quickstart stops gracefully in every delivery mode: it finishes the
//! requests in flight, drains the auditor, records `audit.stopped` last,
//! exits 0, and every acknowledged request's event is stored.

mod support;

use audit_core::Action;
use audit_store::AuditQuery;
use support::{Load, Service, TestStore, assert_every_stream_verifies, stored_request_ids};

async fn sigterm_drains_everything(store: TestStore, delivery: &str) {
    let service = Service::start(&store, &["--delivery", delivery]).await;
    let (load, tasks) = Load::start(&service.base, 8);
    load.wait_for(100).await;
    let status = service.terminate().await;
    assert!(status.success(), "{status}: {}", store.stderr());
    let seen = load.finish(tasks).await;
    let db = store.connect().await;
    let stored = stored_request_ids(&db).await;
    let lost: Vec<_> = seen.acknowledged.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(seen.acknowledged.len() >= 100);
    assert!(
        lost.is_empty(),
        "{delivery}: {} acknowledged, {} lost",
        seen.acknowledged.len(),
        lost.len()
    );
    assert_eq!(seen.refused(), 0, "a graceful stop refuses nothing it admitted");
    assert_every_stream_verifies(&db).await;

    // `audit.stopped` is the last event of the run: nothing the run
    // recorded happened after it.
    let stopped = Action::from_static("audit.stopped").unwrap();
    let page = db.query(&AuditQuery::new().action(stopped)).await.unwrap();
    let [stopped] = page.events.as_slice() else {
        panic!("one audit.stopped: {:?}", page.events);
    };
    let mut scan = db.scan(&AuditQuery::new()).unwrap();
    while let Some(batch) = scan.next_batch().await.unwrap() {
        for event in batch {
            assert!(
                event.occurred_at() <= stopped.occurred_at(),
                "{} happened after audit.stopped",
                event.action()
            );
        }
    }
    assert!(
        store.stderr().contains("0 lost"),
        "the quickstart reports no loss: {}",
        store.stderr()
    );
}

macro_rules! modes_on_both_backends {
    ($($name:ident => $delivery:literal),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    sigterm_drains_everything(TestStore::sqlite(), $delivery).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(store) = TestStore::postgres().await {
                        sigterm_drains_everything(store, $delivery).await;
                    }
                }
            )*
        }
    };
}

modes_on_both_backends! {
    buffered_drains_on_sigterm => "buffered",
    spooled_drains_on_sigterm => "spooled",
    confirmed_drains_on_sigterm => "confirmed",
}
