//! `islet plugin new`: a ready plugin project (manifest, code, native
//! tests, README) that builds and tests straight away, wherever it is
//! created, from one of three templates: `basic` (identity, storage, log),
//! `paying` (an order, the cashier, the payment event) and `notifying`
//! (subscriptions, consent, a template message), in Rust or JavaScript.

mod js;
mod sdk;

pub use sdk::{build_cache_dir, js_sdk_path_for, sdk_path_for};

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};

/// A plugin's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust with the `islet-sdk` crate.
    Rust,
    /// JavaScript with the JS SDK (`sdk/js`).
    Js,
}

/// What the new project shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// A page and a JSON API using identity, storage and the log.
    Basic,
    /// A fee paid in the city's cashier, settled by the payment event.
    Paying,
    /// Subscriptions, consent and a template message to the Inbox.
    Notifying,
}

impl Template {
    fn name(self) -> &'static str {
        match self {
            Template::Basic => "basic",
            Template::Paying => "paying",
            Template::Notifying => "notifying",
        }
    }
}

/// One file of a template: its path in the project and its text.
struct File {
    path: &'static str,
    text: &'static str,
}

const COMMON: [File; 5] = [
    File {
        path: "src/page.html",
        text: include_str!("rust/common/page.html"),
    },
    File {
        path: "Cargo.toml",
        text: include_str!("rust/common/Cargo.toml"),
    },
    File {
        path: ".cargo/config.toml",
        text: include_str!("rust/common/cargo-config.toml"),
    },
    File {
        path: ".gitignore",
        text: include_str!("rust/common/gitignore"),
    },
    File {
        path: "README.md",
        text: include_str!("rust/common/README.md"),
    },
];

fn template_files(template: Template) -> [File; 3] {
    macro_rules! files {
        ($dir:literal) => {
            [
                File {
                    path: "islet.toml",
                    text: include_str!(concat!("rust/", $dir, "/islet.toml")),
                },
                File {
                    path: "src/lib.rs",
                    text: include_str!(concat!("rust/", $dir, "/lib.rs")),
                },
                File {
                    path: "tests/api.rs",
                    text: include_str!(concat!("rust/", $dir, "/api.rs")),
                },
            ]
        };
    }
    match template {
        Template::Basic => files!("basic"),
        Template::Paying => files!("paying"),
        Template::Notifying => files!("notifying"),
    }
}

/// What `islet plugin new` was asked for.
#[derive(Debug, Clone)]
pub struct NewPlugin {
    /// The plugin id, also the folder's name.
    pub id: String,
    /// Where the folder is created.
    pub parent: PathBuf,
    /// The language.
    pub lang: Lang,
    /// The template.
    pub template: Template,
    /// The owning department.
    pub department: String,
}

/// The display name of plugin `id`: `parking-permit` → `Parking permit`.
fn display_name(id: &str) -> String {
    let words = id.replace('-', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

/// Create the project; its folder.
pub fn create(new: &NewPlugin) -> anyhow::Result<PathBuf> {
    if !crate::manifest::is_valid_id(&new.id) {
        bail!(
            "{:?} is not a valid plugin id: 2 to 40 characters of a-z, 0-9 and '-', \
             starting with a letter and not ending with '-' (e.g. parking-permit)",
            new.id
        );
    }
    let dir = new.parent.join(&new.id);
    if dir.exists() {
        bail!(
            "{} already exists: choose another name or remove it",
            dir.display()
        );
    }
    std::fs::create_dir_all(&new.parent)
        .with_context(|| format!("cannot create {}", new.parent.display()))?;
    let parent = new
        .parent
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", new.parent.display()))?;
    let name = display_name(&new.id);
    let (files, replacements) = match new.lang {
        Lang::Rust => rust_files(new, &parent, name)?,
        Lang::Js => js_files(new, &parent, name)?,
    };
    // Write into a temporary sibling, then rename: no half-made project.
    let staging = parent.join(format!(".{}.islet-new", new.id));
    let _ = std::fs::remove_dir_all(&staging);
    let written = files
        .iter()
        .try_for_each(|file| write_file(&staging, file, &replacements));
    if let Err(e) = written.and_then(|()| {
        std::fs::rename(&staging, &dir).with_context(|| format!("cannot create {}", dir.display()))
    }) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    Ok(dir)
}

/// What a template says about its manifest, by template.
fn manifest_note(template: Template) -> &'static str {
    match template {
        Template::Basic => "",
        Template::Paying => " (the merchant account is granted by an admin)",
        Template::Notifying => " and the message template an admin approves",
    }
}

/// What a template's tests fake besides storage and identity.
fn test_note(template: Template) -> &'static str {
    match template {
        Template::Basic => "",
        Template::Paying => ", the payment platform and the cashier",
        Template::Notifying => ", consents and the Inbox",
    }
}

