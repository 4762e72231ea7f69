//! Fuzzes a trace (JSON lines): parsed, rendered (text, Mermaid, HTML), translated for
//! `zksim confirm` and replayed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zksim::fuzz::trace(data);
});
