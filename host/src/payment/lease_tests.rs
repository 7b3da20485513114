//! Payment events shared by several hosts on one PostgreSQL store: each is
//! taken by one host at a time, and a host that dies holding one gives it
//! up when its lease ends.

#![allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

use super::events::{DeliveryStatus, EventKind, EventRecord};
use super::keys::{self, NAMESPACE};
use super::ledger::encode;
use super::sandbox::SandboxProvider;
use super::{PaymentConfig, Payments};
use crate::store::{Batch, KvStore};
use std::sync::Arc;
use std::time::Duration;

fn host(store: &Arc<dyn KvStore>, lease: Duration) -> Payments {
    let sandbox = Arc::new(SandboxProvider::new(
        store.clone(),
        vec![7; 32],
        Duration::from_secs(1),
    ));
    let config = PaymentConfig {
        lease,
        ..PaymentConfig::default()
    };
    Payments::new(store.clone(), sandbox, config)
}

fn queue(store: &Arc<dyn KvStore>, ids: &[String]) {
    let mut batch = Batch::new();
    for id in ids {
        let event = EventRecord {
            id: id.clone(),
            plugin: "p".into(),
            order_id: "o".into(),
            kind: EventKind::Paid,
            amount_fen: 1,
            refund_key: None,
            created_ms: 1,
            attempts: 0,
            next_attempt_ms: 0,
            status: DeliveryStatus::Pending,
            last_error: None,
            delivered_ms: None,
            delivered_to: None,
        };
        batch = batch
            .put(keys::event(id), encode(&event).unwrap())
            .put(keys::pending(id), Vec::new());
    }
    store.commit(NAMESPACE, &batch).unwrap();
}

#[test]
fn hosts_racing_for_events_take_each_exactly_once() {
    let store = crate::store::conformance::postgres().store;
    let hosts: Vec<Payments> = (0..3)
        .map(|_| host(&store, Duration::from_secs(30)))
        .collect();
    let ids: Vec<String> = (0..20).map(|n| format!("evt-o{n}-1")).collect();
    queue(&store, &ids);
    let taken = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for payments in &hosts {
            let taken = &taken;
            scope.spawn(move || {
                for event in payments.due_events(100).unwrap() {
                    if let Some(claimed) = payments.claim(&event).unwrap() {
                        taken.lock().unwrap().push(claimed.event.id.clone());
                        let recorded = payments
                            .record_attempt(&claimed, Ok(Some("0.1.0".into())))
                            .unwrap();
                        assert!(recorded.is_some(), "this host's lease still held");
                    }
                }
            });
        }
    });
    let mut taken = taken.into_inner().unwrap();
    taken.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(taken, expected, "every event once, by one host");
    assert!(hosts[0].due_events(100).unwrap().is_empty());
}

#[test]
fn a_dead_hosts_event_is_taken_over_when_its_lease_ends() {
    let store = crate::store::conformance::postgres().store;
    let lease = Duration::from_millis(400);
    let (dying, survivor) = (host(&store, lease), host(&store, lease));
    let ids = vec!["evt-o1-1".to_string()];
    queue(&store, &ids);
    let due = dying.due_events(10).unwrap();
    let held = dying
        .claim(&due[0])
        .unwrap()
        .expect("the first host takes it");
    // The first host "dies" here, holding the lease.
    assert!(
        survivor.due_events(10).unwrap().is_empty(),
        "not due while the lease runs"
    );
    assert!(survivor.claim(&due[0]).unwrap().is_none());
    std::thread::sleep(lease + Duration::from_millis(100));
    let due = survivor.due_events(10).unwrap();
    assert_eq!(due.len(), 1, "due again once the lease ended");
    let taken = survivor.claim(&due[0]).unwrap().expect("taken over");
    let done = survivor
        .record_attempt(&taken, Ok(Some("0.1.0".into())))
        .unwrap()
        .unwrap();
    assert_eq!((done.status, done.attempts), (DeliveryStatus::Delivered, 1));
    // The first host's late answer changes nothing.
    assert!(
        dying
            .record_attempt(&held, Err("late".into()))
            .unwrap()
            .is_none()
    );
    let raw = store
        .get(NAMESPACE, keys::event("evt-o1-1").as_bytes())
        .unwrap()
        .unwrap();
    let stored: EventRecord = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        (stored.status, stored.attempts, stored.last_error),
        (DeliveryStatus::Delivered, 1, None)
    );
}
