//! The query conformance suite: one fixture, one list of query cases, run
//! unchanged against a real SQLite file and a real PostgreSQL database, and
//! checked against an independent in-memory oracle, page by page (through
//! cursors and through offsets). Both backends agreeing with the oracle is
//! what "identical results" means here; `both_backends_answer_alike` also
//! compares them with each other directly.

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::collections::BTreeMap;

use audit_core::{Action, Actor, ActorKind, AuditSink, Event, Outcome, Severity, Target, Timestamp};
use audit_store::{ActionFilter, AuditQuery, Store, StoreError};
use support::TestDb;

on_both_backends!(
    every_case_matches_the_oracle_through_cursors_and_offsets,
    action_counts_match_the_oracle,
    forged_foreign_and_malformed_cursors_are_refused,
    out_of_range_pages_are_refused_before_touching_the_database,
    hostile_filter_values_are_data_never_sql,
    searches_find_rows_written_after_the_trigram_sample,
    searches_answer_alike_with_the_search_index_off_and_rebuilt,
);

/// Microseconds in a minute.
const MINUTE: i64 = 60_000_000;
/// 2026-01-01T00:00:00Z.
const START: i64 = 1_767_225_600_000_000;

const TENANTS: [Option<&str>; 4] = [Some("acme"), Some("globex"), Some("initech"), None];
const ACTIONS: [&str; 12] = [
    "app.created",
    "app.deleted",
    "app.renamed",
    "member.invited",
    "member.role_changed",
    "members.listed",
    "billing.invoice.paid",
    "billing.plan.changed",
    "billingx.paid",
    "billing_old.paid",
    "auth.login",
    "auth.login_failed",
];
const DESCRIPTIONS: [&str; 8] = [
    "Renamed app to Café Ölçü",
    "ÉCOLE plan: 100% off",
    "moved a_b to the archive",
    "50*off? [sale]",
    "x' OR 1=1 -- dropped",
    "Alice deleted the app",
    "routine sync",
    "naïve résumé 🚀 export",
];

/// A fixed, varied set of events: four streams, twelve actions (with
/// near-miss prefixes), every actor kind, shared timestamps (ties are broken
/// by id), descriptions that exercise case folding and LIKE/GLOB
/// metacharacters.
fn fixture() -> Vec<Event> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut events = Vec::new();
    for i in 0..480_u64 {
        let tenant = TENANTS[usize::try_from(next(4)).unwrap()];
        let action = ACTIONS[usize::try_from(next(12)).unwrap()];
        let n = next(6);
        let actor = match n {
            0 => Actor::new(ActorKind::ApiKey, format!("key_{}", next(3))),
            1 => Actor::system("billing-cron"),
            2 => Actor::new(ActorKind::Anonymous, "anonymous"),
            _ => Actor::user(format!("u_{n}"))
                .with_email(if n == 3 { "Alice@Acme.test" } else { "bob@acme.test" })
                .with_name(if n == 3 { "Alice Ærø" } else { "Bob" }),
        };
        let mut builder = Event::builder(Action::new(action).unwrap(), actor)
            // Pairs of events share a timestamp.
            .occurred_at(Timestamp::from_unix_micros(START + i64::try_from(i / 2).unwrap() * 37 * MINUTE).unwrap())
            .severity(
                [Severity::Info, Severity::Notice, Severity::Warning, Severity::Critical]
                    [usize::try_from(next(4)).unwrap()],
            )
            .outcome(
                [Outcome::Success, Outcome::Success, Outcome::Failure, Outcome::Denied]
                    [usize::try_from(next(4)).unwrap()],
            );
        if let Some(tenant) = tenant {
            builder = builder.tenant(tenant);
        }
        if next(3) > 0 {
            builder = builder.description(DESCRIPTIONS[usize::try_from(next(8)).unwrap()]);
        }
        match next(4) {
            0 => {}
            1 => builder = builder.target(Target::new("app", format!("app_{}", next(4))).with_name("Payroll ÜBER")),
            2 => builder = builder.target(Target::new("member", format!("m_{}", next(4)))),
            _ => {
                builder = builder
                    .target(Target::new("app", format!("app_{}", next(4))))
                    .add_target(Target::new("invoice", format!("inv_{}", next(50))).with_name("Refund NOTE"));
            }
        }
        let context = builder.context_mut();
        context.client_ip = Some(format!("10.0.0.{}", next(5)).parse().unwrap());
        context.request_id = Some(format!("req-{}", next(40)));
        events.push(builder.build());
    }
    events
}

