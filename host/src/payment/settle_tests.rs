//! The provider side is always whole and the ledger never relies on
//! notifications alone: atomic cashier records, repeated Pays, close/Pay
//! races, settling by query, close-first expiry, late payments refunded,
//! reconciliation against the provider's statement.

#![allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

use super::keys;
use super::order::{Creation, NewOrder, OrderKind, OrderStatus};
use super::provider::ProviderState;
use super::sandbox::{self, PayOptions, SandboxProvider};
use super::{NoticeOutcome, PaymentConfig, PaymentError, Payments};
use crate::clock::{date_of, now_ms, now_secs};
use crate::store::{Batch, KvStore, SledStore};
use std::sync::Arc;
use std::time::Duration;

const SECRET: [u8; 32] = [7; 32];

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn KvStore>,
    payments: Payments,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn KvStore> = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
    let sandbox = Arc::new(SandboxProvider::new(
        store.clone(),
        SECRET.to_vec(),
        Duration::from_secs(1),
    ));
    let payments = Payments::new(store.clone(), sandbox, PaymentConfig::default());
    let merchants = payments.ledger();
    merchants
        .create_merchant("water", "water", "City Water", 1)
        .unwrap();
    merchants.grant_merchant("water", "bills", true).unwrap();
    Fixture {
        _dir: dir,
        store,
        payments,
    }
}

fn new_order(key: &str) -> NewOrder {
    NewOrder {
        merchant: "water".into(),
        amount_fen: 4250,
        description: "Water bill".into(),
        kind: OrderKind::ServiceFee,
        order_key: key.into(),
        expires_in_s: 3600,
    }
}

fn sandbox_rows(store: &Arc<dyn KvStore>, prefix: &str) -> usize {
    store
        .scan("sandbox-pay", prefix.as_bytes(), None, usize::MAX)
        .unwrap()
        .len()
}

/// A signed sandbox notification as the provider would post it.
fn notice(n: &super::provider::Notification, nonce: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let body = serde_json::to_vec(n).unwrap();
    let ts = now_secs();
    let headers = vec![
        (sandbox::TIMESTAMP_HEADER.to_string(), ts.to_string()),
        (sandbox::NONCE_HEADER.to_string(), nonce.to_string()),
        (
            sandbox::SIGNATURE_HEADER.to_string(),
            sandbox::signature(&SECRET, ts, nonce, &body),
        ),
    ];
    (headers, body)
}

fn deliver(payments: &Payments, n: &super::provider::Notification, nonce: &str) -> NoticeOutcome {
    let (headers, body) = notice(n, nonce);
    let lookup = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    payments.handle_notice("sandbox", &lookup, &body).unwrap()
}

