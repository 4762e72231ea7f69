//! The master/worker cluster: master candidates (primary and backup), workers and clients, as
//! sans-IO roles. One implementation, shaped by a [`Flavor`]: the correct recipe (`fixed`), the
//! seed's naive description, the ZooKeeper book's flow, and mutants that each flip one choice.
//!
//! Layout: `/master` (ephemeral, the leader's id), `/epoch` (persistent; each new master bumps
//! its version, and the fixed master's writes carry a `check` on it), `/workers/<w>`
//! (ephemeral), `/assign/<w>/<task>`, `/tasks/task-<client>-<n>-<seq>` (persistent
//! sequential, data = the client's token), `/status/<task>` and `/clients/<token>` (a client's
//! submission marker, created in the same multi as its task).
//!
//! The fixed master is a reconciler: it lists `/workers`, `/tasks`, `/assign/*` and `/status`,
//! then assigns every pending task to a live worker and moves every task of a dead worker back
//! to `/tasks`, each move one guarded multi. Any change it is told of (its child watches) or any
//! ConnectionLoss sends it round again; a guarded multi that already happened fails
//! harmlessly, so retrying never duplicates.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::data::Data;
use crate::error::ErrorCode;
use crate::hash::splitmix;
use crate::op::{CreateMode, EventType, KeeperState, OpResult, Reply, Request, Response};
use crate::role::{Ctx, Input, Role, Tag};
use crate::stat::SessionId;

/// The master's ephemeral.
pub const MASTER: &str = "/master";
/// The fencing epoch.
pub const EPOCH: &str = "/epoch";
/// Live workers.
pub const WORKERS: &str = "/workers";
/// Assignments, one directory per worker.
pub const ASSIGN: &str = "/assign";
/// Pending tasks.
pub const TASKS: &str = "/tasks";
/// Results.
pub const STATUS: &str = "/status";
/// Clients' submission markers.
pub const CLIENTS: &str = "/clients";

/// The choices that make a recipe what it is. `fixed` has every field true (and
/// `assumes_sorted_children` false); each mutant flips one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Flavor {
    /// Master: on ConnectionLoss for its create of `/master`, read the owner (else create
    /// again blindly).
    pub check_master_on_loss: bool,
    /// Master: assign a task in one multi that also deletes it from `/tasks` (else create the
    /// assignment, then delete the task, as two writes).
    pub atomic_assign: bool,
    /// Master: delete the task from `/tasks` when assigning it at all (the seed's naive flow
    /// leaves it there and remembers in memory what it assigned).
    pub removes_assigned_task: bool,
    /// Worker: write the status and delete the assignment in one multi (else two writes).
    pub atomic_status: bool,
    /// Master: every write carries `check(/epoch, version)` from its own bump.
    pub fencing: bool,
    /// Master: on Expired, drop everything and run for master again (else keep serving on a
    /// new session: a zombie).
    pub reelect_after_expiry: bool,
    /// Master: move the tasks of dead workers back to `/tasks`.
    pub reassigns_dead_workers: bool,
    /// Master: take getChildren as sorted, and only look at tasks after the last one it saw.
    pub assumes_sorted_children: bool,
    /// Client: on ConnectionLoss for its submission, look for its marker before resubmitting
    /// (else resubmit at once, as the book's client does).
    pub client_checks_marker: bool,
    /// Worker: keep the status at `/tasks/<task>/status` and the client watching the task's
    /// children (the seed's layout) instead of `/status/<task>`.
    pub status_under_task: bool,
    /// Every role handles ConnectionLoss (else it drops the operation, as the seed's
    /// description has no ConnectionLoss handling at all).
    pub handles_connection_loss: bool,
    /// Master: a backup that hears NodeDataChanged on `/master` (how SetWatches reports a
    /// `/master` deleted and re-created while it was disconnected) sets its watch again.
    pub rewatches_master: bool,
    /// Master: with tasks pending and no live worker, wait for one (else stop assigning for
    /// good, as the book's master does when `random.nextInt(0)` throws in its callback).
    pub waits_for_workers: bool,
    /// Master: once leading, ignore the answers to election calls still in flight (else a
    /// second attempt's NodeExists, meeting the leader's own `/master`, sends it back to
    /// watching while it holds `/master`, and no one leads again). Two attempts run at once
    /// after a ConnectionLoss on the create (one reads the owner) when the reconnect also
    /// reports `/master` created (one sets the watch again); `zksim check` found it.
    pub ignores_stale_election_replies: bool,
    /// Master: when a move is two writes, create the task's new node before deleting the old
    /// (else delete first: a master that dies between the two has lost the task).
    pub creates_before_deleting: bool,
}

