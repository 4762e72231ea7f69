//! The server's watch tables (`WatchManager`), one for data watches and one for child watches.
//!
//! As in ZooKeeper 3.8, a watch belongs to a session's connection and is stored once per
//! (session, path) with one mode: a later registration on the same path replaces the mode (a
//! `getData(watch)` after an `addWatch(PERSISTENT)` leaves a one-shot watch, as 3.8.0 does).
//! Triggering walks the path and, when recursive watches exist, its ancestors; one-shot watches
//! are removed as they fire; one event goes to each session at most once per trigger.

use std::collections::{BTreeMap, BTreeSet};

use crate::op::EventType;
use crate::path;
use crate::stat::SessionId;

/// How a stored watch behaves (`WatcherMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WatchMode {
    /// One-shot: removed when it fires.
    Standard,
    /// Stays after firing.
    Persistent,
    /// Stays after firing and fires for descendants too (never NodeChildrenChanged).
    PersistentRecursive,
}

/// One watch table: path → session → mode.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct WatchTable {
    by_path: BTreeMap<String, BTreeMap<SessionId, WatchMode>>,
    recursive_count: usize,
}

impl WatchTable {
    /// Registers (or re-registers, replacing the mode) a watch.
    pub fn add(&mut self, path: &str, session: SessionId, mode: WatchMode) {
        let old = self
            .by_path
            .entry(path.to_string())
            .or_default()
            .insert(session, mode);
        self.recount(old, Some(mode));
    }

    fn recount(&mut self, old: Option<WatchMode>, new: Option<WatchMode>) {
        if old == Some(WatchMode::PersistentRecursive) {
            self.recursive_count -= 1;
        }
        if new == Some(WatchMode::PersistentRecursive) {
            self.recursive_count += 1;
        }
    }

    /// Whether the session has a watch of any mode on the path.
    pub fn contains(&self, path: &str, session: SessionId) -> bool {
        self.by_path
            .get(path)
            .is_some_and(|m| m.contains_key(&session))
    }

    /// The mode of the session's watch on the path.
    pub fn mode(&self, path: &str, session: SessionId) -> Option<WatchMode> {
        self.by_path
            .get(path)
            .and_then(|m| m.get(&session))
            .copied()
    }

    /// Removes the session's watches on `path` that `remove` selects; returns whether one went.
    pub fn remove_where(
        &mut self,
        path: &str,
        session: SessionId,
        remove: impl Fn(WatchMode) -> bool,
    ) -> bool {
        let Some(m) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(mode) = m.get(&session).copied() else {
            return false;
        };
        if !remove(mode) {
            return false;
        }
        m.remove(&session);
        if m.is_empty() {
            self.by_path.remove(path);
        }
        self.recount(Some(mode), None);
        true
    }

    /// Drops every watch of a session (its connection closed).
    pub fn remove_session(&mut self, session: SessionId) {
        let mut gone = Vec::new();
        for (p, m) in &mut self.by_path {
            if let Some(mode) = m.remove(&session) {
                if mode == WatchMode::PersistentRecursive {
                    self.recursive_count -= 1;
                }
            }
            if m.is_empty() {
                gone.push(p.clone());
            }
        }
        for p in gone {
            self.by_path.remove(&p);
        }
    }

    /// `WatchManager.triggerWatch`: the sessions to notify of `kind` on `path`, removing the
    /// one-shot watches that fire. Sessions in `suppress` are not notified (their one-shot
    /// watches are still consumed, as in ZooKeeper).
    pub fn trigger(
        &mut self,
        path: &str,
        kind: EventType,
        suppress: &BTreeSet<SessionId>,
    ) -> BTreeSet<SessionId> {
        let mut fired = BTreeSet::new();
        self.trigger_at(path, kind, false, &mut fired);
        if self.recursive_count > 0 {
            for ancestor in path::ancestors(path) {
                self.trigger_at(ancestor, kind, true, &mut fired);
            }
        }
        fired.retain(|s| !suppress.contains(s));
        fired
    }

    fn trigger_at(
        &mut self,
        at: &str,
        kind: EventType,
        is_ancestor: bool,
        fired: &mut BTreeSet<SessionId>,
    ) {
        let Some(m) = self.by_path.get_mut(at) else {
            return;
        };
        m.retain(|session, mode| match mode {
            WatchMode::PersistentRecursive => {
                if kind != EventType::NodeChildrenChanged {
                    fired.insert(*session);
                }
                true
            }
            _ if is_ancestor => true,
            WatchMode::Persistent => {
                fired.insert(*session);
                true
            }
            WatchMode::Standard => {
                fired.insert(*session);
                false
            }
        });
        if m.is_empty() {
            self.by_path.remove(at);
        }
    }

    /// Every (path, session, mode), in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, SessionId, WatchMode)> {
        self.by_path
            .iter()
            .flat_map(|(p, m)| m.iter().map(move |(s, mode)| (p.as_str(), *s, *mode)))
    }

    /// Number of stored watches.
    pub fn len(&self) -> usize {
        self.by_path.values().map(BTreeMap::len).sum()
    }

    /// Whether no watch is stored.
    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }
}

/// The server's two tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Watches {
    /// Data and exists watches (and persistent, persistent-recursive ones).
    pub data: WatchTable,
    /// Child watches (and persistent ones).
    pub child: WatchTable,
}

impl Watches {
    /// Drops every watch of a session (its connection closed or it expired).
    pub fn remove_session(&mut self, session: SessionId) {
        self.data.remove_session(session);
        self.child.remove_session(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SessionId = 1;
    const B: SessionId = 2;

    // One-shot watches go when they fire; persistent ones stay.
    #[test]
    fn standard_watches_fire_once_and_persistent_ones_stay() {
        let mut t = WatchTable::default();
        t.add("/x", A, WatchMode::Standard);
        t.add("/x", B, WatchMode::Persistent);
        let none = BTreeSet::new();
        assert_eq!(
            t.trigger("/x", EventType::NodeDataChanged, &none),
            BTreeSet::from([A, B])
        );
        assert_eq!(
            t.trigger("/x", EventType::NodeDataChanged, &none),
            BTreeSet::from([B])
        );
    }

    // Recursive watches see descendants but never NodeChildrenChanged; plain ones only their path.
    #[test]
    fn recursive_watches_cover_descendants_except_child_events() {
        let mut t = WatchTable::default();
        t.add("/a", A, WatchMode::PersistentRecursive);
        t.add("/a", B, WatchMode::Standard);
        let none = BTreeSet::new();
        assert_eq!(
            t.trigger("/a/b/c", EventType::NodeCreated, &none),
            BTreeSet::from([A])
        );
        assert!(
            t.contains("/a", B),
            "an ancestor's one-shot watch is not consumed"
        );
        assert_eq!(
            t.trigger("/a", EventType::NodeDataChanged, &none),
            BTreeSet::from([A, B])
        );
        assert!(t
            .trigger("/a/b", EventType::NodeChildrenChanged, &none)
            .is_empty());
    }

    // A suppressed session is not notified, but its one-shot watch is consumed.
    #[test]
    fn suppressed_sessions_lose_their_watch_silently() {
        let mut t = WatchTable::default();
        t.add("/x", A, WatchMode::Standard);
        assert!(t
            .trigger("/x", EventType::NodeDeleted, &BTreeSet::from([A]))
            .is_empty());
        assert!(t.is_empty());
    }
}
