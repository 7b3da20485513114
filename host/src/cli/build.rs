//! `islet plugin build`: compile a plugin crate into a component.

use anyhow::{Context as _, bail};
use serde::Deserialize;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target every plugin is built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Install the `wasm32-wasip2` target with rustup when it is missing.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out) if out.status.success() => {
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET)
            {
                return Ok(());
            }
        }
        // Without rustup, assume the toolchain was set up another way;
        // cargo will say so clearly if the target is missing.
        _ => return Ok(()),
    }
    eprintln!("installing the {WASM_TARGET} target with rustup ...");
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status()
        .context("cannot run rustup")?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed");
    }
    Ok(())
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    manifest_path: Option<PathBuf>,
    #[serde(default)]
    filenames: Vec<PathBuf>,
    #[serde(default)]
    target: Option<Target>,
}

#[derive(Deserialize)]
struct Target {
    kind: Vec<String>,
}

/// Build the plugin crate in `dir` (release, `wasm32-wasip2`) and return
/// the path of its component.
pub fn build_plugin(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest_path = dir.join("Cargo.toml");
    if !manifest_path.is_file() {
        bail!(
            "{} has no Cargo.toml: not a plugin crate folder",
            dir.display()
        );
    }
    let manifest_path = manifest_path
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", manifest_path.display()))?;
    ensure_wasm_target()?;
    let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--target", WASM_TARGET])
        .arg("--manifest-path")
        .arg(&manifest_path)
        .args(["--message-format", "json-render-diagnostics"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run cargo")?;
    let mut component = None;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line?;
            let Ok(msg) = serde_json::from_str::<Message>(&line) else {
                continue;
            };
            let ours = msg.manifest_path.as_deref() == Some(manifest_path.as_path());
            let cdylib = msg
                .target
                .as_ref()
                .is_some_and(|t| t.kind.iter().any(|k| k == "cdylib"));
            if msg.reason == "compiler-artifact" && ours && cdylib {
                component = msg
                    .filenames
                    .into_iter()
                    .find(|f| f.extension().is_some_and(|e| e == "wasm"));
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!(
            "building {} failed (see cargo's output above)",
            dir.display()
        );
    }
    component.with_context(|| {
        format!(
            "cargo built {} but produced no .wasm; is `crate-type = [\"cdylib\"]` set in its [lib]?",
            dir.display()
        )
    })
}
