#![doc = include_str!("../README.md")]

mod actor;
mod capture;
mod client_ip;
mod config;
mod denied;
mod extract;
mod finalize;
mod future;
mod layer;
mod request_id;
mod service;
mod tenant;
mod trace_context;
mod unavailable;

pub use actor::{ActorFromExtension, ApiKeyActor, ExtractActor, FirstActor, Principal};
pub use client_ip::{ClientIpSource, ResolvedIp, TrustedProxies, resolve_client_ip};
pub use config::Delivery;
pub use denied::DeniedLimit;
pub use extract::{AuditContext, MissingAuditContext, MockAuditContext};
pub use future::ResponseFuture;
pub use layer::AuditLayer;
pub use service::AuditService;
pub use tenant::{ClaimTenant, TenantFromHeader, TenantFromPathSegment, TenantFromPrincipal, TenantFromSubdomain};
