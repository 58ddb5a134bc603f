//! One event as a row: scalar columns for every filter, JSON for the rest.

use audit_core::{Event, Timestamp};
use serde::Deserialize as _;
use serde_json::{Map, Value, json};

use crate::error::StoreError;

/// The columns of `audit_events`, in insert order: every statement that
/// writes or reads whole events names them through this list.
pub(crate) const COLUMNS: &str = "id, stream, seq, leaf_hash, occurred_at, recorded_at, tenant_id, action, category, \
    severity, outcome, reason, actor_kind, actor_id, actor_email, actor_name, target_type, target_id, target_name, \
    description, client_ip, request_id, truncated, lossy_utf8, actor, target, targets, context, changes, metadata, \
    search_text";

/// How many columns [`COLUMNS`] names.
pub(crate) const COLUMN_COUNT: usize = 31;

/// The columns of [`COLUMNS`] that hold JSON (PostgreSQL: `jsonb`, read
/// back as text).
#[cfg(feature = "postgres")]
pub(crate) const JSON_COLUMNS: [&str; 6] = ["actor", "target", "targets", "context", "changes", "metadata"];

/// A time column as read back, whatever the backend stores (SQLite: Unix
/// microseconds; PostgreSQL: `timestamptz`). Each backend decodes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredTime(pub(crate) Timestamp);

impl From<StoredTime> for Timestamp {
    fn from(time: StoredTime) -> Self {
        time.0
    }
}

/// An event id as read back, as text (SQLite stores text; PostgreSQL a
/// `uuid`). Each backend decodes it.
#[derive(Debug, Clone)]
pub(crate) struct StoredId(pub(crate) String);

impl From<StoredId> for String {
    fn from(id: StoredId) -> Self {
        id.0
    }
}

/// The columns of `audit_events`, backend-neutral, decoded by name from any
/// backend's row (the `SELECT` names them through [`COLUMNS`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct EventRow {
    #[sqlx(try_from = "StoredId")]
    pub(crate) id: String,
    pub(crate) stream: String,
    pub(crate) seq: i64,
    pub(crate) leaf_hash: String,
    #[sqlx(try_from = "StoredTime")]
    pub(crate) occurred_at: Timestamp,
    #[sqlx(try_from = "StoredTime")]
    pub(crate) recorded_at: Timestamp,
    pub(crate) tenant_id: Option<String>,
    pub(crate) action: String,
    pub(crate) category: String,
    pub(crate) severity: String,
    pub(crate) outcome: String,
    pub(crate) reason: Option<String>,
    pub(crate) actor_kind: String,
    pub(crate) actor_id: String,
    pub(crate) actor_email: Option<String>,
    pub(crate) actor_name: Option<String>,
    pub(crate) target_type: Option<String>,
    pub(crate) target_id: Option<String>,
    pub(crate) target_name: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) client_ip: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) truncated: bool,
    pub(crate) lossy_utf8: bool,
    pub(crate) actor: String,
    pub(crate) target: Option<String>,
    pub(crate) targets: String,
    pub(crate) context: String,
    pub(crate) changes: Option<String>,
    pub(crate) metadata: String,
    pub(crate) search_text: String,
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| unreachable!("event parts always serialise: {e}"))
}

