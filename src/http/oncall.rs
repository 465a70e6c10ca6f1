//! On-call queries, overrides and iCalendar feeds.

use super::ApiError;
use crate::domain::{ScheduleId, UserId};
use crate::oncall::{OnCall, ShiftView, name, view};
use crate::schedule::{self, Override, Schedule, Shift, ics};
use crate::service::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

/// How far back and ahead the calendar feeds reach.
const FEED_PAST: SignedDuration = SignedDuration::from_hours(24 * 7);
const FEED_AHEAD: SignedDuration = SignedDuration::from_hours(24 * 56);

fn parse_time(what: &str, raw: Option<&str>, default: Timestamp) -> Result<Timestamp, ApiError> {
    raw.map_or(Ok(default), |t| {
        t.parse().map_err(|_| {
            ApiError::Unprocessable(format!(
                "{what}: {t:?} is not a time such as 2026-11-23T10:00:00+09:00"
            ))
        })
    })
}

fn schedule<'a>(state: &'a AppState, id: &str) -> Result<&'a Schedule, ApiError> {
    state
        .config
        .schedules
        .iter()
        .find(|s| s.id.as_str() == id)
        .ok_or_else(|| ApiError::NotFound(format!("no schedule {id:?} in the config")))
}

fn overrides(state: &AppState) -> Vec<Override> {
    state
        .overrides
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OncallQuery {
    schedule: Option<String>,
    at: Option<String>,
    /// How many upcoming handoffs to list (default 3).
    next: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GapsQuery {
    /// How far ahead to look (default 30, at most 366).
    days: Option<u32>,
}

/// Every stretch in the next days in which a schedule, or a call setting's targets, has
/// nobody on call.
pub async fn gaps(
    State(state): State<AppState>,
    query: Result<Query<GapsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<crate::oncall::Gap>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let days = query.days.unwrap_or(30).min(366);
    let from = state.clock.now();
    let to = from
        .saturating_add(SignedDuration::from_hours(24 * i64::from(days)))
        .unwrap_or(from);
    Ok(Json(crate::oncall::gaps(
        &state.config,
        &overrides(&state),
        from,
        to,
    )))
}

/// Seconds until the next gap in the next 30 days, per schedule and call setting, for
/// `kaden_oncall_next_gap_seconds` (0 while a gap is on).
pub fn next_gap_seconds(state: &AppState) -> Vec<(String, String, i64)> {
    let from = state.clock.now();
    let to = from.saturating_add(FEED_AHEAD).unwrap_or(from);
    let mut next: std::collections::BTreeMap<(String, String), i64> = Default::default();
    for gap in crate::oncall::gaps(&state.config, &overrides(state), from, to) {
        let seconds = gap.from.duration_since(from).as_secs().max(0);
        next.entry((gap.kind, gap.id))
            .and_modify(|s| *s = (*s).min(seconds))
            .or_insert(seconds);
    }
    next.into_iter()
        .map(|((kind, id), s)| (kind, id, s))
        .collect()
}

/// Who is on call at a time (now by default), per schedule, with the next handoffs.
pub async fn oncall(
    State(state): State<AppState>,
    query: Result<Query<OncallQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<OnCall>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let at = parse_time("at", query.at.as_deref(), state.clock.now())?;
    let selected: Vec<&Schedule> = match &query.schedule {
        Some(id) => vec![schedule(&state, id)?],
        None => state.config.schedules.iter().collect(),
    };
    Ok(Json(crate::oncall::on_call(
        &state.config,
        &selected,
        &overrides(&state),
        at,
        query.next.unwrap_or(3),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The shifts of one schedule in a range (default: the next 8 weeks).
pub async fn shifts(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ShiftView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let s = schedule(&state, &id)?;
    let now = state.clock.now();
    let from = parse_time("from", query.from.as_deref(), now)?;
    let to = parse_time(
        "to",
        query.to.as_deref(),
        from.saturating_add(FEED_AHEAD).unwrap_or(from),
    )?;
    if to <= from || to.duration_since(from) > SignedDuration::from_hours(24 * 366) {
        return Err(ApiError::Unprocessable(
            "to must be after from, and at most a year later".into(),
        ));
    }
    let list = schedule::shifts(s, &overrides(&state), from, to);
    Ok(Json(
        list.into_iter().map(|sh| view(&state.config, sh)).collect(),
    ))
}

fn calendar(body: String) -> Response {
    ([(CONTENT_TYPE, "text/calendar; charset=utf-8")], body).into_response()
}

fn feed_range(state: &AppState) -> (Timestamp, Timestamp) {
    let now = state.clock.now();
    (
        now.saturating_sub(FEED_PAST).unwrap_or(now),
        now.saturating_add(FEED_AHEAD).unwrap_or(now),
    )
}

fn summary(state: &AppState, schedule: &ScheduleId, shift: &Shift) -> String {
    let who =
        name(&state.config, &shift.user).or_else(|| shift.user.as_ref().map(|u| u.to_string()));
    format!(
        "On call: {} ({schedule})",
        who.unwrap_or_else(|| "nobody".into())
    )
}

/// GET /api/v1/schedules/{id}.ics: every shift of one schedule.
pub async fn schedule_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let id = file
        .strip_suffix(".ics")
        .ok_or_else(|| ApiError::NotFound(format!("no {file}; calendar feeds end in .ics")))?;
    let s = schedule(&state, id)?;
    let (from, to) = feed_range(&state);
    let list: Vec<Shift> = schedule::shifts(s, &overrides(&state), from, to)
        .into_iter()
        .filter(|sh| sh.user.is_some())
        .collect();
    let events: Vec<ics::Event> = list
        .iter()
        .map(|shift| ics::Event {
            schedule: &s.id,
            shift,
            summary: summary(&state, &s.id, shift),
        })
        .collect();
    Ok(calendar(ics::calendar(
        &format!("kaden {id}"),
        &events,
        state.clock.now(),
    )))
}

/// GET /api/v1/users/{id}.ics: one person's shifts across every schedule.
pub async fn user_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let id = file
        .strip_suffix(".ics")
        .ok_or_else(|| ApiError::NotFound(format!("no {file}; calendar feeds end in .ics")))?;
    let user = UserId::new(id);
    if !state.config.users.iter().any(|u| u.id == user) {
        return Err(ApiError::NotFound(format!("no user {id:?} in the config")));
    }
    let (from, to) = feed_range(&state);
    let overrides = overrides(&state);
    let mine: Vec<(&ScheduleId, Shift)> = state
        .config
        .schedules
        .iter()
        .flat_map(|s| {
            schedule::shifts(s, &overrides, from, to)
                .into_iter()
                .filter(|sh| sh.user.as_ref() == Some(&user))
                .map(move |sh| (&s.id, sh))
        })
        .collect();
    let events: Vec<ics::Event> = mine
        .iter()
        .map(|(sid, shift)| ics::Event {
            schedule: sid,
            shift,
            summary: summary(&state, sid, shift),
        })
        .collect();
    Ok(calendar(ics::calendar(
        &format!("kaden {id}"),
        &events,
        state.clock.now(),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOverride {
    user: String,
    replaces: Option<String>,
    start: String,
    end: String,
}

pub async fn add_override(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<NewOverride>,
) -> Result<(StatusCode, Json<Override>), ApiError> {
    let s = schedule(&state, &id)?;
    let known = |u: &str| state.config.users.iter().any(|x| x.id.as_str() == u);
    for who in std::iter::once(&body.user).chain(body.replaces.as_ref()) {
        if !known(who) {
            return Err(ApiError::Unprocessable(format!("unknown user {who:?}")));
        }
    }
    let now = state.clock.now();
    let start = parse_time("start", Some(&body.start), now)?;
    let end = parse_time("end", Some(&body.end), now)?;
    if end <= start {
        return Err(ApiError::Unprocessable("end must be after start".into()));
    }
    let new = Override {
        id: 0,
        schedule: s.id.clone(),
        user: UserId::new(body.user),
        replaces: body.replaces.map(UserId::new),
        start,
        end,
    };
    let stored = state.store.add_override(new, now).await?;
    state
        .overrides
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .push(stored.clone());
    tracing::info!(schedule = %stored.schedule, user = %stored.user, override_id = stored.id, "Override added.");
    if s.notify_before.is_some() {
        // Whoever now covers, and whoever is covered, hears of it.
        use crate::shift_notice::{Notice, send};
        let shift = |user: &UserId| Shift {
            user: Some(user.clone()),
            start: stored.start,
            end: stored.end,
        };
        send(&state, s, &shift(&stored.user), &Notice::Covers).await;
        if let Some(replaced) = &stored.replaces {
            let by = stored.user.as_str();
            send(&state, s, &shift(replaced), &Notice::Relieved { by }).await;
        }
    }
    Ok((StatusCode::CREATED, Json(stored)))
}

pub async fn list_overrides(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Override>>, ApiError> {
    let s = schedule(&state, &id)?;
    Ok(Json(
        overrides(&state)
            .into_iter()
            .filter(|o| o.schedule == s.id)
            .collect(),
    ))
}

pub async fn delete_override(
    State(state): State<AppState>,
    Path((id, override_id)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let s = schedule(&state, &id)?;
    if !state
        .store
        .delete_override(s.id.clone(), override_id)
        .await?
    {
        return Err(ApiError::NotFound(format!(
            "no override {override_id} on schedule {id}"
        )));
    }
    state
        .overrides
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|o| o.id != override_id);
    Ok(StatusCode::NO_CONTENT)
}
