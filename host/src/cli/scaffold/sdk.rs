//! Where a new plugin finds the Rust SDK and builds.
//!
//! Inside a checkout of Islet, the checkout's `sdk/` (so SDK changes are
//! seen at once). Anywhere else, the SDK built into this `islet` binary,
//! written once per SDK content to the user's cache folder
//! (`~/.cache/islet/sdk/<version>-<hash>/sdk`, beside its `wit/`), so a
//! project works offline and never depends on where Islet was built.

use anyhow::Context as _;
use include_dir::{Dir, include_dir};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// The SDK's sources as this binary was built with them.
static SDK_SRC: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../sdk/src");
/// The WIT contract the SDK binds to (`../wit` from the SDK).
static WIT: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../wit");
const SDK_MANIFEST: &str = include_str!("../../../../sdk/Cargo.toml");
const SDK_README: &str = include_str!("../../../../sdk/README.md");

/// The JS SDK's code, build script and WIT copy (`sdk/js`, without its
/// tests and `node_modules`), and its top-level files.
static JS_SRC: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../sdk/js/src");
static JS_BIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../sdk/js/bin");
static JS_WIT: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../sdk/js/wit");
const JS_FILES: [(&str, &str); 5] = [
    (
        "package.json",
        include_str!("../../../../sdk/js/package.json"),
    ),
    (
        "package-lock.json",
        include_str!("../../../../sdk/js/package-lock.json"),
    ),
    ("index.d.ts", include_str!("../../../../sdk/js/index.d.ts")),
    (
        "testing.d.ts",
        include_str!("../../../../sdk/js/testing.d.ts"),
    ),
    ("README.md", include_str!("../../../../sdk/js/README.md")),
];

/// Where every plugin of this machine builds (`$ISLET_BUILD_DIR`, or
/// `islet/target` in the user's cache folder), created if missing.
pub fn build_cache_dir() -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("ISLET_BUILD_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => cache_root()?.join("target"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn cache_root() -> anyhow::Result<PathBuf> {
    let base = dirs::cache_dir().context(
        "cannot find the user's cache folder: set HOME (or XDG_CACHE_HOME), or ISLET_BUILD_DIR",
    )?;
    Ok(base.join("islet"))
}

/// The SDK folder a project at `project` should depend on.
pub fn sdk_path_for(project: &Path) -> anyhow::Result<PathBuf> {
    if let Some(checkout) = checkout_sdk(project) {
        return Ok(checkout);
    }
    extract_sdk()
}

/// The JS SDK folder (`@islet/sdk`) a project at `project` should depend
/// on: the checkout's `sdk/js` (relative, e.g. `../../sdk/js`) inside a
/// checkout of Islet, else the copy built into this binary, written once
/// per content to `~/.cache/islet/sdk-js/<version>-<hash>`.
pub fn js_sdk_path_for(project: &Path) -> anyhow::Result<PathBuf> {
    if let Some(mut checkout) = checkout_sdk(project) {
        checkout.push("js");
        return Ok(checkout);
    }
    extract_js_sdk()
}

/// The built-in JS SDK in the cache folder, written if missing.
fn extract_js_sdk() -> anyhow::Result<PathBuf> {
    let mut hash = Sha256::new();
    for (name, text) in JS_FILES {
        hash.update(name);
        hash.update(text);
    }
    for dir in [&JS_SRC, &JS_BIN, &JS_WIT] {
        for file in files(dir) {
            hash.update(file.path().to_string_lossy().as_bytes());
            hash.update(file.contents());
        }
    }
    let version = env!("CARGO_PKG_VERSION");
    let id = format!("{version}-{}", &hex::encode(hash.finalize())[..12]);
    let root = cache_root()?.join("sdk-js").join(&id);
    if root.join("package.json").is_file() {
        return Ok(root);
    }
    // Written beside, then renamed: a half-written SDK is never used.
    let staging = root.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let write = || -> anyhow::Result<()> {
        write_dir(&JS_SRC, &staging.join("src"))?;
        write_dir(&JS_BIN, &staging.join("bin"))?;
        write_dir(&JS_WIT, &staging.join("wit"))?;
        for (name, text) in JS_FILES {
            std::fs::write(staging.join(name), text)?;
        }
        set_executable(&staging.join("bin"))
    };
    write().with_context(|| format!("cannot write the JS SDK to {}", staging.display()))?;
    if let Some(parent) = root.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if std::fs::rename(&staging, &root).is_err() {
        // Another `islet` wrote it meanwhile.
        let _ = std::fs::remove_dir_all(&staging);
    }
    anyhow::ensure!(
        root.join("package.json").is_file(),
        "cannot write the JS SDK to {}",
        root.display()
    );
    Ok(root)
}

