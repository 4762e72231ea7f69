//! Roles: the processes of a recipe as sans-IO state machines.
//!
//! A role never performs I/O or reads a clock. The world hands it one [`Input`] at a time (its
//! start, a reply, a watch or session event, a timer, an application-level choice) and the role
//! answers with [`Effect`]s pushed into a [`Ctx`]: calls to ZooKeeper, timers, choices it wants
//! the world to make, log lines. The simulator and the explorer then decide what happens next.
//!
//! ```
//! use zksim_model::role::{Ctx, Effect, Input, Role};
//! use zksim_model::op::Request;
//!
//! #[derive(Clone, Debug, PartialEq, Eq, Hash)]
//! struct Pinger;
//!
//! impl Role for Pinger {
//!     fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
//!         if let Input::Start { .. } = input {
//!             ctx.call(1, Request::Sync { path: "/".into() });
//!         }
//!     }
//! }
//!
//! let mut ctx = Ctx::default();
//! Pinger.handle(&Input::Start { session: 1 }, &mut ctx);
//! assert!(matches!(ctx.effects()[0], Effect::Call { tag: 1, .. }));
//! ```

use std::fmt::Debug;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::hash::{fnv_str, mix};
use crate::op::{Reply, Request, WatchedEvent};
use crate::stat::SessionId;

/// A role's own correlation id for a call; its reply comes back with the same tag.
pub type Tag = u32;
/// A role's name for one of its timers.
pub type TimerId = u32;
/// A role's name for a choice it asks the world to make.
pub type ChoiceId = u32;

/// What the world hands a role.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    /// The process started (or restarted, or opened a new session) with a connected session.
    Start {
        /// The new session's id (what `ephemeralOwner` shows on the nodes it creates).
        session: SessionId,
    },
    /// The completion of call `tag`.
    Reply {
        /// The call's tag.
        tag: Tag,
        /// The code or body, as the server sent it (or ConnectionLoss / SessionExpired from
        /// the client library).
        reply: Reply,
    },
    /// A watch event, or a session event (`Disconnected`, `SyncConnected`, `Expired`).
    Event {
        /// The event.
        event: WatchedEvent,
    },
    /// Timer `timer` went off.
    Timer {
        /// The timer.
        timer: TimerId,
    },
    /// The world chose `option` for choice `choice`.
    Choice {
        /// The choice.
        choice: ChoiceId,
        /// The option chosen, below the number of options asked for.
        option: u32,
    },
}

/// What a role asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Call ZooKeeper; the reply comes back as [`Input::Reply`] with this tag.
    Call {
        /// The role's tag for the call.
        tag: Tag,
        /// The request.
        request: Request,
    },
    /// Start (or restart) a timer.
    SetTimer {
        /// The timer.
        timer: TimerId,
        /// Delay in virtual milliseconds (ignored when time is abstracted).
        after_ms: u64,
    },
    /// Cancel a timer, if set.
    CancelTimer {
        /// The timer.
        timer: TimerId,
    },
    /// Ask the world to choose one of `options` (e.g. how long a task takes); the answer comes
    /// back as [`Input::Choice`]. The simulator draws it from the seed, the explorer tries all.
    Choose {
        /// The choice.
        choice: ChoiceId,
        /// How many options (at least 1).
        options: u32,
    },
    /// Drop the current (expired or closed) handle and open a new session; the role then gets
    /// [`Input::Start`] again.
    NewSession,
    /// A claim for the properties to check, such as `("runs", "/assign/w1/task-0000000001")`:
    /// the world records which it has seen, so a repeated claim can be told apart.
    Note {
        /// What is claimed.
        claim: String,
        /// About which path.
        path: String,
    },
    /// A line for the trace.
    Log {
        /// The text.
        line: String,
    },
}

/// BUGGIFY: fault points role code may call. A point is enabled for a whole run with
/// probability 1/4 and, when enabled, fires with probability 1/4 each time it is reached, both
/// decided by a hash of the run's seed, the process and the point (so a seed replays exactly).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Buggify {
    /// The run's seed; `None` disables every point.
    pub seed: Option<u64>,
    /// The process.
    pub process: u32,
    /// How many times this process has reached any point (advanced by the world).
    pub reached: u64,
}

/// Where a role's effects go during one input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ctx {
    effects: Vec<Effect>,
    buggify: Buggify,
}

impl Ctx {
    /// An empty context with these BUGGIFY settings.
    pub fn new(buggify: Buggify) -> Self {
        Ctx {
            effects: Vec::new(),
            buggify,
        }
    }

    /// Calls ZooKeeper.
    pub fn call(&mut self, tag: Tag, request: Request) {
        self.effects.push(Effect::Call { tag, request });
    }

    /// Starts a timer.
    pub fn set_timer(&mut self, timer: TimerId, after_ms: u64) {
        self.effects.push(Effect::SetTimer { timer, after_ms });
    }

    /// Cancels a timer.
    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.effects.push(Effect::CancelTimer { timer });
    }

    /// Asks the world to choose one of `options`.
    pub fn choose(&mut self, choice: ChoiceId, options: u32) {
        self.effects.push(Effect::Choose {
            choice,
            options: options.max(1),
        });
    }

    /// Opens a new session in place of an expired one.
    pub fn new_session(&mut self) {
        self.effects.push(Effect::NewSession);
    }

    /// Claims something for the properties (`ctx.note("runs", "/assign/w1/t")`).
    pub fn note(&mut self, what: impl Into<String>, path: impl Into<String>) {
        self.effects.push(Effect::Note {
            claim: what.into(),
            path: path.into(),
        });
    }

    /// Logs a line to the trace.
    pub fn log(&mut self, line: impl Into<String>) {
        self.effects.push(Effect::Log { line: line.into() });
    }

    /// A BUGGIFY fault point: true when the run's seed enables `point` and this visit fires.
    pub fn buggify(&mut self, point: &str) -> bool {
        let Some(seed) = self.buggify.seed else {
            return false;
        };
        let site = mix(seed ^ fnv_str(point));
        let visit = mix(site ^ mix(u64::from(self.buggify.process) << 32 ^ self.buggify.reached));
        self.buggify.reached += 1;
        site % 4 == 0 && visit % 4 == 0
    }

    /// The effects pushed so far, in order.
    pub fn effects(&self) -> &[Effect] {
        &self.effects
    }

    /// Takes the effects and the BUGGIFY state (with its visit count advanced).
    pub fn finish(self) -> (Vec<Effect>, Buggify) {
        (self.effects, self.buggify)
    }
}

/// A process of a recipe. Its state is part of the world's state, hence the bounds: the
/// explorer clones, compares and hashes it.
pub trait Role: Clone + Debug + Eq + Hash {
    /// Reacts to one input.
    fn handle(&mut self, input: &Input, ctx: &mut Ctx);

    /// A short summary of what the role believes (for renderings and state labels).
    fn summary(&self) -> String {
        String::new()
    }
}
