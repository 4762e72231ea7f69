//! Leader election on an ephemeral `/master`: the smallest recipe that uses every kind of world
//! action (replies, watch and session events, timers, choices, crashes, disconnects, expiry).
//!
//! Each candidate creates the ephemeral `/master` holding its id. NodeExists: it watches
//! `/master` with `exists` and runs again on NodeDeleted. ConnectionLoss: it reads `/master`
//! to learn whether its create was applied: owned by its own session, it leads; by another,
//! it watches; missing, it runs again. (Comparing the data alone is not enough: after a
//! restart the candidate's old session may still hold a `/master` with the same id.)
//!
//! A leader serves a term whose length the world chooses: forever, or until a timer, after
//! which it resigns once by deleting `/master`. After a ConnectionLoss on that delete it
//! deletes again only if `/master` is still owned by its session (a blind retry could delete
//! the next leader's node). On Expired it opens a new session and runs again; a disconnected
//! leader keeps believing it leads (a zombie, as in the real system). A BUGGIFY point ends a
//! term at once.

use serde::{Deserialize, Serialize};

use crate::data::Data;
use crate::error::ErrorCode;
use crate::op::{Acl, CreateMode, EventType, KeeperState, Request, Response};
use crate::role::{Ctx, Input, Part, Role, Standing, Tag};
use crate::stat::SessionId;

/// The path every candidate races for.
pub const MASTER: &str = "/master";

const CREATE: Tag = 1;
const WATCH: Tag = 2;
const CHECK: Tag = 3;
const RESIGN: Tag = 4;
const RESIGN_CHECK: Tag = 5;
/// The timer that ends a leader's term.
const TERM_ENDS: u32 = 1;
/// The choice of a term's length.
const TERM: u32 = 1;
/// How long a term that ends lasts, in virtual ms.
const TERM_MS: u64 = 3000;

/// How a candidate reacts to ConnectionLoss on its create.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElectionVariant {
    /// Reads `/master` to learn whether the create was applied.
    Correct,
    /// Planted bug: assumes the create was applied and leads. Two live leaders follow when it
    /// was not and another candidate won.
    AssumeLeader,
    /// Planted bug: blindly creates again. If the first create was applied it meets its own
    /// node (NodeExists), watches it, and nobody ever leads.
    BlindRetry,
    /// Planted bug (found by the simulator in this recipe's first version, seed 211): a
    /// resigning leader whose delete of `/master` ends in ConnectionLoss runs again at once
    /// instead of retrying the delete. When the delete was lost its own `/master` survives,
    /// it follows its own node, and nobody leads while its session lives.
    ResignNoRetry,
    /// Planted bug (found by the simulator in this recipe's second version, seed 60): a
    /// resigning leader whose delete ends in ConnectionLoss deletes `/master` again without
    /// looking. When the first delete was applied and another candidate already won, it
    /// deletes the new leader's `/master` (the version does not tell them apart: every
    /// `/master` starts at version 0).
    ResignBlindDelete,
}

/// What a candidate is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Waiting for its create of `/master`.
    Creating,
    /// Reading `/master` after a ConnectionLoss.
    Checking,
    /// Setting or holding a watch on another candidate's `/master`.
    Following,
    /// Believes it leads.
    Leading,
    /// Deleting its `/master` at the end of its term.
    Resigning,
}

/// One candidate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Candidate {
    id: String,
    variant: ElectionVariant,
    phase: Phase,
    /// Whether it already served a term that ended (it serves at most one).
    resigned: bool,
    /// The current session.
    session: SessionId,
}

impl Candidate {
    /// A candidate named `id` (also the data it writes to `/master`).
    pub fn new(id: impl Into<String>, variant: ElectionVariant) -> Self {
        Candidate {
            id: id.into(),
            variant,
            phase: Phase::Creating,
            resigned: false,
            session: 0,
        }
    }

    /// The candidate's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether it has served a term that ended.
    pub fn has_resigned(&self) -> bool {
        self.resigned
    }

    /// Whether it believes it leads.
    pub fn is_leading(&self) -> bool {
        self.phase == Phase::Leading
    }

