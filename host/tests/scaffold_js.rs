//! `islet plugin new NAME --lang js` outside this repository, as a new
//! developer runs it: every template installs (`npm install`), passes its
//! own tests (`npm test`) straight away, and `islet plugin build` makes a
//! component of it. (The paying template is also run end to end, through
//! `islet dev` and the cashier, by the SDK README's walkthrough test.)

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::Path;
use std::process::{Command, Output};
use support::*;

fn npm(dir: &Path, args: &[&str]) -> Output {
    Command::new("npm")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("npm runs")
}

fn ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed:\n--- stdout\n{}\n--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
}

#[test]
fn every_js_template_installs_tests_and_builds_outside_the_repository() {
    let home = tempfile::tempdir().unwrap();
    for template in ["basic", "paying", "notifying"] {
        let id = format!("js-{template}");
        let out = islet()
            .current_dir(home.path())
            .args(["plugin", "new", &id, "--lang", "js", "--template", template])
            .args(["--department", "parks"])
            .output()
            .unwrap();
        ok("islet plugin new", &out);
        assert!(stdout(&out).contains("npm test"), "{}", stdout(&out));
        let project = home.path().join(&id);
        // The SDK comes from the copy built into islet, not this checkout.
        let package = std::fs::read_to_string(project.join("package.json")).unwrap();
        let package: serde_json::Value = serde_json::from_str(&package).unwrap();
        let sdk = package["dependencies"]["@islet/sdk"].as_str().unwrap();
        assert!(sdk.starts_with("file:/"), "{sdk}");
        assert!(!sdk.contains(&*workspace().to_string_lossy()), "{sdk}");

        ok(
            "npm install",
            &npm(&project, &["install", "--prefer-offline"]),
        );
        let test = npm(&project, &["test"]);
        ok("npm test", &test);
        assert!(stdout(&test).contains("# fail 0"), "{}", stdout(&test));

        if template == "notifying" {
            // The component: built with the SDK's islet-js-build.
            let out = islet()
                .current_dir(&project)
                .args(["plugin", "build", "."])
                .output()
                .unwrap();
            ok("islet plugin build", &out);
            let wasm = project.join("dist/component.wasm");
            assert!(stdout(&out).contains("component.wasm"), "{}", stdout(&out));
            let bytes = std::fs::read(&wasm).unwrap();
            assert_eq!(&bytes[..4], b"\0asm", "not a wasm file");
        }
    }
}
