//! The plugin registry: installed plugins persisted in the store, their
//! components in the data folder, and the active (prepared) version of each.
//!
//! Installing prepares the new version completely before anything is
//! written; the record is one atomic write; the switch is one pointer swap.
//! Requests already running keep their `Arc` to the old version and finish
//! on it: a replace never fails a request.

mod checks;
mod lifecycle;
mod record;

pub use lifecycle::{Action, TransitionError, allowed_for_version, apply, gray_bucket, route};
pub use record::{
    Check, Curation, Grants, GrayRelease, HISTORY_LEN, PluginRecord, Review, VersionRecord,
    VersionState, now_secs,
};

use crate::limits::{LimitPolicy, Limits};
use crate::manifest::{Manifest, ManifestError};
use crate::runtime::{PrepareError, PreparedPlugin, Runtime};
use crate::store::{Expect, KvStore, StoreError, WriteError};
use semver::Version;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

const NAMESPACE: &str = "registry";
/// The announcement topic of registry changes (the note is the plugin id).
pub const ANNOUNCE_TOPIC: &str = "registry";
/// Uploaded components by SHA-256, so every host can prepare every version.
const COMPONENTS: &str = "components";

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
    /// No such version of a plugin.
    #[error("plugin {0:?} has no version {1}")]
    NoVersion(String, String),
    /// A transition that the current state does not allow.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The upload conflicts with what is there (version exists, department differs).
    #[error("{0}")]
    Conflict(String),
    /// What the store holds is wrong (a component missing or corrupt, a
    /// record that cannot be encoded).
    #[error("{0}")]
    Store(String),
    /// The store did not answer or refused the write (PostgreSQL down, a
    /// nearly full disk): try again later.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
}

/// A failed write: a conflict or quota is the caller's business, a store
/// failure is [`RegistryError::Unavailable`].
fn write_failed(what: &str, e: WriteError) -> RegistryError {
    match e {
        WriteError::Store(e) => RegistryError::Unavailable(e),
        other => RegistryError::Store(format!("{what}: {other}")),
    }
}

/// A plugin as the router sees it: its record and its serving versions.
pub struct ActivePlugin {
    /// The persisted record.
    pub record: PluginRecord,
    /// Prepared versions that serve (full and gray release), or why one
    /// could not be prepared.
    pub serving: HashMap<Version, Result<Arc<PreparedPlugin>, String>>,
    /// The record exactly as the store holds it: a change is written only
    /// if the store still holds these bytes (another host may have changed
    /// the plugin), and the follower swaps in records whose bytes differ.
    stored: Vec<u8>,
}

impl ActivePlugin {
    /// The version serving `citizen` (none: anonymous) and its prepared
    /// code, if the plugin serves anyone.
    pub fn route(
        &self,
        citizen: Option<&str>,
    ) -> Option<(&Version, &Result<Arc<PreparedPlugin>, String>)> {
        let version = route(&self.record, citizen)?;
        self.serving.get(version).map(|p| (version, p))
    }

    /// The prepared full release, if any.
    pub fn released(&self) -> Option<&Result<Arc<PreparedPlugin>, String>> {
        self.record
            .released
            .as_ref()
            .and_then(|v| self.serving.get(v))
    }
}

