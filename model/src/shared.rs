//! [`Shared`]: a part of a state that clones share until one of them changes it.
//!
//! The explorer clones a whole world for every transition, and a step changes little of it
//! (one process, perhaps the server); sharing the rest makes a clone a few reference-count
//! bumps instead of a deep copy. Each part also remembers its fingerprint, so hashing a world
//! rehashes only the parts a step changed.

use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::Arc;

use crate::hash::{exactly, fingerprint, forgetting, Forget};

/// A value shared copy-on-write: reading is free, the first write through a shared handle
/// copies the value ([`Arc::make_mut`]). It hashes as its contents' fixed fingerprint (never a
/// pointer), so equal values hash alike however they are shared.
pub struct Shared<T> {
    value: Arc<T>,
    /// The contents' fingerprint, 0 until computed; reset by every mutable access.
    fingerprint: AtomicU64,
    /// The same with xids forgotten ([`Forget::xids`]), zxids kept.
    without_xids: AtomicU64,
    /// The same with zxids and xids forgotten.
    without_counters: AtomicU64,
}

impl<T> Shared<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Shared {
            value: Arc::new(value),
            fingerprint: AtomicU64::new(0),
            without_xids: AtomicU64::new(0),
            without_counters: AtomicU64::new(0),
        }
    }
}

impl<T: Hash> Shared<T> {
    /// The contents' fingerprint (forgetting what the hash being computed forgets), computed
    /// once per version of the contents. Zxids forgotten and xids kept (`--exact-xids` alone,
    /// a check of the xid abstraction) has no slot and is computed each time: a slot costs 8
    /// bytes in every handle of every world in the frontier.
    fn fingerprint(&self) -> u64 {
        let slot = match forgetting() {
            Forget {
                zxids: false,
                xids: false,
            } => &self.fingerprint,
            Forget {
                zxids: false,
                xids: true,
            } => &self.without_xids,
            Forget {
                zxids: true,
                xids: true,
            } => &self.without_counters,
            Forget {
                zxids: true,
                xids: false,
            } => return fingerprint(&*self.value).max(1),
        };
        let known = slot.load(Ordering::Relaxed);
        if known != 0 {
            return known;
        }
        // 0 marks "not computed", so a fingerprint of 0 is kept as 1. The thread's mode
        // holds for the nested hash too.
        let fp = fingerprint(&*self.value).max(1);
        slot.store(fp, Ordering::Relaxed);
        fp
    }
}

impl<T: Hash + PartialEq> Shared<T> {
    /// Makes this handle share the allocation of an equal value `table` already holds, so
    /// that equal parts of many worlds are stored once (hash-consing). A value the table
    /// does not hold yet first has its own parts interned by `parts`, then joins the table.
    /// The value never changes, only where it is stored; a table entry is reused only when
    /// it is equal (`==`), not merely when the fingerprints agree.
    pub fn intern_with(&mut self, table: &mut Interner<T>, parts: impl FnOnce(&mut T)) {
        let key = self.intern_key();
        if let Some(known) = table.map.get(&key) {
            // Equal fingerprints but different values (a collision): left as it is.
            if !Arc::ptr_eq(known, &self.value) && **known == *self.value {
                self.value = Arc::clone(known);
            }
            return;
        }
        // Only the sole handle may have its parts swapped for equal ones: nothing else can
        // be reading them, and the fingerprints stay right since the value stays equal.
        if let Some(value) = Arc::get_mut(&mut self.value) {
            parts(value);
        }
        table.map.insert(key, Arc::clone(&self.value));
        if table.map.len() >= table.sweep_at {
            // Values no world holds any more (the table's is the only handle) go.
            table.map.retain(|_, v| Arc::strong_count(v) > 1);
            table.sweep_at = (table.map.len() * 2).max(Interner::<T>::FIRST_SWEEP);
        }
    }

    /// [`Shared::intern_with`] for a value whose parts are not interned separately.
    pub fn intern(&mut self, table: &mut Interner<T>) {
        self.intern_with(table, |_| {});
    }

    /// The table key: the whole fingerprint, zxids included (computed if need be). Not the
    /// one without zxids, even where the explorer forgets them: values equal but for their
    /// zxids are different values, and interning never changes a value.
    fn intern_key(&self) -> u64 {
        exactly(|| self.fingerprint())
    }
}

/// The values [`Shared::intern_with`] makes equal parts share, by fingerprint. Values no
/// longer used anywhere else are dropped whenever the table has doubled since the last sweep,
/// so it holds about what live worlds use.
pub struct Interner<T> {
    map: FingerprintMap<Arc<T>>,
    sweep_at: usize,
}

/// A hash map keyed by fingerprints, which are hashes already: the key is its own hash. It
/// is never iterated for anything but dropping unused values (see [`Interner`]), so its order
/// (fixed anyway: no random seed) reaches no result. Not a `BTreeMap`: with tens of millions
/// of values its lookups' cache misses cost the explorer a tenth of its time.
#[allow(clippy::disallowed_types)]
type FingerprintMap<V> = std::collections::HashMap<u64, V, BuildHasherDefault<KeyIsHash>>;