#[test]
fn a_pay_writes_its_record_statement_line_and_outbox_entry_together_and_a_repeat_restores_them() {
    let f = fixture();
    let order = f
        .payments
        .create_order("bills", "citizen-1", "payer-1", new_order("b-1"))
        .unwrap();
    let paid = f
        .payments
        .cashier_pay(&order, &PayOptions::default())
        .unwrap();
    assert_eq!(sandbox_rows(&f.store, "pay/"), 1);
    assert_eq!(sandbox_rows(&f.store, "outbox/"), 1);
    let statement = f.payments.provider().statement(&date_of(paid.at)).unwrap();
    assert_eq!(statement.len(), 1);
    assert_eq!(statement[0].txn_id, paid.txn_id);

    // A crash of an older version lost the outbox entry and the statement
    // line: the citizen's second Pay reuses the transaction and restores
    // both before it answers.
    let lost = Batch::new()
        .delete(format!("outbox/{}", paid.txn_id))
        .delete(format!("day/{}/{}", date_of(paid.at), paid.txn_id));
    f.store.commit("sandbox-pay", &lost).unwrap();
    let again = f
        .payments
        .cashier_pay(&order, &PayOptions::default())
        .unwrap();
    assert_eq!(again, paid, "the same transaction");
    assert_eq!(sandbox_rows(&f.store, "pay/"), 1);
    assert_eq!(sandbox_rows(&f.store, "outbox/"), 1);
    assert_eq!(
        f.payments
            .provider()
            .statement(&date_of(paid.at))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_pay_and_a_close_of_one_order_never_both_win() {
    for round in 0..20 {
        let f = fixture();
        let order = f
            .payments
            .create_order(
                "bills",
                "citizen-1",
                "payer-1",
                new_order(&format!("r-{round}")),
            )
            .unwrap();
        let (paid, closed) = std::thread::scope(|s| {
            let pay = s.spawn(|| f.payments.sandbox().pay(&order, &PayOptions::default()));
            let close = s.spawn(|| f.payments.provider().close(&order));
            (pay.join().unwrap(), close.join().unwrap())
        });
        assert!(
            paid.is_ok() != closed.is_ok(),
            "round {round}: exactly one wins: {paid:?} {closed:?}"
        );
        let state = f.payments.provider().query(&order).unwrap();
        match paid {
            Ok(p) => assert_eq!(state, ProviderState::Paid(p.notification())),
            Err(_) => assert_eq!(state, ProviderState::Closed),
        }
    }
}

#[test]
fn an_order_paid_without_any_notification_is_settled_by_query() {
    let f = fixture();
    let order = f
        .payments
        .create_order("bills", "citizen-1", "payer-1", new_order("q-1"))
        .unwrap();
    // Not due yet: nothing asked, nothing settled.
    assert_eq!(f.payments.query_due().unwrap(), 0);
    // Paid at the provider; its notifications never arrive (no URL here).
    let paid = f
        .payments
        .sandbox()
        .pay(&order, &PayOptions::default())
        .unwrap();
    f.payments
        .schedule_query(&order.id, now_ms(), 1000)
        .unwrap();
    assert_eq!(f.payments.query_due().unwrap(), 1);
    let settled = f.payments.get_order("bills", &order.id).unwrap();
    assert_eq!(settled.status, OrderStatus::Paid);
    assert_eq!(settled.provider_txn.as_deref(), Some(paid.txn_id.as_str()));
    let journal = f.payments.ledger().journal(&order.id).unwrap();
    assert_eq!(journal[1].event, "paid");
    assert_eq!(journal[1].by, "provider-query");
    assert_eq!(
        f.payments.events_of(&order.id).unwrap().len(),
        1,
        "its event"
    );
    // The notification arriving after all changes nothing.
    assert_eq!(
        deliver(&f.payments, &paid.notification(), "nonce00000001"),
        NoticeOutcome::Duplicate(order.id.clone())
    );
    // A due query of a settled order is dropped, not re-queued: only
    // entries still in the future are left, to be dropped when due.
    f.payments
        .schedule_query(&order.id, now_ms(), 1000)
        .unwrap();
    assert_eq!(f.payments.query_due().unwrap(), 0);
    let now = now_ms();
    for (key, _) in f
        .store
        .scan(keys::NAMESPACE, keys::QUERIES.as_bytes(), None, 10)
        .unwrap()
    {
        let key = String::from_utf8(key).unwrap();
        let at: u64 = key[3..19].parse().unwrap();
        assert!(at > now, "{key} is due and was not dropped");
    }
}

#[test]
fn an_unpaid_order_is_asked_about_again_later_with_a_longer_interval() {
    let f = fixture();
    let order = f
        .payments
        .create_order("bills", "citizen-1", "payer-1", new_order("q-2"))
        .unwrap();
    f.payments
        .schedule_query(&order.id, now_ms(), 1000)
        .unwrap();
    assert_eq!(f.payments.query_due().unwrap(), 0);
    let queued = f
        .store
        .scan(keys::NAMESPACE, keys::QUERIES.as_bytes(), None, 10)
        .unwrap();
    // The entry written at creation (30 s) and the re-queued one (2 s).
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(queued.iter().any(|(_, v)| v == b"2000"));
}

fn expired_order(f: &Fixture, key: &str) -> super::order::Order {
    let creation = Creation {
        id: "",
        plugin: "bills",
        citizen: "citizen-1",
        payer: "payer-1",
        now: now_secs() - 7200,
        min_expiry_s: 60,
    };
    f.payments
        .ledger()
        .create(&creation, new_order(key), 1000, now_ms() + 3_600_000)
        .unwrap()
}

#[test]
fn an_order_paid_just_before_it_expired_is_settled_paid_not_expired() {
    let f = fixture();
    let order = expired_order(&f, "x-1");
    let unpaid = expired_order(&f, "x-2");
    let paid = f
        .payments
        .sandbox()
        .pay(&order, &PayOptions::default())
        .unwrap();
    assert_eq!(f.payments.expire_due().unwrap(), 1, "only the unpaid one");
    let settled = f.payments.ledger().get(&order.id, None).unwrap();
    assert_eq!(settled.status, OrderStatus::Paid);
    assert_eq!(settled.provider_txn, Some(paid.txn_id));
    let expired = f.payments.ledger().get(&unpaid.id, None).unwrap();
    assert_eq!(expired.status, OrderStatus::Expired);
    // Closed at the provider first: no Pay can take money for it now.
    assert_eq!(
        f.payments.provider().query(&expired).unwrap(),
        ProviderState::Closed
    );
    let late = f.payments.sandbox().pay(&unpaid, &PayOptions::default());
    assert!(late.is_err(), "{late:?}");
    assert_eq!(sandbox_rows(&f.store, "pay/"), 1);
}

#[test]
fn closing_an_order_the_citizen_already_paid_settles_it_instead() {
    let f = fixture();
    let order = f
        .payments
        .create_order("bills", "citizen-1", "payer-1", new_order("c-1"))
        .unwrap();
    f.payments
        .sandbox()
        .pay(&order, &PayOptions::default())
        .unwrap();
    let closing = f.payments.close_order(Some("bills"), &order.id, "bills");
    assert!(
        matches!(closing, Err(PaymentError::InvalidState(_))),
        "{closing:?}"
    );
    let order = f.payments.get_order("bills", &order.id).unwrap();
    assert_eq!(order.status, OrderStatus::Paid);
}

#[test]
fn a_payment_for_a_closed_order_is_refunded_once_and_journaled() {
    let f = fixture();
    let order = f
        .payments
        .create_order("bills", "citizen-1", "payer-1", new_order("l-1"))
        .unwrap();
    let closed = f
        .payments
        .close_order(Some("bills"), &order.id, "bills")
        .unwrap();
    assert_eq!(closed.status, OrderStatus::Closed);
    // A provider that took the money anyway (a real channel's close racing
    // the citizen's payment): its record, written behind the sandbox's back.
    let payment = sandbox::SandboxPayment {
        txn_id: "sbxlate0001".into(),
        order_id: order.id.clone(),
        amount_fen: 4250,
        at: now_secs(),
    };
    let line = super::provider::StatementLine {
        txn_id: payment.txn_id.clone(),
        order_id: order.id.clone(),
        kind: "payment".into(),
        amount_fen: 4250,
    };
    let batch = Batch::new()
        .put(
            format!("pay/{}", order.id),
            serde_json::to_vec(&payment).unwrap(),
        )
        .put(
            format!("day/{}/{}", date_of(payment.at), payment.txn_id),
            serde_json::to_vec(&line).unwrap(),
        );
    f.store.commit("sandbox-pay", &batch).unwrap();

    assert_eq!(
        deliver(&f.payments, &payment.notification(), "nonce00000002"),
        NoticeOutcome::LateRefunded(order.id.clone())
    );
    // The provider retries: refunded once.
    assert_eq!(
        deliver(&f.payments, &payment.notification(), "nonce00000003"),
        NoticeOutcome::LateRefunded(order.id.clone())
    );
    let after = f.payments.ledger().get(&order.id, None).unwrap();
    assert_eq!(after.status, OrderStatus::Closed);
    assert_eq!(after.late_payments.len(), 1);
    let journal = f.payments.ledger().journal(&order.id).unwrap();
    let events: Vec<&str> = journal.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["created", "closed", "late-payment-refunded"]);
    assert_eq!(journal[2].amount_fen, 4250);
    let statement = f
        .payments
        .provider()
        .statement(&date_of(now_secs()))
        .unwrap();
    let refunds: Vec<_> = statement.iter().filter(|l| l.kind == "refund").collect();
    assert_eq!(refunds.len(), 1, "{statement:?}");
    assert_eq!(refunds[0].amount_fen, 4250);
    let books = f.payments.reconcile(&date_of(now_secs())).unwrap();
    assert_eq!(books.mismatches, vec![], "{books:?}");
}

#[test]
fn reconciliation_lists_a_payment_the_ledger_lacks_whatever_the_provider_records_say() {
    let f = fixture();
    let order = f
        .payments
        .create_order("bills", "citizen-1", "payer-1", new_order("r-1"))
        .unwrap();
    // Only the statement line survives at the provider.
    let line = super::provider::StatementLine {
        txn_id: "sbxonlyline1".into(),
        order_id: order.id.clone(),
        kind: "payment".into(),
        amount_fen: 4250,
    };
    let batch = Batch::new().put(
        format!("day/{}/{}", date_of(now_secs()), line.txn_id),
        serde_json::to_vec(&line).unwrap(),
    );
    f.store.commit("sandbox-pay", &batch).unwrap();
    let books = f.payments.reconcile(&date_of(now_secs())).unwrap();
    assert_eq!(books.mismatches.len(), 1, "{books:?}");
    assert_eq!(books.mismatches[0].order_id, order.id);
    assert_eq!(books.mismatches[0].txn_id.as_deref(), Some("sbxonlyline1"));
}

#[test]
fn a_refund_recorded_in_the_ledger_is_made_at_the_provider_even_after_a_crash() {
    let f = fixture();
    let order = f
        .payments
        .create_order("bills", "citizen-1", "payer-1", new_order("f-1"))
        .unwrap();
    let paid = f
        .payments
        .sandbox()
        .pay(&order, &PayOptions::default())
        .unwrap();
    deliver(&f.payments, &paid.notification(), "nonce00000004");
    // The host died after the ledger's batch, before asking the provider.
    let changed = f
        .payments
        .ledger()
        .change(&order.id, None, &super::ledger::Extra::default(), |o| {
            super::order::refund(o, "rf-1", 1000, "overcharged", now_secs())
        })
        .unwrap();
    assert_eq!(changed.order.status, OrderStatus::PartiallyRefunded);
    assert_eq!(sandbox_rows(&f.store, "refund/"), 0);
    assert_eq!(f.payments.refunds_due().unwrap(), 1);
    assert_eq!(f.payments.refunds_due().unwrap(), 0, "made once");
    assert_eq!(sandbox_rows(&f.store, "refund/"), 1);
    // The plugin's retry of the same refund changes nothing anywhere.
    let again = f
        .payments
        .refund("bills", &order.id, 1000, "overcharged", "rf-1")
        .unwrap();
    assert_eq!(again.refunds.len(), 1);
    assert_eq!(sandbox_rows(&f.store, "refund/"), 1);
    let books = f.payments.reconcile(&date_of(now_secs())).unwrap();
    assert_eq!(books.mismatches, vec![], "{books:?}");
}
