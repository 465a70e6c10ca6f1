//! Pronunciation: what text-to-speech is given for text from a monitoring system.
//!
//! User rules run first and win: regex rules in file order, then literal rules (YAML
//! `match` replaces whole words, ASCII case ignored, longest first; X-MON's `WORD,読み`
//! CSV replaces substrings anywhere, as X-MON does). What they produce is spoken as
//! written. The rest goes to the reader (numbers, units, names, the built-in dictionary
//! under rules/pronunciation/ja/, acronyms, the katakana fallback).

mod katakana;
mod reader;
mod token;

pub use token::{DigitNames, Rule, Token};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use reader::{Dictionary, Reader};
use regex::Regex;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use token::Origin;

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

/// The built-in ja-JP dictionary, by domain; compiled in so the binary stands alone.
pub const DICTIONARY: &[(&str, &str)] = &[
    (
        "rules/pronunciation/ja/infrastructure.csv",
        include_str!("../../rules/pronunciation/ja/infrastructure.csv"),
    ),
    (
        "rules/pronunciation/ja/network.csv",
        include_str!("../../rules/pronunciation/ja/network.csv"),
    ),
    (
        "rules/pronunciation/ja/storage.csv",
        include_str!("../../rules/pronunciation/ja/storage.csv"),
    ),
    (
        "rules/pronunciation/ja/os.csv",
        include_str!("../../rules/pronunciation/ja/os.csv"),
    ),
    (
        "rules/pronunciation/ja/middleware.csv",
        include_str!("../../rules/pronunciation/ja/middleware.csv"),
    ),
    (
        "rules/pronunciation/ja/database.csv",
        include_str!("../../rules/pronunciation/ja/database.csv"),
    ),
    (
        "rules/pronunciation/ja/cloud.csv",
        include_str!("../../rules/pronunciation/ja/cloud.csv"),
    ),
    (
        "rules/pronunciation/ja/monitoring.csv",
        include_str!("../../rules/pronunciation/ja/monitoring.csv"),
    ),
    (
        "rules/pronunciation/ja/states.csv",
        include_str!("../../rules/pronunciation/ja/states.csv"),
    ),
    (
        "rules/pronunciation/ja/words.csv",
        include_str!("../../rules/pronunciation/ja/words.csv"),
    ),
];

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
    origin: Origin,
}

/// The rules of one user file.
#[derive(Default)]
struct UserRules {
    regexes: Vec<(Regex, String, Origin)>,
    literals: Vec<Literal>,
}

/// A compiled rule set.
pub struct Pronunciation {
    regexes: Vec<(Regex, String, Origin)>,
    literals: Option<(AhoCorasick, Vec<Literal>)>,
    dictionary: Dictionary,
    digits: DigitNames,
}

/// A stretch of input: not yet read, or read by a user rule.
enum Segment {
    Raw(String),
    Ruled(Token),
}

impl Pronunciation {
    /// The built-in dictionary (ja-JP) with the rules of `paths` over it.
    pub fn load(paths: &[PathBuf], digits: DigitNames) -> Result<Self, RulesError> {
        let mut rules = UserRules::default();
        for path in paths {
            let file = read_rules_file(path)?;
            rules.regexes.extend(file.regexes);
            rules.literals.extend(file.literals);
        }
        Ok(Self::from_rules(rules, digits))
    }

    /// The built-in dictionary alone.
    pub fn builtin(digits: DigitNames) -> Self {
        Self::from_rules(UserRules::default(), digits)
    }

    fn from_rules(rules: UserRules, digits: DigitNames) -> Self {
        let literals = (!rules.literals.is_empty()).then(|| {
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(rules.literals.iter().map(|l| &l.word))
                .expect("literal patterns always build");
            (automaton, rules.literals)
        });
        let dictionary = match digits {
            DigitNames::Japanese => {
                builtin_dictionary().expect("the shipped dictionary loads; a test checks it")
            }
            // English voices read English.
            DigitNames::English => Dictionary::new(),
        };
        Pronunciation {
            regexes: rules.regexes,
            literals,
            dictionary,
            digits,
        }
    }

