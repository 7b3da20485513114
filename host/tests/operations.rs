//! The `islet` binary's operations: the access log it writes for every
//! request (without the query string, where tokens travel), and `islet
//! config show` with every layer (file, `ISLET_*` environment, flags).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Running, islet, stderr, stdout, wait_for};

#[test]
fn every_request_gets_one_access_line_without_its_query() {
    let data = tempfile::tempdir().unwrap();
    let mut child = islet()
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("RUST_LOG", "warn,islet::access=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("islet starts");
    let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let _running = Running(child);
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let collected = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            collected.lock().unwrap().push(line);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("islet listening on ") {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("islet prints its URL");

    let client = reqwest::blocking::Client::new();
    let answer = client
        .get(format!(
            "{base}/api/v1/inbox/stream?token=SECRET-TOKEN-IN-QUERY&last_event_id=7"
        ))
        .header("x-request-id", "access-log-test-1")
        .send()
        .unwrap();
    assert_eq!(answer.status(), 401);
    let answer = client
        .get(format!("{base}/healthz"))
        .header("x-request-id", "access-log-test-2")
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);

    let line_of = |id: &str| {
        let id = id.to_string();
        wait_for("the access line", Duration::from_secs(10), || {
            let lines = lines.lock().unwrap();
            let mine: Vec<String> = lines
                .iter()
                .filter(|l| l.contains("islet::access") && l.contains(&id))
                .cloned()
                .collect();
            (!mine.is_empty()).then_some(mine)
        })
    };
    let stream = line_of("access-log-test-1");
    assert_eq!(stream.len(), 1, "one line per request: {stream:?}");
    let line = &stream[0];
    for part in [
        "INFO",
        "method=GET",
        "path=/api/v1/inbox/stream",
        "status=401",
        "latency_ms=",
    ] {
        assert!(line.contains(part), "{part} missing: {line}");
    }
    assert!(!line.contains("SECRET-TOKEN"), "a token in the log: {line}");
    assert!(
        !line.contains('?') && !line.contains("last_event_id"),
        "{line}"
    );
    let health = line_of("access-log-test-2");
    assert!(
        health[0].contains("path=/healthz") && health[0].contains("status=200"),
        "{health:?}"
    );
    let all = lines.lock().unwrap().join("\n");
    assert!(!all.contains("SECRET-TOKEN"), "{all}");
}

#[test]
fn config_show_prints_every_layer_applied_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("islet.toml");
    std::fs::write(
        &file,
        "[payment]\nlease-ms = 1000\nretry-base-ms = 77\n\
         [store]\nurl = \"postgres://islet:db-password-xyz@db.example/islet\"\n\
         [notification]\ncitizen-daily-cap = 5\n",
    )
    .unwrap();
    let output = islet()
        .args(["config", "show", "--listen", "127.0.0.1:9999", "--data-dir"])
        .arg(dir.path())
        .arg("--config")
        .arg(&file)
        .env("ISLET_PAYMENT__LEASE_MS", "4321")
        .env("ISLET_NOTIFICATION__CITIZEN_DAILY_CAP", "9")
        .env("ISLET_METRICS__TOKEN", "metrics-secret-abcdefghijkl")
        .env("ISLET_TRUSTED_PROXIES", "[\"10.1.0.0/16\"]")
        .env("ISLET_LISTEN", "127.0.0.1:1111")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(!text.contains("db-password-xyz"), "{text}");
    assert!(!text.contains("metrics-secret"), "{text}");
    let shown: toml::Value = toml::from_str(&text).expect("TOML");
    assert_eq!(
        shown["listen"].as_str(),
        Some("127.0.0.1:9999"),
        "flag wins"
    );
    assert_eq!(
        shown["payment"]["lease-ms"].as_integer(),
        Some(4321),
        "env wins"
    );
    assert_eq!(
        shown["payment"]["retry-base-ms"].as_integer(),
        Some(77),
        "file"
    );
    assert_eq!(
        shown["payment"]["max-attempts"].as_integer(),
        Some(15),
        "default"
    );
    assert_eq!(
        shown["notification"]["citizen-daily-cap"].as_integer(),
        Some(9)
    );
    assert_eq!(shown["metrics"]["token"].as_str(), Some("<redacted>"));
    assert_eq!(
        shown["store"]["url"].as_str(),
        Some("postgres://islet:%3Credacted%3E@db.example/islet")
    );
    assert_eq!(shown["trusted-proxies"][0].as_str(), Some("10.1.0.0/16"));

    // An unknown setting is refused, naming the variable.
    let output = islet()
        .args(["config", "show"])
        .env("ISLET_PAYMENT__LEASE_MSS", "1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("ISLET_PAYMENT__LEASE_MSS"), "{err}");
}
