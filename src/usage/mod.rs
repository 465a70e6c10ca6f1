//! Usage and cost: how many calls, minutes and SMS segments kaden used, by whom, for
//! which incident, and what they cost. Twilio's reported price wins; otherwise the cost
//! is estimated from `telephony.rates` (the longest matching destination prefix; calls
//! billed per started minute, SMS per segment). `kaden usage`, `GET /api/v1/usage` and
//! `/metrics` share [`report`]; [`triggers`] watches the same figures per period;
//! [`prices`] fetches the prices Twilio reports after the calls ended.

pub mod prices;
pub mod triggers;

use crate::clock::Clock;
use crate::config::{Rate, Rates};
use crate::domain::{IncidentId, UserId};
use crate::store::{
    FiredTrigger, Sample, SmsRecord, Store, StoreError, UsageGroup, UsageKey, UsageKind,
};
use crate::telephony::twilio::TwilioError;
pub use crate::telephony::twilio::billed_minutes;
use crate::telephony::voice::Telephony;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The rate of the longest prefix of `number`.
pub fn rate<'a>(rates: &'a [Rate], number: &str) -> Option<&'a Rate> {
    rates
        .iter()
        .filter(|r| number.starts_with(&r.prefix))
        .max_by_key(|r| r.prefix.len())
}

/// What `kaden usage --by` and `?by=` group rows by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// The local day (`locale.timezone`).
    #[default]
    Day,
    User,
    Incident,
    CallSetting,
}

impl By {
    pub const ALL: [By; 4] = [By::Day, By::User, By::Incident, By::CallSetting];

    pub fn as_str(self) -> &'static str {
        match self {
            By::Day => "day",
            By::User => "user",
            By::Incident => "incident",
            By::CallSetting => "call_setting",
        }
    }

    pub fn parse(raw: &str) -> Result<By, String> {
        By::ALL
            .into_iter()
            .find(|b| b.as_str() == raw)
            .ok_or_else(|| format!("by: {raw:?} is not day, user, incident or call_setting"))
    }

    fn key(self) -> UsageKey {
        match self {
            By::Day => UsageKey::Minute,
            By::User => UsageKey::User,
            By::Incident => UsageKey::Incident,
            By::CallSetting => UsageKey::CallSetting,
        }
    }
}

/// How far back `kaden usage` and the API look unless told.
pub const DEFAULT_SINCE: &str = "30d";

/// `?since=` and `--since`: a duration back from `now` (`30d`, `12h`) or a time.
pub fn parse_since(raw: &str, now: Timestamp) -> Result<Timestamp, String> {
    let bad = || {
        format!(
            "since: {raw:?} is not a duration such as 30d or 12h, nor a time such as 2026-11-01T00:00:00+09:00"
        )
    };
    if let Ok(t) = raw.parse::<Timestamp>() {
        return Ok(t);
    }
    let back = humantime::parse_duration(raw).map_err(|_| bad())?;
    let back = jiff::SignedDuration::try_from(back).map_err(|_| bad())?;
    Ok(now.checked_sub(back).unwrap_or(Timestamp::MIN))
}

/// What the usage of one currency cost: reported by Twilio, estimated from the rates.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Cost {
    pub currency: String,
    pub reported: f64,
    pub estimated: f64,
    pub total: f64,
}

/// One row of the usage report.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct UsageRow {
    /// The day, user, incident or call setting; `-` for SMS that have none; absent in the
    /// total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Calls placed through the provider.
    pub calls: u64,
    pub answered: u64,
    pub call_seconds: u64,
    /// Each call's seconds rounded up to whole minutes, as Twilio bills.
    pub billed_minutes: u64,
    /// SMS the provider accepted.
    pub sms: u64,
    pub sms_segments: u64,
    /// `telephony.rates.currency` first (always there), then any other currency Twilio
    /// reported prices in.
    pub cost: Vec<Cost>,
}

/// `GET /api/v1/usage` and `kaden usage --json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UsageReport {
    pub since: Timestamp,
    pub until: Timestamp,
    pub by: By,
    pub currency: String,
    pub rows: Vec<UsageRow>,
    pub total: UsageRow,
    /// Usage triggers fired since `since`, oldest first.
    pub triggers_fired: Vec<FiredTrigger>,
}