    /// What text-to-speech is given for `text`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() * 2);
        for token in self.explain(text) {
            out.push_str(&token.reading);
        }
        tidy(&out)
    }

    /// Each token of `text`, its reading and the rule that made it.
    pub fn explain(&self, text: &str) -> Vec<Token> {
        let mut segments = vec![Segment::Raw(text.to_owned())];
        for (re, say, origin) in &self.regexes {
            segments = split_raw(segments, |raw, out| {
                let mut at = 0;
                for c in re.captures_iter(raw) {
                    let m = c.get(0).expect("group 0 is the match");
                    if m.is_empty() {
                        continue;
                    }
                    let mut reading = String::new();
                    c.expand(say, &mut reading);
                    out.push(Segment::Raw(raw[at..m.start()].to_owned()));
                    let rule = Rule::User(origin.clone());
                    out.push(Segment::Ruled(Token::new(m.as_str(), &reading, rule)));
                    at = m.end();
                }
                out.push(Segment::Raw(raw[at..].to_owned()));
            });
        }
        if let Some((automaton, literals)) = &self.literals {
            segments = split_raw(segments, |raw, out| {
                replace_literals(raw, automaton, literals, out)
            });
        }
        let reader = Reader {
            dictionary: &self.dictionary,
            digits: self.digits,
        };
        let mut tokens = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            match segment {
                Segment::Ruled(token) => tokens.push(token.clone()),
                Segment::Raw(raw) => {
                    let ruled = |j: Option<usize>| {
                        j.and_then(|j| segments.get(j))
                            .is_some_and(|s| matches!(s, Segment::Ruled(_)))
                    };
                    let glued = (
                        ruled(i.checked_sub(1)) && !raw.starts_with(char::is_whitespace),
                        ruled(Some(i + 1)) && !raw.ends_with(char::is_whitespace),
                    );
                    // A rule's reading and the name digits after it (db → データベース,
                    // then 01) are two words.
                    let pause = || Token::new("", " ", Rule::Pause);
                    if glued.0 {
                        tokens.push(pause());
                    }
                    reader.read(raw, glued, &mut tokens);
                    if glued.1 {
                        tokens.push(pause());
                    }
                }
            }
        }
        tokens
    }
}

/// Collapses white space, and drops it around Japanese punctuation.
fn tidy(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = collapsed
        .replace(" 、", "、")
        .replace("、 ", "、")
        .replace(" 。", "。")
        .replace("。 ", "。");
    while out.contains("、、") {
        out = out.replace("、、", "、");
    }
    out.trim_matches('、').to_owned()
}

/// Replaces every raw segment by what `f` makes of it, dropping empty raw ones.
fn split_raw(segments: Vec<Segment>, mut f: impl FnMut(&str, &mut Vec<Segment>)) -> Vec<Segment> {
    let mut out = Vec::with_capacity(segments.len());
    for segment in segments {
        match segment {
            Segment::Raw(raw) => f(&raw, &mut out),
            ruled => out.push(ruled),
        }
    }
    out.retain(|s| !matches!(s, Segment::Raw(r) if r.is_empty()));
    out
}

/// Every match that respects its word boundary; then, left to right, the longest.
fn replace_literals(
    text: &str,
    automaton: &AhoCorasick,
    literals: &[Literal],
    out: &mut Vec<Segment>,
) {
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
    let mut at = 0;
    for (start, end, rule) in matches {
        if start >= at {
            out.push(Segment::Raw(text[at..start].to_owned()));
            let rule = &literals[rule];
            let token = Token::new(
                &text[start..end],
                &rule.say,
                Rule::User(rule.origin.clone()),
            );
            out.push(Segment::Ruled(token));
            at = end;
        }
    }
    out.push(Segment::Raw(text[at..].to_owned()));
}

/// A rules file as text: UTF-8 (a BOM is dropped) or, failing that, Shift_JIS (CP932),
/// which is how Excel on Windows saves X-MON lists.
fn decode(path: &Path, bytes: &[u8]) -> Result<String, RulesError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    let (text, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(RulesError::Invalid {
            path: path.to_owned(),
            line: 1,
            message: "the file is neither UTF-8 nor Shift_JIS (CP932); save it in one of them"
                .into(),
        });
    }
    Ok(text.into_owned())
}

/// One user rules file, parsed as `serve` and `check-config` both use it.
fn read_rules_file(path: &Path) -> Result<UserRules, RulesError> {
    let bytes = std::fs::read(path).map_err(|source| RulesError::Read {
        path: path.to_owned(),
        source,
    })?;
    let text = decode(path, &bytes)?;
    let mut rules = UserRules::default();
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        for (word, say, origin) in parse_csv(path, &text)? {
            rules.literals.push(Literal {
                word,
                say,
                anywhere: true,
                origin,
            });
        }
    } else {
        parse_yaml(path, &text, &mut rules)?;
    }
    Ok(rules)
}

/// Checks one rules file (for `check-config`); the error names the file and line.
pub fn check_rules_file(path: &Path) -> Result<(), RulesError> {
    read_rules_file(path).map(drop)
}

