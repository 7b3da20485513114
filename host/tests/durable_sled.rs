//! The embedded store's flush ends in a real sync: power cuts cannot be
//! simulated here, so the test watches the system calls of `islet store
//! check` (a durable write) under strace.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

#[test]
fn a_flush_ends_in_a_real_fdatasync_of_the_log_file() {
    let strace = Command::new("strace").arg("-V").output();
    assert!(
        strace.is_ok_and(|o| o.status.success()),
        "this test needs strace: apt-get install strace (./scripts/test installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let data = dir.path().join("data");
    let status = Command::new("strace")
        .args([
            "-f",
            "-y",
            "-e",
            "trace=fdatasync,fsync,sync_file_range",
            "-o",
        ])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_islet"))
        .args(["store", "check", "--data-dir"])
        .arg(&data)
        .env_remove("ISLET_STORE_URL")
        .status()
        .unwrap();
    assert!(status.success(), "islet store check failed");
    let trace = std::fs::read_to_string(&trace).unwrap();
    let log = format!("{}>", data.join("db").join("db").display());
    // strace splits a call another thread interrupts: `PID fdatasync(FD<path> <unfinished ...>`
    // then `PID <... fdatasync resumed>) = 0`; count those as well.
    let lines: Vec<&str> = trace.lines().collect();
    let synced: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            l.contains("fdatasync(")
                && l.contains(&log)
                && (l.ends_with("= 0")
                    || l.ends_with("<unfinished ...>") && {
                        let pid = l.split_whitespace().next().unwrap_or_default();
                        lines[i + 1..].iter().any(|r| {
                            r.starts_with(&format!("{pid} <... fdatasync resumed>"))
                                && r.ends_with("= 0")
                        })
                    })
        })
        .map(|(_, l)| *l)
        .collect();
    assert!(
        synced.len() >= 2,
        "expected an fdatasync of {log} after each of the two durable writes; the trace:\n{trace}"
    );
    assert!(
        trace
            .lines()
            .any(|l| l.contains("sync_file_range(") && l.contains(&log)),
        "sled's own sync_file_range should be traced too (is the trace working?):\n{trace}"
    );
}
