//! Fair sharing of the host's instance slots and memory between plugins.
//!
//! Every guest call holds one instance slot and reserves the memory its
//! instance may grow to (the plugin's `memory-mib` limit) from a host-wide
//! budget, so the sum of what running instances may reach stays under the
//! budget whatever the guests do. Two rules keep one plugin from hurting
//! another:
//! - a plugin holds at most `plugin-share-percent` of the slots and of the
//!   memory budget;
//! - a plugin that already runs a call may not take the last
//!   `reserve-percent` of slots or memory: they stay free for plugins that
//!   run nothing, so a newcomer is admitted even when two or more plugins
//!   saturate their shares.
//!
//! Admission is not first-come-first-served: a waiting call is admitted as
//! soon as what it needs is free, so a small call never queues behind a
//! large one. A call that cannot be admitted within the wait is refused
//! with the reason.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How the pool is shared (`[runtime]` settings), resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PoolSettings {
    /// Sum of the memory limits of the calls running at once, in MiB.
    pub memory_budget_mib: u64,
    /// Largest share (percent) of slots and memory one plugin may hold.
    pub plugin_share_percent: u8,
    /// Share (percent) of slots and memory a plugin already running a call
    /// may not take: kept for plugins running nothing.
    pub reserve_percent: u8,
}

impl PoolSettings {
    /// Default memory budget: 4 GiB.
    pub const DEFAULT_MEMORY_BUDGET_MIB: u64 = 4096;
    /// Default largest share of one plugin.
    pub const DEFAULT_PLUGIN_SHARE_PERCENT: u8 = 50;
    /// Default reserve for plugins running nothing.
    pub const DEFAULT_RESERVE_PERCENT: u8 = 10;
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            memory_budget_mib: Self::DEFAULT_MEMORY_BUDGET_MIB,
            plugin_share_percent: Self::DEFAULT_PLUGIN_SHARE_PERCENT,
            reserve_percent: Self::DEFAULT_RESERVE_PERCENT,
        }
    }
}

/// Why a call was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolRefusal {
    /// The plugin holds its share of slots or memory.
    PluginShare {
        /// Slots the plugin may hold.
        slots: usize,
        /// Memory the plugin may hold, MiB.
        memory_mib: u64,
    },
    /// Every slot is taken.
    Slots,
    /// The memory budget is taken.
    Memory,
    /// One instance of this plugin may grow beyond the plugin's share of the
    /// memory budget: it can never run on this host.
    TooLarge {
        /// What one instance may grow to, MiB.
        need_mib: u64,
        /// The plugin's share of the budget, MiB.
        share_mib: u64,
    },
}

