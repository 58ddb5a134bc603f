//! [`AuditState`]: what `before` and `after` accept.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::Target;

/// A value that can be recorded as the before or after state of a change.
///
/// Implemented for JSON values, strings, numbers, booleans, options,
/// sequences and string-keyed maps of such values; `#[derive(Auditable)]`
/// implements it for resource types, which then also name the target and mask
/// the fields they mark. Any other `Serialize` value is recorded through
/// [`Snapshot`].
///
/// There is deliberately no blanket implementation for every `Serialize`
/// type: resource types usually derive `Serialize` for their API responses
/// too, and a blanket implementation would stop them from describing
/// themselves (target, masked fields) to the audit trail.
///
/// ```
/// use audit_core::{AuditState, Snapshot};
/// use serde_json::json;
///
/// #[derive(serde::Serialize)]
/// struct Plan { seats: u32 }
///
/// assert_eq!(json!({"seats": 5}).audit_state(), json!({"seats": 5}));
/// assert_eq!(Snapshot(&Plan { seats: 5 }).audit_state(), json!({"seats": 5}));
/// assert_eq!(Some("admin").audit_state(), json!("admin"));
/// ```
pub trait AuditState {
    /// The state as JSON, with fields the type marks masked or left out.
    fn audit_state(&self) -> Value;

    /// The resource this state belongs to, if the type knows (resources do).
    fn audit_target(&self) -> Option<Target> {
        None
    }

    /// The state's fields that are personal data (`#[audit(personal)]` on a
    /// derived resource): a store that seals personal data seals them in
    /// `before`, `after` and the diff. None by default.
    fn audit_personal_fields(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Records any `Serialize` value as state: `audit_core::before(&Snapshot(&plan))`.
///
/// A value that cannot be serialised is recorded as the string
/// `"[UNSERIALIZABLE: <error>]"` rather than failing the operation.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a, T: ?Sized>(pub &'a T);

pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|e| Value::String(format!("[UNSERIALIZABLE: {e}]")))
}

impl<T: Serialize + ?Sized> AuditState for Snapshot<'_, T> {
    fn audit_state(&self) -> Value {
        to_json(self.0)
    }
}

impl<T: AuditState + ?Sized> AuditState for &T {
    fn audit_state(&self) -> Value {
        (**self).audit_state()
    }
    fn audit_target(&self) -> Option<Target> {
        (**self).audit_target()
    }
    fn audit_personal_fields(&self) -> &'static [&'static str] {
        (**self).audit_personal_fields()
    }
}

impl<T: AuditState + ?Sized> AuditState for Box<T> {
    fn audit_state(&self) -> Value {
        (**self).audit_state()
    }
    fn audit_target(&self) -> Option<Target> {
        (**self).audit_target()
    }
    fn audit_personal_fields(&self) -> &'static [&'static str] {
        (**self).audit_personal_fields()
    }
}

macro_rules! via_serde {
    ($($ty:ty),+ $(,)?) => {$(
        impl AuditState for $ty {
            fn audit_state(&self) -> Value {
                to_json(self)
            }
        }
    )+};
}

via_serde!(
    str, String, bool, char, i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64
);

// JSON is already JSON: a clone, not a trip through serde.
impl AuditState for Value {
    fn audit_state(&self) -> Value {
        self.clone()
    }
}

impl AuditState for Map<String, Value> {
    fn audit_state(&self) -> Value {
        Value::Object(self.clone())
    }
}

impl<T: AuditState> AuditState for Option<T> {
    fn audit_state(&self) -> Value {
        self.as_ref().map_or(Value::Null, AuditState::audit_state)
    }
}

impl<T: AuditState> AuditState for [T] {
    fn audit_state(&self) -> Value {
        Value::Array(self.iter().map(AuditState::audit_state).collect())
    }
}

impl<T: AuditState> AuditState for Vec<T> {
    fn audit_state(&self) -> Value {
        self.as_slice().audit_state()
    }
}

impl<K: AsRef<str>, T: AuditState> AuditState for BTreeMap<K, T> {
    fn audit_state(&self) -> Value {
        Value::Object(
            self.iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.audit_state()))
                .collect(),
        )
    }
}

impl<K: AsRef<str>, T: AuditState, S> AuditState for HashMap<K, T, S> {
    fn audit_state(&self) -> Value {
        Value::Object(
            self.iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.audit_state()))
                .collect(),
        )
    }
}
