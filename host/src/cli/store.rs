//! `islet store copy`: move a sled data folder into PostgreSQL (a pilot that
//! grows up), verified namespace by namespace.

use crate::store::{Batch, Expect, KvStore, SledStore, StoreLocation};
use anyhow::{Context as _, bail};
use clap::Subcommand;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Keys copied per batch.
const CHUNK: usize = 256;

/// `islet store ...`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy every namespace (and the uploaded components) of a sled data
    /// folder into another store, then verify counts and checksums.
    Copy {
        /// The data folder to copy from (stop its host first).
        #[arg(long)]
        from: PathBuf,
        /// The store to copy into: `postgres://user:password@host/db`.
        #[arg(long)]
        to: String,
        /// Copy into a store that already holds data (existing keys are
        /// overwritten).
        #[arg(long)]
        force: bool,
    },
    /// Check that a store answers and takes a durable write: write, read
    /// back, delete and flush a probe key, with timings.
    Check {
        /// The data folder (for the embedded store) [default: ./islet-data].
        #[arg(long, env = "ISLET_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// The store URL (`postgres://...`) [default: sled in the data folder].
        #[arg(long, env = "ISLET_STORE_URL")]
        store: Option<String>,
    },
}

/// Run a `store` command.
pub fn run(command: StoreCommand) -> anyhow::Result<()> {
    match command {
        StoreCommand::Copy { from, to, force } => copy(&from, &to, force),
        StoreCommand::Check { data_dir, store } => check(
            &data_dir.unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_DATA_DIR)),
            store.as_deref(),
        ),
    }
}

fn check(data_dir: &Path, url: Option<&str>) -> anyhow::Result<()> {
    let location = StoreLocation::from_url(url, data_dir, 1).map_err(|e| anyhow::anyhow!(e.0))?;
    let started = std::time::Instant::now();
    let store = location
        .open()
        .with_context(|| format!("cannot open {}", location.describe()))?;
    println!("opened {} in {:?}", location.describe(), started.elapsed());
    let key = format!("probe/{}", hex::encode(rand::random::<[u8; 8]>()));
    let value = b"islet store check";
    let started = std::time::Instant::now();
    store.write(
        "check",
        key.as_bytes(),
        Expect::Value(None),
        Some(value),
        None,
    )?;
    store.flush()?;
    println!("durable write in {:?}", started.elapsed());
    let read = store.get("check", key.as_bytes())?;
    if read.as_deref() != Some(&value[..]) {
        bail!("the probe key did not read back as written");
    }
    store.write("check", key.as_bytes(), Expect::Anything, None, None)?;
    store.flush()?;
    println!("ok");
    Ok(())
}

/// What one namespace holds: keys, bytes and a checksum of every entry in
/// key order.
#[derive(Debug, PartialEq, Eq)]
struct Digest256 {
    keys: u64,
    bytes: u64,
    sha256: String,
}

fn copy(from: &Path, to: &str, force: bool) -> anyhow::Result<()> {
    let db = from.join("db");
    if !db.join("db").exists() {
        bail!(
            "{} is not an Islet data folder (no sled store in {}); name the folder `islet serve` \
             used as --data-dir",
            from.display(),
            db.display()
        );
    }
    let source = SledStore::open(&db).with_context(|| {
        format!(
            "cannot open {} (is a host still running on it? stop it first)",
            db.display()
        )
    })?;
    let location = StoreLocation::from_url(Some(to), from, crate::store::DEFAULT_POOL_SIZE)
        .map_err(|e| anyhow::anyhow!("--to: {}", e.0))?;
    let target = location
        .open()
        .with_context(|| format!("cannot open {}", location.describe()))?;
    let existing = target.namespaces()?;
    if !existing.is_empty() && !force {
        bail!(
            "{} already holds data ({} namespaces: {}); copy into an empty database, or pass \
             --force to copy over it",
            location.describe(),
            existing.len(),
            existing.join(", ")
        );
    }
    println!("copying {} into {}", from.display(), location.describe());
    let components = import_components(&source, &from.join("components"))?;
    if components > 0 {
        println!("  {components} component files taken into the store");
    }
    let namespaces = source.namespaces()?;
    for ns in &namespaces {
        let copied = copy_namespace(&source, target.as_ref(), ns)?;
        println!("  {ns}: {copied} keys");
    }
    target.flush()?;
    println!("verifying");
    let mut failed = Vec::new();
    for ns in &namespaces {
        let (a, b) = (digest(&source, ns)?, digest(target.as_ref(), ns)?);
        let same = a == b && source.usage(ns)? == target.usage(ns)?;
        println!(
            "  {ns}: {} keys, {} bytes, sha256 {}… {}",
            a.keys,
            a.bytes,
            &a.sha256[..12],
            if same { "identical" } else { "DIFFERENT" }
        );
        if !same {
            failed.push(ns.clone());
        }
    }
    if !failed.is_empty() {
        bail!(
            "the copy differs from the source in {}; nothing in the source was changed",
            failed.join(", ")
        );
    }
    println!(
        "done: {} namespaces identical. Give every host the secret files of {} \
         (pairwise-secret, sandbox-pay-secret, webhook-secret, dev-signing-key) with \
         --secrets-dir, and start them with --store",
        namespaces.len(),
        from.display()
    );
    Ok(())
}

/// Put the component files of an older data folder into the source's
/// `components` namespace, so they are copied like everything else.
fn import_components(source: &SledStore, dir: &Path) -> anyhow::Result<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut imported = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(sha) = name.strip_suffix(".wasm") else {
            continue;
        };
        let bytes = std::fs::read(entry.path())
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        if crate::registry::sha256_hex(&bytes) != sha {
            bail!("{} does not match its name's hash", entry.path().display());
        }
        if source.get("components", sha.as_bytes())?.is_none() {
            source.commit("components", &Batch::new().put(sha, bytes))?;
            imported += 1;
        }
    }
    source.flush()?;
    Ok(imported)
}

fn copy_namespace(source: &SledStore, target: &dyn KvStore, ns: &str) -> anyhow::Result<u64> {
    let mut after: Option<Vec<u8>> = None;
    let mut copied = 0u64;
    loop {
        let rows = source.scan(ns, b"", after.as_deref(), CHUNK)?;
        let Some((last, _)) = rows.last() else {
            return Ok(copied);
        };
        after = Some(last.clone());
        copied += rows.len() as u64;
        let mut batch = Batch::new();
        for (key, value) in rows {
            batch = batch.put(key, value);
        }
        target
            .commit(ns, &batch)
            .with_context(|| format!("cannot write namespace {ns}"))?;
        if copied.is_multiple_of(10 * CHUNK as u64) {
            println!("  {ns}: {copied} keys so far");
        }
    }
}

fn digest(store: &dyn KvStore, ns: &str) -> anyhow::Result<Digest256> {
    let mut hash = Sha256::new();
    let (mut keys, mut bytes) = (0u64, 0u64);
    let mut after: Option<Vec<u8>> = None;
    loop {
        let rows = store.scan(ns, b"", after.as_deref(), CHUNK)?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (key, value) in &rows {
            hash.update((key.len() as u64).to_be_bytes());
            hash.update(key);
            hash.update((value.len() as u64).to_be_bytes());
            hash.update(value);
            keys += 1;
            bytes += (key.len() + value.len()) as u64;
        }
    }
    Ok(Digest256 {
        keys,
        bytes,
        sha256: hex::encode(hash.finalize()),
    })
}
