//! `POST /api/v1/heartbeats/{id}`: a check-in of a configured heartbeat.

use super::ApiError;
use crate::service::AppState;
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

pub async fn check_in(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let recovery = crate::heartbeat::check_in(&state, &id, now)
        .await
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no heartbeat {id:?}; add it under heartbeats: in the config"
            ))
        })??;
    Ok(Json(json!({
        "heartbeat": id,
        "seen_at": now,
        "recovery": recovery.map(|r| json!({
            "id": r.alert_id,
            "incident_id": r.incident_id,
            "outcome": r.outcome,
        })),
    })))
}
