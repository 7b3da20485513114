//! The WASI subset a Rust `wasm32-wasip2` guest's std needs, backed by an
//! empty context: no environment, no arguments, no preopened files, no
//! sockets (not even linked), millisecond clocks, and stdout/stderr captured
//! into a small bounded buffer so a panic message can be logged.
//!
//! Waiting (`wasi:io/poll`, which `std::thread::sleep` and every blocking
//! stream call use) never outlasts the call's wall-clock deadline: a wait
//! still pending then is cut and the call ends as a timeout.

use super::RequestState;
use crate::runtime::Meter;
use bytes::Bytes;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream, WasiCli, WasiCliView as _};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx};
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;
use wasmtime_wasi_io::bindings::wasi::io::streams as async_streams;
use wasmtime_wasi_io::poll::DynPollable;

/// WASI interfaces a guest may import. Anything else (sockets, HTTP, ...)
/// is refused at install time.
pub const ALLOWED_INTERFACES: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
];

struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

/// Link the allowed WASI interfaces (the waiting ones asynchronous: a guest
/// that sleeps or polls gives its worker back).
pub fn add_to_linker(l: &mut Linker<RequestState>) -> wasmtime::Result<()> {
    type T = RequestState;
    wasmtime_wasi_io_error(l)?;
    async_poll::add_to_linker::<T, DeadlineIo>(l, |t| BoundedPoll {
        table: &mut t.table,
        meter: &mut t.meter,
    })?;
    async_streams::add_to_linker::<T, HasIo>(l, |t| &mut t.table)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.wasi.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.wasi.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.wasi.random())?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    Ok(())
}

struct DeadlineIo;

impl HasData for DeadlineIo {
    type Data<'a> = BoundedPoll<'a>;
}

/// `wasi:io/poll` of one call, every wait bounded by the call's deadline.
pub struct BoundedPoll<'a> {
    table: &'a mut ResourceTable,
    meter: &'a mut Meter,
}

/// Wait for `work` until `meter`'s deadline; past it, mark the call timed
/// out and trap.
async fn until_deadline<R>(
    meter: &mut Meter,
    work: impl Future<Output = wasmtime::Result<R>>,
) -> wasmtime::Result<R> {
    let deadline = tokio::time::Instant::from_std(meter.deadline());
    match tokio::time::timeout_at(deadline, work).await {
        Ok(answer) => answer,
        Err(_) => {
            meter.cut_at_deadline();
            Err(wasmtime::format_err!(
                "the call's wall-clock deadline passed while it waited in wasi:io/poll"
            ))
        }
    }
}

impl async_poll::Host for BoundedPoll<'_> {
    async fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        until_deadline(self.meter, async_poll::Host::poll(self.table, pollables)).await
    }
}

impl async_poll::HostPollable for BoundedPoll<'_> {
    async fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        async_poll::HostPollable::ready(self.table, pollable).await
    }

    async fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        until_deadline(
            self.meter,
            async_poll::HostPollable::block(self.table, pollable),
        )
        .await
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.table, pollable)
    }
}

fn wasmtime_wasi_io_error(l: &mut Linker<RequestState>) -> wasmtime::Result<()> {
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<RequestState, HasIo>(l, |t| {
        &mut t.table
    })
}

/// The empty WASI context of one request, writing stdout and stderr to `output`.
pub fn empty_ctx(output: &CapturedOutput) -> WasiCtx {
    WasiCtx::builder()
        .stdout(output.clone())
        .stderr(output.clone())
        .wall_clock(MillisecondWallClock)
        .monotonic_clock(MillisecondMonotonicClock::new())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// A bounded buffer for a guest's stdout and stderr: keeps the first
/// `capacity` bytes and quietly drops the rest, so printing never fails.
#[derive(Clone)]
pub struct CapturedOutput {
    buffer: Arc<Mutex<Vec<u8>>>,
    capacity: usize,
}

impl CapturedOutput {
    /// A buffer keeping at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        CapturedOutput {
            buffer: Arc::new(Mutex::new(Vec::new())),
            capacity,
        }
    }

    /// What the guest wrote so far, lossily decoded.
    pub fn text(&self) -> String {
        match self.buffer.lock() {
            Ok(buf) => String::from_utf8_lossy(&buf).into_owned(),
            Err(_) => String::new(),
        }
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(tokio::io::sink())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        if let Ok(mut buf) = self.buffer.lock() {
            let room = self.capacity.saturating_sub(buf.len());
            buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

const MILLI: Duration = Duration::from_millis(1);

/// Wall clock rounded down to the millisecond: enough for timestamps,
/// too coarse for timing attacks.
struct MillisecondWallClock;

impl HostWallClock for MillisecondWallClock {
    fn resolution(&self) -> Duration {
        MILLI
    }

    fn now(&self) -> Duration {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Duration::from_millis(now.as_millis() as u64)
    }
}

/// Monotonic clock rounded down to the millisecond.
struct MillisecondMonotonicClock {
    start: Instant,
}

impl MillisecondMonotonicClock {
    fn new() -> Self {
        MillisecondMonotonicClock {
            start: Instant::now(),
        }
    }
}

impl HostMonotonicClock for MillisecondMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        let ms = self.start.elapsed().as_millis() as u64;
        ms.saturating_mul(1_000_000)
    }
}
