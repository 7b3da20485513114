//! Fuzz target `session`: see `islet_host_fuzz::session` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| islet_host_fuzz::session::check(data));
