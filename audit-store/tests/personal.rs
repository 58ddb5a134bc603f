//! Personal data sealed per subject and erased by destroying its key, on
//! a real SQLite file and a real PostgreSQL server: the files on disk are
//! searched for plaintext, proofs are checked offline against checkpoints
//! signed before the erasure.

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use audit_core::{Action, Actor, AuditSink, Auditable, Event, Target};
use audit_store::checkpoint::{Checkpointer, SigningKey};
use audit_store::personal::{ERASED, Erasure, KeyFuture, KeyState, KeyStore, PersonalData, SUBJECT_ERASED, SubjectKey};
use audit_store::stream::{Batch, DeliverFuture, StreamSink, Streamer};
use audit_store::{AuditQuery, ExportFormat, Store, StoreError, TreeHead};
use support::TestDb;

on_both_backends!(
    personal_values_are_sealed_at_rest_and_opened_for_readers,
    erasure_keeps_every_proof_valid_and_leaves_no_plaintext,
    a_legal_hold_refuses_erasure_until_released,
    keys_can_live_in_a_key_store_of_ones_own,
    the_key_table_only_ever_erases,
    bad_erasures_are_refused_and_unknown_subjects_recorded,
    stream_sinks_get_opened_events_unless_they_keep_proofs,
    transactional_writes_are_sealed_too,
);

const LOG: &str = "audit.example/personal-test";

/// Values unique to one test run, so a search of the server's files finds
/// only this test's.
struct People {
    bob_email: String,
    bob_name: String,
    bob_phone: String,
    alice_email: String,
    app_name: String,
}

impl People {
    fn new() -> Self {
        let tag = uuid::Uuid::now_v7().simple().to_string();
        Self {
            bob_email: format!("bob.{tag}@example.com"),
            bob_name: format!("Bob Stone {tag}"),
            bob_phone: format!("+44-{tag}"),
            alice_email: format!("alice.{tag}@example.com"),
            app_name: format!("billing-{tag}"),
        }
    }
}

#[derive(Auditable)]
#[audit(target = "user")]
struct Member {
    #[audit(id)]
    id: &'static str,
    #[audit(personal)]
    phone: String,
    role: &'static str,
}

fn action(name: &str) -> Action {
    Action::new(name).unwrap()
}

/// Bob creates an app (not personal: its name is the control value the
/// file search must find), Alice changes Bob's role, Alice creates one.
fn history(people: &People) -> Vec<Event> {
    let bob = Actor::user("user_bob")
        .with_name(people.bob_name.clone())
        .with_email(people.bob_email.clone());
    let alice = Actor::user("user_alice").with_email(people.alice_email.clone());
    let before = Member {
        id: "user_bob",
        phone: people.bob_phone.clone(),
        role: "member",
    };
    let after = Member {
        role: "admin",
        ..Member {
            id: "user_bob",
            phone: people.bob_phone.clone(),
            role: "",
        }
    };
    vec![
        Event::builder(action("app.created"), bob)
            .tenant("acme")
            .target(Target::new("app", "app_1").with_name(people.app_name.clone()))
            .description(format!("{} created {}", people.bob_name, people.app_name))
            .metadata("contact", &people.bob_email)
            .personal_key("contact")
            .build(),
        Event::builder(action("member.updated"), alice.clone())
            .tenant("acme")
            .target(Target::new("user", "user_bob").with_name(people.bob_name.clone()))
            .before(&before)
            .after(&after)
            .build(),
        Event::builder(action("app.created"), alice)
            .tenant("acme")
            .target(Target::new("app", "app_2").with_name("ledger"))
            .build(),
    ]
}

/// The files of `db` that contain `needle`: the SQLite database, its WAL
/// and shared memory; PostgreSQL's whole data directory (tables and WAL)
/// after a checkpoint. `None` where the files cannot be reached (an
/// external PostgreSQL server).
async fn files_containing(db: &TestDb, needle: &str) -> Option<Vec<PathBuf>> {
    let dir = if db.is_postgres() {
        db.exec("CHECKPOINT").await.ok()?;
        PathBuf::from(db.strings("SHOW data_directory").await.first()?)
    } else {
        PathBuf::from(db.urls()[0].trim_start_matches("sqlite://"))
            .parent()?
            .to_owned()
    };
    if !dir.is_dir() {
        return None;
    }
    let out = std::process::Command::new("grep")
        .args(["-r", "-l", "-a", "-F", "--", needle])
        .arg(&dir)
        .output()
        .expect("grep runs");
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(PathBuf::from)
            .collect(),
    )
}

