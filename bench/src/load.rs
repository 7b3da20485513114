//! A closed-loop HTTP/1 load generator, the same for every server measured.
//!
//! Each concurrent task owns one keep-alive connection and sends its next
//! request as soon as the previous answer is in. All tasks start together;
//! answers completed during the warm-up are discarded, then every answer
//! completed inside the measurement window counts. The client runs on its
//! own single-threaded-worker Tokio runtime (like `wrk -t1`), so it never
//! shares worker threads with the server under test.

use crate::stats::Percentiles;
use anyhow::Context as _;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Longest a single request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where requests go: `GET http://{addr}{path}`, optionally with a bearer
/// token, and what a good answer is.
#[derive(Debug, Clone)]
pub struct Target {
    /// Server address.
    pub addr: SocketAddr,
    /// Path and query.
    pub path: String,
    /// `Authorization` header value sent with every request, if any.
    pub authorization: Option<String>,
    /// The body a good answer has; without it any `200` counts.
    pub expect: Option<Bytes>,
}

impl Target {
    /// `GET http://{addr}{path}`, any `200` counting.
    pub fn new(addr: SocketAddr, path: &str) -> Target {
        Target {
            addr,
            path: path.to_string(),
            authorization: None,
            expect: None,
        }
    }

    /// The same requests with `Authorization: Bearer {token}`.
    pub fn bearer(mut self, token: &str) -> Target {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }

    /// Only `200` answers with exactly `body` count; others are errors.
    pub fn expecting(mut self, body: impl Into<Bytes>) -> Target {
        self.expect = Some(body.into());
        self
    }

    /// Whether `status` and `body` are a good answer.
    pub fn good(&self, status: u16, body: &[u8]) -> bool {
        status == 200 && self.expect.as_ref().is_none_or(|e| e == body)
    }
}

/// The shape of one load point.
#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    /// Concurrent connections, each with one request in flight.
    pub concurrency: usize,
    /// Time before measuring starts.
    pub warmup: Duration,
    /// Measurement window.
    pub duration: Duration,
}

/// What one load point measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Concurrent connections.
    pub concurrency: usize,
    /// Good answers (`200` with the expected body) completed in the window.
    pub completed: u64,
    /// Other answers (another status, a wrong body) and failed requests
    /// in the window.
    pub errors: u64,
    /// What the errors were: a wrong answer by status and error code
    /// (`503 plugin_busy`, `200 wrong body`), or `connect`, `timeout`,
    /// `broken` for no answer.
    pub error_kinds: BTreeMap<String, u64>,
    /// The measurement window.
    pub window: Duration,
    /// Latency of the good answers.
    pub latency: Percentiles,
}

impl LoadResult {
    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs == 0.0 {
            0.0
        } else {
            self.completed as f64 / secs
        }
    }
}

/// Background callers started by [`Client::start_noise`].
pub struct Noise {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<NoiseStats>>,
}

/// Outcomes of the noise callers' requests.
#[derive(Debug, Clone, Default)]
pub struct NoiseStats {
    /// Answers by HTTP status.
    pub by_status: BTreeMap<u16, u64>,
    /// Answers by status and, for a host's error, its code
    /// (`503 plugin_busy`).
    pub by_answer: BTreeMap<String, u64>,
    /// Requests that got no answer.
    pub failed: u64,
    /// Why they got none: `connect`, `timeout` (no answer within
    /// 10 s) or `broken` (the connection closed mid-request).
    pub why: BTreeMap<&'static str, u64>,
}

impl NoiseStats {
    /// Answers received, any status.
    pub fn answered(&self) -> u64 {
        self.by_status.values().sum()
    }

    /// Add `other`'s counts to these.
    pub fn merge(&mut self, other: NoiseStats) {
        for (status, n) in other.by_status {
            *self.by_status.entry(status).or_default() += n;
        }
        for (answer, n) in other.by_answer {
            *self.by_answer.entry(answer).or_default() += n;
        }
        self.failed += other.failed;
        for (why, n) in other.why {
            *self.why.entry(why).or_default() += n;
        }
    }

    /// Count one request with no answer, for `why`.
    fn no_answer(&mut self, why: &'static str) {
        self.failed += 1;
        *self.why.entry(why).or_default() += 1;
    }

    /// The requests with no answer and why, e.g. `2 (timeout 2)`.
    pub fn no_answer_summary(&self) -> String {
        if self.failed == 0 {
            return "0".into();
        }
        let why: Vec<String> = self.why.iter().map(|(w, n)| format!("{w} {n}")).collect();
        format!("{} ({})", self.failed, why.join(", "))
    }
}

/// The load generator and its runtime.
pub struct Client {
    runtime: tokio::runtime::Runtime,
}

