//! The recipe properties, as a library: each reads only what any recipe's roles can say (their
//! typed [`Claim`]s, their [`Standing`] and the server's tree), never a role's type, so a
//! recipe of your own roles, or one that swaps one built-in role for yours, is checked by them
//! as the built-in recipes are.
//!
//! Each function builds one property for any role type `R`; its documentation names what it
//! needs of the roles. The cluster's properties read its layout: `/master` (the leader's
//! ephemeral), `/workers/<w>`, `/assign/<w>/<task>`, `/tasks/<task>`, `/status/<task>` and
//! `/clients/<token>`, with tasks named `task-<token>-<sequence>`
//! ([`zksim_model::recipes::cluster`]). [`cluster`] and [`election`] are the sets the
//! built-in recipes are checked against.
//!
//! ```
//! use zksim_model::recipes::BuiltinRole;
//! use zksim_sim::properties;
//! use zksim_sim::property::Property;
//!
//! // The cluster's properties, for any role type: here the built-in ones.
//! let all: Vec<Property<BuiltinRole>> = properties::cluster();
//! assert!(all.iter().any(|p| p.name == properties::NO_LOST_TASK));
//! ```

use std::collections::BTreeSet;

use zksim_model::op::{EventType, KeeperState};
use zksim_model::recipes::cluster::{ASSIGN, CLIENTS, MASTER, STATUS, TASKS, WORKERS};
use zksim_model::role::{Claim, Part, Role, Standing};
use zksim_model::server::Change;
use zksim_model::{ErrorCode, SessionId};

use crate::event::Event;
use crate::property::Property;
use crate::recipes::cluster::queued_token;
use crate::world::World;

/// At most one live session owns `/master` (the model's own guarantee).
pub const ONE_LIVE_MASTER: &str = "at most one live session owns /master";
/// Assignments are created only by the session that owns `/master`.
pub const ASSIGNMENTS_FROM_MASTER: &str = "assignments are accepted only from the master's session";
/// No task is under two workers at once.
pub const NO_DOUBLE_ASSIGNMENT: &str = "no task is assigned to two workers at once";
/// Every submitted task is pending, assigned, has a status, or was read by its client.
pub const NO_LOST_TASK: &str = "no task is lost";
/// A client task's status is written once (a task carried out twice writes two).
pub const STATUS_ONCE: &str = "a status is written once";
/// Workers run only their own assignments.
pub const RUNS_ONLY_ASSIGNED: &str = "a worker only runs tasks assigned to it";
/// After faults stop: a master.
pub const MASTER_ELECTED: &str = "a master is elected once faults stop";
/// After faults stop: every task done and read by its client (a queued task, which no
/// client waits for: done).
pub const ALL_TASKS_DONE: &str = "every submitted task completes and its client is notified";
/// After faults stop: nothing left under dead workers.
pub const DEAD_WORKERS_DRAINED: &str = "a dead worker's tasks are reassigned";
/// Every candidate that believes it leads, and whose session is live, owns `/master`.
pub const LEADER_OWNS_MASTER: &str = "a leader with a live session owns /master";
/// After faults stop, someone leads.
pub const A_LEADER_IS_ELECTED: &str = "a leader is elected once faults stop";

/// The session owning `/master`.
pub fn master_owner<R: Role>(w: &World<R>) -> Option<SessionId> {
    w.server().tree().get(MASTER).and_then(|n| n.owner())
}

/// `/master`, if any, belongs to a session the server still has.
fn master_is_live<R: Role>(w: &World<R>) -> bool {
    master_owner(w).is_none_or(|s| w.server().is_live(s))
}

fn standing<R: Role>(p: &crate::world::Process<R>) -> Standing {
    p.role.standing()
}

/// Whether some process of a part was not killed for good. Liveness asks for work only of a
/// cluster that can still do it: a master needs a candidate left, a task a master and a
/// worker (a run whose every candidate was killed cannot elect one, whatever the recipe).
fn survives<R: Role>(w: &World<R>, part: Part) -> bool {
    w.processes()
        .iter()
        .any(|p| standing(p).part == part && !p.is_killed())
}

/// A process whose role leads and whose session owns `/master`.
fn a_leader_owns_master<R: Role>(w: &World<R>) -> bool {
    w.processes()
        .iter()
        .any(|p| standing(p).leads && p.session().is_some() && p.session() == master_owner(w))
}

/// The names of a node's children (none if it is missing), in no particular order. The
/// properties run after every step, so nothing here allocates more than it must.
fn kids<'w, R: Role>(w: &'w World<R>, path: &str) -> impl Iterator<Item = &'w str> {
    w.server()
        .tree()
        .get(path)
        .into_iter()
        .flat_map(|n| n.children.iter())
}

