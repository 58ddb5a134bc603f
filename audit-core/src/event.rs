//! The audit event and the values it is made of.
//!
//! The JSON shape of [`Event`] is the project's public contract: the API, the
//! NDJSON export, the CLI's `--json` and the canonical bytes that are hashed
//! all use it. `tests/golden/event.json` pins it.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::action::{Action, Category};
use crate::diff::DiffEntry;
use crate::timestamp::Timestamp;

/// How much an event matters, lowest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Routine activity (the default).
    #[default]
    Info,
    /// Worth a look: configuration and permission changes.
    Notice,
    /// Suspicious or degraded: a tenant mismatch, repeated failures.
    Warning,
    /// Destructive or security-critical: deletions, key exports.
    Critical,
}

/// Whether the action went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It happened (the default).
    #[default]
    Success,
    /// It was attempted and failed; `reason` says why.
    Failure,
    /// It was refused for lack of permission; `reason` says why.
    Denied,
}

/// What kind of principal acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person signed in to the application.
    User,
    /// An API key; its id is the key's public id, never the secret.
    ApiKey,
    /// Another service calling this one.
    Service,
    /// The application itself: cron jobs, migrations, the audit pipeline.
    System,
    /// Nobody authenticated.
    Anonymous,
}

str_enum! {
    Severity { Info => "info", Notice => "notice", Warning => "warning", Critical => "critical" }
    Outcome { Success => "success", Failure => "failure", Denied => "denied" }
    ActorKind { User => "user", ApiKey => "api_key", Service => "service", System => "system", Anonymous => "anonymous" }
    IpSource { Peer => "peer", XForwardedFor => "x-forwarded-for", Forwarded => "forwarded", XRealIp => "x-real-ip" }
}

/// Who acted.
///
/// ```
/// use audit_core::{Actor, ActorKind};
///
/// let alice = Actor::user("user_alice").with_email("alice@acme.test").with_role("owner");
/// assert_eq!(alice.kind, ActorKind::User);
/// assert_eq!(Actor::system("billing-cron").kind, ActorKind::System);
/// assert_eq!(Actor::anonymous().id, "anonymous");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// What kind of principal.
    pub kind: ActorKind,
    /// A stable identifier: user id, API key public id, service name.
    pub id: String,
    /// A display name.
    pub name: Option<String>,
    /// An email address, for people.
    pub email: Option<String>,
    /// The roles the actor held when it acted.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Actor {
    /// An actor of `kind` with `id` and nothing else.
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
            name: None,
            email: None,
            roles: Vec::new(),
        }
    }

    /// A signed-in person.
    pub fn user(id: impl Into<String>) -> Self {
        Self::new(ActorKind::User, id)
    }

    /// An API key, identified by its public id (never its secret).
    pub fn api_key(public_id: impl Into<String>) -> Self {
        Self::new(ActorKind::ApiKey, public_id)
    }

    /// Another service.
    pub fn service(name: impl Into<String>) -> Self {
        Self::new(ActorKind::Service, name)
    }

    /// The application itself, e.g. `Actor::system("billing-cron")`.
    pub fn system(name: impl Into<String>) -> Self {
        Self::new(ActorKind::System, name)
    }

    /// Nobody authenticated; the id is `anonymous`.
    pub fn anonymous() -> Self {
        Self::new(ActorKind::Anonymous, "anonymous")
    }

    /// Sets the display name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the email address.
    #[must_use]
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Adds a role.
    #[must_use]
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// Whether the actor holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| held == role)
    }
}

/// The resource acted on.
///
/// ```
/// let app = audit_core::Target::new("app", "app_42").with_name("Billing");
/// assert_eq!(serde_json::to_value(&app).unwrap()["type"], "app");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The resource type: `app`, `member`, `api_key`.
    #[serde(rename = "type")]
    pub target_type: String,
    /// Its identifier.
    pub id: String,
    /// A display name.
    pub name: Option<String>,
}

impl Target {
    /// A target of `target_type` with `id`.
    pub fn new(target_type: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            target_type: target_type.into(),
            id: id.into(),
            name: None,
        }
    }

    /// Sets the display name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// Which header, if any, the client IP was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IpSource {
    /// The socket peer itself (no trusted proxy in front, or no usable header).
    #[serde(rename = "peer")]
    Peer,
    /// `X-Forwarded-For`, behind a trusted proxy.
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// `Forwarded` (RFC 7239), behind a trusted proxy.
    #[serde(rename = "forwarded")]
    Forwarded,
    /// `X-Real-Ip`, set by a trusted proxy.
    #[serde(rename = "x-real-ip")]
    XRealIp,
}

