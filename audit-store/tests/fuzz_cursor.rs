//! Fuzzing page cursors through the store (issue 18): a cursor comes back
//! from the client, so any string, and any edit of a cursor the store
//! issued, must be refused naming `cursor`, never read as a page position;
//! an issued cursor opens only with the filters it was issued for (the page
//! size may change). That any position signs and opens back to itself is a
//! property of `query/cursor.rs`, whose signing is private.
//!
//! Cases per property: `AUDIT_FUZZ_CASES` (see `support`).

#![cfg(feature = "sqlite")]

#[allow(
    dead_code,
    unused_macros,
    reason = "each test binary uses a part of the shared support"
)]
mod support;

use audit_core::{Action, Actor, AuditSink as _, Event, Timestamp};
use audit_store::{AuditQuery, Page, Store, StoreError};
use proptest::prelude::*;
use support::{TestDb, fuzz_cases};

/// A store holding three events a minute apart, the cursor of the first
/// one-event page, and the page that cursor leads to.
struct Fixture {
    _db: TestDb,
    store: Store,
    cursor: String,
    second_page: Page,
}

impl Fixture {
    async fn start() -> Self {
        let db = TestDb::sqlite();
        let store = db.connect().await;
        let now = Timestamp::now().unix_micros();
        let events: Vec<Event> = (1..=3)
            .map(|minutes| {
                Event::builder(Action::new("app.created").expect("a valid action"), Actor::user("u_1"))
                    .occurred_at(Timestamp::from_unix_micros(now - minutes * 60_000_000).expect("a recent time"))
                    .build()
            })
            .collect();
        store.write_batch(&events).await.expect("the events are stored");
        let first_page = store.query(&AuditQuery::new().limit(1)).await.expect("a page");
        let cursor = first_page.next_cursor.expect("two more events");
        let second_page = store
            .query(&AuditQuery::new().limit(1).cursor(cursor.clone()))
            .await
            .expect("the issued cursor opens");
        assert_eq!(second_page.events[0].id(), events[1].id());
        Self {
            _db: db,
            store,
            cursor,
            second_page,
        }
    }
}

/// What a client may send back instead of the cursor: any text, text in
/// the cursor's own alphabet and about its length, and the issued cursor
/// edited (a character replaced, inserted or removed, cut, extended).
fn cursor_like(issued: String) -> impl Strategy<Value = String> {
    let edited = (
        any::<prop::sample::Index>(),
        any::<char>(),
        0..5u8,
        "[A-Za-z0-9_ -]{0,8}",
    )
        .prop_map(move |(at, c, edit, tail)| {
            let mut chars: Vec<char> = issued.chars().collect();
            let at = at.index(chars.len());
            match edit {
                0 => chars[at] = c,
                1 => chars.insert(at, c),
                2 => {
                    chars.remove(at);
                }
                3 => chars.truncate(at),
                _ => chars.extend(tail.chars()),
            }
            chars.into_iter().collect()
        });
    prop_oneof![1 => any::<String>(), 1 => "[A-Za-z0-9_=-]{0,70}", 4 => edited]
}

fn is_cursor_refusal(answer: &Result<Page, StoreError>) -> bool {
    matches!(answer, Err(StoreError::Query(error)) if error.parameter() == "cursor")
}

#[test]
fn any_string_but_the_issued_cursor_is_refused_naming_cursor() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let fixture = runtime.block_on(Fixture::start());
    proptest!(
        ProptestConfig::with_cases(fuzz_cases(50_000)),
        |(sent in cursor_like(fixture.cursor.clone()))| {
            let answer = runtime.block_on(fixture.store.query(&AuditQuery::new().limit(1).cursor(sent.clone())));
            // Whitespace around a cursor is forgiven; nothing else is.
            if sent.trim() == fixture.cursor {
                prop_assert_eq!(answer.ok(), Some(fixture.second_page.clone()));
            } else {
                prop_assert!(is_cursor_refusal(&answer), "{:?} gave {:?}", sent, answer);
            }
        }
    );
}

#[test]
fn an_issued_cursor_opens_only_with_the_filters_it_was_issued_for() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let fixture = runtime.block_on(Fixture::start());
    proptest!(
        ProptestConfig::with_cases(fuzz_cases(5_000)),
        |(tenant in prop::option::of("[ -~]{0,20}"), limit in 1..=200u32)| {
            let mut query = AuditQuery::new().limit(limit).cursor(fixture.cursor.clone());
            if let Some(tenant) = &tenant {
                query = query.tenant(tenant.clone());
            }
            let answer = runtime.block_on(fixture.store.query(&query));
            match tenant {
                // Another page size, the same filters: the same position.
                None => prop_assert_eq!(
                    answer.ok().map(|page| page.events.first().map(Event::id)),
                    Some(fixture.second_page.events.first().map(Event::id))
                ),
                Some(_) => prop_assert!(is_cursor_refusal(&answer), "{:?}", answer),
            }
        }
    );
}
