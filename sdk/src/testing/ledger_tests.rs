#![allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

use super::*;
use crate::payment::OrderKind;

fn ledger() -> Ledger {
    let mut l = Ledger::default();
    l.merchants.insert("water-supply".into());
    l
}

fn new(key: &str, amount_fen: u64) -> NewOrder {
    NewOrder::new("water-supply", amount_fen, "Water bill", key)
}

#[test]
fn create_is_idempotent_on_the_key() {
    let mut l = ledger();
    let o = l.create(Some("alice"), &new("k1", 4268), 1000).unwrap();
    assert_eq!((o.id.as_str(), o.checkout_url.as_str()), ("o1", "/pay/o1"));
    assert_eq!(
        (o.status, o.payer.as_str()),
        (OrderStatus::Created, "alice")
    );
    assert_eq!((o.created_at, o.expires_at, o.paid_at), (1000, 8200, None));
    // A retry later with the same parameters gets the same order.
    assert_eq!(
        l.create(Some("alice"), &new("k1", 4268), 1005),
        Ok(o.clone())
    );
    for other in [
        new("k1", 4269),
        new("k1", 4268).non_tax("c"),
        new("k1", 4268).expires_in(60),
    ] {
        assert_eq!(
            l.create(Some("alice"), &other, 1005),
            Err(PaymentError::KeyReused("k1".into()))
        );
    }
    assert_eq!(
        l.create(Some("bob"), &new("k1", 4268), 1005),
        Err(PaymentError::KeyReused("k1".into()))
    );
    assert_eq!(l.create(Some("alice"), &new("k2", 1), 1).unwrap().id, "o2");
    assert_eq!(l.find("k2").unwrap().id, "o2");
    assert_eq!(l.find("k3"), Err(PaymentError::NotFound));
    assert_eq!(l.get("o9"), Err(PaymentError::NotFound));
    assert!(l.events().is_empty(), "creating announces nothing");
}

#[test]
fn create_checks_caller_merchant_amount_and_fields() {
    let mut l = ledger();
    assert_eq!(
        l.create(None, &new("k", 1), 0),
        Err(PaymentError::NoCitizen)
    );
    let mut other = new("k", 1);
    other.merchant = "gas".into();
    assert_eq!(
        l.create(Some("a"), &other, 0),
        Err(PaymentError::MerchantNotGranted("gas".into()))
    );
    for amount in [0, MAX_AMOUNT_FEN + 1] {
        assert!(matches!(
            l.create(Some("a"), &new("k", amount), 0),
            Err(PaymentError::InvalidAmount(_))
        ));
    }
    assert!(l.create(Some("a"), &new("max", MAX_AMOUNT_FEN), 0).is_ok());
    let bad = [
        new("", 1),
        new("has space", 1),
        new(&"k".repeat(65), 1),
        NewOrder::new("water-supply", 1, "", "k"),
        NewOrder::new("water-supply", 1, "  ", "k"),
        new("k", 1).non_tax("bad code"),
        NewOrder::new("water-supply", 1, "水".repeat(129), "k"),
        new("k", 1).expires_in(59),
        new("k", 1).expires_in(604_801),
    ];
    for b in bad {
        assert!(
            matches!(
                l.create(Some("a"), &b, 0),
                Err(PaymentError::InvalidArgument(_))
            ),
            "{b:?}"
        );
    }
    let ok = NewOrder::new("water-supply", 1, "水".repeat(128), "A-z_0.9:x").non_tax("c");
    assert_eq!(
        l.create(Some("a"), &ok, 0).unwrap().kind,
        OrderKind::NonTax("c".into())
    );
    l.unavailable = Some("down".into());
    assert_eq!(
        l.get("o1"),
        Err(PaymentError::ProviderUnavailable("down".into()))
    );
}

#[test]
fn close_and_expire_only_unpaid_orders() {
    let mut l = ledger();
    l.create(Some("a"), &new("k1", 100), 0).unwrap();
    l.create(Some("a"), &new("k2", 100), 0).unwrap();
    assert_eq!(l.close("o1").unwrap().status, OrderStatus::Closed);
    assert_eq!(l.close("o1").unwrap().status, OrderStatus::Closed);
    assert_eq!(l.events().len(), 1, "closing twice announces once");
    assert_eq!(l.events()[0].kind, EventKind::Closed);
    assert!(l.pay("o1", 5).is_err());
    let paid = l.pay("o2", 5).unwrap();
    assert_eq!(
        (paid.id.as_str(), paid.kind, paid.amount_fen),
        ("e2", EventKind::Paid, 100)
    );
    assert_eq!(paid.order.paid_at, Some(5));
    assert!(matches!(l.close("o2"), Err(PaymentError::InvalidState(_))));
    assert!(l.expire("o2").is_err());
    assert_eq!(l.close("o3"), Err(PaymentError::NotFound));
    l.create(Some("a"), &new("k3", 100), 0).unwrap();
    assert_eq!(l.expire("o3").unwrap().order.status, OrderStatus::Expired);
}

#[test]
fn refunds_are_idempotent_and_bounded() {
    let mut l = ledger();
    l.create(Some("a"), &new("k", 1000), 0).unwrap();
    assert!(matches!(
        l.refund("o1", 10, "r", "r1"),
        Err(PaymentError::InvalidState(_))
    ));
    l.pay("o1", 1).unwrap();
    let o = l.refund("o1", 300, "broken meter", "r1").unwrap();
    assert_eq!(
        (o.status, o.refunded_fen),
        (OrderStatus::PartiallyRefunded, 300)
    );
    assert_eq!(l.refund("o1", 300, "again", "r1"), Ok(o.clone()));
    assert_eq!(
        l.refund("o1", 301, "other", "r1"),
        Err(PaymentError::KeyReused("r1".into()))
    );
    assert!(matches!(
        l.refund("o1", 701, "too much", "r2"),
        Err(PaymentError::InvalidAmount(_))
    ));
    assert!(matches!(
        l.refund("o1", 0, "nothing", "r2"),
        Err(PaymentError::InvalidAmount(_))
    ));
    assert!(matches!(
        l.refund("o1", 1, "", "r2"),
        Err(PaymentError::InvalidArgument(_))
    ));
    assert!(matches!(
        l.refund("o1", 1, "x", "bad key"),
        Err(PaymentError::InvalidArgument(_))
    ));
    assert!(matches!(
        l.refund("o1", 1, &"x".repeat(81), "r2"),
        Err(PaymentError::InvalidArgument(_))
    ));
    let o = l.refund("o1", 700, "rest", "r2").unwrap();
    assert_eq!((o.status, o.refunded_fen), (OrderStatus::Refunded, 1000));
    assert!(matches!(
        l.refund("o1", 1, "more", "r3"),
        Err(PaymentError::InvalidState(_))
    ));
    let refunds: Vec<_> = l
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Refunded)
        .map(|e| (e.amount_fen, e.refund_key.as_deref()))
        .collect();
    assert_eq!(refunds, [(300, Some("r1")), (700, Some("r2"))]);
}
