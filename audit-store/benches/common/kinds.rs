//! The query kinds the queries and scale benches time, and their timing
//! loop: every kind through the public `AuditQuery` API on one tenant,
//! default page size 50, `runs` times after [`WARM_UP`] runs, cycling
//! through parameters where the kind has any (see the queries bench's
//! header for the table).

use std::time::{Duration, Instant};

use audit_core::{Action, Timestamp};
use audit_store::{AuditQuery, MAX_LIMIT, MAX_OFFSET, Store};

use super::{ACTORS, BoxError, DAY, Latencies, TARGET_IDS, TARGET_TYPES, actor_id, actor_name, search_word, target_id};

/// Unmeasured runs of each kind first.
pub(crate) const WARM_UP: usize = 10;
/// The offset kind stops after this long, whatever the runs.
pub(crate) const OFFSET_BUDGET: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Tenant30Days,
    TenantActionRange,
    TenantActor,
    TenantTarget,
    FirstPage,
    Keyset,
    Offset,
    Text,
}

pub(crate) const KINDS: [Kind; 8] = [
    Kind::Tenant30Days,
    Kind::TenantActionRange,
    Kind::TenantActor,
    Kind::TenantTarget,
    Kind::FirstPage,
    Kind::Keyset,
    Kind::Offset,
    Kind::Text,
];

/// What the queries of a data set are about: its tenant, its actions, its
/// time span, and how deep the keyset and offset pages go.
#[derive(Debug, Clone)]
pub(crate) struct QuerySet {
    /// The tenant every query is on.
    pub(crate) tenant: String,
    /// The data set's actions are the first `actions` of `action_name`.
    pub(crate) actions: usize,
    /// The 14-day windows of the action-range kind lie within the last
    /// `range_days` days before `now` (at least 15).
    pub(crate) range_days: i64,
    /// "Now" of the data set (Unix microseconds): the last 30 days are
    /// counted back from it.
    pub(crate) now: i64,
    /// The keyset page starts after this many events of the tenant.
    pub(crate) keyset_depth: usize,
    /// The offset page skips this many (at most `MAX_OFFSET`).
    pub(crate) offset_depth: usize,
}

impl Kind {
    /// The label, with the depth of the keyset and offset pages.
    pub(crate) fn label(self, set: &QuerySet) -> String {
        match self {
            Self::Tenant30Days => "tenant, last 30 days".to_owned(),
            Self::TenantActionRange => "tenant + action + 14-day range".to_owned(),
            Self::TenantActor => "tenant + actor".to_owned(),
            Self::TenantTarget => "tenant + target".to_owned(),
            Self::FirstPage => "first page (tenant)".to_owned(),
            Self::Keyset => format!("keyset page at depth {}", thousands(set.keyset_depth)),
            Self::Offset => format!("offset {}", thousands(set.offset_depth)),
            Self::Text => "free text, tenant + 30 days".to_owned(),
        }
    }

    /// The `k`th query of this kind.
    pub(crate) fn query(self, k: usize, set: &QuerySet, cursor: &str) -> AuditQuery {
        let at = |micros: i64| Timestamp::from_unix_micros(micros).expect("in range");
        let now = set.now;
        let tenant = AuditQuery::new().tenant(set.tenant.clone());
        let k64 = i64::try_from(k).unwrap_or(0);
        match self {
            Self::Tenant30Days => tenant.since(at(now - 30 * DAY)),
            Self::TenantActionRange => {
                let since = now - (14 + (k64 * 7) % (set.range_days.max(15) - 14)) * DAY;
                tenant
                    .action(Action::new(super::action_name((k * 37) % set.actions)).expect("valid"))
                    .since(at(since))
                    .until(at(since + 14 * DAY))
            }
            Self::TenantActor => tenant.actor_id(actor_id((k * 61) % ACTORS)),
            Self::TenantTarget => {
                let target_type = TARGET_TYPES[k % TARGET_TYPES.len()];
                tenant
                    .target_type(target_type)
                    .target_id(target_id(target_type, (k * 7919) % TARGET_IDS))
            }
            Self::FirstPage => tenant,
            Self::Keyset => tenant.cursor(cursor),
            Self::Offset => tenant.offset(u32::try_from(set.offset_depth).unwrap_or(MAX_OFFSET)),
            Self::Text => {
                let text = match k % 3 {
                    0 => search_word(k / 3).to_owned(),
                    1 => actor_name((k * 13) % ACTORS),
                    _ => {
                        let target_type = TARGET_TYPES[k % TARGET_TYPES.len()];
                        target_id(target_type, (k * 7919) % TARGET_IDS)
                    }
                };
                tenant.since(at(now - 30 * DAY)).text(text)
            }
        }
    }