impl EventRow {
    /// The row for a sealed event (integrity and `recorded_at` set).
    pub(crate) fn from_event(event: &Event) -> Self {
        let integrity = event.integrity();
        let actor = event.actor();
        let target = event.target();
        let context = event.context();
        Self {
            id: event.id().to_string(),
            stream: integrity.map_or_else(|| event.stream(), |i| i.stream.clone()),
            seq: integrity.map_or(0, |i| i64::try_from(i.seq).unwrap_or(i64::MAX)),
            leaf_hash: integrity.map(|i| i.leaf_hash.clone()).unwrap_or_default(),
            occurred_at: event.occurred_at(),
            recorded_at: event.recorded_at().unwrap_or_else(Timestamp::now),
            tenant_id: event.tenant_id().map(str::to_owned),
            action: event.action().as_str().to_owned(),
            category: event.category().as_str().to_owned(),
            severity: event.severity().as_str().to_owned(),
            outcome: event.outcome().as_str().to_owned(),
            reason: event.reason().map(str::to_owned),
            actor_kind: actor.kind.as_str().to_owned(),
            actor_id: actor.id.clone(),
            actor_email: filter_column(&actor.email),
            actor_name: filter_column(&actor.name),
            target_type: target.map(|t| t.target_type.clone()),
            target_id: target.map(|t| t.id.clone()),
            target_name: target.and_then(|t| filter_column(&t.name)),
            description: event.description().map(str::to_owned),
            client_ip: context.client_ip.map(|ip| ip.to_string()),
            request_id: context.request_id.clone(),
            truncated: event.truncated(),
            lossy_utf8: event.lossy_utf8(),
            actor: json_text(actor),
            target: target.map(json_text),
            targets: json_text(&event.targets()),
            context: json_text(context),
            changes: event.changes().map(json_text),
            metadata: json_text(event.metadata()),
            search_text: crate::query::text::search_text(event),
        }
    }

    fn parse(&self, column: &str, text: &str) -> Result<Value, StoreError> {
        serde_json::from_str(text).map_err(|e| self.corrupt(format!("column {column} is not JSON: {e}")))
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            id: self.id.clone(),
            reason,
        }
    }

    /// Rebuilds the event, with the row's stream, seq and hash as its integrity.
    ///
    /// The event is deserialised straight from the row: its scalar columns
    /// are handed to `Event`'s `Deserialize` as they are, and each JSON
    /// column is parsed once, in place, and must be exactly one JSON value.
    /// Pages and `verify` decode every row; this builds no intermediate JSON
    /// text or `serde_json::Value`. When it fails, the slow path names the
    /// column at fault.
    pub(crate) fn to_event(&self) -> Result<Event, StoreError> {
        let occurred_at = self.occurred_at.to_string();
        let recorded_at = self.recorded_at.to_string();
        let decoded = u64::try_from(self.seq).ok().and_then(|seq| {
            let fields = decode::RowFields {
                row: self,
                occurred_at: &occurred_at,
                recorded_at: &recorded_at,
                seq,
            };
            Event::deserialize(decode::RowDeserializer(fields)).ok()
        });
        match decoded {
            Some(event) => Ok(event),
            None => self.to_event_checked(),
        }
    }

    /// [`to_event`](Self::to_event) through a `Value` per column, saying
    /// which column is at fault.
    fn to_event_checked(&self) -> Result<Event, StoreError> {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        object.insert("occurred_at".into(), json!(self.occurred_at));
        object.insert("recorded_at".into(), json!(self.recorded_at));
        object.insert("tenant_id".into(), json!(self.tenant_id));
        object.insert("action".into(), json!(self.action));
        object.insert("category".into(), json!(self.category));
        object.insert("severity".into(), json!(self.severity));
        object.insert("outcome".into(), json!(self.outcome));
        object.insert("reason".into(), json!(self.reason));
        object.insert("actor".into(), self.parse("actor", &self.actor)?);
        let target = match &self.target {
            Some(text) => self.parse("target", text)?,
            None => Value::Null,
        };
        object.insert("target".into(), target);
        object.insert("targets".into(), self.parse("targets", &self.targets)?);
        object.insert("description".into(), json!(self.description));
        object.insert("context".into(), self.parse("context", &self.context)?);
        let changes = match &self.changes {
            Some(text) => self.parse("changes", text)?,
            None => Value::Null,
        };
        object.insert("changes".into(), changes);
        object.insert("metadata".into(), self.parse("metadata", &self.metadata)?);
        object.insert("truncated".into(), json!(self.truncated));
        object.insert("lossy_utf8".into(), json!(self.lossy_utf8));
        let seq = u64::try_from(self.seq).map_err(|_| self.corrupt(format!("negative seq {}", self.seq)))?;
        object.insert(
            "integrity".into(),
            json!({"stream": self.stream, "seq": seq, "leaf_hash": self.leaf_hash}),
        );
        serde_json::from_value(Value::Object(object)).map_err(|e| self.corrupt(e.to_string()))
    }

    /// The first query column that disagrees with `event` (rebuilt from this row).
    pub(crate) fn inconsistent_column(&self, event: &Event) -> Option<&'static str> {
        // Compared field by field rather than through `from_event`: verify
        // runs this on every row, and the JSON columns (checked by the leaf
        // hash through the event they rebuild) need not be written again.
        let actor = event.actor();
        let target = event.target();
        let context = event.context();
        let checks: [(&'static str, bool); 15] = [
            ("tenant_id", self.tenant_id.as_deref() == event.tenant_id()),
            ("stream", stream_is(&self.stream, event.tenant_id())),
            ("actor_kind", self.actor_kind == actor.kind.as_str()),
            ("actor_id", self.actor_id == actor.id),
            ("actor_email", filter_column_agrees(&self.actor_email, &actor.email)),
            ("actor_name", filter_column_agrees(&self.actor_name, &actor.name)),
            (
                "target_type",
                self.target_type.as_deref() == target.map(|t| t.target_type.as_str()),
            ),
            ("target_id", self.target_id.as_deref() == target.map(|t| t.id.as_str())),
            (
                "target_name",
                filter_column_agrees(&self.target_name, target.map_or(&None, |t| &t.name)),
            ),
            (
                "client_ip",
                self.client_ip == context.client_ip.map(|ip| ip.to_string()),
            ),
            ("request_id", self.request_id == context.request_id),
            ("category", self.category == event.category().as_str()),
            ("severity", self.severity == event.severity().as_str()),
            ("outcome", self.outcome == event.outcome().as_str()),
            (
                "search_text",
                self.search_text == crate::query::text::search_text(event),
            ),
        ];
        checks.into_iter().find(|(_, agrees)| !agrees).map(|(column, _)| column)
    }
}

