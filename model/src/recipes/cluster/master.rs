//! The cluster's master candidate ([`Master`]): it runs for `/master`, and once leading
//! bootstraps the directories, bumps the epoch and reconciles (assigns pending tasks, moves a
//! dead worker's tasks back).
//!
//! The master's mutants are small differences from the correct master, every one in the
//! section "how the mutants differ" at the end of this file, a method each:
//! - `blind-master-retry`: a create of `/master` lost to ConnectionLoss is made again, not
//!   read back (`after_lost_create`);
//! - `leader-demoted`: a leader acts on a late answer to its own election
//!   (`ignores_election_reply`);
//! - `backup-misses-reelection`: a backup does not watch `/master` again after a reconnect
//!   reports it changed (`rewatches_master`);
//! - `no-fencing`: an expired master keeps serving (`reelects_after_expiry`), and its writes
//!   check no epoch (`fenced`, `fenced_out`);
//! - `sorted-children`: tasks before the last name seen are skipped (`pending_tasks`);
//! - `no-reassignment`: a dead worker's tasks stay where they are (`reassigns_dead_workers`);
//! - `empty-worker-list`: no live worker stops the assigning for good
//!   (`no_worker_for_task`);
//! - `assign-then-delete`, `delete-then-assign`: a move is two writes, in that order
//!   (`move_writes`);
//! - and the variants as written: `book` (two-step moves, no fencing, late election answers
//!   acted on), `seed-naive` (besides, assigned tasks left in `/tasks` (`removal_of`,
//!   `pending_tasks`) and no ConnectionLoss handled (`retries_after_loss`)).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::shared::{children, delete, get, is_loss, list, Calls};
use super::{AssignPolicy, Flavor, ASSIGN, CLIENTS, EPOCH, MASTER, STATUS, TASKS, WORKERS};
use crate::data::Data;
use crate::error::ErrorCode;
use crate::hash::splitmix;
use crate::op::{CreateMode, EventType, KeeperState, OpResult, Reply, Request, Response};
use crate::role::{Claim, Ctx, Input, Part, Role, Standing};
use crate::stat::SessionId;

/// What a master's call was for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum MOp {
    Run,
    Watch,
    Check,
    Boot(&'static str),
    Bump,
    ListWorkers,
    ListTasks,
    ListAssign,
    ListStatus,
    ListDir(String),
    ReadTask(String),
    ReadAssigned(String, String),
    Write,
}

/// What a master is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MasterPhase {
    /// Running for master (creating, checking or watching `/master`).
    Electing,
    /// Leading: creating the directories and bumping the epoch.
    Bootstrapping,
    /// Leading and reconciling.
    Serving,
}

/// A master candidate (the primary and the backups run the same code).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Master {
    id: String,
    flavor: Flavor,
    session: SessionId,
    phase: MasterPhase,
    calls: Calls<MOp>,
    epoch: i32,
    /// A change arrived during a round: go round again.
    dirty: bool,
    round: Round,
    /// How it picks workers.
    policy: AssignPolicy,
    /// Round-robin cursor over live workers.
    next_worker: usize,
    /// The `Random` policy's generator state.
    rng: u64,
    /// The sorted-children mutant's high-water mark.
    seen_up_to: Option<String>,
    /// The naive flow's memory of what it assigned.
    assigned: BTreeSet<String>,
    /// It stopped assigning for good (see [`Flavor::waits_for_workers`]).
    stalled: bool,
}

/// What a reconciling round has read so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Round {
    workers: Vec<String>,
    tasks: Vec<String>,
    dirs: Vec<String>,
    status: BTreeSet<String>,
    assigned: BTreeMap<String, Vec<String>>,
    data: BTreeMap<String, Data>,
    stage: u8,
}

impl Master {
    /// A candidate named `id`.
    pub fn new(id: impl Into<String>, flavor: Flavor) -> Self {
        Master {
            id: id.into(),
            flavor,
            session: 0,
            phase: MasterPhase::Electing,
            calls: Calls::default(),
            epoch: 0,
            dirty: false,
            round: Round::default(),
            policy: AssignPolicy::RoundRobin,
            next_worker: 0,
            rng: 0,
            seen_up_to: None,
            assigned: BTreeSet::new(),
            stalled: false,
        }
    }