impl Client {
    /// A client with one worker thread of its own (its allocations are
    /// not counted as the servers').
    pub fn new() -> anyhow::Result<Client> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bench-client")
            .on_thread_start(crate::alloc::not_counted)
            .enable_all()
            .build()
            .context("cannot start the client runtime")?;
        Ok(Client { runtime })
    }

    /// One request on a fresh connection: status and body.
    pub fn fetch(&self, target: &Target) -> anyhow::Result<(u16, Bytes)> {
        self.runtime.block_on(async {
            let mut sender = connect(target.addr).await?;
            send(&mut sender, target).await
        })
    }

    /// `n` requests to `target` one after another on one connection: how
    /// many were good answers.
    pub fn repeat(&self, target: &Target, n: usize) -> anyhow::Result<usize> {
        self.runtime.block_on(async {
            let mut sender = connect(target.addr).await?;
            let mut good = 0;
            for _ in 0..n {
                let (status, body) = send(&mut sender, target).await?;
                good += usize::from(target.good(status, &body));
            }
            Ok(good)
        })
    }

    /// Run one closed-loop load point against `target`.
    pub fn run(&self, target: &Target, spec: LoadSpec) -> anyhow::Result<LoadResult> {
        let target = Arc::new(target.clone());
        self.runtime.block_on(async move {
            let measure_from = Instant::now() + spec.warmup;
            let end = measure_from + spec.duration;
            let tasks: Vec<_> = (0..spec.concurrency.max(1))
                .map(|_| tokio::spawn(worker(target.clone(), measure_from, end)))
                .collect();
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut error_kinds = BTreeMap::new();
            for task in tasks {
                let tally = task.await.context("a load task failed")?;
                latencies.extend(tally.latencies);
                errors += tally.errors;
                add_error_kinds(&mut error_kinds, &tally.error_kinds);
            }
            let completed = latencies.len() as u64;
            Ok(LoadResult {
                concurrency: spec.concurrency,
                completed,
                errors,
                error_kinds,
                window: spec.duration,
                latency: Percentiles::of(&mut latencies),
            })
        })
    }

    /// Start `callers` tasks that call `target` in a loop until
    /// [`Client::stop_noise`], whatever the answers.
    pub fn start_noise(&self, target: &Target, callers: usize) -> Noise {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..callers)
            .map(|_| {
                self.runtime
                    .spawn(noise_caller(Arc::new(target.clone()), stop.clone()))
            })
            .collect();
        Noise { stop, tasks }
    }

    /// Stop `noise` and collect what its callers saw.
    pub fn stop_noise(&self, noise: Noise) -> anyhow::Result<NoiseStats> {
        noise.stop.store(true, Ordering::Relaxed);
        self.runtime.block_on(async move {
            let mut stats = NoiseStats::default();
            for task in noise.tasks {
                stats.merge(task.await.context("a noise task failed")?);
            }
            Ok(stats)
        })
    }
}

/// Add the error counts of `from` to `into`, kind by kind.
pub fn add_error_kinds(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (kind, n) in from {
        *into.entry(kind.clone()).or_insert(0) += n;
    }
}

/// What one load task saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    error_kinds: BTreeMap<String, u64>,
}

impl Tally {
    fn error(&mut self, kind: String) {
        self.errors += 1;
        *self.error_kinds.entry(kind).or_insert(0) += 1;
    }
}

async fn worker(target: Arc<Target>, measure_from: Instant, end: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut connection: Option<SendRequest<Empty<Bytes>>> = None;
    while Instant::now() < end {
        let sender = match connection.as_mut() {
            Some(sender) => sender,
            None => match connect(target.addr).await {
                Ok(sender) => connection.insert(sender),
                Err(_) => {
                    if Instant::now() >= measure_from {
                        tally.error("connect".into());
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let sent = Instant::now();
        let result = tokio::time::timeout(REQUEST_TIMEOUT, send(sender, &target)).await;
        let done = Instant::now();
        let counted = done >= measure_from && done <= end;
        match result {
            Ok(Ok((status, body))) if target.good(status, &body) => {
                if counted {
                    tally.latencies.push(done - sent);
                }
            }
            Ok(Ok((status, body))) => {
                if counted {
                    tally.error(if status == 200 {
                        "200 wrong body".into()
                    } else {
                        answer_of(status, &body)
                    });
                }
            }
            Ok(Err(_)) | Err(_) => {
                connection = None;
                if counted {
                    tally.error(if result.is_err() { "timeout" } else { "broken" }.into());
                }
            }
        }
    }
    tally
}

async fn noise_caller(target: Arc<Target>, stop: Arc<AtomicBool>) -> NoiseStats {
    let mut stats = NoiseStats::default();
    let mut connection: Option<SendRequest<Empty<Bytes>>> = None;
    while !stop.load(Ordering::Relaxed) {
        let sender = match connection.as_mut() {
            Some(sender) => sender,
            None => match connect(target.addr).await {
                Ok(sender) => connection.insert(sender),
                Err(_) => {
                    stats.no_answer("connect");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, send(sender, &target)).await {
            Ok(Ok((status, body))) => {
                *stats.by_status.entry(status).or_default() += 1;
                *stats.by_answer.entry(answer_of(status, &body)).or_default() += 1;
            }
            Ok(Err(_)) => {
                connection = None;
                stats.no_answer("broken");
            }
            Err(_) => {
                connection = None;
                stats.no_answer("timeout");
            }
        }
    }
    stats
}

/// `status`, and the error code of a JSON error body (`503 plugin_busy`).
fn answer_of(status: u16, body: &[u8]) -> String {
    let code = (status >= 400)
        .then(|| serde_json::from_slice::<serde_json::Value>(body).ok())
        .flatten()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string));
    match code {
        Some(code) => format!("{status} {code}"),
        None => status.to_string(),
    }
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP/1 handshake failed")?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes.
        let _ = connection.await;
    });
    Ok(sender)
}

async fn send(
    sender: &mut SendRequest<Empty<Bytes>>,
    target: &Target,
) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await.context("connection closed")?;
    let mut request = hyper::Request::get(target.path.as_str())
        .header(hyper::header::HOST, target.addr.to_string());
    if let Some(value) = &target.authorization {
        request = request.header(hyper::header::AUTHORIZATION, value);
    }
    let request = request
        .body(Empty::new())
        .context("cannot build the request")?;
    let response = sender
        .send_request(request)
        .await
        .context("request failed")?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .context("cannot read the body")?
        .to_bytes();
    Ok((status, body))
}
