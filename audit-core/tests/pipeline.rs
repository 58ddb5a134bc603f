//! The delivery pipeline: nothing is lost silently.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use audit_core::{
    Action, Actor, AuditSink, Auditor, Event, EventBuilder, MemorySink, OverflowPolicy, RecordError, RetryPolicy,
    ShutdownError, SinkError,
};
use uuid::Uuid;

fn event(n: usize) -> EventBuilder {
    Event::builder(
        Action::from_static("app.created").unwrap(),
        Actor::user(format!("user_{n}")),
    )
    .tenant("acme")
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
    }
}

fn ids(sink: &MemorySink) -> Vec<Uuid> {
    sink.events().iter().map(Event::id).collect()
}

#[tokio::test(start_paused = true)]
async fn sink_failing_three_times_then_recovering_loses_and_duplicates_nothing() {
    let sink = MemorySink::new();
    sink.fail_next(3);
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .batch_size(1000)
        .retry(fast_retry())
        .start(sink.clone());
    let mut sent = Vec::new();
    for n in 0..100 {
        let builder = event(n);
        sent.push(builder.id());
        auditor.record(builder).await.unwrap();
    }
    auditor.flush().await.unwrap();

    let stored = ids(&sink);
    assert_eq!(stored.len(), 100, "every event arrives");
    assert_eq!(
        stored.iter().collect::<HashSet<_>>().len(),
        100,
        "no event arrives twice"
    );
    assert_eq!(
        stored.iter().collect::<HashSet<_>>(),
        sent.iter().collect::<HashSet<_>>(),
        "retries reuse the ids"
    );
    let stats = auditor.stats();
    assert_eq!(stats.retried, 3);
    assert_eq!(stats.written, 100);
    assert_eq!(sink.write_attempts(), stats.batches + 3);
}

/// Stores the first half of a batch, then fails: a retried batch must not duplicate.
struct HalfThenFail {
    inner: MemorySink,
    failed_once: AtomicBool,
}

impl AuditSink for HalfThenFail {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        if !self.failed_once.swap(true, Ordering::SeqCst) {
            self.inner.write_batch(&batch[..batch.len() / 2]).await?;
            return Err(SinkError::transient("connection lost mid-batch"));
        }
        self.inner.write_batch(batch).await
    }
}