/// Header names X-MON users put over their two columns.
const HEADER_WORDS: &[&str] = &[
    "word",
    "reading",
    "match",
    "say",
    "from",
    "to",
    "before",
    "after",
    "置換前",
    "置換後",
    "変換前",
    "変換後",
    "置き換え前",
    "置き換え後",
    "文字",
    "文字列",
    "読み",
    "読み方",
    "単語",
];

/// `WORD,読み` records: quoted fields, a header line and `#` comments allowed.
fn parse_csv(path: &Path, text: &str) -> Result<Vec<(String, String, Origin)>, RulesError> {
    let file: Arc<str> = path.display().to_string().into();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rules = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| RulesError::Invalid {
            path: path.to_owned(),
            line: e.position().map_or(0, |p| p.line()),
            message: format!("not a CSV record: {e}"),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let fields: Vec<&str> = record.iter().collect();
        if fields.iter().all(|f| f.is_empty()) {
            continue;
        }
        if i == 0
            && fields
                .iter()
                .all(|f| HEADER_WORDS.contains(&f.to_lowercase().as_str()))
        {
            continue;
        }
        match fields.as_slice() {
            [word, say] if !word.is_empty() => rules.push((
                (*word).to_owned(),
                (*say).to_owned(),
                Origin {
                    file: file.clone(),
                    line,
                },
            )),
            _ => {
                return Err(RulesError::Invalid {
                    path: path.to_owned(),
                    line,
                    message: format!(
                        "{:?} is not WORD,読み (two fields, the word not empty)",
                        fields.join(",")
                    ),
                });
            }
        }
    }
    Ok(rules)
}

/// The shipped dictionary; a word listed twice is an error naming both places.
pub fn builtin_dictionary() -> Result<Dictionary, RulesError> {
    let mut dictionary = Dictionary::new();
    for (file, text) in DICTIONARY {
        let path = Path::new(file);
        for (word, reading, origin) in parse_csv(path, text)? {
            if let Some(first) = dictionary.insert(&word, reading, origin.clone()) {
                return Err(RulesError::Invalid {
                    path: path.to_owned(),
                    line: origin.line,
                    message: format!("{word:?} is already in the dictionary at {first}"),
                });
            }
        }
    }
    Ok(dictionary)
}

