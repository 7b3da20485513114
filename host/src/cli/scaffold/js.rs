//! The JavaScript templates (`sdk/js/template/`): `{{placeholder}}` text
//! files, one folder per template beside the files every project shares.

use super::{File, Template};

/// The files of every JS project.
pub(super) const COMMON: [File; 4] = [
    File {
        path: "package.json",
        text: include_str!("../../../../sdk/js/template/common/package.json"),
    },
    File {
        path: ".npmrc",
        text: include_str!("../../../../sdk/js/template/common/npmrc"),
    },
    File {
        path: ".gitignore",
        text: include_str!("../../../../sdk/js/template/common/gitignore"),
    },
    File {
        path: "README.md",
        text: include_str!("../../../../sdk/js/template/common/README.md"),
    },
];

/// The files of one template: manifest, service, tests.
pub(super) fn template_files(template: Template) -> [File; 3] {
    macro_rules! files {
        ($dir:literal) => {
            [
                File {
                    path: "islet.toml",
                    text: include_str!(concat!(
                        "../../../../sdk/js/template/",
                        $dir,
                        "/islet.toml"
                    )),
                },
                File {
                    path: "src/index.js",
                    text: include_str!(concat!("../../../../sdk/js/template/", $dir, "/index.js")),
                },
                File {
                    path: "test/index.test.js",
                    text: include_str!(concat!(
                        "../../../../sdk/js/template/",
                        $dir,
                        "/index.test.js"
                    )),
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

/// `text` as the content of a JSON string (the SDK's path goes into
/// `package.json`).
pub(super) fn json_string_content(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}
