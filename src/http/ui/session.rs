//! Browser sessions: a random id in an HttpOnly cookie, kept in memory with its expiry and
//! a CSRF token. The API token a person logged in with is never stored or sent back.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const COOKIE_NAME: &str = "kaden_session";
/// Long enough for a night shift; a restart of the daemon logs everyone out.
const LIFETIME: Duration = Duration::from_secs(12 * 3600);

#[derive(Clone, Debug)]
pub struct Session {
    /// Who acknowledges when this session presses the button.
    pub label: String,
    /// Must come back with every POST of this session.
    pub csrf: String,
    expires: Instant,
}

#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<String, Session>>>);

/// 256 random bits from the OS, URL-safe.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Sessions {
    /// Starts a session; returns its id and the session.
    pub fn create(&self, label: String) -> (String, Session) {
        let now = Instant::now();
        let session = Session {
            label,
            csrf: random_token(),
            expires: now + LIFETIME,
        };
        let id = random_token();
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.expires > now);
        map.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session named by the request's cookie, if any.
    pub fn lookup(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie(headers, COOKIE_NAME)?;
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(id)
            .filter(|s| s.expires > Instant::now())
            .map(|s| (id.to_owned(), s.clone()))
    }

    pub fn remove(&self, id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value for a session id; `None` expires the cookie.
pub fn set_cookie(id: Option<&str>) -> String {
    let (value, max_age) = id.map_or(("", 0), |id| (id, LIFETIME.as_secs()));
    format!("{COOKIE_NAME}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_session_is_found_by_its_cookie_only() {
        let sessions = Sessions::default();
        let (id, session) = sessions.create("山田".into());
        assert_ne!(id, session.csrf);
        let found = sessions.lookup(&with_cookie(&format!("theme=dark; {COOKIE_NAME}={id}")));
        assert_eq!(found.map(|(_, s)| s.label), Some("山田".to_owned()));
        assert!(
            sessions
                .lookup(&with_cookie(&format!("{COOKIE_NAME}=x{id}")))
                .is_none()
        );
        assert!(sessions.lookup(&HeaderMap::new()).is_none());
        sessions.remove(&id);
        assert!(
            sessions
                .lookup(&with_cookie(&format!("{COOKIE_NAME}={id}")))
                .is_none()
        );
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let value = set_cookie(Some("abc"));
        assert!(value.starts_with("kaden_session=abc;"));
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(value.contains(attribute), "{value}");
        }
        assert!(set_cookie(None).contains("Max-Age=0"));
    }
}
