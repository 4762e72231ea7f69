//! Requests, replies and watch events: the vocabulary between clients and the server.
//!
//! These mirror ZooKeeper's wire protocol (`zookeeper.jute`) at the level a client sees: a
//! [`Request`] is one call, a [`Reply`] is what the server sends back for it (an error code or a
//! [`Response`]), and a [`WatchedEvent`] is a notification frame.

use serde::{Deserialize, Serialize};

use crate::data::Data;
use crate::error::ErrorCode;
use crate::stat::Stat;

/// How a znode is created (`CreateMode`, flags 0 to 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreateMode {
    /// 0: removed only by an explicit delete.
    Persistent,
    /// 1: removed when the owning session closes or expires.
    Ephemeral,
    /// 2: persistent, with the parent's sequence number appended.
    PersistentSequential,
    /// 3: ephemeral, with the parent's sequence number appended.
    EphemeralSequential,
    /// 4: deleted by the server once empty after having had a child.
    Container,
    /// 5: deleted by the server when unmodified for its TTL and childless.
    PersistentWithTtl,
    /// 6: sequential variant of `PersistentWithTtl`.
    PersistentSequentialWithTtl,
}

impl CreateMode {
    /// The wire flag.
    pub const fn flag(self) -> i32 {
        match self {
            CreateMode::Persistent => 0,
            CreateMode::Ephemeral => 1,
            CreateMode::PersistentSequential => 2,
            CreateMode::EphemeralSequential => 3,
            CreateMode::Container => 4,
            CreateMode::PersistentWithTtl => 5,
            CreateMode::PersistentSequentialWithTtl => 6,
        }
    }

    /// Whether the server appends a sequence number.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// Whether the node belongs to the creating session.
    pub const fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// Whether the node carries a TTL.
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

/// ACL permission bits.
pub mod perms {
    /// Read data and list children.
    pub const READ: u32 = 1;
    /// Set data.
    pub const WRITE: u32 = 2;
    /// Create children.
    pub const CREATE: u32 = 4;
    /// Delete children.
    pub const DELETE: u32 = 8;
    /// Set the ACL.
    pub const ADMIN: u32 = 16;
    /// Everything.
    pub const ALL: u32 = 31;
}

/// One ACL entry: permissions granted to an identity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Acl {
    /// Permission bits, see [`perms`].
    pub perms: u32,
    /// Auth scheme (`world`, `digest`, `ip`, ...).
    pub scheme: String,
    /// Identity within the scheme.
    pub id: String,
}

impl Acl {
    /// `world:anyone` with these permissions.
    pub fn world(perms: u32) -> Self {
        Acl {
            perms,
            scheme: "world".into(),
            id: "anyone".into(),
        }
    }

    /// `ZooDefs.Ids.OPEN_ACL_UNSAFE`: everything to `world:anyone`.
    pub fn open() -> Vec<Acl> {
        vec![Acl::world(perms::ALL)]
    }
}

fn default_acl() -> Vec<Acl> {
    Acl::open()
}

fn any_version() -> i32 {
    -1
}

fn is_open_acl(acl: &[Acl]) -> bool {
    acl == Acl::open().as_slice()
}

