//! Demo authentication: who a request comes from.
//!
//! | credential | actor | tenant | role |
//! |---|---|---|---|
//! | `Authorization: Bearer acme-owner` | user `user_alice`, alice@acme.test | `acme` | `owner` |
//! | `Authorization: Bearer acme-member` | user `user_bob`, bob@acme.test | `acme` | `member` |
//! | `Authorization: Bearer globex-admin` | user `user_carol`, carol@globex.test | `globex` | `admin` |
//! | `X-Api-Key: acme-ci-key` | api_key `key_acme_ci` (the key itself is never recorded) | `acme` | `admin` |
//! | `Authorization: Bearer platform-auditor` | user `user_dana`, dana@platform.test | none | platform role `auditor` |
//! | the token of `POST /login`, as a bearer token or the `quickstart_session` cookie | the account signed in | its tenant | its role |
//!
//! A user's role is read from the tenant's member list on every request, so
//! a role change takes effect at once. The audit layer runs
//! [`extractor`] on every request; routes other than `/login` answer 401
//! when it finds nobody.

use audit_core::Actor;
use audit_tower::{ApiKeyActor, ExtractActor, Principal};
use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};
use http::request::Parts;

use crate::app::AppState;

/// The name of the session cookie set by `POST /login`.
pub const SESSION_COOKIE: &str = "quickstart_session";

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "demo-password";

/// A demo user account.
#[derive(Debug, Clone, Copy)]
pub struct Account {
    /// The user id (also its member id in its tenant).
    pub user_id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Sign-in email.
    pub email: &'static str,
    /// The tenant it belongs to.
    pub tenant: &'static str,
    /// Its initial role there.
    pub role: &'static str,
    /// A fixed bearer token for trying the API with curl.
    pub demo_token: &'static str,
}

/// The demo accounts.
pub const ACCOUNTS: [Account; 3] = [
    Account {
        user_id: "user_alice",
        name: "Alice",
        email: "alice@acme.test",
        tenant: "acme",
        role: "owner",
        demo_token: "acme-owner",
    },
    Account {
        user_id: "user_bob",
        name: "Bob",
        email: "bob@acme.test",
        tenant: "acme",
        role: "member",
        demo_token: "acme-member",
    },
    Account {
        user_id: "user_carol",
        name: "Carol",
        email: "carol@globex.test",
        tenant: "globex",
        role: "admin",
        demo_token: "globex-admin",
    },
];

/// The bearer token of the platform's auditor (Dana): no tenant, the
/// platform role `auditor`, so she reads every tenant's events and the
/// pipeline's health (`GET /audit-logs/health`).
pub const PLATFORM_AUDITOR_TOKEN: &str = "platform-auditor";

/// The demo API key (sent as `X-Api-Key`).
pub const DEMO_API_KEY: &str = "acme-ci-key";

/// The account signing in with `email` (case-insensitive), if any.
pub fn account_by_email(email: &str) -> Option<&'static Account> {
    let email = email.trim();
    ACCOUNTS.iter().find(|a| a.email.eq_ignore_ascii_case(email))
}

fn account_by_id(user_id: &str) -> Option<&'static Account> {
    ACCOUNTS.iter().find(|a| a.user_id == user_id)
}

/// The principal of `account`, with its current role in its tenant.
pub fn principal_of(state: &AppState, account: &Account) -> Principal {
    let mut actor = Actor::user(account.user_id)
        .with_name(account.name)
        .with_email(account.email);
    if let Some(role) = state.role_of(account.tenant, account.user_id) {
        actor = actor.with_role(role);
    }
    Principal::new(actor).in_tenant(account.tenant)
}

/// The CI key's principal: the lookup behind `ApiKeyActor`.
fn api_key(secret: &str) -> Option<Principal> {
    constant_time_eq(secret.as_bytes(), DEMO_API_KEY.as_bytes()).then(|| {
        Principal::new(Actor::api_key("key_acme_ci").with_name("Acme CI").with_role("admin")).in_tenant("acme")
    })
}

/// The platform auditor's principal: in no tenant.
fn platform_auditor() -> Principal {
    Principal::new(
        Actor::user("user_dana")
            .with_name("Dana")
            .with_email("dana@platform.test")
            .with_role("auditor"),
    )
}

/// Bearer tokens (demo or session) and the session cookie.
#[derive(Debug, Clone)]
pub struct BearerOrSession {
    state: AppState,
}

impl ExtractActor for BearerOrSession {
    fn extract_actor(&self, request: &Parts) -> Option<Principal> {
        // A bearer token, when given, is the only credential looked at.
        let token = match request.headers.get(AUTHORIZATION) {
            Some(value) => bearer_token(value.to_str().ok()?)?,
            None => session_cookie(&request.headers)?,
        };
        if constant_time_eq(token.as_bytes(), PLATFORM_AUDITOR_TOKEN.as_bytes()) {
            return Some(platform_auditor());
        }
        let account = match ACCOUNTS
            .iter()
            .find(|a| constant_time_eq(a.demo_token.as_bytes(), token.as_bytes()))
        {
            Some(account) => account,
            None => account_by_id(&self.state.session_user(token)?)?,
        };
        Some(principal_of(&self.state, account))
    }
}

/// The audit layer's actor extractor: the API key header first, then a
/// bearer token or the session cookie.
pub fn extractor(state: AppState) -> impl ExtractActor {
    ApiKeyActor::new("x-api-key", api_key).or(BearerOrSession { state })
}

fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of the session cookie, if sent.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then_some(value)
        })
}

/// A fresh 256-bit secret, hex-encoded (session tokens).
///
/// # Panics
/// When the operating system has no random source.
pub(crate) fn new_secret() -> String {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so the response time says nothing about
/// how much of a secret was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}
