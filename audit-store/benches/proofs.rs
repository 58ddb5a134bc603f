//! Proof benchmark: inclusion and consistency proofs in one stream of
//! `STORE_BENCH_PROOFS` events (default 1,000,000) on both backends,
//! against a point read of the same events (`store.get(id)`) measured in
//! the same run.
//!
//! - **get** (baseline): `store.get(id)` of a random event: one indexed
//!   row, the least a proof of that event must read.
//! - **inclusion**: `store.inclusion_proof(id, None)` of a random event
//!   against the head (the event's row, the head row, and one tile per
//!   stored level the path spans), each proof checked against the head's
//!   root once (not timed).
//! - **consistency**: `store.consistency_proof(stream, old, head)` from a
//!   random older size.
//!
//! Samples alternate the three; the summary gives p50 and p99 per backend
//! and each p99 over the baseline's.
//!
//! ```text
//! cargo bench -p audit-store --all-features --bench proofs
//! ```

mod common;

use std::time::{Duration, Instant};

use audit_core::Timestamp;
use audit_store::merkle;
use audit_store::{PgStore, SqliteStore, Store};
use common::{BIG_TENANT, BoxError, Generator, Latencies, Rng, SqliteDir, env_usize, load_average, met, ms};
use sqlx::Connection as _;
use uuid::Uuid;

/// Issue 17: an inclusion or consistency proof in a stream of a million
/// events within 2 ms at the 99th percentile.
const TARGET: Duration = Duration::from_millis(2);

fn main() -> Result<(), BoxError> {
    common::block_on(run())
}

async fn run() -> Result<(), BoxError> {
    let n = env_usize("STORE_BENCH_PROOFS", 1_000_000);
    let samples = env_usize("STORE_BENCH_SAMPLES", 2_000);
    let stream = format!("tenant:{BIG_TENANT}");
    println!(
        "audit-store proofs: one stream of {n} events, {samples} samples of each; load average {}",
        load_average()
    );
    let server = common::pg::Server::start()?;
    println!("PostgreSQL: {}", server.describe());

    let dir = SqliteDir::new("proofs");
    let sqlite = SqliteStore::connect(&dir.url()).await?;
    let pg_url = server.create_database("bench_proofs").await?;
    let pg = PgStore::connect(&pg_url).await?;
    let mut ids = Vec::with_capacity(n);
    let mut generator = Generator::new(5, Timestamp::now()).only_tenant(0);
    let load = Instant::now();
    let mut left = n;
    while left > 0 {
        let events = generator.events(left.min(10_000));
        left -= events.len();
        let mut conn = sqlite.pool().acquire().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        ids.extend(sqlite.record_in(&mut tx, &events).await?.iter().map(|e| e.id()));
        tx.commit().await?;
        let mut tx = pg.pool().begin().await?;
        pg.record_in(&mut tx, &events).await?;
        tx.commit().await?;
    }
    println!("loaded both in {:.0} s", load.elapsed().as_secs_f64());

    for (name, store) in [
        ("SQLite", Store::from(sqlite.clone())),
        ("PostgreSQL", Store::from(pg.clone())),
    ] {
        measure(name, &store, &stream, &ids, samples).await?;
    }
    sqlite.pool().close().await;
    pg.pool().close().await;
    server.drop_database("bench_proofs").await?;
    drop(dir);
    Ok(())
}

async fn measure(name: &str, store: &Store, stream: &str, ids: &[Uuid], samples: usize) -> Result<(), BoxError> {
    let head = store.tree_head(stream, None).await?;
    let mut rng = Rng::new(17);
    let (mut get, mut inclusion, mut consistency) = (Latencies::default(), Latencies::default(), Latencies::default());
    // Warm the caches the way a running service has them warm.
    for _ in 0..200 {
        let id = ids[rng.below(ids.len())];
        store.inclusion_proof(id, None).await?;
    }
    for sample in 0..samples {
        let index = rng.below(ids.len());
        let id = ids[index];
        let t = Instant::now();
        let event = store.get(id).await?;
        get.0.push(t.elapsed());
        assert!(event.is_some());

        let t = Instant::now();
        let proof = store.inclusion_proof(id, None).await?.ok_or("the event is gone")?;
        inclusion.0.push(t.elapsed());
        if sample < 100 {
            let leaf = merkle::leaf(&proof.event.canonical_bytes());
            merkle::verify_inclusion(&leaf, proof.leaf_index, head.size, &proof.audit_path, &head.root)?;
        }

        let old = 1 + rng.below(ids.len() - 1) as u64;
        let t = Instant::now();
        let path = store.consistency_proof(stream, old, head.size).await?;
        consistency.0.push(t.elapsed());
        if sample < 100 {
            let old_root = store.tree_head(stream, Some(old)).await?.root;
            merkle::verify_consistency(old, head.size, &old_root, &head.root, &path)?;
        }
    }
    let baseline = get.p99();
    println!("{name} (load {}):", load_average());
    for (what, latencies, target) in [
        ("get (baseline)", &get, None),
        ("inclusion proof", &inclusion, Some(TARGET)),
        ("consistency proof", &consistency, Some(TARGET)),
    ] {
        let verdict = target.map_or(String::new(), |target| {
            format!(
                " | target p99 <= {} ms | {}",
                ms(target),
                met(latencies.p99() <= target)
            )
        });
        println!(
            "  {what:<20} p50 {:>6.3} ms  p99 {:>6.3} ms  ({:.2} x the baseline's p99){verdict}",
            ms(latencies.p50()),
            ms(latencies.p99()),
            ratio(latencies.p99(), baseline)
        );
    }
    Ok(())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
