//! The native stand-in for the host: capability calls go to the state of the
//! [`TestEnv`](super::TestEnv) installed on the current thread.

use super::{LogLine, State};
use crate::identity::{Caller, ClaimError, DataItem};
use crate::log::Level;
use crate::notification::NotifyError;
use crate::payment::{NewOrder, Order, PaymentError};
use crate::storage::{KeyPage, StorageError};
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    static CURRENT: RefCell<Option<Rc<RefCell<State>>>> = const { RefCell::new(None) };
}

/// Make `state` the current one, returning the previous.
pub(super) fn install(state: Option<Rc<RefCell<State>>>) -> Option<Rc<RefCell<State>>> {
    CURRENT.with(|c| c.replace(state))
}

/// Whether `state` is the current one.
pub(super) fn is_current(state: &Rc<RefCell<State>>) -> bool {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|cur| Rc::ptr_eq(cur, state))
    })
}

fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> Option<T> {
    let state = CURRENT.with(|c| c.borrow().clone())?;
    let mut state = state.borrow_mut();
    Some(f(&mut state))
}

fn no_env() -> StorageError {
    StorageError::Unavailable(
        "no islet_sdk::testing::TestEnv on this thread: create one before calling storage".into(),
    )
}

pub(crate) fn current_caller() -> Option<Caller> {
    with_state(|s| s.caller.clone()).flatten()
}

pub(crate) fn identity_claim(item: DataItem) -> Result<String, ClaimError> {
    with_state(|s| s.people.claim(s.caller.as_ref(), item)).unwrap_or(Err(ClaimError::NoCaller))
}

/// `dept-` followed by the caller's subject: deterministic, and different
/// from the pairwise subject.
pub(crate) fn department_subject() -> Option<String> {
    current_caller().map(|c| format!("dept-{}", c.subject))
}

pub(crate) fn notification_send(
    recipient: &str,
    template: &str,
    params: &[(&str, &str)],
    link: Option<&str>,
) -> Result<String, NotifyError> {
    with_state(|s| s.people.send(recipient, template, params, link)).unwrap_or_else(|| {
        Err(NotifyError::Unavailable(
            "no islet_sdk::testing::TestEnv on this thread: create one before sending".into(),
        ))
    })
}

pub(crate) fn storage_get(key: &str) -> Result<Option<Vec<u8>>, StorageError> {
    with_state(|s| s.store.get(key)).unwrap_or_else(|| Err(no_env()))
}

pub(crate) fn storage_set(key: &str, value: &[u8]) -> Result<(), StorageError> {
    with_state(|s| s.store.set(key, value)).unwrap_or_else(|| Err(no_env()))
}

pub(crate) fn storage_delete(key: &str) -> Result<bool, StorageError> {
    with_state(|s| s.store.delete(key)).unwrap_or_else(|| Err(no_env()))
}

pub(crate) fn storage_list_keys(
    prefix: &str,
    cursor: Option<&str>,
    limit: u32,
) -> Result<KeyPage, StorageError> {
    with_state(|s| s.store.list_keys(prefix, cursor, limit)).unwrap_or_else(|| Err(no_env()))
}

pub(crate) fn storage_compare_and_swap(
    key: &str,
    expected: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Result<(), StorageError> {
    with_state(|s| s.store.compare_and_swap(key, expected, new)).unwrap_or_else(|| Err(no_env()))
}

pub(crate) fn storage_increment(key: &str, delta: i64) -> Result<i64, StorageError> {
    with_state(|s| s.store.increment(key, delta)).unwrap_or_else(|| Err(no_env()))
}

pub(crate) fn log_write(level: Level, message: &str) {
    // Shown by the test runner only when a test fails.
    eprintln!("[{}] {message}", level.as_str());
    with_state(|s| {
        s.logs.push(LogLine {
            level,
            message: message.to_owned(),
        })
    });
}

/// Seconds since the Unix epoch, as the fake ledger's clock.
pub(super) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn no_env_payment() -> PaymentError {
    PaymentError::ProviderUnavailable(
        "no islet_sdk::testing::TestEnv on this thread: create one before calling payment".into(),
    )
}

fn payment<T>(f: impl FnOnce(&mut State) -> Result<T, PaymentError>) -> Result<T, PaymentError> {
    with_state(f).unwrap_or_else(|| Err(no_env_payment()))
}

pub(crate) fn payment_create_order(new: &NewOrder) -> Result<Order, PaymentError> {
    payment(|s| {
        let payer = s.caller.as_ref().map(|c| c.subject.clone());
        s.ledger.create(payer.as_deref(), new, now())
    })
}

pub(crate) fn payment_get_order(id: &str) -> Result<Order, PaymentError> {
    payment(|s| s.ledger.get(id))
}

pub(crate) fn payment_find_order(order_key: &str) -> Result<Order, PaymentError> {
    payment(|s| s.ledger.find(order_key))
}

pub(crate) fn payment_close_order(id: &str) -> Result<Order, PaymentError> {
    payment(|s| s.ledger.close(id))
}

pub(crate) fn payment_refund(
    id: &str,
    amount_fen: u64,
    reason: &str,
    refund_key: &str,
) -> Result<Order, PaymentError> {
    payment(|s| s.ledger.refund(id, amount_fen, reason, refund_key))
}