/// A value as its filter column keeps it: a sealed value is left out
/// (NULL). It is kept once, in the JSON the leaf hash covers; a filter on
/// it could never match, and a second copy would only make rows bigger
/// (on PostgreSQL, big enough to be compressed out of line).
fn filter_column(value: &Option<String>) -> Option<String> {
    value
        .as_ref()
        .filter(|value| !value.starts_with(crate::personal::SEALED_PREFIX))
        .cloned()
}

/// Whether a filter column holds what [`filter_column`] makes of `value`.
/// Rows written before sealed values were left out hold the sealed value
/// itself, which agrees too.
fn filter_column_agrees(column: &Option<String>, value: &Option<String>) -> bool {
    column == value
        || (column.is_none()
            && value
                .as_deref()
                .is_some_and(|value| value.starts_with(crate::personal::SEALED_PREFIX)))
}

/// Whether `stream` is the stream of an event of `tenant_id`
/// ([`Event::stream`], without building it).
fn stream_is(stream: &str, tenant_id: Option<&str>) -> bool {
    match tenant_id {
        Some(tenant) => stream.strip_prefix("tenant:") == Some(tenant),
        None => stream == "global",
    }
}

/// A `serde::Deserializer` over one row's columns, for [`EventRow::to_event`].
mod decode {
    use serde::de::value::{Error, StrDeserializer};
    use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
    use serde::forward_to_deserialize_any;

    use super::EventRow;

