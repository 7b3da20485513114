//! Fuzz target `guest_response`: see `islet_host_fuzz::guest_response` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| islet_host_fuzz::guest_response::check(data));
