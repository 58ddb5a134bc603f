//! Structural diff of two JSON snapshots of a resource.
//!
//! An audit event records `before` and `after` snapshots; [`diff`] turns them
//! into a flat list of [`DiffEntry`] values, one per changed location, so an
//! admin can see *what* changed without comparing two documents by eye.
//!
//! # Rules
//!
//! * **Objects** are compared key by key. A key present only in `before` gives
//!   a *removed* entry (`new` is `None`), a key present only in `after` gives
//!   an *added* entry (`old` is `None`), and a key present in both is compared
//!   recursively.
//! * **Arrays** are compared index by index. When one side is longer, each
//!   extra trailing element is an added or removed entry at its own index.
//!   There is deliberately no move or insertion detection: inserting an
//!   element at the front of an array shows as a change at every index
//!   followed by one added index. This keeps the diff cheap, predictable and
//!   easy to read; audit snapshots are mostly objects.
//! * **Scalars, and values of different types**, give one entry at their path
//!   with both sides when they differ. Equality is `serde_json`'s, so `1` and
//!   `1.0` count as different (they also serialise differently).
//! * **Equal values** give no entry at all.
//! * **A missing side** (`None`, e.g. on create or delete): when the other side
//!   is an object, the missing side is treated as an empty object, so each
//!   top-level key becomes an added (or removed) entry; when the other side is
//!   not an object, the result is a single entry at the whole-document path
//!   `""`. `diff(None, None)` is empty. Creating an *empty* object therefore
//!   gives no entries: it changes no field.
//!
//! Paths are RFC 6901 JSON Pointers: each segment is prefixed by `/`, and a
//! key's `~` is written `~0` and its `/` is written `~1`.
//!
//! # Order
//!
//! Entries come in depth-first document order, with the keys of an object in
//! ascending order (Rust's `str` ordering, i.e. by UTF-8 bytes, whichever of
//! the two sides they come from) and array indices in ascending numeric order.
//! The order does not depend on how `serde_json` stores maps (for example its
//! `preserve_order` feature), so the same two snapshots always give the same
//! list, which keeps stored events and their hashes reproducible.
//!
//! # Example
//!
//! ```
//! use audit_core::{diff, DiffEntry};
//! use serde_json::json;
//!
//! let before = json!({"name": "Ada", "roles": ["user"], "tmp": true});
//! let after = json!({"name": "Ada L.", "roles": ["user", "admin"], "a/b": 1});
//!
//! let entries = diff(Some(&before), Some(&after));
//! assert_eq!(
//!     entries,
//!     vec![
//!         // "a/b" sorts first; its `/` is escaped as `~1`.
//!         DiffEntry { path: "/a~1b".into(), old: None, new: Some(json!(1)) },
//!         DiffEntry { path: "/name".into(), old: Some(json!("Ada")), new: Some(json!("Ada L.")) },
//!         DiffEntry { path: "/roles/1".into(), old: None, new: Some(json!("admin")) },
//!         DiffEntry { path: "/tmp".into(), old: Some(json!(true)), new: None },
//!     ]
//! );
//!
//! // An absent side is omitted from the JSON form, not written as null.
//! assert_eq!(
//!     serde_json::to_string(&entries[0]).unwrap(),
//!     r#"{"path":"/a~1b","new":1}"#
//! );
//! ```

use std::fmt::Write as _;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// One changed location between a before and an after snapshot.
///
/// In JSON an entry looks like `{"path": "/a/b", "old": 1, "new": 2}`. A side
/// that is absent (`None`) is omitted from the JSON, while a side that is a
/// JSON `null` is written as `null` and reads back as `Some(Value::Null)`, so
/// "the field was added with value null" and "the field was added" stay
/// distinguishable after a round trip through a store.
///
/// # Example
///
/// ```
/// use audit_core::DiffEntry;
/// use serde_json::{json, Value};
///
/// let set_to_null = DiffEntry { path: "/x".into(), old: Some(json!(1)), new: Some(Value::Null) };
/// let text = serde_json::to_string(&set_to_null).unwrap();
/// assert_eq!(text, r#"{"path":"/x","old":1,"new":null}"#);
/// assert_eq!(serde_json::from_str::<DiffEntry>(&text).unwrap(), set_to_null);
///
/// let removed: DiffEntry = serde_json::from_str(r#"{"path":"/x","old":null}"#).unwrap();
/// assert_eq!(removed.old, Some(Value::Null));
/// assert_eq!(removed.new, None);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffEntry {
    /// RFC 6901 JSON Pointer to the changed location ("" is the whole document).
    pub path: String,
    /// The value before; `None` when the location was added.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_present"
    )]
    pub old: Option<Value>,
    /// The value after; `None` when the location was removed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_present"
    )]
    pub new: Option<Value>,
}

