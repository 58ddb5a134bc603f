//! `/login`: sign in with email and password, for a token and a session cookie.
//!
//! Every attempt is an `auth.login` event in the tenant of the account whose
//! email was given, so that tenant's admins see failed attempts on their
//! accounts; an unknown email has no tenant. The password is never recorded,
//! logged or printed: the form type's `Debug` hides it and no event field
//! reads it.

use std::fmt;

use audit_core as audit;
use audit_core::{Outcome, Severity, Target, audited};
use audit_tower::AuditContext;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{self, DEMO_PASSWORD, SESSION_COOKIE};

/// How long a session cookie lives, in seconds (8 hours).
const SESSION_MAX_AGE: u32 = 8 * 3600;

#[derive(Deserialize)]
pub(crate) struct Credentials {
    email: String,
    password: String,
    /// Where the browser wants to go after signing in (the form passes on
    /// its own `?next=`); answered only when [`safe_next`] accepts it.
    #[serde(default)]
    next: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &audit_core::REDACTED)
            .field("next", &self.next)
            .finish()
    }
}

/// `next` when it is a path on this site: it starts with exactly one `/`
/// and holds no backslash or control character, so no browser reads it as
/// another host (`//evil.test`, `/\evil.test`) or a scheme
/// (`https://…`, `javascript:…`). Anything else is refused: the sign-in
/// must not become an open redirect.
///
/// ```
/// use quickstart::login::safe_next;
///
/// assert_eq!(safe_next("/audit-logs/ui?action=app.created"), Some("/audit-logs/ui?action=app.created"));
/// for refused in ["//evil.test", "https://evil.test/", "/\\evil.test", "javascript:alert(1)", "audit-logs", "", "/\tx"] {
///     assert_eq!(safe_next(refused), None, "{refused}");
/// }
/// ```
pub fn safe_next(next: &str) -> Option<&str> {
    let mut chars = next.chars();
    let ok = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !next.chars().any(|c| c == '\\' || c.is_control())
        && next.len() <= 2048;
    ok.then_some(next)
}

/// Why a sign-in failed; deliberately the same words for an unknown email
/// and a wrong password.
#[derive(Debug)]
struct InvalidCredentials;

impl fmt::Display for InvalidCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid email or password")
    }
}

/// `POST /login {"email","password","next"?}`: 200 `{"token","next"}` and a
/// session cookie, or 401. `next` is given back only when [`safe_next`]
/// accepts it, else `null`.
pub(crate) async fn login(
    State(state): State<AppState>,
    audit: AuditContext,
    Json(credentials): Json<Credentials>,
) -> Response {
    let account = auth::account_by_email(&credentials.email);
    let tenant = account.map(|account| account.tenant);
    match sign_in(&state, &audit, tenant, credentials.email.trim(), &credentials).await {
        Ok(token) => {
            let cookie =
                format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_MAX_AGE}");
            let next = credentials.next.as_deref().and_then(safe_next);
            (
                [(SET_COOKIE, cookie)],
                Json(serde_json::json!({ "token": token, "next": next })),
            )
                .into_response()
        }
        Err(InvalidCredentials) => {
            let message = InvalidCredentials.to_string();
            (
                StatusCode::UNAUTHORIZED,
                Json(serde_json::json!({"error": {"code": "invalid_credentials", "message": message}})),
            )
                .into_response()
        }
    }
}

/// The audited sign-in. `email` is recorded as metadata; `credentials` has
/// no audit view, so nothing of it is.
#[audited(action = "auth.login", tenant = tenant, skip(credentials))]
async fn sign_in(
    state: &AppState,
    audit: &AuditContext,
    tenant: Option<&str>,
    email: &str,
    credentials: &Credentials,
) -> Result<String, InvalidCredentials> {
    let account = auth::account_by_email(email);
    if let Some(account) = account {
        audit::target(Target::new("user", account.user_id).with_name(account.email));
    }
    let password_ok = constant_time_eq(credentials.password.as_bytes(), DEMO_PASSWORD.as_bytes());
    match account {
        Some(account) if password_ok => {
            audit.identify(auth::principal_of(state, account));
            audit::description(format!("{} signed in", account.email));
            Ok(state.start_session(account.user_id))
        }
        _ => {
            // Explicit: a 401 would otherwise make a returned error `denied`.
            audit::outcome(Outcome::Failure);
            audit::reason(InvalidCredentials.to_string());
            audit::description(format!("Failed sign-in as {email}"));
            if let Some(draft) = audit_core::Draft::current() {
                draft.update(|event| event.severity(Severity::Warning));
            }
            Err(InvalidCredentials)
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /login[?next=/path]`: a minimal sign-in form. It posts JSON; the
/// response sets the session cookie, with which the browser can then open
/// `/audit-logs/ui`, and names the `next` path the form then goes to.
pub(crate) async fn form() -> Response {
    page_file("text/html; charset=utf-8", LOGIN_HTML)
}

/// `GET /login/login.js`: the form's script.
pub(crate) async fn script() -> Response {
    page_file("text/javascript; charset=utf-8", LOGIN_JS)
}

/// `GET /login/login.css`: the form's style sheet.
pub(crate) async fn style() -> Response {
    page_file("text/css; charset=utf-8", LOGIN_CSS)
}

/// The Content-Security-Policy of the sign-in page: the audit page's, less
/// what this page does not use (no `data:` images). Script and style come
/// from files on this origin, never inline, so injected markup cannot run
/// script; the page may not be framed (no clickjacking of the password
/// field), and the form posts only to this origin.
const LOGIN_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const LOGIN_HTML: &str = include_str!("login/login.html");
const LOGIN_JS: &str = include_str!("login/login.js");
const LOGIN_CSS: &str = include_str!("login/login.css");

/// One file of the sign-in page, with the headers the audit log's page
/// carries too.
fn page_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_SECURITY_POLICY, LOGIN_CONTENT_SECURITY_POLICY),
            (X_FRAME_OPTIONS, "DENY"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}
