//! The department developer's loop, as a new developer runs it: `islet
//! plugin new` outside this repository, `cargo test` in the new project,
//! then `islet dev`: the service answers, a saved edit is served without a
//! restart and with the plugin's data kept, a build error leaves the last
//! good version serving, and the plugin's log lines stream into the
//! terminal with request ids.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

/// Lines a child wrote to stderr, collected as they come.
fn collect(child: &mut std::process::Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let err = child.stderr.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

fn wait_line(
    lines: &Mutex<Vec<String>>,
    what: &str,
    limit: Duration,
    test: impl Fn(&str) -> bool,
) -> String {
    let started = Instant::now();
    loop {
        if let Some(line) = lines.lock().unwrap().iter().rev().find(|l| test(l)) {
            return line.clone();
        }
        assert!(
            started.elapsed() < limit,
            "timed out waiting for {what}; islet dev wrote:\n{}",
            lines.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_new_plugin_is_tested_served_and_reloaded_on_save() {
    let home = tempfile::tempdir().unwrap();
    let out = islet_in(home.path())
        .args(["plugin", "new", "counter", "--department", "parks"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("cargo test"), "{}", stdout(&out));
    let project = home.path().join("counter");

    // The project's own tests pass straight away.
    let test = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("test")
        .current_dir(&project)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "{}",
        String::from_utf8_lossy(&test.stderr)
    );

    // islet dev: built, installed, released, tokens and URLs printed.
    let mut child = islet_in(&project)
        .args(["dev", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = collect(&mut child);
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut banner = String::new();
    let mut reader = BufReader::new(stdout);
    let started = Instant::now();
    while !banner.contains("Ctrl-C") {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no banner: {banner}"
        );
        if reader.read_line(&mut banner).unwrap() == 0 {
            panic!(
                "islet dev exited: {banner}\n{}",
                log.lock().unwrap().join("\n")
            );
        }
    }
    let base = banner
        .split("is serving on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    let token_of = |name: &str| {
        banner
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    for role in ["CITIZEN", "STAFF", "DEVELOPER", "REVIEWER", "ADMIN"] {
        assert!(token_of(role).split('.').count() == 3, "{banner}");
    }
    assert!(
        banner.contains(&format!("{base}/#open/counter")),
        "{banner}"
    );
    let citizen = token_of("CITIZEN");
    let first = hello(&base, &citizen);
    assert_eq!(first["visits"], 1, "{first}");
    let line = wait_line(&log, "the guest's log line", Duration::from_secs(10), |l| {
        l.contains("visit 1 of a citizen")
    });
    assert!(line.contains("request_id="), "{line}");
    wait_line(&log, "the access line", Duration::from_secs(10), |l| {
        l.contains("path=/p/counter/api/hello") && l.contains("status=200")
    });

    // A saved edit is served without a restart, the data kept.
    let lib = project.join("src/lib.rs");
    let code = std::fs::read_to_string(&lib).unwrap();
    let saved = Instant::now();
    std::fs::write(
        &lib,
        code.replace("\"Hello, {}!\"", "\"Welcome back, {}!\""),
    )
    .unwrap();
    let mut calls = 1;
    let reloaded = wait_for("the edit served", Duration::from_secs(300), || {
        let body = hello(&base, &citizen);
        calls += 1;
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Welcome back")
            .then_some(body)
    });
    println!("save -> new version served: {:?}", saved.elapsed());
    // Every call so far was counted, before and after the swap.
    assert_eq!(
        reloaded["visits"], calls,
        "the plugin's data survives a reload"
    );
    wait_line(&log, "the reload line", Duration::from_secs(10), |l| {
        l.contains("reloaded") && l.contains("save_to_served_s")
    });

    // A build error is shown; the last good version keeps serving.
    std::fs::write(&lib, format!("{code}\nfn broken( {{\n")).unwrap();
    wait_line(&log, "the build error", Duration::from_secs(300), |l| {
        l.contains("build failed; the last good version keeps serving")
    });
    let after = hello(&base, &citizen);
    assert!(
        after["message"]
            .as_str()
            .unwrap()
            .starts_with("Welcome back"),
        "{after}"
    );
    drop(running);
}

#[test]
fn a_name_that_is_not_a_plugin_id_is_refused_with_the_rule() {
    let home = tempfile::tempdir().unwrap();
    let out = islet_in(home.path())
        .args(["plugin", "new", "Parking Permit"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a valid plugin id"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);
    let out = islet_in(home.path())
        .args(["dev", "no-such-folder"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no-such-folder"), "{}", stderr(&out));
}
