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
    /// A claim for the properties to check, such as [`Claim::Runs`] about
    /// `/assign/w1/task-0000000001`: the world records which it has seen, so a repeated claim
    /// can be told apart.
    Note {
        /// What is claimed.
        claim: Claim,
        /// About which path.
        path: String,
    },
    /// A line for the trace.
    Log {
        /// The text.
        line: String,
    },
}

/// What a role claims happened, about a path (or a token), for the properties to check. The
/// recipe properties of `zksim_sim::properties` read these: a role of your own that makes the
/// claims a property needs (each property's documentation names them) is checked by it as the
/// built-in roles are. Each claim has a fixed name ([`Claim::name`]), which is how traces
/// write it.
#[derive(Clone, Debug)]
pub enum Claim {
    /// I lead (path: the leader's node as the role names itself, `/master/<id>`). Two of them
    /// in a run are a failover.
    Leads,
    /// I assigned a task (path: the assignment, `/assign/<worker>/<task>`).
    Assigns,
    /// I moved a dead worker's task back to be assigned again (path: the assignment it was).
    MovesBack,
    /// I run a task (path: the assignment I read it from, `/assign/<me>/<task>`).
    Runs,
    /// I wrote a task's result (path: the task's token); made twice, the task ran twice.
    Status,
    /// I submitted a task (path: its token): from then on the task must not be lost.
    Submitted,
    /// I was told my task's result (path: its token).
    Notified,
    /// A call of mine ended in ConnectionLoss (path: `/<me>`).
    ConnectionLoss,
    /// I resolved a ConnectionLoss by reading back what happened (path: the node I read).
    Recovered,
    /// A write of mine was refused by the fence (path: `/<me>`).
    Fenced,
    /// A claim of a recipe of your own, by its name.
    Own(String),
}

impl Claim {
    /// Every built-in claim, for reading a name back.
    pub const BUILT_IN: [Claim; 10] = [
        Claim::Leads,
        Claim::Assigns,
        Claim::MovesBack,
        Claim::Runs,
        Claim::Status,
        Claim::Submitted,
        Claim::Notified,
        Claim::ConnectionLoss,
        Claim::Recovered,
        Claim::Fenced,
    ];

    /// Its name, as traces write it (`leads`, `moves back`, ...).
    pub fn name(&self) -> &str {
        match self {
            Claim::Leads => "leads",
            Claim::Assigns => "assigns",
            Claim::MovesBack => "moves back",
            Claim::Runs => "runs",
            Claim::Status => "status",
            Claim::Submitted => "submitted",
            Claim::Notified => "notified",
            Claim::ConnectionLoss => "connection loss",
            Claim::Recovered => "recovered",
            Claim::Fenced => "fenced",
            Claim::Own(name) => name,
        }
    }

    /// The claim of that name: a built-in one, else [`Claim::Own`].
    pub fn named(name: &str) -> Claim {
        Claim::BUILT_IN
            .into_iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| Claim::Own(name.to_string()))
    }
}

// Equality, order and hash are those of the name, by hand: `Own("leads")` is `Leads`, and a
// world's claims keep the order and fingerprint they had as strings, so every pinned state
// count and trace is as before.
impl PartialEq for Claim {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Claim {}

impl PartialOrd for Claim {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Claim {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl Hash for Claim {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name().hash(h);
    }
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Claim {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Claim {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Claim::named(&name))
    }
}

/// A role's part in its recipe, for properties that ask whether some process of a part is
/// left (a master is owed only to a cluster with a candidate not killed for good).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// None the properties ask about.
    #[default]
    Other,
    /// A candidate for leadership (an election candidate, a master or backup master).
    Candidate,
    /// A worker.
    Worker,
    /// A client.
    Client,
}

/// What a role says of itself now, for the properties: its [`Part`], whether it believes it
/// leads, whether it has nothing left to wait for. Unlike a [`Claim`], which says what
/// happened once, this is read from the role's state whenever a property looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Standing {
    /// Its part.
    pub part: Part,
    /// It believes it is the leader (and acts as one).
    pub leads: bool,
    /// It has done all it came to do (a client: every task's result read).
    pub done: bool,
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

