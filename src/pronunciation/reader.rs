//! The reader: text no user rule matched, made speakable token by token.
//!
//! Text is cut at white space into chunks; a chunk is matched as a whole first (an IPv4
//! address, a date, a time, a version, a number with its unit), else split into words at
//! `_ - . / :` and the like, at camelCase and at letter/digit boundaries. A number stands
//! as a number for the voice (100 is read ひゃく); digits inside a name are read one by
//! one, as X-MON does (db01 → ゼロイチ). Words are looked up in the dictionary (up to
//! three words at once, so `health check` can have one reading), then spelled if they
//! are acronyms, else read by the katakana fallback.

use super::katakana;
use super::token::{DigitNames, Origin, Rule, Token};
use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

/// Words that carry no meaning a Japanese listener needs and that may precede a
/// duration; after them a duration is read as a span (`for 5m` → 5分間).
const SPAN_WORDS: &[&str] = &["for"];

/// Longest phrase the dictionary is asked for, in words.
const MAX_PHRASE: usize = 3;

pub struct Dictionary {
    entries: HashMap<String, (String, Origin)>,
}

impl Dictionary {
    pub fn new() -> Self {
        Dictionary {
            entries: HashMap::new(),
        }
    }

    /// Adds `word`; the entry already there, if any, is returned untouched.
    pub fn insert(&mut self, word: &str, reading: String, origin: Origin) -> Option<&Origin> {
        let key = normalize(word);
        if self.entries.contains_key(&key) {
            return self.entries.get(&key).map(|(_, o)| o);
        }
        self.entries.insert(key, (reading, origin));
        None
    }

