//! Sealing an event's personal values before it is hashed, and opening a
//! read copy for the people allowed to read it.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use audit_core::{Event, SealableParts};
use serde_json::{Map, Value};

use super::PersonalData;
use super::envelope::{self, Envelope, Nonces, SealingKey, SubjectKey};
use super::keys::{KeyState, randomness};
use crate::error::StoreError;

/// What a reader sees in place of a value whose subject was erased.
pub const ERASED: &str = "[erased]";
/// What a reader sees in place of a value this store cannot open: its key
/// is kept in a key store this process was not given, or the sealed value
/// was tampered with.
pub const SEALED: &str = "[sealed]";

/// The subjects an event names under `config`: its actor (when of a
/// personal kind) first, then each personal target.
pub(crate) struct Subjects {
    actor: Option<String>,
    /// The main target's subject, then one per further target (`None`
    /// where the target is not personal).
    targets: Vec<Option<String>>,
    /// Every subject, sorted, without repeats: what free text, marked
    /// fields and state are sealed under.
    all: Vec<String>,
}

impl Subjects {
    pub(crate) fn of(event: &Event, config: &PersonalData) -> Self {
        let actor = event.actor();
        let actor = config.actor_kinds.contains(&actor.kind).then(|| actor.id.clone());
        let targets: Vec<Option<String>> = event
            .target()
            .into_iter()
            .chain(event.targets())
            .map(|target| {
                config
                    .is_personal_target(&target.target_type)
                    .then(|| target.id.clone())
            })
            .collect();
        let mut all: BTreeSet<String> = actor.iter().cloned().chain(targets.iter().flatten().cloned()).collect();
        if all.is_empty() && (!event.personal_keys().is_empty() || !config.fields.is_empty()) {
            // Values marked personal in an event that names no personal
            // actor or target (an API key inviting someone by email): they
            // are sealed under the id the event is about, so erasing that id
            // erases them.
            let about = event.target().map_or(&event.actor().id, |target| &target.id);
            all.insert(about.clone());
        }
        Self {
            actor,
            targets,
            all: all.into_iter().collect(),
        }
    }

    /// Every subject named, for fetching keys.
    pub(crate) fn all(&self) -> &[String] {
        &self.all
    }
}

/// Keys by subject, as fetched for one batch or page.
pub(crate) type Keys = HashMap<String, KeyState>;

/// Seals the events of one batch (or one share of it): each list of
/// subjects' keys derived once, nonces from one random prefix (see
/// [`Nonces`]).
pub(crate) struct BatchSealer<'a> {
    config: &'a PersonalData,
    keys: &'a Keys,
    nonces: Nonces,
    /// Keys for subjects missing from `keys` (or erased): values sealed
    /// under them are unreadable from the start.
    throwaway: HashMap<String, SubjectKey>,
    derived: HashMap<Vec<String>, Rc<SealingKey>>,
}

impl<'a> BatchSealer<'a> {
    /// A sealer for events whose subjects' keys are `keys`.
    pub(crate) fn new(config: &'a PersonalData, keys: &'a Keys) -> Result<Self, getrandom::Error> {
        Ok(Self {
            config,
            keys,
            nonces: Nonces::new()?,
            throwaway: HashMap::new(),
            derived: HashMap::new(),
        })
    }

    /// The sealing key of `subjects`, derived on first use.
    fn sealing_key(&mut self, subjects: &[String]) -> Result<Rc<SealingKey>, getrandom::Error> {
        if let Some(key) = self.derived.get(subjects) {
            return Ok(Rc::clone(key));
        }
        let mut keys = Vec::with_capacity(subjects.len());
        for subject in subjects {
            let key = match self.keys.get(subject) {
                Some(KeyState::Live(key)) => key.clone(),
                _ => match self.throwaway.get(subject) {
                    Some(key) => key.clone(),
                    None => {
                        let key = SubjectKey::generate()?;
                        self.throwaway.insert(subject.clone(), key.clone());
                        key
                    }
                },
            };
            keys.push(key);
        }
        let refs: Vec<&SubjectKey> = keys.iter().collect();
        let key = Rc::new(SealingKey::derive(subjects, &refs));
        self.derived.insert(subjects.to_vec(), Rc::clone(&key));
        Ok(key)
    }

