//! Retention: [`Purge`], the only way events leave a store.
//!
//! A purge removes, per stream, the oldest run of events: every event up to
//! the last one before the first event that occurred at or after `before`.
//! Removing a *prefix* of the stream (never events in the middle) keeps what
//! remains checkable: the stream's head row records the seq and leaf hash of
//! the last removed event (its *base*), and the purge appends an
//! `audit.purged` event to the same stream saying the same thing, inside the
//! same transaction. `verify` then starts at `base + 1` and requires the
//! newest `audit.purged` event to match the base, so rows deleted behind the
//! store's back (with the base moved to hide them) are still caught.
//!
//! An event recorded late (so that it sits after a newer event in its
//! stream) is kept until a purge's cut passes it: a purge never removes an
//! event that occurred at or after `before`.
//!
//! The cut is one time for every stream ([`Purge::before`]) or each
//! tenant's own, from a [`RetentionPolicy`] ([`Purge::by_policy`]): a tenant
//! on a 1-year plan keeps a year, one on 90 days keeps 90 days.
//!
//! On PostgreSQL, whose events are partitioned by month, a month whose every
//! event is at or below its stream's base after the purge is dropped whole
//! (`DROP TABLE` of the partition, no matter its size) instead of deleted
//! row by row; only the months a cut falls in, or that hold events some
//! stream keeps, lose their rows one by one. [`PurgeOutcome`] says which.
//! Between a stream's transaction and the drop, and after a crash between
//! them, the purged events of those months are still stored (below the
//! base, where `verify` does not look); the next purge drops them.

use std::collections::BTreeMap;
use std::time::Duration;

use audit_core::{Action, Actor, Event, Severity, Target, Timestamp};

/// The action of the event a purge records.
pub const PURGE_ACTION: &str = "audit.purged";

/// What to purge: events that occurred before a time, in one tenant's stream
/// or in every stream.
///
/// ```
/// use audit_core::{Actor, Timestamp};
/// use audit_store::Purge;
///
/// let year_ago = Timestamp::from_unix_micros(Timestamp::now().unix_micros() - 365 * 86_400 * 1_000_000).unwrap();
/// let purge = Purge::before(year_ago).tenant("acme").actor(Actor::user("u_admin"));
/// assert_eq!(purge.tenant_id(), Some("acme"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Purge {
    cutoff: Cutoff,
    pub(crate) tenant: Option<String>,
    pub(crate) actor: Actor,
}

/// Where a purge cuts each stream.
#[derive(Debug, Clone, PartialEq)]
enum Cutoff {
    /// The same time for every stream.
    Before(Timestamp),
    /// Each stream's own period, counted back from when the purge runs.
    Policy(RetentionPolicy),
}

impl Purge {
    /// Events that occurred before `at`, in every stream, recorded as done by
    /// `system:audit-retention`.
    pub fn before(at: Timestamp) -> Self {
        Self {
            cutoff: Cutoff::Before(at),
            tenant: None,
            actor: Actor::system("audit-retention"),
        }
    }

    /// Events older than each stream's retention period in `policy`,
    /// counted back from when the purge runs; streams the policy keeps
    /// forever are left alone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use audit_store::{Purge, RetentionPolicy};
    ///
    /// const DAY: Duration = Duration::from_secs(86_400);
    /// let policy = RetentionPolicy::keep_forever().default_period(365 * DAY).tenant("trial-co", 90 * DAY);
    /// let purge = Purge::by_policy(policy.clone());
    /// assert_eq!(policy.period_of("tenant:trial-co"), Some(90 * DAY));
    /// assert_eq!(policy.period_of("tenant:acme"), Some(365 * DAY));
    /// assert_eq!(purge.tenant_id(), None);
    /// ```
    pub fn by_policy(policy: RetentionPolicy) -> Self {
        Self {
            cutoff: Cutoff::Policy(policy),
            tenant: None,
            actor: Actor::system("audit-retention"),
        }
    }

    /// Only `tenant`'s stream.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Who the `audit.purged` events name as the actor.
    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    /// The tenant whose stream is purged; `None` for every stream.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// Refuses a `before` in the future: it would remove events still being
    /// written, which no retention policy means.
    pub(crate) fn check(&self) -> Result<(), crate::QueryError> {
        if let Cutoff::Before(before) = self.cutoff
            && before > Timestamp::now()
        {
            return Err(crate::QueryError::new(
                "before",
                format!(
                    "is in the future ({}): a purge removes only events older than now",
                    before.as_datetime().to_rfc3339()
                ),
            ));
        }
        Ok(())
    }

    /// Where `stream` is cut by a purge running at `now`: events that
    /// occurred before the time returned go; `None` keeps them all.
    pub(crate) fn before_for(&self, stream: &str, now: Timestamp) -> Option<Timestamp> {
        match &self.cutoff {
            Cutoff::Before(before) => Some(*before),
            Cutoff::Policy(policy) => {
                let period = policy.period_of(stream)?;
                let micros = i64::try_from(period.as_micros()).unwrap_or(i64::MAX);
                Some(Timestamp::from_unix_micros(now.unix_micros().saturating_sub(micros)).unwrap_or(now))
            }
        }
    }