/// `1.01 USD (0.50 reported + 0.51 estimated)`: what `kaden usage` prints.
pub fn cost_text(costs: &[Cost]) -> String {
    costs
        .iter()
        .map(|c| {
            let how = match (c.reported > 0.0, c.estimated > 0.0) {
                (true, true) => format!(
                    " ({} reported + {} estimated)",
                    amount(c.reported),
                    amount(c.estimated)
                ),
                (true, false) => " (reported)".to_owned(),
                (false, true) => " (estimated)".to_owned(),
                (false, false) => String::new(),
            };
            format!("{} {}{how}", amount(c.total), c.currency)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Two decimals, more where a price has them (`0.013`).
fn amount(value: f64) -> String {
    let text = format!("{value:.4}");
    let trimmed = text.trim_end_matches('0');
    let decimals = trimmed.len() - trimmed.find('.').map_or(trimmed.len(), |p| p + 1);
    format!("{value:.*}", decimals.max(2))
}

/// A row being summed.
#[derive(Default)]
struct Sums {
    row: UsageRow,
    reported: BTreeMap<String, f64>,
    estimated: f64,
}

impl Sums {
    fn add(&mut self, g: &UsageGroup, rates: &Rates) {
        let rates = match g.kind {
            UsageKind::Call => {
                self.row.calls += g.count;
                self.row.answered += g.answered;
                self.row.call_seconds += g.seconds;
                self.row.billed_minutes += g.units;
                &rates.calls
            }
            UsageKind::Sms => {
                self.row.sms += g.count;
                self.row.sms_segments += g.units;
                &rates.sms
            }
        };
        match &g.price_unit {
            Some(unit) => *self.reported.entry(unit.clone()).or_default() += g.price,
            None => {
                // Without a rate nothing is estimated; check-config warns of such numbers.
                if let Some(rate) = rate(rates, &g.phone) {
                    self.estimated += g.units as f64 * rate.price;
                }
            }
        }
    }

    fn finish(mut self, currency: &str) -> UsageRow {
        let reported = self.reported.remove(currency).unwrap_or(0.0);
        let mut cost = vec![Cost {
            currency: currency.to_owned(),
            reported: money(reported),
            estimated: money(self.estimated),
            total: money(reported + self.estimated),
        }];
        cost.extend(self.reported.into_iter().map(|(currency, amount)| Cost {
            currency,
            reported: money(amount),
            estimated: 0.0,
            total: money(amount),
        }));
        self.row.cost = cost;
        self.row
    }
}

/// Rounded to a millionth, below any price Twilio quotes, so sums print without float
/// noise.
fn money(amount: f64) -> f64 {
    (amount * 1e6).round() / 1e6
}

/// Sums the groups of one query (`by`'s key) into rows, with costs.
pub fn report(
    groups: &[UsageGroup],
    fired: Vec<FiredTrigger>,
    by: By,
    rates: &Rates,
    zone: &TimeZone,
    (since, until): (Timestamp, Timestamp),
) -> UsageReport {
    let mut rows: BTreeMap<(u8, i64, String), Sums> = BTreeMap::new();
    let mut total = Sums::default();
    for g in groups {
        let key = match (&g.key, by) {
            (None, _) => "-".to_owned(),
            (Some(minute), By::Day) => local_day(minute, zone),
            (Some(key), _) => key.clone(),
        };
        // Incidents in number order; "-" last.
        let order = (
            u8::from(key == "-"),
            key.parse::<i64>()
                .ok()
                .filter(|_| by == By::Incident)
                .unwrap_or(0),
            key.clone(),
        );
        let sums = rows.entry(order).or_default();
        sums.row.key = Some(key);
        sums.add(g, rates);
        total.add(g, rates);
    }
    UsageReport {
        since,
        until,
        by,
        currency: rates.currency.clone(),
        rows: rows
            .into_values()
            .map(|s| s.finish(&rates.currency))
            .collect(),
        total: total.finish(&rates.currency),
        triggers_fired: fired,
    }
}

/// `2026-11-23T15:05` (UTC) → `2026-11-24` in Tokyo.
fn local_day(utc_minute: &str, zone: &TimeZone) -> String {
    format!("{utc_minute}:00Z")
        .parse::<Timestamp>()
        .map(|t| t.to_zoned_datetime(zone.clone()).date().to_string())
        .unwrap_or_else(|_| utc_minute.to_owned())
}

/// The report of the running daemon's store.
pub async fn from_store(
    store: &Store,
    by: By,
    rates: &Rates,
    zone: &TimeZone,
    window: (Timestamp, Timestamp),
) -> Result<UsageReport, StoreError> {
    let groups = store
        .usage(Some(window.0), Some(window.1), by.key())
        .await?;
    let fired = store.fired_triggers(Some(window.0)).await?;
    Ok(report(&groups, fired, by, rates, zone, window))
}

/// The report read from the database, with or without a running daemon.
pub fn read_only(
    database: crate::store::Database,
    by: By,
    rates: &Rates,
    zone: &TimeZone,
    window: (Timestamp, Timestamp),
) -> Result<UsageReport, StoreError> {
    let (groups, fired) = crate::store::usage_read_only(database, window.0, window.1, by.key())?;
    Ok(report(&groups, fired, by, rates, zone, window))
}

/// Usage since `since` (ever, for `None`) in one row.
pub async fn totals(
    store: &Store,
    rates: &Rates,
    since: Option<Timestamp>,
) -> Result<UsageRow, StoreError> {
    let groups = store.usage(since, None, UsageKey::All).await?;
    let mut total = Sums::default();
    for g in &groups {
        total.add(g, rates);
    }
    Ok(total.finish(&rates.currency))
}

/// Everything ever used, for `/metrics`. Rows are never deleted, so these only grow,
/// except that an estimate gives way to the price Twilio reports later.
pub async fn metric_samples(store: &Store, rates: &Rates) -> Result<Vec<Sample>, StoreError> {
    let total = totals(store, rates, None).await?;
    let count = |name, value: u64| (name, Vec::new(), value as f64);
    let mut samples = vec![
        count("kaden_telephony_calls_total", total.calls),
        count("kaden_telephony_calls_answered_total", total.answered),
        count("kaden_telephony_call_seconds_total", total.call_seconds),
        count(
            "kaden_telephony_call_billed_minutes_total",
            total.billed_minutes,
        ),
        count("kaden_telephony_sms_total", total.sms),
        count("kaden_telephony_sms_segments_total", total.sms_segments),
    ];
    for cost in total.cost {
        for (name, value) in [
            ("kaden_telephony_cost_reported_total", cost.reported),
            ("kaden_telephony_cost_estimated_total", cost.estimated),
        ] {
            samples.push((name, vec![("currency", cost.currency.clone())], value));
        }
    }
    Ok(samples)
}

/// An SMS to send and what it is for.
pub struct Sms<'a> {
    pub to: &'a str,
    pub body: &'a str,
    pub user: Option<&'a UserId>,
    pub incident: Option<IncidentId>,
    /// `escalation`, `shift_notice` or `usage_trigger`.
    pub purpose: &'static str,
}

/// Sends an SMS through the provider and records it for usage, sent or refused. A store
/// that cannot take the record only logs: the text is out either way.
pub async fn send_sms(
    telephony: &Telephony,
    store: &Store,
    clock: &dyn Clock,
    sms: Sms<'_>,
) -> Result<String, TwilioError> {
    let sent = telephony.client.send_sms(sms.to, sms.body).await;
    let record = SmsRecord {
        user: sms.user.cloned(),
        incident: sms.incident,
        purpose: sms.purpose,
        phone: sms.to.to_owned(),
        segments: crate::telephony::sms::segments(sms.body),
        sid: sent.as_ref().ok().cloned(),
    };
    if let Err(e) = store.record_sms(record, clock.now()).await {
        tracing::error!(error = %e, "Cannot record an SMS for usage.");
    }
    sent
}

#[cfg(test)]
mod tests;
