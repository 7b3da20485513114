//! The payment side of [`TestEnv`]: a fake ledger with the host's rules,
//! and the moves of the citizen and the host (pay, expire, deliver events).

use super::{TestEnv, backend};
use crate::payment::{Order, PaymentEvent};

impl TestEnv {
    /// Grant the mini-service the merchant account `merchant`, as an admin
    /// would; orders for any other merchant fail with
    /// [`PaymentError::MerchantNotGranted`](crate::payment::PaymentError::MerchantNotGranted).
    ///
    /// ```
    /// use islet_sdk::payment::{self, NewOrder};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.grant_merchant("city-fees").as_caller("pw-alice");
    /// assert!(payment::create_order(&NewOrder::new("city-fees", 100, "Fee", "k")).is_ok());
    /// ```
    pub fn grant_merchant(&mut self, merchant: &str) -> &mut Self {
        self.state
            .borrow_mut()
            .ledger
            .merchants
            .insert(merchant.to_owned());
        self
    }

    /// Make every payment call fail with `provider-unavailable(message)`,
    /// or work again with `None`.
    ///
    /// ```
    /// use islet_sdk::payment::{self, NewOrder};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.grant_merchant("city-fees").as_caller("pw-alice");
    /// env.set_payment_unavailable(Some("down"));
    /// assert_eq!(payment::create_order(&NewOrder::new("city-fees", 100, "Fee", "k")).unwrap_err().status(), 503);
    /// ```
    pub fn set_payment_unavailable(&mut self, message: Option<&str>) -> &mut Self {
        self.state.borrow_mut().ledger.unavailable = message.map(str::to_owned);
        self
    }

    /// Every order created so far, oldest first (ids `o1`, `o2`, ...).
    ///
    /// ```
    /// use islet_sdk::payment::{self, NewOrder};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.grant_merchant("city-fees").as_caller("pw-alice");
    /// payment::create_order(&NewOrder::new("city-fees", 100, "Fee", "k")).unwrap();
    /// assert_eq!(env.orders().len(), 1);
    /// ```
    pub fn orders(&self) -> Vec<Order> {
        self.state.borrow().ledger.orders().to_vec()
    }

    /// The order `id`, if any.
    ///
    /// ```
    /// use islet_sdk::payment::{self, NewOrder};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.grant_merchant("city-fees").as_caller("pw-alice");
    /// payment::create_order(&NewOrder::new("city-fees", 100, "Fee", "k")).unwrap();
    /// assert_eq!(env.order("o1").unwrap().amount_fen, 100);
    /// ```
    pub fn order(&self, id: &str) -> Option<Order> {
        self.state.borrow().ledger.get(id).ok()
    }

    /// Every event the host would have delivered so far, oldest first (ids
    /// `e1`, `e2`, ...): payments and expiries made with [`TestEnv::pay`]
    /// and [`TestEnv::expire`], closes and refunds made by the service.
    ///
    /// ```
    /// use islet_sdk::payment::{self, NewOrder};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.grant_merchant("city-fees").as_caller("pw-alice");
    /// payment::create_order(&NewOrder::new("city-fees", 100, "Fee", "k")).unwrap();
    /// env.pay("o1");
    /// assert_eq!(env.payment_events().len(), 1);
    /// ```
    pub fn payment_events(&self) -> Vec<PaymentEvent> {
        self.state.borrow().ledger.events().to_vec()
    }

    /// The citizen pays order `id` in full and the provider confirms it:
    /// the order becomes paid and the `paid` event is returned, ready for
    /// [`TestEnv::deliver`].
    ///
    /// # Panics
    ///
    /// If there is no order `id` or it is not waiting for payment.
    ///
    /// ```
    /// use islet_sdk::payment::{self, NewOrder};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.grant_merchant("city-fees").as_caller("pw-alice");
    /// payment::create_order(&NewOrder::new("city-fees", 100, "Fee", "k")).unwrap();
    /// let paid = env.pay("o1");
    /// assert_eq!(paid.order.status, payment::OrderStatus::Paid);
    /// ```
    pub fn pay(&self, id: &str) -> PaymentEvent {
        let paid = self.state.borrow_mut().ledger.pay(id, backend::now());
        paid.unwrap_or_else(|why| panic!("{why}"))
    }

    /// Order `id` expires unpaid; returns the `expired` event.
    ///
    /// # Panics
    ///
    /// If there is no order `id` or it is not waiting for payment.
    ///
    /// ```
    /// use islet_sdk::payment::{self, NewOrder};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.grant_merchant("city-fees").as_caller("pw-alice");
    /// payment::create_order(&NewOrder::new("city-fees", 100, "Fee", "k")).unwrap();
    /// assert_eq!(env.expire("o1").kind, payment::EventKind::Expired);
    /// ```
    pub fn expire(&self, id: &str) -> PaymentEvent {
        let expired = self.state.borrow_mut().ledger.expire(id);
        expired.unwrap_or_else(|why| panic!("{why}"))
    }

