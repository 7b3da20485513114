//! JavaScript guests (`tests/js-guests/`, outside the Cargo workspace
//! glob `tests/guests/*`), built with the JS SDK (`sdk/js`, componentize-js):
//! `npm ci` in `sdk/js` once when its packages are missing, then one
//! `islet-js-build` per guest, kept in `target/e2e-guests/js/` and rebuilt
//! only when the guest or the SDK changed (a build takes about a minute).

use crate::workspace;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::SystemTime;

/// The JS guests: (name, folder under the workspace).
pub const JS_COMPONENTS: &[(&str, &str)] = &[
    ("js-hello", "tests/js-guests/js-hello"),
    ("js-hostile", "tests/js-guests/js-hostile"),
    ("bus-card", "plugins/bus-card"),
];

fn folder(name: &str) -> PathBuf {
    let (_, dir) = JS_COMPONENTS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("unknown JS component {name}"));
    workspace().join(dir)
}

/// The newest modification time of the files under `dir`, skipping
/// `node_modules` and `dist`.
fn newest(dir: &Path) -> SystemTime {
    let mut latest = SystemTime::UNIX_EPOCH;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return latest;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "node_modules" || name == "dist" {
            continue;
        }
        let time = if path.is_dir() {
            newest(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH)
        };
        latest = latest.max(time);
    }
    latest
}

/// `sdk/js` with its packages installed (`npm ci` once when missing).
pub fn js_sdk() -> PathBuf {
    let sdk = workspace().join("sdk").join("js");
    let modules = sdk.join("node_modules");
    let complete = [
        "@bytecodealliance/componentize-js",
        "rolldown",
        ".package-lock.json",
    ]
    .iter()
    .all(|m| modules.join(m).exists());
    if !complete {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&sdk)
            .status()
            .unwrap_or_else(|e| panic!("cannot run npm (Node.js builds the JS guests): {e}"));
        assert!(status.success(), "`npm ci` in {} failed", sdk.display());
    }
    sdk
}

/// The built JS component `name` (rebuilt when its sources or the SDK changed).
pub fn js_component(name: &str) -> Vec<u8> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = folder(name);
    let sdk = js_sdk();
    let out = workspace()
        .join("target")
        .join("e2e-guests")
        .join("js")
        .join(format!("{name}.wasm"));
    let built = std::fs::metadata(&out).and_then(|m| m.modified()).ok();
    let sources = newest(&dir)
        .max(newest(&sdk.join("src")))
        .max(newest(&sdk.join("wit")));
    if built.is_none_or(|b| b < sources) {
        let status = Command::new("node")
            .arg(sdk.join("bin").join("islet-js-build.js"))
            .arg(&dir)
            .arg("--out")
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("cannot run node to build {name}: {e}"));
        assert!(status.success(), "building the JS guest {name} failed");
    }
    std::fs::read(&out).unwrap_or_else(|e| panic!("cannot read {}: {e}", out.display()))
}

/// The manifest shipped with JS component `name`.
pub fn js_manifest(name: &str) -> String {
    let path = folder(name).join("islet.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
