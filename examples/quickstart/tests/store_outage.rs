//! Fault injection with real processes: PostgreSQL stopped at once (`pg_ctl
//! stop -m immediate`, every connection cut, as in a crash) for 10 s in the
//! middle of a load of concurrent `POST /apps` from two tenants, then
//! started again.
//!
//! - `spooled` (with its spool) answers every request `201` through the
//!   outage: the events wait on disk and are stored once the server is back;
//! - `confirmed` answers every request within its 5 s timeout (plus a
//!   margin): a request already waiting for the store when it went away is
//!   refused with reason `timeout`, a later one with `store_down` at once;
//!   nothing is acknowledged while the server is down, and `201`s come back
//!   once it is up;
//! - in both, the quickstart logs the store going down and coming back
//!   once each, and after a graceful stop every stream verifies and every
//!   acknowledged request id is stored.
//!
//! The counts are printed: acknowledged during the outage, 503s by reason,
//! how long after the restart the quickstart wrote again, lost. A commit
//! survives the crash only if the server wrote it to its WAL before
//! acknowledging it: the throwaway cluster keeps `synchronous_commit` on
//! (with it off, commits of the last ~200 ms before the stop were lost,
//! acknowledged ones with them).
//!
//! A test binary of its own, so that stopping its throwaway cluster
//! disturbs no other test; its two cases take turns. With
//! `AUDIT_TEST_DATABASE_URL` naming a server (not the tests' to stop), it
//! says so and skips.

mod support;

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::{Duration, Instant};

use support::postgres::{self, Cluster};
use support::{Answer, Load, Seen, Service, TestStore, assert_every_stream_verifies, stored_request_ids};

/// How long the server stays down.
const OUTAGE: Duration = Duration::from_secs(10);

/// The quickstart's `CONFIRM_TIMEOUT`.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// What an answer may take past the timeout on a shared two-core machine:
/// writing the 503 and being scheduled, with the load's own clients busy.
const MARGIN: Duration = Duration::from_secs(2);

/// How long the quickstart may take to notice that the server is back: the
/// auditor's retry backoff is at most 10 s.
const RECOVERY: Duration = Duration::from_secs(60);

/// The cases share this binary's cluster: one outage at a time.
static CLUSTER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a load saw across an outage.
struct ThroughOutage {
    seen: Seen,
    /// From the moment the server was gone to the moment it was asked to
    /// start again.
    down: Range<Instant>,
}

impl ThroughOutage {
    /// The answers sent and received while the server was down.
    fn during_outage(&self) -> impl Iterator<Item = &Answer> {
        self.seen
            .answers
            .iter()
            .filter(|answer| self.down.contains(&answer.sent) && self.down.contains(&(answer.sent + answer.took)))
    }
}

/// How many of `answers` were `201`s, and the 503s by reason.
fn tally<'a>(answers: impl IntoIterator<Item = &'a Answer>) -> (usize, BTreeMap<&'a str, usize>) {
    let mut acknowledged = 0;
    let mut refused = BTreeMap::new();
    for answer in answers {
        match &answer.refused_because {
            None => acknowledged += 1,
            Some(reason) => *refused.entry(reason.as_str()).or_insert(0) += 1,
        }
    }
    (acknowledged, refused)
}

/// Runs `step` of the cluster off the runtime (it waits for `pg_ctl`).
async fn on_cluster(cluster: Cluster, step: fn(Cluster) -> Result<(), String>) {
    tokio::task::spawn_blocking(move || step(cluster))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Loads the quickstart in `delivery` mode, stops the server for
/// [`OUTAGE`], starts it again, waits until the quickstart writes and
/// acknowledges again, then stops it gracefully and checks the store:
/// every stream verifies, nothing acknowledged is missing. `None` (said
/// why) without a cluster of our own.
async fn through_an_outage(delivery: &str) -> Option<ThroughOutage> {
    let _one_outage_at_a_time = CLUSTER.lock().await;
    let store = TestStore::postgres().await?;
    let Some(cluster) = postgres::throwaway_cluster() else {
        eprintln!("skipped: AUDIT_TEST_DATABASE_URL names a server that is not the tests' to stop");
        return None;
    };
    let mut service = Service::start(&store, &["--delivery", delivery]).await;
    let (load, tasks) = Load::start(&service.base, 4);
    load.wait_for(100).await;

    on_cluster(cluster, Cluster::stop_immediately).await;
    let down_from = Instant::now();
    // The fault is ten seconds of outage: nothing to wait for but the time.
    tokio::time::sleep(OUTAGE).await;
    let down_until = Instant::now();
    on_cluster(cluster, Cluster::start).await;

    let restarted = Instant::now();
    let recovered = tokio::time::timeout(RECOVERY, service.logged("audit sink recovered")).await;
    assert!(recovered.is_ok(), "{delivery}: no recovery: {}", store.stderr());
    let recovered_after = restarted.elapsed();
    let acknowledged = load.acknowledged();
    let answering = tokio::time::timeout(RECOVERY, load.wait_for(acknowledged + 100)).await;
    assert!(
        answering.is_ok(),
        "{delivery}: no 201 after the recovery: {}",
        store.stderr()
    );
    let status = service.terminate().await;
    assert!(status.success(), "{status}: {}", store.stderr());
    let seen = load.finish(tasks).await;

    let db = store.connect().await;
    assert_every_stream_verifies(&db).await;
    let stored = stored_request_ids(&db).await;
    let lost = seen.acknowledged.iter().filter(|id| !stored.contains(*id)).count();
    let outage = ThroughOutage {
        seen,
        down: down_from..down_until,
    };
    let (acknowledged_down, refused_down) = tally(outage.during_outage());
    let (acknowledged, refused) = tally(&outage.seen.answers);
    eprintln!(
        "postgres {delivery}, stopped for {OUTAGE:?}: {acknowledged_down} acknowledged and 503s {refused_down:?} \
         during the outage; writing again {recovered_after:.1?} after the restart; {acknowledged} acknowledged \
         and 503s {refused:?} in all; {lost} lost",
    );
    assert_eq!(lost, 0, "{delivery} lost acknowledged events");
    let log = store.stderr();
    for said in ["audit sink is down", "audit sink recovered"] {
        assert_eq!(log.matches(said).count(), 1, "{said:?} once: {log}");
    }
    Some(outage)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_acknowledges_through_a_store_outage() {
    let Some(outage) = through_an_outage("spooled").await else {
        return;
    };
    let (acknowledged, refused) = tally(outage.during_outage());
    // Thousands in practice: the spool's fsync, not the store, paces them.
    assert!(
        acknowledged >= 100,
        "{acknowledged} acknowledged while the store was down"
    );
    assert_eq!(outage.seen.refused(), 0, "refused: {refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_refuses_within_its_timeout_through_a_store_outage() {
    let Some(outage) = through_an_outage("confirmed").await else {
        return;
    };
    let (acknowledged, refused) = tally(outage.during_outage());
    assert_eq!(acknowledged, 0, "acknowledged while the store was down");
    assert!(!refused.is_empty(), "nothing was refused while the store was down");
    for answer in &outage.seen.answers {
        assert!(
            answer.took <= CONFIRM_TIMEOUT + MARGIN,
            "an answer took {:?}",
            answer.took
        );
        if let Some(reason) = &answer.refused_because {
            assert!(
                ["timeout", "store_down"].contains(&reason.as_str()),
                "refused: {reason}"
            );
        }
    }
}