    /// Seals `event`'s personal values in place, under `subjects` (its
    /// [`Subjects::of`]).
    pub(crate) fn seal(&mut self, event: &mut Event, subjects: Subjects) -> Result<(), getrandom::Error> {
        let config = self.config;
        let marked: Vec<String> = event.personal_keys().iter().chain(&config.fields).cloned().collect();
        let id = event.id();
        let has_main_target = event.target().is_some();
        let actor_key = match &subjects.actor {
            Some(subject) => Some(self.sealing_key(std::slice::from_ref(subject))?),
            None => None,
        };
        let mut target_keys = Vec::with_capacity(subjects.targets.len());
        for subject in &subjects.targets {
            target_keys.push(match subject {
                Some(subject) => Some(self.sealing_key(std::slice::from_ref(subject))?),
                None => None,
            });
        }
        let all_key = match subjects.all.is_empty() {
            true => None,
            false => Some(self.sealing_key(&subjects.all)?),
        };
        let parts = event.sealable_parts();
        let mut sealer = Sealer {
            id,
            nonces: &mut self.nonces,
        };

        if let Some(key) = &actor_key {
            sealer.text(&mut parts.actor.name, "/actor/name", key);
            sealer.text(&mut parts.actor.email, "/actor/email", key);
        }
        let targets = parts.target.into_iter().chain(parts.targets.iter_mut());
        for (index, (target, key)) in targets.zip(&target_keys).enumerate() {
            if let Some(key) = key {
                let path = match (has_main_target, index) {
                    (true, 0) => "/target/name".to_owned(),
                    (true, index) => format!("/targets/{}/name", index - 1),
                    (false, index) => format!("/targets/{index}/name"),
                };
                sealer.text(&mut target.name, &path, key);
            }
        }
        let Some(all) = &all_key else {
            return Ok(());
        };
        if config.seal_description
            && let Some(description) = parts.description
        {
            let mut text = Some(std::mem::take(description));
            sealer.text(&mut text, "/description", all);
            *description = text.unwrap_or_default();
        }
        sealer.fields(parts.metadata, "/metadata", &marked, all);
        if let Some(changes) = parts.changes {
            for (state, path) in [
                (&mut changes.before, "/changes/before"),
                (&mut changes.after, "/changes/after"),
            ] {
                if let Some(Value::Object(fields)) = state {
                    sealer.fields(fields, path, &marked, all);
                }
            }
            for (index, entry) in changes.diff.iter_mut().enumerate() {
                let top = entry.path.trim_start_matches('/').split('/').next().unwrap_or_default();
                if marked.iter().any(|key| key == top) {
                    for (value, which) in [(&mut entry.old, "old"), (&mut entry.new, "new")] {
                        if let Some(value) = value {
                            sealer.value(value, &format!("/changes/diff/{index}/{which}"), all);
                        }
                    }
                }
            }
        }
        event.clear_personal_keys();
        Ok(())
    }
}

/// Events per share below which a batch is sealed on the calling thread:
/// a thread hop costs more than sealing a few hundred values.
const EVENTS_PER_SHARE: usize = 512;

