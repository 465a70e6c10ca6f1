//! Usage records: each call's duration and Twilio's price, each SMS sent, and the usage
//! triggers fired. Reading is one aggregate query, grouped by what the caller asks for
//! and by destination number (rates go by prefix); the usage module prices the groups.

use super::db::{Db, Sql, vals};
use super::{Database, Store, StoreError, db_time};
use crate::domain::{IncidentId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// What Twilio reported about one call: its final status callback's `CallDuration`, or
/// the call resource's `duration` and `price` (negative there: a charge).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallUsage {
    pub duration_seconds: Option<u32>,
    pub price: Option<f64>,
    pub price_unit: Option<String>,
    /// The call's sid as a callback names it: kept when the call has none yet, as when
    /// Twilio's answer to its creation came only after the call ended.
    pub sid: Option<String>,
}

/// A call that ended without a price from Twilio yet, and how often Twilio was asked.
#[derive(Clone, Debug, PartialEq)]
pub struct AwaitingPrice {
    pub call_id: String,
    pub sid: String,
    pub ended_at: Timestamp,
    pub checks: u32,
    pub checked_at: Option<Timestamp>,
}

/// One SMS handed to the provider, or refused by it (`sid: None`).
#[derive(Clone, Debug)]
pub struct SmsRecord {
    pub user: Option<UserId>,
    pub incident: Option<IncidentId>,
    /// `escalation`, `shift_notice` or `usage_trigger`.
    pub purpose: &'static str,
    pub phone: String,
    pub segments: u32,
    pub sid: Option<String>,
}

/// What usage is grouped by, besides the destination number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageKey {
    /// One group.
    All,
    User,
    Incident,
    /// The incident's call setting.
    CallSetting,
    /// The UTC minute (`2026-11-23T01:05`), which a caller maps to its own days.
    Minute,
}

impl UsageKey {
    /// Over the union below: `u` is a call or an SMS, `i` its incident.
    fn sql(self) -> &'static str {
        match self {
            UsageKey::All => "NULL",
            UsageKey::User => "u.user_id",
            UsageKey::Incident => "CAST(u.incident_id AS TEXT)",
            UsageKey::CallSetting => "i.call_setting",
            UsageKey::Minute => "substr(u.at, 1, 16)",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageKind {
    Call,
    Sms,
}

/// Calls or SMS of one key, to one number, priced in one way.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageGroup {
    /// `None` for [`UsageKey::All`], and for SMS with no user or incident.
    pub key: Option<String>,
    pub kind: UsageKind,
    pub phone: String,
    /// Twilio's currency where it reported a price; `None`: no price reported.
    pub price_unit: Option<String>,
    pub count: u64,
    pub answered: u64,
    pub seconds: u64,
    /// Billed minutes (each call's seconds rounded up to whole minutes) or SMS segments.
    pub units: u64,
    /// The sum of reported prices (positive), where `price_unit` is known.
    pub price: f64,
}

/// A usage trigger that fired, as stored and as the usage report lists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FiredTrigger {
    pub trigger: String,
    pub metric: String,
    pub period_start: String,
    pub fired_at: String,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
}

/// A call's seconds: Twilio's duration, else answered to ended as kaden saw it (the final
/// callback was missed), else 0 (never answered).
const CALL_SECONDS: Sql = Sql {
    sqlite: "COALESCE(duration_seconds,
        CASE WHEN answered_at IS NOT NULL AND ended_at IS NOT NULL
             THEN MAX(0, CAST(ROUND((julianday(ended_at) - julianday(answered_at)) * 86400) AS INTEGER))
        END, 0)",
    pg: "COALESCE(duration_seconds,
        CASE WHEN answered_at IS NOT NULL AND ended_at IS NOT NULL
             THEN GREATEST(0, CAST(ROUND(EXTRACT(EPOCH FROM
                      ended_at::timestamptz - answered_at::timestamptz)) AS BIGINT))
        END, 0)",
};

/// `billed_minutes` in SQL: per started minute, and at least one once answered (a call
/// picked up and hung up within the second is still billed).
const BILLED_MINUTES: Sql = Sql {
    sqlite: "CASE WHEN answered_at IS NOT NULL
        THEN MAX(1, ({CALL_SECONDS} + 59) / 60) ELSE ({CALL_SECONDS} + 59) / 60 END",
    pg: "CASE WHEN answered_at IS NOT NULL
        THEN GREATEST(1, ({CALL_SECONDS} + 59) / 60) ELSE ({CALL_SECONDS} + 59) / 60 END",
};

