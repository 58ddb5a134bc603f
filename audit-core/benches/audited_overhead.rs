//! Benchmark: what `#[audited]` adds to a call.
//!
//! The baseline is a no-op `async fn` without the attribute; the measured
//! routines are the same function with it, all awaited inside one request
//! scope (`AuditScope::new`, as the HTTP layer opens). The target is
//! at most 1 µs added per call.
//!
//! - `a_plain`: `async fn lookup(id: u64) -> Result<u64, NotFound>`, no attribute;
//! - `b_manual_draft`: the same with a hand-written `Draft` (open, `scoped`,
//!   `complete_returned`): what audit-core itself costs, whoever opens the draft;
//! - `c_audited`: the baseline's function with `#[audited(action = "app.viewed")]`,
//!   so its `id` argument is captured by default: what a user gets from
//!   adding the attribute and nothing else;
//! - `d_audited_no_args`: the attribute on a no-argument no-op;
//! - `e_audited_typical`: a handler-like attribute, `target = "app", target_id
//!   = id`, `severity`, `description = "Viewed app {id}"`, `fields(via = ..)`;
//! - `f_event_id_and_clock`: `Uuid::now_v7()` and `Timestamp::now()`, which
//!   every draft pays when it opens (its id and `occurred_at`).
//!
//! Completed drafts pile up in the scope until the layer takes them; the
//! benchmark takes them after every block of calls, outside the timed part,
//! so memory stays flat and dropping them is not counted (in a service the
//! layer hands them to the auditor's queue).
//!
//! Run with `cargo bench -p audit-core --bench audited_overhead`; the last
//! lines printed are the summary (added ns per call, ratios, target).

use std::hint::black_box;
use std::time::{Duration, Instant};

use audit_core::{Action, Actor, AuditScope, Draft, Outcome, RequestContext, Timestamp, audited};
use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use tokio::runtime::Runtime;

/// The target: what the attribute may add to one call.
const TARGET_NANOS: f64 = 1_000.0;
/// Criterion samples per benchmark.
const SAMPLE_SIZE: usize = 60;
/// Calls per timed block; the scope is drained between blocks.
const BLOCK_CALLS: u64 = 512;
/// Rounds of the alternating measurement behind the summary.
const ROUNDS: usize = 200;

#[derive(Debug)]
struct NotFound;

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not found")
    }
}

async fn lookup(id: u64) -> Result<u64, NotFound> {
    if id == u64::MAX { Err(NotFound) } else { Ok(id) }
}

async fn lookup_manual(id: u64) -> Result<u64, NotFound> {
    let draft = Draft::open(Action::from_static("app.viewed").expect("valid action"));
    let output = draft
        .scoped(async move { if id == u64::MAX { Err(NotFound) } else { Ok(id) } })
        .await;
    match &output {
        Ok(_) => draft.complete_returned(Outcome::Success, None),
        Err(error) => draft.complete_returned(Outcome::Failure, Some(error.to_string())),
    }
    output
}

#[audited(action = "app.viewed")]
async fn lookup_audited_no_args() -> Result<u64, NotFound> {
    Ok(1)
}

#[audited(action = "app.viewed")]
async fn lookup_audited(id: u64) -> Result<u64, NotFound> {
    if id == u64::MAX { Err(NotFound) } else { Ok(id) }
}

#[audited(
    action = "app.viewed",
    target = "app",
    target_id = id,
    severity = "notice",
    description = "Viewed app {id}",
    fields(via = "api")
)]
async fn lookup_audited_typical(id: u64) -> Result<u64, NotFound> {
    if id == u64::MAX { Err(NotFound) } else { Ok(id) }
}

/// The routines compared, in the order of the summary's columns.
#[derive(Debug, Clone, Copy)]
enum Routine {
    Plain,
    ManualDraft,
    Audited,
    AuditedNoArgs,
    AuditedTypical,
    EventIdAndClock,
}

const ROUTINES: [(Routine, &str); 6] = [
    (Routine::Plain, "a_plain"),
    (Routine::ManualDraft, "b_manual_draft"),
    (Routine::Audited, "c_audited"),
    (Routine::AuditedNoArgs, "d_audited_no_args"),
    (Routine::AuditedTypical, "e_audited_typical"),
    (Routine::EventIdAndClock, "f_event_id_and_clock"),
];

async fn call(routine: Routine, id: u64) -> Result<u64, NotFound> {
    match routine {
        Routine::Plain => lookup(id).await,
        Routine::ManualDraft => lookup_manual(id).await,
        Routine::Audited => lookup_audited(id).await,
        Routine::AuditedNoArgs => lookup_audited_no_args().await,
        Routine::AuditedTypical => lookup_audited_typical(id).await,
        Routine::EventIdAndClock => {
            black_box((uuid::Uuid::now_v7(), Timestamp::now()));
            Ok(id)
        }
    }
}

