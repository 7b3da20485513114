//! The host-owned money path: merchant accounts, the order ledger with its
//! journal, the provider behind it, signed notifications, the outbox of
//! payment events and reconciliation. Plugins reach it only through the
//! `payment` capability; the app through `/api/v1/orders` and the cashier;
//! providers through `/api/v1/payments/notify/{provider}`.
//!
//! ```text
//! plugin ──create-order──▶ ledger (created) ──checkout-url──▶ app ──▶ cashier /pay/{id}
//!                                                                       │ Pay
//! provider ◀────────────────────────────────────────────────────────────┘
//!    │ signed notification (async, retried)
//!    ▼
//! /api/v1/payments/notify/{provider}: signature, timestamp window, nonce,
//!    amount + currency, dedup ──▶ ledger (paid) + journal + outbox, one batch
//!                                        │ at least once, with backoff
//!                                        ▼
//!                              plugin payment-events.on-payment(event)
//! ```

pub mod delivery;
pub mod events;
pub mod keys;
#[cfg(test)]
mod lease_tests;
pub mod ledger;
pub mod listing;
pub mod merchants;
pub mod order;
#[cfg(test)]
mod order_props;
pub mod provider;
pub mod reconcile;
pub mod sandbox;
mod service;
mod settle;
#[cfg(test)]
mod settle_tests;

pub use service::{
    Claimed, EventsPage, NoticeFailure, NoticeOutcome, PaymentConfig, PaymentError, Payments,
};
