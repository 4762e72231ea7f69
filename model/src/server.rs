//! The ZooKeeper server: request validation in the server's order, transactions, zxids, watch
//! delivery and sessions. A standalone 3.8 server, as a pure state machine.
//!
//! ```
//! use zksim_model::server::{Server, ServerConfig, ToClient};
//! use zksim_model::op::{CreateMode, Request};
//!
//! let mut server = Server::new(ServerConfig::default());
//! let (a, _timeout) = server.connect(0, 4000);
//! let out = server.handle(0, a, 1, &Request::Create {
//!     path: "/master".into(), data: "m1".into(), acl: zksim_model::op::Acl::open(),
//!     mode: CreateMode::Ephemeral, ttl_ms: None, stat: false,
//! });
//! assert!(matches!(&out[0].message, ToClient::Reply { reply: Ok(_), .. }));
//! ```
//!
//! Every call returns the frames the server sends, in order, as [`Outgoing`] values: watch
//! events for any session, and the reply to the caller last (ZooKeeper fires a txn's watches
//! before it sends the reply).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::children::ChildOrder;
use crate::data::Data;
use crate::error::ErrorCode;
use crate::jute;
use crate::op::{
    perms, Acl, AddWatchMode, CreateMode, EventType, OpResult, Reply, Request, Response,
    WatchedEvent, WatcherType,
};
use crate::path;
use crate::shared::{Interner, Shared};
use crate::stat::{SessionId, Zxid};
use crate::tree::{DataTree, Node, NodeKind, Trigger, SPECIAL_PATHS};
use crate::watch::{WatchMode, Watches};

/// Server settings; the defaults are a standalone 3.8 server with `tickTime=2000`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// `tickTime`: the session-expiry granularity and the unit of the timeout bounds.
    pub tick_ms: u32,
    /// `minSessionTimeout`; `None` means 2 ticks.
    pub min_session_timeout_ms: Option<u32>,
    /// `maxSessionTimeout`; `None` means 20 ticks.
    pub max_session_timeout_ms: Option<u32>,
    /// `jute.maxbuffer`: the largest request packet (header and body) the server reads;
    /// over it, it drops the connection and applies nothing.
    pub max_request_bytes: usize,
    /// How getChildren orders names.
    pub child_order: ChildOrder,
    /// `zookeeper.extendedTypesEnabled` (TTL nodes); off by default, as on a real server.
    pub extended_types_enabled: bool,
    /// The id of the first session; later ones count up by one.
    pub first_session_id: SessionId,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tick_ms: 2000,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            max_request_bytes: 0xfffff,
            child_order: ChildOrder::Java,
            extended_types_enabled: false,
            first_session_id: 0x0100_0000_0000_0000,
        }
    }
}

impl ServerConfig {
    /// The negotiated timeout for a requested one: clamped to [min, max].
    pub fn negotiate_timeout_ms(&self, requested_ms: u32) -> u32 {
        let min = self.min_session_timeout_ms.unwrap_or(2 * self.tick_ms);
        let max = self.max_session_timeout_ms.unwrap_or(20 * self.tick_ms);
        requested_ms.clamp(min, max.max(min))
    }
}

/// What the server sends to one session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum ToClient {
    /// A watch notification.
    Event {
        /// The event.
        event: WatchedEvent,
    },
    /// The reply to request `xid`; `zxid` is the reply header's zxid (the txn's for a write,
    /// the last committed one for a read).
    Reply {
        /// The request's xid.
        xid: i32,
        /// Reply-header zxid.
        zxid: Zxid,
        /// The code or the body.
        reply: Reply,
    },
    /// The server closed the connection (an oversize packet, or the session expired while
    /// connected). The session itself lives on unless it expired.
    Drop,
}

/// A frame addressed to a session.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Outgoing {
    /// The receiving session.
    pub session: SessionId,
    /// The frame.
    pub message: ToClient,
}

/// Every field, the reply header's zxid through `hash_zxid` (left out of a
/// fingerprint without zxids).
impl std::hash::Hash for ToClient {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        match self {
            ToClient::Event { event } => event.hash(h),
            ToClient::Reply { xid, zxid, reply } => {
                xid.hash(h);
                crate::hash::hash_zxid(*zxid, h);
                reply.hash(h);
            }
            ToClient::Drop => {}
        }
    }
}

/// A change the server committed, for traces: what happened to the tree or the sessions, at
/// which zxid.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A session was created.
    SessionCreated {
        /// The txn's zxid.
        zxid: Zxid,
        /// The new session.
        session: SessionId,
    },
    /// A session was closed or expired (its ephemerals' deletions follow, same zxid).
    SessionClosed {
        /// The txn's zxid.
        zxid: Zxid,
        /// The session.
        session: SessionId,
        /// Whether it expired (rather than being closed by its client).
        expired: bool,
    },
    /// A znode was created.
    Created {
        /// The txn's zxid.
        zxid: Zxid,
        /// The session whose request made the change (none for the server's own).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<SessionId>,
        /// The path.
        path: String,
        /// The data.
        data: Data,
        /// The owning session of an ephemeral.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<SessionId>,
    },
    /// A znode was deleted.
    Deleted {
        /// The txn's zxid.
        zxid: Zxid,
        /// The session whose request made the change (none for an expiry or the container
        /// manager).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<SessionId>,
        /// The path.
        path: String,
    },
    /// A znode's data was set.
    DataChanged {
        /// The txn's zxid.
        zxid: Zxid,
        /// The session whose request made the change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<SessionId>,
        /// The path.
        path: String,
        /// The new data.
        data: Data,
        /// The new version.
        version: i32,
    },
}

