//! The automated checks run at upload and shown to the reviewer.

use super::RegistryError;
use super::record::{Check, PluginRecord};
use crate::limits::Limits;
use crate::manifest::Manifest;
use crate::runtime::PreparedPlugin;

/// The checks of an upload that passed validation (failed checks refuse
/// the upload before this point, with the error naming the problem).
pub fn passed(
    manifest: &Manifest,
    limits: &Limits,
    size: usize,
    max_size: usize,
    prepared: &PreparedPlugin,
) -> Vec<Check> {
    let capabilities: Vec<&str> = manifest.capabilities.iter().map(|c| c.name()).collect();
    vec![
        Check {
            name: "component".into(),
            passed: true,
            detail: "a valid WebAssembly component exporting islet:platform/handler".into(),
        },
        Check {
            name: "imports".into(),
            passed: true,
            detail: format!(
                "imports only declared capabilities ({}) and the WASI subset std needs",
                if capabilities.is_empty() {
                    "none".to_string()
                } else {
                    capabilities.join(", ")
                }
            ),
        },
        Check {
            name: "size".into(),
            passed: true,
            detail: format!("{size} bytes, platform maximum {max_size}"),
        },
        Check {
            name: "limits".into(),
            passed: true,
            detail: format!(
                "within platform maxima: cpu {} ms, memory {} MiB, timeout {} ms, storage {} MiB, concurrency {}",
                limits.cpu_ms,
                limits.memory_mib,
                limits.timeout_ms,
                limits.storage_mib,
                limits.concurrency
            ),
        },
        Check {
            name: "purposes".into(),
            passed: true,
            detail: purposes(manifest),
        },
        Check {
            name: "compiled".into(),
            passed: true,
            detail: format!(
                "compiled in {:.1} ms",
                prepared.activation.as_secs_f64() * 1000.0
            ),
        },
    ]
}

/// What the manifest asks about people, for the reviewer: every personal
/// data item with its purpose and every template with its kind.
fn purposes(manifest: &Manifest) -> String {
    let mut parts: Vec<String> = manifest
        .personal_data
        .iter()
        .map(|(item, purpose)| format!("{item}: \"{purpose}\""))
        .collect();
    parts.extend(manifest.templates.iter().map(|t| {
        let kind = match t.kind {
            crate::manifest::TemplateKind::OneTime => "one-time",
            crate::manifest::TemplateKind::LongTerm => "long-term",
        };
        format!("template {} ({kind}): \"{}\"", t.id, t.title)
    }));
    if parts.is_empty() {
        "declares no personal-data items or message templates".into()
    } else {
        format!("every item states a purpose; {}", parts.join("; "))
    }
}

/// Whether `manifest` may be uploaded to `record`: same department, a new
/// version, higher than the full release.
pub fn upload_allowed(record: &PluginRecord, manifest: &Manifest) -> Result<(), RegistryError> {
    if record.department != manifest.department {
        return Err(RegistryError::Conflict(format!(
            "plugin {:?} belongs to department {:?}; a manifest cannot move it to {:?}",
            record.id, record.department, manifest.department
        )));
    }
    if record.version(&manifest.version).is_some() {
        return Err(RegistryError::Conflict(format!(
            "version {} of {:?} is already uploaded; bump the version in islet.toml",
            manifest.version, record.id
        )));
    }
    if let Some(released) = &record.released
        && manifest.version <= *released
    {
        return Err(RegistryError::Conflict(format!(
            "version {} is not higher than the released {released}",
            manifest.version
        )));
    }
    Ok(())
}
