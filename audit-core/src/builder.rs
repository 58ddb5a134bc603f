//! [`EventBuilder`]: the only way to make an [`Event`].

mod request_fill;

use std::cell::RefCell;
use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::action::{Action, Category};
use crate::diff::{DiffEntry, diff};
use crate::event::{Actor, Changes, Event, EventContext, Outcome, Severity, Target};
use crate::redact::{REDACTED, Redactor};
use crate::sanitize::{
    Limits, oversize_marker, redact_and_sanitize_json, redact_and_sanitize_map, sanitize_opt, sanitize_string,
};
use crate::state::{AuditState, to_json};
use crate::timestamp::Timestamp;

pub(crate) use request_fill::{RequestFill, SharedRequest};

/// How events are prepared: size limits and the redactor.
///
/// An [`Auditor`](crate::Auditor) holds one and applies it to every event it
/// writes; [`EventBuilder::build`] uses the default.
///
/// ```
/// use audit_core::{EventPolicy, Redactor};
/// let policy = EventPolicy { redactor: Redactor::new().deny("ssn"), ..Default::default() };
/// assert!(policy.redactor.is_denied("customer_ssn"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct EventPolicy {
    /// Size limits.
    pub limits: Limits,
    /// Which keys are masked in metadata and before/after state, and in
    /// `key=value` pairs of the free text that is scanned for secrets.
    pub redactor: Redactor,
}

static DEFAULT_POLICY: LazyLock<EventPolicy> = LazyLock::new(EventPolicy::default);

/// Collects an event's parts; [`build`](Self::build) sanitises, redacts and
/// diffs them into an [`Event`].
///
/// The action and the actor are required up front, so an event without them
/// cannot be expressed. The id (UUIDv7) and `occurred_at` are fixed when the
/// builder is created. Everything else is optional.
///
/// ```
/// use audit_core::{Action, Actor, Event, Outcome, REDACTED};
/// use serde_json::json;
///
/// let event = Event::builder(Action::new("member.role_changed")?, Actor::user("user_alice"))
///     .tenant("acme")
///     .before(&json!({"role": "member", "api_token": "tok_live_123"}))
///     .after(&json!({"role": "admin", "api_token": "tok_live_456"}))
///     .metadata("via", "admin console")
///     .outcome(Outcome::Success)
///     .build();
///
/// let changes = event.changes().unwrap();
/// assert_eq!(changes.before.as_ref().unwrap()["api_token"], REDACTED);
/// let role = changes.diff.iter().find(|d| d.path == "/role").unwrap();
/// assert_eq!(role.new, Some(json!("admin")));
/// assert!(!serde_json::to_string(&event).unwrap().contains("tok_live"));
/// # Ok::<(), audit_core::ActionError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "an EventBuilder does nothing until it is built or recorded"]
pub struct EventBuilder {
    pub(crate) id: Uuid,
    pub(crate) occurred_at: Timestamp,
    pub(crate) action: Action,
    pub(crate) category: Option<Category>,
    pub(crate) severity: Severity,
    pub(crate) outcome: Outcome,
    pub(crate) reason: Option<String>,
    pub(crate) actor: Option<Actor>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) target: Option<Target>,
    pub(crate) targets: Vec<Target>,
    pub(crate) description: Option<String>,
    pub(crate) context: EventContext,
    pub(crate) before: Option<Value>,
    pub(crate) after: Option<Value>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) redact_keys: Vec<String>,
    /// Metadata and state keys marked personal (see [`personal_key`](Self::personal_key)).
    pub(crate) personal: Vec<String>,
    pub(crate) lossy_utf8: bool,
    /// The scope's actor, tenant and context, still to be copied in (see
    /// `CompletedDraft::into_builder_deferred`).
    pub(crate) request_fill: Option<RequestFill>,
}

impl Event {
    /// Starts an event: `action` done by `actor`, now. `action` is an
    /// [`Action`] or a catalogue constant ([`DeclaredAction`](crate::catalogue::DeclaredAction)).
    pub fn builder(action: impl Into<Action>, actor: Actor) -> EventBuilder {
        let mut builder = EventBuilder::without_actor(action.into());
        builder.actor = Some(actor);
        builder
    }
}

