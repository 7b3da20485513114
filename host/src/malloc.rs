//! The C allocator's tuning. glibc raises its mmap threshold each time a
//! large block is freed (up to 32 MiB), after which blocks of a few hundred
//! KiB (storage values, request and response bodies) come from the heap
//! arenas, where freed space is rarely returned: a host churning 256 KiB
//! storage values grew from 47 to 529 MiB resident in 20 s and never came
//! back. A fixed threshold keeps such blocks in their own mappings, given
//! back when freed (the same load then held 125 MiB).

/// Blocks at least this large get their own mapping.
const MMAP_THRESHOLD: i32 = 128 * 1024;
/// Free memory at the top of the heap beyond this is given back.
const TRIM_THRESHOLD: i32 = 1024 * 1024;

/// Fix glibc's thresholds (once per process; elsewhere nothing to do).
pub fn tune() {
    static TUNED: std::sync::Once = std::sync::Once::new();
    TUNED.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        #[allow(unsafe_code, reason = "mallopt takes two integers and no pointers")]
        // SAFETY: mallopt only changes the allocator's parameters.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        }
    });
}
