//! One request: a fresh instance with its own store, limits and capability
//! state, the call, and a classification of anything that went wrong.

use super::lane::LaneTurn;
use super::meter::{CallClock, Interrupt, MemoryLimiter, Meter};
use super::metered::Metered;
use super::{FUEL_PER_CPU_MS, Interruption, PreparedPlugin, Runtime};
use crate::auth::Citizen;
use crate::capabilities::identity::IdentityState;
use crate::capabilities::log::LogState;
use crate::capabilities::notification::NotificationState;
use crate::capabilities::payment::PaymentState;
use crate::capabilities::storage::StorageState;
use crate::capabilities::wasi::{CapturedOutput, empty_ctx};
use crate::capabilities::{GuestEvent, GuestRequest, GuestResponse, RequestState};
use crate::manifest::Capability;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Instance, ResourceTable};
use wasmtime::{Store, Trap};

/// Bytes of guest stdout/stderr kept for the log.
const OUTPUT_CAPTURE_BYTES: usize = 16 * 1024;

/// Peak memory above which an instance's teardown is timed (what a pool
/// slot keeps resident, 2 MiB, is reset in place; beyond it pages are given
/// back to the kernel).
const TEARDOWN_MEASURED_ABOVE: usize = 4 << 20;

/// What a call needs besides the plugin.
pub struct CallInput {
    /// The request for the guest (credentials already removed).
    pub request: GuestRequest,
    /// The verified caller, if any.
    pub citizen: Option<Arc<Citizen>>,
    /// Request id for logs.
    pub request_id: Arc<str>,
}

/// A successful call and what it cost.
#[derive(Debug)]
pub struct CallOutput {
    /// The guest's response (body within the plugin's limit).
    pub response: GuestResponse,
    /// CPU time used by the call (instantiation included).
    pub cpu: Duration,
    /// Wall time of the call.
    pub wall: Duration,
    /// Peak linear memory of the instance.
    pub peak_memory: usize,
    /// Host calls made, per capability: identity, storage, log, payment,
    /// notification.
    pub capability_calls: [u32; 5],
}

/// A guest failure, confined to its own request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestFault {
    /// It used up its CPU time.
    #[error("the mini-service exceeded its CPU limit of {0} ms")]
    CpuLimit(u64),
    /// It ran past the wall-clock timeout.
    #[error("the mini-service did not answer within {0} ms")]
    Timeout(u64),
    /// It tried to use more memory than allowed.
    #[error("the mini-service exceeded its memory limit of {0} MiB")]
    MemoryLimit(u64),
    /// It panicked.
    #[error("the mini-service panicked")]
    Panic(String),
    /// It trapped.
    #[error("the mini-service crashed")]
    Trap(String),
    /// Its response body is larger than allowed.
    #[error("the mini-service's response of {size} bytes exceeds its limit of {limit} bytes")]
    ResponseTooLarge {
        /// Actual size.
        size: usize,
        /// Allowed size.
        limit: usize,
    },
    /// Its response is not valid HTTP (status, headers).
    #[error("the mini-service returned an invalid response: {0}")]
    InvalidResponse(String),
    /// No instance slot was free.
    #[error("the host is at capacity; retry shortly")]
    Busy,
    /// The store could not make the request's writes durable.
    #[error("the host's store is unavailable; retry shortly")]
    StoreUnavailable(String),
    /// Instantiation failed for another reason.
    #[error("the mini-service could not be started")]
    Instantiate(String),
}

impl GuestFault {
    /// Whether the guest caused it (not the host: a full pool, the store).
    pub fn is_the_guests(&self) -> bool {
        !matches!(self, GuestFault::Busy | GuestFault::StoreUnavailable(_))
    }

    /// Detail for the log (never sent to the client).
    pub fn detail(&self) -> Option<&str> {
        match self {
            GuestFault::Panic(d)
            | GuestFault::Trap(d)
            | GuestFault::Instantiate(d)
            | GuestFault::StoreUnavailable(d) => Some(d),
            _ => None,
        }
    }
}

