//! The client library (`ClientCnxn` + `ZKWatchManager` of the Java client), as a state machine.
//!
//! A [`Client`] is one ZooKeeper handle. It numbers requests (xids) and keeps those sent in a
//! FIFO until their replies come, tracks `lastZxid` and the watches it holds, and turns
//! connection changes into what the application sees:
//! - a dropped connection fails every pending request with ConnectionLoss, in order, and
//!   then delivers `(None, Disconnected)`; a request that was sent may or may not have been
//!   applied, and nothing here can tell which;
//! - a reconnect offers the same session with `lastZxid` and re-registers the watches
//!   ([`Client::set_watches`]); if the server no longer knows the session the handle is dead:
//!   `(None, Expired)`, and every later call fails with SessionExpired without being sent;
//! - requests made while disconnected wait and are sent after the reconnect.

use std::collections::VecDeque;

use crate::children::ChildSet;

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::op::{
    AddWatchMode, EventType, KeeperState, Reply, Request, Response, WatchedEvent, WatcherType,
};
use crate::path;
use crate::server::{SetWatches, ToClient};
use crate::stat::{SessionId, Zxid};

/// The handle's state (`ZooKeeper.States`, folded to what matters here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ClientState {
    /// Connected to the server.
    Connected,
    /// Lost the connection; will reconnect with the same session.
    Disconnected,
    /// The session expired: the handle is dead.
    Expired,
    /// The application closed the handle.
    Closed,
}

/// Something the client hands to the application, in delivery order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "delivery", rename_all = "snake_case")]
pub enum Delivery {
    /// The completion of request `xid`.
    Reply {
        /// The request's xid.
        xid: i32,
        /// The code or the body, as the server sent it (an `exists` on a missing node is
        /// `Err(NoNode)` on the wire; [`exists_stat`] gives the Java API's view).
        reply: Reply,
    },
    /// A watch or session event for the session's watcher.
    Event {
        /// The event.
        event: WatchedEvent,
    },
}

/// What became of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// Send this request, numbered `xid`, to the server now.
    Send(i32, Request),
    /// Numbered `xid`; sent after the reconnect.
    Queued(i32),
    /// Failed without being sent; deliver this completion.
    Failed(Delivery),
}

/// The watches a client holds (`ZKWatchManager`'s five `HashMap<String, Set<Watcher>>`
/// tables), which it re-registers on reconnect in each table's Java iteration order (the order
/// the server then fires the re-registration events in).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientWatches {
    /// Data watches (getData, exists on an existing node).
    pub data: ChildSet,
    /// Exists watches on missing nodes.
    pub exist: ChildSet,
    /// Child watches.
    pub child: ChildSet,
    /// Persistent watches.
    pub persistent: ChildSet,
    /// Persistent-recursive watches.
    pub persistent_recursive: ChildSet,
}

impl Default for ClientWatches {
    fn default() -> Self {
        let table = || ChildSet::with_capacity(16);
        ClientWatches {
            data: table(),
            exist: table(),
            child: table(),
            persistent: table(),
            persistent_recursive: table(),
        }
    }
}

impl ClientWatches {
    /// Records the watch a reply leaves registered, as the Java client's
    /// `WatchRegistration.register` does: only on success, except that `exists` also registers
    /// (an exists watch) on NoNode. A successful `removeWatches` drops the local entries.
    pub fn on_reply(&mut self, req: &Request, code: ErrorCode) {
        if let Some((path, compared)) = Compared::registered_by(req, code) {
            let table = match compared {
                Compared::Mzxid => &mut self.data,
                Compared::Pzxid => &mut self.child,
            };
            table.insert(path);
            return;
        }
        let ok = code == ErrorCode::Ok;
        match req {
            Request::Exists { path, watch: true } if code == ErrorCode::NoNode => {
                self.exist.insert(path);
            }
            Request::AddWatch { path, mode } if ok => {
                match mode {
                    AddWatchMode::Persistent => self.persistent.insert(path),
                    AddWatchMode::PersistentRecursive => self.persistent_recursive.insert(path),
                };
            }
            Request::RemoveWatches { path, watcher_type } if ok => {
                if matches!(watcher_type, WatcherType::Data | WatcherType::Any) {
                    self.data.remove(path);
                    self.exist.remove(path);
                }
                if matches!(watcher_type, WatcherType::Children | WatcherType::Any) {
                    self.child.remove(path);
                }
                if *watcher_type == WatcherType::Any {
                    self.persistent.remove(path);
                    self.persistent_recursive.remove(path);
                }
            }
            _ => {}
        }
    }