/// The server's record of a session (`SessionTrackerImpl`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionInfo {
    /// The negotiated timeout.
    pub timeout_ms: u32,
    /// When the session expires unless the client is heard from: `lastHeard + timeout`
    /// rounded up to the next tick boundary, as `ExpiryQueue` buckets it.
    pub deadline_ms: u64,
    /// Whether the session has a live connection.
    pub connected: bool,
}

/// The watches a reconnecting client re-registers (`SetWatches2`), each list in the order the
/// client sends it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SetWatches {
    /// Paths with a data watch (getData, or exists on an existing node).
    pub data: Vec<String>,
    /// Paths with an exists watch on a missing node.
    pub exist: Vec<String>,
    /// Paths with a child watch.
    pub child: Vec<String>,
    /// Paths with a persistent watch.
    pub persistent: Vec<String>,
    /// Paths with a persistent-recursive watch.
    pub persistent_recursive: Vec<String>,
}

impl SetWatches {
    /// Whether there is nothing to re-register.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.persistent_recursive.is_empty()
    }
}

/// A standalone ZooKeeper server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    config: ServerConfig,
    /// Shared between copies of the server until a write changes it.
    tree: Shared<DataTree>,
    /// Shared between copies of the server until a watch is set, fired or dropped.
    watches: Shared<Watches>,
    sessions: BTreeMap<SessionId, SessionInfo>,
    /// The last zxid handed out.
    zxid: Zxid,
    next_session_id: SessionId,
    /// Changes committed since the last [`Server::take_changes`].
    changes: Vec<Change>,
}

/// Every field, the zxid counter through `hash_zxid` (left out of a
/// fingerprint without zxids). Destructured, so a new field cannot be forgotten here.
impl std::hash::Hash for Server {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Server {
            config,
            tree,
            watches,
            sessions,
            zxid,
            next_session_id,
            changes,
        } = self;
        (config, tree, watches, sessions).hash(h);
        crate::hash::hash_zxid(*zxid, h);
        (next_session_id, changes).hash(h);
    }
}

/// The result of a write before its reply is built.
type Applied = (Result<Response, ErrorCode>, Vec<Trigger>);

impl Server {
    /// A fresh server with an initial tree and no sessions, at zxid 0.
    pub fn new(config: ServerConfig) -> Self {
        let next_session_id = config.first_session_id;
        Server {
            config,
            tree: Shared::new(DataTree::new()),
            watches: Shared::default(),
            sessions: BTreeMap::new(),
            zxid: 0,
            next_session_id,
            changes: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The tree.
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The watch tables.
    pub fn watches(&self) -> &Watches {
        &self.watches
    }

    /// Sets a node's sequence counter, to reach states no short history reaches (the counter
    /// overflow). For tests.
    #[doc(hidden)]
    pub fn seed_sequence_counter(&mut self, path: &str, value: i32) {
        self.tree.seed_child_creates(path, value);
    }

    /// Makes the tree and the watch tables share the allocations of equal ones the tables
    /// hold ([`Shared::intern_with`]): memory, not meaning.
    pub fn intern_parts(
        &mut self,
        trees: &mut Interner<DataTree>,
        watches: &mut Interner<Watches>,
    ) {
        self.tree.intern(trees);
        self.watches.intern(watches);
    }

    /// The changes committed since the last call, in commit order (for traces).
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// The last zxid handed out.
    pub fn last_zxid(&self) -> Zxid {
        self.zxid
    }

    /// The live sessions.
    pub fn sessions(&self) -> &BTreeMap<SessionId, SessionInfo> {
        &self.sessions
    }

    /// Whether the server still knows the session (neither closed nor expired).
    pub fn is_live(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session)
    }

    fn next_zxid(&mut self) -> Zxid {
        self.zxid += 1;
        self.zxid
    }

    fn deadline(&self, now_ms: u64, timeout_ms: u32) -> u64 {
        expiry_deadline_ms(self.config.tick_ms, now_ms, timeout_ms)
    }

    /// A new session (`createSession` txn, one zxid); returns its id and negotiated timeout.
    pub fn connect(&mut self, now_ms: u64, requested_timeout_ms: u32) -> (SessionId, u32) {
        let id = self.next_session_id;
        self.next_session_id += 1;
        let timeout_ms = self.config.negotiate_timeout_ms(requested_timeout_ms);
        let zxid = self.next_zxid();
        self.changes
            .push(Change::SessionCreated { zxid, session: id });
        let deadline_ms = self.deadline(now_ms, timeout_ms);
        self.sessions.insert(
            id,
            SessionInfo {
                timeout_ms,
                deadline_ms,
                connected: true,
            },
        );
        (id, timeout_ms)
    }

    /// A client reconnects with its session (`ConnectRequest` with the session id). An
    /// unknown (expired or closed) session gets `None`: the server answers timeout 0 and the
    /// client raises Expired. Otherwise the session is renewed and the client's watches are
    /// re-registered (`DataTree.setWatches`); the returned events are those it fires at once.
    pub fn reconnect(
        &mut self,
        now_ms: u64,
        session: SessionId,
        last_zxid: Zxid,
        watches: &SetWatches,
    ) -> Option<(u32, Vec<WatchedEvent>)> {
        let deadline = self.deadline(now_ms, self.sessions.get(&session)?.timeout_ms);
        let info = self.sessions.get_mut(&session)?;
        info.deadline_ms = deadline;
        info.connected = true;
        let timeout_ms = info.timeout_ms;
        Some((timeout_ms, self.set_watches(session, last_zxid, watches)))
    }

    fn set_watches(&mut self, s: SessionId, rel: Zxid, w: &SetWatches) -> Vec<WatchedEvent> {
        let mut events = Vec::new();
        let mut fire = |kind, p: &str| events.push(WatchedEvent::node(kind, p));
        for p in &w.data {
            match self.tree.get(p) {
                None => fire(EventType::NodeDeleted, p),
                Some(n) if n.mzxid > rel => fire(EventType::NodeDataChanged, p),
                Some(_) => self.watches.data.add(p, s, WatchMode::Standard),
            }
        }
        for p in &w.exist {
            match self.tree.get(p) {
                Some(_) => fire(EventType::NodeCreated, p),
                None => self.watches.data.add(p, s, WatchMode::Standard),
            }
        }
        for p in &w.child {
            match self.tree.get(p) {
                None => fire(EventType::NodeDeleted, p),
                Some(n) if n.pzxid > rel => fire(EventType::NodeChildrenChanged, p),
                Some(_) => self.watches.child.add(p, s, WatchMode::Standard),
            }
        }
        for p in &w.persistent {
            self.add_persistent(s, p, WatchMode::Persistent);
        }
        for p in &w.persistent_recursive {
            self.add_persistent(s, p, WatchMode::PersistentRecursive);
        }
        events
    }

    /// The session's connection closed (the server removes its watches, as it does for a
    /// closed `ServerCnxn`); the session itself lives on until it expires.
    pub fn disconnect(&mut self, session: SessionId) {
        if let Some(info) = self.sessions.get_mut(&session) {
            info.connected = false;
        }
        self.watches.remove_session(session);
    }

    /// The server is stopped and started again on the same data directory. What a standalone
    /// 3.8 server rebuilds from its snapshot and transaction log survives: the tree (data,
    /// Stats, sequence counters, ephemerals and their owners), the last zxid (standalone has
    /// no epoch to bump: the first write after the restart takes the next zxid) and every
    /// live session with its negotiated timeout. What lived only in memory does not: every
    /// connection is closed (a [`ToClient::Drop`] for each connected session, in id order)
    /// and every watch is gone until its client re-registers it on reconnect.
    ///
    /// The session tracker is rebuilt as the server starts (`SessionTrackerImpl` tracks each
    /// restored session, which sets its expiry as a ping would), so each session's timeout
    /// starts over at `now_ms`: the time the server was down does not count.
    ///
    /// The tree's `HashSet`s come back as the real server rebuilds them
    /// ([`DataTree::restart`]): a first restart replays the whole log onto the initial tree,
    /// the same history in the same order, so nothing changes; a later one reads the snapshot
    /// the previous start wrote, whose sets can iterate differently once they held more names
    /// than now (`tests/conformance/scripts/server_restart_child_order.json`).
    pub fn restart(&mut self, now_ms: u64) -> Vec<Outgoing> {
        self.tree.restart();
        let tick_ms = self.config.tick_ms;
        let mut dropped = Vec::new();
        for (id, info) in &mut self.sessions {
            if info.connected {
                dropped.push(Outgoing {
                    session: *id,
                    message: ToClient::Drop,
                });
            }
            info.connected = false;
            info.deadline_ms = expiry_deadline_ms(tick_ms, now_ms, info.timeout_ms);
        }
        self.watches = Shared::default();
        dropped
    }

    /// A packet (a ping or any request) arrived from the session: renew it.
    pub fn touch(&mut self, now_ms: u64, session: SessionId) {
        if let Some(timeout) = self.sessions.get(&session).map(|i| i.timeout_ms) {
            let deadline = self.deadline(now_ms, timeout);
            if let Some(info) = self.sessions.get_mut(&session) {
                info.deadline_ms = deadline;
            }
        }
    }

    /// The earliest deadline among live sessions.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.sessions.values().map(|i| i.deadline_ms).min()
    }

