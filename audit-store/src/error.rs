//! [`StoreError`].

/// What went wrong in a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL names no backend this build supports.
    #[error("unsupported database URL `{url}`: expected {expected}")]
    UnsupportedUrl {
        /// The URL, with any password removed.
        url: String,
        /// The schemes this build accepts.
        expected: &'static str,
    },
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A query or purge parameter cannot be used; the error names it.
    #[error("invalid query: {0}")]
    Query(#[from] crate::QueryError),
    /// A proof or tree head was asked of a stream with sizes it cannot
    /// answer (a leaf past the tree, a tree past the head, …).
    #[error("stream {stream}: {error}")]
    Proof {
        /// The stream.
        stream: String,
        /// What was wrong with the sizes.
        error: crate::merkle::ProofError,
    },
    /// A stored row could not be turned back into an event.
    #[error("stored event {id} is unreadable: {reason}")]
    Corrupt {
        /// The event id as stored.
        id: String,
        /// What was wrong with it.
        reason: String,
    },
    /// Personal data could not be sealed or opened: a key store failed, or
    /// the system had no randomness for a key or nonce.
    #[error("personal data: {0}")]
    Personal(String),
    /// An erasure was refused because a tenant whose events name the
    /// subject is under a legal hold.
    #[error("subject {subject} cannot be erased: tenant {tenant} is under a legal hold ({reason})")]
    LegalHold {
        /// The subject asked to be erased.
        subject: String,
        /// The held tenant.
        tenant: String,
        /// Why the hold was placed.
        reason: String,
    },
    /// An erasure asked for a subject id the store cannot erase (empty, or
    /// longer than a field may be).
    #[error("invalid subject: {0}")]
    InvalidSubject(String),
}

impl From<StoreError> for audit_core::SinkError {
    fn from(error: StoreError) -> Self {
        match &error {
            // Constraint and data errors will fail again; everything else (I/O,
            // pool timeouts, lock contention, a lost connection) may not.
            StoreError::Database(sqlx::Error::Database(db))
                if matches!(
                    db.kind(),
                    sqlx::error::ErrorKind::UniqueViolation
                        | sqlx::error::ErrorKind::CheckViolation
                        | sqlx::error::ErrorKind::NotNullViolation
                        | sqlx::error::ErrorKind::ForeignKeyViolation
                ) =>
            {
                audit_core::SinkError::rejected(error)
            }
            // PostgreSQL's class 22, data exception (e.g. NUL in text, which
            // it cannot hold): the same batch fails the same way again.
            #[cfg(feature = "postgres")]
            StoreError::Database(sqlx::Error::Database(db))
                if db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some_and(|pg| pg.code().starts_with("22")) =>
            {
                audit_core::SinkError::rejected(error)
            }
            StoreError::Corrupt { .. }
            | StoreError::UnsupportedUrl { .. }
            | StoreError::Query(_)
            | StoreError::Proof { .. }
            | StoreError::LegalHold { .. }
            | StoreError::InvalidSubject(_) => audit_core::SinkError::rejected(error),
            _ => audit_core::SinkError::transient(error),
        }
    }
}

/// Removes the password from a database URL before it is shown anywhere.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_errors() {
        assert_eq!(
            redact_url("postgres://audit:s3cret@db:5432/audit"),
            "postgres://audit:***@db:5432/audit"
        );
        assert_eq!(redact_url("sqlite://audit.db"), "sqlite://audit.db");
        assert_eq!(redact_url("postgres://audit@db/audit"), "postgres://audit@db/audit");
    }
}
