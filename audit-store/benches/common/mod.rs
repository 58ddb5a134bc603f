//! What the audit-store benchmarks share: realistic events, a PostgreSQL
//! server of their own, fresh databases on both backends, the query kinds
//! and their timing loop, the stored rows inserted raw, timing helpers.

#![allow(dead_code, reason = "each bench binary uses a part of the shared code")]

pub(crate) mod kinds;
pub(crate) mod pg;
pub(crate) mod raw_rows;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use audit_core::{Action, Actor, Event, EventContext, IpSource, Target, Timestamp};
use serde_json::json;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Microseconds in a day.
pub(crate) const DAY: i64 = 86_400_000_000;

/// Runs a bench's `run` on a Tokio runtime of two worker threads (this
/// machine's cores), as every bench here does.
pub(crate) fn block_on(run: impl std::future::Future<Output = Result<(), BoxError>>) -> Result<(), BoxError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run)
}

/// A number from the environment, or `default`.
pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (SplitMix64): the same seed gives the
/// same events on every run and both backends.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// The data set's shape: the 50 tenants (one holding a fifth of the
/// rows), 100 actions, 90 days.
pub(crate) const TENANTS: usize = 50;
/// The share of rows, in percent, of the big tenant (`tenant-00`).
pub(crate) const BIG_TENANT_PERCENT: u64 = 20;
pub(crate) const BIG_TENANT: &str = "tenant-00";
pub(crate) const DAYS: i64 = 90;
/// Actors per tenant (`user_0000` …).
pub(crate) const ACTORS: usize = 200;
/// Target ids per target type and tenant.
pub(crate) const TARGET_IDS: usize = 2_000;

/// 20 namespaces × 5 verbs = 100 actions.
pub(crate) const NAMESPACES: [&str; 20] = [
    "member",
    "app",
    "project",
    "invoice",
    "billing",
    "api_key",
    "document",
    "team",
    "role",
    "webhook",
    "secret",
    "domain",
    "sso",
    "export",
    "integration",
    "subscription",
    "user",
    "session",
    "repository",
    "environment",
];
pub(crate) const VERBS: [&str; 5] = ["created", "updated", "deleted", "viewed", "shared"];

/// Primary target types.
pub(crate) const TARGET_TYPES: [&str; 8] = [
    "member",
    "app",
    "project",
    "invoice",
    "document",
    "team",
    "webhook",
    "repository",
];

const FIRST: [&str; 20] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
    "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe",
];
const LAST: [&str; 10] = [
    "anderson", "brown", "castillo", "dubois", "eriksen", "fujita", "garcia", "hughes", "ivanova", "jensen",
];
const WORDS: [&str; 16] = [
    "aurora", "borealis", "cobalt", "delta", "ember", "falcon", "granite", "harbor", "indigo", "juniper", "kestrel",
    "lumen", "meridian", "nimbus", "onyx", "polaris",
];
const USER_AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "acme-cli/2.14.1 (linux; x86_64)",
    "python-requests/2.32.3",
];

pub(crate) fn tenant_name(k: usize) -> String {
    format!("tenant-{k:02}")
}

/// Action `k`: the first 100 (`NAMESPACES` × `VERBS`) are the ones every
/// data set has; 100 to 199 use `MORE_NAMESPACES`.
pub(crate) fn action_name(k: usize) -> String {
    let namespace = k / VERBS.len();
    let namespace = match NAMESPACES.get(namespace) {
        Some(namespace) => namespace,
        None => MORE_NAMESPACES[namespace - NAMESPACES.len()],
    };
    format!("{namespace}.{}", VERBS[k % VERBS.len()])
}

pub(crate) fn actor_id(k: usize) -> String {
    format!("user_{k:04}")
}

pub(crate) fn actor_name(k: usize) -> String {
    let cap = |s: &str| s[..1].to_uppercase() + &s[1..];
    format!(
        "{} {}",
        cap(FIRST[k % FIRST.len()]),
        cap(LAST[(k / FIRST.len()) % LAST.len()])
    )
}

