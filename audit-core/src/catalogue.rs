//! The action catalogue: every action a crate records, declared once in its
//! `audit.toml` and checked at compile time.
//!
//! ```toml
//! [actions."app.created"]
//! description = "Created app {target} on the {plan} plan"
//! category = "create"       # optional: derived from the last segment otherwise
//! severity = "notice"       # optional: the events' severity unless the code sets one
//! metadata = { plan = "string", seats = "integer" }   # optional: keys and their types
//! ```
//!
//! - [`#[audited(action = "...")]`](crate::audited) in a crate with an
//!   `audit.toml` beside its `Cargo.toml` only accepts declared actions: a
//!   typo is a compile error on the literal that suggests the nearest
//!   declared name. Its `severity` and `category`, when declared, apply to
//!   the events unless the attribute sets its own. A crate without the file
//!   keeps the format check only.
//! - [`catalogue!()`](crate::catalogue!) turns the file into constants for
//!   events built by hand, and a [`Catalogue`] of them all:
//!
//! ```
//! # mod example {
//! pub mod actions {
//!     audit_core::catalogue!("../tests/ui/catalogues/apps.toml");
//! }
//! # }
//! # use example::actions;
//! use audit_core::{Actor, Category, Event, Severity};
//!
//! let event = Event::builder(actions::APP_CREATED, Actor::user("user_alice")).build();
//! assert_eq!(event.action().as_str(), "app.created");
//! assert_eq!(actions::APP_DELETED.category(), Category::Delete);
//! assert_eq!(actions::APP_DELETED.severity(), Some(Severity::Critical));
//! assert_eq!(actions::CATALOGUE.names().collect::<Vec<_>>(), ["app.created", "app.deleted"]);
//! ```
//!
//! (The path in that example is only there because documentation examples
//! are not compiled inside a crate; a crate's own catalogue needs
//! `catalogue!()` alone.)
//!
//! # The file
//!
//! One table per action, `[actions."<name>"]`, with:
//!
//! | key | meaning |
//! |---|---|
//! | `description` | **required**; a sentence for people reading the catalogue. Each `{placeholder}` names an event field (`actor`, `target`, `tenant`, `action`, `outcome`, or a path into one: `{actor.email}`) or a key of this action's `metadata`; `{{`/`}}` are literal braces |
//! | `category` | `create`, `update`, `delete`, `access`, `auth`, `other`; by default derived from the name as [`Category::for_action`] does |
//! | `severity` | `info`, `notice`, `warning`, `critical`; by default none (events are `info` unless the code says otherwise) |
//! | `metadata` | the metadata keys the action records and their [`MetadataType`]: `string`, `integer`, `number`, `boolean`, `object`, `array`. A description only, not a check: events may carry other keys (e.g. captured arguments) |
//!
//! Any other key, a malformed name, an unknown value or placeholder is a
//! compile error at every `#[audited]` and `catalogue!()` of the crate,
//! naming the file, line and column, the key and what is wrong.
//!
//! # Where the file is
//!
//! `audit.toml` beside the crate's `Cargo.toml`. `#[audited(..., catalogue
//! = "path")]` and `catalogue!("path")` name another file, relative to the
//! source file of the call (as `include_str!` does; where the compiler knows
//! no file for the call, as in code another macro generated, relative to the
//! crate's folder): a catalogue shared by the crates of a workspace, or
//! tests compiled outside their crate (such as trybuild's). The generated code includes the file's bytes, so cargo
//! recompiles when it changes; creating an `audit.toml` where there was none
//! takes effect at the next change of the crate's code (or `cargo clean -p`).
//!
//! `#[derive(Auditable)]` names no actions, so the catalogue does not
//! concern it.

use std::fmt;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::action::{Action, Category};
use crate::event::Severity;

/// The JSON type of a declared metadata value.
///
/// ```
/// use audit_core::catalogue::MetadataType;
///
/// assert_eq!("integer".parse::<MetadataType>(), Ok(MetadataType::Integer));
/// assert_eq!(MetadataType::Boolean.as_str(), "boolean");
/// assert!("text".parse::<MetadataType>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataType {
    /// A JSON string.
    String,
    /// A JSON number without a fraction.
    Integer,
    /// Any JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
}