    /// The same candidate with another assignment policy; `seed` feeds the `Random` one.
    pub fn with_policy(mut self, policy: AssignPolicy, seed: u64) -> Self {
        self.policy = policy;
        self.rng = seed
            ^ splitmix(
                &mut self
                    .id
                    .bytes()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
            );
        self
    }

    /// Picks a live worker for one task, by the policy.
    fn pick_worker(&mut self, workers: &[String], load: &mut BTreeMap<String, usize>) -> String {
        let i = match self.policy {
            AssignPolicy::RoundRobin => {
                self.next_worker += 1;
                (self.next_worker - 1) % workers.len()
            }
            AssignPolicy::LeastLoaded => {
                let least = |w: &String| (load.get(w).copied().unwrap_or(0), w.clone());
                let best = workers.iter().min_by_key(|w| least(w)).expect("a worker");
                workers.iter().position(|w| w == best).expect("listed")
            }
            AssignPolicy::Random => (splitmix(&mut self.rng) % workers.len() as u64) as usize,
        };
        let w = workers[i].clone();
        *load.entry(w.clone()).or_insert(0) += 1;
        w
    }

    /// Whether it believes it is the master.
    pub fn is_master(&self) -> bool {
        self.phase != MasterPhase::Electing
    }

    /// What it is doing.
    pub fn phase(&self) -> MasterPhase {
        self.phase
    }

    fn run(&mut self, ctx: &mut Ctx) {
        self.phase = MasterPhase::Electing;
        let data = Data::from(self.id.as_str());
        self.calls.call(
            ctx,
            MOp::Run,
            Request::create(MASTER, data, CreateMode::Ephemeral),
        );
    }

    fn lead(&mut self, ctx: &mut Ctx) {
        self.phase = MasterPhase::Bootstrapping;
        ctx.note(Claim::Leads, format!("{MASTER}/{}", self.id));
        for dir in [EPOCH, WORKERS, ASSIGN, TASKS, STATUS, CLIENTS] {
            self.calls.call(
                ctx,
                MOp::Boot(dir),
                Request::create(dir, Data::bytes(""), CreateMode::Persistent),
            );
        }
    }

    fn bump(&mut self, ctx: &mut Ctx) {
        let data = Data::from(self.id.as_str());
        self.calls.call(
            ctx,
            MOp::Bump,
            Request::SetData {
                path: EPOCH.into(),
                data,
                version: -1,
            },
        );
    }

    /// Starts a round, unless one is running (then it goes round again when it ends).
    fn reconcile(&mut self, ctx: &mut Ctx) {
        if self.phase != MasterPhase::Serving || self.stalled {
            return;
        }
        if !self.calls.is_empty() {
            self.dirty = true;
            return;
        }
        self.dirty = false;
        self.round = Round {
            stage: 1,
            ..Round::default()
        };
        self.calls.call(ctx, MOp::ListWorkers, list(WORKERS, true));
        self.calls.call(ctx, MOp::ListTasks, list(TASKS, true));
        self.calls.call(ctx, MOp::ListAssign, list(ASSIGN, false));
        self.calls.call(ctx, MOp::ListStatus, list(STATUS, false));
    }

