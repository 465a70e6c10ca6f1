//! The CLI's side of the API: commands that ask the running daemon, which owns the
//! database and the calls.

use crate::display::{local_time, table};
use crate::store::{CallView, IncidentSummary};
use crate::telephony::simulator::{Behaviour, SimCall};
use crate::testcall::{Stage, TestCall};
use anyhow::Context;
use http::StatusCode;
use jiff::tz::TimeZone;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Plain HTTP/1.1 to the daemon on this host, one request per connection: no async
/// runtime, no TLS, no pool. A notification command runs once per alert, and building
/// tokio and reqwest was most of its run time.
pub struct Loopback {
    addr: SocketAddr,
    token: Option<SecretString>,
    /// For connecting and for each read and write; `None` waits as long as it takes.
    timeout: Option<Duration>,
}

/// What the daemon answered.
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl Answer {
    /// The API's `{"error": ...}`, else the body as it is.
    pub fn error(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| self.body.clone())
    }
}

impl Loopback {
    pub fn new(addr: SocketAddr, token: Option<SecretString>, timeout: Option<Duration>) -> Self {
        Loopback {
            addr,
            token,
            timeout,
        }
    }

    /// Sends `method path` with the token, `headers` and `json` as the body, and reads the
    /// answer to the end (the request asks the daemon to close the connection).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        json: Option<&serde_json::Value>,
    ) -> io::Result<Answer> {
        let token = self
            .token
            .as_ref()
            .map(|t| format!("Bearer {}", t.expose_secret()));
        let body = json.map(serde_json::to_vec).transpose()?;
        let length = body.as_ref().map(|b| b.len().to_string());
        let fields = token
            .as_deref()
            .map(|t| ("Authorization", t))
            .into_iter()
            .chain(headers.iter().copied())
            .chain(
                body.is_some()
                    .then_some(("Content-Type", "application/json")),
            )
            .chain(length.as_deref().map(|n| ("Content-Length", n)));
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (name, value) in fields {
            // A line break in a value would start a header of its own.
            if value.contains(['\r', '\n']) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the {name} header holds a line break"),
                ));
            }
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend(body.unwrap_or_default());

        let mut stream = match self.timeout {
            Some(timeout) => TcpStream::connect_timeout(&self.addr, timeout)?,
            None => TcpStream::connect(self.addr)?,
        };
        stream.set_read_timeout(self.timeout)?;
        stream.set_write_timeout(self.timeout)?;
        stream.write_all(&bytes)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        parse_answer(&raw)
    }
}

fn not_http() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "the answer is not HTTP")
}

/// Status line, headers, then the body: `Content-Length` bytes, or chunks, or up to the
/// end of the connection.
fn parse_answer(raw: &[u8]) -> io::Result<Answer> {
    let head_end = find(raw, b"\r\n\r\n").ok_or_else(not_http)?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| not_http())?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| StatusCode::from_bytes(code.as_bytes()).ok())
        .ok_or_else(not_http)?;
    let mut body = &raw[head_end + 4..];
    let mut chunked = false;
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let length: usize = value.parse().map_err(|_| not_http())?;
            body = body.get(..length).ok_or_else(not_http)?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut rest: &[u8]) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n").ok_or_else(not_http)?;
        let size = std::str::from_utf8(&rest[..line_end])
            .ok()
            .and_then(|line| line.split(';').next())
            .and_then(|size| usize::from_str_radix(size.trim(), 16).ok())
            .ok_or_else(not_http)?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(rest.get(..size).ok_or_else(not_http)?);
        rest = rest.get(size + 2..).ok_or_else(not_http)?;
    }
}

/// `text` as one path segment: everything but unreserved characters percent-encoded.
pub fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'+' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The daemon named by a config file: its address and first API token.
pub struct Daemon {
    /// `http://address`, for messages.
    base: String,
    http: Loopback,
    /// `locale.timezone`, for the times people read.
    zone: TimeZone,
}

/// `yamada (phone 9#)`, `ops (api)`, `(source)`: who acknowledged and how.
fn acknowledger(by: &serde_json::Value) -> String {
    let via = by["via"].as_str().unwrap_or("?");
    let how = match by["key"].as_str() {
        Some(key) => format!("{via} {key}"),
        None => via.to_owned(),
    };
    match by["user"].as_str() {
        Some(user) => format!("{user} ({how})"),
        None => format!("({how})"),
    }
}

impl Daemon {
    /// The daemon `config` describes (the CLI loads the config).
    pub fn new(config: crate::config::Config) -> anyhow::Result<Daemon> {
        let listen = config.server.listen;
        Ok(Daemon {
            base: crate::config::local_url(listen),
            http: Loopback::new(
                crate::config::local_addr(listen),
                config.server.api_tokens.into_iter().next(),
                None,
            ),
            zone: config.locale.timezone,
        })
    }

    fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<T> {
        let answer = self.http.send(method, path, &[], body).with_context(|| {
            format!(
                "cannot reach the kaden daemon at {}; is `kaden serve` running?",
                self.base
            )
        })?;
        if !answer.status.is_success() {
            anyhow::bail!("the daemon answered {}: {}", answer.status, answer.error());
        }
        let text = if answer.body.is_empty() {
            "null"
        } else {
            &answer.body
        };
        serde_json::from_str(text).context("the daemon's answer is not what this kaden expects")
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send("GET", path, None)
    }

    /// Prints the API's JSON as it is, for scripts.
    fn print_json(&self, path: &str) -> anyhow::Result<()> {
        let value: serde_json::Value = self.get(path)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        Ok(())
    }

    pub fn incidents(&self, status: Option<&str>, json: bool) -> anyhow::Result<()> {
        let query = status
            .map(|s| {
                format!(
                    "?{}",
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair("status", s)
                        .finish()
                )
            })
            .unwrap_or_default();
        let path = format!("/api/v1/incidents{query}");
        if json {
            return self.print_json(&path);
        }
        let incidents: Vec<IncidentSummary> = self.get(&path)?;
        let rows: Vec<Vec<String>> = incidents
            .into_iter()
            .map(|i| {
                let by = i
                    .acknowledged_by
                    .as_ref()
                    .map(acknowledger)
                    .unwrap_or_default();
                vec![
                    i.id.to_string(),
                    i.status,
                    i.severity,
                    format!("{}/{}", i.open_problems, i.problems),
                    local_time(&i.opened_at, &self.zone),
                    by,
                    i.call_setting.unwrap_or_else(|| "(unrouted)".into()),
                    i.title,
                ]
            })
            .collect();
        print!(
            "{}",
            table(
                &[
                    "ID",
                    "STATUS",
                    "SEVERITY",
                    "OPEN",
                    "OPENED",
                    "ACKNOWLEDGED BY",
                    "CALL SETTING",
                    "TITLE"
                ],
                &rows
            )
        );
        Ok(())
    }

    pub fn calls(&self, incident: Option<i64>, json: bool) -> anyhow::Result<()> {
        let query = incident
            .map(|i| format!("?incident={i}"))
            .unwrap_or_default();
        let path = format!("/api/v1/calls{query}");
        if json {
            return self.print_json(&path);
        }
        let calls: Vec<CallView> = self.get(&path)?;
        let rows: Vec<Vec<String>> = calls
            .into_iter()
            .map(|c| {
                vec![
                    c.id,
                    local_time(&c.placed_at, &self.zone),
                    c.user,
                    c.phone,
                    c.purpose,
                    c.outcome.unwrap_or_else(|| "(on the line)".into()),
                    c.duration_seconds
                        .map(|d| format!("{d}s"))
                        .unwrap_or_default(),
                    c.keys.join(" "),
                    c.acknowledged.join(", "),
                ]
            })
            .collect();
        print!(
            "{}",
            table(
                &[
                    "CALL",
                    "PLACED",
                    "USER",
                    "PHONE",
                    "PURPOSE",
                    "OUTCOME",
                    "DURATION",
                    "KEYS",
                    "ACKNOWLEDGED"
                ],
                &rows
            )
        );
        Ok(())
    }

    pub fn errors(&self, json: bool) -> anyhow::Result<()> {
        let path = "/api/v1/telephony/errors";
        if json {
            return self.print_json(path);
        }
        let errors: Vec<crate::store::TelephonyErrorView> = self.get(path)?;
        let rows: Vec<Vec<String>> = errors
            .into_iter()
            .map(|e| {
                vec![
                    local_time(&e.at, &self.zone),
                    e.code.to_string(),
                    e.seen,
                    e.call_id.unwrap_or_default(),
                    e.meaning.unwrap_or(e.message),
                    e.fix.unwrap_or_default(),
                ]
            })
            .collect();
        print!(
            "{}",
            table(&["AT", "CODE", "SEEN", "CALL", "WHAT", "WHAT TO DO"], &rows)
        );
        Ok(())
    }

    pub fn ack(&self, incident: i64, by: &str) -> anyhow::Result<()> {
        let path = format!("/api/v1/incidents/{incident}/ack");
        let _: serde_json::Value =
            self.send("POST", &path, Some(&serde_json::json!({ "by": by })))?;
        println!(
            "Incident {incident}: acknowledged by {by}; calling stops and the write-back is queued."
        );
        Ok(())
    }