/// The file search works: the control value is found, so its silence
/// about personal values means something.
async fn assert_no_plaintext(db: &TestDb, people: &People, personal: &[&str]) {
    let Some(found) = files_containing(db, &people.app_name).await else {
        eprintln!("the database's files cannot be read here: the file search is skipped");
        return;
    };
    assert!(!found.is_empty(), "the control value is on disk somewhere");
    for value in personal {
        let found = files_containing(db, value).await.unwrap();
        assert!(found.is_empty(), "{value} is on disk in {found:?}");
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
        .collect()
}

/// Whether the SQLite database file, its WAL or shared memory hold `bytes`.
fn sqlite_files_hold(db: &TestDb, bytes: &[u8]) -> bool {
    let file = PathBuf::from(db.urls()[0].trim_start_matches("sqlite://"));
    ["", "-wal", "-shm"].iter().any(|suffix| {
        let mut path = file.clone().into_os_string();
        path.push(suffix);
        std::fs::read(path).is_ok_and(|content| content.windows(bytes.len()).any(|window| window == bytes))
    })
}

fn sealing(store: Store) -> Store {
    store.with_personal_data(PersonalData::new())
}

async fn tenant_page(store: &Store) -> Vec<Event> {
    let mut events = store
        .query(&AuditQuery::new().tenant("acme").limit(100))
        .await
        .unwrap()
        .events;
    events.reverse();
    events
}

async fn personal_values_are_sealed_at_rest_and_opened_for_readers(db: TestDb) {
    let store = sealing(db.connect().await);
    let people = People::new();
    let written = history(&people);
    store.write_batch(&written).await.unwrap();

    // Readers see the values as written.
    let read = tenant_page(&store).await;
    assert_eq!(read[0].actor().email.as_deref(), Some(people.bob_email.as_str()));
    assert_eq!(read[0].actor().name.as_deref(), Some(people.bob_name.as_str()));
    assert_eq!(
        read[0].target().unwrap().name.as_deref(),
        Some(people.app_name.as_str()),
        "apps are not people"
    );
    assert_eq!(read[0].description(), written[0].description());
    assert_eq!(read[0].metadata()["contact"], people.bob_email.as_str());
    assert_eq!(
        read[1].target().unwrap().name.as_deref(),
        Some(people.bob_name.as_str())
    );
    let changes = read[1].changes().unwrap();
    assert_eq!(changes.before.as_ref().unwrap()["phone"], people.bob_phone.as_str());
    assert_eq!(changes.after.as_ref().unwrap()["role"], "admin");
    assert_eq!(read[2].target().unwrap().name.as_deref(), Some("ledger"));
    let got = store.get(written[0].id()).await.unwrap().unwrap();
    assert_eq!(got.actor().email.as_deref(), Some(people.bob_email.as_str()));

    // Stored sealed: the columns, the search text and the files on disk.
    // A sealed value is kept once, in the JSON (its filter column is NULL).
    let columns = db
        .strings(&format!(
            "SELECT COALESCE(actor_email, 'NULL') || ' ' || COALESCE(actor_name, 'NULL') || ' ' || actor \
             FROM audit_events WHERE id = '{}'",
            written[0].id()
        ))
        .await;
    assert!(columns[0].starts_with("NULL NULL {"), "{columns:?}");
    assert!(columns[0].contains("\"sealed:v1:"), "{columns:?}");
    let search = db.strings("SELECT search_text FROM audit_events").await.join("\n");
    assert!(!search.contains("bob.") && !search.contains("alice."), "{search}");
    assert!(search.contains(&people.app_name), "non-personal values stay searchable");
    assert_no_plaintext(
        &db,
        &people,
        &[
            &people.bob_email,
            &people.bob_name,
            &people.bob_phone,
            &people.alice_email,
        ],
    )
    .await;
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());

    // A store that was not told to seal still opens what it reads.
    let plain_reader = db.connect().await;
    let read = tenant_page(&plain_reader).await;
    assert_eq!(read[0].actor().email.as_deref(), Some(people.bob_email.as_str()));
}

