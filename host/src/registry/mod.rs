//! The plugin registry: installed plugins persisted in the store, their
//! components in the data folder, and the active (prepared) version of each.
//!
//! Installing prepares the new version completely before anything is
//! written; the record is one atomic write; the switch is one pointer swap.
//! Requests already running keep their `Arc` to the old version and finish
//! on it: a replace never fails a request.

mod record;

pub use record::{HISTORY_LEN, PluginRecord, VersionEntry, now_secs};

use crate::limits::{LimitPolicy, Limits};
use crate::manifest::{Manifest, ManifestError};
use crate::runtime::{PrepareError, PreparedPlugin, Runtime};
use crate::store::{Expect, KvStore, StoreError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

const NAMESPACE: &str = "registry";

/// Why an install or change was refused. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The manifest asks for limits above the platform maxima.
    #[error("islet.toml: {0}")]
    Limits(String),
    /// The component is too big.
    #[error("the component is {size} bytes; the platform accepts at most {max} bytes")]
    TooLarge {
        /// Uploaded size.
        size: usize,
        /// Allowed size.
        max: usize,
    },
    /// The component cannot be activated.
    #[error(transparent)]
    Component(#[from] PrepareError),
    /// No such plugin.
    #[error("no plugin with id {0:?} is installed")]
    NotFound(String),
    /// Storage failed.
    #[error("{0}")]
    Store(String),
}

impl From<StoreError> for RegistryError {
    fn from(e: StoreError) -> Self {
        RegistryError::Store(e.to_string())
    }
}

/// A plugin as the router sees it.
pub struct ActivePlugin {
    /// The persisted record.
    pub record: PluginRecord,
    /// The prepared version, or why it could not be prepared at start-up.
    pub prepared: Result<Arc<PreparedPlugin>, String>,
}

/// The outcome of an install.
pub struct Installed {
    /// The plugin now active.
    pub plugin: Arc<ActivePlugin>,
    /// The version it replaced, if any.
    pub replaced: Option<String>,
}

/// The registry of installed plugins.
pub struct Registry {
    runtime: Arc<Runtime>,
    store: Arc<dyn KvStore>,
    components_dir: PathBuf,
    policy: LimitPolicy,
    max_component_bytes: usize,
    active: RwLock<HashMap<String, Arc<ActivePlugin>>>,
    writer: Mutex<()>,
}

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Registry {
    /// Open the registry and activate every installed plugin. A plugin that
    /// fails to activate is kept (and reported) but not served.
    pub fn open(
        runtime: Arc<Runtime>,
        store: Arc<dyn KvStore>,
        data_dir: PathBuf,
        policy: LimitPolicy,
        max_component_bytes: usize,
    ) -> anyhow::Result<Self> {
        let components_dir = data_dir.join("components");
        std::fs::create_dir_all(&components_dir)?;
        let registry = Registry {
            runtime,
            store,
            components_dir,
            policy,
            max_component_bytes,
            active: RwLock::new(HashMap::new()),
            writer: Mutex::new(()),
        };
        let mut active = HashMap::new();
        for (key, value) in registry.store.scan(NAMESPACE, b"", None, usize::MAX)? {
            let id = String::from_utf8_lossy(&key).into_owned();
            let record: PluginRecord = match serde_json::from_slice(&value) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(plugin = %id, "unreadable registry record: {e}");
                    continue;
                }
            };
            let prepared = registry.activate(&record).map_err(|e| {
                tracing::error!(plugin = %id, "cannot activate: {e}");
                e.to_string()
            });
            active.insert(id, Arc::new(ActivePlugin { record, prepared }));
        }
        *registry.active.write().unwrap_or_else(|e| e.into_inner()) = active;
        Ok(registry)
    }

    fn component_path(&self, sha256: &str) -> PathBuf {
        self.components_dir.join(format!("{sha256}.wasm"))
    }

    fn limits_for(&self, manifest: &Manifest) -> Result<Limits, RegistryError> {
        self.policy
            .resolve(&manifest.limits)
            .map_err(RegistryError::Limits)
    }

    fn activate(&self, record: &PluginRecord) -> Result<Arc<PreparedPlugin>, RegistryError> {
        let path = self.component_path(&record.sha256);
        let bytes = std::fs::read(&path)
            .map_err(|e| RegistryError::Store(format!("cannot read {}: {e}", path.display())))?;
        let limits = self.limits_for(&record.manifest)?;
        let prepared =
            self.runtime
                .prepare(record.manifest.clone(), limits, &bytes, &record.sha256)?;
        tracing::info!(
            plugin = %record.id(),
            version = %record.manifest.version,
            from_cache = prepared.from_cache,
            activation_ms = prepared.activation.as_secs_f64() * 1000.0,
            "plugin activated"
        );
        Ok(Arc::new(prepared))
    }

    /// The plugin `id`, if installed.
    pub fn get(&self, id: &str) -> Option<Arc<ActivePlugin>> {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Every installed plugin, by id.
    pub fn list(&self) -> Vec<Arc<ActivePlugin>> {
        let mut all: Vec<_> = self
            .active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.record.id().cmp(b.record.id()));
        all
    }

    /// Install `component` as described by `manifest_text`, replacing the
    /// plugin's current version if there is one. Blocking (compiles).
    /// On any error the registry is exactly as before.
    pub fn install(
        &self,
        manifest_text: &str,
        component: &[u8],
        actor: &str,
    ) -> Result<Installed, RegistryError> {
        let manifest: Manifest = manifest_text.parse()?;
        if component.len() > self.max_component_bytes {
            return Err(RegistryError::TooLarge {
                size: component.len(),
                max: self.max_component_bytes,
            });
        }
        let limits = self.limits_for(&manifest)?;
        let sha256 = sha256_hex(component);
        let prepared =
            Arc::new(
                self.runtime
                    .prepare(manifest.clone(), limits, component, &sha256)?,
            );

        let path = self.component_path(&sha256);
        if !path.exists() {
            crate::runtime::write_atomically(&path, component)
                .map_err(|e| RegistryError::Store(format!("cannot store component: {e}")))?;
        }

        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let previous = self.get(&manifest.id);
        let entry = VersionEntry {
            version: manifest.version.to_string(),
            sha256: sha256.clone(),
            installed_at: now_secs(),
            installed_by: actor.to_string(),
        };
        let mut history = vec![entry];
        if let Some(prev) = &previous {
            history.extend(prev.record.history.iter().take(HISTORY_LEN - 1).cloned());
        }
        let record = PluginRecord {
            manifest,
            sha256,
            size: component.len() as u64,
            enabled: previous.as_ref().is_none_or(|p| p.record.enabled),
            history,
        };
        self.persist(&record)?;
        let plugin = Arc::new(ActivePlugin {
            record,
            prepared: Ok(prepared),
        });
        self.swap(plugin.clone());
        Ok(Installed {
            plugin,
            replaced: previous.map(|p| p.record.manifest.version.to_string()),
        })
    }

    /// Enable or disable plugin `id`; takes effect for the next request.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> Result<Arc<ActivePlugin>, RegistryError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self
            .get(id)
            .ok_or_else(|| RegistryError::NotFound(id.to_string()))?;
        let mut record = current.record.clone();
        record.enabled = enabled;
        self.persist(&record)?;
        let plugin = Arc::new(ActivePlugin {
            record,
            prepared: current.prepared.clone(),
        });
        self.swap(plugin.clone());
        Ok(plugin)
    }

    /// Write `record` as one atomic store write and make it durable.
    /// Callers hold `writer`, so no other change can interleave.
    fn persist(&self, record: &PluginRecord) -> Result<(), RegistryError> {
        let value = serde_json::to_vec(record)
            .map_err(|e| RegistryError::Store(format!("cannot encode record: {e}")))?;
        self.store
            .write(
                NAMESPACE,
                record.id().as_bytes(),
                Expect::Anything,
                Some(&value),
                None,
            )
            .map_err(|e| RegistryError::Store(e.to_string()))?;
        self.store.flush()?;
        Ok(())
    }

    fn swap(&self, plugin: Arc<ActivePlugin>) {
        self.active
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(plugin.record.id().to_string(), plugin);
    }
}

impl Registry {
    /// Whether the store answers a read.
    pub fn store_ok(&self) -> bool {
        self.store.get(NAMESPACE, b"\0probe").is_ok()
    }
}

impl Registry {
    /// Make every write durable.
    pub fn flush(&self) -> Result<(), RegistryError> {
        Ok(self.store.flush()?)
    }
}
