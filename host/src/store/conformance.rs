//! One conformance suite for [`KvStore`], run on every backend: the same
//! test functions take a fresh store from each backend's constructor.
//!
//! PostgreSQL tests need `ISLET_TEST_PG_URL` (`scripts/test` starts a local
//! server and sets it); without it they fail, saying how to get one.

#![allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

use super::{Batch, Expect, KvStore, PgStore, SledStore, WriteError};
use std::sync::Arc;

/// A fresh store and whatever must live as long as it.
pub(crate) struct Fresh {
    pub store: Arc<dyn KvStore>,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh sled store in a temporary folder.
pub(crate) fn sled() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    Fresh {
        store: Arc::new(store),
        _dir: Some(dir),
    }
}

/// A fresh PostgreSQL store in a schema of its own.
pub(crate) fn postgres() -> Fresh {
    let url = super::scratch::test_url()
        .and_then(|base| super::scratch::schema_url(&base, "conformance"))
        .unwrap_or_else(|e| panic!("{}", e.0));
    Fresh {
        store: Arc::new(PgStore::connect(&url, 8).unwrap()),
        _dir: None,
    }
}

macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod sled_backend {
            $(#[test] fn $test() { super::$test(&*super::sled().store) })*
        }
        mod postgres_backend {
            $(#[test] fn $test() { super::$test(&*super::postgres().store) })*
        }
    };
}

on_every_backend!(
    conditional_writes_quota_and_scan,
    batches_apply_whole_or_not_at_all,
    scans_page_in_key_order_across_byte_values,
    large_values_round_trip,
    namespaces_are_listed_when_they_hold_keys,
    concurrent_compare_and_swap_loses_no_increment,
    concurrent_creators_of_one_key_have_one_winner,
    concurrent_quota_writers_never_exceed_the_quota,
);

fn conditional_writes_quota_and_scan(s: &dyn KvStore) {
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
        .write("a", b"k1", Expect::Value(Some(b"v1".to_vec())), None, None)
        .unwrap_err();
    assert!(matches!(err, WriteError::Conflict), "a stale delete");

    let err = s
        .write("a", b"k2", Expect::Anything, Some(&[0; 10]), Some(10))
        .unwrap_err();
    assert!(matches!(err, WriteError::QuotaExceeded));
    assert_eq!(s.usage("a").unwrap(), 4, "a refused write changes nothing");
    assert_eq!(s.get("a", b"k2").unwrap(), None);
    s.write("a", b"k2", Expect::Anything, Some(&[0; 4]), Some(10))
        .unwrap();
    assert_eq!(s.usage("a").unwrap(), 10, "exactly at the quota is allowed");

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
    assert_eq!(s.usage("a").unwrap(), 6 + 4 * 4, "a delete frees its bytes");
    s.write("a", b"never", Expect::Anything, None, None)
        .unwrap();
    s.flush().unwrap();
}

fn batches_apply_whole_or_not_at_all(s: &dyn KvStore) {
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
    s.commit("p", &Batch::new()).unwrap();
    let twice = Batch::new()
        .expect(b"new".to_vec(), None)
        .put(b"new".to_vec(), b"1".to_vec())
        .put(b"new".to_vec(), b"22".to_vec());
    s.commit("p", &twice).unwrap();
    assert_eq!(s.get("p", b"new").unwrap().as_deref(), Some(&b"22"[..]));
    assert_eq!(s.usage("p").unwrap(), 7 + 5);
}

fn scans_page_in_key_order_across_byte_values(s: &dyn KvStore) {
    let keys: Vec<Vec<u8>> = vec![
        b"k".to_vec(),
        b"k\x00".to_vec(),
        b"k\x7f".to_vec(),
        b"k\x80".to_vec(),
        b"k\xff".to_vec(),
        b"k\xff\xff".to_vec(),
        b"l".to_vec(),
        "k/订单".as_bytes().to_vec(),
    ];
    for key in &keys {
        s.write("bytes", key, Expect::Anything, Some(b"v"), None)
            .unwrap();
    }
    let mut expected: Vec<Vec<u8>> = keys.iter().filter(|k| k[0] == b'k').cloned().collect();
    expected.sort();
    let mut seen = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = s.scan("bytes", b"k", after.as_deref(), 3).unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|(k, _)| k.clone());
        seen.extend(page.into_iter().map(|(k, _)| k));
    }
    assert_eq!(seen, expected, "byte order, the prefix only");
    let all = s.scan("bytes", b"", None, usize::MAX).unwrap();
    assert_eq!(all.len(), keys.len(), "an empty prefix is everything");
    let tail = s.scan("bytes", b"k\xff", None, 10).unwrap();
    assert_eq!(tail.len(), 2, "a prefix ending in 0xff");
    let before = s.scan("bytes", b"k\x80", Some(b"a"), 10).unwrap();
    assert_eq!(before.len(), 1, "a cursor before the prefix starts at it");
}