    /// `ZKWatchManager.materialize`: a delivered event consumes the one-shot watches it
    /// answers; persistent ones stay.
    pub fn on_event(&mut self, event: &WatchedEvent) {
        let p = event.path.as_str();
        match event.kind {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                self.data.remove(p);
                self.exist.remove(p);
            }
            EventType::NodeChildrenChanged => {
                self.child.remove(p);
            }
            EventType::NodeDeleted => {
                self.data.remove(p);
                self.exist.remove(p);
                self.child.remove(p);
            }
            _ => {}
        }
    }

    /// The watches a reconnect compares a zxid for, in the order it sends them.
    pub fn compared(&self) -> impl Iterator<Item = (&str, Compared)> {
        let data = self.data.iter().map(|p| (p, Compared::Mzxid));
        data.chain(self.child.iter().map(|p| (p, Compared::Pzxid)))
    }

    /// What a reconnect re-registers: each table in the Java client's iteration order.
    pub fn set_watches(&self) -> SetWatches {
        let list = |s: &ChildSet| s.iter().map(str::to_string).collect();
        SetWatches {
            data: list(&self.data),
            exist: list(&self.exist),
            child: list(&self.child),
            persistent: list(&self.persistent),
            persistent_recursive: list(&self.persistent_recursive),
        }
    }
}

/// Which of a node's zxids a reconnect compares with the client's last zxid for a watch
/// (`DataTree.setWatches`): a data watch fires if `mzxid` is newer, a child watch if `pzxid`
/// is. Exists watches on missing nodes and persistent watches compare none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compared {
    /// The node's `mzxid` (a data watch).
    Mzxid,
    /// The node's `pzxid` (a child watch).
    Pzxid,
}

impl Compared {
    /// The compared zxid of `node`.
    pub fn of(self, node: &crate::tree::Node) -> Zxid {
        match self {
            Compared::Mzxid => node.mzxid,
            Compared::Pzxid => node.pzxid,
        }
    }

    /// The watch that a reply with `code` to `req` leaves registered, if a reconnect would
    /// compare a zxid for it: the data or child table's entry [`ClientWatches::on_reply`]
    /// makes (the one place that decides it).
    pub fn registered_by(req: &Request, code: ErrorCode) -> Option<(&str, Compared)> {
        if code != ErrorCode::Ok {
            return None;
        }
        match req {
            Request::Exists { path, watch: true } | Request::GetData { path, watch: true } => {
                Some((path, Compared::Mzxid))
            }
            Request::GetChildren {
                path, watch: true, ..
            } => Some((path, Compared::Pzxid)),
            _ => None,
        }
    }
}

/// One ZooKeeper handle.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Client {
    session: SessionId,
    state: ClientState,
    timeout_ms: u32,
    last_zxid: Zxid,
    next_xid: i32,
    /// Sent, awaiting a reply, oldest first.
    pending: VecDeque<(i32, Request)>,
    /// Made while disconnected, to send after the reconnect.
    queued: VecDeque<(i32, Request)>,
    watches: ClientWatches,
}