    pub(crate) fn index_backed(self) -> bool {
        !matches!(self, Self::Offset | Self::Text)
    }
}

/// `1,000,000`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[derive(Debug)]
pub(crate) struct Measured {
    pub(crate) kind: Kind,
    pub(crate) latencies: Latencies,
    pub(crate) rows: usize,
    /// Free text only: the latencies of each of the three kinds of search.
    pub(crate) variants: [Latencies; 3],
}

/// The cursor after the `depth`th newest event of `tenant`: the page at
/// offset `depth - 50` where the offset allows, else the page at the
/// deepest offset followed by keyset pages of up to 200.
pub(crate) async fn cursor_at(store: &Store, tenant: &str, depth: usize) -> Result<String, BoxError> {
    let too_few = || format!("{tenant} has too few events for the keyset depth {depth}");
    let jump = depth.min(MAX_OFFSET as usize + 50);
    let page = store
        .query(
            &AuditQuery::new()
                .tenant(tenant)
                .offset(u32::try_from(jump.saturating_sub(50)).unwrap_or(0)),
        )
        .await?;
    let mut cursor = page.next_cursor.ok_or_else(too_few)?;
    let mut at = jump;
    while at < depth {
        let limit = (depth - at).min(MAX_LIMIT as usize);
        let page = store
            .query(
                &AuditQuery::new()
                    .tenant(tenant)
                    .limit(u32::try_from(limit).unwrap_or(MAX_LIMIT))
                    .cursor(cursor),
            )
            .await?;
        at += page.events.len();
        cursor = page.next_cursor.ok_or_else(too_few)?;
    }
    Ok(cursor)
}

/// Times every kind (`STORE_BENCH_KINDS=actor,text`: only the kinds whose
/// label holds one of those words) `runs` times after [`WARM_UP`] runs;
/// the offset kind stops after [`OFFSET_BUDGET`].
pub(crate) async fn measure(store: &Store, runs: usize, set: &QuerySet) -> Result<Vec<Measured>, BoxError> {
    let cursor = cursor_at(store, &set.tenant, set.keyset_depth).await?;
    let only = std::env::var("STORE_BENCH_KINDS").unwrap_or_default();
    let wanted = |kind: Kind| only.is_empty() || only.split(',').any(|word| kind.label(set).contains(word.trim()));
    let mut out = Vec::new();
    for kind in KINDS.into_iter().filter(|&kind| wanted(kind)) {
        for k in 0..WARM_UP {
            store.query(&kind.query(k, set, &cursor)).await?;
        }
        let mut latencies = Latencies::default();
        let mut variants: [Latencies; 3] = Default::default();
        let mut rows = 0;
        let started = Instant::now();
        for k in 0..runs {
            let query = kind.query(k, set, &cursor);
            let t = Instant::now();
            let page = store.query(&query).await?;
            latencies.0.push(t.elapsed());
            if kind == Kind::Text {
                variants[k % 3].0.push(t.elapsed());
            }
            rows += page.events.len();
            if kind == Kind::Offset && started.elapsed() > OFFSET_BUDGET {
                break;
            }
        }
        out.push(Measured {
            kind,
            latencies,
            rows,
            variants,
        });
    }
    Ok(out)
}