fn is_any_version(v: &i32) -> bool {
    *v == -1
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The kind of watch `addWatch` sets (`AddWatchMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddWatchMode {
    /// 0: fires for the node's own changes and its child list; not removed when it fires.
    Persistent,
    /// 1: fires for the node and every descendant; never NodeChildrenChanged.
    PersistentRecursive,
}

/// Which watches `removeWatches` removes (`WatcherType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatcherType {
    /// 1: child watches.
    Children,
    /// 2: data and exists watches.
    Data,
    /// 3: all, persistent ones included.
    Any,
}

/// One client call, as sent to the server.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// `create` (opcode 1), or `create2` (15) when `stat` is set, or `createTTL` (21) with a TTL.
    Create {
        /// Path, before any sequence suffix.
        path: String,
        /// Initial data.
        #[serde(default)]
        data: Data,
        /// ACL; defaults to the open ACL.
        #[serde(default = "default_acl", skip_serializing_if = "is_open_acl")]
        acl: Vec<Acl>,
        /// Node kind.
        #[serde(default = "CreateMode::persistent")]
        mode: CreateMode,
        /// TTL in milliseconds, for the TTL modes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl_ms: Option<i64>,
        /// Ask for the new node's Stat (`create2`).
        #[serde(default, skip_serializing_if = "is_false")]
        stat: bool,
    },
    /// `delete` (2).
    Delete {
        /// Path.
        path: String,
        /// Expected version, -1 for any.
        #[serde(default = "any_version", skip_serializing_if = "is_any_version")]
        version: i32,
    },
    /// `exists` (3).
    Exists {
        /// Path.
        path: String,
        /// Leave a data watch (also on a missing node).
        #[serde(default, skip_serializing_if = "is_false")]
        watch: bool,
    },
    /// `getData` (4).
    GetData {
        /// Path.
        path: String,
        /// Leave a data watch.
        #[serde(default, skip_serializing_if = "is_false")]
        watch: bool,
    },
    /// `setData` (5).
    SetData {
        /// Path.
        path: String,
        /// New data.
        #[serde(default)]
        data: Data,
        /// Expected version, -1 for any.
        #[serde(default = "any_version", skip_serializing_if = "is_any_version")]
        version: i32,
    },
    /// `getACL` (6).
    GetAcl {
        /// Path.
        path: String,
    },
    /// `setACL` (7).
    SetAcl {
        /// Path.
        path: String,
        /// New ACL.
        acl: Vec<Acl>,
        /// Expected aversion, -1 for any.
        #[serde(default = "any_version", skip_serializing_if = "is_any_version")]
        version: i32,
    },
    /// `getChildren` (8), or `getChildren2` (12) when `stat` is set.
    GetChildren {
        /// Path.
        path: String,
        /// Leave a child watch.
        #[serde(default, skip_serializing_if = "is_false")]
        watch: bool,
        /// Also return the node's Stat (`getChildren2`).
        #[serde(default, skip_serializing_if = "is_false")]
        stat: bool,
    },
    /// `sync` (9).
    Sync {
        /// Path (need not exist).
        path: String,
    },
    /// `check` (13): only valid inside a multi through the public API.
    Check {
        /// Path.
        path: String,
        /// Expected version, -1 for any (existence only).
        #[serde(default = "any_version", skip_serializing_if = "is_any_version")]
        version: i32,
    },
    /// `multi` (14): create, delete, setData and check ops, all or nothing.
    Multi {
        /// The ops, in order.
        ops: Vec<Request>,
    },
    /// `removeWatches` (18).
    RemoveWatches {
        /// Path.
        path: String,
        /// Which watches.
        watcher_type: WatcherType,
    },
    /// `addWatch` (106).
    AddWatch {
        /// Path (need not exist).
        path: String,
        /// Persistent or persistent-recursive.
        mode: AddWatchMode,
    },
}

impl CreateMode {
    fn persistent() -> Self {
        CreateMode::Persistent
    }
}

impl Request {
    /// A plain create: open ACL, no TTL, no Stat asked for (the form roles use).
    pub fn create(path: impl Into<String>, data: Data, mode: CreateMode) -> Request {
        Request::Create {
            path: path.into(),
            data,
            acl: Acl::open(),
            mode,
            ttl_ms: None,
            stat: false,
        }
    }

    /// The request's path (a multi has none).
    pub fn path(&self) -> Option<&str> {
        match self {
            Request::Create { path, .. }
            | Request::Delete { path, .. }
            | Request::Exists { path, .. }
            | Request::GetData { path, .. }
            | Request::SetData { path, .. }
            | Request::GetAcl { path }
            | Request::SetAcl { path, .. }
            | Request::GetChildren { path, .. }
            | Request::Sync { path }
            | Request::Check { path, .. }
            | Request::RemoveWatches { path, .. }
            | Request::AddWatch { path, .. } => Some(path),
            Request::Multi { .. } => None,
        }
    }

    /// Whether the server turns this request into a transaction (and so consumes a zxid, even
    /// when it fails).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create { .. }
                | Request::Delete { .. }
                | Request::SetData { .. }
                | Request::SetAcl { .. }
                | Request::Check { .. }
                | Request::Multi { .. }
        )
    }

    /// The operation's name as zkCli spells it, for renderings.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Create { .. } => "create",
            Request::Delete { .. } => "delete",
            Request::Exists { .. } => "exists",
            Request::GetData { .. } => "get",
            Request::SetData { .. } => "set",
            Request::GetAcl { .. } => "getAcl",
            Request::SetAcl { .. } => "setAcl",
            Request::GetChildren { .. } => "ls",
            Request::Sync { .. } => "sync",
            Request::Check { .. } => "check",
            Request::Multi { .. } => "multi",
            Request::RemoveWatches { .. } => "removewatches",
            Request::AddWatch { .. } => "addWatch",
        }
    }
}