/// Where the event came from: filled by the request layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventContext {
    /// The client's address, after trusted-proxy resolution.
    pub client_ip: Option<IpAddr>,
    /// The socket peer's address.
    pub peer_ip: Option<IpAddr>,
    /// Where `client_ip` came from.
    pub ip_source: Option<IpSource>,
    /// The `User-Agent` header, capped.
    pub user_agent: Option<String>,
    /// The request id the server generated for this request (a UUIDv7 in
    /// the request layer); never taken from the client, so it cannot link
    /// unrelated events.
    pub request_id: Option<String>,
    /// The request id the client sent, when it was well-formed: useful for
    /// finding a caller's own request, but chosen by the caller, so it
    /// proves nothing and is not unique.
    ///
    /// The one field of an event that is left out of its JSON (and of its
    /// canonical bytes) when absent, instead of being `null`: events stored
    /// before it existed must keep the leaf hash they were sealed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
    /// The HTTP method.
    pub method: Option<String>,
    /// The route template (`/apps/{id}`), not the raw path.
    pub route: Option<String>,
    /// The response status.
    pub status: Option<u16>,
    /// The W3C trace the request was part of (its `traceparent` header's
    /// trace id, 32 lowercase hex digits), linking the event to the
    /// request's trace in a tracing system. Sent by the caller: it links,
    /// it proves nothing.
    ///
    /// Left out of the JSON and the canonical bytes when absent, as
    /// `client_request_id` is, so events sealed before it existed keep
    /// their hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The caller's span that sent the request (the `traceparent` header's
    /// parent id, 16 lowercase hex digits); absent with `trace_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
}

/// The state of the target before and after, and what differs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// The state before (absent for creations); redacted.
    pub before: Option<Value>,
    /// The state after (absent for deletions); redacted.
    pub after: Option<Value>,
    /// What differs, as JSON Pointer paths; values under denied keys are masked.
    #[serde(default)]
    pub diff: Vec<DiffEntry>,
}

/// The event's place in its tamper-evident stream; assigned by the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integrity {
    /// The stream: `tenant:<id>`, or `global` for events without a tenant.
    pub stream: String,
    /// Gapless position in the stream, from 1.
    pub seq: u64,
    /// `SHA-256(0x00 ‖ canonical bytes)`, lowercase hex.
    pub leaf_hash: String,
}

/// One audit event: who did what, to what, when, from where, and what changed.
///
/// Built with [`Event::builder`], which sanitises, caps and redacts every
/// field, so an `Event` is always safe to store and display. Read it through
/// the accessors; the store fills [`Event::recorded_at`] and
/// [`Event::integrity`].
///
/// ```
/// use audit_core::{Action, Actor, Event, Outcome, Severity, Target};
///
/// let event = Event::builder(Action::new("app.deleted")?, Actor::user("user_alice"))
///     .tenant("acme")
///     .target(Target::new("app", "app_42"))
///     .severity(Severity::Critical)
///     .build();
/// assert_eq!(event.category().as_str(), "delete");
/// assert_eq!(event.outcome(), Outcome::Success);
/// assert_eq!(event.id().get_version_num(), 7);
/// # Ok::<(), audit_core::ActionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub(crate) id: Uuid,
    pub(crate) occurred_at: Timestamp,
    pub(crate) recorded_at: Option<Timestamp>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) action: Action,
    pub(crate) category: Category,
    pub(crate) severity: Severity,
    pub(crate) outcome: Outcome,
    pub(crate) reason: Option<String>,
    pub(crate) actor: Actor,
    pub(crate) target: Option<Target>,
    #[serde(default)]
    pub(crate) targets: Vec<Target>,
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) context: EventContext,
    pub(crate) changes: Option<Changes>,
    #[serde(default)]
    pub(crate) metadata: Map<String, Value>,
    #[serde(default)]
    pub(crate) truncated: bool,
    #[serde(default)]
    pub(crate) lossy_utf8: bool,
    pub(crate) integrity: Option<Integrity>,
    /// Keys marked personal, for the store that seals them; not part of
    /// the canonical bytes and not kept once stored (the sealed values
    /// speak for themselves).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) personal: Vec<String>,
}

/// The parts of an [`Event`] a store may seal as personal data, borrowed
/// mutably from it ([`Event::sealable_parts`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct SealableParts<'a> {
    /// Who acted (name and email).
    pub actor: &'a mut Actor,
    /// The main target (its name).
    pub target: Option<&'a mut Target>,
    /// Further targets (their names).
    pub targets: &'a mut [Target],
    /// The description.
    pub description: Option<&'a mut String>,
    /// The metadata.
    pub metadata: &'a mut Map<String, Value>,
    /// Before/after state and the diff.
    pub changes: Option<&'a mut Changes>,
}