fn parse_yaml(path: &Path, text: &str, rules: &mut UserRules) -> Result<(), RulesError> {
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
    let name: Arc<str> = path.display().to_string().into();
    for rule in file.rules {
        let line = rule.referenced.line();
        let origin = Origin {
            file: name.clone(),
            line,
        };
        let r = rule.value;
        match (r.literal, r.regex) {
            (Some(word), None) if r.case_sensitive && !word.is_empty() => {
                let re =
                    Regex::new(&regex::escape(&word)).map_err(|e| invalid(line, e.to_string()))?;
                rules.regexes.push((re, r.say, origin));
            }
            (Some(word), None) if !word.is_empty() => rules.literals.push(Literal {
                word,
                say: r.say,
                anywhere: r.substring,
                origin,
            }),
            (None, Some(pattern)) => {
                let pattern = if r.case_sensitive {
                    pattern
                } else {
                    format!("(?i){pattern}")
                };
                let re = Regex::new(&pattern)
                    .map_err(|e| invalid(line, format!("invalid regex: {e}")))?;
                rules.regexes.push((re, r.say, origin));
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

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn load(path: &Path) -> Result<Pronunciation, RulesError> {
        Pronunciation::load(&[path.to_owned()], DigitNames::Japanese)
    }

    #[test]
    fn the_issue_example_reads_naturally() {
        let r = Pronunciation::builtin(DigitNames::Japanese);
        assert_eq!(
            r.apply("CPU usage 100% for 5m on db01"),
            "シーピーユー使用率 100パーセント 5分間 データベース ゼロイチ"
        );
        assert_eq!(r.apply("latency 0.25 ms"), "レイテンシ 0.25ミリ秒");
    }

    #[test]
    fn numbers_units_and_names() {
        let r = Pronunciation::builtin(DigitNames::Japanese);
        for (text, reading) in [
            ("db_server-01", "データベース サーバー ゼロイチ"),
            ("HTTP 503", "エイチティーティーピー 503"),
            ("load 1.5", "ロード 1.5"),
            ("10.0.0.1:5432", "10てん0てん0てん1 ポート5432"),
            ("2026.12.01 09:05:30", "2026年12月1日 9時5分30秒"),
            ("v1.25.3", "バージョン1てん25てん3"),
            (
                "1.5GB 80°C 3000rpm 200req/s",
                "1.5ギガバイト 80度 3000アールピーエム 200リクエスト毎秒",
            ),
            ("(used > 90%)", "使用 90パーセント超"),
            ("NotReady", "ノットレディ"),
            ("LDAP", "エルディーエーピー"),
            ("disks", "ディスク"),
            ("障害3件", "障害3件"),
        ] {
            assert_eq!(r.apply(text), reading, "{text}");
        }
    }

    #[test]
    fn english_keeps_english_and_reads_name_digits() {
        let en = Pronunciation::builtin(DigitNames::English);
        assert_eq!(en.apply("web-02"), "web zero two");
        assert_eq!(en.apply("HTTP 503 Service"), "HTTP 503 Service");
        assert_eq!(en.apply("load 1.5."), "load 1.5.");
    }

    #[test]
    fn user_rules_win_over_the_dictionary() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "site.yaml",
            "rules:\n  - { match: db, say: ディービー }\n  - { match: web, say: ウェブ }\n"
                .as_bytes(),
        );
        let r = load(&path).unwrap();
        assert_eq!(r.apply("db01 web"), "ディービー ゼロイチ ウェブ");
        assert_eq!(
            r.apply("mongodb"),
            "モンゴディービー",
            "a match rule reads whole words only"
        );
        let explained = r.explain("db01");
        assert_eq!(
            explained[0].rule.to_string(),
            format!("your rule {}:2", path.display())
        );
    }

    #[test]
    fn xmon_csv_is_read_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "xmon.csv",
            "TRAFFIC,トラフィック\ndb,データベース\n\n".as_bytes(),
        );
        let r = load(&path).unwrap();
        assert_eq!(r.apply("db TRAFFIC"), "データベース トラフィック");
        assert_eq!(
            r.apply("mongodb"),
            "モンゴ データベース",
            "X-MON lists replace substrings"
        );
    }

    #[test]
    fn shift_jis_quoted_csv_with_header() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            "\"置換前\",\"置換後\"\r\n\"db\",\"データベース\"\r\n\"TRAFFIC\",\"トラフィック\"\r\n";
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        assert!(std::str::from_utf8(&bytes).is_err(), "really Shift_JIS");
        let r = load(&write(&dir, "xmon.csv", &bytes)).unwrap();
        assert_eq!(r.apply("db TRAFFIC"), "データベース トラフィック");
        let bom = [
            b"\xef\xbb\xbf".as_slice(),
            "word,reading\nsv,サーバー\n".as_bytes(),
        ]
        .concat();
        let r = load(&write(&dir, "bom.csv", &bom)).unwrap();
        assert_eq!(r.apply("sv"), "サーバー");
    }

    #[test]
    fn bad_rules_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "bad.yaml",
            b"rules:\n  - { match: db, say: x }\n  - { regex: \"(\", say: y }\n",
        );
        let err = load(&path).err().unwrap().to_string();
        assert!(
            err.starts_with(&format!("{}:3: invalid regex", path.display())),
            "{err}"
        );
        let csv = write(
            &dir,
            "bad.csv",
            b"ok,x\n\"quoted\",\"fine\"\nno comma here\n",
        );
        let err = load(&csv).err().unwrap().to_string();
        assert!(err.starts_with(&format!("{}:3:", csv.display())), "{err}");
        let binary = write(&dir, "bin.csv", b"\xff\xfe\x00\x81\x00");
        let err = check_rules_file(&binary).err().unwrap().to_string();
        assert!(err.contains("neither UTF-8 nor Shift_JIS"), "{err}");
    }

    #[test]
    fn regex_rules_run_first_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "r.yaml",
            "rules:\n  - { regex: \"https?://\\\\S+\", say: リンク }\n  - { match: url, say: x }\n"
                .as_bytes(),
        );
        assert_eq!(
            load(&path).unwrap().apply("see http://x.example/a"),
            "シー リンク"
        );
    }

    #[test]
    fn the_dictionary_is_large_clean_and_japanese() {
        // Loading fails on a word listed twice, naming both lines.
        let dictionary = builtin_dictionary().unwrap();
        assert!(dictionary.len() >= 1_500, "{} entries", dictionary.len());
        for (file, text) in DICTIONARY {
            for (word, reading, origin) in parse_csv(Path::new(file), text).unwrap() {
                assert!(
                    !reading.chars().any(|c| c.is_ascii_alphabetic()),
                    "{origin}: {word} is read with English letters"
                );
                assert_eq!(word.trim(), word, "{origin}");
            }
        }
    }

    #[test]
    fn every_shipped_rules_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/pronunciation/ja.yaml");
        let r = load(&path).unwrap();
        assert_eq!(
            r.apply("tky-web01 INC0012345"),
            "東京 ウェブ ゼロイチ インシデント 12345"
        );
    }
}
