//! The [`Checkpointer`] over a real store: it signs only heads that moved,
//! hands each checkpoint to every sink (a directory, an `AsyncWrite`, an
//! HTTP witness over loopback), keeps going when a sink fails, and signs
//! once more on shutdown.

#[allow(dead_code, reason = "each test binary uses a part of the shared support")]
#[macro_use]
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit_core::{Action, Actor, AuditSink, Event};
use audit_store::checkpoint::{Checkpoint, Checkpointer, DirectorySink, SigningKey, WriterSink};
use audit_store::{Store, TreeHead};
use support::TestDb;

on_both_backends!(
    signs_moved_heads_into_the_store_and_every_sink,
    a_failing_sink_does_not_stop_the_others_or_the_store,
    run_signs_on_schedule_and_once_more_on_shutdown,
);

const LOG: &str = "audit.example.com";

async fn write(store: &Store, tenant: &str, count: usize) {
    let events: Vec<Event> = (0..count)
        .map(|n| {
            Event::builder(Action::new("app.created").unwrap(), Actor::user(format!("u{n}")))
                .tenant(tenant)
                .build()
        })
        .collect();
    store.write_batch(&events).await.unwrap();
}

/// What a witness was sent, and a bell rung on each.
type Received = (Arc<Mutex<Vec<String>>>, Arc<tokio::sync::Notify>);

/// A witness on loopback that keeps what it is sent, answering `status`.
async fn witness(status: u16) -> (String, Received) {
    let received: Received = Default::default();
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/add-checkpoint",
        axum::routing::post(move |body: String| {
            let (kept, bell) = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                bell.notify_one();
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/add-checkpoint", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("audit-checkpointer-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn signs_moved_heads_into_the_store_and_every_sink(db: TestDb) {
    let store = db.connect().await;
    write(&store, "acme", 3).await;
    write(&store, "globex", 2).await;
    let key = SigningKey::generate(LOG).unwrap();
    let dir = temp_dir();
    let (url, received) = witness(200).await;
    let (pipe, mut reader) = tokio::io::duplex(1 << 16);
    let checkpointer = Checkpointer::new(store.clone(), key.clone())
        .sink(DirectorySink::new(dir.join("checkpoints")))
        .sink(WriterSink::new(pipe, "pipe"))
        .sink(audit_store::checkpoint::HttpSink::new(&url).unwrap());

    let run = checkpointer.checkpoint_now().await.unwrap();
    assert!(run.refused.is_empty() && run.sink_failures.is_empty(), "{run:?}");
    let signed: Vec<(&str, u64)> = run.signed.iter().map(|c| (c.stream.as_str(), c.size)).collect();
    assert_eq!(signed, [("tenant:acme", 3), ("tenant:globex", 2)]);
    for checkpoint in &run.signed {
        let opened = Checkpoint::open(&checkpoint.note, &key.verifier_key()).unwrap();
        assert_eq!(opened.origin, Checkpoint::origin(LOG, &checkpoint.stream));
        let head = store.tree_head(&checkpoint.stream, None).await.unwrap();
        assert_eq!((opened.size, opened.root), (head.size, head.root));
        // Kept in the store, in every sink.
        assert_eq!(
            store.latest_checkpoint(&checkpoint.stream).await.unwrap().as_ref(),
            Some(checkpoint)
        );
        let file = DirectorySink::new(dir.join("checkpoints")).path_of(&checkpoint.stream, checkpoint.size);
        assert_eq!(std::fs::read_to_string(file).unwrap(), checkpoint.note);
        assert!(received.0.lock().unwrap().contains(&checkpoint.note));
    }
    let mut piped = vec![0; 1 << 16];
    let read = tokio::io::AsyncReadExt::read(&mut reader, &mut piped).await.unwrap();
    let piped = String::from_utf8_lossy(&piped[..read]).into_owned();
    assert_eq!(piped, format!("{}\n{}\n", run.signed[0].note, run.signed[1].note));

    // Only acme moves: only acme is signed again.
    write(&store, "acme", 1).await;
    let run = checkpointer.checkpoint_now().await.unwrap();
    assert_eq!(run.signed.iter().map(|c| c.size).collect::<Vec<_>>(), [4]);
    let kept = store.checkpoints("tenant:acme", None, 10).await.unwrap();
    assert_eq!(
        kept.iter().map(|c| c.size).collect::<Vec<_>>(),
        [3, 4],
        "smallest tree first"
    );
    let heads: Vec<TreeHead> = kept
        .iter()
        .map(|c| TreeHead {
            stream: c.stream.clone(),
            size: c.size,
            root: c.root,
        })
        .collect();
    assert_eq!(
        store
            .verify_against("tenant:acme", &heads)
            .await
            .unwrap()
            .checkpoints_met,
        2
    );
    assert!(checkpointer.checkpoint_now().await.unwrap().signed.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

async fn a_failing_sink_does_not_stop_the_others_or_the_store(db: TestDb) {
    let store = db.connect().await;
    write(&store, "acme", 2).await;
    let dir = temp_dir();
    let (refusing, _) = witness(503).await;
    let checkpointer = Checkpointer::new(store.clone(), SigningKey::generate(LOG).unwrap())
        .sink(audit_store::checkpoint::HttpSink::new(&refusing).unwrap())
        .sink(audit_store::checkpoint::HttpSink::new("http://127.0.0.1:1/closed").unwrap())
        .sink(DirectorySink::new(dir.join("checkpoints")));
    let run = checkpointer.checkpoint_now().await.unwrap();
    assert_eq!(run.signed.len(), 1);
    let failures: Vec<String> = run
        .sink_failures
        .iter()
        .map(|f| format!("{}: {}", f.sink, f.error))
        .collect();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures[0].contains("answered 503"), "{failures:?}");
    assert!(
        failures[1].starts_with("POST http://127.0.0.1:1/closed"),
        "{failures:?}"
    );
    assert!(
        DirectorySink::new(dir.join("checkpoints"))
            .path_of("tenant:acme", 2)
            .is_file(),
        "the directory still took it"
    );
    assert!(store.latest_checkpoint("tenant:acme").await.unwrap().is_some());
    let _ = std::fs::remove_dir_all(dir);
}

async fn run_signs_on_schedule_and_once_more_on_shutdown(db: TestDb) {
    let store = db.connect().await;
    let (url, received) = witness(200).await;
    let checkpointer = Checkpointer::new(store.clone(), SigningKey::generate(LOG).unwrap())
        .interval(Duration::from_millis(20))
        .sink(audit_store::checkpoint::HttpSink::new(&url).unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(checkpointer.run(async {
        let _ = stopped.await;
    }));
    write(&store, "acme", 1).await;
    // The schedule signs it: the witness hears of it.
    received.1.notified().await;
    assert_eq!(received.0.lock().unwrap().len(), 1);
    // Written just before shutdown: signed by the last round.
    write(&store, "acme", 1).await;
    stop.send(()).unwrap();
    task.await.unwrap();
    let latest = store.latest_checkpoint("tenant:acme").await.unwrap().unwrap();
    assert_eq!(latest.size, 2);
    assert!(received.0.lock().unwrap().contains(&latest.note));
}
