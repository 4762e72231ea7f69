//! The master/worker cluster: its recipes (variants and mutants) and the properties that
//! catch their bugs.

use std::collections::BTreeSet;

use zksim_model::op::{CreateMode, EventType, KeeperState, Request};
use zksim_model::recipes::cluster::{
    Client, Flavor, Master, Worker, ASSIGN, CLIENTS, STATUS, TASKS, WORKERS,
};
use zksim_model::recipes::BuiltinRole;
use zksim_model::server::Change;
use zksim_model::Data;

use super::{master_owner, BuiltinWorld, Recipe, RecipeKind};
use crate::event::Event;
use crate::options::Options;
use crate::property::Property;

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

fn cluster(flavor: Flavor, options: &Options, seed: u64) -> Vec<(String, BuiltinRole)> {
    let shape = options.shape;
    let master = |id: String| Master::new(id, flavor).with_policy(options.assign_policy, seed);
    let mut out = Vec::new();
    for i in 1..=shape.masters.unwrap_or(2) {
        out.push((
            format!("m{i}"),
            BuiltinRole::Master(master(format!("m{i}"))),
        ));
    }
    for i in 1..=shape.workers.unwrap_or(2) {
        out.push((
            format!("w{i}"),
            BuiltinRole::Worker(Worker::new(format!("w{i}"), flavor)),
        ));
    }
    let tasks = shape.tasks.unwrap_or(4);
    for i in 1..=shape.clients.unwrap_or(2) {
        out.push((
            format!("c{i}"),
            BuiltinRole::Client(Client::new(format!("c{i}"), tasks, flavor)),
        ));
    }
    out
}

macro_rules! recipe {
    ($name:expr, $kind:expr, $breaks:expr, $about:expr, $flavor:expr) => {
        Recipe {
            name: $name,
            kind: $kind,
            breaks: $breaks,
            verified: $name == "fixed",
            baseline: if matches!($kind, RecipeKind::Mutant) {
                Some("fixed")
            } else {
                None
            },
            about: $about,
            set_up: |options| queued_tasks(options.shape.queued.unwrap_or(0)),
            processes: |options, seed| cluster($flavor, options, seed),
            properties,
        }
    };
}

