//! Pronunciation rules: rewrite what text-to-speech would misread (db → データベース).
//!
//! Literal rules replace whole words (not touching other ASCII letters, so `db` matches
//! in `db_server` and `db01` but not in `mongodb`), longest match first, ignoring ASCII
//! case unless a rule says otherwise. X-MON's `WORD,読み` CSV lines replace substrings
//! anywhere, as X-MON does, so an X-MON list works as it is. Regex rules run first, in
//! file order. Then identifiers are made readable:
//! a digit run inside a name (web-01, db2) is read digit by digit, and `_` / `-` become a
//! short pause.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read pronunciation rules {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: u64,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<serde_saphyr::Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    literal: Option<String>,
    regex: Option<String>,
    say: String,
    #[serde(default)]
    case_sensitive: bool,
    /// Replace inside words too (X-MON's behaviour).
    #[serde(default)]
    substring: bool,
}

/// A literal rule: `word` → `say`; `anywhere` allows matches inside other words.
struct Literal {
    word: String,
    say: String,
    anywhere: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigitNames {
    Japanese,
    English,
}

impl DigitNames {
    fn name(self, digit: char) -> &'static str {
        let i = digit.to_digit(10).unwrap_or(0) as usize;
        match self {
            DigitNames::Japanese => [
                "ゼロ",
                "イチ",
                "ニ",
                "サン",
                "ヨン",
                "ゴ",
                "ロク",
                "ナナ",
                "ハチ",
                "キュウ",
            ][i],
            DigitNames::English => [
                "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            ][i],
        }
    }
}

/// A compiled rule set.
pub struct Pronunciation {
    regexes: Vec<(Regex, String)>,
    literals: Option<(AhoCorasick, Vec<Literal>)>,
    digits: DigitNames,
}

impl Pronunciation {
    pub fn load(paths: &[PathBuf], digits: DigitNames) -> Result<Self, RulesError> {
        let mut regexes = Vec::new();
        let mut literals = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
                path: path.clone(),
                source,
            })?;
            if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
            {
                literals.extend(parse_csv(path, &text)?);
            } else {
                parse_yaml(path, &text, &mut regexes, &mut literals)?;
            }
        }
        Ok(Self::from_rules(regexes, literals, digits))
    }

    fn from_rules(
        regexes: Vec<(Regex, String)>,
        literals: Vec<Literal>,
        digits: DigitNames,
    ) -> Self {
        let literals = (!literals.is_empty()).then(|| {
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(literals.iter().map(|l| &l.word))
                .expect("literal patterns always build");
            (automaton, literals)
        });
        Pronunciation {
            regexes,
            literals,
            digits,
        }
    }

    /// The starter set shipped in rules/pronunciation/ja.yaml, used when the config lists
    /// no rules of its own (Japanese only: English voices read English).
    pub fn builtin(digits: DigitNames) -> Self {
        if digits == DigitNames::English {
            return Self::from_rules(Vec::new(), Vec::new(), digits);
        }
        let mut regexes = Vec::new();
        let mut literals = Vec::new();
        parse_yaml(
            Path::new("rules/pronunciation/ja.yaml"),
            include_str!("../../rules/pronunciation/ja.yaml"),
            &mut regexes,
            &mut literals,
        )
        .expect("the shipped rules parse; a test loads them");
        Self::from_rules(regexes, literals, digits)
    }

    /// What text-to-speech is given for `text`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (re, say) in &self.regexes {
            out = re.replace_all(&out, say.as_str()).into_owned();
        }
        if let Some((automaton, literals)) = &self.literals {
            out = replace_literals(&out, automaton, literals);
        }
        self.read_identifiers(&out)
    }

    fn read_identifiers(&self, text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        let is_name_char =
            |c: Option<&char>| c.is_some_and(|c| c.is_alphabetic() || *c == '_' || *c == '-');
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_digit() {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let in_name = is_name_char(start.checked_sub(1).and_then(|p| chars.get(p)))
                    || is_name_char(chars.get(i));
                let run: String = chars[start..i].iter().collect();
                if in_name {
                    let sep = if self.digits == DigitNames::English {
                        " "
                    } else {
                        ""
                    };
                    let spoken: Vec<&str> = run.chars().map(|d| self.digits.name(d)).collect();
                    out.push_str(&spoken.join(sep));
                } else {
                    out.push_str(&run);
                }
                continue;
            }
            let between_words = i > 0
                && i + 1 < chars.len()
                && !chars[i - 1].is_whitespace()
                && !chars[i + 1].is_whitespace();
            if (c == '_' || c == '-') && between_words {
                out.push(' ');
            } else {
                out.push(c);
            }
            i += 1;
        }
        out
    }
}

/// Every match that respects its word boundary; then, left to right, the longest.
fn replace_literals(text: &str, automaton: &AhoCorasick, literals: &[Literal]) -> String {
    let bytes = text.as_bytes();
    let is_letter = |i: Option<usize>| {
        i.and_then(|i| bytes.get(i))
            .is_some_and(|b| b.is_ascii_alphabetic())
    };
    let mut matches: Vec<(usize, usize, usize)> = automaton
        .find_overlapping_iter(text)
        .filter(|m| {
            let rule = &literals[m.pattern().as_usize()];
            rule.anywhere || !(is_letter(m.start().checked_sub(1)) || is_letter(Some(m.end())))
        })
        .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
        .collect();
    matches.sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, rule) in matches {
        if start >= at {
            out.push_str(&text[at..start]);
            out.push_str(&literals[rule].say);
            at = end;
        }
    }
    out.push_str(&text[at..]);
    out
}

