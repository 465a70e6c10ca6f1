//! Built-in ja-JP and en-US wording; any entry can be replaced in config under
//! `speech.templates`. Placeholders are `{name}`.

use crate::config::Language;
use std::collections::{BTreeMap, HashMap};

const JA: &[(&str, &str)] = &[
    ("greeting", "{name}さん、監視システムからの障害通知です。"),
    (
        "summary",
        "障害が{count}件発生しています。ホスト{hosts}件、サービス{services}件です。",
    ),
    ("recoveries", "復旧が{count}件あります。"),
    ("host_problem", "ホスト {host} が {state} です。{output}"),
    (
        "service_problem",
        "ホスト {host} のサービス {service} が {state} です。{output}",
    ),
    ("host_recovered", "ホスト {host} は復旧しました。"),
    (
        "service_recovered",
        "ホスト {host} のサービス {service} は復旧しました。",
    ),
    ("more", "ほか{count}件あります。"),
    ("acknowledged", "{count}件を認知済みにしました。"),
    ("nothing_to_acknowledge", "認知済みにする障害はありません。"),
    ("downtime", "{minutes}分間のダウンタイムを設定しました。"),
    ("passed_on", "次の担当者に回します。"),
    ("handled_by", "{name}さんが対応を開始しました。"),
    ("nothing_pending", "対応が必要な障害はありません。"),
    (
        "menu",
        "詳細を聞くには{details}、次の担当者に回すには{pass}、詳細を聞いた障害を認知済みにするには{acknowledge_details}、\
         ダウンタイムを設定するには{downtime}、すべて認知済みにして終了するには{acknowledge_all}を押し、最後にシャープを押してください。",
    ),
    ("closing", "ご対応よろしくお願いします。"),
    ("separator", " "),
    (
        "sms_exhausted",
        "kaden: インシデント{incident}は{rounds}巡しても応答がありませんでした。未対応の障害{count}件。",
    ),
    (
        "sms_call_cap",
        "kaden: 1時間あたりの発信上限{cap}件に達したため、インシデント{incident}の電話を保留しています。",
    ),
];

const EN: &[(&str, &str)] = &[
    (
        "greeting",
        "Hello {name}, this is the monitoring alert line.",
    ),
    (
        "summary",
        "Problems: {count}. Hosts: {hosts}. Services: {services}.",
    ),
    ("recoveries", "Recovered: {count}."),
    ("host_problem", "Host {host} is {state}. {output}"),
    (
        "service_problem",
        "Service {service} on host {host} is {state}. {output}",
    ),
    ("host_recovered", "Host {host} has recovered."),
    (
        "service_recovered",
        "Service {service} on host {host} has recovered.",
    ),
    ("more", "And {count} more."),
    ("acknowledged", "Acknowledged: {count}."),
    ("nothing_to_acknowledge", "Nothing to acknowledge."),
    ("downtime", "Downtime set for {minutes} minutes."),
    ("passed_on", "Passing this on to the next person."),
    ("handled_by", "{name} is handling this."),
    ("nothing_pending", "Nothing needs your attention."),
    (
        "menu",
        "Press {details} for details, {pass} to pass to the next person, {acknowledge_details} to acknowledge what you heard in detail, \
         {downtime} for downtime, or {acknowledge_all} to acknowledge everything, then press the pound key.",
    ),
    ("closing", "Thank you."),
    ("separator", " "),
    (
        "sms_exhausted",
        "kaden: nobody acknowledged incident {incident} after {rounds} rounds; {count} problem(s) open.",
    ),
    (
        "sms_call_cap",
        "kaden: the hourly cap of {cap} calls is reached; calls for incident {incident} are on hold.",
    ),
];

pub struct Templates(HashMap<&'static str, String>);

impl Templates {
    pub fn new(language: Language, overrides: &BTreeMap<String, String>) -> Self {
        let base = match language {
            Language::JaJp => JA,
            Language::EnUs => EN,
        };
        let map = base
            .iter()
            .map(|(name, text)| {
                (
                    *name,
                    overrides
                        .get(*name)
                        .cloned()
                        .unwrap_or_else(|| (*text).to_owned()),
                )
            })
            .collect();
        Templates(map)
    }

    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    pub fn fill(&self, name: &str, values: &[(&str, &str)]) -> String {
        values
            .iter()
            .fold(self.get(name).to_owned(), |text, (key, value)| {
                text.replace(&format!("{{{key}}}"), value)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TEMPLATE_NAMES;

    #[test]
    fn both_languages_define_every_template() {
        for table in [JA, EN] {
            let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, TEMPLATE_NAMES);
        }
    }

    #[test]
    fn config_overrides_replace_built_ins() {
        let overrides = [(
            "closing".to_owned(),
            "以上、監視センターでした。".to_owned(),
        )]
        .into_iter()
        .collect();
        let t = Templates::new(Language::JaJp, &overrides);
        assert_eq!(t.get("closing"), "以上、監視センターでした。");
        assert_eq!(t.fill("more", &[("count", "3")]), "ほか3件あります。");
    }
}