/// What every query case should return, computed without SQL.
fn oracle(events: &[Event], query: &[(&str, &str)]) -> Vec<Event> {
    let param = |name: &str| -> Vec<&str> {
        query
            .iter()
            .filter(|(k, _)| *k == name)
            .flat_map(|(_, v)| v.split(','))
            .collect()
    };
    let one = |name: &str| param(name).first().copied();
    let time = |name: &str| {
        one(name).map(|v| Timestamp::from_datetime(chrono::DateTime::parse_from_rfc3339(v).unwrap().to_utc()))
    };
    let actions: Vec<ActionFilter> = param("action").iter().map(|a| a.parse().unwrap()).collect();
    let any = |name: &str, value: &str| {
        let values = param(name);
        values.is_empty() || values.contains(&value)
    };
    let terms: Vec<String> = one("q")
        .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default();
    let (since, until) = (time("since"), time("until"));
    let mut selected: Vec<Event> = events
        .iter()
        .filter(|e| {
            let actor = e.actor();
            let target = e.target();
            let mut searchable: Vec<&str> = vec![e.description().unwrap_or(""), &actor.id];
            searchable.extend(actor.email.as_deref());
            searchable.extend(actor.name.as_deref());
            for t in target.into_iter().chain(e.targets()) {
                searchable.extend([t.target_type.as_str(), t.id.as_str()]);
                searchable.extend(t.name.as_deref());
            }
            let text = searchable.join("\n").to_lowercase();
            one("tenant_id").is_none_or(|t| e.tenant_id() == Some(t))
                && (actions.is_empty() || actions.iter().any(|a| a.matches(e.action().as_str())))
                && any("category", e.category().as_str())
                && one("actor_id").is_none_or(|v| actor.id == v)
                && any("actor_kind", actor.kind.as_str())
                && one("actor_email").is_none_or(|v| actor.email.as_deref() == Some(v))
                && one("target_type").is_none_or(|v| target.is_some_and(|t| t.target_type == v))
                && one("target_id").is_none_or(|v| target.is_some_and(|t| t.id == v))
                && any("severity", e.severity().as_str())
                && any("outcome", e.outcome().as_str())
                && since.is_none_or(|s| e.occurred_at() >= s)
                && until.is_none_or(|u| e.occurred_at() < u)
                && one("ip").is_none_or(|v| {
                    e.context().client_ip.map(|ip| ip.to_canonical())
                        == Some(v.parse::<std::net::IpAddr>().unwrap().to_canonical())
                })
                && one("request_id").is_none_or(|v| e.context().request_id.as_deref() == Some(v))
                && terms.iter().all(|t| text.contains(t.as_str()))
        })
        .cloned()
        .collect();
    selected.sort_by_key(|e| std::cmp::Reverse((e.occurred_at(), e.id())));
    selected
}