    fn get(&self, word: &str) -> Option<&(String, Origin)> {
        self.entries.get(&normalize(word))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Dictionary keys: lower case, words separated by one space.
fn normalize(word: &str) -> String {
    word.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

/// A token on its way to a reading.
enum Piece {
    /// Letters only, not yet looked up.
    Word(String),
    /// Digits (maybe with a decimal point); `in_name` when part of an identifier.
    Digits {
        text: String,
        in_name: bool,
    },
    /// A comparison (`>`), read after the number it compares with (> 90% → 90パーセント超).
    Comparison(String, &'static str),
    /// A duration, which a preceding `for` makes a span.
    Duration {
        token: Token,
        span: &'static str,
    },
    /// White space or a separator: a pause, never looked up.
    Gap(String, &'static str),
    Done(Token),
}

pub struct Reader<'a> {
    pub dictionary: &'a Dictionary,
    pub digits: DigitNames,
}

impl Reader<'_> {
    /// Tokens for `text`; `glued` tells whether a rule's reading touches the text on the
    /// left or right, so that digits there belong to a name (a rule read `db`, then `01`).
    pub fn read(&self, text: &str, glued: (bool, bool), out: &mut Vec<Token>) {
        let mut pieces = Vec::new();
        let chunks = chunks(text);
        let last = chunks.len().saturating_sub(1);
        for (i, chunk) in chunks.into_iter().enumerate() {
            match chunk {
                Chunk::Space(s) => pieces.push(Piece::Gap(s.to_owned(), " ")),
                Chunk::AsIs(s) => pieces.push(Piece::Done(Token::new(s, s, Rule::AsIs))),
                Chunk::Ascii(s) => {
                    let glued = (i == 0 && glued.0) || (i == last && glued.1);
                    self.chunk(s, glued, &mut pieces);
                }
            }
        }
        self.resolve(pieces, out);
    }

    fn japanese(&self) -> bool {
        self.digits == DigitNames::Japanese
    }

    fn chunk(&self, chunk: &str, glued: bool, out: &mut Vec<Piece>) {
        let core_start = chunk
            .find(|c: char| !LEADING.contains(c))
            .unwrap_or(chunk.len());
        let core_end = core_start
            + chunk[core_start..]
                .rfind(|c: char| !TRAILING.contains(c))
                .map_or(0, |i| {
                    i + chunk[core_start + i..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8)
                });
        let (lead, core, trail) = (
            &chunk[..core_start],
            &chunk[core_start..core_end],
            &chunk[core_end..],
        );
        for c in lead.chars() {
            out.push(Piece::Gap(c.to_string(), " "));
        }
        if self.japanese() {
            self.core(core, glued, out);
        } else if !core.is_empty() {
            self.identifier(core, glued, out);
        }
        for c in trail.chars() {
            let text = c.to_string();
            out.push(match (self.japanese(), c) {
                (true, ',' | ':' | ';') => Piece::Gap(text, "、"),
                (true, '.' | '!' | '?') => Piece::Gap(text, "。"),
                (true, _) => Piece::Gap(text, " "),
                // English keeps its punctuation for the voice's intonation.
                (false, _) => Piece::Done(Token::new(&text, &text, Rule::AsIs)),
            });
        }
    }

    fn core(&self, core: &str, glued: bool, out: &mut Vec<Piece>) {
        if core.is_empty() {
            return;
        }
        if let Some(reading) = comparison(core) {
            out.push(Piece::Comparison(core.to_owned(), reading));
            return;
        }
        // `>90%`: the comparison is read after its number.
        if let Some(op) = [">=", "<=", ">", "<"].into_iter().find(|op| {
            core.len() > op.len()
                && core.starts_with(op)
                && core[op.len()..].starts_with(|c: char| c.is_ascii_digit())
        }) {
            out.push(Piece::Comparison(
                op.to_owned(),
                comparison(op).unwrap_or_default(),
            ));
            return self.core(&core[op.len()..], glued, out);
        }
        // Every device lives under /dev; saying it tells the listener nothing.
        if let Some(device) = core.strip_prefix("/dev/") {
            out.push(Piece::Gap("/dev/".into(), " "));
            return self.core(device, glued, out);
        }
        if self.whole(core, glued, out) {
            return;
        }
        // key=value, lists (inode=90%, 1.5,2.0) and name:version: each part on its own.
        let split = core.find(['=', ',']).or_else(|| {
            core.find(':')
                .filter(|&at| VERSION.is_match(&core[at + 1..]) || NUMBER.is_match(&core[at + 1..]))
        });
        if let Some(at) = split.filter(|&at| at > 0 && at + 1 < core.len()) {
            self.core(&core[..at], glued, out);
            out.push(Piece::Gap(core[at..at + 1].to_owned(), " "));
            return self.core(&core[at + 1..], glued, out);
        }
        self.identifier(core, glued, out);
    }

    /// A chunk read as one thing; false when it is none of those.
    fn whole(&self, core: &str, glued: bool, out: &mut Vec<Piece>) -> bool {
        let done = |out: &mut Vec<Piece>, reading: String, rule: Rule| {
            out.push(Piece::Done(Token::new(core, &reading, rule)));
            true
        };
        let has_letter = core.chars().any(|c| c.is_ascii_alphabetic());
        if has_letter
            && !core.chars().all(|c| c.is_ascii_alphabetic())
            && let Some((reading, origin)) = self.dictionary.get(core)
        {
            return done(out, reading.clone(), Rule::Dictionary(origin.clone()));
        }
        if let Some(c) = IPV4.captures(core) {
            let mut reading = [1, 2, 3, 4]
                .iter()
                .map(|n| number(&c[*n]))
                .collect::<Vec<_>>()
                .join("てん");
            if let Some(port) = c.name("port") {
                reading += &format!(" ポート{}", number(port.as_str()));
            }
            if let Some(bits) = c.name("bits") {
                reading += &format!(" スラッシュ{}", number(bits.as_str()));
            }
            return done(out, reading, Rule::Address);
        }
        if let Some(c) = DATE.captures(core) {
            let mut reading = format!(
                "{}年{}月{}日",
                number(&c["y"]),
                number(&c["m"]),
                number(&c["d"])
            );
            if let Some(time) = c.name("time") {
                reading += " ";
                reading += &clock(time.as_str());
            }
            return done(out, reading, Rule::Date);
        }
        if TIME.is_match(core) {
            return done(out, clock(core), Rule::Time);
        }
        if let Some(c) = VERSION.captures(core) {
            let (prefix, n) = match (c.name("n"), c.name("n2")) {
                (Some(n), _) => ("バージョン", n.as_str()),
                (None, n) => ("", n.map_or("", |n| n.as_str())),
            };
            let numbers: Vec<String> = n.split('.').map(number).collect();
            return done(
                out,
                format!("{prefix}{}", numbers.join("てん")),
                Rule::Version,
            );
        }
        if let Some(c) = QUANTITY.captures(core)
            && let Some(piece) = quantity(core, &c["n"], &c["unit"])
        {
            out.push(piece);
            return true;
        }
        if NUMBER.is_match(core) {
            out.push(Piece::Digits {
                text: core.to_owned(),
                in_name: glued,
            });
            return true;
        }
        match core {
            "/" => done(out, "ルート".into(), Rule::Symbol),
            "%" => done(out, "パーセント".into(), Rule::Symbol),
            "&" => done(out, "アンド".into(), Rule::Symbol),
            // A lone dash (`HTTP CRITICAL - 503`) is a pause the voice already makes.
            "-" | "--" => {
                out.push(Piece::Gap(core.to_owned(), " - "));
                true
            }
            "|" => {
                out.push(Piece::Gap(core.to_owned(), "、"));
                true
            }
            _ => false,
        }
    }

    /// A name: words and digits between separators.
    fn identifier(&self, core: &str, glued: bool, out: &mut Vec<Piece>) {
        let has_letter = core.chars().any(|c| c.is_ascii_alphabetic());
        let mut rest = core;
        while let Some(c) = rest.chars().next() {
            if c.is_ascii_alphanumeric() {
                let len = rest
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(rest.len());
                let run = &rest[..len];
                // A decimal inside a name (HTTP/1.1) is one number.
                let decimal = DECIMAL_PREFIX
                    .find(rest)
                    .filter(|m| run.bytes().all(|b| b.is_ascii_digit()) && m.end() > len);
                if let Some(m) = decimal {
                    out.push(Piece::Digits {
                        text: m.as_str().to_owned(),
                        in_name: false,
                    });
                    rest = &rest[m.end()..];
                    continue;
                }
                self.run(run, has_letter || glued, out);
                rest = &rest[len..];
            } else {
                let text = c.to_string();
                out.push(match (self.japanese(), c) {
                    (_, '_' | '-') => Piece::Gap(text, " "),
                    (false, _) => Piece::Done(Token::new(&text, &text, Rule::AsIs)),
                    (true, '+') => Piece::Done(Token::new(&text, "プラス", Rule::Symbol)),
                    (true, '&') => Piece::Done(Token::new(&text, "アンド", Rule::Symbol)),
                    (true, _) => Piece::Gap(text, " "),
                });
                rest = &rest[c.len_utf8()..];
            }
        }
    }

    /// An alphanumeric run: whole in the dictionary (k8s, ipv4), else its parts.
    fn run(&self, run: &str, in_name: bool, out: &mut Vec<Piece>) {
        let mixed =
            run.chars().any(|c| c.is_ascii_digit()) && run.chars().any(|c| c.is_ascii_alphabetic());
        let parts = split_camel(run);
        // Whole first: k8s, ipv4, MySQL, vCenter (not split into My + SQL).
        if (mixed || parts.len() > 1)
            && self.japanese()
            && let Some((reading, origin)) = self.dictionary.get(run)
        {
            out.push(Piece::Done(Token::new(
                run,
                reading,
                Rule::Dictionary(origin.clone()),
            )));
            return;
        }
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                out.push(Piece::Gap(String::new(), " "));
            }
            if part.starts_with(|c: char| c.is_ascii_digit()) {
                out.push(Piece::Digits {
                    text: part.to_owned(),
                    in_name: in_name || mixed,
                });
            } else if mixed && part.len() <= 3 && self.dictionary.get(part).is_none() {
                // Letters between digits (i-0abc123, vol-0a1b2c) are an id: spelled.
                out.push(Piece::Done(Token::new(
                    part,
                    &katakana::spell(part),
                    Rule::Acronym,
                )));
            } else {
                out.push(Piece::Word(part.to_owned()));
            }
        }
    }

    /// Phrases, spans, comparisons, then each word and number.
    fn resolve(&self, mut pieces: Vec<Piece>, out: &mut Vec<Token>) {
        let mut i = 0;
        while i < pieces.len() {
            // `0.25 ms`: a unit that is also a word (`m`, `s`, `B`) is only a unit when
            // written against its number.
            if let Piece::Digits {
                text,
                in_name: false,
            } = &pieces[i]
                && let Some(Piece::Gap(gap, _)) = pieces.get(i + 1)
                && let Some(Piece::Word(w)) = pieces.get(i + 2)
                && (w.len() > 1 || w == "s")
                && let Some(piece) = quantity(&format!("{text}{gap}{w}"), text, w)
            {
                pieces.splice(i..i + 3, [piece]);
            }
            i += 1;
        }
        let mut i = 0;
        while i < pieces.len() {
            // `for 5m` → 5分間: the word is dropped, the duration becomes a span.
            if let Piece::Word(w) = &pieces[i]
                && self.japanese()
                && SPAN_WORDS.contains(&w.to_ascii_lowercase().as_str())
                && let Some(Piece::Gap(..)) = pieces.get(i + 1)
                && let Some(Piece::Duration { .. }) = pieces.get(i + 2)
            {
                let word = w.clone();
                pieces.remove(i + 1);
                pieces.remove(i);
                if let Piece::Duration { token, span } = &mut pieces[i] {
                    token.text = format!("{word} {}", token.text);
                    token.reading.push_str(span);
                    token.rule = Rule::Span;
                }
                continue;
            }
            // `over 90%`, `less than 5 GB`, `after 10 seconds` compare like `> 90%`.
            if let Piece::Word(w) = &pieces[i]
                && self.japanese()
            {
                let than = matches!(
                    (pieces.get(i + 1), pieces.get(i + 2)),
                    (Some(Piece::Gap(..)), Some(Piece::Word(t))) if t.eq_ignore_ascii_case("than")
                );
                let (word, used) = match &pieces[i + 1..] {
                    [Piece::Gap(g, _), Piece::Word(t), ..] if than => (format!("{w}{g}{t}"), 3),
                    _ => (w.clone(), 1),
                };
                if let Some(reading) = comparison_word(&word)
                    && let Some(Piece::Gap(..)) = pieces.get(i + used)
                    && matches!(
                        pieces.get(i + used + 1),
                        Some(Piece::Digits { .. } | Piece::Duration { .. } | Piece::Done(_))
                    )
                {
                    pieces.splice(i..i + used, [Piece::Comparison(word, reading)]);
                }
            }
            // `> 90%` → 90パーセント超.
            if let Piece::Comparison(..) = &pieces[i] {
                let next = match pieces.get(i + 1) {
                    Some(Piece::Gap(..)) => i + 2,
                    _ => i + 1,
                };
                if matches!(
                    pieces.get(next),
                    Some(Piece::Digits { .. } | Piece::Duration { .. } | Piece::Done(_))
                ) && next > i
                {
                    let comparison = pieces.remove(i);
                    pieces.insert(next, comparison);
                    i = next + 1;
                    continue;
                }
            }
            i += 1;
        }
        let mut i = 0;
        while i < pieces.len() {
            match &pieces[i] {
                Piece::Word(_) => {
                    let (token, used) = self.words(&pieces[i..]);
                    out.push(token);
                    i += used;
                    continue;
                }
                Piece::Digits { text, in_name } => {
                    let token = if *in_name {
                        let reading = self.digits.spell(text);
                        Token::new(text, &reading, Rule::NameDigits)
                    } else {
                        Token::new(text, &number(text), Rule::Number)
                    };
                    out.push(token);
                }
                Piece::Comparison(text, reading) => {
                    out.push(Token::new(text, reading, Rule::Symbol));
                }
                Piece::Duration { token, .. } | Piece::Done(token) => out.push(token.clone()),
                Piece::Gap(text, reading) => out.push(Token::new(text, reading, Rule::Pause)),
            }
            i += 1;
        }
    }

    /// The longest phrase starting at `pieces[0]` (a word) the dictionary knows, else the
    /// word alone; and how many pieces it used.
    fn words(&self, pieces: &[Piece]) -> (Token, usize) {
        let Piece::Word(first) = &pieces[0] else {
            unreachable!("words() starts at a word")
        };
        if !self.japanese() {
            return (Token::new(first, first, Rule::AsIs), 1);
        }
        // Candidate phrases: words joined by single gaps.
        let mut phrase = vec![first.as_str()];
        let mut ends = vec![1];
        let mut k = 1;
        while phrase.len() < MAX_PHRASE {
            match (pieces.get(k), pieces.get(k + 1)) {
                (Some(Piece::Gap(..)), Some(Piece::Word(w))) => {
                    phrase.push(w);
                    ends.push(k + 2);
                    k += 2;
                }
                _ => break,
            }
        }
        for n in (2..=phrase.len()).rev() {
            let key = phrase[..n].join(" ");
            if let Some((reading, origin)) = self.dictionary.get(&key) {
                let text: String = pieces[..ends[n - 1]]
                    .iter()
                    .map(|p| match p {
                        Piece::Word(w) => w.as_str(),
                        Piece::Gap(g, _) => g.as_str(),
                        _ => "",
                    })
                    .collect();
                let token = Token::new(&text, reading, Rule::Dictionary(origin.clone()));
                return (token, ends[n - 1]);
            }
        }
        (self.word(first), 1)
    }

    fn word(&self, word: &str) -> Token {
        if let Some((reading, origin)) = self.dictionary.get(word) {
            return Token::new(word, reading, Rule::Dictionary(origin.clone()));
        }
        // Plurals and third persons of known words (disks, errors, fails).
        if let Some(stem) = word
            .strip_suffix('s')
            .or_else(|| word.strip_suffix('S'))
            .filter(|s| s.len() > 2)
            && let Some((reading, origin)) = self.dictionary.get(stem)
        {
            return Token::new(word, reading, Rule::Dictionary(origin.clone()));
        }
        if katakana::is_acronym(word) {
            return Token::new(word, &katakana::spell(word), Rule::Acronym);
        }
        Token::new(word, &katakana::read(word), Rule::Fallback)
    }
}

/// Characters split off the start of a chunk and read as a pause.
const LEADING: &str = "([{\"'`";
/// Characters split off the end of a chunk and read as a pause (`,` `:` as 、).
const TRAILING: &str = ")]}\"'`,.:;!?";

enum Chunk<'a> {
    Space(&'a str),
    /// Japanese (or anything not ASCII), which the voice reads as it is.
    AsIs(&'a str),
    Ascii(&'a str),
}

/// Whether `c` belongs in an ASCII chunk (units such as °C and µs included).
fn ascii_like(c: char) -> bool {
    (c.is_ascii() && !c.is_ascii_whitespace()) || matches!(c, '°' | '℃' | 'µ' | 'μ')
}

fn chunks(text: &str) -> Vec<Chunk<'_>> {
    let kind = |c: char| {
        if c.is_whitespace() {
            0
        } else if ascii_like(c) {
            1
        } else {
            2
        }
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        let k = kind(c);
        let end = chars.peek().map_or(text.len(), |&(j, _)| j);
        if chars.peek().is_some_and(|&(_, next)| kind(next) == k) {
            continue;
        }
        let s = &text[start..end];
        out.push(match k {
            0 => Chunk::Space(s),
            1 => Chunk::Ascii(s),
            _ => Chunk::AsIs(s),
        });
        start = end;
    }
    out
}

/// Splits `NotReady` → Not, Ready; `HTTPServer` → HTTP, Server; `db01` → db, 01.
fn split_camel(run: &str) -> Vec<&str> {
    let b = run.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..b.len() {
        let (p, c) = (b[i - 1], b[i]);
        let boundary = p.is_ascii_digit() != c.is_ascii_digit()
            || (p.is_ascii_lowercase() && c.is_ascii_uppercase())
            || (p.is_ascii_uppercase()
                && c.is_ascii_uppercase()
                && b.get(i + 1).is_some_and(u8::is_ascii_lowercase));
        if boundary {
            parts.push(&run[start..i]);
            start = i;
        }
    }
    parts.push(&run[start..]);
    parts
}

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?::(?P<port>\d{1,5}))?(?:/(?P<bits>\d{1,2}))?$")
        .expect("valid regex")
});
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?:[T_](?P<time>\d{1,2}:\d{2}(?::\d{2})?)(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
        .expect("valid regex")
});
static TIME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{1,2}:\d{2}(?::\d{2})?$").expect("valid regex"));
static VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[vV](?P<n>\d+(?:\.\d+)*)|(?P<n2>\d+\.\d+\.\d+(?:\.\d+)*))$")
        .expect("valid regex")
});
static QUANTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<n>\d+(?:,\d{3})*(?:\.\d+)?)(?P<unit>[A-Za-z%°℃µμ/]+)$").expect("valid regex")
});
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-+]?\d+(?:,\d{3})*(?:\.\d+)?$").expect("valid regex"));
static DECIMAL_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d+\.\d+").expect("valid regex"));

