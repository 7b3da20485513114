//! Reading a guest's answer without copying an oversized body: the body is
//! looked at in the guest's memory, its length checked against the plugin's
//! limit, and copied out only when it fits.

use crate::capabilities::{GuestHeader, GuestRequest, GuestResponse, RequestState};
use wasmtime::Store;
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentType, Instance, Lift, WasmList,
};

/// The `handler` interface the host calls (`islet:platform/handler`).
const HANDLER_INTERFACE: &str = "islet:platform/handler@0.1.0";

/// `response` as the guest left it: the body still in its memory.
#[derive(ComponentType, Lift)]
#[component(record)]
struct RawResponse {
    status: u16,
    headers: Vec<GuestHeader>,
    body: WasmList<u8>,
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

/// Call the `handle` export (`func`) of `instance` with `request`; copy the
/// body out only when it is at most `limit` bytes.
pub(super) fn handle_within(
    store: &mut Store<RequestState>,
    instance: &Instance,
    func: &ComponentExportIndex,
    request: &GuestRequest,
    limit: usize,
) -> wasmtime::Result<Answer> {
    let handle = instance.get_typed_func::<(&GuestRequest,), (RawResponse,)>(&mut *store, func)?;
    let (raw,) = handle.call(&mut *store, (request,))?;
    if raw.body.len() > limit {
        return Ok(Answer::TooLarge(raw.body.len()));
    }
    let body = raw.body.as_le_slice(&*store).to_vec();
    Ok(Answer::Response(GuestResponse {
        status: raw.status,
        headers: raw.headers,
        body,
    }))
}
