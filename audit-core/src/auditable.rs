//! [`Auditable`]: resources that name themselves as the target of an event.

use std::sync::Arc;

use serde_json::Value;

use crate::event::Target;
use crate::state::AuditState;

/// A resource that audit events can be about: it names itself as a
/// [`Target`] (`{type, id, name}`) and describes its own state (through its
/// [`AuditState`] supertrait, with the fields it marks masked or left out).
///
/// Derive it with `#[derive(Auditable)]` (the derive macro has the same name
/// and is re-exported next to the trait, as serde does with `Serialize`):
///
/// ```
/// use audit_core::{AuditState, Auditable, REDACTED, Target};
/// use serde_json::json;
///
/// #[derive(Auditable)]
/// #[audit(target = "app")]
/// struct App {
///     #[audit(id)]
///     id: u64,
///     #[audit(name)]
///     name: String,
///     #[audit(redact)]
///     webhook_secret: String,
///     #[audit(skip)]
///     cached_logo: Vec<u8>,
///     plan: &'static str,
/// }
///
/// let app = App { id: 42, name: "Billing".into(), webhook_secret: "whsec_1".into(), cached_logo: vec![0; 64], plan: "pro" };
/// assert_eq!(app.audit_target_ref(), Target::new("app", "42").with_name("Billing"));
/// assert_eq!(
///     app.audit_state(),
///     json!({"id": 42, "name": "Billing", "webhook_secret": REDACTED, "plan": "pro"}),
/// );
/// // `before`/`after` take the target from the resource when none is set.
/// assert_eq!(app.audit_target(), Some(app.audit_target_ref()));
/// ```
///
/// Or implement it by hand, for types the derive does not cover (enums,
/// tuple structs) or ids that are computed:
///
/// ```
/// use audit_core::{AuditState, Auditable, Target};
/// use serde_json::{Value, json};
///
/// enum Principal { User(String), Service(&'static str) }
///
/// impl AuditState for Principal {
///     fn audit_state(&self) -> Value {
///         json!({"kind": self.audit_target_type(), "id": self.audit_id()})
///     }
///     fn audit_target(&self) -> Option<Target> {
///         Some(self.audit_target_ref())
///     }
/// }
///
/// impl Auditable for Principal {
///     fn audit_target_type(&self) -> &'static str {
///         match self { Principal::User(_) => "user", Principal::Service(_) => "service" }
///     }
///     fn audit_id(&self) -> String {
///         match self { Principal::User(id) => id.clone(), Principal::Service(name) => (*name).to_owned() }
///     }
/// }
///
/// assert_eq!(Principal::Service("billing").audit_target_ref(), Target::new("service", "billing"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not `Auditable`, so it cannot name the target of an audit event",
    label = "not an auditable resource",
    note = "derive it with `#[derive(audit_core::Auditable)]` and mark its id field `#[audit(id)]`",
    note = "or name the target by hand: `target = \"<type>\", target_id = <expr>`"
)]
pub trait Auditable: AuditState {
    /// The resource type as it appears in `target.type`: `app`, `api_key`.
    fn audit_target_type(&self) -> &'static str;

    /// The resource's id as it appears in `target.id`.
    fn audit_id(&self) -> String;

    /// A display name for `target.name`, if the resource has one.
    fn audit_name(&self) -> Option<String> {
        None
    }

    /// The resource as an event target: type, id and name.
    fn audit_target_ref(&self) -> Target {
        let target = Target::new(self.audit_target_type(), self.audit_id());
        match self.audit_name() {
            Some(name) => target.with_name(name),
            None => target,
        }
    }
}

impl<T: Auditable + ?Sized> Auditable for &T {
    fn audit_target_type(&self) -> &'static str {
        (**self).audit_target_type()
    }
    fn audit_id(&self) -> String {
        (**self).audit_id()
    }
    fn audit_name(&self) -> Option<String> {
        (**self).audit_name()
    }
    fn audit_target_ref(&self) -> Target {
        (**self).audit_target_ref()
    }
}

impl<T: Auditable + ?Sized> Auditable for &mut T {
    fn audit_target_type(&self) -> &'static str {
        (**self).audit_target_type()
    }
    fn audit_id(&self) -> String {
        (**self).audit_id()
    }
    fn audit_name(&self) -> Option<String> {
        (**self).audit_name()
    }
    fn audit_target_ref(&self) -> Target {
        (**self).audit_target_ref()
    }
}

impl<T: Auditable + ?Sized> Auditable for Box<T> {
    fn audit_target_type(&self) -> &'static str {
        (**self).audit_target_type()
    }
    fn audit_id(&self) -> String {
        (**self).audit_id()
    }
    fn audit_name(&self) -> Option<String> {
        (**self).audit_name()
    }
    fn audit_target_ref(&self) -> Target {
        (**self).audit_target_ref()
    }
}

impl<T: Auditable + ?Sized> Auditable for Arc<T> {
    fn audit_target_type(&self) -> &'static str {
        (**self).audit_target_type()
    }
    fn audit_id(&self) -> String {
        (**self).audit_id()
    }
    fn audit_name(&self) -> Option<String> {
        (**self).audit_name()
    }
    fn audit_target_ref(&self) -> Target {
        (**self).audit_target_ref()
    }
}

// `AuditState` for `&T` and `Box<T>` is in state.rs; these let a resource
// behind `&mut` or an `Arc` (as shared state often is) describe itself too.
macro_rules! forward_state {
    ($($pointer:ty),+) => {$(
        impl<T: AuditState + ?Sized> AuditState for $pointer {
            fn audit_state(&self) -> Value {
                (**self).audit_state()
            }
            fn audit_target(&self) -> Option<Target> {
                (**self).audit_target()
            }
        }
    )+};
}

forward_state!(&mut T, Arc<T>);
