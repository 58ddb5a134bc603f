//! A fresh database of each backend for the end-to-end tests, after
//! `audit-store/tests/support` (whose PostgreSQL harness `postgres.rs` is a
//! copy): a SQLite file in its own temp directory, or a fresh database on
//! the throwaway PostgreSQL cluster (skipped, saying why, where PostgreSQL
//! is absent; `AUDIT_REQUIRE_POSTGRES=1` makes that a failure).

// The store's own harness, shared rather than copied.
#[path = "../../../audit-store/tests/support/postgres.rs"]
pub(crate) mod postgres;
pub(crate) mod running;

/// Runs each `async fn case(db: TestDb)` once on SQLite and once on PostgreSQL.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::support::TestDb::sqlite()).await;
                }
            )*
        }

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

/// A fresh database of one backend, removed when dropped.
#[derive(Debug)]
pub(crate) enum TestDb {
    /// A SQLite file in its own temp directory.
    Sqlite(std::path::PathBuf),
    /// A fresh database on the test PostgreSQL server.
    Postgres(postgres::PgDatabase),
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Self::Sqlite(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl TestDb {
    /// A fresh SQLite database file.
    pub(crate) fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("audit-e2e-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self::Sqlite(dir)
    }

    /// A fresh PostgreSQL database, or `None` where PostgreSQL is absent.
    pub(crate) async fn postgres() -> Option<Self> {
        postgres::fresh_database().await.map(Self::Postgres)
    }

    /// The URL `audit_store::connect` takes.
    pub(crate) fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("sqlite://{}", dir.join("audit.db").display()),
            Self::Postgres(db) => db.url.clone(),
        }
    }
}
