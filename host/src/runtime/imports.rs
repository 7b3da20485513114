//! Which imports a component may have: the `islet:platform` capabilities
//! its manifest declares, plus the WASI subset std needs. Nothing else.

use crate::capabilities::wasi::ALLOWED_INTERFACES;
use crate::manifest::{Capability, Manifest};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// Why a component's imports were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// An interface the platform never grants (network, HTTP, ...).
    #[error("the component imports {0}, which mini-services may not use")]
    Forbidden(String),
    /// An interface the host does not provide at all.
    #[error("the component imports {0}, which this host does not provide")]
    Unknown(String),
    /// An Islet capability the manifest does not declare.
    #[error(
        "the component imports {interface} but islet.toml does not declare the \
         \"{capability}\" capability; add it to `capabilities`"
    )]
    Undeclared {
        /// The full import name.
        interface: String,
        /// The capability to declare.
        capability: Capability,
    },
}

/// Package prefixes refused outright.
const FORBIDDEN_PACKAGES: &[&str] = &["wasi:sockets/", "wasi:http/"];

/// Check every import of `component` against the host and `manifest`.
pub fn check_imports(
    engine: &Engine,
    component: &Component,
    manifest: &Manifest,
) -> Result<(), ImportError> {
    for (name, item) in component.component_type().imports(engine) {
        if name.starts_with("islet:platform/") && !has_functions(engine, &item.ty) {
            // Type definitions only (e.g. `payment`'s order record used by
            // the `payment-events` export): nothing callable, nothing to grant.
            continue;
        }
        check_import(name, manifest)?;
    }
    Ok(())
}

fn has_functions(engine: &Engine, item: &ComponentItem) -> bool {
    match item {
        ComponentItem::ComponentInstance(instance) => instance
            .exports(engine)
            .any(|(_, export)| has_functions(engine, &export.ty)),
        ComponentItem::ComponentFunc(_) | ComponentItem::CoreFunc(_) => true,
        _ => false,
    }
}

fn check_import(name: &str, manifest: &Manifest) -> Result<(), ImportError> {
    let (path, version) = name.split_once('@').unwrap_or((name, ""));
    if let Some(interface) = path.strip_prefix("islet:platform/") {
        let compatible =
            semver::Version::parse(version).is_ok_and(|v| v.major == 0 && v.minor == 1);
        if !compatible {
            return Err(ImportError::Unknown(name.to_string()));
        }
        if interface == "types" {
            return Ok(());
        }
        let capability =
            Capability::from_interface(interface).ok_or(ImportError::Unknown(name.to_string()))?;
        if !manifest.declares(capability) {
            return Err(ImportError::Undeclared {
                interface: name.to_string(),
                capability,
            });
        }
        return Ok(());
    }
    if FORBIDDEN_PACKAGES.iter().any(|p| path.starts_with(p)) {
        return Err(ImportError::Forbidden(name.to_string()));
    }
    let wasi_02 = semver::Version::parse(version).is_ok_and(|v| v.major == 0 && v.minor == 2);
    if ALLOWED_INTERFACES.contains(&path) && wasi_02 {
        return Ok(());
    }
    Err(ImportError::Unknown(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(caps: &str) -> Manifest {
        format!(
            "id = \"t1\"\nname = \"T\"\nversion = \"0.1.0\"\ndepartment = \"d1\"\n\
             description = \"d\"\ncategory = \"c\"\ncapabilities = [{caps}]\n"
        )
        .parse()
        .unwrap()
    }

    #[test]
    fn classifies_imports() {
        let m = manifest("\"log\"");
        assert!(check_import("wasi:cli/environment@0.2.6", &m).is_ok());
        assert!(check_import("islet:platform/log@0.1.0", &m).is_ok());
        assert!(matches!(
            check_import("islet:platform/storage@0.1.0", &m),
            Err(ImportError::Undeclared {
                capability: Capability::Storage,
                ..
            })
        ));
        assert!(matches!(
            check_import("wasi:sockets/tcp@0.2.6", &m),
            Err(ImportError::Forbidden(_))
        ));
        assert!(matches!(
            check_import("acme:spy/peek", &m),
            Err(ImportError::Unknown(_))
        ));
        assert!(matches!(
            check_import("islet:platform/log@0.2.0", &m),
            Err(ImportError::Unknown(_))
        ));
        assert!(matches!(
            check_import("wasi:cli/environment@0.3.0", &m),
            Err(ImportError::Unknown(_))
        ));
    }
}
