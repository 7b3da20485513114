//! "Your first paying service in 15 minutes" (sdk/README.md), run exactly
//! as written: the README's ```` ```sh walkthrough-rust ```` and
//! ```` ```sh walkthrough-js ```` blocks run in order in an empty folder
//! outside this repository with the built `islet` first on the `PATH`; a
//! ```` ```sh walkthrough-…-dev ```` block (`islet dev`) runs in the
//! background, and the blocks after it get `BASE` and the tokens from its
//! banner, as the README tells the reader to export them. The last block
//! pays a fee in the sandbox cashier and checks the service saw it paid, so
//! the walkthrough cannot drift from what the commands do.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

/// One fenced block of the walkthrough.
#[derive(Debug)]
struct Block {
    /// `islet dev`: runs in the background.
    dev: bool,
    script: String,
}

/// The blocks of walkthrough `tag` (`walkthrough-rust`, `walkthrough-js`).
fn blocks(readme: &str, tag: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for line in readme.lines() {
        match &mut current {
            Some(block) if line.trim_start().starts_with("```") => {
                out.push(std::mem::replace(
                    block,
                    Block {
                        dev: false,
                        script: String::new(),
                    },
                ));
                current = None;
            }
            Some(block) => {
                block.script.push_str(line);
                block.script.push('\n');
            }
            None => {
                let info = line.trim().strip_prefix("```sh ").map(str::trim);
                if info == Some(tag) || info == Some(&format!("{tag}-dev")) {
                    current = Some(Block {
                        dev: info.is_some_and(|i| i.ends_with("-dev")),
                        script: String::new(),
                    });
                }
            }
        }
    }
    assert!(current.is_none(), "an unclosed {tag} block");
    out
}

/// A shell as the reader's: the built `islet` first on the PATH, no
/// settings of this test run leaking in, every host on a free port.
fn shell(dir: &Path, env: &[(String, String)]) -> Command {
    let islet = PathBuf::from(env!("CARGO_BIN_EXE_islet"));
    let path = format!(
        "{}:{}",
        islet.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("bash");
    command
        .current_dir(dir)
        .env("PATH", path)
        // One shared build folder for these projects, kept between runs.
        .env(
            "ISLET_BUILD_DIR",
            workspace().join("target").join("plugin-builds"),
        )
        .env("ISLET_LISTEN", "127.0.0.1:0")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUST_LOG")
        .env_remove("ISLET_TOKEN")
        .env_remove("ISLET_SERVER")
        .env_remove("ISLET_DATA_DIR");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// Start `islet dev` from `block` in `dir`; the process and the values
/// its banner gives the reader (`BASE`, `CITIZEN`, ..., `ADMIN`).
fn start_dev(block: &Block, dir: &Path) -> (Running, Vec<(String, String)>) {
    let mut child = shell(dir, &[])
        .args(["-c", &format!("exec {}", block.script.trim())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let err = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut banner = String::new();
    let mut reader = BufReader::new(stdout);
    let started = Instant::now();
    while !banner.contains("Ctrl-C") {
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "no banner: {banner}"
        );
        if reader.read_line(&mut banner).unwrap() == 0 {
            panic!(
                "islet dev exited: {banner}\n{}",
                log.lock().unwrap().join("\n")
            );
        }
    }
    // Keep reading, so islet dev never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines().map_while(Result::ok) {});
    let base = banner
        .split("is serving on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    let mut env = vec![("BASE".to_string(), base)];
    for role in ["CITIZEN", "STAFF", "DEVELOPER", "REVIEWER", "ADMIN"] {
        let token = banner
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{role}=")))
            .unwrap_or_else(|| panic!("no {role} token in the banner: {banner}"));
        env.push((role.to_string(), token.to_string()));
    }
    (running, env)
}

/// Run walkthrough `tag` of sdk/README.md from an empty folder.
fn walk(tag: &str) {
    let readme = std::fs::read_to_string(workspace().join("sdk/README.md")).unwrap();
    let blocks = blocks(&readme, tag);
    assert!(
        blocks.iter().filter(|b| b.dev).count() == 1 && blocks.len() >= 3,
        "the {tag} walkthrough lost its blocks: {blocks:?}"
    );
    let home = tempfile::tempdir().unwrap();
    let here = home.path().join("cwd");
    let mut dir = home.path().to_path_buf();
    let mut env = Vec::new();
    let mut dev = None;
    for (n, block) in blocks.iter().enumerate() {
        if block.dev {
            dev = Some(start_dev(block, &dir));
            env = dev.as_ref().unwrap().1.clone();
            continue;
        }
        // Each block continues in the folder the previous one left.
        let script = format!(
            "set -euo pipefail\n{}\npwd > '{}'\n",
            block.script,
            here.display()
        );
        let started = Instant::now();
        let out = shell(&dir, &env).args(["-c", &script]).output().unwrap();
        println!(
            "{tag} block {n}: {:.1} s\n{}",
            started.elapsed().as_secs_f64(),
            stdout(&out)
        );
        assert!(
            out.status.success(),
            "{tag} block {n} failed:\n{}\n--- stdout\n{}\n--- stderr\n{}",
            block.script,
            stdout(&out),
            stderr(&out)
        );
        dir = PathBuf::from(std::fs::read_to_string(&here).unwrap().trim());
    }
    assert!(dev.is_some(), "islet dev never ran");
    drop(dev);
}

#[test]
fn the_rust_walkthrough_pays_a_fee() {
    walk("walkthrough-rust");
}

#[test]
fn the_javascript_walkthrough_pays_a_fee() {
    walk("walkthrough-js");
}

#[test]
fn blocks_are_read_in_order_and_only_for_their_tag() {
    let readme = "x\n```sh walkthrough-a\necho 1\n```\n```sh walkthrough-b\necho no\n```\n\
                  ```sh walkthrough-a-dev\nislet dev\n```\n```sh\nnot this\n```\n";
    let found = blocks(readme, "walkthrough-a");
    assert_eq!(found.len(), 2);
    assert_eq!(
        (found[0].dev, found[0].script.as_str()),
        (false, "echo 1\n")
    );
    assert_eq!(
        (found[1].dev, found[1].script.as_str()),
        (true, "islet dev\n")
    );
}
