//! `${env:NAME}` and `${file:PATH}` references, so secrets stay out of the config file.
//! Errors name the variable or the file, never a value.

use secrecy::SecretString;
use std::path::{Path, PathBuf};

/// Where secret references are looked up; tests pass their own.
pub trait SecretSource {
    fn env(&self, name: &str) -> Option<String>;
    fn file(&self, path: &Path) -> std::io::Result<String>;
}

/// The process environment and the file system.
pub struct SystemSecrets;

impl SecretSource for SystemSecrets {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Resolves one config value: a reference, or a literal kept as it is.
pub fn resolve(
    raw: &str,
    base_dir: &Path,
    source: &dyn SecretSource,
) -> Result<SecretString, String> {
    let Some(inner) = raw.strip_prefix("${").and_then(|r| r.strip_suffix('}')) else {
        if raw.contains("${") {
            return Err(
                "a secret reference must be the whole value: ${env:NAME} or ${file:PATH}".into(),
            );
        }
        return Ok(SecretString::from(raw.to_owned()));
    };
    if let Some(name) = inner.strip_prefix("env:") {
        return source
            .env(name)
            .map(SecretString::from)
            .ok_or_else(|| format!("environment variable {name} is not set"));
    }
    if let Some(path) = inner.strip_prefix("file:") {
        let path = resolve_path(base_dir, path);
        return source
            .file(&path)
            .map(|text| SecretString::from(text.trim_end_matches(['\n', '\r']).to_owned()))
            .map_err(|e| format!("cannot read secret file {}: {e}", path.display()));
    }
    Err(format!(
        "unknown secret reference ${{{inner}}}: use ${{env:NAME}} or ${{file:PATH}}"
    ))
}

/// Relative paths in the config are relative to the config file, not the working directory.
pub fn resolve_path(base_dir: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_owned()
    } else {
        base_dir.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    struct Fake;
    impl SecretSource for Fake {
        fn env(&self, name: &str) -> Option<String> {
            (name == "TOKEN").then(|| "s3cret".to_owned())
        }
        fn file(&self, path: &Path) -> std::io::Result<String> {
            if path == Path::new("/etc/kaden/token") {
                Ok("from-file\n".into())
            } else {
                Err(std::io::ErrorKind::NotFound.into())
            }
        }
    }

    #[test]
    fn resolves_env_file_and_literal() {
        let base = Path::new("/etc/kaden");
        let get = |raw| resolve(raw, base, &Fake).map(|s| s.expose_secret().to_owned());
        assert_eq!(get("${env:TOKEN}").unwrap(), "s3cret");
        assert_eq!(get("${file:token}").unwrap(), "from-file");
        assert_eq!(get("${file:/etc/kaden/token}").unwrap(), "from-file");
        assert_eq!(get("plain").unwrap(), "plain");
    }

    #[test]
    fn errors_name_the_reference_not_a_value() {
        let base = Path::new("/etc/kaden");
        let err = resolve("${env:MISSING}", base, &Fake).unwrap_err();
        assert_eq!(err, "environment variable MISSING is not set");
        let err = resolve("${vault:x}", base, &Fake).unwrap_err();
        assert!(err.contains("unknown secret reference"), "{err}");
        let err = resolve("Bearer ${env:TOKEN}", base, &Fake).unwrap_err();
        assert!(err.contains("whole value"), "{err}");
    }
}