/// Every (worker dir, task) under `/assign`.
fn assignments<R: Role>(w: &World<R>) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    for d in kids(w, ASSIGN) {
        let dir = w.server().tree().get(&format!("{ASSIGN}/{d}"));
        out.extend(
            dir.into_iter()
                .flat_map(|n| n.children.iter())
                .map(|t| (d, t)),
        );
    }
    out
}

/// The client token in a task's name, `task-<token>-<sequence>`.
pub fn token_of(task: &str) -> Option<&str> {
    let rest = task.strip_prefix("task-")?;
    rest.rfind('-').map(|i| &rest[..i])
}

/// The child name of `dir` in `path`, if `path` is `dir/<name>`.
fn child_of<'p>(path: &'p str, dir: &str) -> Option<&'p str> {
    let name = path.strip_prefix(dir)?.strip_prefix('/')?;
    (!name.contains('/')).then_some(name)
}

/// The task of an assignment, if `path` is `/assign/<w>/<task>`.
fn assigned_task(path: &str) -> Option<&str> {
    let (_, task) = path
        .strip_prefix(ASSIGN)?
        .strip_prefix('/')?
        .split_once('/')?;
    (!task.contains('/')).then_some(task)
}

/// The task a node stands for: `/tasks/<task>`, `/status/<task>`, `/assign/<w>/<task>`.
fn task_node(path: &str) -> Option<&str> {
    child_of(path, TASKS)
        .or_else(|| child_of(path, STATUS))
        .or_else(|| assigned_task(path))
}

/// [`ONE_LIVE_MASTER`]: `/master`, if any, belongs to a live session. Reads the tree alone.
pub fn one_live_master<R: Role>() -> Property<R> {
    Property::always(ONE_LIVE_MASTER, master_is_live).shared_state_only()
}

/// [`ASSIGNMENTS_FROM_MASTER`]: every `/assign/<w>/<task>` created in a step was created by
/// the session that owns `/master` after it. Reads the tree alone.
pub fn assignments_from_master<R: Role>() -> Property<R> {
    Property::each_step(ASSIGNMENTS_FROM_MASTER, |w, ev| {
        ev.iter().all(|e| match e {
            Event::Changed {
                change: Change::Created { path, by, .. },
            } if assigned_task(path).is_some() => by.is_some() && *by == master_owner(w),
            _ => true,
        })
    })
    .shared_state_only()
}

/// Whether a step created an assignment (only that can assign a task twice).
fn assigns<R: Role>(_: &World<R>, ev: &[Event]) -> bool {
    ev.iter().any(|e| {
        matches!(e, Event::Changed { change: Change::Created { path, .. } } if assigned_task(path).is_some())
    })
}

/// [`NO_DOUBLE_ASSIGNMENT`]: no task name is under two workers' `/assign/<w>`. Reads the
/// tree alone.
pub fn no_double_assignment<R: Role>() -> Property<R> {
    Property::always(NO_DOUBLE_ASSIGNMENT, |w| {
        let mut seen = BTreeSet::new();
        assignments(w).into_iter().all(|(_, t)| seen.insert(t))
    })
    .shared_state_only()
    .broken_only_by(assigns)
}

/// The tokens of tasks the system has accepted (the clients' markers, and what clients said
/// they submitted) all have a task pending, assigned or with a status, or were read.
fn nothing_lost<R: Role>(w: &World<R>) -> bool {
    let mut present: BTreeSet<&str> = kids(w, TASKS)
        .chain(kids(w, STATUS))
        .filter_map(token_of)
        .collect();
    present.extend(assignments(w).into_iter().filter_map(|(_, t)| token_of(t)));
    let accepted = kids(w, CLIENTS).chain(w.notes_about(Claim::Submitted));
    accepted
        .into_iter()
        .all(|tok| present.contains(tok) || w.noted(Claim::Notified, tok))
}

