//! The znode `Stat` as clients see it.

use serde::{Deserialize, Serialize};

/// A session id as the server assigns it.
pub type SessionId = i64;

/// A ZooKeeper transaction id.
pub type Zxid = i64;

/// Every field of ZooKeeper's `Stat`, in wire order, as a client sees it.
///
/// `cversion` is the client-visible value `2·creates − numChildren` (= creates + deletes), not
/// the server's internal creation counter; `ephemeral_owner` is 0 for every non-ephemeral node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stat {
    /// zxid of the create.
    pub czxid: Zxid,
    /// zxid of the last data change (the create, or the last setData).
    pub mzxid: Zxid,
    /// Time of the create, in milliseconds.
    pub ctime: i64,
    /// Time of the last data change, in milliseconds.
    pub mtime: i64,
    /// Number of data changes.
    pub version: i32,
    /// Number of child creations plus child deletions (client-visible).
    pub cversion: i32,
    /// Number of ACL changes.
    pub aversion: i32,
    /// The owning session for an ephemeral node, 0 otherwise.
    pub ephemeral_owner: SessionId,
    /// Length of the data (0 for null data).
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
    /// zxid of the last change to the children (create or delete of a child).
    pub pzxid: Zxid,
}

/// Every field, the zxids through `hash_zxid` (left out of a fingerprint
/// without zxids). Destructured, so a new field cannot be forgotten here.
impl std::hash::Hash for Stat {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        use crate::hash::hash_zxid;
        let Stat {
            czxid,
            mzxid,
            ctime,
            mtime,
            version,
            cversion,
            aversion,
            ephemeral_owner,
            data_length,
            num_children,
            pzxid,
        } = *self;
        hash_zxid(czxid, h);
        hash_zxid(mzxid, h);
        (ctime, mtime, version, cversion, aversion).hash(h);
        (ephemeral_owner, data_length, num_children).hash(h);
        hash_zxid(pzxid, h);
    }
}
