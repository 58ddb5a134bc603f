//! Where subjects' keys live: the store's own key table by default, or a
//! [`KeyStore`] of the application's (a KMS, a vault).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::envelope::SubjectKey;
use crate::error::StoreError;

/// What a [`KeyStore`] method returns: a boxed future, so that stores can
/// hold any key store behind an `Arc<dyn KeyStore>`.
pub type KeyFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A subject's key as a key store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// The key, while the subject is not erased.
    Live(SubjectKey),
    /// Destroyed by an erasure: values sealed under it are gone for good,
    /// and the subject is never given a key again (events naming it later
    /// are sealed under a key that is thrown away at once).
    Erased,
}

/// Keeps one key per subject, for a store that seals personal data
/// ([`PersonalData::key_store`](super::PersonalData::key_store)).
///
/// Without one, a store keeps the keys in its own table
/// (`audit_subject_keys`), written in the same transaction as the events
/// they seal. Keys kept in the database are erased from it (and from
/// SQLite's write-ahead log, with secure delete on) but not from backups or
/// PostgreSQL's WAL archive taken before the erasure; keep them in a KMS or
/// vault, through this trait, where erasure must reach those too.
///
/// A minimal implementation over a map, the shape a KMS adapter takes:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use audit_store::personal::{KeyFuture, KeyState, KeyStore, SubjectKey};
///
/// #[derive(Debug, Default)]
/// struct MapKeys(Mutex<HashMap<String, KeyState>>);
///
/// impl KeyStore for MapKeys {
///     fn keys<'a>(&'a self, subjects: &'a [String], create: bool) -> KeyFuture<'a, HashMap<String, KeyState>> {
///         Box::pin(async move {
///             let mut kept = self.0.lock().unwrap();
///             let mut found = HashMap::new();
///             for subject in subjects {
///                 if create && !kept.contains_key(subject) {
///                     let key = SubjectKey::generate().map_err(audit_store::personal::randomness)?;
///                     kept.insert(subject.clone(), KeyState::Live(key));
///                 }
///                 if let Some(state) = kept.get(subject) {
///                     found.insert(subject.clone(), state.clone());
///                 }
///             }
///             Ok(found)
///         })
///     }
///     fn destroy<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, bool> {
///         Box::pin(async move {
///             let previous = self.0.lock().unwrap().insert(subject.to_owned(), KeyState::Erased);
///             Ok(matches!(previous, Some(KeyState::Live(_))))
///         })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), audit_store::StoreError> {
/// let keys = MapKeys::default();
/// let bob = ["user_bob".to_owned()];
/// assert!(keys.keys(&bob, false).await?.is_empty());
/// assert!(matches!(keys.keys(&bob, true).await?["user_bob"], KeyState::Live(_)));
/// assert!(keys.destroy("user_bob").await?);
/// assert_eq!(keys.keys(&bob, true).await?["user_bob"], KeyState::Erased);
/// # Ok(()) }
/// ```
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// The keys of `subjects` it keeps (a subject it has never seen is left
    /// out), first creating one for each such subject when `create` is set.
    /// An erased subject is answered [`KeyState::Erased`], never with a new
    /// key.
    fn keys<'a>(&'a self, subjects: &'a [String], create: bool) -> KeyFuture<'a, HashMap<String, KeyState>>;

    /// Destroys `subject`'s key for good and remembers the subject as
    /// erased; `true` when there was a live key to destroy.
    fn destroy<'a>(&'a self, subject: &'a str) -> KeyFuture<'a, bool>;
}

/// The error for a key that could not be generated: no randomness.
pub fn randomness(error: getrandom::Error) -> StoreError {
    StoreError::Personal(format!("no randomness for a new subject key: {error}"))
}