pub(crate) fn target_id(target_type: &str, k: usize) -> String {
    format!("{target_type}_{k:05}")
}

/// 20 more namespaces, for data sets with more than 100 actions (see
/// [`Generator::actions`]): actions 100 to 199.
pub(crate) const MORE_NAMESPACES: [&str; 20] = [
    "payment",
    "plan",
    "coupon",
    "policy",
    "group",
    "device",
    "token",
    "certificate",
    "license",
    "report",
    "dashboard",
    "alert",
    "pipeline",
    "deployment",
    "cluster",
    "bucket",
    "database",
    "schema",
    "job",
    "notification",
];

/// The most actions a generator can draw from ([`action_name`] names them all).
pub(crate) const MAX_ACTIONS: usize = (NAMESPACES.len() + MORE_NAMESPACES.len()) * VERBS.len();

/// A word occurring in the names of about 1/16 of the targets: for free-text searches.
pub(crate) fn search_word(k: usize) -> &'static str {
    WORDS[k % WORDS.len()]
}

/// The weights of `tenants` tenants whose activity follows Zipf's law with
/// `exponent`: tenant `k` weighs `1 / (k + 1)^exponent` (tenant 0 the
/// busiest), normalised to sum to 1.
pub(crate) fn zipf_weights(tenants: usize, exponent: f64) -> Vec<f64> {
    let raw: Vec<f64> = (0..tenants.max(1)).map(|k| ((k + 1) as f64).powf(-exponent)).collect();
    let total: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / total).collect()
}

/// Makes realistic events: a user actor with email and name, a tenant, a
/// named primary target, a description, a full request context, before and
/// after states for updates (creations only after, deletions only before),
/// three metadata keys, `occurred_at` spread uniformly over the 90 days
/// before `now` (at random, or in order: see [`Generator::in_order`]).
///
/// The default shape is the queries bench's (50 tenants, `tenant-00` with a
/// fifth of the rows, 100 actions, 90 days); [`tenants_zipf`](Self::tenants_zipf),
/// [`actions`](Self::actions) and [`days`](Self::days) change it (the scale
/// bench: 1,000 Zipf-skewed tenants, 200 actions, 730 days).
#[derive(Debug)]
pub(crate) struct Generator {
    rng: Rng,
    now: i64,
    only_tenant: Option<usize>,
    /// With [`Generator::in_order`]: the next `occurred_at` and the step.
    clock: Option<(i64, i64)>,
    /// With [`Generator::tenants_zipf`]: the cumulative share of tenants
    /// `0..=k`, to draw a tenant from.
    tenant_cdf: Option<Vec<f64>>,
    actions: usize,
    days: i64,
}

impl Generator {
    pub(crate) fn new(seed: u64, now: Timestamp) -> Self {
        Self {
            rng: Rng::new(seed),
            now: now.unix_micros(),
            only_tenant: None,
            clock: None,
            tenant_cdf: None,
            actions: NAMESPACES.len() * VERBS.len(),
            days: DAYS,
        }
    }

    /// `tenants` tenants (`tenant-00` …) whose shares of the events follow
    /// Zipf's law with `exponent` ([`zipf_weights`]), instead of 50 with
    /// one big one.
    pub(crate) fn tenants_zipf(mut self, tenants: usize, exponent: f64) -> Self {
        let mut cumulative = 0.0;
        self.tenant_cdf = Some(
            zipf_weights(tenants, exponent)
                .into_iter()
                .map(|w| {
                    cumulative += w;
                    cumulative
                })
                .collect(),
        );
        self
    }

    /// Events draw their action from the first `actions` of [`action_name`]
    /// (at most [`MAX_ACTIONS`]) instead of 100.
    pub(crate) fn actions(mut self, actions: usize) -> Self {
        assert!(
            (1..=MAX_ACTIONS).contains(&actions),
            "1 to {MAX_ACTIONS} actions, not {actions}"
        );
        self.actions = actions;
        self
    }

