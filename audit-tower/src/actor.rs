//! Who is acting: [`ExtractActor`] and its built-ins.

use std::fmt;

use audit_core::Actor;
use http::HeaderName;
use http::request::Parts;

/// An authenticated actor and the tenant it belongs to, if any.
///
/// Your authentication middleware inserts one into the request extensions
/// (the common case, read by [`ActorFromExtension`]), or an [`ExtractActor`]
/// builds one from the request.
///
/// ```
/// use audit_core::Actor;
/// use audit_tower::Principal;
/// let alice = Principal::new(Actor::user("user_alice").with_role("owner")).in_tenant("acme");
/// assert_eq!(alice.tenant_id.as_deref(), Some("acme"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who.
    pub actor: Actor,
    /// The tenant the actor belongs to; it wins over any tenant the request claims.
    pub tenant_id: Option<String>,
}

impl Principal {
    /// An actor that belongs to no tenant (yet).
    pub fn new(actor: Actor) -> Self {
        Self { actor, tenant_id: None }
    }

    /// Sets the tenant the actor belongs to.
    #[must_use]
    pub fn in_tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }
}

impl From<Actor> for Principal {
    fn from(actor: Actor) -> Self {
        Self::new(actor)
    }
}

/// Finds the actor of a request. `None` means nobody authenticated; the
/// event's actor is then `anonymous`.
///
/// Implemented for closures `Fn(&http::request::Parts) -> Option<Principal>`.
///
/// ```
/// use audit_core::Actor;
/// use audit_tower::{ExtractActor, Principal};
///
/// let from_header = |parts: &http::request::Parts| {
///     let user = parts.headers.get("x-user")?.to_str().ok()?;
///     Some(Principal::new(Actor::user(user)))
/// };
/// let (parts, ()) = http::Request::builder().header("x-user", "u1").body(()).unwrap().into_parts();
/// assert_eq!(from_header.extract_actor(&parts).unwrap().actor.id, "u1");
/// ```
pub trait ExtractActor: Send + Sync + 'static {
    /// The actor of `request`, if authenticated.
    fn extract_actor(&self, request: &Parts) -> Option<Principal>;

    /// Tries `self`, then `fallback`.
    fn or<B: ExtractActor>(self, fallback: B) -> FirstActor<Self, B>
    where
        Self: Sized,
    {
        FirstActor { first: self, fallback }
    }
}

impl<F> ExtractActor for F
where
    F: Fn(&Parts) -> Option<Principal> + Send + Sync + 'static,
{
    fn extract_actor(&self, request: &Parts) -> Option<Principal> {
        self(request)
    }
}

/// Reads the [`Principal`] (or a bare [`Actor`]) that your authentication
/// middleware inserted into the request extensions. The default.
///
/// Put that middleware *outside* (before) the audit layer, so the extension
/// is there when the layer looks. Authentication that runs *inside* the
/// layer (so that its 401s are audited) calls [`audit_core::identify`]
/// instead once it knows who is calling.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActorFromExtension;

impl ExtractActor for ActorFromExtension {
    fn extract_actor(&self, request: &Parts) -> Option<Principal> {
        request
            .extensions
            .get::<Principal>()
            .cloned()
            .or_else(|| request.extensions.get::<Actor>().cloned().map(Principal::new))
    }
}

/// Maps an API key header to an `api_key` actor through a lookup you supply.
///
/// The lookup receives the secret and returns the key's [`Principal`], whose
/// actor must carry the key's *public* id (`Actor::api_key("key_acme_ci")`):
/// the secret itself is never recorded anywhere.
///
/// ```
/// use audit_core::{Actor, ActorKind};
/// use audit_tower::{ApiKeyActor, ExtractActor, Principal};
///
/// let keys = ApiKeyActor::new("x-api-key", |secret: &str| {
///     (secret == "acme-ci-key").then(|| Principal::new(Actor::api_key("key_acme_ci").with_role("admin")).in_tenant("acme"))
/// });
/// let (parts, ()) = http::Request::builder().header("x-api-key", "acme-ci-key").body(()).unwrap().into_parts();
/// let principal = keys.extract_actor(&parts).unwrap();
/// assert_eq!(principal.actor.kind, ActorKind::ApiKey);
/// assert_eq!(principal.actor.id, "key_acme_ci");
/// ```
pub struct ApiKeyActor<F> {
    header: HeaderName,
    lookup: F,
}

impl<F> ApiKeyActor<F>
where
    F: Fn(&str) -> Option<Principal> + Send + Sync + 'static,
{
    /// Reads the key from `header` and resolves it with `lookup`.
    ///
    /// # Panics
    /// If `header` is not a valid header name (a programming error).
    pub fn new(header: &str, lookup: F) -> Self {
        let header =
            HeaderName::try_from(header).unwrap_or_else(|e| panic!("invalid API key header name {header:?}: {e}"));
        Self { header, lookup }
    }
}

impl<F> fmt::Debug for ApiKeyActor<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyActor")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl<F> ExtractActor for ApiKeyActor<F>
where
    F: Fn(&str) -> Option<Principal> + Send + Sync + 'static,
{
    fn extract_actor(&self, request: &Parts) -> Option<Principal> {
        let secret = request.headers.get(&self.header)?.to_str().ok()?;
        (self.lookup)(secret.trim())
    }
}

/// Two extractors tried in order; see [`ExtractActor::or`].
#[derive(Debug, Clone, Copy)]
pub struct FirstActor<A, B> {
    first: A,
    fallback: B,
}

impl<A: ExtractActor, B: ExtractActor> ExtractActor for FirstActor<A, B> {
    fn extract_actor(&self, request: &Parts) -> Option<Principal> {
        self.first
            .extract_actor(request)
            .or_else(|| self.fallback.extract_actor(request))
    }
}
