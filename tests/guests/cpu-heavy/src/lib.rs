//! cpu-heavy test guest (placeholder)