impl EventBuilder {
    /// A builder whose actor the surrounding scope fills in later.
    pub(crate) fn without_actor(action: Action) -> Self {
        let occurred_at = Timestamp::now();
        Self {
            id: crate::timestamp::new_event_id(occurred_at),
            occurred_at,
            action,
            category: None,
            severity: Severity::Info,
            outcome: Outcome::Success,
            reason: None,
            actor: None,
            tenant_id: None,
            target: None,
            targets: Vec::new(),
            description: None,
            context: EventContext::default(),
            before: None,
            after: None,
            metadata: Map::new(),
            redact_keys: Vec::new(),
            personal: Vec::new(),
            lossy_utf8: false,
            request_fill: None,
        }
    }

    /// The event's id, fixed at creation.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The action.
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// The actor, if one was set.
    pub fn actor_ref(&self) -> Option<&Actor> {
        self.actor.as_ref()
    }

    /// The tenant, if one was set.
    pub fn tenant_ref(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The outcome as set so far.
    pub fn current_outcome(&self) -> Outcome {
        self.outcome
    }

    /// The reason as set so far.
    pub fn current_reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The request context, for the layer to complete (e.g. the status).
    pub fn context_mut(&mut self) -> &mut EventContext {
        &mut self.context
    }

    /// [`outcome`](Self::outcome) in place, for a builder held in a box or a
    /// queue entry (moving one out and back copies ~600 bytes each way).
    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.outcome = outcome;
    }

    /// [`reason`](Self::reason) in place; see [`set_outcome`](Self::set_outcome).
    pub fn set_reason(&mut self, reason: impl Into<String>) {
        self.reason = Some(reason.into());
    }

    /// Replaces the actor.
    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Sets the tenant.
    pub fn tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Sets the main target.
    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// Adds a further affected resource (e.g. the user whose role changed).
    pub fn add_target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    /// Sets the human sentence.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Sets the severity (default `info`).
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Sets the outcome (default `success`).
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Sets why it failed or was denied. Kept whatever the outcome.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Overrides the category derived from the action.
    pub fn category(mut self, category: Category) -> Self {
        self.category = Some(category);
        self
    }

    /// Sets the request context (client IP, user agent, request id, route, …).
    pub fn context(mut self, context: EventContext) -> Self {
        self.context = context;
        self
    }

    /// Sets the state before the change. A resource type
    /// (`#[derive(Auditable)]`) also becomes the target unless one is set;
    /// wrap other `Serialize` values in [`Snapshot`](crate::Snapshot).
    pub fn before<T: AuditState + ?Sized>(mut self, state: &T) -> Self {
        self.before = Some(state.audit_state());
        self.personal_from(state);
        self.target_from(state)
    }

    /// Sets the state after the change; see [`before`](Self::before).
    pub fn after<T: AuditState + ?Sized>(mut self, state: &T) -> Self {
        self.after = Some(state.audit_state());
        self.personal_from(state);
        self.target_from(state)
    }

    fn personal_from<T: AuditState + ?Sized>(&mut self, state: &T) {
        for &key in state.audit_personal_fields() {
            if !self.personal.iter().any(|marked| marked == key) {
                self.personal.push(key.to_owned());
            }
        }
    }

