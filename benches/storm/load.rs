//! The one load generator every measure uses: plain HTTP/1.1 keep-alive connections
//! (hyper's client connection, no TLS, no root store), driven closed-loop (each connection
//! sends its next request when the last is answered) or open-loop (requests leave on a
//! fixed schedule whatever the server does, so a slow server cannot slow the sender).

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// One request to send.
#[derive(Clone)]
pub struct Req {
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

impl Req {
    pub fn get(path: impl Into<String>) -> Req {
        Req {
            method: Method::GET,
            path: path.into(),
            content_type: None,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn json(path: impl Into<String>, body: &serde_json::Value) -> Req {
        Req {
            method: Method::POST,
            content_type: Some("application/json"),
            body: Bytes::from(body.to_string()),
            ..Req::get(path)
        }
    }

    pub fn form(path: impl Into<String>, params: &[(String, String)]) -> Req {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        Req {
            method: Method::POST,
            content_type: Some("application/x-www-form-urlencoded"),
            body: Bytes::from(body),
            ..Req::get(path)
        }
    }

    pub fn header(mut self, name: &'static str, value: String) -> Req {
        self.headers.push((name, value));
        self
    }
}

/// A keep-alive connection that sends one request at a time.
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    host: String,
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Conn, Error> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (send, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // Drives the socket; ends when either side closes it.
        tokio::spawn(connection);
        Ok(Conn {
            send,
            host: addr.to_string(),
        })
    }

    /// Sends `req` and reads the whole answer: status and body.
    pub async fn send(&mut self, req: &Req) -> Result<(u16, Bytes), Error> {
        self.send.ready().await?;
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(&req.path)
            .header(HOST, &self.host);
        if let Some(content_type) = req.content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        let response = self
            .send
            .send_request(builder.body(Full::new(req.body.clone()))?)
            .await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// One request as the sender saw it, in times since the run started.
#[derive(Clone, Copy)]
struct Sample {
    /// When it was answered.
    done: Duration,
    /// From when it was sent (open loop: when it was due) to the answer.
    latency: Duration,
    /// Answered 2xx.
    ok: bool,
}

/// What a run did.
pub struct Report {
    samples: Vec<Sample>,
    /// Requests due that got no answer at all before the run ended.
    pub unanswered: u64,
    pub elapsed: Duration,
}

impl Report {
    fn new(mut samples: Vec<Sample>, due: u64, elapsed: Duration) -> Report {
        samples.sort_by_key(|s| s.done);
        Report {
            unanswered: due.saturating_sub(samples.len() as u64),
            samples,
            elapsed,
        }
    }

    pub fn accepted(&self) -> usize {
        self.samples.iter().filter(|s| s.ok).count()
    }

    pub fn refused(&self) -> usize {
        self.samples.len() - self.accepted()
    }

    /// Accepted requests per second over the run.
    pub fn rate(&self) -> f64 {
        self.accepted() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn accepted_by(&self, at: Duration) -> usize {
        self.samples.iter().filter(|s| s.ok && s.done <= at).count()
    }

    /// When the last accepted request was answered.
    pub fn last_accepted(&self) -> Option<Duration> {
        self.samples.iter().rev().find(|s| s.ok).map(|s| s.done)
    }

    /// Latency percentile (0–100) of accepted requests.
    pub fn latency(&self, percentile: f64) -> Duration {
        let mut latencies: Vec<Duration> = self
            .samples
            .iter()
            .filter(|s| s.ok)
            .map(|s| s.latency)
            .collect();
        latencies.sort();
        percentile_of(&latencies, percentile)
    }

    /// Accepted requests per second within each run of `size` consecutive answers.
    pub fn segment_rates(&self, size: usize) -> Vec<f64> {
        let done: Vec<Duration> = self
            .samples
            .iter()
            .filter(|s| s.ok)
            .map(|s| s.done)
            .collect();
        let mut start = Duration::ZERO;
        done.chunks_exact(size)
            .map(|chunk| {
                let end = chunk[size - 1];
                let rate = size as f64 / (end - start).as_secs_f64();
                start = end;
                rate
            })
            .collect()
    }
}

/// `sorted[percentile %]`, zero when empty.
pub fn percentile_of(sorted: &[Duration], percentile: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (percentile / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Closed loop: `connections` connections each send the next request (`make(i)`, i
/// counting up across all of them) as soon as the last is answered, until `requests` were
/// sent or `duration` has passed.
pub async fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    requests: u64,
    duration: Duration,
    make: impl Fn(u64) -> Req + Send + Sync + 'static,
) -> Report {
    let make = Arc::new(make);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..connections {
        let (make, next) = (make.clone(), next.clone());
        workers.spawn(async move {
            let mut samples = Vec::new();
            let mut conn = None;
            while start.elapsed() < duration {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let req = make(i);
                let sent = Instant::now();
                let ok = match exchange(&mut conn, addr, &req).await {
                    Ok((status, _)) => (200..300).contains(&status),
                    Err(_) => false,
                };
                samples.push(Sample {
                    done: start.elapsed(),
                    latency: sent.elapsed(),
                    ok,
                });
            }
            samples
        });
    }
    let samples: Vec<Sample> = workers.join_all().await.into_iter().flatten().collect();
    let due = samples.len() as u64;
    Report::new(samples, due, start.elapsed())
}

/// Sends on `conn`, opening it first if needed; a failed connection is dropped so the
/// next request opens a fresh one.
async fn exchange(
    conn: &mut Option<Conn>,
    addr: SocketAddr,
    req: &Req,
) -> Result<(u16, Bytes), Error> {
    if conn.is_none() {
        *conn = Some(Conn::open(addr).await?);
    }
    let result = conn.as_mut().expect("opened above").send(req).await;
    if result.is_err() {
        *conn = None;
    }
    result
}

/// Open loop: `requests` requests leave evenly spread over `over`, each on a free pooled
/// connection or a new one (at most `max_connections`, like that many monitoring
/// processes at once). Latency counts from when a request was due, so time spent waiting
/// for a connection is the server's. Requests still unanswered at `give_up` are dropped.
pub async fn open_loop(
    addr: SocketAddr,
    requests: u64,
    over: Duration,
    max_connections: usize,
    give_up: Duration,
    make: impl Fn(u64) -> Req,
) -> Report {
    let pool: Arc<Mutex<Vec<Conn>>> = Arc::default();
    let slots = Arc::new(Semaphore::new(max_connections));
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let start = Instant::now();
    let mut inflight = JoinSet::new();
    for i in 0..requests {
        let due = start + over.mul_f64(i as f64 / requests as f64);
        tokio::time::sleep_until(due).await;
        let req = make(i);
        let (pool, slots, samples) = (pool.clone(), slots.clone(), samples.clone());
        inflight.spawn(async move {
            let _slot = slots.acquire_owned().await.expect("never closed");
            let mut conn = pool.lock().expect("no panics while held").pop();
            let ok = match exchange(&mut conn, addr, &req).await {
                Ok((status, _)) => (200..300).contains(&status),
                Err(_) => false,
            };
            samples.lock().expect("no panics while held").push(Sample {
                done: start.elapsed(),
                latency: due.elapsed(),
                ok,
            });
            pool.lock().expect("no panics while held").extend(conn);
        });
    }
    let _ = tokio::time::timeout_at(start + give_up, async {
        while inflight.join_next().await.is_some() {}
    })
    .await;
    inflight.abort_all();
    let samples = std::mem::take(&mut *samples.lock().expect("no panics while held"));
    Report::new(samples, requests, start.elapsed().min(give_up))
}
