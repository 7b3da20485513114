//! Leveled log lines attached to the request: the `islet:platform/log`
//! capability.
//!
//! Needs `log` in the manifest's `capabilities`. The macros
//! [`trace!`](crate::trace), [`debug!`](crate::debug), [`info!`](crate::info),
//! [`warn!`](crate::warn) and [`error!`](crate::error) take format arguments.
//! On a native target (tests) lines go to the current
//! [`TestEnv`](crate::testing::TestEnv), or to stderr outside one.

/// How important a log line is.
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
pub fn write(level: Level, message: &str) {
    crate::sys::log_write(level, message);
}

/// Write one line at [`Level::Trace`].
pub fn trace(message: &str) {
    write(Level::Trace, message);
}

/// Write one line at [`Level::Debug`].
pub fn debug(message: &str) {
    write(Level::Debug, message);
}

/// Write one line at [`Level::Info`].
pub fn info(message: &str) {
    write(Level::Info, message);
}

/// Write one line at [`Level::Warn`].
pub fn warn(message: &str) {
    write(Level::Warn, message);
}

/// Write one line at [`Level::Error`].
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
