//! Personal data sealed (crypto-shredding, issue 22): what sealing costs at
//! ingest and what opening costs on a list page, on both backends, each
//! against the same store without sealing, measured in the same run.
//!
//! **The events** (deterministic, made here from `common`'s pieces): 5,000
//! users, each a subject with a name and an email, each in one of the 50
//! tenants (users 0–999 in `tenant-00`, which so holds a fifth of the
//! events; the rest ~82 per tenant); every event's actor is one of them
//! (`Actor::user` with name and email), drawn uniformly; its main target is
//! another user of the same tenant (30 %, type `user`, with the user's
//! name: a second subject) or an app (70 %, type `app`, named); a
//! description naming both ("Alice Brown updated Bob Castillo"); a full
//! request context; before/after states for `*.created`, `*.updated` and
//! `*.deleted` (not personal); metadata `via`, `ticket`, `mfa_verified` and
//! `email` (the target user's email, or the actor's), the last marked
//! personal with `EventBuilder::personal_key("email")`. The events happen
//! one after the other over 90 days, as `ingest` makes them. Sealed, an
//! event has 5 sealed values (actor name and email, description,
//! metadata `email`, and the target's name when the target is a user).
//!
//! **Ingest**: the same events into a fresh store per run through
//! `write_batch`, batches of `STORE_BENCH_BATCH` (default 10,000, as the
//! `ingest` bench), on a store given `with_personal_data(PersonalData::new())`
//! (sealed: keys read and created in `audit_subject_keys` inside each
//! batch's transaction, 5,000 keys over the run) and on the same store
//! without it (unsealed). Rounds alternate the order of the two
//! (`STORE_BENCH_ROUNDS`, default 5); the summary gives the median rates and
//! the median of the per-round ratios sealed / unsealed. Target: ≥ 0.8 ×.
//!
//! **List pages**: the same events loaded into two stores per backend, one
//! sealed and one not (PostgreSQL then gets `VACUUM ANALYZE` and a
//! `CHECKPOINT`, as in the `queries` bench, and both databases are read into
//! the OS cache first), then `STORE_BENCH_RUNS` (default 2,000) page
//! queries of each kind on each store, alternating between the two stores
//! query by query (which goes first alternates too), each one timed:
//!
//! | kind | query |
//! |---|---|
//! | newest page of a tenant | `AuditQuery::new().tenant(t).limit(50)`, cycling through the 50 tenants |
//! | tenant + actor | `tenant-00` + `actor_id` of one of its 1,000 users (about 20 events each at 100,000 events) |
//!
//! Reading opens sealed values on the sealed store (one key lookup per
//! page, then decryption); the unsealed store's pages go through the same
//! code and find nothing to open. Each kind's first page is checked to be
//! the same on both stores (ids, actor name and email, target name,
//! description, metadata `email`). Target: sealed p99 ≤ 1.5 × unsealed p99.
//!
//! ```text
//! cargo bench -p audit-store --all-features --bench personal
//! ```
//!
//! `STORE_BENCH_PERSONAL=20000` (default 100,000 events) for a quick check;
//! `STORE_BENCH_SEARCH_INDEX=off` as in `ingest`. PostgreSQL: see
//! `common/pg.rs` (`AUDIT_BENCH_DATABASE_URL`, or a throwaway cluster).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use audit_core::{Action, Actor, Event, EventContext, IpSource, Target, Timestamp};
use audit_store::personal::PersonalData;
use audit_store::{AuditQuery, PgStore, SqliteStore, Store};
use common::raw_rows::{COLUMNS, search_index, write_all};
use common::{
    BIG_TENANT, BoxError, CpuMeter, DAY, DAYS, Latencies, Rng, SqliteDir, TENANTS, VERBS, action_name, actor_name,
    env_usize, load_average, median, met, ms, search_word, target_id, tenant_name,
};
use serde_json::json;

const INGEST_TARGET: f64 = 0.8;
const LIST_P99_TARGET: f64 = 1.5;