    /// Expires every session whose deadline has come, earliest first (then by id): one
    /// closeSession txn each.
    pub fn expire_due(&mut self, now_ms: u64) -> Vec<Outgoing> {
        let mut due: Vec<(u64, SessionId)> = self
            .sessions
            .iter()
            .filter(|(_, i)| i.deadline_ms <= now_ms)
            .map(|(s, i)| (i.deadline_ms, *s))
            .collect();
        due.sort_unstable();
        due.into_iter().flat_map(|(_, s)| self.expire(s)).collect()
    }

    /// Expires a session now, whatever its deadline (the explorer's abstraction of time):
    /// its ephemerals go in one closeSession txn, their watches fire, and a still-open
    /// connection is dropped.
    pub fn expire(&mut self, session: SessionId) -> Vec<Outgoing> {
        let Some(info) = self.sessions.get(&session) else {
            return Vec::new();
        };
        let connected = info.connected;
        let mut out = self.kill_session(session, true);
        if connected {
            out.push(Outgoing {
                session,
                message: ToClient::Drop,
            });
        }
        out
    }

    /// `closeSession` from the client: the reply comes after the events its ephemerals fire.
    pub fn close(&mut self, session: SessionId, xid: i32) -> Vec<Outgoing> {
        if !self.sessions.contains_key(&session) {
            let reply = Err(ErrorCode::SessionExpired);
            return vec![self.reply(session, xid, self.zxid, reply)];
        }
        let mut out = self.kill_session(session, false);
        out.push(self.reply(session, xid, self.zxid, Ok(Response::Empty)));
        out
    }

    fn kill_session(&mut self, session: SessionId, expired: bool) -> Vec<Outgoing> {
        let zxid = self.next_zxid();
        self.changes.push(Change::SessionClosed {
            zxid,
            session,
            expired,
        });
        let doomed = self.tree.ephemerals_to_delete(session);
        let triggers: Vec<Trigger> = doomed.iter().map(|p| self.tree.delete(p, zxid)).collect();
        self.tree.forget_session(session);
        self.debug_check();
        let out = self.fire(&triggers, None);
        self.sessions.remove(&session);
        self.watches.remove_session(session);
        out
    }