    /// Moves a round to its next stage once every call of the current one is answered.
    fn advance_round(&mut self, ctx: &mut Ctx) {
        if !self.calls.is_empty() || self.phase != MasterPhase::Serving {
            return;
        }
        if self.dirty || self.round.stage == 0 {
            self.round.stage = 0;
            return self.reconcile_after_idle(ctx);
        }
        match self.round.stage {
            1 => {
                self.round.stage = 2;
                for d in self.round.dirs.clone() {
                    self.calls.call(
                        ctx,
                        MOp::ListDir(d.clone()),
                        list(format!("{ASSIGN}/{d}"), false),
                    );
                }
            }
            2 => {
                self.round.stage = 3;
                for t in self.pending_tasks() {
                    self.calls
                        .call(ctx, MOp::ReadTask(t.clone()), get(format!("{TASKS}/{t}")));
                }
                for (d, t) in self.orphans() {
                    let path = format!("{ASSIGN}/{d}/{t}");
                    self.calls.call(ctx, MOp::ReadAssigned(d, t), get(path));
                }
            }
            3 => {
                self.round.stage = 4;
                self.write_moves(ctx);
            }
            _ => {
                self.round.stage = 0;
                return;
            }
        }
        if self.calls.is_empty() {
            self.advance_round(ctx);
        }
    }

    fn reconcile_after_idle(&mut self, ctx: &mut Ctx) {
        if self.dirty {
            self.reconcile(ctx);
        }
    }

    /// Assignments of workers that are gone, not yet done.
    fn orphans(&self) -> Vec<(String, String)> {
        if !self.reassigns_dead_workers() {
            return Vec::new();
        }
        let live: BTreeSet<&String> = self.round.workers.iter().collect();
        let mut out = Vec::new();
        for (d, tasks) in &self.round.assigned {
            if live.contains(d) {
                continue;
            }
            out.extend(
                tasks
                    .iter()
                    .filter(|t| !self.round.status.contains(*t))
                    .map(|t| (d.clone(), t.clone())),
            );
        }
        out
    }

    /// One write (or, in the two-step flavors, two) per task to assign or move back.
    fn write_moves(&mut self, ctx: &mut Ctx) {
        let workers = self.round.workers.clone();
        let mut load: BTreeMap<String, usize> = self
            .round
            .assigned
            .iter()
            .map(|(w, tasks)| (w.clone(), tasks.len()))
            .collect();
        let data = std::mem::take(&mut self.round.data);
        for (path, bytes) in data {
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match parts.as_slice() {
                ["tasks", t] => {
                    if workers.is_empty() {
                        self.no_worker_for_task(ctx);
                        continue;
                    }
                    let w = &self.pick_worker(&workers, &mut load);
                    let assign =
                        Request::create(format!("{ASSIGN}/{w}/{t}"), bytes, CreateMode::Persistent);
                    ctx.note(Claim::Assigns, format!("{ASSIGN}/{w}/{t}"));
                    self.assigned.insert(t.to_string());
                    let removal = self.removal_of(t);
                    self.write(ctx, assign, removal);
                }
                ["assign", d, t] => {
                    ctx.note(Claim::MovesBack, format!("{ASSIGN}/{d}/{t}"));
                    let back =
                        Request::create(format!("{TASKS}/{t}"), bytes, CreateMode::Persistent);
                    self.assigned.remove(*t);
                    self.write(ctx, back, Some(delete(format!("{ASSIGN}/{d}/{t}"))));
                }
                _ => {}
            }
        }
    }

    /// A create and the delete that goes with it, as [`Master::move_writes`] makes them.
    fn write(&mut self, ctx: &mut Ctx, first: Request, then: Option<Request>) {
        for request in self.move_writes(first, then) {
            self.calls.call(ctx, MOp::Write, request);
        }
    }

