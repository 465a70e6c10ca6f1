//! `GET /api/v1/usage?since=30d&by=user`: calls, minutes, SMS and their cost.

use super::ApiError;
use crate::service::AppState;
use crate::usage::{By, UsageReport};
use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    since: Option<String>,
    by: Option<String>,
}

pub async fn usage(
    State(state): State<AppState>,
    query: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UsageReport>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let now = state.clock.now();
    let since = crate::usage::parse_since(
        query
            .since
            .as_deref()
            .unwrap_or(crate::usage::DEFAULT_SINCE),
        now,
    )
    .map_err(ApiError::BadRequest)?;
    let by = query
        .by
        .as_deref()
        .map(By::parse)
        .transpose()
        .map_err(ApiError::BadRequest)?
        .unwrap_or_default();
    let config = &state.config;
    let report = crate::usage::from_store(
        &state.store,
        by,
        &config.usage.rates,
        &config.locale.timezone,
        (since, now),
    )
    .await?;
    Ok(Json(report))
}