    /// One run of the server's `ContainerManager` (every `znode.container.checkIntervalMs`,
    /// 60 s by default): deletes each container that is childless and has had a child, then
    /// each TTL node that is childless and unmodified for longer than its TTL. Each deletion is
    /// its own transaction (a `deleteContainer` request from the server itself) and fires
    /// watches as a delete does. Candidates are taken in path order (ZooKeeper iterates a
    /// concurrent set whose order is unspecified).
    pub fn check_containers(&mut self, now_ms: u64) -> Vec<Outgoing> {
        let candidates: Vec<String> = self
            .tree
            .iter()
            .filter(|(_, n)| n.children.is_empty())
            .filter(|(_, n)| match n.kind {
                NodeKind::Container => n.child_creates > 0,
                NodeKind::Ttl { ttl_ms } => now_ms as i64 - n.mtime > ttl_ms,
                _ => false,
            })
            .map(|(p, _)| p.to_string())
            .collect();
        let mut out = Vec::new();
        for p in candidates {
            let zxid = self.next_zxid();
            let trigger = self.tree.delete(&p, zxid);
            self.debug_check();
            out.extend(self.fire(&[trigger], None));
        }
        out
    }

    /// Handles one request from a connected session; returns the frames sent, the reply last.
    /// An oversize request drops the connection instead (nothing applied, no zxid used).
    pub fn handle(
        &mut self,
        now_ms: u64,
        session: SessionId,
        xid: i32,
        req: &Request,
    ) -> Vec<Outgoing> {
        if jute::request_len(req) > self.config.max_request_bytes {
            self.disconnect(session);
            return vec![Outgoing {
                session,
                message: ToClient::Drop,
            }];
        }
        if !self.sessions.contains_key(&session) {
            return vec![self.reply(session, xid, self.zxid, Err(ErrorCode::SessionExpired))];
        }
        self.touch(now_ms, session);
        if req.is_write() {
            let zxid = self.next_zxid();
            let (reply, triggers) = self.write(now_ms, session, zxid, req);
            self.debug_check();
            let mut out = self.fire(&triggers, Some(session));
            out.push(self.reply(session, xid, zxid, reply));
            out
        } else {
            let reply = self.read(session, req);
            vec![self.reply(session, xid, self.zxid, reply)]
        }
    }

    fn reply(&self, session: SessionId, xid: i32, zxid: Zxid, reply: Reply) -> Outgoing {
        Outgoing {
            session,
            message: ToClient::Reply { xid, zxid, reply },
        }
    }

    fn debug_check(&self) {
        if cfg!(debug_assertions) {
            self.tree.check_invariants();
        }
    }

    // ---- writes ------------------------------------------------------------------------

    fn write(&mut self, now: u64, session: SessionId, zxid: Zxid, req: &Request) -> Applied {
        if let Request::Multi { ops } = req {
            return self.multi(now, session, zxid, ops);
        }
        match self.apply_op(now, session, zxid, req) {
            Ok((result, trigger)) => (Ok(op_response(result)), trigger.into_iter().collect()),
            Err(code) => (Err(code), Vec::new()),
        }
    }

