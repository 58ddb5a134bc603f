//! The archive sink over a real store, writing through `object_store` to a
//! local directory: one gzipped NDJSON object per stream and ended hour,
//! each line a proof that verifies offline against the signed checkpoint
//! written beside it; redeliveries rewrite the same bytes; without proofs
//! the events are written in the chosen format; a delivery with no
//! covering checkpoint fails saying what it waits for.

#![cfg(feature = "archive")]

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit_core::format::EventFormat;
use audit_core::{Action, Actor, AuditSink, Event, RetryPolicy, Timestamp};
use audit_store::checkpoint::{Checkpoint, Checkpointer, SigningKey};
use audit_store::stream::{ArchiveSink, Batch, DeliverFuture, StreamSink, Streamer};
use audit_store::{EventProof, Store, VerifierKey};
use object_store::local::LocalFileSystem;
use serde_json::Value;
use support::TestDb;
use tokio::sync::Notify;

on_both_backends!(
    each_ended_hour_is_one_object_whose_proofs_verify_offline,
    a_redelivery_rewrites_the_same_bytes,
    without_proofs_the_events_are_written_in_the_chosen_format,
    a_delivery_waits_for_a_covering_checkpoint_then_fails_naming_the_stream,
);

const LOG: &str = "archive.test";
const PREFIX: &str = "audit/trail";
/// Long enough for any test's deliveries on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);
const HOUR_MICROS: i64 = 3_600_000_000;

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
    }
}

/// The hour (since the epoch) `at` is in.
fn hour_of(at: Timestamp) -> i64 {
    at.unix_micros().div_euclid(HOUR_MICROS)
}

/// The folders of `hour`: `YYYY/MM/DD/HH`.
fn hour_folders(hour: i64) -> String {
    Timestamp::from_unix_micros(hour * HOUR_MICROS)
        .unwrap()
        .as_datetime()
        .format("%Y/%m/%d/%H")
        .to_string()
}

/// An event of `tenant` that happened `second` seconds into `hour`.
fn event_at(tenant: Option<&str>, hour: i64, second: i64) -> Event {
    let at = Timestamp::from_unix_micros(hour * HOUR_MICROS + second * 1_000_000).unwrap();
    let builder =
        Event::builder(Action::new("app.created").unwrap(), Actor::user(format!("u{second}"))).occurred_at(at);
    match tenant {
        Some(tenant) => builder.tenant(tenant).build(),
        None => builder.build(),
    }
}

