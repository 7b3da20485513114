//! Test a mini-service natively, without wasm or a host: `cargo test`.
//!
//! Only on non-wasm32 targets. A [`TestEnv`] plays the host: it says who is
//! calling, keeps storage in memory with the host's limits and semantics,
//! captures log lines, keeps a fake payment ledger with the host's rules
//! (see [`TestEnv::grant_merchant`], [`TestEnv::pay`], [`TestEnv::deliver`]),
//! releases personal data items you allow ([`TestEnv::set_claim`],
//! [`TestEnv::allow_claim`]), keeps a fake inbox with per-template message
//! consents ([`TestEnv::consent_messages`], [`TestEnv::sent`]),
//! and calls the router the way the host does (header names lower-cased,
//! `authorization` and `cookie` removed).
//!
//! ```
//! use islet_sdk::testing::TestEnv;
//! use islet_sdk::{identity, storage, Request, Response, Router};
//!
//! fn router() -> Router {
//!     Router::new().post("/count", |_: &Request| -> Result<Response, Response> {
//!         let caller = identity::require_caller()?;
//!         let n = storage::increment(&format!("count/{}", caller.subject), 1)?;
//!         Ok(Response::json(&n))
//!     })
//! }
//!
//! let mut env = TestEnv::new();
//! assert_eq!(env.call(&router(), Request::post("/count", "")).status(), 401);
//! env.as_caller("alice");
//! assert_eq!(env.call(&router(), Request::post("/count", "")).body(), b"1");
//! assert_eq!(env.stored("count/alice").as_deref(), Some(&b"1"[..]));
//!
//! env.set_storage_quota(0).as_caller("bob");
//! let full = env.call(&router(), Request::post("/count", ""));
//! assert_eq!(full.status(), 507);
//! ```
//!
//! Each `TestEnv` is installed on the thread that created it (the test's
//! thread), so capability calls made directly in the test — outside
//! [`TestEnv::call`] — reach it too. With several envs on one thread,
//! [`TestEnv::call`] and [`TestEnv::run`] switch to their own env for the
//! duration of the call.

pub(crate) mod backend;
mod ledger;
mod payments;
mod people;
mod store;

pub use people::{SentMessage, TEST_PURPOSE};
pub use store::DEFAULT_QUOTA_BYTES;

use crate::identity::{Caller, STAFF};
use crate::log::Level;
use crate::request::Request;
use crate::response::Response;
use crate::router::Router;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::rc::Rc;
use store::MemoryStore;

/// One captured log line.
///
/// ```
/// use islet_sdk::testing::TestEnv;
/// let env = TestEnv::new();
/// islet_sdk::warn!("low balance");
/// assert_eq!(env.logs()[0].message, "low balance");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// Its text.
    pub message: String,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) caller: Option<Caller>,
    pub(crate) store: MemoryStore,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) ledger: ledger::Ledger,
    pub(crate) people: people::People,
    /// Requests sent through [`TestEnv::call`], for their ids.
    pub(crate) calls: u64,
}

/// A stand-in for the host in native tests. See the [module docs](self).
///
/// ```
/// use islet_sdk::testing::TestEnv;
/// use islet_sdk::{identity, Request, Response, Router};
/// let router = Router::new().get("/me", |_: &Request| -> Result<Response, Response> {
///     Ok(Response::text(identity::require_caller()?.subject))
/// });
/// let mut env = TestEnv::new();
/// assert_eq!(env.call(&router, Request::get("/me")).status(), 401);
/// env.as_caller("pw-alice");
/// assert_eq!(env.call(&router, Request::get("/me")).body_text(), Some("pw-alice"));
/// ```
#[derive(Debug)]
pub struct TestEnv {
    state: Rc<RefCell<State>>,
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

impl TestEnv {
    /// A fresh env: anonymous caller, empty storage with a quota of
    /// [`DEFAULT_QUOTA_BYTES`], no log lines. It becomes the current env of
    /// this thread.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let env = TestEnv::new();
    /// assert!(env.caller().is_none() && env.keys("").is_empty());
    /// ```
    pub fn new() -> Self {
        let state = Rc::new(RefCell::new(State::default()));
        backend::install(Some(Rc::clone(&state)));
        TestEnv { state }
    }

