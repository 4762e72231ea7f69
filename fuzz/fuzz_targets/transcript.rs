//! Fuzzes a conformance script or transcript (JSON): parsed as `record` and `conform` do, then checked against the model.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zksim::fuzz::transcript(data);
});