impl Event {
    /// The UUIDv7 assigned at creation; the idempotency key of every store write.
    pub fn id(&self) -> Uuid {
        self.id
    }
    /// When it happened.
    pub fn occurred_at(&self) -> Timestamp {
        self.occurred_at
    }
    /// When the store took it; `None` until stored.
    pub fn recorded_at(&self) -> Option<Timestamp> {
        self.recorded_at
    }
    /// The tenant, the isolation boundary for reads, retention and integrity.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }
    /// What happened.
    pub fn action(&self) -> &Action {
        &self.action
    }
    /// The kind of change.
    pub fn category(&self) -> Category {
        self.category
    }
    /// How much it matters.
    pub fn severity(&self) -> Severity {
        self.severity
    }
    /// Whether it went through.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }
    /// Why it failed or was denied.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    /// Who acted.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    /// The main resource acted on.
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }
    /// Further resources affected (e.g. the user whose role changed).
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }
    /// One human sentence.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    /// Where the event came from.
    pub fn context(&self) -> &EventContext {
        &self.context
    }
    /// Before/after state and the diff, redacted.
    pub fn changes(&self) -> Option<&Changes> {
        self.changes.as_ref()
    }
    /// Free-form metadata, redacted and size-capped.
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }
    /// Whether any value was cut to fit a limit.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
    /// Whether any value was decoded from invalid UTF-8 (bytes replaced by U+FFFD).
    pub fn lossy_utf8(&self) -> bool {
        self.lossy_utf8
    }
    /// The event's place in its integrity stream, once stored.
    pub fn integrity(&self) -> Option<&Integrity> {
        self.integrity.as_ref()
    }

    /// Metadata and state keys marked personal while the event was built
    /// ([`EventBuilder::personal_key`](crate::EventBuilder::personal_key),
    /// `#[audit(personal)]`). Empty once stored: a sealing store has sealed
    /// their values by then.
    pub fn personal_keys(&self) -> &[String] {
        &self.personal
    }

    /// The personal-data parts of the event, to seal before it is stored
    /// or to open after it is read. Changing them after the event was
    /// sealed breaks its leaf hash: stores seal before hashing, and open
    /// only copies they hand to readers.
    pub fn sealable_parts(&mut self) -> SealableParts<'_> {
        SealableParts {
            actor: &mut self.actor,
            target: self.target.as_mut(),
            targets: &mut self.targets,
            description: self.description.as_mut(),
            metadata: &mut self.metadata,
            changes: self.changes.as_mut(),
        }
    }

    /// Forgets the keys marked personal (a store calls this once it has
    /// sealed them).
    pub fn clear_personal_keys(&mut self) {
        self.personal = Vec::new();
    }

    /// The integrity stream this event belongs to: `tenant:<id>` or `global`.
    ///
    /// ```
    /// # use audit_core::{Action, Actor, Event};
    /// let e = Event::builder(Action::from_static("a.created").unwrap(), Actor::anonymous()).tenant("acme").build();
    /// assert_eq!(e.stream(), "tenant:acme");
    /// ```
    pub fn stream(&self) -> String {
        match &self.tenant_id {
            Some(tenant) => format!("tenant:{tenant}"),
            None => "global".to_owned(),
        }
    }

    /// Sets when the store took the event (stores call this before hashing).
    pub fn set_recorded_at(&mut self, at: Timestamp) {
        self.recorded_at = Some(at);
    }

    /// Sets the integrity record (stores call this).
    pub fn set_integrity(&mut self, integrity: Integrity) {
        self.integrity = Some(integrity);
    }
}

impl Event {
    /// The bytes an integrity hash covers: the event's JSON in the canonical
    /// form of [`CANONICAL_ENCODING`](crate::CANONICAL_ENCODING) (RFC 8785),
    /// with everything but `integrity.leaf_hash` — a hash cannot cover itself,
    /// while `stream` and `seq` are covered so that moving an event within or
    /// between streams breaks its hash.
    ///
    /// ```
    /// # use audit_core::{Action, Actor, Event, Integrity};
    /// let mut event = Event::builder(Action::from_static("app.created").unwrap(), Actor::user("u1")).build();
    /// let unsealed = event.canonical_bytes();
    /// event.set_integrity(Integrity { stream: "global".into(), seq: 1, leaf_hash: "ab".into() });
    /// let sealed = event.canonical_bytes();
    /// assert_ne!(unsealed, sealed);
    /// event.set_integrity(Integrity { stream: "global".into(), seq: 1, leaf_hash: "cd".into() });
    /// assert_eq!(event.canonical_bytes(), sealed, "the leaf hash is not part of its own input");
    /// ```
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // An event without before/after state is typically 0.5–1 KB of
        // canonical JSON, one with them 1.5–3 KB; starting near the size
        // saves growing (and copying) the buffer on the way.
        let mut out = Vec::with_capacity(if self.changes.is_some() { 2048 } else { 1024 });
        crate::event_canonical::write_event(self, &mut out);
        out
    }
}
