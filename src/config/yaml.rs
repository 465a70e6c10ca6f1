//! Reads YAML into a plain JSON value plus an index from key paths to line numbers, so
//! every later problem (type errors, unknown keys, bad references) can name its line.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::fmt;

/// Key path (`call_settings[0].targets[1]`) → 1-based line.
#[derive(Debug, Default)]
pub struct LineIndex(HashMap<String, u64>);

impl LineIndex {
    /// The line of `path`, or of its nearest ancestor that has one (a missing key is
    /// reported at the mapping that lacks it).
    pub fn line_of(&self, path: &str) -> Option<u64> {
        let mut path = path;
        loop {
            if let Some(line) = self.0.get(path) {
                return Some(*line);
            }
            path = parent_path(path)?;
        }
    }
}

fn parent_path(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

pub fn child_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

pub fn child_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Quotes a bare `${env:..}` / `${file:..}` that is a whole value. YAML forbids `{` in a
/// plain scalar inside `[...]`, yet `api_tokens: [${env:KADEN_API_TOKEN}]` is the documented
/// spelling. Only whole values are touched, and no line moves.
///
/// This replaces `(?m)([\[,]\s*|:\s+|-\s+)(\$\{(?:env|file):[^}\n"']*\})(\s*(?:[\],}#]|$))`
/// with `$1"$2"$3` (see the test), by hand: compiling that regex was a fifth of a
/// notification command's run time.
fn quote_secret_refs(text: &str) -> std::borrow::Cow<'_, str> {
    // A match consumes the delimiter after it, which the next reference in the same flow
    // list needs as its prefix: repeat until nothing is left to quote.
    let mut text = std::borrow::Cow::Borrowed(text);
    while let Some(quoted) = quote_pass(&text) {
        text = std::borrow::Cow::Owned(quoted);
    }
    text
}

/// One left-to-right pass over non-overlapping matches; `None` when none matched.
fn quote_pass(text: &str) -> Option<String> {
    let mut quoted = String::new();
    let mut copied = 0;
    let mut at = 0;
    while at < text.len() {
        match bare_ref_at(text, at) {
            Some(found) => {
                quoted.push_str(&text[copied..found.open]);
                quoted.push('"');
                quoted.push_str(&text[found.open..found.close]);
                quoted.push('"');
                copied = found.close;
                at = found.end;
            }
            None => at += 1,
        }
    }
    (copied > 0).then(|| quoted + &text[copied..])
}

struct BareRef {
    /// The `$` of the reference.
    open: usize,
    /// Just after its `}`.
    close: usize,
    /// Just after the match, trailing delimiter included.
    end: usize,
}

/// The match that starts at byte `at` (the delimiter before the reference), if any.
fn bare_ref_at(text: &str, at: usize) -> Option<BareRef> {
    let min_space = match text.as_bytes()[at] {
        b'[' | b',' => 0,
        b':' | b'-' => 1,
        _ => return None,
    };
    let after_lead = &text[at + 1..];
    let reference = after_lead.trim_start_matches(char::is_whitespace);
    let space = after_lead.len() - reference.len();
    if space < min_space {
        return None;
    }
    let open = at + 1 + space;
    let name = reference
        .strip_prefix("${env:")
        .or_else(|| reference.strip_prefix("${file:"))?;
    let stop = name.find(['}', '\n', '"', '\''])?;
    if name.as_bytes()[stop] != b'}' {
        return None;
    }
    let close = open + (reference.len() - name.len()) + stop + 1;
    let tail = &text[close..];
    let rest = tail.trim_start_matches(char::is_whitespace);
    let space = &tail[..tail.len() - rest.len()];
    let end = if rest.starts_with([']', ',', '}', '#']) {
        close + space.len() + 1
    } else if rest.is_empty() {
        text.len()
    } else {
        // `\s*$` backs off to the last line end within the white space.
        close + space.rfind('\n')?
    };
    Some(BareRef { open, close, end })
}

