//! What a notification command (`kaden nagios-notify`, `kaden zabbix-alert`) reads of the
//! config, and nothing more: where the daemon listens, one token to post alerts with, and
//! the spool. It runs as the monitoring system's user, which must not need the Twilio
//! token or any other secret: nothing else is resolved, and a token it cannot read only
//! means the alert goes through the spool.

use super::secret::{self, SecretSource};
use super::validate::{DEFAULT_LISTEN, storage_paths};
use super::yaml;
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub struct NotifySettings {
    /// Where this host reaches the daemon.
    pub daemon: SocketAddr,
    /// The first of `server.ingest_tokens`, else of `server.api_tokens`, if readable here.
    pub token: Option<SecretString>,
    /// Why no token could be read, when one is configured.
    pub token_problem: Option<String>,
    pub spool: PathBuf,
}

/// Only the keys read here; every other key is ignored, whatever its value.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Lenient {
    server: LenientServer,
    storage: LenientStorage,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct LenientServer {
    listen: Option<String>,
    api_tokens: Vec<String>,
    ingest_tokens: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct LenientStorage {
    sqlite: Option<String>,
    spool: Option<String>,
}

/// Errors name the file and what is wrong in it; never a secret.
pub fn notify_settings(path: &Path, secrets: &dyn SecretSource) -> Result<NotifySettings, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    // Parsing YAML is most of a notification command's own work, and grows with the
    // users, schedules and routes it does not read: parse only its two sections when the
    // file's top level is plain, and the whole file otherwise or if they do not parse alone.
    let raw: Lenient = only_sections(&text, &["server", "storage"])
        .and_then(|sections| yaml::parse_into(&sections).ok())
        .map_or_else(
            || {
                yaml::parse_into(&text).map_err(|(line, message)| match line {
                    Some(line) => format!("{}:{line}: {message}", path.display()),
                    None => format!("{}: {message}", path.display()),
                })
            },
            Ok,
        )?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let listen_raw = raw.server.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen: SocketAddr = listen_raw.parse().map_err(|_| {
        format!(
            "{}: server.listen: {listen_raw:?} is not an address:port",
            path.display()
        )
    })?;
    let (_, spool) = storage_paths(
        base_dir,
        raw.storage.sqlite.as_deref(),
        raw.storage.spool.as_deref(),
    );
    let (key, reference) = match (
        raw.server.ingest_tokens.first(),
        raw.server.api_tokens.first(),
    ) {
        (Some(t), _) => ("server.ingest_tokens[0]", Some(t)),
        (None, Some(t)) => ("server.api_tokens[0]", Some(t)),
        (None, None) => ("", None),
    };
    let (token, token_problem) = match reference.map(|r| secret::resolve(r, base_dir, secrets)) {
        Some(Ok(token)) => (Some(token), None),
        Some(Err(why)) => (None, Some(format!("{key}: {why}"))),
        None => (None, None),
    };
    Ok(NotifySettings {
        daemon: super::local_addr(listen),
        token,
        token_problem,
        spool,
    })
}

/// `text` with every top-level entry but `keys` blanked (lines kept, so lines still
/// match), or None when its top level is not plain `key:` lines: a document marker, a
/// quoted, complex or flow key, anything at column 0 that is not a comment, a `key:` line
/// or an item of the sequence under a key. Everything indented belongs to the key above.
fn only_sections(text: &str, keys: &[&str]) -> Option<String> {
    let mut kept = String::with_capacity(text.len());
    let mut keep = false;
    let mut seen_key = false;
    for line in text.split_inclusive('\n') {
        let item = seen_key && (line.starts_with("- ") || line.trim_end() == "-");
        if !item && !line.starts_with([' ', '\t', '#', '\r', '\n']) {
            keep = keys.contains(&plain_key(line)?);
            seen_key = true;
        }
        if keep {
            kept.push_str(line);
        } else if line.ends_with('\n') {
            kept.push('\n');
        }
    }
    Some(kept)
}

/// `server` for a `server:` line (a value or a comment may follow), else None.
fn plain_key(line: &str) -> Option<&str> {
    let (key, rest) = line.split_once(':')?;
    let plain = key
        .chars()
        .enumerate()
        .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    (!key.is_empty() && plain && (rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n'])))
        .then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 2] = ["server", "storage"];

    #[test]
    fn keeps_the_sections_read_and_blanks_the_rest_line_for_line() {
        let text = "\
# kaden
server:
  listen: 127.0.0.1:8480 # here
  api_tokens: [${env:T}]
users:
- { id: a, phone: \"+819000000001\" }
# between
storage: { spool: /var/spool/kaden }
routes: [
  { call: x } ]
";
        let kept = only_sections(text, &KEYS).unwrap();
        assert_eq!(kept.lines().count(), text.lines().count());
        assert_eq!(
            kept,
            "\nserver:\n  listen: 127.0.0.1:8480 # here\n  api_tokens: [${env:T}]\n\n\n\n\
             storage: { spool: /var/spool/kaden }\n\n\n"
        );
        let raw: Lenient = yaml::parse_into(&kept).unwrap();
        assert_eq!(raw.server.listen.as_deref(), Some("127.0.0.1:8480"));
        assert_eq!(raw.server.api_tokens, ["${env:T}"]);
        assert_eq!(raw.storage.spool.as_deref(), Some("/var/spool/kaden"));
    }

    #[test]
    fn the_shipped_configs_take_the_short_path() {
        for file in ["packaging/kaden.yaml", "examples/production.yaml"] {
            let text =
                std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
            let kept = only_sections(&text, &KEYS).expect(file);
            assert!(yaml::parse_into::<Lenient>(&kept).is_ok(), "{file}");
        }
    }

    #[test]
    fn an_unusual_top_level_is_read_whole() {
        for text in [
            "---\nserver: { listen: 127.0.0.1:1 }\n",
            "\"server\": { listen: 127.0.0.1:1 }\n",
            "{ server: { listen: 127.0.0.1:1 } }\n",
            "? server\n: { listen: 127.0.0.1:1 }\n",
            "server : { listen: 127.0.0.1:1 }\n",
            "server:{ listen: 127.0.0.1:1 }\n",
            "- server\n",
            "server: { listen: 127.0.0.1:1 }\nnot a key\n",
        ] {
            assert_eq!(only_sections(text, &KEYS), None, "{text}");
        }
    }

    #[test]
    fn sections_read_alone_give_what_the_whole_file_gives() {
        let dir = tempfile::tempdir().unwrap();
        let settings = |text: &str| {
            let path = dir.path().join("kaden.yaml");
            std::fs::write(&path, text).unwrap();
            let s = notify_settings(&path, &secret::SystemSecrets).unwrap();
            (s.daemon, s.spool, s.token.is_some())
        };
        let plain = "server:\n  listen: 0.0.0.0:9000\n  ingest_tokens: [tok-0123456789abcdef]\n\
                     users: []\nstorage: { spool: /s }\n";
        // An alias to an anchor in a section not read: the sections alone do not parse.
        let aliased = "defaults:\n  spool: &spool /s\n\
                       server:\n  listen: 0.0.0.0:9000\n  ingest_tokens: [tok-0123456789abcdef]\n\
                       storage: { spool: *spool }\n";
        let expected = ("127.0.0.1:9000".parse().unwrap(), PathBuf::from("/s"), true);
        assert_eq!(settings(plain), expected);
        assert_eq!(settings(aliased), expected);
    }
}
