//! Personal data sealed per subject, and erasure by destroying a key
//! (crypto-shredding): GDPR Art. 17 without breaking a single proof.
//!
//! A store given [`PersonalData`] ([`Store::with_personal_data`](crate::Store::with_personal_data))
//! seals an event's personal values before it hashes the event:
//!
//! | value | sealed under the key of |
//! |---|---|
//! | `actor.name`, `actor.email` | the actor, when its kind is personal (default: `user`) |
//! | `target.name`, `targets[].name` | that target, when its type is personal (default: `user`) |
//! | `description` (on by default) | every subject of the event |
//! | metadata entries and before/after fields (and their diff) marked personal: `#[audit(personal)]` on a derived resource's field, [`EventBuilder::personal_key`](audit_core::EventBuilder::personal_key), or [`PersonalData::field`] for every event | every subject of the event |
//!
//! A subject is an id (`actor.id`, `target.id`): ids stay readable, so a
//! subject's events can be found (`actor=user_bob`) and erased. Each value
//! becomes `sealed:v1:…`, XChaCha20-Poly1305 under a key derived from its
//! subjects' keys, with a keyed commitment to the plaintext (see
//! `envelope.rs`). The leaf hash and the Merkle tree cover that sealed
//! form, so [`Store::erase_subject`](crate::Store::erase_subject), which
//! destroys the subject's key, leaves every inclusion and consistency proof
//! and every signed checkpoint valid, while the values become unreadable
//! everywhere: lists, exports and the web page show [`ERASED`]. A value
//! under several subjects (a description naming both actor and target) is
//! gone when any one of them is erased.
//!
//! Readers see values opened: [`Store::query`](crate::Store::query),
//! [`Store::get`](crate::Store::get), exports and stream sinks that deliver
//! events (webhooks, `tracing`). Whatever must verify against the leaf
//! hash sees the sealed form: [`Store::event_proof`](crate::Store::event_proof),
//! exports with proofs, the archive sink and `verify`. A copy already
//! delivered to a SIEM is beyond the store's reach: erase it there too.
//!
//! Free-text search never sees sealed values (the search text keeps no
//! plaintext, so an erased subject's email cannot match): find a subject's
//! events by id (`actor=`, `target=`) instead.
//!
//! Opening needs no configuration: a store reads keys from its key table
//! (or the [`KeyStore`] it was given) for whatever sealed values it reads,
//! so the `audit` CLI and the admin API open them too.
//!
//! Erasure is refused while a tenant whose events name the subject (as
//! actor or main target) is under a legal hold
//! ([`Store::place_legal_hold`](crate::Store::place_legal_hold)), and it is
//! itself recorded: an `audit.subject_erased` event naming who asked, in
//! each tenant stream that named the subject (the global stream when none
//! did). Holds placed and released are recorded too (`audit.legal_hold.placed`,
//! `audit.legal_hold.released`).

mod envelope;
mod erasure;
mod event;
mod keys;

use std::sync::Arc;

use audit_core::ActorKind;

pub use envelope::{SEALED_PREFIX, SubjectKey};
pub use erasure::{Erasure, ErasureReport, LEGAL_HOLD_PLACED, LEGAL_HOLD_RELEASED, LegalHold, SUBJECT_ERASED};
pub use event::{ERASED, SEALED};
pub(crate) use event::{Keys, Subjects, open_page, seal_batch, sealed_subjects};
pub use keys::{KeyFuture, KeyState, KeyStore, randomness};

/// Which values of an event are personal data, and where their keys live.
///
/// ```
/// use audit_core::ActorKind;
/// use audit_store::personal::PersonalData;
///
/// let personal = PersonalData::new()
///     .target_type("member")
///     .field("phone")
///     .actor_kind(ActorKind::Service);
/// assert!(personal.is_personal_target("user") && personal.is_personal_target("member"));
/// assert!(!personal.is_personal_target("app"));
/// ```
#[derive(Debug, Clone)]
pub struct PersonalData {
    pub(crate) actor_kinds: Vec<ActorKind>,
    pub(crate) target_types: Vec<String>,
    pub(crate) fields: Vec<String>,
    pub(crate) seal_description: bool,
    pub(crate) key_store: Option<Arc<dyn KeyStore>>,
}

impl Default for PersonalData {
    fn default() -> Self {
        Self::new()
    }
}

impl PersonalData {
    /// The defaults: actors of kind `user` and targets of type `user` are
    /// subjects; their names and emails, descriptions, and fields marked
    /// personal are sealed; keys live in the store's key table.
    pub fn new() -> Self {
        Self {
            actor_kinds: vec![ActorKind::User],
            target_types: vec!["user".to_owned()],
            fields: Vec::new(),
            seal_description: true,
            key_store: None,
        }
    }

    /// Actors of this kind are subjects too.
    pub fn actor_kind(mut self, kind: ActorKind) -> Self {
        if !self.actor_kinds.contains(&kind) {
            self.actor_kinds.push(kind);
        }
        self
    }

    /// Targets of this type are subjects too (`member`, `customer`).
    pub fn target_type(mut self, target_type: impl Into<String>) -> Self {
        let target_type = target_type.into();
        if !self.target_types.contains(&target_type) {
            self.target_types.push(target_type);
        }
        self
    }

    /// The metadata entry and the before/after field named `key` are
    /// personal in every event (as if each marked it).
    pub fn field(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        if !self.fields.contains(&key) {
            self.fields.push(key);
        }
        self
    }

    /// Whether descriptions are sealed (default `true`: description
    /// templates often name the actor or target). Turn it off only when
    /// no description names a person.
    pub fn seal_description(mut self, seal: bool) -> Self {
        self.seal_description = seal;
        self
    }

    /// Keeps subjects' keys in `store` (a KMS, a vault) instead of the
    /// store's key table.
    pub fn key_store(mut self, store: Arc<dyn KeyStore>) -> Self {
        self.key_store = Some(store);
        self
    }

    /// Whether targets of `target_type` are subjects.
    pub fn is_personal_target(&self, target_type: &str) -> bool {
        self.target_types.iter().any(|t| t == target_type)
    }
}

/// Whether `text` is a sealed value (and so kept out of search text).
pub(crate) fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}
