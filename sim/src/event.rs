//! What a step did, as data: the events of a trace.

use serde::{Deserialize, Serialize};
use zksim_model::op::{Reply, Request, WatchedEvent};
use zksim_model::role::{ChoiceId, Claim, TimerId};
use zksim_model::server::Change;
use zksim_model::stat::{SessionId, Zxid};

use crate::action::ProcessId;

/// One thing that happened in a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Event {
    /// A process's client put a request on its link (or queued it while disconnected).
    Sent {
        /// The process.
        process: ProcessId,
        /// The request's xid.
        xid: i32,
        /// The request.
        request: Request,
    },
    /// The server handled a request; its reply is on the way back.
    Handled {
        /// The process.
        process: ProcessId,
        /// The request's xid.
        xid: i32,
        /// The reply header's zxid.
        zxid: Zxid,
        /// The reply (a dropped connection for an oversize request shows as ConnectionLoss).
        reply: Reply,
    },
    /// The server committed a change.
    Changed {
        /// The change.
        #[serde(flatten)]
        change: Change,
    },
    /// A reply reached the role (from the server, or ConnectionLoss / SessionExpired from the
    /// client library).
    Replied {
        /// The process.
        process: ProcessId,
        /// The request's xid.
        xid: i32,
        /// The reply.
        reply: Reply,
    },
    /// A watch or session event reached the role.
    Notified {
        /// The process.
        process: ProcessId,
        /// The event.
        event: WatchedEvent,
    },
    /// A message was lost when its connection dropped.
    Lost {
        /// The process.
        process: ProcessId,
        /// The request's xid (0 for an event).
        xid: i32,
        /// Whether it was on the way to the server (not applied) or back (applied).
        to_server: bool,
    },
    /// A timer fired.
    TimerFired {
        /// The process.
        process: ProcessId,
        /// The timer.
        timer: TimerId,
    },
    /// A choice was answered.
    Chose {
        /// The process.
        process: ProcessId,
        /// The choice.
        choice: ChoiceId,
        /// The option.
        option: u32,
    },
    /// A process crashed.
    Crashed {
        /// The process.
        process: ProcessId,
    },
    /// A process got a new session (restart, or a new handle after Expired).
    SessionOpened {
        /// The process.
        process: ProcessId,
        /// The new session.
        session: SessionId,
        /// The negotiated timeout.
        timeout_ms: u32,
    },
    /// A connection dropped.
    Disconnected {
        /// The process.
        process: ProcessId,
    },
    /// A client reconnected (or learned its session expired).
    Reconnected {
        /// The process.
        process: ProcessId,
        /// Whether the server no longer had the session.
        expired: bool,
    },
    /// A role's claim, for the properties.
    Noted {
        /// The process.
        process: ProcessId,
        /// What is claimed.
        claim: Claim,
        /// About which path.
        path: String,
        /// Whether the same claim was made before in this run.
        repeat: bool,
    },
    /// The server restarted on its data directory; every connection it had is closing.
    ServerRestarted {
        /// The last zxid the restarted server has (a restart writes none).
        zxid: Zxid,
    },
    /// A role's log line.
    Log {
        /// The process.
        process: ProcessId,
        /// The line.
        line: String,
    },
}