fn parse_csv(path: &Path, text: &str) -> Result<Vec<Literal>, RulesError> {
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((word, say)) = line.split_once(',') else {
            return Err(RulesError::Invalid {
                path: path.to_owned(),
                line: n as u64 + 1,
                message: format!("{line:?} is not WORD,読み"),
            });
        };
        rules.push(Literal {
            word: word.trim().to_owned(),
            say: say.trim().to_owned(),
            anywhere: true,
        });
    }
    Ok(rules)
}

fn parse_yaml(
    path: &Path,
    text: &str,
    regexes: &mut Vec<(Regex, String)>,
    literals: &mut Vec<Literal>,
) -> Result<(), RulesError> {
    let invalid = |line: u64, message: String| RulesError::Invalid {
        path: path.to_owned(),
        line,
        message,
    };
    let file: RulesFile = serde_saphyr::from_str(text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        invalid(
            line,
            e.to_string().lines().next().unwrap_or_default().to_owned(),
        )
    })?;
    for rule in file.rules {
        let line = rule.referenced.line();
        let r = rule.value;
        match (r.literal, r.regex) {
            (Some(word), None) if r.case_sensitive => {
                let re =
                    Regex::new(&regex::escape(&word)).map_err(|e| invalid(line, e.to_string()))?;
                regexes.push((re, r.say));
            }
            (Some(word), None) if !word.is_empty() => literals.push(Literal {
                word,
                say: r.say,
                anywhere: r.substring,
            }),
            (None, Some(pattern)) => {
                let pattern = if r.case_sensitive {
                    pattern
                } else {
                    format!("(?i){pattern}")
                };
                let re = Regex::new(&pattern)
                    .map_err(|e| invalid(line, format!("invalid regex: {e}")))?;
                regexes.push((re, r.say));
            }
            _ => {
                return Err(invalid(
                    line,
                    "a rule needs exactly one of match (a non-empty word) or regex".into(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(literals: &[(&str, &str)]) -> Pronunciation {
        let literals = literals
            .iter()
            .map(|(a, b)| Literal {
                word: a.to_string(),
                say: b.to_string(),
                anywhere: false,
            })
            .collect();
        Pronunciation::from_rules(Vec::new(), literals, DigitNames::Japanese)
    }

    #[test]
    fn longest_match_wins_and_case_is_ignored() {
        let r = rules(&[
            ("db", "データベース"),
            ("dbs", "ディービーエス"),
            ("TRAFFIC", "トラフィック"),
        ]);
        assert_eq!(r.apply("DB"), "データベース");
        assert_eq!(r.apply("dbs-01"), "ディービーエス ゼロイチ");
        assert_eq!(r.apply("traffic in"), "トラフィック in");
        assert_eq!(
            r.apply("mongodb db01"),
            "mongodb データベースゼロイチ",
            "whole words only"
        );
    }

    #[test]
    fn identifiers_read_naturally() {
        let r = rules(&[("db", "データベース"), ("server", "サーバー")]);
        assert_eq!(r.apply("db_server-01"), "データベース サーバー ゼロイチ");
        assert_eq!(
            r.apply("HTTP 503 Service"),
            "HTTP 503 Service",
            "a standalone number stays a number"
        );
        assert_eq!(r.apply("load 1.5"), "load 1.5");
        let en = Pronunciation::builtin(DigitNames::English);
        assert_eq!(en.apply("web-02"), "web zero two");
    }

    #[test]
    fn xmon_csv_is_read_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xmon.csv");
        std::fs::write(&path, "TRAFFIC,トラフィック\ndb,データベース\n\n").unwrap();
        let r = Pronunciation::load(&[path], DigitNames::Japanese).unwrap();
        assert_eq!(r.apply("db TRAFFIC"), "データベース トラフィック");
        assert_eq!(
            r.apply("mongodb"),
            "mongoデータベース",
            "X-MON lists replace substrings"
        );
    }

    #[test]
    fn bad_rules_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.yaml");
        std::fs::write(
            &path,
            "rules:\n  - { match: db, say: x }\n  - { regex: \"(\", say: y }\n",
        )
        .unwrap();
        let err = Pronunciation::load(std::slice::from_ref(&path), DigitNames::Japanese)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with(&format!("{}:3: invalid regex", path.display())),
            "{err}"
        );
        let csv = dir.path().join("bad.csv");
        std::fs::write(&csv, "ok,x\nno comma here\n").unwrap();
        let err = Pronunciation::load(std::slice::from_ref(&csv), DigitNames::Japanese)
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with(&format!("{}:2:", csv.display())), "{err}");
    }

    #[test]
    fn regex_rules_run_first_in_order() {
        let r = Pronunciation::from_rules(
            vec![(Regex::new("(?i)https?://\\S+").unwrap(), "URL".into())],
            vec![Literal {
                word: "url".into(),
                say: "ユーアールエル".into(),
                anywhere: false,
            }],
            DigitNames::Japanese,
        );
        assert_eq!(r.apply("see http://x.example/a"), "see ユーアールエル");
    }

    #[test]
    fn every_shipped_rules_file_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/pronunciation");
        let paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!paths.is_empty());
        let r = Pronunciation::load(&paths, DigitNames::Japanese).unwrap();
        assert_eq!(
            r.apply("db_server HTTP CRITICAL"),
            "データベース サーバー エイチティーティーピー クリティカル"
        );
    }
}