/// Awaits `calls` calls of `routine` inside `scope`, then drains the scope;
/// returns the time the calls took (draining excluded).
fn block(runtime: &Runtime, scope: &AuditScope, calls: u64, routine: Routine) -> Duration {
    let elapsed = runtime.block_on(scope.scoped(async {
        let started = Instant::now();
        for i in 0..calls {
            let _ = black_box(call(black_box(routine), black_box(i)).await);
        }
        started.elapsed()
    }));
    drop(black_box(scope.take_completed()));
    elapsed
}

/// The time `calls` calls take, in blocks of [`BLOCK_CALLS`].
fn time(runtime: &Runtime, scope: &AuditScope, calls: u64, routine: Routine) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = calls;
    while left > 0 {
        let now = left.min(BLOCK_CALLS);
        total += block(runtime, scope, now, routine);
        left -= now;
    }
    total
}

/// Criterion's median time per call, in ns, for one routine.
fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    runtime: &Runtime,
    scope: &AuditScope,
    routine: Routine,
) -> Option<f64> {
    let mut samples = Vec::new();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let elapsed = time(runtime, scope, iters, routine);
            samples.push(elapsed.as_nanos() as f64 / iters.max(1) as f64);
            elapsed
        });
    });
    (samples.len() >= 2).then(|| median(samples[samples.len().saturating_sub(SAMPLE_SIZE)..].to_vec()))
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

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(SAMPLE_SIZE)
        .warm_up_time(Duration::from_millis(600))
        .measurement_time(Duration::from_millis(2_000))
        .configure_from_args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")).with_tenant("acme"));

    let mut group = criterion.benchmark_group("audited_overhead");
    let estimates: Vec<Option<f64>> = ROUTINES
        .iter()
        .map(|&(routine, name)| bench(&mut group, name, &runtime, &scope, routine))
        .collect();
    group.finish();
    criterion.final_summary();

    let Some(estimates) = estimates.into_iter().collect::<Option<Vec<f64>>>() else {
        println!("audited_overhead: summary skipped (benchmarks filtered out or run in test mode)");
        return;
    };

    // The headline: the routines timed in alternation, block by block, so
    // they share the machine's state and their differences hold.
    let rounds: Vec<Vec<f64>> = (0..ROUNDS)
        .map(|_| {
            ROUTINES
                .iter()
                .map(|&(routine, _)| {
                    block(&runtime, &scope, BLOCK_CALLS, routine).as_nanos() as f64 / BLOCK_CALLS as f64
                })
                .collect()
        })
        .collect();
    let ns = |i: usize| median(rounds.iter().map(|round| round[i]).collect());
    let added = |i: usize, over: usize| median(rounds.iter().map(|round| round[i] - round[over]).collect());
    let verdict = |added: f64| if added <= TARGET_NANOS { "MET" } else { "MISSED" };
    let (plain, manual, audited, no_args, typical, id_and_clock) = (ns(0), ns(1), ns(2), ns(3), ns(4), ns(5));
    let audited_added = added(2, 0);
    let typical_added = added(4, 0);

    println!();
    println!(
        "audited_overhead: #[audited(action = ..)] adds {audited_added:.0} ns per call ({audited:.0} ns vs \
         {plain:.1} ns without it, {:.0} ×); target ≤ 1 µs added: {}",
        audited / plain,
        verdict(audited_added),
    );
    println!(
        "  of which the draft itself (hand-written Draft::open/scoped/complete_returned): +{:.0} ns \
         ({manual:.0} ns), and of that the event id and clock (Uuid::now_v7 + Timestamp::now) {id_and_clock:.0} ns; \
         the macro's own work (action cell, guard, default capture of `id`): {:+.0} ns",
        added(1, 0),
        added(2, 1),
    );
    println!(
        "  no arguments: +{:.0} ns ({no_args:.0} ns); typical handler attribute (target, target_id, severity, \
         description, fields): +{typical_added:.0} ns ({typical:.0} ns): {}",
        added(3, 0),
        verdict(typical_added),
    );
    println!(
        "  (medians of {ROUNDS} rounds of {BLOCK_CALLS}-call blocks timed in alternation inside one request \
         scope, drained between blocks; criterion's medians above: {})",
        ROUTINES
            .iter()
            .zip(&estimates)
            .map(|((_, name), ns)| format!("{} {ns:.1} ns", &name[..1]))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
