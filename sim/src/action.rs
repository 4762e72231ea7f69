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
}

impl Action {
    /// Whether this is a fault (bounded by a budget, never taken in the liveness phase).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Action::Crash { .. }
                | Action::Kill { .. }
                | Action::Disconnect { .. }
                | Action::Expire { .. }
        )
    }

    /// Whether this repairs a fault (restart, reconnect).
    pub fn is_repair(&self) -> bool {
        matches!(self, Action::Restart { .. } | Action::Reconnect { .. })
    }
}
