//! Fixed hashes and mixers: the same values on every machine and every Rust version (std's
//! hashers promise neither), so seeds, BUGGIFY decisions and state fingerprints stay valid.
//! Hand-written: each is a few lines, and they must never change under a seed.

use std::hash::Hasher;

/// SplitMix64's finalizer: a well-mixed 64-bit hash of a 64-bit value.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64: advances `state` and returns the next value of the sequence.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mix(*state)
}

/// FNV-1a, 64 bits, as a [`Hasher`].
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// FNV-1a of a string's bytes.
pub fn fnv_str(s: &str) -> u64 {
    let mut h = Fnv::default();
    h.write(s.as_bytes());
    h.finish()
}

/// The hasher for state fingerprints: XXH64 (seed 0), fed integers as little-endian bytes and
/// `usize`/`isize` as 64 bits, so a value's fingerprint is the same on every machine (std's
/// `write_u64` and friends feed native-endian bytes). XXH64 takes eight bytes a round where
/// FNV-1a takes one, and mixes as well.
#[derive(Clone, Default)]
pub struct Fingerprinter(twox_hash::XxHash64);

impl Hasher for Fingerprinter {
    fn finish(&self) -> u64 {
        self.0.finish()
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    fn write_u8(&mut self, n: u8) {
        self.0.write(&[n]);
    }

    fn write_u16(&mut self, n: u16) {
        self.0.write(&n.to_le_bytes());
    }

    fn write_u32(&mut self, n: u32) {
        self.0.write(&n.to_le_bytes());
    }

    fn write_u64(&mut self, n: u64) {
        self.0.write(&n.to_le_bytes());
    }

    fn write_u128(&mut self, n: u128) {
        self.0.write(&n.to_le_bytes());
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_i8(&mut self, n: i8) {
        self.write_u8(n as u8);
    }

    fn write_i16(&mut self, n: i16) {
        self.write_u16(n as u16);
    }

    fn write_i32(&mut self, n: i32) {
        self.write_u32(n as u32);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }

    fn write_i128(&mut self, n: i128) {
        self.write_u128(n as u128);
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as i64 as u64);
    }
}

/// The fingerprint of a value: its [`Hash`](std::hash::Hash) fed to a [`Fingerprinter`].
pub fn fingerprint<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    let mut h = Fingerprinter::default();
    value.hash(&mut h);
    h.finish()
}
