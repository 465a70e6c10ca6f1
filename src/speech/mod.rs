//! Words: prompts and SMS rendered in the configured language, with the pronunciation
//! rules applied to everything that came from a monitoring system.

mod templates;

pub use templates::Templates;

use crate::config::{Config, Language};
use crate::domain::{Key, Keypad, UserId};
use crate::escalation::{ItemStatus, ItemView, Line, Prompt, SmsMessage};
use crate::pronunciation::{DigitNames, Pronunciation, RulesError, Token};
use std::collections::HashMap;

/// What one call reads of a name (host, service, state, person) or of a check's output.
/// Monitoring data is not bounded (a 1 MB host name is a valid Zabbix value); a call must
/// be, or the TwiML grows past what Twilio accepts and the callee hears nothing useful.
const MAX_NAME_CHARS: usize = 80;
const MAX_OUTPUT_CHARS: usize = 200;
/// What one prompt reads at most. Readings are longer than what they read (LDAP →
/// エルディーエーピー), and Twilio refuses TwiML over 64 KB; 6,000 characters is under
/// 20 KB of UTF-8. Details beyond it are summarized as "and N more", never cut.
const MAX_PROMPT_CHARS: usize = 6_000;

/// The first `max` characters of `text`, ending between words when it can, so that the
/// voice is not given half a word to read.
fn clip(text: &str, max: usize) -> &str {
    let Some((end, _)) = text.char_indices().nth(max) else {
        return text;
    };
    let head = &text[..end];
    match head.rfind(char::is_whitespace) {
        Some(space) if space >= end / 2 => head[..space].trim_end(),
        _ => head,
    }
}

/// How a user is addressed and greeted.
struct Voice {
    name: String,
    greeting: Option<String>,
    closing: Option<String>,
}

pub struct Speech {
    pub language: Language,
    /// The TwiML `<Say voice>`.
    pub voice: String,
    rules: Pronunciation,
    templates: Templates,
    users: HashMap<UserId, Voice>,
    /// What the menu names as each entry's key.
    keys: Keypad,
}

impl Speech {
    pub fn from_config(config: &Config) -> Result<Speech, RulesError> {
        let language = config.locale.language;
        let digits = match language {
            Language::JaJp => DigitNames::Japanese,
            Language::EnUs => DigitNames::English,
        };
        let users = config
            .users
            .iter()
            .map(|u| {
                let voice = Voice {
                    name: u.name.clone(),
                    greeting: u.greeting.clone(),
                    closing: u.closing.clone(),
                };
                (u.id.clone(), voice)
            })
            .collect();
        Ok(Speech {
            language,
            voice: config.speech.voice.clone(),
            rules: Pronunciation::load(&config.pronunciation, digits)?,
            templates: Templates::new(language, &config.speech.templates),
            users,
            keys: config.keys,
        })
    }

    /// Words for `language` with the built-in templates and rules (for `kaden say`
    /// without a config).
    pub fn builtin(language: Language) -> Speech {
        let digits = match language {
            Language::JaJp => DigitNames::Japanese,
            Language::EnUs => DigitNames::English,
        };
        Speech {
            language,
            voice: String::new(),
            rules: Pronunciation::builtin(digits),
            templates: Templates::new(language, &Default::default()),
            users: HashMap::new(),
            keys: Keypad::default(),
        }
    }

