//! Work items any number of hosts share: a host takes an item by moving
//! its next attempt past a lease with a compare-and-swap, so one host works
//! on it at a time, and a host that dies holding it gives it up when the
//! lease ends (another host then finds it due again).

use super::{Expect, KvStore, StoreError, WriteError};

/// Take the item under `key`: `take` gets its current bytes and returns
/// the bytes that mark it taken (typically with its next attempt moved to
/// the end of a lease), or `None` when it is not due. The write happens
/// only if nobody changed the item since it was read. The bytes written,
/// when this host took it; `None` when it was not due, gone, or another
/// host took it first.
pub fn take(
    store: &dyn KvStore,
    namespace: &str,
    key: &[u8],
    take: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(current) = store.get(namespace, key)? else {
        return Ok(None);
    };
    let Some(taken) = take(&current) else {
        return Ok(None);
    };
    match store.write(
        namespace,
        key,
        Expect::Value(Some(current)),
        Some(&taken),
        None,
    ) {
        Ok(()) => Ok(Some(taken)),
        Err(WriteError::Conflict) => Ok(None),
        Err(WriteError::Store(e)) => Err(e),
        Err(WriteError::QuotaExceeded) => Err(StoreError("quota on a lease".into())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[test]
    fn of_hosts_racing_for_an_item_exactly_one_takes_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("db")).unwrap();
        store
            .write("q", b"item", Expect::Anything, Some(b"due"), None)
            .unwrap();
        let taken = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for host in 0..8 {
                let (store, taken) = (&store, &taken);
                scope.spawn(move || {
                    let got = take(store, "q", b"item", |raw| {
                        (raw == b"due").then(|| format!("leased by {host}").into_bytes())
                    })
                    .unwrap();
                    if got.is_some() {
                        taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(taken.into_inner(), 1);
        assert_eq!(
            take(&store, "q", b"absent", |_| Some(vec![])).unwrap(),
            None
        );
    }
}