fn large_values_round_trip(s: &dyn KvStore) {
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    s.write("big", b"blob", Expect::Anything, Some(&big), None)
        .unwrap();
    s.flush().unwrap();
    assert_eq!(s.get("big", b"blob").unwrap().as_deref(), Some(&big[..]));
    assert_eq!(s.usage("big").unwrap(), big.len() as u64 + 4);
}

fn namespaces_are_listed_when_they_hold_keys(s: &dyn KvStore) {
    s.write("plugin:b", b"k", Expect::Anything, Some(b"v"), None)
        .unwrap();
    s.write("plugin:a", b"k", Expect::Anything, Some(b"v"), None)
        .unwrap();
    s.write("gone", b"k", Expect::Anything, Some(b"v"), None)
        .unwrap();
    s.write("gone", b"k", Expect::Anything, None, None).unwrap();
    assert_eq!(s.namespaces().unwrap(), vec!["plugin:a", "plugin:b"]);
}

/// Threads each add 1 to one counter by read-then-compare-and-swap.
fn concurrent_compare_and_swap_loses_no_increment(s: &dyn KvStore) {
    const THREADS: usize = 10;
    const EACH: usize = 5;
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..EACH {
                    loop {
                        let current = s.get("count", b"n").unwrap();
                        let n: u64 = current
                            .as_deref()
                            .map(|b| String::from_utf8_lossy(b).parse().unwrap())
                            .unwrap_or(0);
                        let next = (n + 1).to_string();
                        match s.write(
                            "count",
                            b"n",
                            Expect::Value(current),
                            Some(next.as_bytes()),
                            None,
                        ) {
                            Ok(()) => break,
                            Err(WriteError::Conflict) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    let total = s.get("count", b"n").unwrap().unwrap();
    assert_eq!(total, (THREADS * EACH).to_string().as_bytes());
}

fn concurrent_creators_of_one_key_have_one_winner(s: &dyn KvStore) {
    for round in 0..5 {
        let key = format!("order/{round}");
        let wins = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for who in 0..6 {
                let (key, wins) = (&key, &wins);
                scope.spawn(move || {
                    let batch = Batch::new()
                        .expect(key.clone(), None)
                        .put(key.clone(), format!("creator {who}"))
                        .put(format!("journal/{round}/{who}"), "created");
                    match s.commit("orders", &batch) {
                        Ok(()) => {
                            wins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Err(WriteError::Conflict) => {}
                        Err(e) => panic!("{e}"),
                    }
                });
            }
        });
        assert_eq!(wins.into_inner(), 1, "round {round}: one creator wins");
        let journal = s
            .scan("orders", format!("journal/{round}/").as_bytes(), None, 10)
            .unwrap();
        assert_eq!(journal.len(), 1, "only the winner's journal line exists");
    }
}

fn concurrent_quota_writers_never_exceed_the_quota(s: &dyn KvStore) {
    const QUOTA: u64 = 1_000;
    std::thread::scope(|scope| {
        for t in 0..8 {
            scope.spawn(move || {
                for i in 0..20 {
                    let key = format!("{t}/{i:02}");
                    match s.write(
                        "quota",
                        key.as_bytes(),
                        Expect::Anything,
                        Some(&[7; 16]),
                        Some(QUOTA),
                    ) {
                        Ok(()) | Err(WriteError::QuotaExceeded) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            });
        }
    });
    let held: u64 = s
        .scan("quota", b"", None, usize::MAX)
        .unwrap()
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum();
    assert_eq!(s.usage("quota").unwrap(), held, "usage is what is held");
    assert!(held <= QUOTA, "{held} bytes held over a {QUOTA}-byte quota");
    assert!(held > QUOTA - 20, "the quota was filled: {held}");
}
