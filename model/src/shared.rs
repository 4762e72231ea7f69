//! [`Shared`]: a part of a state that clones share until one of them changes it.
//!
//! The explorer clones a whole world for every transition, and a step changes little of it
//! (one process, perhaps the server); sharing the rest makes a clone a few reference-count
//! bumps instead of a deep copy. Each part also remembers its fingerprint, so hashing a world
//! rehashes only the parts a step changed.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::Arc;

use crate::hash::{fingerprint, zxids_hashed};

/// A value shared copy-on-write: reading is free, the first write through a shared handle
/// copies the value ([`Arc::make_mut`]). It hashes as its contents' fixed fingerprint (never a
/// pointer), so equal values hash alike however they are shared.
pub struct Shared<T> {
    value: Arc<T>,
    /// The contents' fingerprint, 0 until computed; reset by every mutable access.
    fingerprint: AtomicU64,
    /// The same without zxids ([`crate::hash::fingerprint_without_zxids`]).
    without_zxids: AtomicU64,
}

impl<T> Shared<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Shared {
            value: Arc::new(value),
            fingerprint: AtomicU64::new(0),
            without_zxids: AtomicU64::new(0),
        }
    }
}

impl<T: Hash> Shared<T> {
    /// The contents' fingerprint (with or without zxids, as the hash being computed is),
    /// computed once per version of the contents.
    fn fingerprint(&self) -> u64 {
        let slot = if zxids_hashed() {
            &self.fingerprint
        } else {
            &self.without_zxids
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

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            value: Arc::clone(&self.value),
            fingerprint: AtomicU64::new(self.fingerprint.load(Ordering::Relaxed)),
            without_zxids: AtomicU64::new(self.without_zxids.load(Ordering::Relaxed)),
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
        *self.without_zxids.get_mut() = 0;
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