/// The cluster's recipes.
pub fn recipes() -> Vec<Recipe> {
    use RecipeKind::{Mutant, Variant};
    vec![
        recipe!(
            "fixed",
            Variant,
            None,
            "the correct recipe: guarded multis for every two-step move, an epoch fence, \
             ConnectionLoss resolved by reading back, a submission marker per task",
            Flavor::FIXED
        ),
        recipe!(
            "book",
            Variant,
            None,
            "the ZooKeeper book's flow: assign then delete and status then delete as two \
             writes, no fencing, a client that resubmits on ConnectionLoss, a leader that a late \
             election answer sends back to watching",
            Flavor::BOOK
        ),
        recipe!(
            "seed-naive",
            Variant,
            None,
            "the seed's description taken literally: status under /tasks/<task>/status, \
             assignments that leave the task in /tasks, no ConnectionLoss handling",
            Flavor::SEED_NAIVE
        ),
        recipe!(
            "no-fencing",
            Mutant,
            Some(ASSIGNMENTS_FROM_MASTER),
            "after its session expired the master keeps serving on a new session without \
             running for master again, and no epoch check stops its writes: a zombie \
             assigns while another session owns /master",
            Flavor {
                fencing: false,
                reelect_after_expiry: false,
                ..Flavor::FIXED
            }
        ),
        recipe!(
            "assign-then-delete",
            Mutant,
            Some(NO_DOUBLE_ASSIGNMENT),
            "the master creates the assignment and deletes the task as two writes: after a \
             ConnectionLoss (or a crash) between them the task is still in /tasks and is \
             assigned again, to a second worker",
            Flavor {
                atomic_assign: false,
                fencing: false,
                ..Flavor::FIXED
            }
        ),
        recipe!(
            "delete-then-assign",
            Mutant,
            Some(NO_LOST_TASK),
            "the master moves a task as two writes, deleting it from /tasks before creating \
             the assignment: between them the task is nowhere, and a master that dies there has \
             lost it for good",
            Flavor {
                atomic_assign: false,
                fencing: false,
                creates_before_deleting: false,
                ..Flavor::FIXED
            }
        ),
        recipe!(
            "status-then-delete",
            Mutant,
            Some(STATUS_ONCE),
            "the worker writes the status and deletes its assignment as two writes: when it \
             dies between them the master moves a finished task back and it runs again",
            Flavor {
                atomic_status: false,
                ..Flavor::FIXED
            }
        ),
        recipe!(
            "no-reassignment",
            Mutant,
            Some(ALL_TASKS_DONE),
            "the master never moves a dead worker's tasks back to /tasks: they are never done",
            Flavor {
                reassigns_dead_workers: false,
                ..Flavor::FIXED
            }
        ),
        recipe!(
            "blind-master-retry",
            Mutant,
            Some(MASTER_ELECTED),
            "a candidate whose create of /master ends in ConnectionLoss creates it again: when \
             the first create was applied it meets its own node, follows it, and no one leads",
            Flavor {
                check_master_on_loss: false,
                ..Flavor::FIXED
            }
        ),
        recipe!(
            "sorted-children",
            Mutant,
            Some(ALL_TASKS_DONE),
            "the master takes getChildren as sorted and only looks at tasks after the last one \
             it saw; in the server's real (hash) order a new task can come earlier and is \
             never assigned",
            Flavor {
                assumes_sorted_children: true,
                ..Flavor::FIXED
            }
        ),
        recipe!(
            "backup-misses-reelection",
            Mutant,
            Some(MASTER_ELECTED),
            "a backup master reacts only to NodeDeleted on /master; when /master was deleted \
             and re-created while it was disconnected, the reconnect reports NodeDataChanged, \
             its one-shot watch is spent, and it never runs again when that master dies (found \
             by the simulator in this recipe's first version, seed 7819)",
            Flavor {
                rewatches_master: false,
                ..Flavor::FIXED
            }
        ),
        recipe!(
            "leader-demoted",
            Mutant,
            Some(MASTER_ELECTED),
            "a leader takes the NodeExists answering a second election attempt still in flight \
             (its own /master) as a lost race and goes back to watching while it holds \
             /master: no one leads again (the book's masterCreateCallback; found by zksim \
             check in the first version of the correct recipe, never by the simulator)",
            Flavor {
                ignores_stale_election_replies: false,
                ..Flavor::FIXED
            }
        ),
        recipe!(
            "empty-worker-list",
            Mutant,
            Some(ALL_TASKS_DONE),
            "the master meets a pending task with no live worker and stops assigning for good \
             (the book's Master.java:714 calls random.nextInt(0), which throws inside its \
             callback, so the tasks watch is never set again)",
            Flavor {
                waits_for_workers: false,
                ..Flavor::FIXED
            }
        ),
        recipe!(
            "client-resubmits",
            Mutant,
            Some(STATUS_ONCE),
            "the client resubmits after ConnectionLoss without looking for its marker: when the \
             first submission was applied the task runs twice (the book's client)",
            Flavor {
                client_checks_marker: false,
                ..Flavor::FIXED
            }
        ),
    ]
}

/// The client name of queued tasks' tokens ([`queued_tasks`]).
pub const QUEUED_BY: &str = "q";

/// The token of queued task `n` (1-based): as a client named [`QUEUED_BY`] would write it.
pub fn queued_token(n: u32) -> String {
    Client::new(QUEUED_BY, n, Flavor::FIXED).token(n)
}

