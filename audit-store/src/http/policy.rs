//! Who may read which tenant's audit log.

use audit_core::Actor;

/// The reader of an admin API request: the actor the audit layer identified
/// and the tenant it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    /// Who is asking (roles included).
    pub actor: &'a Actor,
    /// The tenant the actor belongs to, if any.
    pub tenant_id: Option<&'a str>,
}

/// What a reader may see.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadScope {
    /// One tenant's events; a `tenant_id` parameter naming another is refused.
    Tenant(String),
    /// Every tenant's events (and the global stream); `tenant_id` narrows.
    AllTenants,
}

/// Why a reader was refused, shown to them in the 403 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Decides what a reader may see: the admin API's access hook.
///
/// Implemented for closures, so a custom rule is one line:
///
/// ```
/// use audit_core::Actor;
/// use audit_store::http::{ReadPolicy, ReadScope, Reader, Refusal};
///
/// let staff_only = |reader: &Reader<'_>| -> Result<ReadScope, Refusal> {
///     if reader.actor.roles.iter().any(|r| r == "staff") {
///         Ok(ReadScope::AllTenants)
///     } else {
///         Err(Refusal("only staff read audit logs".into()))
///     }
/// };
/// let staff = Actor::user("u1").with_role("staff");
/// assert_eq!(staff_only.decide(&Reader { actor: &staff, tenant_id: None }), Ok(ReadScope::AllTenants));
/// assert!(staff_only.decide(&Reader { actor: &Actor::user("u2"), tenant_id: None }).is_err());
/// ```
pub trait ReadPolicy: Send + Sync + 'static {
    /// What `reader` may see, or why not.
    ///
    /// # Errors
    /// A [`Refusal`] whose message says what would be needed.
    fn decide(&self, reader: &Reader<'_>) -> Result<ReadScope, Refusal>;
}

impl<F> ReadPolicy for F
where
    F: Fn(&Reader<'_>) -> Result<ReadScope, Refusal> + Send + Sync + 'static,
{
    fn decide(&self, reader: &Reader<'_>) -> Result<ReadScope, Refusal> {
        self(reader)
    }
}

/// The default policy: the platform role `auditor` reads every tenant; the
/// roles `owner` and `admin` read their own tenant; nobody else reads.
///
/// ```
/// use audit_core::Actor;
/// use audit_store::http::{DefaultPolicy, ReadPolicy, ReadScope, Reader};
///
/// let admin = Actor::user("u1").with_role("admin");
/// let reader = Reader { actor: &admin, tenant_id: Some("acme") };
/// assert_eq!(DefaultPolicy.decide(&reader), Ok(ReadScope::Tenant("acme".into())));
/// let auditor = Actor::user("u2").with_role("auditor");
/// let reader = Reader { actor: &auditor, tenant_id: None };
/// assert_eq!(DefaultPolicy.decide(&reader), Ok(ReadScope::AllTenants));
/// let member = Actor::user("u3").with_role("member");
/// let refusal = DefaultPolicy.decide(&Reader { actor: &member, tenant_id: Some("acme") }).unwrap_err();
/// assert!(refusal.0.contains("`owner` or `admin`"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultPolicy;

impl ReadPolicy for DefaultPolicy {
    fn decide(&self, reader: &Reader<'_>) -> Result<ReadScope, Refusal> {
        let has = |role: &str| reader.actor.roles.iter().any(|r| r == role);
        if has("auditor") {
            return Ok(ReadScope::AllTenants);
        }
        match reader.tenant_id {
            Some(tenant) if has("owner") || has("admin") => Ok(ReadScope::Tenant(tenant.to_owned())),
            Some(_) => Err(Refusal(
                "reading the audit log needs the role `owner` or `admin` in your tenant (or the platform role `auditor`)"
                    .into(),
            )),
            None => Err(Refusal(
                "reading the audit log needs the role `owner` or `admin` in a tenant, or the platform role `auditor`"
                    .into(),
            )),
        }
    }
}
