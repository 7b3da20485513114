//! Reading a prefix of a namespace a page at a time, the one way every
//! list of the host pages: citizens' orders, inboxes, data-access trails,
//! admin listings.

use super::{Entry, KvStore, StoreError};

/// Entries read in one store scan by [`walk`].
const WALK_CHUNK: usize = 256;

/// Up to `limit` entries under `prefix` after the cursor (a key's tail below
/// `prefix`, as returned before), and the cursor of the next page when more
/// follow.
pub fn page(
    store: &dyn KvStore,
    namespace: &str,
    prefix: &str,
    cursor: Option<&str>,
    limit: usize,
) -> Result<(Vec<Entry>, Option<String>), StoreError> {
    let after = cursor.map(|c| format!("{prefix}{c}"));
    let mut rows = store.scan(
        namespace,
        prefix.as_bytes(),
        after.as_deref().map(str::as_bytes),
        limit.saturating_add(1),
    )?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = rows
        .last()
        .filter(|_| more)
        .map(|(key, _)| String::from_utf8_lossy(&key[prefix.len()..]).into_owned());
    Ok((rows, next))
}

/// Visit the entries under `prefix` after the key `after`, in key order, a
/// chunk at a time, until `visit` returns `false` or `budget` entries were
/// read. Returns the last key read when entries may follow it (to resume
/// from), `None` at the end of the prefix.
pub fn walk<E: From<StoreError>>(
    store: &dyn KvStore,
    namespace: &str,
    prefix: &[u8],
    after: Option<&[u8]>,
    budget: usize,
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, E>,
) -> Result<Option<Vec<u8>>, E> {
    let mut after = after.map(<[u8]>::to_vec);
    let mut read = 0;
    loop {
        let rows = store.scan(namespace, prefix, after.as_deref(), WALK_CHUNK)?;
        let full = rows.len() == WALK_CHUNK;
        for (position, (key, value)) in rows.iter().enumerate() {
            read += 1;
            let go_on = visit(key, value)?;
            if !go_on || read >= budget {
                let more = position + 1 < rows.len() || full;
                return Ok(more.then(|| key.clone()));
            }
        }
        match rows.last() {
            Some((key, _)) if full => after = Some(key.clone()),
            _ => return Ok(None),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use crate::store::{Batch, SledStore};

    fn store_with(n: usize) -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("db")).unwrap();
        let mut batch = Batch::default();
        for i in 0..n {
            batch = batch.put(format!("p/{i:04}"), vec![1]);
        }
        store.commit("ns", &batch.put("q/0", vec![1])).unwrap();
        (dir, store)
    }

    #[test]
    fn pages_follow_their_cursor_to_the_end() {
        let (_dir, store) = store_with(5);
        let (first, next) = page(&store, "ns", "p/", None, 2).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(next.as_deref(), Some("0001"));
        let (second, next) = page(&store, "ns", "p/", next.as_deref(), 3).unwrap();
        assert_eq!(second[0].0, b"p/0002");
        assert_eq!((second.len(), next), (3, None), "exactly the rest");
    }

    #[test]
    fn a_walk_stops_where_asked_and_says_where_to_resume() {
        let (_dir, store) = store_with(600);
        let mut seen = 0;
        let resume = walk::<StoreError>(&store, "ns", b"p/", None, usize::MAX, |_, _| {
            seen += 1;
            Ok(seen < 300)
        })
        .unwrap();
        assert_eq!((seen, resume.as_deref()), (300, Some(&b"p/0299"[..])));
        let mut rest = 0;
        let end = walk::<StoreError>(
            &store,
            "ns",
            b"p/",
            resume.as_deref(),
            usize::MAX,
            |_, _| {
                rest += 1;
                Ok(true)
            },
        )
        .unwrap();
        assert_eq!((rest, end), (300, None), "the prefix only, to its end");
        let mut budgeted = 0;
        let resume = walk::<StoreError>(&store, "ns", b"p/", None, 10, |_, _| {
            budgeted += 1;
            Ok(true)
        })
        .unwrap();
        assert_eq!((budgeted, resume.as_deref()), (10, Some(&b"p/0009"[..])));
    }
}
