//! Procedural macros for `audit-core`: [`#[audited(...)]`](macro@audited) on
//! functions and [`#[derive(Auditable)]`](derive@Auditable) on resources.
//!
//! Do not depend on this crate directly: use the macros through `audit-core`,
//! which re-exports them (`audit_core::audited`, `audit_core::Auditable`) as
//! serde re-exports serde_derive. The code they generate names only
//! `::audit_core::__private`, so `audit-core` must be a direct dependency of
//! the crate using them, under its own name.
//!
//! The crate is thin: `attr.rs` parses the attribute, `item.rs` the function,
//! `expand.rs` generates the code, `derive.rs` does the derive, `rules.rs`
//! holds the naming rules the errors explain, `describe.rs` the
//! `description` template, and `catalogue.rs` the action catalogue
//! (`audit.toml`: finding and caching it; `catalogue/parse.rs` reads and
//! checks it, `catalogue/constants.rs` expands `catalogue!()`). Every misuse
//! is a compile error pointing at the offending token and saying how to fix
//! it; after an error the item is re-emitted unchanged, so one mistake does
//! not cascade into its callers.

mod attr;
mod catalogue;
mod derive;
mod describe;
mod expand;
mod item;
mod rules;

use proc_macro::TokenStream;

/// Records one audit event for every call of a function.
///
/// ```
/// use audit_core as audit;
/// use audit_core::{audited, Actor, AuditScope, Outcome, RequestContext};
///
/// #[derive(Debug)]
/// struct NotFound;
/// impl std::fmt::Display for NotFound {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("no such app")
///     }
/// }
///
/// #[audited(action = "app.deleted", target = "app", target_id = id, severity = "critical")]
/// async fn delete_app(id: u64) -> Result<(), NotFound> {
///     audit::before(&serde_json::json!({"id": id, "plan": "pro"}));
///     if id == 0 {
///         return Err(NotFound);
///     }
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // The HTTP layer opens a scope per request; here, by hand.
/// let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")));
/// scope.run(async {
///     delete_app(42).await.unwrap();
///     delete_app(0).await.unwrap_err();
/// }).await;
///
/// let events: Vec<_> = scope
///     .take_completed()
///     .into_iter()
///     .map(|draft| draft.into_builder(scope.request()).build())
///     .collect();
/// assert_eq!(events[0].target().unwrap().id, "42");
/// assert_eq!(events[0].outcome(), Outcome::Success);
/// assert_eq!(events[0].changes().unwrap().before.as_ref().unwrap()["plan"], "pro");
/// assert_eq!(events[1].outcome(), Outcome::Failure);
/// assert_eq!(events[1].reason(), Some("no such app"));
/// assert_eq!(events[1].actor().id, "user_alice");
/// # }
/// ```
///
/// # What a call does
///
/// 1. Opens a draft of the event (`Draft::open`) in the current audit scope,
///    and applies the attribute's arguments to it. The event's id and
///    `occurred_at` are fixed here.
/// 2. Runs the body as written, with the draft current, so
///    `audit_core::before`, `after`, `target`, `meta`, `outcome`, `reason`
///    and `description` reach it (as does `Draft::current()`, e.g. to return
///    the event id in a response header). `return`, `?` and type inference
///    work as without the attribute.
/// 3. Completes the draft with the outcome (below) and returns the body's
///    value untouched.
///
/// Where the event goes is the scope's business: a request scope collects it
/// for the HTTP layer, which adds the request context and records it after the
/// response; a background scope queues it at once; outside any scope it goes
/// to the global auditor (`Auditor::install_global`), or, with none
/// installed, is logged as a warning and counted by `unrouted_events()`.
///
/// Nested audited calls record one event each, **in completion order**: an
/// inner call completes before the call that made it, so its event comes
/// first. Concurrent calls in one request (`tokio::join!`) each keep their own
/// draft.
///
/// # Where it goes
///
/// - `async fn`s, free or methods (`&self`, `&mut self`, `self`), in
///   inherent impls, trait impls (native `async fn` in traits) and trait
///   default bodies;
/// - plain `fn`s: the body runs inside the draft synchronously;
/// - `fn`s that return a future and whose body ends in `async move { … }` or
///   `Box::pin(async move { … })`, which is what `#[async_trait]` produces:
///   put `#[audited]` on the method inside the `#[async_trait]` impl and the
///   event covers the future's work, not its creation. Any other
///   future-returning body is rejected rather than audited wrongly.
///
/// Not on `const fn`, and not on a trait method without a body (put it on
/// each impl's method instead). The signature is re-emitted as written.
///
/// # Arguments
///
/// | argument | meaning |
/// |---|---|
/// | `action = "app.deleted"` | **required**; dotted lowercase, checked at compile time with audit-core's rule (`Action::new`), and the error shows the rule and a fix (`"App.Deleted"` → try `app.deleted`, `"member.roleChanged"` → try `member.role_changed`). When the crate has an action catalogue (`audit.toml` beside its `Cargo.toml`), the action must also be declared there: an undeclared one is an error on the literal that suggests the nearest declared name (Levenshtein distance ≤ 3, or ≤ a third of the name) and names the file; the declared `severity` and `category` apply unless given here. Without the file, only the format is checked |
/// | `catalogue = "../audit.toml"` | checks `action` against this file instead of the crate's `audit.toml`; the path is relative to this source file, as for `include_str!` (a workspace's shared catalogue, or trybuild tests). See `audit_core::catalogue` |
/// | `target = "app", target_id = <expr>` | the target's type (snake_case) and id; the id is any `Display` value |
/// | `target = <expr>` | the target is a value whose type is `Auditable` (`#[derive(Auditable)]`), with its type, id and name |
/// | `severity = "critical"` | `info` (default), `notice`, `warning`, `critical` |
/// | `category = "delete"` | overrides the category derived from the action: `create`, `update`, `delete`, `access`, `auth`, `other` |
/// | `description = "Deleted app {id}"` | the event's sentence; each `{…}` names an argument or a field path of one (`{app.name}`, `{self.id}`), optionally with a format spec (`{amount:.2}`); an unknown name is a compile error; `{{`/`}}` are literal braces |
/// | `fields(key = <expr>, name, …)` | metadata: `key = <expr>` records any expression, `name` alone records the argument of that name, and a key may be a string (`"http.route" = route`); values are `Serialize` (a resource is recorded as its reference, a value with an audit view as that view) |
/// | `skip(name, …)` | arguments left out of the default capture below |
/// | `tenant = <expr>` | the event's tenant instead of the scope's: a `Display` value, or an `Option` of one (`None` keeps the scope's) |
/// | `redact("key", …)` | extra keys masked in this event's metadata and state, on top of the auditor's deny-list |
///
/// Each argument may be given once. Every expression is evaluated **before
/// the body runs**, in the function's own scope, **by reference**: an
/// argument is borrowed for the moment it takes to record it, never moved or
/// cloned, so the body keeps it. For an `async fn` that moment is its first
/// poll; for a function that returns a future (`#[async_trait]`), the call
/// itself, which is also when its draft opens, so dropping such a future
/// even unpolled records a cancellation.
///
/// # Arguments captured by default
///
/// Besides `fields(...)`, every argument written `name: Type` is recorded as
/// metadata under its name when its type has an **audit view**, that is,
/// implements `audit_core::AuditState`:
///
/// - strings, numbers, booleans, JSON values, and options, lists and
///   string-keyed maps of them are recorded as they are;
/// - a resource (`Auditable`, e.g. `app: &App`) is recorded as its reference
///   `{type, id, name}`; its state belongs in `before`/`after`.
///
/// Left out: `self`; names starting with `_`; destructured arguments
/// (`Path(id): Path<u64>`, usually extractors); names listed in `skip(...)`;
/// names that are also `fields(...)` keys (the field wins); an argument used as
/// it is for `target`, `target_id` or `tenant` (already in the event); and every
/// type without an audit view: a database pool, an HTTP client, and also a
/// request body or DTO that is only `Serialize`. The last is deliberate:
/// a type's serde form knows nothing of the `#[audit(redact)]` masks its
/// fields may carry, and an audit trail is append-only, so recording such a
/// value must be a decision: name it in `fields(...)`.
///
/// Why capture at all: the arguments of an audited operation are usually
/// exactly its "what" (ids, emails, roles, amounts), and an audit event is
/// read long after the code is forgotten; a trail that needs ceremony to say
/// anything ends up saying nothing. Why it stays safe: an argument whose
/// *name* the redactor denies (`password`, `api_key`, `session_token`, …, and
/// the keys in this attribute's `redact(...)`) is recorded as `"[REDACTED]"`
/// without its value ever being read, and all metadata passes the auditor's
/// redactor (with its own deny-list) and size caps before it is stored.
///
/// ```
/// use audit_core::{audited, Actor, AuditScope, RequestContext, REDACTED};
/// use serde_json::json;
///
/// struct Db;
///
/// #[audited(action = "member.invited", skip(note))]
/// async fn invite(db: &Db, email: &str, role: &str, password: &str, note: &str) {}
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let scope = AuditScope::new(RequestContext::new(Actor::user("user_alice")));
/// scope.run(invite(&Db, "bob@acme.test", "admin", "hunter2", "personal")).await;
/// let event = scope.take_completed().pop().unwrap().into_builder(scope.request()).build();
/// assert_eq!(
///     event.metadata(),
///     json!({"email": "bob@acme.test", "role": "admin", "password": REDACTED}).as_object().unwrap(),
/// );
/// # }
/// ```
///
/// # Outcome
///
/// | the call | outcome | reason | `OutcomeSource` |
/// |---|---|---|---|
/// | returns `Ok(_)` | `success` | — | `Returned`: a 401/403 response from the HTTP layer still turns it into `denied` |
/// | returns `Err(e)` | `failure` | `e.to_string()`; `{e:?}` if `E` is only `Debug`; `"returned an error"` if neither | `Returned` |
/// | returns anything else (`()`, `impl IntoResponse`, `Option`) | left unset: the layer derives it from the response status (without a layer, `success`) | — | `Unset` |
/// | the body called `audit_core::outcome(..)` | that outcome, whatever was returned | as set | `Explicit` |
/// | panics | `failure`, and the panic goes on | `"panicked"` | `Explicit` |
/// | its future is dropped before it finishes (cancelled, e.g. the client went away) | `failure` | `"cancelled: the future was dropped before the operation completed"` | `Explicit` |
///
/// `Result` is recognised by type, not by name, so aliases (`io::Result<T>`,
/// `anyhow::Result<T>`) work; the error type needs no bound. A panic or a
/// cancellation is final: it is recorded even if the body had already set
/// an outcome, and no response status can turn it into a success. A panic is
/// recorded while it unwinds, whatever polls the future. An `async fn` that
/// is never polled never runs, so it records nothing.
///
/// # Compile-time errors
///
/// An action missing from the crate's catalogue, or a catalogue file that is
/// invalid (the error names the file, line and key) or, given with
/// `catalogue = …`, absent; a missing `action`; an argument given twice
/// (`` `action` specified more than once ``); an unknown argument (the error lists the valid ones and
/// suggests the closest); a malformed action, severity, category or target
/// type (the error shows the rule and a fix); a name in `fields`, `skip` or a
/// `description` placeholder that is not an argument (the error lists the
/// arguments); `target_id` without `target = "<type>"` and the reverse; the
/// attribute on something that is not a function, on a `const fn` or on a
/// bodiless trait method. Type errors (a `target` that is not `Auditable`, a
/// `fields` value that is not `Serialize`, a `target_id` that is not
/// `Display`) point at the expression.
///
/// # Cost
///
/// About 0.1 µs on top of the draft itself, whose id and timestamp dominate;
/// `BENCHMARKS.md` has the figures (`cargo bench -p audit-core --bench
/// audited_overhead`).
#[proc_macro_attribute]
pub fn audited(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::audited(args.into(), item.into()).into()
}

