//! `islet:platform/log`: guest log lines, tagged with plugin and request.

use super::RequestState;
use super::bindings::islet::platform::log::{self, Level};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// Longest line kept; the rest is cut.
pub const MAX_LINE_BYTES: usize = 4096;
/// Lines kept per request; later ones are counted and dropped.
pub const MAX_LINES_PER_REQUEST: u32 = 1000;

/// Log state of one request.
pub struct LogState {
    plugin_id: Arc<str>,
    version: Arc<str>,
    request_id: Arc<str>,
    granted: bool,
    /// Lines written (kept or dropped).
    pub lines: u32,
}

impl LogState {
    /// State for one request to one plugin version; lines are dropped
    /// when not `granted`.
    pub fn new(
        plugin_id: Arc<str>,
        version: Arc<str>,
        request_id: Arc<str>,
        granted: bool,
    ) -> Self {
        LogState {
            plugin_id,
            version,
            request_id,
            granted,
            lines: 0,
        }
    }
}

fn truncate(message: &str) -> &str {
    if message.len() <= MAX_LINE_BYTES {
        return message;
    }
    let mut end = MAX_LINE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

impl log::Host for LogState {
    fn write(&mut self, level: Level, message: String) {
        self.lines += 1;
        if !self.granted || self.lines > MAX_LINES_PER_REQUEST {
            return;
        }
        let message = truncate(&message);
        let (plugin, version, request_id) = (&*self.plugin_id, &*self.version, &*self.request_id);
        macro_rules! emit {
            ($lvl:expr) => {
                tracing::event!(target: "islet::guest", $lvl, plugin, version, request_id, "{message}")
            };
        }
        match level {
            Level::Trace => emit!(tracing::Level::TRACE),
            Level::Debug => emit!(tracing::Level::DEBUG),
            Level::Info => emit!(tracing::Level::INFO),
            Level::Warn => emit!(tracing::Level::WARN),
            Level::Error => emit!(tracing::Level::ERROR),
        }
    }
}

/// Link `islet:platform/log`.
pub fn add_to_linker(linker: &mut Linker<RequestState>) -> wasmtime::Result<()> {
    log::add_to_linker::<_, HasSelf<LogState>>(linker, |s| &mut s.log)
}