    fn on_reply(&mut self, op: MOp, reply: &Reply, ctx: &mut Ctx) {
        use ErrorCode::{ConnectionLoss, NoNode, NodeExists, SessionExpired};
        if reply == &Err(SessionExpired) {
            return;
        }
        let loss = is_loss(reply);
        if loss {
            ctx.note(Claim::ConnectionLoss, format!("/{}", self.id));
        }
        match op {
            // Already leading: the answer to a second attempt meets this candidate's own
            // /master (see `ignores_election_reply`).
            MOp::Run | MOp::Watch | MOp::Check if self.ignores_election_reply() => {}
            MOp::Run => match reply {
                Ok(_) => self.lead(ctx),
                Err(NodeExists) => self.watch(ctx),
                Err(ConnectionLoss) => self.after_lost_create(ctx),
                _ => {}
            },
            MOp::Watch => match reply {
                Err(NoNode) => self.run(ctx),
                Err(ConnectionLoss) if self.retries_after_loss() => self.watch(ctx),
                _ => {}
            },
            MOp::Check => match reply {
                Ok(Response::Data { stat, .. }) if stat.ephemeral_owner == self.session => {
                    ctx.note(Claim::Recovered, format!("{MASTER}/{}", self.id));
                    self.lead(ctx)
                }
                Ok(_) => self.watch(ctx),
                Err(NoNode) => self.run(ctx),
                _ => self.check(ctx),
            },
            MOp::Boot(dir) => {
                if loss && self.retries_after_loss() {
                    self.calls.call(
                        ctx,
                        MOp::Boot(dir),
                        Request::create(dir, Data::bytes(""), CreateMode::Persistent),
                    );
                } else if self.calls.is_empty() {
                    self.bump(ctx);
                }
            }
            MOp::Bump => match reply {
                Ok(Response::Stat { stat }) => {
                    self.epoch = stat.version;
                    self.phase = MasterPhase::Serving;
                    self.reconcile(ctx);
                }
                Err(ConnectionLoss) if self.retries_after_loss() => self.bump(ctx),
                _ => {}
            },
            MOp::Write => {
                if let Ok(Response::Multi { results }) = reply {
                    if self.fenced_out(results) {
                        // Another master bumped the epoch: this one is stale.
                        ctx.note(Claim::Fenced, format!("/{}", self.id));
                        self.calls.clear();
                        return self.run(ctx);
                    }
                }
                if loss {
                    self.dirty = true;
                }
            }
            MOp::ListWorkers
            | MOp::ListTasks
            | MOp::ListAssign
            | MOp::ListStatus
            | MOp::ListDir(_)
            | MOp::ReadTask(_)
            | MOp::ReadAssigned(..) => {
                if loss {
                    self.dirty = true;
                } else {
                    self.record(op, reply);
                }
            }
        }
        if self.phase == MasterPhase::Serving {
            self.advance_round(ctx);
        }
    }

    fn record(&mut self, op: MOp, reply: &Reply) {
        let r = &mut self.round;
        match op {
            MOp::ListWorkers => r.workers = children(reply),
            MOp::ListTasks => r.tasks = children(reply),
            MOp::ListAssign => r.dirs = children(reply),
            MOp::ListStatus => r.status = children(reply).into_iter().collect(),
            MOp::ListDir(d) => {
                r.assigned.insert(d, children(reply));
            }
            MOp::ReadTask(t) => {
                if let Ok(Response::Data { data, .. }) = reply {
                    r.data.insert(format!("{TASKS}/{t}"), data.clone());
                }
            }
            MOp::ReadAssigned(d, t) => {
                if let Ok(Response::Data { data, .. }) = reply {
                    r.data.insert(format!("{ASSIGN}/{d}/{t}"), data.clone());
                }
            }
            _ => {}
        }
    }

    fn watch(&mut self, ctx: &mut Ctx) {
        self.phase = MasterPhase::Electing;
        self.calls.call(
            ctx,
            MOp::Watch,
            Request::Exists {
                path: MASTER.into(),
                watch: true,
            },
        );
    }

    fn check(&mut self, ctx: &mut Ctx) {
        self.calls.call(ctx, MOp::Check, get(MASTER));
    }

    fn reset(&mut self) {
        self.phase = MasterPhase::Electing;
        self.calls.new_session();
        self.round = Round::default();
        self.dirty = false;
        self.assigned.clear();
        self.seen_up_to = None;
        self.stalled = false;
    }
}

