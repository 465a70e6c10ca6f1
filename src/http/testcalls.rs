//! Test calls: `kaden test-call USER` starts one here and follows it.

use super::ApiError;
use crate::service::AppState;
use crate::testcall::TestCall;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCallBody {
    user: String,
}

/// `POST /api/v1/test-calls {"user": ID}`: phones one person with a test message.
pub async fn start(
    State(state): State<AppState>,
    body: Result<Json<TestCallBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<TestCall>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::Unprocessable(e.body_text()))?;
    let call = state
        .test_calls
        .start(&state.config, &body.user)
        .map_err(|e| ApiError::NotFound(e.to_string()))?;
    Ok((StatusCode::ACCEPTED, Json(call)))
}

/// `GET /api/v1/test-calls/{id}`: how a test call went so far.
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<TestCall>, ApiError> {
    state
        .test_calls
        .get(id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no test call {id}")))
}
