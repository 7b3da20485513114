//! Plugin activation: check, compile (or load from cache) and link a
//! component once, so each request only instantiates.

use super::Runtime;
use super::cache::Origin;
use super::imports::{ImportError, check_imports};
use crate::capabilities::{self, HandlerIndices, PaymentEventsIndices, RequestState};
use crate::limits::Limits;
use crate::manifest::{Grants, Manifest};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{ComponentExportIndex, InstancePre, Linker};

/// Why a component cannot be activated. Each names the problem for the uploader.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The bytes are not WebAssembly at all.
    #[error("the component is not a WebAssembly binary")]
    NotWasm,
    /// A core module, not a component.
    #[error(
        "the file is a core WebAssembly module, not a component; build it with \
         `cargo build --target wasm32-wasip2` (or `islet plugin build`)"
    )]
    CoreModule,
    /// Wasmtime could not compile it.
    #[error("the component is invalid: {0}")]
    Invalid(String),
    /// Its imports are not allowed.
    #[error(transparent)]
    Imports(#[from] ImportError),
    /// It does not fit the `mini-service` world (e.g. no handler export).
    #[error("the component does not implement the islet:platform mini-service world: {0}")]
    Link(String),
}

/// A plugin version ready to serve: compiled, checked and linked.
pub struct PreparedPlugin {
    /// Its manifest.
    pub manifest: Arc<Manifest>,
    /// Its version as text (in metrics, usage rows and the answer's
    /// `x-islet-plugin-version`), formatted once.
    pub version: Arc<str>,
    /// Its effective limits.
    pub limits: Limits,
    /// SHA-256 of the component bytes, hex.
    pub sha256: String,
    /// Whether the compiled code came from the cache.
    pub from_cache: bool,
    /// How long activation took.
    pub activation: Duration,
    /// Everything the reviewer granted (capabilities, personal data,
    /// templates); only granted capabilities answer.
    pub grants: Arc<Grants>,
    pub(super) pre: InstancePre<RequestState>,
    /// The `handle` export, type-checked when prepared.
    pub(super) handle: ComponentExportIndex,
    pub(super) events: Option<PaymentEventsIndices>,
    pub(super) scope: crate::capabilities::identity::PluginScope,
    pub(super) namespace: Arc<str>,
    /// What its recent calls cost (whether the next starts as long).
    pub(super) history: super::lane::CallHistory,
}

const WASM_MAGIC: &[u8] = b"\0asm";
const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];

impl Runtime {
    /// Activate `bytes` (SHA-256 `sha256`) as `manifest`'s plugin with
    /// `limits`. Only capabilities in `grants` answer; the others are linked
    /// as refusals (no caller, storage unavailable, log dropped), so a
    /// version granted less than it asked for still runs, degraded.
    pub fn prepare(
        &self,
        manifest: Manifest,
        limits: Limits,
        bytes: &[u8],
        sha256: &str,
        grants: Grants,
    ) -> Result<PreparedPlugin, PrepareError> {
        let started = Instant::now();
        if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
            return Err(PrepareError::NotWasm);
        }
        if bytes[4..8] == CORE_VERSION {
            return Err(PrepareError::CoreModule);
        }
        let (component, origin) = self
            .cache
            .load_or_compile(&self.engine, bytes, sha256)
            .map_err(|e| PrepareError::Invalid(format!("{e:#}")))?;
        check_imports(&self.engine, &component, &manifest)?;

        let mut linker = Linker::<RequestState>::new(&self.engine);
        capabilities::link(&mut linker).map_err(|e| PrepareError::Link(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| PrepareError::Link(format!("{e:#}")))?;
        // Type-check the handler export, then keep its index.
        HandlerIndices::new(&pre).map_err(|e| PrepareError::Link(format!("{e:#}")))?;
        let handle = super::answer::handle_index(pre.component())
            .map_err(|e| PrepareError::Link(format!("{e:#}")))?;
        // `payment-events` is optional: without it the plugin polls its
        // orders instead of hearing about them.
        let events = PaymentEventsIndices::new(&pre).ok();
        let grants = Arc::new(grants);
        let manifest = Arc::new(manifest);
        let scope = crate::capabilities::identity::PluginScope {
            id: manifest.id.as_str().into(),
            department: manifest.department.as_str().into(),
            version: manifest.version.to_string().into(),
            manifest: manifest.clone(),
            grants: grants.clone(),
        };
        Ok(PreparedPlugin {
            scope,
            namespace: capabilities::storage::namespace_for(&manifest.id).into(),
            version: manifest.version.to_string().into(),
            manifest,
            limits,
            sha256: sha256.to_string(),
            from_cache: origin == Origin::Cached,
            activation: started.elapsed(),
            grants,
            pre,
            handle,
            events,
            history: super::lane::CallHistory::default(),
        })
    }
}

impl PreparedPlugin {
    /// Whether the component exports `payment-events`.
    pub fn hears_payments(&self) -> bool {
        self.events.is_some()
    }
}

impl Runtime {
    /// Bytes plugin `plugin_id` holds in storage.
    pub fn storage_usage(&self, plugin_id: &str) -> Option<u64> {
        self.services
            .store
            .usage(&capabilities::storage::namespace_for(plugin_id))
            .ok()
    }
}
