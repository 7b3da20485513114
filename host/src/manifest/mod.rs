//! The plugin manifest, `islet.toml`: who a mini-service is, what it asks for.

mod grants;
pub mod i18n;
mod personal;

pub use grants::Grants;
pub use i18n::Localized;
pub use personal::{DataItem, MAX_PURPOSE_CHARS, Template, TemplateKind};

use crate::limits::LimitOverrides;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// A capability a mini-service may request: one `islet:platform` interface.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `islet:platform/identity`: who is calling (pairwise subject, level, roles).
    Identity,
    /// `islet:platform/storage`: plugin-scoped key-value storage.
    Storage,
    /// `islet:platform/log`: leveled log lines.
    Log,
    /// `islet:platform/payment`: orders through the host's money path.
    Payment,
    /// `islet:platform/notification`: consented messages to the inbox.
    Notification,
}

impl Capability {
    /// Every capability the host offers.
    pub const ALL: [Capability; 5] = [
        Capability::Identity,
        Capability::Storage,
        Capability::Log,
        Capability::Payment,
        Capability::Notification,
    ];

    /// The name used in manifests and in the WIT interface path.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Identity => "identity",
            Capability::Storage => "storage",
            Capability::Log => "log",
            Capability::Payment => "payment",
            Capability::Notification => "notification",
        }
    }

    /// The capability behind an `islet:platform` interface name, if any.
    pub fn from_interface(interface: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == interface)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed and checked `islet.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    /// Stable id, used in URLs (`/p/{id}/`): `[a-z][a-z0-9-]{1,39}`.
    pub id: String,
    /// Display name in the catalog.
    pub name: String,
    /// Semantic version of this build.
    pub version: semver::Version,
    /// The department that owns the mini-service.
    pub department: String,
    /// One or two sentences for the catalog.
    pub description: String,
    /// Catalog category, e.g. `community` or `utilities`.
    pub category: String,
    /// Capabilities the component may import.
    #[serde(default)]
    pub capabilities: BTreeSet<Capability>,
    /// Requested limits; missing values take platform defaults.
    #[serde(default)]
    pub limits: LimitOverrides,
    /// `[personal-data]`: the items `identity.claim` may ask for, each with
    /// the purpose shown to the citizen.
    #[serde(default)]
    pub personal_data: BTreeMap<DataItem, String>,
    /// `[[templates]]`: the messages `notification.send` may send.
    #[serde(default)]
    pub templates: Vec<Template>,
    /// The language of `name` and `description` (a BCP 47 tag; English
    /// when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `[i18n.<language>]`: the name and description in other languages.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub i18n: BTreeMap<String, Localized>,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// Not TOML, a missing field, a wrong type, an unknown key.
    #[error("islet.toml: {0}")]
    Syntax(String),
    /// A field has a value the platform does not accept.
    #[error("islet.toml: {field}: {problem}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

impl FromStr for Manifest {
    type Err = ManifestError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| {
            ManifestError::Syntax(e.message().to_string() + &span_hint(text, e.span()))
        })?;
        manifest.check()?;
        Ok(manifest)
    }
}

fn span_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) if span.start <= text.len() => {
            let line = text[..span.start].matches('\n').count() + 1;
            format!(" (line {line})")
        }
        _ => String::new(),
    }
}

/// Most `[[templates]]` one manifest may declare.
pub const MAX_TEMPLATES: usize = 50;

/// Whether `id` is a valid plugin id: `[a-z][a-z0-9-]{1,39}`, no trailing `-`.
pub fn is_valid_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    (2..=40).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && !id.ends_with('-')
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

impl Manifest {
    fn check(&self) -> Result<(), ManifestError> {
        let invalid = |field, problem: &str| {
            Err(ManifestError::Invalid {
                field,
                problem: problem.to_string(),
            })
        };
        if !is_valid_id(&self.id) {
            return invalid(
                "id",
                "must be 2 to 40 characters of a-z, 0-9 and '-', starting with a letter",
            );
        }
        if !is_valid_id(&self.department) {
            return invalid(
                "department",
                "must be a department id: 2 to 40 characters of a-z, 0-9 and '-'",
            );
        }
        for (field, value, max) in [
            ("name", &self.name, 64),
            ("description", &self.description, 500),
            ("category", &self.category, 40),
        ] {
            if value.trim().is_empty() {
                return invalid(field, "must not be empty");
            }
            if value.chars().count() > max {
                return invalid(field, &format!("must be at most {max} characters"));
            }
        }
        for (item, purpose) in &self.personal_data {
            if purpose.trim().is_empty() || purpose.chars().count() > MAX_PURPOSE_CHARS {
                return invalid(
                    "personal-data",
                    &format!("{item}: the purpose must have 1 to {MAX_PURPOSE_CHARS} characters"),
                );
            }
        }
        if !self.personal_data.is_empty() && !self.declares(Capability::Identity) {
            return invalid("personal-data", "needs the \"identity\" capability");
        }
        if self.templates.len() > MAX_TEMPLATES {
            return invalid(
                "templates",
                &format!(
                    "{} templates declared; at most {MAX_TEMPLATES} are allowed",
                    self.templates.len()
                ),
            );
        }
        let mut ids = BTreeSet::new();
        for template in &self.templates {
            template.check().or_else(|e| invalid("templates", &e))?;
            if !ids.insert(template.id.as_str()) {
                return invalid(
                    "templates",
                    &format!("template id {:?} is declared twice", template.id),
                );
            }
        }
        if !self.templates.is_empty() && !self.declares(Capability::Notification) {
            return invalid("templates", "needs the \"notification\" capability");
        }
        if let Some(problem) = self.language.as_deref().and_then(i18n::tag_problem) {
            return invalid("language", &problem);
        }
        i18n::check(self.base_language(), &self.i18n).or_else(|e| invalid("i18n", &e))?;
        Ok(())
    }

    /// The language of the base `name` and `description`.
    pub fn base_language(&self) -> &str {
        self.language.as_deref().unwrap_or(i18n::DEFAULT_LANGUAGE)
    }

    /// The catalog texts for a caller who prefers `wanted` (most preferred
    /// first): `(language, name, description)`, the base texts when no
    /// wanted language is there.
    pub fn localized(&self, wanted: &[String]) -> (&str, &str, &str) {
        let base = self.base_language();
        let available = std::iter::once(base).chain(self.i18n.keys().map(String::as_str));
        match i18n::best_match(wanted, available) {
            Some(tag) if tag != base => match self.i18n.get(tag) {
                Some(t) => (tag, &t.name, &t.description),
                None => (base, &self.name, &self.description),
            },
            _ => (base, &self.name, &self.description),
        }
    }

    /// Every language's catalog texts, the base language's included.
    pub fn all_languages(&self) -> BTreeMap<&str, Localized> {
        let mut all: BTreeMap<&str, Localized> = self
            .i18n
            .iter()
            .map(|(tag, t)| (tag.as_str(), t.clone()))
            .collect();
        all.insert(
            self.base_language(),
            Localized {
                name: self.name.clone(),
                description: self.description.clone(),
            },
        );
        all
    }

    /// The declared template `id`.
    pub fn template(&self, id: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.id == id)
    }

    /// Whether the manifest declares `capability`.
    pub fn declares(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "community-report"
name = "Report a problem"
version = "1.2.0"
department = "community"
description = "Tell the neighbourhood committee about a broken street light."
category = "community"
capabilities = ["identity", "storage", "log"]
[limits]
cpu-ms = 50
"#;

    #[test]
    fn parses_a_complete_manifest() {
        let m: Manifest = GOOD.parse().unwrap();
        assert_eq!(m.id, "community-report");
        assert!(m.declares(Capability::Storage));
        assert_eq!(m.limits.cpu_ms, Some(50));
        assert_eq!(m.version, semver::Version::new(1, 2, 0));
    }

    #[test]
    fn localized_texts_follow_the_wanted_language() {
        let text = format!(
            "{GOOD}\n[i18n.zh-CN]\nname = \"社区报事\"\ndescription = \"告诉居委会路灯坏了。\"\n"
        );
        let m: Manifest = text.parse().unwrap();
        let want = |tags: &[&str]| tags.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(m.localized(&want(&["zh-CN"])).1, "社区报事");
        assert_eq!(m.localized(&want(&["zh"])).0, "zh-CN");
        assert_eq!(
            m.localized(&want(&["en-GB", "zh-CN"])).1,
            "Report a problem"
        );
        assert_eq!(
            m.localized(&want(&["fr"])),
            ("en", "Report a problem", m.description.as_str())
        );
        assert_eq!(m.localized(&[]).0, "en");
        let all = m.all_languages();
        assert_eq!(all.keys().copied().collect::<Vec<_>>(), ["en", "zh-CN"]);
        assert_eq!(all["zh-CN"].description, "告诉居委会路灯坏了。");
    }

    #[test]
    fn errors_name_the_problem() {
        let missing = GOOD.replace("department = \"community\"\n", "");
        let err = missing.parse::<Manifest>().unwrap_err().to_string();
        assert!(err.contains("missing field `department`"), "{err}");

        let bad_cap = GOOD.replace("\"log\"]", "\"sockets\"]");
        let err = bad_cap.parse::<Manifest>().unwrap_err().to_string();
        assert!(err.contains("sockets"), "{err}");

        let bad_version = GOOD.replace("1.2.0", "one");
        let err = bad_version.parse::<Manifest>().unwrap_err().to_string();
        assert!(
            err.contains("version") || err.contains("unexpected"),
            "{err}"
        );

        let bad_id = GOOD.replace("id = \"community-report\"", "id = \"Community Report\"");
        let err = bad_id.parse::<Manifest>().unwrap_err();
        assert!(matches!(err, ManifestError::Invalid { field: "id", .. }));

        let bad_tag = format!("{GOOD}\n[i18n.chinese]\nname = \"x\"\ndescription = \"y\"\n");
        let err = bad_tag.parse::<Manifest>().unwrap_err().to_string();
        assert!(err.contains("i18n") && err.contains("chinese"), "{err}");
        let lower = format!("{GOOD}\n[i18n.zh-cn]\nname = \"x\"\ndescription = \"y\"\n");
        let err = lower.parse::<Manifest>().unwrap_err().to_string();
        assert!(err.contains("zh-CN"), "{err}");
        let empty = format!("{GOOD}\n[i18n.zh-CN]\nname = \" \"\ndescription = \"y\"\n");
        let err = empty.parse::<Manifest>().unwrap_err().to_string();
        assert!(err.contains("name must not be empty"), "{err}");
        let same = format!("{GOOD}\n[i18n.en]\nname = \"x\"\ndescription = \"y\"\n");
        assert!(same.parse::<Manifest>().is_err());
        let bad_base = GOOD.replace("category =", "language = \"english\"\ncategory =");
        let err = bad_base.parse::<Manifest>().unwrap_err();
        assert!(matches!(
            err,
            ManifestError::Invalid {
                field: "language",
                ..
            }
        ));

        let unknown = format!("{GOOD}\n[extra]\nx = 1\n");
        let err = unknown.parse::<Manifest>().unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
    }
}
