//! `islet demo` on a machine without Node.js: the JavaScript sample is
//! skipped with one line naming what to install, and the Rust samples are
//! built and served all the same.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::*;

#[test]
fn the_demo_without_node_names_what_to_install_and_serves_the_rust_samples() {
    // `node` and `npm` that do not run, ahead of the real ones.
    let shims = tempfile::tempdir().unwrap();
    for tool in ["node", "npm"] {
        let path = shims.path().join(tool);
        std::fs::write(&path, "#!/bin/sh\nexit 127\n").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        shims.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let data = tempfile::tempdir().unwrap();
    let mut child = islet()
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let out = child.stdout.take().unwrap();
    let running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(err).lines().map_while(Result::ok).collect();
        let _ = tx.send(lines);
    });
    let started = Instant::now();
    let mut base = None;
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        if let Some(rest) = line.split("Islet demo is serving on ").nth(1) {
            base = rest.split_whitespace().next().map(str::to_string);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "no banner");
    }
    let base = base.expect("the demo serves");
    let (status, catalog) = get(&format!("{base}/api/v1/catalog"), None);
    assert_eq!(status, 200);
    let ids: Vec<&str> = catalog["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["community-report", "hello", "water-bill"]);
    drop(running);
    let lines = rx.recv_timeout(Duration::from_secs(30)).unwrap().join("\n");
    assert!(
        lines.contains("skipping the JavaScript sample(s) bus-card: node is not on the PATH")
            && lines.contains("Install Node.js 18 or later with npm"),
        "{lines}"
    );
}