/// Seals `events` (each with its [`Subjects::of`]) under `keys`, spread
/// over the machine's cores for a large batch: sealing is the CPU half of
/// a sealed write (the database is the other), and it is done while the
/// write's transaction waits.
pub(crate) async fn seal_batch(
    config: &Arc<PersonalData>,
    keys: Keys,
    events: Vec<(Event, Subjects)>,
) -> Result<Vec<Event>, StoreError> {
    fn seal_share(
        config: &PersonalData,
        keys: &Keys,
        events: Vec<(Event, Subjects)>,
    ) -> Result<Vec<Event>, StoreError> {
        let mut sealer = BatchSealer::new(config, keys).map_err(randomness)?;
        events
            .into_iter()
            .map(|(mut event, subjects)| {
                sealer.seal(&mut event, subjects).map_err(randomness)?;
                Ok(event)
            })
            .collect()
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let shares = cores.min(events.len().div_ceil(EVENTS_PER_SHARE)).max(1);
    if shares == 1 {
        return seal_share(config, &keys, events);
    }
    let keys = Arc::new(keys);
    let per_share = events.len().div_ceil(shares);
    let mut events = events.into_iter();
    let mut handles = Vec::with_capacity(shares);
    loop {
        let share: Vec<(Event, Subjects)> = events.by_ref().take(per_share).collect();
        if share.is_empty() {
            break;
        }
        let (config, keys) = (Arc::clone(config), Arc::clone(&keys));
        handles.push(tokio::task::spawn_blocking(move || seal_share(&config, &keys, share)));
    }
    let mut sealed = Vec::with_capacity(per_share * handles.len());
    for handle in handles {
        let share = handle
            .await
            .map_err(|error| StoreError::Personal(format!("sealing a batch failed: {error}")))??;
        sealed.extend(share);
    }
    Ok(sealed)
}

/// Seals the values of one event.
struct Sealer<'n> {
    id: uuid::Uuid,
    nonces: &'n mut Nonces,
}

impl Sealer<'_> {
    fn value(&mut self, value: &mut Value, path: &str, key: &SealingKey) {
        if !value.is_null() {
            *value = Value::String(key.seal(value, self.id, path, self.nonces));
        }
    }

    fn text(&mut self, text: &mut Option<String>, path: &str, key: &SealingKey) {
        if let Some(plain) = text.take() {
            let mut value = Value::String(plain);
            self.value(&mut value, path, key);
            *text = match value {
                Value::String(sealed) => Some(sealed),
                _ => None,
            };
        }
    }

    fn fields(&mut self, fields: &mut Map<String, Value>, path: &str, marked: &[String], key: &SealingKey) {
        for name in marked {
            if let Some(value) = fields.get_mut(name) {
                self.value(value, &format!("{path}/{}", pointer_escape(name)), key);
            }
        }
    }
}

/// `key` as one JSON Pointer token (RFC 6901).
fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The subjects of every sealed value in `events`, for fetching keys, and
/// how many sealed values there are. Each envelope's subject list is
/// decoded once per distinct list, not once per value.
pub(crate) fn sealed_subjects(events: &[Event]) -> (BTreeSet<String>, usize) {
    let mut parts = std::collections::HashSet::new();
    let mut values = 0;
    for event in events {
        visit(event, &mut |text| {
            if let Some(part) = envelope::subjects_part(text) {
                values += 1;
                if !parts.contains(part) {
                    parts.insert(part.to_owned());
                }
            }
        });
    }
    let subjects = parts
        .iter()
        .filter_map(|part| envelope::decode_subjects(part))
        .flatten()
        .collect();
    (subjects, values)
}

/// Sealed values per thread below which a page is opened on the calling
/// thread alone: a thread costs about what opening this many values does.
const VALUES_PER_THREAD: usize = 64;

/// Opens the sealed values of `events` (holding `values` of them, see
/// [`sealed_subjects`]) with `keys`, spread over the machine's cores when
/// there are enough of them: opening is most of what a sealed page costs
/// beyond an unsealed one.
pub(crate) fn open_page(events: &mut [Event], keys: &Keys, values: usize) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores.min(values / VALUES_PER_THREAD).min(events.len()).max(1);
    let per_thread = events.len().div_ceil(threads).max(1);
    let open = |share: &mut [Event]| {
        let mut opener = PageOpener::new(keys);
        share.iter_mut().for_each(|event| opener.open(event));
    };
    if threads == 1 {
        return open(events);
    }
    std::thread::scope(|scope| {
        let mut shares = events.chunks_mut(per_thread);
        let first = shares.next();
        for share in shares {
            scope.spawn(move || open(share));
        }
        if let Some(first) = first {
            open(first);
        }
    });
}

