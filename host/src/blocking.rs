//! Blocking work (a disk sync, a wait on another runtime) run without
//! holding an async worker: guests run on the Tokio workers, so a host call
//! that blocks hands its worker's other tasks to another thread first.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Run `work` here; on a multi-thread runtime's worker inside
/// `block_in_place`, so the worker's other tasks move to another thread
/// meanwhile. Elsewhere (no runtime, a blocking thread) it simply runs.
pub fn off_worker<R>(work: impl FnOnce() -> R) -> R {
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}
