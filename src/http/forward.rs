//! An instance that does not lead hands each request to the one that does, so a load
//! balancer may send anything anywhere: Twilio's callbacks, alerts, the API, the status
//! page. Health and metrics stay per instance. While no instance leads (the leader just
//! died), a request waits up to [`WAIT_FOR_LEADER`] for the next one.

use super::error::json_response;
use crate::service::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Duration;

/// A takeover takes about a second; Twilio waits 15 s for TwiML.
const WAIT_FOR_LEADER: Duration = Duration::from_secs(10);

/// Marks a handed-on request, so it is never handed on twice.
const FORWARDED_BY: HeaderName = HeaderName::from_static("x-kaden-forwarded-by");

/// Answered here, whoever leads: this instance's own health, metrics and simulator.
fn stays_here(path: &str) -> bool {
    path == "/healthz" || path == "/metrics" || path.starts_with("/sim/")
}

/// Headers that belong to one connection, not to the request.
fn hop_by_hop(name: &HeaderName) -> bool {
    [
        header::HOST,
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
}

pub async fn to_leader(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let cluster = &state.cluster;
    if cluster.leading() || stays_here(request.uri().path()) {
        return next.run(request).await;
    }
    if request.headers().contains_key(&FORWARDED_BY) {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "this instance does not lead any more; send the request again",
        );
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, super::BODY_LIMIT).await else {
        return json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &super::error::ApiError::PayloadTooLarge(super::BODY_LIMIT).to_string(),
        );
    };
    let deadline = tokio::time::Instant::now() + WAIT_FOR_LEADER;
    loop {
        if cluster.leading() {
            return next.run(Request::from_parts(parts, Body::from(body))).await;
        }
        if let Ok(Some((leader, url))) = state.store.leader().await
            && leader != cluster.instance
        {
            match hand_on(&state, &url, &parts, body.clone()).await {
                Ok(response) => return response,
                // Nothing reached the leader: it is gone; wait for the next one.
                Err(e) if e.is_connect() => {}
                Err(e) => {
                    tracing::warn!(leader = %leader, error = %e, "The leading instance did not answer a handed-on request.");
                    return json_response(
                        StatusCode::BAD_GATEWAY,
                        &format!(
                            "the leading instance ({leader}) did not answer; send the request again"
                        ),
                    );
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "no kaden instance leads right now; send the request again shortly",
            );
        }
        tokio::time::sleep(crate::cluster::TRY_EVERY / 2).await;
    }
}

async fn hand_on(
    state: &AppState,
    leader_url: &str,
    parts: &axum::http::request::Parts,
    body: axum::body::Bytes,
) -> Result<Response, reqwest::Error> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = state
        .cluster
        .client
        .request(parts.method.clone(), format!("{leader_url}{path}"))
        .header(&FORWARDED_BY, state.cluster.instance.as_str())
        .body(body);
    for (name, value) in parts.headers.iter().filter(|(n, _)| !hop_by_hop(n)) {
        request = request.header(name, value);
    }
    let answer = request.send().await?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers().iter().filter(|(n, _)| !hop_by_hop(n)) {
        response = response.header(name, value);
    }
    let body = answer.bytes().await?;
    Ok(response
        .body(Body::from(body))
        .expect("a status and headers from a valid response"))
}