    pub fn add_override(
        &self,
        schedule: &str,
        user: &str,
        replaces: Option<&str>,
        from: &str,
        to: &str,
    ) -> anyhow::Result<()> {
        let path = format!("/api/v1/schedules/{}/overrides", segment(schedule));
        let body =
            serde_json::json!({ "user": user, "replaces": replaces, "start": from, "end": to });
        let created: serde_json::Value = self.send("POST", &path, Some(&body))?;
        println!("Override {} added to {schedule}.", created["id"]);
        Ok(())
    }

    pub fn overrides(&self, schedule: &str) -> anyhow::Result<()> {
        let list: Vec<crate::schedule::Override> = self.get(&format!(
            "/api/v1/schedules/{}/overrides",
            segment(schedule)
        ))?;
        for o in list {
            let instead = o
                .replaces
                .map(|r| format!(" instead of {r}"))
                .unwrap_or_default();
            println!("{:>4}  {}{instead}  {} → {}", o.id, o.user, o.start, o.end);
        }
        Ok(())
    }

    pub fn delete_override(&self, schedule: &str, id: i64) -> anyhow::Result<()> {
        let path = format!("/api/v1/schedules/{}/overrides/{id}", segment(schedule));
        let _: serde_json::Value = self.send("DELETE", &path, None)?;
        println!("Override {id} deleted.");
        Ok(())
    }

    /// Places a test call and follows it to its end; true when the callee pressed 1.
    pub fn test_call(&self, user: &str) -> anyhow::Result<bool> {
        let started: TestCall = self.send(
            "POST",
            "/api/v1/test-calls",
            Some(&serde_json::json!({ "user": user })),
        )?;
        println!(
            "Test call {} to {} ({}).",
            started.id, started.user, started.phone
        );
        let mut last = started.stage;
        // A guard against a call that never reports its end, not a timing assertion.
        for _ in 0..180 {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let call: TestCall = self.get(&format!("/api/v1/test-calls/{}", started.id))?;
            if call.stage != last {
                println!("  {:?}", call.stage);
                last = call.stage.clone();
            }
            if call.stage.is_final() {
                let outcome = call.outcome.as_deref().unwrap_or("-");
                return Ok(match call.stage {
                    Stage::Confirmed => {
                        println!("Confirmed by {}: this number is reached.", call.user);
                        true
                    }
                    _ => {
                        println!("Not confirmed ({outcome}).");
                        false
                    }
                });
            }
        }
        anyhow::bail!("test call {} did not end within 3 minutes", started.id)
    }

    pub fn sim_phone(&self, number: &str, behaviour: &Behaviour) -> anyhow::Result<()> {
        let path = format!("/sim/phones/{}", segment(number));
        let _: serde_json::Value =
            self.send("PUT", &path, Some(&serde_json::to_value(behaviour)?))?;
        println!("{number}: {}", serde_json::to_string(behaviour)?);
        Ok(())
    }

    pub fn sim_calls(&self) -> anyhow::Result<()> {
        let calls: Vec<SimCall> = self.get("/sim/calls")?;
        for call in calls {
            let answered = call.answered_by.as_deref().unwrap_or("nobody");
            println!(
                "{} to {}: {} (answered by {answered}); keys {}",
                call.sid,
                call.to,
                call.status,
                call.keys.join(" ")
            );
            for said in &call.transcript {
                println!("    「{said}」");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_by_length_by_chunks_or_to_the_end() {
        let sized =
            parse_answer(b"HTTP/1.1 202 Accepted\r\ncontent-length: 8\r\n\r\n{\"id\":1}").unwrap();
        assert_eq!(
            (sized.status, sized.body.as_str()),
            (StatusCode::ACCEPTED, "{\"id\":1}")
        );
        let chunked = parse_answer(
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"err\r\n9;x=1\r\nor\":\"no\"}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.status, StatusCode::BAD_REQUEST);
        assert_eq!(chunked.error(), "no");
        let to_end = parse_answer(b"HTTP/1.1 500 Internal Server Error\r\n\r\nboom").unwrap();
        assert_eq!(to_end.error(), "boom");
        assert!(parse_answer(b"SSH-2.0-OpenSSH_9.2\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort").is_err());
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(segment("+819000000001"), "+819000000001");
        assert_eq!(segment("night shift/2"), "night%20shift%2F2");
        assert_eq!(segment("夜"), "%E5%A4%9C");
    }

    #[test]
    fn a_line_break_in_a_token_is_refused_before_connecting() {
        // Port 9 (discard) is never reached: the request is refused while it is built.
        let daemon = Loopback::new(
            "127.0.0.1:9".parse().unwrap(),
            Some("abc\r\nX-Evil: 1".into()),
            Some(Duration::from_millis(1)),
        );
        let e = daemon.send("GET", "/", &[], None).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(!e.to_string().contains("abc"), "{e}");
    }
}
