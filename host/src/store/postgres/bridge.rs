//! The synchronous `KvStore` calls of the host, answered by async PostgreSQL
//! work on a small runtime of the store's own.
//!
//! The trait is synchronous (sled answers in microseconds, and guests call it
//! from their own threads), so every call waits for its answer. Waiting never
//! holds a Tokio worker of the host: on a worker of a multi-thread runtime
//! the wait happens inside `block_in_place` (the worker's other tasks move
//! elsewhere), and the connections themselves are driven by the store's own
//! runtime, so a host whose workers all wait still gets its answers.

use super::super::StoreError;
use std::future::Future;
use std::time::Duration;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

/// Longest a store call may take before it fails as unavailable.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A runtime of the store's own and a way to wait for work on it.
pub(crate) struct Bridge {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl Bridge {
    /// A runtime with `threads` workers.
    pub(crate) fn new(threads: usize) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("islet-store")
            .enable_all()
            .build()
            .map_err(|e| StoreError(format!("cannot start the store's runtime: {e}")))?;
        let handle = runtime.handle().clone();
        Ok(Bridge {
            runtime: Some(runtime),
            handle,
        })
    }

    /// Run `work` in the store's runtime and wait (at most [`CALL_TIMEOUT`],
    /// and never past the deadline of the guest call on this thread, see
    /// [`crate::deadline`]) for its answer. Where the thread may block (outside any runtime, on
    /// a blocking thread, or on a multi-thread worker inside
    /// `block_in_place`) the work runs right here, in the store runtime's
    /// context: no hand-over to another thread and back. Only on a
    /// current-thread runtime is it handed to the store's workers.
    pub(crate) fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let limit = crate::deadline::bound(CALL_TIMEOUT);
        let bounded = async move {
            match tokio::time::timeout(limit, work).await {
                Ok(answer) => answer,
                Err(_) => Err(StoreError(format!(
                    "PostgreSQL did not answer within {} ms",
                    limit.as_millis()
                ))),
            }
        };
        let answer = self.wait(bounded);
        if answer.is_err() && crate::deadline::passed() {
            crate::deadline::mark_cut();
        }
        answer
    }

    fn wait<T>(
        &self,
        bounded: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
    {
        match Handle::try_current() {
            Err(_) => self.handle.block_on(bounded),
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.handle.block_on(bounded))
            }
            Ok(_) => {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                self.handle.spawn(async move {
                    let _ = tx.send(bounded.await);
                });
                rx.recv()
                    .unwrap_or_else(|_| Err(StoreError("the store is shutting down".into())))
            }
        }
    }

    /// The store runtime's handle (for background tasks such as listeners).
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Dropping a runtime from async code panics; this one needs no
        // orderly end (every call already has its answer).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_guest_calls_store_wait_ends_at_its_deadline() {
        let bridge = Bridge::new(1).expect("runtime");
        let scope = crate::deadline::enter(Instant::now() + Duration::from_millis(200));
        let started = Instant::now();
        let answer = bridge.run(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        });
        let took = started.elapsed();
        assert!(answer.is_err());
        assert!(
            took >= Duration::from_millis(190) && took < Duration::from_secs(1),
            "{took:?}"
        );
        assert!(scope.cut(), "the guest call ends as a timeout");
        drop(scope);
        // Without a guest call the usual limit applies (and nothing is cut).
        assert_eq!(bridge.run(async { Ok(7) }).ok(), Some(7));
        assert!(!crate::deadline::was_cut());
    }
}