/// Calls `f` with every string of `event` that may be sealed.
fn visit(event: &Event, f: &mut impl FnMut(&str)) {
    let actor = event.actor();
    for text in [&actor.name, &actor.email].into_iter().flatten() {
        f(text);
    }
    for target in event.target().into_iter().chain(event.targets()) {
        target.name.as_deref().map(&mut *f);
    }
    event.description().map(&mut *f);
    fn walk(value: &Value, f: &mut impl FnMut(&str)) {
        match value {
            Value::String(text) => f(text),
            Value::Array(items) => items.iter().for_each(|item| walk(item, f)),
            Value::Object(fields) => fields.values().for_each(|item| walk(item, f)),
            _ => {}
        }
    }
    event.metadata().values().for_each(|value| walk(value, f));
    if let Some(changes) = event.changes() {
        for state in [&changes.before, &changes.after].into_iter().flatten() {
            walk(state, f);
        }
        for entry in &changes.diff {
            for value in [&entry.old, &entry.new].into_iter().flatten() {
                walk(value, f);
            }
        }
    }
}

/// Opens the sealed values of one page's events: each list of subjects'
/// keys is derived once for the page (an actor's name and email, on every
/// row of theirs, share one).
pub(crate) struct PageOpener<'a> {
    keys: &'a Keys,
    /// By the envelope's `<subjects>` part, as stored.
    derived: HashMap<String, Opening>,
}

/// What a page can do with the values under one list of subjects.
enum Opening {
    Open(Box<SealingKey>),
    /// One of the subjects is erased.
    Erased,
    /// A key this store does not have, or a list it cannot read.
    Sealed,
}

impl<'a> PageOpener<'a> {
    /// An opener with the page's keys (see [`sealed_subjects`]).
    pub(crate) fn new(keys: &'a Keys) -> Self {
        Self {
            keys,
            derived: HashMap::new(),
        }
    }

    fn opening(&mut self, part: &str) -> &Opening {
        if !self.derived.contains_key(part) {
            let opening = self.derive(part);
            self.derived.insert(part.to_owned(), opening);
        }
        &self.derived[part]
    }

    fn derive(&self, part: &str) -> Opening {
        let Some(subjects) = envelope::decode_subjects(part) else {
            return Opening::Sealed;
        };
        let mut keys = Vec::with_capacity(subjects.len());
        let mut erased = false;
        for subject in &subjects {
            match self.keys.get(subject) {
                Some(KeyState::Live(key)) => keys.push(key),
                Some(KeyState::Erased) => erased = true,
                None => {}
            }
        }
        if erased {
            Opening::Erased
        } else if keys.len() < subjects.len() {
            Opening::Sealed
        } else {
            Opening::Open(Box::new(SealingKey::derive(&subjects, &keys)))
        }
    }

    /// Replaces each sealed value of `event` with its plaintext, or with
    /// [`ERASED`] / [`SEALED`] when it cannot be opened.
    pub(crate) fn open(&mut self, event: &mut Event) {
        let id = event.id();
        let SealableParts {
            actor,
            target,
            targets,
            description,
            metadata,
            changes,
            ..
        } = event.sealable_parts();
        let mut opener = Opener { id, page: self };
        opener.text(&mut actor.name, || "/actor/name".to_owned());
        opener.text(&mut actor.email, || "/actor/email".to_owned());
        if let Some(target) = target {
            opener.text(&mut target.name, || "/target/name".to_owned());
        }
        for (index, target) in targets.iter_mut().enumerate() {
            opener.text(&mut target.name, || format!("/targets/{index}/name"));
        }
        if let Some(description) = description {
            let mut text = Some(std::mem::take(description));
            opener.text(&mut text, || "/description".to_owned());
            *description = text.unwrap_or_default();
        }
        for (key, value) in metadata.iter_mut() {
            opener.value(value, || format!("/metadata/{}", pointer_escape(key)));
        }
        if let Some(changes) = changes {
            for (state, path) in [
                (&mut changes.before, "/changes/before"),
                (&mut changes.after, "/changes/after"),
            ] {
                if let Some(Value::Object(fields)) = state {
                    for (key, value) in fields.iter_mut() {
                        opener.value(value, || format!("{path}/{}", pointer_escape(key)));
                    }
                }
            }
            for (index, entry) in changes.diff.iter_mut().enumerate() {
                for (value, which) in [(&mut entry.old, "old"), (&mut entry.new, "new")] {
                    if let Some(value) = value {
                        opener.value(value, || format!("/changes/diff/{index}/{which}"));
                    }
                }
            }
        }
    }
}

