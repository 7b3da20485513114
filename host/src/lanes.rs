//! Lanes for background deliveries: at most `per_owner` attempts of one
//! owner (a plugin) run at once and at most `total` in all, so one owner's
//! slow, failing or trapping work never holds up another owner's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Notify;

/// The lanes of one background worker.
pub struct Lanes {
    per_owner: usize,
    total: usize,
    busy: Mutex<Busy>,
    freed: Notify,
}

#[derive(Default)]
struct Busy {
    total: usize,
    by_owner: HashMap<String, usize>,
}

/// One attempt's place in its owner's lane; freed when dropped.
pub struct Lane {
    lanes: Arc<Lanes>,
    owner: String,
}

impl Lanes {
    /// Lanes allowing `per_owner` attempts per owner and `total` in all
    /// (each at least 1).
    pub fn new(per_owner: usize, total: usize) -> Arc<Self> {
        Arc::new(Lanes {
            per_owner: per_owner.max(1),
            total: total.max(1),
            busy: Mutex::new(Busy::default()),
            freed: Notify::new(),
        })
    }

    fn busy(&self) -> std::sync::MutexGuard<'_, Busy> {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an attempt of `owner` could start now.
    pub fn has_room(&self, owner: &str) -> bool {
        let busy = self.busy();
        busy.total < self.total && busy.by_owner.get(owner).copied().unwrap_or(0) < self.per_owner
    }

    /// Attempts that could still start now, all owners together.
    pub fn free(&self) -> usize {
        self.total.saturating_sub(self.busy().total)
    }

    /// Attempts running now.
    pub fn running(&self) -> usize {
        self.busy().total
    }

    /// A place for one attempt of `owner`, if its lane and the total allow.
    pub fn take(self: &Arc<Self>, owner: &str) -> Option<Lane> {
        let mut busy = self.busy();
        let mine = busy.by_owner.get(owner).copied().unwrap_or(0);
        if busy.total >= self.total || mine >= self.per_owner {
            return None;
        }
        busy.total += 1;
        busy.by_owner.insert(owner.to_string(), mine + 1);
        Some(Lane {
            lanes: self.clone(),
            owner: owner.to_string(),
        })
    }

    /// Resolves after a lane is freed (at once if one was freed since the
    /// last wait).
    pub async fn freed(&self) {
        self.freed.notified().await;
    }
}

/// The value of a pending-index entry: `{next attempt ms}/{owner}`, so a
/// worker picks due work of owners with a free lane without reading every
/// record. Only a hint (the record decides): claiming moves a record's next
/// attempt without rewriting its hint.
pub fn hint(next_attempt_ms: u64, owner: &str) -> String {
    format!("{next_attempt_ms}/{owner}")
}

/// The next attempt and owner in a [`hint`] (`None` for entries written
/// before they held one, which are empty).
pub fn parse_hint(value: &[u8]) -> Option<(u64, &str)> {
    let text = std::str::from_utf8(value).ok()?;
    let (at, owner) = text.split_once('/')?;
    Some((at.parse().ok()?, owner))
}

impl Lane {
    /// The owner whose lane this is.
    pub fn owner(&self) -> &str {
        &self.owner
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        {
            let mut busy = self.lanes.busy();
            busy.total = busy.total.saturating_sub(1);
            if let Some(n) = busy.by_owner.get_mut(&self.owner) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    busy.by_owner.remove(&self.owner);
                }
            }
        }
        self.lanes.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_each_owner_and_the_total() {
        let lanes = Lanes::new(2, 3);
        let a1 = lanes.take("a");
        let a2 = lanes.take("a");
        assert!(a1.is_some() && a2.is_some());
        assert!(lanes.take("a").is_none(), "a's lane is full");
        assert!(!lanes.has_room("a") && lanes.has_room("b"));
        let b1 = lanes.take("b");
        assert!(b1.is_some());
        assert!(lanes.take("c").is_none(), "the total is reached");
        assert_eq!((lanes.running(), lanes.free()), (3, 0));
        drop(a1);
        assert!(lanes.has_room("a") && lanes.has_room("c"));
        assert!(lanes.take("c").is_some_and(|l| l.owner() == "c"));
        drop((a2, b1));
        assert_eq!(lanes.running(), 0);
    }

    #[test]
    fn hints_round_trip() {
        assert_eq!(
            parse_hint(hint(42, "water-bill").as_bytes()),
            Some((42, "water-bill"))
        );
        assert_eq!(parse_hint(b""), None);
        assert_eq!(parse_hint(b"soon/x"), None);
    }
}
