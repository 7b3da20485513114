//! Reading a guest's answer: the body is copied out while the result is
//! lifted (before the guest's post-return may free it; bounded by the
//! plugin's memory limit), then its length is checked against the plugin's
//! response limit.

use crate::capabilities::{GuestHeader, GuestRequest, GuestResponse, RequestState};
use wasmtime::Store;
use wasmtime::component::{Component, ComponentExportIndex, ComponentType, Instance, Lift};

/// The `handler` interface the host calls (`islet:platform/handler`).
const HANDLER_INTERFACE: &str = "islet:platform/handler@0.1.0";

/// `response` as the guest answered it.
#[derive(ComponentType, Lift)]
#[component(record)]
struct RawResponse {
    status: u16,
    headers: Vec<GuestHeader>,
    /// Copied while lifting: `call` runs the guest's post-return (which may
    /// free the body, as JS guests' does) before it returns, so guest
    /// memory must not be read afterwards. The copy is bounded by the
    /// plugin's memory limit.
    body: Vec<u8>,
}

/// What a handler answered.
pub(super) enum Answer {
    /// A response whose body is within the limit.
    Response(GuestResponse),
    /// The body's size, over the limit: never copied out of the guest.
    TooLarge(usize),
}

/// The index of `component`'s `handle` export.
pub(super) fn handle_index(component: &Component) -> wasmtime::Result<ComponentExportIndex> {
    let (_, interface) = component
        .get_export(None, HANDLER_INTERFACE)
        .ok_or_else(|| wasmtime::format_err!("no export {HANDLER_INTERFACE}"))?;
    let (_, func) = component
        .get_export(Some(&interface), "handle")
        .ok_or_else(|| wasmtime::format_err!("no function {HANDLER_INTERFACE}#handle"))?;
    Ok(func)
}

/// Call the `handle` export (`func`) of `instance` with `request`; answer
/// with the body only when it is at most `limit` bytes.
pub(super) async fn handle_within(
    store: &mut Store<RequestState>,
    instance: &Instance,
    func: &ComponentExportIndex,
    request: &GuestRequest,
    limit: usize,
) -> wasmtime::Result<Answer> {
    let handle = instance.get_typed_func::<(&GuestRequest,), (RawResponse,)>(&mut *store, func)?;
    let (raw,) = handle.call_async(&mut *store, (request,)).await?;
    if raw.body.len() > limit {
        return Ok(Answer::TooLarge(raw.body.len()));
    }
    Ok(Answer::Response(GuestResponse {
        status: raw.status,
        headers: raw.headers,
        body: raw.body,
    }))
}