/// A temp directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("audit-archive-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn objects(&self) -> Arc<LocalFileSystem> {
        Arc::new(LocalFileSystem::new_with_prefix(&self.0).unwrap())
    }

    /// Every file under the directory, by its path relative to it, with
    /// its bytes.
    fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut folders = vec![self.0.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    let name = relative(&self.0, &path);
                    files.insert(name, std::fs::read(&path).unwrap());
                }
            }
        }
        files
    }

    fn clear(&self) {
        std::fs::remove_dir_all(&self.0).unwrap();
        std::fs::create_dir_all(&self.0).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn relative(root: &Path, path: &Path) -> String {
    let parts: Vec<String> = path
        .strip_prefix(root)
        .unwrap()
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// What a [`Rung`] sink delivered, and a bell rung after each delivery.
#[derive(Debug, Default)]
struct Delivered {
    batches: Mutex<Vec<(String, u64, u64)>>,
    bell: Notify,
}

impl Delivered {
    /// Waits (without polling) until `count` batches were delivered.
    async fn wait_for(&self, count: usize) -> Vec<(String, u64, u64)> {
        tokio::time::timeout(PATIENCE, async {
            loop {
                {
                    let batches = self.batches.lock().unwrap();
                    if batches.len() >= count {
                        return batches.clone();
                    }
                }
                self.bell.notified().await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{count} deliveries within {PATIENCE:?}: {:?}",
                self.batches.lock().unwrap()
            )
        })
    }
}

/// The archive sink, ringing a bell after each delivery it made.
#[derive(Debug)]
struct Rung {
    archive: ArchiveSink,
    delivered: Arc<Delivered>,
}

impl StreamSink for Rung {
    fn deliver<'a>(&'a self, batch: &'a Batch) -> DeliverFuture<'a> {
        Box::pin(async move {
            self.archive.deliver(batch).await?;
            let (first, last) = batch.seqs();
            self.delivered
                .batches
                .lock()
                .unwrap()
                .push((batch.stream.clone(), first, last));
            self.delivered.bell.notify_one();
            Ok(())
        })
    }

    fn describe(&self) -> String {
        self.archive.describe()
    }
}

/// Runs `archive` under `name` until it delivered `batches` batches; what
/// it delivered.
async fn archive_with(store: &Store, name: &str, archive: ArchiveSink, batches: usize) -> Vec<(String, u64, u64)> {
    let delivered = Arc::new(Delivered::default());
    let sink = Rung {
        archive,
        delivered: Arc::clone(&delivered),
    };
    let streams = Streamer::new(store.clone())
        .sink_with(name, sink, ArchiveSink::options().retry(fast_retry()))
        .start();
    let mut done = delivered.wait_for(batches).await;
    streams.shutdown().await;
    done.sort();
    done
}

/// A store with events of two tenants three and two hours ago, a late one,
/// and one each in the hour under way (written last), signed.
struct Trail {
    store: Store,
    key: SigningKey,
    /// The hour under way when the events were written.
    now_hour: i64,
    /// Each expected object's name (without the extension) and the ids of
    /// its events, in seq order.
    expected: BTreeMap<String, Vec<String>>,
}

async fn trail(db: &TestDb) -> Trail {
    let store = db.connect().await;
    let now = Timestamp::now();
    let now_hour = hour_of(now);
    let (h3, h2) = (now_hour - 3, now_hour - 2);
    let acme: Vec<Event> = vec![
        event_at(Some("acme"), h3, 10),
        event_at(Some("acme"), h3, 20),
        event_at(Some("acme"), h3, 3599),
        event_at(Some("acme"), h2, 0),
        event_at(Some("acme"), h2, 30),
    ];
    // Its last event happened three hours ago but comes after two hours
    // ago's: late.
    let globex: Vec<Event> = vec![
        event_at(Some("globex"), h3, 5),
        event_at(Some("globex"), h3, 6),
        event_at(Some("globex"), h2, 7),
        event_at(Some("globex"), h2, 8),
        event_at(Some("globex"), h3, 9),
    ];
    store.write_batch(&acme).await.unwrap();
    store.write_batch(&globex).await.unwrap();
    let current = |tenant: &str| {
        Event::builder(Action::new("app.created").unwrap(), Actor::user("u-now"))
            .tenant(tenant)
            .occurred_at(now)
            .build()
    };
    store.write_batch(&[current("acme"), current("globex")]).await.unwrap();

    let key = SigningKey::generate(LOG).unwrap();
    Checkpointer::new(store.clone(), key.clone())
        .checkpoint_now()
        .await
        .unwrap();

    let ids = |events: &[Event]| -> Vec<String> { events.iter().map(|event| event.id().to_string()).collect() };
    let name = |stream: &str, hour: i64, first: u64, last: u64| {
        format!("{PREFIX}/{stream}/{}/{first:020}-{last:020}", hour_folders(hour))
    };
    let expected = BTreeMap::from([
        (name("tenant%3Aacme", h3, 1, 3), ids(&acme[0..3])),
        (name("tenant%3Aacme", h2, 4, 5), ids(&acme[3..5])),
        (name("tenant%3Aglobex", h3, 1, 2), ids(&globex[0..2])),
        (name("tenant%3Aglobex", h2, 3, 4), ids(&globex[2..4])),
        (name("tenant%3Aglobex", h3, 5, 5), ids(&globex[4..5])),
    ]);
    Trail {
        store,
        key,
        now_hour,
        expected,
    }
}

impl Trail {
    /// The files under `dir`, less those of the hour that was under way
    /// when the events were written if it has ended since (the sink may
    /// then have archived it).
    fn archived(&self, dir: &TempDir) -> BTreeMap<String, Vec<u8>> {
        let mut files = dir.files();
        if hour_of(Timestamp::now()) != self.now_hour {
            let under_way = format!("/{}/", hour_folders(self.now_hour));
            files.retain(|name, _| !name.contains(&under_way));
        }
        files
    }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
    text
}

async fn each_ended_hour_is_one_object_whose_proofs_verify_offline(db: TestDb) {
    let trail = trail(&db).await;
    let dir = TempDir::new();
    let archive = ArchiveSink::new(trail.store.clone(), dir.objects(), PREFIX);
    assert!(
        archive.describe().starts_with("archive LocalFileSystem("),
        "{}",
        archive.describe()
    );
    assert!(
        archive.describe().ends_with("under `audit/trail` (proofs)"),
        "{}",
        archive.describe()
    );
    let delivered = archive_with(&trail.store, "archive", archive, 5).await;
    assert_eq!(
        delivered,
        [
            ("tenant:acme".to_owned(), 1, 3),
            ("tenant:acme".to_owned(), 4, 5),
            ("tenant:globex".to_owned(), 1, 2),
            ("tenant:globex".to_owned(), 3, 4),
            ("tenant:globex".to_owned(), 5, 5),
        ]
    );

    // Exactly one object and its checkpoint per batch: none for the hour
    // under way.
    let files = trail.archived(&dir);
    let names: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    let wanted: BTreeSet<String> = trail
        .expected
        .keys()
        .flat_map(|base| [format!("{base}.ndjson.gz"), format!("{base}.checkpoint")])
        .collect();
    assert_eq!(names, wanted.iter().map(String::as_str).collect::<BTreeSet<_>>());
    if hour_of(Timestamp::now()) == trail.now_hour {
        let positions = trail.store.stream_positions("archive", None).await.unwrap();
        for position in positions {
            assert_eq!((position.head, position.delivered), (6, 5), "{position:?}");
        }
    }

    let verifier: VerifierKey = trail.key.verifier_key();
    for (base, ids) in &trail.expected {
        let stream = if base.contains("acme") {
            "tenant:acme"
        } else {
            "tenant:globex"
        };
        let newest = trail.store.latest_checkpoint(stream).await.unwrap().unwrap();
        assert_eq!(newest.size, 6);
        // The signed note beside the object is the stream's checkpoint.
        let note = String::from_utf8(files[&format!("{base}.checkpoint")].clone()).unwrap();
        assert_eq!(note, newest.note);
        let opened = Checkpoint::open(&note, &verifier).unwrap();
        assert_eq!((opened.origin, opened.size), (Checkpoint::origin(LOG, stream), 6));

        let text = gunzip(&files[&format!("{base}.ndjson.gz")]);
        assert!(text.ends_with('\n'));
        let mut seen = Vec::new();
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            let keys: BTreeSet<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                BTreeSet::from(["event", "leaf_index", "tree_size", "audit_path", "checkpoint"])
            );
            // As `audit verify-event` checks a line.
            let proof: EventProof = serde_json::from_value(value).unwrap();
            let verified = proof.verify(&verifier, verifier.name()).unwrap();
            assert_eq!(verified.stream, stream);
            assert_eq!(verified.checkpoint.size, 6);
            assert_eq!(proof.checkpoint, note);
            assert_eq!(proof.leaf_index + 1, verified.seq);
            // Each event is in the hour its object is named by.
            let hour = Timestamp::from_unix_micros(hour_of(proof.event.occurred_at()) * HOUR_MICROS).unwrap();
            assert!(base.contains(&format!("/{}/", hour.as_datetime().format("%Y/%m/%d/%H"))));
            seen.push(proof.event.id().to_string());
        }
        assert_eq!(&seen, ids, "{base}");
    }

    // A line tampered with does not verify.
    let base = trail.expected.keys().next().unwrap();
    let text = gunzip(&files[&format!("{base}.ndjson.gz")]);
    let mut value: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    value["event"]["actor"]["id"] = Value::from("someone-else");
    let proof: EventProof = serde_json::from_value(value).unwrap();
    assert!(proof.verify(&verifier, verifier.name()).is_err());
}