    /// Make `caller` the signed-in caller of the following calls.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// use islet_sdk::Caller;
    /// let mut env = TestEnv::new();
    /// env.sign_in(Caller::new("pw-alice").with_assurance_level(4).with_role("inspector"));
    /// ```
    pub fn sign_in(&mut self, caller: Caller) -> &mut Self {
        self.state.borrow_mut().caller = Some(caller);
        self
    }

    /// Sign in a citizen with `subject`, assurance level 0 and no roles.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.as_caller("pw-alice");
    /// assert_eq!(env.caller().unwrap().subject, "pw-alice");
    /// ```
    pub fn as_caller(&mut self, subject: &str) -> &mut Self {
        self.sign_in(Caller::new(subject))
    }

    /// Sign in a member of the mini-service's department: role `staff`.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.as_staff("clerk-1");
    /// assert!(env.caller().unwrap().is_staff());
    /// ```
    pub fn as_staff(&mut self, subject: &str) -> &mut Self {
        self.sign_in(Caller::new(subject).with_role(STAFF))
    }

    /// Make the following calls anonymous.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.as_caller("pw-alice").anonymous();
    /// assert!(env.caller().is_none());
    /// ```
    pub fn anonymous(&mut self) -> &mut Self {
        self.state.borrow_mut().caller = None;
        self
    }

    /// The caller the following calls are made as.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// assert!(TestEnv::new().caller().is_none());
    /// ```
    pub fn caller(&self) -> Option<Caller> {
        self.state.borrow().caller.clone()
    }

    /// Send `request` through `router` as the host would and return the
    /// answer: header names lower-cased, `authorization` and `cookie`
    /// removed, an `x-request-id` (`test-1`, `test-2`, ...) added unless the
    /// request has one, capabilities served by this env.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// use islet_sdk::{Request, Router};
    ///
    /// let env = TestEnv::new();
    /// let r = env.call(&Router::new(), Request::get("/nowhere"));
    /// assert_eq!(r.status(), 404);
    /// let body: serde_json::Value = r.body_json().unwrap();
    /// assert_eq!(body["error"]["request_id"], "test-1");
    /// ```
    pub fn call(&self, router: &Router, mut request: Request) -> Response {
        request.strip_credentials();
        // The host gives every request an id (`x-request-id`): `test-1`, ...
        let n = {
            let mut state = self.state.borrow_mut();
            state.calls += 1;
            state.calls
        };
        if request.header("x-request-id").is_none() {
            request = request.with_header("x-request-id", &format!("test-{n}"));
        }
        self.run(|| router.handle(request))
    }

