//! X-MON replacement lists as users have them (Shift_JIS, quoted, with a header): accepted
//! by `check-config`, loaded by `serve`, applied by `say`; a bad line named by file and line.

use crate::helpers::write_config;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KADEN: &str = env!("CARGO_BIN_EXE_kaden");

/// The test config with `rules` (bytes, as Excel saved them) listed under pronunciation.
fn config_with_rules(dir: &Path, rules: &[u8]) -> PathBuf {
    std::fs::write(dir.join("xmon.csv"), rules).unwrap();
    let path = write_config(dir);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("pronunciation: [xmon.csv]\n");
    std::fs::write(&path, text).unwrap();
    path
}

fn shift_jis(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

fn kaden(args: &[&str], config: &Path) -> (Option<i32>, String) {
    let out = Command::new(KADEN)
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_shift_jis_quoted_csv_with_a_header_works_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_rules(
        dir.path(),
        &shift_jis(
            "\"置換前\",\"置換後\"\r\n\"db\",\"データベース\"\r\n\"TRAFFIC\",\"トラフィック\"\r\n",
        ),
    );
    let (code, stdout) = kaden(&["check-config"], &config);
    assert_eq!(code, Some(0), "{stdout}");
    let (code, stdout) = kaden(&["say", "db-01 TRAFFIC"], &config);
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout.lines().next(),
        Some("データベース ゼロイチ トラフィック")
    );

    let mut daemon = Command::new(KADEN)
        .args(["--log-format", "json", "serve", "-c"])
        .arg(&config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(daemon.stderr.take().unwrap());
    let started = Instant::now();
    let mut listening = false;
    for line in stderr.lines().map_while(Result::ok) {
        if line.contains("kaden is listening.") {
            listening = true;
            break;
        }
        // A guard against a daemon that never starts, not a speed assertion.
        assert!(started.elapsed() < Duration::from_secs(60), "{line}");
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert!(listening, "serve exited before listening");
}

#[test]
fn check_config_names_the_file_and_line_of_a_bad_rule() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_rules(
        dir.path(),
        &shift_jis("置換前,置換後\ndb,データベース\n\"TRAFFIC\",\"トラフィック\",余分\n"),
    );
    let (code, stdout) = kaden(&["check-config"], &config);
    assert_eq!(code, Some(1), "{stdout}");
    let csv = dir.path().join("xmon.csv");
    assert!(
        stdout.contains(&format!("{}:3: ", csv.display())),
        "{stdout}"
    );
    let (code, _) = kaden(&["say", "db"], &config);
    assert_ne!(code, Some(0), "say loads rules as serve does");
}
