//! Fuzzes a scenario file (TOML): read, validated and run as `zksim run` does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zksim::fuzz::scenario(data);
});