/// Users (subjects), and how many of them are in the big tenant.
const USERS: usize = 5_000;
const BIG_TENANT_USERS: usize = 1_000;
/// The other tenants' users: user `BIG_TENANT_USERS + (t - 1) + OTHER * j`
/// is in tenant `t`.
const OTHER: usize = TENANTS - 1;
/// Users per tenant other than the big one (the last few have one more).
const OTHER_PER_TENANT: usize = (USERS - BIG_TENANT_USERS) / OTHER;
/// Percent of events whose main target is a user.
const USER_TARGET_PERCENT: u64 = 30;
/// Apps per tenant.
const APPS: usize = 2_000;
const USER_AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "acme-cli/2.14.1 (linux; x86_64)",
    "python-requests/2.32.3",
];

fn main() -> Result<(), BoxError> {
    common::block_on(run())
}

fn user_id(u: usize) -> String {
    format!("user_{u:05}")
}

fn user_email(u: usize) -> String {
    format!("{}.{u}@example.com", actor_name(u).to_lowercase().replace(' ', "."))
}

fn user_tenant(u: usize) -> usize {
    if u < BIG_TENANT_USERS {
        0
    } else {
        1 + (u - BIG_TENANT_USERS) % OTHER
    }
}

/// A user of tenant `t`, drawn uniformly.
fn user_in(r: &mut Rng, t: usize) -> usize {
    if t == 0 {
        r.below(BIG_TENANT_USERS)
    } else {
        BIG_TENANT_USERS + (t - 1) + OTHER * r.below(OTHER_PER_TENANT)
    }
}

/// `n` events with personal data (see the header), in time order over the
/// 90 days before `now`.
fn personal_events(seed: u64, now: Timestamp, n: usize) -> Vec<Event> {
    let mut r = Rng::new(seed);
    let start = now.unix_micros() - DAYS * DAY;
    let step = (DAYS * DAY / i64::try_from(n.max(1)).unwrap_or(i64::MAX)).max(1);
    (0..n)
        .map(|i| {
            let occurred = start + step * i64::try_from(i).unwrap_or(0);
            personal_event(&mut r, occurred)
        })
        .collect()
}

fn personal_event(r: &mut Rng, occurred: i64) -> Event {
    let actor_u = r.below(USERS);
    let tenant = user_tenant(actor_u);
    let action_k = r.below(100);
    let verb = VERBS[action_k % VERBS.len()];
    let who = actor_name(actor_u);
    let (target, target_name, email) = if r.chance(USER_TARGET_PERCENT) {
        let v = user_in(r, tenant);
        let name = actor_name(v);
        (Target::new("user", user_id(v)).with_name(&name), name, user_email(v))
    } else {
        let k = r.below(APPS);
        let name = format!("{} {} {k}", search_word(k), search_word(k / 16 + 3));
        (
            Target::new("app", target_id("app", k)).with_name(&name),
            name,
            user_email(actor_u),
        )
    };
    let ip = Ipv4Addr::from(u32::try_from(r.next_u64() >> 32).unwrap_or(0));
    let request_id = format!("req_{:016x}", r.next_u64());
    let (method, status) = match verb {
        "created" => ("POST", 201),
        "updated" | "shared" => ("PATCH", 200),
        "deleted" => ("DELETE", 204),
        _ => ("GET", 200),
    };
    let seats = 5 + r.below(20);
    let before = json!({"role": "member", "plan": "team", "seats": seats});
    let after = json!({"role": "admin", "plan": "business", "seats": seats * 2});
    let mut builder = Event::builder(
        Action::new(action_name(action_k)).expect("valid action"),
        Actor::user(user_id(actor_u))
            .with_email(user_email(actor_u))
            .with_name(&who),
    )
    .tenant(tenant_name(tenant))
    .target(target)
    .description(format!("{who} {verb} {target_name}"))
    .context(EventContext {
        client_ip: Some(IpAddr::V4(ip)),
        peer_ip: None,
        ip_source: Some(IpSource::XForwardedFor),
        user_agent: Some(USER_AGENTS[r.below(USER_AGENTS.len())].to_owned()),
        request_id: Some(request_id),
        client_request_id: None,
        method: Some(method.to_owned()),
        route: Some("/members/{id}".to_owned()),
        status: Some(status),
        trace_id: None,
        span_id: None,
    })
    .occurred_at(Timestamp::from_unix_micros(occurred).expect("in range"))
    .metadata("via", if r.chance(70) { "console" } else { "api" })
    .metadata("ticket", &(1000 + r.below(9000)))
    .metadata("mfa_verified", &r.chance(80))
    .metadata("email", &email)
    .personal_key("email");
    builder = match verb {
        "created" => builder.after(&after),
        "updated" => builder.before(&before).after(&after),
        "deleted" => builder.before(&before),
        _ => builder,
    };
    builder.build()
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// Sealed first in even rounds, unsealed first in odd ones.
fn order(round: usize) -> [bool; 2] {
    if round.is_multiple_of(2) {
        [true, false]
    } else {
        [false, true]
    }
}

/// What a sealed store left in its tables: events, keys, events whose
/// actor email is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stored {
    events: i64,
    keys: i64,
    sealed_emails: i64,
}

