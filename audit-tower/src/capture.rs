//! What the layer reads from a request before the handler runs.

use std::net::SocketAddr;

use audit_core::{Action, Actor, Event, EventBuilder, EventContext, Outcome, RequestContext, Severity, decode_lossy};
use axum::extract::MatchedPath;
use axum::extract::connect_info::{ConnectInfo, MockConnectInfo};
use http::HeaderValue;
use http::header::USER_AGENT;
use http::request::Parts;

use crate::actor::ExtractActor;
use crate::client_ip::resolve_client_ip;
use crate::config::Config;
use crate::request_id;
use crate::tenant::ClaimTenant;
use crate::trace_context;

/// The audit view of one request.
pub(crate) struct Capture {
    pub(crate) request: RequestContext,
    pub(crate) request_id: HeaderValue,
    /// Events known before the handler runs (a tenant mismatch).
    #[expect(clippy::vec_box, reason = "boxed as the auditor's queue takes them")]
    pub(crate) early_events: Vec<Box<EventBuilder>>,
}

pub(crate) fn capture<A: ExtractActor, T: ClaimTenant>(
    parts: &mut Parts,
    config: &Config,
    actor: &A,
    tenant: &T,
) -> Capture {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .or_else(|| {
            parts
                .extensions
                .get::<MockConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip())
        });
    let resolved =
        peer.map(|peer| resolve_client_ip(peer, &parts.headers, &config.trusted_proxies, config.client_ip_source));

    let (user_agent, lossy_utf8) = match parts.headers.get(USER_AGENT) {
        Some(value) => {
            let (text, lossy) = decode_lossy(value.as_bytes());
            (Some(text.into_owned()), lossy)
        }
        None => (None, false),
    };

    // The client's id is kept only beside ours: a caller can send any id,
    // including one seen on another tenant's events, so it never becomes
    // the id that links events to a request.
    let client_request_id = parts
        .headers
        .get(&config.request_id_header)
        .filter(|value| request_id::is_well_formed(value))
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let trace = trace_context::trace_parent(&parts.headers);
    let request_id = request_id::generate();
    // Downstream code and logs see the same id as the audit trail.
    parts
        .headers
        .insert(config.request_id_header.clone(), request_id.clone());

    let context = EventContext {
        client_ip: resolved.map(|r| r.client_ip),
        peer_ip: resolved.map(|r| r.peer_ip),
        ip_source: resolved.map(|r| r.source),
        user_agent,
        request_id: request_id.to_str().ok().map(str::to_owned),
        client_request_id,
        method: Some(parts.method.as_str().to_owned()),
        route: parts
            .extensions
            .get::<MatchedPath>()
            .map(|path| path.as_str().to_owned()),
        status: None,
        span_id: trace.as_ref().map(|trace| trace.parent_id.clone()),
        trace_id: trace.map(|trace| trace.trace_id),
    };

    let principal = actor.extract_actor(parts);
    let claimed = tenant.claim_tenant(parts);
    let mut early_events = Vec::new();
    let (actor, tenant_id) = match principal {
        Some(principal) => {
            if let (Some(own), Some(claimed)) = (&principal.tenant_id, &claimed)
                && own != claimed
            {
                early_events.push(Box::new(tenant_mismatch(&principal.actor, own, claimed, tenant)));
            }
            let tenant_id = principal.tenant_id.or(claimed);
            (principal.actor, tenant_id)
        }
        None => (Actor::anonymous(), claimed),
    };

    Capture {
        // Built in place: the builder methods would move the ~270 bytes twice.
        request: RequestContext {
            actor,
            tenant_id,
            context,
            lossy_utf8,
        },
        request_id,
        early_events,
    }
}

fn tenant_mismatch<T: ClaimTenant>(actor: &Actor, own: &str, claimed: &str, tenant: &T) -> EventBuilder {
    let action = Action::from_static("tenant.mismatch").unwrap_or_else(|e| unreachable!("{e}"));
    Event::builder(action, actor.clone())
        .tenant(own)
        .severity(Severity::Warning)
        .outcome(Outcome::Denied)
        .reason(format!(
            "the request claimed tenant `{claimed}` but the actor belongs to `{own}`; the claim was ignored"
        ))
        .metadata("claimed_tenant", claimed)
        .metadata("actor_tenant", own)
        .metadata("claim_source", &tenant.describe())
}