    /// All ops validated in sequence against the tree as the earlier ops left it, at one zxid;
    /// on the first failure the tree is restored and the results are
    /// `[Ok…, the real code, RuntimeInconsistency…]`.
    fn multi(&mut self, now: u64, session: SessionId, zxid: Zxid, ops: &[Request]) -> Applied {
        // Restoring a copy keeps rollback obviously right; trees in checked models are small.
        let before = self.tree.clone();
        let mut results = Vec::with_capacity(ops.len());
        let mut triggers = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let applied = match op {
                Request::Create { .. }
                | Request::Delete { .. }
                | Request::SetData { .. }
                | Request::Check { .. } => self.apply_op(now, session, zxid, op),
                _ => Err(ErrorCode::BadArguments),
            };
            match applied {
                Ok((result, trigger)) => {
                    // A real 3.8.0 server answers a create2 inside a multi with a plain
                    // create result: the path, no Stat.
                    let result = match result {
                        OpResult::Create { path, .. } => OpResult::Create { path, stat: None },
                        other => other,
                    };
                    results.push(result);
                    triggers.extend(trigger);
                }
                Err(code) => {
                    self.tree = before;
                    let mut failed = vec![
                        OpResult::Error {
                            code: ErrorCode::Ok
                        };
                        i
                    ];
                    failed.push(OpResult::Error { code });
                    failed.resize(
                        ops.len(),
                        OpResult::Error {
                            code: ErrorCode::RuntimeInconsistency,
                        },
                    );
                    return (Ok(Response::Multi { results: failed }), Vec::new());
                }
            }
        }
        (Ok(Response::Multi { results }), triggers)
    }

    /// Validates one write in the server's order and applies it.
    fn apply_op(
        &mut self,
        now: u64,
        session: SessionId,
        zxid: Zxid,
        req: &Request,
    ) -> Result<(OpResult, Option<Trigger>), ErrorCode> {
        let time = now as i64;
        match req {
            Request::Create {
                path,
                data,
                acl,
                mode,
                ttl_ms,
                stat,
            } => {
                let (final_path, node) =
                    self.prep_create(session, path, data, acl, *mode, *ttl_ms, zxid, time)?;
                let trigger = self.tree.create(&final_path, node, zxid);
                let stat = stat.then(|| self.tree.get(&final_path).expect("created").stat());
                Ok((
                    OpResult::Create {
                        path: final_path,
                        stat,
                    },
                    Some(trigger),
                ))
            }
            Request::Delete { path, version } => {
                self.prep_delete(path, *version)?;
                Ok((OpResult::Delete, Some(self.tree.delete(path, zxid))))
            }
            Request::SetData {
                path,
                data,
                version,
            } => {
                let new_version = self.prep_set_data(path, *version)?;
                let trigger = self
                    .tree
                    .set_data(path, data.clone(), new_version, zxid, time);
                let stat = self.tree.get(path).expect("set").stat();
                Ok((OpResult::SetData { stat }, Some(trigger)))
            }
            Request::SetAcl { path, acl, version } => {
                let aversion = self.prep_set_acl(path, acl, *version)?;
                self.tree.set_acl(path, acl.clone(), aversion);
                let stat = self.tree.get(path).expect("set").stat();
                Ok((OpResult::SetData { stat }, None))
            }
            Request::Check { path, version } => {
                self.prep_check(path, *version)?;
                Ok((OpResult::Check, None))
            }
            _ => unreachable!("not a write: {req:?}"),
        }
    }

    fn node_for(&self, p: &str) -> Result<&Node, ErrorCode> {
        self.tree.get(p).ok_or(ErrorCode::NoNode)
    }

    /// `PrepRequestProcessor.pRequest2TxnCreate`, in its order: flags and TTL, the parent
    /// split (before validation, so `/missing/` is NoNode), ACL, parent lookup, CREATE
    /// permission, the sequence suffix, validation of the final name, NodeExists, then
    /// NoChildrenForEphemerals.
    #[allow(clippy::too_many_arguments)]
    fn prep_create(
        &self,
        session: SessionId,
        p: &str,
        data: &Data,
        acl: &[Acl],
        mode: CreateMode,
        ttl_ms: Option<i64>,
        zxid: Zxid,
        time: i64,
    ) -> Result<(String, Node), ErrorCode> {
        let kind = match (mode.is_ttl(), ttl_ms) {
            (true, _) if !self.config.extended_types_enabled => {
                return Err(ErrorCode::Unimplemented);
            }
            (true, Some(ttl)) if ttl > 0 && ttl <= MAX_TTL_MS => NodeKind::Ttl { ttl_ms: ttl },
            (true, _) => return Err(ErrorCode::BadArguments),
            (false, Some(_)) => return Err(ErrorCode::BadArguments),
            (false, None) if mode.is_ephemeral() => NodeKind::Ephemeral(session),
            (false, None) if mode == CreateMode::Container => NodeKind::Container,
            (false, None) => NodeKind::Persistent,
        };
        let parent_path = match path::parent_of(p) {
            Some(parent) if !p.contains('\0') => parent,
            _ => return Err(ErrorCode::BadArguments),
        };
        check_acl(acl)?;
        let parent = self.node_for(parent_path)?;
        if !parent.allows(perms::CREATE) {
            return Err(ErrorCode::NoAuth);
        }
        let final_path = if mode.is_sequential() {
            format!("{p}{:010}", parent.child_creates)
        } else {
            p.to_string()
        };
        path::validate(&final_path).map_err(|_| ErrorCode::BadArguments)?;
        if self.tree.contains(&final_path) {
            return Err(ErrorCode::NodeExists);
        }
        if parent.owner().is_some() {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        Ok((
            final_path,
            Node::new(data.clone(), acl.to_vec(), kind, zxid, time),
        ))
    }

    /// delete: special paths and the parent split, parent lookup, DELETE permission, node
    /// lookup, version, then emptiness (so a wrong version on a non-empty node is BadVersion).
    fn prep_delete(&self, p: &str, version: i32) -> Result<(), ErrorCode> {
        let parent_path = match path::parent_of(p) {
            Some(parent) if !p.contains('\0') && !SPECIAL_PATHS.contains(&p) => parent,
            _ => return Err(ErrorCode::BadArguments),
        };
        if !self.node_for(parent_path)?.allows(perms::DELETE) {
            return Err(ErrorCode::NoAuth);
        }
        let node = self.node_for(p)?;
        check_version(node.version, version)?;
        if !node.children.is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        Ok(())
    }

    /// setData: validation, lookup, WRITE permission, version; returns the new version.
    fn prep_set_data(&self, p: &str, version: i32) -> Result<i32, ErrorCode> {
        path::validate(p).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.node_for(p)?;
        if !node.allows(perms::WRITE) {
            return Err(ErrorCode::NoAuth);
        }
        check_version(node.version, version)
    }

    /// setACL: validation, the ACL itself, lookup, ADMIN permission, aversion.
    fn prep_set_acl(&self, p: &str, acl: &[Acl], version: i32) -> Result<i32, ErrorCode> {
        path::validate(p).map_err(|_| ErrorCode::BadArguments)?;
        check_acl(acl)?;
        let node = self.node_for(p)?;
        if !node.allows(perms::ADMIN) {
            return Err(ErrorCode::NoAuth);
        }
        check_version(node.aversion, version)
    }

    /// check: validation, lookup, READ permission, version.
    fn prep_check(&self, p: &str, version: i32) -> Result<(), ErrorCode> {
        path::validate(p).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.node_for(p)?;
        if !node.allows(perms::READ) {
            return Err(ErrorCode::NoAuth);
        }
        check_version(node.version, version).map(|_| ())
    }

    /// Delivers the watch events of applied changes, in emission order, one per session per
    /// trigger (`WatchManager.triggerWatch` with the delete's data/child deduplication).
    fn fire(&mut self, triggers: &[Trigger], by: Option<SessionId>) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let none = BTreeSet::new();
        for t in triggers {
            let mut send = |sessions: BTreeSet<SessionId>, kind, p: &str| {
                out.extend(sessions.into_iter().map(|session| Outgoing {
                    session,
                    message: ToClient::Event {
                        event: WatchedEvent::node(kind, p),
                    },
                }))
            };
            self.changes.push(change_of(t, self.zxid, by));
            match t {
                Trigger::Created { path, parent, .. } => {
                    send(
                        self.watches
                            .data
                            .trigger(path, EventType::NodeCreated, &none),
                        EventType::NodeCreated,
                        path,
                    );
                    let kind = EventType::NodeChildrenChanged;
                    send(
                        self.watches.child.trigger(parent, kind, &none),
                        kind,
                        parent,
                    );
                }
                Trigger::Deleted { path, parent } => {
                    let kind = EventType::NodeDeleted;
                    let data = self.watches.data.trigger(path, kind, &none);
                    let child = self.watches.child.trigger(path, kind, &data);
                    send(data.union(&child).copied().collect(), kind, path);
                    let kind = EventType::NodeChildrenChanged;
                    send(
                        self.watches.child.trigger(parent, kind, &none),
                        kind,
                        parent,
                    );
                }
                Trigger::DataChanged { path, .. } => {
                    let kind = EventType::NodeDataChanged;
                    send(self.watches.data.trigger(path, kind, &none), kind, path);
                }
            }
        }
        out
    }

    // ---- reads -------------------------------------------------------------------------

    fn read(&mut self, session: SessionId, req: &Request) -> Reply {
        match req {
            Request::Exists { path, watch } => {
                if path.contains('\0') {
                    return Err(ErrorCode::BadArguments);
                }
                // The watch is left before the lookup: exists on a missing node watches it.
                if *watch {
                    self.watches.data.add(path, session, WatchMode::Standard);
                }
                let stat = self.node_for(path)?.stat();
                Ok(Response::Stat { stat })
            }
            Request::GetData { path, watch } => {
                let node = self.node_for(path)?;
                if !node.allows(perms::READ) {
                    return Err(ErrorCode::NoAuth);
                }
                let (data, stat) = (node.data.clone(), node.stat());
                if *watch {
                    self.watches.data.add(path, session, WatchMode::Standard);
                }
                Ok(Response::Data { data, stat })
            }
            Request::GetChildren { path, watch, stat } => {
                let node = self.node_for(path)?;
                if !node.allows(perms::READ) {
                    return Err(ErrorCode::NoAuth);
                }
                let children = node
                    .children
                    .ordered(self.config.child_order, node.pzxid as u64);
                let stat = stat.then(|| node.stat());
                if *watch {
                    self.watches.child.add(path, session, WatchMode::Standard);
                }
                Ok(Response::Children { children, stat })
            }
            Request::GetAcl { path } => {
                let node = self.node_for(path)?;
                Ok(Response::Acl {
                    acl: node.acl.clone(),
                    stat: node.stat(),
                })
            }
            Request::Sync { path } => Ok(Response::Sync { path: path.clone() }),
            Request::AddWatch { path, mode } => {
                let mode = match mode {
                    AddWatchMode::Persistent => WatchMode::Persistent,
                    AddWatchMode::PersistentRecursive => WatchMode::PersistentRecursive,
                };
                self.add_persistent(session, path, mode);
                Ok(Response::Empty)
            }
            Request::RemoveWatches { path, watcher_type } => {
                self.remove_watches(session, path, *watcher_type)
            }
            _ => unreachable!("not a read: {req:?}"),
        }
    }

    /// `addWatch` (and its re-registration on reconnect): in 3.8.0 both kinds of persistent
    /// watch go into both tables. The recursive one never fires NodeChildrenChanged and its
    /// child-table copy only duplicates (and is deduplicated against) the data table's
    /// NodeDeleted, but it is there for `removeWatches(Children)` to find, as on a real server.
    fn add_persistent(&mut self, session: SessionId, p: &str, mode: WatchMode) {
        self.watches.data.add(p, session, mode);
        self.watches.child.add(p, session, mode);
    }

    /// `removeWatches`: NoWatcher when the session has no watch of that type on the path.
    fn remove_watches(&mut self, session: SessionId, p: &str, kind: WatcherType) -> Reply {
        let any = |_| true;
        let removed = match kind {
            WatcherType::Children => self.watches.child.remove_where(p, session, any),
            WatcherType::Data => self.watches.data.remove_where(p, session, any),
            WatcherType::Any => {
                let c = self.watches.child.remove_where(p, session, any);
                let d = self.watches.data.remove_where(p, session, any);
                c || d
            }
        };
        if removed {
            Ok(Response::Empty)
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }
}

