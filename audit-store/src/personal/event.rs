//! Sealing an event's personal values before it is hashed, and opening a
//! read copy for the people allowed to read it.

use std::collections::{BTreeSet, HashMap};

use audit_core::{Event, SealableParts};
use serde_json::{Map, Value};

use super::PersonalData;
use super::envelope::{self, Envelope, SubjectKey};
use super::keys::KeyState;

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

/// Seals `event`'s personal values in place, under `subjects` (its
/// [`Subjects::of`]). A subject missing from `keys` (or erased) gets a
/// throwaway key: its values are unreadable from the start.
pub(crate) fn seal_event(
    event: &mut Event,
    subjects: Subjects,
    config: &PersonalData,
    keys: &Keys,
) -> Result<(), getrandom::Error> {
    let marked: Vec<String> = event.personal_keys().iter().chain(&config.fields).cloned().collect();
    let id = event.id();
    let has_main_target = event.target().is_some();
    let seal_description = config.seal_description;
    let mut throwaway: HashMap<String, SubjectKey> = HashMap::new();
    let mut key_list = |names: &[String]| -> Result<Vec<SubjectKey>, getrandom::Error> {
        names
            .iter()
            .map(|name| match keys.get(name) {
                Some(KeyState::Live(key)) => Ok(key.clone()),
                _ => match throwaway.get(name) {
                    Some(key) => Ok(key.clone()),
                    None => {
                        let key = SubjectKey::generate()?;
                        throwaway.insert(name.clone(), key.clone());
                        Ok(key)
                    }
                },
            })
            .collect()
    };
    let actor_keys = subjects
        .actor
        .as_ref()
        .map(|s| key_list(std::slice::from_ref(s)))
        .transpose()?;
    let target_keys: Vec<Option<Vec<SubjectKey>>> = subjects
        .targets
        .iter()
        .map(|s| s.as_ref().map(|s| key_list(std::slice::from_ref(s))).transpose())
        .collect::<Result<_, _>>()?;
    let all_keys = key_list(&subjects.all)?;
    let parts = event.sealable_parts();
    let mut sealer = Sealer { id, result: Ok(()) };

    if let (Some(subject), Some(keys)) = (&subjects.actor, &actor_keys) {
        let names = std::slice::from_ref(subject);
        sealer.text(&mut parts.actor.name, "/actor/name", names, keys);
        sealer.text(&mut parts.actor.email, "/actor/email", names, keys);
    }
    let targets = parts.target.into_iter().chain(parts.targets.iter_mut());
    for (index, (target, (subject, keys))) in targets.zip(subjects.targets.iter().zip(&target_keys)).enumerate() {
        if let (Some(subject), Some(keys)) = (subject, keys) {
            let path = match (has_main_target, index) {
                (true, 0) => "/target/name".to_owned(),
                (true, index) => format!("/targets/{}/name", index - 1),
                (false, index) => format!("/targets/{index}/name"),
            };
            sealer.text(&mut target.name, &path, std::slice::from_ref(subject), keys);
        }
    }
    if subjects.all.is_empty() {
        return sealer.result;
    }
    let all = subjects.all.as_slice();
    if seal_description && let Some(description) = parts.description {
        let mut text = Some(std::mem::take(description));
        sealer.text(&mut text, "/description", all, &all_keys);
        *description = text.unwrap_or_default();
    }
    sealer.fields(parts.metadata, "/metadata", &marked, all, &all_keys);
    if let Some(changes) = parts.changes {
        for (state, path) in [
            (&mut changes.before, "/changes/before"),
            (&mut changes.after, "/changes/after"),
        ] {
            if let Some(Value::Object(fields)) = state {
                sealer.fields(fields, path, &marked, all, &all_keys);
            }
        }
        for (index, entry) in changes.diff.iter_mut().enumerate() {
            let top = entry.path.trim_start_matches('/').split('/').next().unwrap_or_default();
            if marked.iter().any(|key| key == top) {
                for (value, which) in [(&mut entry.old, "old"), (&mut entry.new, "new")] {
                    if let Some(value) = value {
                        sealer.value(value, &format!("/changes/diff/{index}/{which}"), all, &all_keys);
                    }
                }
            }
        }
    }
    event.clear_personal_keys();
    sealer.result
}

struct Sealer {
    id: uuid::Uuid,
    result: Result<(), getrandom::Error>,
}

