//! Usage triggers (`telephony.triggers`), kept inside kaden as Twilio's Usage and Alert
//! Triggers are kept in its console: calls, billed minutes, SMS, cost or telephony errors
//! of the current hour, day or month (in `locale.timezone`) reaching a threshold fire
//! once per period. A firing is stored before anyone is told, so a restart never fires
//! the same period again; then it is logged, texted and POSTed to the webhook.
//!
//! [`evaluate`] decides on figures and a time it is given; [`run`] does the I/O.

use super::Sms;
use crate::alarm::Webhook;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::config::{Language, Trigger, TriggerMetric, TriggerPeriod};
use crate::store::{FiredTrigger, Store, StoreError, db_time};
use crate::telephony::voice::Telephony;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often usage is compared with the thresholds: a few aggregate queries each time.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// When the current hour, day or month began at `now` in `zone`.
pub fn period_start(period: TriggerPeriod, now: Timestamp, zone: &TimeZone) -> Timestamp {
    let local = now.to_zoned_datetime(zone.clone());
    let start = match period {
        TriggerPeriod::Hour => local
            .with()
            .minute(0)
            .second(0)
            .subsec_nanosecond(0)
            .build(),
        TriggerPeriod::Day => local.start_of_day(),
        TriggerPeriod::Month => local.first_of_month().and_then(|d| d.start_of_day()),
    };
    start.map_or(now, |z| z.timestamp())
}

/// A trigger that reached its threshold: the webhook's JSON, and what is texted and stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Firing {
    pub trigger: String,
    pub metric: &'static str,
    pub period: &'static str,
    pub period_start: Timestamp,
    pub value: f64,
    pub threshold: f64,
    pub at: Timestamp,
    pub message: String,
}

/// The firing of `trigger` at `now`, when `value` (its metric over the period that began
/// at `period_start`) reached the threshold and that period has not fired yet.
pub fn evaluate(
    trigger: &Trigger,
    value: f64,
    period_start: Timestamp,
    fired: &HashSet<(String, Timestamp)>,
    now: Timestamp,
    words: (Language, &str),
) -> Option<Firing> {
    if value < trigger.threshold || fired.contains(&(trigger.id.clone(), period_start)) {
        return None;
    }
    Some(Firing {
        trigger: trigger.id.clone(),
        metric: trigger.metric.as_str(),
        period: trigger.period.as_str(),
        period_start,
        value,
        threshold: trigger.threshold,
        at: now,
        message: message(trigger, value, words),
    })
}