/// When a session last heard from at `now_ms` expires: the first tick boundary strictly after
/// `now + timeout` (`ExpiryQueue.roundToNextInterval`). So a session expires more than its
/// timeout after it was last heard from, and at most a tick later.
pub fn expiry_deadline_ms(tick_ms: u32, now_ms: u64, timeout_ms: u32) -> u64 {
    let tick = u64::from(tick_ms.max(1));
    (now_ms + u64::from(timeout_ms)) / tick * tick + tick
}

/// `EphemeralType.TTL` allows TTLs up to 2^40 − 1 ms.
const MAX_TTL_MS: i64 = (1 << 40) - 1;

/// `checkAndIncVersion`: −1 matches any version; the new version is one more (wrapping, as a
/// Java int does in 3.8).
fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

/// `fixupACL` for an unauthenticated client: a non-empty list of well-formed entries that
/// need no authentication (`auth` entries need an authenticated identity, which zksim's
/// clients never have).
fn check_acl(acl: &[Acl]) -> Result<(), ErrorCode> {
    let well_formed = |a: &Acl| match a.scheme.as_str() {
        "world" => a.id == "anyone",
        "digest" => a.id.contains(':'),
        "ip" => !a.id.is_empty(),
        _ => false,
    };
    if acl.is_empty() || !acl.iter().all(well_formed) {
        return Err(ErrorCode::InvalidAcl);
    }
    Ok(())
}

/// The trace record of a tree change committed at `zxid`.
fn change_of(t: &Trigger, zxid: Zxid, by: Option<SessionId>) -> Change {
    match t.clone() {
        Trigger::Created {
            path, data, owner, ..
        } => Change::Created {
            zxid,
            by,
            path,
            data,
            owner,
        },
        Trigger::Deleted { path, .. } => Change::Deleted { zxid, by, path },
        Trigger::DataChanged {
            path,
            data,
            version,
        } => Change::DataChanged {
            zxid,
            by,
            path,
            data,
            version,
        },
    }
}