str_enum! {
    MetadataType {
        String => "string", Integer => "integer", Number => "number",
        Boolean => "boolean", Object => "object", Array => "array"
    }
}

/// One action of a catalogue: made by [`catalogue!()`](crate::catalogue!)
/// from `audit.toml`, whose name it checked at compile time.
///
/// Usable wherever an [`Action`] is taken (`Event::builder(actions::APP_CREATED, actor)`).
/// Serialises as `{"action", "category", "severity", "description", "metadata": {key: type}}`.
///
/// ```
/// # mod actions { audit_core::catalogue!("../tests/ui/catalogues/apps.toml"); }
/// use audit_core::catalogue::MetadataType;
/// use audit_core::{Category, Severity};
///
/// let created = actions::APP_CREATED;
/// assert_eq!(created.name(), "app.created");
/// assert_eq!(created.category(), Category::Create); // derived from `created`
/// assert_eq!(created.severity(), None);
/// assert_eq!(created.description(), "Created app {target} on the {plan} plan");
/// assert_eq!(created.metadata(), [("plan", MetadataType::String), ("seats", MetadataType::Integer)]);
/// assert_eq!(
///     serde_json::to_value(created).unwrap(),
///     serde_json::json!({
///         "action": "app.created",
///         "category": "create",
///         "severity": null,
///         "description": "Created app {target} on the {plan} plan",
///         "metadata": {"plan": "string", "seats": "integer"},
///     }),
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclaredAction {
    name: &'static str,
    category: Category,
    severity: Option<Severity>,
    description: &'static str,
    metadata: &'static [(&'static str, MetadataType)],
}

impl DeclaredAction {
    /// Made by the generated code only, which has checked `name` against the
    /// action rule; see `__private::declared_action`.
    pub(crate) const fn new(
        name: &'static str,
        category: Category,
        severity: Option<Severity>,
        description: &'static str,
        metadata: &'static [(&'static str, MetadataType)],
    ) -> Self {
        Self {
            name,
            category,
            severity,
            description,
            metadata,
        }
    }

    /// The action's name, `app.created`.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The action, without validating it again and without allocating: the
    /// macro checked the name against the rule of [`Action::new`] when it
    /// generated this constant, so this cannot fail or panic.
    ///
    /// ```
    /// # mod actions { audit_core::catalogue!("../tests/ui/catalogues/apps.toml"); }
    /// assert_eq!(actions::APP_CREATED.action(), audit_core::Action::new("app.created").unwrap());
    /// ```
    pub fn action(&self) -> Action {
        Action::from_checked_static(self.name)
    }

    /// Its category: as declared, else derived from the name.
    pub const fn category(&self) -> Category {
        self.category
    }

    /// Its declared severity, if any.
    pub const fn severity(&self) -> Option<Severity> {
        self.severity
    }

    /// Its description, placeholders as written.
    pub const fn description(&self) -> &'static str {
        self.description
    }

    /// Its declared metadata keys and their types, in the file's order.
    pub const fn metadata(&self) -> &'static [(&'static str, MetadataType)] {
        self.metadata
    }

    /// A JSON Schema (draft 2020-12) of the action's metadata object: each
    /// declared key with its type. Keys are optional and others allowed,
    /// because `#[audited]` also records the function's arguments.
    ///
    /// ```
    /// # mod actions { audit_core::catalogue!("../tests/ui/catalogues/apps.toml"); }
    /// let schema = actions::APP_CREATED.metadata_schema();
    /// assert_eq!(schema["type"], "object");
    /// assert_eq!(schema["properties"]["seats"]["type"], "integer");
    /// ```
    pub fn metadata_schema(&self) -> Value {
        metadata_schema(self.name, self.description, self.metadata.iter().copied())
    }
}