impl Sealer {
    fn value(&mut self, value: &mut Value, path: &str, subjects: &[String], keys: &[SubjectKey]) {
        if self.result.is_err() || value.is_null() {
            return;
        }
        let refs: Vec<&SubjectKey> = keys.iter().collect();
        match envelope::seal(value, self.id, path, subjects, &refs) {
            Ok(sealed) => *value = Value::String(sealed),
            Err(error) => self.result = Err(error),
        }
    }

    fn text(&mut self, text: &mut Option<String>, path: &str, subjects: &[String], keys: &[SubjectKey]) {
        if let Some(plain) = text.take() {
            let mut value = Value::String(plain);
            self.value(&mut value, path, subjects, keys);
            *text = match value {
                Value::String(sealed) => Some(sealed),
                _ => None,
            };
        }
    }

    fn fields(
        &mut self,
        fields: &mut Map<String, Value>,
        path: &str,
        marked: &[String],
        subjects: &[String],
        keys: &[SubjectKey],
    ) {
        for key in marked {
            if let Some(value) = fields.get_mut(key) {
                self.value(value, &format!("{path}/{}", pointer_escape(key)), subjects, keys);
            }
        }
    }
}

/// `key` as one JSON Pointer token (RFC 6901).
fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The subjects of every sealed value in `event`, for fetching keys.
pub(crate) fn sealed_subjects(event: &Event, into: &mut BTreeSet<String>) {
    visit(event, &mut |text| {
        if let Some(envelope) = Envelope::parse(text) {
            into.extend(envelope.subjects);
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

/// Replaces each sealed value of `event` with its plaintext, or with
/// [`ERASED`] / [`SEALED`] when it cannot be opened.
pub(crate) fn open_event(event: &mut Event, keys: &Keys) {
    let id = event.id();
    let opener = Opener { id, keys };
    let SealableParts {
        actor,
        target,
        targets,
        description,
        metadata,
        changes,
        ..
    } = event.sealable_parts();
    opener.text(&mut actor.name, "/actor/name");
    opener.text(&mut actor.email, "/actor/email");
    if let Some(target) = target {
        opener.text(&mut target.name, "/target/name");
    }
    for (index, target) in targets.iter_mut().enumerate() {
        opener.text(&mut target.name, &format!("/targets/{index}/name"));
    }
    if let Some(description) = description {
        let mut text = Some(std::mem::take(description));
        opener.text(&mut text, "/description");
        *description = text.unwrap_or_default();
    }
    for (key, value) in metadata.iter_mut() {
        opener.value(value, &format!("/metadata/{}", pointer_escape(key)));
    }
    if let Some(changes) = changes {
        for (state, path) in [
            (&mut changes.before, "/changes/before"),
            (&mut changes.after, "/changes/after"),
        ] {
            if let Some(Value::Object(fields)) = state {
                for (key, value) in fields.iter_mut() {
                    opener.value(value, &format!("{path}/{}", pointer_escape(key)));
                }
            }
        }
        for (index, entry) in changes.diff.iter_mut().enumerate() {
            for (value, which) in [(&mut entry.old, "old"), (&mut entry.new, "new")] {
                if let Some(value) = value {
                    opener.value(value, &format!("/changes/diff/{index}/{which}"));
                }
            }
        }
    }
}

struct Opener<'a> {
    id: uuid::Uuid,
    keys: &'a Keys,
}

impl Opener<'_> {
    fn value(&self, value: &mut Value, path: &str) {
        let Value::String(text) = value else { return };
        let Some(envelope) = Envelope::parse(text) else { return };
        let mut keys = Vec::with_capacity(envelope.subjects.len());
        let mut erased = false;
        for subject in &envelope.subjects {
            match self.keys.get(subject) {
                Some(KeyState::Live(key)) => keys.push(key),
                Some(KeyState::Erased) => erased = true,
                None => {}
            }
        }
        *value = if erased {
            Value::String(ERASED.to_owned())
        } else if keys.len() < envelope.subjects.len() {
            Value::String(SEALED.to_owned())
        } else {
            envelope
                .open(self.id, path, &keys)
                .unwrap_or_else(|| Value::String(SEALED.to_owned()))
        };
    }

    fn text(&self, text: &mut Option<String>, path: &str) {
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