/// Makes a struct an audit resource: implements `audit_core::AuditState` (its
/// state, with marked fields masked or left out) and `audit_core::Auditable`
/// (its target: type, id, name).
///
/// ```
/// use audit_core::{AuditState, Auditable, Target, REDACTED};
/// use serde_json::json;
///
/// #[derive(Auditable)]
/// #[audit(target = "api_key")]
/// struct ApiKey {
///     #[audit(id)]
///     public_id: String,
///     #[audit(name)]
///     label: Option<String>,
///     #[audit(redact)]
///     secret_hash: String,
///     #[audit(skip)]
///     last_used_cache: Option<u64>,
///     #[audit(personal)]
///     created_by_email: String,
///     scopes: Vec<String>,
/// }
///
/// let key = ApiKey {
///     public_id: "key_9f2".into(),
///     label: Some("CI deploys".into()),
///     secret_hash: "$argon2id$…".into(),
///     last_used_cache: Some(1),
///     created_by_email: "ana@acme.test".into(),
///     scopes: vec!["deploy".into()],
/// };
/// assert_eq!(key.audit_personal_fields(), ["created_by_email"]);
/// assert_eq!(key.audit_target_ref(), Target::new("api_key", "key_9f2").with_name("CI deploys"));
/// assert_eq!(
///     key.audit_state(),
///     json!({
///         "public_id": "key_9f2", "label": "CI deploys", "secret_hash": REDACTED,
///         "created_by_email": "ana@acme.test", "scopes": ["deploy"],
///     }),
/// );
/// ```
///
/// Then `audit_core::before(&key)` / `after(&key)` record that state and, if
/// the event has no target yet, make the key its target; `target = key` in
/// `#[audited(...)]` names it up front.
///
/// # Attributes
///
/// | attribute | on | meaning |
/// |---|---|---|
/// | `#[audit(target = "api_key")]` | the struct | the target type; **optional**: without it, the struct's name in snake_case (`ApiKey` → `api_key`), so renaming the struct renames the target type: write it out for types whose name may change |
/// | `#[audit(id)]` | one field, **required** | the target id (any `Display` value); part of the state too |
/// | `#[audit(name)]` | at most one field | the target's display name: a `Display` value, or an `Option` of one |
/// | `#[audit(redact)]` | any fields | kept in the state as `"[REDACTED]"`: the value never leaves the struct |
/// | `#[audit(skip)]` | any fields | left out of the state |
/// | `#[audit(personal)]` | any fields but the id | personal data: kept in the state, and sealed under the event's subjects' keys by a store that seals personal data (`audit_store::personal`), so erasing a subject makes it unreadable while every proof stays valid (`AuditState::audit_personal_fields` lists them) |
///
/// Several marks can share one attribute: `#[audit(id, name)]`. Conflicting
/// marks are errors pointing at the later one: `redact` with `skip`, `id`
/// with `skip`, `redact` or `personal` (ids stay readable, so a subject's
/// events can be found and erased), `personal` with `skip` or `redact`,
/// `name` with `redact` (the target is never masked), and a second `id` or
/// `name` field.
///
/// # The state
///
/// A JSON object with one key per field that is not skipped, in declaration
/// order, keyed by the Rust field name (serde's renames are not applied: the
/// trail names fields as the code does). A field whose type has an audit view
/// (`AuditState`: another resource, with its own masks; strings, numbers,
/// options and lists of them) is recorded through it, any other field through
/// serde, so only the recorded fields' types need `Serialize`, not the struct.
/// For generic structs the derive adds `Serialize` bounds on the field types
/// that mention a type parameter (and `Display` on the id's).
///
/// A redacted field is masked in the state itself, so a diff cannot show that
/// it changed (both sides are `"[REDACTED]"`); record such a change explicitly
/// if it matters (`audit_core::meta("secret_rotated", &true)`).
///
/// The derive names no actions, so an action catalogue (`audit.toml`) does
/// not concern it.
///
/// Structs with named fields only: for an enum or a tuple struct, implement
/// the two traits by hand (the `Auditable` docs show how).
#[proc_macro_derive(Auditable, attributes(audit))]
pub fn derive_auditable(input: TokenStream) -> TokenStream {
    derive::auditable(input.into()).into()
}

