//! `POST /api/v1/heartbeats/{id}`: a check-in of a configured heartbeat.

use super::ApiError;
use crate::heartbeat::Heartbeats;
use crate::service::AppState;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn check_in(
    State(state): State<AppState>,
    Extension(beats): Extension<Arc<Heartbeats>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let recovery = crate::heartbeat::check_in(&state, &beats, &id, now)
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
