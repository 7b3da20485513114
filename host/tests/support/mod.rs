//! Running the `islet` binary from tests: commands, servers, crashes.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// An `islet` command; nested cargo builds use their own target folder so
/// they never wait on the cargo running this test.
pub fn islet() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_islet"));
    cmd.current_dir(workspace())
        .env(
            "CARGO_TARGET_DIR",
            workspace().join("target").join("e2e-guests"),
        )
        .env_remove("ISLET_TOKEN")
        .env_remove("ISLET_SERVER")
        .env_remove("ISLET_DATA_DIR")
        .env("RUST_LOG", "warn");
    cmd
}

pub fn run(args: &[&str]) -> Output {
    islet().args(args).output().expect("islet runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A child process stopped on drop: SIGTERM (a graceful shutdown, as a
/// service manager would), then SIGKILL if it lingers.
pub struct Running(pub Child);

impl Running {
    /// Kill the process without warning, as a crash or power cut would.
    pub fn crash(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.0.try_wait() {
            return;
        }
        #[allow(unsafe_code, reason = "sending a signal to our own child")]
        // SAFETY: kill(2) on our child's pid has no memory effects.
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `islet args...` and wait for the line starting with `marker` that
/// holds the URL; returns the process and the base URL.
pub fn spawn_until(args: &[&str], marker: &str, wait: Duration) -> (Running, String) {
    let mut child = islet()
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("islet starts");
    let out = child.stdout.take().unwrap();
    let child = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    let marker = marker.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(pos) = line.find(&marker) {
                let rest = &line[pos + marker.len()..];
                let url = rest.split_whitespace().next().unwrap_or("").to_string();
                let _ = tx.send(url);
            }
        }
    });
    let url = rx.recv_timeout(wait).expect("islet prints its URL");
    (child, url)
}

pub fn get(url: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let client = reqwest::blocking::Client::new();
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

/// `method url` as `token`, with a JSON `body` or a `raw` text body:
/// status and JSON answer (`Null` when not JSON).
pub fn send(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
    raw: Option<&str>,
) -> (u16, serde_json::Value) {
    let client = reqwest::blocking::Client::new();
    let mut req = client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(r) = raw {
        req = req.body(r.to_string());
    }
    let r = req.send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

/// Poll `probe` every 50 ms until it gives a value; fail after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A development token for `sub` with `roles`, signed with the key in
/// `data_dir`.
pub fn dev_token(data_dir: &str, sub: &str, roles: &[&str]) -> String {
    let mut args = vec!["token", "--data-dir", data_dir, "--sub", sub];
    for role in roles {
        args.extend_from_slice(&["--role", role]);
    }
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// `islet --config config serve --dev` on a random port with `data_dir`.
pub fn serve_dev(config: &str, data_dir: &str) -> (Running, String) {
    spawn_until(
        &[
            "--config",
            config,
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir,
        ],
        "islet listening on ",
        Duration::from_secs(120),
    )
}

/// Open the `city-fees` merchant account (department `probe`) and grant it
/// to `payment-probe`, with the CLI as an admin would (`cli` holds the
/// `--server` and `--token` flags).
pub fn open_probe_merchant(cli: &[&str]) {
    for args in [
        &[
            "merchant",
            "create",
            "city-fees",
            "--department",
            "probe",
            "--name",
            "City fees",
        ][..],
        &["merchant", "grant", "city-fees", "payment-probe"][..],
    ] {
        let mut all = args.to_vec();
        all.extend_from_slice(cli);
        let out = run(&all);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// Install `tests/guests/payment-probe` on the host at `base` as `admin`.
pub fn install_probe(base: &str, admin: &str) {
    let out = run(&[
        "plugin",
        "install",
        "tests/guests/payment-probe",
        "--server",
        base,
        "--token",
        admin,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// One shared build folder for the plugin projects the tests create, kept
/// between runs (as a developer's machine keeps `~/.cache/islet/target`).
pub fn build_dir() -> String {
    workspace()
        .join("target")
        .join("plugin-builds")
        .display()
        .to_string()
}

/// `islet` run in `dir` as a developer runs it: `islet dev`'s own log
/// filter, the shared build folder.
pub fn islet_in(dir: &Path) -> Command {
    let mut command = islet();
    command
        .current_dir(dir)
        .env("ISLET_BUILD_DIR", build_dir())
        .env_remove("RUST_LOG")
        .env_remove("CARGO_TARGET_DIR");
    command
}

/// The scaffolded `counter` plugin's greeting, as `token` (must be 200).
pub fn hello(base: &str, token: &str) -> serde_json::Value {
    let (status, body) = get(&format!("{base}/p/counter/api/hello"), Some(token));
    assert_eq!(status, 200, "{body}");
    body
}