const STORED_SQL: [&str; 3] = [
    "SELECT count(*) FROM audit_events",
    "SELECT count(*) FROM audit_subject_keys",
    // In the actor's JSON: a sealed value's filter column is NULL.
    "SELECT count(*) FROM audit_events WHERE actor ->> 'email' LIKE 'sealed:v1:%' AND actor_email IS NULL",
];

async fn sqlite_stored(store: &SqliteStore) -> Result<Stored, BoxError> {
    let mut c = [0; 3];
    for (slot, sql) in c.iter_mut().zip(STORED_SQL) {
        *slot = sqlx::query_scalar::<_, i64>(sql).fetch_one(store.pool()).await?;
    }
    Ok(Stored {
        events: c[0],
        keys: c[1],
        sealed_emails: c[2],
    })
}

async fn pg_stored(store: &PgStore) -> Result<Stored, BoxError> {
    let mut c = [0; 3];
    for (slot, sql) in c.iter_mut().zip(STORED_SQL) {
        *slot = sqlx::query_scalar::<_, i64>(sql).fetch_one(store.pool()).await?;
    }
    Ok(Stored {
        events: c[0],
        keys: c[1],
        sealed_emails: c[2],
    })
}

/// The run's rows, keys and sealed values are what they should be.
fn check_stored(name: &str, sealed: bool, stored: Stored, n: usize, subjects: usize) -> Result<(), BoxError> {
    let n = i64::try_from(n)?;
    let expected = if sealed {
        Stored {
            events: n,
            keys: i64::try_from(subjects)?,
            sealed_emails: n,
        }
    } else {
        Stored {
            events: n,
            keys: 0,
            sealed_emails: 0,
        }
    };
    if stored != expected {
        return Err(format!("{name} (sealed: {sealed}) holds {stored:?}, expected {expected:?}").into());
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Ingest {
    sealed: Vec<f64>,
    unsealed: Vec<f64>,
}

impl Ingest {
    fn ratio(&self) -> f64 {
        median(self.sealed.iter().zip(&self.unsealed).map(|(s, u)| s / u).collect())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    TenantPage,
    Actor,
}

const KINDS: [Kind; 2] = [Kind::TenantPage, Kind::Actor];

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::TenantPage => "newest page of a tenant",
            Self::Actor => "tenant + actor",
        }
    }

    fn query(self, k: usize) -> AuditQuery {
        match self {
            Self::TenantPage => AuditQuery::new().tenant(tenant_name((k * 7) % TENANTS)).limit(50),
            Self::Actor => AuditQuery::new()
                .tenant(BIG_TENANT)
                .actor_id(user_id((k * 61) % BIG_TENANT_USERS))
                .limit(50),
        }
    }
}

#[derive(Debug, Default)]
struct Listed {
    sealed: Latencies,
    unsealed: Latencies,
    rows: usize,
    /// The sealed store's key lookup alone, for the subjects of its pages
    /// (see [`key_lookup`]).
    keys: Latencies,
    subjects: usize,
}