async fn erasure_keeps_every_proof_valid_and_leaves_no_plaintext(db: TestDb) {
    let store = sealing(db.connect().await);
    let people = People::new();
    let written = history(&people);
    store.write_batch(&written).await.unwrap();
    let key = SigningKey::generate(LOG).unwrap();
    let checkpointer = Checkpointer::new(store.clone(), key.clone());
    let signed = checkpointer.checkpoint_now().await.unwrap().signed;
    assert_eq!(signed.len(), 1);
    let heads: Vec<TreeHead> = signed
        .iter()
        .map(|c| TreeHead {
            stream: c.stream.clone(),
            size: c.size,
            root: c.root,
        })
        .collect();
    let proofs_before: Vec<_> = {
        let mut proofs = Vec::new();
        for event in &written {
            proofs.push(store.event_proof(event.id(), None).await.unwrap().unwrap());
        }
        proofs
    };

    let bob_key = db
        .strings(if db.is_postgres() {
            "SELECT encode(key, 'hex') FROM audit_subject_keys WHERE subject = 'user_bob'"
        } else {
            "SELECT hex(key) FROM audit_subject_keys WHERE subject = 'user_bob'"
        })
        .await;
    let bob_key = hex_bytes(&bob_key[0]);
    assert_eq!(bob_key.len(), 32);
    if !db.is_postgres() {
        assert!(
            sqlite_files_hold(&db, &bob_key),
            "the key is on disk before the erasure"
        );
    }

    let dpo = Actor::user("user_dpo").with_name("Dana Protection");
    let report = store
        .erase_subject(&Erasure::new("user_bob", dpo).reason("GDPR Art. 17, ticket 4711"))
        .await
        .unwrap();
    assert!(report.key_destroyed);
    assert_eq!(report.tenants, [Some("acme".to_owned())]);
    if !db.is_postgres() {
        // Secure delete zeroed its bytes in the page, and the WAL that held
        // older copies of the page was checkpointed and truncated.
        assert!(!sqlite_files_hold(&db, &bob_key), "the destroyed key is still on disk");
    }

    // Every proof still holds, offline, against the checkpoint signed before.
    let verifier = key.verifier_key();
    for (event, before) in written.iter().zip(&proofs_before) {
        before.verify(&verifier, LOG).unwrap();
        let after = store
            .event_proof(event.id(), Some(signed[0].size))
            .await
            .unwrap()
            .unwrap();
        after.verify(&verifier, LOG).unwrap();
        assert_eq!(after.event, before.event, "the stored event did not change");
    }
    let report_after = store.verify_against("tenant:acme", &heads).await.unwrap();
    assert!(report_after.is_intact(), "{report_after:?}");
    assert_eq!(report_after.checkpoints_met, 1);

    // Bob's values are gone for every reader; Alice's are untouched.
    let read = tenant_page(&store).await;
    assert_eq!(read[0].actor().email.as_deref(), Some(ERASED));
    assert_eq!(read[0].actor().name.as_deref(), Some(ERASED));
    assert_eq!(read[0].description(), Some(ERASED));
    assert_eq!(read[0].metadata()["contact"], ERASED);
    assert_eq!(
        read[0].target().unwrap().name.as_deref(),
        Some(people.app_name.as_str())
    );
    assert_eq!(read[1].target().unwrap().name.as_deref(), Some(ERASED));
    assert_eq!(read[1].changes().unwrap().before.as_ref().unwrap()["phone"], ERASED);
    assert_eq!(read[1].actor().email.as_deref(), Some(people.alice_email.as_str()));
    assert_eq!(read[2].actor().email.as_deref(), Some(people.alice_email.as_str()));
    let erased = read
        .iter()
        .find(|e| e.action().as_str() == SUBJECT_ERASED)
        .expect("the erasure is recorded");
    assert_eq!(erased.actor().id, "user_dpo");
    assert_eq!(erased.actor().name.as_deref(), Some("Dana Protection"));
    assert_eq!(erased.target().unwrap().id, "user_bob");
    assert_eq!(erased.metadata()["reason"], "GDPR Art. 17, ticket 4711");
    assert_eq!(report.events, [erased.id()]);

    // Exports show the same; the subject's events are still found by id,
    // never by the erased email.
    let mut scan = store.scan(&AuditQuery::new().tenant("acme")).unwrap();
    let mut export = Vec::new();
    while let Some(batch) = scan.next_batch().await.unwrap() {
        ExportFormat::Ndjson.write(&batch, &mut export);
        ExportFormat::Csv.write(&batch, &mut export);
    }
    let export = String::from_utf8(export).unwrap();
    for value in [&people.bob_email, &people.bob_name, &people.bob_phone] {
        assert!(!export.contains(value.as_str()), "{value} in the export");
    }
    assert!(export.contains(&people.alice_email));
    let by_email = AuditQuery::new().tenant("acme").text(&people.bob_email);
    assert!(store.query(&by_email).await.unwrap().events.is_empty());
    let by_id = store
        .query(&AuditQuery::new().tenant("acme").actor_id("user_bob"))
        .await
        .unwrap();
    assert_eq!(by_id.events.len(), 1);

    // Events naming Bob after the erasure are unreadable from the start.
    let later = Event::builder(
        action("app.deleted"),
        Actor::user("user_bob").with_email(people.bob_email.clone()),
    )
    .tenant("acme")
    .build();
    store.write_batch(std::slice::from_ref(&later)).await.unwrap();
    let later = store.get(later.id()).await.unwrap().unwrap();
    assert_eq!(later.actor().email.as_deref(), Some(ERASED));

    assert_no_plaintext(&db, &people, &[&people.bob_email, &people.bob_name, &people.bob_phone]).await;
    let keys = db
        .integers("SELECT count(*) FROM audit_subject_keys WHERE subject = 'user_bob' AND key IS NULL")
        .await;
    assert_eq!(keys, [1]);
}