impl PoolRefusal {
    /// The refusal's label in metrics (`pool_share`, `pool_slots`,
    /// `pool_memory`).
    pub fn reason(&self) -> &'static str {
        match self {
            PoolRefusal::PluginShare { .. } => "pool_share",
            PoolRefusal::Slots => "pool_slots",
            PoolRefusal::Memory | PoolRefusal::TooLarge { .. } => "pool_memory",
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Held {
    slots: usize,
    memory_mib: u64,
}

#[derive(Debug)]
struct State {
    free_slots: usize,
    free_mib: u64,
    plugins: HashMap<String, Held>,
}

/// The host's instance slots and memory budget, shared fairly.
#[derive(Debug)]
pub struct InstancePool {
    settings: PoolSettings,
    slots: usize,
    slot_share: usize,
    memory_share_mib: u64,
    slot_reserve: usize,
    memory_reserve_mib: u64,
    state: Mutex<State>,
    released: Notify,
}

/// One admitted call's slot and memory; given back when dropped.
#[derive(Debug)]
pub struct PoolPermit {
    pool: Arc<InstancePool>,
    plugin: String,
    memory_mib: u64,
}

fn percent_of(total: u64, percent: u8) -> u64 {
    total.saturating_mul(u64::from(percent.min(100))) / 100
}

impl InstancePool {
    /// A pool of `slots` instance slots shared by `settings`.
    pub fn new(slots: u32, settings: PoolSettings) -> Self {
        let slots = slots.max(1) as usize;
        let budget = settings.memory_budget_mib.max(1);
        let share = settings.plugin_share_percent.clamp(1, 100);
        let reserve = settings.reserve_percent.min(50);
        let slot_share = usize::try_from(percent_of(slots as u64, share)).unwrap_or(slots);
        let memory_share_mib = percent_of(budget, share);
        InstancePool {
            settings,
            slots,
            slot_share: slot_share.max(1),
            memory_share_mib: memory_share_mib.max(1),
            slot_reserve: usize::try_from(percent_of(slots as u64, reserve)).unwrap_or(0),
            memory_reserve_mib: percent_of(budget, reserve),
            state: Mutex::new(State {
                free_slots: slots,
                free_mib: budget,
                plugins: HashMap::new(),
            }),
            released: Notify::new(),
        }
    }

    /// The settings the pool was built with.
    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    /// Instance slots in all.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Slots and memory (MiB) held by `plugin` now.
    pub fn held_by(&self, plugin: &str) -> (usize, u64) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .plugins
            .get(plugin)
            .map_or((0, 0), |h| (h.slots, h.memory_mib))
    }

    /// Free slots and memory (MiB) now.
    pub fn free(&self) -> (usize, u64) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (state.free_slots, state.free_mib)
    }

    /// Admit one call of `plugin` whose instance may grow to `memory_bytes`,
    /// waiting at most `wait` for room.
    pub async fn admit(
        self: &Arc<Self>,
        plugin: &str,
        memory_bytes: usize,
        wait: Duration,
    ) -> Result<PoolPermit, PoolRefusal> {
        let need_mib = (memory_bytes as u64).div_ceil(1 << 20).max(1);
        if need_mib > self.memory_share_mib {
            return Err(PoolRefusal::TooLarge {
                need_mib,
                share_mib: self.memory_share_mib,
            });
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register for wake-ups before looking, so a release between the
            // look and the wait is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let refusal = match self.try_take(plugin, need_mib) {
                Ok(()) => {
                    return Ok(PoolPermit {
                        pool: self.clone(),
                        plugin: plugin.to_string(),
                        memory_mib: need_mib,
                    });
                }
                Err(refusal) => refusal,
            };
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return Err(refusal);
            }
        }
    }

    fn try_take(&self, plugin: &str, need_mib: u64) -> Result<(), PoolRefusal> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let held = state.plugins.get(plugin).copied().unwrap_or_default();
        if held.slots + 1 > self.slot_share || held.memory_mib + need_mib > self.memory_share_mib {
            return Err(PoolRefusal::PluginShare {
                slots: self.slot_share,
                memory_mib: self.memory_share_mib,
            });
        }
        // A plugin already running a call leaves the reserve to others.
        let (slot_reserve, memory_reserve) = if held.slots > 0 {
            (self.slot_reserve, self.memory_reserve_mib)
        } else {
            (0, 0)
        };
        if state.free_slots < 1 + slot_reserve {
            return Err(PoolRefusal::Slots);
        }
        if state.free_mib < need_mib + memory_reserve {
            return Err(PoolRefusal::Memory);
        }
        state.free_slots -= 1;
        state.free_mib -= need_mib;
        let entry = state.plugins.entry(plugin.to_string()).or_default();
        entry.slots += 1;
        entry.memory_mib += need_mib;
        publish(&state);
        Ok(())
    }

    fn give_back(&self, plugin: &str, memory_mib: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.free_slots += 1;
        state.free_mib += memory_mib;
        if let Some(held) = state.plugins.get_mut(plugin) {
            held.slots = held.slots.saturating_sub(1);
            held.memory_mib = held.memory_mib.saturating_sub(memory_mib);
            if held.slots == 0 {
                state.plugins.remove(plugin);
            }
        }
        publish(&state);
        drop(state);
        self.released.notify_waiters();
    }
}

