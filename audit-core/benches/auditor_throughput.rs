//! Benchmark: how many events per second an [`Auditor`] delivers into a sink
//! that does nothing.
//!
//! The target is at least 1,000,000 events/s on this 2-core machine.
//! Each run sends `EVENTS` minimal-but-realistic events (action, actor,
//! tenant; the builder is made inside the producer loop, as a caller does)
//! through `auditor.record(..).await`, then waits for `auditor.flush()`, on a
//! 2-worker multi-thread Tokio runtime; the time of the whole run is what is
//! measured. The auditor is started before the clock starts and shut down
//! (and its counters checked) after it stops.
//!
//! Following the project's rule, the figure is reported as a ratio against a
//! baseline measured in the same run: the same builders, made the same way,
//! sent through a raw `tokio::sync::mpsc::channel` of the same capacity to a
//! consumer task that receives them with `recv_many` and drops them: the
//! cheapest possible hand-off between two tasks.
//!
//! Criterion measures each variant over 10 runs (one run per sample, so its
//! "unable to complete 10 samples" warning is expected). The summary printed
//! last then makes a few more rounds in which baseline and auditor runs
//! alternate, and reports the medians and the median paired ratio, which
//! hold up better than figures taken minutes apart on a shared machine.
//!
//! Run with `cargo bench -p audit-core --bench auditor_throughput`; the last
//! lines printed are the summary (events/s, ratio, target).

use std::hint::black_box;
use std::time::{Duration, Instant};

use audit_core::{
    Action, Actor, AuditSink, Auditor, Event, EventBuilder, EventPolicy, SinkError, Timestamp, new_event_id,
};
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

/// Events per measured run.
const EVENTS: u64 = 500_000;
/// Queue capacity, for the auditor and the baseline channel alike.
const CAPACITY: usize = 65_536;
/// Events per sink call (and per `recv_many` in the baseline).
const BATCH: usize = 1_024;
/// The target, in events per second.
const TARGET_PER_SEC: f64 = 1_000_000.0;
/// Measured runs per benchmark (criterion's minimum).
const SAMPLE_SIZE: usize = 10;
/// Rounds of alternating runs behind the summary.
const ROUNDS: usize = 5;

/// A sink that accepts every batch and does nothing with it.
struct NoopSink;

impl AuditSink for NoopSink {
    async fn write_batch(&self, batch: &[Event]) -> Result<(), SinkError> {
        black_box(batch.len());
        Ok(())
    }
}

/// A minimal but realistic event: action, actor and tenant.
fn minimal_event() -> EventBuilder {
    let action = Action::from_static("document.viewed").expect("valid action");
    Event::builder(action, Actor::user("user_alice")).tenant("acme")
}

/// One timed run through the auditor: `producers` tasks share `EVENTS`.
async fn auditor_run(producers: u64) -> Duration {
    let auditor = Auditor::builder()
        .capacity(CAPACITY)
        .batch_size(BATCH)
        .linger(Duration::from_millis(10))
        .lifecycle_events(false)
        .start(NoopSink);

    let started = Instant::now();
    let tasks: Vec<_> = (0..producers)
        .map(|_| {
            let auditor = auditor.clone();
            tokio::spawn(async move {
                for _ in 0..EVENTS / producers {
                    auditor.record(minimal_event()).await.expect("event queued");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("producer finished");
    }
    auditor.flush().await.expect("auditor running");
    let elapsed = started.elapsed();

    let stats = auditor.shutdown(Duration::from_secs(30)).await.expect("clean shutdown");
    assert_eq!(stats.written, EVENTS, "every event reached the sink: {stats:?}");
    elapsed
}

/// One timed run of the baseline: the same builders through a raw channel.
async fn baseline_run(producers: u64) -> Duration {
    let (tx, mut rx) = mpsc::channel::<EventBuilder>(CAPACITY);
    let consumer = tokio::spawn(async move {
        let mut buffer = Vec::with_capacity(BATCH);
        let mut received = 0;
        while rx.recv_many(&mut buffer, BATCH).await > 0 {
            received += buffer.len() as u64;
            buffer.clear();
        }
        received
    });

    let started = Instant::now();
    let tasks: Vec<_> = (0..producers)
        .map(|_| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for _ in 0..EVENTS / producers {
                    tx.send(minimal_event()).await.expect("consumer running");
                }
            })
        })
        .collect();
    drop(tx);
    for task in tasks {
        task.await.expect("producer finished");
    }
    // The consumer ends once every sender is gone and every builder dropped.
    let received = consumer.await.expect("consumer finished");
    let elapsed = started.elapsed();
    assert_eq!(received, EVENTS);
    elapsed
}

/// The times criterion measured for one benchmark, as `(iterations, elapsed)`.
#[derive(Debug, Default)]
struct Samples(Vec<(u64, Duration)>);

impl Samples {
    /// Median time per iteration, in ns, over criterion's measurement samples
    /// (the last calls; warm-up calls come first). `None` when the benchmark
    /// was filtered out or run once in test mode.
    fn median_nanos(&self, sample_size: usize) -> Option<f64> {
        if self.0.len() < 2 {
            return None;
        }
        let keep = self.0.len().min(sample_size);
        let per_iter = self.0[self.0.len() - keep..]
            .iter()
            .map(|&(iters, elapsed)| elapsed.as_nanos() as f64 / iters.max(1) as f64)
            .collect();
        Some(median(per_iter))
    }

    /// Median events per second, for whole runs of `EVENTS`.
    fn events_per_sec(&self) -> Option<f64> {
        self.median_nanos(SAMPLE_SIZE).map(per_sec)
    }
}

/// The median of `values` (not empty).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// Events per second of a run of `EVENTS` that took `nanos`.
fn per_sec(nanos: f64) -> f64 {
    EVENTS as f64 / (nanos / 1e9)
}

/// Benchmarks whole runs of `run(producers)` and keeps criterion's samples.
fn bench_runs<F: Future<Output = Duration>>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &Runtime,
    name: &str,
    producers: u64,
    run: impl Fn(u64) -> F,
) -> Samples {
    let mut samples = Samples::default();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let elapsed: Duration = (0..iters).map(|_| runtime.block_on(run(producers))).sum();
            samples.0.push((iters, elapsed));
            elapsed
        });
    });
    samples
}