/// Opens the values of one event.
struct Opener<'p, 'a> {
    id: uuid::Uuid,
    page: &'p mut PageOpener<'a>,
}

impl Opener<'_, '_> {
    /// Opens `value` when it is sealed; `path` (its place, for the AEAD's
    /// associated data) is made only for a sealed value.
    fn value(&mut self, value: &mut Value, path: impl FnOnce() -> String) {
        let Value::String(text) = value else { return };
        let Some(part) = envelope::subjects_part(text) else {
            return;
        };
        let path = &path();
        let opened = match self.page.opening(part) {
            Opening::Erased => None,
            Opening::Sealed => Some(Value::String(SEALED.to_owned())),
            Opening::Open(key) => Some(
                Envelope::parse(text)
                    .and_then(|envelope| key.open(envelope, self.id, path))
                    .unwrap_or_else(|| Value::String(SEALED.to_owned())),
            ),
        };
        *value = opened.unwrap_or_else(|| Value::String(ERASED.to_owned()));
    }

    fn text(&mut self, text: &mut Option<String>, path: impl FnOnce() -> String) {
        let Some(current) = text.as_ref() else { return };
        if !current.starts_with(envelope::SEALED_PREFIX) {
            return;
        }
        let mut value = Value::String(text.take().unwrap_or_default());
        self.value(&mut value, path);
        *text = Some(match value {
            Value::String(plain) => plain,
            other => other.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_core::{Action, Actor, Target};
    use serde_json::json;

    fn person(i: usize) -> Event {
        Event::builder(
            Action::new("user.updated").unwrap(),
            Actor::user(format!("user_{i}"))
                .with_email(format!("user{i}@example.com"))
                .with_name(format!("User {i}")),
        )
        .tenant("acme")
        .target(Target::new("user", format!("user_{}", i + 1)).with_name(format!("User {}", i + 1)))
        .description(format!("User {i} updated User {}", i + 1))
        .metadata("email", &json!(format!("user{}@example.com", i + 1)))
        .personal_key("email")
        .build()
    }

    /// A page big enough to be opened on several threads, sealed by one
    /// batch sealer (nonces and derived keys shared), opens value for value,
    /// and an erased subject's values read erased on every thread.
    #[test]
    fn a_page_sealed_as_one_batch_opens_on_every_thread_alike() {
        let config = PersonalData::new();
        let plain: Vec<Event> = (0..60).map(person).collect();
        let mut keys = Keys::new();
        for i in 0..=60 {
            keys.insert(format!("user_{i}"), KeyState::Live(SubjectKey::generate().unwrap()));
        }
        let mut sealer = BatchSealer::new(&config, &keys).unwrap();
        let mut page = plain.clone();
        for event in &mut page {
            let subjects = Subjects::of(event, &config);
            sealer.seal(event, subjects).unwrap();
        }
        assert!(page.iter().all(|event| {
            event
                .actor()
                .email
                .as_deref()
                .is_some_and(|email| email.starts_with(envelope::SEALED_PREFIX))
        }));
        let (subjects, values) = sealed_subjects(&page);
        assert_eq!(subjects.len(), 61);
        assert_eq!(
            values,
            60 * 5,
            "actor name and email, target name, description, metadata email"
        );
        assert!(
            values / VALUES_PER_THREAD >= 2,
            "enough values for more than one thread"
        );

        keys.insert("user_7".to_owned(), KeyState::Erased);
        open_page(&mut page, &keys, values);
        for (opened, plain) in page.iter().zip(&plain) {
            let touches_7 = [&opened.actor().id, &opened.target().unwrap().id].contains(&&"user_7".to_owned());
            if touches_7 {
                assert_eq!(opened.description(), Some(ERASED));
            } else {
                assert_eq!(opened.description(), plain.description());
                assert_eq!(opened.metadata(), plain.metadata());
            }
            if opened.actor().id == "user_7" {
                assert_eq!(opened.actor().email.as_deref(), Some(ERASED));
            } else {
                assert_eq!(opened.actor(), plain.actor());
            }
        }
    }
}