async fn a_legal_hold_refuses_erasure_until_released(db: TestDb) {
    let store = sealing(db.connect().await);
    let people = People::new();
    store.write_batch(&history(&people)).await.unwrap();
    let counsel = Actor::user("user_counsel");
    let hold = store
        .place_legal_hold("acme", "litigation hold, case 2026-17", &counsel)
        .await
        .unwrap();
    assert_eq!(hold.placed_by, "user_counsel");
    let again = store.place_legal_hold("acme", "another", &counsel).await.unwrap();
    assert_eq!(again.reason, "litigation hold, case 2026-17", "the first hold stays");
    assert_eq!(store.legal_holds().await.unwrap(), std::slice::from_ref(&hold));

    let refused = store
        .erase_subject(&Erasure::new("user_bob", Actor::user("user_dpo")))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StoreError::LegalHold { ref tenant, .. } if tenant == "acme"),
        "{refused}"
    );
    assert!(refused.to_string().contains("litigation hold"), "{refused}");
    let read = tenant_page(&store).await;
    assert_eq!(
        read[0].actor().email.as_deref(),
        Some(people.bob_email.as_str()),
        "nothing erased"
    );

    // A subject that only other tenants name is not held by acme's hold.
    store
        .write_batch(&[Event::builder(action("app.created"), Actor::user("user_carol"))
            .tenant("globex")
            .build()])
        .await
        .unwrap();
    store
        .erase_subject(&Erasure::new("user_carol", Actor::user("user_dpo")))
        .await
        .unwrap();

    assert_eq!(store.release_legal_hold("acme", &counsel).await.unwrap(), Some(hold));
    assert_eq!(store.release_legal_hold("acme", &counsel).await.unwrap(), None);
    store
        .erase_subject(&Erasure::new("user_bob", Actor::user("user_dpo")))
        .await
        .unwrap();
    let actions: Vec<String> = tenant_page(&store)
        .await
        .iter()
        .map(|e| e.action().as_str().to_owned())
        .filter(|a| a.starts_with("audit."))
        .collect();
    assert_eq!(
        actions,
        ["audit.legal_hold.placed", "audit.legal_hold.released", SUBJECT_ERASED]
    );
    assert!(store.verify("tenant:acme").await.unwrap().is_intact());
}

