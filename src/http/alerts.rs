//! Alert ingest: parse, then hand to [`AppState::ingest`], which answers only once the
//! alert is on disk. Every ingest endpoint takes an optional `Idempotency-Key` header; a
//! delivery seen before (same key, or the same notification from the source) is answered
//! `200` with the earlier alert's id, and the same key with a different body is `409`.

use super::{ApiError, BODY_LIMIT};
use crate::domain::{Delivery, IdempotencyKey};
use crate::service::AppState;
use crate::sources::{Event, Webhook};
use crate::store::Outcome;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

pub async fn post_generic(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    accept(state, headers, body, Webhook::Generic).await
}

/// `kaden nagios-notify` (Nagios 4, X-MON, Icinga 2 notification commands).
pub async fn post_nagios(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    accept(state, headers, body, Webhook::Nagios).await
}

/// The Zabbix webhook media type (plugins/zabbix/media_kaden.yaml).
pub async fn post_zabbix(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    accept(state, headers, body, Webhook::Zabbix).await
}

/// Mackerel's webhook channel; the token comes as `?token=` (Mackerel sets no headers).
pub async fn post_mackerel(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    accept(state, headers, body, Webhook::Mackerel).await
}

/// The one ingest path every JSON source shares: read, check the type, parse, store.
async fn accept(
    state: AppState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    webhook: Webhook,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = body.map_err(|r| ApiError::body(r, BODY_LIMIT))?;
    require_json(&headers)?;
    let key = idempotency_key(&headers)?;
    let now = state.clock.now();
    match webhook.parse(&body, now)? {
        Event::Alert(delivery) => store(&state, delivery.with_key(key), now).await,
        Event::Ignored(event) => {
            tracing::info!(source = webhook.name(), event = %event, "Event other than alert; ignored.");
            Ok((StatusCode::ACCEPTED, Json(json!({ "ignored": event }))))
        }
    }
}

/// Stores the delivery: `202` when new, `200` with the earlier alert when seen before.
async fn store(
    state: &AppState,
    delivery: Delivery,
    now: jiff::Timestamp,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ingested = state.ingest(delivery, now).await?;
    let status = match ingested.outcome {
        Outcome::KeyReused => {
            return Err(ApiError::Conflict(format!(
                "Idempotency-Key was already used for a different alert (id {}); use a new key for a new alert",
                ingested.alert_id
            )));
        }
        Outcome::Duplicate => StatusCode::OK,
        _ => StatusCode::ACCEPTED,
    };
    Ok((
        status,
        Json(json!({
            "id": ingested.alert_id,
            "incident_id": ingested.incident_id,
            "outcome": ingested.outcome,
        })),
    ))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    // A value that is not visible ASCII fails `to_str` and the key's own check alike.
    IdempotencyKey::parse(value.to_str().unwrap_or_default())
        .map(Some)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if mime.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}