    /// `occurred_at` over the `days` days before `now` instead of 90 (set
    /// before [`in_order`](Self::in_order)).
    pub(crate) fn days(mut self, days: i64) -> Self {
        self.days = days.max(1);
        self
    }

    /// The next `n` events happen one after the other, evenly over the 90
    /// days (or [`days`](Self::days)), as a live audit trail receives them:
    /// their ids (minted as each event is made) and times rise together.
    pub(crate) fn in_order(self, n: usize) -> Self {
        let start = self.now - self.days * DAY;
        self.in_order_from(start, n)
    }

    /// As [`in_order`](Self::in_order), evenly from `start` (Unix
    /// microseconds) to `now`.
    pub(crate) fn in_order_from(mut self, start: i64, n: usize) -> Self {
        let step = ((self.now - start) / i64::try_from(n.max(1)).unwrap_or(i64::MAX)).max(1);
        self.clock = Some((start, step));
        self
    }

    /// Every event in tenant `k` (one stream).
    pub(crate) fn only_tenant(mut self, k: usize) -> Self {
        self.only_tenant = Some(k);
        self
    }

    pub(crate) fn events(&mut self, n: usize) -> Vec<Event> {
        (0..n).map(|_| self.event()).collect()
    }

    pub(crate) fn event(&mut self) -> Event {
        let r = &mut self.rng;
        let mut tenant = match &self.tenant_cdf {
            None if r.chance(BIG_TENANT_PERCENT) => 0,
            None => 1 + r.below(TENANTS - 1),
            Some(cdf) => {
                let u = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                cdf.partition_point(|&share| share <= u).min(cdf.len() - 1)
            }
        };
        if let Some(only) = self.only_tenant {
            tenant = only;
        }
        let action_k = r.below(self.actions);
        let verb = VERBS[action_k % VERBS.len()];
        let actor_k = r.below(ACTORS);
        let name = actor_name(actor_k);
        let email = format!("{}.{}@t{tenant:02}.example", FIRST[actor_k % FIRST.len()], actor_k);
        let target_type = TARGET_TYPES[r.below(TARGET_TYPES.len())];
        let target_k = r.below(TARGET_IDS);
        let target_name = format!("{} {} {}", search_word(target_k), WORDS[(target_k / 16) % 16], target_k);
        let random = self.now - i64::try_from(r.next_u64() % (self.days * DAY) as u64).unwrap_or(0);
        let occurred = match &mut self.clock {
            Some((next, step)) => {
                let at = *next;
                *next += *step;
                at
            }
            None => random,
        };
        let ip = Ipv4Addr::from(u32::try_from(r.next_u64() >> 32).unwrap_or(0));
        let request_id = format!("req_{:016x}", r.next_u64());
        let (method, status) = match verb {
            "created" => ("POST", 201),
            "updated" | "shared" => ("PATCH", 200),
            "deleted" => ("DELETE", 204),
            _ => ("GET", 200),
        };
        let before = json!({"name": target_name, "plan": "team", "seats": 5 + target_k % 20});
        let after = json!({"name": target_name, "plan": "business", "seats": 10 + target_k % 40});
        let seats = 5 + target_k % 20;
        let mut builder = Event::builder(
            Action::new(action_name(action_k)).expect("valid action"),
            Actor::user(actor_id(actor_k)).with_email(email).with_name(&name),
        )
        .tenant(tenant_name(tenant))
        .target(Target::new(target_type, target_id(target_type, target_k)).with_name(&target_name))
        .description(format!("{name} {verb} {target_name}"))
        .context(EventContext {
            client_ip: Some(IpAddr::V4(ip)),
            peer_ip: None,
            ip_source: Some(IpSource::XForwardedFor),
            user_agent: Some(USER_AGENTS[r.below(USER_AGENTS.len())].to_owned()),
            request_id: Some(request_id),
            client_request_id: None,
            method: Some(method.to_owned()),
            route: Some(format!("/{target_type}s/{{id}}")),
            status: Some(status),
            trace_id: None,
            span_id: None,
        })
        .occurred_at(Timestamp::from_unix_micros(occurred).expect("in range"))
        .metadata("via", if r.chance(70) { "console" } else { "api" })
        .metadata("ticket", &(1000 + r.below(9000)))
        .metadata("mfa_verified", &r.chance(80));
        builder = match verb {
            "created" => builder.after(&after),
            "updated" => builder.before(&before).after(&after),
            "deleted" => builder.before(&before),
            "shared" => builder.metadata("seats", &seats),
            _ => builder,
        };
        builder.build()
    }
}