/// A number as the voice should get it: 100 stays 100 (read ひゃく), 007 → 7.
fn number(text: &str) -> String {
    let trimmed = text.trim_start_matches('0');
    if trimmed.is_empty() || trimmed.starts_with('.') {
        format!("0{trimmed}")
    } else {
        trimmed.to_owned()
    }
}

/// 09:05:30 → 9時5分30秒.
fn clock(text: &str) -> String {
    let parts: Vec<String> = text.split(':').map(number).collect();
    let mut out = format!("{}時{}分", parts[0], parts[1]);
    if let Some(s) = parts.get(2) {
        out += &format!("{s}秒");
    }
    out
}

/// A unit's reading and, for durations, what a span adds (分 → 分間).
fn unit(unit: &str) -> Option<(&'static str, Option<&'static str>)> {
    let duration = |r, span| Some((r, Some(span)));
    let plain = |r| Some((r, None));
    match unit {
        "ms" | "msec" => duration("ミリ秒", "間"),
        "us" | "µs" | "μs" => duration("マイクロ秒", "間"),
        "ns" => duration("ナノ秒", "間"),
        "s" | "sec" | "secs" | "second" | "seconds" => duration("秒", "間"),
        "m" | "min" | "mins" | "minute" | "minutes" => duration("分", "間"),
        "h" | "hr" | "hrs" | "hour" | "hours" => duration("時間", ""),
        "d" | "day" | "days" => duration("日", "間"),
        "w" | "week" | "weeks" => duration("週間", ""),
        "%" => plain("パーセント"),
        "B" | "bytes" => plain("バイト"),
        "K" | "KB" | "kB" | "KiB" => plain("キロバイト"),
        "M" | "MB" | "MiB" => plain("メガバイト"),
        "G" | "GB" | "GiB" => plain("ギガバイト"),
        "T" | "TB" | "TiB" => plain("テラバイト"),
        "PB" | "PiB" => plain("ペタバイト"),
        "bps" => plain("ビーピーエス"),
        "Kbps" | "kbps" => plain("キロビーピーエス"),
        "Mbps" => plain("メガビーピーエス"),
        "Gbps" => plain("ギガビーピーエス"),
        "KB/s" | "kB/s" => plain("キロバイト毎秒"),
        "MB/s" => plain("メガバイト毎秒"),
        "GB/s" => plain("ギガバイト毎秒"),
        "°C" | "℃" | "C" | "degC" => plain("度"),
        "rpm" | "RPM" => plain("アールピーエム"),
        "req/s" | "rps" | "requests/s" => plain("リクエスト毎秒"),
        "ops/s" | "ops" => plain("オペレーション毎秒"),
        "qps" => plain("クエリ毎秒"),
        "iops" | "IOPS" => plain("アイオプス"),
        "Hz" => plain("ヘルツ"),
        "MHz" => plain("メガヘルツ"),
        "GHz" => plain("ギガヘルツ"),
        "V" => plain("ボルト"),
        "W" => plain("ワット"),
        "x" => plain("倍"),
        _ => None,
    }
}