    /// Marks `key` as personal data in this event: its metadata entry and
    /// its field in the before/after state (and their diff) are sealed under
    /// the event's subjects' keys by a store that seals personal data, so
    /// erasing a subject makes them unreadable. `#[audit(personal)]` on a
    /// derived resource's field marks it the same way.
    ///
    /// ```
    /// use audit_core::{Action, Actor, Event};
    /// let event = Event::builder(Action::new("user.invited")?, Actor::user("u1"))
    ///     .metadata("email", "bob@example.com")
    ///     .personal_key("email")
    ///     .build();
    /// assert_eq!(event.personal_keys(), ["email"]);
    /// # Ok::<(), audit_core::ActionError>(())
    /// ```
    pub fn personal_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        if !self.personal.contains(&key) {
            self.personal.push(key);
        }
        self
    }

    fn target_from<T: AuditState + ?Sized>(mut self, state: &T) -> Self {
        if self.target.is_none() {
            self.target = state.audit_target();
        }
        self
    }

    /// Adds one metadata entry (anything `Serialize`).
    pub fn metadata<T: Serialize + ?Sized>(mut self, key: impl Into<String>, value: &T) -> Self {
        self.metadata.insert(key.into(), to_json(value));
        self
    }

    /// Masks `key` in this event only, on top of the policy's deny-list.
    pub fn redact_key(mut self, key: impl Into<String>) -> Self {
        self.redact_keys.push(key.into());
        self
    }

    /// Overrides when it happened (for imports and replays).
    pub fn occurred_at(mut self, at: Timestamp) -> Self {
        self.occurred_at = at;
        self
    }

    /// Records that some input was decoded from invalid UTF-8.
    pub fn mark_lossy_utf8(mut self) -> Self {
        self.lossy_utf8 = true;
        self
    }

    pub(crate) fn fill_from_scope(&mut self, actor: &Actor, tenant: Option<&str>, context: &EventContext, lossy: bool) {
        self.apply_request_fill();
        if self.actor.is_none() {
            self.actor = Some(actor.clone());
        }
        if self.tenant_id.is_none() {
            self.tenant_id = tenant.map(str::to_owned);
        }
        if self.context == EventContext::default() {
            self.context = context.clone();
        }
        self.lossy_utf8 |= lossy;
    }

    /// Takes in a deferred fill from the scope, if any.
    pub(crate) fn apply_request_fill(&mut self) {
        if let Some(fill) = self.request_fill.take() {
            fill.apply(self);
        }
    }

    /// Builds the event with the default [`EventPolicy`].
    pub fn build(self) -> Event {
        self.build_with(&DEFAULT_POLICY)
    }

    /// Builds the event: diffs before/after, masks denied keys, masks
    /// secret-shaped text in the reason, description, user agent and client
    /// request id ([`Redactor::redact_text`]), escapes and caps every string,
    /// and caps metadata and state sizes.
    pub fn build_with(mut self, policy: &EventPolicy) -> Event {
        self.apply_request_fill();
        let limits = &policy.limits;
        let extended;
        let redactor = if self.redact_keys.is_empty() {
            &policy.redactor
        } else {
            extended = self
                .redact_keys
                .iter()
                .fold(policy.redactor.clone(), |r, key| r.deny(key));
            &extended
        };
        let mut truncated = false;

        let changes = if self.before.is_some() || self.after.is_some() {
            let (changes, cut) = prepare_changes(self.before, self.after, redactor, limits);
            truncated |= cut;
            Some(changes)
        } else {
            None
        };

        let mut metadata = self.metadata;
        if !metadata.is_empty() {
            let (cut, bytes) = redact_and_sanitize_map(&mut metadata, redactor, limits);
            truncated |= cut;
            if bytes > limits.metadata_bytes {
                metadata = Map::from_iter([(
                    "_truncated".to_owned(),
                    oversize_marker("metadata", bytes, limits.metadata_bytes),
                )]);
                truncated = true;
            }
        }

        let mut actor = self.actor.unwrap_or_else(Actor::anonymous);
        truncated |= sanitize_string(&mut actor.id, limits.field_bytes);
        truncated |= sanitize_opt(&mut actor.name, limits.field_bytes);
        truncated |= sanitize_opt(&mut actor.email, limits.field_bytes);
        actor.roles.truncate(limits.max_targets);
        for role in &mut actor.roles {
            truncated |= sanitize_string(role, limits.field_bytes);
        }

        let mut target = self.target;
        if let Some(target) = &mut target {
            truncated |= sanitize_target(target, limits);
        }
        let mut targets = self.targets;
        if targets.len() > limits.max_targets {
            targets.truncate(limits.max_targets);
            truncated = true;
        }
        for target in &mut targets {
            truncated |= sanitize_target(target, limits);
        }

        let mut tenant_id = self.tenant_id;
        truncated |= sanitize_opt(&mut tenant_id, limits.field_bytes);
        let mut description = self.description;
        let mut reason = self.reason;
        let mut context = self.context;
        // Free text and strings copied from request headers have no key to
        // match, only secret-shaped stretches. Masked before the cap below:
        // a secret cut in half could no longer be recognised.
        let free_text = [
            (&mut description, limits.text_bytes),
            (&mut reason, limits.text_bytes),
            (&mut context.user_agent, limits.text_bytes),
            (&mut context.client_request_id, limits.field_bytes),
        ];
        for (text, kept_bytes) in free_text {
            if let Some(text) = text {
                redactor.redact_string(text, kept_bytes);
            }
        }
        truncated |= sanitize_opt(&mut description, limits.text_bytes);
        truncated |= sanitize_opt(&mut reason, limits.text_bytes);
        truncated |= sanitize_opt(&mut context.user_agent, limits.text_bytes);
        truncated |= sanitize_opt(&mut context.request_id, limits.field_bytes);
        truncated |= sanitize_opt(&mut context.client_request_id, limits.field_bytes);
        truncated |= sanitize_opt(&mut context.method, limits.field_bytes);
        truncated |= sanitize_opt(&mut context.route, limits.field_bytes);
        truncated |= sanitize_opt(&mut context.trace_id, limits.field_bytes);
        truncated |= sanitize_opt(&mut context.span_id, limits.field_bytes);

        Event {
            id: self.id,
            occurred_at: self.occurred_at,
            recorded_at: None,
            tenant_id,
            category: self.category.unwrap_or_else(|| derived_category(&self.action)),
            action: self.action,
            severity: self.severity,
            outcome: self.outcome,
            reason,
            actor,
            target,
            targets,
            description,
            context,
            changes,
            metadata,
            truncated,
            lossy_utf8: self.lossy_utf8,
            integrity: None,
            personal: self.personal,
        }
    }
}

