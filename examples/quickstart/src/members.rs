//! `/members`: invite people and change their roles (owners and admins only).

use audit_core as audit;
use audit_core::{Auditable, Outcome, Target, audited};
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::app::{ApiError, AppState, Caller, new_id};

/// The roles a member can have.
pub(crate) const ROLES: [&str; 3] = ["owner", "admin", "member"];

/// A member of a tenant; its audit state is `{id, email, role}`.
#[derive(Debug, Clone, Serialize, Auditable)]
#[audit(target = "member")]
pub(crate) struct Member {
    #[audit(id)]
    pub(crate) id: String,
    #[audit(name)]
    pub(crate) email: String,
    pub(crate) role: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Invitation {
    email: String,
    role: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewRole {
    role: String,
}

const MANAGERS_ONLY: &str = "only an owner or admin of the tenant may do this";

fn valid_role(role: &str) -> Result<String, ApiError> {
    ROLES
        .iter()
        .find(|r| **r == role)
        .map(|r| (*r).to_owned())
        .ok_or_else(|| ApiError::Invalid(format!("role must be one of {}", ROLES.join(", "))))
}

/// `POST /members`: invites `email` as `role` (owners and admins only).
#[audited(action = "member.invited")]
pub(crate) async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Invitation>,
) -> Result<(StatusCode, Json<Member>), ApiError> {
    if !caller.is_manager() {
        return Err(ApiError::Forbidden(MANAGERS_ONLY));
    }
    let email = body.email.trim().to_ascii_lowercase();
    if email.len() > 254 || email.split('@').filter(|part| !part.is_empty()).count() != 2 {
        return Err(ApiError::Invalid("email must look like name@example.com".into()));
    }
    let role = valid_role(&body.role)?;
    let mut members = state.members();
    let members = members.entry(caller.tenant).or_default();
    if members.values().any(|m| m.email == email) {
        return Err(ApiError::Conflict(format!("{email} is already a member")));
    }
    let member = Member {
        id: new_id("user"),
        email,
        role,
    };
    members.insert(member.id.clone(), member.clone());
    audit::after(&member);
    audit::description(format!("Invited {} as {}", member.email, member.role));
    Ok((StatusCode::CREATED, Json(member)))
}

/// `PATCH /members/{id}/role` (owners and admins only; anyone else gets a
/// 403, recorded as a denied `member.role_changed`).
#[audited(action = "member.role_changed", severity = "notice")]
pub(crate) async fn change_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<NewRole>,
) -> Result<Json<Member>, ApiError> {
    audit::meta("requested_role", &body.role);
    let mut members = state.members();
    let member = members.get_mut(&caller.tenant).and_then(|members| members.get_mut(&id));
    audit::target(
        member
            .as_ref()
            .map_or_else(|| Target::new("member", &id), |m| m.audit_target_ref()),
    );
    if !caller.is_manager() {
        // Explicit, so the event keeps this reason rather than "HTTP 403 Forbidden".
        audit::outcome(Outcome::Denied);
        audit::reason(MANAGERS_ONLY);
        return Err(ApiError::Forbidden(MANAGERS_ONLY));
    }
    let role = valid_role(&body.role)?;
    let member = member.ok_or(ApiError::NotFound("member"))?;
    audit::before(&*member);
    let old = std::mem::replace(&mut member.role, role);
    audit::after(&*member);
    audit::description(format!(
        "Changed the role of {} from {old} to {}",
        member.email, member.role
    ));
    Ok(Json(member.clone()))
}
