//! Incident read API.

use super::ApiError;
use crate::app::AppState;
use crate::domain::IncidentId;
use crate::store::{CallFilter, CallView, IncidentDetail, IncidentFilter, IncidentSummary};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
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

fn incident_id(id: &str) -> Result<IncidentId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::BadRequest(format!("incident id {id:?} is not a number")))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<IncidentDetail>, ApiError> {
    let id = incident_id(&id)?;
    state
        .store
        .incident(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no incident {id}")))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// Who acknowledges, for the log and the write-back message.
    by: Option<String>,
}

/// Acknowledges every open problem of the incident, as 9# on the phone does.
pub async fn ack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<AckBody>>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = incident_id(&id)?;
    if state.store.incident(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no incident {id}")));
    }
    let by = body
        .and_then(|Json(b)| b.by)
        .unwrap_or_else(|| "api".to_owned());
    if state.runner.ack(id, by.clone()).await {
        tracing::info!(incident_id = id.get(), by = %by, "Acknowledged through the API.");
        Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "incident_id": id, "acknowledged_by": by })),
        ))
    } else {
        Err(ApiError::Conflict(format!(
            "incident {id} has no escalation to acknowledge (unrouted or already over)"
        )))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsQuery {
    incident: Option<i64>,
    limit: Option<u32>,
}

/// The call log: who was called, when, the outcome, the keys, what was acknowledged.
pub async fn calls(
    State(state): State<AppState>,
    query: Result<Query<CallsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<CallView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let filter = CallFilter {
        incident: query.incident.map(IncidentId::new),
        limit: query.limit.unwrap_or(100).min(1000),
    };
    Ok(Json(state.store.calls(filter).await?))
}
