//! `islet dev --server URL`: the inner loop against a development host
//! that already runs. A development host (`islet serve --dev`) takes a
//! department developer's builds, installs them with the manifest's
//! capabilities granted and swaps each saved edit in; a production host
//! (`islet serve` without `--dev`) refuses, in the CLI with a message naming
//! the fix and on the server whoever asks, so nothing goes live unreviewed.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

/// A new plugin project `counter` of department `parks` in `home`.
fn new_counter(home: &std::path::Path) -> std::path::PathBuf {
    let out = islet_in(home)
        .args(["plugin", "new", "counter", "--department", "parks"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    home.join("counter")
}

/// A multipart upload of `manifest` with `component` to `url` as `token`.
fn upload(url: &str, token: &str, manifest: &str, component: Vec<u8>) -> (u16, serde_json::Value) {
    let form = reqwest::blocking::multipart::Form::new()
        .text("manifest", manifest.to_string())
        .part(
            "component",
            reqwest::blocking::multipart::Part::bytes(component).file_name("c.wasm"),
        );
    let r = reqwest::blocking::Client::new()
        .post(url)
        .bearer_auth(token)
        .multipart(form)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

fn lines_of(
    stream: impl std::io::Read + Send + 'static,
    sink: Arc<Mutex<Vec<String>>>,
) -> Arc<Mutex<Vec<String>>> {
    let out = sink.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    out
}

fn wait_line(lines: &Mutex<Vec<String>>, what: &str, limit: Duration, needle: &str) -> String {
    let started = Instant::now();
    loop {
        if let Some(line) = lines.lock().unwrap().iter().find(|l| l.contains(needle)) {
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
fn a_development_host_takes_islet_dev_and_swaps_each_save_in() {
    let home = tempfile::tempdir().unwrap();
    let project = new_counter(home.path());
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let (_host, base) = spawn_until(
        &[
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir,
        ],
        "islet listening on ",
        Duration::from_secs(120),
    );
    let developer = dev_token(data_dir, "dev-1", &["developer:parks"]);
    let (status, body) = get(&format!("{base}/admin/v1/dev"), Some(&developer));
    assert_eq!((status, body["dev"].as_bool()), (200, Some(true)), "{body}");

    // Another department's developer cannot self-approve this plugin.
    let manifest = std::fs::read_to_string(project.join("islet.toml")).unwrap();
    let outsider = dev_token(data_dir, "dev-2", &["developer:water"]);
    let (status, body) = upload(
        &format!("{base}/admin/v1/dev/plugins"),
        &outsider,
        &manifest,
        b"\0asm".to_vec(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );

    let mut child = islet_in(&project)
        .args(["dev", ".", "--server", &base, "--token", &developer])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let all = Arc::new(Mutex::new(Vec::new()));
    lines_of(child.stdout.take().unwrap(), all.clone());
    lines_of(child.stderr.take().unwrap(), all.clone());
    let _running = Running(child);
    wait_line(
        &all,
        "the banner",
        Duration::from_secs(600),
        "is serving on the development host",
    );
    let installed = wait_line(
        &all,
        "the install line",
        Duration::from_secs(5),
        "installed counter 0.1.0-dev.",
    );
    assert!(installed.contains("activated in"), "{installed}");
    wait_line(
        &all,
        "the probe's status line",
        Duration::from_secs(10),
        "GET /p/counter/ -> ",
    );

    // Released with its capabilities granted: a citizen is served, and the
    // version's grants are the manifest's, approved by the developer.
    let citizen = dev_token(data_dir, "citizen-1", &[]);
    assert_eq!(hello(&base, &citizen)["visits"], 1);
    let admin = dev_token(data_dir, "admin-1", &["admin"]);
    let (_, plugin) = get(&format!("{base}/admin/v1/plugins/counter"), Some(&admin));
    let released = plugin["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["state"] == "released")
        .unwrap_or_else(|| panic!("nothing released: {plugin}"));
    assert!(
        released["version"]
            .as_str()
            .unwrap()
            .starts_with("0.1.0-dev."),
        "{released}"
    );
    assert!(
        released["grants"]["capabilities"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == "storage")),
        "{released}"
    );

    // A saved edit is swapped in on the remote host, the data kept.
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
    println!(
        "islet dev --server: save -> new version served: {:?}",
        saved.elapsed()
    );
    assert_eq!(reloaded["visits"], calls, "the plugin's data survives");
    wait_line(&all, "the reload line", Duration::from_secs(10), "reloaded");
}

#[test]
fn a_production_host_refuses_islet_dev_in_the_cli_and_on_the_server() {
    let home = tempfile::tempdir().unwrap();
    let project = new_counter(home.path());
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    // A production host trusting one HS256 key (the key `islet token`
    // signs with), without --dev.
    let key = data.path().join("dev-signing-key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
    let config = home.path().join("islet-host.toml");
    std::fs::write(
        &config,
        format!("[auth]\nhs256-secret-file = {:?}\n", key.to_str().unwrap()),
    )
    .unwrap();
    let (_host, base) = spawn_until(
        &[
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir,
        ],
        "islet listening on ",
        Duration::from_secs(120),
    );
    let admin = dev_token(data_dir, "admin-1", &["admin"]);
    let (status, body) = get(&format!("{base}/admin/v1/dev"), Some(&admin));
    assert_eq!(
        (status, body["dev"].as_bool()),
        (200, Some(false)),
        "{body}"
    );

    // The CLI stops before building, naming the fix.
    let out = islet_in(&project)
        .args(["dev", ".", "--server", &base, "--token", &admin])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("is not a development host"), "{err}");
    assert!(err.contains("islet serve --dev"), "{err}");
    assert!(err.contains("islet plugin publish"), "{err}");
    assert!(!err.contains("building"), "nothing is built: {err}");

    // The server refuses the development install itself, even to an admin.
    let manifest = std::fs::read_to_string(project.join("islet.toml")).unwrap();
    let (status, body) = upload(
        &format!("{base}/admin/v1/dev/plugins"),
        &admin,
        &manifest,
        b"\0asm".to_vec(),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("not_a_development_host")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("islet serve --dev")),
        "{body}"
    );
    assert!(body["error"]["request_id"].is_string(), "{body}");
    let (status, _) = get(&format!("{base}/admin/v1/plugins/counter"), Some(&admin));
    assert_eq!(status, 404, "nothing was installed");

    // Without a token the CLI says what to pass.
    let out = islet_in(&project)
        .env_remove("ISLET_TOKEN")
        .args(["dev", ".", "--server", &base, "--no-watch"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--token"), "{}", stderr(&out));
}

#[test]
fn a_plugin_built_from_another_folder_uses_the_shared_build_cache() {
    let home = tempfile::tempdir().unwrap();
    let project = new_counter(home.path());
    // `islet plugin build counter` from the folder above the project.
    let out = islet_in(home.path())
        .args(["plugin", "build", "counter"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let built = stdout(&out).trim().to_string();
    let cache = std::path::Path::new(&build_dir()).canonicalize().unwrap();
    assert!(
        std::path::Path::new(&built).starts_with(&cache),
        "{built} is not in the shared build cache {}",
        cache.display()
    );
    assert!(
        !project.join("target").exists(),
        "no target/ in the project"
    );
}