/// Sums are cast back to integers: PostgreSQL sums integers as `numeric`.
fn usage_sql(db: &Db, key: UsageKey) -> String {
    let seconds = db.pick(&CALL_SECONDS);
    let billed = db.pick(&BILLED_MINUTES).replace("{CALL_SECONDS}", seconds);
    format!(
        "SELECT {key}, u.kind, u.phone, CASE WHEN u.price IS NULL THEN NULL ELSE u.price_unit END,
                COUNT(*), CAST(SUM(u.answered) AS BIGINT), CAST(SUM(u.seconds) AS BIGINT),
                CAST(SUM(u.units) AS BIGINT), COALESCE(SUM(u.price), 0)
         FROM (SELECT 'call' AS kind, user_id, incident_id, placed_at AS at, phone, price,
                      price_unit, CASE WHEN answered_at IS NULL THEN 0 ELSE 1 END AS answered,
                      {seconds} AS seconds, {billed} AS units
               FROM calls WHERE sid IS NOT NULL
               UNION ALL
               SELECT 'sms', user_id, incident_id, at, phone, price, price_unit, 0, 0, segments
               FROM sms WHERE status = 'queued') u
         LEFT JOIN incidents i ON i.id = u.incident_id
         WHERE (CAST(?1 AS TEXT) IS NULL OR u.at >= ?1) AND (CAST(?2 AS TEXT) IS NULL OR u.at < ?2)
         GROUP BY 1, 2, 3, 4",
        key = key.sql(),
    )
}

/// Keeps what Twilio reported about a call (a value it did not report stays as it was),
/// and counts a price check made at `checked_at`.
fn keep_usage(
    conn: &Db,
    call_id: &str,
    usage: &CallUsage,
    checked_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    conn.execute("UPDATE calls SET sid = COALESCE(sid, ?6), duration_seconds = COALESCE(?2, duration_seconds),
                price = COALESCE(?3, price), price_unit = COALESCE(?4, price_unit),
                price_checks = price_checks + CASE WHEN CAST(?5 AS TEXT) IS NULL THEN 0 ELSE 1 END,
                price_checked_at = COALESCE(?5, price_checked_at)
         WHERE id = ?1",
        vals![
            call_id,
            usage.duration_seconds,
            usage.price.map(f64::abs),
            usage.price.and(usage.price_unit.as_deref()),
            checked_at.map(db_time),
            usage.sid
        ],
    )?;
    Ok(())
}

/// Calls placed through the provider (a sid known) and SMS it accepted in `[since, until)`
/// (either end open).
fn usage_groups(
    conn: &Db,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    key: UsageKey,
) -> Result<Vec<UsageGroup>, StoreError> {
    let rows = conn.query(
        &usage_sql(conn, key),
        vals![since.map(db_time), until.map(db_time)],
        |r| {
            let kind: String = r.get(1)?;
            let n = |i| r.get::<i64>(i).map(|v| v.max(0).unsigned_abs());
            Ok(UsageGroup {
                key: r.get(0)?,
                kind: if kind == "sms" {
                    UsageKind::Sms
                } else {
                    UsageKind::Call
                },
                phone: r.get(2)?,
                price_unit: r.get(3)?,
                count: n(4)?,
                answered: n(5)?,
                seconds: n(6)?,
                units: n(7)?,
                price: r.get(8)?,
            })
        },
    )?;
    Ok(rows)
}

fn fired_triggers(conn: &Db, since: Option<Timestamp>) -> Result<Vec<FiredTrigger>, StoreError> {
    let rows = conn.query(
        "SELECT trigger_id, metric, period_start, fired_at, value, threshold, message
         FROM usage_triggers_fired WHERE CAST(?1 AS TEXT) IS NULL OR fired_at >= ?1 ORDER BY fired_at",
        vals![since.map(db_time)],
        |r| {
            Ok(FiredTrigger {
                trigger: r.get(0)?,
                metric: r.get(1)?,
                period_start: r.get(2)?,
                fired_at: r.get(3)?,
                value: r.get(4)?,
                threshold: r.get(5)?,
                message: r.get(6)?,
            })
        },
    )?;
    Ok(rows)
}

/// Usage since `since` and the triggers fired since then, straight from the database file
/// (read-only): what `kaden usage` reads, with or without a running daemon.
pub fn usage_read_only(
    database: Database,
    since: Timestamp,
    until: Timestamp,
    key: UsageKey,
) -> Result<(Vec<UsageGroup>, Vec<FiredTrigger>), StoreError> {
    database.read(|conn| {
        Ok((
            usage_groups(conn, Some(since), Some(until), key)?,
            fired_triggers(conn, Some(since))?,
        ))
    })
}