/// What a finished call cost.
struct Costs {
    cpu: Duration,
    wall: Duration,
    peak_memory: usize,
    capability_calls: [u32; 5],
}

/// What a call does once its instance exists.
enum Work<'p> {
    /// `handler.handle(request)`, the body kept only within `limit`.
    Handle {
        func: &'p wasmtime::component::ComponentExportIndex,
        request: GuestRequest,
        limit: usize,
    },
    /// `payment-events.on-payment(event)`.
    OnPayment {
        events: &'p crate::capabilities::PaymentEventsIndices,
        event: &'p GuestEvent,
    },
}

/// What the guest answered.
enum Done {
    Handled(super::answer::Answer),
    OnPayment(Result<(), String>),
}

impl Work<'_> {
    async fn run(
        self,
        store: &mut Store<RequestState>,
        instance: &Instance,
    ) -> wasmtime::Result<Done> {
        match self {
            Work::Handle {
                func,
                request,
                limit,
            } => super::answer::handle_within(store, instance, func, &request, limit)
                .await
                .map(Done::Handled),
            Work::OnPayment { events, event } => {
                let events = events.load(&mut *store, instance)?;
                events
                    .call_on_payment(&mut *store, event)
                    .await
                    .map(Done::OnPayment)
            }
        }
    }
}

impl Runtime {
    /// Run one request on a fresh instance of `plugin`, on the calling task:
    /// the guest yields to the executor at every epoch tick and is ended at
    /// its CPU budget or wall-clock timeout, whatever it is doing. Nothing of
    /// the instance outlives the call.
    pub async fn call(
        &self,
        plugin: &PreparedPlugin,
        input: CallInput,
    ) -> Result<CallOutput, GuestFault> {
        let limits = plugin.limits;
        let work = Work::Handle {
            func: &plugin.handle,
            request: input.request,
            limit: limits.response_body_bytes(),
        };
        let (done, costs) = self
            .run(plugin, input.citizen, input.request_id, None, work)
            .await?;
        let response = match done {
            Done::Handled(super::answer::Answer::Response(response)) => response,
            Done::OnPayment(_) => {
                return Err(GuestFault::Instantiate(
                    "a request was answered as an event".into(),
                ));
            }
            Done::Handled(super::answer::Answer::TooLarge(size)) => {
                return Err(GuestFault::ResponseTooLarge {
                    size,
                    limit: limits.response_body_bytes(),
                });
            }
        };
        Ok(CallOutput {
            response,
            cpu: costs.cpu,
            wall: costs.wall,
            peak_memory: costs.peak_memory,
            capability_calls: costs.capability_calls,
        })
    }

    /// Deliver a payment event to `plugin` on a fresh instance, with the
    /// same limits as a request (its wall-clock limit cut to `deadline`)
    /// and no caller. `Ok(None)` when the plugin does not export
    /// `payment-events`; `Ok(Some(Err(why)))` when its handler refused
    /// the event.
    pub async fn deliver_event(
        &self,
        plugin: &PreparedPlugin,
        event: &GuestEvent,
        request_id: Arc<str>,
        deadline: Duration,
    ) -> Result<Option<Result<(), String>>, GuestFault> {
        let Some(events) = &plugin.events else {
            return Ok(None);
        };
        let work = Work::OnPayment { events, event };
        match self
            .run(plugin, None, request_id, Some(deadline), work)
            .await?
        {
            (Done::OnPayment(answer), _) => Ok(Some(answer)),
            (Done::Handled(_), _) => Err(GuestFault::Instantiate(
                "an event was answered as a request".into(),
            )),
        }
    }

