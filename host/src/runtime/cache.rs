//! On-disk cache of compiled components, so a restart does not recompile.
//!
//! An entry's name hashes the component's bytes together with the engine's
//! compatibility hash (Wasmtime version, target, settings): another Wasmtime
//! or another component can never pick it up. Entries are written to a
//! temporary file and renamed, so a crash leaves no half-written entry.
//! The folder must be as trusted as the binary: entries hold native code.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The compiled-artifact cache of one engine.
pub struct ArtifactCache {
    dir: PathBuf,
    engine_tag: String,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Loaded from the cache.
    Cached,
    /// Compiled now (and stored in the cache).
    Compiled,
}

impl ArtifactCache {
    /// A cache in `dir` for `engine`.
    pub fn new(engine: &Engine, dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_tag = format!("{:016x}", hasher.finish());
        Ok(ArtifactCache { dir, engine_tag })
    }

    fn entry_path(&self, component_sha256: &str) -> PathBuf {
        let mut h = Sha256::new();
        h.update(b"islet-artifact-v1\0");
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(b"\0");
        h.update(self.engine_tag.as_bytes());
        h.update(b"\0");
        h.update(component_sha256.as_bytes());
        self.dir
            .join(format!("{}.cwasm", hex::encode(h.finalize())))
    }

    /// The compiled form of `bytes` (whose SHA-256 is `sha256`), from the
    /// cache when possible.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &str,
    ) -> wasmtime::Result<(Component, Origin)> {
        let path = self.entry_path(sha256);
        if path.exists() {
            // SAFETY: entries are only ever written by `store` below, from
            // `Component::serialize` of this same engine configuration, into
            // a folder the host owns; a mismatch is rejected by Wasmtime.
            #[allow(unsafe_code, reason = "loading an artifact this host wrote")]
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, Origin::Cached)),
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    "ignoring unusable cached artifact: {e}"
                ),
            }
        }
        let component = Component::new(engine, bytes)?;
        match component.serialize() {
            Ok(serialized) => {
                if let Err(e) = write_atomically(&path, &serialized) {
                    tracing::warn!(path = %path.display(), "cannot cache compiled artifact: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot serialize compiled artifact: {e}"),
        }
        Ok((component, Origin::Compiled))
    }
}

/// Write `bytes` to `path` via a temporary file in the same folder and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
