//! The znode tree (`DataTree`): nodes, their Stat bookkeeping and the ephemerals index.
//!
//! The tree only applies changes that were already validated (the server's `prep` decides what
//! is allowed); each change returns the watch triggers it causes, as values, in ZooKeeper's
//! emission order. [`DataTree::check_invariants`] re-derives every redundant field and runs
//! after each apply in debug builds.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::children::ChildSet;
use crate::data::Data;
use crate::op::{perms, Acl};
use crate::path;
use crate::shared::Shared;
use crate::stat::{SessionId, Stat, Zxid};

/// What a node is, beyond persistent: who owns it or what removes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    /// Removed only by a delete.
    Persistent,
    /// Owned by a session; removed when it closes or expires.
    Ephemeral(SessionId),
    /// Removed by the server once empty after having had a child.
    Container,
    /// Removed by the server when unmodified for `ttl_ms` and childless.
    Ttl {
        /// The TTL.
        ttl_ms: i64,
    },
}

/// One znode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The data.
    pub data: Data,
    /// The ACL.
    pub acl: Vec<Acl>,
    /// What kind of node.
    pub kind: NodeKind,
    /// zxid of the create.
    pub czxid: Zxid,
    /// zxid of the last data change.
    pub mzxid: Zxid,
    /// zxid of the last child create or delete.
    pub pzxid: Zxid,
    /// Time of the create.
    pub ctime: i64,
    /// Time of the last data change.
    pub mtime: i64,
    /// Data version.
    pub version: i32,
    /// ACL version.
    pub aversion: i32,
    /// The server's internal child-*creation* counter (`cversion` in the DataTree). It names
    /// sequential children and is never decremented; clients see `2·creates − numChildren`.
    pub child_creates: i32,
    /// Child names, in the order getChildren reports them.
    pub children: ChildSet,
    /// What a server restart rebuilds `children` as, where that is not `children` itself:
    /// the snapshot the server's last start wrote, read into a fresh set, with every create
    /// and delete since replayed onto it ([`DataTree::restart`]). `None` while the two are
    /// the same set (always, before a second restart can tell them apart). Boxed: it is
    /// almost always `None`, and every node of every state the explorer keeps has one.
    pub reloaded: Option<Box<ChildSet>>,
}

/// Every field, the zxids through `hash_zxid` (left out of a fingerprint
/// without zxids). Destructured, so a new field cannot be forgotten here.
impl std::hash::Hash for Node {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        use crate::hash::hash_zxid;
        let Node {
            data,
            acl,
            kind,
            czxid,
            mzxid,
            pzxid,
            ctime,
            mtime,
            version,
            aversion,
            child_creates,
            children,
            reloaded,
        } = self;
        (data, acl, kind).hash(h);
        hash_zxid(*czxid, h);
        hash_zxid(*mzxid, h);
        hash_zxid(*pzxid, h);
        (ctime, mtime, version, aversion, child_creates, children).hash(h);
        reloaded.hash(h);
    }
}

impl Node {
    /// A node as a create makes it.
    pub fn new(data: Data, acl: Vec<Acl>, kind: NodeKind, zxid: Zxid, time: i64) -> Self {
        Node {
            data,
            acl,
            kind,
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            aversion: 0,
            child_creates: 0,
            children: ChildSet::new(),
            reloaded: None,
        }
    }

    /// Adds a child name to the set and to what a restart would rebuild.
    fn add_child(&mut self, name: &str) {
        self.children.insert(name);
        if let Some(r) = &mut self.reloaded {
            r.insert(name);
        }
        self.settle();
    }

    /// Removes a child name from the set and from what a restart would rebuild.
    fn remove_child(&mut self, name: &str) {
        self.children.remove(name);
        if let Some(r) = &mut self.reloaded {
            r.remove(name);
        }
        self.settle();
    }

    /// One state, one value: a rebuilt set that became the live one again is `None`.
    fn settle(&mut self) {
        if self.reloaded.as_deref() == Some(&self.children) {
            self.reloaded = None;
        }
    }

    /// The owning session of an ephemeral.
    pub fn owner(&self) -> Option<SessionId> {
        match self.kind {
            NodeKind::Ephemeral(s) => Some(s),
            _ => None,
        }
    }

