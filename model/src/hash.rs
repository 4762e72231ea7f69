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

/// The hasher for state fingerprints: each integer (and each eight bytes of a byte string,
/// read little-endian) is folded into the state with [`mix`], and the length is mixed in at
/// the end. Integers go in as their value widened to 64 bits (`usize` too), so a value's
/// fingerprint is the same on every machine and Rust version.
///
/// Hand-written because derived `Hash` impls feed a hasher one small integer at a time:
/// XXH64's streaming hasher (twox-hash) buffers every such write and cost a fifth of the
/// explorer's time; this takes one `mix` per word and no buffer. `mix` is a bijection with
/// full avalanche, so chaining it over the words keeps distinct states' fingerprints apart
/// as well as 64 bits allow.
#[derive(Clone, Copy, Debug)]
pub struct Fingerprinter {
    state: u64,
    words: u64,
}

impl Default for Fingerprinter {
    fn default() -> Self {
        Fingerprinter {
            state: 0x243f_6a88_85a3_08d3,
            words: 0,
        }
    }
}

impl Fingerprinter {
    fn word(&mut self, w: u64) {
        self.state = mix(self.state ^ w);
        self.words += 1;
    }
}

impl Hasher for Fingerprinter {
    fn finish(&self) -> u64 {
        mix(self.state ^ self.words.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            // The tail's length goes in its top byte (free: it holds at most 7 bytes), so
            // trailing zero bytes are not lost.
            last[7] = rest.len() as u8;
            self.word(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.word(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.word(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.word(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.word(n);
    }

    fn write_u128(&mut self, n: u128) {
        self.word(n as u64);
        self.word((n >> 64) as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.word(n as u64);
    }

    fn write_i8(&mut self, n: i8) {
        self.word(n as u64);
    }

    fn write_i16(&mut self, n: i16) {
        self.word(n as u64);
    }

    fn write_i32(&mut self, n: i32) {
        self.word(n as u64);
    }

    fn write_i64(&mut self, n: i64) {
        self.word(n as u64);
    }

    fn write_i128(&mut self, n: i128) {
        self.write_u128(n as u128);
    }

    fn write_isize(&mut self, n: isize) {
        self.word(n as u64);
    }
}

/// The fingerprint of a value: its [`Hash`](std::hash::Hash) fed to a [`Fingerprinter`].
pub fn fingerprint<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    let mut h = Fingerprinter::default();
    value.hash(&mut h);
    h.finish()
}

/// What a fingerprint leaves out: counters whose values nothing that can still happen
/// observes. The default leaves out nothing (the exact fingerprint).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Forget {
    /// Every zxid: the server's counter, the nodes' `czxid`, `mzxid` and `pzxid` (and a
    /// `Stat`'s), a reply's header zxid and a client's last zxid.
    pub zxids: bool,
    /// The values of xids (request numbers): each is kept as its distance below the next xid
    /// its handle gives out, and that next xid is left out. Only the order of xids decides
    /// anything (a handle matches each reply with its oldest pending request; the server
    /// echoes them; roles never see them), so handles that differ only in how many requests
    /// they numbered before behave alike.
    pub xids: bool,
}

impl Forget {
    /// Every counter forgotten.
    pub fn everything() -> Self {
        Forget {
            zxids: true,
            xids: true,
        }
    }
}

std::thread_local! {
    /// What the hash being computed on this thread leaves out (see [`Forget`]). A
    /// thread-local rather than a parameter because `Hash` has no room for one; it is set and
    /// restored around one fingerprint, so nothing outside it ever sees it changed.
    static FORGET: std::cell::Cell<Forget> = const {
        std::cell::Cell::new(Forget { zxids: false, xids: false })
    };
}

/// The fingerprint of a value with the counters `forget` names left out. Two states that
/// differ only in those hash alike.
///
/// The explorer forgets xids always (unless told not to) and zxids where no zxid can be
/// observed any more: a run in which no client can reconnect (a reconnect's SetWatches
/// compares zxids) and whose roles and properties never read one. Then which of two unrelated
/// writes got the lower zxid changes nothing that can happen, and forgetting it merges the
/// states every such ordering would otherwise keep apart (the cluster's smallest shape: 1.9
/// million states with zxids, 0.5 million without).
pub fn fingerprint_forgetting<T: std::hash::Hash + ?Sized>(value: &T, forget: Forget) -> u64 {
    let before = FORGET.with(|f| f.replace(forget));
    let fp = fingerprint(value);
    FORGET.with(|f| f.set(before));
    // A seed of each mode's own, so no state hashed one way meets one hashed another.
    match (forget.zxids, forget.xids) {
        (false, false) => fp,
        (true, false) => mix(fp ^ 0x5a1d_0000_0000_0001),
        (false, true) => mix(fp ^ 0x5a1d_0000_0000_0002),
        (true, true) => mix(fp ^ 0x5a1d_0000_0000_0003),
    }
}

/// The fingerprint of a value with every zxid left out (and every xid kept).
pub fn fingerprint_without_zxids<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    fingerprint_forgetting(
        value,
        Forget {
            zxids: true,
            xids: false,
        },
    )
}

/// Runs `f` with nothing forgotten in every fingerprint it computes on this thread.
pub(crate) fn exactly<T>(f: impl FnOnce() -> T) -> T {
    let before = FORGET.with(|z| z.replace(Forget::default()));
    let out = f();
    FORGET.with(|z| z.set(before));
    out
}

/// What the hash being computed leaves out.
pub fn forgetting() -> Forget {
    FORGET.with(std::cell::Cell::get)
}

/// Feeds a zxid to a hasher, unless the fingerprint being computed leaves zxids out (for
/// `Hash` impls outside this crate that hold zxids).
pub fn hash_zxid<H: std::hash::Hasher>(zxid: crate::stat::Zxid, h: &mut H) {
    if !forgetting().zxids {
        h.write_i64(zxid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned, so a change to the fingerprint (or a machine it would differ on) shows here.
    #[test]
    fn fingerprints_are_pinned() {
        assert_eq!(
            fingerprint(&(7u8, -1i32, "abcdefghij")),
            0x4e53_fc49_837a_81bd
        );
    }

    #[test]
    fn without_zxids_only_zxids_are_left_out() {
        let stat = |czxid, version| crate::stat::Stat {
            czxid,
            version,
            ..crate::stat::Stat::default()
        };
        assert_ne!(fingerprint(&stat(1, 0)), fingerprint(&stat(2, 0)));
        assert_eq!(
            fingerprint_without_zxids(&stat(1, 0)),
            fingerprint_without_zxids(&stat(2, 0))
        );
        assert_ne!(
            fingerprint_without_zxids(&stat(1, 0)),
            fingerprint_without_zxids(&stat(1, 1))
        );
        assert_ne!(
            fingerprint(&stat(1, 0)),
            fingerprint_without_zxids(&stat(1, 0))
        );
        // The mode does not leak out of the call.
        assert_ne!(fingerprint(&stat(1, 0)), fingerprint(&stat(2, 0)));
    }

    #[test]
    fn integers_hash_as_their_value_and_byte_strings_keep_their_length() {
        assert_eq!(fingerprint(&5u32), fingerprint(&5u64));
        assert_eq!(fingerprint(&5usize), fingerprint(&5u64));
        let bytes = |b: &[u8]| {
            let mut h = Fingerprinter::default();
            h.write(b);
            h.finish()
        };
        assert_ne!(bytes(&[0]), bytes(&[0, 0]));
        assert_ne!(bytes(&[0; 8]), bytes(&[0; 9]));
    }
}
