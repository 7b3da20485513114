//! `islet plugin build`: compile a plugin crate (Rust) or package (JS) into
//! a component.

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

/// Build the plugin in `dir` and return the path of its component: a
/// Rust crate (`Cargo.toml`, built release for `wasm32-wasip2`) or a
/// JavaScript package (`package.json`, see [`build_js_plugin`]).
pub fn build_plugin(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest_path = dir.join("Cargo.toml");
    if !manifest_path.is_file() && dir.join("package.json").is_file() {
        return build_js_plugin(dir);
    }
    if !manifest_path.is_file() {
        bail!(
            "{} has neither Cargo.toml nor package.json: not a plugin folder",
            dir.display()
        );
    }
    let manifest_path = manifest_path
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", manifest_path.display()))?;
    ensure_wasm_target()?;
    let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        // Cargo reads `.cargo/config.toml` from where it runs, not from the
        // manifest's folder: run it in the plugin's folder, so a project
        // made by `islet plugin new` builds into the shared build cache
        // whatever folder `islet plugin build DIR` is run from.
        .current_dir(dir)
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

/// Where a JS plugin's `build` script writes its component, unless
/// `package.json` names another file under `"islet": {"component": ...}`.
pub const JS_COMPONENT: &str = "dist/component.wasm";

#[derive(Deserialize, Default)]
struct PackageJson {
    #[serde(default)]
    scripts: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    islet: IsletSection,
}

#[derive(Deserialize, Default)]
struct IsletSection {
    component: Option<PathBuf>,
}

/// Build the JavaScript plugin package in `dir`: `npm ci` when
/// `node_modules` is missing, then its `build` script (the JS SDK's
/// `islet-js-build`), which writes the component to [`JS_COMPONENT`].
pub fn build_js_plugin(dir: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(dir.join("package.json"))
        .with_context(|| format!("cannot read {}/package.json", dir.display()))?;
    let package: PackageJson = serde_json::from_str(&text)
        .with_context(|| format!("{}/package.json is not valid JSON", dir.display()))?;
    if !package.scripts.contains_key("build") {
        bail!(
            "{}/package.json has no `build` script; add \"build\": \"islet-js-build\" \
             (from the Islet JS SDK)",
            dir.display()
        );
    }
    let npm = |args: &[&str]| -> anyhow::Result<()> {
        let status = Command::new("npm")
            .args(args)
            .current_dir(dir)
            // npm's output is progress: keep stdout for islet's own answer.
            .stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit())
            .status()
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot run npm ({e}): JavaScript plugins need Node.js 18 or later \
                     with npm on the PATH"
                )
            })?;
        if !status.success() {
            bail!("`npm {}` in {} failed", args.join(" "), dir.display());
        }
        Ok(())
    };
    if !dir.join("node_modules").is_dir() {
        let install = if dir.join("package-lock.json").is_file() {
            "ci"
        } else {
            "install"
        };
        eprintln!(
            "installing {}'s packages (npm {install}) ...",
            dir.display()
        );
        npm(&[install, "--no-audit", "--no-fund"])?;
    }
    eprintln!("building {} (npm run build) ...", dir.display());
    let started = std::time::SystemTime::now();
    npm(&["run", "build", "--silent"])?;
    let component = dir.join(
        package
            .islet
            .component
            .unwrap_or_else(|| PathBuf::from(JS_COMPONENT)),
    );
    let written = std::fs::metadata(&component).and_then(|m| m.modified());
    if !written.is_ok_and(|at| at >= started) {
        bail!(
            "`npm run build` in {} succeeded but wrote no {}",
            dir.display(),
            component.display()
        );
    }
    Ok(component)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;

    fn package(dir: &Path, json: &str) {
        std::fs::write(dir.join("package.json"), json).unwrap();
        std::fs::create_dir_all(dir.join("node_modules")).unwrap();
    }

    #[test]
    fn a_js_package_is_built_with_its_build_script() {
        let dir = tempfile::tempdir().unwrap();
        package(
            dir.path(),
            r#"{"scripts": {"build": "node -e \"require('fs').mkdirSync('dist',{recursive:true});require('fs').writeFileSync('dist/component.wasm','x')\""}}"#,
        );
        let built = build_plugin(dir.path()).unwrap();
        assert_eq!(built, dir.path().join(JS_COMPONENT));
    }

    #[test]
    fn a_js_package_without_build_script_or_output_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        package(dir.path(), r#"{"scripts": {}}"#);
        let err = build_plugin(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no `build` script"), "{err}");
        package(dir.path(), r#"{"scripts": {"build": "node -e 0"}}"#);
        let err = build_plugin(dir.path()).unwrap_err().to_string();
        assert!(err.contains("wrote no"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = build_plugin(empty.path()).unwrap_err().to_string();
        assert!(err.contains("neither Cargo.toml nor package.json"), "{err}");
    }
}