/// How many actions [`derived_category`] remembers per thread.
const CATEGORY_CACHE_LEN: usize = 64;

/// [`Category::for_action`], remembered per action on this thread: the
/// auditor's writer builds every event on one task, and a service has few
/// actions, so the verb table is scanned once per action rather than once per
/// event. Past `CATEGORY_CACHE_LEN` actions, entries are replaced in turn.
fn derived_category(action: &Action) -> Category {
    struct Cache {
        entries: Vec<(Action, Category)>,
        next: usize,
    }
    thread_local! {
        static CACHE: RefCell<Cache> = const { RefCell::new(Cache { entries: Vec::new(), next: 0 }) };
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, category)) = cache.entries.iter().find(|(known, _)| known == action) {
            return *category;
        }
        let category = Category::for_action(action);
        if cache.entries.len() < CATEGORY_CACHE_LEN {
            cache.entries.push((action.clone(), category));
        } else {
            let slot = cache.next;
            cache.entries[slot] = (action.clone(), category);
            cache.next = (slot + 1) % CATEGORY_CACHE_LEN;
        }
        category
    })
}

fn sanitize_target(target: &mut Target, limits: &Limits) -> bool {
    sanitize_string(&mut target.target_type, limits.field_bytes)
        | sanitize_string(&mut target.id, limits.field_bytes)
        | sanitize_opt(&mut target.name, limits.field_bytes)
}

/// Diffs on the raw values (so a changed secret still shows as changed),
/// then masks and sanitises everything that is kept.
fn prepare_changes(
    before: Option<Value>,
    after: Option<Value>,
    redactor: &Redactor,
    limits: &Limits,
) -> (Changes, bool) {
    let mut truncated = false;
    let mut entries = diff(before.as_ref(), after.as_ref());
    // Entries are masked and sanitised in place, and the list is cut at the
    // first entry past the size limit: the same as `Redactor::redact_diff`
    // over all entries followed by sanitising them into a new list, without
    // that second list.
    let mut diff_bytes = 0;
    let mut kept = entries.len();
    for (index, entry) in entries.iter_mut().enumerate() {
        let (cut, bytes) = prepare_entry(entry, redactor, limits);
        truncated |= cut;
        diff_bytes += bytes;
        if diff_bytes > limits.changes_bytes {
            truncated = true;
            kept = index;
            break;
        }
    }
    entries.truncate(kept);
    let mut state = |value: Option<Value>, what: &str| {
        value.map(|mut value| {
            let (cut, bytes) = redact_and_sanitize_json(&mut value, redactor, limits);
            truncated |= cut;
            if bytes > limits.changes_bytes {
                truncated = true;
                oversize_marker(what, bytes, limits.changes_bytes)
            } else {
                value
            }
        })
    };
    let before = state(before, "before");
    let after = state(after, "after");
    (
        Changes {
            before,
            after,
            diff: entries,
        },
        truncated,
    )
}

/// Masks one diff entry as [`Redactor::redact_diff`] does (looking at the
/// raw path), then sanitises it.
fn prepare_entry(entry: &mut DiffEntry, redactor: &Redactor, limits: &Limits) -> (bool, usize) {
    let path_denied = redactor.pointer_is_denied(&entry.path);
    let mut truncated = sanitize_string(&mut entry.path, limits.json_string_bytes);
    let mut bytes = entry.path.len() + 16;
    for side in [&mut entry.old, &mut entry.new].into_iter().flatten() {
        if path_denied {
            *side = Value::String(REDACTED.to_owned());
        }
        let (cut, size) = redact_and_sanitize_json(side, redactor, limits);
        truncated |= cut;
        bytes += size;
    }
    (truncated, bytes)
}

#[cfg(test)]
mod category_tests {
    use super::*;

    fn event(action: &str) -> EventBuilder {
        Event::builder(Action::new(action).unwrap(), Actor::user("u1"))
    }