    /// The row and the texts its fields are read from.
    #[derive(Clone, Copy)]
    pub(super) struct RowFields<'a> {
        pub(super) row: &'a EventRow,
        pub(super) occurred_at: &'a str,
        pub(super) recorded_at: &'a str,
        pub(super) seq: u64,
    }

    /// The event's fields, in the order of its JSON.
    const FIELDS: [&str; 19] = [
        "id",
        "occurred_at",
        "recorded_at",
        "tenant_id",
        "action",
        "category",
        "severity",
        "outcome",
        "reason",
        "actor",
        "target",
        "targets",
        "description",
        "context",
        "changes",
        "metadata",
        "truncated",
        "lossy_utf8",
        "integrity",
    ];

    const INTEGRITY_FIELDS: [&str; 3] = ["stream", "seq", "leaf_hash"];

    /// One field's value.
    enum Field<'a> {
        Text(Option<&'a str>),
        Json(Option<&'a str>),
        Bool(bool),
        Integrity(RowFields<'a>),
    }

    impl<'a> RowFields<'a> {
        fn field(self, i: usize) -> Field<'a> {
            let row = self.row;
            match i {
                0 => Field::Text(Some(&row.id)),
                1 => Field::Text(Some(self.occurred_at)),
                2 => Field::Text(Some(self.recorded_at)),
                3 => Field::Text(row.tenant_id.as_deref()),
                4 => Field::Text(Some(&row.action)),
                5 => Field::Text(Some(&row.category)),
                6 => Field::Text(Some(&row.severity)),
                7 => Field::Text(Some(&row.outcome)),
                8 => Field::Text(row.reason.as_deref()),
                9 => Field::Json(Some(&row.actor)),
                10 => Field::Json(row.target.as_deref()),
                11 => Field::Json(Some(&row.targets)),
                12 => Field::Text(row.description.as_deref()),
                13 => Field::Json(Some(&row.context)),
                14 => Field::Json(row.changes.as_deref()),
                15 => Field::Json(Some(&row.metadata)),
                16 => Field::Bool(row.truncated),
                17 => Field::Bool(row.lossy_utf8),
                _ => Field::Integrity(self),
            }
        }
    }

    /// The whole row, as a map of the event's fields.
    pub(super) struct RowDeserializer<'a>(pub(super) RowFields<'a>);

    impl<'de> Deserializer<'de> for RowDeserializer<'de> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_map(Fields {
                fields: self.0,
                names: &FIELDS,
                next: 0,
            })
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct enum identifier ignored_any
        }
    }

    struct Fields<'a> {
        fields: RowFields<'a>,
        names: &'static [&'static str],
        next: usize,
    }

    impl<'de> MapAccess<'de> for Fields<'de> {
        type Error = Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
            match self.names.get(self.next) {
                Some(name) => seed.deserialize(StrDeserializer::<Error>::new(name)).map(Some),
                None => Ok(None),
            }
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
            let i = self.next;
            self.next += 1;
            if self.names.len() == INTEGRITY_FIELDS.len() {
                let row = self.fields.row;
                return match i {
                    0 => seed.deserialize(StrDeserializer::<Error>::new(&row.stream)),
                    1 => seed.deserialize(self.fields.seq.into_deserializer()),
                    _ => seed.deserialize(StrDeserializer::<Error>::new(&row.leaf_hash)),
                };
            }
            seed.deserialize(self.fields.field(i))
        }
    }

    impl<'de> Deserializer<'de> for Field<'de> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self {
                Self::Text(None) | Self::Json(None) => visitor.visit_none(),
                Self::Text(Some(text)) => visitor.visit_borrowed_str(text),
                Self::Json(Some(text)) => {
                    let mut json = serde_json::Deserializer::from_str(text);
                    let value = json.deserialize_any(visitor).map_err(de::Error::custom)?;
                    json.end().map_err(de::Error::custom)?;
                    Ok(value)
                }
                Self::Bool(flag) => visitor.visit_bool(flag),
                Self::Integrity(fields) => visitor.visit_map(Fields {
                    fields,
                    names: &INTEGRITY_FIELDS,
                    next: 0,
                }),
            }
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self {
                Self::Text(None) | Self::Json(None) => visitor.visit_none(),
                Self::Json(Some(text)) => {
                    let mut json = serde_json::Deserializer::from_str(text);
                    let value = json.deserialize_option(visitor).map_err(de::Error::custom)?;
                    json.end().map_err(de::Error::custom)?;
                    Ok(value)
                }
                other => visitor.visit_some(other),
            }
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            match self {
                Self::Text(Some(text)) => StrDeserializer::<Error>::new(text).deserialize_enum(name, variants, visitor),
                other => other.deserialize_any(visitor),
            }
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf unit unit_struct newtype_struct seq tuple
            tuple_struct map struct identifier ignored_any
        }
    }
}

