//! Every nondeterministic choice the world can make, as one closed enum.

use serde::{Deserialize, Serialize};
use zksim_model::role::{ChoiceId, TimerId};
use zksim_model::stat::SessionId;

/// A process's index in the world.
pub type ProcessId = usize;

/// One step of the world. [`crate::world::World::enabled_actions`] lists the enabled ones in a
/// deterministic order; [`crate::world::World::step`] applies one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The server takes the next request on the process's link and answers it.
    ToServer {
        /// The process.
        process: ProcessId,
    },
    /// The client takes the next frame (reply, event, connection drop) on its link.
    ToClient {
        /// The process.
        process: ProcessId,
    },
    /// A due timer fires.
    Timer {
        /// The process.
        process: ProcessId,
        /// The timer.
        timer: TimerId,
    },
    /// The world answers a role's choice.
    Choose {
        /// The process.
        process: ProcessId,
        /// The choice.
        choice: ChoiceId,
        /// The option taken.
        option: u32,
    },
    /// The process dies. Its session lives on at the server until it expires (a crash is not
    /// a close); whatever was on its links is lost.
    Crash {
        /// The process.
        process: ProcessId,
    },
    /// The process dies for good (a machine lost): as a crash, but it never restarts, so the
    /// recipe must carry on without it.
    Kill {
        /// The process.
        process: ProcessId,
    },
    /// A crashed process starts again, with a new session and its role's initial state.
    Restart {
        /// The process.
        process: ProcessId,
    },
    /// The connection drops. Requests still on the way to the server are lost (not applied);
    /// replies on the way back are lost (applied); the client fails every pending request with
    /// ConnectionLoss, then tells the role Disconnected.
    Disconnect {
        /// The process.
        process: ProcessId,
    },
    /// A disconnected client reconnects: the same session if the server still has it
    /// (watches re-registered with its lastZxid), else Expired.
    Reconnect {
        /// The process.
        process: ProcessId,
    },
    /// The server expires a session whose client is silent (crashed or disconnected). Only
    /// when time is abstract; with a clock, sessions expire as time passes.
    Expire {
        /// The session.
        session: SessionId,
    },
    /// Faults stop for good (the liveness phase begins): from here on no crash, disconnect or
    /// expiry is enabled, and the recipe must converge.
    StopFaults,
    /// Virtual time passes (timed mode): connected clients heartbeat, silent sessions whose
    /// timeout has passed expire.
    Advance {
        /// How long.
        ms: u64,
    },
    /// The server is stopped and started again on its data directory
    /// ([`zksim_model::server::Server::restart`]): the tree, the zxid and every session
    /// survive, every connection is closed and every watch is gone until its client
    /// re-registers it. Each connected client reads what is already on its link, then the
    /// close; requests still on the way to the server are lost unapplied.
    RestartServer,
    /// The process's event thread blocks for `ms` (timed mode): frames from the server wait
    /// on its side, its connection and session stay alive.
    Stall {
        /// The process.
        process: ProcessId,
        /// How long.
        ms: u64,
    },
}

impl Action {
    /// Every kind of action, in the enum's order, as [`Action::kind`] names them.
    pub const KINDS: [&'static str; 14] = [
        "to_server",
        "to_client",
        "timer",
        "choose",
        "crash",
        "kill",
        "restart",
        "disconnect",
        "reconnect",
        "expire",
        "stop_faults",
        "advance",
        "restart_server",
        "stall",
    ];

    /// The action's kind, as a trace spells it (`to_server`, `crash`, ...): its index in
    /// [`Action::KINDS`].
    pub fn kind(&self) -> usize {
        match self {
            Action::ToServer { .. } => 0,
            Action::ToClient { .. } => 1,
            Action::Timer { .. } => 2,
            Action::Choose { .. } => 3,
            Action::Crash { .. } => 4,
            Action::Kill { .. } => 5,
            Action::Restart { .. } => 6,
            Action::Disconnect { .. } => 7,
            Action::Reconnect { .. } => 8,
            Action::Expire { .. } => 9,
            Action::StopFaults => 10,
            Action::Advance { .. } => 11,
            Action::RestartServer => 12,
            Action::Stall { .. } => 13,
        }
    }

    /// Whether this is a fault (bounded by a budget, never taken in the liveness phase).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Action::Crash { .. }
                | Action::Kill { .. }
                | Action::Disconnect { .. }
                | Action::Expire { .. }
                | Action::RestartServer
                | Action::Stall { .. }
        )
    }

    /// Whether this repairs a fault (restart, reconnect).
    pub fn is_repair(&self) -> bool {
        matches!(self, Action::Restart { .. } | Action::Reconnect { .. })
    }

    /// The process the action is about; `None` for an expiry (of a session), the stop of
    /// faults, time advancing and a server restart.
    pub fn process(&self) -> Option<usize> {
        match *self {
            Action::ToServer { process }
            | Action::ToClient { process }
            | Action::Timer { process, .. }
            | Action::Choose { process, .. }
            | Action::Crash { process }
            | Action::Kill { process }
            | Action::Restart { process }
            | Action::Disconnect { process }
            | Action::Reconnect { process }
            | Action::Stall { process, .. } => Some(process),
            Action::Expire { .. }
            | Action::StopFaults
            | Action::Advance { .. }
            | Action::RestartServer => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Action;

    // Each kind's name is the tag a trace writes for it.
    #[test]
    fn each_kind_is_named_as_traces_spell_it() {
        let all = [
            Action::ToServer { process: 0 },
            Action::ToClient { process: 0 },
            Action::Timer {
                process: 0,
                timer: 1,
            },
            Action::Choose {
                process: 0,
                choice: 1,
                option: 0,
            },
            Action::Crash { process: 0 },
            Action::Kill { process: 0 },
            Action::Restart { process: 0 },
            Action::Disconnect { process: 0 },
            Action::Reconnect { process: 0 },
            Action::Expire { session: 1 },
            Action::StopFaults,
            Action::Advance { ms: 1 },
            Action::RestartServer,
            Action::Stall { process: 0, ms: 1 },
        ];
        for (i, action) in all.iter().enumerate() {
            let json = serde_json::to_value(action).unwrap();
            assert_eq!(action.kind(), i);
            assert_eq!(json["action"], Action::KINDS[i], "{action:?}");
        }
    }
}