impl Flavor {
    /// The correct recipe.
    pub const FIXED: Flavor = Flavor {
        check_master_on_loss: true,
        atomic_assign: true,
        removes_assigned_task: true,
        atomic_status: true,
        fencing: true,
        reelect_after_expiry: true,
        reassigns_dead_workers: true,
        assumes_sorted_children: false,
        client_checks_marker: true,
        status_under_task: false,
        handles_connection_loss: true,
        rewatches_master: true,
        waits_for_workers: true,
        ignores_stale_election_replies: true,
        creates_before_deleting: true,
    };

    /// The ZooKeeper book's flow: two-step moves, no fencing, a client that resubmits on
    /// ConnectionLoss, a NodeExists that sends a candidate back to watching even when the
    /// node is its own (the book's `masterCreateCallback`).
    pub const BOOK: Flavor = Flavor {
        atomic_assign: false,
        atomic_status: false,
        fencing: false,
        client_checks_marker: false,
        ignores_stale_election_replies: false,
        ..Flavor::FIXED
    };

    /// The seed's description taken literally: status under the task node, assignments that
    /// leave the task in `/tasks`, no ConnectionLoss handling, no fencing.
    pub const SEED_NAIVE: Flavor = Flavor {
        atomic_assign: false,
        removes_assigned_task: false,
        atomic_status: false,
        fencing: false,
        client_checks_marker: false,
        status_under_task: true,
        handles_connection_loss: false,
        ignores_stale_election_replies: false,
        ..Flavor::FIXED
    };
}

/// How the master picks a worker for a task.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AssignPolicy {
    /// Each live worker in turn.
    #[default]
    RoundRobin,
    /// The live worker with the fewest assignments in the master's last listing.
    LeastLoaded,
    /// A pseudo-random live worker, from a generator seeded by the run's seed.
    Random,
}

fn delete(path: impl Into<String>) -> Request {
    Request::Delete {
        path: path.into(),
        version: -1,
    }
}

fn list(path: impl Into<String>, watch: bool) -> Request {
    Request::GetChildren {
        path: path.into(),
        watch,
        stat: false,
    }
}

fn get(path: impl Into<String>) -> Request {
    Request::GetData {
        path: path.into(),
        watch: false,
    }
}

fn children(reply: &Reply) -> Vec<String> {
    match reply {
        Ok(Response::Children { children, .. }) => children.clone(),
        _ => Vec::new(),
    }
}

fn is_loss(reply: &Reply) -> bool {
    matches!(reply, Err(ErrorCode::ConnectionLoss))
}

/// A role's calls in flight, by tag, with what each was for.
///
/// A new call takes the smallest tag no call of this session still holds, not the next of a
/// counter: a tag only has to tell apart the replies that may still come, and a counter would
/// keep roles that differ only in how many calls they ever made distinct states for the
/// explorer (with the client's xids forgotten the same way, `fixed` 1/1/1/1 has 64,031 states
/// instead of 547,440).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Calls<Op> {
    inflight: BTreeMap<Tag, Op>,
    /// Calls given up ([`Calls::clear`]) whose replies this session still owes: their tags
    /// stay taken until the reply comes, so it is never taken for a newer call's.
    abandoned: BTreeSet<Tag>,
}

// By hand: a derive would ask `Op: Default`.
impl<Op> Default for Calls<Op> {
    fn default() -> Self {
        Calls {
            inflight: BTreeMap::new(),
            abandoned: BTreeSet::new(),
        }
    }
}

impl<Op> Calls<Op> {
    fn call(&mut self, ctx: &mut Ctx, op: Op, request: Request) {
        let taken = |t: &Tag| self.inflight.contains_key(t) || self.abandoned.contains(t);
        let tag = (1..).find(|t| !taken(t)).expect("a free tag");
        self.inflight.insert(tag, op);
        ctx.call(tag, request);
    }