#[tokio::test(start_paused = true)]
async fn partially_written_batch_is_retried_whole_with_the_same_ids() {
    let inner = MemorySink::new();
    let sink = HalfThenFail {
        inner: inner.clone(),
        failed_once: AtomicBool::new(false),
    };
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .batch_size(64)
        .retry(fast_retry())
        .start(sink);
    for n in 0..64 {
        auditor.record(event(n)).await.unwrap();
    }
    auditor.flush().await.unwrap();
    let stored = ids(&inner);
    assert_eq!(stored.len(), 64);
    assert_eq!(stored.iter().collect::<HashSet<_>>().len(), 64);
    assert_eq!(auditor.stats().retried, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_ten_thousand_queued_writes_them_all_before_the_deadline() {
    let sink = MemorySink::new();
    sink.pause();
    let auditor = Auditor::builder().capacity(20_000).start(sink.clone());
    let mut sent = HashSet::new();
    for n in 0..10_000 {
        let builder = event(n);
        sent.insert(builder.id());
        auditor.record(builder).await.unwrap();
    }
    assert!(
        auditor.stats().queue_depth >= 9_000,
        "the events are queued, not written: {:?}",
        auditor.stats()
    );
    sink.resume();
    let stats = auditor
        .shutdown(Duration::from_secs(60))
        .await
        .expect("drained within the deadline");

    let stored: HashSet<_> = ids(&sink).into_iter().collect();
    assert!(sent.is_subset(&stored), "every queued event was written");
    assert_eq!(
        stats.written, 10_002,
        "10,000 events plus audit.started and audit.stopped"
    );
    assert_eq!(stats.dropped + stats.refused + stats.rejected, 0);
    let actions = sink.actions();
    assert_eq!(actions.first().map(String::as_str), Some("audit.started"));
    assert_eq!(actions.last().map(String::as_str), Some("audit.stopped"));
    assert_eq!(
        auditor.record(event(0)).await,
        Err(RecordError::Closed),
        "nothing is accepted after shutdown"
    );
    assert!(matches!(
        auditor.shutdown(Duration::from_secs(1)).await,
        Err(ShutdownError::AlreadyShutDown)
    ));
}

#[tokio::test(start_paused = true)]
async fn block_policy_under_a_stalled_sink_refuses_after_the_timeout_and_counts() {
    let sink = MemorySink::new();
    sink.pause();
    let timeout = Duration::from_millis(250);
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .capacity(4)
        .batch_size(1)
        .linger(Duration::ZERO)
        .overflow(OverflowPolicy::Block { timeout })
        .start(sink.clone());

    let (mut accepted, mut refused) = (0, 0);
    for n in 0..10 {
        let started = tokio::time::Instant::now();
        match auditor.record(event(n)).await {
            Ok(()) => accepted += 1,
            Err(RecordError::Overflow { waited }) => {
                assert!(waited >= timeout, "waited the whole timeout: {waited:?}");
                assert!(started.elapsed() >= timeout);
                refused += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    // Four fit in the queue and one more sits in the stalled writer's hands.
    assert_eq!(accepted, 5);
    assert_eq!(refused, 5);
    let stats = auditor.stats();
    assert_eq!(stats.refused, 5);
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.queued, 5);

    sink.resume();
    auditor.flush().await.unwrap();
    assert_eq!(sink.len(), 5, "every accepted event is written once the sink recovers");
}

#[tokio::test(start_paused = true)]
async fn drop_and_count_policy_under_a_stalled_sink_never_waits_and_counts_every_drop() {
    let sink = MemorySink::new();
    sink.pause();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .capacity(4)
        .batch_size(1)
        .linger(Duration::ZERO)
        .overflow(OverflowPolicy::DropAndCount)
        .start(sink.clone());
    // Let the writer pick up the first event so the queue state is known.
    auditor.record(event(0)).await.unwrap();
    tokio::task::yield_now().await;

    let started = tokio::time::Instant::now();
    let mut dropped = 0;
    for n in 1..1000 {
        match auditor.record(event(n)).await {
            Ok(()) => {}
            Err(RecordError::Dropped) => dropped += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started.elapsed(), Duration::ZERO, "fail-open never waits");
    assert_eq!(dropped, 995, "four fit in the queue, the rest are dropped");
    assert_eq!(auditor.stats().dropped, 995);
    assert_eq!(auditor.stats().refused, 0);

    sink.resume();
    auditor.flush().await.unwrap();
    assert_eq!(sink.len(), 5);
}

/// Refuses, for good, any event whose description says "poison".
#[derive(Clone, Default)]
struct PoisonSink {
    inner: MemorySink,
}

impl AuditSink for PoisonSink {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        if batch.iter().any(|e| e.description() == Some("poison")) {
            return Err(SinkError::rejected("value violates a constraint"));
        }
        self.inner.write_batch(batch).await
    }
}

#[tokio::test]
async fn a_permanently_rejected_event_does_not_take_its_batch_down_with_it() {
    let sink = PoisonSink::default();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .batch_size(10)
        .start(sink.clone());
    for n in 0..10 {
        let builder = if n == 3 {
            event(n).description("poison")
        } else {
            event(n)
        };
        auditor.record(builder).await.unwrap();
    }
    auditor.flush().await.unwrap();
    assert_eq!(sink.inner.len(), 9, "the nine good events are written");
    let stats = auditor.stats();
    assert_eq!(stats.rejected, 1);
    assert_eq!(stats.written, 9);
    assert_eq!(stats.retried, 0, "a permanent error is not retried");
}

#[tokio::test(start_paused = true)]
async fn shutdown_past_its_deadline_reports_and_counts_what_was_lost() {
    let sink = MemorySink::new();
    sink.pause();
    let auditor = Auditor::builder().lifecycle_events(false).start(sink.clone());
    for n in 0..50 {
        auditor.record(event(n)).await.unwrap();
    }
    let err = auditor.shutdown(Duration::from_millis(500)).await.unwrap_err();
    let ShutdownError::DeadlineExceeded {
        undelivered,
        kept_in_spool,
        stats,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!((undelivered, kept_in_spool), (50, 0));
    assert_eq!(stats.dropped, 50);
    assert_eq!(sink.len(), 0);
}

#[tokio::test]
async fn flush_waits_for_the_sink_and_linger_does_not_delay_it() {
    let sink = MemorySink::new();
    // A linger far longer than any test: flush must not wait for it.
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .linger(Duration::from_secs(3600))
        .start(sink.clone());
    auditor.record(event(1)).await.unwrap();
    auditor.flush().await.unwrap();
    assert_eq!(sink.len(), 1);
}

#[tokio::test]
async fn events_are_prepared_with_the_auditors_policy() {
    let sink = MemorySink::new();
    let policy = audit_core::EventPolicy {
        redactor: audit_core::Redactor::new().deny("iban"),
        ..Default::default()
    };
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .policy(policy)
        .start(sink.clone());
    auditor
        .record(event(1).metadata("payout_iban", "DE89370400440532013000"))
        .await
        .unwrap();
    auditor.flush().await.unwrap();
    let stored = &sink.events()[0];
    assert_eq!(stored.metadata()["payout_iban"], audit_core::REDACTED);
}

#[tokio::test]
async fn concurrent_producers_lose_nothing() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .capacity(128)
        .start(sink.clone());
    let producers: Vec<_> = (0..8)
        .map(|p| {
            let auditor = auditor.clone();
            tokio::spawn(async move {
                for n in 0..500 {
                    auditor.record(event(p * 1000 + n)).await.unwrap();
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }
    auditor.flush().await.unwrap();
    assert_eq!(sink.len(), 4000);
    assert_eq!(auditor.stats().written, 4000);
}

/// Records the size of every batch it is handed, and prefers `preferred`.
struct BatchSizes {
    sizes: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
    preferred: Option<usize>,
}

impl AuditSink for BatchSizes {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        self.sizes.lock().unwrap().push(batch.len());
        Ok(())
    }

    fn preferred_batch_size(&self) -> Option<usize> {
        self.preferred
    }
}

/// The batch sizes an auditor built by `builder` hands a sink preferring
/// `preferred`, for 25 events queued at once.
async fn batches(builder: audit_core::AuditorBuilder, preferred: Option<usize>) -> Vec<usize> {
    let sizes = std::sync::Arc::default();
    let sink = BatchSizes {
        sizes: std::sync::Arc::clone(&sizes),
        preferred,
    };
    let auditor = builder.lifecycle_events(false).start(sink);
    for n in 0..25 {
        auditor.record(event(n)).await.unwrap();
    }
    auditor.flush().await.unwrap();
    let sizes = sizes.lock().unwrap().clone();
    assert_eq!(
        sizes.iter().sum::<usize>(),
        25,
        "every event is written once: {sizes:?}"
    );
    sizes
}

#[tokio::test(start_paused = true)]
async fn the_sinks_preferred_batch_size_is_the_default_and_an_explicit_one_wins() {
    let preferred = batches(Auditor::builder(), Some(7)).await;
    assert_eq!(preferred.iter().max(), Some(&7), "{preferred:?}");
    assert!(preferred.len() >= 4, "25 events in batches of at most 7: {preferred:?}");

    let explicit = batches(Auditor::builder().batch_size(5), Some(7)).await;
    assert_eq!(explicit.iter().max(), Some(&5), "{explicit:?}");

    let default = batches(Auditor::builder(), None).await;
    assert_eq!(default, [25], "the default (512) takes all 25 at once");
    assert_eq!(
        Auditor::builder().batch_size_for(&MemorySink::new()),
        audit_core::DEFAULT_BATCH_SIZE
    );
}

/// Under steady arrivals the writer is woken again and again and spends its
/// turns preparing what it took off the queue; the batch must still go to
/// the sink once its oldest event has waited the linger (issue 24: batches
/// waited for 10,000 events, seconds apart). Virtual time advances 1 ms each
/// time the writer lets the producer run, so the bound is exact.
#[tokio::test(start_paused = true)]
async fn a_batch_goes_once_its_oldest_event_waited_the_linger_however_busy_the_queue() {
    let sink = MemorySink::new();
    let linger = Duration::from_millis(10);
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .batch_size(10_000)
        .linger(linger)
        .start(sink.clone());
    for round in 0..60 {
        for n in 0..100 {
            auditor.try_record(event(round * 100 + n)).unwrap();
        }
        tokio::time::advance(Duration::from_millis(1)).await;
        tokio::task::yield_now().await;
    }
    auditor.flush().await.unwrap();
    let stats = auditor.stats();
    assert_eq!(stats.written, 6_000);
    // 60 ms of arrivals with a 10 ms linger: several batches, none holding
    // an event much past the linger (one producer step of 1 ms, plus the
    // histogram's rounding up to a quarter).
    assert!(stats.batches >= 5, "{stats:?}");
    assert!(
        stats.oldest_event_age_max <= linger + Duration::from_millis(2),
        "{stats:?}"
    );
    assert!(stats.oldest_event_age_p99 <= linger * 2, "{stats:?}");
    assert!(stats.oldest_event_age_p99 >= Duration::from_millis(1), "{stats:?}");
}

/// A sink that fails and recovers is logged once each way, not once per retry.
#[tokio::test(start_paused = true)]
async fn an_outage_is_one_line_down_and_one_line_recovered() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sink = MemorySink::new();
    sink.fail_next(5);
    let auditor = Auditor::builder()
        .lifecycle_events(false)
        .retry(fast_retry())
        .start(sink.clone());
    auditor.record(event(1)).await.unwrap();
    auditor.flush().await.unwrap();
    assert_eq!(sink.len(), 1);
    assert!(!auditor.stats().sink_down);
    assert_eq!(auditor.stats().retried, 5);

    let log = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert_eq!(log.matches("audit sink is down").count(), 1, "{log}");
    assert_eq!(log.matches("audit sink recovered").count(), 1, "{log}");
    assert_eq!(log.lines().count(), 2, "nothing per retry at info level: {log}");
}
