//! Which tenant a request claims: [`ClaimTenant`] and its built-ins.
//!
//! The tenant of an event is decided in this order:
//! 1. the tenant of the authenticated [`Principal`](crate::Principal), when it
//!    has one — a request cannot talk its way into another tenant;
//! 2. otherwise the tenant the request claims, through the configured
//!    [`ClaimTenant`] (a header, a path segment, a subdomain, your closure);
//! 3. otherwise none.
//!
//! When the principal has a tenant and the request claims a *different* one,
//! the claim is ignored and a `tenant.mismatch` event (severity `warning`,
//! outcome `denied`, both tenants and the claim's source in metadata) is
//! recorded in the principal's tenant.

use std::fmt;

use http::request::Parts;
use http::{HeaderName, header::HOST};

/// Reads the tenant a request claims.
///
/// Implemented for closures `Fn(&http::request::Parts) -> Option<String>`.
pub trait ClaimTenant: Send + Sync + 'static {
    /// The tenant claimed by `request`, if any.
    fn claim_tenant(&self, request: &Parts) -> Option<String>;

    /// Where the claim comes from, for the mismatch event (e.g. `header x-tenant-id`).
    fn describe(&self) -> String {
        "request".to_owned()
    }
}

impl<F> ClaimTenant for F
where
    F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
{
    fn claim_tenant(&self, request: &Parts) -> Option<String> {
        self(request)
    }
}

/// Claims nothing: the tenant comes from the principal only. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct TenantFromPrincipal;

impl ClaimTenant for TenantFromPrincipal {
    fn claim_tenant(&self, _: &Parts) -> Option<String> {
        None
    }
}

/// Claims the tenant named by a header, e.g. `X-Tenant-Id`.
///
/// ```
/// use audit_tower::{ClaimTenant, TenantFromHeader};
/// let claim = TenantFromHeader::new("x-tenant-id");
/// let (parts, ()) = http::Request::builder().header("x-tenant-id", " acme ").body(()).unwrap().into_parts();
/// assert_eq!(claim.claim_tenant(&parts).as_deref(), Some("acme"));
/// ```
#[derive(Debug, Clone)]
pub struct TenantFromHeader(HeaderName);

impl TenantFromHeader {
    /// Claims from `header`.
    ///
    /// # Panics
    /// If `header` is not a valid header name (a programming error).
    pub fn new(header: &str) -> Self {
        Self(HeaderName::try_from(header).unwrap_or_else(|e| panic!("invalid tenant header name {header:?}: {e}")))
    }
}

impl ClaimTenant for TenantFromHeader {
    fn claim_tenant(&self, request: &Parts) -> Option<String> {
        let value = request.headers.get(&self.0)?.to_str().ok()?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    }

    fn describe(&self) -> String {
        format!("header {}", self.0)
    }
}

/// Claims the tenant from a segment of the path: with index 1,
/// `/t/acme/apps` claims `acme`.
///
/// ```
/// use audit_tower::{ClaimTenant, TenantFromPathSegment};
/// let (parts, ()) = http::Request::builder().uri("/t/acme/apps?x=1").body(()).unwrap().into_parts();
/// assert_eq!(TenantFromPathSegment::new(1).claim_tenant(&parts).as_deref(), Some("acme"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TenantFromPathSegment(usize);

impl TenantFromPathSegment {
    /// Claims from the segment at `index` (0 is the first segment after `/`).
    pub fn new(index: usize) -> Self {
        Self(index)
    }
}

impl ClaimTenant for TenantFromPathSegment {
    fn claim_tenant(&self, request: &Parts) -> Option<String> {
        let segment = request.uri.path().trim_start_matches('/').split('/').nth(self.0)?;
        (!segment.is_empty()).then(|| segment.to_owned())
    }

    fn describe(&self) -> String {
        format!("path segment {}", self.0)
    }
}

/// Claims the tenant from the subdomain of a base domain: with base
/// `app.example.com`, host `acme.app.example.com:443` claims `acme`.
///
/// ```
/// use audit_tower::{ClaimTenant, TenantFromSubdomain};
/// let claim = TenantFromSubdomain::new("app.example.com");
/// let (parts, ()) = http::Request::builder().header("host", "Acme.App.Example.com:8443").body(()).unwrap().into_parts();
/// assert_eq!(claim.claim_tenant(&parts).as_deref(), Some("acme"));
/// let (bare, ()) = http::Request::builder().header("host", "app.example.com").body(()).unwrap().into_parts();
/// assert_eq!(claim.claim_tenant(&bare), None);
/// ```
#[derive(Clone)]
pub struct TenantFromSubdomain {
    suffix: String,
}

impl fmt::Debug for TenantFromSubdomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TenantFromSubdomain")
            .field(&self.suffix.trim_start_matches('.'))
            .finish()
    }
}

impl TenantFromSubdomain {
    /// Claims the label directly left of `base_domain`.
    pub fn new(base_domain: &str) -> Self {
        Self {
            suffix: format!(".{}", base_domain.trim_matches('.').to_ascii_lowercase()),
        }
    }
}

impl ClaimTenant for TenantFromSubdomain {
    fn claim_tenant(&self, request: &Parts) -> Option<String> {
        let host = request.uri.host().map(str::to_owned).or_else(|| {
            let header = request.headers.get(HOST)?.to_str().ok()?;
            // Strip a port, but not the colons of a bracketed IPv6 literal.
            Some(match header.rsplit_once(':') {
                Some((host, port)) if !host.ends_with(']') || port.bytes().all(|b| b.is_ascii_digit()) => {
                    host.to_owned()
                }
                _ => header.to_owned(),
            })
        })?;
        let host = host.to_ascii_lowercase();
        let label = host.strip_suffix(&self.suffix)?.rsplit('.').next()?;
        (!label.is_empty()).then(|| label.to_owned())
    }

    fn describe(&self) -> String {
        format!("subdomain of {}", self.suffix.trim_start_matches('.'))
    }
}