    #[test]
    fn a_remembered_category_still_yields_to_an_explicit_one() {
        assert_eq!(event("app.created").build().category(), Category::Create);
        assert_eq!(event("app.created").build().category(), Category::Create);
        let overridden = event("app.created").category(Category::Other).build();
        assert_eq!(overridden.category(), Category::Other);
        assert_eq!(
            event("app.created").build().category(),
            Category::Create,
            "the override is not remembered"
        );
    }

    #[test]
    fn every_action_gets_its_own_category_past_the_cache_size() {
        let verbs = [
            ("created", Category::Create),
            ("role_changed", Category::Update),
            ("deleted", Category::Delete),
            ("viewed", Category::Access),
            ("charged", Category::Other),
        ];
        for round in 0..3 {
            for n in 0..(CATEGORY_CACHE_LEN + 7) {
                let (verb, expected) = verbs[(n + round) % verbs.len()];
                let action = format!("ns{n}.{verb}");
                assert_eq!(event(&action).build().category(), expected, "{action}");
                assert_eq!(
                    derived_category(&Action::new(action.clone()).unwrap()),
                    expected,
                    "{action}"
                );
            }
        }
        assert_eq!(event("auth.token_revoked").build().category(), Category::Auth);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize::sanitize_json;
    use proptest::prelude::*;

    /// `prepare_changes` as first written: redact all diff entries, sanitise
    /// them into a second list, then redact and sanitise each state in two
    /// walks.
    fn reference(before: Option<Value>, after: Option<Value>, redactor: &Redactor, limits: &Limits) -> (Changes, bool) {
        let mut truncated = false;
        let mut entries = diff(before.as_ref(), after.as_ref());
        redactor.redact_diff(&mut entries);
        let mut kept = Vec::new();
        let mut diff_bytes = 0;
        for mut entry in entries {
            let mut cut = sanitize_string(&mut entry.path, limits.json_string_bytes);
            let mut bytes = entry.path.len() + 16;
            for side in [&mut entry.old, &mut entry.new].into_iter().flatten() {
                let (side_cut, size) = sanitize_json(side, limits);
                cut |= side_cut;
                bytes += size;
            }
            truncated |= cut;
            diff_bytes += bytes;
            if diff_bytes > limits.changes_bytes {
                truncated = true;
                break;
            }
            kept.push(entry);
        }
        let mut state = |value: Option<Value>, what: &str| {
            value.map(|mut value| {
                redactor.redact(&mut value);
                let (cut, bytes) = sanitize_json(&mut value, limits);
                truncated |= cut;
                if bytes > limits.changes_bytes {
                    truncated = true;
                    oversize_marker(what, bytes, limits.changes_bytes)
                } else {
                    value
                }
            })
        };
        let before = state(before, "before");
        let after = state(after, "after");
        (
            Changes {
                before,
                after,
                diff: kept,
            },
            truncated,
        )
    }

    fn state() -> impl Strategy<Value = Option<Value>> {
        let key = prop::sample::select(vec!["id", "role", "password", "x~/y", "na\nme", "1", "token_count"]);
        let leaf = prop_oneof![
            Just(Value::Null),
            (0i64..3).prop_map(Value::from),
            prop::sample::select(vec!["a", "b", "line\r\nforged", "long enough to be capped"]).prop_map(Value::from),
        ];
        let tree = leaf.prop_recursive(4, 32, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone().prop_map(str::to_owned), inner), 0..5)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        });
        prop::option::weighted(0.9, tree)
    }

    proptest! {
        #[test]
        fn prepare_changes_equals_the_step_by_step_form(
            before in state(),
            after in state(),
            depth in 1usize..4,
            string_bytes in 0usize..16,
            changes_bytes in prop::sample::select(vec![0usize, 40, 120, 1 << 20]),
            extra_deny in any::<bool>(),
        ) {
            let limits = Limits { json_depth: depth, json_string_bytes: string_bytes, changes_bytes, ..Limits::default() };
            // "1" as a term denies array index segments too.
            let redactor = Redactor::new().allow("token_count");
            let redactor = if extra_deny { redactor.deny("1") } else { redactor };
            let expected = reference(before.clone(), after.clone(), &redactor, &limits);
            let got = prepare_changes(before, after, &redactor, &limits);
            prop_assert_eq!(got.1, expected.1);
            prop_assert_eq!(got.0.before, expected.0.before);
            prop_assert_eq!(got.0.after, expected.0.after);
            prop_assert_eq!(got.0.diff, expected.0.diff);
        }
    }
}