/// A fresh directory for a SQLite file, removed on drop unless kept.
#[derive(Debug)]
pub(crate) struct SqliteDir {
    dir: PathBuf,
    keep: bool,
}

impl SqliteDir {
    pub(crate) fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("audit-store-bench-{label}-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self { dir, keep: false }
    }

    /// The directory of `file`, a database an earlier run kept (see
    /// `STORE_BENCH_KEEP`), kept again on drop.
    pub(crate) fn kept(file: &std::path::Path) -> Self {
        let dir = file.parent().unwrap_or(file).to_path_buf();
        Self { dir, keep: true }
    }

    /// Leaves the directory in place on drop.
    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }

    pub(crate) fn file(&self) -> PathBuf {
        self.dir.join("audit.db")
    }

    pub(crate) fn url(&self) -> String {
        format!("sqlite://{}", self.file().display())
    }
}

impl Drop for SqliteDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Latencies of one query kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct Latencies(pub(crate) Vec<Duration>);

impl Latencies {
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        if v.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    pub(crate) fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    pub(crate) fn p99(&self) -> Duration {
        self.percentile(99.0)
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return f64::NAN;
    }
    values[values.len() / 2]
}

/// Busy share of all CPUs since the last call, from `/proc/stat` (a load
/// indicator printed with the results: the machine may be shared).
#[derive(Debug, Default)]
pub(crate) struct CpuMeter {
    last: Option<(u64, u64, u64)>,
}

impl CpuMeter {
    fn read() -> Option<(u64, u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?;
        let fields: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
        let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
        Some((fields.iter().sum(), idle, fields.get(7).copied().unwrap_or(0)))
    }

    pub(crate) fn start() -> Self {
        Self { last: Self::read() }
    }

    /// Percent of all CPUs busy since the last call.
    pub(crate) fn busy_percent(&mut self) -> f64 {
        self.busy_and_stolen().0
    }

    /// Percent of all CPUs busy since the last call, and of that time the
    /// percent the hypervisor gave this VM's CPUs to others (`steal`,
    /// counted as busy): latency the bench cannot help.
    pub(crate) fn busy_and_stolen(&mut self) -> (f64, f64) {
        let now = Self::read();
        let shares = match (self.last, now) {
            (Some((t0, i0, s0)), Some((t1, i1, s1))) if t1 > t0 => {
                let span = (t1 - t0) as f64;
                (
                    100.0 * (1.0 - (i1 - i0) as f64 / span),
                    100.0 * s1.saturating_sub(s0) as f64 / span,
                )
            }
            _ => (f64::NAN, f64::NAN),
        };
        self.last = now;
        shares
    }
}

/// File pages the kernel had evicted and then read again from disk, since
/// boot (`workingset_refault_file` in `/proc/vmstat`; 0 where unknown):
/// the difference over a phase tells whether its reads hit the disk.
pub(crate) fn file_refaults() -> u64 {
    std::fs::read_to_string("/proc/vmstat")
        .ok()
        .and_then(|vmstat| {
            vmstat
                .lines()
                .find_map(|line| line.strip_prefix("workingset_refault_file "))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The load average, for the report.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub(crate) fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}
