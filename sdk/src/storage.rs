//! Key-value storage private to this mini-service: the
//! `islet:platform/storage` capability.
//!
//! Needs `storage` in the manifest's `capabilities`. Keys are UTF-8 strings
//! of 1 to 256 bytes, values are bytes (at most 1 MiB by default), and keys
//! plus values count against the plugin's quota (`storage-mib`). Every
//! failure is a [`StorageError`] value, never a trap.
//!
//! ```no_run
//! use islet_sdk::storage;
//!
//! # fn demo() -> Result<(), storage::StorageError> {
//! let id = storage::increment("seq/report", 1)?;
//! storage::set_json(&format!("report/{id}"), &serde_json::json!({"id": id}))?;
//! let page = storage::list_keys("report/", None, 100)?;
//! # let _ = page;
//! # Ok(())
//! # }
//! ```

use crate::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;

/// Longest key the host accepts, in bytes.
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// let long = "k".repeat(storage::MAX_KEY_BYTES + 1);
/// assert_eq!(storage::set(&long, b"x"), Err(storage::StorageError::KeyTooLarge));
/// ```
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value the host accepts by default, in bytes.
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// let big = vec![0; storage::MAX_VALUE_BYTES + 1];
/// assert_eq!(storage::set("photo", &big), Err(storage::StorageError::ValueTooLarge));
/// ```
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most keys one [`list_keys`] call returns.
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// let page = storage::list_keys("", None, storage::MAX_PAGE).unwrap();
/// assert!(page.keys.is_empty());
/// ```
pub const MAX_PAGE: u32 = 1000;

/// Why a storage call failed. The first six variants mirror the WIT
/// `storage.error` variant; [`StorageError::Json`] comes from the SDK's JSON
/// helpers, never from the host.
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// env.set_storage_quota(0);
/// assert_eq!(storage::set("k", b"v"), Err(storage::StorageError::QuotaExceeded));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// The write would take the mini-service over its storage quota.
    QuotaExceeded,
    /// The key is empty or longer than [`MAX_KEY_BYTES`].
    KeyTooLarge,
    /// The value is larger than the host allows.
    ValueTooLarge,
    /// [`compare_and_swap`] found a value other than the expected one.
    Conflict,
    /// [`increment`] found a value that is not a decimal 64-bit integer, or
    /// the result would overflow.
    NotANumber,
    /// The host's store failed; the message says how. Safe to retry.
    Unavailable(String),
    /// [`get_json`] found a value that is not JSON of the expected shape, or
    /// [`set_json`] could not serialise the value.
    Json(String),
}

impl StorageError {
    /// The kebab-case name of the variant, as in the WIT (`quota-exceeded`,
    /// `key-too-large`, `value-too-large`, `conflict`, `not-a-number`,
    /// `unavailable`) or `invalid-json`. Error responses use it in
    /// snake case after `storage_`, e.g. `storage_quota_exceeded`.
    ///
    /// ```
    /// assert_eq!(islet_sdk::storage::StorageError::Conflict.code(), "conflict");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            StorageError::QuotaExceeded => "quota-exceeded",
            StorageError::KeyTooLarge => "key-too-large",
            StorageError::ValueTooLarge => "value-too-large",
            StorageError::Conflict => "conflict",
            StorageError::NotANumber => "not-a-number",
            StorageError::Unavailable(_) => "unavailable",
            StorageError::Json(_) => "invalid-json",
        }
    }

    /// The HTTP status a handler answers with when it gives up on this
    /// error: 507 for quota, 413 for a too-large value, 409 for a conflict,
    /// 503 when the store is unavailable, 500 otherwise.
    ///
    /// ```
    /// assert_eq!(islet_sdk::storage::StorageError::QuotaExceeded.status(), 507);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            StorageError::QuotaExceeded => 507,
            StorageError::ValueTooLarge => 413,
            StorageError::Conflict => 409,
            StorageError::Unavailable(_) => 503,
            StorageError::KeyTooLarge | StorageError::NotANumber | StorageError::Json(_) => 500,
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::QuotaExceeded => f.write_str("the storage quota would be exceeded"),
            StorageError::KeyTooLarge => {
                write!(f, "the key is empty or longer than {MAX_KEY_BYTES} bytes")
            }
            StorageError::ValueTooLarge => f.write_str("the value is too large"),
            StorageError::Conflict => f.write_str("the stored value changed meanwhile"),
            StorageError::NotANumber => {
                f.write_str("the stored value is not a 64-bit integer, or the result overflows")
            }
            StorageError::Unavailable(why) => write!(f, "storage is unavailable: {why}"),
            StorageError::Json(why) => {
                write!(f, "the stored value is not the expected JSON: {why}")
            }
        }
    }
}

impl std::error::Error for StorageError {}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        Response::error(
            self.status(),
            &format!("storage_{}", self.code().replace('-', "_")),
            &self.to_string(),
        )
    }
}

/// Lets `?` turn a storage failure into an error response in a handler
/// returning `Result<_, Response>`.
impl From<StorageError> for Response {
    fn from(error: StorageError) -> Response {
        error.into_response()
    }
}

/// One page of keys from [`list_keys`].
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// for i in 0..3 { storage::set(&format!("fees/{i}"), b"").unwrap(); }
/// let mut cursor = None;
/// let mut seen = 0;
/// loop {
///     let page = storage::list_keys("fees/", cursor.as_deref(), 2).unwrap();
///     seen += page.keys.len();
///     match page.next_cursor { Some(next) => cursor = Some(next), None => break }
/// }
/// assert_eq!(seen, 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPage {
    /// Keys in ascending byte order.
    pub keys: Vec<String>,
    /// Pass this to the next [`list_keys`] call to continue; `None` at the end.
    pub next_cursor: Option<String>,
}