    fn take(&mut self, tag: Tag) -> Option<Op> {
        self.abandoned.remove(&tag);
        self.inflight.remove(&tag)
    }

    fn is_empty(&self) -> bool {
        self.inflight.is_empty()
    }

    /// Gives up every call in flight; their replies, when they come, are dropped.
    fn clear(&mut self) {
        let given_up = std::mem::take(&mut self.inflight);
        self.abandoned.extend(given_up.into_keys());
    }

    /// A new session: no reply of the old one will come (the world drops them with it).
    fn new_session(&mut self) {
        self.inflight.clear();
        self.abandoned.clear();
    }
}

// ---- master ------------------------------------------------------------------------------

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
        ctx.note("leads", format!("{MASTER}/{}", self.id));
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

    /// The tasks in `/tasks` this master will assign now.
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

    /// Assignments of workers that are gone, not yet done.
    fn orphans(&self) -> Vec<(String, String)> {
        if !self.flavor.reassigns_dead_workers {
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
                        if !self.flavor.waits_for_workers {
                            ctx.log(format!("{} throws: no worker to pick from", self.id));
                            self.stalled = true;
                        }
                        continue;
                    }
                    let w = &self.pick_worker(&workers, &mut load);
                    let assign =
                        Request::create(format!("{ASSIGN}/{w}/{t}"), bytes, CreateMode::Persistent);
                    ctx.note("assigns", format!("{ASSIGN}/{w}/{t}"));
                    self.assigned.insert(t.to_string());
                    let removal = self
                        .flavor
                        .removes_assigned_task
                        .then(|| delete(format!("{TASKS}/{t}")));
                    self.write(ctx, assign, removal);
                }
                ["assign", d, t] => {
                    ctx.note("moves back", format!("{ASSIGN}/{d}/{t}"));
                    let back =
                        Request::create(format!("{TASKS}/{t}"), bytes, CreateMode::Persistent);
                    self.assigned.remove(*t);
                    self.write(ctx, back, Some(delete(format!("{ASSIGN}/{d}/{t}"))));
                }
                _ => {}
            }
        }
    }

    /// A create and the delete that goes with it: one guarded multi when atomic, else two
    /// writes (each fenced when the flavor fences).
    fn write(&mut self, ctx: &mut Ctx, first: Request, then: Option<Request>) {
        let (first, then) = match then {
            Some(delete) if !self.flavor.creates_before_deleting && !self.flavor.atomic_assign => {
                (delete, Some(first))
            }
            then => (first, then),
        };
        if self.flavor.atomic_assign || self.flavor.fencing {
            let ops: Vec<Request> = std::iter::once(first).chain(then).collect();
            if self.flavor.atomic_assign {
                let m = self.fenced(ops);
                self.calls.call(ctx, MOp::Write, m);
            } else {
                for op in ops {
                    let m = self.fenced(vec![op]);
                    self.calls.call(ctx, MOp::Write, m);
                }
            }
            return;
        }
        self.calls.call(ctx, MOp::Write, first);
        if let Some(t) = then {
            self.calls.call(ctx, MOp::Write, t);
        }
    }

    fn on_reply(&mut self, op: MOp, reply: &Reply, ctx: &mut Ctx) {
        use ErrorCode::{BadVersion, ConnectionLoss, NoNode, NodeExists, SessionExpired};
        if reply == &Err(SessionExpired) {
            return;
        }
        let loss = is_loss(reply);
        if loss {
            ctx.note("connection loss", format!("/{}", self.id));
        }
        match op {
            // Already leading: the answer to a second attempt meets this candidate's own
            // /master (see `Flavor::ignores_stale_election_replies`).
            MOp::Run | MOp::Watch | MOp::Check
                if self.phase != MasterPhase::Electing
                    && self.flavor.ignores_stale_election_replies => {}
            MOp::Run => match reply {
                Ok(_) => self.lead(ctx),
                Err(NodeExists) => self.watch(ctx),
                Err(ConnectionLoss) if self.flavor.check_master_on_loss => self.check(ctx),
                Err(ConnectionLoss) if self.flavor.handles_connection_loss => self.run(ctx),
                _ => {}
            },
            MOp::Watch => match reply {
                Err(NoNode) => self.run(ctx),
                Err(ConnectionLoss) if self.flavor.handles_connection_loss => self.watch(ctx),
                _ => {}
            },
            MOp::Check => match reply {
                Ok(Response::Data { stat, .. }) if stat.ephemeral_owner == self.session => {
                    ctx.note("recovered", format!("{MASTER}/{}", self.id));
                    self.lead(ctx)
                }
                Ok(_) => self.watch(ctx),
                Err(NoNode) => self.run(ctx),
                _ => self.check(ctx),
            },
            MOp::Boot(dir) => {
                if loss && self.flavor.handles_connection_loss {
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
                Err(ConnectionLoss) if self.flavor.handles_connection_loss => self.bump(ctx),
                _ => {}
            },
            MOp::Write => {
                if let Ok(Response::Multi { results }) = reply {
                    if results
                        .iter()
                        .any(|r| matches!(r, OpResult::Error { code: BadVersion }))
                        && self.flavor.fencing
                    {
                        // Another master bumped the epoch: this one is stale.
                        ctx.note("fenced", format!("/{}", self.id));
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
                if self.phase == MasterPhase::Serving && !self.flavor.reelect_after_expiry {
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
                        && self.flavor.rewatches_master =>
                {
                    self.watch(ctx)
                }
                (EventType::NodeChildrenChanged, _) => {
                    self.dirty = true;
                    self.reconcile(ctx);
                }
                (EventType::None, KeeperState::Expired) => {
                    if self.flavor.reelect_after_expiry {
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
}

// ---- worker ------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum WOp {
    MakeDir,
    Register,
    WaitFor(String),
    ReadOwn,
    List,
    Read(String),
    Finish(String),
}

/// A worker.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Worker {
    id: String,
    flavor: Flavor,
    session: SessionId,
    /// Whether `/assign/<id>` is known to exist.
    dir_made: bool,
    registered: bool,
    calls: Calls<WOp>,
    /// Assigned tasks not yet finished, in the order seen.
    queue: Vec<String>,
    /// The task running now, and its data (the client's token).
    running: Option<(String, Data)>,
    /// The tokens of finished tasks, by task name (for the status claim).
    tokens: BTreeMap<String, String>,
    /// Tasks whose status this worker wrote (so a retry after ConnectionLoss only finishes).
    finished: BTreeSet<String>,
    /// Results computed but not yet known to be written (a ConnectionLoss on the status write
    /// leaves them here, so the task is finished again, not run again).
    results: BTreeMap<String, Data>,
}

/// The choice of how long a task runs.
const DURATION: u32 = 1;
/// The durations a task may take, in virtual ms: at once, a moment, longer than a session
/// timeout (so its worker may die or be cut off in the middle).
const TASK_MS: [u64; 3] = [0, 500, 8000];
/// The timer that ends a long task.
const TASK_DONE: u32 = 1;

impl Worker {
    /// A worker named `id`.
    pub fn new(id: impl Into<String>, flavor: Flavor) -> Self {
        Worker {
            id: id.into(),
            flavor,
            session: 0,
            dir_made: false,
            registered: false,
            calls: Calls::default(),
            queue: Vec::new(),
            running: None,
            tokens: BTreeMap::new(),
            finished: BTreeSet::new(),
            results: BTreeMap::new(),
        }
    }

    fn dir(&self) -> String {
        format!("{ASSIGN}/{}", self.id)
    }

    fn start(&mut self, ctx: &mut Ctx) {
        self.registered = false;
        self.calls.new_session();
        self.queue.clear();
        self.running = None;
        self.register(ctx);
    }

    /// Creates its assignment directory, then (once it exists, so the master never sees a
    /// worker without one) its ephemeral `/workers/<id>`.
    fn register(&mut self, ctx: &mut Ctx) {
        if !self.dir_made {
            let dir = Request::create(self.dir(), Data::bytes(""), CreateMode::Persistent);
            return self.calls.call(ctx, WOp::MakeDir, dir);
        }
        let me = format!("{WORKERS}/{}", self.id);
        self.calls.call(
            ctx,
            WOp::Register,
            Request::create(me, Data::from("idle"), CreateMode::Ephemeral),
        );
    }

    fn wait_for(&mut self, ctx: &mut Ctx, path: &str) {
        let req = Request::Exists {
            path: path.into(),
            watch: true,
        };
        self.calls.call(ctx, WOp::WaitFor(path.into()), req);
    }

    fn list(&mut self, ctx: &mut Ctx) {
        self.calls.call(ctx, WOp::List, list(self.dir(), true));
    }

    fn next_task(&mut self, ctx: &mut Ctx) {
        // One task at a time: not while one runs, is being read, or is being finished.
        let busy = self
            .calls
            .inflight
            .values()
            .any(|op| matches!(op, WOp::Read(_) | WOp::Finish(_)));
        if self.running.is_some() || busy {
            return;
        }
        let Some(t) = self.queue.first().cloned() else {
            return;
        };
        if let Some(result) = self.results.get(&t).cloned() {
            return self.finish(ctx, t, result);
        }
        if self.finished.contains(&t) {
            // Its status is written; only the assignment's removal may be missing.
            return self.finish(ctx, t, Data::NULL);
        }
        self.calls.call(
            ctx,
            WOp::Read(t.clone()),
            get(format!("{}/{t}", self.dir())),
        );
    }

    fn status_path(&self, t: &str) -> String {
        if self.flavor.status_under_task {
            format!("{TASKS}/{t}/status")
        } else {
            format!("{STATUS}/{t}")
        }
    }

    fn finish(&mut self, ctx: &mut Ctx, t: String, data: Data) {
        let status = Request::create(self.status_path(&t), data, CreateMode::Persistent);
        let unassign = delete(format!("{}/{t}", self.dir()));
        let already = self.finished.contains(&t);
        if self.flavor.atomic_status {
            let ops = if already {
                vec![unassign]
            } else {
                vec![status, unassign]
            };
            self.calls.call(ctx, WOp::Finish(t), Request::Multi { ops });
        } else {
            if !already {
                self.calls.call(ctx, WOp::Finish(t.clone()), status);
            }
            self.calls.call(ctx, WOp::Finish(t), unassign);
        }
    }

    fn on_reply(&mut self, op: WOp, reply: &Reply, ctx: &mut Ctx) {
        use ErrorCode::{ConnectionLoss, NoNode, NodeExists, SessionExpired};
        if reply == &Err(SessionExpired) {
            return;
        }
        let retry = is_loss(reply) && self.flavor.handles_connection_loss;
        if is_loss(reply) {
            ctx.note("connection loss", format!("/{}", self.id));
        }
        match op {
            WOp::MakeDir => match reply {
                Ok(_) | Err(NodeExists) => {
                    self.dir_made = true;
                    self.register(ctx);
                }
                Err(NoNode) => self.wait_for(ctx, ASSIGN),
                Err(ConnectionLoss) if retry => self.register(ctx),
                _ => {}
            },
            WOp::Register => match reply {
                Ok(_) => {
                    self.registered = true;
                    self.list(ctx);
                }
                Err(NodeExists) => {
                    // Ours (an applied create whose reply was lost) or an old session's.
                    self.calls
                        .call(ctx, WOp::ReadOwn, get(format!("{WORKERS}/{}", self.id)));
                }
                // The master has not bootstrapped yet.
                Err(NoNode) => self.wait_for(ctx, WORKERS),
                Err(ConnectionLoss) if retry => self.register(ctx),
                _ => {}
            },
            WOp::ReadOwn => match reply {
                Ok(Response::Data { stat, .. }) if stat.ephemeral_owner == self.session => {
                    ctx.note("recovered", format!("{WORKERS}/{}", self.id));
                    self.registered = true;
                    self.list(ctx);
                }
                Ok(_) => {
                    let me = format!("{WORKERS}/{}", self.id);
                    self.wait_for(ctx, &me);
                }
                _ => self.register(ctx),
            },
            // A directory to wait for exists already, or an old session's node is gone already.
            WOp::WaitFor(path) => match reply {
                Ok(_) if path == WORKERS || path == ASSIGN => self.register(ctx),
                Err(NoNode) if path != WORKERS && path != ASSIGN => self.register(ctx),
                Err(ConnectionLoss) if retry => self.register(ctx),
                _ => {}
            },
            WOp::List => match reply {
                Ok(_) => {
                    let now = children(reply);
                    self.queue.retain(|t| now.contains(t));
                    for t in now {
                        if !self.queue.contains(&t) {
                            self.queue.push(t);
                        }
                    }
                    self.next_task(ctx);
                }
                Err(ConnectionLoss) if retry => self.list(ctx),
                _ => {}
            },
            WOp::Read(t) => match reply {
                Ok(Response::Data { data, .. }) => {
                    ctx.note("runs", format!("{}/{t}", self.dir()));
                    self.running = Some((t, data.clone()));
                    ctx.choose(DURATION, TASK_MS.len() as u32);
                }
                Err(ConnectionLoss) if retry => self.next_task(ctx),
                _ => {
                    self.queue.retain(|q| *q != t);
                    self.next_task(ctx);
                }
            },
            WOp::Finish(t) => match reply {
                Ok(Response::Create { .. }) => {
                    // The two-step flavor's status write; the removal follows.
                    self.finished.insert(t.clone());
                    self.results.remove(&t);
                    return self.claim_status(ctx, &t);
                }
                Ok(Response::Multi { results }) => {
                    let ok = !results.iter().any(|r| matches!(r, OpResult::Error { .. }));
                    let wrote_status = results.iter().any(|r| matches!(r, OpResult::Create { .. }));
                    if ok && wrote_status {
                        self.claim_status(ctx, &t);
                    }
                    // Done, or no longer this worker's (moved away, or finished before).
                    self.forget(&t);
                }
                Ok(_) | Err(NoNode) => self.forget(&t),
                Err(ConnectionLoss) if retry => return self.list(ctx),
                _ => {}
            },
        }
        if self.calls.is_empty() {
            self.next_task(ctx);
        }
    }

    fn forget(&mut self, t: &str) {
        self.results.remove(t);
        self.queue.retain(|q| q != t);
    }
}

impl Role for Worker {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        match input {
            Input::Start { session } => {
                self.session = *session;
                self.start(ctx);
            }
            Input::Reply { tag, reply } => {
                if let Some(op) = self.calls.take(*tag) {
                    self.on_reply(op, reply, ctx);
                }
            }
            Input::Event { event } => match (event.kind, event.state) {
                (EventType::NodeChildrenChanged, _) if self.registered => self.list(ctx),
                (EventType::NodeCreated, _) if event.path == WORKERS || event.path == ASSIGN => {
                    self.register(ctx)
                }
                (EventType::NodeDeleted, _) if !self.registered => self.register(ctx),
                (EventType::None, KeeperState::Expired) => ctx.new_session(),
                (EventType::None, KeeperState::SyncConnected) if self.registered => self.list(ctx),
                _ => {}
            },
            Input::Choice { option, .. } => match TASK_MS.get(*option as usize) {
                Some(0) | None => self.complete(ctx),
                Some(ms) => ctx.set_timer(TASK_DONE, *ms),
            },
            Input::Timer { .. } => self.complete(ctx),
        }
    }

    fn summary(&self) -> String {
        format!(
            "running {:?}, queue {:?}",
            self.running.as_ref().map(|r| &r.0),
            self.queue
        )
    }
}

impl Worker {
    /// Claims the status of the client task behind `t` (its token): a repeated claim means a
    /// client's task was carried out twice.
    fn claim_status(&mut self, ctx: &mut Ctx, t: &str) {
        let token = self.tokens.get(t).cloned().unwrap_or_else(|| t.to_string());
        ctx.note("status", token);
    }

    fn complete(&mut self, ctx: &mut Ctx) {
        if let Some((t, data)) = self.running.take() {
            let token = String::from_utf8_lossy(data.as_slice()).into_owned();
            self.tokens.insert(t.clone(), token);
            let mut result = b"done:".to_vec();
            result.extend_from_slice(data.as_slice());
            let result = Data::bytes(result);
            self.results.insert(t.clone(), result.clone());
            self.finish(ctx, t, result);
        }
    }
}

// ---- client ------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum COp {
    Submit,
    WaitDir(String),
    Marker,
    Find,
    Watch(String),
    Read(String),
    CleanUp,
}

/// A client submitting `tasks` tasks, one after another.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Client {
    id: String,
    flavor: Flavor,
    tasks: u32,
    /// The task being submitted or waited for (1-based); `tasks + 1` when done.
    current: u32,
    name: Option<String>,
    /// A read of the current task's status is in flight (two watches may both say it is there).
    reading: bool,
    /// The session this incarnation of the client started with.
    incarnation: SessionId,
    calls: Calls<COp>,
}

impl Client {
    /// A client named `id` that submits `tasks` tasks.
    pub fn new(id: impl Into<String>, tasks: u32, flavor: Flavor) -> Self {
        Client {
            id: id.into(),
            flavor,
            tasks,
            current: 1,
            name: None,
            reading: false,
            incarnation: 0,
            calls: Calls::default(),
        }
    }

    /// Whether every task completed and was read.
    pub fn is_done(&self) -> bool {
        self.current > self.tasks
    }

    /// The token of task `n` (its data, and the marker's name): the client, its incarnation
    /// (the low bits of the session it started with; a restarted client is a new client that
    /// knows nothing of its predecessor's tasks) and the task's number.
    pub fn token(&self, n: u32) -> String {
        format!("{}.{:x}-{n}", self.id, self.incarnation & 0xffff)
    }

    /// The name of task `n` up to its sequence number.
    fn prefix(&self, n: u32) -> String {
        format!("task-{}-", self.token(n))
    }

    fn submit(&mut self, ctx: &mut Ctx) {
        if self.is_done() {
            return;
        }
        self.name = None;
        let [task, marker] = self.submission(self.current);
        let req = if self.flavor.client_checks_marker {
            Request::Multi {
                ops: vec![task, marker],
            }
        } else {
            task
        };
        self.calls.call(ctx, COp::Submit, req);
    }

    /// The creates that submit task `n`: the task, a sequential node under `/tasks` named by
    /// its prefix and holding its token, and the token's marker under `/clients` (which the
    /// client sends only when it checks markers).
    pub fn submission(&self, n: u32) -> [Request; 2] {
        let token = self.token(n);
        let task = Request::create(
            format!("{TASKS}/{}", self.prefix(n)),
            Data::from(token.as_str()),
            CreateMode::PersistentSequential,
        );
        let marker = Request::create(
            format!("{CLIENTS}/{token}"),
            Data::bytes(""),
            CreateMode::Persistent,
        );
        [task, marker]
    }

    fn status_path(&self, name: &str) -> String {
        if self.flavor.status_under_task {
            format!("{TASKS}/{name}/status")
        } else {
            format!("{STATUS}/{name}")
        }
    }

    fn wait_status(&mut self, ctx: &mut Ctx, name: String) {
        self.name = Some(name.clone());
        if self.flavor.status_under_task {
            let req = list(format!("{TASKS}/{name}"), true);
            self.calls.call(ctx, COp::Watch(name), req);
        } else {
            let req = Request::Exists {
                path: self.status_path(&name),
                watch: true,
            };
            self.calls.call(ctx, COp::Watch(name), req);
        }
    }

    fn find(&mut self, ctx: &mut Ctx) {
        self.calls.call(ctx, COp::Find, list(STATUS, true));
    }

    fn on_reply(&mut self, op: COp, reply: &Reply, ctx: &mut Ctx) {
        use ErrorCode::{ConnectionLoss, NoNode, NodeExists, SessionExpired};
        if reply == &Err(SessionExpired) {
            return;
        }
        let handles = self.flavor.handles_connection_loss;
        match op {
            COp::Submit => match reply {
                Ok(Response::Create { path, .. }) => {
                    ctx.note("submitted", self.token(self.current));
                    self.wait_status(ctx, path.trim_start_matches("/tasks/").to_string());
                }
                Ok(Response::Multi { results }) => match results.as_slice() {
                    [OpResult::Create { path, .. }, OpResult::Create { .. }] => {
                        ctx.note("submitted", self.token(self.current));
                        self.wait_status(ctx, path.trim_start_matches("/tasks/").to_string());
                    }
                    [_, OpResult::Error { code: NodeExists }] => {
                        // Submitted before (by this client before a crash): find it.
                        self.find(ctx);
                    }
                    [OpResult::Error { code: NoNode }, _] => self.wait_dir(ctx, TASKS),
                    [_, OpResult::Error { code: NoNode }] => self.wait_dir(ctx, CLIENTS),
                    _ => {}
                },
                Err(NoNode) => self.wait_dir(ctx, TASKS),
                Err(ConnectionLoss) if self.flavor.client_checks_marker => {
                    ctx.note("connection loss", format!("/{}", self.id));
                    self.check_marker(ctx);
                }
                Err(ConnectionLoss) if handles => self.submit(ctx),
                _ => {}
            },
            COp::WaitDir(_) => match reply {
                Ok(_) => self.submit(ctx),
                Err(ConnectionLoss) if handles => self.submit(ctx),
                _ => {}
            },
            COp::Marker => match reply {
                Ok(_) => {
                    ctx.note(
                        "recovered",
                        format!("{CLIENTS}/{}", self.token(self.current)),
                    );
                    self.find(ctx)
                }
                Err(NoNode) => self.submit(ctx),
                _ => {
                    self.check_marker(ctx);
                }
            },
            COp::Find => match reply {
                Ok(_) => {
                    let prefix = self.prefix(self.current);
                    if let Some(name) = children(reply).into_iter().find(|c| c.starts_with(&prefix))
                    {
                        self.name = Some(name.clone());
                        self.read(ctx, name);
                    }
                }
                Err(ConnectionLoss) if handles => self.find(ctx),
                _ => {}
            },
            COp::Watch(name) => match reply {
                Ok(Response::Stat { .. }) => self.read(ctx, name),
                Ok(Response::Children { children, .. })
                    if children.iter().any(|c| c == "status") =>
                {
                    self.read(ctx, name)
                }
                Err(ConnectionLoss) if handles => self.wait_status(ctx, name),
                _ => {}
            },
            COp::Read(name) if self.name.as_deref() != Some(name.as_str()) => {}
            COp::Read(name) => match reply {
                Ok(Response::Data { .. }) => {
                    self.reading = false;
                    ctx.note("notified", self.token(self.current));
                    let marker = format!("{CLIENTS}/{}", self.token(self.current));
                    let mut ops = vec![delete(self.status_path(&name))];
                    if self.flavor.client_checks_marker {
                        ops.push(delete(marker));
                    }
                    self.calls.call(ctx, COp::CleanUp, Request::Multi { ops });
                    self.current += 1;
                    self.submit(ctx);
                }
                Err(ConnectionLoss) if handles => {
                    self.reading = false;
                    self.read(ctx, name)
                }
                _ => self.reading = false,
            },
            COp::CleanUp => {}
        }
    }

    fn read(&mut self, ctx: &mut Ctx, name: String) {
        if self.reading || self.name.as_deref() != Some(name.as_str()) {
            return;
        }
        self.reading = true;
        let path = self.status_path(&name);
        self.calls.call(ctx, COp::Read(name), get(path));
    }

    /// After a ConnectionLoss on the submission: the marker, created in the same multi as the
    /// task, says whether it was applied.
    fn check_marker(&mut self, ctx: &mut Ctx) {
        let path = format!("{CLIENTS}/{}", self.token(self.current));
        self.calls
            .call(ctx, COp::Marker, Request::Exists { path, watch: false });
    }

    fn wait_dir(&mut self, ctx: &mut Ctx, dir: &str) {
        let req = Request::Exists {
            path: dir.into(),
            watch: true,
        };
        self.calls.call(ctx, COp::WaitDir(dir.into()), req);
    }
}

impl Role for Client {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        match input {
            Input::Start { session } => {
                if self.incarnation == 0 {
                    self.incarnation = *session;
                }
                self.calls.new_session();
                self.reading = false;
                match self.name.clone() {
                    Some(name) if !self.is_done() => self.wait_status(ctx, name),
                    _ => self.submit(ctx),
                }
            }
            Input::Reply { tag, reply } => {
                if let Some(op) = self.calls.take(*tag) {
                    self.on_reply(op, reply, ctx);
                }
            }
            Input::Event { event } => match (event.kind, event.state) {
                (EventType::NodeCreated, _) if event.path == TASKS || event.path == CLIENTS => {
                    self.submit(ctx)
                }
                (EventType::NodeCreated, _) | (EventType::NodeChildrenChanged, _) => {
                    match self.name.clone() {
                        Some(name) if event.path != STATUS => self.wait_status(ctx, name),
                        _ => self.find(ctx),
                    }
                }
                (EventType::None, KeeperState::Expired) => ctx.new_session(),
                _ => {}
            },
            Input::Timer { .. } | Input::Choice { .. } => {}
        }
    }

    fn summary(&self) -> String {
        format!("task {}/{}", self.current.min(self.tasks), self.tasks)
    }
}
