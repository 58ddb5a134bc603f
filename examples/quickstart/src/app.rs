//! The router, the in-memory state and what every handler shares.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use audit_core::{Actor, ActorKind, AuditScope, Auditor};
use audit_store::Store;
use audit_store::http::{AdminApi, SecurityScheme};
use audit_store::stream::StreamerHandle;
use audit_tower::AuditLayer;
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use http::StatusCode;
use http::request::Parts;

use crate::apps::App;
use crate::auth::{self, ACCOUNTS};
use crate::members::Member;
use crate::{Config, apps, login, members};

/// The service's router: the demo API, `/login`, and the admin read side at
/// `/audit-logs`, all behind one [`AuditLayer`] recording to `auditor`.
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so
/// the client address is known; behind `trusted_proxies`, the one header
/// `client_ip_source` names gives it instead.
pub fn router(
    state: AppState,
    auditor: Auditor,
    store: Store,
    config: &Config,
    streams: Option<&StreamerHandle>,
) -> Router {
    // Everything but the sign-in, the audit log's static web page and its
    // OpenAPI document needs a known caller (the page's data comes from the
    // API, which does). The check wraps each route's handlers, not the
    // router, so a method a route does not answer is a 405 before it is a 401.
    let signed_in = middleware::from_fn(require_caller);
    let api = Router::new()
        .route("/apps", post(apps::create).route_layer(signed_in.clone()))
        .route(
            "/apps/{id}",
            get(apps::show)
                .patch(apps::update)
                .delete(apps::delete)
                .route_layer(signed_in.clone()),
        )
        .route("/members", post(members::invite).route_layer(signed_in.clone()))
        .route(
            "/members/{id}/role",
            patch(members::change_role).route_layer(signed_in.clone()),
        )
        .with_state(state.clone());
    let mut admin = AdminApi::new(store).health(auditor.clone());
    if let Some(streams) = streams {
        // `/health` then reports each stream sink's lag and failures.
        admin = admin.streams(streams.clone());
    }
    if let Some(checkpoints) = &config.checkpoints {
        // The proofs the page shows then say their signature was checked.
        admin = admin.verifier_key(checkpoints.key.verifier_key());
    }
    let protected = admin
        .sign_in_url("/login")
        .read_timeout(config.read_timeout)
        .route_layer(signed_in)
        .security(SecurityScheme::bearer())
        .security(SecurityScheme::cookie(auth::SESSION_COOKIE))
        .security(SecurityScheme::api_key_header("X-Api-Key"))
        .nest_into(api, AUDIT_LOGS);
    let public = Router::new()
        .route("/login", get(login::form).post(login::login))
        .route("/login/login.js", get(login::script))
        .route("/login/login.css", get(login::style))
        .with_state(state.clone());
    public.merge(protected).layer(
        AuditLayer::new(auditor)
            .actor(auth::extractor(state))
            .trusted_proxies(config.trusted_proxies.iter().copied())
            .client_ip_source(config.client_ip_source)
            .delivery(config.delivery)
            .record_denied(true),
    )
}

/// Where the admin read side and its web page are nested.
pub const AUDIT_LOGS: &str = "/audit-logs";

/// A 401 for requests the audit layer found no actor for.
async fn require_caller(request: Request, next: Next) -> Response {
    let known = AuditScope::current().is_some_and(|scope| scope.effective_request().actor.kind != ActorKind::Anonymous);
    if known {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

/// The in-memory application: apps and members per tenant, sign-in sessions.
#[derive(Clone, Default)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// tenant → app id → app
    apps: Mutex<HashMap<String, BTreeMap<String, App>>>,
    /// tenant → member id → member
    members: Mutex<HashMap<String, BTreeMap<String, Member>>>,
    /// session token → user id
    sessions: Mutex<HashMap<String, String>>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the session tokens.
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    /// No apps; the demo accounts as members of their tenants.
    pub fn with_demo_data() -> Self {
        let state = Self::default();
        {
            let mut members = lock(&state.inner.members);
            for account in &ACCOUNTS {
                members.entry(account.tenant.to_owned()).or_default().insert(
                    account.user_id.to_owned(),
                    Member {
                        id: account.user_id.to_owned(),
                        email: account.email.to_owned(),
                        role: account.role.to_owned(),
                    },
                );
            }
        }
        state
    }

    pub(crate) fn apps(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<String, App>>> {
        lock(&self.inner.apps)
    }

    pub(crate) fn members(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<String, Member>>> {
        lock(&self.inner.members)
    }

    /// The current role of `user_id` in `tenant`, if a member.
    pub fn role_of(&self, tenant: &str, user_id: &str) -> Option<String> {
        self.members()
            .get(tenant)
            .and_then(|members| members.get(user_id))
            .map(|member| member.role.clone())
    }

    pub(crate) fn start_session(&self, user_id: &str) -> String {
        let token = auth::new_secret();
        lock(&self.inner.sessions).insert(token.clone(), user_id.to_owned());
        token
    }

    pub(crate) fn session_user(&self, token: &str) -> Option<String> {
        lock(&self.inner.sessions).get(token).cloned()
    }
}

/// The authenticated caller of a handler: who, and the tenant they act in.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) actor: Actor,
    pub(crate) tenant: String,
}

impl Caller {
    /// Whether the caller may manage the tenant (invite, change roles).
    pub(crate) fn is_manager(&self) -> bool {
        self.actor.has_role("owner") || self.actor.has_role("admin")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let request = AuditScope::current().ok_or(ApiError::Unauthorized)?.effective_request();
        match (request.actor.kind, request.tenant_id) {
            (ActorKind::Anonymous, _) | (_, None) => Err(ApiError::Unauthorized),
            (_, Some(tenant)) => Ok(Self {
                actor: request.actor,
                tenant,
            }),
        }
    }
}

/// An error answer: `{"error": {"code", "message"}}`. Its `Display` is the
/// reason an audited handler's failed event records.
#[derive(Debug)]
pub(crate) enum ApiError {
    Unauthorized,
    Forbidden(&'static str),
    NotFound(&'static str),
    Conflict(String),
    Invalid(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthorized => f.write_str(
                "sign in first: Authorization: Bearer <token>, the session cookie of POST /login, or X-Api-Key",
            ),
            Self::Forbidden(why) => f.write_str(why),
            Self::NotFound(what) => write!(f, "no such {what}"),
            Self::Conflict(why) | Self::Invalid(why) => f.write_str(why),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = axum::Json(serde_json::json!({"error": {"code": code, "message": self.to_string()}}));
        if status == StatusCode::UNAUTHORIZED {
            (status, [(http::header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
        } else {
            (status, body).into_response()
        }
    }
}

/// A new resource id: `prefix_` and 12 random hex digits (ids are not secrets).
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff)
}