/// Benchmarks a single-threaded per-event step and keeps criterion's samples.
fn bench_step<O>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut step: impl FnMut() -> O) -> Samples {
    let mut samples = Samples::default();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                black_box(step());
            }
            let elapsed = started.elapsed();
            samples.0.push((iters, elapsed));
            elapsed
        });
    });
    samples
}

/// Formats events per second as millions.
fn millions(per_sec: f64) -> String {
    format!("{:.2} M events/s", per_sec / 1e6)
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    let mut group = criterion.benchmark_group("auditor_throughput");
    group
        .sample_size(SAMPLE_SIZE)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        // Far less than 10 runs take: criterion then makes exactly one run per
        // sample (and says it could not finish in time, which is expected).
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(EVENTS));
    let baseline_1 = bench_runs(&mut group, &runtime, "baseline_mpsc_1_producer", 1, baseline_run);
    let auditor_1 = bench_runs(&mut group, &runtime, "auditor_1_producer", 1, auditor_run);
    let baseline_2 = bench_runs(&mut group, &runtime, "baseline_mpsc_2_producers", 2, baseline_run);
    let auditor_2 = bench_runs(&mut group, &runtime, "auditor_2_producers", 2, auditor_run);
    group.finish();

    // The per-event work on each side of the queue, on one thread, to show
    // which side limits the pipeline.
    let mut group = criterion.benchmark_group("auditor_throughput_per_event");
    group
        .sample_size(40)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1_200));
    let make = bench_step(&mut group, "producer_make_builder", minimal_event);
    let id = bench_step(&mut group, "producer_id_and_timestamp", || {
        new_event_id(Timestamp::now())
    });
    let policy = EventPolicy::default();
    let make_and_build = bench_step(&mut group, "make_builder_and_build_with", || {
        minimal_event().build_with(&policy)
    });
    group.finish();

    criterion.final_summary();

    let (Some(b1), Some(a1), Some(b2), Some(a2)) = (
        baseline_1.events_per_sec(),
        auditor_1.events_per_sec(),
        baseline_2.events_per_sec(),
        auditor_2.events_per_sec(),
    ) else {
        println!("auditor_throughput: summary skipped (benchmarks filtered out or run in test mode)");
        return;
    };

    // The headline figures: runs of the baseline and the auditor in
    // alternation, so that each ratio compares two runs made under the same
    // machine state; criterion's runs above are grouped by variant.
    let rounds: Vec<[f64; 4]> = (0..ROUNDS)
        .map(|_| {
            let nanos = |run: Duration| run.as_nanos() as f64;
            [
                nanos(runtime.block_on(baseline_run(1))),
                nanos(runtime.block_on(auditor_run(1))),
                nanos(runtime.block_on(baseline_run(2))),
                nanos(runtime.block_on(auditor_run(2))),
            ]
        })
        .collect();
    let rate = |i: usize| per_sec(median(rounds.iter().map(|round| round[i]).collect()));
    let spread = |i: usize| {
        let rates = rounds.iter().map(|round| per_sec(round[i]));
        let low = rates.clone().fold(f64::INFINITY, f64::min);
        let high = rates.fold(0.0, f64::max);
        format!("{:.2}–{:.2}", low / 1e6, high / 1e6)
    };
    // Throughput ratio auditor/baseline = time ratio baseline/auditor.
    let ratio =
        |auditor: usize, baseline: usize| median(rounds.iter().map(|round| round[baseline] / round[auditor]).collect());
    let verdict = |per_sec: f64| if per_sec >= TARGET_PER_SEC { "MET" } else { "MISSED" };
    println!();
    for (producers, auditor, baseline) in [(1, 1, 0), (2, 3, 2)] {
        let events = rate(auditor);
        println!(
            "auditor_throughput: {} with {producers} producer{} = {:.2} × baseline (raw mpsc hand-off of the same \
             builders, {}); target >= 1 M events/s: {} ({:.2} × target)",
            millions(events),
            if producers == 1 { "" } else { "s" },
            ratio(auditor, baseline),
            millions(rate(baseline)),
            verdict(events),
            events / TARGET_PER_SEC,
        );
    }
    println!(
        "  (medians of {ROUNDS} rounds of {EVENTS} events per run, baseline and auditor runs alternating; \
         per-run range in M events/s: auditor {} / {}, baseline {} / {} with 1 / 2 producers; criterion's \
         medians above: auditor {} / {}, baseline {} / {})",
        spread(1),
        spread(3),
        spread(0),
        spread(2),
        millions(a1),
        millions(a2),
        millions(b1),
        millions(b2),
    );
    let per_event = |samples: &Samples| {
        samples
            .median_nanos(40)
            .map_or_else(|| "n/a".to_owned(), |nanos| format!("{nanos:.0} ns"))
    };
    println!(
        "  per event, one thread: make the builder {} (of which the id and timestamp {}); make + build_with {} \
         (build_with runs on the single writer task); an EventBuilder is {} bytes, moved by value through \
         every setter",
        per_event(&make),
        per_event(&id),
        per_event(&make_and_build),
        std::mem::size_of::<EventBuilder>(),
    );
}