/// The outcome of an admin's one-step install.
pub struct Installed {
    /// The plugin now active.
    pub plugin: Arc<ActivePlugin>,
    /// The full release it replaced, if any.
    pub replaced: Option<String>,
    /// The same component was already the full release: nothing changed.
    pub unchanged: bool,
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
    /// Open the registry and prepare every serving version. A version that
    /// fails to prepare is kept (and reported) but not served.
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
        registry.follow()?;
        Ok(registry)
    }

    /// Take in every change another host made: each plugin whose record in
    /// the store differs from the active one is activated anew (versions
    /// that still serve keep their prepared code; in-flight requests finish
    /// on the version they started with). The number of plugins changed.
    pub fn follow(&self) -> Result<usize, RegistryError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut changed = 0;
        let mut after: Option<Vec<u8>> = None;
        loop {
            let rows = self.store.scan(NAMESPACE, b"", after.as_deref(), 256)?;
            let Some((last, _)) = rows.last() else {
                return Ok(changed);
            };
            after = Some(last.clone());
            for (key, value) in rows {
                let id = String::from_utf8_lossy(&key).into_owned();
                let previous = self.get(&id);
                if previous.as_ref().is_some_and(|p| p.stored == value) {
                    continue;
                }
                match serde_json::from_slice::<PluginRecord>(&value) {
                    Ok(record) => {
                        let plugin = self.activate(record, value, previous.as_deref());
                        self.swap(Arc::new(plugin));
                        changed += 1;
                    }
                    Err(e) => tracing::error!(plugin = %id, "unreadable registry record: {e}"),
                }
            }
        }
    }

    fn component_path(&self, sha256: &str) -> PathBuf {
        self.components_dir.join(format!("{sha256}.wasm"))
    }

    /// Keep `component` in the store (where every host finds it) and in the
    /// local folder (a cache).
    fn save_component(&self, sha256: &str, component: &[u8]) -> Result<(), RegistryError> {
        if self.store.get(COMPONENTS, sha256.as_bytes())?.is_none() {
            self.store
                .write(
                    COMPONENTS,
                    sha256.as_bytes(),
                    Expect::Anything,
                    Some(component),
                    None,
                )
                .map_err(|e| write_failed("cannot store component", e))?;
        }
        let path = self.component_path(sha256);
        if !path.exists() {
            crate::runtime::write_atomically(&path, component)
                .map_err(|e| RegistryError::Store(format!("cannot store component: {e}")))?;
        }
        Ok(())
    }

    /// The component `sha256`: from the local cache, else from the store
    /// (another host uploaded it), else from a data folder older than
    /// components in the store (then copied into the store).
    fn load_component(&self, sha256: &str) -> Result<Vec<u8>, RegistryError> {
        let path = self.component_path(sha256);
        if let Ok(bytes) = std::fs::read(&path)
            && sha256_hex(&bytes) == sha256
        {
            if self.store.get(COMPONENTS, sha256.as_bytes())?.is_none() {
                self.save_component(sha256, &bytes)?;
            }
            return Ok(bytes);
        }
        let Some(bytes) = self.store.get(COMPONENTS, sha256.as_bytes())? else {
            return Err(RegistryError::Store(format!(
                "component {sha256} is in neither the store nor {}",
                path.display()
            )));
        };
        if sha256_hex(&bytes) != sha256 {
            return Err(RegistryError::Store(format!(
                "component {sha256} in the store does not match its hash"
            )));
        }
        if let Err(e) = crate::runtime::write_atomically(&path, &bytes) {
            tracing::warn!("cannot cache component {sha256} locally: {e}");
        }
        Ok(bytes)
    }

    fn limits_for(&self, manifest: &Manifest) -> Result<Limits, RegistryError> {
        self.policy
            .resolve(&manifest.limits)
            .map_err(RegistryError::Limits)
    }

    fn prepare_version(&self, v: &VersionRecord) -> Result<Arc<PreparedPlugin>, RegistryError> {
        let bytes = self.load_component(&v.sha256)?;
        let limits = self.limits_for(&v.manifest)?;
        let granted = v.grants.clone().unwrap_or_default();
        let prepared =
            self.runtime
                .prepare(v.manifest.clone(), limits, &bytes, &v.sha256, granted)?;
        tracing::info!(
            plugin = %v.manifest.id,
            version = %v.manifest.version,
            from_cache = prepared.from_cache,
            activation_ms = prepared.activation.as_secs_f64() * 1000.0,
            "version prepared"
        );
        Ok(Arc::new(prepared))
    }

    /// Build the active form of `record`, reusing prepared versions of
    /// `previous` where the same version still serves.
    fn activate(
        &self,
        record: PluginRecord,
        stored: Vec<u8>,
        previous: Option<&ActivePlugin>,
    ) -> ActivePlugin {
        let mut wanted: Vec<Version> = record.released.iter().cloned().collect();
        if let Some(gray) = &record.gray {
            wanted.push(gray.version.clone());
        }
        let mut serving = HashMap::new();
        for version in wanted {
            if let Some(ready) = previous.and_then(|p| p.serving.get(&version)) {
                serving.insert(version, ready.clone());
                continue;
            }
            let prepared = match record.version(&version) {
                Some(v) => self.prepare_version(v).map_err(|e| {
                    tracing::error!(plugin = %record.id, %version, "cannot prepare: {e}");
                    e.to_string()
                }),
                None => Err(format!("version {version} is missing from the record")),
            };
            serving.insert(version, prepared);
        }
        ActivePlugin {
            record,
            serving,
            stored,
        }
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

    /// Upload a new version (state `uploaded`) after the automated checks.
    /// Blocking (compiles). On any error nothing is stored.
    pub fn upload(
        &self,
        manifest_text: &str,
        component: &[u8],
        actor: &str,
    ) -> Result<(Arc<ActivePlugin>, Version), RegistryError> {
        let manifest: Manifest = manifest_text.parse()?;
        if component.len() > self.max_component_bytes {
            return Err(RegistryError::TooLarge {
                size: component.len(),
                max: self.max_component_bytes,
            });
        }
        let limits = self.limits_for(&manifest)?;
        let sha256 = sha256_hex(component);
        // Compiling checks validity and imports; the artifact is cached for
        // the release that follows.
        let prepared = self.runtime.prepare(
            manifest.clone(),
            limits,
            component,
            &sha256,
            Grants::default(),
        )?;
        let checks = checks::passed(
            &manifest,
            &limits,
            component.len(),
            self.max_component_bytes,
            &prepared,
        );

        self.save_component(&sha256, component)?;
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let previous = self.get(&manifest.id);
        let mut record = previous
            .as_ref()
            .map(|p| p.record.clone())
            .unwrap_or_else(|| PluginRecord::new(&manifest.id, &manifest.department));
        checks::upload_allowed(&record, &manifest)?;
        let version = manifest.version.clone();
        record.versions.insert(
            0,
            VersionRecord {
                manifest,
                sha256,
                size: component.len() as u64,
                state: VersionState::Uploaded,
                uploaded_at: now_secs(),
                uploaded_by: actor.to_string(),
                checks,
                grants: None,
                review: None,
            },
        );
        prune(&mut record);
        let plugin = self.commit(record, previous.as_deref())?;
        Ok((plugin, version))
    }

    /// Apply a life-cycle `action` to plugin `id`. Zero downtime: the new
    /// serving versions are prepared before the switch.
    pub fn transition(
        &self,
        id: &str,
        action: &Action,
        actor: &str,
    ) -> Result<Arc<ActivePlugin>, RegistryError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self
            .get(id)
            .ok_or_else(|| RegistryError::NotFound(id.to_string()))?;
        let record = apply(&current.record, action, actor)?;
        let value = encode(&record)?;
        let next = self.activate(record, value, Some(&current));
        if let Some((version, Err(e))) = next.serving.iter().find(|(_, p)| p.is_err()) {
            return Err(RegistryError::Store(format!(
                "version {version} cannot serve: {e}"
            )));
        }
        self.persist(&next, Some(&current))?;
        let next = Arc::new(next);
        self.swap(next.clone());
        Ok(next)
    }

    /// An admin's one-step install: upload, approve with every requested
    /// capability, and release to everyone. Installing the component that
    /// is already the full release changes nothing.
    pub fn install(
        &self,
        manifest_text: &str,
        component: &[u8],
        actor: &str,
    ) -> Result<Installed, RegistryError> {
        let manifest: Manifest = manifest_text.parse()?;
        if let Some(current) = self.get(&manifest.id)
            && let Some(released) = current.record.released_version()
            && released.manifest.version == manifest.version
            && released.sha256 == sha256_hex(component)
            && released.manifest == manifest
        {
            return Ok(Installed {
                plugin: current,
                replaced: None,
                unchanged: true,
            });
        }
        let replaced = self
            .get(&manifest.id)
            .and_then(|p| p.record.released.as_ref().map(ToString::to_string));
        let (_, version) = self.upload(manifest_text, component, actor)?;
        let id = manifest.id.as_str();
        let steps = [
            Action::Submit(version.clone()),
            Action::Approve(version.clone(), Grants::everything_requested(&manifest)),
            Action::Release {
                version,
                percent: 100,
                testers: Vec::new(),
            },
        ];
        let mut plugin = None;
        for step in &steps {
            plugin = Some(self.transition(id, step, actor)?);
        }
        let plugin = plugin.ok_or_else(|| RegistryError::NotFound(id.to_string()))?;
        Ok(Installed {
            plugin,
            replaced,
            unchanged: false,
        })
    }

    /// Take a plugin down (`false`) or put it back (`true`).
    pub fn set_enabled(&self, id: &str, enabled: bool) -> Result<Arc<ActivePlugin>, RegistryError> {
        let action = if enabled {
            Action::PutBack
        } else {
            Action::TakeDown
        };
        self.transition(id, &action, "admin")
    }

    /// Change a plugin's catalog curation.
    pub fn curate(&self, id: &str, curation: Curation) -> Result<Arc<ActivePlugin>, RegistryError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self
            .get(id)
            .ok_or_else(|| RegistryError::NotFound(id.to_string()))?;
        let mut record = current.record.clone();
        record.curation = curation;
        self.commit(record, Some(&current))
    }

    fn commit(
        &self,
        record: PluginRecord,
        previous: Option<&ActivePlugin>,
    ) -> Result<Arc<ActivePlugin>, RegistryError> {
        let value = encode(&record)?;
        let next = self.activate(record, value, previous);
        self.persist(&next, previous)?;
        let next = Arc::new(next);
        self.swap(next.clone());
        Ok(next)
    }

    /// Write `next`'s record as one atomic store write, only if the store
    /// still holds `previous`'s, and make it durable. Callers hold `writer`,
    /// so no other change of this host can interleave; a change another
    /// host made meanwhile is a conflict (taken in at once).
    fn persist(
        &self,
        next: &ActivePlugin,
        previous: Option<&ActivePlugin>,
    ) -> Result<(), RegistryError> {
        let id = next.record.id();
        let expected = previous.map(|p| p.stored.clone());
        match self.store.write(
            NAMESPACE,
            id.as_bytes(),
            Expect::Value(expected),
            Some(&next.stored),
            None,
        ) {
            Ok(()) => {}
            Err(WriteError::Conflict) => {
                self.follow_one(id)?;
                return Err(RegistryError::Conflict(format!(
                    "plugin {id} was changed on another host at the same moment; look again \
                     and retry"
                )));
            }
            Err(e) => return Err(write_failed("cannot save the plugin", e)),
        }
        self.store.flush()?;
        if let Err(e) = self.store.announce(ANNOUNCE_TOPIC, id) {
            // The other hosts still find it at their next reconcile.
            tracing::warn!(plugin = %id, "cannot announce a registry change: {e}");
        }
        Ok(())
    }

    /// Take in the stored record of `id`, which another host announced it
    /// changed.
    pub fn follow_announced(&self, id: &str) -> Result<(), RegistryError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.follow_one(id)
    }

    /// Take in the stored record of `id` (callers hold `writer`).
    fn follow_one(&self, id: &str) -> Result<(), RegistryError> {
        let Some(value) = self.store.get(NAMESPACE, id.as_bytes())? else {
            return Ok(());
        };
        let previous = self.get(id);
        if previous.as_ref().is_some_and(|p| p.stored == value) {
            return Ok(());
        }
        if let Ok(record) = serde_json::from_slice::<PluginRecord>(&value) {
            let plugin = self.activate(record, value, previous.as_deref());
            self.swap(Arc::new(plugin));
        }
        Ok(())
    }

    fn swap(&self, plugin: Arc<ActivePlugin>) {
        self.active
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(plugin.record.id().to_string(), plugin);
    }

    /// The store the registry keeps its records in.
    pub fn store(&self) -> &Arc<dyn KvStore> {
        &self.store
    }

    /// Whether the store answers a read.
    pub fn store_ok(&self) -> bool {
        self.store.get(NAMESPACE, b"\0probe").is_ok()
    }

    /// Make every write durable.
    pub fn flush(&self) -> Result<(), RegistryError> {
        Ok(self.store.flush()?)
    }
}

fn encode(record: &PluginRecord) -> Result<Vec<u8>, RegistryError> {
    serde_json::to_vec(record)
        .map_err(|e| RegistryError::Store(format!("cannot encode record: {e}")))
}

/// Drop the oldest versions beyond [`HISTORY_LEN`] that can never serve again.
fn prune(record: &mut PluginRecord) {
    while record.versions.len() > HISTORY_LEN {
        let keep: BTreeSet<Version> = record
            .released
            .iter()
            .chain(record.previous.iter())
            .chain(record.gray.iter().map(|g| &g.version))
            .cloned()
            .collect();
        let Some(pos) = record.versions.iter().rposition(|v| {
            !keep.contains(v.version())
                && matches!(v.state, VersionState::Rejected | VersionState::Superseded)
        }) else {
            break;
        };
        record.versions.remove(pos);
    }
}
