//! What the registry persists about a plugin: its versions, each with a
//! state, checks and grants, and which versions serve whom.

use crate::manifest::Manifest;
use semver::Version;
use serde::{Deserialize, Serialize};

/// Versions kept per plugin; older superseded or rejected ones are pruned.
pub const HISTORY_LEN: usize = 20;

/// Where a version is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionState {
    /// Uploaded and checked; the developer may submit it.
    Uploaded,
    /// Waiting for a reviewer (one per plugin at a time).
    InReview,
    /// Approved with grants; may be released.
    Approved,
    /// Refused by a reviewer, with a reason.
    Rejected,
    /// Serving a share of citizens and/or listed testers.
    Gray,
    /// Serving everyone else (the full release).
    Released,
    /// Replaced by a later release, or rolled back.
    Superseded,
}

impl VersionState {
    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            VersionState::Uploaded => "uploaded",
            VersionState::InReview => "in-review",
            VersionState::Approved => "approved",
            VersionState::Rejected => "rejected",
            VersionState::Gray => "gray",
            VersionState::Released => "released",
            VersionState::Superseded => "superseded",
        }
    }
}

pub use crate::manifest::Grants;

/// One automated check run at upload, shown to the reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// A reviewer's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// Who decided.
    pub by: String,
    /// When, seconds since the epoch.
    pub at: u64,
    /// Why (required for a rejection).
    pub reason: Option<String>,
}

/// One uploaded version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 of the component, hex (`components/<sha256>.wasm`).
    pub sha256: String,
    /// Component size, bytes.
    pub size: u64,
    /// Its state.
    pub state: VersionState,
    /// Upload time, seconds since the epoch.
    pub uploaded_at: u64,
    /// Uploader (token subject).
    pub uploaded_by: String,
    /// Automated checks.
    pub checks: Vec<Check>,
    /// What it was granted (set at approval).
    pub grants: Option<Grants>,
    /// The review decision.
    pub review: Option<Review>,
}

impl VersionRecord {
    /// Its version.
    pub fn version(&self) -> &Version {
        &self.manifest.version
    }
}

/// A gray release: who gets the gray version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrayRelease {
    /// The version in gray.
    pub version: Version,
    /// Share of signed-in citizens, percent (0 to 100).
    pub percent: u8,
    /// Citizens (token subjects) who always get it.
    #[serde(default)]
    pub testers: Vec<String>,
}

/// Catalog curation, separate from availability.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Curation {
    /// Hidden from the catalog (still reachable by URL).
    #[serde(default)]
    pub hidden: bool,
    /// Featured / high-frequency.
    #[serde(default)]
    pub featured: bool,
    /// Position in the catalog (lower first).
    #[serde(default)]
    pub order: i32,
    /// City district it serves, if local.
    #[serde(default)]
    pub district: Option<String>,
    /// Category override (default: the manifest's).
    #[serde(default)]
    pub category: Option<String>,
}

/// The persisted state of one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRecord {
    /// Plugin id.
    pub id: String,
    /// Owning department (fixed by the first upload).
    pub department: String,
    /// Versions, newest upload first.
    pub versions: Vec<VersionRecord>,
    /// The full release.
    pub released: Option<Version>,
    /// The gray release, if any.
    pub gray: Option<GrayRelease>,
    /// Earlier full releases, most recent last: where rollback goes.
    #[serde(default)]
    pub previous: Vec<Version>,
    /// Taken down: hidden and unreachable at once.
    #[serde(default)]
    pub taken_down: bool,
    /// Catalog curation.
    #[serde(default)]
    pub curation: Curation,
}

impl PluginRecord {
    /// A plugin with no versions yet.
    pub fn new(id: &str, department: &str) -> Self {
        PluginRecord {
            id: id.to_string(),
            department: department.to_string(),
            versions: Vec::new(),
            released: None,
            gray: None,
            previous: Vec::new(),
            taken_down: false,
            curation: Curation::default(),
        }
    }

    /// The plugin id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The version record of `version`.
    pub fn version(&self, version: &Version) -> Option<&VersionRecord> {
        self.versions.iter().find(|v| v.version() == version)
    }

    pub(super) fn version_mut(&mut self, version: &Version) -> Option<&mut VersionRecord> {
        self.versions.iter_mut().find(|v| v.version() == version)
    }

    /// The fully released version's record.
    pub fn released_version(&self) -> Option<&VersionRecord> {
        self.released.as_ref().and_then(|v| self.version(v))
    }

    /// The manifest shown for the plugin: the full release's, else the
    /// gray one's, else the newest upload's.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.released_version()
            .or_else(|| self.gray.as_ref().and_then(|g| self.version(&g.version)))
            .or_else(|| self.versions.first())
            .map(|v| &v.manifest)
    }

    /// Whether the app can reach any version of it.
    pub fn serving(&self) -> bool {
        !self.taken_down && (self.released.is_some() || self.gray.is_some())
    }
}

pub use crate::clock::now_secs;