#[cfg(test)]
mod tests {
    use audit_core::{Action, Actor, Event, EventContext, IpSource, Target};
    use serde_json::json;

    use super::EventRow;
    use crate::integrity::seal;

    fn stored() -> Event {
        let mut event = Event::builder(
            Action::new("app.updated").unwrap(),
            Actor::user("u1")
                .with_email("u1@acme.test")
                .with_name("Ünïcode \"Quote\""),
        )
        .tenant("acme")
        .target(Target::new("app", "app_1").with_name("Billing\tapp"))
        .add_target(Target::new("user", "u2"))
        .description("line one\nline two")
        .context(EventContext {
            client_ip: Some("203.0.113.7".parse().unwrap()),
            peer_ip: Some("10.0.0.2".parse().unwrap()),
            ip_source: Some(IpSource::XRealIp),
            request_id: Some("0192f5e4-7c1a-7b3e-9f10-3d2c1b0a9e8f".into()),
            client_request_id: Some("replay-1".into()),
            ..EventContext::default()
        })
        .before(&json!({"plan": "team", "seats": 5, "ratio": 0.1}))
        .after(&json!({"plan": "business", "seats": 10, "ratio": 1e-7}))
        .metadata("nested", &json!({"a": [1, 2.5, null, true], "b": "x"}))
        .build();
        event.set_recorded_at(event.occurred_at());
        seal(&mut event, "tenant:acme", 7);
        event
    }

    #[test]
    fn rows_decode_to_the_event_they_were_made_from() {
        let event = stored();
        let row = EventRow::from_event(&event);
        assert_eq!(row.to_event().unwrap(), event);
        assert_eq!(row.to_event_checked().unwrap(), event);
    }

    #[test]
    fn a_json_column_holding_more_than_one_value_is_refused_by_name() {
        let mut row = EventRow::from_event(&stored());
        row.context.push_str(r#", "injected": 1"#);
        let error = row.to_event().unwrap_err().to_string();
        assert!(error.contains("context"), "{error}");
    }

    #[test]
    fn sealed_values_are_kept_once_and_their_filter_columns_still_agree() {
        let sealed_email = format!("{}c2VhbGVk.AA.AA.AA", crate::personal::SEALED_PREFIX);
        let mut event = Event::builder(
            Action::new("app.updated").unwrap(),
            Actor::user("u1").with_email(sealed_email.clone()).with_name("Plain"),
        )
        .tenant("acme")
        .build();
        event.set_recorded_at(event.occurred_at());
        seal(&mut event, "tenant:acme", 1);
        let mut row = EventRow::from_event(&event);
        assert_eq!(row.actor_email, None, "the sealed value is not copied into the column");
        assert_eq!(row.actor_name.as_deref(), Some("Plain"));
        assert!(row.actor.contains(&sealed_email), "the JSON keeps it: {}", row.actor);
        assert_eq!(row.to_event().unwrap(), event);
        assert_eq!(row.inconsistent_column(&event), None);
        row.actor_email = Some(sealed_email);
        assert_eq!(row.inconsistent_column(&event), None, "a row that kept both agrees too");
        row.actor_email = Some("someone@else.test".into());
        assert_eq!(row.inconsistent_column(&event), Some("actor_email"));
        row.actor_email = None;
        row.actor_name = None;
        assert_eq!(
            row.inconsistent_column(&event),
            Some("actor_name"),
            "a plain value must be there"
        );
    }
}