    /// The Stat a client sees (`DataNode.copyStat`).
    pub fn stat(&self) -> Stat {
        let num_children = self.children.len() as i32;
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self
                .child_creates
                .wrapping_mul(2)
                .wrapping_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner: self.owner().unwrap_or(0),
            data_length: self.data.len() as i32,
            num_children,
            pzxid: self.pzxid,
        }
    }

    /// Whether world:anyone holds every bit of `perm` (zksim models unauthenticated clients;
    /// an ACL with no world:anyone entry grants them nothing).
    pub fn allows(&self, perm: u32) -> bool {
        self.acl
            .iter()
            .any(|a| a.scheme == "world" && a.id == "anyone" && a.perms & perm == perm)
    }
}

/// A change the tree made that may fire watches, in emission order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A node was created: NodeCreated(path) to data watchers, then NodeChildrenChanged(parent).
    Created {
        /// The new node.
        path: String,
        /// Its parent.
        parent: String,
        /// Its data.
        data: Data,
        /// Its owner, for an ephemeral.
        owner: Option<SessionId>,
    },
    /// A node was deleted: NodeDeleted(path) to data then (deduplicated) child watchers, then
    /// NodeChildrenChanged(parent).
    Deleted {
        /// The deleted node.
        path: String,
        /// Its parent.
        parent: String,
    },
    /// A node's data was set: NodeDataChanged(path).
    DataChanged {
        /// The node.
        path: String,
        /// The new data.
        data: Data,
        /// The new version.
        version: i32,
    },
}

/// A child set as a server's start reads it from a snapshot: the names in the order the
/// snapshot wrote them (the set's iteration order), added to a fresh `new HashSet<String>(8)`
/// (`DataNode.addChild`).
fn read_back(set: &ChildSet) -> ChildSet {
    let mut fresh = ChildSet::new();
    for name in set.iter() {
        fresh.insert(name);
    }
    fresh
}

/// The tree of znodes, keyed by full path (`/` for the root). Nodes and ephemeral sets are
/// [`Shared`] and paths are `Arc<str>`, so copying a tree copies no node: a write copies only
/// the nodes it changes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DataTree {
    nodes: BTreeMap<Arc<str>, Shared<Node>>,
    /// Each session's ephemerals as the server keeps them, a `new HashSet<String>()`, whose
    /// iteration order decides the order a closing session's nodes are deleted in.
    ephemerals: BTreeMap<SessionId, Shared<ChildSet>>,
    /// What a server restart rebuilds `ephemerals` as, where that is not `ephemerals`
    /// itself (see [`Node::reloaded`]; `None` while they are the same).
    reloaded_ephemerals: Option<Shared<BTreeMap<SessionId, Shared<ChildSet>>>>,
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

