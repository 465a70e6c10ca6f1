//! `telephony.rates` and `telephony.triggers`.

use super::Validator;
use crate::config::raw::{RawRates, RawTrigger};
use crate::config::yaml::{child_index, child_key};
use crate::config::{Rate, Rates, Trigger, TriggerMetric, TriggerPeriod, UsageConfig, User};
use crate::domain::UserId;
use std::collections::HashSet;

impl Validator<'_> {
    pub(super) fn usage(
        &mut self,
        rates: Option<RawRates>,
        triggers: Vec<RawTrigger>,
        users: &[User],
    ) -> UsageConfig {
        let rates = rates.map(|r| self.rates(r)).unwrap_or_default();
        self.unrated(&rates, users);
        let has_rates = !(rates.calls.is_empty() && rates.sms.is_empty());
        let ids: HashSet<&UserId> = users.iter().map(|u| &u.id).collect();
        UsageConfig {
            triggers: self.triggers(triggers, &ids, has_rates),
            rates,
        }
    }

    /// Numbers no rate covers get no estimate: said here rather than as a silent 0.
    fn unrated(&mut self, rates: &Rates, users: &[User]) {
        for (i, user) in users.iter().enumerate() {
            let phone = user.phone.as_str();
            let missing: Vec<&str> = [("calls", &rates.calls), ("sms", &rates.sms)]
                .into_iter()
                .filter(|(_, list)| {
                    !list.is_empty() && !list.iter().any(|r| phone.starts_with(&r.prefix))
                })
                .map(|(kind, _)| kind)
                .collect();
            if !missing.is_empty() {
                self.warn(
                    &child_key(&child_index("users", i), "phone"),
                    format!(
                        "no telephony.rates.{} prefix matches {phone}; its cost is not estimated",
                        missing.join(" or telephony.rates.")
                    ),
                );
            }
        }
    }

    fn rates(&mut self, raw: RawRates) -> Rates {
        let path = "telephony.rates";
        let currency = raw.currency.unwrap_or_else(|| Rates::default().currency);
        if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
            self.error(
                &child_key(path, "currency"),
                format!("{currency:?} is not an ISO 4217 currency code such as USD or JPY"),
            );
        }
        let calls = raw
            .calls
            .into_iter()
            .map(|r| (r.prefix, "per_minute", r.per_minute))
            .collect();
        let sms = raw
            .sms
            .into_iter()
            .map(|r| (r.prefix, "per_segment", r.per_segment))
            .collect();
        Rates {
            currency,
            calls: self.rate_list(&child_key(path, "calls"), calls),
            sms: self.rate_list(&child_key(path, "sms"), sms),
        }
    }

    fn rate_list(&mut self, list: &str, raw: Vec<(String, &str, f64)>) -> Vec<Rate> {
        let mut seen = HashSet::new();
        raw.into_iter()
            .enumerate()
            .map(|(i, (prefix, price_key, price))| {
                let path = child_index(list, i);
                let digits = prefix.strip_prefix('+').unwrap_or("");
                if !(1..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    self.error(
                        &child_key(&path, "prefix"),
                        format!(
                            "{prefix:?} is not a phone number prefix such as \"+81\" or \"+8190\""
                        ),
                    );
                } else if !seen.insert(prefix.clone()) {
                    self.error(
                        &child_key(&path, "prefix"),
                        format!("prefix {prefix:?} is listed twice in {list}"),
                    );
                }
                if !(price.is_finite() && price >= 0.0) {
                    self.error(
                        &child_key(&path, price_key),
                        format!("{price} is not a price; write 0 or more, e.g. 0.1"),
                    );
                }
                Rate { prefix, price }
            })
            .collect()
    }

    fn triggers(
        &mut self,
        raw: Vec<RawTrigger>,
        users: &HashSet<&UserId>,
        has_rates: bool,
    ) -> Vec<Trigger> {
        let list = "telephony.triggers";
        self.unique_ids(list, raw.iter().map(|t| t.id.as_str()));
        raw.into_iter()
            .enumerate()
            .map(|(i, t)| {
                let path = child_index(list, i);
                if t.id.is_empty() {
                    self.error(&child_key(&path, "id"), "a trigger needs an id");
                }
                let metric = TriggerMetric::ALL
                    .into_iter()
                    .find(|m| m.as_str() == t.metric)
                    .unwrap_or_else(|| {
                        self.error(
                            &child_key(&path, "metric"),
                            format!(
                                "unknown metric {:?}; use calls, minutes, sms, cost or errors",
                                t.metric
                            ),
                        );
                        TriggerMetric::Calls
                    });
                let period = TriggerPeriod::ALL
                    .into_iter()
                    .find(|p| p.as_str() == t.period)
                    .unwrap_or_else(|| {
                        self.error(
                            &child_key(&path, "period"),
                            format!("unknown period {:?}; use hour, day or month", t.period),
                        );
                        TriggerPeriod::Day
                    });
                if !(t.threshold.is_finite() && t.threshold > 0.0) {
                    self.error(
                        &child_key(&path, "threshold"),
                        format!("{} is not a threshold; write a number above 0", t.threshold),
                    );
                }
                if metric == TriggerMetric::Cost && !has_rates {
                    self.warn(
                        &child_key(&path, "metric"),
                        "without telephony.rates, cost counts only the prices Twilio reported, which come minutes after each call",
                    );
                }
                let notify = child_key(&path, "notify");
                let sms: Vec<UserId> = t
                    .notify
                    .sms
                    .into_iter()
                    .enumerate()
                    .map(|(j, user)| {
                        let user = UserId::new(user);
                        if !users.contains(&user) {
                            self.error(
                                &child_index(&child_key(&notify, "sms"), j),
                                format!("unknown user {:?}; add it under users:", user.as_str()),
                            );
                        }
                        user
                    })
                    .collect();
                let webhook = t
                    .notify
                    .webhook
                    .map(|raw| self.webhook_url(&child_key(&notify, "webhook"), &raw));
                if sms.is_empty() && webhook.is_none() {
                    self.warn(
                        &path,
                        "notify has neither sms nor webhook; crossing it is only logged",
                    );
                }
                Trigger {
                    id: t.id,
                    metric,
                    period,
                    threshold: t.threshold,
                    sms,
                    webhook,
                }
            })
            .collect()
    }
}
