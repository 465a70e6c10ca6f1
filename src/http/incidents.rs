//! Incident read API.

use super::ApiError;
use crate::app::AppState;
use crate::domain::IncidentId;
use crate::store::{IncidentDetail, IncidentFilter, IncidentSummary};
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<u32>,
}

pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<IncidentSummary>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if let Some(status) = query.status.as_deref()
        && !matches!(status, "open" | "recovered")
    {
        return Err(ApiError::BadRequest(format!(
            "status {status:?} is not open or recovered"
        )));
    }
    let filter = IncidentFilter {
        status: query.status,
        limit: query.limit.unwrap_or(100).min(1000),
    };
    Ok(Json(state.store.incidents(filter).await?))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<IncidentDetail>, ApiError> {
    let id: IncidentId = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("incident id {id:?} is not a number")))?;
    state
        .store
        .incident(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no incident {id}")))
}
