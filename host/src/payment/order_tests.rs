//! The order state machine, its idempotency and its amount edges.

use super::*;

fn new_order(amount: u64) -> NewOrder {
    NewOrder {
        merchant: "water-bureau".into(),
        amount_fen: amount,
        description: "Water bill, October".into(),
        kind: OrderKind::NonTax("W-001".into()),
        order_key: "bill-42".into(),
        expires_in_s: 990,
    }
}

fn by<'a>(id: &'a str, citizen: &'a str, now: u64) -> Creation<'a> {
    Creation {
        id,
        plugin: "water-bill",
        citizen,
        payer: "pairwise-alice",
        now,
        min_expiry_s: 60,
    }
}

fn created(amount: u64) -> Order {
    create(&by("ord-1", "idp:alice", 10), new_order(amount), None)
        .unwrap()
        .0
}

#[test]
fn amounts_at_the_edges() {
    for bad in [0, MAX_AMOUNT_FEN + 1, u64::MAX] {
        assert!(matches!(
            create(&by("o", "c", 10), new_order(bad), None),
            Err(OrderError::InvalidAmount(_))
        ));
    }
    for good in [1, MAX_AMOUNT_FEN] {
        assert!(create(&by("o", "c", 10), new_order(good), None).is_ok());
    }
    for (expiry, ok) in [
        (59, false),
        (60, true),
        (MAX_EXPIRY_S, true),
        (MAX_EXPIRY_S + 1, false),
    ] {
        let mut order = new_order(100);
        order.expires_in_s = expiry;
        assert_eq!(
            create(&by("o", "c", 10), order, None).is_ok(),
            ok,
            "{expiry}"
        );
    }
    for key in ["", "has space", &"k".repeat(65)] {
        let mut order = new_order(100);
        order.order_key = key.to_string();
        assert!(matches!(
            create(&by("o", "c", 10), order, None),
            Err(OrderError::InvalidArgument(_))
        ));
    }
}

#[test]
fn creation_is_idempotent_on_the_order_key() {
    let (order, journal) = create(&by("ord-1", "idp:alice", 10), new_order(500), None).unwrap();
    assert!(journal.is_some());
    assert_eq!(order.expires_at, 1_000);
    let (again, journal) =
        create(&by("ord-2", "idp:alice", 11), new_order(500), Some(&order)).unwrap();
    assert_eq!((again.id.as_str(), journal), ("ord-1", None));
    let other = create(&by("ord-3", "idp:alice", 12), new_order(600), Some(&order));
    assert_eq!(other, Err(OrderError::KeyReused("bill-42".into())));
    let someone_else = create(&by("ord-4", "idp:bob", 12), new_order(500), Some(&order));
    assert_eq!(someone_else, Err(OrderError::KeyReused("bill-42".into())));
}

#[test]
fn payment_checks_amount_currency_and_deduplicates() {
    let order = created(500);
    assert!(matches!(
        mark_paid(&order, "t1", 499, "CNY", 20),
        Err(OrderError::Mismatch(_))
    ));
    assert!(matches!(
        mark_paid(&order, "t1", 500, "USD", 20),
        Err(OrderError::Mismatch(_))
    ));
    let (paid, journal) = mark_paid(&order, "t1", 500, "CNY", 20).unwrap();
    assert_eq!(paid.status, OrderStatus::Paid);
    assert_eq!(journal.unwrap().event, "paid");
    // The same notification again: nothing changes, no journal entry.
    let (same, journal) = mark_paid(&paid, "t1", 500, "CNY", 21).unwrap();
    assert_eq!((same, journal), (paid.clone(), None));
    // Another transaction for a paid order is refused.
    assert!(matches!(
        mark_paid(&paid, "t2", 500, "CNY", 22),
        Err(OrderError::InvalidState(..))
    ));
    assert!(matches!(
        close(&paid, "p", 23),
        Err(OrderError::InvalidState(..))
    ));
}

#[test]
fn close_and_expire_only_unpaid_orders() {
    let order = created(500);
    let (closed, journal) = close(&order, "water-bill", 30).unwrap();
    assert_eq!(
        (closed.status, journal.is_some()),
        (OrderStatus::Closed, true)
    );
    assert_eq!(close(&closed, "water-bill", 31).unwrap().1, None);
    assert!(
        mark_paid(&closed, "t1", 500, "CNY", 32).is_err(),
        "a closed order cannot be paid"
    );
    let (not_yet, journal) = expire(&order, 999);
    assert_eq!((not_yet.status, journal), (OrderStatus::Created, None));
    let (expired, journal) = expire(&order, 1_000);
    assert_eq!(
        (expired.status, journal.is_some()),
        (OrderStatus::Expired, true)
    );
}

#[test]
fn refunds_are_idempotent_and_never_exceed_the_paid_amount() {
    let (paid, _) = mark_paid(&created(500), "t1", 500, "CNY", 20).unwrap();
    assert!(matches!(
        refund(&created(500), "r1", 100, "x", 21),
        Err(OrderError::InvalidState(..))
    ));
    let (part, journal) = refund(&paid, "r1", 200, "partly", 21).unwrap();
    assert_eq!(
        (part.status, journal.unwrap().amount_fen),
        (OrderStatus::PartiallyRefunded, 200)
    );
    assert_eq!(
        refund(&part, "r1", 200, "partly", 22).unwrap().1,
        None,
        "same key, same amount"
    );
    assert_eq!(
        refund(&part, "r1", 250, "partly", 22),
        Err(OrderError::KeyReused("r1".into()))
    );
    assert!(matches!(
        refund(&part, "r2", 301, "too much", 23),
        Err(OrderError::InvalidAmount(_))
    ));
    assert!(matches!(
        refund(&part, "r2", 0, "nothing", 23),
        Err(OrderError::InvalidAmount(_))
    ));
    let (full, _) = refund(&part, "r2", 300, "rest", 24).unwrap();
    assert_eq!(full.status, OrderStatus::Refunded);
    assert!(matches!(
        refund(&full, "r3", 1, "more", 25),
        Err(OrderError::InvalidState(..))
    ));
}
