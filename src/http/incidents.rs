//! Incident read API.

use super::ApiError;
use crate::domain::IncidentId;
use crate::escalation::ManualVia;
use crate::service::AppState;
use crate::store::{
    ALERTS_SHOWN, CallFilter, CallView, IncidentDetail, IncidentFilter, IncidentSummary,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated lifecycle states.
    status: Option<String>,
    since: Option<String>,
    before: Option<String>,
    limit: Option<u32>,
}

/// A page of incidents, newest first: `?status=open,acknowledged&since=&before=&limit=`.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<IncidentSummary>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let filter = IncidentFilter {
        status: lifecycle_states(query.status.as_deref())?,
        since: query
            .since
            .as_deref()
            .map(|t| {
                t.parse().map_err(|_| {
                    ApiError::BadRequest(format!(
                        "since: {t:?} is not a time such as 2026-11-23T10:00:00+09:00"
                    ))
                })
            })
            .transpose()?,
        before: query
            .before
            .as_deref()
            .map(|b| {
                b.parse().map_err(|_| {
                    ApiError::BadRequest(format!("before: {b:?} is not an incident id"))
                })
            })
            .transpose()?,
        limit: query.limit.unwrap_or(50).min(1000),
    };
    Ok(Json(state.store.incidents(filter).await?))
}

/// `open,acknowledged` → the states; `recovered` is the older name of `resolved`.
pub fn lifecycle_states(raw: Option<&str>) -> Result<Vec<String>, ApiError> {
    raw.into_iter()
        .flat_map(|r| r.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "open" | "acknowledged" | "resolved" => Ok(s.to_owned()),
            "recovered" => Ok("resolved".to_owned()),
            other => Err(ApiError::BadRequest(format!(
                "status: {other:?} is not open, acknowledged or resolved"
            ))),
        })
        .collect()
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    before: Option<String>,
    limit: Option<u32>,
}

/// Pages through an incident's alerts beyond the latest the detail shows:
/// `?before=ALERT_ID&limit=`, oldest first within the page.
pub async fn alerts(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<AlertsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = incident_id(&id)?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let before = query
        .before
        .as_deref()
        .map(|b| {
            b.parse::<i64>()
                .map(crate::domain::AlertId::new)
                .map_err(|_| ApiError::BadRequest(format!("before: {b:?} is not an alert id")))
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(ALERTS_SHOWN).min(1000);
    let alerts = state.store.incident_alerts(id, before, limit).await?;
    let next = (alerts.len() as u32 == limit)
        .then(|| {
            alerts
                .first()
                .map(|a| format!("/api/v1/incidents/{id}/alerts?before={}", a.id))
        })
        .flatten();
    Ok(Json(serde_json::json!({ "alerts": alerts, "next": next })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// Who acknowledges, for the log and the write-back message.
    by: Option<String>,
}

/// `POST /api/v1/incidents/{id}/ack`.
pub async fn ack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<AckBody>>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let by = body
        .and_then(|Json(b)| b.by)
        .unwrap_or_else(|| "api".to_owned());
    acknowledge(&state, &id, by, ManualVia::Api).await
}

/// Acknowledges every open problem of the incident, as 9# on the phone does: the API's
/// and the status page's acknowledgement.
pub async fn acknowledge(
    state: &AppState,
    id: &str,
    by: String,
    via: ManualVia,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = incident_id(id)?;
    if state.store.incident(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no incident {id}")));
    }
    if state.runner.ack(id, by.clone(), via).await {
        tracing::info!(incident_id = id.get(), by = %by, ?via, "Acknowledged by hand.");
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorsQuery {
    limit: Option<u32>,
}

/// `GET /api/v1/telephony/errors`: the latest telephony errors with Twilio's meaning and
/// a fix, newest first.
pub async fn telephony_errors(
    State(state): State<AppState>,
    query: Result<Query<ErrorsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<crate::store::TelephonyErrorView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = query.limit.unwrap_or(100).min(1000);
    Ok(Json(state.store.telephony_errors(limit).await?))
}