/// Reads a field that is present in the input as `Some`, even when it is
/// `null`.
///
/// serde's own `Option` handling maps `null` to `None`, which would turn
/// "changed to null" into "removed". Absence is handled by `#[serde(default)]`,
/// which never calls this function.
fn deserialize_present<'de, D>(deserializer: D) -> Result<Option<Value>, D::Error>
where
    D: Deserializer<'de>,
{
    Value::deserialize(deserializer).map(Some)
}

/// Computes the changes that turn `before` into `after`.
///
/// `None` stands for a resource that does not exist (before a create, after a
/// delete).
///
/// * Objects are compared key by key: a key only in `before` is a removed
///   entry (`new: None`), a key only in `after` an added one (`old: None`).
/// * Arrays are compared index by index; extra trailing elements are added or
///   removed entries at their indices. There is no move detection, so an
///   insertion at the front shows as a change at every index plus one added
///   index: a deliberate trade of precision for a cheap, predictable diff.
/// * Differing scalars, or values of different types, give one entry with
///   both sides; equal values give none (`1` and `1.0` differ, as in
///   `serde_json`).
/// * A missing side next to an object counts as an empty object (one entry per
///   top-level key); next to anything else it gives one entry at `""`.
///   `diff(None, None)` is empty.
/// * Paths are RFC 6901 JSON Pointers (`~` is written `~0`, `/` is `~1`).
/// * Entries come in depth-first order, object keys ascending (by `str`
///   ordering, whichever side they come from), array indices ascending
///   numerically, whatever map order `serde_json` was built with.
///
/// # Example
///
/// ```
/// use audit_core::{diff, DiffEntry};
/// use serde_json::json;
///
/// // A created resource: every top-level key is an added entry.
/// let created = json!({"id": 7, "tags": ["a"]});
/// assert_eq!(
///     diff(None, Some(&created)),
///     vec![
///         DiffEntry { path: "/id".into(), old: None, new: Some(json!(7)) },
///         DiffEntry { path: "/tags".into(), old: None, new: Some(json!(["a"])) },
///     ]
/// );
///
/// // A scalar document that disappears: one entry for the whole document.
/// assert_eq!(
///     diff(Some(&json!(42)), None),
///     vec![DiffEntry { path: "".into(), old: Some(json!(42)), new: None }]
/// );
///
/// // Nothing changed.
/// assert!(diff(Some(&created), Some(&created)).is_empty());
/// assert!(diff(None, None).is_empty());
/// ```
#[must_use]
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<DiffEntry> {
    let mut entries = Vec::new();
    // One path buffer for the whole walk: segments are pushed on the way down
    // and truncated on the way up, so only emitted entries allocate a path.
    let mut path = String::new();
    match (before, after) {
        (None, None) => {}
        (Some(old), Some(new)) => diff_values(old, new, &mut path, &mut entries),
        (None, Some(Value::Object(new))) => {
            diff_objects(&Map::new(), new, &mut path, &mut entries);
        }
        (Some(Value::Object(old)), None) => {
            diff_objects(old, &Map::new(), &mut path, &mut entries);
        }
        (old, new) => entries.push(DiffEntry {
            path: String::new(),
            old: old.cloned(),
            new: new.cloned(),
        }),
    }
    entries
}

/// Compares two present values at `path`.
fn diff_values(old: &Value, new: &Value, path: &mut String, out: &mut Vec<DiffEntry>) {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => diff_objects(old, new, path, out),
        (Value::Array(old), Value::Array(new)) => diff_arrays(old, new, path, out),
        // Scalars, or containers of different types: the location as a whole
        // changed. Deep equality here is cheap because at least one side is a
        // scalar (or the types differ, which compares in O(1)).
        _ => {
            if old != new {
                out.push(entry(path, Some(old), Some(new)));
            }
        }
    }
}

