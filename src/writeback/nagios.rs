//! Nagios 4 / X-MON write-back through the external command file (a named pipe):
//! ACKNOWLEDGE_*_PROBLEM for acknowledgements, SCHEDULE_*_DOWNTIME for 4#. The pipe is
//! opened non-blocking (no reader: ENXIO, retried through the outbox, never a hang), one
//! command per write, each under PIPE_BUF. The pipe never answers, so where
//! `status_file` is set the result is confirmed in status.dat.

use super::{AppliedFuture, CheckFuture, WriteError, WriteFuture, Writer};
use crate::clock::SharedClock;
use crate::config::NagiosConfig;
use crate::domain::SourceRef;
use crate::store::{PendingWriteBack, WriteBackAction};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Nagios writes status.dat at most every second; wait a few of those.
const CONFIRM_FOR: Duration = Duration::from_secs(6);
/// After this many unconfirmed attempts the write-back is reported as failed.
const CONFIRM_ATTEMPTS: u32 = 4;

pub struct Nagios {
    command_file: PathBuf,
    status_file: Option<PathBuf>,
    sticky: bool,
    notify: bool,
    persistent: bool,
    clock: SharedClock,
}

impl Nagios {
    pub fn new(config: &NagiosConfig, clock: SharedClock) -> Self {
        Nagios {
            command_file: config.command_file.clone(),
            status_file: config.status_file.clone(),
            sticky: config.ack_sticky,
            notify: config.ack_notify,
            persistent: config.ack_persistent,
            clock,
        }
    }

    fn command(&self, item: &PendingWriteBack, message: &str) -> Result<String, WriteError> {
        let SourceRef::Nagios { host, service, .. } = &item.source_ref else {
            return Err(WriteError::Refused("not a Nagios alert".into()));
        };
        let author = item.by.author();
        // Nagios reads a line up to \n; downtime comments also end at the next ';'.
        let clean = |s: &str| s.replace(['\n', '\r'], " ");
        let now = self.clock.now().as_second();
        let object = match service {
            Some(svc) => format!("{};{}", clean(host), clean(svc)),
            None => clean(host),
        };
        let kind = if service.is_some() { "SVC" } else { "HOST" };
        let body = match item.action {
            WriteBackAction::Acknowledge => format!(
                "ACKNOWLEDGE_{kind}_PROBLEM;{object};{};{};{};{};{}",
                if self.sticky { 2 } else { 1 },
                u8::from(self.notify),
                u8::from(self.persistent),
                clean(&author),
                clean(message)
            ),
            WriteBackAction::Downtime { minutes } => {
                let seconds = i64::from(minutes) * 60;
                format!(
                    "SCHEDULE_{kind}_DOWNTIME;{object};{now};{};1;0;{seconds};{};{}",
                    now + seconds,
                    clean(&author).replace(';', ","),
                    clean(message).replace(';', ",")
                )
            }
        };
        let line = format!("[{now}] {body}\n");
        if line.len() >= libc::PIPE_BUF {
            return Err(WriteError::Refused(format!(
                "the command is {} bytes, over PIPE_BUF",
                line.len()
            )));
        }
        Ok(line)
    }

    fn send(&self, line: &str) -> Result<(), WriteError> {
        let path = &self.command_file;
        let is_fifo = std::fs::metadata(path).map(|m| m.file_type().is_fifo());
        match is_fifo {
            Ok(true) => {}
            Ok(false) => {
                return Err(WriteError::Refused(format!(
                    "{} is not a named pipe; check sources.nagios.command_file against command_file in nagios.cfg",
                    path.display()
                )));
            }
            // Never create it: a regular file there would make Nagios ignore commands.
            Err(e) => {
                return Err(WriteError::Retry(format!(
                    "cannot reach {}: {e}; is Nagios running?",
                    path.display()
                )));
            }
        }
        let mut pipe = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENXIO) => WriteError::Retry(format!(
                    "Nagios is not reading {} (not running?)",
                    path.display()
                )),
                _ => WriteError::Retry(format!("cannot open {}: {e}", path.display())),
            })?;
        pipe.write_all(line.as_bytes())
            .map_err(|e| WriteError::Retry(format!("cannot write to {}: {e}", path.display())))
    }

    /// True once status.dat shows the acknowledgement or the downtime.
    async fn confirmed(&self, status_file: &Path, item: &PendingWriteBack) -> bool {
        let waited = tokio::time::Instant::now();
        while waited.elapsed() < CONFIRM_FOR {
            if shows(status_file, item).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        false
    }
}