/// Calls still without a price, not given up on; `?2` is the seconds after the end of a
/// call past which it is not asked about again.
const AWAITING_PRICE: Sql = Sql {
    sqlite: "SELECT id, sid, ended_at, price_checks, price_checked_at FROM calls
             WHERE price IS NULL AND sid IS NOT NULL AND ended_at IS NOT NULL
               AND price_checks < ?1
               AND (price_checked_at IS NULL
                    OR julianday(price_checked_at) < julianday(ended_at) + ?2 / 86400.0)
             ORDER BY ended_at",
    pg: "SELECT id, sid, ended_at, price_checks, price_checked_at FROM calls
         WHERE price IS NULL AND sid IS NOT NULL AND ended_at IS NOT NULL
           AND price_checks < ?1
           AND (price_checked_at IS NULL
                OR price_checked_at::timestamptz
                   < ended_at::timestamptz + make_interval(secs => ?2))
         ORDER BY ended_at",
};

impl Store {
    /// Usage in `[since, until)` (either end open), grouped by `key` and number.
    pub async fn usage(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        key: UsageKey,
    ) -> Result<Vec<UsageGroup>, StoreError> {
        self.call(move |conn| usage_groups(conn, since, until, key))
            .await
    }

    pub async fn fired_triggers(
        &self,
        since: Option<Timestamp>,
    ) -> Result<Vec<FiredTrigger>, StoreError> {
        self.call(move |conn| fired_triggers(conn, since)).await
    }

    /// Telephony errors recorded at or after `since`.
    pub async fn telephony_errors_since(&self, since: Timestamp) -> Result<u64, StoreError> {
        self.call(move |conn| {
            let count: i64 = conn.query_row(
                "SELECT COUNT(*) FROM telephony_errors WHERE at >= ?1",
                vals![db_time(since)],
                |r| r.get(0),
            )?;
            Ok(count.unsigned_abs())
        })
        .await
    }

    /// `record_call_usage` for callers with nothing better to do on failure than log it.
    pub async fn keep_call_usage(&self, call: &crate::escalation::CallId, usage: CallUsage) {
        if let Err(e) = self.record_call_usage(call.to_string(), usage).await {
            tracing::error!(call_id = %call, error = %e, "Cannot record a call's duration.");
        }
    }

    /// Keeps what Twilio reported about a call; a value it did not report stays as it was.
    pub async fn record_call_usage(
        &self,
        call_id: String,
        usage: CallUsage,
    ) -> Result<(), StoreError> {
        self.call(move |conn| keep_usage(conn, &call_id, &usage, None))
            .await
    }

    /// Calls placed through the provider that ended without a price, except those asked
    /// about `max_checks` times or last asked `last_check` or more after they ended (given
    /// up on), oldest first.
    pub async fn calls_awaiting_price(
        &self,
        max_checks: u32,
        last_check: SignedDuration,
    ) -> Result<Vec<AwaitingPrice>, StoreError> {
        self.call(move |conn| {
            let rows = conn.query(
                conn.pick(&AWAITING_PRICE),
                vals![max_checks, last_check.as_secs_f64()],
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<String>(1)?,
                        r.get::<String>(2)?,
                        r.get::<u32>(3)?,
                        r.get::<Option<String>>(4)?,
                    ))
                },
            )?;
            rows.into_iter()
                .map(|row| {
                    let (call_id, sid, ended_at, checks, checked_at) = row;
                    let corrupt =
                        |what: &str| StoreError::Corrupt(format!("call {call_id}: {what}"));
                    Ok(AwaitingPrice {
                        ended_at: ended_at.parse().map_err(|_| corrupt("ended_at"))?,
                        checked_at: checked_at
                            .map(|t| t.parse().map_err(|_| corrupt("price_checked_at")))
                            .transpose()?,
                        call_id,
                        sid,
                        checks,
                    })
                })
                .collect()
        })
        .await
    }

    /// Counts a price check of a call at `at`, keeping what Twilio reported with it.
    pub async fn record_price_check(
        &self,
        call_id: String,
        usage: CallUsage,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.call(move |conn| keep_usage(conn, &call_id, &usage, Some(at)))
            .await
    }

    pub async fn record_sms(&self, sms: SmsRecord, at: Timestamp) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO sms (at, user_id, incident_id, purpose, phone, segments, status, sid)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                vals![
                    db_time(at),
                    sms.user.as_ref().map(UserId::as_str),
                    sms.incident.map(IncidentId::get),
                    sms.purpose,
                    sms.phone,
                    sms.segments,
                    if sms.sid.is_some() {
                        "queued"
                    } else {
                        "failed"
                    },
                    sms.sid
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Records that a trigger fired for the period starting at `fired.period_start`;
    /// false when it had fired for that period already (before a restart, say).
    pub async fn claim_trigger(&self, fired: FiredTrigger) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let inserted = conn.execute(
                "INSERT INTO usage_triggers_fired
                    (trigger_id, period_start, fired_at, metric, value, threshold, message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                vals![
                    fired.trigger,
                    fired.period_start,
                    fired.fired_at,
                    fired.metric,
                    fired.value,
                    fired.threshold,
                    fired.message
                ],
            )?;
            Ok(inserted == 1)
        })
        .await
    }
}