/// The requests that queue `n` tasks before the cluster starts (the shape's `queued`; every
/// cluster recipe's set-up): the two directories they need, then each task as a client
/// submits it (a sequential node under `/tasks` holding its token, and the token's marker
/// under `/clients`), as a client that has since gone would leave them. The master's own
/// creates of those directories then meet NodeExists, as after a failover.
pub fn queued_tasks(n: u32) -> Vec<Request> {
    if n == 0 {
        return Vec::new();
    }
    let dir = |path: &str| Request::create(path, Data::bytes(""), CreateMode::Persistent);
    let client = Client::new(QUEUED_BY, n, Flavor::FIXED);
    let mut out = vec![dir(TASKS), dir(CLIENTS)];
    out.extend((1..=n).flat_map(|i| client.submission(i)));
    out
}

/// The names of a node's children (none if it is missing), in no particular order. The
/// properties run after every step, so nothing here allocates more than it must.
fn kids<'w>(w: &'w BuiltinWorld, path: &str) -> impl Iterator<Item = &'w str> {
    w.server()
        .tree()
        .get(path)
        .into_iter()
        .flat_map(|n| n.children.iter())
}

/// Every (worker dir, task) under `/assign`.
fn assignments(w: &BuiltinWorld) -> Vec<(&str, &str)> {
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
fn token_of(task: &str) -> Option<&str> {
    let rest = task.strip_prefix("task-")?;
    rest.rfind('-').map(|i| &rest[..i])
}

/// The tokens of tasks the system has accepted (the clients' markers, and what clients said
/// they submitted) all have a task pending, assigned or with a status, or were read.
fn nothing_lost(w: &BuiltinWorld) -> bool {
    let mut present: BTreeSet<&str> = kids(w, TASKS)
        .chain(kids(w, STATUS))
        .filter_map(token_of)
        .collect();
    present.extend(assignments(w).into_iter().filter_map(|(_, t)| token_of(t)));
    let accepted = kids(w, CLIENTS).chain(w.notes_about("submitted"));
    accepted
        .into_iter()
        .all(|tok| present.contains(tok) || w.noted("notified", tok))
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

/// Whether a step created an assignment (only that can assign a task twice).
fn assigns(_: &BuiltinWorld, ev: &[Event]) -> bool {
    ev.iter().any(|e| {
        matches!(e, Event::Changed { change: Change::Created { path, .. } } if assigned_task(path).is_some())
    })
}

/// Whether a step may have lost a task ([`nothing_lost`]), given that none was lost before: a
/// token's task can go missing only when a node of it is deleted or when the token is newly
/// accepted, so only the tokens the step touched are looked at, each by what shows it safe
/// (its task by name somewhere, or its notification); if one shows nothing, the whole check
/// decides. So the check costs what the step touched, not what the tree holds.
fn may_lose_a_task(w: &BuiltinWorld, ev: &[Event]) -> bool {
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
    let notified = |tok: &str| w.noted("notified", tok);
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
        Event::Noted { claim, path, .. } if claim == "submitted" => {
            let marker = format!("{CLIENTS}/{path}");
            !((tree.contains(&marker) && !created(&marker)) || created_here(path) || notified(path))
        }
        _ => false,
    })
}

/// Every client that is still alive has all its tasks done and read (a client killed for good
/// cannot be notified).
fn clients_done(w: &BuiltinWorld) -> bool {
    w.processes().iter().all(|p| match &*p.role {
        BuiltinRole::Client(c) => p.is_killed() || c.is_done(),
        _ => true,
    })
}

/// Every queued task (no client waits for it) has its status.
fn queued_done(w: &BuiltinWorld) -> bool {
    let queued = w.options().shape.queued.unwrap_or(0);
    (1..=queued).all(|n| {
        let token = queued_token(n);
        kids(w, STATUS).any(|s| token_of(s) == Some(token.as_str()))
    })
}

/// Whether some process of a kind was not killed for good. Liveness asks for work only of a
/// cluster that can still do it: a master needs a candidate left, a task a master and a
/// worker (a run whose every candidate was killed cannot elect one, whatever the recipe).
fn survives(w: &BuiltinWorld, kind: fn(&BuiltinRole) -> bool) -> bool {
    w.processes()
        .iter()
        .any(|p| kind(&p.role) && !p.is_killed())
}

