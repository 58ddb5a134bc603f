//! What the store tests need from each backend: a fresh database, raw SQL
//! against it, and the few statements whose SQL differs between backends.

/// Runs each case as `sqlite::<case>` and `postgres::<case>`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        #[cfg(feature = "sqlite")]
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::support::TestDb::sqlite()).await;
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(db) = crate::support::TestDb::postgres().await {
                        super::$case(db).await;
                    }
                }
            )*
        }
    };
}

pub(crate) mod attacker;
pub(crate) mod csv_rows;
#[cfg(feature = "http")]
pub(crate) mod loopback;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;

use audit_core::Event;
use audit_store::Store;

/// A fresh database of one backend, removed when dropped.
#[derive(Debug)]
pub(crate) enum TestDb {
    /// A SQLite file in its own temp directory.
    #[cfg(feature = "sqlite")]
    Sqlite(std::path::PathBuf),
    /// A fresh database on the test PostgreSQL server.
    #[cfg(feature = "postgres")]
    Postgres(postgres::PgDatabase),
}

#[cfg(feature = "sqlite")]
impl Drop for TestDb {
    fn drop(&mut self) {
        #[allow(irrefutable_let_patterns, reason = "refutable when PostgreSQL is built too")]
        if let Self::Sqlite(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Whether a transaction in [`TestDb::record_in`] commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Commit,
    Rollback,
}

impl TestDb {
    /// A fresh SQLite database file.
    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("audit-store-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self::Sqlite(dir)
    }

    /// A fresh PostgreSQL database, or `None` where PostgreSQL is absent (the
    /// test should then return: it is skipped, and says why).
    #[cfg(feature = "postgres")]
    pub(crate) async fn postgres() -> Option<Self> {
        postgres::fresh_database().await.map(Self::Postgres)
    }

    /// A fresh database of the same backend.
    pub(crate) async fn another(&self) -> Self {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => Self::sqlite(),
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => Self::postgres().await.expect("PostgreSQL served this test already"),
        }
    }

    /// Every URL spelling of this database that `audit_store::connect` accepts.
    pub(crate) fn urls(&self) -> Vec<String> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(dir) => vec![format!("sqlite://{}", dir.join("audit.db").display())],
            #[cfg(feature = "postgres")]
            Self::Postgres(db) => vec![db.url.clone(), db.url.replacen("postgres://", "postgresql://", 1)],
        }
    }

    /// Whether `store` is of this database's backend.
    pub(crate) fn is_backend_of(&self, store: &Store) -> bool {
        match (self, store) {
            #[cfg(feature = "sqlite")]
            (Self::Sqlite(_), Store::Sqlite(_)) => true,
            #[cfg(feature = "postgres")]
            (Self::Postgres(_), Store::Postgres(_)) => true,
            #[allow(unreachable_patterns, reason = "reachable only with both backends built")]
            _ => false,
        }
    }

    /// Whether this is PostgreSQL.
    pub(crate) fn is_postgres(&self) -> bool {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => false,
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => true,
        }
    }

    /// The store, through `audit_store::connect` (a new pool each call).
    pub(crate) async fn connect(&self) -> Store {
        audit_store::connect(&self.urls()[0]).await.unwrap()
    }

    /// Runs `sql` (one or more statements) on a connection of its own.
    pub(crate) async fn exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        use sqlx::Connection as _;
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => {
                let mut conn = sqlx::SqliteConnection::connect(&self.urls()[0]).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(db) => {
                let mut conn = sqlx::PgConnection::connect(&db.url).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await
            }
        }
    }

    /// The integers of the one row `sql` returns.
    pub(crate) async fn integers(&self, sql: &str) -> Vec<i64> {
        use sqlx::{Connection as _, Row as _};
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => {
                let mut conn = sqlx::SqliteConnection::connect(&self.urls()[0]).await.unwrap();
                let row = sqlx::query(sql).fetch_one(&mut conn).await.unwrap();
                (0..row.len()).map(|i| row.get::<i64, _>(i)).collect()
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(db) => {
                let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
                let row = sqlx::query(sql).fetch_one(&mut conn).await.unwrap();
                (0..row.len()).map(|i| row.get::<i64, _>(i)).collect()
            }
        }
    }

    /// The first column of every row `sql` returns, as text.
    pub(crate) async fn strings(&self, sql: &str) -> Vec<String> {
        use sqlx::Connection as _;
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => {
                let mut conn = sqlx::SqliteConnection::connect(&self.urls()[0]).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(db) => {
                let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
        }
    }

    /// How many events are stored.
    pub(crate) async fn count(&self) -> i64 {
        self.integers("SELECT count(*) FROM audit_events").await[0]
    }

    /// Removes the triggers that make `audit_events`, `audit_streams` and
    /// the tree's tables append-only, so a test can tamper with them as an attacker who owns
    /// the database would.
    pub(crate) async fn drop_append_only_triggers(&self) {
        let sql = if self.is_postgres() {
            "DROP TRIGGER IF EXISTS audit_events_reject_update_delete ON audit_events; \
             DROP TRIGGER IF EXISTS audit_events_reject_truncate ON audit_events; \
             DROP TRIGGER IF EXISTS audit_streams_forward_only ON audit_streams; \
             DROP TRIGGER IF EXISTS audit_streams_reject_truncate ON audit_streams; \
             DROP TRIGGER IF EXISTS audit_streams_frontier_moves_with_head ON audit_streams; \
             DROP TRIGGER IF EXISTS audit_tree_nodes_append_only ON audit_tree_nodes; \
             DROP TRIGGER IF EXISTS audit_tree_nodes_reject_truncate ON audit_tree_nodes; \
             DROP TRIGGER IF EXISTS audit_checkpoints_append_only ON audit_checkpoints; \
             DROP TRIGGER IF EXISTS audit_checkpoints_reject_truncate ON audit_checkpoints;"
        } else {
            "DROP TRIGGER IF EXISTS audit_events_reject_update; \
             DROP TRIGGER IF EXISTS audit_events_reject_delete; \
             DROP TRIGGER IF EXISTS audit_events_reject_existing; \
             DROP TRIGGER IF EXISTS audit_streams_forward_only; \
             DROP TRIGGER IF EXISTS audit_streams_reject_delete; \
             DROP TRIGGER IF EXISTS audit_streams_reject_existing; \
             DROP TRIGGER IF EXISTS audit_streams_frontier_moves_with_head; \
             DROP TRIGGER IF EXISTS audit_tree_nodes_reject_update; \
             DROP TRIGGER IF EXISTS audit_tree_nodes_reject_delete; \
             DROP TRIGGER IF EXISTS audit_tree_nodes_reject_existing; \
             DROP TRIGGER IF EXISTS audit_checkpoints_reject_update; \
             DROP TRIGGER IF EXISTS audit_checkpoints_reject_delete;"
        };
        self.exec(sql).await.unwrap();
    }

    /// Runs `business_sql` and `store`'s `record_in(events)` in one
    /// transaction on the store's own pool, then ends it as `end` says.
    pub(crate) async fn record_in(&self, store: &Store, business_sql: &str, events: &[Event], end: End) -> Vec<Event> {
        match store {
            #[cfg(feature = "sqlite")]
            Store::Sqlite(sqlite) => {
                use sqlx::Connection as _;
                let mut conn = sqlite.pool().acquire().await.unwrap();
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
                sqlx::raw_sql(business_sql).execute(&mut *tx).await.unwrap();
                let stored = sqlite.record_in(&mut tx, events).await.unwrap();
                match end {
                    End::Commit => tx.commit().await.unwrap(),
                    End::Rollback => tx.rollback().await.unwrap(),
                }
                stored
            }
            #[cfg(feature = "postgres")]
            Store::Postgres(pg) => {
                let mut tx = pg.pool().begin().await.unwrap();
                sqlx::raw_sql(business_sql).execute(&mut *tx).await.unwrap();
                let stored = pg.record_in(&mut tx, events).await.unwrap();
                match end {
                    End::Commit => tx.commit().await.unwrap(),
                    End::Rollback => tx.rollback().await.unwrap(),
                }
                stored
            }
        }
    }
}

/// How many cases a fuzz property runs: `AUDIT_FUZZ_CASES` when set, else
/// `default`. Each property's default keeps the fuzz tests of the workspace
/// together within about a minute of a debug build, as CI runs them; set
/// `AUDIT_FUZZ_CASES=1000000` for a long run.
pub(crate) fn fuzz_cases(default: u32) -> u32 {
    std::env::var("AUDIT_FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}