/// The query cases: each filter alone, in combination, and the awkward values.
const CASES: &[&[(&str, &str)]] = &[
    &[],
    &[("tenant_id", "acme")],
    &[("tenant_id", "nobody")],
    &[("tenant_id", "acme"), ("action", "member.invited")],
    &[("tenant_id", "acme"), ("action", "billing.*")],
    &[("action", "billing.invoice.*"), ("action", "app.deleted")],
    &[("action", "member.*")],
    &[("action", "billing.*,auth.login")],
    &[("category", "delete")],
    &[("tenant_id", "globex"), ("category", "auth,create")],
    &[("actor_id", "u_3")],
    &[("actor_kind", "api_key,system")],
    &[("actor_email", "Alice@Acme.test")],
    &[("actor_email", "alice@acme.test")],
    &[("target_type", "app")],
    &[("target_type", "app"), ("target_id", "app_2")],
    &[("target_id", "inv_7")],
    &[("target_id", "m_2")],
    &[("severity", "warning,critical")],
    &[("tenant_id", "initech"), ("outcome", "denied")],
    &[("since", "2026-01-03T00:00:00Z"), ("until", "2026-01-05T12:00:00Z")],
    &[("tenant_id", "acme"), ("since", "2026-01-06T00:00:00Z")],
    &[("until", "2026-01-02T00:00:00Z")],
    &[("ip", "10.0.0.3")],
    &[("ip", "::ffff:10.0.0.3"), ("tenant_id", "acme")],
    &[("request_id", "req-5")],
    &[("q", "café")],
    &[("q", "CAFÉ ölçü")],
    &[("q", "école")],
    &[("q", "100%")],
    &[("q", "a_b")],
    &[("q", "a%b")],
    &[("q", "50*off?")],
    &[("q", "[sale]")],
    &[("q", "' OR 1=1 --")],
    &[("q", "alice deleted")],
    &[("q", "ærø")],
    &[("q", "über")],
    &[("q", "refund")],
    &[("q", "inv_1")],
    &[("q", "🚀")],
    &[("q", "xy")],
    &[("q", "o")],
    &[
        ("tenant_id", "acme"),
        ("q", "app"),
        ("since", "2026-01-02T00:00:00Z"),
        ("outcome", "success,failure"),
    ],
    &[
        ("tenant_id", "globex"),
        ("action", "app.*"),
        ("actor_kind", "user"),
        ("severity", "info,notice,warning"),
        ("until", "2026-01-08T00:00:00Z"),
    ],
];

fn ids(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.id().to_string()).collect()
}

fn query_of(params: &[(&str, &str)], extra: &[(&str, &str)]) -> AuditQuery {
    AuditQuery::from_params(params.iter().chain(extra).copied()).unwrap()
}

/// Every event of a case, gathered page by page through `next_cursor`.
async fn through_cursors(store: &Store, case: &[(&str, &str)], limit: &str) -> Vec<Event> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = query_of(case, &[("limit", limit)]);
        if let Some(cursor) = cursor.take() {
            query = query.cursor(cursor);
        }
        let page = store.query(&query).await.unwrap();
        assert!(page.events.len() <= limit.parse().unwrap());
        all.extend(page.events);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

/// Every event of a case, gathered page by page through `offset`.
async fn through_offsets(store: &Store, case: &[(&str, &str)], limit: usize) -> Vec<Event> {
    let mut all = Vec::new();
    loop {
        let offset = all.len().to_string();
        let page = store
            .query(&query_of(case, &[("limit", &limit.to_string()), ("offset", &offset)]))
            .await
            .unwrap();
        let full = page.events.len() == limit;
        all.extend(page.events);
        if !full {
            return all;
        }
    }
}

async fn loaded(db: &TestDb) -> (Store, Vec<Event>) {
    let events = fixture();
    (load(db, &events).await, events)
}

async fn load(db: &TestDb, events: &[Event]) -> Store {
    let store = db.connect().await;
    for batch in events.chunks(97) {
        store.write_batch(batch).await.unwrap();
    }
    store
}