/// Whether a step may have lost a task ([`nothing_lost`]), given that none was lost before: a
/// token's task can go missing only when a node of it is deleted or when the token is newly
/// accepted, so only the tokens the step touched are looked at, each by what shows it safe
/// (its task by name somewhere, or its notification); if one shows nothing, the whole check
/// decides. So the check costs what the step touched, not what the tree holds.
fn may_lose_a_task<R: Role>(w: &World<R>, ev: &[Event]) -> bool {
    let tree = w.server().tree();
    let created = |path: &str| {
        ev.iter().any(|e| {
            matches!(e, Event::Changed { change: Change::Created { path: p, .. } } if p == path)
        })
    };
    // Its task `name` is in `/tasks`, `/status` or a worker's directory.
    let somewhere = |name: &str| {
        tree.contains(&format!("{TASKS}/{name}"))
            || tree.contains(&format!("{STATUS}/{name}"))
            || kids(w, ASSIGN).any(|d| tree.contains(&format!("{ASSIGN}/{d}/{name}")))
    };
    let notified = |tok: &str| w.noted(Claim::Notified, tok);
    // A task of the token was created in this step and is still there.
    let created_here = |tok: &str| {
        ev.iter().any(|e| match e {
            Event::Changed {
                change: Change::Created { path, .. },
            } => task_node(path)
                .is_some_and(|name| token_of(name) == Some(tok) && tree.contains(path)),
            _ => false,
        })
    };
    ev.iter().any(|e| match e {
        Event::Changed {
            change: Change::Deleted { path, .. },
        } => task_node(path)
            .is_some_and(|name| !(somewhere(name) || token_of(name).is_some_and(notified))),
        Event::Changed {
            change: Change::Created { path, .. },
        } => child_of(path, CLIENTS).is_some_and(|tok| !(created_here(tok) || notified(tok))),
        // Accepted before if its marker was there before this step.
        Event::Noted { claim, path, .. } if *claim == Claim::Submitted => {
            let marker = format!("{CLIENTS}/{path}");
            !((tree.contains(&marker) && !created(&marker)) || created_here(path) || notified(path))
        }
        _ => false,
    })
}

/// [`NO_LOST_TASK`]: every accepted task (its `/clients/<token>` marker exists, or a role
/// claimed [`Claim::Submitted`] about its token) has a node somewhere (`/tasks`, `/assign/*`,
/// `/status`) or its client claimed [`Claim::Notified`] about its token.
pub fn no_lost_task<R: Role>() -> Property<R> {
    Property::always(NO_LOST_TASK, nothing_lost)
        .shared_state_only()
        .broken_only_by(may_lose_a_task)
}

/// [`STATUS_ONCE`]: no role claims [`Claim::Status`] about the same token twice (a worker
/// claims it when its status write is applied).
pub fn status_once<R: Role>() -> Property<R> {
    Property::each_step(STATUS_ONCE, |_, ev| {
        !ev.iter().any(|e| {
            matches!(
                e,
                Event::Noted {
                    claim: Claim::Status,
                    repeat: true,
                    ..
                }
            )
        })
    })
    .shared_state_only()
}

/// [`RUNS_ONLY_ASSIGNED`]: a process claims [`Claim::Runs`] only about a path under its own
/// `/assign/<its name>/`. A stale read (the master moved the task away meanwhile) is allowed,
/// as the worker cannot tell, and its status write then fails; running the same task again
/// after it came back is allowed too (a duplicate *result* is what [`status_once`] forbids).
pub fn runs_only_assigned<R: Role>() -> Property<R> {
    Property::each_step(RUNS_ONLY_ASSIGNED, |w, ev| {
        ev.iter().all(|e| match e {
            Event::Noted {
                process,
                claim: Claim::Runs,
                path,
                ..
            } => path.starts_with(&format!("{ASSIGN}/{}/", w.processes()[*process].name)),
            _ => true,
        })
    })
    .shared_state_only()
}

/// [`MASTER_ELECTED`], once faults stop: some role whose [`Standing::leads`] is true has the
/// session that owns `/master`, unless every [`Part::Candidate`] was killed for good.
pub fn master_elected<R: Role>() -> Property<R> {
    Property::eventually(MASTER_ELECTED, |w| {
        !survives(w, Part::Candidate) || a_leader_owns_master(w)
    })
}

/// Every client that is still alive has all its tasks done and read (a client killed for good
/// cannot be notified).
fn clients_done<R: Role>(w: &World<R>) -> bool {
    w.processes().iter().all(|p| {
        let s = standing(p);
        s.part != Part::Client || p.is_killed() || s.done
    })
}

/// Every queued task (no client waits for it) has its status.
fn queued_done<R: Role>(w: &World<R>) -> bool {
    let queued = w.options().shape.queued.unwrap_or(0);
    (1..=queued).all(|n| {
        let token = queued_token(n);
        kids(w, STATUS).any(|s| token_of(s) == Some(token.as_str()))
    })
}

/// [`ALL_TASKS_DONE`], once faults stop: every [`Part::Client`] not killed for good is
/// [`Standing::done`], and every task queued by the set-up (`queued` in the shape, tokens of
/// [`queued_token`]) has its `/status/<task>`; unless no candidate or no worker is left.
pub fn all_tasks_done<R: Role>() -> Property<R> {
    Property::eventually(ALL_TASKS_DONE, |w| {
        !(survives(w, Part::Candidate) && survives(w, Part::Worker))
            || (clients_done(w) && queued_done(w))
    })
}