/// The value stored under `key`, if any.
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// assert_eq!(storage::get("nothing").unwrap(), None);
/// ```
pub fn get(key: &str) -> Result<Option<Vec<u8>>, StorageError> {
    crate::sys::storage_get(key)
}

/// Store `value` under `key`, replacing any previous value.
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// storage::set("greeting", "你好".as_bytes()).unwrap();
/// assert_eq!(storage::get("greeting").unwrap().as_deref(), Some("你好".as_bytes()));
/// ```
pub fn set(key: &str, value: &[u8]) -> Result<(), StorageError> {
    crate::sys::storage_set(key, value)
}

/// Remove `key`; returns whether it existed.
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// storage::set("k", b"v").unwrap();
/// assert!(storage::delete("k").unwrap());
/// assert!(!storage::delete("k").unwrap());
/// ```
pub fn delete(key: &str) -> Result<bool, StorageError> {
    crate::sys::storage_delete(key)
}

/// Keys starting with `prefix`, at most `limit` per page (between 1 and
/// [`MAX_PAGE`]), continuing after `cursor` when given.
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// storage::set("a/1", b"").unwrap();
/// storage::set("b/1", b"").unwrap();
/// assert_eq!(storage::list_keys("a/", None, 100).unwrap().keys, ["a/1"]);
/// ```
pub fn list_keys(prefix: &str, cursor: Option<&str>, limit: u32) -> Result<KeyPage, StorageError> {
    crate::sys::storage_list_keys(prefix, cursor, limit)
}

/// Atomically replace the value under `key` with `new` (`None` deletes) if
/// the current value equals `expected` (`None` means absent); otherwise
/// [`StorageError::Conflict`].
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// storage::compare_and_swap("seat/12", None, Some(b"pw-alice")).unwrap(); // free: taken
/// let again = storage::compare_and_swap("seat/12", None, Some(b"pw-bob"));
/// assert_eq!(again, Err(storage::StorageError::Conflict));
/// ```
pub fn compare_and_swap(
    key: &str,
    expected: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Result<(), StorageError> {
    crate::sys::storage_compare_and_swap(key, expected, new)
}

/// Atomically add `delta` to the decimal integer under `key` (absent counts
/// as 0) and return the new value. Handy for ids.
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// assert_eq!(storage::increment("seq", 1).unwrap(), 1);
/// assert_eq!(storage::increment("seq", 10).unwrap(), 11);
/// ```
pub fn increment(key: &str, delta: i64) -> Result<i64, StorageError> {
    crate::sys::storage_increment(key, delta)
}

/// The value under `key` parsed as JSON into `T`, if any.
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// storage::set_json("card", &serde_json::json!({"balance_fen": 500})).unwrap();
/// let card: serde_json::Value = storage::get_json("card").unwrap().unwrap();
/// assert_eq!(card["balance_fen"], 500);
/// ```
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, StorageError> {
    match get(key)? {
        Some(bytes) => decode_json(&bytes).map(Some),
        None => Ok(None),
    }
}

/// Store `value` as JSON under `key`.
///
/// ```
/// use islet_sdk::storage;
/// # let mut env = islet_sdk::testing::TestEnv::new();
/// storage::set_json("tags", &["a", "b"]).unwrap();
/// assert_eq!(storage::get("tags").unwrap().as_deref(), Some(&br#"["a","b"]"#[..]));
/// ```
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), StorageError> {
    set(key, &encode_json(value)?)
}

/// Parse a stored value as JSON into `T`.
///
/// ```
/// let n: u32 = islet_sdk::storage::decode_json(b"42").unwrap();
/// assert_eq!(n, 42);
/// ```
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Json(e.to_string()))
}

/// Serialise `value` as JSON for storing.
///
/// ```
/// assert_eq!(islet_sdk::storage::encode_json(&[1, 2]).unwrap(), b"[1,2]");
/// ```
pub fn encode_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(value).map_err(|e| StorageError::Json(e.to_string()))
}

/// Read-modify-write the JSON value under `key` without losing concurrent
/// updates: read it, let `change` compute the new value from the current one
/// (`None` = absent), and [`compare_and_swap`] it in, retrying on conflict
/// up to `attempts` times (then [`StorageError::Conflict`]). `change`
/// returns `Ok(None)` to delete, or `Err` to stop without writing; the
/// result is the value written. `E` is any error a [`StorageError`]
/// converts into, e.g. [`Response`] in a handler.
///
/// ```no_run
/// use islet_sdk::storage::{self, StorageError};
///
/// # fn demo() -> Result<(), StorageError> {
/// let visits = storage::update_json("visits", 10, |n: Option<u64>| {
///     Ok::<_, StorageError>(Some(n.unwrap_or(0) + 1))
/// })?;
/// # let _ = visits;
/// # Ok(())
/// # }
/// ```
pub fn update_json<T, E>(
    key: &str,
    attempts: u32,
    mut change: impl FnMut(Option<T>) -> Result<Option<T>, E>,
) -> Result<Option<T>, E>
where
    T: Serialize + DeserializeOwned,
    E: From<StorageError>,
{
    for _ in 0..attempts.max(1) {
        let current = get(key)?;
        let decoded = match &current {
            Some(bytes) => Some(decode_json::<T>(bytes)?),
            None => None,
        };
        let next = change(decoded)?;
        let encoded = match &next {
            Some(value) => Some(encode_json(value)?),
            None => None,
        };
        match compare_and_swap(key, current.as_deref(), encoded.as_deref()) {
            Ok(()) => return Ok(next),
            Err(StorageError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StorageError::Conflict.into())
}
