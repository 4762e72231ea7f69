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
//!
//! The files, one a role: this one holds the layout's paths, [`Flavor`] and [`AssignPolicy`];
//! `master.rs` the [`Master`], `worker.rs` the [`Worker`], `client.rs` the [`Client`]; and
//! `shared.rs` what they all use (request builders, reply readers, the calls in flight).

use serde::{Deserialize, Serialize};

mod client;
mod master;
mod shared;
mod worker;

pub use client::Client;
pub use master::{Master, MasterPhase};
pub use worker::Worker;

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
/// `assumes_sorted_children` and `status_under_task` false); each mutant flips one (or a
/// pair). A role reads its switches in one place, the section "how the mutants differ" at the
/// end of its file, which says what the correct role does and what a flipped switch does
/// instead.
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
