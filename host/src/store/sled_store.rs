//! The embedded default backend: one sled tree per namespace.
//!
//! Data keys are stored under `d` + key and the namespace's byte usage under
//! the reserved key `u`, so a single-tree transaction updates both.
//!
//! Durability: sled 0.34 ends its flush with `sync_file_range`, which does
//! not flush the disk's write cache (sled issue #1452), so an acknowledged
//! write could vanish in a power cut. [`KvStore::flush`] therefore follows
//! sled's flush with a real `fdatasync` of the log file and an `fsync` of
//! any new blob files (sled writes those without syncing) and of their
//! folder. Concurrent flushes share one sync (group commit).

use super::{Batch, Entry, Expect, KvStore, StoreError, WriteError};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

const DATA: u8 = b'd';
const USAGE: &[u8] = b"u";

/// A [`KvStore`] on an embedded sled database in a folder.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    durable: Arc<Durable>,
}

/// What a real sync needs: the files, and who has synced up to where.
struct Durable {
    folder: PathBuf,
    log: File,
    /// Flushes whose writes reached the files, counted.
    flushed: AtomicU64,
    /// The count covered by the last completed sync, and the newest blob
    /// already synced.
    synced: Mutex<(u64, u64)>,
}

impl SledStore {
    /// Open (or create) the database in `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .open()
            .map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        let log = File::open(path.join("db"))
            .map_err(|e| StoreError(format!("cannot open {}/db: {e}", path.display())))?;
        // The folder's entries (the log, conf, snapshots) survive a power cut.
        sync_folder(path)?;
        Ok(SledStore {
            db,
            durable: Arc::new(Durable {
                folder: path.to_path_buf(),
                log,
                flushed: AtomicU64::new(0),
                synced: Mutex::new((0, 0)),
            }),
        })
    }

    fn tree(&self, namespace: &str) -> Result<sled::Tree, StoreError> {
        self.db.open_tree(namespace).map_err(store_error)
    }
}

fn store_error(e: sled::Error) -> StoreError {
    StoreError(e.to_string())
}

fn data_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(DATA);
    k.extend_from_slice(key);
    k
}

fn decode_usage(raw: Option<&[u8]>) -> u64 {
    raw.and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

impl KvStore for SledStore {
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let tree = self.tree(namespace)?;
        Ok(tree
            .get(data_key(key))
            .map_err(store_error)?
            .map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        namespace: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let tree = self.tree(namespace)?;
        let start = match after {
            Some(a) if a > prefix => data_key(a),
            _ => data_key(prefix),
        };
        let full_prefix = data_key(prefix);
        let mut out = Vec::new();
        for item in tree.range(start..) {
            let (k, v) = item.map_err(store_error)?;
            if !k.starts_with(&full_prefix) {
                break;
            }
            if after.is_some_and(|a| &k[1..] == a) {
                continue;
            }
            out.push((k[1..].to_vec(), v.to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn write(
        &self,
        namespace: &str,
        key: &[u8],
        expect: Expect,
        value: Option<&[u8]>,
        quota: Option<u64>,
    ) -> Result<(), WriteError> {
        let tree = self.tree(namespace)?;
        let dkey = data_key(key);
        let result = tree.transaction(|tx| {
            let current = tx.get(&dkey)?;
            if let Expect::Value(expected) = &expect
                && current.as_deref() != expected.as_deref()
            {
                return Err(ConflictableTransactionError::Abort(WriteError::Conflict));
            }
            let entry_size = |v: Option<&[u8]>| v.map_or(0, |v| (key.len() + v.len()) as u64);
            let old = entry_size(current.as_deref());
            let new = entry_size(value);
            let usage = decode_usage(tx.get(USAGE)?.as_deref());
            let next = usage.saturating_sub(old).saturating_add(new);
            if new > old && quota.is_some_and(|q| next > q) {
                return Err(ConflictableTransactionError::Abort(
                    WriteError::QuotaExceeded,
                ));
            }
            match value {
                Some(v) => tx.insert(dkey.as_slice(), v)?,
                None => tx.remove(dkey.as_slice())?,
            };
            tx.insert(USAGE, &next.to_be_bytes())?;
            Ok(())
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(WriteError::Store(store_error(e))),
        }
    }

    fn commit(&self, namespace: &str, batch: &Batch) -> Result<(), WriteError> {
        let tree = self.tree(namespace)?;
        let result = tree.transaction(|tx| {
            for (key, expected) in &batch.expects {
                if tx.get(data_key(key))?.as_deref() != expected.as_deref() {
                    return Err(ConflictableTransactionError::Abort(WriteError::Conflict));
                }
            }
            let mut usage = decode_usage(tx.get(USAGE)?.as_deref());
            for (key, value) in &batch.writes {
                let dkey = data_key(key);
                let size = |v: Option<&[u8]>| v.map_or(0, |v| (key.len() + v.len()) as u64);
                let old = match value {
                    Some(v) => tx.insert(dkey, v.as_slice())?,
                    None => tx.remove(dkey)?,
                };
                usage = usage
                    .saturating_sub(size(old.as_deref()))
                    .saturating_add(size(value.as_deref()));
            }
            tx.insert(USAGE, &usage.to_be_bytes())?;
            Ok(())
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(WriteError::Store(store_error(e))),
        }
    }

    fn usage(&self, namespace: &str) -> Result<u64, StoreError> {
        let tree = self.tree(namespace)?;
        Ok(decode_usage(
            tree.get(USAGE).map_err(store_error)?.as_deref(),
        ))
    }

    fn namespaces(&self) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        for name in self.db.tree_names() {
            let Ok(name) = String::from_utf8(name.to_vec()) else {
                continue;
            };
            let tree = self.tree(&name)?;
            if tree
                .scan_prefix([DATA])
                .next()
                .transpose()
                .map_err(store_error)?
                .is_some()
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(store_error)?;
        let ticket = self.durable.flushed.fetch_add(1, Ordering::SeqCst) + 1;
        self.durable.sync(ticket)
    }
}

impl Durable {
    /// Make every write that reached the files before flush `ticket` durable,
    /// unless a sync that started after it already did.
    fn sync(&self, ticket: u64) -> Result<(), StoreError> {
        let mut synced = self
            .synced
            .lock()
            .map_err(|_| StoreError("a store sync panicked".into()))?;
        if synced.0 >= ticket {
            return Ok(());
        }
        let covers = self.flushed.load(Ordering::SeqCst);
        self.log
            .sync_data()
            .map_err(|e| StoreError(format!("cannot sync the store's log: {e}")))?;
        synced.1 = self.sync_new_blobs(synced.1)?;
        synced.0 = covers;
        Ok(())
    }

    /// Sync blob files newer than `after` (named by their log sequence
    /// number) and the blob folder; the newest blob synced.
    fn sync_new_blobs(&self, after: u64) -> Result<u64, StoreError> {
        let blobs = self.folder.join("blobs");
        let Ok(entries) = std::fs::read_dir(&blobs) else {
            return Ok(after);
        };
        let mut newest = after;
        let mut any = false;
        for entry in entries.flatten() {
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if id > after {
                File::open(entry.path())
                    .and_then(|f| f.sync_all())
                    .map_err(|e| StoreError(format!("cannot sync blob {id}: {e}")))?;
                newest = newest.max(id);
                any = true;
            }
        }
        if any {
            sync_folder(&blobs)?;
        }
        Ok(newest)
    }
}

fn sync_folder(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError(format!("cannot sync folder {}: {e}", path.display())))
}