/// Make the scripts in `dir` executable (npm links them as commands).
fn set_executable(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    for entry in std::fs::read_dir(dir)? {
        use std::os::unix::fs::PermissionsExt as _;
        let path = entry?.path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The `sdk/` of an Islet checkout `project` lies in, if any, relative to
/// `project` (`../../sdk`), so the project moves with the checkout.
fn checkout_sdk(project: &Path) -> Option<PathBuf> {
    project
        .ancestors()
        .enumerate()
        .skip(1)
        .find_map(|(depth, dir)| {
            let manifest = std::fs::read_to_string(dir.join("sdk/Cargo.toml")).ok()?;
            let ours = manifest.contains("name = \"islet-sdk\"") && dir.join("wit").is_dir();
            ours.then(|| {
                let mut relative: PathBuf = std::iter::repeat_n("..", depth).collect();
                relative.push("sdk");
                relative
            })
        })
}

/// The built-in SDK in the cache folder, written if missing; its `sdk/`.
fn extract_sdk() -> anyhow::Result<PathBuf> {
    let mut hash = Sha256::new();
    hash.update(SDK_MANIFEST);
    for dir in [&SDK_SRC, &WIT] {
        for file in files(dir) {
            hash.update(file.path().to_string_lossy().as_bytes());
            hash.update(file.contents());
        }
    }
    let version = env!("CARGO_PKG_VERSION");
    let id = format!("{version}-{}", &hex::encode(hash.finalize())[..12]);
    let root = cache_root()?.join("sdk").join(&id);
    let sdk = root.join("sdk");
    if sdk.join("Cargo.toml").is_file() {
        return Ok(sdk);
    }
    // Written beside, then renamed: a half-written SDK is never used.
    let staging = root.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let write = || -> anyhow::Result<()> {
        write_dir(&SDK_SRC, &staging.join("sdk/src"))?;
        write_dir(&WIT, &staging.join("wit"))?;
        std::fs::write(staging.join("sdk/Cargo.toml"), SDK_MANIFEST)?;
        std::fs::write(staging.join("sdk/README.md"), SDK_README)?;
        Ok(())
    };
    write().with_context(|| format!("cannot write the SDK to {}", staging.display()))?;
    if let Some(parent) = root.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if std::fs::rename(&staging, &root).is_err() {
        // Another `islet` wrote it meanwhile.
        let _ = std::fs::remove_dir_all(&staging);
    }
    anyhow::ensure!(
        sdk.join("Cargo.toml").is_file(),
        "cannot write the SDK to {}",
        root.display()
    );
    Ok(sdk)
}

fn files<'a>(dir: &'a Dir<'a>) -> Vec<&'a include_dir::File<'a>> {
    let mut out: Vec<_> = dir.files().collect();
    for sub in dir.dirs() {
        out.extend(files(sub));
    }
    out.sort_by_key(|f| f.path());
    out
}

fn write_dir(dir: &Dir<'_>, to: &Path) -> anyhow::Result<()> {
    for file in files(dir) {
        let path = to.join(file.path());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, file.contents())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_sdk_is_the_checkouts_and_matches_the_workspace_version() {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert_eq!(
            std::fs::read_to_string(checkout.join("sdk/Cargo.toml")).unwrap(),
            SDK_MANIFEST
        );
        assert!(SDK_MANIFEST.contains(&format!("version = \"{}\"", env!("CARGO_PKG_VERSION"))));
        assert!(SDK_SRC.get_file("lib.rs").is_some());
        assert!(
            WIT.files()
                .any(|f| f.path().extension().is_some_and(|e| e == "wit"))
        );
        let inside = checkout.join("plugins").join("new-one");
        assert_eq!(checkout_sdk(&inside), Some(PathBuf::from("../../sdk")));
        assert_eq!(checkout_sdk(Path::new("/tmp/somewhere/else")), None);
        assert_eq!(
            js_sdk_path_for(&inside).unwrap(),
            PathBuf::from("../../sdk/js")
        );
    }

    #[test]
    fn the_built_in_js_sdk_is_the_checkouts_without_tests_or_packages() {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/js");
        for (name, text) in JS_FILES {
            assert_eq!(std::fs::read_to_string(checkout.join(name)).unwrap(), text);
        }
        assert!(JS_SRC.get_file("index.js").is_some());
        assert!(JS_SRC.get_file("testing/index.js").is_some());
        assert!(JS_BIN.get_file("islet-js-build.js").is_some());
        assert!(JS_WIT.get_file("platform.wit").is_some());
        // Everything the package exports is in the copy.
        let package: serde_json::Value = serde_json::from_str(JS_FILES[0].1).unwrap();
        for export in package["exports"].as_object().unwrap().values() {
            for target in export
                .as_object()
                .map(|o| o.values().cloned().collect())
                .unwrap_or_else(|| vec![export.clone()])
            {
                let path = target.as_str().unwrap().trim_start_matches("./");
                let found = JS_FILES.iter().any(|(n, _)| *n == path)
                    || path
                        .strip_prefix("src/")
                        .is_some_and(|p| JS_SRC.get_file(p).is_some());
                assert!(found, "{path} is exported but not built in");
            }
        }
    }
}