async fn every_case_matches_the_oracle_through_cursors_and_offsets(db: TestDb) {
    let (store, events) = loaded(&db).await;
    for case in CASES {
        let expected = ids(&oracle(&events, case));
        assert_eq!(
            ids(&through_cursors(&store, case, "7").await),
            expected,
            "cursor pages of {case:?}"
        );
        assert_eq!(
            ids(&through_offsets(&store, case, 11).await),
            expected,
            "offset pages of {case:?}"
        );
        let first = store.query(&query_of(case, &[("limit", "200")])).await.unwrap();
        assert_eq!(
            ids(&first.events),
            expected[..expected.len().min(200)],
            "one page of {case:?}"
        );
        assert_eq!(first.next_cursor.is_some(), expected.len() > 200, "{case:?}");
    }
    // The cases cover something: most select some events, none but the
    // first selects all. (Five are meant to select none: an unknown tenant,
    // an email in the wrong case, a secondary target's id, `a%b` and `xy`.)
    let sizes: Vec<usize> = CASES.iter().map(|case| oracle(&events, case).len()).collect();
    assert!(sizes.iter().filter(|&&n| n > 0).count() >= CASES.len() - 5, "{sizes:?}");
    assert!(sizes[1..].iter().all(|&n| n < events.len()), "{sizes:?}");
    // Events come back whole, integrity included.
    let page = store.query(&AuditQuery::new().limit(1)).await.unwrap();
    let newest = &oracle(&events, &[])[0];
    assert_eq!(page.events[0].description(), newest.description());
    assert!(
        page.events[0]
            .integrity()
            .is_some_and(|i| i.seq > 0 && i.leaf_hash.len() == 64)
    );
}

async fn action_counts_match_the_oracle(db: TestDb) {
    let (store, events) = loaded(&db).await;
    for case in [
        &[("tenant_id", "acme")][..],
        &[],
        &[("tenant_id", "acme"), ("action", "app.created"), ("outcome", "denied")],
    ] {
        let without_actions: Vec<(&str, &str)> = case.iter().copied().filter(|(k, _)| *k != "action").collect();
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        for event in oracle(&events, &without_actions) {
            *expected.entry(event.action().as_str().to_owned()).or_default() += 1;
        }
        let mut expected: Vec<(String, u64)> = expected.into_iter().collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let counts = store.action_counts(&query_of(case, &[])).await.unwrap();
        for count in &counts {
            assert_eq!(
                count.category,
                audit_core::Category::for_action(&Action::new(count.action.clone()).unwrap())
            );
        }
        let counts: Vec<(String, u64)> = counts.into_iter().map(|c| (c.action, c.events)).collect();
        assert_eq!(counts, expected, "{case:?}");
        assert!(!counts.is_empty());
    }
}

fn invalid_parameter(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Query(error)) => error.parameter().to_owned(),
        other => panic!("expected a query error, got {other:?}"),
    }
}

/// PostgreSQL ranks a search's trigrams from a sample of stored rows, taken
/// by the first search and kept for minutes: a word the sample has never
/// seen must still be found once it is written.
async fn searches_find_rows_written_after_the_trigram_sample(db: TestDb) {
    let (store, _) = loaded(&db).await;
    let search = || AuditQuery::new().tenant("acme").text("zebra_7731 QUAGGA");
    assert!(store.query(&search()).await.unwrap().events.is_empty());
    let fresh: Vec<Event> = (0..3)
        .map(|i| {
            Event::builder(Action::new("app.created").unwrap(), Actor::user(format!("u{i}")))
                .tenant("acme")
                .description(format!("made zebra_7731 for the quagga team {i}"))
                .build()
        })
        .collect();
    store.write_batch(&fresh).await.unwrap();
    let found = store.query(&search()).await.unwrap().events;
    let mut found: Vec<_> = found.iter().map(Event::id).collect();
    let mut expected: Vec<_> = fresh.iter().map(Event::id).collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
    // A stored event whose text holds only part of the terms is not listed.
    let part = AuditQuery::new().tenant("acme").text("zebra_7731 okapi");
    assert!(store.query(&part).await.unwrap().events.is_empty());
}

