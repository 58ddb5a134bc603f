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
    pub(crate) before: Timestamp,
    pub(crate) tenant: Option<String>,
    pub(crate) actor: Actor,
}

impl Purge {
    /// Events that occurred before `at`, in every stream, recorded as done by
    /// `system:audit-retention`.
    pub fn before(at: Timestamp) -> Self {
        Self {
            before: at,
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
        if self.before > Timestamp::now() {
            return Err(crate::QueryError::new(
                "before",
                format!(
                    "is in the future ({}): a purge removes only events older than now",
                    self.before.as_datetime().to_rfc3339()
                ),
            ));
        }
        Ok(())
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

    /// The event recording that `stream` lost its events up to `through_seq`.
    pub(crate) fn event(&self, stream: &str, removed: u64, through_seq: u64, through_hash: &str) -> Event {
        let action = Action::new(PURGE_ACTION).unwrap_or_else(|e| unreachable!("a valid action: {e}"));
        let mut builder = Event::builder(action, self.actor.clone())
            .severity(Severity::Notice)
            .target(Target::new("audit_stream", stream))
            .description(format!(
                "Retention purge removed {removed} events that occurred before {}",
                self.before.as_datetime().to_rfc3339()
            ))
            .metadata("before", &self.before)
            .metadata("removed", &removed)
            .metadata("through_seq", &through_seq)
            .metadata("through_hash", through_hash);
        if let Some(tenant) = stream.strip_prefix("tenant:") {
            builder = builder.tenant(tenant);
        }
        builder.build()
    }
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
