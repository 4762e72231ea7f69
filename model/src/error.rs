//! ZooKeeper's numeric result codes (`KeeperException.Code`).

use serde::{Deserialize, Serialize};

/// A ZooKeeper result code, as the server puts it in a reply header or a multi result.
///
/// Serialized by name (`"NoNode"`); [`ErrorCode::code`] gives the wire number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// 0: success.
    Ok,
    /// -1: system error.
    SystemError,
    /// -2: a later op of a failed multi, or an internal inconsistency.
    RuntimeInconsistency,
    /// -3: data inconsistency.
    DataInconsistency,
    /// -4: the connection to the server was lost (client side).
    ConnectionLoss,
    /// -5: the request could not be decoded.
    MarshallingError,
    /// -6: the operation is not implemented (e.g. TTL nodes without extended types).
    Unimplemented,
    /// -7: the operation timed out (client side).
    OperationTimeout,
    /// -8: invalid arguments (bad path, bad flags, special node).
    BadArguments,
    /// -13: a new config is invalid.
    NewConfigNoQuorum,
    /// -14: reconfiguration in progress.
    ReconfigInProgress,
    /// -100: generic API error.
    ApiError,
    /// -101: the node does not exist.
    NoNode,
    /// -102: not authorized.
    NoAuth,
    /// -103: version conflict.
    BadVersion,
    /// -108: ephemeral nodes may not have children.
    NoChildrenForEphemerals,
    /// -110: the node already exists.
    NodeExists,
    /// -111: the node has children.
    NotEmpty,
    /// -112: the session has expired.
    SessionExpired,
    /// -113: invalid callback.
    InvalidCallback,
    /// -114: invalid ACL.
    InvalidAcl,
    /// -115: authentication failed.
    AuthFailed,
    /// -118: the session was moved to another server.
    SessionMoved,
    /// -119: the server is read-only.
    NotReadOnly,
    /// -120: ephemeral created on a closing session.
    EphemeralOnLocalSession,
    /// -121: no such watcher (removeWatches).
    NoWatcher,
    /// -122: the request timed out.
    RequestTimeout,
    /// -127: request rejected because of throttling.
    Throttled,
    /// -123: reconfiguration disabled.
    ReconfigDisabled,
    /// -124: the session must authenticate with SASL.
    SessionClosedRequireSaslAuth,
    /// -125: quota exceeded.
    QuotaExceeded,
}

impl ErrorCode {
    /// The numeric code on the wire.
    pub const fn code(self) -> i32 {
        use ErrorCode::*;
        match self {
            Ok => 0,
            SystemError => -1,
            RuntimeInconsistency => -2,
            DataInconsistency => -3,
            ConnectionLoss => -4,
            MarshallingError => -5,
            Unimplemented => -6,
            OperationTimeout => -7,
            BadArguments => -8,
            NewConfigNoQuorum => -13,
            ReconfigInProgress => -14,
            ApiError => -100,
            NoNode => -101,
            NoAuth => -102,
            BadVersion => -103,
            NoChildrenForEphemerals => -108,
            NodeExists => -110,
            NotEmpty => -111,
            SessionExpired => -112,
            InvalidCallback => -113,
            InvalidAcl => -114,
            AuthFailed => -115,
            SessionMoved => -118,
            NotReadOnly => -119,
            EphemeralOnLocalSession => -120,
            NoWatcher => -121,
            RequestTimeout => -122,
            Throttled => -127,
            ReconfigDisabled => -123,
            SessionClosedRequireSaslAuth => -124,
            QuotaExceeded => -125,
        }
    }

    /// The code for a wire number, if it is one ZooKeeper defines.
    pub fn from_code(code: i32) -> Option<Self> {
        ALL.iter().copied().find(|c| c.code() == code)
    }
}

const ALL: [ErrorCode; 31] = {
    use ErrorCode::*;
    [
        Ok,
        SystemError,
        RuntimeInconsistency,
        DataInconsistency,
        ConnectionLoss,
        MarshallingError,
        Unimplemented,
        OperationTimeout,
        BadArguments,
        NewConfigNoQuorum,
        ReconfigInProgress,
        ApiError,
        NoNode,
        NoAuth,
        BadVersion,
        NoChildrenForEphemerals,
        NodeExists,
        NotEmpty,
        SessionExpired,
        InvalidCallback,
        InvalidAcl,
        AuthFailed,
        SessionMoved,
        NotReadOnly,
        EphemeralOnLocalSession,
        NoWatcher,
        RequestTimeout,
        Throttled,
        ReconfigDisabled,
        SessionClosedRequireSaslAuth,
        QuotaExceeded,
    ]
};

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?} ({})", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every code round-trips through its wire number, and no two share one.
    #[test]
    fn codes_round_trip_and_are_distinct() {
        for c in ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
        let mut nums: Vec<i32> = ALL.iter().map(|c| c.code()).collect();
        nums.sort_unstable();
        nums.dedup();
        assert_eq!(nums.len(), ALL.len());
    }
}