fn quantity(text: &str, n: &str, u: &str) -> Option<Piece> {
    let (reading, span) = unit(u)?;
    let token = Token::new(text, &format!("{}{reading}", number(n)), Rule::Unit);
    Some(match span {
        Some(span) => Piece::Duration { token, span },
        None => Piece::Done(token),
    })
}

/// Words that compare when a number follows (`over 90%`, `below 10%`).
fn comparison_word(word: &str) -> Option<&'static str> {
    match normalize(word).as_str() {
        "over" | "above" | "exceeds" | "more than" | "greater than" | "higher than" => Some("超"),
        "below" | "under" | "less than" | "lower than" | "fewer than" => Some("未満"),
        "after" => Some("後"),
        "within" => Some("以内"),
        _ => None,
    }
}

fn comparison(text: &str) -> Option<&'static str> {
    match text {
        ">" => Some("超"),
        ">=" | "=>" => Some("以上"),
        "<" => Some("未満"),
        "<=" | "=<" => Some("以下"),
        "!=" | "<>" => Some("以外"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_case_and_digits() {
        assert_eq!(split_camel("NotReady"), ["Not", "Ready"]);
        assert_eq!(split_camel("HTTPServer"), ["HTTP", "Server"]);
        assert_eq!(split_camel("db01"), ["db", "01"]);
        assert_eq!(split_camel("web"), ["web"]);
    }

    #[test]
    fn numbers_and_clocks() {
        assert_eq!(number("007"), "7");
        assert_eq!(number("0.25"), "0.25");
        assert_eq!(number("0"), "0");
        assert_eq!(clock("09:05:30"), "9時5分30秒");
    }
}