    /// Claims something for the properties (`ctx.note(Claim::Runs, "/assign/w1/t")`).
    pub fn note(&mut self, claim: Claim, path: impl Into<String>) {
        self.effects.push(Effect::Note {
            claim,
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

    /// Pushes an effect as it is: what a role that wraps another passes on of the other's
    /// effects ([`Ctx::capture`]).
    pub fn push(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// The effects `f` pushes into a context of its own, handed back instead of pushed here,
    /// for a role that wraps another and changes some of what the other asks for (then passes
    /// the rest on with [`Ctx::push`]). The BUGGIFY points the other reaches count as this
    /// context's, so a wrapped role's faults replay as the role's own would.
    pub fn capture(&mut self, f: impl FnOnce(&mut Ctx)) -> Vec<Effect> {
        let mut inner = Ctx::new(self.buggify);
        f(&mut inner);
        let (effects, buggify) = inner.finish();
        self.buggify = buggify;
        effects
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

    /// Where the role stands now, for the properties ([`Standing`]); by default a part no
    /// property asks about.
    fn standing(&self) -> Standing {
        Standing::default()
    }
}

/// Two role types as one, so a recipe can run roles of your own beside the built-in ones
/// (`Either<BuiltinRole, MyWorker>`): each input goes to the role the process holds, and its
/// summary and standing are that role's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Either<A, B> {
    /// A role of the first type.
    Left(A),
    /// A role of the second type.
    Right(B),
}

impl<A: Role, B: Role> Role for Either<A, B> {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        match self {
            Either::Left(a) => a.handle(input, ctx),
            Either::Right(b) => b.handle(input, ctx),
        }
    }

    fn summary(&self) -> String {
        match self {
            Either::Left(a) => a.summary(),
            Either::Right(b) => b.summary(),
        }
    }

    fn standing(&self) -> Standing {
        match self {
            Either::Left(a) => a.standing(),
            Either::Right(b) => b.standing(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a claim is known by its name alone: every built-in one reads back from its name,
    // an unknown name is a recipe's own, and one's own claim under a built-in name is that
    // claim (so a trace read back compares equal to the run).
    #[test]
    fn a_claim_is_its_name() {
        for claim in Claim::BUILT_IN {
            assert_eq!(Claim::named(claim.name()), claim);
            assert!(!matches!(Claim::named(claim.name()), Claim::Own(_)));
        }
        assert_eq!(Claim::named("pinged"), Claim::Own("pinged".into()));
        assert_eq!(Claim::Own("moves back".into()), Claim::MovesBack);
        let json = serde_json::to_string(&Claim::MovesBack).unwrap();
        assert_eq!(json, "\"moves back\"");
        assert_eq!(
            serde_json::from_str::<Claim>(&json).unwrap(),
            Claim::MovesBack
        );
    }

    // Goal: claims sort and hash as their names do, which keeps a world's claims in the order
    // and with the fingerprint they had as strings.
    #[test]
    fn claims_sort_and_hash_as_their_names() {
        let mut claims = Claim::BUILT_IN.to_vec();
        claims.sort();
        let mut names: Vec<&str> = Claim::BUILT_IN.iter().map(Claim::name).collect();
        names.sort();
        assert_eq!(claims.iter().map(Claim::name).collect::<Vec<_>>(), names);
        let hash = |h: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
            let mut s = std::collections::hash_map::DefaultHasher::new();
            h(&mut s);
            std::hash::Hasher::finish(&s)
        };
        assert_eq!(
            hash(&|s| Claim::Runs.hash(s)),
            hash(&|s| String::from("runs").hash(s))
        );
    }

    // Goal: a wrapping role's captured effects are the wrapped role's, and the BUGGIFY visits
    // made inside count as the wrapper's.
    #[test]
    fn capture_hands_back_the_inner_effects() {
        let mut ctx = Ctx::new(Buggify {
            seed: Some(7),
            process: 1,
            reached: 0,
        });
        let effects = ctx.capture(|inner| {
            inner.log("inside");
            inner.buggify("a point");
        });
        assert_eq!(
            effects,
            vec![Effect::Log {
                line: "inside".into()
            }]
        );
        assert!(ctx.effects().is_empty());
        assert_eq!(ctx.finish().1.reached, 1);
    }
}