/// [`DEAD_WORKERS_DRAINED`], once faults stop: every `/assign/<w>` holding a task has a live
/// `/workers/<w>`, unless no candidate is left.
pub fn dead_workers_drained<R: Role>() -> Property<R> {
    Property::eventually(DEAD_WORKERS_DRAINED, |w| {
        if !survives(w, Part::Candidate) {
            return true;
        }
        let live: BTreeSet<&str> = kids(w, WORKERS).collect();
        assignments(w).iter().all(|(d, _)| live.contains(d))
    })
}

/// Reached when a second role claimed [`Claim::Leads`] (about another path) in the run.
pub fn a_failover_happened<R: Role>() -> Property<R> {
    Property::sometimes("a failover happened", |w, _| {
        w.notes_about(Claim::Leads).nth(1).is_some()
    })
}

/// Whether a step's events hold the claim `claim`.
fn claimed(ev: &[Event], claim: Claim) -> bool {
    ev.iter()
        .any(|e| matches!(e, Event::Noted { claim: c, .. } if *c == claim))
}

/// Reached when a role claims [`Claim::MovesBack`].
pub fn a_reassignment_happened<R: Role>() -> Property<R> {
    Property::sometimes("a reassignment happened", |_, ev| {
        claimed(ev, Claim::MovesBack)
    })
}

/// Reached when a role claims [`Claim::Recovered`].
pub fn a_connection_loss_was_recovered<R: Role>() -> Property<R> {
    Property::sometimes("a ConnectionLoss was recovered", |_, ev| {
        claimed(ev, Claim::Recovered)
    })
}

fn expiry(ev: &[Event]) -> bool {
    ev.iter().any(|e| {
        matches!(e, Event::Notified { event, .. } if event.kind == EventType::None && event.state == KeeperState::Expired)
            || matches!(e, Event::Changed { change: Change::SessionClosed { expired: true, .. } })
    })
}

/// Reached when a session expires (the server's or a client's view). Needs nothing of the
/// roles.
pub fn a_session_expired<R: Role>() -> Property<R> {
    Property::sometimes("a session expired", |_, ev| expiry(ev))
}

/// The master/worker cluster's properties, in the order the built-in cluster recipes check
/// them.
pub fn cluster<R: Role>() -> Vec<Property<R>> {
    vec![
        one_live_master(),
        assignments_from_master(),
        no_double_assignment(),
        no_lost_task(),
        status_once(),
        runs_only_assigned(),
        master_elected(),
        all_tasks_done(),
        dead_workers_drained(),
        a_failover_happened(),
        a_reassignment_happened(),
        a_connection_loss_was_recovered(),
        a_session_expired(),
    ]
}

/// [`LEADER_OWNS_MASTER`]: every role whose [`Standing::leads`] is true and whose session is
/// live owns `/master`. Reads the roles' standing, so it is not a shared-state property.
pub fn leader_owns_master<R: Role>() -> Property<R> {
    Property::always(LEADER_OWNS_MASTER, |w| {
        w.processes().iter().all(|p| match p.session() {
            Some(s) if standing(p).leads && w.server().is_live(s) => master_owner(w) == Some(s),
            _ => true,
        })
    })
}

/// The leader election's properties (the `election` recipe and its mutants).
pub fn election<R: Role>() -> Vec<Property<R>> {
    vec![
        // The election's own reading of the model's guarantee: not marked shared-state-only,
        // so the explorer reduces the election's searches as it always has.
        Property::always(ONE_LIVE_MASTER, master_is_live),
        leader_owns_master(),
        Property::eventually(A_LEADER_IS_ELECTED, a_leader_owns_master),
        Property::sometimes("a candidate led", |w, _| {
            w.processes().iter().any(|p| standing(p).leads)
        }),
        Property::sometimes("a leader stepped down or lost its session", |_, ev| {
            ev.iter().any(|e| {
                matches!(e, Event::Changed { change: Change::Deleted { path, .. } } if path == MASTER)
            })
        }),
        Property::sometimes("a session expired", |_, ev| expiry(ev)),
        Property::sometimes("a call ended in ConnectionLoss", |_, ev| {
            ev.iter().any(|e| {
                matches!(
                    e,
                    Event::Replied {
                        reply: Err(ErrorCode::ConnectionLoss),
                        ..
                    }
                )
            })
        }),
    ]
}