async fn a_redelivery_rewrites_the_same_bytes(db: TestDb) {
    let trail = trail(&db).await;
    let dir = TempDir::new();
    let archive = ArchiveSink::new(trail.store.clone(), dir.objects(), PREFIX);
    archive_with(&trail.store, "archive", archive, 5).await;
    let first = trail.archived(&dir);
    assert_eq!(first.len(), 10);

    // Another sink over the same store and prefix delivers every batch
    // again, from the beginning: the same names, byte for byte.
    dir.clear();
    let again = ArchiveSink::new(trail.store.clone(), dir.objects(), PREFIX);
    let delivered = archive_with(&trail.store, "archive-again", again, 5).await;
    assert_eq!(delivered.len(), 5);
    assert_eq!(trail.archived(&dir), first);

    // And over what is there, too.
    let once_more = ArchiveSink::new(trail.store.clone(), dir.objects(), PREFIX);
    archive_with(&trail.store, "archive-once-more", once_more, 5).await;
    assert_eq!(trail.archived(&dir), first);
}

async fn without_proofs_the_events_are_written_in_the_chosen_format(db: TestDb) {
    // A store that signs no checkpoints.
    let store = db.connect().await;
    let hour = hour_of(Timestamp::now()) - 2;
    let events = vec![
        event_at(Some("acme"), hour, 1),
        event_at(None, hour, 2),
        event_at(Some("acme"), hour, 3),
    ];
    store.write_batch(&events).await.unwrap();
    let dir = TempDir::new();
    let archive = ArchiveSink::new(store.clone(), dir.objects(), "")
        .without_proofs()
        .format(EventFormat::Ocsf);
    assert!(
        archive.describe().ends_with("(ocsf, no proofs)"),
        "{}",
        archive.describe()
    );
    archive_with(&store, "archive", archive, 2).await;

    let files = dir.files();
    let folders = hour_folders(hour);
    let acme = format!("tenant%3Aacme/{folders}/{:020}-{:020}.ndjson.gz", 1, 2);
    let global = format!("global/{folders}/{:020}-{:020}.ndjson.gz", 1, 1);
    assert_eq!(
        files.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from([acme.as_str(), global.as_str()])
    );
    let records = |name: &str| -> Vec<Value> {
        gunzip(&files[name])
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    let acme = records(&acme);
    let uids: Vec<&str> = acme
        .iter()
        .map(|record| record["metadata"]["uid"].as_str().unwrap())
        .collect();
    assert_eq!(uids, [events[0].id().to_string(), events[2].id().to_string()]);
    for record in &acme {
        assert!(record["class_uid"].is_u64(), "{record}");
        assert_eq!(record["metadata"]["log_name"], "tenant:acme");
        assert!(record.get("audit_path").is_none());
    }
    let global = records(&global);
    assert_eq!(global.len(), 1);
    assert_eq!(global[0]["metadata"]["uid"], events[1].id().to_string());
}

async fn a_delivery_waits_for_a_covering_checkpoint_then_fails_naming_the_stream(db: TestDb) {
    let store = db.connect().await;
    let hour = hour_of(Timestamp::now()) - 2;
    let stored = |event: Event| {
        let store = store.clone();
        async move {
            store.write_batch(std::slice::from_ref(&event)).await.unwrap();
            store.get(event.id()).await.unwrap().unwrap()
        }
    };
    let first = Batch::new(
        "tenant:acme",
        vec![
            stored(event_at(Some("acme"), hour, 1)).await,
            stored(event_at(Some("acme"), hour, 2)).await,
        ],
    );
    let dir = TempDir::new();
    let sink = ArchiveSink::new(store.clone(), dir.objects(), PREFIX).checkpoint_wait(Duration::from_millis(50));

    // The stream has no checkpoint.
    let error = sink.deliver(&first).await.unwrap_err().to_string();
    assert!(
        error.contains("stream `tenant:acme` covering seq 2") && error.contains("it has none"),
        "{error}"
    );
    assert!(error.contains("waited 50 ms"), "{error}");
    assert!(dir.files().is_empty());

    // Its newest checkpoint does not cover the batch.
    let checkpointer = Checkpointer::new(store.clone(), SigningKey::generate(LOG).unwrap());
    checkpointer.checkpoint_now().await.unwrap();
    let second = Batch::new("tenant:acme", vec![stored(event_at(Some("acme"), hour, 3)).await]);
    let error = sink.deliver(&second).await.unwrap_err().to_string();
    assert!(
        error.contains("stream `tenant:acme` covering seq 3") && error.contains("its newest covers 2 events"),
        "{error}"
    );
    assert!(dir.files().is_empty());

    // A covered batch is written.
    sink.deliver(&first).await.unwrap();
    let folders = hour_folders(hour);
    let name = |first: u64, last: u64, extension: &str| {
        format!("{PREFIX}/tenant%3Aacme/{folders}/{first:020}-{last:020}.{extension}")
    };
    assert_eq!(
        dir.files().into_keys().collect::<BTreeSet<_>>(),
        BTreeSet::from([name(1, 2, "checkpoint"), name(1, 2, "ndjson.gz")])
    );

    // A wait ends when the checkpoint comes.
    let waiting = ArchiveSink::new(store.clone(), dir.objects(), PREFIX).checkpoint_wait(PATIENCE);
    let delivery = tokio::spawn(async move { waiting.deliver(&second).await });
    checkpointer.checkpoint_now().await.unwrap();
    tokio::time::timeout(PATIENCE, delivery)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(dir.files().contains_key(&name(3, 3, "ndjson.gz")));

    // A batch of two hours is refused: the sink runs hourly.
    let next_hour = stored(event_at(Some("acme"), hour + 1, 0)).await;
    let two_hours = Batch::new("tenant:acme", vec![first.events[1].clone(), next_hour]);
    let error = sink.deliver(&two_hours).await.unwrap_err().to_string();
    assert!(
        error.contains("more than one hour") && error.contains("ArchiveSink::options()"),
        "{error}"
    );
}