impl Role for Master {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        match input {
            Input::Start { session } => {
                self.session = *session;
                if self.phase == MasterPhase::Serving && !self.reelects_after_expiry() {
                    // The zombie: a new session, the old belief.
                    self.calls.new_session();
                    self.round = Round::default();
                    return self.reconcile(ctx);
                }
                self.reset();
                self.run(ctx);
            }
            Input::Reply { tag, reply } => {
                if let Some(op) = self.calls.take(*tag) {
                    self.on_reply(op, reply, ctx);
                }
            }
            Input::Event { event } => match (event.kind, event.state) {
                (EventType::NodeDeleted, _)
                    if event.path == MASTER && self.phase == MasterPhase::Electing =>
                {
                    self.run(ctx)
                }
                // A /master deleted and re-created while this candidate was disconnected comes
                // back as NodeDataChanged (SetWatches compares mzxid): the one-shot watch is
                // spent, so set it again, or a later deletion goes unnoticed.
                (EventType::NodeDataChanged | EventType::NodeCreated, _)
                    if event.path == MASTER
                        && self.phase == MasterPhase::Electing
                        && self.rewatches_master() =>
                {
                    self.watch(ctx)
                }
                (EventType::NodeChildrenChanged, _) => {
                    self.dirty = true;
                    self.reconcile(ctx);
                }
                (EventType::None, KeeperState::Expired) => {
                    if self.reelects_after_expiry() {
                        self.reset();
                    }
                    ctx.new_session();
                }
                (EventType::None, KeeperState::SyncConnected)
                    if self.phase == MasterPhase::Serving =>
                {
                    // Watches may have fired while disconnected: look again.
                    self.dirty = true;
                    self.reconcile(ctx);
                }
                _ => {}
            },
            Input::Timer { .. } | Input::Choice { .. } => {}
        }
    }

    fn summary(&self) -> String {
        format!("{:?}", self.phase)
    }

    fn standing(&self) -> Standing {
        Standing {
            part: Part::Candidate,
            leads: self.is_master(),
            done: false,
        }
    }
}

// ---- how the mutants differ --------------------------------------------------------------

/// Every [`Flavor`] switch the master reads, read here and nowhere else: each says what the
/// correct master (`fixed`) does, and what the recipes that flip the switch do instead.
impl Master {
    /// Whether an answer to an election call (a create, watch or read of `/master`) comes when
    /// it leads already, and is ignored. Two attempts run at once after a ConnectionLoss on
    /// the create (one reads the owner) when the reconnect also reports `/master` created (one
    /// sets the watch again). The correct master ignores the late one; `leader-demoted` (and
    /// `book`, `seed-naive`) acts on it, and a NodeExists meeting its own `/master` sends it
    /// back to watching while it holds `/master`.
    fn ignores_election_reply(&self) -> bool {
        self.phase != MasterPhase::Electing && self.flavor.ignores_stale_election_replies
    }

    /// Its create of `/master` ended in ConnectionLoss, applied or not. The correct master
    /// reads `/master` back and leads if its session owns it; `blind-master-retry` creates it
    /// again, and when the first create was applied meets its own node and follows it.
    fn after_lost_create(&mut self, ctx: &mut Ctx) {
        if self.flavor.check_master_on_loss {
            self.check(ctx);
        } else if self.flavor.handles_connection_loss {
            self.run(ctx);
        }
    }

    /// Whether a watch of `/master`, a bootstrap create or the epoch bump that ended in
    /// ConnectionLoss is sent again. The correct master retries; `seed-naive` (the seed's
    /// description handles no ConnectionLoss) drops it.
    fn retries_after_loss(&self) -> bool {
        self.flavor.handles_connection_loss
    }

    /// Whether a candidate that hears NodeDataChanged or NodeCreated on `/master` (how
    /// SetWatches reports a `/master` deleted and re-created while it was disconnected) sets
    /// its spent watch again. The correct backup does; `backup-misses-reelection` does not,
    /// and never hears the next deletion.
    fn rewatches_master(&self) -> bool {
        self.flavor.rewatches_master
    }

    /// Whether an expired session ends its belief that it leads. The correct master drops
    /// everything and runs for master again on its new session; `no-fencing` keeps serving on
    /// the new session, a zombie.
    fn reelects_after_expiry(&self) -> bool {
        self.flavor.reelect_after_expiry
    }

