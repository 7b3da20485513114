//! `islet store copy` as an operator runs it: a sled data folder into a
//! fresh PostgreSQL schema, verified, refused over data unless forced.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use islet_host::store::{Batch, KvStore, PgStore, SledStore, scratch};
use std::process::Command;

fn islet(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_islet"))
        .args(args)
        .env_remove("ISLET_STORE_URL")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_data_folder_is_copied_identically_and_never_over_data_unasked() {
    let url = scratch::test_url()
        .and_then(|base| scratch::schema_url(&base, "copy"))
        .unwrap_or_else(|e| panic!("{}", e.0));
    let dir = tempfile::tempdir().unwrap();
    let component = b"\0asm not really, but hashed".to_vec();
    let sha = islet_host::registry::sha256_hex(&component);
    {
        let source = SledStore::open(&dir.path().join("db")).unwrap();
        let mut batch = Batch::new();
        for i in 0..3000u32 {
            batch = batch.put(format!("o/{i:05}"), i.to_be_bytes().to_vec());
        }
        source.commit("payment", &batch).unwrap();
        source
            .commit(
                "plugin:hello",
                &Batch::new().put(vec![0u8, 0xff, 7], "订单".as_bytes()),
            )
            .unwrap();
        source.flush().unwrap();
        std::fs::create_dir_all(dir.path().join("components")).unwrap();
        std::fs::write(
            dir.path().join("components").join(format!("{sha}.wasm")),
            &component,
        )
        .unwrap();
    }
    let from = dir.path().to_str().unwrap();

    let (ok, out) = islet(&["store", "copy", "--from", from, "--to", &url]);
    assert!(ok, "{out}");
    for line in [
        "payment: 3000 keys",
        "identical",
        "1 component files taken in",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    let target = PgStore::connect(&url, 2).unwrap();
    assert_eq!(
        target.namespaces().unwrap(),
        vec!["components", "payment", "plugin:hello"]
    );
    assert_eq!(
        target.get("components", sha.as_bytes()).unwrap(),
        Some(component)
    );
    assert_eq!(
        target
            .get("plugin:hello", &[0, 0xff, 7])
            .unwrap()
            .as_deref(),
        Some("订单".as_bytes())
    );
    assert_eq!(
        target
            .scan("payment", b"o/", None, usize::MAX)
            .unwrap()
            .len(),
        3000
    );

    let (ok, out) = islet(&["store", "copy", "--from", from, "--to", &url]);
    assert!(
        !ok && out.contains("already holds data") && out.contains("--force"),
        "{out}"
    );
    let (ok, out) = islet(&["store", "copy", "--from", from, "--to", &url, "--force"]);
    assert!(ok && out.contains("3 namespaces identical"), "{out}");

    let (ok, out) = islet(&["store", "copy", "--from", "/nonexistent", "--to", &url]);
    assert!(!ok && out.contains("not an Islet data folder"), "{out}");
    let (ok, out) = islet(&["store", "copy", "--from", from, "--to", "mysql://x"]);
    assert!(!ok && out.contains("postgres://"), "{out}");
}