    /// Deliver `event` to `handler` (the service's `on_payment`) the way the
    /// host does: with this env current and no signed-in caller. Returns the
    /// handler's answer; the host would deliver an event again after an
    /// error, so a test may call this twice (with `attempt` raised) to
    /// check the handler is idempotent.
    ///
    /// ```
    /// use islet_sdk::payment::{self, NewOrder};
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.grant_merchant("city-fees").as_caller("pw-alice");
    /// payment::create_order(&NewOrder::new("city-fees", 100, "Fee", "k")).unwrap();
    /// let paid = env.pay("o1");
    /// let handler = |e: &payment::PaymentEvent| islet_sdk::storage::set(&format!("paid/{}", e.order.id), b"").map_err(|e| e.to_string());
    /// assert_eq!(env.deliver(handler, &paid), Ok(()));
    /// assert!(env.stored("paid/o1").is_some());
    /// ```
    pub fn deliver(
        &self,
        handler: impl FnOnce(&PaymentEvent) -> Result<(), String>,
        event: &PaymentEvent,
    ) -> Result<(), String> {
        struct Restore<'a>(&'a TestEnv, Option<crate::identity::Caller>);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.state.borrow_mut().caller = self.1.take();
            }
        }
        let caller = self.state.borrow_mut().caller.take();
        let _restore = Restore(self, caller);
        self.run(|| handler(event))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use crate::payment::{self, EventKind, NewOrder, OrderStatus, PaymentError};
    use crate::testing::TestEnv;
    use crate::{Request, Response, Router, identity, storage};

    fn router() -> Router {
        Router::new().post(
            "/buy/{key}",
            |req: &Request| -> Result<Response, Response> {
                let key = req.param("key").unwrap_or_default();
                let order = payment::create_order(&NewOrder::new("water-supply", 500, "Tap", key))?;
                Ok(Response::json(&order))
            },
        )
    }

    fn on_payment(event: &payment::PaymentEvent) -> Result<(), String> {
        if identity::current_caller().is_some() {
            return Err("events come without a caller".into());
        }
        storage::set(
            &format!("seen/{}", event.id),
            event.kind.as_str().as_bytes(),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn services_create_orders_through_the_router() {
        let mut env = TestEnv::new();
        let r = env.call(&router(), Request::post("/buy/k1", ""));
        assert_eq!(r.status(), 401, "no citizen");
        assert_eq!(r.error_code().as_deref(), Some("payment_no_citizen"));
        env.as_caller("alice");
        let r = env.call(&router(), Request::post("/buy/k1", ""));
        assert_eq!(r.status(), 403, "merchant not granted");
        env.grant_merchant("water-supply");
        let order: payment::Order = env
            .call(&router(), Request::post("/buy/k1", ""))
            .body_json()
            .unwrap();
        assert_eq!((order.id.as_str(), order.payer.as_str()), ("o1", "alice"));
        assert_eq!(order.checkout_url, "/pay/o1");
        let again: payment::Order = env
            .call(&router(), Request::post("/buy/k1", ""))
            .body_json()
            .unwrap();
        assert_eq!(again, order);
        assert_eq!(env.orders(), [order]);
        assert_eq!(
            env.call(&router(), Request::post("/buy/bad%20key", ""))
                .status(),
            400
        );
        env.set_payment_unavailable(Some("bank down"));
        assert_eq!(
            env.call(&router(), Request::post("/buy/k2", "")).status(),
            503
        );
    }

    #[test]
    fn pay_and_deliver_run_the_handler_inside_the_env() {
        let mut env = TestEnv::new();
        env.grant_merchant("water-supply").as_caller("alice");
        let order =
            env.run(|| payment::create_order(&NewOrder::new("water-supply", 500, "Tap", "k")));
        let order = order.unwrap();
        let paid = env.pay(&order.id);
        assert_eq!(
            (paid.kind, paid.amount_fen, paid.attempt),
            (EventKind::Paid, 500, 1)
        );
        assert_eq!(paid.order.status, OrderStatus::Paid);
        assert_eq!(env.order("o1").unwrap().status, OrderStatus::Paid);
        assert_eq!(env.deliver(on_payment, &paid), Ok(()));
        assert_eq!(env.stored("seen/e1").as_deref(), Some(&b"paid"[..]));
        assert_eq!(env.caller().unwrap().subject, "alice", "caller restored");
        let refunded = env
            .run(|| payment::refund("o1", 500, "sorry", "r1"))
            .unwrap();
        assert_eq!(refunded.status, OrderStatus::Refunded);
        let events = env.payment_events();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].refund_key.as_deref(), Some("r1"));
        assert_eq!(
            env.deliver(|_| Err("later".into()), &events[1]),
            Err("later".into())
        );
        let next =
            env.run(|| payment::create_order(&NewOrder::new("water-supply", 9, "Tap", "k2")));
        let expired = env.expire(&next.unwrap().id);
        assert_eq!(expired.kind, EventKind::Expired);
        assert_eq!(
            env.run(|| payment::close_order("o2")),
            Err(PaymentError::InvalidState(
                "the order is expired; only an unpaid order can be closed".into()
            ))
        );
    }

    #[test]
    #[should_panic(expected = "only a created order can be paid")]
    fn paying_twice_is_a_test_bug() {
        let mut env = TestEnv::new();
        env.grant_merchant("water-supply").as_caller("alice");
        env.run(|| payment::create_order(&NewOrder::new("water-supply", 5, "Tap", "k")))
            .unwrap();
        env.pay("o1");
        env.pay("o1");
    }

    #[test]
    fn payment_outside_an_env_fails_softly() {
        assert!(matches!(
            payment::get_order("o1"),
            Err(PaymentError::ProviderUnavailable(_))
        ));
    }
}
