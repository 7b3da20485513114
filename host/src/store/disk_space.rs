//! The embedded store's guard against a full disk. sled 0.34 does not fail
//! when its disk fills: its flush waits forever, and every request waiting
//! on a flush waits with it (a soak that filled its disk wedged the whole
//! host). So the store refuses new writes while the disk holding it has
//! less than a floor free, with an error naming the floor, and keeps
//! serving reads; the writes it already took still have room to reach the
//! disk.

use super::StoreError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Free space below which the store refuses writes, unless configured
/// (`[store] min-free-mib`).
pub const DEFAULT_MIN_FREE_BYTES: u64 = 256 << 20;

/// How long a reading of the free space is trusted.
const FRESH_FOR: Duration = Duration::from_millis(250);

/// The free space of the disk holding a folder, read at most every
/// [`FRESH_FOR`], checked against a floor.
pub struct DiskSpace {
    folder: PathBuf,
    floor: u64,
    epoch: Instant,
    /// Free bytes at the last reading.
    free: AtomicU64,
    /// When that was, in milliseconds since `epoch` plus one (0: never).
    read_at_ms: AtomicU64,
}

impl DiskSpace {
    /// Watch the disk holding `folder`; refuse writes under `floor` bytes.
    pub fn new(folder: PathBuf, floor: u64) -> DiskSpace {
        DiskSpace {
            folder,
            floor,
            epoch: Instant::now(),
            free: AtomicU64::new(u64::MAX),
            read_at_ms: AtomicU64::new(0),
        }
    }

    /// Ok when a write may go ahead. A write that only deletes may use half
    /// of the floor (deleting also appends to sled's log).
    pub fn check(&self, only_deletes: bool) -> Result<(), StoreError> {
        let free = self.free_bytes();
        let floor = if only_deletes {
            self.floor / 2
        } else {
            self.floor
        };
        if free >= floor {
            return Ok(());
        }
        Err(StoreError(format!(
            "the disk holding the store ({}) has {} MiB free, under the {} MiB the store keeps \
             free ([store] min-free-mib); writes resume once space is freed",
            self.folder.display(),
            free >> 20,
            self.floor >> 20,
        )))
    }

    /// Free bytes for unprivileged writers, at most [`FRESH_FOR`] old. A
    /// disk that cannot be read counts as having room: the write then
    /// fails on its own with the real error.
    fn free_bytes(&self) -> u64 {
        let now_ms = self.epoch.elapsed().as_millis() as u64 + 1;
        let read_at = self.read_at_ms.load(Ordering::Relaxed);
        if read_at != 0 && now_ms.saturating_sub(read_at) < FRESH_FOR.as_millis() as u64 {
            return self.free.load(Ordering::Relaxed);
        }
        let free = match rustix::fs::statvfs(&self.folder) {
            Ok(s) => s.f_bavail.saturating_mul(s.f_frsize),
            Err(_) => u64::MAX,
        };
        self.free.store(free, Ordering::Relaxed);
        self.read_at_ms.store(now_ms, Ordering::Relaxed);
        free
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_refused_under_the_floor_and_deletes_keep_half_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let free = DiskSpace::new(dir.path().into(), 0).free_bytes();
        assert!(free > 0 && free < u64::MAX, "statvfs read {free}");

        assert!(
            DiskSpace::new(dir.path().into(), free / 2)
                .check(false)
                .is_ok()
        );

        let above = DiskSpace::new(dir.path().into(), free + free / 2);
        let err = above.check(false).unwrap_err().0;
        assert!(
            err.contains("min-free-mib") && err.contains("MiB free"),
            "{err}"
        );
        // Deletes may go on until half the floor.
        assert!(above.check(true).is_ok());
        let far = DiskSpace::new(dir.path().into(), free.saturating_mul(4));
        assert!(far.check(true).is_err());
    }
}
