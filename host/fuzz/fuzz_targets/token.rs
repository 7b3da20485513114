//! Fuzz target `token`: see `islet_host_fuzz::token` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| islet_host_fuzz::token::check(data));