/// Free slots and memory as gauges (`islet_pool_free_slots`,
/// `islet_pool_free_memory_mib`).
fn publish(state: &State) {
    if let Some([slots, memory]) = crate::metrics::pool_gauges() {
        slots.set(state.free_slots as f64);
        memory.set(state.free_mib as f64);
    }
}

impl Drop for PoolPermit {
    fn drop(&mut self) {
        self.pool.give_back(&self.plugin, self.memory_mib);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(slots: u32, budget: u64) -> Arc<InstancePool> {
        Arc::new(InstancePool::new(
            slots,
            PoolSettings {
                memory_budget_mib: budget,
                plugin_share_percent: 50,
                reserve_percent: 10,
            },
        ))
    }

    const MIB: usize = 1 << 20;
    const NOW: Duration = Duration::ZERO;

    #[tokio::test]
    async fn one_plugin_holds_at_most_its_share_of_slots() {
        let pool = pool(10, 10_000);
        let mut held = Vec::new();
        for _ in 0..5 {
            held.push(pool.admit("hog", MIB, NOW).await.unwrap());
        }
        assert!(matches!(
            pool.admit("hog", MIB, NOW).await,
            Err(PoolRefusal::PluginShare { slots: 5, .. })
        ));
        // The other half stays for others.
        assert!(pool.admit("hello", MIB, NOW).await.is_ok());
        drop(held.pop());
        assert!(pool.admit("hog", MIB, NOW).await.is_ok());
    }

    #[tokio::test]
    async fn running_plugins_leave_the_reserve_to_newcomers() {
        // 10 slots, each plugin 5, reserve 1: two hogs get 5 + 4.
        let pool = pool(10, 10_000);
        let mut held = Vec::new();
        for _ in 0..5 {
            held.push(pool.admit("a", MIB, NOW).await.unwrap());
        }
        for _ in 0..4 {
            held.push(pool.admit("b", MIB, NOW).await.unwrap());
        }
        assert_eq!(
            pool.admit("b", MIB, NOW).await.err(),
            Some(PoolRefusal::Slots)
        );
        let hello = pool.admit("hello", MIB, NOW).await.unwrap();
        assert_eq!(pool.free(), (0, 10_000 - 10));
        drop(hello);
        assert_eq!(pool.held_by("hello"), (0, 0));
    }

    #[tokio::test]
    async fn memory_is_reserved_by_limit_and_given_back() {
        let pool = pool(100, 1000);
        let a = pool.admit("a", 400 * MIB, NOW).await.unwrap();
        assert!(matches!(
            pool.admit("a", 400 * MIB, NOW).await,
            Err(PoolRefusal::PluginShare {
                memory_mib: 500,
                ..
            })
        ));
        let b = pool.admit("b", 400 * MIB, NOW).await.unwrap();
        assert_eq!(
            pool.admit("c", 400 * MIB, NOW).await.err(),
            Some(PoolRefusal::Memory)
        );
        assert!(matches!(
            pool.admit("c", 600 * MIB, NOW).await,
            Err(PoolRefusal::TooLarge {
                need_mib: 600,
                share_mib: 500
            })
        ));
        // A waiting call is admitted as soon as room is given back.
        let waiter = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.admit("c", 400 * MIB, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(a);
        assert!(waiter.await.unwrap().is_ok());
        drop(b);
        assert_eq!(pool.free(), (100, 1000));
    }

    #[tokio::test]
    async fn a_small_call_does_not_queue_behind_a_large_one() {
        let pool = pool(100, 1000);
        let _a = pool.admit("a", 450 * MIB, NOW).await.unwrap();
        let _b = pool.admit("b", 400 * MIB, NOW).await.unwrap();
        let large = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.admit("c", 400 * MIB, Duration::from_secs(1)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(pool.admit("hello", 64 * MIB, NOW).await.is_ok());
        assert_eq!(large.await.unwrap().err(), Some(PoolRefusal::Memory));
    }
}
