//! Capability calls through the component's WIT imports.

use crate::bindings::exports::islet::platform::payment_events;
use crate::bindings::islet::platform::{identity, log, notification, payment, storage};
use crate::identity::{Caller, ClaimError, DataItem};
use crate::log::Level;
use crate::notification::NotifyError;
use crate::payment::{
    EventKind, NewOrder, Order, OrderKind, OrderStatus, PaymentError, PaymentEvent,
};
use crate::storage::{KeyPage, StorageError};

pub(crate) fn current_caller() -> Option<Caller> {
    identity::current_caller().map(|c| Caller {
        subject: c.subject,
        assurance_level: c.assurance_level,
        roles: c.roles,
    })
}

fn data_item_to_wit(item: DataItem) -> identity::DataItem {
    match item {
        DataItem::RealName => identity::DataItem::RealName,
        DataItem::NationalId => identity::DataItem::NationalId,
        DataItem::Phone => identity::DataItem::Phone,
        DataItem::Email => identity::DataItem::Email,
        DataItem::LegalPerson => identity::DataItem::LegalPerson,
    }
}

fn data_item_from_wit(item: identity::DataItem) -> DataItem {
    match item {
        identity::DataItem::RealName => DataItem::RealName,
        identity::DataItem::NationalId => DataItem::NationalId,
        identity::DataItem::Phone => DataItem::Phone,
        identity::DataItem::Email => DataItem::Email,
        identity::DataItem::LegalPerson => DataItem::LegalPerson,
    }
}

pub(crate) fn identity_claim(item: DataItem) -> Result<String, ClaimError> {
    identity::claim(data_item_to_wit(item)).map_err(|e| match e {
        identity::ClaimError::NoCaller => ClaimError::NoCaller,
        identity::ClaimError::NotDeclared => ClaimError::NotDeclared,
        identity::ClaimError::NotGranted => ClaimError::NotGranted,
        identity::ClaimError::NoConsent(request) => ClaimError::NoConsent {
            item: data_item_from_wit(request.item),
            purpose: request.purpose,
        },
        identity::ClaimError::NotAvailable => ClaimError::NotAvailable,
    })
}

pub(crate) fn department_subject() -> Option<String> {
    identity::department_subject()
}

pub(crate) fn notification_send(
    recipient: &str,
    template: &str,
    params: &[(&str, &str)],
    link: Option<&str>,
) -> Result<String, NotifyError> {
    let params: Vec<notification::Param> = params
        .iter()
        .map(|(name, value)| notification::Param {
            name: (*name).to_owned(),
            value: (*value).to_owned(),
        })
        .collect();
    notification::send(recipient, template, &params, link).map_err(|e| match e {
        notification::Error::NoConsent => NotifyError::NoConsent,
        notification::Error::TemplateNotApproved(t) => NotifyError::TemplateNotApproved(t),
        notification::Error::QuotaExceeded => NotifyError::QuotaExceeded,
        notification::Error::BadParameters(why) => NotifyError::BadParameters(why),
        notification::Error::UnknownRecipient => NotifyError::UnknownRecipient,
        notification::Error::Unavailable(why) => NotifyError::Unavailable(why),
    })
}

fn error(e: storage::Error) -> StorageError {
    match e {
        storage::Error::QuotaExceeded => StorageError::QuotaExceeded,
        storage::Error::KeyTooLarge => StorageError::KeyTooLarge,
        storage::Error::ValueTooLarge => StorageError::ValueTooLarge,
        storage::Error::Conflict => StorageError::Conflict,
        storage::Error::NotANumber => StorageError::NotANumber,
        storage::Error::Unavailable(why) => StorageError::Unavailable(why),
    }
}

pub(crate) fn storage_get(key: &str) -> Result<Option<Vec<u8>>, StorageError> {
    storage::get(key).map_err(error)
}

pub(crate) fn storage_set(key: &str, value: &[u8]) -> Result<(), StorageError> {
    storage::set(key, value).map_err(error)
}

pub(crate) fn storage_delete(key: &str) -> Result<bool, StorageError> {
    storage::delete(key).map_err(error)
}

pub(crate) fn storage_list_keys(
    prefix: &str,
    cursor: Option<&str>,
    limit: u32,
) -> Result<KeyPage, StorageError> {
    storage::list_keys(prefix, cursor, limit)
        .map(|page| KeyPage {
            keys: page.keys,
            next_cursor: page.next_cursor,
        })
        .map_err(error)
}

