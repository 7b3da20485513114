//! `islet:platform/log`: guest log lines, tagged with plugin and request,
//! and bounded so no plugin can flood the host's log.
//!
//! Three caps hold, whatever the guest does: a line's length (cut with a
//! marker), the lines one request keeps, and a per-plugin rate (a token
//! bucket shared by all of the plugin's requests). What goes over is
//! counted (`islet_guest_log_dropped_total{plugin,reason}`) and reported in
//! one summary line at the end of the request, at most one per plugin per
//! [`SUMMARY_EVERY`] (counts of a quieter request are carried into the next
//! summary). Control characters are escaped by the log format
//! ([`crate::logging`]).

use super::RequestState;
use super::bindings::islet::platform::log::{self, Level};
use dashmap::DashMap;
use governor::{DefaultDirectRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker};

/// Shortest interval between two summary lines of one plugin.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(1);
/// Bytes an escaped character may take in the log (`\u{2028}`).
const ESCAPED_CHAR_BYTES: usize = 8;

/// The host's caps on guest log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Longest line kept, in bytes as written to the log (escapes
    /// counted); the rest is cut and a marker says how much.
    pub max_line_bytes: usize,
    /// Lines one request may write; later ones are counted and dropped.
    pub max_lines_per_request: u32,
    /// Lines per second one plugin may write, all its requests together.
    pub lines_per_second: u32,
    /// Lines one plugin may write at once above its rate.
    pub burst: u32,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            max_line_bytes: 2048,
            max_lines_per_request: 100,
            lines_per_second: 20,
            burst: 100,
        }
    }
}

/// One plugin's bucket and the drops not yet reported.
struct PluginLog {
    bucket: DefaultDirectRateLimiter,
    over_request_cap: AtomicU64,
    over_rate: AtomicU64,
    last_summary: Mutex<Option<Instant>>,
}

/// The host-wide guest log gate: every plugin's rate bucket and pending
/// drop counts.
pub struct LogGate {
    limits: LogLimits,
    plugins: DashMap<Arc<str>, Arc<PluginLog>>,
}

impl LogGate {
    /// A gate enforcing `limits`.
    pub fn new(limits: LogLimits) -> Self {
        LogGate {
            limits,
            plugins: DashMap::new(),
        }
    }

    /// The caps in force.
    pub fn limits(&self) -> LogLimits {
        self.limits
    }

    fn plugin(&self, plugin_id: &Arc<str>) -> Arc<PluginLog> {
        if let Some(p) = self.plugins.get(plugin_id) {
            return p.clone();
        }
        let nonzero = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(nonzero(self.limits.lines_per_second))
            .allow_burst(nonzero(self.limits.burst));
        self.plugins
            .entry(plugin_id.clone())
            .or_insert_with(|| {
                Arc::new(PluginLog {
                    bucket: DefaultDirectRateLimiter::direct(quota),
                    over_request_cap: AtomicU64::new(0),
                    over_rate: AtomicU64::new(0),
                    last_summary: Mutex::new(None),
                })
            })
            .clone()
    }
}

impl Default for LogGate {
    fn default() -> Self {
        LogGate::new(LogLimits::default())
    }
}

/// Log state of one request.
pub struct LogState {
    plugin_id: Arc<str>,
    version: Arc<str>,
    request_id: Arc<str>,
    granted: bool,
    gate: Arc<LogGate>,
    plugin: Option<Arc<PluginLog>>,
    /// Lines written (kept or dropped).
    pub lines: u32,
    over_request_cap: u64,
    over_rate: u64,
}

impl LogState {
    /// State for one request to one plugin version under `gate`; lines are
    /// dropped when not `granted`.
    pub fn new(
        plugin_id: Arc<str>,
        version: Arc<str>,
        request_id: Arc<str>,
        granted: bool,
        gate: Arc<LogGate>,
    ) -> Self {
        LogState {
            plugin_id,
            version,
            request_id,
            granted,
            gate,
            plugin: None,
            lines: 0,
            over_request_cap: 0,
            over_rate: 0,
        }
    }

    /// Whether the next line may be written; counts it dropped otherwise.
    fn admit(&mut self) -> bool {
        if self.lines > self.gate.limits.max_lines_per_request {
            self.over_request_cap += 1;
            return false;
        }
        let plugin = self
            .plugin
            .get_or_insert_with(|| self.gate.plugin(&self.plugin_id));
        if plugin.bucket.check().is_err() {
            self.over_rate += 1;
            return false;
        }
        true
    }

