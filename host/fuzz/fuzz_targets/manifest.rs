//! Fuzz target `manifest`: see `islet_host_fuzz::manifest` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| islet_host_fuzz::manifest::check(data));
