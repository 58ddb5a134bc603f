//! Retention purge on both backends: the only way events leave a store. It
//! removes the oldest run of a stream, records itself as an `audit.purged`
//! event, and leaves a stream that still verifies; removing events any other
//! way is still caught.

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use audit_core::{Action, Actor, AuditSink, Event, Timestamp};
use audit_store::{AuditQuery, PURGE_ACTION, Problem, Purge, RetentionPolicy, Store, StoreError};
use support::TestDb;

on_both_backends!(
    a_purge_removes_the_oldest_events_records_itself_and_still_verifies,
    purging_again_and_purging_everything_keep_the_stream_verifiable,
    a_purge_with_nothing_to_remove_changes_nothing,
    purging_every_stream_handles_each_on_its_own,
    an_old_event_recorded_late_waits_for_a_later_cut,
    a_purge_in_the_future_is_refused,
    deletes_outside_purge_are_still_refused_and_caught,
    each_tenant_is_cut_at_its_own_period_and_unlisted_streams_at_the_default,
);

const DAY: i64 = 86_400_000_000;
/// 2026-01-01T00:00:00Z.
const START: i64 = 1_767_225_600_000_000;

fn day(n: i64) -> Timestamp {
    Timestamp::from_unix_micros(START + n * DAY).unwrap()
}

/// An event of `tenant` (or the global stream) on day `n`.
fn on_day(tenant: Option<&str>, n: i64) -> Event {
    at(tenant, day(n), &format!("day {n}"))
}

/// An event of `tenant` (or the global stream) at `when`.
fn at(tenant: Option<&str>, when: Timestamp, description: &str) -> Event {
    let mut builder = Event::builder(Action::new("app.updated").unwrap(), Actor::user("u1"))
        .occurred_at(when)
        .description(description);
    if let Some(tenant) = tenant {
        builder = builder.tenant(tenant);
    }
    builder.build()
}

/// Ten days of events for acme, globex and the global stream.
async fn ten_days(db: &TestDb) -> Store {
    let store = db.connect().await;
    for tenant in [Some("acme"), Some("globex"), None] {
        let events: Vec<Event> = (0..10).map(|n| on_day(tenant, n)).collect();
        store.write_batch(&events).await.unwrap();
    }
    store
}

async fn remaining_days(store: &Store, tenant: &str) -> Vec<String> {
    let page = store.query(&AuditQuery::new().tenant(tenant).limit(200)).await.unwrap();
    page.events
        .iter()
        .rev()
        .map(|e| e.description().unwrap_or_default().to_owned())
        .collect()
}

async fn a_purge_removes_the_oldest_events_records_itself_and_still_verifies(db: TestDb) {
    let store = ten_days(&db).await;
    let purge = Purge::before(day(4)).tenant("acme").actor(Actor::user("u_admin"));
    let reports = store.purge(&purge).await.unwrap().streams;

    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(
        (report.stream.as_str(), report.removed, report.through_seq),
        ("tenant:acme", 4, 4)
    );
    assert_eq!(report.through_hash.len(), 64);
    // The purge is itself an event, in the purged stream, naming who did it.
    let event = &report.event;
    assert_eq!(event.action().as_str(), PURGE_ACTION);
    assert_eq!(event.tenant_id(), Some("acme"));
    assert_eq!(event.actor().id, "u_admin");
    assert_eq!(event.metadata()["through_seq"], 4);
    assert_eq!(event.metadata()["through_hash"], report.through_hash.as_str());
    assert_eq!(event.metadata()["removed"], 4);
    assert_eq!(event.integrity().map(|i| i.seq), Some(11));

    let mut days: Vec<String> = (4..10).map(|n| format!("day {n}")).collect();
    days.insert(0, event.description().unwrap().to_owned());
    let remaining = remaining_days(&store, "acme").await;
    assert_eq!(
        remaining[..6],
        days[1..],
        "the purge event is the newest: {remaining:?}"
    );
    assert!(
        remaining[6].starts_with("Retention purge removed 4 events"),
        "{remaining:?}"
    );

    let verified = store.verify("tenant:acme").await.unwrap();
    assert!(verified.is_intact(), "{:?}", verified.problem);
    assert_eq!(verified.checked, 7);
    // Other streams are untouched.
    assert_eq!(remaining_days(&store, "globex").await.len(), 10);
    assert!(store.verify("tenant:globex").await.unwrap().is_intact());
}

