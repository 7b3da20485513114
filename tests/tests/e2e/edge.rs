//! The host against hostile callers at the edge: slow and greedy
//! connections, session and stream hoarding, the breaker, private files and
//! forged log lines.

use islet_tests::{TestHost, component, json_of, manifest_as};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long until the server closes `stream` (reading and discarding what
/// it sends); `None` if it is still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

async fn connect(host: &TestHost) -> TcpStream {
    TcpStream::connect(host.server().addr()).await.unwrap()
}

/// Everything the server sends on `stream` until it closes it.
async fn read_all(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_are_cut_after_the_header_timeout_while_others_are_served() {
    let host = TestHost::start_with(|c| {
        c.connections.header_timeout = Duration::from_secs(2);
        c.connections.max_connections_per_address = 1000;
    })
    .await;
    let started = Instant::now();
    let mut slow = Vec::new();
    for i in 0..300 {
        let mut s = connect(&host).await;
        s.write_all(format!("GET /healthz HTTP/1.1\r\nhost: x\r\nx-n: {i}\r\n").as_bytes())
            .await
            .unwrap();
        slow.push(s);
    }
    // A slowloris trickling its head byte by byte gets no more time.
    let mut trickle = connect(&host).await;
    let trickler = tokio::spawn(async move {
        let head = format!("GET /healthz HTTP/1.1\r\nx-slow: {}", "a".repeat(200));
        for b in head.bytes() {
            if trickle.write_all(&[b]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    });
    // With 300 heads hanging, a normal client is served.
    let asked = Instant::now();
    let r = host.get("/healthz", None).await;
    assert_eq!(r.status(), 200);
    eprintln!("served beside 300 hanging heads in {:?}", asked.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the check ran before the timeout"
    );
    for s in &mut slow {
        let closed = closed_within(s, Duration::from_secs(8)).await;
        assert!(
            closed.is_some(),
            "a connection with an unfinished head stayed open"
        );
    }
    let all_closed = started.elapsed();
    eprintln!("300 unfinished heads all closed {all_closed:?} after the first was opened");
    assert!(
        all_closed >= Duration::from_millis(1900) && all_closed < Duration::from_secs(6),
        "closed after {all_closed:?}"
    );
    assert!(trickler.await.unwrap(), "the trickling head was cut too");
    assert_eq!(host.get("/healthz", None).await.status(), 200);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_cut_and_a_steady_one_is_not() {
    let host = TestHost::start_with(|c| {
        c.connections.body_grace = Duration::from_millis(500);
        c.connections.body_min_rate = 1024;
    })
    .await;
    let mut slow = connect(&host).await;
    slow.write_all(
        b"POST /api/v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
          content-length: 100000\r\n\r\n",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut sent = 0;
    let cut = loop {
        // 20 bytes every 200 ms: 100 B/s, far below the minimum.
        if slow.write_all(&[b' '; 20]).await.is_err() {
            break started.elapsed();
        }
        sent += 20;
        match tokio::time::timeout(Duration::from_millis(200), slow.read(&mut [0u8; 512])).await {
            Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a 100 B/s body was never cut"
        );
    };
    eprintln!("a 100 B/s body was cut after {cut:?} and {sent} bytes");
    assert!(
        cut < Duration::from_secs(3) && sent < 1000,
        "cut after {cut:?} and {sent} bytes"
    );

    // 1 KiB every 100 ms (10 KiB/s) for 1.5 s passes: the body is read and
    // answered (401: no token).
    let mut steady = connect(&host).await;
    steady
        .write_all(
            b"POST /api/v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
              connection: close\r\ncontent-length: 15360\r\n\r\n",
        )
        .await
        .unwrap();
    for _ in 0..15 {
        steady.write_all(&[b' '; 1024]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = read_all(&mut steady).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_caps_are_refused_with_json() {
    let host = TestHost::start_with(|c| {
        c.connections.max_connections_per_address = 4;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect(&host).await);
    }
    // The held ones are counted once accepted.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = connect(&host).await;
    let answer = read_all(&mut over).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "too_many_connections", "{body}");
    assert!(body["error"]["request_id"].is_string());
    // reqwest from the same address is refused as well (it reads the 503,
    // or its request meets the closed socket first), until one closes.
    match host.http.get(host.url("/healthz")).send().await {
        Ok(r) => assert_eq!(r.status(), 503),
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(host.get("/healthz", None).await.status(), 200);
    drop(held);
    host.stop().await;

    let host = TestHost::start_with(|c| {
        c.connections.max_connections = 2;
        c.connections.max_connections_per_address = 0;
    })
    .await;
    let (_a, _b) = (connect(&host).await, connect(&host).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer = read_all(&mut connect(&host).await).await;
    assert!(answer.contains("too many open connections"), "{answer}");
    drop((_a, _b));
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let host = TestHost::start_with(|c| {
        c.connections.idle_timeout = Duration::from_millis(700);
        c.connections.header_timeout = Duration::from_secs(5);
    })
    .await;
    let mut s = connect(&host).await;
    for _ in 0..2 {
        // Requests keep it alive...
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // ...silence past the idle timeout ends it.
    let closed = closed_within(&mut s, Duration::from_secs(5)).await;
    let closed = closed.expect("the idle connection stayed open");
    eprintln!("idle keep-alive (timeout 700 ms) closed {closed:?} after the last 400 ms pause");
    assert!(closed < Duration::from_secs(2), "{closed:?}");
    host.stop().await;
}

/// A service session of `hello` for `token`.
async fn open_session(host: &TestHost, token: &str) -> String {
    let (status, body) = host
        .post("/api/v1/sessions", token, Some(json!({"plugin": "hello"})))
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// The status of `hello`'s page with `session`.
async fn with_session(host: &TestHost, session: &str) -> u16 {
    host.get("/p/hello/", Some(session)).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_minting_sessions_ends_only_their_own_oldest() {
    let mut host = TestHost::start_with(|c| {
        c.citizen_limits.sessions_per_citizen = 5;
        c.citizen_limits.sessions_per_minute = 1000;
    })
    .await;
    host.install("hello").await;
    let (alice, bob) = (host.token("alice", &[]), host.token("bob", &[]));
    let bobs = open_session(&host, &bob).await;
    let mut alices = Vec::new();
    for _ in 0..40 {
        alices.push(open_session(&host, &alice).await);
    }
    assert_eq!(
        with_session(&host, &bobs).await,
        200,
        "bob's session survives"
    );
    assert_eq!(with_session(&host, &alices[39]).await, 200);
    let (status, body) = json_of(host.get("/p/hello/", Some(&alices[0])).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );
    // After a restart (nothing in memory) the store holds alice's newest
    // five and bob's one.
    host.restart().await;
    let mut alive = Vec::new();
    for t in &alices {
        alive.push(with_session(&host, t).await == 200);
    }
    assert_eq!(alive.iter().filter(|a| **a).count(), 5, "{alive:?}");
    assert!(
        alive[35..].iter().all(|a| *a),
        "the newest five live: {alive:?}"
    );
    assert_eq!(with_session(&host, &bobs).await, 200);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_sessions_is_rate_limited_per_citizen_with_429_json() {
    let host = TestHost::start_with(|c| c.citizen_limits.sessions_per_minute = 3).await;
    host.install("hello").await;
    let (alice, bob) = (host.token("alice", &[]), host.token("bob", &[]));
    let body = json!({"plugin": "hello"});
    for _ in 0..3 {
        let (status, _) = host
            .post("/api/v1/sessions", &alice, Some(body.clone()))
            .await;
        assert_eq!(status, 201);
    }
    let r = host
        .http
        .post(host.url("/api/v1/sessions"))
        .bearer_auth(&alice)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("retry-after"));
    let (status, refused) = json_of(r).await;
    assert_eq!(status, 429, "{refused}");
    assert_eq!(refused["error"]["code"], "too_many_sessions");
    assert!(refused["error"]["request_id"].is_string());
    let (status, _) = host.post("/api/v1/sessions", &bob, Some(body)).await;
    assert_eq!(status, 201, "another citizen is not limited");
    host.stop().await;
}

async fn inbox_stream(host: &TestHost, token: &str) -> reqwest::Response {
    host.get("/api/v1/inbox/stream", Some(token)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_holds_a_capped_number_of_inbox_streams() {
    let host = TestHost::start_with(|c| c.citizen_limits.inbox_streams_per_citizen = 2).await;
    let (alice, bob) = (host.token("alice", &[]), host.token("bob", &[]));
    let first = inbox_stream(&host, &alice).await;
    let second = inbox_stream(&host, &alice).await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let r = inbox_stream(&host, &alice).await;
    assert!(r.headers().contains_key("retry-after"));
    let (status, body) = json_of(r).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_streams");
    assert_eq!(
        inbox_stream(&host, &bob).await.status(),
        200,
        "bob has his own places"
    );
    // Closing a stream frees its place.
    drop(first);
    let started = Instant::now();
    let freed = Instant::now();
    loop {
        let r = inbox_stream(&host, &alice).await;
        if r.status() == 200 {
            eprintln!(
                "a closed stream's place was free again after {:?}",
                freed.elapsed()
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "a closed stream's place was never freed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(second);
    host.stop().await;
}

async fn install_flaky(host: &TestHost, id: &str) {
    let base = manifest_as("hostile", id, None);
    let head = base.split("[limits]").next().unwrap().to_string();
    let manifest = format!(
        "{head}\n[limits]\nbreaker-window = 4\nbreaker-failure-percent = 50\n\
         breaker-cooldown-s = 600\nbreaker-min-callers = 3\nmemory-mib = 16\n"
    );
    let r = host.upload(&manifest, component("hostile")).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_caller_cannot_suspend_a_plugin_but_several_failing_callers_do() {
    let host = TestHost::start().await;
    install_flaky(&host, "flaky").await;
    let citizen = host.token("citizen", &[]);
    // One anonymous address makes it fail 20 times: it is not suspended.
    for _ in 0..20 {
        assert_eq!(host.get("/p/flaky/trap", None).await.status(), 500);
    }
    assert_eq!(host.get("/p/flaky/ok", Some(&citizen)).await.status(), 200);
    assert_eq!(host.get("/p/flaky/ok", None).await.status(), 200);
    let (_, plugin) = host
        .get_json("/admin/v1/plugins/flaky", Some(&host.admin()))
        .await;
    assert_eq!(plugin["breaker"], "closed");
    // One citizen alike.
    for _ in 0..20 {
        assert_eq!(
            host.get("/p/flaky/trap", Some(&citizen)).await.status(),
            500
        );
    }
    assert_eq!(host.get("/p/flaky/ok", None).await.status(), 200);

    // Failing for four distinct citizens, it opens for everyone.
    install_flaky(&host, "broken").await;
    for who in ["a", "b", "c", "d"] {
        let token = host.token(who, &[]);
        assert_eq!(host.get("/p/broken/trap", Some(&token)).await.status(), 500);
    }
    let (status, body) = json_of(host.get("/p/broken/ok", Some(&citizen)).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("plugin_suspended")),
        "{body}"
    );
    host.stop().await;
}

/// The guest log lines this test process writes, in the host's text
/// format (one subscriber for the whole process, guests' lines only).
pub(crate) fn guest_log() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    static LOG: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
        std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = log.clone();
        let layer = islet_host::logging::text_layer(move || Sink(sink.clone()), false)
            .with_filter(tracing_subscriber::EnvFilter::new("islet::guest=trace"));
        tracing_subscriber::registry()
            .with(layer)
            .try_init()
            .expect("no other logger in the e2e tests");
        log
    })
    .clone()
}

struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_log_line_cannot_forge_host_log_lines() {
    let log = guest_log();
    let host = TestHost::start().await;
    host.install("probe").await;
    let nonce = hex::encode(rand_bytes());
    let forged_line = format!("2026-11-30T13:00:00.000000Z  INFO islet::http: forged-{nonce}");
    let body = format!("hello-{nonce}\n{forged_line}\r\x1b[2K\x1b[31mrepainted\u{2028}end");
    let r = host
        .http
        .post(host.url("/p/probe/log?level=warn"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = text.lines().filter(|l| l.contains(&nonce)).collect();
    assert_eq!(ours.len(), 1, "one guest line, one log line: {ours:?}");
    let line = ours[0];
    assert!(line.contains(" WARN "), "{line}");
    assert!(
        line.contains("plugin=probe") || line.contains("plugin=\"probe\""),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "hello-{nonce}\\n{forged_line}\\r\\x1b[2K\\x1b[31mrepainted\\u{{2028}}end"
        )),
        "{line}"
    );
    assert!(!text.lines().any(|l| l.starts_with(&forged_line)));
    assert!(!line.contains('\x1b') && !line.contains('\r'));
    host.stop().await;
}

fn rand_bytes() -> [u8; 8] {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (t as u64 ^ u64::from(std::process::id()).rotate_left(32)).to_be_bytes()
}

/// Every file and folder under `root` with its mode bits.
fn modes(root: &std::path::Path) -> Vec<(std::path::PathBuf, u32, bool)> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(path) = todo.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        out.push((
            path.clone(),
            meta.permissions().mode() & 0o777,
            meta.is_dir(),
        ));
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                todo.push(entry.unwrap().path());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_folder_is_private_after_a_real_host_ran() {
    use std::os::unix::fs::PermissionsExt as _;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    // A data folder left readable by everyone, as older hosts made it.
    std::fs::create_dir_all(data.join("components")).unwrap();
    std::fs::write(data.join("components/left-over"), b"x").unwrap();
    for (path, mode) in [
        (data.clone(), 0o755),
        (data.join("components"), 0o755),
        (data.join("components/left-over"), 0o644),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let folder = data.clone();
    let host = TestHost::start_with(move |c| {
        c.data_dir = folder.clone();
        c.secrets_dir = folder.clone();
        c.cache_dir = folder.join("cache");
    })
    .await;
    host.install("hello").await;
    let session = open_session(&host, &host.token("alice", &[])).await;
    assert_eq!(with_session(&host, &session).await, 200);
    host.stop().await;

    let all = modes(&data);
    let names: Vec<String> = all
        .iter()
        .map(|(p, _, _)| p.strip_prefix(&data).unwrap().display().to_string())
        .collect();
    for expected in [
        "db",
        "components",
        "cache",
        "pairwise-secret",
        "dev-signing-key",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(expected)),
            "{expected} missing in {names:?}"
        );
    }
    assert!(all.len() > 8, "{names:?}");
    for (path, mode, dir) in &all {
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(
            *mode & 0o077,
            0,
            "{} is {mode:o}, group or others may read it",
            path.display()
        );
        if path.ends_with("left-over") || *dir {
            assert_eq!(*mode, want, "{}", path.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_hold_up_a_shutdown() {
    let host = TestHost::start_with(|c| {
        c.connections.header_timeout = Duration::from_secs(60);
        c.connections.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let mut hanging = Vec::new();
    for _ in 0..50 {
        let mut s = connect(&host).await;
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        hanging.push(s);
    }
    let mut idle = connect(&host).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let n = idle.read(&mut [0u8; 1024]).await.unwrap();
    assert!(n > 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), host.stop())
        .await
        .expect("the shutdown waited for slow clients");
    eprintln!(
        "stopped in {:?} beside 50 unfinished heads",
        stopping.elapsed()
    );
    assert!(stopping.elapsed() < Duration::from_secs(3));
    for s in &mut hanging {
        assert!(closed_within(s, Duration::from_secs(1)).await.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_after_the_send_timeout() {
    let host = TestHost::start_with(|c| c.connections.send_timeout = Duration::from_secs(1)).await;
    let base = manifest_as("hostile", "big", None);
    let head = base.split("[limits]").next().unwrap().to_string();
    // Copying 10 MB out of the guest took over 100 ms of CPU in a debug
    // host with every e2e test running beside it: this test is about the
    // send timeout, not the CPU limit.
    let manifest = format!("{head}\n[limits]\nresponse-body-kib = 10240\ncpu-ms = 1000\n");
    let r = host.upload(&manifest, component("hostile")).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    const BYTES: usize = 10_000_000;
    let path = format!("/p/big/big?bytes={BYTES}");
    // A reading client gets it all.
    let response = host.get(&path, None).await;
    let status = response.status();
    let all = response.bytes().await.unwrap();
    assert_eq!(
        all.len(),
        BYTES,
        "{status} {}",
        String::from_utf8_lossy(&all[..all.len().min(300)])
    );

    // One that asks and then reads nothing holds the host's writes...
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(host.server().addr()).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // ...until the send timeout cuts it: what it reads now ends early.
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got += n,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection was not cut");
    eprintln!("a client that stopped reading got {got} of {BYTES} bytes before the cut");
    assert!(got < BYTES, "got all {got} bytes: nothing was cut");
    host.stop().await;
}
