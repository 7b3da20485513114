//! What the registry persists about a plugin.

use crate::manifest::Manifest;
use serde::{Deserialize, Serialize};

/// Versions of history kept per plugin.
pub const HISTORY_LEN: usize = 20;

/// One installed version, for the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEntry {
    /// Semantic version.
    pub version: String,
    /// SHA-256 of the component, hex.
    pub sha256: String,
    /// When it was installed, seconds since the epoch.
    pub installed_at: u64,
    /// Who installed it (token subject).
    pub installed_by: String,
}

/// The persisted state of one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRecord {
    /// The manifest of the current version.
    pub manifest: Manifest,
    /// SHA-256 of the current component, hex; the file is
    /// `components/<sha256>.wasm` in the data folder.
    pub sha256: String,
    /// Component size in bytes.
    pub size: u64,
    /// Whether the plugin's routes and catalog entry are live.
    pub enabled: bool,
    /// The current version and those before it, newest first.
    pub history: Vec<VersionEntry>,
}

impl PluginRecord {
    /// The plugin id.
    pub fn id(&self) -> &str {
        &self.manifest.id
    }
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
