//! What a reading is made of: the tokens of a text, what is spoken for each, and the
//! rule that made it (shown by `kaden say --explain`). The rules and the reader share
//! these.

use std::fmt;
use std::sync::Arc;

/// Where a rule or dictionary entry was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// What made a token's reading (shown by `kaden say --explain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    User(Origin),
    Dictionary(Origin),
    Number,
    Unit,
    /// A duration after `for` (5分間).
    Span,
    NameDigits,
    Address,
    Date,
    Time,
    Version,
    Symbol,
    Acronym,
    Fallback,
    AsIs,
    Pause,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::User(o) => write!(f, "your rule {o}"),
            Rule::Dictionary(o) => write!(f, "dictionary {o}"),
            Rule::Number => f.write_str("number"),
            Rule::Unit => f.write_str("number with unit"),
            Rule::Span => f.write_str("duration (for → 間)"),
            Rule::NameDigits => f.write_str("digits in a name, one by one"),
            Rule::Address => f.write_str("IPv4 address"),
            Rule::Date => f.write_str("date"),
            Rule::Time => f.write_str("time"),
            Rule::Version => f.write_str("version"),
            Rule::Symbol => f.write_str("symbol"),
            Rule::Acronym => f.write_str("acronym, letter by letter"),
            Rule::Fallback => f.write_str("unknown word, katakana by spelling (add a rule?)"),
            Rule::AsIs => f.write_str("as written"),
            Rule::Pause => f.write_str("pause"),
        }
    }
}

/// A piece of the input and what is spoken for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub reading: String,
    pub rule: Rule,
}

impl Token {
    pub fn new(text: &str, reading: &str, rule: Rule) -> Self {
        Token {
            text: text.to_owned(),
            reading: reading.to_owned(),
            rule,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigitNames {
    Japanese,
    English,
}

impl DigitNames {
    /// `digits` read one by one (01 → ゼロイチ; English: zero one).
    pub fn spell(self, digits: &str) -> String {
        const JA: [&str; 10] = [
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
        ];
        const EN: [&str; 10] = [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        ];
        let names = digits
            .chars()
            .filter_map(|d| d.to_digit(10))
            .map(|d| match self {
                DigitNames::Japanese => JA[d as usize],
                DigitNames::English => EN[d as usize],
            });
        match self {
            DigitNames::Japanese => names.collect(),
            DigitNames::English => names.collect::<Vec<_>>().join(" "),
        }
    }
}