    async fn run(
        &self,
        plugin: &PreparedPlugin,
        citizen: Option<Arc<Citizen>>,
        request_id: Arc<str>,
        wall_cap: Option<Duration>,
        work: Work<'_>,
    ) -> Result<(Done, Costs), GuestFault> {
        let mut limits = plugin.limits;
        if let Some(cap) = wall_cap {
            let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX).max(1);
            limits.timeout_ms = limits.timeout_ms.min(cap_ms);
        }
        let output = CapturedOutput::new(OUTPUT_CAPTURE_BYTES);
        let clock = Arc::new(CallClock::default());
        let turn = LaneTurn::new(&self.lane, clock.clone());
        let granted = |c| plugin.grants.capabilities.contains(&c);
        let state = RequestState {
            wasi: empty_ctx(&output),
            table: ResourceTable::new(),
            identity: IdentityState::new(
                citizen.clone(),
                plugin.scope.clone(),
                self.services.pairwise.clone(),
                self.services.consents.clone(),
                request_id.clone(),
                granted(Capability::Identity),
            ),
            storage: StorageState::new(
                self.services.store.clone(),
                plugin.namespace.clone(),
                limits.storage_bytes(),
                granted(Capability::Storage),
            ),
            log: LogState::new(
                plugin.scope.id.clone(),
                plugin.scope.version.clone(),
                request_id,
                granted(Capability::Log),
                self.services.guest_log.clone(),
            ),
            payment: PaymentState::new(
                self.services.payments.clone(),
                self.services.consents.clone(),
                plugin.scope.id.clone(),
                citizen,
                self.services.pairwise.clone(),
                granted(Capability::Payment),
            ),
            notification: NotificationState::new(
                self.services.notifications.clone(),
                plugin.scope.clone(),
            ),
            limiter: MemoryLimiter::new(limits.memory_bytes(), turn.clone()),
            meter: Meter::start(limits.cpu(), limits.timeout(), clock.clone(), turn.clone()),
        };
        let mut store = Store::new(&self.engine, state);
        // A version whose recent calls were long or faulted starts long.
        let heavy = plugin.history.is_heavy();
        store.data_mut().meter.long = heavy;
        store.limiter_async(|s| &mut s.limiter);
        match self.interruption {
            Interruption::Epoch => {
                let first = store.data().meter.first_deadline_ticks(self.tick);
                store.set_epoch_deadline(first);
                store.epoch_deadline_callback(|mut cx| {
                    let state = cx.data_mut();
                    let grew_large = state.limiter.grew_large();
                    Ok(state.meter.on_deadline(grew_large))
                });
            }
            Interruption::Fuel => {
                let fuel = limits.cpu_ms.saturating_mul(FUEL_PER_CPU_MS);
                store
                    .set_fuel(fuel)
                    .map_err(|e| GuestFault::Instantiate(format!("{e:#}")))?;
                // Yield to the executor every slice of fuel, like an epoch tick.
                store
                    .fuel_async_yield_interval(Some(FUEL_PER_CPU_MS))
                    .map_err(|e| GuestFault::Instantiate(format!("{e:#}")))?;
            }
            Interruption::Unbounded => {}
        }
        let result = self
            .drive(&mut store, plugin, work, &turn, &output, &limits)
            .await;
        // Tearing the instance down gives its memory back to the kernel:
        // CPU time of this call, charged like the rest of it. A small
        // instance's teardown is a slot reset, not worth two clock reads.
        let measured = turn.was_long() || store.data().limiter.peak() > TEARDOWN_MEASURED_ABOVE;
        let before = measured.then(super::meter::thread_cpu_time);
        drop(store);
        let teardown = before.map_or(Duration::ZERO, |before| {
            super::meter::thread_cpu_time().saturating_sub(before)
        });
        turn.finish(teardown);
        if turn.was_long() {
            let from = if heavy { "start" } else { "demoted" };
            crate::metrics::record_long_call(&plugin.scope.id, from);
        }
        let faulted = result.as_ref().is_err_and(GuestFault::is_the_guests);
        plugin
            .history
            .record(clock.used().saturating_add(teardown), faulted);
        result
    }

    /// Run `work` on a new instance in `store`. A call that starts long
    /// (its meter says so) first waits for a `turn` of the lane.
    async fn drive(
        &self,
        store: &mut Store<RequestState>,
        plugin: &PreparedPlugin,
        work: Work<'_>,
        turn: &LaneTurn,
        output: &CapturedOutput,
        limits: &crate::limits::Limits,
    ) -> Result<(Done, Costs), GuestFault> {
        let heavy = store.data().meter.long;
        let clock = store.data().meter.clock().clone();
        let deadline = store.data().meter.deadline();
        if heavy && self.interruption == Interruption::Epoch {
            // A long call gives its turn back at every tick.
            store.set_epoch_deadline(1);
        }
        let pre = &plugin.pre;
        let guest = async {
            if heavy {
                turn.take().await;
            }
            let instance = pre
                .instantiate_async(&mut *store)
                .await
                .map_err(|e| (e, Stage::Instantiate))?;
            work.run(&mut *store, &instance)
                .await
                .map_err(|e| (e, Stage::Call))
        };
        // The wall-clock timeout ends the call whatever the guest is doing,
        // waiting inside a host call included: the call's future is dropped
        // and its instance with it.
        let timed = tokio::time::timeout_at(
            tokio::time::Instant::from_std(deadline),
            Metered::new(guest, clock.clone(), deadline, turn.clone()),
        )
        .await;
        if clock.was_cut() || timed.is_err() {
            store.data_mut().meter.cut_at_deadline();
            return Err(GuestFault::Timeout(limits.timeout_ms));
        }
        let answer = match timed {
            Ok(Ok(answer)) => answer,
            Ok(Err((e, Stage::Instantiate))) => {
                return Err(classify_instantiate(store, e, limits));
            }
            Ok(Err((e, Stage::Call))) => return Err(classify_trap(store, e, output, limits)),
            Err(_) => return Err(GuestFault::Timeout(limits.timeout_ms)),
        };
        let state = store.data();
        // A write the guest saw succeed must survive a crash once the
        // citizen has the answer.
        if state.storage.writes > 0
            && let Err(e) = state.storage.flush()
        {
            return Err(GuestFault::StoreUnavailable(e.to_string()));
        }
        Ok((
            answer,
            Costs {
                cpu: state.meter.cpu_used(),
                wall: state.meter.wall_used(),
                peak_memory: state.limiter.peak(),
                capability_calls: [
                    state.identity.calls,
                    state.storage.calls,
                    state.log.lines,
                    state.payment.calls,
                    state.notification.calls,
                ],
            },
        ))
    }
}