/// The subjects of a page's sealed values: actors, and targets of type
/// `user` (sorted, once each), as the store collects them.
fn page_subjects(events: &[Event]) -> Vec<String> {
    let subjects: std::collections::BTreeSet<String> = events
        .iter()
        .flat_map(|e| {
            std::iter::once(e.actor().id.clone())
                .chain(e.target().filter(|t| t.target_type == "user").map(|t| t.id.clone()))
        })
        .collect();
    subjects.into_iter().collect()
}

/// The store's key lookup for one page on its own: the statement it runs
/// (`SELECT subject, key FROM audit_subject_keys WHERE subject IN (…)`, on
/// PostgreSQL `= ANY($1)`) on a connection from its pool. A sub-step, for
/// where the time goes.
async fn key_lookup(store: &Store, subjects: &[String]) -> Result<Duration, BoxError> {
    const SELECT: &str = "SELECT subject, key FROM audit_subject_keys WHERE subject IN (";
    let t = Instant::now();
    let found = match store {
        Store::Sqlite(store) => {
            let mut select = sqlx::QueryBuilder::<sqlx::Sqlite>::new(SELECT);
            let mut list = select.separated(", ");
            for subject in subjects {
                list.push_bind(subject.clone());
            }
            select.push(")");
            select.build().fetch_all(store.pool()).await?.len()
        }
        Store::Postgres(store) => sqlx::query("SELECT subject, key FROM audit_subject_keys WHERE subject = ANY($1)")
            .bind(subjects)
            .fetch_all(store.pool())
            .await?
            .len(),
    };
    let elapsed = t.elapsed();
    if found != subjects.len() {
        return Err(format!("{found} keys found for {} subjects", subjects.len()).into());
    }
    Ok(elapsed)
}

/// What a reader sees of an event's personal values, to compare pages.
#[derive(Debug, PartialEq, Eq)]
struct Visible {
    id: uuid::Uuid,
    actor_name: Option<String>,
    actor_email: Option<String>,
    target_name: Option<String>,
    description: Option<String>,
    email: Option<serde_json::Value>,
}

impl Visible {
    fn of(event: &Event) -> Self {
        let actor = event.actor();
        Self {
            id: event.id(),
            actor_name: actor.name.clone(),
            actor_email: actor.email.clone(),
            target_name: event.target().and_then(|t| t.name.clone()),
            description: event.description().map(str::to_owned),
            email: event.metadata().get("email").cloned(),
        }
    }
}

/// Warm-up queries of each kind on each store before the clock.
const WARM_UP: usize = 20;
/// Pages whose key lookup is timed on its own.
const KEY_LOOKUPS: usize = 1_000;

/// Every kind `runs` times on each store, alternating between them.
async fn list_pages(sealed: &Store, unsealed: &Store, runs: usize) -> Result<Vec<(Kind, Listed)>, BoxError> {
    let mut out = Vec::new();
    for kind in KINDS {
        for k in 0..WARM_UP {
            sealed.query(&kind.query(k)).await?;
            unsealed.query(&kind.query(k)).await?;
        }
        let a = sealed.query(&kind.query(0)).await?;
        let b = unsealed.query(&kind.query(0)).await?;
        let (a, b): (Vec<_>, Vec<_>) = (
            a.events.iter().map(Visible::of).collect(),
            b.events.iter().map(Visible::of).collect(),
        );
        if a != b || a.is_empty() {
            return Err(format!(
                "{}: the sealed store's page, opened, differs from the unsealed store's ({} / {} events; first: \
                 {:?} / {:?})",
                kind.label(),
                a.len(),
                b.len(),
                a.first(),
                b.first()
            )
            .into());
        }
        let mut listed = Listed::default();
        let mut pages = Vec::new();
        for k in 0..runs {
            let query = kind.query(k);
            for sealed_now in order(k) {
                let (store, latencies) = if sealed_now {
                    (sealed, &mut listed.sealed)
                } else {
                    (unsealed, &mut listed.unsealed)
                };
                let t = Instant::now();
                let page = store.query(&query).await?;
                latencies.0.push(t.elapsed());
                if sealed_now {
                    listed.rows += page.events.len();
                    if pages.len() < KEY_LOOKUPS {
                        pages.push(page_subjects(&page.events));
                    }
                }
            }
        }
        // Afterwards, not to disturb the pages: the key lookups alone.
        // A page without events has no keys to look up (and `IN ()` is
        // not SQL on PostgreSQL).
        for subjects in pages.iter().filter(|subjects| !subjects.is_empty()) {
            listed.keys.0.push(key_lookup(sealed, subjects).await?);
            listed.subjects += subjects.len();
        }
        out.push((kind, listed));
    }
    Ok(out)
}

