//! Migrations embedded in the binary by `sqlx::migrate!` from
//! `migrations/<backend>/NNNN_name.sql`, applied by sqlx's migrator on
//! connect (under its advisory lock on PostgreSQL).
//!
//! sqlx checks each applied migration by version and checksum (SHA-384 of
//! its SQL), not by description: databases migrated when the list was
//! written by hand (same versions, same SQL, longer descriptions) stay
//! valid. A migration file, once released, is never edited; a change is a
//! new file.

use sqlx::migrate::Migrator;

#[cfg(feature = "sqlite")]
pub(crate) static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

#[cfg(feature = "postgres")]
pub(crate) static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
