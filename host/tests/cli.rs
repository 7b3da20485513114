//! The `islet` binary as a user runs it: serve, token, plugin install /
//! list / disable / enable, demo, and clear errors.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod support;

use support::*;

#[test]
fn serve_token_and_plugin_commands() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let (_server, base) = spawn_until(
        &[
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir,
        ],
        "islet listening on ",
        Duration::from_secs(60),
    );

    let out = run(&[
        "token",
        "--data-dir",
        data_dir,
        "--sub",
        "ops-1",
        "--role",
        "admin",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let admin = stdout(&out).trim().to_string();
    assert_eq!(admin.split('.').count(), 3, "a JWT: {admin}");

    let server = ["--server", base.as_str(), "--token", admin.as_str()];
    let install = |path: &str| {
        let mut args = vec!["plugin", "install", path];
        args.extend_from_slice(&server);
        run(&args)
    };
    let out = install("plugins/hello");
    assert!(out.status.success(), "install failed: {}", stderr(&out));
    assert!(
        stdout(&out).contains("installed hello 0.1.0"),
        "{}",
        stdout(&out)
    );

    let mut args = vec!["plugin", "list"];
    args.extend_from_slice(&server);
    let out = run(&args);
    assert!(out.status.success());
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("hello") && l.contains("true")),
        "{}",
        stdout(&out)
    );

    let mut args = vec!["plugin", "disable", "hello"];
    args.extend_from_slice(&server);
    assert!(run(&args).status.success());
    assert_eq!(get(&format!("{base}/p/hello/"), None).0, 404);
    let mut args = vec!["plugin", "enable", "hello"];
    args.extend_from_slice(&server);
    assert!(run(&args).status.success());
    assert_eq!(get(&format!("{base}/p/hello/"), None).0, 200);

    // The listing life cycle from the command line.
    let wasm = stdout(&run(&["plugin", "build", "plugins/hello"]))
        .trim()
        .to_string();
    let manifest_v2 = data.path().join("hello-0.2.0.toml");
    std::fs::write(
        &manifest_v2,
        std::fs::read_to_string("../plugins/hello/islet.toml")
            .or_else(|_| std::fs::read_to_string(workspace().join("plugins/hello/islet.toml")))
            .unwrap()
            .replace("version = \"0.1.0\"", "version = \"0.2.0\""),
    )
    .unwrap();
    let dev = stdout(&run(&[
        "token",
        "--data-dir",
        data_dir,
        "--sub",
        "dev-1",
        "--role",
        "developer:platform",
    ]))
    .trim()
    .to_string();
    let reviewer = stdout(&run(&[
        "token",
        "--data-dir",
        data_dir,
        "--sub",
        "rev-1",
        "--role",
        "reviewer",
    ]))
    .trim()
    .to_string();
    let as_user = |token: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--server", base.as_str(), "--token", token]);
        run(&all)
    };
    let out = as_user(
        &dev,
        &[
            "plugin",
            "publish",
            &wasm,
            "--manifest",
            manifest_v2.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("uploaded hello 0.2.0"),
        "{}",
        stdout(&out)
    );
    let out = as_user(&dev, &["plugin", "submit", "hello", "0.2.0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // What changed, and who is served what: never "released none".
    assert!(
        stdout(&out).contains("hello 0.2.0: submit -> in-review")
            && stdout(&out).contains("serving: everyone gets 0.1.0"),
        "{}",
        stdout(&out)
    );
    let out = as_user(&reviewer, &["plugin", "queue"]);
    assert!(stdout(&out).contains("hello 0.2.0"), "{}", stdout(&out));
    let out = as_user(
        &dev,
        &["plugin", "approve", "hello", "0.2.0", "--grant-requested"],
    );
    assert!(
        !out.status.success() && stderr(&out).contains("403"),
        "a developer cannot approve: {}",
        stderr(&out)
    );
    let out = as_user(
        &reviewer,
        &["plugin", "approve", "hello", "0.2.0", "--grant-requested"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("hello 0.2.0: approve -> approved")
            && stdout(&out).contains("granted: identity, log"),
        "{}",
        stdout(&out)
    );
    let out = as_user(
        &reviewer,
        &["plugin", "release", "hello", "0.2.0", "--percent", "25"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("gray 0.2.0 to 25% of citizens"),
        "{}",
        stdout(&out)
    );
    let out = as_user(&reviewer, &["plugin", "promote", "hello"]);
    assert!(
        stdout(&out).contains("serving: everyone gets 0.2.0"),
        "{}",
        stdout(&out)
    );
    let out = as_user(&reviewer, &["plugin", "rollback", "hello"]);
    assert!(
        stdout(&out).contains("serving: everyone gets 0.1.0"),
        "{}",
        stdout(&out)
    );
    let out = as_user(&reviewer, &["plugin", "list", "--output", "json"]);
    let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(listed["plugins"][0]["id"], "hello", "{listed}");
    let out = as_user(
        &reviewer,
        &["plugin", "versions", "hello", "--output", "json"],
    );
    let detail: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(detail["version"], "0.1.0", "{detail}");
    let out = as_user(&reviewer, &["plugin", "versions", "hello"]);
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("0.2.0") && l.contains("superseded")),
        "{}",
        stdout(&out)
    );
    let out = as_user(&reviewer, &["plugin", "rollback", "hello"]);
    assert!(
        !out.status.success() && stderr(&out).contains("invalid_transition"),
        "{}",
        stderr(&out)
    );

    // Errors name the problem and exit non-zero.
    let out = install("no/such/folder");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no/such/folder"), "{}", stderr(&out));

    let out = run(&["plugin", "list", "--server", &base, "--token", "garbage"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));

    let empty = tempfile::tempdir().unwrap();
    let out = run(&[
        "token",
        "--data-dir",
        empty.path().to_str().unwrap(),
        "--sub",
        "x",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no development signing key"),
        "{}",
        stderr(&out)
    );

    // Everything the flags set can come from a config file.
    let config = empty.path().join("islet-host.toml");
    let config_data = empty.path().join("from-config");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata-dir = {:?}\ndev = true\n[limits.default]\ncpu-ms = 50\n",
            config_data.to_str().unwrap()
        ),
    )
    .unwrap();
    let (_from_config, config_base) = spawn_until(
        &["serve", "--config", config.to_str().unwrap()],
        "islet listening on ",
        Duration::from_secs(60),
    );
    assert_eq!(get(&format!("{config_base}/healthz"), None).0, 200);
    assert!(
        config_data.join("dev-signing-key").is_file(),
        "data-dir from the config file is used"
    );

    let bad_config = empty.path().join("bad.toml");
    std::fs::write(&bad_config, "listen = 42\n").unwrap();
    let out = run(&["serve", "--config", bad_config.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bad.toml"), "{}", stderr(&out));
}

#[test]
fn json_logs_carry_the_request_id_into_guest_log_lines() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let log_path = data.path().join("islet.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut child = islet()
        .args([
            "serve",
            "--dev",
            "--log-json",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir,
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let _server = Running(child);
    let line = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("islet listening on "))
        .unwrap();
    let base = line
        .trim_start_matches("islet listening on ")
        .trim()
        .to_string();
    let admin = stdout(&run(&[
        "token",
        "--data-dir",
        data_dir,
        "--sub",
        "ops",
        "--role",
        "admin",
    ]))
    .trim()
    .to_string();
    let out = run(&[
        "plugin",
        "install",
        "plugins/community-report",
        "--server",
        &base,
        "--token",
        &admin,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let citizen = stdout(&run(&[
        "token",
        "--data-dir",
        data_dir,
        "--sub",
        "resident-9",
    ]))
    .trim()
    .to_string();
    let r = reqwest::blocking::Client::new()
        .post(format!("{base}/p/community-report/api/reports"))
        .bearer_auth(&citizen)
        .header("x-request-id", "trace-me-42")
        .json(&serde_json::json!({"category": "noise", "description": "Drilling at night", "location": "Block 5"}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    // The guest's own log line, as JSON, inside the request and plugin spans.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap();
        let found = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| {
                v["target"] == "islet::guest"
                    && v["fields"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("filed"))
            });
        if let Some(line) = found {
            let spans = line["spans"].to_string();
            assert!(line.to_string().contains("trace-me-42"), "{line}");
            assert!(spans.contains("community-report"), "{line}");
            assert_eq!(line["level"], "INFO");
            break;
        }
        assert!(Instant::now() < deadline, "no guest log line in:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn demo_serves_the_samples_and_keeps_data_across_crashes_and_restarts() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let args = ["demo", "--listen", "127.0.0.1:0", "--data-dir", data_dir];
    let started = Instant::now();
    let (demo, base) = spawn_until(&args, "Islet demo is serving on ", Duration::from_secs(600));
    eprintln!("demo ready after {:?}", started.elapsed());
    let (status, catalog) = get(&format!("{base}/api/v1/catalog"), None);
    assert_eq!(status, 200);
    let ids: Vec<&str> = catalog["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    // The JavaScript sample too, where Node.js and npm are installed.
    let node = std::process::Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let expected = if node {
        vec!["bus-card", "community-report", "hello", "water-bill"]
    } else {
        vec!["community-report", "hello", "water-bill"]
    };
    assert_eq!(ids, expected);

    let token = stdout(&run(&[
        "token",
        "--data-dir",
        data_dir,
        "--sub",
        "resident-7",
    ]))
    .trim()
    .to_string();
    let client = reqwest::blocking::Client::new();
    let r = client
        .post(format!("{base}/p/community-report/api/reports"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"category": "street-light", "description": "Lamp 12 is out", "location": "Lane 3"}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    // No graceful shutdown: an acknowledged write must survive a crash.
    demo.crash();

    let (_demo, base) = spawn_until(&args, "Islet demo is serving on ", Duration::from_secs(300));
    let (status, mine) = get(
        &format!("{base}/p/community-report/api/reports/mine"),
        Some(&token),
    );
    assert_eq!(status, 200, "{mine}");
    assert!(mine.to_string().contains("Lamp 12 is out"), "{mine}");
}

#[test]
fn completions_cover_every_command_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{}", stderr(&out));
        let script = stdout(&out);
        for command in ["serve", "plugin", "dev", "merchant", "token", "completions"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
    let out = run(&["completions", "tcsh"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bash"), "{}", stderr(&out));
}

#[test]
fn the_log_file_is_rotated_by_size_and_old_files_are_deleted() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");
    let log = data.path().join("logs").join("islet.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let mut child = islet()
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .arg("--log-file")
        .arg(&log)
        .args(["--log-file-mib", "1", "--log-files", "2"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let server = Running(child);
    let line = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("islet listening on "))
        .unwrap();
    let base = line.trim_start_matches("islet listening on ").trim();
    // 2,000 requests whose access lines carry a 2 KiB path: about 4 MiB of
    // log, four times the rotation size.
    let client = reqwest::blocking::Client::new();
    let long = "x".repeat(2048);
    for i in 0..2000 {
        let r = client
            .get(format!("{base}/no-such-{i}-{long}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    drop(server);
    let mut files: Vec<_> = std::fs::read_dir(log.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["islet.log", "islet.log.1", "islet.log.2"],
        "{names:?}"
    );
    let mut answered = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // A file ends where a line ends, and is about the rotation size.
        assert!(text.ends_with('\n'), "{} ends mid-line", file.display());
        assert!(
            text.len() <= (1 << 20) + 8192,
            "{} holds {} bytes",
            file.display(),
            text.len()
        );
        answered += text.lines().filter(|l| l.contains("answered")).count();
    }
    // The oldest lines are gone: the files kept hold fewer than the 2,000
    // access lines written, but at least two full files' worth.
    assert!(
        (800..2000).contains(&answered),
        "{answered} access lines kept"
    );
}
