//! The embedded default backend: one sled tree per namespace.
//!
//! Data keys are stored under `d` + key and the namespace's byte usage under
//! the reserved key `u`, so a single-tree transaction updates both.

use super::{Batch, Entry, Expect, KvStore, StoreError, WriteError};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::path::Path;

const DATA: u8 = b'd';
const USAGE: &[u8] = b"u";

/// A [`KvStore`] on an embedded sled database in a folder.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
}

impl SledStore {
    /// Open (or create) the database in `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .open()
            .map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        Ok(SledStore { db })
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

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("db")).unwrap();
        (dir, store)
    }

    #[test]
    fn conditional_writes_quota_and_scan() {
        let (_dir, s) = store();
        s.write("a", b"k1", Expect::Anything, Some(b"v1"), None)
            .unwrap();
        assert_eq!(s.get("a", b"k1").unwrap().as_deref(), Some(&b"v1"[..]));
        assert_eq!(s.get("b", b"k1").unwrap(), None, "namespaces are separate");
        assert_eq!(s.usage("a").unwrap(), 4);

        let err = s
            .write("a", b"k1", Expect::Value(None), Some(b"x"), None)
            .unwrap_err();
        assert!(matches!(err, WriteError::Conflict));
        s.write(
            "a",
            b"k1",
            Expect::Value(Some(b"v1".to_vec())),
            Some(b"v2"),
            None,
        )
        .unwrap();

        let err = s
            .write("a", b"k2", Expect::Anything, Some(&[0; 10]), Some(10))
            .unwrap_err();
        assert!(matches!(err, WriteError::QuotaExceeded));
        assert_eq!(s.usage("a").unwrap(), 4, "a refused write changes nothing");

        for k in ["p/1", "p/2", "p/3", "q/1"] {
            s.write("a", k.as_bytes(), Expect::Anything, Some(b"x"), None)
                .unwrap();
        }
        let page = s.scan("a", b"p/", None, 2).unwrap();
        assert_eq!(page.len(), 2);
        let rest = s.scan("a", b"p/", Some(&page[1].0), 10).unwrap();
        assert_eq!(rest, vec![(b"p/3".to_vec(), b"x".to_vec())]);

        s.write("a", b"k1", Expect::Anything, None, Some(0))
            .unwrap();
        assert_eq!(s.get("a", b"k1").unwrap(), None);
    }

    #[test]
    fn batches_apply_whole_or_not_at_all() {
        let (_dir, s) = store();
        let first = Batch::new()
            .expect(b"order".to_vec(), None)
            .put(b"order".to_vec(), b"v1".to_vec())
            .put(b"journal/1".to_vec(), b"created".to_vec());
        s.commit("p", &first).unwrap();
        assert!(
            matches!(s.commit("p", &first), Err(WriteError::Conflict)),
            "the expectation no longer holds"
        );
        let stale = Batch::new()
            .expect(b"order".to_vec(), Some(b"v0".to_vec()))
            .put(b"order".to_vec(), b"v2".to_vec())
            .put(b"journal/2".to_vec(), b"paid".to_vec());
        assert!(matches!(s.commit("p", &stale), Err(WriteError::Conflict)));
        assert_eq!(
            s.get("p", b"journal/2").unwrap(),
            None,
            "nothing half-written"
        );
        let next = Batch::new()
            .expect(b"order".to_vec(), Some(b"v1".to_vec()))
            .put(b"order".to_vec(), b"v2".to_vec())
            .delete(b"journal/1".to_vec());
        s.commit("p", &next).unwrap();
        assert_eq!(s.get("p", b"order").unwrap().as_deref(), Some(&b"v2"[..]));
        assert_eq!(s.get("p", b"journal/1").unwrap(), None);
        assert_eq!(s.usage("p").unwrap(), 7, "usage follows batch writes");
    }
}