/// `51` or `12.5`: whole numbers without decimals, money to the cent or finer.
fn figure(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn message(trigger: &Trigger, value: f64, (language, currency): (Language, &str)) -> String {
    let (value, threshold) = (figure(value), figure(trigger.threshold));
    let id = &trigger.id;
    match language {
        Language::JaJp => {
            let period = match trigger.period {
                TriggerPeriod::Hour => "この1時間",
                TriggerPeriod::Day => "今日",
                TriggerPeriod::Month => "今月",
            };
            let (what, unit) = match trigger.metric {
                TriggerMetric::Calls => ("発信", "件"),
                TriggerMetric::Minutes => ("通話", "分"),
                TriggerMetric::Sms => ("SMS", "通"),
                TriggerMetric::Cost => ("電話料金", currency),
                TriggerMetric::Errors => ("電話のエラー", "件"),
            };
            format!(
                "kaden: 利用量トリガー {id}: {period}の{what}が {value} {unit} になりました（しきい値 {threshold} {unit}）。"
            )
        }
        Language::EnUs => {
            let unit = match trigger.metric {
                TriggerMetric::Calls => "calls",
                TriggerMetric::Minutes => "billed minutes",
                TriggerMetric::Sms => "SMS",
                TriggerMetric::Cost => currency,
                TriggerMetric::Errors => "telephony errors",
            };
            format!(
                "kaden: usage trigger {id}: {value} {unit} this {} (threshold {threshold} {unit}).",
                trigger.period.as_str()
            )
        }
    }
}

/// What the trigger monitor needs of the daemon.
pub struct Watch {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub telephony: Arc<Telephony>,
}

/// Each trigger's metric over its current period. The store is read once per period
/// start and metric kind, however many triggers share it: the monitor runs beside ingest
/// on the one store thread.
async fn values(state: &Watch, now: Timestamp) -> Result<Vec<(f64, Timestamp)>, StoreError> {
    let config = &state.config;
    let zone = &config.locale.timezone;
    let mut totals: HashMap<Timestamp, super::UsageRow> = HashMap::new();
    let mut errors: HashMap<Timestamp, u64> = HashMap::new();
    let mut out = Vec::new();
    for trigger in &config.usage.triggers {
        let start = period_start(trigger.period, now, zone);
        let value = if trigger.metric == TriggerMetric::Errors {
            if let Entry::Vacant(slot) = errors.entry(start) {
                slot.insert(state.store.telephony_errors_since(start).await?);
            }
            errors[&start] as f64
        } else {
            if let Entry::Vacant(slot) = totals.entry(start) {
                slot.insert(super::totals(&state.store, &config.usage.rates, Some(start)).await?);
            }
            let total = &totals[&start];
            match trigger.metric {
                TriggerMetric::Calls => total.calls as f64,
                TriggerMetric::Minutes => total.billed_minutes as f64,
                TriggerMetric::Sms => total.sms as f64,
                // The first entry is in the rates' currency.
                _ => total.cost.first().map_or(0.0, |c| c.total),
            }
        };
        out.push((value, start));
    }
    Ok(out)
}

/// Compares usage with every trigger every few seconds, until `stop`.
pub async fn run(state: Watch, stop: CancellationToken) {
    let triggers = &state.config.usage.triggers;
    if triggers.is_empty() {
        return;
    }
    let webhook = Webhook::default();
    // (trigger, period start) fired, as far as this process knows; the store knows for sure.
    let mut fired: HashSet<(String, Timestamp)> = HashSet::new();
    loop {
        let now = state.clock.now();
        match values(&state, now).await {
            Ok(values) => {
                let words = (
                    state.config.locale.language,
                    state.config.usage.rates.currency.as_str(),
                );
                for (trigger, (value, start)) in triggers.iter().zip(values) {
                    if let Some(firing) = evaluate(trigger, value, start, &fired, now, words) {
                        fired.insert((trigger.id.clone(), start));
                        fire(&state, &webhook, trigger, firing).await;
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "Cannot read usage for the triggers."),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

/// Stores the firing, then logs it, texts and posts it; a period already stored (fired
/// before a restart) is left alone.
async fn fire(state: &Watch, webhook: &Webhook, trigger: &Trigger, firing: Firing) {
    let stored = FiredTrigger {
        trigger: firing.trigger.clone(),
        metric: firing.metric.to_owned(),
        period_start: db_time(firing.period_start),
        fired_at: db_time(firing.at),
        value: firing.value,
        threshold: firing.threshold,
        message: firing.message.clone(),
    };
    match state.store.claim_trigger(stored).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            // Telling twice beats telling nobody.
            tracing::error!(trigger = %trigger.id, error = %e, "Cannot record a usage trigger; notifying anyway.");
        }
    }
    tracing::warn!(
        trigger = %trigger.id,
        metric = firing.metric,
        period = firing.period,
        value = firing.value,
        threshold = firing.threshold,
        "{}",
        firing.message
    );
    for user in &trigger.sms {
        let Some(person) = state.config.users.iter().find(|u| &u.id == user) else {
            continue;
        };
        let sms = Sms {
            to: person.phone.as_str(),
            body: &firing.message,
            user: Some(user),
            incident: None,
            purpose: "usage_trigger",
        };
        if let Err(e) = super::send_sms(&state.telephony, &state.store, &*state.clock, sms).await {
            tracing::error!(trigger = %trigger.id, user = %user, error = %e, "Usage trigger SMS not sent.");
        }
    }
    if let Some(url) = &trigger.webhook {
        let body = serde_json::to_value(&firing).expect("a firing serializes");
        match webhook.post(url, &body).await {
            Ok(()) => tracing::info!(trigger = %trigger.id, "Usage trigger posted to its webhook."),
            Err(e) => {
                tracing::error!(trigger = %trigger.id, error = %e, "Usage trigger webhook failed.")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn trigger(metric: TriggerMetric, period: TriggerPeriod, threshold: f64) -> Trigger {
        Trigger {
            id: "calls-per-hour".into(),
            metric,
            period,
            threshold,
            sms: vec![UserId::new("a")],
            webhook: None,
        }
    }

    #[test]
    fn periods_begin_on_the_local_hour_day_and_month() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let now = t("2026-11-30T15:42:07.5Z"); // 2026-12-01 00:42:07.5 in Tokyo
        assert_eq!(
            period_start(TriggerPeriod::Hour, now, &tokyo),
            t("2026-11-30T15:00:00Z")
        );
        assert_eq!(
            period_start(TriggerPeriod::Day, now, &tokyo),
            t("2026-11-30T15:00:00Z")
        );
        assert_eq!(
            period_start(TriggerPeriod::Month, now, &tokyo),
            t("2026-11-30T15:00:00Z")
        );
        let later = t("2026-12-15T03:10:00Z");
        assert_eq!(
            period_start(TriggerPeriod::Day, later, &tokyo),
            t("2026-12-14T15:00:00Z")
        );
        assert_eq!(
            period_start(TriggerPeriod::Month, later, &tokyo),
            t("2026-11-30T15:00:00Z")
        );
        // India is +05:30: its hours start at :30 UTC.
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        assert_eq!(
            period_start(TriggerPeriod::Hour, t("2026-11-30T15:42:00Z"), &kolkata),
            t("2026-11-30T15:30:00Z")
        );
    }

    #[test]
    fn a_crossing_fires_once_per_period_and_again_in_the_next() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let words = (Language::EnUs, "USD");
        let calls = trigger(TriggerMetric::Calls, TriggerPeriod::Hour, 50.0);
        let mut fired = HashSet::new();
        let mut tick = |now: Timestamp, value: f64| {
            let start = period_start(calls.period, now, &tokyo);
            let firing = evaluate(&calls, value, start, &fired, now, words);
            if let Some(f) = &firing {
                fired.insert((f.trigger.clone(), f.period_start));
            }
            firing
        };
        assert_eq!(tick(t("2026-11-23T01:10:00Z"), 49.0), None, "below");
        let first = tick(t("2026-11-23T01:20:00Z"), 50.0).expect("at the threshold");
        assert_eq!(first.period_start, t("2026-11-23T01:00:00Z"));
        assert_eq!(
            first.message,
            "kaden: usage trigger calls-per-hour: 50 calls this hour (threshold 50 calls)."
        );
        assert_eq!(tick(t("2026-11-23T01:30:00Z"), 80.0), None, "same hour");
        assert_eq!(
            tick(t("2026-11-23T02:00:00Z"), 3.0),
            None,
            "next hour, below"
        );
        let next = tick(t("2026-11-23T02:59:59Z"), 51.0).expect("next hour");
        assert_eq!(next.period_start, t("2026-11-23T02:00:00Z"));
    }

    #[test]
    fn the_message_speaks_the_locale_and_names_the_currency() {
        let cost = trigger(TriggerMetric::Cost, TriggerPeriod::Month, 100.0);
        let now = t("2026-11-23T01:10:00Z");
        let firing = evaluate(
            &cost,
            123.456,
            now,
            &HashSet::new(),
            now,
            (Language::JaJp, "USD"),
        )
        .unwrap();
        assert_eq!(
            firing.message,
            "kaden: 利用量トリガー calls-per-hour: 今月の電話料金が 123.456 USD になりました（しきい値 100 USD）。"
        );
        let json = serde_json::to_value(&firing).unwrap();
        assert_eq!(json["metric"], "cost");
        assert_eq!(json["period"], "month");
        assert_eq!(json["at"], "2026-11-23T01:10:00Z");
    }
}
