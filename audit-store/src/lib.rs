//! Persistent, append-only, tamper-evident stores for `audit-core` events.
//!
//! Work in progress: the SQLite store (integrity-chained writes, `verify`,
//! transactional mode) is here; PostgreSQL, the query engine, retention, the
//! admin router and the CLI follow.

mod error;
mod integrity;
mod migrations;
mod row;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use error::StoreError;
pub use integrity::{Problem, VerifyReport, leaf_hash};
#[cfg(feature = "sqlite")]
pub use sqlite::{Durability, SqliteStore};
