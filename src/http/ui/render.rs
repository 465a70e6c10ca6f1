//! The page templates (templates/, embedded in the binary) and the words they use, in the
//! configured language.

use crate::config::Language;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use minijinja::value::{Serde, Value};
use minijinja::{Environment, ErrorKind};

const TEMPLATES: [(&str, &str); 5] = [
    ("base.html", include_str!("../../../templates/base.html")),
    ("login.html", include_str!("../../../templates/login.html")),
    ("index.html", include_str!("../../../templates/index.html")),
    (
        "incident.html",
        include_str!("../../../templates/incident.html"),
    ),
    ("error.html", include_str!("../../../templates/error.html")),
];

const JA: &str = include_str!("../../../templates/i18n/ja.json");
const EN: &str = include_str!("../../../templates/i18n/en.json");

#[derive(Debug, thiserror::Error)]
#[error("cannot render {template}: {source:#}")]
pub struct RenderError {
    template: &'static str,
    source: minijinja::Error,
}

pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    pub fn new(language: Language, timezone: TimeZone) -> Self {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not parse: {e:#}"));
        }
        let (lang, words) = match language {
            Language::JaJp => ("ja", JA),
            Language::EnUs => ("en", EN),
        };
        let words: serde_json::Value =
            serde_json::from_str(words).expect("templates/i18n files are JSON");
        env.add_global("lang", lang);
        env.add_global("t", Value::from(Serde(&words)));
        // A state, kind or severity in the page's language; unknown ones as they are, so
        // values the API gains still show.
        env.add_filter("word", move |value: Value| {
            value
                .as_str()
                .and_then(|v| words[format!("w_{v}")].as_str())
                .map_or(value.clone(), Value::from)
        });
        env.add_filter("time", move |value: Value| local_time(&value, &timezone));
        Pages { env }
    }

    /// Renders a page; `context` is anything serde can serialize, typically the API's
    /// JSON, so fields the API gains reach the templates without code here.
    pub fn render(
        &self,
        template: &'static str,
        context: impl serde::Serialize,
    ) -> Result<String, RenderError> {
        self.env
            .get_template(template)
            .and_then(|t| t.render(Value::from(Serde(context))))
            .map_err(|source| RenderError { template, source })
    }
}

/// An API time (RFC 3339) as the operator reads it: `2026-12-01 16:22:06 JST`.
fn local_time(value: &Value, timezone: &TimeZone) -> Result<String, minijinja::Error> {
    let Some(text) = value.as_str() else {
        return Ok("—".to_owned());
    };
    let at: Timestamp = text.parse().map_err(|e| {
        minijinja::Error::new(ErrorKind::InvalidOperation, format!("{text:?}: {e}"))
    })?;
    Ok(crate::display::stamp(at, timezone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(words: &str) -> Vec<String> {
        let value: serde_json::Value = serde_json::from_str(words).unwrap();
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    #[test]
    fn both_languages_have_every_word() {
        assert_eq!(keys(JA), keys(EN));
    }

    #[test]
    fn times_are_shown_in_the_configured_zone_to_the_second() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let shown = local_time(&Value::from("2026-12-01T07:22:06.840399870Z"), &tokyo);
        assert_eq!(shown.unwrap(), "2026-12-01 16:22:06 JST");
        assert_eq!(local_time(&Value::from(()), &tokyo).unwrap(), "—");
    }

    #[test]
    fn the_login_page_escapes_what_it_echoes() {
        let pages = Pages::new(Language::EnUs, TimeZone::UTC);
        let html = pages
            .render("login.html", json!({ "name": "<script>x</script>" }))
            .unwrap();
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>x"));
        assert!(html.contains("lang=\"en\""));
    }

    #[test]
    fn the_index_warns_while_calls_go_through_the_fallback_account() {
        let pages = Pages::new(Language::EnUs, TimeZone::UTC);
        let page = |account: &str| {
            let telephony = json!({ "account": account, "since": "2026-12-01T07:22:06Z" });
            pages
                .render("index.html", json!({ "telephony": telephony }))
                .unwrap()
        };
        let html = page("fallback");
        assert!(
            html.contains("go through the fallback account since 2026-12-01 07:22:06 UTC"),
            "{html}"
        );
        assert!(!page("primary").contains("telephony-fallback"));
    }
}
