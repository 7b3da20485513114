//! The capabilities a mini-service may import, one module each, and the
//! per-request state they live in.
//!
//! Each capability owns its state and offers one `add_to_linker`; the
//! runtime links the WASI subset plus exactly the capabilities a plugin
//! declared and was granted.

pub mod identity;
pub mod log;
pub mod notification;
pub mod payment;
pub mod storage;
pub mod wasi;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Host bindings generated from `wit/` (the `paying-service` world: every
/// import, the handler export and the optional `payment-events` export).
#[allow(missing_docs, reason = "generated code; the WIT documents it")]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "paying-service",
        // Guests are called asynchronously (they yield at epoch ticks);
        // the host functions they import answer synchronously.
        exports: { default: async },
    });
}

pub use bindings::exports::islet::platform::handler::GuestIndices as HandlerIndices;
pub use bindings::exports::islet::platform::handler::{
    Request as GuestRequest, Response as GuestResponse,
};
pub use bindings::exports::islet::platform::payment_events::{
    Event as GuestEvent, EventKind as GuestEventKind, GuestIndices as PaymentEventsIndices,
};
pub use bindings::islet::platform::types::Header as GuestHeader;

/// Everything one request's instance can reach. Built fresh per request and
/// dropped with the instance.
pub struct RequestState {
    /// The empty WASI context (no env, args, files or sockets).
    pub wasi: WasiCtx,
    /// WASI resources (streams) of this instance.
    pub table: ResourceTable,
    /// `islet:platform/identity`.
    pub identity: identity::IdentityState,
    /// `islet:platform/storage`.
    pub storage: storage::StorageState,
    /// `islet:platform/log`.
    pub log: log::LogState,
    /// `islet:platform/payment`.
    pub payment: payment::PaymentState,
    /// `islet:platform/notification`.
    pub notification: notification::NotificationState,
    /// Caps the instance's memories and tables together.
    pub limiter: crate::runtime::MemoryLimiter,
    /// CPU and wall-clock budget of the call.
    pub meter: crate::runtime::Meter,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Link the WASI subset and every capability into `linker`. Which
/// capabilities answer is decided per version by its grants (each state
/// carries a `granted` flag); imports beyond the manifest's declaration are
/// refused at upload.
pub fn link(linker: &mut Linker<RequestState>) -> wasmtime::Result<()> {
    wasi::add_to_linker(linker)?;
    identity::add_to_linker(linker)?;
    storage::add_to_linker(linker)?;
    payment::add_to_linker(linker)?;
    notification::add_to_linker(linker)?;
    log::add_to_linker(linker)
}