async fn purging_again_and_purging_everything_keep_the_stream_verifiable(db: TestDb) {
    let store = ten_days(&db).await;
    store.purge(&Purge::before(day(3)).tenant("acme")).await.unwrap();
    let second = store
        .purge(&Purge::before(day(7)).tenant("acme"))
        .await
        .unwrap()
        .streams;
    assert_eq!((second[0].removed, second[0].through_seq), (4, 7));
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());

    // Everything before now: days 7 to 9 and both earlier purges' records
    // (seqs 11 and 12); the newest purge event is what is left, and it
    // accounts for the rest.
    let all = store
        .purge(&Purge::before(Timestamp::now()).tenant("acme"))
        .await
        .unwrap()
        .streams;
    assert_eq!(all[0].removed, 5);
    assert_eq!(all[0].through_seq, 12);
    let remaining = remaining_days(&store, "acme").await;
    assert_eq!(remaining.len(), 1, "{remaining:?}");
    let verified = store.verify("tenant:acme").await.unwrap();
    assert!(verified.is_intact(), "{:?}", verified.problem);
    assert_eq!(verified.checked, 1);
    // New events after a purge chain on as usual.
    store.write_batch(&[on_day(Some("acme"), 20)]).await.unwrap();
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
}

async fn a_purge_with_nothing_to_remove_changes_nothing(db: TestDb) {
    let store = ten_days(&db).await;
    assert!(
        store
            .purge(&Purge::before(day(0)).tenant("acme"))
            .await
            .unwrap()
            .streams
            .is_empty()
    );
    assert!(
        store
            .purge(&Purge::before(day(5)).tenant("nobody"))
            .await
            .unwrap()
            .streams
            .is_empty()
    );
    assert_eq!(db.count().await, 30);
    assert_eq!(remaining_days(&store, "acme").await.len(), 10);
}

async fn purging_every_stream_handles_each_on_its_own(db: TestDb) {
    let store = ten_days(&db).await;
    let reports = store.purge(&Purge::before(day(2))).await.unwrap().streams;
    let mut streams: Vec<&str> = reports.iter().map(|r| r.stream.as_str()).collect();
    streams.sort_unstable();
    assert_eq!(streams, ["global", "tenant:acme", "tenant:globex"]);
    assert!(reports.iter().all(|r| r.removed == 2));
    // The global stream's purge event has no tenant.
    let global = reports.iter().find(|r| r.stream == "global").unwrap();
    assert_eq!(global.event.tenant_id(), None);
    for stream in store.streams().await.unwrap() {
        let verified = store.verify(&stream).await.unwrap();
        assert!(verified.is_intact(), "{stream}: {:?}", verified.problem);
    }
    assert_eq!(db.count().await, 30 - 6 + 3);
}

async fn an_old_event_recorded_late_waits_for_a_later_cut(db: TestDb) {
    let store = db.connect().await;
    // Seqs 1..=3: days 0, 5, then a day-1 event that arrived late.
    for n in [0, 5, 1] {
        store.write_batch(&[on_day(Some("acme"), n)]).await.unwrap();
    }
    let reports = store
        .purge(&Purge::before(day(3)).tenant("acme"))
        .await
        .unwrap()
        .streams;
    // Only the prefix before the first event to keep goes: the late day-1
    // event sits after day 5, so it stays for now.
    assert_eq!((reports[0].removed, reports[0].through_seq), (1, 1));
    let remaining = remaining_days(&store, "acme").await;
    assert!(remaining.contains(&"day 1".to_owned()) && remaining.contains(&"day 5".to_owned()));
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
}

