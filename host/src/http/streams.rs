//! How many live inbox streams each citizen holds: at most
//! [`crate::conn::CitizenLimits::inbox_streams_per_citizen`] at once; one
//! more is refused with `429 too_many_streams` (an `EventSource` does not
//! retry a 429, so a runaway page cannot loop), and a stream frees its place
//! when its connection ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Open streams per citizen key.
pub struct StreamSlots {
    per_citizen: usize,
    open: Mutex<HashMap<Arc<str>, usize>>,
}

/// One open stream; dropping it frees its place.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    citizen: Arc<str>,
}

impl StreamSlots {
    /// At most `per_citizen` streams each (at least 1).
    pub fn new(per_citizen: usize) -> Self {
        StreamSlots {
            per_citizen: per_citizen.max(1),
            open: Mutex::default(),
        }
    }

    /// The most streams one citizen may hold.
    pub fn per_citizen(&self) -> usize {
        self.per_citizen
    }

    /// A place for one more stream of `citizen`, if under the cap.
    pub fn take(self: &Arc<Self>, citizen: &Arc<str>) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let held = open.entry(citizen.clone()).or_default();
        if *held >= self.per_citizen {
            return None;
        }
        *held += 1;
        Some(StreamSlot {
            slots: self.clone(),
            citizen: citizen.clone(),
        })
    }

    /// Streams `citizen` holds now.
    pub fn held(&self, citizen: &str) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(citizen)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = open.get_mut(&self.citizen) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                open.remove(&self.citizen);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_citizen_holds_at_most_the_cap_and_a_closed_stream_frees_its_place() {
        let slots = Arc::new(StreamSlots::new(2));
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let first = slots.take(&a).unwrap();
        let _second = slots.take(&a).unwrap();
        assert!(slots.take(&a).is_none());
        assert!(slots.take(&b).is_some(), "another citizen is not affected");
        drop(first);
        assert_eq!(slots.held("a"), 1);
        assert!(slots.take(&a).is_some());
    }
}
