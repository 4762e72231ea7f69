//! The master/worker cluster: its recipes (variants and mutants), its processes and its
//! set-up. Its properties are [`crate::properties::cluster`].

use zksim_model::op::{CreateMode, Request};
use zksim_model::recipes::cluster::{Client, Flavor, Master, Worker, CLIENTS, TASKS};
use zksim_model::recipes::BuiltinRole;
use zksim_model::role::Role;
use zksim_model::Data;

use super::Recipe;
use crate::options::Options;
use crate::properties;

pub use crate::properties::{
    ALL_TASKS_DONE, ASSIGNMENTS_FROM_MASTER, DEAD_WORKERS_DRAINED, MASTER_ELECTED,
    NO_DOUBLE_ASSIGNMENT, NO_LOST_TASK, ONE_LIVE_MASTER, RUNS_ONLY_ASSIGNED, STATUS_ONCE,
};

/// The cluster's processes for a run, each role of `flavor`: masters `m1`.., workers `w1`..,
/// clients `c1`.. as the shape says (2, 2 and 2 by default, each client with 4 tasks), the
/// masters assigning by the options' policy. A variant of one role maps the others through
/// unchanged (`examples/` has two).
pub fn processes(flavor: Flavor, options: &Options, seed: u64) -> Vec<(String, BuiltinRole)> {
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

/// A cluster recipe: the roles of `flavor`, the queued tasks of the shape as set-up, checked
/// against the cluster's properties; a mutant of `fixed` when it breaks a property.
fn recipe(
    name: &'static str,
    breaks: Option<&'static str>,
    about: &'static str,
    flavor: Flavor,
) -> Recipe {
    let recipe = Recipe::new(name, move |options, seed| processes(flavor, options, seed))
        .about(about)
        .with_set_up(|options| queued_tasks(options.shape.queued.unwrap_or(0)))
        .with_properties(properties::cluster);
    match breaks {
        Some(property) => recipe.mutant_of("fixed", property),
        None if name == "fixed" => recipe.verified(),
        None => recipe,
    }
}

/// A cluster recipe of your own: the processes of `flavor` ([`processes`]), each role passed
/// through `swap`, which may replace one role by a role of yours (`Either::Right`) and keep
/// the others (`Either::Left`); the cluster's set-up ([`queued_tasks`]) and properties
/// ([`properties::cluster`]). `examples/` has two.
pub fn with_roles<R: Role + 'static>(
    name: &'static str,
    flavor: Flavor,
    swap: impl Fn(BuiltinRole) -> R + Send + Sync + 'static,
) -> Recipe<R> {
    Recipe::new(name, move |options, seed| {
        let roles = processes(flavor, options, seed).into_iter();
        roles.map(|(name, role)| (name, swap(role))).collect()
    })
    .with_set_up(|options| queued_tasks(options.shape.queued.unwrap_or(0)))
    .with_properties(properties::cluster)
}

/// The cluster's recipes.
pub fn recipes() -> Vec<Recipe> {
    vec![
        recipe(
            "fixed",
            None,
            "the correct recipe: guarded multis for every two-step move, an epoch fence, \
             ConnectionLoss resolved by reading back, a submission marker per task",
            Flavor::FIXED,
        ),
        recipe(
            "book",
            None,
            "the ZooKeeper book's flow: assign then delete and status then delete as two \
             writes, no fencing, a client that resubmits on ConnectionLoss, a leader that a late \
             election answer sends back to watching",
            Flavor::BOOK,
        ),
        recipe(
            "seed-naive",
            None,
            "the seed's description taken literally: status under /tasks/<task>/status, \
             assignments that leave the task in /tasks, no ConnectionLoss handling",
            Flavor::SEED_NAIVE,
        ),
        recipe(
            "no-fencing",
            Some(ASSIGNMENTS_FROM_MASTER),
            "after its session expired the master keeps serving on a new session without \
             running for master again, and no epoch check stops its writes: a zombie \
             assigns while another session owns /master",
            Flavor {
                fencing: false,
                reelect_after_expiry: false,
                ..Flavor::FIXED
            },
        ),
        recipe(
            "assign-then-delete",
            Some(NO_DOUBLE_ASSIGNMENT),
            "the master creates the assignment and deletes the task as two writes: after a \
             ConnectionLoss (or a crash) between them the task is still in /tasks and is \
             assigned again, to a second worker",
            Flavor {
                atomic_assign: false,
                fencing: false,
                ..Flavor::FIXED
            },
        ),
        recipe(
            "delete-then-assign",
            Some(NO_LOST_TASK),
            "the master moves a task as two writes, deleting it from /tasks before creating \
             the assignment: between them the task is nowhere, and a master that dies there has \
             lost it for good",
            Flavor {
                atomic_assign: false,
                fencing: false,
                creates_before_deleting: false,
                ..Flavor::FIXED
            },
        ),
        recipe(
            "status-then-delete",
            Some(STATUS_ONCE),
            "the worker writes the status and deletes its assignment as two writes: when it \
             dies between them the master moves a finished task back and it runs again",
            Flavor {
                atomic_status: false,
                ..Flavor::FIXED
            },
        ),
        recipe(
            "no-reassignment",
            Some(ALL_TASKS_DONE),
            "the master never moves a dead worker's tasks back to /tasks: they are never done",
            Flavor {
                reassigns_dead_workers: false,
                ..Flavor::FIXED
            },
        ),
        recipe(
            "blind-master-retry",
            Some(MASTER_ELECTED),
            "a candidate whose create of /master ends in ConnectionLoss creates it again: when \
             the first create was applied it meets its own node, follows it, and no one leads",
            Flavor {
                check_master_on_loss: false,
                ..Flavor::FIXED
            },
        ),
        recipe(
            "sorted-children",
            Some(ALL_TASKS_DONE),
            "the master takes getChildren as sorted and only looks at tasks after the last one \
             it saw; in the server's real (hash) order a new task can come earlier and is \
             never assigned",
            Flavor {
                assumes_sorted_children: true,
                ..Flavor::FIXED
            },
        ),
        recipe(
            "backup-misses-reelection",
            Some(MASTER_ELECTED),
            "a backup master reacts only to NodeDeleted on /master; when /master was deleted \
             and re-created while it was disconnected, the reconnect reports NodeDataChanged, \
             its one-shot watch is spent, and it never runs again when that master dies (found \
             by the simulator in this recipe's first version, seed 7819)",
            Flavor {
                rewatches_master: false,
                ..Flavor::FIXED
            },
        ),
        recipe(
            "leader-demoted",
            Some(MASTER_ELECTED),
            "a leader takes the NodeExists answering a second election attempt still in flight \
             (its own /master) as a lost race and goes back to watching while it holds \
             /master: no one leads again (the book's masterCreateCallback; found by zksim \
             check in the first version of the correct recipe, never by the simulator)",
            Flavor {
                ignores_stale_election_replies: false,
                ..Flavor::FIXED
            },
        ),
        recipe(
            "empty-worker-list",
            Some(ALL_TASKS_DONE),
            "the master meets a pending task with no live worker and stops assigning for good \
             (the book's Master.java:714 calls random.nextInt(0), which throws inside its \
             callback, so the tasks watch is never set again)",
            Flavor {
                waits_for_workers: false,
                ..Flavor::FIXED
            },
        ),
        recipe(
            "client-resubmits",
            Some(STATUS_ONCE),
            "the client resubmits after ConnectionLoss without looking for its marker: when the \
             first submission was applied the task runs twice (the book's client)",
            Flavor {
                client_checks_marker: false,
                ..Flavor::FIXED
            },
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