/// The hasher of [`FingerprintMap`]: a `u64` key as is.
#[derive(Default)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed; any other input still hashes, slowly but correctly.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl<T> Interner<T> {
    const FIRST_SWEEP: usize = 4096;

    /// Distinct values held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            map: FingerprintMap::default(),
            sweep_at: Self::FIRST_SWEEP,
        }
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            value: Arc::clone(&self.value),
            fingerprint: AtomicU64::new(self.fingerprint.load(Ordering::Relaxed)),
            without_xids: AtomicU64::new(self.without_xids.load(Ordering::Relaxed)),
            without_counters: AtomicU64::new(self.without_counters.load(Ordering::Relaxed)),
        }
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Clone> DerefMut for Shared<T> {
    /// Copies the value first if another handle shares it; forgets the fingerprint, since the
    /// caller may change the contents.
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        *self.fingerprint.get_mut() = 0;
        *self.without_xids.get_mut() = 0;
        *self.without_counters.get_mut() = 0;
        if Arc::strong_count(&self.value) == 1 {
            // The simulator never copies its world, so nearly every write lands here, several
            // a step: this skips the compare-and-swap `make_mut` does (measurably slower).
            // Synchronizes with the release decrement of a handle another thread dropped.
            fence(Ordering::Acquire);
            // SAFETY: this is the only handle (strong count 1; no `Weak` is ever made, the
            // `Arc` being private), and `&mut self` keeps anyone from cloning it meanwhile, so
            // nothing else can reach the value while the returned borrow lives.
            return unsafe { &mut *Arc::as_ptr(&self.value).cast_mut() };
        }
        copy_on_write(&mut self.value)
    }
}

/// The slow path of a write, kept out of line so the fast one inlines.
#[cold]
#[inline(never)]
fn copy_on_write<T: Clone>(value: &mut Arc<T>) -> &mut T {
    Arc::make_mut(value)
}

impl<T: Hash> Hash for Shared<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.fingerprint());
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.value, &other.value) || *self.value == *other.value
    }
}

impl<T: Eq> Eq for Shared<T> {}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: Default> Default for Shared<T> {
    fn default() -> Self {
        Shared::new(T::default())
    }
}

impl<T> From<T> for Shared<T> {
    fn from(value: T) -> Self {
        Shared::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_copies_only_the_written_handle_and_changes_its_fingerprint() {
        let a = Shared::new(vec![1, 2, 3]);
        let mut b = a.clone();
        let before = fingerprint(&b);
        b.push(4);
        assert_eq!(*a, vec![1, 2, 3]);
        assert_eq!(*b, vec![1, 2, 3, 4]);
        assert_ne!(fingerprint(&b), before);
        assert_eq!(fingerprint(&a), before);
    }

    #[test]
    fn a_write_through_the_only_handle_copies_nothing() {
        let mut a = Shared::new(vec![1]);
        let before = Arc::as_ptr(&a.value);
        a.push(2);
        assert_eq!(Arc::as_ptr(&a.value), before);
        let b = a.clone();
        drop(b);
        a.push(3);
        assert_eq!(Arc::as_ptr(&a.value), before);
        assert_eq!(*a, vec![1, 2, 3]);
    }

    // Goal: interning makes equal values share one allocation, leaves different ones (and
    // every value and fingerprint) as they were, and forgets values nothing else holds.
    #[test]
    fn interning_shares_equal_values_only_and_forgets_unused_ones() {
        let mut table = Interner::default();
        let mut a = Shared::new(vec![1, 2]);
        let mut b = Shared::new(vec![1, 2]);
        let mut c = Shared::new(vec![3]);
        let (fa, fc) = (fingerprint(&a), fingerprint(&c));
        a.intern(&mut table);
        b.intern(&mut table);
        c.intern(&mut table);
        assert!(Arc::ptr_eq(&a.value, &b.value));
        assert!(!Arc::ptr_eq(&a.value, &c.value));
        assert_eq!((&*b, &*c), (&vec![1, 2], &vec![3]));
        assert_eq!((fingerprint(&b), fingerprint(&c)), (fa, fc));
        assert_eq!(table.len(), 2);
        // A write to an interned value copies it: the other handles keep theirs.
        b.push(9);
        assert_eq!((&*a, &*b), (&vec![1, 2], &vec![1, 2, 9]));

        // Values dropped everywhere else go at the next sweep; `a` and `c` stay.
        for i in 0..Interner::<Vec<i32>>::FIRST_SWEEP as i32 {
            Shared::new(vec![i, i]).intern(&mut table);
        }
        assert!(table.len() < 10, "{} values kept", table.len());
        let mut a2 = Shared::new(vec![1, 2]);
        a2.intern(&mut table);
        assert!(Arc::ptr_eq(&a.value, &a2.value));
    }

    // Goal: the parts of a value the table does not hold yet are interned before it joins.
    #[test]
    fn a_new_value_has_its_parts_interned() {
        let mut parts = Interner::default();
        let mut wholes = Interner::default();
        let mut known = Shared::new(String::from("part"));
        known.intern(&mut parts);
        let mut whole = Shared::new((Shared::new(String::from("part")), 1));
        whole.intern_with(&mut wholes, |(p, _)| p.intern(&mut parts));
        assert!(Arc::ptr_eq(&whole.0.value, &known.value));
        assert_eq!(wholes.len(), 1);
    }

    #[test]
    fn equal_contents_hash_alike_however_shared() {
        let a = Shared::new(String::from("x"));
        let shared = a.clone();
        let separate = Shared::new(String::from("x"));
        assert_eq!(fingerprint(&a), fingerprint(&shared));
        assert_eq!(fingerprint(&a), fingerprint(&separate));
        assert_eq!(a, separate);
    }
}
