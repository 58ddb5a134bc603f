//! `/apps`: create, show, rename and delete the tenant's apps.

use audit_core as audit;
use audit_core::{Auditable, Target, audited};
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::app::{ApiError, AppState, Caller, new_id};

/// An app of a tenant; its audit state is `{id, name}`.
#[derive(Debug, Clone, Serialize, Auditable)]
#[audit(target = "app")]
pub(crate) struct App {
    #[audit(id)]
    pub(crate) id: String,
    #[audit(name)]
    pub(crate) name: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AppName {
    name: String,
}

fn valid_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::Invalid("an app name is 1 to 100 characters".into()));
    }
    Ok(name.to_owned())
}

/// `POST /apps`.
#[audited(action = "app.created")]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<AppName>,
) -> Result<(StatusCode, Json<App>), ApiError> {
    let name = valid_name(&body.name)?;
    let app = App {
        id: new_id("app"),
        name,
    };
    state
        .apps()
        .entry(caller.tenant)
        .or_default()
        .insert(app.id.clone(), app.clone());
    audit::after(&app);
    audit::description(format!("Created app {}", app.name));
    Ok((StatusCode::CREATED, Json(app)))
}

/// `GET /apps/{id}` (reads of apps are not audited).
pub(crate) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<App>, ApiError> {
    state
        .apps()
        .get(&caller.tenant)
        .and_then(|apps| apps.get(&id))
        .cloned()
        .map(Json)
        .ok_or(ApiError::NotFound("app"))
}

/// `PATCH /apps/{id}`: renames.
#[audited(action = "app.updated")]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<AppName>,
) -> Result<Json<App>, ApiError> {
    audit::target(Target::new("app", &id));
    let name = valid_name(&body.name)?;
    let mut apps = state.apps();
    let app = apps
        .get_mut(&caller.tenant)
        .and_then(|apps| apps.get_mut(&id))
        .ok_or(ApiError::NotFound("app"))?;
    audit::before(&*app);
    let old = std::mem::replace(&mut app.name, name);
    audit::target(app.audit_target_ref()); // named as it is now
    audit::after(&*app);
    audit::description(format!("Renamed app {old} to {}", app.name));
    Ok(Json(app.clone()))
}

/// `DELETE /apps/{id}`.
#[audited(action = "app.deleted", severity = "critical")]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    audit::target(Target::new("app", &id));
    let app = state
        .apps()
        .get_mut(&caller.tenant)
        .and_then(|apps| apps.remove(&id))
        .ok_or(ApiError::NotFound("app"))?;
    audit::target(app.audit_target_ref());
    audit::before(&app);
    audit::description(format!("Deleted app {}", app.name));
    Ok(StatusCode::NO_CONTENT)
}