fn op_response(result: OpResult) -> Response {
    match result {
        OpResult::Create { path, stat } => Response::Create { path, stat },
        OpResult::SetData { stat } => Response::Stat { stat },
        OpResult::Delete | OpResult::Check | OpResult::Error { .. } => Response::Empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(path: &str, mode: CreateMode) -> Request {
        Request::Create {
            path: path.into(),
            data: Data::bytes("x"),
            acl: Acl::open(),
            mode,
            ttl_ms: None,
            stat: false,
        }
    }

    fn reply(out: &[Outgoing]) -> &Reply {
        match &out.last().expect("a frame").message {
            ToClient::Reply { reply, .. } => reply,
            other => panic!("not a reply: {other:?}"),
        }
    }

    // Checklist item 23: past 2^31-1 the suffix is -2147483648, eleven characters.
    #[test]
    fn the_sequence_counter_overflows_to_a_negative_suffix() {
        let mut server = Server::new(ServerConfig::default());
        let (a, _) = server.connect(0, 4000);
        server.handle(0, a, 1, &create("/q", CreateMode::Persistent));
        server.seed_sequence_counter("/q", i32::MAX);
        let seq = CreateMode::PersistentSequential;
        let first = server.handle(0, a, 2, &create("/q/s-", seq));
        let second = server.handle(0, a, 3, &create("/q/s-", seq));
        let path = |r: &Reply| match r {
            Ok(Response::Create { path, .. }) => path.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(path(reply(&first)), "/q/s-2147483647");
        assert_eq!(path(reply(&second)), "/q/s--2147483648");
    }

    // Checklist item 54: expiry comes at lastHeard + timeout rounded up to the next tick, and
    // a session heard from in time lives on.
    #[test]
    fn sessions_expire_at_the_tick_after_their_timeout_unless_heard_from() {
        let mut server = Server::new(ServerConfig {
            tick_ms: 200,
            ..ServerConfig::default()
        });
        let (a, timeout) = server.connect(50, 400);
        assert_eq!(timeout, 400);
        assert_eq!(server.sessions()[&a].deadline_ms, 600);
        for now in (100..5000).step_by(100) {
            server.touch(now, a);
            assert!(server.expire_due(now).is_empty());
        }
        assert!(server.is_live(a));
        let deadline = server.sessions()[&a].deadline_ms;
        assert!(server.expire_due(deadline - 1).is_empty());
        server.expire_due(deadline);
        assert!(!server.is_live(a));
    }

    // Goal: whatever the phase of the last packet within a tick, a session's deadline is more
    // than its timeout after it and at most a tick more.
    #[test]
    fn a_session_expires_after_its_timeout_and_within_the_tick_after_it() {
        for tick in [1, 7, 200, 2000] {
            for timeout in [2 * tick, 2 * tick + 1, 20 * tick - 1, 20 * tick] {
                for heard in 0..u64::from(2 * tick) {
                    let deadline = expiry_deadline_ms(tick, heard, timeout);
                    let after = deadline - heard;
                    assert!(
                        after > u64::from(timeout) && after <= u64::from(timeout + tick),
                        "tick {tick}, timeout {timeout}, heard at {heard}: expires {after} after"
                    );
                    assert_eq!(deadline % u64::from(tick), 0, "on a tick boundary");
                }
            }
        }
    }

    // Goal: a restart keeps the tree, the zxid, the sessions and their ephemerals; it drops
    // every connection and every watch.
    #[test]
    fn a_restart_keeps_data_zxid_and_sessions_but_no_connection_or_watch() {
        let mut server = Server::new(ServerConfig {
            tick_ms: 200,
            ..ServerConfig::default()
        });
        let (a, _) = server.connect(0, 4000);
        let (b, _) = server.connect(0, 4000);
        server.handle(0, a, 1, &create("/e", CreateMode::Ephemeral));
        server.handle(0, a, 2, &create("/s-", CreateMode::PersistentSequential));
        let watch = Request::Exists {
            path: "/e".into(),
            watch: true,
        };
        server.handle(0, b, 1, &watch);
        server.disconnect(a);
        let tree = server.tree().clone();
        let zxid = server.last_zxid();

        let dropped = server.restart(100);
        assert_eq!(
            dropped,
            vec![Outgoing {
                session: b,
                message: ToClient::Drop
            }],
            "only the connected session had a connection to lose"
        );
        assert_eq!(server.tree(), &tree);
        assert_eq!(server.last_zxid(), zxid);
        assert!(server.is_live(a) && server.is_live(b));
        assert!(server.sessions().values().all(|s| !s.connected));
        assert!(server.watches().data.is_empty() && server.watches().child.is_empty());

        // The counter goes on, and the next write takes the next zxid.
        let (c, _) = server.connect(100, 4000);
        let out = server.handle(100, c, 1, &create("/s-", CreateMode::PersistentSequential));
        assert!(matches!(
            &out[0].message,
            ToClient::Reply { zxid: z, reply: Ok(Response::Create { path, .. }), .. }
                if *z == zxid + 2 && path == "/s-0000000002"
        ));
    }

    // Goal: the orders a real server shows after restarts (recorded in
    // `server_restart_child_order`): the first restart keeps every HashSet's order; the second
    // reads back the first one's snapshot, so a child set that grew to 32 bins and shrank
    // lists its names in a fresh set's order, and a session's ephemerals, read back depth
    // first, are deleted in that order.
    #[test]
    fn a_second_restart_reads_the_sets_back_from_the_first_ones_snapshot() {
        let mut server = Server::new(ServerConfig::default());
        let (a, _) = server.connect(0, 30000);
        let (b, _) = server.connect(0, 30000);
        let mut xid = 0;
        let mut call = |server: &mut Server, s, r: Request| {
            xid += 1;
            server.handle(0, s, xid, &r)
        };
        call(&mut server, a, create("/q", CreateMode::Persistent));
        let names: Vec<String> = ('a'..='x').map(String::from).collect();
        for n in &names {
            call(
                &mut server,
                a,
                create(&format!("/q/{n}"), CreateMode::Persistent),
            );
        }
        for n in names.iter().filter(|n| !["c", "i"].contains(&n.as_str())) {
            call(
                &mut server,
                a,
                Request::Delete {
                    path: format!("/q/{n}"),
                    version: -1,
                },
            );
        }
        for p in ["/a", "/b"] {
            call(&mut server, a, create(p, CreateMode::Persistent));
        }
        for p in ["/b/a", "/a/b"] {
            call(&mut server, b, create(p, CreateMode::Ephemeral));
        }
        let children = |server: &Server| {
            server
                .tree()
                .get("/q")
                .unwrap()
                .children
                .iter()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let doomed = |server: &Server| server.tree().ephemerals_to_delete(b);
        assert_eq!(children(&server), ["c", "i"]);
        assert_eq!(doomed(&server), ["/b/a", "/a/b"]);
        server.restart(0);
        assert_eq!(
            children(&server),
            ["c", "i"],
            "the first restart replays the log"
        );
        assert_eq!(doomed(&server), ["/b/a", "/a/b"]);
        for n in ["y", "z"] {
            call(
                &mut server,
                a,
                create(&format!("/q/{n}"), CreateMode::Persistent),
            );
        }
        assert_eq!(children(&server), ["c", "i", "y", "z"]);
        server.restart(0);
        assert_eq!(
            children(&server),
            ["i", "y", "z", "c"],
            "read back into 8 bins"
        );
        assert_eq!(doomed(&server), ["/a/b", "/b/a"], "read back depth first");
        server.restart(0);
        assert_eq!(children(&server), ["i", "y", "z", "c"]);
        assert_eq!(doomed(&server), ["/a/b", "/b/a"]);
        server.tree().check_invariants();
    }

    // Goal: a restart starts every session's timeout over: the time before it, silent or not,
    // does not count.
    #[test]
    fn a_restart_starts_every_session_timeout_over() {
        let mut server = Server::new(ServerConfig {
            tick_ms: 200,
            ..ServerConfig::default()
        });
        let (a, _) = server.connect(0, 400);
        server.disconnect(a);
        assert_eq!(server.sessions()[&a].deadline_ms, 600);
        server.restart(500);
        assert_eq!(server.sessions()[&a].deadline_ms, 1000);
        assert!(server.expire_due(999).is_empty());
        assert!(server.is_live(a));
        server.expire_due(1000);
        assert!(!server.is_live(a));
    }

    // Checklist item 29: an oversize request drops the connection and applies nothing.
    #[test]
    fn an_oversize_request_drops_the_connection_and_applies_nothing() {
        let mut server = Server::new(ServerConfig::default());
        let (a, _) = server.connect(0, 4000);
        let zxid = server.last_zxid();
        let big = Request::SetData {
            path: "/".into(),
            data: Data::bytes(vec![0; 1 << 20]),
            version: -1,
        };
        let out = server.handle(0, a, 1, &big);
        assert_eq!(
            out,
            vec![Outgoing {
                session: a,
                message: ToClient::Drop
            }]
        );
        assert_eq!(server.last_zxid(), zxid);
        assert!(server.is_live(a));
        assert_eq!(server.tree().get("/").unwrap().version, 0);
    }

    // Containers go once empty after having had a child; TTL nodes once childless and
    // unmodified for longer than their TTL (extended types on).
    #[test]
    fn the_container_manager_removes_empty_containers_and_expired_ttl_nodes() {
        let config = ServerConfig {
            extended_types_enabled: true,
            ..ServerConfig::default()
        };
        let mut server = Server::new(config);
        let (a, _) = server.connect(0, 4000);
        server.handle(0, a, 1, &create("/c", CreateMode::Container));
        server.handle(0, a, 2, &create("/fresh", CreateMode::Container));
        let ttl = Request::Create {
            path: "/t".into(),
            data: Data::bytes("x"),
            acl: Acl::open(),
            mode: CreateMode::PersistentWithTtl,
            ttl_ms: Some(1000),
            stat: false,
        };
        assert!(reply(&server.handle(0, a, 3, &ttl)).is_ok());
        server.handle(0, a, 4, &create("/c/child", CreateMode::Persistent));
        assert!(
            server.check_containers(500).is_empty(),
            "nothing is due yet"
        );
        server.handle(
            0,
            a,
            5,
            &Request::Delete {
                path: "/c/child".into(),
                version: -1,
            },
        );
        server.check_containers(500);
        assert!(!server.tree().contains("/c"));
        assert!(
            server.tree().contains("/fresh"),
            "a container that never had a child stays"
        );
        assert!(server.tree().contains("/t"));
        server.check_containers(1001);
        assert!(!server.tree().contains("/t"));
    }

    // TTL nodes need extended types; without them the server answers Unimplemented.
    #[test]
    fn ttl_nodes_are_unimplemented_unless_extended_types_are_on() {
        let mut server = Server::new(ServerConfig::default());
        let (a, _) = server.connect(0, 4000);
        let ttl = Request::Create {
            path: "/t".into(),
            data: Data::NULL,
            acl: Acl::open(),
            mode: CreateMode::PersistentWithTtl,
            ttl_ms: Some(1000),
            stat: false,
        };
        assert_eq!(
            reply(&server.handle(0, a, 1, &ttl)),
            &Err(ErrorCode::Unimplemented)
        );
    }
}