/// Whether status.dat shows the row's acknowledgement or downtime now.
async fn shows(status_file: &Path, item: &PendingWriteBack) -> bool {
    let SourceRef::Nagios { host, service, .. } = &item.source_ref else {
        return false;
    };
    let Ok(text) = tokio::fs::read_to_string(status_file).await else {
        return false;
    };
    let Some(block) = status_block(&text, host, service.as_deref()) else {
        return false;
    };
    let value = |key: &str| block.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    match item.action {
        WriteBackAction::Acknowledge => value("problem_has_been_acknowledged") == Some("1"),
        WriteBackAction::Downtime { .. } => {
            value("scheduled_downtime_depth").is_some_and(|d| d != "0")
        }
    }
}

/// The `hoststatus` / `servicestatus` block of one object, as key/value pairs.
fn status_block<'t>(
    text: &'t str,
    host: &str,
    service: Option<&str>,
) -> Option<Vec<(&'t str, &'t str)>> {
    let header = if service.is_some() {
        "servicestatus {"
    } else {
        "hoststatus {"
    };
    text.split("\n\t}")
        .filter_map(|chunk| chunk.split_once(header).map(|(_, body)| body))
        .map(|body| {
            body.lines()
                .filter_map(|l| l.trim().split_once('='))
                .collect::<Vec<_>>()
        })
        .find(|kv| {
            let get = |k: &str| kv.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
            get("host_name") == Some(host)
                && service.is_none_or(|s| get("service_description") == Some(s))
        })
}

impl Writer for Nagios {
    fn write<'a>(&'a self, item: &'a PendingWriteBack, message: &'a str) -> WriteFuture<'a> {
        Box::pin(async move {
            let line = self.command(item, message)?;
            self.send(&line)?;
            let Some(status_file) = &self.status_file else {
                return Ok(()); // Nothing to confirm with.
            };
            if self.confirmed(status_file, item).await {
                return Ok(());
            }
            let why = format!(
                "Nagios took the command but {} does not show it",
                status_file.display()
            );
            if item.attempts + 1 >= CONFIRM_ATTEMPTS {
                Err(WriteError::Refused(format!(
                    "{why} after {CONFIRM_ATTEMPTS} attempts (is the problem still open?)"
                )))
            } else {
                Err(WriteError::Retry(why))
            }
        })
    }

    /// The command file is a named pipe Nagios reads (opening it to write says so).
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            match self.send("") {
                Ok(()) => Ok(format!(
                    "{} is a named pipe Nagios reads",
                    self.command_file.display()
                )),
                Err(WriteError::Retry(e) | WriteError::Refused(e)) => Err(e),
            }
        })
    }

    /// status.dat tells; without `status_file` nothing can, and the command is sent again
    /// (Nagios takes a second acknowledgement of an acknowledged problem as a no-op).
    fn applied<'a>(&'a self, item: &'a PendingWriteBack) -> AppliedFuture<'a> {
        Box::pin(async move {
            Ok(match &self.status_file {
                Some(status_file) => shows(status_file, item).await,
                None => false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "info {\n\tcreated=1\n\t}\n\nhoststatus {\n\thost_name=web01\n\tproblem_has_been_acknowledged=0\n\t}\n\nservicestatus {\n\thost_name=web01\n\tservice_description=HTTP\n\tproblem_has_been_acknowledged=1\n\tscheduled_downtime_depth=0\n\t}\n";

    #[test]
    fn finds_the_object_in_status_dat() {
        let svc = status_block(STATUS, "web01", Some("HTTP")).unwrap();
        assert!(svc.contains(&("problem_has_been_acknowledged", "1")));
        let host = status_block(STATUS, "web01", None).unwrap();
        assert!(host.contains(&("problem_has_been_acknowledged", "0")));
        assert!(status_block(STATUS, "db01", None).is_none());
    }
}