/// A key store of the application's: the shape a KMS adapter takes.
#[derive(Debug, Default)]
struct MapKeys(Mutex<HashMap<String, KeyState>>);

impl KeyStore for MapKeys {
    fn keys<'a>(&'a self, subjects: &'a [String], create: bool) -> KeyFuture<'a, HashMap<String, KeyState>> {
        Box::pin(async move {
            let mut kept = self.0.lock().unwrap();
            let mut found = HashMap::new();
            for subject in subjects {
                if create && !kept.contains_key(subject) {
                    kept.insert(subject.clone(), KeyState::Live(SubjectKey::generate().unwrap()));
                }
                if let Some(state) = kept.get(subject) {
                    found.insert(subject.clone(), state.clone());
                }
            }
            Ok(found)
        })
    }

    fn destroy<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, bool> {
        Box::pin(async move {
            let previous = self.0.lock().unwrap().insert(subject.to_owned(), KeyState::Erased);
            Ok(matches!(previous, Some(KeyState::Live(_))))
        })
    }
}

async fn keys_can_live_in_a_key_store_of_ones_own(db: TestDb) {
    let keys = Arc::new(MapKeys::default());
    let store = db
        .connect()
        .await
        .with_personal_data(PersonalData::new().key_store(keys.clone()));
    let people = People::new();
    store.write_batch(&history(&people)).await.unwrap();
    assert_eq!(db.integers("SELECT count(*) FROM audit_subject_keys").await, [0]);
    assert!(keys.0.lock().unwrap().contains_key("user_bob"));
    assert_eq!(
        tenant_page(&store).await[0].actor().email.as_deref(),
        Some(people.bob_email.as_str())
    );
    // A reader without the key store cannot open them.
    let without = tenant_page(&db.connect().await).await;
    assert_eq!(without[0].actor().email.as_deref(), Some(audit_store::personal::SEALED));

    let report = store
        .erase_subject(&Erasure::new("user_bob", Actor::user("user_dpo")))
        .await
        .unwrap();
    assert!(report.key_destroyed);
    let read = tenant_page(&store).await;
    assert_eq!(read[0].actor().email.as_deref(), Some(ERASED));
    assert_eq!(read[2].actor().email.as_deref(), Some(people.alice_email.as_str()));
}

async fn the_key_table_only_ever_erases(db: TestDb) {
    let store = sealing(db.connect().await);
    store.write_batch(&history(&People::new())).await.unwrap();
    let replace = "UPDATE audit_subject_keys SET key = key || key WHERE subject = 'user_bob'";
    let error = db.exec(replace).await.unwrap_err().to_string();
    assert!(error.contains("only be erased"), "{error}");
    let delete = "DELETE FROM audit_subject_keys WHERE subject = 'user_bob'";
    let error = db.exec(delete).await.unwrap_err().to_string();
    assert!(error.contains("never deleted"), "{error}");
    store
        .erase_subject(&Erasure::new("user_bob", Actor::user("user_dpo")))
        .await
        .unwrap();
    let restore = if db.is_postgres() {
        "UPDATE audit_subject_keys SET key = '\\x00'::bytea, erased_at = NULL WHERE subject = 'user_bob'"
    } else {
        "UPDATE audit_subject_keys SET key = X'00', erased_at = NULL WHERE subject = 'user_bob'"
    };
    let error = db.exec(restore).await.unwrap_err().to_string();
    assert!(error.contains("only be erased"), "{error}");
}