/// Parses `text`; a syntax error comes back as (line, message).
pub fn parse(text: &str) -> Result<(Value, LineIndex), (Option<u64>, String)> {
    if text.trim().is_empty() {
        return Ok((Value::Object(Map::new()), LineIndex::default()));
    }
    let text = quote_secret_refs(text);
    let root: Spanned<Node> = serde_saphyr::from_str(&text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        (line, first_line(&e.to_string()))
    })?;
    let mut index = LineIndex::default();
    let value = flatten(root.value, "", &mut index);
    Ok((value, index))
}

/// Reads `text` straight into `T`, without the line index and the JSON value: for a reader
/// that wants a few keys and ignores the rest. Errors come back as (line, message).
pub fn parse_into<T: serde::de::DeserializeOwned + Default>(
    text: &str,
) -> Result<T, (Option<u64>, String)> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_saphyr::from_str(&quote_secret_refs(text)).map_err(|e| {
        let line = e.location().map(|l| l.line());
        (line, first_line(&e.to_string()))
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}

fn flatten(node: Node, path: &str, index: &mut LineIndex) -> Value {
    match node {
        Node::Scalar(v) => v,
        Node::Seq(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let item_path = child_index(path, i);
                    index.0.insert(item_path.clone(), item.referenced.line());
                    flatten(item.value, &item_path, index)
                })
                .collect(),
        ),
        Node::Map(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(key, value)| {
                    let key_path = child_key(path, &key.value);
                    index.0.insert(key_path.clone(), key.referenced.line());
                    let value = flatten(value.value, &key_path, index);
                    (key.value, value)
                })
                .collect(),
        ),
    }
}

enum Node {
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar(Value),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Number(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Number(v.into())))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Bool(v)))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_block_and_flow_entries_by_path() {
        let text = "server:\n  listen: 127.0.0.1:1\nusers:\n  - { id: a, phone: \"+81\" }\n  - id: b\n    name: x\n";
        let (value, index) = parse(text).unwrap();
        assert_eq!(value["users"][1]["name"], "x");
        assert_eq!(index.line_of("server.listen"), Some(2));
        assert_eq!(index.line_of("users[0].phone"), Some(4));
        assert_eq!(index.line_of("users[1].name"), Some(6));
        assert_eq!(index.line_of("users[1].missing"), Some(5));
    }

    #[test]
    fn bare_secret_references_parse_in_flow_and_block_context() {
        let text = "a: [${env:ONE}, ${file:/x/y}]\nb: ${env:TWO}\nc:\n  - ${env:THREE} # note\nd: \"${env:FOUR}\"\n";
        let (value, index) = parse(text).unwrap();
        assert_eq!(value["a"][0], "${env:ONE}");
        assert_eq!(value["a"][1], "${file:/x/y}");
        assert_eq!(value["b"], "${env:TWO}");
        assert_eq!(value["c"][0], "${env:THREE}");
        assert_eq!(value["d"], "${env:FOUR}");
        assert_eq!(index.line_of("d"), Some(5));
    }

    proptest::proptest! {
        /// The scanner does what the regex it replaced did, on texts made of the pieces
        /// that matter to it.
        #[test]
        fn quoting_matches_the_regex_it_replaced(pieces in proptest::collection::vec(
            proptest::sample::select(vec![
                "[", "]", ",", ":", "-", "#", "}", "\"", "'", " ", "\n", "\t", "\r",
                "\u{3000}", "${env:", "${file:", "${", "a", "é",
            ]),
            0..24,
        )) {
            let text = pieces.concat();
            let regex = regex::Regex::new(
                r#"(?m)([\[,]\s*|:\s+|-\s+)(\$\{(?:env|file):[^}\n"']*\})(\s*(?:[\],}#]|$))"#,
            )
            .unwrap();
            let mut expected = text.clone();
            while let std::borrow::Cow::Owned(quoted) = regex.replace_all(&expected, r#"$1"$2"$3"#) {
                expected = quoted;
            }
            proptest::prop_assert_eq!(quote_secret_refs(&text), expected);
        }
    }

    #[test]
    fn syntax_error_reports_its_line() {
        let (line, message) = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(line.is_some(), "no line in {message}");
    }
}
