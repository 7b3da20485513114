//! `islet.toml` parsing: any text either parses into a manifest that meets
//! every rule the checker enforces and survives a serialize → parse round
//! trip unchanged, or is refused with a [`ManifestError`] naming the field.

use islet_host::manifest::{Capability, Manifest, ManifestError, is_valid_id};
use std::collections::BTreeSet;

/// The property; `data` is manifest text (any bytes).
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<Manifest>() {
        Ok(manifest) => accepted(&manifest),
        Err(ManifestError::Syntax(message)) => assert!(!message.is_empty()),
        Err(ManifestError::Invalid { field, problem }) => {
            assert!(!field.is_empty() && !problem.is_empty())
        }
    }
}

fn accepted(m: &Manifest) {
    assert!(is_valid_id(&m.id), "accepted id {:?}", m.id);
    assert!(
        is_valid_id(&m.department),
        "accepted department {:?}",
        m.department
    );
    for (value, max) in [(&m.name, 64), (&m.description, 500), (&m.category, 40)] {
        assert!(!value.trim().is_empty() && value.chars().count() <= max);
    }
    if !m.personal_data.is_empty() {
        assert!(m.declares(Capability::Identity));
    }
    if !m.templates.is_empty() {
        assert!(m.declares(Capability::Notification));
    }
    let ids: BTreeSet<&str> = m.templates.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        m.templates.len(),
        "duplicate template ids accepted"
    );
    for t in &m.templates {
        assert!(m.template(&t.id).is_some());
    }

    // Round trip: what the host stores and shows parses back to the same.
    let text = toml::to_string(m).unwrap_or_else(|e| panic!("cannot serialize {m:?}: {e}"));
    let again: Manifest = text
        .parse()
        .unwrap_or_else(|e| panic!("serialized manifest refused: {e}\n{text}"));
    assert_eq!(&again, m, "round trip changed the manifest:\n{text}");
}
