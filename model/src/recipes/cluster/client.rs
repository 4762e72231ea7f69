//! The cluster's client ([`Client`]): it submits its tasks one after another, each with a
//! marker, waits for each one's status, reads it and cleans up.
//!
//! The client's mutant is a small difference from the correct client, in the section "how the
//! mutants differ" at the end of this file, with the variants' differences:
//! - `client-resubmits`: a submission lost to ConnectionLoss is made again without looking for
//!   its marker (`after_lost_submission`), and it sends no marker (`submission_request`,
//!   `clean_up`);
//! - and the variants as written: `book` (the same client), `seed-naive` (the same, and the
//!   status under the task (`status_path`, `status_watch`), no ConnectionLoss handled
//!   (`retries_after_loss`)).

use super::shared::{children, delete, get, list, Calls};
use super::{Flavor, CLIENTS, STATUS, TASKS};
use crate::data::Data;
use crate::error::ErrorCode;
use crate::op::{CreateMode, EventType, KeeperState, OpResult, Reply, Request, Response};
use crate::role::{Claim, Ctx, Input, Part, Role, Standing};
use crate::stat::SessionId;

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
        let req = self.submission_request(task, marker);
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

    fn wait_status(&mut self, ctx: &mut Ctx, name: String) {
        self.name = Some(name.clone());
        let req = self.status_watch(&name);
        self.calls.call(ctx, COp::Watch(name), req);
    }

    fn find(&mut self, ctx: &mut Ctx) {
        self.calls.call(ctx, COp::Find, list(STATUS, true));
    }

    fn on_reply(&mut self, op: COp, reply: &Reply, ctx: &mut Ctx) {
        use ErrorCode::{ConnectionLoss, NoNode, NodeExists, SessionExpired};
        if reply == &Err(SessionExpired) {
            return;
        }
        let handles = self.retries_after_loss();
        match op {
            COp::Submit => match reply {
                Ok(Response::Create { path, .. }) => {
                    ctx.note(Claim::Submitted, self.token(self.current));
                    self.wait_status(ctx, path.trim_start_matches("/tasks/").to_string());
                }
                Ok(Response::Multi { results }) => match results.as_slice() {
                    [OpResult::Create { path, .. }, OpResult::Create { .. }] => {
                        ctx.note(Claim::Submitted, self.token(self.current));
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
                Err(ConnectionLoss) => self.after_lost_submission(ctx),
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
                        Claim::Recovered,
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
                    ctx.note(Claim::Notified, self.token(self.current));
                    let req = self.clean_up(&name);
                    self.calls.call(ctx, COp::CleanUp, req);
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

    fn standing(&self) -> Standing {
        Standing {
            part: Part::Client,
            leads: false,
            done: self.is_done(),
        }
    }
}

// ---- how the mutants differ --------------------------------------------------------------

/// Every [`Flavor`] switch the client reads, read here and nowhere else: each says what the
/// correct client (`fixed`) does, and what the recipes that flip the switch do instead.
impl Client {
    /// The request that submits a task. The correct client sends the `task` and its `marker`
    /// as one multi, so the marker tells later whether the task was created; `client-resubmits`
    /// (and `book`, `seed-naive`) sends the task alone.
    fn submission_request(&self, task: Request, marker: Request) -> Request {
        if self.flavor.client_checks_marker {
            Request::Multi {
                ops: vec![task, marker],
            }
        } else {
            task
        }
    }

    /// Its submission ended in ConnectionLoss, applied or not. The correct client looks for
    /// its marker; `client-resubmits` (and `book`) submits again, and when the first was
    /// applied the task runs twice; `seed-naive` drops it.
    fn after_lost_submission(&mut self, ctx: &mut Ctx) {
        if self.flavor.client_checks_marker {
            ctx.note(Claim::ConnectionLoss, format!("/{}", self.id));
            self.check_marker(ctx);
        } else if self.flavor.handles_connection_loss {
            self.submit(ctx);
        }
    }

    /// The clean-up once the status of task `name` is read. The correct client deletes the
    /// status and the task's marker in one multi; a client that sent no marker
    /// (`client-resubmits`, `book`, `seed-naive`) deletes the status alone.
    fn clean_up(&self, name: &str) -> Request {
        let marker = format!("{CLIENTS}/{}", self.token(self.current));
        let mut ops = vec![delete(self.status_path(name))];
        if self.flavor.client_checks_marker {
            ops.push(delete(marker));
        }
        Request::Multi { ops }
    }

    /// Where task `name`'s status is. The correct client reads `/status/<name>`; `seed-naive`
    /// reads `/tasks/<name>/status`, under the task (the seed's layout).
    fn status_path(&self, name: &str) -> String {
        if self.flavor.status_under_task {
            format!("{TASKS}/{name}/status")
        } else {
            format!("{STATUS}/{name}")
        }
    }

    /// The watch for task `name`'s status. The correct client watches `/status/<name>` come
    /// into being; `seed-naive` watches the task's children.
    fn status_watch(&self, name: &str) -> Request {
        if self.flavor.status_under_task {
            list(format!("{TASKS}/{name}"), true)
        } else {
            Request::Exists {
                path: self.status_path(name),
                watch: true,
            }
        }
    }

    /// Whether a call that ended in ConnectionLoss is made again. The correct client retries;
    /// `seed-naive` (the seed's description handles no ConnectionLoss) drops it.
    fn retries_after_loss(&self) -> bool {
        self.flavor.handles_connection_loss
    }
}