/// Every field, the last zxid through `hash_zxid` (left out of a fingerprint without zxids).
/// A fingerprint that forgets xids ([`crate::hash::Forget::xids`]) takes each xid as its
/// distance below the next one ([`Client::hashed_xid`]) and leaves the next one out: the
/// handle hands xids out in order and matches each reply with its oldest pending request,
/// the server only echoes them and roles never see them, so nothing depends on their values,
/// only on their order. Two handles that differ only in how many requests they numbered
/// before (a master that went round once more before it settled) then behave alike and hash
/// alike. Destructured, so a new field cannot be forgotten here.
impl std::hash::Hash for Client {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Client {
            session,
            state,
            timeout_ms,
            last_zxid,
            next_xid,
            pending,
            queued,
            watches,
        } = self;
        (session, state, timeout_ms).hash(h);
        crate::hash::hash_zxid(*last_zxid, h);
        if !crate::hash::forgetting().xids {
            next_xid.hash(h);
        }
        for calls in [pending, queued] {
            h.write_usize(calls.len());
            for (xid, request) in calls {
                (self.hashed_xid(*xid), request).hash(h);
            }
        }
        watches.hash(h);
    }
}

impl Client {
    /// A handle whose session the server just created. The application's first delivery is
    /// `(None, SyncConnected)`, returned here.
    pub fn connected(session: SessionId, timeout_ms: u32) -> (Self, Delivery) {
        let client = Client {
            session,
            state: ClientState::Connected,
            timeout_ms,
            last_zxid: 0,
            next_xid: 1,
            pending: VecDeque::new(),
            queued: VecDeque::new(),
            watches: ClientWatches::default(),
        };
        (client, session_event(KeeperState::SyncConnected))
    }