    /// What it is doing.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    fn run(&mut self, ctx: &mut Ctx) {
        self.phase = Phase::Creating;
        ctx.call(
            CREATE,
            Request::Create {
                path: MASTER.into(),
                data: Data::from(self.id.as_str()),
                acl: Acl::open(),
                mode: CreateMode::Ephemeral,
                ttl_ms: None,
                stat: false,
            },
        );
    }

    fn watch(&mut self, ctx: &mut Ctx) {
        self.phase = Phase::Following;
        ctx.call(
            WATCH,
            Request::Exists {
                path: MASTER.into(),
                watch: true,
            },
        );
    }

    fn check(&mut self, ctx: &mut Ctx) {
        self.phase = Phase::Checking;
        ctx.call(
            CHECK,
            Request::GetData {
                path: MASTER.into(),
                watch: false,
            },
        );
    }

    fn lead(&mut self, ctx: &mut Ctx) {
        self.phase = Phase::Leading;
        ctx.log(format!("{} leads", self.id));
        if !self.resigned {
            if ctx.buggify("election.term-ends-at-once") {
                ctx.set_timer(TERM_ENDS, 0);
            } else {
                ctx.choose(TERM, 2);
            }
        }
    }

    /// Deletes its `/master` (any version: deleting again after a lost reply is harmless, a
    /// NoNode then means it is already gone).
    fn resign(&mut self, ctx: &mut Ctx) {
        self.phase = Phase::Resigning;
        ctx.call(
            RESIGN,
            Request::Delete {
                path: MASTER.into(),
                version: -1,
            },
        );
    }

    /// After a ConnectionLoss on the delete: is `/master` still ours? Only then delete again.
    fn check_resigned(&mut self, ctx: &mut Ctx) {
        self.phase = Phase::Resigning;
        ctx.call(
            RESIGN_CHECK,
            Request::GetData {
                path: MASTER.into(),
                watch: false,
            },
        );
    }

    fn on_reply(&mut self, tag: Tag, reply: &crate::op::Reply, ctx: &mut Ctx) {
        use ErrorCode::{ConnectionLoss, NoNode, NodeExists, SessionExpired};
        match (tag, reply) {
            (_, Err(SessionExpired)) => {}
            (CREATE, Ok(_)) => self.lead(ctx),
            (CREATE, Err(NodeExists)) => self.watch(ctx),
            (CREATE, Err(ConnectionLoss)) => match self.variant {
                ElectionVariant::Correct
                | ElectionVariant::ResignNoRetry
                | ElectionVariant::ResignBlindDelete => self.check(ctx),
                ElectionVariant::AssumeLeader => self.lead(ctx),
                ElectionVariant::BlindRetry => self.run(ctx),
            },
            (WATCH, Ok(_)) => {}
            (WATCH, Err(NoNode)) => self.run(ctx),
            (WATCH, Err(_)) => self.watch(ctx),
            (CHECK, Ok(Response::Data { stat, .. })) if stat.ephemeral_owner == self.session => {
                self.lead(ctx)
            }
            (CHECK, Ok(_)) => self.watch(ctx),
            (CHECK, Err(NoNode)) => self.run(ctx),
            (CHECK, Err(_)) => self.check(ctx),
            (RESIGN, Err(ConnectionLoss)) => match self.variant {
                ElectionVariant::ResignNoRetry => self.run(ctx),
                ElectionVariant::ResignBlindDelete => self.resign(ctx),
                _ => self.check_resigned(ctx),
            },
            (RESIGN, _) => self.run(ctx),
            (RESIGN_CHECK, Ok(Response::Data { stat, .. }))
                if stat.ephemeral_owner == self.session =>
            {
                self.resign(ctx)
            }
            (RESIGN_CHECK, Err(ConnectionLoss)) => self.check_resigned(ctx),
            (RESIGN_CHECK, _) => self.run(ctx),
            (_, other) => ctx.log(format!("{} ignores reply {other:?} to {tag}", self.id)),
        }
    }
}

impl Role for Candidate {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        match input {
            Input::Start { session } => {
                self.session = *session;
                self.run(ctx)
            }
            Input::Reply { tag, reply } => self.on_reply(*tag, reply, ctx),
            Input::Event { event } => match (event.kind, event.state) {
                (EventType::NodeDeleted, _) if self.phase == Phase::Following => self.run(ctx),
                // Deleted and re-created while disconnected: SetWatches reports NodeDataChanged
                // and the one-shot watch is spent; set it again.
                (EventType::NodeDataChanged | EventType::NodeCreated, _)
                    if self.phase == Phase::Following =>
                {
                    self.watch(ctx)
                }
                (EventType::None, KeeperState::Expired) => {
                    ctx.log(format!("{} lost its session", self.id));
                    self.phase = Phase::Creating;
                    ctx.new_session();
                }
                _ => {}
            },
            Input::Choice { option, .. } => {
                if *option == 1 && self.phase == Phase::Leading {
                    ctx.set_timer(TERM_ENDS, TERM_MS);
                }
            }
            Input::Timer { .. } => {
                if self.phase == Phase::Leading {
                    self.phase = Phase::Resigning;
                    self.resigned = true;
                    ctx.log(format!("{} resigns", self.id));
                    ctx.call(
                        RESIGN,
                        Request::Delete {
                            path: MASTER.into(),
                            version: -1,
                        },
                    );
                }
            }
        }
    }

    fn summary(&self) -> String {
        // A candidate that served its term behaves differently in the same phase.
        let resigned = if self.resigned { ", resigned" } else { "" };
        format!("{:?}{resigned}", self.phase)
    }

    fn standing(&self) -> Standing {
        Standing {
            part: Part::Candidate,
            leads: self.is_leading(),
            done: false,
        }
    }
}