async fn bad_erasures_are_refused_and_unknown_subjects_recorded(db: TestDb) {
    let store = sealing(db.connect().await);
    store.write_batch(&history(&People::new())).await.unwrap();
    let before = db.count().await;
    for subject in ["", "   ", &"x".repeat(2000)] {
        let error = store
            .erase_subject(&Erasure::new(subject, Actor::user("user_dpo")))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::InvalidSubject(_)), "{error}");
    }
    assert_eq!(db.count().await, before, "a refused erasure records nothing");

    // Nobody by that id: nothing to destroy, the request is still on record,
    // and the id can never be given a key afterwards.
    let report = store
        .erase_subject(&Erasure::new("user_nobody", Actor::user("user_dpo")))
        .await
        .unwrap();
    assert!(!report.key_destroyed);
    assert!(report.tenants.is_empty());
    let global = store
        .query(&AuditQuery::new().action(action(SUBJECT_ERASED)))
        .await
        .unwrap();
    assert_eq!(global.events.len(), 1);
    assert_eq!(global.events[0].tenant_id(), None);
    let late = Event::builder(
        action("app.created"),
        Actor::user("user_nobody").with_email("n@example.com"),
    )
    .build();
    store.write_batch(std::slice::from_ref(&late)).await.unwrap();
    assert_eq!(
        store.get(late.id()).await.unwrap().unwrap().actor().email.as_deref(),
        Some(ERASED)
    );
    let error = store.place_legal_hold(" ", "x", &Actor::user("u")).await.unwrap_err();
    assert!(matches!(error, StoreError::InvalidSubject(_)), "{error}");
}

/// A sink that keeps the emails it was given.
#[derive(Debug, Default, Clone)]
struct Emails {
    got: Arc<Mutex<Vec<Option<String>>>>,
    sealed: bool,
}

impl StreamSink for Emails {
    fn deliver<'a>(&'a self, batch: &'a Batch) -> DeliverFuture<'a> {
        Box::pin(async move {
            let emails = batch.events.iter().map(|event| event.actor().email.clone());
            self.got.lock().unwrap().extend(emails);
            Ok(())
        })
    }

    fn describe(&self) -> String {
        "emails".to_owned()
    }

    fn wants_sealed(&self) -> bool {
        self.sealed
    }
}

async fn stream_sinks_get_opened_events_unless_they_keep_proofs(db: TestDb) {
    let store = sealing(db.connect().await);
    let people = People::new();
    store.write_batch(&history(&people)[..1]).await.unwrap();
    let (opened, sealed) = (
        Emails::default(),
        Emails {
            sealed: true,
            ..Emails::default()
        },
    );
    let streams = Streamer::new(store.clone())
        .sink("siem", opened.clone())
        .sink("archive", sealed.clone())
        .start();
    streams.delivered_all().await.unwrap();
    assert_eq!(*opened.got.lock().unwrap(), [Some(people.bob_email.clone())]);
    let kept = sealed.got.lock().unwrap().clone();
    assert!(kept[0].as_deref().unwrap().starts_with("sealed:v1:"), "{kept:?}");

    store
        .erase_subject(&Erasure::new("user_bob", Actor::user("user_dpo")))
        .await
        .unwrap();
    store.write_batch(&history(&people)[..1]).await.unwrap();
    streams.delivered_all().await.unwrap();
    let got = opened.got.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "the first event, the erasure, the later one: {got:?}");
    assert_eq!(got[2].as_deref(), Some(ERASED));
    streams.shutdown().await;
}

async fn transactional_writes_are_sealed_too(db: TestDb) {
    let store = sealing(db.connect().await);
    let people = People::new();
    let events = history(&people);
    let stored = db.record_in(&store, "SELECT 1", &events, support::End::Commit).await;
    assert!(stored[0].actor().email.as_deref().unwrap().starts_with("sealed:v1:"));
    assert_eq!(
        tenant_page(&store).await[0].actor().email.as_deref(),
        Some(people.bob_email.as_str())
    );
    assert_no_plaintext(&db, &people, &[&people.bob_email, &people.bob_phone]).await;
    // Rolled back: neither the events nor a new subject's key remain.
    let carol = Event::builder(
        action("app.created"),
        Actor::user("user_carol").with_email("c@example.com"),
    )
    .tenant("acme")
    .build();
    db.record_in(&store, "SELECT 1", &[carol], support::End::Rollback).await;
    assert_eq!(
        db.integers("SELECT count(*) FROM audit_subject_keys WHERE subject = 'user_carol'")
            .await,
        [0]
    );
}
