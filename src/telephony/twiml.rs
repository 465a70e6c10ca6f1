//! TwiML for our calls: `<Say>` the prompt, then `<Gather>` keys or `<Hangup>`.

use quick_xml::escape::escape;

/// Polly's limit is 3000 characters per `<Say>`; stay well below it per element.
const SAY_CHUNK: usize = 1000;

pub struct Voice<'a> {
    pub voice: &'a str,
    pub language: &'a str,
}

/// Where keys go, and how long to wait for them.
pub struct Gather<'a> {
    pub action: &'a str,
    pub timeout_secs: u64,
}

fn says(out: &mut String, text: &str, v: &Voice) {
    for chunk in chunks(text) {
        out.push_str(&format!(
            "<Say voice=\"{}\" language=\"{}\">{}</Say>",
            escape(v.voice),
            escape(v.language),
            escape(chunk)
        ));
    }
}

/// Splits long text at sentence ends (。 or ". ") into pieces of at most SAY_CHUNK chars.
fn chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.chars().count() > SAY_CHUNK {
        let limit = rest
            .char_indices()
            .nth(SAY_CHUNK)
            .map_or(rest.len(), |(i, _)| i);
        let cut = rest[..limit]
            .rfind(['。', '.'])
            .map(|i| i + rest[i..].chars().next().map_or(1, char::len_utf8))
            .filter(|&i| i > 0)
            .unwrap_or(limit);
        out.push(&rest[..cut]);
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Speaks `text`, then waits for keys ending with `#`. With no key before the timeout the
/// call falls through to `<Hangup/>`: it ends unacknowledged.
pub fn gather(text: &str, voice: &Voice, gather: &Gather) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>");
    out.push_str(&format!(
        "<Gather input=\"dtmf\" finishOnKey=\"#\" timeout=\"{}\" action=\"{}\" method=\"POST\">",
        gather.timeout_secs,
        escape(gather.action)
    ));
    says(&mut out, text, voice);
    out.push_str("</Gather><Hangup/></Response>");
    out
}

/// Speaks `text` (if any) and hangs up.
pub fn hangup(text: &str, voice: &Voice) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>");
    if !text.is_empty() {
        says(&mut out, text, voice);
    }
    out.push_str("<Hangup/></Response>");
    out
}

/// The empty answer for status and AMD callbacks.
pub fn empty() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Voice = Voice {
        voice: "Polly.Mizuki",
        language: "ja-JP",
    };

    #[test]
    fn gather_escapes_text_and_action() {
        let xml = gather(
            "web<01> & \"db\"",
            &V,
            &Gather {
                action: "https://k.example/twilio/gather?call=1-2&x=y",
                timeout_secs: 30,
            },
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather input=\"dtmf\" finishOnKey=\"#\" \
             timeout=\"30\" action=\"https://k.example/twilio/gather?call=1-2&amp;x=y\" method=\"POST\">\
             <Say voice=\"Polly.Mizuki\" language=\"ja-JP\">web&lt;01&gt; &amp; &quot;db&quot;</Say>\
             </Gather><Hangup/></Response>"
        );
    }

    #[test]
    fn long_text_is_split_at_sentence_ends() {
        let sentence = "障害が発生しています。";
        let text = sentence.repeat(300);
        let parts = chunks(&text);
        assert!(parts.len() > 1);
        assert!(
            parts
                .iter()
                .all(|p| p.chars().count() <= SAY_CHUNK && p.ends_with('。'))
        );
        assert_eq!(parts.concat(), text);
        assert!(hangup(&text, &V).matches("<Say").count() == parts.len());
    }
}
