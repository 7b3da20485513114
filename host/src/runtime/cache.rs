//! On-disk cache of compiled components, so a restart does not recompile.
//!
//! An entry's name hashes the component's bytes together with the engine's
//! compatibility hash (Wasmtime version, target, settings): another Wasmtime
//! or another component can never pick it up. Entries are written to a
//! temporary file and renamed, so a crash leaves no half-written entry.
//! The folder must be as trusted as the binary: entries hold native code.
//!
//! Entries are evicted ([`ArtifactCache::evict`]) when unused for a while
//! (an entry's modification time is its last use: loading touches it) and,
//! least recently used first, when the folder is over its size budget.
//! Removing an entry a running host has mapped is safe: the mapping stays.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
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
            touch(&path);
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

/// What one eviction pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Eviction {
    /// Entries removed.
    pub removed: usize,
    /// Bytes they held.
    pub freed_bytes: u64,
    /// Bytes the remaining entries hold.
    pub kept_bytes: u64,
}

/// Temporary files older than this are leftovers of a crash.
const STALE_TEMP: Duration = Duration::from_secs(3600);

impl ArtifactCache {
    /// Remove entries not used for `unused`, then the least recently used
    /// until the rest fit in `max_bytes`.
    pub fn evict(&self, unused: Duration, max_bytes: u64) -> std::io::Result<Eviction> {
        evict_in(&self.dir, SystemTime::now(), unused, max_bytes)
    }
}

fn evict_in(
    dir: &Path,
    now: SystemTime,
    unused: Duration,
    max_bytes: u64,
) -> std::io::Result<Eviction> {
    let mut entries = Vec::new();
    let mut done = Eviction::default();
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let Ok(meta) = item.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let used = meta.modified().unwrap_or(now);
        let age = now.duration_since(used).unwrap_or_default();
        let is_entry = name.ends_with(".cwasm");
        let stale_temp = name.starts_with(".tmp-") && age > STALE_TEMP;
        if (is_entry && age > unused) || stale_temp {
            remove(&item.path(), meta.len(), &mut done);
        } else if is_entry {
            entries.push((used, meta.len(), item.path()));
        }
    }
    let mut total: u64 = entries.iter().map(|e| e.1).sum();
    entries.sort_by_key(|e| e.0);
    for (_, len, path) in entries {
        if total <= max_bytes {
            break;
        }
        total -= len;
        remove(&path, len, &mut done);
    }
    done.kept_bytes = total;
    Ok(done)
}

fn remove(path: &Path, len: u64, done: &mut Eviction) {
    match std::fs::remove_file(path) {
        Ok(()) => {
            done.removed += 1;
            done.freed_bytes += len;
        }
        // Another host sharing the folder removed it first.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), "cannot evict a compiled artifact: {e}"),
    }
}

/// Mark `path` used now (its modification time).
fn touch(path: &Path) {
    let touched = std::fs::File::open(path).and_then(|f| f.set_modified(SystemTime::now()));
    if let Err(e) = touched {
        tracing::debug!(path = %path.display(), "cannot mark a cached artifact used: {e}");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: &Path, name: &str, len: usize, age: Duration) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, vec![0u8; len]).unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
        path
    }

    #[test]
    fn unused_entries_go_then_the_least_recently_used_over_budget() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let hour = Duration::from_secs(3600);
        let old = entry(d, "old.cwasm", 100, 48 * hour);
        let a = entry(d, "a.cwasm", 100, 3 * hour);
        let b = entry(d, "b.cwasm", 100, 2 * hour);
        let c = entry(d, "c.cwasm", 100, hour);
        let temp = entry(d, ".tmp-1-x", 10, 2 * hour);
        let fresh_temp = entry(d, ".tmp-2-y", 10, Duration::ZERO);
        let other = entry(d, "notes.txt", 10, 100 * hour);

        let done = evict_in(d, SystemTime::now(), 24 * hour, 250).unwrap();
        assert!(!old.exists(), "unused for longer than a day");
        assert!(!temp.exists(), "a crash's leftover");
        assert!(!a.exists(), "the least recently used, over budget");
        assert!(b.exists() && c.exists(), "within the budget");
        assert!(fresh_temp.exists(), "maybe being written now");
        assert!(other.exists(), "not the cache's");
        assert_eq!(done.removed, 3);
        assert_eq!(done.freed_bytes, 210);
        assert_eq!(done.kept_bytes, 200);

        // Using an entry makes it the most recent.
        touch(&b);
        evict_in(d, SystemTime::now(), 24 * hour, 100).unwrap();
        assert!(b.exists() && !c.exists());
    }
}
