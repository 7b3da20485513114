//! What of Rust's std works inside a guest, tried as a plugin author would
//! (`tests/guests/std-probe`); the SDK README's table states these results.

use islet_tests::TestHost;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_std_inside_a_guest_behaves_as_the_sdk_readme_says() {
    let host = TestHost::start().await;
    host.install("std-probe").await;
    let mut seen = Vec::new();
    for path in [
        "system-time",
        "instant",
        "sleep",
        "env",
        "current-dir",
        "temp-dir",
        "file-write",
        "file-read",
        "thread",
        "hashmap",
        "random",
        "stdout",
        "exit",
        "panic",
    ] {
        let (status, body) = host.get_json(&format!("/p/std-probe/{path}"), None).await;
        println!("{path}: {status} {body}");
        seen.push((path, status, body));
    }
    let of = |path: &str| -> (u16, Value) {
        let (_, status, body) = seen.iter().find(|(p, _, _)| *p == path).unwrap();
        (*status, body.clone())
    };
    let failed = |path: &str, code: &str| {
        let (status, body) = of(path);
        assert_eq!(status, 500, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    };
    let io_error = |path: &str| {
        let (status, body) = of(path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body["err"].is_string(), "{path}: {body}");
    };
    // Clocks work (wall clock in milliseconds), sleeping works.
    let (status, now) = of("system-time");
    assert_eq!(status, 200);
    assert!(now["ok"].as_u64().unwrap_or(0) > 1_700_000_000, "{now}");
    assert_eq!(of("instant").0, 200);
    let (status, slept) = of("sleep");
    assert_eq!(status, 200);
    assert!(slept["ok"].as_u64().unwrap_or(0) >= 4, "{slept}");
    // No environment, no arguments.
    assert_eq!(of("env"), (200, json!({"ok": {"vars": 0, "args": 0}})));
    // No files: the current folder is `/` with nothing in it, `temp_dir`
    // panics, file calls fail.
    assert_eq!(of("current-dir"), (200, json!({"ok": "/"})));
    failed("temp-dir", "plugin_panicked");
    io_error("file-write");
    io_error("file-read");
    // No threads.
    io_error("thread");
    // Randomness works (HashMap's keys, RandomState).
    assert_eq!(of("hashmap"), (200, json!({"ok": 1})));
    assert_eq!(of("random"), (200, json!({"ok": true})));
    // println! is harmless (captured, not shown); a panic and an exit end
    // the call.
    assert_eq!(of("stdout"), (200, json!({"ok": true})));
    failed("exit", "plugin_trapped");
    failed("panic", "plugin_panicked");
    host.stop().await;
}
