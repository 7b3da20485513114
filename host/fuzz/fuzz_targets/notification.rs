//! Fuzz target `notification`: see `islet_host_fuzz::notification` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| islet_host_fuzz::notification::check(data));
