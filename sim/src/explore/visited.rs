//! The visited set: fingerprints in an open-addressing table (linear probing, kept at most
//! three quarters full), 8 to 21 bytes a state, and, when the state graph is wanted, each
//! state's id beside its fingerprint (4 bytes a slot more). Hand-written for memory: a general map would store more per
//! entry, and std's are banned in `sim/` for their random seeding.

pub(super) struct Visited {
    slots: Vec<u64>,
    /// Beside each slot, its state's id (empty unless tracking ids).
    ids: Vec<u32>,
    tracking: bool,
    len: usize,
}

impl Visited {
    /// An empty set; `tracking` keeps each fingerprint's state id, so a transition into a
    /// state seen before can name it.
    pub(super) fn new(tracking: bool) -> Self {
        Visited {
            slots: Vec::new(),
            ids: Vec::new(),
            tracking,
            len: 0,
        }
    }

    /// Adds a fingerprint with its state id: `None` if it was new, else `Some` of the id it
    /// was stored with (0 when not tracking ids).
    pub(super) fn insert(&mut self, fp: u64, id: u32) -> Option<u32> {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let fp = stored(fp);
        let i = self.probe(fp);
        if self.slots[i] == fp {
            return Some(self.ids.get(i).copied().unwrap_or(0));
        }
        self.slots[i] = fp;
        if self.tracking {
            self.ids[i] = id;
        }
        self.len += 1;
        None
    }

    /// Whether the fingerprint is in the set.
    pub(super) fn contains(&self, fp: u64) -> bool {
        !self.slots.is_empty() && self.slots[self.probe(stored(fp))] == stored(fp)
    }

    /// The state id stored with a fingerprint (tracking only).
    pub(super) fn get(&self, fp: u64) -> Option<u32> {
        let i = (!self.slots.is_empty()).then(|| self.probe(stored(fp)))?;
        (self.slots[i] == stored(fp)).then(|| self.ids.get(i).copied())?
    }

    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.slots.capacity() * 8 + self.ids.capacity() * 4
    }

    /// The slot holding `fp`, or the empty slot where it would go.
    fn probe(&self, fp: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = (fp as usize) & mask;
        while self.slots[i] != 0 && self.slots[i] != fp {
            i = (i + 1) & mask;
        }
        i
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(1024);
        let slots = std::mem::replace(&mut self.slots, vec![0; size]);
        let ids = std::mem::take(&mut self.ids);
        if self.tracking {
            self.ids = vec![0; size];
        }
        self.len = 0;
        for (i, fp) in slots.into_iter().enumerate().filter(|(_, fp)| *fp != 0) {
            self.insert(fp, ids.get(i).copied().unwrap_or(0));
        }
    }
}

/// 0 marks an empty slot, so fingerprint 0 is stored as 1: a collision as likely as any other.
fn stored(fp: u64) -> u64 {
    fp.max(1)
}

#[cfg(test)]
mod tests {
    use super::Visited;

    // Goal: ids survive growth, and a second insert reports the first id.
    #[test]
    fn ids_survive_growth_and_duplicates_name_the_first() {
        let mut v = Visited::new(true);
        for i in 0..5000u32 {
            assert_eq!(v.insert(u64::from(i) * 7919 + 3, i), None);
        }
        assert_eq!(v.insert(3, 99), Some(0));
        assert_eq!(v.get(4999 * 7919 + 3), Some(4999));
        assert!(v.contains(7919 + 3) && !v.contains(1));
        assert_eq!(v.get(1), None);
    }

    // Goal: fingerprint 0 is a fingerprint like any other.
    #[test]
    fn fingerprint_zero_is_stored() {
        let mut v = Visited::new(false);
        assert!(!v.contains(0));
        assert_eq!(v.insert(0, 0), None);
        assert!(v.contains(0));
        assert_eq!(v.insert(0, 5), Some(0));
    }
}
