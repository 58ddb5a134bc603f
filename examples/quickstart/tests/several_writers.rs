//! Several application instances on one PostgreSQL database: four
//! `quickstart` processes, each under its own load of `POST /apps` from the
//! same two tenants, append to the same streams at once. Seqs stay gapless
//! and hashes chained (every stream verifies, Merkle roots included), and
//! every acknowledged request's event is stored exactly once.
//!
//! The store locks only the stream heads a batch writes to (`SELECT … FOR
//! UPDATE` on their `audit_streams` rows, in one order, so two writers never
//! wait on each other in a cycle); writers to other streams never wait.

mod support;

use std::collections::HashMap;

use audit_core::Action;
use audit_store::AuditQuery;
use support::{Load, Service, TestStore, assert_every_stream_verifies};

const INSTANCES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_instances_append_to_the_same_streams_and_every_stream_verifies() {
    let Some(store) = TestStore::postgres().await else {
        return;
    };
    // Two spooled and two confirmed: the spool's drainer and a request
    // waiting for its commit contend for the same heads.
    let deliveries = ["spooled", "confirmed", "spooled", "confirmed"];
    let mut services = Vec::new();
    for (instance, delivery) in deliveries.iter().enumerate().take(INSTANCES) {
        let dir = store.dir.join(format!("instance-{instance}"));
        std::fs::create_dir_all(&dir).unwrap();
        services.push(Service::start_at(&store.url(), &dir, &["--delivery", delivery]).await);
    }
    let loads: Vec<_> = services.iter().map(|service| Load::start(&service.base, 4)).collect();
    for (load, _) in &loads {
        load.wait_for(150).await;
    }
    let mut acknowledged = Vec::new();
    for (load, tasks) in loads {
        let seen = load.finish(tasks).await;
        assert_eq!(seen.refused(), 0, "a healthy store refuses nothing");
        acknowledged.extend(seen.acknowledged);
    }
    for service in services {
        let status = service.terminate().await;
        assert!(status.success(), "{status}");
    }

    let db = store.connect().await;
    assert_every_stream_verifies(&db).await;
    // Each acknowledged request's event is stored, once.
    let created = Action::from_static("app.created").unwrap();
    let mut stored: HashMap<String, usize> = HashMap::new();
    let mut scan = db.scan(&AuditQuery::new().action(created)).unwrap();
    while let Some(batch) = scan.next_batch().await.unwrap() {
        for event in batch {
            let id = event.context().request_id.clone().expect("a request id");
            *stored.entry(id).or_default() += 1;
        }
    }
    let lost = acknowledged.iter().filter(|id| !stored.contains_key(*id)).count();
    assert!(acknowledged.len() >= INSTANCES * 150);
    assert_eq!(lost, 0, "{} acknowledged, {lost} not stored", acknowledged.len());
    let twice: Vec<_> = stored.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    // Every instance's lifecycle events went into the same store too.
    let started = Action::from_static("audit.started").unwrap();
    let page = db.query(&AuditQuery::new().action(started)).await.unwrap();
    assert_eq!(page.events.len(), INSTANCES, "{:?}", page.events);
}