/// Reads the SQLite file (and its WAL) once into the OS page cache (see the
/// `queries` bench: this machine evicts file pages left idle for a minute).
fn read_through(file: &std::path::Path) -> Result<(), BoxError> {
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    for path in [file.to_path_buf(), std::path::PathBuf::from(wal)] {
        if let Ok(mut f) = std::fs::File::open(&path) {
            std::io::copy(&mut f, &mut std::io::sink())?;
        }
    }
    Ok(())
}

/// The average stored row, in bytes (the sum of its values' lengths), and
/// its largest columns (20 B or more), on SQLite.
async fn sqlite_row_bytes(store: &SqliteStore) -> Result<(f64, String), BoxError> {
    let columns: Vec<&str> = COLUMNS.split(',').map(str::trim).collect();
    let averages = columns
        .iter()
        .map(|c| format!("total(length({c})) / max(count(*), 1)"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = sqlx::query(&format!("SELECT {averages} FROM audit_events"))
        .fetch_one(store.pool())
        .await?;
    let mut total = 0.0;
    let mut large = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        let bytes: f64 = sqlx::Row::try_get(&row, i)?;
        total += bytes;
        if bytes >= 20.0 {
            large.push(format!("{c} {bytes:.0}"));
        }
    }
    Ok((total, large.join(", ")))
}

fn file_size(file: &std::path::Path) -> u64 {
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    [file.to_path_buf(), std::path::PathBuf::from(wal)]
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|m| m.len())
        .sum()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn run() -> Result<(), BoxError> {
    let n = env_usize("STORE_BENCH_PERSONAL", 100_000);
    let batch = env_usize("STORE_BENCH_BATCH", 10_000).max(1);
    let rounds = env_usize("STORE_BENCH_ROUNDS", 5).max(1);
    let runs = env_usize("STORE_BENCH_RUNS", 2_000).max(1);
    println!(
        "audit-store personal: {n} events, {USERS} users, write_batch of {batch}, {rounds} ingest rounds, {runs} \
         page queries per kind and store; free-text search index {}; load average {}",
        if search_index() { "on" } else { "off" },
        load_average()
    );
    let started = Instant::now();
    let events = personal_events(22, Timestamp::now(), n);
    let subjects: std::collections::BTreeSet<&str> = events
        .iter()
        .flat_map(|e| {
            std::iter::once(e.actor().id.as_str())
                .chain(e.target().filter(|t| t.target_type == "user").map(|t| t.id.as_str()))
        })
        .collect();
    let subjects = subjects.len();
    println!(
        "built {n} events ({subjects} distinct subjects, {:.0} % with a user target) in {:.1} s",
        100.0
            * events
                .iter()
                .filter(|e| e.target().is_some_and(|t| t.target_type == "user"))
                .count() as f64
            / n.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    let server = common::pg::Server::start()?;
    println!("PostgreSQL: {}", server.describe());

    // Ingest: a fresh store per run, sealed and unsealed alternating.
    let (mut sqlite, mut pg) = (Ingest::default(), Ingest::default());
    let mut busy = Vec::new();
    let mut meter = CpuMeter::start();
    for round in 1..=rounds {
        meter.busy_percent();
        for sealed in order(round) {
            let dir = SqliteDir::new("personal-ingest");
            let mut store = SqliteStore::connect(&dir.url()).await?;
            store.set_search_index(search_index()).await?;
            if sealed {
                store = store.with_personal_data(PersonalData::new());
            }
            let elapsed = write_all(&store, &events, batch).await?;
            check_stored("SQLite", sealed, sqlite_stored(&store).await?, n, subjects)?;
            if round == 1 {
                let (row, columns) = sqlite_row_bytes(&store).await?;
                println!(
                    "SQLite {}: database and WAL {:.1} MiB; average row {row:.0} B: {columns}",
                    if sealed { "sealed" } else { "unsealed" },
                    mib(file_size(&dir.file()))
                );
            }
            store.pool().close().await;
            let figures = if sealed {
                &mut sqlite.sealed
            } else {
                &mut sqlite.unsealed
            };
            figures.push(rate(n, elapsed));
        }
        for sealed in order(round) {
            let name = "bench_personal_ingest";
            let url = server.create_database(name).await?;
            let mut store = PgStore::connect(&url).await?;
            store.set_search_index(search_index()).await?;
            if sealed {
                store = store.with_personal_data(PersonalData::new());
            }
            let elapsed = write_all(&store, &events, batch).await?;
            check_stored("PostgreSQL", sealed, pg_stored(&store).await?, n, subjects)?;
            if round == 1 {
                let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(store.pool())
                    .await?;
                let row: f64 = sqlx::query_scalar("SELECT avg(pg_column_size(e.*))::float8 FROM audit_events e")
                    .fetch_one(store.pool())
                    .await?;
                println!(
                    "PostgreSQL {}: database {:.1} MiB; average row {row:.0} B (pg_column_size)",
                    if sealed { "sealed" } else { "unsealed" },
                    mib(u64::try_from(size)?)
                );
            }
            store.pool().close().await;
            server.drop_database(name).await?;
            let figures = if sealed { &mut pg.sealed } else { &mut pg.unsealed };
            figures.push(rate(n, elapsed));
        }
        let b = meter.busy_percent();
        busy.push(b);
        let i = round - 1;
        println!(
            "round {round}: SQLite sealed {:>7.0} events/s, unsealed {:>7.0} ({:.2} x) | PostgreSQL sealed {:>7.0} \
             events/s, unsealed {:>7.0} ({:.2} x) | CPU busy {b:.0} % of 2, load {}",
            sqlite.sealed[i],
            sqlite.unsealed[i],
            sqlite.sealed[i] / sqlite.unsealed[i],
            pg.sealed[i],
            pg.unsealed[i],
            pg.sealed[i] / pg.unsealed[i],
            load_average()
        );
    }

    // List pages: two stores per backend, the same events, one sealed.
    let sqlite_dirs = [SqliteDir::new("personal-sealed"), SqliteDir::new("personal-unsealed")];
    let sqlite_sealed = SqliteStore::connect(&sqlite_dirs[0].url())
        .await?
        .with_personal_data(PersonalData::new());
    let sqlite_unsealed = SqliteStore::connect(&sqlite_dirs[1].url()).await?;
    let pg_names = ["bench_personal_sealed", "bench_personal_unsealed"];
    let pg_sealed = PgStore::connect(&server.create_database(pg_names[0]).await?)
        .await?
        .with_personal_data(PersonalData::new());
    let pg_unsealed = PgStore::connect(&server.create_database(pg_names[1]).await?).await?;
    let t = Instant::now();
    for store in [&sqlite_sealed, &sqlite_unsealed] {
        store.set_search_index(search_index()).await?;
        write_all(store, &events, batch).await?;
    }
    for store in [&pg_sealed, &pg_unsealed] {
        store.set_search_index(search_index()).await?;
        write_all(store, &events, batch).await?;
        sqlx::query("VACUUM ANALYZE audit_events").execute(store.pool()).await?;
        sqlx::query("VACUUM ANALYZE audit_subject_keys")
            .execute(store.pool())
            .await?;
        sqlx::query("CHECKPOINT").execute(store.pool()).await?;
    }
    check_stored("SQLite", true, sqlite_stored(&sqlite_sealed).await?, n, subjects)?;
    check_stored("SQLite", false, sqlite_stored(&sqlite_unsealed).await?, n, subjects)?;
    check_stored("PostgreSQL", true, pg_stored(&pg_sealed).await?, n, subjects)?;
    check_stored("PostgreSQL", false, pg_stored(&pg_unsealed).await?, n, subjects)?;
    println!(
        "loaded {n} events into 4 stores (SQLite and PostgreSQL, sealed and unsealed) in {:.0} s",
        t.elapsed().as_secs_f64()
    );

    let mut lists = Vec::new();
    for (name, sealed, unsealed) in [
        (
            "SQLite",
            Store::from(sqlite_sealed.clone()),
            Store::from(sqlite_unsealed.clone()),
        ),
        (
            "PostgreSQL",
            Store::from(pg_sealed.clone()),
            Store::from(pg_unsealed.clone()),
        ),
    ] {
        match (&sealed, &unsealed) {
            (Store::Postgres(a), Store::Postgres(b)) => {
                common::pg::prewarm(a.pool()).await?;
                common::pg::prewarm(b.pool()).await?;
            }
            _ => {
                for dir in &sqlite_dirs {
                    read_through(&dir.file())?;
                }
            }
        }
        let mut meter = CpuMeter::start();
        let t = Instant::now();
        let listed = list_pages(&sealed, &unsealed, runs).await?;
        let (b, stolen) = meter.busy_and_stolen();
        println!(
            "{name}: {} page queries in {:.0} s, CPU busy {b:.0} % of 2 (stolen {stolen:.1} %), load {}",
            2 * runs * KINDS.len(),
            t.elapsed().as_secs_f64(),
            load_average()
        );
        for (kind, l) in &listed {
            println!(
                "  {:<24} sealed p50 {:.3} ms p99 {:.3} ms | unsealed p50 {:.3} ms p99 {:.3} ms | {:.1} rows/page; \
                 the key lookup alone ({:.1} subjects): p50 {:.3} ms p99 {:.3} ms",
                kind.label(),
                ms(l.sealed.p50()),
                ms(l.sealed.p99()),
                ms(l.unsealed.p50()),
                ms(l.unsealed.p99()),
                l.rows as f64 / runs as f64,
                l.subjects as f64 / l.keys.0.len().max(1) as f64,
                ms(l.keys.p50()),
                ms(l.keys.p99())
            );
        }
        lists.push((name, listed));
    }
    sqlite_sealed.pool().close().await;
    sqlite_unsealed.pool().close().await;
    pg_sealed.pool().close().await;
    pg_unsealed.pool().close().await;
    for name in pg_names {
        server.drop_database(name).await?;
    }

    println!();
    println!(
        "summary: {n} events, {USERS} users; ingest medians of {rounds} rounds (ratio = median of per-round ratios, \
         CPU busy {:.0} % of 2); {runs} pages per kind and store",
        median(busy)
    );
    for (name, figures) in [("SQLite", &sqlite), ("PostgreSQL", &pg)] {
        let ratio = figures.ratio();
        println!(
            "  ingest {name:<10} sealed {:>7.0} events/s | unsealed {:>7.0} events/s | ratio {ratio:.2} | target >= \
             {INGEST_TARGET} x: {}",
            median(figures.sealed.clone()),
            median(figures.unsealed.clone()),
            met(ratio >= INGEST_TARGET)
        );
    }
    for (name, listed) in &lists {
        for (kind, l) in listed {
            let ratio = ms(l.sealed.p99()) / ms(l.unsealed.p99());
            println!(
                "  list {name:<10} {:<24} p99 sealed {:.3} ms | unsealed {:.3} ms | ratio {ratio:.2} (p50 {:.2}) | \
                 target <= {LIST_P99_TARGET} x: {}",
                kind.label(),
                ms(l.sealed.p99()),
                ms(l.unsealed.p99()),
                ms(l.sealed.p50()) / ms(l.unsealed.p50()),
                met(ratio <= LIST_P99_TARGET)
            );
        }
    }
    Ok(())
}