    /// Count this request's drops and write the plugin's summary line when
    /// one is due.
    fn report(&mut self) {
        let plugin = match self.plugin.take() {
            Some(p) => p,
            None => self.gate.plugin(&self.plugin_id),
        };
        let id = self.plugin_id.to_string();
        for (reason, n, pending) in [
            (
                "request_cap",
                self.over_request_cap,
                &plugin.over_request_cap,
            ),
            ("rate", self.over_rate, &plugin.over_rate),
        ] {
            if n > 0 {
                metrics::counter!("islet_guest_log_dropped_total", "plugin" => id.clone(), "reason" => reason)
                    .increment(n);
                pending.fetch_add(n, Ordering::Relaxed);
            }
        }
        let now = Instant::now();
        {
            let Ok(mut last) = plugin.last_summary.lock() else {
                return;
            };
            if last.is_some_and(|t| now.duration_since(t) < SUMMARY_EVERY) {
                return;
            }
            let cap = plugin.over_request_cap.swap(0, Ordering::Relaxed);
            let rate = plugin.over_rate.swap(0, Ordering::Relaxed);
            if cap + rate == 0 {
                return;
            }
            *last = Some(now);
            let limits = self.gate.limits;
            let (version, request_id) = (&*self.version, &*self.request_id);
            tracing::warn!(
                target: "islet::guest",
                plugin = id,
                version,
                request_id,
                dropped = cap + rate,
                "plugin {id} dropped {} log lines: {cap} over {} per request, {rate} over its rate of {} lines/s",
                cap + rate,
                limits.max_lines_per_request,
                limits.lines_per_second,
            );
        }
    }
}

impl Drop for LogState {
    fn drop(&mut self) {
        if self.over_request_cap + self.over_rate > 0 || self.plugin.is_some() {
            self.report();
        }
    }
}

/// `message` cut to at most `max` bytes as escaped in the log, with a
/// marker saying how many bytes were cut.
pub(crate) fn truncate(message: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if message.len() <= max / ESCAPED_CHAR_BYTES {
        return message.into();
    }
    let mut width = 0;
    for (at, c) in message.char_indices() {
        width += if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            ESCAPED_CHAR_BYTES
        } else {
            c.len_utf8()
        };
        if width > max {
            return format!(
                "{}… [{} more bytes cut]",
                &message[..at],
                message.len() - at
            )
            .into();
        }
    }
    message.into()
}

impl log::Host for LogState {
    fn write(&mut self, level: Level, message: String) {
        self.lines = self.lines.saturating_add(1);
        if !self.granted || !self.admit() {
            return;
        }
        let message = truncate(&message, self.gate.limits.max_line_bytes);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_with_a_marker_counting_escapes() {
        assert_eq!(truncate("short", 2048), "short");
        let long = "a".repeat(5000);
        let cut = truncate(&long, 2048);
        assert!(cut.starts_with(&"a".repeat(2048)), "{cut}");
        assert!(cut.ends_with("… [2952 more bytes cut]"), "{cut}");
        // Control characters take several bytes once escaped.
        let controls = "\x1b".repeat(1000);
        let cut = truncate(&controls, 2048);
        assert_eq!(cut.chars().filter(|c| *c == '\x1b').count(), 256);
        // Never inside a character.
        let wide = "界".repeat(1000);
        assert!(truncate(&wide, 2048).starts_with(&"界".repeat(682)));
    }

    fn state(gate: &Arc<LogGate>, plugin: &str) -> LogState {
        LogState::new(
            plugin.into(),
            "1.0.0".into(),
            "r".into(),
            true,
            gate.clone(),
        )
    }

    #[test]
    fn requests_and_plugins_have_their_own_caps() {
        let gate = Arc::new(LogGate::new(LogLimits {
            max_line_bytes: 64,
            max_lines_per_request: 5,
            lines_per_second: 1,
            burst: 8,
        }));
        let mut a = state(&gate, "flood");
        for _ in 0..1000 {
            log::Host::write(&mut a, Level::Info, "x".into());
        }
        assert_eq!((a.lines, a.over_request_cap, a.over_rate), (1000, 995, 0));
        drop(a);
        // The plugin's bucket has 3 lines left; a second request gets them.
        let mut b = state(&gate, "flood");
        for _ in 0..5 {
            log::Host::write(&mut b, Level::Info, "x".into());
        }
        assert_eq!((b.over_request_cap, b.over_rate), (0, 2));
        // Another plugin is untouched.
        let mut c = state(&gate, "hello");
        for _ in 0..5 {
            log::Host::write(&mut c, Level::Info, "x".into());
        }
        assert_eq!((c.over_request_cap, c.over_rate), (0, 0));
    }
}
