//! Tower and axum middleware for `audit-core`.
//!
//! This crate will hold `AuditLayer`, which captures the actor, tenant,
//! client IP (with trusted proxies), user agent and request id of every
//! request and runs the handler inside an [`audit_core::AuditScope`].
//! It is not written yet; see the project README for the roadmap.