fn is_master(r: &BuiltinRole) -> bool {
    matches!(r, BuiltinRole::Master(_))
}

fn is_worker(r: &BuiltinRole) -> bool {
    matches!(r, BuiltinRole::Worker(_))
}

fn properties() -> Vec<Property<BuiltinRole>> {
    vec![
        Property::always(ONE_LIVE_MASTER, |w| {
            master_owner(w).is_none_or(|s| w.server().is_live(s))
        })
        .shared_state_only(),
        Property::each_step(ASSIGNMENTS_FROM_MASTER, |w, ev| {
            ev.iter().all(|e| match e {
                Event::Changed {
                    change: Change::Created { path, by, .. },
                } if path.starts_with("/assign/") && path.matches('/').count() == 3 => {
                    by.is_some() && *by == master_owner(w)
                }
                _ => true,
            })
        })
        .shared_state_only(),
        Property::always(NO_DOUBLE_ASSIGNMENT, |w| {
            let mut seen = BTreeSet::new();
            assignments(w).into_iter().all(|(_, t)| seen.insert(t))
        })
        .shared_state_only()
        .broken_only_by(assigns),
        Property::always(NO_LOST_TASK, nothing_lost)
            .shared_state_only()
            .broken_only_by(may_lose_a_task),
        Property::each_step(STATUS_ONCE, |_, ev| {
            !ev.iter()
                .any(|e| matches!(e, Event::Noted { claim, repeat: true, .. } if claim == "status"))
        })
        .shared_state_only(),
        // The worker reads the task from its own directory. A stale read (the master moved
        // the task away meanwhile) is allowed, as the worker cannot tell, and its status write
        // then fails; running the same task again after it came back is allowed too (a
        // duplicate *result* is what "a status is written once" forbids).
        Property::each_step(RUNS_ONLY_ASSIGNED, |w, ev| {
            ev.iter().all(|e| match e {
                Event::Noted {
                    process,
                    claim,
                    path,
                    ..
                } if claim == "runs" => {
                    path.starts_with(&format!("{ASSIGN}/{}/", w.processes()[*process].name))
                }
                _ => true,
            })
        })
        .shared_state_only(),
        Property::eventually(MASTER_ELECTED, |w| {
            !survives(w, is_master)
                || w.processes().iter().any(|p| match &*p.role {
                    BuiltinRole::Master(m) => {
                        m.is_master() && p.session().is_some() && p.session() == master_owner(w)
                    }
                    _ => false,
                })
        }),
        Property::eventually(ALL_TASKS_DONE, |w| {
            !(survives(w, is_master) && survives(w, is_worker))
                || (clients_done(w) && queued_done(w))
        }),
        Property::eventually(DEAD_WORKERS_DRAINED, |w| {
            if !survives(w, is_master) {
                return true;
            }
            let live: BTreeSet<&str> = kids(w, WORKERS).collect();
            assignments(w).iter().all(|(d, _)| live.contains(d))
        }),
        Property::sometimes("a failover happened", |w, _| {
            w.notes_about("leads").nth(1).is_some()
        }),
        Property::sometimes("a reassignment happened", |_, ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Noted { claim, .. } if claim == "moves back"))
        }),
        Property::sometimes("a ConnectionLoss was recovered", |_, ev| {
            ev.iter()
                .any(|e| matches!(e, Event::Noted { claim, .. } if claim == "recovered"))
        }),
        Property::sometimes("a session expired", |_, ev| {
            ev.iter().any(|e| {
                matches!(e, Event::Notified { event, .. } if event.kind == EventType::None && event.state == KeeperState::Expired)
                    || matches!(e, Event::Changed { change: Change::SessionClosed { expired: true, .. } })
            })
        }),
    ]
}
