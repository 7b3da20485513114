//! Fuzz target `upload`: see `islet_host_fuzz::upload` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| islet_host_fuzz::upload::check(data));