fn diff_objects(old: &Map<String, Value>, new: &Map<String, Value>, path: &mut String, out: &mut Vec<DiffEntry>) {
    // serde_json's default map iterates in key order; then one merge of the
    // two sorted sequences visits the union of the keys in order, with no
    // list of keys and no lookups.
    if old.keys().is_sorted() && new.keys().is_sorted() {
        let (mut old, mut new) = (old.iter().peekable(), new.iter().peekable());
        loop {
            let (key, old_value, new_value) = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some((old_key, _)), Some((new_key, _))) if old_key == new_key => match (old.next(), new.next()) {
                    (Some((key, old_value)), Some((_, new_value))) => (key, Some(old_value), Some(new_value)),
                    _ => break,
                },
                (Some((old_key, _)), Some((new_key, _))) if old_key > new_key => match new.next() {
                    Some((key, new_value)) => (key, None, Some(new_value)),
                    None => break,
                },
                (Some(_), _) => match old.next() {
                    Some((key, old_value)) => (key, Some(old_value), None),
                    None => break,
                },
                (None, Some(_)) => match new.next() {
                    Some((key, new_value)) => (key, None, Some(new_value)),
                    None => break,
                },
            };
            diff_member(key, old_value, new_value, path, out);
        }
        return;
    }
    // Sort the union of the keys explicitly rather than trusting the map's
    // iteration order, which depends on serde_json's `preserve_order` feature.
    let mut keys: Vec<&str> = old.keys().map(String::as_str).collect();
    keys.extend(new.keys().map(String::as_str).filter(|key| !old.contains_key(*key)));
    keys.sort_unstable();

    for key in keys {
        diff_member(key, old.get(key), new.get(key), path, out);
    }
}

/// Compares the values of one object key, at least one of them present.
fn diff_member(key: &str, old: Option<&Value>, new: Option<&Value>, path: &mut String, out: &mut Vec<DiffEntry>) {
    let parent_len = path.len();
    push_key_segment(path, key);
    match (old, new) {
        (Some(old), Some(new)) => diff_values(old, new, path, out),
        (old, new) => out.push(entry(path, old, new)),
    }
    path.truncate(parent_len);
}

fn diff_arrays(old: &[Value], new: &[Value], path: &mut String, out: &mut Vec<DiffEntry>) {
    for index in 0..old.len().max(new.len()) {
        let parent_len = path.len();
        // Writing into a String cannot fail.
        let _ = write!(path, "/{index}");
        match (old.get(index), new.get(index)) {
            (Some(old), Some(new)) => diff_values(old, new, path, out),
            (old, new) => out.push(entry(path, old, new)),
        }
        path.truncate(parent_len);
    }
}

fn entry(path: &str, old: Option<&Value>, new: Option<&Value>) -> DiffEntry {
    DiffEntry {
        path: path.to_owned(),
        old: old.cloned(),
        new: new.cloned(),
    }
}

