//! `islet:platform/payment`: orders through the host's money path, scoped
//! to the calling plugin, paid by the current citizen.

use super::RequestState;
use super::bindings::islet::platform::payment::{
    self, Error, NewOrder as WitNewOrder, Order as WitOrder, OrderKind as WitKind,
    OrderStatus as WitStatus,
};
use crate::auth::{Citizen, PairwiseSubjects};
use crate::payment::order::{NewOrder, Order, OrderKind, OrderStatus};
use crate::payment::{PaymentError, Payments};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// Payment state of one call.
pub struct PaymentState {
    payments: Arc<Payments>,
    consents: Arc<crate::consent::Consents>,
    plugin_id: Arc<str>,
    citizen: Option<Arc<Citizen>>,
    pairwise: Arc<PairwiseSubjects>,
    granted: bool,
    /// How many payment calls the guest made.
    pub calls: u32,
}

impl PaymentState {
    /// State for a call of `plugin_id` by `citizen`; when not `granted`,
    /// every call answers `merchant-not-granted`.
    pub fn new(
        payments: Arc<Payments>,
        consents: Arc<crate::consent::Consents>,
        plugin_id: Arc<str>,
        citizen: Option<Arc<Citizen>>,
        pairwise: Arc<PairwiseSubjects>,
        granted: bool,
    ) -> Self {
        PaymentState {
            payments,
            consents,
            plugin_id,
            citizen,
            pairwise,
            granted,
            calls: 0,
        }
    }

    fn check(&mut self) -> Result<(), Error> {
        self.calls += 1;
        if self.granted {
            Ok(())
        } else {
            Err(Error::MerchantNotGranted(
                "the payment capability was not granted to this mini-service".into(),
            ))
        }
    }
}

pub use crate::auth::citizen_key;

/// An order as its plugin sees it.
pub fn to_wit(order: &Order, checkout_url: String) -> WitOrder {
    WitOrder {
        id: order.id.clone(),
        order_key: order.request.order_key.clone(),
        merchant: order.request.merchant.clone(),
        amount_fen: order.request.amount_fen,
        refunded_fen: order.refunded_fen(),
        description: order.request.description.clone(),
        kind: match &order.request.kind {
            OrderKind::ServiceFee => WitKind::ServiceFee,
            OrderKind::NonTax(item_code) => WitKind::NonTax(item_code.clone()),
        },
        status: match order.status {
            OrderStatus::Created => WitStatus::Created,
            OrderStatus::Paid => WitStatus::Paid,
            OrderStatus::PartiallyRefunded => WitStatus::PartiallyRefunded,
            OrderStatus::Refunded => WitStatus::Refunded,
            OrderStatus::Closed => WitStatus::Closed,
            OrderStatus::Expired => WitStatus::Expired,
        },
        payer: order.payer.clone(),
        checkout_url,
        created_at: order.created_at,
        expires_at: order.expires_at,
        paid_at: order.paid_at,
    }
}

fn to_error(e: PaymentError) -> Error {
    match e {
        PaymentError::InvalidAmount(m) => Error::InvalidAmount(m),
        PaymentError::MerchantNotGranted(m) => Error::MerchantNotGranted(m),
        PaymentError::KeyReused(k) => Error::KeyReused(k),
        PaymentError::NotFound => Error::NotFound,
        PaymentError::InvalidState(m) => Error::InvalidState(m),
        PaymentError::ProviderUnavailable(m) => Error::ProviderUnavailable(m),
        PaymentError::QuotaExceeded => Error::QuotaExceeded,
        PaymentError::NoCitizen => Error::NoCitizen,
        PaymentError::InvalidArgument(m) => Error::InvalidArgument(m),
    }
}

impl PaymentState {
    fn answer(&self, result: Result<Order, PaymentError>) -> Result<WitOrder, Error> {
        result
            .map(|o| to_wit(&o, self.payments.provider().checkout_url(&o)))
            .map_err(|e| {
                if let PaymentError::MerchantNotGranted(merchant) = &e {
                    // The developer reads the log (`islet dev` streams it):
                    // say what to run.
                    tracing::warn!(
                        target: "islet::guest",
                        plugin = %self.plugin_id,
                        %merchant,
                        "merchant `{merchant}` is not granted to `{}`: an admin runs                          `islet merchant grant {merchant} {}` (or opens it first with                          `islet merchant create {merchant} --department ... --name ...`)",
                        self.plugin_id,
                        self.plugin_id
                    );
                }
                to_error(e)
            })
    }
}

impl payment::Host for PaymentState {
    fn create_order(&mut self, order: WitNewOrder) -> Result<WitOrder, Error> {
        self.check()?;
        let Some(citizen) = self.citizen.clone() else {
            return Err(Error::NoCitizen);
        };
        let payer = self
            .pairwise
            .subject_for(&self.plugin_id, &citizen.issuer, &citizen.subject);
        // The plugin now knows the payer's subject: it may address them.
        if let Err(e) =
            self.consents
                .remember_subject(&self.plugin_id, &payer, &citizen_key(&citizen))
        {
            tracing::warn!(error = %e, "cannot remember a pairwise subject");
        }
        let new = NewOrder {
            merchant: order.merchant,
            amount_fen: order.amount_fen,
            description: order.description,
            kind: match order.kind {
                WitKind::ServiceFee => OrderKind::ServiceFee,
                WitKind::NonTax(item_code) => OrderKind::NonTax(item_code),
            },
            order_key: order.order_key,
            expires_in_s: order.expires_in_s,
        };
        let result =
            self.payments
                .create_order(&self.plugin_id, &citizen_key(&citizen), &payer, new);
        self.answer(result)
    }

    fn get_order(&mut self, id: String) -> Result<WitOrder, Error> {
        self.check()?;
        let result = self.payments.get_order(&self.plugin_id, &id);
        self.answer(result)
    }

    fn find_order(&mut self, order_key: String) -> Result<WitOrder, Error> {
        self.check()?;
        let result = self.payments.find_order(&self.plugin_id, &order_key);
        self.answer(result)
    }

    fn close_order(&mut self, id: String) -> Result<WitOrder, Error> {
        self.check()?;
        let plugin = self.plugin_id.clone();
        let result = self.payments.close_order(Some(&plugin), &id, &plugin);
        self.answer(result)
    }

    fn refund(
        &mut self,
        id: String,
        amount_fen: u64,
        reason: String,
        refund_key: String,
    ) -> Result<WitOrder, Error> {
        self.check()?;
        let result = self
            .payments
            .refund(&self.plugin_id, &id, amount_fen, &reason, &refund_key);
        self.answer(result)
    }
}

/// Link `islet:platform/payment`.
pub fn add_to_linker(linker: &mut Linker<RequestState>) -> wasmtime::Result<()> {
    payment::add_to_linker::<_, HasSelf<PaymentState>>(linker, |s| &mut s.payment)
}