    /// The tasks in `/tasks` it will assign now, of those listed. The correct master takes
    /// every one. `sorted-children` takes the listing as sorted and skips every name up to
    /// the last one it saw, though in the server's (hash) order a new task can come earlier;
    /// `seed-naive`, whose assigned tasks stay in `/tasks`, skips those it remembers
    /// assigning.
    fn pending_tasks(&mut self) -> Vec<String> {
        let mut tasks = self.round.tasks.clone();
        if self.flavor.assumes_sorted_children {
            // Believes the list is sorted, so everything new comes after the last name seen.
            if let Some(mark) = &self.seen_up_to {
                if let Some(i) = tasks.iter().position(|t| t == mark) {
                    tasks.drain(..=i);
                }
            }
            if let Some(last) = self.round.tasks.last() {
                self.seen_up_to = Some(last.clone());
            }
        }
        if !self.flavor.removes_assigned_task {
            tasks.retain(|t| !self.assigned.contains(t));
        }
        tasks
    }

    /// Whether it moves a dead worker's unfinished tasks back to `/tasks`. The correct master
    /// does; `no-reassignment` leaves them under the dead worker for good.
    fn reassigns_dead_workers(&self) -> bool {
        self.flavor.reassigns_dead_workers
    }

    /// A pending task and no live worker to give it to. The correct master leaves it pending
    /// (a worker's registration sends it round again); `empty-worker-list` stops assigning for
    /// good, as the book's master does when `random.nextInt(0)` throws in its callback.
    fn no_worker_for_task(&mut self, ctx: &mut Ctx) {
        if !self.flavor.waits_for_workers {
            ctx.log(format!("{} throws: no worker to pick from", self.id));
            self.stalled = true;
        }
    }

    /// What assigning task `t` deletes with it. The correct master deletes it from `/tasks`;
    /// `seed-naive` leaves it there, and remembers what it assigned.
    fn removal_of(&self, t: &str) -> Option<Request> {
        self.flavor
            .removes_assigned_task
            .then(|| delete(format!("{TASKS}/{t}")))
    }

    /// The writes of a move: a create and the delete that goes with it. The correct master
    /// sends one multi, guarded by [`Master::fenced`]. `assign-then-delete` (and `book`,
    /// `seed-naive`) sends two plain writes, the create first; `delete-then-assign` sends the
    /// delete first. Two writes in a flavor that fences are guarded one by one.
    fn move_writes(&self, first: Request, then: Option<Request>) -> Vec<Request> {
        let (first, then) = match then {
            Some(delete) if !self.flavor.creates_before_deleting && !self.flavor.atomic_assign => {
                (delete, Some(first))
            }
            then => (first, then),
        };
        let ops = std::iter::once(first).chain(then);
        if self.flavor.atomic_assign {
            vec![self.fenced(ops.collect())]
        } else if self.flavor.fencing {
            ops.map(|op| self.fenced(vec![op])).collect()
        } else {
            ops.collect()
        }
    }

    /// `ops` as one multi, which the correct master opens with `check(/epoch, version)` of its
    /// own bump, so its writes fail once another master has bumped the epoch; `no-fencing`
    /// (and `book`, `seed-naive`, `assign-then-delete`, `delete-then-assign`) checks nothing.
    fn fenced(&self, mut ops: Vec<Request>) -> Request {
        if self.flavor.fencing {
            ops.insert(
                0,
                Request::Check {
                    path: EPOCH.into(),
                    version: self.epoch,
                },
            );
        }
        Request::Multi { ops }
    }

    /// Whether a write's results say another master has bumped the epoch (its check met
    /// BadVersion): the correct master then gives up its calls and runs for master again. A
    /// master that does not fence checks no version.
    fn fenced_out(&self, results: &[OpResult]) -> bool {
        results.iter().any(|r| {
            matches!(
                r,
                OpResult::Error {
                    code: ErrorCode::BadVersion
                }
            )
        }) && self.flavor.fencing
    }
}