/// Appends `/` and `key` escaped per RFC 6901 (`~` → `~0`, `/` → `~1`).
fn push_key_segment(path: &mut String, key: &str) {
    path.push('/');
    if !key.contains(['~', '/']) {
        path.push_str(key);
        return;
    }
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn added(path: &str, new: Value) -> DiffEntry {
        DiffEntry {
            path: path.into(),
            old: None,
            new: Some(new),
        }
    }

    fn removed(path: &str, old: Value) -> DiffEntry {
        DiffEntry {
            path: path.into(),
            old: Some(old),
            new: None,
        }
    }

    fn changed(path: &str, old: Value, new: Value) -> DiffEntry {
        DiffEntry {
            path: path.into(),
            old: Some(old),
            new: Some(new),
        }
    }

    #[test]
    fn equal_values_give_no_entries() {
        let v = json!({"a": [1, {"b": null}], "c": "x"});
        assert!(diff(Some(&v), Some(&v)).is_empty());
        assert!(diff(Some(&json!(1)), Some(&json!(1))).is_empty());
    }

    #[test]
    fn missing_both_sides_is_empty() {
        assert!(diff(None, None).is_empty());
    }

    #[test]
    fn changed_scalar_is_one_entry_with_both_sides() {
        assert_eq!(
            diff(Some(&json!({"a": {"b": 1}})), Some(&json!({"a": {"b": 2}}))),
            vec![changed("/a/b", json!(1), json!(2))]
        );
    }

    #[test]
    fn type_change_is_one_entry_at_that_path() {
        assert_eq!(
            diff(Some(&json!({"a": {"b": 1}})), Some(&json!({"a": [1]}))),
            vec![changed("/a", json!({"b": 1}), json!([1]))]
        );
        assert_eq!(
            diff(Some(&json!({"a": null})), Some(&json!({"a": false}))),
            vec![changed("/a", json!(null), json!(false))]
        );
    }

    #[test]
    fn integer_and_float_of_same_magnitude_differ() {
        assert_eq!(
            diff(Some(&json!(1)), Some(&json!(1.0))),
            vec![changed("", json!(1), json!(1.0))]
        );
    }

    #[test]
    fn key_only_in_before_is_removed_and_only_in_after_is_added() {
        assert_eq!(
            diff(
                Some(&json!({"gone": 1, "kept": 2})),
                Some(&json!({"kept": 2, "new": [3]}))
            ),
            vec![removed("/gone", json!(1)), added("/new", json!([3]))]
        );
    }

    #[test]
    fn array_growth_is_reported_as_added_indices() {
        assert_eq!(
            diff(Some(&json!([1])), Some(&json!([1, 2, 3]))),
            vec![added("/1", json!(2)), added("/2", json!(3))]
        );
    }

    #[test]
    fn array_shrink_is_reported_as_removed_indices() {
        assert_eq!(
            diff(Some(&json!({"a": [1, 2, 3]})), Some(&json!({"a": [1]}))),
            vec![removed("/a/1", json!(2)), removed("/a/2", json!(3))]
        );
    }

    #[test]
    fn array_elements_are_compared_by_index_and_recursed_into() {
        assert_eq!(
            diff(Some(&json!([{"n": 1}, 5])), Some(&json!([{"n": 2}, 5]))),
            vec![changed("/0/n", json!(1), json!(2))]
        );
    }

    #[test]
    fn insertion_at_front_of_array_shows_as_change_at_every_index() {
        assert_eq!(
            diff(Some(&json!(["a", "b"])), Some(&json!(["x", "a", "b"]))),
            vec![
                changed("/0", json!("a"), json!("x")),
                changed("/1", json!("b"), json!("a")),
                added("/2", json!("b")),
            ]
        );
    }

    #[test]
    fn missing_before_with_object_after_adds_each_top_level_key() {
        assert_eq!(
            diff(None, Some(&json!({"b": {"c": 1}, "a": 2}))),
            vec![added("/a", json!(2)), added("/b", json!({"c": 1}))]
        );
    }

    #[test]
    fn missing_after_with_object_before_removes_each_top_level_key() {
        assert_eq!(
            diff(Some(&json!({"a": 1, "b": [2]})), None),
            vec![removed("/a", json!(1)), removed("/b", json!([2]))]
        );
    }

    #[test]
    fn missing_side_with_non_object_gives_one_whole_document_entry() {
        assert_eq!(diff(None, Some(&json!([1, 2]))), vec![added("", json!([1, 2]))]);
        assert_eq!(diff(Some(&json!("s")), None), vec![removed("", json!("s"))]);
        assert_eq!(diff(None, Some(&Value::Null)), vec![added("", Value::Null)]);
    }

    #[test]
    fn creating_an_empty_object_gives_no_entries() {
        assert!(diff(None, Some(&json!({}))).is_empty());
    }

    #[test]
    fn keys_with_slash_and_tilde_are_escaped() {
        assert_eq!(
            diff(
                Some(&json!({"a/b": {"~c": 1}})),
                Some(&json!({"a/b": {"~c": 2}, "~/": 3}))
            ),
            vec![changed("/a~1b/~0c", json!(1), json!(2)), added("/~0~1", json!(3)),]
        );
        // "~1" in a key must not be confused with an escaped "/".
        assert_eq!(diff(None, Some(&json!({"~1": 0}))), vec![added("/~01", json!(0))]);
    }

    #[test]
    fn entries_come_in_depth_first_order_with_sorted_keys_and_numeric_indices() {
        let before = json!({"b": 1, "a": {"y": 1, "x": 1}, "list": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]});
        let after = json!({"a": {"x": 2, "y": 2}, "b": 2, "list": [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0]});
        let paths: Vec<String> = diff(Some(&before), Some(&after)).into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["/a/x", "/a/y", "/b", "/list/2", "/list/10"]);
    }

    #[test]
    fn keys_added_and_removed_are_merged_into_one_sorted_order() {
        let paths: Vec<String> = diff(Some(&json!({"a": 1, "c": 1})), Some(&json!({"b": 1, "d": 1})))
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, ["/a", "/b", "/c", "/d"]);
    }

    #[test]
    fn json_form_omits_absent_sides_and_keeps_null() {
        let cases = [
            (changed("/x", json!(1), json!(2)), r#"{"path":"/x","old":1,"new":2}"#),
            (added("/x", Value::Null), r#"{"path":"/x","new":null}"#),
            (removed("/x", Value::Null), r#"{"path":"/x","old":null}"#),
            (
                changed("/x", Value::Null, Value::Null),
                r#"{"path":"/x","old":null,"new":null}"#,
            ),
            (
                DiffEntry {
                    path: String::new(),
                    old: None,
                    new: None,
                },
                r#"{"path":""}"#,
            ),
        ];
        for (entry, text) in cases {
            assert_eq!(serde_json::to_string(&entry).unwrap(), text);
            assert_eq!(serde_json::from_str::<DiffEntry>(text).unwrap(), entry, "{text}");
        }
    }

    #[test]
    fn null_sides_round_trip_in_all_four_presence_cases() {
        for old in [None, Some(Value::Null)] {
            for new in [None, Some(Value::Null)] {
                let entry = DiffEntry {
                    path: "/x".into(),
                    old: old.clone(),
                    new: new.clone(),
                };
                let text = serde_json::to_string(&entry).unwrap();
                assert_eq!(serde_json::from_str::<DiffEntry>(&text).unwrap(), entry, "{text}");
                // And through a `Value`, as a store that keeps JSON documents would.
                let value = serde_json::to_value(&entry).unwrap();
                assert_eq!(serde_json::from_value::<DiffEntry>(value).unwrap(), entry);
            }
        }
    }

    // ---- property: applying the diff to `before` yields `after` ----------

    /// Splits an RFC 6901 pointer into decoded segments.
    fn segments(pointer: &str) -> Vec<String> {
        if pointer.is_empty() {
            return Vec::new();
        }
        assert!(pointer.starts_with('/'), "bad pointer {pointer:?}");
        pointer[1..]
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect()
    }

    fn parent_mut<'a>(root: &'a mut Value, segs: &[String]) -> &'a mut Value {
        let mut node = root;
        for seg in segs {
            node = match node {
                Value::Object(map) => map.get_mut(seg).expect("parent key exists"),
                Value::Array(items) => {
                    let i: usize = seg.parse().expect("array index");
                    items.get_mut(i).expect("parent index exists")
                }
                other => panic!("cannot descend into {other}"),
            };
        }
        node
    }

    /// A strict test-only applier. Entries with a `new` side are applied in
    /// order (array additions then arrive as pushes at exactly `len`);
    /// removals are applied afterwards in reverse order, so removed trailing
    /// array elements go from the last one down, each at exactly `len - 1`.
    /// Every entry's `old` side must match what is being replaced.
    fn apply(before: Option<&Value>, entries: &[DiffEntry], after_is_object: bool) -> Option<Value> {
        let mut doc = before.cloned();
        if doc.is_none() && after_is_object {
            doc = Some(json!({}));
        }
        for e in entries.iter().filter(|e| e.new.is_some()) {
            apply_one(&mut doc, e);
        }
        for e in entries.iter().rev().filter(|e| e.new.is_none()) {
            apply_one(&mut doc, e);
        }
        doc
    }

    fn apply_one(doc: &mut Option<Value>, e: &DiffEntry) {
        let segs = segments(&e.path);
        let Some((last, parents)) = segs.split_last() else {
            assert_eq!(doc.as_ref(), e.old.as_ref(), "old side of whole document");
            *doc = e.new.clone();
            return;
        };
        let root = doc.as_mut().expect("document exists");
        match (parent_mut(root, parents), &e.new) {
            (Value::Object(map), Some(new)) => {
                assert_eq!(map.insert(last.clone(), new.clone()), e.old, "at {}", e.path);
            }
            (Value::Object(map), None) => {
                assert_eq!(map.remove(last), e.old, "at {}", e.path);
            }
            (Value::Array(items), Some(new)) => {
                let i: usize = last.parse().expect("index");
                if i == items.len() {
                    assert_eq!(e.old, None);
                    items.push(new.clone());
                } else {
                    assert_eq!(Some(&items[i]), e.old.as_ref(), "at {}", e.path);
                    items[i] = new.clone();
                }
            }
            (Value::Array(items), None) => {
                let i: usize = last.parse().expect("index");
                assert_eq!(i + 1, items.len(), "removals are trailing, at {}", e.path);
                assert_eq!(items.pop(), e.old);
            }
            (other, _) => panic!("parent of {} is a scalar: {other}", e.path),
        }
    }

    /// Random JSON with small key and value alphabets, so that two
    /// independently generated trees share keys and shapes often enough to
    /// exercise the recursive cases. Keys include `/` and `~`.
    fn json_tree() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..3).prop_map(Value::from),
            prop_oneof![Just(0.5f64), Just(-2.25f64)].prop_map(Value::from),
            "[xy~/]{0,2}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[ab~/]{0,2}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// `before` and an `after` made from it by random local edits, so that
    /// most of the two trees is shared and the differences sit deep inside.
    fn edited_pair() -> impl Strategy<Value = (Value, Value)> {
        (json_tree(), prop::collection::vec(any::<u8>(), 0..32), json_tree()).prop_map(
            |(before, choices, replacement)| {
                let mut after = before.clone();
                let mut choices = choices.into_iter();
                edit(&mut after, &mut choices, &replacement);
                (before, after)
            },
        )
    }

    fn edit(node: &mut Value, choices: &mut impl Iterator<Item = u8>, replacement: &Value) {
        let Some(choice) = choices.next() else { return };
        match (choice % 4, node) {
            (0, node) => *node = replacement.clone(),
            (1, Value::Object(map)) => {
                let key = format!("k{}", choice % 3);
                if map.remove(&key).is_none() {
                    map.insert(key, replacement.clone());
                }
            }
            (1, Value::Array(items)) => {
                if choice % 2 == 0 {
                    items.push(replacement.clone());
                } else {
                    items.pop();
                }
            }
            (_, Value::Object(map)) => {
                for child in map.values_mut() {
                    edit(child, choices, replacement);
                }
            }
            (_, Value::Array(items)) => {
                for child in items {
                    edit(child, choices, replacement);
                }
            }
            _ => {}
        }
    }

    fn assert_diff_applies(before: Option<&Value>, after: Option<&Value>) {
        let entries = diff(before, after);
        let rebuilt = apply(before, &entries, matches!(after, Some(Value::Object(_))));
        match (after, rebuilt.as_ref()) {
            (Some(a), Some(r)) => assert_eq!(a, r),
            (None, None) => {}
            // A deleted object is reported as the removal of each of its keys,
            // which leaves `{}`: the documented "missing side is an empty
            // object" rule.
            (None, Some(Value::Object(map))) if map.is_empty() => {}
            (a, r) => panic!("after {a:?} but rebuilt {r:?}"),
        }
        // The order itself is pinned by unit tests; here, no path repeats.
        let mut paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), entries.len(), "duplicate paths in {entries:?}");
    }

    proptest! {
        #[test]
        fn applying_the_diff_to_before_yields_after(before in json_tree(), after in json_tree()) {
            assert_diff_applies(Some(&before), Some(&after));
        }

        #[test]
        fn applying_the_diff_of_an_edit_yields_the_edited_tree((before, after) in edited_pair()) {
            assert_diff_applies(Some(&before), Some(&after));
        }

        #[test]
        fn applying_the_diff_with_a_missing_side_works(v in json_tree()) {
            assert_diff_applies(None, Some(&v));
            assert_diff_applies(Some(&v), None);
        }

        #[test]
        fn diff_of_a_tree_with_itself_is_empty(v in json_tree()) {
            prop_assert!(diff(Some(&v), Some(&v)).is_empty());
        }

        #[test]
        fn diff_entries_round_trip_through_json((before, after) in edited_pair()) {
            let entries = diff(Some(&before), Some(&after));
            let text = serde_json::to_string(&entries).unwrap();
            prop_assert_eq!(serde_json::from_str::<Vec<DiffEntry>>(&text).unwrap(), entries);
        }
    }
}