async fn a_purge_in_the_future_is_refused(db: TestDb) {
    let store = ten_days(&db).await;
    let tomorrow = Timestamp::from_unix_micros(Timestamp::now().unix_micros() + DAY).unwrap();
    match store.purge(&Purge::before(tomorrow)).await {
        Err(StoreError::Query(error)) => {
            assert_eq!(error.parameter(), "before");
            assert!(error.message().contains("future"), "{error}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(db.count().await, 30);
}

async fn deletes_outside_purge_are_still_refused_and_caught(db: TestDb) {
    let store = ten_days(&db).await;
    store.purge(&Purge::before(day(2)).tenant("acme")).await.unwrap();
    // The purge closed its gate behind it: a plain DELETE is refused again.
    let error = db
        .exec("DELETE FROM audit_events WHERE stream = 'tenant:acme' AND seq = 5")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("append-only"), "{error}");

    // An attacker with database access removes the two oldest remaining
    // events and moves the stream's base to hide the gap.
    db.drop_append_only_triggers().await;
    db.exec(
        "DELETE FROM audit_events WHERE stream = 'tenant:acme' AND seq IN (3, 4); \
         UPDATE audit_streams SET base_seq = 4 WHERE stream = 'tenant:acme';",
    )
    .await
    .unwrap();
    let problem = store.verify("tenant:acme").await.unwrap().problem;
    assert_eq!(
        problem,
        Some(Problem::UnrecordedPurge {
            base_seq: 4,
            recorded: Some(2)
        })
    );
    assert!(problem.unwrap().to_string().contains("records a purge up to seq 2"));

    // Without moving the base, deleting the oldest events is a gap.
    db.exec("DELETE FROM audit_events WHERE stream = 'tenant:globex' AND seq IN (1, 2)")
        .await
        .unwrap();
    assert!(matches!(
        store.verify("tenant:globex").await.unwrap().problem,
        Some(Problem::Gap {
            expected: 1,
            found: 3,
            ..
        })
    ));
}

async fn each_tenant_is_cut_at_its_own_period_and_unlisted_streams_at_the_default(db: TestDb) {
    let store = db.connect().await;
    // Events 400, 200, 100, 50 and 10 days old in each stream.
    let ago = |days: i64| Timestamp::from_unix_micros(Timestamp::now().unix_micros() - days * DAY).unwrap();
    for tenant in [Some("acme"), Some("globex"), Some("initech"), None] {
        let events: Vec<Event> = [400, 200, 100, 50, 10]
            .into_iter()
            .map(|days| at(tenant, ago(days), &format!("{days} days ago")))
            .collect();
        store.write_batch(&events).await.unwrap();
    }
    let days = |n: u64| std::time::Duration::from_secs(n * 86_400);
    let policy = RetentionPolicy::keep_forever()
        .default_period(days(365))
        .tenant("acme", days(90))
        .tenant("globex", days(30));
    let outcome = store.purge(&Purge::by_policy(policy)).await.unwrap();
    let removed: Vec<(&str, u64)> = outcome.streams.iter().map(|r| (r.stream.as_str(), r.removed)).collect();
    // initech and the global stream have the default year.
    assert_eq!(
        removed,
        [
            ("global", 1),
            ("tenant:acme", 3),
            ("tenant:globex", 4),
            ("tenant:initech", 1)
        ]
    );
    // Each purge event names its own cut.
    let acme = &outcome.streams[1].event;
    let before: Timestamp = serde_json::from_value(acme.metadata()["before"].clone()).unwrap();
    let expected = ago(90).unix_micros();
    assert!((before.unix_micros() - expected).abs() < 60 * 1_000_000, "{before:?}");
    for stream in store.streams().await.unwrap() {
        let verified = store.verify(&stream).await.unwrap();
        assert!(verified.is_intact(), "{stream}: {:?}", verified.problem);
    }
    assert_eq!(db.count().await, 20 - 9 + 4);
    // A policy with no period for any stream removes nothing.
    let outcome = store
        .purge(&Purge::by_policy(RetentionPolicy::keep_forever()))
        .await
        .unwrap();
    assert!(outcome.streams.is_empty());
    assert_eq!(db.count().await, 20 - 9 + 4);
}