/// Issue 20: the free-text index can be turned off (appends stop paying for
/// it) and on again (rebuilt over every row); every search case answers as
/// the oracle says in both states, events written while it was off
/// included, and retention still works with it off.
async fn searches_answer_alike_with_the_search_index_off_and_rebuilt(db: TestDb) {
    let (store, mut events) = loaded(&db).await;
    let text_cases: Vec<&[(&str, &str)]> = CASES
        .iter()
        .copied()
        .filter(|case| case.iter().any(|(key, _)| *key == "q"))
        .collect();
    assert!(text_cases.len() >= 8, "the suite has free-text cases");
    let text_cases = &text_cases;
    let check = |store: Store, events: Vec<Event>, state: &'static str| async move {
        for case in text_cases {
            assert_eq!(
                ids(&through_cursors(&store, case, "7").await),
                ids(&oracle(&events, case)),
                "{case:?}, index {state}"
            );
            // The counts leave the action filter out, as the drop-down needs.
            let without_actions: Vec<(&str, &str)> = case.iter().copied().filter(|(k, _)| *k != "action").collect();
            let counted: u64 = store
                .action_counts(&query_of(case, &[]))
                .await
                .unwrap()
                .iter()
                .map(|count| count.events)
                .sum();
            assert_eq!(
                counted,
                oracle(&events, &without_actions).len() as u64,
                "counts of {case:?}, index {state}"
            );
        }
    };
    assert!(store.search_index().await.unwrap());
    store.set_search_index(false).await.unwrap();
    assert!(!store.search_index().await.unwrap());
    // Turning it off twice is no error.
    store.set_search_index(false).await.unwrap();
    let written_while_off: Vec<Event> = (0..5)
        .map(|i| {
            Event::builder(Action::new("app.renamed").unwrap(), Actor::user(format!("late{i}")))
                .tenant("acme")
                .description(format!("Renamed app to Café Ölçü {i}"))
                .occurred_at(Timestamp::from_unix_micros(START + (500 + i) * MINUTE).unwrap())
                .build()
        })
        .collect();
    store.write_batch(&written_while_off).await.unwrap();
    let stored = store.query(&AuditQuery::new().actor_id("late0")).await.unwrap().events;
    events.extend(stored);
    for i in 1..5 {
        events.extend(
            store
                .query(&AuditQuery::new().actor_id(format!("late{i}")))
                .await
                .unwrap()
                .events,
        );
    }
    assert_eq!(events.len(), fixture().len() + 5);
    check(store.clone(), events.clone(), "off").await;

    store.set_search_index(true).await.unwrap();
    assert!(store.search_index().await.unwrap());
    check(store.clone(), events.clone(), "rebuilt").await;

    // Retention with the index off: the purged rows leave no index entry
    // behind to trip over, and what remains still answers.
    store.set_search_index(false).await.unwrap();
    let before = Timestamp::from_unix_micros(START + 30 * MINUTE).unwrap();
    store.purge(&audit_store::Purge::before(before)).await.unwrap();
    store.set_search_index(true).await.unwrap();
    let kept: Vec<Event> = events
        .into_iter()
        .filter(|event| event.occurred_at() >= before)
        .collect();
    let found = store
        .query(&AuditQuery::new().text("café").limit(200))
        .await
        .unwrap()
        .events;
    let expected: Vec<Event> = oracle(&kept, &[("q", "café")]);
    assert_eq!(ids(&found), ids(&expected));
}