/// Where a call failed.
enum Stage {
    Instantiate,
    Call,
}

fn classify_instantiate(
    store: &Store<RequestState>,
    error: wasmtime::Error,
    limits: &crate::limits::Limits,
) -> GuestFault {
    let text = format!("{error:#}");
    if store.data().limiter.refused {
        GuestFault::MemoryLimit(limits.memory_mib)
    } else if text.contains("maximum concurrent") || text.contains("pooling allocator") {
        GuestFault::Busy
    } else {
        GuestFault::Instantiate(text)
    }
}

fn classify_trap(
    store: &Store<RequestState>,
    error: wasmtime::Error,
    output: &CapturedOutput,
    limits: &crate::limits::Limits,
) -> GuestFault {
    let state = store.data();
    match state.meter.interrupted {
        Some(Interrupt::Cpu) => return GuestFault::CpuLimit(limits.cpu_ms),
        Some(Interrupt::Wall) => return GuestFault::Timeout(limits.timeout_ms),
        None => {}
    }
    if state.limiter.refused {
        return GuestFault::MemoryLimit(limits.memory_mib);
    }
    let printed = output.text();
    if let Some(start) = printed.find("panicked at") {
        // Guest text for the host log: cut like a guest log line.
        let message = crate::capabilities::log::truncate(printed[start..].trim(), 2048);
        return GuestFault::Panic(message.into_owned());
    }
    if error.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
        return GuestFault::CpuLimit(limits.cpu_ms);
    }
    let trap = error
        .downcast_ref::<Trap>()
        .map(|t| t.to_string())
        .unwrap_or_else(|| format!("{error:#}"));
    GuestFault::Trap(trap)
}