    /// The stream names this purge covers, out of `streams`.
    pub(crate) fn streams(&self, streams: Vec<String>) -> Vec<String> {
        match &self.tenant {
            Some(tenant) => {
                let own = format!("tenant:{tenant}");
                streams.into_iter().filter(|s| *s == own).collect()
            }
            None => streams,
        }
    }

    /// The event recording that `stream` lost its events that occurred
    /// before `before`, up to `through_seq`.
    pub(crate) fn event(
        &self,
        stream: &str,
        before: Timestamp,
        removed: u64,
        through_seq: u64,
        through_hash: &str,
    ) -> Event {
        let action = Action::new(PURGE_ACTION).unwrap_or_else(|e| unreachable!("a valid action: {e}"));
        let mut builder = Event::builder(action, self.actor.clone())
            .severity(Severity::Notice)
            .target(Target::new("audit_stream", stream))
            .description(format!(
                "Retention purge removed {removed} events that occurred before {}",
                before.as_datetime().to_rfc3339()
            ))
            .metadata("before", &before)
            .metadata("removed", &removed)
            .metadata("through_seq", &through_seq)
            .metadata("through_hash", through_hash);
        if let Some(tenant) = stream.strip_prefix("tenant:") {
            builder = builder.tenant(tenant);
        }
        builder.build()
    }
}

/// How long each stream's events are kept: a period per tenant, and one for
/// every other stream (or none: kept forever).
///
/// Periods count back from when the purge runs, so a daily
/// `Purge::by_policy` keeps each tenant's trail at its plan's length. Where
/// policies live is the application's choice (its tenants table, its
/// config); the `audit purge` command takes them as `--keep 365d
/// --keep-tenant trial-co=90d`.
///
/// ```
/// use std::time::Duration;
/// use audit_store::RetentionPolicy;
///
/// let days = |n: u64| Duration::from_secs(n * 86_400);
/// let policy = RetentionPolicy::keep_forever().tenant("acme", days(365));
/// assert_eq!(policy.period_of("tenant:acme"), Some(days(365)));
/// assert_eq!(policy.period_of("tenant:globex"), None); // kept forever
/// assert_eq!(policy.period_of("global"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    default: Option<Duration>,
    tenants: BTreeMap<String, Duration>,
}

impl RetentionPolicy {
    /// A policy that keeps every stream forever, until periods are set.
    pub fn keep_forever() -> Self {
        Self::default()
    }

    /// The period of every stream without its own (the global stream
    /// included).
    pub fn default_period(mut self, period: Duration) -> Self {
        self.default = Some(period);
        self
    }

    /// `tenant`'s own period, longer or shorter than the default.
    pub fn tenant(mut self, tenant: impl Into<String>, period: Duration) -> Self {
        self.tenants.insert(tenant.into(), period);
        self
    }

    /// How long `stream`'s events are kept; `None` for ever.
    pub fn period_of(&self, stream: &str) -> Option<Duration> {
        stream
            .strip_prefix("tenant:")
            .and_then(|tenant| self.tenants.get(tenant))
            .copied()
            .or(self.default)
    }
}

/// What a purge did: the streams it cut, and on PostgreSQL the month
/// partitions it dropped whole.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PurgeOutcome {
    /// One report per stream that lost events, in stream order.
    pub streams: Vec<PurgeReport>,
    /// The partitions dropped whole (`audit_events_y2025m01`, …): every
    /// event in them was at or below its stream's new base.
    pub dropped_partitions: Vec<String>,
    /// Partitions wholly older than a cut that could not be dropped, whose
    /// purged events were deleted row by row instead: some stream keeps
    /// events in them (a tenant with a longer period, a tenant-only purge,
    /// an event recorded late), the role may not drop tables, or readers
    /// held the table past the moment a drop may wait for.
    pub deleted_from_partitions: Vec<String>,
}

/// What a purge did to one stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PurgeReport {
    /// The stream.
    pub stream: String,
    /// How many events were removed.
    pub removed: u64,
    /// The seq of the last removed event (the stream's new base).
    pub through_seq: u64,
    /// The leaf hash of the last removed event.
    pub through_hash: String,
    /// The `audit.purged` event that records it.
    pub event: Event,
}

impl PurgeReport {
    pub(crate) fn new(stream: String, removed: u64, through_seq: u64, through_hash: String, event: Event) -> Self {
        Self {
            stream,
            removed,
            through_seq,
            through_hash,
            event,
        }
    }
}

/// The seq and hash a purge event says it cut at, if `event` is one.
pub(crate) fn purge_cut(event: &Event) -> Option<(u64, String)> {
    if event.action().as_str() != PURGE_ACTION {
        return None;
    }
    let metadata = event.metadata();
    let seq = metadata.get("through_seq")?.as_u64()?;
    let hash = metadata.get("through_hash")?.as_str()?.to_owned();
    Some((seq, hash))
}
