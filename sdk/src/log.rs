//! Leveled log lines attached to the request: the `islet:platform/log`
//! capability.
//!
//! Needs `log` in the manifest's `capabilities`. The macros
//! [`trace!`](crate::trace), [`debug!`](crate::debug), [`info!`](crate::info),
//! [`warn!`](crate::warn) and [`error!`](crate::error) take format arguments.
//! On a native target (tests) lines go to the current
//! [`TestEnv`](crate::testing::TestEnv), or to stderr outside one.
//!
//! ```
//! use islet_sdk::log::{self, Level};
//!
//! let env = islet_sdk::testing::TestEnv::new();
//! islet_sdk::info!("order {} paid", "o1");
//! log::warn("no message sent (no-consent)");
//! assert_eq!(env.logs()[1].level, Level::Warn);
//! ```

/// How important a log line is.
///
/// ```
/// use islet_sdk::log::{self, Level};
/// # let env = islet_sdk::testing::TestEnv::new();
/// log::write(Level::Warn, "slow answer");
/// assert_eq!(env.logs()[0].level, Level::Warn);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the service handled.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// The lower-case name, e.g. `warn`.
    ///
    /// ```
    /// assert_eq!(islet_sdk::log::Level::Info.as_str(), "info");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Write one line at `level`. The host truncates long lines.
///
/// ```
/// use islet_sdk::log::{self, Level};
/// # let env = islet_sdk::testing::TestEnv::new();
/// log::write(Level::Info, "started");
/// assert_eq!(env.logs()[0].message, "started");
/// ```
pub fn write(level: Level, message: &str) {
    crate::sys::log_write(level, message);
}

/// Write one line at [`Level::Trace`].
///
/// ```
/// # let env = islet_sdk::testing::TestEnv::new();
/// islet_sdk::log::trace("order o1 handled");
/// islet_sdk::trace!("order {} handled", "o1"); // with format! arguments
/// assert_eq!(env.logs().len(), 2);
/// ```
pub fn trace(message: &str) {
    write(Level::Trace, message);
}

/// Write one line at [`Level::Debug`].
///
/// ```
/// # let env = islet_sdk::testing::TestEnv::new();
/// islet_sdk::log::debug("order o1 handled");
/// islet_sdk::debug!("order {} handled", "o1"); // with format! arguments
/// assert_eq!(env.logs().len(), 2);
/// ```
pub fn debug(message: &str) {
    write(Level::Debug, message);
}

/// Write one line at [`Level::Info`].
///
/// ```
/// # let env = islet_sdk::testing::TestEnv::new();
/// islet_sdk::log::info("order o1 handled");
/// islet_sdk::info!("order {} handled", "o1"); // with format! arguments
/// assert_eq!(env.logs().len(), 2);
/// ```
pub fn info(message: &str) {
    write(Level::Info, message);
}

/// Write one line at [`Level::Warn`].
///
/// ```
/// # let env = islet_sdk::testing::TestEnv::new();
/// islet_sdk::log::warn("order o1 handled");
/// islet_sdk::warn!("order {} handled", "o1"); // with format! arguments
/// assert_eq!(env.logs().len(), 2);
/// ```
pub fn warn(message: &str) {
    write(Level::Warn, message);
}

/// Write one line at [`Level::Error`].
///
/// ```
/// # let env = islet_sdk::testing::TestEnv::new();
/// islet_sdk::log::error("order o1 handled");
/// islet_sdk::error!("order {} handled", "o1"); // with format! arguments
/// assert_eq!(env.logs().len(), 2);
/// ```
pub fn error(message: &str) {
    write(Level::Error, message);
}

/// Log a formatted line at trace level: `islet_sdk::trace!("x = {x}")`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Trace, &::std::format!($($arg)*)) };
}

/// Log a formatted line at debug level: `islet_sdk::debug!("x = {x}")`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)*)) };
}

/// Log a formatted line at info level: `islet_sdk::info!("filed {id}")`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)*)) };
}

/// Log a formatted line at warn level: `islet_sdk::warn!("retrying {n}")`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)*)) };
}

/// Log a formatted line at error level: `islet_sdk::error!("failed: {e}")`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)*)) };
}
