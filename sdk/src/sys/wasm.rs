//! Capability calls through the component's WIT imports.

use crate::bindings::islet::platform::{identity, log, storage};
use crate::identity::Caller;
use crate::log::Level;
use crate::storage::{KeyPage, StorageError};

pub(crate) fn current_caller() -> Option<Caller> {
    identity::current_caller().map(|c| Caller {
        subject: c.subject,
        assurance_level: c.assurance_level,
        roles: c.roles,
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
