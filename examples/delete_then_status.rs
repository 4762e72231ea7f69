//! A worker of one's own beside the project's masters and clients, checked against the
//! cluster's properties: the project's worker, changed in one behaviour. It deletes its
//! assignment, then writes the status (acknowledge, then record), where the project's worker
//! sends both in one multi. Between the two the task is nowhere.
//!
//! `cargo run --release --example delete_then_status` prints the first failing seed;
//! `tests/examples.rs` runs every checker on it.

use std::collections::BTreeMap;

use zksim_model::op::{OpResult, Request, Response};
use zksim_model::recipes::cluster::{Flavor, Worker};
use zksim_model::recipes::BuiltinRole;
use zksim_model::role::{Ctx, Effect, Either, Input, Role, Standing, Tag};
use zksim_sim::options::Options;
use zksim_sim::recipes::{cluster, Recipe};
use zksim_sim::run::first_failure;

/// The project's worker, whose finishing multi `[create /status/<t>, delete /assign/<w>/<t>]`
/// goes out as the delete alone, then the create.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeleteFirst {
    worker: Worker,
    /// Finishing writes in flight, by tag: a delete (and the create to follow) or a create.
    pending: BTreeMap<Tag, Option<Request>>,
}

impl Role for DeleteFirst {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        let mut input = input.clone();
        match &input {
            Input::Start { .. } => self.pending.clear(),
            Input::Reply { tag, reply } => match self.pending.remove(tag) {
                Some(Some(status)) if reply.is_ok() => {
                    self.pending.insert(*tag, None);
                    return ctx.call(*tag, status);
                }
                // The worker hears of both writes as of its multi (of an error as it is).
                Some(None) => {
                    if let Ok(Response::Create { path, stat }) = reply.clone() {
                        let results = vec![OpResult::Create { path, stat }, OpResult::Delete];
                        let reply = Ok(Response::Multi { results });
                        input = Input::Reply { tag: *tag, reply };
                    }
                }
                _ => {}
            },
            _ => {}
        }
        let worker = &mut self.worker;
        for effect in ctx.capture(|inner| worker.handle(&input, inner)) {
            match effect {
                Effect::Call {
                    tag,
                    request: Request::Multi { ops },
                } if ops.len() == 2 => {
                    let [status, unassign]: [Request; 2] = ops.try_into().expect("two ops");
                    self.pending.insert(tag, Some(status));
                    ctx.call(tag, unassign);
                }
                other => ctx.push(other),
            }
        }
    }

    fn summary(&self) -> String {
        self.worker.summary()
    }

    fn standing(&self) -> Standing {
        self.worker.standing()
    }
}

const NAME: &str = "delete-then-status";

/// The cluster with every worker a [`DeleteFirst`], the rest the project's own.
pub fn recipe() -> Recipe<Either<BuiltinRole, DeleteFirst>> {
    let swap = |role| match role {
        BuiltinRole::Worker(worker) => Either::Right(DeleteFirst {
            worker,
            pending: BTreeMap::new(),
        }),
        other => Either::Left(other),
    };
    cluster::with_roles(NAME, Flavor::FIXED, swap)
        .about("a worker that deletes its assignment before writing the task's status")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let failed = first_failure(&recipe(), &Options::default(), 0..1000, false)?;
    let outcome = failed.ok_or(format!("{NAME}: no failure in 1000 seeds"))?;
    let property = &outcome.end.violations[0].property;
    println!("{NAME}: seed {} violates {property:?}", outcome.seed);
    Ok(())
}
