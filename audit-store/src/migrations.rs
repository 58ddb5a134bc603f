//! Migrations embedded in the binary, applied by sqlx's migrator on connect.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// `(version, description, SQL)` of each migration, oldest first.
type Embedded = &'static [(i64, &'static str, &'static str)];

#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: Embedded = &[
    (
        1,
        "events, streams, append-only triggers",
        include_str!("../migrations/sqlite/0001_events.sql"),
    ),
    (
        2,
        "free-text search, time index, cursor key",
        include_str!("../migrations/sqlite/0002_search_and_cursors.sql"),
    ),
];

#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: Embedded = &[
    (
        1,
        "events, streams, append-only triggers",
        include_str!("../migrations/postgres/0001_events.sql"),
    ),
    (
        2,
        "free-text search, time index, cursor key",
        include_str!("../migrations/postgres/0002_search_and_cursors.sql"),
    ),
    (
        3,
        "smaller pending list for the search index",
        include_str!("../migrations/postgres/0003_search_pending_list.sql"),
    ),
];

#[derive(Debug)]
struct EmbeddedMigrations(Embedded);

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub(crate) async fn migrator(migrations: Embedded) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(EmbeddedMigrations(migrations)).await
}
