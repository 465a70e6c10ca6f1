//! Crash points for the fault-injection suite (`tests/faults.rs`). With
//! `KADEN_CRASH_AT=<point>` in its environment the process aborts at that point, leaving
//! disk and peers exactly as a kill -9 at that instant would. Points sit in windows too
//! short to hit with a signal from outside (between writing to a source and recording
//! it). Unset, a point costs one comparison.

use std::sync::OnceLock;

pub fn crash_point(point: &str) {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    if AT
        .get_or_init(|| std::env::var("KADEN_CRASH_AT").ok())
        .as_deref()
        == Some(point)
    {
        eprintln!("KADEN_CRASH_AT={point}: aborting here, as a crash would.");
        std::process::abort();
    }
}
