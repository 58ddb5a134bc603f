//! The action catalogue kept in the store: what applications declared in
//! their `audit.toml` (see [`audit_core::catalogue`]), published with
//! [`Store::publish_catalogue`](crate::Store::publish_catalogue) when they
//! start, and read back by every reader of the store: `GET /actions` (the
//! declared actions no event has yet, with a count of 0, and each one's
//! description), the OpenAPI document, the web page's action picker and
//! `audit catalogue`, none of which has the application's code.
//!
//! Several services writing to one store each publish their own actions
//! into the one catalogue. A publish writes each of its actions over the
//! entry of the same name; an action a newer catalogue no longer declares
//! keeps its entry, because its events remain.

use std::collections::BTreeMap;

use audit_core::catalogue::{Catalogue, MetadataType};
use audit_core::{Category, Severity, Timestamp};
use serde::Serialize;
use serde_json::Value;

use crate::StoreError;

/// One action of the store's catalogue, as last published.
///
/// Serialised as [`DeclaredAction`](audit_core::catalogue::DeclaredAction)
/// is, with the time of its publish: `{"action", "category", "severity",
/// "description", "metadata": {key: type}, "published_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogueEntry {
    /// The action's name, `app.created`.
    pub action: String,
    /// Its category.
    pub category: Category,
    /// The severity its events have unless their code sets one.
    pub severity: Option<Severity>,
    /// What it means, with `{placeholders}` naming event fields.
    pub description: String,
    /// The metadata keys its events carry, and their types.
    pub metadata: BTreeMap<String, MetadataType>,
    /// When this entry was published.
    pub published_at: Timestamp,
}

impl CatalogueEntry {
    /// A JSON Schema (draft 2020-12) of the action's metadata object, as
    /// [`DeclaredAction::metadata_schema`](audit_core::catalogue::DeclaredAction::metadata_schema)
    /// gives it: what a SIEM team maps fields from.
    pub fn metadata_schema(&self) -> Value {
        audit_core::catalogue::metadata_schema(
            &self.action,
            &self.description,
            self.metadata.iter().map(|(key, kind)| (key.as_str(), *kind)),
        )
    }
}

/// An entry as its row holds it.
#[derive(Debug, Clone)]
pub(crate) struct CatalogueRow {
    pub(crate) action: String,
    pub(crate) category: String,
    pub(crate) severity: Option<String>,
    pub(crate) description: String,
    /// JSON: `{"key": "type"}`.
    pub(crate) metadata: String,
    /// Unix microseconds.
    pub(crate) published_at: i64,
}

/// The rows publishing `catalogue` at `at` writes.
pub(crate) fn rows_of(catalogue: &Catalogue, at: Timestamp) -> Vec<CatalogueRow> {
    catalogue
        .iter()
        .map(|declared| {
            let metadata: BTreeMap<&str, &str> = declared
                .metadata()
                .iter()
                .map(|(key, kind)| (*key, kind.as_str()))
                .collect();
            CatalogueRow {
                action: declared.name().to_owned(),
                category: declared.category().as_str().to_owned(),
                severity: declared.severity().map(|severity| severity.as_str().to_owned()),
                description: declared.description().to_owned(),
                metadata: serde_json::to_string(&metadata).unwrap_or_else(|_| "{}".to_owned()),
                published_at: at.unix_micros(),
            }
        })
        .collect()
}

impl CatalogueRow {
    /// The entry, or [`StoreError::Corrupt`] naming the action and what
    /// could not be read.
    pub(crate) fn into_entry(self) -> Result<CatalogueEntry, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            id: format!("catalogue entry {}", self.action),
            reason,
        };
        let category = self.category.parse().map_err(|error| corrupt(format!("{error}")))?;
        let severity = self
            .severity
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|error| corrupt(format!("{error}")))?;
        let metadata: BTreeMap<String, String> =
            serde_json::from_str(&self.metadata).map_err(|error| corrupt(format!("metadata: {error}")))?;
        let metadata = metadata
            .into_iter()
            .map(|(key, kind)| {
                Ok((
                    key,
                    kind.parse().map_err(|error| corrupt(format!("metadata: {error}")))?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        let published_at = Timestamp::from_unix_micros(self.published_at)
            .ok_or_else(|| corrupt(format!("published_at {} is out of range", self.published_at)))?;
        Ok(CatalogueEntry {
            action: self.action,
            category,
            severity,
            description: self.description,
            metadata,
            published_at,
        })
    }
}
