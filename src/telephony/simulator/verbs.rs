//! Reads TwiML the way Twilio does, for the simulator's phones.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verb {
    Say(String),
    Pause(u64),
    Gather {
        action: Option<String>,
        timeout: u64,
        finish_on_key: String,
        num_digits: Option<usize>,
        says: Vec<String>,
    },
    Redirect(String),
    Hangup,
}

fn attr(e: &BytesStart, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::default())
                .ok()
                .map(|v| v.into_owned())
        })
}

/// Parses a `<Response>` document; unknown verbs are an error, as Twilio would refuse them.
pub fn parse(xml: &str) -> Result<Vec<Verb>, String> {
    let mut reader = Reader::from_str(xml);
    let mut verbs = Vec::new();
    let mut text = String::new();
    let mut gather: Option<Verb> = None;
    let mut open: Option<String> = None;
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("malformed TwiML: {e}"))?
        {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "Response" => {}
            Event::Start(e) => {
                let name = e.name().as_ref().to_owned();
                if name == "Gather" {
                    gather = Some(Verb::Gather {
                        action: attr(&e, "action"),
                        timeout: attr(&e, "timeout")
                            .and_then(|t| t.parse().ok())
                            .unwrap_or(5),
                        finish_on_key: attr(&e, "finishOnKey").unwrap_or_else(|| "#".into()),
                        num_digits: attr(&e, "numDigits").and_then(|n| n.parse().ok()),
                        says: Vec::new(),
                    });
                } else if matches!(name.as_str(), "Say" | "Redirect") {
                    text.clear();
                    open = Some(name);
                } else {
                    return Err(format!("unsupported TwiML verb <{name}>"));
                }
            }
            Event::Empty(e) => match e.name().as_ref() {
                "Hangup" => verbs.push(Verb::Hangup),
                "Pause" => verbs.push(Verb::Pause(
                    attr(&e, "length").and_then(|l| l.parse().ok()).unwrap_or(1),
                )),
                other => return Err(format!("unsupported TwiML verb <{other}/>")),
            },
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                text.push('&');
                text.push_str(&r.into_inner());
                text.push(';');
            }
            Event::End(e) => {
                let unescaped = quick_xml::escape::unescape(&text)
                    .map_err(|e| e.to_string())?
                    .into_owned();
                match (e.name().as_ref(), open.take()) {
                    ("Say", Some(_)) => match &mut gather {
                        Some(Verb::Gather { says, .. }) => says.push(unescaped),
                        _ => verbs.push(Verb::Say(unescaped)),
                    },
                    ("Redirect", Some(_)) => {
                        verbs.push(Verb::Redirect(unescaped.trim().to_owned()))
                    }
                    ("Gather", _) => verbs.extend(gather.take()),
                    _ => {}
                }
                text.clear();
            }
            _ => {}
        }
    }
    Ok(verbs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telephony::twiml;

    #[test]
    fn reads_what_kaden_writes() {
        let voice = twiml::Voice {
            voice: "Polly.Mizuki",
            language: "ja-JP",
        };
        let xml = twiml::gather(
            "web<01> & db",
            &voice,
            &twiml::Gather {
                action: "/twilio/gather?call=1-1&x=1",
                timeout_secs: 30,
            },
        );
        assert_eq!(
            parse(&xml).unwrap(),
            [
                Verb::Gather {
                    action: Some("/twilio/gather?call=1-1&x=1".into()),
                    timeout: 30,
                    finish_on_key: "#".into(),
                    num_digits: None,
                    says: vec!["web<01> & db".into()],
                },
                Verb::Hangup
            ]
        );
        assert_eq!(parse(&twiml::empty()).unwrap(), []);
    }

    #[test]
    fn reads_pause_redirect_and_refuses_unknown_verbs() {
        let xml = "<Response><Say>a</Say><Pause length=\"2\"/><Redirect method=\"POST\"> /next </Redirect></Response>";
        assert_eq!(
            parse(xml).unwrap(),
            [
                Verb::Say("a".into()),
                Verb::Pause(2),
                Verb::Redirect("/next".into())
            ]
        );
        assert!(
            parse("<Response><Dial>+1</Dial></Response>")
                .unwrap_err()
                .contains("<Dial>")
        );
    }
}