pub(crate) fn storage_compare_and_swap(
    key: &str,
    expected: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Result<(), StorageError> {
    storage::compare_and_swap(key, expected, new).map_err(error)
}

pub(crate) fn storage_increment(key: &str, delta: i64) -> Result<i64, StorageError> {
    storage::increment(key, delta).map_err(error)
}

pub(crate) fn log_write(level: Level, message: &str) {
    let level = match level {
        Level::Trace => log::Level::Trace,
        Level::Debug => log::Level::Debug,
        Level::Info => log::Level::Info,
        Level::Warn => log::Level::Warn,
        Level::Error => log::Level::Error,
    };
    log::write(level, message);
}

fn payment_error(e: payment::Error) -> PaymentError {
    match e {
        payment::Error::InvalidAmount(why) => PaymentError::InvalidAmount(why),
        payment::Error::MerchantNotGranted(why) => PaymentError::MerchantNotGranted(why),
        payment::Error::KeyReused(why) => PaymentError::KeyReused(why),
        payment::Error::NotFound => PaymentError::NotFound,
        payment::Error::InvalidState(why) => PaymentError::InvalidState(why),
        payment::Error::ProviderUnavailable(why) => PaymentError::ProviderUnavailable(why),
        payment::Error::QuotaExceeded => PaymentError::QuotaExceeded,
        payment::Error::NoCitizen => PaymentError::NoCitizen,
        payment::Error::InvalidArgument(why) => PaymentError::InvalidArgument(why),
    }
}

fn order_kind(kind: payment::OrderKind) -> OrderKind {
    match kind {
        payment::OrderKind::ServiceFee => OrderKind::ServiceFee,
        payment::OrderKind::NonTax(code) => OrderKind::NonTax(code),
    }
}

fn order_status(status: payment::OrderStatus) -> OrderStatus {
    match status {
        payment::OrderStatus::Created => OrderStatus::Created,
        payment::OrderStatus::Paid => OrderStatus::Paid,
        payment::OrderStatus::PartiallyRefunded => OrderStatus::PartiallyRefunded,
        payment::OrderStatus::Refunded => OrderStatus::Refunded,
        payment::OrderStatus::Closed => OrderStatus::Closed,
        payment::OrderStatus::Expired => OrderStatus::Expired,
    }
}

fn order(o: payment::Order) -> Order {
    Order {
        id: o.id,
        order_key: o.order_key,
        merchant: o.merchant,
        amount_fen: o.amount_fen,
        refunded_fen: o.refunded_fen,
        description: o.description,
        kind: order_kind(o.kind),
        status: order_status(o.status),
        payer: o.payer,
        checkout_url: o.checkout_url,
        created_at: o.created_at,
        expires_at: o.expires_at,
        paid_at: o.paid_at,
    }
}

fn reply(result: Result<payment::Order, payment::Error>) -> Result<Order, PaymentError> {
    result.map(order).map_err(payment_error)
}

pub(crate) fn payment_create_order(new: &NewOrder) -> Result<Order, PaymentError> {
    let new = payment::NewOrder {
        merchant: new.merchant.clone(),
        amount_fen: new.amount_fen,
        description: new.description.clone(),
        kind: match &new.kind {
            OrderKind::ServiceFee => payment::OrderKind::ServiceFee,
            OrderKind::NonTax(code) => payment::OrderKind::NonTax(code.clone()),
        },
        order_key: new.order_key.clone(),
        expires_in_s: new.expires_in_s,
    };
    reply(payment::create_order(&new))
}

pub(crate) fn payment_get_order(id: &str) -> Result<Order, PaymentError> {
    reply(payment::get_order(id))
}

pub(crate) fn payment_find_order(order_key: &str) -> Result<Order, PaymentError> {
    reply(payment::find_order(order_key))
}

pub(crate) fn payment_close_order(id: &str) -> Result<Order, PaymentError> {
    reply(payment::close_order(id))
}

pub(crate) fn payment_refund(
    id: &str,
    amount_fen: u64,
    reason: &str,
    refund_key: &str,
) -> Result<Order, PaymentError> {
    reply(payment::refund(id, amount_fen, reason, refund_key))
}

/// The SDK's view of an event the host delivered to `on-payment`.
pub(crate) fn payment_event(event: payment_events::Event) -> PaymentEvent {
    PaymentEvent {
        id: event.id,
        kind: match event.kind {
            payment_events::EventKind::Paid => EventKind::Paid,
            payment_events::EventKind::Closed => EventKind::Closed,
            payment_events::EventKind::Expired => EventKind::Expired,
            payment_events::EventKind::Refunded => EventKind::Refunded,
        },
        order: order(event.order),
        amount_fen: event.amount_fen,
        refund_key: event.refund_key,
        attempt: event.attempt,
    }
}
