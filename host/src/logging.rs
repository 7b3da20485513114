//! The host's log output. In the text format every field value, the
//! message included, is escaped: line breaks, carriage returns, ANSI
//! escapes and other control characters a plugin (or a client) put into a
//! logged value appear as `\n`, `\r`, `\x1b`..., so nobody can forge a host
//! log line or repaint an operator's terminal. The JSON format escapes by
//! construction.

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// Install the process's logger: `RUST_LOG` (default `info`) to stderr,
/// as JSON lines or as escaped text.
pub fn init(json: bool) {
    init_with(json, "info", None);
}

/// A log file that never grows past `keep + 1` files of about `max_bytes`
/// each: when the current file passes `max_bytes` it becomes `PATH.1`, the
/// older ones move up, and the oldest beyond `keep` is deleted.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// The current file.
    pub path: std::path::PathBuf,
    /// Size at which the current file is rotated.
    pub max_bytes: usize,
    /// Rotated files kept.
    pub keep: usize,
}

impl LogFile {
    fn open(&self) -> std::sync::Mutex<FileRotate<AppendCount>> {
        std::sync::Mutex::new(FileRotate::new(
            &self.path,
            AppendCount::new(self.keep.max(1)),
            ContentLimit::BytesSurpassed(self.max_bytes.max(1)),
            Compression::None,
            None,
        ))
    }
}

/// [`init`] with `default_filter` when `RUST_LOG` is not set, writing to
/// `file` (rotated by size) instead of stderr when given.
pub fn init_with(json: bool, default_filter: &str, file: Option<&LogFile>) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let json_layer = |writer| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(writer)
    };
    match (json, file) {
        (true, Some(file)) => registry
            .with(json_layer(BoxMakeWriter::new(file.open())))
            .init(),
        (true, None) => registry
            .with(json_layer(BoxMakeWriter::new(std::io::stderr)))
            .init(),
        (false, Some(file)) => registry.with(text_layer(file.open(), false)).init(),
        (false, None) => {
            use std::io::IsTerminal as _;
            let colors = std::io::stderr().is_terminal();
            registry.with(text_layer(std::io::stderr, colors)).init();
        }
    }
}

/// The text log layer writing to `writer`, every field escaped; `colors`
/// for a terminal.
pub fn text_layer<S, W>(writer: W, colors: bool) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(EscapedFields)
        .with_ansi(colors)
        .with_writer(writer)
}

/// `value` with control characters (C0, DEL, C1) and Unicode line and
/// paragraph separators written as escapes.
pub fn escape_control(value: &str, out: &mut impl fmt::Write) -> fmt::Result {
    for c in value.chars() {
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            '\x1b' => out.write_str("\\x1b")?,
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                write!(out, "\\u{{{:x}}}", c as u32)?
            }
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

/// Formats fields as `name=value` (the message bare), escaped.
#[derive(Debug, Default, Clone, Copy)]
pub struct EscapedFields;

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Escaping {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Escaping<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Visit for Escaping<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let text = format!("{value:?}");
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = (|| {
            self.writer.write_str(separator)?;
            if field.name() != "message" {
                write!(self.writer, "{}=", field.name().trim_start_matches("r#"))?;
            }
            escape_control(&text, &mut self.writer)
        })();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_forged_line_stays_inside_its_own_log_line() {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::registry()
            .with(text_layer(move || writer.clone(), false).with_filter(EnvFilter::new("trace")));
        let forged = "fine\n2026-11-30T13:00:00.000000Z  INFO islet: admin token accepted\r\x1b[2Kgone\u{2028}x";
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", path = %forged);
            let _in = span.enter();
            tracing::info!(target: "islet::guest", plugin = "p", detail = %forged, "{forged}");
        });
        let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(!out.contains('\r') && !out.contains('\x1b') && !out.contains('\u{2028}'));
        assert!(
            out.contains("fine\\n2026-11-30T13:00:00.000000Z  INFO islet"),
            "{out}"
        );
        assert!(out.contains("\\r\\x1b[2Kgone\\u{2028}x"), "{out}");
        assert!(out.contains("detail=fine\\n"), "{out}");
        assert!(out.contains("path=fine\\n"), "span fields too: {out}");
        assert!(out.contains("plugin=\"p\""), "{out}");
    }
}