    /// Run `f` with this env as the current one, e.g. to call capability
    /// wrappers directly when several envs share a thread.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let first = TestEnv::new();
    /// let second = TestEnv::new(); // now the current one
    /// first.run(|| islet_sdk::storage::set("k", b"1")).unwrap();
    /// assert!(first.stored("k").is_some() && second.stored("k").is_none());
    /// ```
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<Option<Rc<RefCell<State>>>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                if let Some(previous) = self.0.take() {
                    backend::install(previous);
                }
            }
        }
        let _restore = Restore(Some(backend::install(Some(Rc::clone(&self.state)))));
        f()
    }

    /// The value stored under `key`, bypassing every check.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let env = TestEnv::new();
    /// islet_sdk::storage::set("k", b"v").unwrap();
    /// assert_eq!(env.stored("k").as_deref(), Some(&b"v"[..]));
    /// ```
    pub fn stored(&self, key: &str) -> Option<Vec<u8>> {
        self.state.borrow().store.peek(key).map(<[u8]>::to_vec)
    }

    /// The value stored under `key`, parsed as JSON.
    ///
    /// # Panics
    ///
    /// If the stored value is not JSON of type `T`.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let env = TestEnv::new();
    /// islet_sdk::storage::set_json("n", &7).unwrap();
    /// assert_eq!(env.stored_json::<u32>("n"), Some(7));
    /// ```
    pub fn stored_json<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let bytes = self.stored(key)?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Some(value),
            Err(e) => panic!("the value under {key:?} is not the expected JSON: {e}"),
        }
    }

    /// Store `value` under `key` (or delete it with `None`), bypassing the
    /// key, value and quota checks: for seeding test data.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let env = TestEnv::new();
    /// env.put("balance/31000012", Some(b"1000")); // seed data, no checks
    /// assert_eq!(islet_sdk::storage::increment("balance/31000012", 5).unwrap(), 1005);
    /// ```
    pub fn put(&self, key: &str, value: Option<&[u8]>) {
        self.state
            .borrow_mut()
            .store
            .force(key, value.map(<[u8]>::to_vec));
    }

    /// Every stored key starting with `prefix`, in ascending byte order.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let env = TestEnv::new();
    /// env.put("a/1", Some(b""));
    /// assert_eq!(env.keys("a/"), ["a/1"]);
    /// ```
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.state.borrow().store.keys(prefix)
    }

    /// Bytes held: the sum of the lengths of every key and value.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let env = TestEnv::new();
    /// env.put("ab", Some(b"cd"));
    /// assert_eq!(env.storage_usage(), 4); // keys plus values
    /// ```
    pub fn storage_usage(&self) -> u64 {
        self.state.borrow().store.usage()
    }

    /// Set the storage quota in bytes (keys plus values).
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.set_storage_quota(3);
    /// assert!(islet_sdk::storage::set("key", b"value").is_err());
    /// ```
    pub fn set_storage_quota(&mut self, bytes: u64) -> &mut Self {
        self.state.borrow_mut().store.quota = bytes;
        self
    }

    /// Set the largest value accepted, in bytes (1 MiB by default).
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.set_max_value_bytes(2);
    /// assert!(islet_sdk::storage::set("k", b"abc").is_err());
    /// ```
    pub fn set_max_value_bytes(&mut self, bytes: usize) -> &mut Self {
        self.state.borrow_mut().store.max_value = bytes;
        self
    }

    /// Make every storage call fail with `unavailable(message)`, or work
    /// again with `None`.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// env.set_storage_unavailable(Some("maintenance"));
    /// assert_eq!(islet_sdk::storage::get("k").unwrap_err().status(), 503);
    /// ```
    pub fn set_storage_unavailable(&mut self, message: Option<&str>) -> &mut Self {
        self.state.borrow_mut().store.unavailable = message.map(str::to_owned);
        self
    }

    /// The log lines written so far.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let env = TestEnv::new();
    /// islet_sdk::info!("hello {}", 1);
    /// assert_eq!(env.logs()[0].message, "hello 1");
    /// ```
    pub fn logs(&self) -> Vec<LogLine> {
        self.state.borrow().logs.clone()
    }

    /// Forget the log lines written so far.
    ///
    /// ```
    /// use islet_sdk::testing::TestEnv;
    /// let mut env = TestEnv::new();
    /// islet_sdk::info!("noise");
    /// assert!(env.clear_logs().logs().is_empty());
    /// ```
    pub fn clear_logs(&mut self) -> &mut Self {
        self.state.borrow_mut().logs.clear();
        self
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if backend::is_current(&self.state) {
            backend::install(None);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]
mod tests {
    use super::*;
    use crate::{identity, log, storage};

    fn router() -> Router {
        Router::new()
            .get("/who", |_: &Request| match identity::current_caller() {
                Some(c) => Response::json(&c),
                None => Response::text("anonymous"),
            })
            .put("/kv/{key}", |req: &Request| {
                let key = req.param("key").unwrap_or_default();
                match storage::set(key, req.body()) {
                    Ok(()) => Response::text("ok"),
                    Err(e) => e.into(),
                }
            })
            .get("/headers", |req: &Request| {
                let names: Vec<&str> = req.headers().iter().map(|(n, _)| n.as_str()).collect();
                Response::text(names.join(","))
            })
            .get("/log", |_: &Request| {
                crate::info!("hello {}", 42);
                log::warn("careful");
                "logged"
            })
    }

    #[test]
    fn callers_switch() {
        let mut env = TestEnv::new();
        assert_eq!(
            env.call(&router(), Request::get("/who")).body_text(),
            Some("anonymous")
        );
        env.as_staff("bob");
        let who: Caller = env
            .call(&router(), Request::get("/who"))
            .body_json()
            .unwrap();
        assert!(who.is_staff());
        assert_eq!(who.subject, "bob");
        env.sign_in(Caller::new("carol").with_assurance_level(4));
        let who: Caller = env
            .call(&router(), Request::get("/who"))
            .body_json()
            .unwrap();
        assert_eq!((who.subject.as_str(), who.assurance_level), ("carol", 4));
        assert_eq!(env.anonymous().caller(), None);
    }

    #[test]
    fn storage_goes_through_host_semantics() {
        let mut env = TestEnv::new();
        let r = env.call(&router(), Request::put("/kv/a", "12345"));
        assert_eq!(r.status(), 200);
        assert_eq!(env.storage_usage(), 6);
        env.set_storage_quota(10);
        let r = env.call(&router(), Request::put("/kv/b", "123456789"));
        assert_eq!(r.status(), 507);
        assert_eq!(r.error_code().as_deref(), Some("storage_quota_exceeded"));
        env.set_max_value_bytes(2);
        let r = env.call(&router(), Request::put("/kv/a", "123"));
        assert_eq!(r.status(), 413);
        env.set_storage_unavailable(Some("down"));
        assert_eq!(
            env.call(&router(), Request::put("/kv/a", "1")).status(),
            503
        );
        env.set_storage_unavailable(None);
        assert_eq!(env.keys(""), ["a"]);
        assert_eq!(env.stored("a").as_deref(), Some(&b"12345"[..]));
        env.put("seed", Some(b"{\"x\":1}"));
        let seed: serde_json::Value = env.stored_json("seed").unwrap();
        assert_eq!(seed["x"], 1);
        // Direct calls in the test reach the env too.
        assert_eq!(storage::get("a").unwrap().as_deref(), Some(&b"12345"[..]));
    }

    #[test]
    fn credentials_are_stripped_and_names_lowered() {
        let env = TestEnv::new();
        let r = env.call(
            &router(),
            Request::get("/headers")
                .with_header("Authorization", "Bearer x")
                .with_header("Cookie", "a=b")
                .with_header("X-Keep", "1"),
        );
        assert_eq!(r.body_text(), Some("x-keep,x-request-id"));
    }

    #[test]
    fn logs_are_captured() {
        let mut env = TestEnv::new();
        env.call(&router(), Request::get("/log"));
        let logs = env.logs();
        assert_eq!(logs.len(), 2);
        assert_eq!(
            (logs[0].level, logs[0].message.as_str()),
            (Level::Info, "hello 42")
        );
        assert_eq!(logs[1].level, Level::Warn);
        assert!(env.clear_logs().logs().is_empty());
    }

    #[test]
    fn envs_are_isolated_and_outside_calls_fail_softly() {
        let first = TestEnv::new();
        let second = TestEnv::new();
        first.run(|| storage::set("k", b"1")).unwrap();
        assert_eq!(second.stored("k"), None);
        assert_eq!(first.stored("k").as_deref(), Some(&b"1"[..]));
        drop(second);
        drop(first);
        assert!(matches!(
            storage::get("k"),
            Err(storage::StorageError::Unavailable(_))
        ));
        assert_eq!(identity::current_caller(), None);
    }

    #[test]
    fn update_json_retries_compare_and_swap() {
        let _env = TestEnv::new();
        let mut interfered = false;
        let result = storage::update_json("n", 5, |n: Option<u32>| {
            if !interfered {
                // Another request writes between our read and our swap.
                interfered = true;
                storage::set("n", b"10")?;
            }
            Ok::<_, storage::StorageError>(Some(n.unwrap_or(0) + 1))
        });
        assert_eq!(result, Ok(Some(11)));
        assert_eq!(storage::get_json::<u32>("n"), Ok(Some(11)));
        let refused = storage::update_json("n", 5, |_: Option<u32>| Err(Response::conflict("no")));
        assert_eq!(refused.unwrap_err().status(), 409);
        assert_eq!(storage::get_json::<u32>("n"), Ok(Some(11)));
        storage::set("bad", b"nope").unwrap();
        assert!(matches!(
            storage::get_json::<u32>("bad"),
            Err(storage::StorageError::Json(_))
        ));
    }
}