/// A JSON Schema (draft 2020-12) of the metadata object of `action`,
/// described as `description`, with `metadata`'s keys and types: what
/// [`DeclaredAction::metadata_schema`] gives, for a catalogue read back from
/// elsewhere (a store's published catalogue).
///
/// ```
/// use audit_core::catalogue::{MetadataType, metadata_schema};
///
/// let schema = metadata_schema("app.created", "Created app {target}", [("seats", MetadataType::Integer)]);
/// assert_eq!(schema["title"], "app.created");
/// assert_eq!(schema["properties"]["seats"]["type"], "integer");
/// ```
pub fn metadata_schema<'a>(
    action: &str,
    description: &str,
    metadata: impl IntoIterator<Item = (&'a str, MetadataType)>,
) -> Value {
    let properties: Map<String, Value> = metadata
        .into_iter()
        .map(|(key, kind)| (key.to_owned(), json!({"type": kind.as_str()})))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": action,
        "description": description,
        "type": "object",
        "properties": properties,
    })
}

impl From<DeclaredAction> for Action {
    fn from(declared: DeclaredAction) -> Self {
        declared.action()
    }
}

impl From<&DeclaredAction> for Action {
    fn from(declared: &DeclaredAction) -> Self {
        declared.action()
    }
}

impl fmt::Display for DeclaredAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl Serialize for DeclaredAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("DeclaredAction", 5)?;
        out.serialize_field("action", self.name)?;
        out.serialize_field("category", &self.category)?;
        out.serialize_field("severity", &self.severity)?;
        out.serialize_field("description", self.description)?;
        out.serialize_field("metadata", &MetadataMap(self.metadata))?;
        out.end()
    }
}

/// The declared keys as a JSON object, in declaration order.
struct MetadataMap(&'static [(&'static str, MetadataType)]);

impl Serialize for MetadataMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, kind) in self.0 {
            map.serialize_entry(key, kind)?;
        }
        map.end()
    }
}

/// Every action of a crate's `audit.toml`, in the file's order: the
/// `CATALOGUE` static that [`catalogue!()`](crate::catalogue!) generates.
/// Serialises as a JSON array of its [`DeclaredAction`]s.
///
/// ```
/// # mod actions { audit_core::catalogue!("../tests/ui/catalogues/apps.toml"); }
/// use actions::CATALOGUE;
///
/// assert_eq!(CATALOGUE.get("app.deleted"), Some(&actions::APP_DELETED));
/// assert_eq!(CATALOGUE.get("app.deletd"), None);
/// assert_eq!(CATALOGUE.iter().count(), 2);
/// let json = serde_json::to_value(&CATALOGUE).unwrap();
/// assert_eq!(json[0]["metadata"], serde_json::json!({"plan": "string", "seats": "integer"}));
/// assert_eq!(json[1]["severity"], "critical");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Catalogue {
    actions: &'static [DeclaredAction],
}

impl Catalogue {
    pub(crate) const fn new(actions: &'static [DeclaredAction]) -> Self {
        Self { actions }
    }

    /// The declared action called `name`.
    pub fn get(&self, name: &str) -> Option<&'static DeclaredAction> {
        self.actions.iter().find(|action| action.name == name)
    }

    /// Whether `name` is declared.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The declared actions, in the file's order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'static DeclaredAction> + use<> {
        self.actions.iter()
    }

    /// The declared names, in the file's order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &'static str> + use<> {
        self.actions.iter().map(|action| action.name)
    }

    /// The JSON Schema (draft 2020-12) of `action`'s metadata object
    /// ([`DeclaredAction::metadata_schema`]); `None` when it is not declared.
    ///
    /// ```
    /// # mod actions { audit_core::catalogue!("../tests/ui/catalogues/apps.toml"); }
    /// let schema = actions::CATALOGUE.json_schema("app.created").unwrap();
    /// assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    /// assert_eq!(schema["properties"]["plan"]["type"], "string");
    /// assert!(actions::CATALOGUE.json_schema("app.renamed").is_none());
    /// ```
    pub fn json_schema(&self, action: &str) -> Option<Value> {
        self.get(action).map(DeclaredAction::metadata_schema)
    }
}

impl IntoIterator for &Catalogue {
    type Item = &'static DeclaredAction;
    type IntoIter = std::slice::Iter<'static, DeclaredAction>;

    fn into_iter(self) -> Self::IntoIter {
        self.actions.iter()
    }
}

impl Serialize for Catalogue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.actions)
    }
}