type Replacements = Vec<(&'static str, String)>;

/// The files and `{{placeholder}}` values of a JavaScript project.
fn js_files(
    new: &NewPlugin,
    parent: &Path,
    name: String,
) -> anyhow::Result<(Vec<File>, Replacements)> {
    let sdk = js_sdk_path_for(&parent.join(&new.id))?;
    let files = js::COMMON
        .into_iter()
        .chain(js::template_files(new.template))
        .collect();
    let replacements = vec![
        ("{{id}}", new.id.clone()),
        ("{{name}}", name),
        ("{{department}}", new.department.clone()),
        ("{{merchant}}", format!("{}-fees", new.department)),
        ("{{template}}", new.template.name().to_string()),
        (
            "{{sdk}}",
            js::json_string_content(&format!("file:{}", sdk.display())),
        ),
        ("{{manifest_note}}", manifest_note(new.template).to_string()),
        ("{{test_note}}", test_note(new.template).to_string()),
    ];
    Ok((files, replacements))
}

/// The files and `__PLACEHOLDER__` values of a Rust project.
fn rust_files(
    new: &NewPlugin,
    parent: &Path,
    name: String,
) -> anyhow::Result<(Vec<File>, Replacements)> {
    let sdk = sdk_path_for(&parent.join(&new.id))?;
    let target = build_cache_dir()?;
    let files = COMMON
        .into_iter()
        .chain(template_files(new.template))
        .collect();
    let replacements = vec![
        ("__CRATE__", new.id.replace('-', "_")),
        ("__ID__", new.id.clone()),
        ("__NAME__", name),
        ("__DEPARTMENT__", new.department.clone()),
        ("__MERCHANT__", format!("{}-fees", new.department)),
        ("__TEMPLATE__", new.template.name().to_string()),
        ("__SDK_PATH__", toml_path(&sdk)),
        ("__TARGET_DIR__", toml_path(&target)),
        ("__MANIFEST_NOTE__", manifest_note(new.template).to_string()),
        (
            "__INTRO__",
            match new.template {
                Template::Basic => {
                    "Edit <code>src/lib.rs</code> and save: <code>islet dev</code> rebuilds \
                     and reloads this service."
                }
                Template::Paying => {
                    "POST <code>/api/fees</code> creates an order; open its \
                     <code>checkout_url</code> to pay in the city's cashier."
                }
                Template::Notifying => {
                    "POST <code>/api/subscription</code> subscribes; the app asks for \
                     consent to the <code>news</code> template."
                }
            }
            .to_string(),
        ),
        ("__TEST_NOTE__", test_note(new.template).to_string()),
    ];
    Ok((files, replacements))
}

fn write_file(root: &Path, file: &File, replacements: &[(&str, String)]) -> anyhow::Result<()> {
    let mut text = file.text.to_string();
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    let path = root.join(file.path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `path` as a TOML basic string's content (backslashes and quotes escaped).
fn toml_path(path: &Path) -> String {
    path.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_ids_and_bad_ids_are_refused() {
        assert_eq!(display_name("parking-permit"), "Parking permit");
        let dir = tempfile::tempdir().unwrap();
        for bad in ["Parking", "p", "-x", "bus card", "x-", "../evil"] {
            let err = create(&NewPlugin {
                id: bad.into(),
                parent: dir.path().to_path_buf(),
                lang: Lang::Rust,
                template: Template::Basic,
                department: "transport".into(),
            })
            .unwrap_err();
            assert!(err.to_string().contains("not a valid plugin id"), "{err}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn every_template_is_filled_in_completely() {
        for template in [Template::Basic, Template::Paying, Template::Notifying] {
            let dir = tempfile::tempdir().unwrap();
            let made = create(&NewPlugin {
                id: "bus-card".into(),
                parent: dir.path().to_path_buf(),
                lang: Lang::Rust,
                template,
                department: "transport".into(),
            })
            .unwrap();
            for file in [
                "Cargo.toml",
                "islet.toml",
                "src/lib.rs",
                "tests/api.rs",
                ".cargo/config.toml",
            ] {
                let text = std::fs::read_to_string(made.join(file)).unwrap();
                assert!(!text.contains("__"), "{file} of {template:?}: {text}");
            }
            let manifest = std::fs::read_to_string(made.join("islet.toml")).unwrap();
            manifest.parse::<crate::manifest::Manifest>().unwrap();
            let js = dir.path().join("js");
            let made = create(&NewPlugin {
                id: "bus-card".into(),
                parent: js.clone(),
                lang: Lang::Js,
                template,
                department: "transport".into(),
            })
            .unwrap();
            for file in [
                "package.json",
                ".npmrc",
                "README.md",
                "islet.toml",
                "src/index.js",
                "test/index.test.js",
            ] {
                let text = std::fs::read_to_string(made.join(file)).unwrap();
                assert!(!text.contains("{{"), "{file} of {template:?}: {text}");
            }
            let manifest = std::fs::read_to_string(made.join("islet.toml")).unwrap();
            let manifest = manifest.parse::<crate::manifest::Manifest>().unwrap();
            assert_eq!(manifest.id, "bus-card");
            let package: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(made.join("package.json")).unwrap())
                    .unwrap();
            assert_eq!(package["name"], "bus-card");
            assert_eq!(package["scripts"]["build"], "islet-js-build");
            // Inside this checkout: the checkout's JS SDK, by a relative path.
            let sdk = package["dependencies"]["@islet/sdk"].as_str().unwrap();
            let sdk = sdk.strip_prefix("file:").unwrap();
            assert!(
                made.join(sdk).join("src/index.js").is_file()
                    || std::path::Path::new(sdk).is_absolute(),
                "{sdk}"
            );
            // A second project of the same name is refused, nothing touched.
            let again = create(&NewPlugin {
                id: "bus-card".into(),
                parent: dir.path().to_path_buf(),
                lang: Lang::Rust,
                template,
                department: "transport".into(),
            });
            assert!(again.unwrap_err().to_string().contains("already exists"));
        }
    }
}
