//! The cluster's worker ([`Worker`]): it registers under `/workers`, runs the tasks assigned
//! to it one at a time, and writes each one's status.
//!
//! The worker's mutant is a small difference from the correct worker, in the section "how the
//! mutants differ" at the end of this file, with the variants' differences:
//! - `status-then-delete`: the status and the assignment's removal are two writes
//!   (`finish_writes`);
//! - and the variants as written: `book` (two writes too), `seed-naive` (two writes, the
//!   status under the task (`status_path`), no ConnectionLoss handled
//!   (`retries_after_loss`)).

use std::collections::{BTreeMap, BTreeSet};

use super::shared::{children, delete, get, is_loss, list, Calls};
use super::{Flavor, ASSIGN, STATUS, TASKS, WORKERS};
use crate::data::Data;
use crate::error::ErrorCode;
use crate::op::{CreateMode, EventType, KeeperState, OpResult, Reply, Request, Response};
use crate::role::{Claim, Ctx, Input, Part, Role, Standing};
use crate::stat::SessionId;

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

    fn finish(&mut self, ctx: &mut Ctx, t: String, data: Data) {
        let status = Request::create(self.status_path(&t), data, CreateMode::Persistent);
        let unassign = delete(format!("{}/{t}", self.dir()));
        let already = self.finished.contains(&t);
        for request in self.finish_writes(status, unassign, already) {
            self.calls.call(ctx, WOp::Finish(t.clone()), request);
        }
    }

    fn on_reply(&mut self, op: WOp, reply: &Reply, ctx: &mut Ctx) {
        use ErrorCode::{ConnectionLoss, NoNode, NodeExists, SessionExpired};
        if reply == &Err(SessionExpired) {
            return;
        }
        let retry = is_loss(reply) && self.retries_after_loss();
        if is_loss(reply) {
            ctx.note(Claim::ConnectionLoss, format!("/{}", self.id));
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
                    ctx.note(Claim::Recovered, format!("{WORKERS}/{}", self.id));
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
                    ctx.note(Claim::Runs, format!("{}/{t}", self.dir()));
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

    fn standing(&self) -> Standing {
        Standing {
            part: Part::Worker,
            ..Standing::default()
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
        ctx.note(Claim::Status, token);
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

// ---- how the mutants differ --------------------------------------------------------------

/// Every [`Flavor`] switch the worker reads, read here and nowhere else: each says what the
/// correct worker (`fixed`) does, and what the recipes that flip the switch do instead.
impl Worker {
    /// Where task `t`'s status goes. The correct worker writes `/status/<t>`; `seed-naive`
    /// writes `/tasks/<t>/status`, under the task (the seed's layout).
    fn status_path(&self, t: &str) -> String {
        if self.flavor.status_under_task {
            format!("{TASKS}/{t}/status")
        } else {
            format!("{STATUS}/{t}")
        }
    }

    /// The writes that finish a task: its `status` (unless written `already`) and the
    /// `unassign` of its assignment. The correct worker sends one multi; `status-then-delete`
    /// (and `book`, `seed-naive`) sends two writes, and a worker that dies between them leaves
    /// a finished task assigned, which the master moves back to run again.
    fn finish_writes(&self, status: Request, unassign: Request, already: bool) -> Vec<Request> {
        if self.flavor.atomic_status {
            let ops = if already {
                vec![unassign]
            } else {
                vec![status, unassign]
            };
            vec![Request::Multi { ops }]
        } else if already {
            vec![unassign]
        } else {
            vec![status, unassign]
        }
    }

    /// Whether a call that ended in ConnectionLoss is made again. The correct worker retries;
    /// `seed-naive` (the seed's description handles no ConnectionLoss) drops it.
    fn retries_after_loss(&self) -> bool {
        self.flavor.handles_connection_loss
    }
}