async fn forged_foreign_and_malformed_cursors_are_refused(db: TestDb) {
    let (store, _) = loaded(&db).await;
    let acme = AuditQuery::new().tenant("acme").limit(5);
    let cursor = store.query(&acme).await.unwrap().next_cursor.unwrap();
    // The same cursor works for its own query...
    assert_eq!(
        store.query(&acme.clone().cursor(&cursor)).await.unwrap().events.len(),
        5
    );
    // ...but not for another tenant's, with any byte changed, or cut short.
    let foreign = AuditQuery::new().tenant("globex").limit(5).cursor(&cursor);
    assert_eq!(invalid_parameter(store.query(&foreign).await), "cursor");
    let mut forged = cursor.clone().into_bytes();
    forged[12] = if forged[12] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [forged.as_str(), &cursor[..30], "", "not a cursor", "eyJvZmZzZXQiOjB9"] {
        let error = store.query(&acme.clone().cursor(bad)).await.unwrap_err();
        assert!(error.to_string().contains("`cursor`"), "{bad:?}: {error}");
    }
    // A cursor from another store (another key) is refused too.
    let other_db = db.another().await;
    let other = other_db.connect().await;
    assert_eq!(
        invalid_parameter(other.query(&acme.clone().cursor(&cursor)).await),
        "cursor"
    );
}

async fn out_of_range_pages_are_refused_before_touching_the_database(db: TestDb) {
    let (store, _) = loaded(&db).await;
    for (query, parameter) in [
        (AuditQuery::new().limit(0), "limit"),
        (AuditQuery::new().limit(201), "limit"),
        (AuditQuery::new().offset(100_001), "offset"),
        (AuditQuery::new().offset(1).cursor("x"), "offset"),
        (AuditQuery::new().text("x".repeat(201)), "q"),
        (AuditQuery::new().tenant("t".repeat(1025)), "tenant_id"),
    ] {
        assert_eq!(invalid_parameter(store.query(&query).await), parameter);
        assert_eq!(invalid_parameter(store.action_counts(&query).await), parameter);
    }
    // Nothing was lost or changed by the refused queries.
    assert_eq!(db.count().await, 480);
}

async fn hostile_filter_values_are_data_never_sql(db: TestDb) {
    let (store, _) = loaded(&db).await;
    for value in [
        "' OR '1'='1",
        "acme' --",
        "%",
        "_",
        "*",
        "\\",
        "acme\0",
        "); DROP TABLE audit_events; --",
    ] {
        for query in [
            AuditQuery::new().tenant(value),
            AuditQuery::new().actor_id(value),
            AuditQuery::new().target_id(value),
            AuditQuery::new().request_id(value),
        ] {
            match store.query(&query).await {
                Ok(page) => assert!(page.events.is_empty(), "{value:?} matched {} events", page.events.len()),
                // No recorded value holds a control character: refused up front.
                Err(StoreError::Query(error)) if value.contains('\0') => {
                    assert!(error.message().contains("control character"), "{error}");
                }
                Err(error) => panic!("{value:?}: {error}"),
            }
        }
    }
    assert_eq!(db.count().await, 480);
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
}

/// Both backends, side by side, give the same pages for every case.
#[cfg(all(feature = "sqlite", feature = "postgres"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_answer_alike() {
    let Some(pg) = TestDb::postgres().await else { return };
    let sqlite = TestDb::sqlite();
    let events = fixture();
    let sqlite_store = load(&sqlite, &events).await;
    let pg_store = load(&pg, &events).await;
    for case in CASES {
        let on_sqlite = through_cursors(&sqlite_store, case, "13").await;
        let on_pg = through_cursors(&pg_store, case, "13").await;
        assert_eq!(ids(&on_sqlite), ids(&on_pg), "{case:?}");
        // Whole events, not just ids: the same content came back (all but
        // when each store recorded it).
        for (a, b) in on_sqlite.iter().zip(&on_pg) {
            let content = |event: &Event| {
                let mut json = serde_json::to_value(event).unwrap();
                json.as_object_mut().unwrap().remove("recorded_at");
                json["integrity"].as_object_mut().unwrap().remove("leaf_hash");
                json
            };
            assert_eq!(content(a), content(b), "{case:?}");
        }
    }
}
