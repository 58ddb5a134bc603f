//! Persistent stores for `audit-core` events.
//!
//! This crate will hold the SQLite (embedded default) and PostgreSQL stores,
//! the query engine, the admin HTTP router and the `audit` CLI. It is not
//! written yet; see the project README for the roadmap.