    /// The session id.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The negotiated session timeout.
    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }

    /// What the fingerprint being computed keeps of one of this handle's xids: the xid itself,
    /// or, where it forgets xids, how far below the next xid the handle will give out it is
    /// (see the `Hash` impl). Links and tables that hold this handle's xids hash them through
    /// it, so they agree with the handle.
    pub fn hashed_xid(&self, xid: i32) -> i32 {
        if crate::hash::forgetting().xids {
            self.next_xid.wrapping_sub(xid)
        } else {
            xid
        }
    }

    /// The highest zxid seen in a reply.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// The watches the client holds.
    pub fn watches(&self) -> &ClientWatches {
        &self.watches
    }

    /// Requests sent and not answered yet, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &(i32, Request)> {
        self.pending.iter()
    }

    /// Calls made while disconnected, to be sent once reconnected, oldest first.
    pub fn queued(&self) -> impl Iterator<Item = &(i32, Request)> {
        self.queued.iter()
    }

    /// Makes a call and numbers it. Connected: [`Call::Send`] it now. Disconnected: it waits
    /// for the reconnect ([`Call::Queued`]). Expired or closed: it fails at once with
    /// SessionExpired ([`Call::Failed`]), as the Java client does for a CLOSED handle.
    pub fn call(&mut self, req: Request) -> Call {
        let xid = self.next_xid;
        self.next_xid += 1;
        match self.state {
            ClientState::Connected => {
                self.pending.push_back((xid, req.clone()));
                Call::Send(xid, req)
            }
            ClientState::Disconnected => {
                self.queued.push_back((xid, req));
                Call::Queued(xid)
            }
            ClientState::Expired | ClientState::Closed => Call::Failed(Delivery::Reply {
                xid,
                reply: Err(ErrorCode::SessionExpired),
            }),
        }
    }

    /// Marks the handle closed after the application's `close()` was answered.
    pub fn closed(&mut self) {
        self.state = ClientState::Closed;
    }

    /// Takes one frame from the server. Replies must come in the order requests were sent.
    pub fn receive(&mut self, frame: &ToClient) -> Vec<Delivery> {
        match frame {
            ToClient::Event { event } => {
                self.watches.on_event(event);
                vec![Delivery::Event {
                    event: event.clone(),
                }]
            }
            ToClient::Reply { xid, zxid, reply } => {
                let (sent_xid, req) = self
                    .pending
                    .pop_front()
                    .expect("a reply with nothing pending");
                assert_eq!(sent_xid, *xid, "replies out of order: FIFO violated");
                if *zxid > 0 {
                    self.last_zxid = self.last_zxid.max(*zxid);
                }
                let code = reply.as_ref().err().copied().unwrap_or(ErrorCode::Ok);
                self.watches.on_reply(&req, code);
                vec![Delivery::Reply {
                    xid: *xid,
                    reply: reply.clone(),
                }]
            }
            ToClient::Drop => self.disconnected(),
        }
    }

    /// The connection is gone: pending requests fail with ConnectionLoss, in order, then
    /// `(None, Disconnected)`. Watches are kept for the reconnect.
    pub fn disconnected(&mut self) -> Vec<Delivery> {
        if self.state != ClientState::Connected {
            return Vec::new();
        }
        self.state = ClientState::Disconnected;
        let mut out: Vec<Delivery> = self
            .pending
            .drain(..)
            .map(|(xid, _)| Delivery::Reply {
                xid,
                reply: Err(ErrorCode::ConnectionLoss),
            })
            .collect();
        out.push(session_event(KeeperState::Disconnected));
        out
    }

    /// What the client offers the server when it reconnects: its watches, each list in the
    /// Java client's order (with [`Client::last_zxid`]).
    pub fn set_watches(&self) -> SetWatches {
        self.watches.set_watches()
    }

    /// The server's answer to the reconnect: `None` when it no longer knows the session
    /// (Expired; queued calls then fail with SessionExpired), else the events SetWatches
    /// fired. Returns the deliveries and the queued requests to send now.
    pub fn reconnected(
        &mut self,
        answer: Option<(u32, Vec<WatchedEvent>)>,
    ) -> (Vec<Delivery>, Vec<(i32, Request)>) {
        let Some((timeout_ms, events)) = answer else {
            self.state = ClientState::Expired;
            self.watches = ClientWatches::default();
            let mut out = vec![session_event(KeeperState::Expired)];
            out.extend(self.queued.drain(..).map(|(xid, _)| Delivery::Reply {
                xid,
                reply: Err(ErrorCode::SessionExpired),
            }));
            return (out, Vec::new());
        };
        self.state = ClientState::Connected;
        self.timeout_ms = timeout_ms;
        let mut out = vec![session_event(KeeperState::SyncConnected)];
        for event in events {
            self.watches.on_event(&event);
            out.push(Delivery::Event { event });
        }
        let send: Vec<(i32, Request)> = self.queued.drain(..).collect();
        self.pending.extend(send.iter().cloned());
        (out, send)
    }

    /// Whether some watch the client holds would be told of `event` (used to check that the
    /// server sends nothing unasked for).
    pub fn expects(&self, event: &WatchedEvent) -> bool {
        let w = &self.watches;
        let p = event.path.as_str();
        let recursive = || {
            w.persistent_recursive.contains(p)
                || path::ancestors(p).any(|a| w.persistent_recursive.contains(a))
        };
        match event.kind {
            EventType::None => true,
            EventType::NodeChildrenChanged => w.child.contains(p) || w.persistent.contains(p),
            _ => {
                w.data.contains(p)
                    || w.exist.contains(p)
                    || w.persistent.contains(p)
                    || (event.kind == EventType::NodeDeleted && w.child.contains(p))
                    || recursive()
            }
        }
    }
}

fn session_event(state: KeeperState) -> Delivery {
    Delivery::Event {
        event: WatchedEvent::session(state),
    }
}

/// The Java API's view of an `exists` reply: a Stat, or `None` for a missing node.
pub fn exists_stat(reply: &Reply) -> Result<Option<crate::stat::Stat>, ErrorCode> {
    match reply {
        Ok(Response::Stat { stat }) => Ok(Some(*stat)),
        Err(ErrorCode::NoNode) => Ok(None),
        Ok(other) => panic!("not an exists reply: {other:?}"),
        Err(code) => Err(*code),
    }
}
