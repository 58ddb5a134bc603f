//! One event as a row: scalar columns for every filter, JSON for the rest.

use audit_core::{Event, Timestamp};
use serde_json::{Map, Value, json};

use crate::error::StoreError;

/// The columns of `audit_events`, in insert order.
pub(crate) const COLUMNS: &str = "id, stream, seq, leaf_hash, occurred_at, recorded_at, tenant_id, action, category, \
    severity, outcome, reason, actor_kind, actor_id, actor_email, actor_name, target_type, target_id, target_name, \
    description, client_ip, request_id, truncated, lossy_utf8, actor, target, targets, context, changes, metadata, \
    search_text";

/// How many columns [`COLUMNS`] names.
pub(crate) const COLUMN_COUNT: usize = 31;

/// The columns of `audit_events`, backend-neutral.
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub(crate) id: String,
    pub(crate) stream: String,
    pub(crate) seq: i64,
    pub(crate) leaf_hash: String,
    pub(crate) occurred_at: Timestamp,
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
            actor_email: actor.email.clone(),
            actor_name: actor.name.clone(),
            target_type: target.map(|t| t.target_type.clone()),
            target_id: target.map(|t| t.id.clone()),
            target_name: target.and_then(|t| t.name.clone()),
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
    /// The event's JSON is assembled as text around the stored JSON columns
    /// (each checked to be exactly one JSON value first) and parsed once:
    /// pages and `verify` decode every row, and going through a
    /// `serde_json::Value` tree per column cost about twice as much. When
    /// that fails, the slow path names the column at fault.
    pub(crate) fn into_event(self) -> Result<Event, StoreError> {
        match self.event_json().and_then(|json| serde_json::from_str(&json).ok()) {
            Some(event) => Ok(event),
            None => self.into_event_checked(),
        }
    }

    /// The event as JSON text, or `None` when a JSON column is not exactly
    /// one JSON value.
    fn event_json(&self) -> Option<String> {
        use serde::de::IgnoredAny;
        fn raw(out: &mut String, key: &str, value: Option<&str>) -> Option<()> {
            out.push_str(key);
            match value {
                Some(text) => {
                    serde_json::from_str::<IgnoredAny>(text).ok()?;
                    out.push_str(text);
                }
                None => out.push_str("null"),
            }
            Some(())
        }
        fn string(out: &mut String, key: &str, value: Option<&str>) {
            out.push_str(key);
            match value {
                // Serialising a string cannot fail.
                Some(text) => out.push_str(&serde_json::to_string(text).unwrap_or_default()),
                None => out.push_str("null"),
            }
        }
        let seq = u64::try_from(self.seq).ok()?;
        let mut out = String::with_capacity(
            512 + self.actor.len()
                + self.target.as_ref().map_or(0, String::len)
                + self.targets.len()
                + self.context.len()
                + self.changes.as_ref().map_or(0, String::len)
                + self.metadata.len()
                + self.description.as_ref().map_or(0, String::len)
                + self.reason.as_ref().map_or(0, String::len),
        );
        string(&mut out, "{\"id\":", Some(&self.id));
        string(&mut out, ",\"occurred_at\":", Some(&self.occurred_at.to_string()));
        string(&mut out, ",\"recorded_at\":", Some(&self.recorded_at.to_string()));
        string(&mut out, ",\"tenant_id\":", self.tenant_id.as_deref());
        string(&mut out, ",\"action\":", Some(&self.action));
        string(&mut out, ",\"category\":", Some(&self.category));
        string(&mut out, ",\"severity\":", Some(&self.severity));
        string(&mut out, ",\"outcome\":", Some(&self.outcome));
        string(&mut out, ",\"reason\":", self.reason.as_deref());
        raw(&mut out, ",\"actor\":", Some(&self.actor))?;
        raw(&mut out, ",\"target\":", self.target.as_deref())?;
        raw(&mut out, ",\"targets\":", Some(&self.targets))?;
        string(&mut out, ",\"description\":", self.description.as_deref());
        raw(&mut out, ",\"context\":", Some(&self.context))?;
        raw(&mut out, ",\"changes\":", self.changes.as_deref())?;
        raw(&mut out, ",\"metadata\":", Some(&self.metadata))?;
        out.push_str(if self.truncated {
            ",\"truncated\":true"
        } else {
            ",\"truncated\":false"
        });
        out.push_str(if self.lossy_utf8 {
            ",\"lossy_utf8\":true"
        } else {
            ",\"lossy_utf8\":false"
        });
        string(&mut out, ",\"integrity\":{\"stream\":", Some(&self.stream));
        out.push_str(&format!(",\"seq\":{seq}"));
        string(&mut out, ",\"leaf_hash\":", Some(&self.leaf_hash));
        out.push_str("}}");
        Some(out)
    }

    /// [`into_event`](Self::into_event) through a `Value` per column, saying
    /// which column is at fault.
    fn into_event_checked(self) -> Result<Event, StoreError> {
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
        let expected = Self::from_event(event);
        let checks: [(&'static str, bool); 15] = [
            ("tenant_id", self.tenant_id == expected.tenant_id),
            ("stream", self.stream == event.stream()),
            ("actor_kind", self.actor_kind == expected.actor_kind),
            ("actor_id", self.actor_id == expected.actor_id),
            ("actor_email", self.actor_email == expected.actor_email),
            ("actor_name", self.actor_name == expected.actor_name),
            ("target_type", self.target_type == expected.target_type),
            ("target_id", self.target_id == expected.target_id),
            ("target_name", self.target_name == expected.target_name),
            ("client_ip", self.client_ip == expected.client_ip),
            ("request_id", self.request_id == expected.request_id),
            ("category", self.category == expected.category),
            ("severity", self.severity == expected.severity),
            ("outcome", self.outcome == expected.outcome),
            ("search_text", self.search_text == expected.search_text),
        ];
        checks.into_iter().find(|(_, agrees)| !agrees).map(|(column, _)| column)
    }
}