/// The nodes every server has from the start.
pub const SPECIAL_PATHS: [&str; 4] = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"];

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota`, `/zookeeper/config`, all at zxid
    /// and time 0, as a new 3.8 server has them (`/zookeeper/config` read-only, aversion −1).
    pub fn new() -> Self {
        let mut t = DataTree {
            nodes: BTreeMap::new(),
            ephemerals: BTreeMap::new(),
            reloaded_ephemerals: None,
        };
        let initial = |acl| Node::new(Data::bytes(""), acl, NodeKind::Persistent, 0, 0);
        t.nodes.insert("/".into(), initial(Acl::open()).into());
        for p in ["/zookeeper", "/zookeeper/quota"] {
            t.insert_child_name(p);
            t.nodes.insert(p.into(), initial(Acl::open()).into());
        }
        t.insert_child_name("/zookeeper/config");
        let mut config = initial(vec![Acl::world(perms::READ)]);
        config.aversion = -1;
        t.nodes.insert("/zookeeper/config".into(), config.into());
        // The initial children are not counted as creations (cv stays 0), which is why a fresh
        // root shows cversion -1 and /zookeeper -2, as on a real server.
        t
    }

    fn insert_child_name(&mut self, p: &str) {
        let parent = path::node_key(path::parent_of(p).expect("absolute"));
        let node = self.nodes.get_mut(parent).expect("parent inserted first");
        node.children.insert(path::name_of(p));
    }

    /// The node at `path`, if any. The server's internal `""` names the root.
    pub fn get(&self, p: &str) -> Option<&Node> {
        self.nodes.get(path::node_key(p)).map(|n| &**n)
    }

    /// Whether a node exists.
    pub fn contains(&self, p: &str) -> bool {
        self.get(p).is_some()
    }

    /// Every node, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(p, n)| (&**p, &**n))
    }

    /// Number of nodes, the initial ones included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: the root exists.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The ephemerals a session owns, in the order a closeSession deletes them: ZooKeeper
    /// copies the session's set (`HashSet.clone`) and deletes in the copy's iteration order.
    pub fn ephemerals_to_delete(&self, session: SessionId) -> Vec<String> {
        self.ephemerals.get(&session).map_or_else(Vec::new, |set| {
            set.java_clone().iter().map(str::to_string).collect()
        })
    }

    /// Forgets a session's ephemerals set once the session is gone (after its nodes were
    /// deleted).
    pub fn forget_session(&mut self, session: SessionId) {
        debug_assert!(self.ephemerals.get(&session).is_none_or(|s| s.is_empty()));
        self.ephemerals.remove(&session);
        self.on_reloaded_ephemerals(|e| {
            e.remove(&session);
        });
    }

    /// Applies `change` to what a restart would rebuild the ephemerals as, if that differs
    /// from them; `None` again once it is the same.
    fn on_reloaded_ephemerals(
        &mut self,
        change: impl FnOnce(&mut BTreeMap<SessionId, Shared<ChildSet>>),
    ) {
        if let Some(r) = &mut self.reloaded_ephemerals {
            change(r);
            if **r == self.ephemerals {
                self.reloaded_ephemerals = None;
            }
        }
    }

    /// The server restarts on its data directory: it reads the snapshot its last start
    /// wrote and replays the transactions logged since, then writes a snapshot of its own
    /// (`ZooKeeperServer.loadData`, then `takeSnapshot`). Nodes, data and Stats come back as
    /// they were; the `HashSet`s do not always: a set read back from a snapshot is a fresh
    /// one filled in the old one's iteration order, whose table is sized for the names it
    /// holds now, so a set that once held more (or lost names) can iterate differently.
    /// What each set comes back as is kept beside it ([`Node::reloaded`]) from the restart
    /// before, so each restart makes the order the real server shows: the first (replaying
    /// the whole log onto the initial tree) changes nothing, later ones can. A session's
    /// ephemerals set is read back the same way, in the snapshot's order (depth first, each
    /// node's children in their iteration order), and only for sessions that still own a
    /// node.
    pub fn restart(&mut self) {
        for node in self.nodes.values_mut() {
            let live = node.reloaded.as_deref().unwrap_or(&node.children).clone();
            let snapshot = read_back(&live);
            let reloaded = (snapshot != live).then(|| Box::new(snapshot));
            if live != node.children || reloaded != node.reloaded {
                // A write through the handle copies a node another tree shares.
                let node: &mut Node = node;
                node.children = live;
                node.reloaded = reloaded;
            }
        }
        if let Some(r) = self.reloaded_ephemerals.take() {
            self.ephemerals = (*r).clone();
        }
        let mut snapshot: BTreeMap<SessionId, ChildSet> = BTreeMap::new();
        let mut stack = vec![String::from("/")];
        while let Some(p) = stack.pop() {
            let node = self.get(&p).expect("a listed child exists");
            if let Some(owner) = node.owner() {
                snapshot
                    .entry(owner)
                    .or_insert_with(|| ChildSet::with_capacity(16))
                    .insert(&p);
            }
            let children: Vec<String> = node.children.iter().map(|n| path::join(&p, n)).collect();
            stack.extend(children.into_iter().rev());
        }
        let snapshot: BTreeMap<SessionId, Shared<ChildSet>> = snapshot
            .into_iter()
            .map(|(s, set)| (s, set.into()))
            .collect();
        if snapshot != self.ephemerals {
            self.reloaded_ephemerals = Some(snapshot.into());
        }
    }

    /// Every session that owns (or owned) an ephemeral and is not forgotten.
    pub fn ephemeral_owners(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.ephemerals.keys().copied()
    }

    /// Creates a node under an existing parent (`DataTree.createNode`).
    pub fn create(&mut self, p: &str, node: Node, zxid: Zxid) -> Trigger {
        let parent = path::node_key(path::parent_of(p).expect("validated")).to_string();
        let name = path::name_of(p);
        let parent_node = self.nodes.get_mut(&*parent).expect("validated parent");
        parent_node.add_child(name);
        parent_node.child_creates = parent_node.child_creates.wrapping_add(1);
        parent_node.pzxid = zxid;
        if let Some(owner) = node.owner() {
            let add = |e: &mut BTreeMap<SessionId, Shared<ChildSet>>| {
                e.entry(owner)
                    .or_insert_with(|| ChildSet::with_capacity(16).into())
                    .insert(p);
            };
            add(&mut self.ephemerals);
            self.on_reloaded_ephemerals(add);
        }
        let (data, owner) = (node.data.clone(), node.owner());
        self.nodes.insert(p.into(), node.into());
        Trigger::Created {
            path: p.to_string(),
            parent,
            data,
            owner,
        }
    }

    /// Deletes a childless node (`DataTree.deleteNode`).
    pub fn delete(&mut self, p: &str, zxid: Zxid) -> Trigger {
        let node = self.nodes.remove(p).expect("validated node");
        debug_assert!(node.children.is_empty(), "delete of {p} with children");
        if let Some(owner) = node.owner() {
            // The (possibly now empty) set stays until the session ends, as in ZooKeeper: its
            // table size shapes the order of later ephemerals.
            let remove = |e: &mut BTreeMap<SessionId, Shared<ChildSet>>| {
                e.get_mut(&owner).expect("indexed ephemeral").remove(p);
            };
            remove(&mut self.ephemerals);
            self.on_reloaded_ephemerals(remove);
        }
        let parent = path::node_key(path::parent_of(p).expect("validated")).to_string();
        let parent_node = self.nodes.get_mut(&*parent).expect("parent of a node");
        parent_node.remove_child(path::name_of(p));
        parent_node.pzxid = parent_node.pzxid.max(zxid);
        Trigger::Deleted {
            path: p.to_string(),
            parent,
        }
    }

    /// Sets a node's data and version (`DataTree.setData`).
    pub fn set_data(
        &mut self,
        p: &str,
        data: Data,
        version: i32,
        zxid: Zxid,
        time: i64,
    ) -> Trigger {
        let node = self.nodes.get_mut(p).expect("validated node");
        node.data = data.clone();
        node.version = version;
        node.mzxid = zxid;
        node.mtime = time;
        Trigger::DataChanged {
            path: p.to_string(),
            data,
            version,
        }
    }

    /// Sets a node's ACL and aversion (`DataTree.setACL`); fires nothing.
    pub fn set_acl(&mut self, p: &str, acl: Vec<Acl>, aversion: i32) {
        let node = self.nodes.get_mut(p).expect("validated node");
        node.acl = acl;
        node.aversion = aversion;
    }

    /// Sets a node's creation counter (tests reaching the overflow).
    pub(crate) fn seed_child_creates(&mut self, p: &str, value: i32) {
        self.nodes
            .get_mut(p)
            .expect("an existing node")
            .child_creates = value;
    }

    /// Checks every redundant piece of state against the nodes: each non-root node's parent
    /// exists and lists it, each listed child exists, ephemerals have no children and are
    /// indexed under their owner, and the index holds nothing else. Panics with the broken rule.
    pub fn check_invariants(&self) {
        let mut indexed = 0;
        for (p, node) in &self.nodes {
            for name in node.children.iter() {
                let child = path::join(p, name);
                assert!(
                    self.nodes.contains_key(&*child),
                    "{p} lists missing child {name}"
                );
            }
            if &**p != "/" {
                let parent = path::node_key(path::parent_of(p).expect("absolute"));
                let pn = self
                    .nodes
                    .get(parent)
                    .unwrap_or_else(|| panic!("{p} has no parent"));
                assert!(
                    pn.children.contains(path::name_of(p)),
                    "{parent} does not list {p}"
                );
            }
            if let Some(r) = &node.reloaded {
                assert_eq!(
                    r.sorted(),
                    node.children.sorted(),
                    "{p}: the set a restart rebuilds holds other names"
                );
            }
            if let Some(owner) = node.owner() {
                assert!(node.children.is_empty(), "ephemeral {p} has children");
                assert!(
                    self.ephemerals.get(&owner).is_some_and(|s| s.contains(p)),
                    "ephemeral {p} not indexed under its owner"
                );
                indexed += 1;
            }
        }
        let in_index: usize = self.ephemerals.values().map(|s| s.len()).sum();
        assert_eq!(
            indexed, in_index,
            "the ephemerals index lists nodes that are not ephemeral"
        );
    }
}