    pub fn language_tag(&self) -> &'static str {
        match self.language {
            Language::JaJp => "ja-JP",
            Language::EnUs => "en-US",
        }
    }

    /// What text-to-speech is given for `text` (used by `kaden say`).
    pub fn pronounce(&self, text: &str) -> String {
        self.rules.apply(text)
    }

    /// Each token of `text` with its reading and the rule that made it (`say --explain`).
    pub fn explain(&self, text: &str) -> Vec<Token> {
        self.rules.explain(text)
    }

    pub fn name_of(&self, user: &UserId) -> String {
        self.users.get(user).map_or_else(
            || clip(user.as_str(), MAX_NAME_CHARS).to_owned(),
            |v| v.name.clone(),
        )
    }

    /// One spoken text for the whole prompt.
    pub fn render(&self, prompt: &Prompt) -> String {
        let mut sentences: Vec<String> = Vec::new();
        let mut used = 0;
        let mut dropped = 0;
        // Room kept for the lines after the details (the count of the rest, the menu).
        let tail: usize = prompt
            .lines
            .iter()
            .filter(|l| !matches!(l, Line::Detail(_)))
            .map(|l| self.line(l).chars().count())
            .sum::<usize>()
            + 100;
        for line in &prompt.lines {
            let text = match line {
                Line::Detail(_) if dropped > 0 => {
                    dropped += 1;
                    continue;
                }
                Line::Detail(_) => {
                    let text = self.line(line);
                    if used + text.chars().count() + tail > MAX_PROMPT_CHARS {
                        dropped += 1;
                        continue;
                    }
                    text
                }
                Line::More { count } if dropped > 0 => self.line(&Line::More {
                    count: count + std::mem::take(&mut dropped),
                }),
                _ if dropped > 0 => {
                    let more = self.line(&Line::More {
                        count: std::mem::take(&mut dropped),
                    });
                    sentences.push(more);
                    self.line(line)
                }
                _ => self.line(line),
            };
            if !text.is_empty() {
                used += text.chars().count();
                sentences.push(text);
            }
        }
        if dropped > 0 {
            sentences.push(self.line(&Line::More { count: dropped }));
        }
        sentences.join(self.templates.get("separator"))
    }

    fn line(&self, line: &Line) -> String {
        let t = &self.templates;
        match line {
            Line::Greeting { user } => {
                let voice = self.users.get(user);
                match voice.and_then(|v| v.greeting.clone()) {
                    Some(custom) => custom,
                    None => t.fill("greeting", &[("name", &self.name_of(user))]),
                }
            }
            Line::Summary {
                host_problems,
                service_problems,
                recoveries,
            } => {
                let problems = host_problems + service_problems;
                let mut out = Vec::new();
                if problems > 0 {
                    out.push(t.fill(
                        "summary",
                        &[
                            ("count", &problems.to_string()),
                            ("hosts", &host_problems.to_string()),
                            ("services", &service_problems.to_string()),
                        ],
                    ));
                }
                if *recoveries > 0 {
                    out.push(t.fill("recoveries", &[("count", &recoveries.to_string())]));
                }
                out.join(t.get("separator"))
            }
            Line::Detail(view) => self.detail(view),
            Line::More { count } => t.fill("more", &[("count", &count.to_string())]),
            Line::Acknowledged { count: 0 } => t.get("nothing_to_acknowledge").to_owned(),
            Line::Acknowledged { count } => {
                t.fill("acknowledged", &[("count", &count.to_string())])
            }
            Line::Downtime { minutes } => t.fill("downtime", &[("minutes", &minutes.to_string())]),
            Line::PassedOn => t.get("passed_on").to_owned(),
            Line::HandledBy { name } => t.fill(
                "handled_by",
                &[("name", &self.name_of(&UserId::new(name.clone())))],
            ),
            Line::NothingPending => t.get("nothing_pending").to_owned(),
            Line::Menu => {
                let keys: Vec<(&str, String)> = Key::MENU
                    .into_iter()
                    .filter_map(|entry| {
                        Some((entry.name(), self.key_word(self.keys.key_of(entry)?)))
                    })
                    .collect();
                let keys: Vec<(&str, &str)> = keys.iter().map(|(n, w)| (*n, w.as_str())).collect();
                t.fill("menu", &keys)
            }
            Line::Closing { user } => match self.users.get(user).and_then(|v| v.closing.clone()) {
                Some(custom) => custom,
                None => t.get("closing").to_owned(),
            },
        }
    }

    /// How the menu says a key: the digit itself, or the star key's name.
    fn key_word(&self, key: char) -> String {
        match (key, self.language) {
            ('*', Language::JaJp) => "米印".to_owned(),
            ('*', Language::EnUs) => "star".to_owned(),
            (digit, _) => digit.to_string(),
        }
    }

    fn detail(&self, v: &ItemView) -> String {
        let name = |text: &str| self.pronounce(clip(text, MAX_NAME_CHARS));
        let host = name(&v.host);
        let state = name(&v.state_word);
        let output = self.pronounce(clip(&v.output, MAX_OUTPUT_CHARS));
        let t = &self.templates;
        match (&v.status, &v.service) {
            (ItemStatus::Problem, None) => t.fill(
                "host_problem",
                &[("host", &host), ("state", &state), ("output", &output)],
            ),
            (ItemStatus::Problem, Some(service)) => t.fill(
                "service_problem",
                &[
                    ("host", &host),
                    ("service", &name(service)),
                    ("state", &state),
                    ("output", &output),
                ],
            ),
            (ItemStatus::Recovered, None) => t.fill("host_recovered", &[("host", &host)]),
            (ItemStatus::Recovered, Some(service)) => t.fill(
                "service_recovered",
                &[("host", &host), ("service", &name(service))],
            ),
        }
    }

    pub fn sms(&self, message: &SmsMessage) -> String {
        let t = &self.templates;
        match message {
            SmsMessage::Exhausted {
                incident,
                rounds,
                unacknowledged,
            } => t.fill(
                "sms_exhausted",
                &[
                    ("incident", &incident.to_string()),
                    ("rounds", &rounds.to_string()),
                    ("count", &unacknowledged.to_string()),
                ],
            ),
            SmsMessage::CallCapReached { incident, cap } => t.fill(
                "sms_call_cap",
                &[
                    ("incident", &incident.to_string()),
                    ("cap", &cap.to_string()),
                ],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::After;

    fn speech(language: Language) -> Speech {
        let digits = match language {
            Language::JaJp => DigitNames::Japanese,
            Language::EnUs => DigitNames::English,
        };
        Speech {
            language,
            voice: "Polly.Kazuha-Neural".into(),
            rules: Pronunciation::builtin(digits),
            templates: Templates::new(language, &Default::default()),
            users: [(
                UserId::new("yamada"),
                Voice {
                    name: "山田".into(),
                    greeting: None,
                    closing: Some("以上です。".into()),
                },
            )]
            .into_iter()
            .collect(),
            keys: Keypad::default(),
        }
    }

    #[test]
    fn the_menu_names_the_configured_keys() {
        let mut s = speech(Language::JaJp);
        assert_eq!(
            s.line(&Line::Menu),
            "詳細を聞くには1、次の担当者に回すには2、詳細を聞いた障害を認知済みにするには3、\
             ダウンタイムを設定するには4、すべて認知済みにして終了するには9を押し、最後にシャープを押してください。"
        );
        s.keys = Keypad {
            details: '5',
            acknowledge_all: '*',
            ..Keypad::default()
        };
        let menu = s.line(&Line::Menu);
        assert!(menu.starts_with("詳細を聞くには5、"), "{menu}");
        assert!(menu.contains("終了するには米印を押し"), "{menu}");
        let mut s = speech(Language::EnUs);
        assert_eq!(
            s.line(&Line::Menu),
            "Press 1 for details, 2 to pass to the next person, 3 to acknowledge what you heard in detail, \
             4 for downtime, or 9 to acknowledge everything, then press the pound key."
        );
        s.keys.acknowledge_all = '*';
        assert!(
            s.line(&Line::Menu)
                .contains("or star to acknowledge everything")
        );
    }

    #[test]
    fn japanese_call_reads_naturally() {
        let prompt = Prompt {
            lines: vec![
                Line::Greeting {
                    user: UserId::new("yamada"),
                },
                Line::Summary {
                    host_problems: 1,
                    service_problems: 2,
                    recoveries: 0,
                },
                Line::Detail(ItemView {
                    host: "db_server-01".into(),
                    service: Some("HTTP".into()),
                    status: ItemStatus::Problem,
                    state_word: "CRITICAL".into(),
                    output: "HTTP CRITICAL - 503".into(),
                }),
                Line::Closing {
                    user: UserId::new("yamada"),
                },
            ],
            after: After::Hangup,
        };
        assert_eq!(
            speech(Language::JaJp).render(&prompt),
            "山田さん、監視システムからの障害通知です。 障害が3件発生しています。ホスト1件、サービス2件です。 \
             ホスト データベース サーバー ゼロイチ のサービス エイチティーティーピー が クリティカル です。\
             エイチティーティーピー クリティカル - 503 以上です。"
        );
    }

    #[test]
    fn recoveries_and_counts_are_summarized() {
        let s = speech(Language::JaJp);
        let only_recovery = Line::Summary {
            host_problems: 0,
            service_problems: 0,
            recoveries: 2,
        };
        assert_eq!(s.line(&only_recovery), "復旧が2件あります。");
        assert_eq!(s.line(&Line::More { count: 12 }), "ほか12件あります。");
        let en = speech(Language::EnUs);
        assert_eq!(
            en.line(&Line::Summary {
                host_problems: 0,
                service_problems: 1,
                recoveries: 0
            }),
            "Problems: 1. Hosts: 0. Services: 1."
        );
    }

    #[test]
    fn details_beyond_the_bound_are_summarized_not_cut() {
        let s = speech(Language::JaJp);
        let host = "LDAP".repeat(20);
        let output = "WWWW ".repeat(40);
        let detail = Line::Detail(ItemView {
            host: host.clone(),
            service: Some("SNMP".into()),
            status: ItemStatus::Problem,
            state_word: "CRITICAL".into(),
            output: output.clone(),
        });
        let one = s.line(&detail);
        let mut lines = vec![detail; 10];
        lines.push(Line::More { count: 5 });
        lines.push(Line::Menu);
        let text = s.render(&Prompt {
            lines,
            after: After::Hangup,
        });
        assert!(
            text.chars().count() <= MAX_PROMPT_CHARS,
            "{}",
            text.chars().count()
        );
        let shown = text.matches(one.as_str()).count();
        assert!((1..10).contains(&shown), "{shown} details shown");
        let more = s.line(&Line::More {
            count: 5 + 10 - shown,
        });
        assert!(
            text.contains(&format!("{one} {more} {}", s.line(&Line::Menu))),
            "{text}"
        );
        let twiml = crate::telephony::twiml::hangup(
            &text,
            &crate::telephony::twiml::Voice {
                voice: "Polly.Kazuha-Neural",
                language: "ja-JP",
            },
        );
        assert!(
            twiml.len() < 64 * 1024 / 2,
            "{} bytes of TwiML",
            twiml.len()
        );
    }

    #[test]
    fn a_huge_alert_makes_a_call_of_bounded_length() {
        let huge = "web".repeat(350_000);
        let detail = |host: &str| {
            Line::Detail(ItemView {
                host: host.into(),
                service: Some(huge.clone()),
                status: ItemStatus::Problem,
                state_word: huge.clone(),
                output: huge.clone(),
            })
        };
        let s = speech(Language::EnUs);
        let text = s.render(&Prompt {
            lines: vec![detail(&huge), Line::HandledBy { name: huge.clone() }],
            after: After::Hangup,
        });
        assert!(text.contains("on host webwebweb"), "{text}");
        assert!(text.chars().count() < 1000, "{} characters", text.len());
        let twiml = crate::telephony::twiml::hangup(
            &text,
            &crate::telephony::twiml::Voice {
                voice: "Polly.Joanna",
                language: "en-US",
            },
        );
        assert!(twiml.len() < 4000, "{} bytes of TwiML", twiml.len());
        assert_eq!(clip("ab障害", 3), "ab障");
        assert_eq!(clip("disk space is low", 12), "disk space");
        assert_eq!(clip("ab", 3), "ab");
    }
}