/// Declares the crate's action catalogue as constants: one
/// `pub const APP_CREATED: audit_core::catalogue::DeclaredAction` per action
/// of `audit.toml` (the dotted name in upper snake case) and
/// `pub static CATALOGUE: audit_core::catalogue::Catalogue` holding them all,
/// in the file's order.
///
/// Call it inside a module of its own: `pub mod actions { audit_core::catalogue!(); }`.
/// Without arguments it reads `audit.toml` beside the crate's `Cargo.toml`;
/// `catalogue!("../audit.toml")` reads another file, relative to the file
/// of the call. The `audit_core::catalogue` module documents the file's
/// format, and `#[audited]` checks its `action` against the same file.
///
/// ```
/// pub mod actions {
///     // In a crate with `audit.toml` beside its Cargo.toml: `audit_core::catalogue!();`
///     audit_core::catalogue!("../../audit-core/tests/ui/catalogues/apps.toml");
/// }
///
/// use audit_core::{Actor, Event, Severity};
///
/// assert_eq!(actions::APP_DELETED.name(), "app.deleted");
/// assert_eq!(actions::APP_DELETED.severity(), Some(Severity::Critical));
/// assert_eq!(actions::CATALOGUE.names().collect::<Vec<_>>(), ["app.created", "app.deleted"]);
/// let event = Event::builder(actions::APP_CREATED, Actor::user("user_alice")).build();
/// assert_eq!(event.action().as_str(), "app.created");
/// ```
#[proc_macro]
pub fn catalogue(input: TokenStream) -> TokenStream {
    catalogue::constants::expand(input.into()).into()
}