/// The result of one op inside a multi.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case", deny_unknown_fields)]
pub enum OpResult {
    /// A create succeeded.
    Create {
        /// The created path.
        path: String,
        /// The Stat, when the op asked for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stat: Option<Stat>,
    },
    /// A delete succeeded.
    Delete,
    /// A setData succeeded.
    SetData {
        /// The node's new Stat.
        stat: Stat,
    },
    /// A check succeeded.
    Check,
    /// The op failed, or was rolled back (`Ok`), or was not tried (`RuntimeInconsistency`).
    Error {
        /// The op's code.
        code: ErrorCode,
    },
}

/// The body of a successful reply.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    /// create / create2.
    Create {
        /// The created path (with its sequence suffix).
        path: String,
        /// The new Stat (create2 only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stat: Option<Stat>,
    },
    /// delete, removeWatches, addWatch: an empty body.
    Empty,
    /// exists, setData, setACL: a Stat.
    Stat {
        /// The Stat.
        stat: Stat,
    },
    /// getData.
    Data {
        /// The data.
        data: Data,
        /// The Stat.
        stat: Stat,
    },
    /// getACL.
    Acl {
        /// The ACL.
        acl: Vec<Acl>,
        /// The Stat.
        stat: Stat,
    },
    /// getChildren / getChildren2.
    Children {
        /// Child names (not paths), in the server's order.
        children: Vec<String>,
        /// The parent's Stat (getChildren2 only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stat: Option<Stat>,
    },
    /// sync.
    Sync {
        /// The path synced.
        path: String,
    },
    /// multi: one result per op. A failed multi is still a successful reply on the wire.
    Multi {
        /// Results in op order.
        results: Vec<OpResult>,
    },
}

/// What the server answers to one request: a code in the reply header, a body on success.
pub type Reply = Result<Response, ErrorCode>;

/// The type of a watch event (`Watcher.Event.EventType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// -1: a session state change, not a znode event.
    None,
    /// 1.
    NodeCreated,
    /// 2.
    NodeDeleted,
    /// 3.
    NodeDataChanged,
    /// 4.
    NodeChildrenChanged,
    /// 5.
    DataWatchRemoved,
    /// 6.
    ChildWatchRemoved,
    /// 7.
    PersistentWatchRemoved,
}

impl EventType {
    /// The wire number.
    pub const fn code(self) -> i32 {
        match self {
            EventType::None => -1,
            EventType::NodeCreated => 1,
            EventType::NodeDeleted => 2,
            EventType::NodeDataChanged => 3,
            EventType::NodeChildrenChanged => 4,
            EventType::DataWatchRemoved => 5,
            EventType::ChildWatchRemoved => 6,
            EventType::PersistentWatchRemoved => 7,
        }
    }

    /// The type for a wire number.
    pub fn from_code(code: i32) -> Option<Self> {
        [
            EventType::None,
            EventType::NodeCreated,
            EventType::NodeDeleted,
            EventType::NodeDataChanged,
            EventType::NodeChildrenChanged,
            EventType::DataWatchRemoved,
            EventType::ChildWatchRemoved,
            EventType::PersistentWatchRemoved,
        ]
        .into_iter()
        .find(|t| t.code() == code)
    }
}

/// The session state carried by an event (`Watcher.Event.KeeperState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KeeperState {
    /// 0.
    Disconnected,
    /// 3.
    SyncConnected,
    /// 4.
    AuthFailed,
    /// 5.
    ConnectedReadOnly,
    /// -112.
    Expired,
    /// 7.
    Closed,
}

impl KeeperState {
    /// The wire number.
    pub const fn code(self) -> i32 {
        match self {
            KeeperState::Disconnected => 0,
            KeeperState::SyncConnected => 3,
            KeeperState::AuthFailed => 4,
            KeeperState::ConnectedReadOnly => 5,
            KeeperState::Expired => -112,
            KeeperState::Closed => 7,
        }
    }
}

/// A notification: a znode event (state `SyncConnected`) or a session event (type `None`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WatchedEvent {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The session state.
    pub state: KeeperState,
    /// The znode path; empty for session events.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
}

impl WatchedEvent {
    /// A znode event.
    pub fn node(kind: EventType, path: &str) -> Self {
        WatchedEvent {
            kind,
            state: KeeperState::SyncConnected,
            path: path.to_string(),
        }
    }

    /// A session state event.
    pub fn session(state: KeeperState) -> Self {
        WatchedEvent {
            kind: EventType::None,
            state,
            path: String::new(),
        }
    }
}
