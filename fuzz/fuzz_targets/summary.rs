//! Fuzzes a `simulate --json` summary: read as `zksim merge` reads it, then merged alone and
//! with itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zksim::fuzz::summary(data);
});
