//! What a reviewer granted a version: the host allows only this, and only
//! where the manifest asked for it.

use super::{Capability, DataItem, Manifest, TemplateKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What a reviewer granted a version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// Capabilities the version may use.
    #[serde(default)]
    pub capabilities: BTreeSet<Capability>,
    /// Personal data items `identity.claim` may release (with consent).
    #[serde(default)]
    pub personal_data: BTreeSet<DataItem>,
    /// Message templates approved for `notification.send`.
    #[serde(default)]
    pub templates: BTreeSet<String>,
    /// Whether long-term message consent is allowed (public services only).
    #[serde(default)]
    pub long_term_messages: bool,
}

impl Grants {
    /// Everything `manifest` asks for.
    pub fn everything_requested(manifest: &Manifest) -> Grants {
        Grants {
            capabilities: manifest.capabilities.clone(),
            personal_data: manifest.personal_data.keys().copied().collect(),
            templates: manifest.templates.iter().map(|t| t.id.clone()).collect(),
            long_term_messages: manifest
                .templates
                .iter()
                .any(|t| t.kind == TemplateKind::LongTerm),
        }
    }

    /// The first grant `manifest` did not ask for, named for the reviewer.
    pub fn beyond(&self, manifest: &Manifest) -> Option<String> {
        let requested = Grants::everything_requested(manifest);
        if let Some(c) = self.capabilities.difference(&requested.capabilities).next() {
            return Some(format!("capability {c}"));
        }
        if let Some(i) = self
            .personal_data
            .difference(&requested.personal_data)
            .next()
        {
            return Some(format!("personal data item {i}"));
        }
        if let Some(t) = self.templates.difference(&requested.templates).next() {
            return Some(format!("template {t}"));
        }
        if self.long_term_messages && !requested.long_term_messages {
            return Some("long-term messages (no long-term template declared)".into());
        }
        None
    }
}
